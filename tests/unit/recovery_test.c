//
// podsandboxd - recovery at start-up: every persisted state against every
// scripted runtime answer (running, exited, missing, unreachable), the
// re-probe of unreachable sandboxes, and a large recovery.
//

#include "tests/unit/ctl_fixture.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "persistence/store.h"

typedef enum world {
	W_RUNNING,
	W_EXITED,
	W_MISSING,
	W_UNREACHABLE,
	W_COUNT
} world_t;

static const char *const world_names[W_COUNT] = {
        "running", "exited", "missing", "unreachable"};

// The expected settled outcome for (persisted state, world). NONE means
// the sandbox is gone (a DELETING row finishes its delete).
typedef struct expect {
	psb_state_t state;
	int32_t     exit_status; // checked when state is EXITED
} expect_t;

static const expect_t expected[PSB_STATE_COUNT][W_COUNT] = {
        [PSB_ST_CREATED]  = {{PSB_ST_READY, 0}, {PSB_ST_EXITED, 4},
                 {PSB_ST_CREATED, 0}, {PSB_ST_CREATED, 0}},
        [PSB_ST_STARTING] = {{PSB_ST_READY, 0}, {PSB_ST_EXITED, 4},
                {PSB_ST_CREATED, 0}, {PSB_ST_UNKNOWN, 0}},
        [PSB_ST_READY]    = {{PSB_ST_READY, 0}, {PSB_ST_EXITED, 4},
                   {PSB_ST_EXITED, 255}, {PSB_ST_UNKNOWN, 0}},
        // A stop in flight is finished: the kill is sent again (and
        // again after the backoff while the runtime cannot be reached).
        [PSB_ST_STOPPING] = {{PSB_ST_EXITED, 137}, {PSB_ST_EXITED, 4},
                {PSB_ST_EXITED, 255}, {PSB_ST_STOPPING, 0}},
        // The recorded exit stands; a stray task is killed, not adopted.
        [PSB_ST_EXITED]  = {{PSB_ST_EXITED, 1}, {PSB_ST_EXITED, 1},
                 {PSB_ST_EXITED, 1}, {PSB_ST_EXITED, 1}},
        [PSB_ST_UNKNOWN] = {{PSB_ST_READY, 0}, {PSB_ST_EXITED, 4},
                {PSB_ST_EXITED, 255}, {PSB_ST_UNKNOWN, 0}},
        // A delete in flight is finished whatever is left (tried
        // again after the backoff while the runtime cannot be reached).
        [PSB_ST_DELETING] = {{PSB_ST_NONE, 0}, {PSB_ST_NONE, 0},
                {PSB_ST_NONE, 0}, {PSB_ST_DELETING, 0}},
};

static void
put_row(const char *db, const char *id, psb_state_t st)
{
	psb_store_options_t so  = PSB_STORE_OPTIONS_DEFAULT;
	psb_error_t         err = PSB_ERROR_INIT;
	psb_store_t        *s;
	psb_store_row_t     row = {0};

	assert_int_equal(psb_store_open(db, &so, &s, &err), 0);
	row.id          = id;
	row.state       = st;
	row.generation  = 1;
	row.config      = "cfg-A";
	row.config_json = "{}";
	row.config_len  = 5;
	row.labels      = "{}";
	row.created_at  = psb_now_ns();
	row.pid         = st == PSB_ST_READY || st == PSB_ST_STOPPING ? 99 : 0;
	row.exit_status = st == PSB_ST_EXITED ? 1 : -1;
	assert_int_equal(psb_store_put(s, &row, &err), 0);
	assert_int_equal(psb_store_commit(s, &err), 0);
	psb_store_close(s);
}

static void
set_world(fx_t *fx, const char *id, world_t w)
{
	switch (w) {
	case W_RUNNING:
		psb_scripted_set_task(
		        fx->rt, id, 1, PSB_FAKE_RUNNING, 4242, 0);
		break;
	case W_EXITED:
		psb_scripted_set_task(fx->rt, id, 1, PSB_FAKE_EXITED, 0, 4);
		break;
	case W_MISSING:
		psb_scripted_set_task(fx->rt, id, 1, PSB_FAKE_NONE, 0, 0);
		break;
	default:
		for (int op = PSB_RTOP_KILL; op <= PSB_RTOP_PROBE; op++) {
			psb_scripted_script(fx->rt, (psb_rt_op_t)op, id,
			        PSB_SCRIPT_UNREACHABLE, 0, -1);
		}
		break;
	}
}

// One fixture recovers all 28 combinations at once: each (state, world)
// pair is its own sandbox, so this also shows that sandboxes recover
// independently of each other.
static void
test_every_state_against_every_answer(void **state)
{
	fx_t *fx = fx_new("recover-all");
	char  id[64];

	fx->opts.reprobe_ms = 60000; // no re-probe during this test
	for (int s = PSB_ST_CREATED; s < PSB_STATE_COUNT; s++) {
		for (int w = 0; w < W_COUNT; w++) {
			snprintf(id, sizeof(id), "%s-%s",
			        psb_state_name((psb_state_t)s),
			        world_names[w]);
			put_row(fx->db, id, (psb_state_t)s);
		}
	}
	fx->loop = ev_loop_new(EVFLAG_AUTO);
	assert_int_equal(psb_runtime_open("scripted", fx->loop, NULL, &fx->rt,
	                         &(psb_error_t)PSB_ERROR_INIT),
	        0);
	for (int s = PSB_ST_CREATED; s < PSB_STATE_COUNT; s++) {
		for (int w = 0; w < W_COUNT; w++) {
			snprintf(id, sizeof(id), "%s-%s",
			        psb_state_name((psb_state_t)s),
			        world_names[w]);
			set_world(fx, id, (world_t)w);
		}
	}
	fx_start(fx, NULL);
	assert_true(psb_test_run_until(fx->loop, fx_is_recovered, fx, 5000));
	for (int s = PSB_ST_CREATED; s < PSB_STATE_COUNT; s++) {
		for (int w = 0; w < W_COUNT; w++) {
			const expect_t *x = &expected[s][w];
			fx_call_t      *c;

			snprintf(id, sizeof(id), "%s-%s",
			        psb_state_name((psb_state_t)s),
			        world_names[w]);
			if (!fx_until(fx, id, x->state)) {
				fail_msg("%s: expected %s, is %s", id,
				        psb_state_name(x->state),
				        psb_state_name(fx_state(fx, id)));
			}
			if (x->state == PSB_ST_EXITED) {
				c = fx_do(fx, PSB_M_WAIT, id);
				if (c->exit_status != x->exit_status) {
					fail_msg("%s: exit %d, expected %d",
					        id, c->exit_status,
					        x->exit_status);
				}
			}
			if (x->state == PSB_ST_READY) {
				c = fx_do(fx, PSB_M_STATUS, id);
				assert_int_equal(c->pid, 4242);
			}
		}
	}
	// A stray task of an EXITED sandbox was killed.
	assert_int_equal(
	        psb_scripted_task(fx->rt, "EXITED-running", NULL, NULL),
	        PSB_FAKE_EXITED);
	fx_free(fx);
}

static void
test_unreachable_then_reachable(void **state)
{
	fx_t *fx = fx_new("reprobe");

	fx->opts.reprobe_ms = 20;
	put_row(fx->db, "sb", PSB_ST_READY);
	fx->loop = ev_loop_new(EVFLAG_AUTO);
	assert_int_equal(psb_runtime_open("scripted", fx->loop, NULL, &fx->rt,
	                         &(psb_error_t)PSB_ERROR_INIT),
	        0);
	psb_scripted_set_task(fx->rt, "sb", 1, PSB_FAKE_RUNNING, 77, 0);
	psb_scripted_script(
	        fx->rt, PSB_RTOP_PROBE, "sb", PSB_SCRIPT_UNREACHABLE, 0, 3);
	fx_start(fx, NULL);
	assert_true(psb_test_run_until(fx->loop, fx_is_recovered, fx, 5000));
	// Status answers from memory while the runtime is away.
	assert_int_equal(fx_state(fx, "sb"), PSB_ST_UNKNOWN);
	// The re-probe finds it running once the runtime answers.
	assert_true(fx_until(fx, "sb", PSB_ST_READY));
	assert_true(psb_scripted_calls(fx->rt, PSB_RTOP_PROBE) >= 4);
	assert_int_equal(fx_do(fx, PSB_M_STATUS, "sb")->pid, 77);
	// Once resolved it is not asked again.
	{
		uint64_t n = psb_scripted_calls(fx->rt, PSB_RTOP_PROBE);

		psb_test_run_for(fx->loop, 100);
		assert_int_equal(
		        psb_scripted_calls(fx->rt, PSB_RTOP_PROBE), n);
	}
	fx_free(fx);
}

// A Shutdown that arrived while a stop ran (STOPPING, wanting shutdown) is
// carried out after a crash: the wish is in the row, not only in memory.
static void
test_wanted_shutdown_survives(void **state)
{
	fx_t               *fx  = fx_new("want-survives");
	psb_store_options_t so  = PSB_STORE_OPTIONS_DEFAULT;
	psb_error_t         err = PSB_ERROR_INIT;
	psb_store_t        *s;
	psb_store_row_t     row = {0};

	assert_int_equal(psb_store_open(fx->db, &so, &s, &err), 0);
	row.id          = "sb";
	row.state       = PSB_ST_STOPPING;
	row.generation  = 1;
	row.config      = "cfg-A";
	row.config_json = "{}";
	row.config_len  = 5;
	row.labels      = "{}";
	row.pid         = 99;
	row.exit_status = -1;
	row.want        = PSB_G_WANT_SHUTDOWN;
	assert_int_equal(psb_store_put(s, &row, &err), 0);
	assert_int_equal(psb_store_commit(s, &err), 0);
	psb_store_close(s);
	fx->loop = ev_loop_new(EVFLAG_AUTO);
	assert_int_equal(psb_runtime_open("scripted", fx->loop, NULL, &fx->rt,
	                         &(psb_error_t)PSB_ERROR_INIT),
	        0);
	psb_scripted_set_task(fx->rt, "sb", 1, PSB_FAKE_EXITED, 0, 137);
	fx_start(fx, NULL);
	assert_true(psb_test_run_until(fx->loop, fx_is_recovered, fx, 5000));
	assert_true(fx_until(fx, "sb", PSB_ST_NONE));
	assert_true(psb_scripted_calls(fx->rt, PSB_RTOP_DELETE) >= 1);
	fx_free(fx);
}

// One sandbox whose probe never returns does not hold recovery up: after
// probe_timeout_ms it is UNKNOWN (asked again), the others are settled,
// and its late answer is still believed.
static void
test_hung_probe_has_a_deadline(void **state)
{
	fx_t      *fx = fx_new("probe-deadline");
	fx_call_t *held;
	uint64_t   t0;

	fx->opts.probe_timeout_ms = 150;
	fx->opts.reprobe_ms       = 60000; // only the late answer settles it
	put_row(fx->db, "hung", PSB_ST_READY);
	put_row(fx->db, "fine", PSB_ST_READY);
	fx->loop = ev_loop_new(EVFLAG_AUTO);
	assert_int_equal(psb_runtime_open("scripted", fx->loop, NULL, &fx->rt,
	                         &(psb_error_t)PSB_ERROR_INIT),
	        0);
	psb_scripted_set_task(fx->rt, "hung", 1, PSB_FAKE_RUNNING, 51, 0);
	psb_scripted_set_task(fx->rt, "fine", 1, PSB_FAKE_RUNNING, 52, 0);
	psb_scripted_script(
	        fx->rt, PSB_RTOP_PROBE, "hung", PSB_SCRIPT_HANG, 0, 1);
	t0 = psb_now_ns();
	fx_start(fx, NULL);
	held = fx_req(fx, PSB_M_STATUS, "hung");
	assert_true(fx_until(fx, "fine", PSB_ST_READY));
	// Its Status is not answered from the row: it waits for the probe.
	assert_false(held->done);
	assert_false(fx_is_recovered(fx));
	assert_true(psb_test_run_until(fx->loop, fx_is_recovered, fx, 5000));
	// Not before its deadline, and not much after.
	assert_true(psb_now_ns() - t0 >= 140 * 1000000ULL);
	assert_true(psb_now_ns() - t0 < 2000 * 1000000ULL);
	fx_wait(fx, held);
	assert_int_equal(held->code, 0);
	assert_int_equal(held->state, PSB_ST_UNKNOWN);
	assert_int_equal(fx_state(fx, "hung"), PSB_ST_UNKNOWN);
	assert_int_equal(fx_state(fx, "fine"), PSB_ST_READY);
	// The late answer: running after all.
	assert_int_equal(psb_scripted_hung(fx->rt), 1);
	assert_int_equal(psb_scripted_release(fx->rt, PSB_SCRIPT_OK), 1);
	assert_true(fx_until(fx, "hung", PSB_ST_READY));
	assert_int_equal(fx_do(fx, PSB_M_STATUS, "hung")->pid, 51);
	fx_free(fx);
}

// After a restart a loaded row is what was true before it: a pause that
// died while the daemon was down must never be reported READY. Status of
// such a sandbox and List are held until its first probe has answered.
static void
test_reads_wait_for_the_first_probe(void **state)
{
	fx_t      *fx = fx_new("probe-hold");
	fx_call_t *st, *st2, *list, *verbose, *gone, *wait;
	uint64_t   t0;

	put_row(fx->db, "died", PSB_ST_READY);
	put_row(fx->db, "lives", PSB_ST_READY);
	put_row(fx->db, "removed", PSB_ST_EXITED);
	fx->loop = ev_loop_new(EVFLAG_AUTO);
	assert_int_equal(psb_runtime_open("scripted", fx->loop, NULL, &fx->rt,
	                         &(psb_error_t)PSB_ERROR_INIT),
	        0);
	psb_scripted_set_task(fx->rt, "lives", 1, PSB_FAKE_RUNNING, 61, 0);
	// "died" has no task; the answers come late.
	psb_scripted_script(
	        fx->rt, PSB_RTOP_PROBE, NULL, PSB_SCRIPT_OK, 200, -1);
	psb_scripted_script(
	        fx->rt, PSB_RTOP_PROBE, "removed", PSB_SCRIPT_HANG, 0, 1);
	t0 = psb_now_ns();
	fx_start(fx, NULL);
	st   = fx_req(fx, PSB_M_STATUS, "died");
	list = fx_req(fx, PSB_M_LIST, NULL);
	{
		psb_request_t r = {0};

		r.method     = PSB_M_STATUS;
		r.sandbox_id = "lives";
		r.verbose    = true;
		verbose      = fx_submit(fx, &r);
	}
	wait = fx_req(fx, PSB_M_WAIT, "removed"); // exit recorded: at once
	gone = fx_req(fx, PSB_M_STATUS, "removed");
	fx_wait(fx, wait);
	assert_int_equal(wait->exit_status, 1);
	assert_false(st->done);
	assert_false(list->done);
	assert_false(verbose->done);
	// Nor does the board answer them for the loop (core/board.h).
	assert_false(fx_read(fx, PSB_M_STATUS, "died")->done);
	assert_false(fx_read(fx, PSB_M_STATUS, "lives")->done);
	assert_false(fx_read(fx, PSB_M_LIST, NULL)->done);
	// Shutdown of a sandbox whose probe hangs: its held Status learns
	// it is gone, and recovery no longer waits for it.
	assert_int_equal(fx_do(fx, PSB_M_SHUTDOWN, "removed")->code, 0);
	assert_true(gone->done);
	assert_int_equal(gone->code, PSB_ENOENT);
	fx_wait(fx, st);
	assert_true(psb_now_ns() - t0 >= 190 * 1000000ULL);
	assert_int_equal(st->code, 0);
	assert_int_equal(st->state, PSB_ST_EXITED);
	assert_int_equal(st->exit_status, 255);
	fx_wait(fx, verbose);
	assert_int_equal(verbose->state, PSB_ST_READY);
	assert_int_equal(verbose->pid, 61);
	assert_non_null(strstr(verbose->info, "\"pid\""));
	fx_wait(fx, list);
	assert_int_equal(list->code, 0);
	assert_int_equal(list->list_len, 2);
	assert_true(fx_is_recovered(fx));
	// From now on reads are answered at once, by the board too.
	st2 = fx_req(fx, PSB_M_STATUS, "died");
	assert_true(psb_test_run_until(fx->loop, fx_call_done, st2, 50));
	assert_int_equal(st2->state, PSB_ST_EXITED);
	st2 = fx_read(fx, PSB_M_STATUS, "died");
	assert_true(st2->done);
	assert_int_equal(st2->state, PSB_ST_EXITED);
	assert_int_equal(
	        fx_read(fx, PSB_M_STATUS, "lives")->state, PSB_ST_READY);
	assert_int_equal(fx_read(fx, PSB_M_LIST, NULL)->list_len, 2);
	assert_true(fx->board_agreed > 0);
	assert_int_equal(psb_scripted_release(fx->rt, PSB_SCRIPT_OK), 1);
	fx_free(fx);
}

// A client that goes away while its read is held is answered CANCELLED
// at once, and a daemon that drains answers the rest UNAVAILABLE.
static void
test_held_reads_cancel_and_drain(void **state)
{
	fx_t         *fx = fx_new("probe-hold-cancel");
	fx_call_t    *st, *list, *list2;
	psb_request_t r = {0};
	uint64_t      tok;

	put_row(fx->db, "sb", PSB_ST_READY);
	fx->loop = ev_loop_new(EVFLAG_AUTO);
	assert_int_equal(psb_runtime_open("scripted", fx->loop, NULL, &fx->rt,
	                         &(psb_error_t)PSB_ERROR_INIT),
	        0);
	psb_scripted_script(
	        fx->rt, PSB_RTOP_PROBE, "sb", PSB_SCRIPT_HANG, 0, 1);
	fx_start(fx, NULL);
	r.method = PSB_M_LIST;
	list     = &fx->calls[fx->ncalls++];
	memset(list, 0, sizeof(*list));
	list->fx = fx;
	tok      = psb_controller_submit(fx->c, &r, fx_reply_cb, list);
	list2    = fx_req(fx, PSB_M_LIST, NULL);
	st       = fx_req(fx, PSB_M_STATUS, "sb");
	psb_test_run_for(fx->loop, 20);
	assert_false(list->done);
	psb_controller_cancel(fx->c, tok);
	assert_true(list->done);
	assert_int_equal(list->code, PSB_ECANCELED);
	assert_false(list2->done);
	assert_false(st->done);
	psb_controller_drain(fx->c);
	assert_true(list2->done);
	assert_int_equal(list2->code, PSB_EUNAVAIL);
	assert_true(st->done);
	assert_int_equal(st->code, PSB_EUNAVAIL);
	assert_int_equal(psb_scripted_release(fx->rt, PSB_SCRIPT_OK), 1);
	fx_free(fx);
}

// A row whose pod config could not be kept as JSON (stored by an older
// daemon, bytes that no longer decode) is loaded, but its Start fails
// with a clear error and rolls back: never a default pod in its place.
static void
test_start_without_stored_config(void **state)
{
	fx_t               *fx  = fx_new("lost-config");
	psb_store_options_t so  = PSB_STORE_OPTIONS_DEFAULT;
	psb_error_t         err = PSB_ERROR_INIT;
	psb_store_t        *s;
	psb_store_row_t     row = {0};
	fx_call_t          *c;

	assert_int_equal(psb_store_open(fx->db, &so, &s, &err), 0);
	row.id          = "lost";
	row.state       = PSB_ST_CREATED;
	row.generation  = 1;
	row.config      = "\xff\xff";
	row.config_len  = 2;
	row.exit_status = -1;
	assert_int_equal(psb_store_put(s, &row, &err), 0);
	assert_int_equal(psb_store_commit(s, &err), 0);
	psb_store_close(s);
	fx_start(fx, NULL);
	assert_true(psb_test_run_until(fx->loop, fx_is_recovered, fx, 5000));
	c = fx_do(fx, PSB_M_START, "lost");
	assert_int_equal(c->code, PSB_EINVAL);
	assert_non_null(strstr(c->msg, "stored pod config is missing"));
	assert_int_equal(fx_state(fx, "lost"), PSB_ST_CREATED);
	assert_int_equal(
	        psb_scripted_task(fx->rt, "lost", NULL, NULL), PSB_FAKE_NONE);
	fx_free(fx);
}

static void
test_recovered_sandbox_lives_on(void **state)
{
	fx_t *fx = fx_new("recover-live");

	put_row(fx->db, "sb", PSB_ST_READY);
	fx->loop = ev_loop_new(EVFLAG_AUTO);
	assert_int_equal(psb_runtime_open("scripted", fx->loop, NULL, &fx->rt,
	                         &(psb_error_t)PSB_ERROR_INIT),
	        0);
	psb_scripted_set_task(fx->rt, "sb", 1, PSB_FAKE_RUNNING, 77, 0);
	fx_start(fx, NULL);
	assert_true(fx_until(fx, "sb", PSB_ST_READY));
	// An exit after recovery is handled like any other.
	assert_int_equal(psb_scripted_exit(fx->rt, "sb", 2), 0);
	assert_true(fx_until(fx, "sb", PSB_ST_EXITED));
	assert_int_equal(fx_do(fx, PSB_M_WAIT, "sb")->exit_status, 2);
	assert_int_equal(fx_do(fx, PSB_M_SHUTDOWN, "sb")->code, 0);
	fx_free(fx);
}

#define NBIG 2000

static void
test_recover_many(void **state)
{
	fx_t               *fx  = fx_new("recover-many");
	psb_store_options_t so  = PSB_STORE_OPTIONS_DEFAULT;
	psb_error_t         err = PSB_ERROR_INIT;
	psb_store_t        *s;
	char                id[32];

	assert_int_equal(psb_store_open(fx->db, &so, &s, &err), 0);
	for (int i = 0; i < NBIG; i++) {
		psb_store_row_t row = {0};

		snprintf(id, sizeof(id), "sb-%05d", i);
		row.id          = id;
		row.state       = PSB_ST_READY;
		row.generation  = 1;
		row.exit_status = -1;
		assert_int_equal(psb_store_put(s, &row, &err), 0);
	}
	assert_int_equal(psb_store_commit(s, &err), 0);
	psb_store_close(s);
	fx->loop = ev_loop_new(EVFLAG_AUTO);
	assert_int_equal(
	        psb_runtime_open("scripted", fx->loop, NULL, &fx->rt, &err),
	        0);
	for (int i = 0; i < NBIG; i += 2) {
		snprintf(id, sizeof(id), "sb-%05d", i);
		psb_scripted_set_task(fx->rt, id, 1, PSB_FAKE_RUNNING, 100, 0);
	}
	fx_start(fx, NULL);
	assert_true(psb_test_run_until(fx->loop, fx_is_recovered, fx, 20000));
	assert_int_equal(psb_controller_count(fx->c), NBIG);
	assert_int_equal(fx_state(fx, "sb-00000"), PSB_ST_READY);
	assert_int_equal(fx_state(fx, "sb-00001"), PSB_ST_EXITED);
	assert_int_equal(fx_state(fx, "sb-01998"), PSB_ST_READY);
	assert_int_equal(fx_state(fx, "sb-01999"), PSB_ST_EXITED);
	fx_free(fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_state_against_every_answer),
	        cmocka_unit_test(test_unreachable_then_reachable),
	        cmocka_unit_test(test_hung_probe_has_a_deadline),
	        cmocka_unit_test(test_reads_wait_for_the_first_probe),
	        cmocka_unit_test(test_held_reads_cancel_and_drain),
	        cmocka_unit_test(test_wanted_shutdown_survives),
	        cmocka_unit_test(test_start_without_stored_config),
	        cmocka_unit_test(test_recovered_sandbox_lives_on),
	        cmocka_unit_test(test_recover_many),
	};

	return (psb_test_run_group(tests, NULL, NULL));
}
