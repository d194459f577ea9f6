//
// podsandboxd - test helpers (see testing.h).
//

#include "tests/harness/testing.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir_path[512];

// Tests skipped in the group that runs (psb_test_run_group).
static unsigned skipped;

_Noreturn void
psb_test_skip_(const char *file, int line)
{
	skipped++;
	_skip(file, line); // longjmps out of the test
	abort();           // skip() outside a test: a harness bug
}

int
psb_test_run_group_(const char *name, const struct CMUnitTest *tests, size_t n,
        CMFixtureFunction group_setup, CMFixtureFunction group_teardown)
{
	int failed;

	skipped = 0;
	failed  = _cmocka_run_group_tests(
	         name, tests, n, group_setup, group_teardown);
	if (failed != 0) {
		return (1); // a count (or -1): never 77 by accident
	}
	if (skipped > 0) {
		fprintf(stderr,
		        "[  SKIPPED ] %u test(s) of %s: exit %d (a skip; CI "
		        "fails on it)\n",
		        skipped, name, PSB_TEST_SKIP);
		return (PSB_TEST_SKIP);
	}
	return (0);
}

const char *
psb_test_tmpdir(const char *name)
{
	const char *base = getenv("PSB_TEST_TMPDIR");

	if (base == NULL || base[0] == '\0') {
		base = "/tmp";
	}
	snprintf(tmpdir_path, sizeof(tmpdir_path), "%s/psbtest-%s-XXXXXX",
	        base, name);
	if (mkdtemp(tmpdir_path) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return (tmpdir_path);
}

const char *
psb_test_path(const char *file)
{
	static char slots[4][600];
	static int  next;
	char       *p = slots[next++ % 4];

	snprintf(p, sizeof(slots[0]), "%s/%s", tmpdir_path, file);
	return (p);
}

unsigned
psb_test_timeout_multiplier(void)
{
	const char *s = getenv("PSB_TEST_TIMEOUT_MULTIPLIER");
	int         m = s != NULL ? atoi(s) : 1;

	return (m >= 1 ? (unsigned)m : 1);
}

struct run_state {
	bool (*pred)(void *);
	void *arg;
	bool  done;
	bool  timed_out;
};

// run_poll stops the loop once the predicate holds. It runs before the
// loop sleeps (ev_prepare) and after it wakes (ev_check).
static void
run_poll(struct ev_loop *loop, struct run_state *st)
{
	if (st->pred != NULL && st->pred(st->arg)) {
		st->done = true;
		ev_break(loop, EVBREAK_ONE);
	}
}

static void
run_check_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	run_poll(loop, w->data);
}

static void
run_check_after_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	run_poll(loop, w->data);
}

static void
run_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct run_state *st = w->data;

	st->timed_out = true;
	ev_break(loop, EVBREAK_ONE);
}

bool
psb_test_run_until(struct ev_loop *loop, bool (*pred)(void *), void *arg,
        unsigned timeout_ms)
{
	struct run_state st = {pred, arg, false, false};
	ev_prepare       prep;
	ev_check         chk;
	ev_timer         tmo;

	if (pred != NULL && pred(arg)) {
		return (true);
	}
	timeout_ms *= psb_test_timeout_multiplier();
	ev_prepare_init(&prep, run_check_cb);
	prep.data = &st;
	ev_prepare_start(loop, &prep);
	ev_check_init(&chk, run_check_after_cb);
	chk.data = &st;
	ev_check_start(loop, &chk);
	ev_timer_init(&tmo, run_timeout_cb, timeout_ms / 1000.0, 0.);
	tmo.data = &st;
	ev_timer_start(loop, &tmo);
	while (!st.done && !st.timed_out) {
		ev_run(loop, EVRUN_ONCE);
	}
	ev_timer_stop(loop, &tmo);
	ev_check_stop(loop, &chk);
	ev_prepare_stop(loop, &prep);
	return (pred != NULL ? pred(arg) : true);
}

void
psb_test_run_for(struct ev_loop *loop, unsigned ms)
{
	struct run_state st = {NULL, NULL, false, false};
	ev_timer         tmo;

	ev_timer_init(&tmo, run_timeout_cb, ms / 1000.0, 0.);
	tmo.data = &st;
	ev_timer_start(loop, &tmo);
	while (!st.timed_out) {
		ev_run(loop, EVRUN_ONCE);
	}
	ev_timer_stop(loop, &tmo);
}

static void
clean_alarm_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	bool *dirty = w->data;

	*dirty = true;
	ev_break(loop, EVBREAK_ALL);
}

bool
psb_test_loop_is_clean(struct ev_loop *loop)
{
	bool     dirty = false;
	ev_timer alarm;

	// An unreferenced alarm does not keep the loop alive; if ev_run
	// returns before it fires, nothing else does either.
	ev_timer_init(&alarm, clean_alarm_cb, 2.0, 0.);
	alarm.data = &dirty;
	ev_timer_start(loop, &alarm);
	ev_unref(loop);
	ev_run(loop, 0);
	ev_ref(loop);
	ev_timer_stop(loop, &alarm);
	return (!dirty);
}
