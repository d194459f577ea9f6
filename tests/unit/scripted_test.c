//
// podsandboxd - tests for the runtime registry and the scripted backend.
//

#include "tests/harness/testing.h"

#include <ev.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/clock.h"
#include "runtime/runtime.h"
#include "runtime/scripted.h"

#define MAX_EVENTS 16
#define WAIT_MS    2000

typedef struct rec_ev {
	psb_event_t event;
	char        id[80];
	uint64_t    generation;
	uint32_t    pid;
	int32_t     exit_status;
	int64_t     exited_at;
	bool        rolled_back;
	int         code;
	char        message[128];
	char        resources[128];
	int64_t     at; // monotonic ns when delivered
} rec_ev_t;

typedef struct fx {
	struct ev_loop *loop;
	psb_runtime_t  *rt;
	rec_ev_t        evs[MAX_EVENTS];
	size_t          n;
	size_t          want;
	bool            close_in_sink;
} fx_t;

static void
sink_cb(void *arg, const psb_rt_event_t *ev)
{
	fx_t     *fx = arg;
	rec_ev_t *r;

	assert_true(fx->n < MAX_EVENTS);
	r = &fx->evs[fx->n++];
	memset(r, 0, sizeof(*r));
	r->event = ev->event;
	snprintf(r->id, sizeof(r->id), "%s", ev->sandbox_id);
	r->generation  = ev->generation;
	r->pid         = ev->pid;
	r->exit_status = ev->exit_status;
	r->exited_at   = ev->exited_at;
	r->rolled_back = ev->rolled_back;
	r->code        = ev->code;
	if (ev->message != NULL) {
		snprintf(r->message, sizeof(r->message), "%s", ev->message);
	}
	if (ev->resources != NULL) {
		snprintf(r->resources, sizeof(r->resources), "%s",
		        ev->resources);
	}
	r->at = psb_mono_ns();
	if (fx->close_in_sink) {
		psb_runtime_close(fx->rt);
		fx->rt = NULL;
	}
}

static int
setup(void **state)
{
	fx_t       *fx  = calloc(1, sizeof(*fx));
	psb_error_t err = PSB_ERROR_INIT;

	assert_non_null(fx);
	fx->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(fx->loop);
	assert_int_equal(
	        psb_runtime_open("scripted", fx->loop, NULL, &fx->rt, &err),
	        0);
	psb_runtime_set_sink(fx->rt, sink_cb, fx);
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	fx_t *fx = *state;

	psb_runtime_close(fx->rt);
	assert_true(psb_test_loop_is_clean(fx->loop));
	ev_loop_destroy(fx->loop);
	free(fx);
	return (0);
}

static bool
have_want(void *arg)
{
	fx_t *fx = arg;

	return (fx->n >= fx->want);
}

// wait_for runs the loop until n events have arrived in total.
static void
wait_for(fx_t *fx, size_t n)
{
	fx->want = n;
	assert_true(psb_test_run_until(fx->loop, have_want, fx, WAIT_MS));
	assert_int_equal(fx->n, n);
}

static psb_rt_sandbox_t
sb(const char *id, uint64_t generation)
{
	psb_rt_sandbox_t s = {0};

	s.id          = id;
	s.generation  = generation;
	s.config_json = "{}"; // a start needs a pod config
	return (s);
}

static const rec_ev_t *
find_ev(fx_t *fx, const char *id)
{
	for (size_t i = 0; i < fx->n; i++) {
		if (strcmp(fx->evs[i].id, id) == 0) {
			return (&fx->evs[i]);
		}
	}
	fail_msg("no event for %s", id);
	return (NULL);
}

static void
test_start_ok_async(void **state)
{
	fx_t            *fx = *state;
	psb_rt_sandbox_t a  = sb("a", 7);
	uint32_t         pid;

	assert_int_equal(psb_runtime_start(fx->rt, &a, NULL), 0);
	assert_int_equal(fx->n, 0); // never from inside the call
	assert_int_equal(
	        psb_scripted_task(fx->rt, "a", NULL, NULL), PSB_FAKE_NONE);
	wait_for(fx, 1);
	assert_int_equal(fx->evs[0].event, PSB_EV_START_OK);
	assert_string_equal(fx->evs[0].id, "a");
	assert_int_equal(fx->evs[0].generation, 7);
	assert_true(fx->evs[0].pid > 40000);
	assert_int_equal(fx->evs[0].code, 0);
	assert_int_equal(
	        psb_scripted_task(fx->rt, "a", &pid, NULL), PSB_FAKE_RUNNING);
	assert_int_equal(pid, fx->evs[0].pid);
}

static void
test_start_delay(void **state)
{
	fx_t            *fx = *state;
	psb_rt_sandbox_t a  = sb("a", 1);
	int64_t          t0;

	psb_scripted_script(
	        fx->rt, PSB_RTOP_START, NULL, PSB_SCRIPT_OK, 150, 1);
	t0 = psb_mono_ns();
	assert_int_equal(psb_runtime_start(fx->rt, &a, NULL), 0);
	psb_test_run_for(fx->loop, 40);
	assert_int_equal(fx->n, 0);
	wait_for(fx, 1);
	assert_int_equal(fx->evs[0].event, PSB_EV_START_OK);
	assert_true(fx->evs[0].at - t0 >= 140 * 1000000LL);
	assert_true(fx->evs[0].at - t0 < 5000 * 1000000LL);

	// The rule was used up: the next start takes the default 0 ms.
	t0 = psb_mono_ns();
	assert_int_equal(psb_runtime_start(fx->rt, &a, NULL), 0);
	wait_for(fx, 2);
	assert_true(fx->evs[1].at - t0 < 100 * 1000000LL);
}

static void
test_start_failures(void **state)
{
	fx_t            *fx = *state;
	psb_rt_sandbox_t a  = sb("a", 3);

	psb_scripted_script(
	        fx->rt, PSB_RTOP_START, "a", PSB_SCRIPT_FAIL, 0, 1);
	assert_int_equal(psb_runtime_start(fx->rt, &a, NULL), 0);
	wait_for(fx, 1);
	assert_int_equal(fx->evs[0].event, PSB_EV_START_FAILED);
	assert_int_equal(fx->evs[0].code, PSB_ERUNTIME);
	assert_true(fx->evs[0].rolled_back);
	assert_string_equal(fx->evs[0].message, "scripted start failure");
	assert_string_equal(fx->evs[0].resources, "");
	assert_int_equal(fx->evs[0].generation, 3);
	assert_int_equal(
	        psb_scripted_task(fx->rt, "a", NULL, NULL), PSB_FAKE_NONE);

	psb_scripted_script(
	        fx->rt, PSB_RTOP_START, "a", PSB_SCRIPT_FAIL_DIRTY, 0, 1);
	assert_int_equal(psb_runtime_start(fx->rt, &a, NULL), 0);
	wait_for(fx, 2);
	assert_int_equal(fx->evs[1].event, PSB_EV_START_FAILED);
	assert_int_equal(fx->evs[1].code, PSB_ERUNTIME);
	assert_false(fx->evs[1].rolled_back);
	assert_string_equal(fx->evs[1].resources, "{\"container\":\"a\"}");
	assert_int_equal(
	        psb_scripted_task(fx->rt, "a", NULL, NULL), PSB_FAKE_NONE);

	psb_scripted_script(
	        fx->rt, PSB_RTOP_START, "a", PSB_SCRIPT_UNREACHABLE, 0, 1);
	assert_int_equal(psb_runtime_start(fx->rt, &a, NULL), 0);
	wait_for(fx, 3);
	assert_int_equal(fx->evs[2].event, PSB_EV_START_FAILED);
	assert_int_equal(fx->evs[2].code, PSB_EUNAVAIL);
	assert_true(fx->evs[2].rolled_back);
	assert_int_equal(
	        psb_scripted_task(fx->rt, "a", NULL, NULL), PSB_FAKE_NONE);
}

// start_one starts id and returns the event it produced.
static psb_event_t
start_one(fx_t *fx, const char *id)
{
	psb_rt_sandbox_t s = sb(id, 1);

	assert_int_equal(psb_runtime_start(fx->rt, &s, NULL), 0);
	wait_for(fx, fx->n + 1);
	return (fx->evs[fx->n - 1].event);
}

static void
test_rules(void **state)
{
	fx_t *fx = *state;

	// Oldest: every start fails for ever.
	psb_scripted_script(
	        fx->rt, PSB_RTOP_START, NULL, PSB_SCRIPT_FAIL, 0, -1);
	// Newer: "b" succeeds once.
	psb_scripted_script(fx->rt, PSB_RTOP_START, "b", PSB_SCRIPT_OK, 0, 1);
	assert_int_equal(start_one(fx, "a"), PSB_EV_START_FAILED);
	assert_int_equal(start_one(fx, "b"), PSB_EV_START_OK);
	assert_int_equal(start_one(fx, "b"), PSB_EV_START_FAILED);

	// Newest wildcard beats the older one, twice.
	psb_scripted_script(fx->rt, PSB_RTOP_START, NULL, PSB_SCRIPT_OK, 0, 2);
	assert_int_equal(start_one(fx, "a"), PSB_EV_START_OK);
	assert_int_equal(start_one(fx, "c"), PSB_EV_START_OK);
	assert_int_equal(start_one(fx, "a"), PSB_EV_START_FAILED);

	// A rule for another op does not apply.
	psb_scripted_script(fx->rt, PSB_RTOP_KILL, NULL, PSB_SCRIPT_OK, 0, -1);
	assert_int_equal(start_one(fx, "a"), PSB_EV_START_FAILED);

	psb_scripted_clear(fx->rt);
	assert_int_equal(start_one(fx, "a"), PSB_EV_START_OK);
}

static void
test_kill_running(void **state)
{
	fx_t            *fx = *state;
	psb_rt_sandbox_t a  = sb("a", 4);
	uint32_t         pid;
	int32_t          status;

	psb_scripted_set_task(fx->rt, "a", 4, PSB_FAKE_RUNNING, 4242, 0);
	assert_int_equal(psb_runtime_kill(fx->rt, &a, NULL), 0);
	assert_int_equal(fx->n, 0);
	wait_for(fx, 1);
	assert_int_equal(fx->evs[0].event, PSB_EV_TASK_EXIT);
	assert_int_equal(fx->evs[0].exit_status, 137);
	assert_int_equal(fx->evs[0].generation, 4);
	assert_int_equal(fx->evs[0].pid, 4242);
	assert_true(fx->evs[0].exited_at > 0);
	assert_int_equal(psb_scripted_task(fx->rt, "a", &pid, &status),
	        PSB_FAKE_EXITED);
	assert_int_equal(pid, 4242);
	assert_int_equal(status, 137);
}

static void
test_kill_none(void **state)
{
	fx_t            *fx = *state;
	psb_rt_sandbox_t a  = sb("a", 2);

	assert_int_equal(psb_runtime_kill(fx->rt, &a, NULL), 0);
	wait_for(fx, 1);
	assert_int_equal(fx->evs[0].event, PSB_EV_TASK_EXIT);
	assert_int_equal(fx->evs[0].exit_status, PSB_EXIT_UNKNOWN);
	assert_int_equal(fx->evs[0].generation, 2);
	assert_int_equal(
	        psb_scripted_task(fx->rt, "a", NULL, NULL), PSB_FAKE_NONE);
}

static void
test_kill_exited(void **state)
{
	fx_t            *fx = *state;
	psb_rt_sandbox_t a  = sb("a", 5);

	psb_scripted_set_task(fx->rt, "a", 5, PSB_FAKE_EXITED, 77, 3);
	assert_int_equal(psb_runtime_kill(fx->rt, &a, NULL), 0);
	wait_for(fx, 1);
	assert_int_equal(fx->evs[0].event, PSB_EV_TASK_EXIT);
	assert_int_equal(fx->evs[0].exit_status, 3);
	assert_int_equal(fx->evs[0].pid, 77);
}

static void
test_kill_failed(void **state)
{
	fx_t            *fx = *state;
	psb_rt_sandbox_t a  = sb("a", 6);

	psb_scripted_set_task(fx->rt, "a", 6, PSB_FAKE_RUNNING, 50, 0);
	psb_scripted_script(fx->rt, PSB_RTOP_KILL, "a", PSB_SCRIPT_FAIL, 0, 1);
	assert_int_equal(psb_runtime_kill(fx->rt, &a, NULL), 0);
	wait_for(fx, 1);
	assert_int_equal(fx->evs[0].event, PSB_EV_KILL_FAILED);
	assert_int_equal(fx->evs[0].code, PSB_ERUNTIME);
	assert_int_equal(fx->evs[0].generation, 6);
	assert_true(fx->evs[0].message[0] != '\0');
	assert_int_equal(
	        psb_scripted_task(fx->rt, "a", NULL, NULL), PSB_FAKE_RUNNING);

	psb_scripted_script(
	        fx->rt, PSB_RTOP_KILL, "a", PSB_SCRIPT_UNREACHABLE, 0, 1);
	assert_int_equal(psb_runtime_kill(fx->rt, &a, NULL), 0);
	wait_for(fx, 2);
	// Unreachable is reported as the containerd backend reports it.
	assert_int_equal(fx->evs[1].event, PSB_EV_RUNTIME_UNREACHABLE);
	assert_int_equal(fx->evs[1].code, PSB_EUNAVAIL);
}

static void
test_delete(void **state)
{
	fx_t            *fx = *state;
	psb_rt_sandbox_t a  = sb("a", 8);

	psb_scripted_set_task(fx->rt, "a", 8, PSB_FAKE_RUNNING, 60, 0);
	psb_scripted_script(
	        fx->rt, PSB_RTOP_DELETE, NULL, PSB_SCRIPT_FAIL, 0, 1);
	assert_int_equal(psb_runtime_delete(fx->rt, &a, NULL), 0);
	wait_for(fx, 1);
	assert_int_equal(fx->evs[0].event, PSB_EV_DELETE_FAILED);
	assert_int_equal(fx->evs[0].code, PSB_ERUNTIME);
	assert_string_equal(fx->evs[0].message, "scripted delete failure");
	assert_int_equal(
	        psb_scripted_task(fx->rt, "a", NULL, NULL), PSB_FAKE_RUNNING);

	assert_int_equal(psb_runtime_delete(fx->rt, &a, NULL), 0);
	wait_for(fx, 2);
	assert_int_equal(fx->evs[1].event, PSB_EV_DELETE_OK);
	assert_int_equal(fx->evs[1].generation, 8);
	assert_int_equal(
	        psb_scripted_task(fx->rt, "a", NULL, NULL), PSB_FAKE_NONE);

	// Missing is OK too.
	assert_int_equal(psb_runtime_delete(fx->rt, &a, NULL), 0);
	wait_for(fx, 3);
	assert_int_equal(fx->evs[2].event, PSB_EV_DELETE_OK);
}

static void
test_probe_mixed(void **state)
{
	fx_t            *fx    = *state;
	psb_rt_sandbox_t sbs[] = {
	        sb("run", 1), sb("exited", 2), sb("none", 3), sb("lost", 4)};
	const rec_ev_t *e;

	psb_scripted_set_task(fx->rt, "run", 9, PSB_FAKE_RUNNING, 123, 0);
	psb_scripted_set_task(fx->rt, "exited", 2, PSB_FAKE_EXITED, 124, 2);
	psb_scripted_set_task(fx->rt, "lost", 4, PSB_FAKE_RUNNING, 125, 0);
	psb_scripted_script(
	        fx->rt, PSB_RTOP_PROBE, "lost", PSB_SCRIPT_UNREACHABLE, 0, 1);
	assert_int_equal(psb_runtime_probe(fx->rt, sbs, 4, NULL), 0);
	assert_int_equal(fx->n, 0);
	wait_for(fx, 4);

	e = find_ev(fx, "run");
	assert_int_equal(e->event, PSB_EV_FOUND_RUNNING);
	assert_int_equal(e->pid, 123);
	assert_int_equal(e->generation, 9); // the world's, not the call's
	e = find_ev(fx, "exited");
	assert_int_equal(e->event, PSB_EV_FOUND_EXITED);
	assert_int_equal(e->exit_status, 2);
	assert_true(e->exited_at > 0);
	e = find_ev(fx, "none");
	assert_int_equal(e->event, PSB_EV_FOUND_NOTHING);
	assert_int_equal(e->exit_status, PSB_EXIT_UNKNOWN);
	e = find_ev(fx, "lost");
	assert_int_equal(e->event, PSB_EV_RUNTIME_UNREACHABLE);
	assert_int_equal(e->generation, 4);

	// The per-id rule was used up.
	assert_int_equal(psb_runtime_probe(fx->rt, &sbs[3], 1, NULL), 0);
	wait_for(fx, 5);
	assert_int_equal(fx->evs[4].event, PSB_EV_FOUND_RUNNING);
	assert_int_equal(psb_scripted_calls(fx->rt, PSB_RTOP_PROBE), 2);
}

static void
test_exit(void **state)
{
	fx_t   *fx = *state;
	int32_t status;

	assert_int_equal(psb_scripted_exit(fx->rt, "a", 1), PSB_ENOENT);
	psb_scripted_set_task(fx->rt, "a", 11, PSB_FAKE_RUNNING, 99, 0);
	assert_int_equal(psb_scripted_exit(fx->rt, "a", 9), 0);
	// The world changes at once, the event comes later.
	assert_int_equal(psb_scripted_task(fx->rt, "a", NULL, &status),
	        PSB_FAKE_EXITED);
	assert_int_equal(status, 9);
	assert_int_equal(fx->n, 0);
	assert_int_equal(psb_scripted_exit(fx->rt, "a", 1), PSB_ENOENT);
	wait_for(fx, 1);
	assert_int_equal(fx->evs[0].event, PSB_EV_TASK_EXIT);
	assert_int_equal(fx->evs[0].exit_status, 9);
	assert_int_equal(fx->evs[0].pid, 99);
	assert_int_equal(fx->evs[0].generation, 11);
	assert_true(fx->evs[0].exited_at > 0);
}

static void
test_hang_release_ok(void **state)
{
	fx_t            *fx = *state;
	psb_rt_sandbox_t a  = sb("a", 1);
	psb_rt_sandbox_t b  = sb("b", 1);

	psb_scripted_script(
	        fx->rt, PSB_RTOP_START, NULL, PSB_SCRIPT_HANG, 0, 2);
	assert_int_equal(psb_runtime_start(fx->rt, &a, NULL), 0);
	assert_int_equal(psb_runtime_start(fx->rt, &b, NULL), 0);
	psb_test_run_for(fx->loop, 50);
	assert_int_equal(fx->n, 0);
	assert_int_equal(psb_scripted_hung(fx->rt), 2);
	assert_int_equal(
	        psb_scripted_task(fx->rt, "a", NULL, NULL), PSB_FAKE_NONE);

	assert_int_equal(psb_scripted_release(fx->rt, PSB_SCRIPT_OK), 2);
	assert_int_equal(psb_scripted_hung(fx->rt), 0);
	assert_int_equal(fx->n, 0); // released asynchronously
	wait_for(fx, 2);
	assert_int_equal(find_ev(fx, "a")->event, PSB_EV_START_OK);
	assert_int_equal(find_ev(fx, "b")->event, PSB_EV_START_OK);
	assert_int_equal(
	        psb_scripted_task(fx->rt, "b", NULL, NULL), PSB_FAKE_RUNNING);
	assert_int_equal(psb_scripted_release(fx->rt, PSB_SCRIPT_OK), 0);
}

static void
test_hang_release_fail(void **state)
{
	fx_t            *fx = *state;
	psb_rt_sandbox_t a  = sb("a", 1);

	psb_scripted_set_task(fx->rt, "a", 1, PSB_FAKE_RUNNING, 10, 0);
	psb_scripted_script(fx->rt, PSB_RTOP_KILL, "a", PSB_SCRIPT_HANG, 0, 1);
	assert_int_equal(psb_runtime_kill(fx->rt, &a, NULL), 0);
	psb_test_run_for(fx->loop, 20);
	assert_int_equal(psb_scripted_hung(fx->rt), 1);
	assert_int_equal(psb_scripted_release(fx->rt, PSB_SCRIPT_FAIL), 1);
	wait_for(fx, 1);
	assert_int_equal(fx->evs[0].event, PSB_EV_KILL_FAILED);
	assert_int_equal(fx->evs[0].code, PSB_ERUNTIME);
	assert_int_equal(
	        psb_scripted_task(fx->rt, "a", NULL, NULL), PSB_FAKE_RUNNING);
}

static void
test_close_with_pending(void **state)
{
	fx_t            *fx = *state;
	psb_rt_sandbox_t a  = sb("a", 1);
	psb_rt_sandbox_t b  = sb("b", 1);
	psb_rt_sandbox_t c  = sb("c", 1);

	psb_scripted_script(
	        fx->rt, PSB_RTOP_START, "a", PSB_SCRIPT_HANG, 0, 1);
	psb_scripted_script(fx->rt, PSB_RTOP_START, "b", PSB_SCRIPT_OK, 50, 1);
	psb_scripted_script(
	        fx->rt, PSB_RTOP_PROBE, NULL, PSB_SCRIPT_FAIL, 0, -1);
	psb_scripted_set_task(fx->rt, "c", 1, PSB_FAKE_RUNNING, 1, 0);
	assert_int_equal(psb_runtime_start(fx->rt, &a, NULL), 0);
	assert_int_equal(psb_runtime_start(fx->rt, &b, NULL), 0);
	assert_int_equal(psb_runtime_probe(fx->rt, &c, 1, NULL), 0);
	assert_int_equal(psb_scripted_exit(fx->rt, "c", 0), 0);
	assert_int_equal(psb_scripted_hung(fx->rt), 1);

	psb_runtime_close(fx->rt);
	fx->rt = NULL;
	psb_test_run_for(fx->loop, 120);
	assert_int_equal(fx->n, 0);
	assert_true(psb_test_loop_is_clean(fx->loop));
}

static void
test_close_from_sink(void **state)
{
	fx_t            *fx = *state;
	psb_rt_sandbox_t a  = sb("a", 1);
	psb_rt_sandbox_t b  = sb("b", 1);

	// Both are due in the same loop iteration; the first event closes
	// the runtime, so the second must never arrive.
	assert_int_equal(psb_runtime_start(fx->rt, &a, NULL), 0);
	assert_int_equal(psb_runtime_start(fx->rt, &b, NULL), 0);
	fx->close_in_sink = true;
	wait_for(fx, 1);
	assert_null(fx->rt);
	psb_test_run_for(fx->loop, 30);
	assert_int_equal(fx->n, 1);
}

static void
test_platform(void **state)
{
	fx_t          *fx = *state;
	psb_platform_t p;

	assert_int_equal(psb_runtime_platform(fx->rt, &p), 0);
	assert_string_equal(p.os, "linux");
	assert_true(p.arch[0] != '\0');
	assert_string_not_equal(p.arch, "x86_64");
	assert_string_not_equal(p.arch, "aarch64");
	if (strcmp(p.arch, "arm") != 0) {
		assert_string_equal(p.variant, "");
	}
}

static void
test_open_errors(void **state)
{
	fx_t          *fx  = *state;
	psb_runtime_t *rt  = NULL;
	psb_error_t    err = PSB_ERROR_INIT;

	assert_int_equal(psb_runtime_open("nope", fx->loop, NULL, &rt, &err),
	        PSB_ENOENT);
	assert_null(rt);
	assert_non_null(strstr(err.msg, "nope"));
	assert_non_null(strstr(err.msg, "scripted"));
	psb_error_release(&err);

	// The containerd backend connects lazily: it opens without a
	// containerd, and an unknown option is refused by name.
	assert_int_equal(psb_runtime_open("containerd", fx->loop,
	                         "address=/nonexistent", &rt, &err),
	        0);
	assert_non_null(rt);
	assert_string_equal(psb_runtime_name(rt), "containerd");
	assert_false(psb_runtime_is_test_double(rt));
	psb_runtime_close(rt);
	rt = NULL;
	assert_int_equal(psb_runtime_open("containerd", fx->loop,
	                         "address=/nonexistent,bogus=1", &rt, &err),
	        PSB_EINVAL);
	assert_null(rt);
	assert_non_null(strstr(err.msg, "bogus"));
	psb_error_release(&err);

	assert_int_equal(
	        psb_runtime_open("scripted", fx->loop, "bogus=1", &rt, &err),
	        PSB_EINVAL);
	assert_null(rt);
	assert_non_null(strstr(err.msg, "bogus"));
	psb_error_release(&err);
	// probe_delay_ms takes digits only, and world= a path.
	static const char *const bad[] = {"probe_delay_ms=-1",
	        "probe_delay_ms=", "probe_delay_ms=9999999",
	        "world=", "probe_delay_ms=5,bogus=1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(psb_runtime_open("scripted", fx->loop, bad[i],
		                         &rt, &err),
		        PSB_EINVAL);
		assert_null(rt);
		assert_non_null(strstr(err.msg, "bad option"));
		psb_error_release(&err);
	}
	assert_int_equal(psb_runtime_open("scripted", fx->loop,
	                         "probe_delay_ms=5", &rt, &err),
	        0);
	psb_runtime_close(rt);
	rt = NULL;

	assert_int_equal(
	        psb_runtime_open("scripted", fx->loop, "", &rt, &err), 0);
	assert_null(err.msg); // untouched on success
	assert_string_equal(psb_runtime_name(rt), "scripted");
	assert_true(psb_runtime_is_test_double(rt));
	assert_ptr_equal(psb_runtime_loop(rt), fx->loop);
	psb_runtime_close(rt);
	psb_runtime_close(NULL);
}

static void
test_calls_and_bad_ids(void **state)
{
	fx_t            *fx  = *state;
	psb_rt_sandbox_t a   = sb("a", 1);
	psb_error_t      err = PSB_ERROR_INIT;
	psb_rt_sandbox_t bad;
	char             longid[100];

	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	bad                        = sb(longid, 1);

	assert_int_equal(psb_runtime_start(fx->rt, &a, NULL), 0);
	assert_int_equal(psb_runtime_kill(fx->rt, &a, NULL), 0);
	assert_int_equal(psb_runtime_kill(fx->rt, &a, NULL), 0);
	assert_int_equal(psb_runtime_delete(fx->rt, &a, NULL), 0);
	assert_int_equal(psb_runtime_start(fx->rt, &bad, &err), PSB_EINVAL);
	// A refusal says why (runtime.h).
	assert_non_null(strstr(psb_error_message(&err), "sandbox id"));
	psb_error_release(&err);
	assert_int_equal(psb_runtime_probe(fx->rt, &bad, 1, &err), PSB_EINVAL);
	assert_non_null(strstr(psb_error_message(&err), "sandbox id"));
	psb_error_release(&err);
	assert_int_equal(psb_runtime_probe(fx->rt, NULL, 0, &err), 0);
	assert_null(err.msg); // untouched on success
	wait_for(fx, 4);
	psb_test_run_for(fx->loop, 20);
	assert_int_equal(fx->n, 4); // nothing for the refused calls

	assert_int_equal(psb_scripted_calls(fx->rt, PSB_RTOP_START), 2);
	assert_int_equal(psb_scripted_calls(fx->rt, PSB_RTOP_KILL), 2);
	assert_int_equal(psb_scripted_calls(fx->rt, PSB_RTOP_DELETE), 1);
	assert_int_equal(psb_scripted_calls(fx->rt, PSB_RTOP_PROBE), 2);
}

// The rule every backend's start applies (runtime.h): a pod config that
// is missing or is not a JSON object is refused, never replaced by "{}".
static void
test_pod_config_rule(void **state)
{
	psb_rt_sandbox_t a     = sb("a", 1);
	psb_error_t      err   = PSB_ERROR_INIT;
	const char      *bad[] = {NULL, "", "{\"metadata\":", "[]", "\"{}\""};
	json_t          *cfg   = NULL;

	(void)state;
	for (size_t i = 0; i < PSB_NELEM(bad); i++) {
		a.config_json = bad[i];
		assert_int_equal(
		        psb_runtime_pod_config(&a, &cfg, &err), PSB_EINVAL);
		assert_null(cfg);
		assert_string_equal(psb_error_message(&err),
		        "sandbox a: its stored pod config is missing or "
		        "unreadable");
		psb_error_release(&err);
	}
	a.config_json = "{\"hostname\":\"h\"}";
	assert_int_equal(psb_runtime_pod_config(&a, &cfg, &err), 0);
	assert_null(err.msg); // untouched on success
	assert_string_equal(
	        json_string_value(json_object_get(cfg, "hostname")), "h");
	json_decref(cfg);
	assert_int_equal(psb_runtime_pod_config(&a, NULL, NULL), 0);
}

// The containerd backend refuses such a start at once, with the rule's
// message and before anything is made or asked: no containerd is needed
// to see it (nothing connects at open, and this socket does not exist).
// Its options are parsed strictly, too: resync_ms takes digits only.
static void
test_containerd_refuses_lost_config(void **state)
{
	fx_t            *fx  = *state;
	psb_rt_sandbox_t a   = sb("a", 1);
	psb_error_t      err = PSB_ERROR_INIT;
	psb_runtime_t   *rt  = NULL;
	const char *opts = "address=/nonexistent/psb-test.sock,resync_ms=0";

	assert_int_equal(psb_runtime_open("containerd", fx->loop,
	                         "resync_ms=-1", &rt, &err),
	        PSB_EINVAL);
	assert_non_null(strstr(psb_error_message(&err), "resync_ms"));
	psb_error_release(&err);
	assert_int_equal(
	        psb_runtime_open("containerd", fx->loop, opts, &rt, &err), 0);
	a.config_json = NULL;
	assert_int_equal(psb_runtime_start(rt, &a, &err), PSB_EINVAL);
	assert_string_equal(psb_error_message(&err),
	        "sandbox a: its stored pod config is missing or unreadable");
	psb_error_release(&err);
	a.config_json = "{\"metadata\":";
	assert_int_equal(psb_runtime_start(rt, &a, &err), PSB_EINVAL);
	psb_error_release(&err);
	// Other refusals say why as well (the controller reports it).
	a.id = "";
	assert_int_equal(psb_runtime_start(rt, &a, &err), PSB_EINVAL);
	assert_non_null(strstr(psb_error_message(&err), "no sandbox id"));
	psb_error_release(&err);
	psb_runtime_close(rt);
	// The test double keeps the same rule, so that the controller sees
	// the same refusal whichever runtime it drives.
	a             = sb("a", 1);
	a.config_json = NULL;
	assert_int_equal(psb_runtime_start(fx->rt, &a, &err), PSB_EINVAL);
	assert_string_equal(psb_error_message(&err),
	        "sandbox a: its stored pod config is missing or unreadable");
	psb_error_release(&err);
	assert_int_equal(
	        psb_scripted_task(fx->rt, "a", NULL, NULL), PSB_FAKE_NONE);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

// With world=PATH the fake tasks outlive the runtime (and the process):
// a second runtime on the same file finds them as they were left.
static void
test_world_file(void **state)
{
	fx_t            *fx  = *state;
	psb_error_t      err = PSB_ERROR_INIT;
	psb_runtime_t   *rt2 = NULL;
	psb_rt_sandbox_t a   = sb("a", 3);
	psb_rt_sandbox_t b   = sb("b", 1);
	char             opt[700];
	uint32_t         pid = 0;
	int32_t          st  = 0;

	psb_test_tmpdir("scripted-world");
	snprintf(opt, sizeof(opt), "world=%s", psb_test_path("world.json"));
	psb_runtime_close(fx->rt);
	assert_int_equal(
	        psb_runtime_open("scripted", fx->loop, opt, &fx->rt, &err), 0);
	psb_runtime_set_sink(fx->rt, sink_cb, fx);
	assert_int_equal(psb_runtime_start(fx->rt, &a, NULL), 0);
	assert_int_equal(psb_runtime_start(fx->rt, &b, NULL), 0);
	wait_for(fx, 2);
	assert_int_equal(psb_scripted_exit(fx->rt, "b", 9), 0);
	wait_for(fx, 3);
	psb_runtime_close(fx->rt);
	fx->rt = NULL;

	assert_int_equal(
	        psb_runtime_open("scripted", fx->loop, opt, &rt2, &err), 0);
	assert_int_equal(
	        psb_scripted_task(rt2, "a", &pid, NULL), PSB_FAKE_RUNNING);
	assert_int_equal(pid, fx->evs[0].pid);
	assert_int_equal(
	        psb_scripted_task(rt2, "b", NULL, &st), PSB_FAKE_EXITED);
	assert_int_equal(st, 9);
	fx->rt = rt2;

	// A world file that is not JSON is refused, not overwritten.
	{
		const char *bad = psb_test_path("world-bad.json");
		FILE       *f   = fopen(bad, "w");

		assert_non_null(f);
		fputs("garbage", f);
		fclose(f);
		snprintf(opt, sizeof(opt), "world=%s", bad);
	}
	assert_int_equal(
	        psb_runtime_open("scripted", fx->loop, opt, &rt2, &err),
	        PSB_EINVAL);
	psb_error_release(&err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        T(test_start_ok_async),
	        T(test_start_delay),
	        T(test_start_failures),
	        T(test_rules),
	        T(test_kill_running),
	        T(test_kill_none),
	        T(test_kill_exited),
	        T(test_kill_failed),
	        T(test_delete),
	        T(test_probe_mixed),
	        T(test_exit),
	        T(test_hang_release_ok),
	        T(test_hang_release_fail),
	        T(test_close_with_pending),
	        T(test_close_from_sink),
	        T(test_platform),
	        T(test_open_errors),
	        T(test_world_file),
	        T(test_calls_and_bad_ids),
	        T(test_pod_config_rule),
	        T(test_containerd_refuses_lost_config),
	};

	return (psb_test_run_group(tests, NULL, NULL));
}
