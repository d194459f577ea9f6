//
// podsandboxd - the real daemon binary over ipc, through libpodsandbox,
// with the scripted runtime (its world in a file, so that it survives a
// kill -9 like real containerd tasks would): every method, 1,000 held
// Waits with Status traffic, event order and replay, and kill -9 of the
// daemon mid-traffic followed by a restart.
//
// Usage (ctest passes it): api_test PATH/TO/podsandboxd
//

#include "tests/harness/testing.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "podsandbox.h"

static const char *daemon_bin;

typedef struct daemon {
	pid_t pid;
	char  dir[512];
	char  api[600];
	char  events[600];
} daemon_t;

static const char *POD_JSON =
        "{\"metadata\": {\"name\": \"nginx\", \"namespace\": \"default\", "
        "\"uid\": \"uid-1\", \"attempt\": 1}, \"hostname\": \"web\", "
        "\"labels\": {\"app\": \"web\"}, \"linux\": {\"security_context\": "
        "{\"namespace_options\": {\"network\": \"NODE\"}}}}";

// daemon_start runs podsandboxd on d's directory and waits until it
// answers Version.
static void
daemon_start(daemon_t *d)
{
	char                 log[700];
	char                 db[700];
	char                 run[700];
	char                 world[720];
	psb_client_t        *c;
	psb_client_error_t   err;
	psb_daemon_version_t v;
	int64_t              until = psb_mono_ms() + 10000;

	snprintf(log, sizeof(log), "%s/daemon.log", d->dir);
	snprintf(db, sizeof(db), "%s/podsandboxd.db", d->dir);
	snprintf(run, sizeof(run), "%s/run", d->dir);
	snprintf(world, sizeof(world), "world=%s/world.json", d->dir);
	d->pid = fork();
	assert_true(d->pid >= 0);
	if (d->pid == 0) {
		FILE *f = freopen(log, "a", stderr);

		(void)f;
		execl(daemon_bin, daemon_bin, "--runtime=scripted",
		        "--runtime-options", world, "--db", db, "--state-dir",
		        run, "--socket", d->api, "--events-socket", d->events,
		        "--log-level", "debug", (char *)NULL);
		_exit(127);
	}
	assert_int_equal(psb_client_open(d->api, &c, &err), 0);
	psb_client_set_timeout(c, 200);
	while (psb_client_version(c, &v, &err) != 0) {
		assert_true(psb_mono_ms() < until);
		assert_int_equal(waitpid(d->pid, NULL, WNOHANG), 0);
		usleep(20000);
	}
	assert_true(v.runtime_is_test_double);
	psb_client_close(c);
}

static int
daemon_signal(daemon_t *d, int sig)
{
	int status = 0;

	kill(d->pid, sig);
	waitpid(d->pid, &status, 0);
	d->pid = 0;
	return (status);
}

static daemon_t *
daemon_new(const char *name)
{
	daemon_t *d = calloc(1, sizeof(*d));

	snprintf(d->dir, sizeof(d->dir), "%s", psb_test_tmpdir(name));
	snprintf(d->api, sizeof(d->api), "ipc://%s/api.sock", d->dir);
	snprintf(d->events, sizeof(d->events), "ipc://%s/events.sock", d->dir);
	daemon_start(d);
	return (d);
}

static void
daemon_free(daemon_t *d)
{
	if (d->pid > 0) {
		int status = daemon_signal(d, SIGTERM);

		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	free(d);
}

static psb_client_t *
client(daemon_t *d)
{
	psb_client_t      *c;
	psb_client_error_t err;

	assert_int_equal(psb_client_open(d->api, &c, &err), 0);
	psb_client_set_timeout(c, 10000);
	return (c);
}

static void
create(psb_client_t *c, const char *id)
{
	void              *cfg;
	size_t             len;
	psb_client_error_t err;

	assert_int_equal(psb_config_from_json(POD_JSON, &cfg, &len, &err), 0);
	if (psb_client_create(c, id, cfg, len, NULL, &err) != 0) {
		fail_msg("create %s: %s: %s", id, psb_code_name(err.code),
		        err.message);
	}
	free(cfg);
}

static const char *
state_of(psb_client_t *c, const char *id, char *buf, size_t len)
{
	psb_sandbox_status_t st;
	psb_client_error_t   err;

	if (psb_client_status(c, id, false, &st, &err) != 0) {
		snprintf(buf, len, "%s", psb_code_name(err.code));
	} else {
		snprintf(buf, len, "%s", st.state);
		psb_sandbox_status_free(&st);
	}
	return (buf);
}

static void
test_every_method(void **state)
{
	daemon_t             *d = daemon_new("api-methods");
	psb_client_t         *c = client(d);
	psb_client_error_t    err;
	psb_instance_t        inst;
	psb_sandbox_status_t  st;
	psb_sandbox_status_t *list;
	size_t                n;
	psb_exit_t            ex;
	psb_event_list_t      evs;
	psb_platform_info_t   plat;
	psb_daemon_version_t  ver;
	json_t               *info;
	char                  buf[32];

	assert_int_equal(psb_client_version(c, &ver, &err), 0);
	assert_string_equal(ver.runtime, "scripted");
	assert_int_equal(psb_client_platform(c, &plat, &err), 0);
	assert_string_equal(plat.os, "linux");
	create(c, "sb-1");
	create(c, "sb-1"); // idempotent
	assert_int_equal(psb_client_start(c, "sb-1", &inst, &err), 0);
	assert_true(inst.pid > 0);
	assert_string_equal(inst.sandbox_id, "sb-1");
	psb_instance_free(&inst);
	assert_int_equal(psb_client_status(c, "sb-1", true, &st, &err), 0);
	assert_string_equal(st.state, "READY");
	assert_string_equal(st.name, "nginx");
	assert_non_null(st.info_json);
	info = json_loads(st.info_json, 0, NULL);
	assert_non_null(info);
	assert_string_equal(
	        json_string_value(json_object_get(info, "processStatus")),
	        "running");
	assert_string_equal(
	        json_string_value(json_object_get(
	                json_object_get(
	                        json_object_get(info, "config"), "metadata"),
	                "name")),
	        "nginx");
	json_decref(info);
	psb_sandbox_status_free(&st);
	assert_int_equal(psb_client_list(c, "READY", "{\"app\":\"web\"}",
	                         &list, &n, &err),
	        0);
	assert_int_equal(n, 1);
	psb_sandbox_status_list_free(list, n);
	assert_int_equal(
	        psb_client_list(c, NULL, "{\"app\":\"db\"}", &list, &n, &err),
	        0);
	assert_int_equal(n, 0);
	psb_sandbox_status_list_free(list, n);
	assert_int_equal(psb_client_stop(c, "sb-1", 10, &err), 0);
	assert_int_equal(psb_client_wait(c, "sb-1", 5000, &ex, &err), 0);
	assert_int_equal(ex.exit_status, 137);
	assert_int_equal(psb_client_history(c, "sb-1", &evs, &err), 0);
	assert_int_equal(evs.n, 5);
	assert_string_equal(evs.events[0].to, "CREATED");
	assert_string_equal(evs.events[4].to, "EXITED");
	assert_int_equal(evs.events[4].exit_status, 137);
	psb_event_list_free(&evs);
	assert_int_equal(psb_client_events(c, 0, 0, &evs, &err), 0);
	assert_int_equal(evs.n, 5);
	psb_event_list_free(&evs);
	assert_int_equal(psb_client_shutdown(c, "sb-1", &err), 0);
	assert_int_equal(psb_client_shutdown(c, "sb-1", &err), 0);
	assert_string_equal(
	        state_of(c, "sb-1", buf, sizeof(buf)), "NOT_FOUND");
	// Errors come back as codes, and the daemon keeps serving.
	assert_int_equal(
	        psb_client_start(c, "nope", &inst, &err), -PSB_CODE_NOT_FOUND);
	assert_int_equal(err.code, PSB_CODE_NOT_FOUND);
	assert_int_equal(psb_client_start(c, "../etc", &inst, &err),
	        -PSB_CODE_INVALID_ARGUMENT);
	assert_non_null(strstr(err.message, "sandbox_id"));
	assert_int_equal(psb_client_version(c, &ver, &err), 0);
	psb_client_close(c);
	daemon_free(d);
}

#define NWAIT         1000
#define NSB           10
#define NWAIT_CLIENTS 4

typedef struct wait_acc {
	pthread_mutex_t mtx;
	int             done;
	int             ok137;
} wait_acc_t;

static void
wait_cb(void *arg, int code, const psb_exit_t *ex, const char *msg)
{
	wait_acc_t *acc = arg;

	pthread_mutex_lock(&acc->mtx);
	acc->done++;
	if (code == 0 && ex != NULL && ex->exit_status == 137) {
		acc->ok137++;
	}
	pthread_mutex_unlock(&acc->mtx);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a;
	int64_t y = *(const int64_t *)b;

	return (x < y ? -1 : x > y);
}

static void
test_many_waits_with_status(void **state)
{
	daemon_t          *d = daemon_new("api-waits");
	psb_client_t      *c = client(d);
	psb_client_t      *wc[NWAIT_CLIENTS];
	psb_client_error_t err;
	psb_instance_t     inst;
	wait_acc_t         acc = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
	int64_t            lat[200];
	char               id[16];
	int64_t            until;

	for (int i = 0; i < NSB; i++) {
		snprintf(id, sizeof(id), "w-%d", i);
		create(c, id);
		assert_int_equal(psb_client_start(c, id, &inst, &err), 0);
		psb_instance_free(&inst);
	}
	for (int i = 0; i < NWAIT_CLIENTS; i++) {
		wc[i] = client(d);
	}
	for (int i = 0; i < NWAIT; i++) {
		snprintf(id, sizeof(id), "w-%d", i % NSB);
		assert_int_equal(psb_client_wait_async(wc[i % NWAIT_CLIENTS],
		                         id, wait_cb, &acc, &err),
		        0);
	}
	// Status stays fast while 1,000 Waits are held.
	for (int i = 0; i < 200; i++) {
		psb_sandbox_status_t st;
		struct timespec      a;
		struct timespec      b;

		clock_gettime(CLOCK_MONOTONIC, &a);
		assert_int_equal(
		        psb_client_status(c, "w-3", false, &st, &err), 0);
		clock_gettime(CLOCK_MONOTONIC, &b);
		lat[i] = (b.tv_sec - a.tv_sec) * 1000000000LL +
		         (b.tv_nsec - a.tv_nsec);
		psb_sandbox_status_free(&st);
	}
	qsort(lat, 200, sizeof(lat[0]), cmp_i64);
	print_message("status with %d held waits: median %.0f us, p99 %.0f "
	              "us\n",
	        NWAIT, lat[100] / 1e3, lat[198] / 1e3);
	// Generous: the point is that held Waits do not block Status.
	assert_true(lat[100] < 20 * 1000000LL);
	assert_int_equal(acc.done, 0);
	for (int i = 0; i < NSB; i++) {
		snprintf(id, sizeof(id), "w-%d", i);
		assert_int_equal(psb_client_stop(c, id, 10, &err), 0);
	}
	until = psb_mono_ms() + 10000;
	while (__atomic_load_n(&acc.done, __ATOMIC_SEQ_CST) < NWAIT &&
	        psb_mono_ms() < until) {
		usleep(10000);
	}
	assert_int_equal(acc.done, NWAIT);
	assert_int_equal(acc.ok137, NWAIT);
	for (int i = 0; i < NWAIT_CLIENTS; i++) {
		psb_client_close(wc[i]);
	}
	psb_client_close(c);
	daemon_free(d);
}

typedef struct sub_acc {
	pthread_mutex_t mtx;
	psb_event_t     ev[256];
	int             n;
	int             data_loss;
} sub_acc_t;

static void
sub_cb(void *arg, const psb_event_t *ev, int code)
{
	sub_acc_t *acc = arg;

	pthread_mutex_lock(&acc->mtx);
	if (ev == NULL) {
		acc->data_loss++;
	} else if (acc->n < 256) {
		acc->ev[acc->n++] = *ev;
	}
	pthread_mutex_unlock(&acc->mtx);
}

static void
test_events_order_and_replay(void **state)
{
	daemon_t           *d   = daemon_new("api-events");
	psb_client_t       *c   = client(d);
	sub_acc_t           acc = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0, 0};
	psb_subscription_t *sub;
	psb_client_error_t  err;
	psb_instance_t      inst;
	psb_event_list_t    evs;
	int64_t             until;

	assert_int_equal(psb_client_subscribe(
	                         c, d->events, 0, sub_cb, &acc, &sub, &err),
	        0);
	for (int i = 0; i < 4; i++) {
		char id[16];

		snprintf(id, sizeof(id), "e-%d", i);
		create(c, id);
		assert_int_equal(psb_client_start(c, id, &inst, &err), 0);
		psb_instance_free(&inst);
		assert_int_equal(psb_client_shutdown(c, id, &err), 0);
	}
	// 4 x (CREATED, STARTING, READY, STOPPING, DELETING, NONE) = 24.
	until = psb_mono_ms() + 5000;
	while (__atomic_load_n(&acc.n, __ATOMIC_SEQ_CST) < 24 &&
	        psb_mono_ms() < until) {
		usleep(10000);
	}
	psb_subscription_close(sub);
	assert_int_equal(acc.n, 24);
	assert_int_equal(acc.data_loss, 0);
	for (int i = 0; i < acc.n; i++) {
		assert_int_equal(acc.ev[i].seq, (uint64_t)i + 1);
	}
	// Replay from the journal gives the same stream.
	assert_int_equal(psb_client_events(c, 10, 0, &evs, &err), 0);
	assert_int_equal(evs.n, 14);
	for (size_t i = 0; i < evs.n; i++) {
		assert_int_equal(evs.events[i].seq, acc.ev[10 + i].seq);
		assert_string_equal(evs.events[i].to, acc.ev[10 + i].to);
		assert_string_equal(
		        evs.events[i].sandbox_id, acc.ev[10 + i].sandbox_id);
	}
	psb_event_list_free(&evs);
	psb_client_close(c);
	daemon_free(d);
}

// Traffic for the kill -9 test: each thread runs lifecycles on its own
// ids and records what the daemon acknowledged.
#define NTRAFFIC 3
#define NLIFE    200

typedef struct traffic {
	pthread_t thread;
	daemon_t *d;
	int       t;
	int       acked[NLIFE]; // 0 none, 1 created, 2 started, 3 stopped,
	                        // 4 removed
	volatile int *stop;
} traffic_t;

// acked[] is written by its thread and read by the test's while it runs.
static void
traffic_ack(traffic_t *tr, int i, int what)
{
	__atomic_store_n(&tr->acked[i], what, __ATOMIC_RELEASE);
}

// traffic_under_way: every thread has had its first NWARM sandboxes at
// least created, so lifecycles of each fate (left running, left exited,
// removed) were acknowledged, and NLIFE - NWARM are still to come.
#define NWARM 6

static bool
traffic_under_way(traffic_t *tr)
{
	for (int t = 0; t < NTRAFFIC; t++) {
		if (__atomic_load_n(
		            &tr[t].acked[NWARM - 1], __ATOMIC_ACQUIRE) == 0) {
			return (false);
		}
	}
	return (true);
}

static void *
traffic_thread(void *arg)
{
	traffic_t         *tr = arg;
	psb_client_t      *c  = client(tr->d);
	psb_client_error_t err;
	psb_instance_t     inst;
	void              *cfg;
	size_t             len;
	char               id[32];

	psb_client_set_timeout(c, 2000);
	psb_config_from_json(POD_JSON, &cfg, &len, &err);
	for (int i = 0; i < NLIFE && !*tr->stop; i++) {
		snprintf(id, sizeof(id), "k-%d-%d", tr->t, i);
		if (psb_client_create(c, id, cfg, len, NULL, &err) != 0) {
			break;
		}
		traffic_ack(tr, i, 1);
		if (psb_client_start(c, id, &inst, &err) != 0) {
			break;
		}
		psb_instance_free(&inst);
		traffic_ack(tr, i, 2);
		if (i % 3 == 0) {
			continue; // leave some running
		}
		if (psb_client_stop(c, id, 5, &err) != 0) {
			break;
		}
		traffic_ack(tr, i, 3);
		if (i % 3 == 1) {
			continue; // leave some exited
		}
		if (psb_client_shutdown(c, id, &err) != 0) {
			break;
		}
		traffic_ack(tr, i, 4);
	}
	free(cfg);
	psb_client_close(c);
	return (NULL);
}

static void
test_kill9_mid_traffic(void **state)
{
	daemon_t          *d = daemon_new("api-kill9");
	traffic_t          tr[NTRAFFIC];
	volatile int       stop = 0;
	psb_client_t      *c;
	psb_client_error_t err;
	psb_event_list_t   evs;
	uint64_t           before;
	int64_t            until;
	int                status;
	int                checked = 0;

	memset(tr, 0, sizeof(tr));
	for (int t = 0; t < NTRAFFIC; t++) {
		tr[t].d    = d;
		tr[t].t    = t;
		tr[t].stop = &stop;
		pthread_create(&tr[t].thread, NULL, traffic_thread, &tr[t]);
	}
	// Kill it mid-traffic, once each thread is well under way.
	until = psb_mono_ms() + 10000 * (int64_t)psb_test_timeout_multiplier();
	while (!traffic_under_way(tr) && psb_mono_ms() < until) {
		usleep(10000); // paces the polling only
	}
	assert_true(traffic_under_way(tr));
	status = daemon_signal(d, SIGKILL);
	assert_true(WIFSIGNALED(status));
	stop = 1;
	for (int t = 0; t < NTRAFFIC; t++) {
		pthread_join(tr[t].thread, NULL);
	}
	daemon_start(d);
	c = client(d);
	assert_int_equal(psb_client_events(c, 0, 0, &evs, &err), 0);
	// The journal is whole: seqs contiguous from 1.
	for (size_t i = 0; i < evs.n; i++) {
		assert_int_equal(evs.events[i].seq, (uint64_t)i + 1);
	}
	before = evs.newest_seq;
	psb_event_list_free(&evs);
	for (int t = 0; t < NTRAFFIC; t++) {
		for (int i = 0; i < NLIFE && tr[t].acked[i] != 0; i++) {
			char       id[32];
			char       st[32];
			psb_exit_t ex;

			// Every third sandbox is left running, every third
			// left exited, the rest removed: one that reached its
			// end must be exactly there after the restart.
			int want = i % 3 == 0 ? 2 : i % 3 == 1 ? 3 : 4;

			snprintf(id, sizeof(id), "k-%d-%d", tr[t].t, i);
			state_of(c, id, st, sizeof(st));
			checked++;
			if (tr[t].acked[i] != want) {
				// The request in flight at the kill: any state
				// on its way is fine, but it must exist unless
				// a shutdown was sent.
				if (tr[t].acked[i] < 3) {
					assert_string_not_equal(
					        st, "NOT_FOUND");
				}
				continue;
			}
			switch (want) {
			case 2: assert_string_equal(st, "READY"); break;
			case 3:
				assert_string_equal(st, "EXITED");
				assert_int_equal(psb_client_wait(c, id, 2000,
				                         &ex, &err),
				        0);
				assert_int_equal(ex.exit_status, 137);
				break;
			default: assert_string_equal(st, "NOT_FOUND"); break;
			}
		}
	}
	print_message(
	        "kill -9 after traffic: %d sandboxes checked\n", checked);
	assert_true(checked > 10);
	// New transitions continue the sequence.
	create(c, "after-restart");
	assert_int_equal(psb_client_events(c, before, 0, &evs, &err), 0);
	assert_int_equal(evs.n, 1);
	assert_int_equal(evs.events[0].seq, before + 1);
	psb_event_list_free(&evs);
	psb_client_close(c);
	daemon_free(d);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_method),
	        cmocka_unit_test(test_many_waits_with_status),
	        cmocka_unit_test(test_events_order_and_replay),
	        cmocka_unit_test(test_kill9_mid_traffic),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH/TO/podsandboxd\n", argv[0]);
		return (2);
	}
	daemon_bin = argv[1];
	signal(SIGPIPE, SIG_IGN);
	return (psb_test_run_group(tests, NULL, NULL));
}
