//
// podsandboxd - the controller on a real loop with the scripted runtime:
// each behaviour of DESIGN.md §3, persist-before-acknowledge, failed
// commits, draining and cancellation.
//

#include "tests/unit/ctl_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *ID = "sb-1";

static fx_t *
setup(const char *name)
{
	fx_t *fx = fx_new(name);

	fx_start(fx, NULL);
	return (fx);
}

// setup_net: a controller whose runtime makes (fake) pod networks.
static fx_t *
setup_net(const char *name)
{
	fx_t *fx = fx_new(name);

	fx->rt_options = "network=1";
	fx_start(fx, NULL);
	return (fx);
}

// A started pod has its network's IP in Status; Stop tears the network
// down after the exit (NET_DOWN), then answers; the IP is gone.
static void
test_network_stop(void **state)
{
	fx_t      *fx = setup_net("net-stop");
	fx_call_t *st, *stop;

	(void)state;
	fx_do(fx, PSB_M_CREATE, ID);
	assert_int_equal(fx_do(fx, PSB_M_START, ID)->code, 0);
	st = fx_do(fx, PSB_M_STATUS, ID);
	assert_int_equal(st->state, PSB_ST_READY);
	assert_true(strncmp(st->ip, "10.88.", 6) == 0);
	psb_scripted_script(
	        fx->rt, PSB_RTOP_NET_DOWN, ID, PSB_SCRIPT_OK, 50, 1);
	stop = fx_req(fx, PSB_M_STOP, ID);
	// The exit is in, the network not down yet: still STOPPING, held.
	assert_true(fx_until(fx, ID, PSB_ST_STOPPING));
	psb_test_run_for(fx->loop, 20);
	assert_false(stop->done);
	fx_wait(fx, stop);
	assert_int_equal(stop->code, 0);
	assert_int_equal(psb_scripted_calls(fx->rt, PSB_RTOP_NET_DOWN), 1);
	st = fx_do(fx, PSB_M_STATUS, ID);
	assert_int_equal(st->state, PSB_ST_EXITED);
	assert_int_equal(st->exit_status, 137);
	assert_string_equal(st->ip, "");
	// Stopped means stopped: no second teardown.
	assert_int_equal(fx_do(fx, PSB_M_STOP, ID)->code, 0);
	assert_int_equal(psb_scripted_calls(fx->rt, PSB_RTOP_NET_DOWN), 1);
	assert_int_equal(fx_do(fx, PSB_M_SHUTDOWN, ID)->code, 0);
	fx_free(fx);
}

// The pause dies on its own: EXITED keeps the network (and IP) until a
// Stop tears it down; a failed teardown is retried after the backoff.
static void
test_network_exit_then_stop(void **state)
{
	fx_t      *fx = setup_net("net-exit");
	fx_call_t *st, *stop;

	(void)state;
	fx_do(fx, PSB_M_CREATE, ID);
	fx_do(fx, PSB_M_START, ID);
	assert_int_equal(psb_scripted_exit(fx->rt, ID, 2), 0);
	assert_true(fx_until(fx, ID, PSB_ST_EXITED));
	st = fx_do(fx, PSB_M_STATUS, ID);
	assert_int_equal(st->exit_status, 2);
	assert_true(st->ip[0] != '\0');
	assert_int_equal(psb_scripted_calls(fx->rt, PSB_RTOP_NET_DOWN), 0);
	psb_scripted_script(
	        fx->rt, PSB_RTOP_NET_DOWN, ID, PSB_SCRIPT_FAIL, 0, 1);
	stop = fx_wait(fx, fx_req(fx, PSB_M_STOP, ID));
	assert_int_equal(stop->code, 0);
	assert_int_equal(psb_scripted_calls(fx->rt, PSB_RTOP_NET_DOWN), 2);
	st = fx_do(fx, PSB_M_STATUS, ID);
	assert_int_equal(st->state, PSB_ST_EXITED);
	assert_int_equal(st->exit_status, 2); // the exit recorded first
	assert_string_equal(st->ip, "");
	fx_free(fx);
}

// The network's plan is committed before the start goes on; a restart
// keeps a READY pod's IP (recorded in the row).
static void
test_network_restart_keeps_ip(void **state)
{
	fx_t      *fx = setup_net("net-restart");
	fx_call_t *st;
	char       ip[64];

	(void)state;
	fx_do(fx, PSB_M_CREATE, ID);
	psb_scripted_script(fx->rt, PSB_RTOP_START, ID, PSB_SCRIPT_HANG, 0, 1);
	fx_req(fx, PSB_M_START, ID);
	assert_true(fx_until(fx, ID, PSB_ST_STARTING));
	psb_test_run_for(fx->loop, 20);
	// Hung after the record: the plan is the row's already.
	st = fx_do(fx, PSB_M_STATUS, ID);
	assert_int_equal(st->state, PSB_ST_STARTING);
	psb_scripted_release(fx->rt, PSB_SCRIPT_OK);
	assert_true(fx_until(fx, ID, PSB_ST_READY));
	snprintf(ip, sizeof(ip), "%s", fx_do(fx, PSB_M_STATUS, ID)->ip);
	assert_true(ip[0] != '\0');
	fx_stop_controller(fx);
	fx_start(fx, NULL);
	assert_true(psb_test_run_until(fx->loop, fx_is_recovered, fx, 5000));
	st = fx_do(fx, PSB_M_STATUS, ID);
	assert_int_equal(st->state, PSB_ST_READY);
	assert_string_equal(st->ip, ip);
	fx_free(fx);
}

static fx_call_t *
create_cfg(fx_t *fx, const char *id, const char *cfg)
{
	psb_request_t req = {0};

	req.method      = PSB_M_CREATE;
	req.sandbox_id  = id;
	req.config      = cfg;
	req.config_len  = strlen(cfg);
	req.config_json = "{}";
	return (fx_wait(fx, fx_submit(fx, &req)));
}

static void
test_lifecycle(void **state)
{
	fx_t      *fx = setup("lifecycle");
	fx_call_t *c;

	c = fx_do(fx, PSB_M_CREATE, ID);
	assert_int_equal(c->code, 0);
	assert_int_equal(c->state, PSB_ST_CREATED);
	assert_true(c->row_committed); // persisted before the reply
	c = fx_do(fx, PSB_M_START, ID);
	assert_int_equal(c->code, 0);
	assert_int_equal(c->state, PSB_ST_READY);
	assert_true(c->pid > 0);
	assert_int_equal(c->generation, 1);
	c = fx_do(fx, PSB_M_STATUS, ID);
	assert_int_equal(c->state, PSB_ST_READY);
	c = fx_do(fx, PSB_M_STOP, ID);
	assert_int_equal(c->code, 0);
	c = fx_do(fx, PSB_M_STATUS, ID);
	assert_int_equal(c->state, PSB_ST_EXITED);
	assert_int_equal(c->exit_status, 137);
	assert_int_equal(c->pid, 0);
	c = fx_do(fx, PSB_M_WAIT, ID);
	assert_int_equal(c->code, 0);
	assert_int_equal(c->exit_status, 137);
	c = fx_do(fx, PSB_M_SHUTDOWN, ID);
	assert_int_equal(c->code, 0);
	assert_int_equal(fx_state(fx, ID), PSB_ST_NONE);
	assert_false(fx_row_committed(fx, ID));
	assert_int_equal(
	        psb_scripted_task(fx->rt, ID, NULL, NULL), PSB_FAKE_NONE);
	// The board agreed with every reply (fx_check_board) and no longer
	// has the removed sandbox.
	assert_true(fx->board_agreed >= 6);
	assert_int_equal(fx->board_declined, 0);
	assert_false(fx_read(fx, PSB_M_STATUS, ID)->done);
	// Every transition was published once, after its commit, in order.
	assert_int_equal(fx->npubs, 7); // C, STARTING, READY, STOPPING,
	                                // EXITED, DELETING, NONE
	for (int i = 0; i < fx->npubs; i++) {
		assert_true(fx->pub_committed[i]);
		if (i > 0) {
			assert_true(fx->pubs[i].seq > fx->pubs[i - 1].seq);
			assert_int_equal(fx->pubs[i].from, fx->pubs[i - 1].to);
		}
	}
	fx_free(fx);
}

static void
test_create_idempotent(void **state)
{
	fx_t *fx = setup("create-idem");

	assert_int_equal(create_cfg(fx, ID, "one")->code, 0);
	assert_int_equal(create_cfg(fx, ID, "one")->code, 0);
	assert_int_equal(create_cfg(fx, ID, "two")->code, PSB_EEXIST);
	assert_int_equal(fx_count_pubs(fx, ID, PSB_ST_CREATED), 1);
	// Idempotent in every live state, not only CREATED.
	assert_int_equal(fx_do(fx, PSB_M_START, ID)->code, 0);
	assert_int_equal(create_cfg(fx, ID, "one")->code, 0);
	assert_int_equal(create_cfg(fx, ID, "two")->code, PSB_EEXIST);
	assert_int_equal(fx_state(fx, ID), PSB_ST_READY);
	fx_free(fx);
}

static void
test_bad_input(void **state)
{
	fx_t      *fx = setup("bad-input");
	char       longid[100];
	fx_call_t *c;

	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	assert_int_equal(fx_do(fx, PSB_M_CREATE, longid)->code, PSB_EINVAL);
	assert_int_equal(fx_do(fx, PSB_M_CREATE, "a..b")->code, PSB_EINVAL);
	assert_int_equal(fx_do(fx, PSB_M_CREATE, "../x")->code, PSB_EINVAL);
	assert_int_equal(fx_do(fx, PSB_M_CREATE, "")->code, PSB_EINVAL);
	assert_int_equal(fx_do(fx, PSB_M_STATUS, NULL)->code, PSB_EINVAL);
	c = fx_do(fx, PSB_M_START, "missing");
	assert_int_equal(c->code, PSB_ENOENT);
	assert_non_null(strstr(c->msg, "missing"));
	assert_int_equal(fx_do(fx, PSB_M_STOP, "missing")->code, PSB_ENOENT);
	assert_int_equal(fx_do(fx, PSB_M_WAIT, "missing")->code, PSB_ENOENT);
	// Shutdown of a missing id is success.
	assert_int_equal(fx_do(fx, PSB_M_SHUTDOWN, "missing")->code, 0);
	assert_int_equal(psb_controller_count(fx->c), 0);
	fx_free(fx);
}

static void
test_start_only_from_created(void **state)
{
	fx_t      *fx = setup("start-created");
	fx_call_t *c;

	fx_do(fx, PSB_M_CREATE, ID);
	assert_int_equal(fx_do(fx, PSB_M_START, ID)->code, 0);
	c = fx_do(fx, PSB_M_START, ID);
	assert_int_equal(c->code, PSB_ESTATE);
	assert_non_null(strstr(c->msg, "is READY"));
	fx_do(fx, PSB_M_STOP, ID);
	assert_int_equal(fx_do(fx, PSB_M_START, ID)->code, PSB_ESTATE);
	assert_int_equal(psb_scripted_calls(fx->rt, PSB_RTOP_START), 1);
	fx_free(fx);
}

static void
test_failed_start_rolled_back(void **state)
{
	fx_t      *fx = setup("start-rollback");
	fx_call_t *c;

	fx_do(fx, PSB_M_CREATE, ID);
	psb_scripted_script(fx->rt, PSB_RTOP_START, ID, PSB_SCRIPT_FAIL, 0, 1);
	c = fx_do(fx, PSB_M_START, ID);
	assert_int_equal(c->code, PSB_ERUNTIME);
	assert_non_null(strstr(c->msg, "scripted"));
	assert_int_equal(fx_state(fx, ID), PSB_ST_CREATED);
	// A new start generation succeeds.
	c = fx_do(fx, PSB_M_START, ID);
	assert_int_equal(c->code, 0);
	assert_int_equal(c->generation, 2);
	fx_free(fx);
}

static void
test_failed_rollback_unknown(void **state)
{
	fx_t      *fx = setup("start-dirty");
	fx_call_t *c;

	fx_do(fx, PSB_M_CREATE, ID);
	psb_scripted_script(
	        fx->rt, PSB_RTOP_START, ID, PSB_SCRIPT_FAIL_DIRTY, 0, 1);
	c = fx_do(fx, PSB_M_START, ID);
	assert_int_equal(c->code, PSB_ERUNTIME);
	c = fx_do(fx, PSB_M_STATUS, ID);
	assert_int_equal(c->state, PSB_ST_UNKNOWN);
	// UNKNOWN accepts only Stop and Shutdown.
	assert_int_equal(fx_do(fx, PSB_M_START, ID)->code, PSB_ESTATE);
	c = fx_do(fx, PSB_M_STOP, ID);
	assert_int_equal(c->code, 0);
	c = fx_do(fx, PSB_M_STATUS, ID);
	assert_int_equal(c->state, PSB_ST_EXITED);
	assert_int_equal(c->exit_status, PSB_EXIT_UNKNOWN);
	assert_int_equal(fx_do(fx, PSB_M_SHUTDOWN, ID)->code, 0);
	assert_int_equal(fx_state(fx, ID), PSB_ST_NONE);
	fx_free(fx);
}

static void
test_unknown_shutdown_cleans_up(void **state)
{
	fx_t *fx = setup("unknown-shutdown");

	fx_do(fx, PSB_M_CREATE, ID);
	psb_scripted_script(
	        fx->rt, PSB_RTOP_START, ID, PSB_SCRIPT_FAIL_DIRTY, 0, 1);
	fx_do(fx, PSB_M_START, ID);
	assert_int_equal(fx_do(fx, PSB_M_SHUTDOWN, ID)->code, 0);
	assert_int_equal(fx_state(fx, ID), PSB_ST_NONE);
	assert_int_equal(psb_scripted_calls(fx->rt, PSB_RTOP_DELETE), 1);
	fx_free(fx);
}

static void
test_exit_during_start(void **state)
{
	fx_t      *fx = setup("exit-start");
	fx_call_t *start;
	fx_call_t *c;

	fx_do(fx, PSB_M_CREATE, ID);
	psb_scripted_script(fx->rt, PSB_RTOP_START, ID, PSB_SCRIPT_HANG, 0, 1);
	start = fx_req(fx, PSB_M_START, ID);
	assert_true(fx_until(fx, ID, PSB_ST_STARTING));
	// The task appears and dies before the start completes.
	psb_scripted_set_task(fx->rt, ID, 1, PSB_FAKE_RUNNING, 777, 0);
	assert_int_equal(psb_scripted_exit(fx->rt, ID, 3), 0);
	fx_wait(fx, start);
	assert_int_equal(start->code, PSB_ERUNTIME);
	assert_non_null(strstr(start->msg, "exited during start"));
	// A late START_OK of the same generation changes nothing.
	assert_int_equal(psb_scripted_release(fx->rt, PSB_SCRIPT_OK), 1);
	psb_test_run_for(fx->loop, 50);
	c = fx_do(fx, PSB_M_STATUS, ID);
	assert_int_equal(c->state, PSB_ST_EXITED);
	assert_int_equal(c->exit_status, 3);
	assert_int_equal(fx_count_pubs(fx, ID, PSB_ST_EXITED), 1);
	fx_free(fx);
}

static void
test_stop_during_start(void **state)
{
	fx_t      *fx = setup("stop-start");
	fx_call_t *start;
	fx_call_t *stop;

	fx_do(fx, PSB_M_CREATE, ID);
	psb_scripted_script(fx->rt, PSB_RTOP_START, ID, PSB_SCRIPT_HANG, 0, 1);
	start = fx_req(fx, PSB_M_START, ID);
	assert_true(fx_until(fx, ID, PSB_ST_STARTING));
	stop = fx_req(fx, PSB_M_STOP, ID);
	psb_test_run_for(fx->loop, 20);
	assert_false(stop->done); // held until start settles
	assert_int_equal(fx_state(fx, ID), PSB_ST_STARTING);
	psb_scripted_release(fx->rt, PSB_SCRIPT_OK);
	fx_wait(fx, stop);
	assert_true(start->done);
	assert_int_equal(start->code, 0);
	assert_int_equal(stop->code, 0);
	assert_int_equal(fx_state(fx, ID), PSB_ST_EXITED);
	assert_int_equal(
	        psb_scripted_task(fx->rt, ID, NULL, NULL), PSB_FAKE_EXITED);
	fx_free(fx);
}

static void
test_shutdown_during_start(void **state)
{
	fx_t      *fx = setup("shutdown-start");
	fx_call_t *start;
	fx_call_t *sd;

	fx_do(fx, PSB_M_CREATE, ID);
	psb_scripted_script(fx->rt, PSB_RTOP_START, ID, PSB_SCRIPT_OK, 100, 1);
	start = fx_req(fx, PSB_M_START, ID);
	sd    = fx_req(fx, PSB_M_SHUTDOWN, ID);
	fx_wait(fx, sd);
	assert_int_equal(start->code, 0);
	assert_int_equal(sd->code, 0);
	assert_int_equal(fx_state(fx, ID), PSB_ST_NONE);
	assert_int_equal(
	        psb_scripted_task(fx->rt, ID, NULL, NULL), PSB_FAKE_NONE);
	fx_free(fx);
}

static void
test_start_deadline(void **state)
{
	fx_t      *fx = fx_new("start-deadline");
	fx_call_t *c;

	fx->opts.start_timeout_ms = 100;
	fx_start(fx, NULL);
	fx_do(fx, PSB_M_CREATE, ID);
	psb_scripted_script(fx->rt, PSB_RTOP_START, ID, PSB_SCRIPT_HANG, 0, 1);
	c = fx_do(fx, PSB_M_START, ID);
	assert_int_equal(c->code, PSB_ETIMEDOUT);
	assert_int_equal(fx_state(fx, ID), PSB_ST_UNKNOWN);
	// The start finally finishes: observation wins, READY.
	psb_scripted_release(fx->rt, PSB_SCRIPT_OK);
	assert_true(fx_until(fx, ID, PSB_ST_READY));
	fx_free(fx);
}

static void
test_stop_idempotent(void **state)
{
	fx_t *fx = setup("stop-idem");

	fx_do(fx, PSB_M_CREATE, ID);
	assert_int_equal(fx_do(fx, PSB_M_STOP, ID)->code, 0); // CREATED
	fx_do(fx, PSB_M_START, ID);
	assert_int_equal(fx_do(fx, PSB_M_STOP, ID)->code, 0);
	assert_int_equal(fx_do(fx, PSB_M_STOP, ID)->code, 0); // EXITED
	assert_int_equal(fx_do(fx, PSB_M_STOP, ID)->code, 0);
	assert_int_equal(psb_scripted_calls(fx->rt, PSB_RTOP_KILL), 1);
	fx_free(fx);
}

static void
test_concurrent_stops_join(void **state)
{
	fx_t      *fx = setup("stops-join");
	fx_call_t *s[5];

	fx_do(fx, PSB_M_CREATE, ID);
	fx_do(fx, PSB_M_START, ID);
	psb_scripted_script(fx->rt, PSB_RTOP_KILL, ID, PSB_SCRIPT_OK, 50, 1);
	for (int i = 0; i < 5; i++) {
		s[i] = fx_req(fx, PSB_M_STOP, ID);
	}
	for (int i = 0; i < 5; i++) {
		assert_int_equal(fx_wait(fx, s[i])->code, 0);
	}
	assert_int_equal(psb_scripted_calls(fx->rt, PSB_RTOP_KILL), 1);
	fx_free(fx);
}

static void
test_stop_escalates_then_unknown(void **state)
{
	fx_t      *fx = fx_new("stop-escalate");
	fx_call_t *c;

	fx->opts.stop_timeout_ms = 50;
	fx->opts.backoff_ms      = 10;
	fx->opts.retry_max       = 3;
	fx_start(fx, NULL);
	fx_do(fx, PSB_M_CREATE, ID);
	fx_do(fx, PSB_M_START, ID);
	psb_scripted_script(fx->rt, PSB_RTOP_KILL, ID, PSB_SCRIPT_FAIL, 0, -1);
	c = fx_do(fx, PSB_M_STOP, ID);
	assert_int_equal(c->code, PSB_ETIMEDOUT);
	assert_non_null(strstr(c->msg, "gave up"));
	// First kill + one per retry.
	assert_int_equal(psb_scripted_calls(fx->rt, PSB_RTOP_KILL), 4);
	assert_int_equal(fx_state(fx, ID), PSB_ST_UNKNOWN);
	// Stop again once the runtime behaves: it escalates from UNKNOWN.
	psb_scripted_clear(fx->rt);
	assert_int_equal(fx_do(fx, PSB_M_STOP, ID)->code, 0);
	assert_int_equal(fx_state(fx, ID), PSB_ST_EXITED);
	fx_free(fx);
}

// A Stop that ran out of retries while the runtime was away is answered
// DEADLINE_EXCEEDED, but stays wanted: the UNKNOWN sandbox is asked about
// again, and once the runtime answers (its task still running) the stop
// is carried out, with no second request.
static void
test_unknown_is_probed_again(void **state)
{
	fx_t      *fx = fx_new("unknown-reprobe");
	fx_call_t *c;
	uint32_t   pid;

	fx->opts.stop_timeout_ms = 50;
	fx->opts.backoff_ms      = 10;
	fx->opts.retry_max       = 1;
	fx->opts.reprobe_ms      = 20;
	fx_start(fx, NULL);
	fx_do(fx, PSB_M_CREATE, ID);
	pid = fx_do(fx, PSB_M_START, ID)->pid;
	psb_scripted_script(fx->rt, PSB_RTOP_KILL, ID, PSB_SCRIPT_FAIL, 0, -1);
	psb_scripted_script(
	        fx->rt, PSB_RTOP_PROBE, ID, PSB_SCRIPT_UNREACHABLE, 0, -1);
	assert_int_equal(fx_do(fx, PSB_M_STOP, ID)->code, PSB_ETIMEDOUT);
	assert_int_equal(fx_state(fx, ID), PSB_ST_UNKNOWN);
	psb_test_run_for(fx->loop, 100); // asked, still unreachable
	assert_int_equal(fx_state(fx, ID), PSB_ST_UNKNOWN);
	assert_true(psb_scripted_calls(fx->rt, PSB_RTOP_PROBE) >= 2);
	psb_scripted_clear(fx->rt);
	assert_true(fx_until(fx, ID, PSB_ST_EXITED));
	c = fx_do(fx, PSB_M_WAIT, ID);
	assert_int_equal(c->exit_status, 137);
	assert_int_equal(
	        psb_scripted_task(fx->rt, ID, NULL, NULL), PSB_FAKE_EXITED);
	(void)pid;
	// Known again: no more probes.
	{
		uint64_t n = psb_scripted_calls(fx->rt, PSB_RTOP_PROBE);

		psb_test_run_for(fx->loop, 100);
		assert_int_equal(
		        psb_scripted_calls(fx->rt, PSB_RTOP_PROBE), n);
	}
	fx_free(fx);
}

static void
test_kill_retry_succeeds(void **state)
{
	fx_t *fx = fx_new("kill-retry");

	fx->opts.backoff_ms = 10;
	fx_start(fx, NULL);
	fx_do(fx, PSB_M_CREATE, ID);
	fx_do(fx, PSB_M_START, ID);
	psb_scripted_script(fx->rt, PSB_RTOP_KILL, ID, PSB_SCRIPT_FAIL, 0, 2);
	assert_int_equal(fx_do(fx, PSB_M_STOP, ID)->code, 0);
	assert_int_equal(psb_scripted_calls(fx->rt, PSB_RTOP_KILL), 3);
	assert_int_equal(fx_state(fx, ID), PSB_ST_EXITED);
	fx_free(fx);
}

static void
test_shutdown_idempotent_and_stops_first(void **state)
{
	fx_t      *fx = setup("shutdown");
	fx_call_t *a;
	fx_call_t *b;

	fx_do(fx, PSB_M_CREATE, ID);
	fx_do(fx, PSB_M_START, ID);
	a = fx_req(fx, PSB_M_SHUTDOWN, ID);
	b = fx_req(fx, PSB_M_SHUTDOWN, ID);
	fx_wait(fx, a);
	fx_wait(fx, b);
	assert_int_equal(a->code, 0);
	assert_int_equal(b->code, 0);
	// It went through STOPPING and EXITED before DELETING.
	assert_int_equal(fx_count_pubs(fx, ID, PSB_ST_STOPPING), 1);
	assert_int_equal(fx_count_pubs(fx, ID, PSB_ST_EXITED), 0);
	assert_int_equal(fx_count_pubs(fx, ID, PSB_ST_DELETING), 1);
	assert_int_equal(fx_count_pubs(fx, ID, PSB_ST_NONE), 1);
	assert_int_equal(psb_scripted_calls(fx->rt, PSB_RTOP_KILL), 1);
	assert_int_equal(fx_do(fx, PSB_M_SHUTDOWN, ID)->code, 0);
	fx_free(fx);
}

static void
test_shutdown_retries_delete(void **state)
{
	fx_t      *fx = fx_new("shutdown-retry");
	fx_call_t *c;

	fx->opts.backoff_ms        = 10;
	fx->opts.delete_timeout_ms = 100;
	fx->opts.retry_max         = 2;
	fx_start(fx, NULL);
	fx_do(fx, PSB_M_CREATE, ID);
	psb_scripted_script(
	        fx->rt, PSB_RTOP_DELETE, ID, PSB_SCRIPT_FAIL, 0, 1);
	assert_int_equal(fx_do(fx, PSB_M_SHUTDOWN, ID)->code, 0);
	assert_int_equal(psb_scripted_calls(fx->rt, PSB_RTOP_DELETE), 2);
	// A delete that keeps failing ends UNKNOWN with an error.
	fx_do(fx, PSB_M_CREATE, ID);
	psb_scripted_script(
	        fx->rt, PSB_RTOP_DELETE, ID, PSB_SCRIPT_FAIL, 0, -1);
	c = fx_do(fx, PSB_M_SHUTDOWN, ID);
	assert_int_equal(c->code, PSB_ETIMEDOUT);
	assert_int_equal(fx_state(fx, ID), PSB_ST_UNKNOWN);
	psb_scripted_clear(fx->rt);
	assert_int_equal(fx_do(fx, PSB_M_SHUTDOWN, ID)->code, 0);
	assert_int_equal(fx_state(fx, ID), PSB_ST_NONE);
	fx_free(fx);
}

#define NWAITERS 500

static void
test_many_waiters(void **state)
{
	fx_t      *fx = setup("waiters");
	fx_call_t *w[NWAITERS];
	fx_call_t *late;
	fx_call_t *c;

	fx_do(fx, PSB_M_CREATE, ID);
	fx_do(fx, PSB_M_START, ID);
	for (int i = 0; i < NWAITERS; i++) {
		w[i] = fx_req(fx, PSB_M_WAIT, ID);
	}
	psb_test_run_for(fx->loop, 20);
	// Held Waits do not block other requests.
	c = fx_do(fx, PSB_M_STATUS, ID);
	assert_int_equal(c->state, PSB_ST_READY);
	for (int i = 0; i < NWAITERS; i++) {
		assert_false(w[i]->done);
	}
	assert_int_equal(psb_scripted_exit(fx->rt, ID, 42), 0);
	fx_wait(fx, w[NWAITERS - 1]);
	for (int i = 0; i < NWAITERS; i++) {
		assert_true(w[i]->done);
		assert_int_equal(w[i]->code, 0);
		assert_int_equal(w[i]->exit_status, 42);
	}
	late = fx_do(fx, PSB_M_WAIT, ID);
	assert_int_equal(late->exit_status, 42);
	assert_int_equal(fx_count_pubs(fx, ID, PSB_ST_EXITED), 1);
	fx_free(fx);
}

static void
test_wait_timeout_and_cancel(void **state)
{
	fx_t         *fx  = setup("wait-timeout");
	psb_request_t req = {0};
	fx_call_t    *t;
	fx_call_t    *k;
	uint64_t      token;

	fx_do(fx, PSB_M_CREATE, ID);
	req.method     = PSB_M_WAIT;
	req.sandbox_id = ID;
	req.timeout_ms = 50;
	t              = fx_submit(fx, &req);
	fx_wait(fx, t);
	assert_int_equal(t->code, PSB_ETIMEDOUT);
	req.timeout_ms = 0;
	k              = &fx->calls[fx->ncalls++];
	memset(k, 0, sizeof(*k));
	k->fx = fx;
	token = psb_controller_submit(fx->c, &req, fx_reply_cb, k);
	psb_test_run_for(fx->loop, 10);
	assert_false(k->done);
	psb_controller_cancel(fx->c, token);
	assert_true(k->done);
	assert_int_equal(k->code, PSB_ECANCELED);
	psb_controller_cancel(fx->c, token); // answered: no-op
	psb_controller_cancel(fx->c, 12345);
	fx_free(fx);
}

static void
test_wait_survives_restart(void **state)
{
	fx_t      *fx = setup("wait-restart");
	fx_call_t *c;
	char       db[600];

	fx_do(fx, PSB_M_CREATE, ID);
	fx_do(fx, PSB_M_START, ID);
	psb_scripted_exit(fx->rt, ID, 9);
	assert_true(fx_until(fx, ID, PSB_ST_EXITED));
	snprintf(db, sizeof(db), "%s", fx->db);
	fx_stop_controller(fx);
	fx_start(fx, db);
	assert_true(psb_test_run_until(fx->loop, fx_is_recovered, fx, 5000));
	c = fx_do(fx, PSB_M_WAIT, ID);
	assert_int_equal(c->code, 0);
	assert_int_equal(c->exit_status, 9);
	fx_free(fx);
}

static void
test_waiter_held_across_restart_gets_exit(void **state)
{
	fx_t      *fx = setup("wait-restart-held");
	fx_call_t *w;

	fx_do(fx, PSB_M_CREATE, ID);
	fx_do(fx, PSB_M_START, ID);
	w = fx_req(fx, PSB_M_WAIT, ID);
	psb_test_run_for(fx->loop, 10);
	fx_stop_controller(fx);
	// The client's Wait ends with the old daemon...
	assert_true(w->done);
	assert_int_equal(w->code, PSB_ECANCELED);
	// ...the pause dies while the daemon is down, and a new Wait after
	// the restart gets the exit that recovery found.
	psb_scripted_set_task(fx->rt, ID, 1, PSB_FAKE_EXITED, 0, 5);
	fx_start(fx, NULL);
	w = fx_do(fx, PSB_M_WAIT, ID);
	assert_int_equal(w->code, 0);
	assert_int_equal(w->exit_status, 5);
	fx_free(fx);
}

static void
test_stale_and_duplicate_events_ignored(void **state)
{
	fx_t          *fx = setup("stale");
	psb_rt_event_t ev = {0};

	fx_do(fx, PSB_M_CREATE, ID);
	fx_do(fx, PSB_M_START, ID);
	ev.event       = PSB_EV_TASK_EXIT;
	ev.sandbox_id  = ID;
	ev.generation  = 0; // an older generation
	ev.exit_status = 1;
	psb_runtime_emit(fx->rt, &ev);
	psb_test_run_for(fx->loop, 10);
	assert_int_equal(fx_state(fx, ID), PSB_ST_READY);
	ev.generation = 1;
	psb_runtime_emit(fx->rt, &ev);
	ev.exit_status = 2;
	psb_runtime_emit(fx->rt, &ev); // duplicate
	psb_test_run_for(fx->loop, 10);
	assert_int_equal(fx_do(fx, PSB_M_STATUS, ID)->exit_status, 1);
	assert_int_equal(fx_count_pubs(fx, ID, PSB_ST_EXITED), 1);
	// Events for ids that do not exist change nothing.
	ev.sandbox_id = "nobody";
	psb_runtime_emit(fx->rt, &ev);
	psb_test_run_for(fx->loop, 10);
	assert_int_equal(psb_controller_count(fx->c), 1);
	fx_free(fx);
}

static void
test_failed_commit_changes_nothing(void **state)
{
	fx_t      *fx = setup("commit-fail");
	fx_call_t *c;

	psb_store_fail_commits(fx->store, 1);
	c = fx_do(fx, PSB_M_CREATE, ID);
	assert_int_equal(c->code, PSB_EUNAVAIL);
	assert_int_equal(fx_state(fx, ID), PSB_ST_NONE);
	assert_int_equal(fx->npubs, 0);
	assert_int_equal(psb_controller_commit_failures(fx->c), 1);
	assert_int_equal(fx_do(fx, PSB_M_CREATE, ID)->code, 0);
	assert_int_equal(fx_do(fx, PSB_M_START, ID)->code, 0);
	// A start whose commit fails is not started at all.
	fx_do(fx, PSB_M_CREATE, "sb-2");
	psb_store_fail_commits(fx->store, 1);
	c = fx_do(fx, PSB_M_START, "sb-2");
	assert_int_equal(c->code, PSB_EUNAVAIL);
	assert_int_equal(fx_state(fx, "sb-2"), PSB_ST_CREATED);
	assert_int_equal(psb_scripted_calls(fx->rt, PSB_RTOP_START), 1);
	// An exit whose commit fails is not lost: it is retried.
	psb_store_fail_commits(fx->store, 2);
	psb_scripted_exit(fx->rt, ID, 7);
	assert_true(fx_until(fx, ID, PSB_ST_EXITED));
	assert_int_equal(fx_do(fx, PSB_M_STATUS, ID)->exit_status, 7);
	assert_true(psb_controller_commit_failures(fx->c) >= 3);
	// A removal whose commit fails keeps the sandbox.
	fx_do(fx, PSB_M_CREATE, "sb-3");
	psb_store_fail_commits(fx->store, 1);
	psb_scripted_script(
	        fx->rt, PSB_RTOP_DELETE, "sb-3", PSB_SCRIPT_OK, 0, -1);
	fx_do(fx, PSB_M_SHUTDOWN, "sb-3"); // CREATED -> DELETING fails
	assert_int_equal(fx_state(fx, "sb-3"), PSB_ST_CREATED);
	assert_int_equal(fx_do(fx, PSB_M_SHUTDOWN, "sb-3")->code, 0);
	assert_int_equal(fx_state(fx, "sb-3"), PSB_ST_NONE);
	for (int i = 0; i < fx->npubs; i++) {
		assert_true(fx->pub_committed[i]);
	}
	fx_free(fx);
}

static void
test_drain(void **state)
{
	fx_t      *fx = setup("drain");
	fx_call_t *w;
	fx_call_t *late;

	fx_do(fx, PSB_M_CREATE, ID);
	fx_do(fx, PSB_M_START, ID);
	w = fx_req(fx, PSB_M_WAIT, ID);
	psb_test_run_for(fx->loop, 10);
	psb_controller_drain(fx->c);
	assert_true(w->done);
	assert_int_equal(w->code, PSB_EUNAVAIL);
	late = fx_do(fx, PSB_M_STATUS, ID);
	assert_int_equal(late->code, PSB_EUNAVAIL);
	fx_free(fx);
}

static void
test_list_and_platform(void **state)
{
	fx_t         *fx  = setup("list");
	psb_request_t req = {0};
	fx_call_t    *c;

	fx_do(fx, PSB_M_CREATE, "a");
	fx_do(fx, PSB_M_CREATE, "b");
	fx_do(fx, PSB_M_START, "b");
	c = fx_do(fx, PSB_M_LIST, NULL);
	assert_int_equal(c->code, 0);
	assert_int_equal(c->list_len, 2);
	req.method       = PSB_M_LIST;
	req.state_filter = "READY";
	c                = fx_wait(fx, fx_submit(fx, &req));
	assert_int_equal(c->list_len, 1);
	req.state_filter = "BOGUS";
	c                = fx_wait(fx, fx_submit(fx, &req));
	assert_int_equal(c->code, PSB_EINVAL);
	c = fx_do(fx, PSB_M_PLATFORM, NULL);
	assert_int_equal(c->code, 0);
	req.method     = PSB_M_STATUS;
	req.sandbox_id = "b";
	req.verbose    = true;
	c              = fx_wait(fx, fx_submit(fx, &req));
	assert_non_null(strstr(c->info, "\"processStatus\":\"running\""));
	assert_non_null(strstr(c->info, "\"sandboxMetadata\""));
	fx_free(fx);
}

// Every published event is the event the journal replays for its seq:
// a subscriber that fills a gap from Events must see the same values.
// Also after the exit, whose status belongs to its own transition only.
static void
test_published_equals_replayed(void **state)
{
	fx_t         *fx  = setup("pub-replay");
	psb_request_t req = {0};
	fx_call_t    *c;

	fx_do(fx, PSB_M_CREATE, ID);
	fx_do(fx, PSB_M_START, ID);
	fx_do(fx, PSB_M_STOP, ID);
	fx_do(fx, PSB_M_SHUTDOWN, ID);
	fx_do(fx, PSB_M_CREATE, "never-started");
	fx_do(fx, PSB_M_SHUTDOWN, "never-started");
	req.method = PSB_M_EVENTS;
	c          = fx_wait(fx, fx_submit(fx, &req));
	assert_int_equal(c->code, 0);
	assert_int_equal(fx->npubs, 10);
	assert_int_equal(c->events_len, (size_t)fx->npubs);
	for (int i = 0; i < fx->npubs; i++) {
		assert_int_equal(fx->pubs[i].seq, c->ev_seq[i]);
		assert_int_equal(fx->pubs[i].to, c->ev_to[i]);
		assert_int_equal(fx->pubs[i].generation, c->ev_gen[i]);
		assert_int_equal(fx->pubs[i].exit_status, c->ev_exit[i]);
		// Only the transitions that record an exit carry one.
		assert_int_equal(fx->pubs[i].exit_status,
		        fx->pubs[i].to == PSB_ST_EXITED ? 137 : -1);
	}
	fx_free(fx);
}

static void
test_events_history_version(void **state)
{
	fx_t         *fx  = setup("events");
	psb_request_t req = {0};
	fx_call_t    *c;

	fx_do(fx, PSB_M_CREATE, ID);
	fx_do(fx, PSB_M_START, ID);
	fx_do(fx, PSB_M_STOP, ID);
	fx_do(fx, PSB_M_CREATE, "other");
	req.method = PSB_M_EVENTS;
	c          = fx_wait(fx, fx_submit(fx, &req));
	assert_int_equal(c->code, 0);
	assert_int_equal(c->events_len, 6);
	assert_false(c->truncated);
	assert_false(c->more);
	assert_int_equal(c->newest_seq, 6);
	for (size_t i = 1; i < c->events_len; i++) {
		assert_true(c->ev_seq[i] > c->ev_seq[i - 1]);
	}
	assert_int_equal(c->ev_to[4], PSB_ST_EXITED);
	assert_int_equal(c->ev_exit[4], 137);
	assert_int_equal(c->ev_gen[4], 1);
	// They are exactly what was published.
	for (int i = 0; i < fx->npubs; i++) {
		assert_int_equal(fx->pubs[i].seq, c->ev_seq[i]);
		assert_int_equal(fx->pubs[i].to, c->ev_to[i]);
	}
	// Paging.
	req.since = 2;
	req.limit = 2;
	c         = fx_wait(fx, fx_submit(fx, &req));
	assert_int_equal(c->events_len, 2);
	assert_int_equal(c->ev_seq[0], 3);
	assert_true(c->more);
	// History of one sandbox.
	c = fx_do(fx, PSB_M_HISTORY, ID);
	assert_int_equal(c->code, 0);
	assert_int_equal(c->events_len, 5);
	assert_int_equal(c->ev_to[0], PSB_ST_CREATED);
	assert_int_equal(c->ev_to[4], PSB_ST_EXITED);
	assert_int_equal(fx_do(fx, PSB_M_HISTORY, "nobody")->code, PSB_ENOENT);
	// History outlives the sandbox.
	fx_do(fx, PSB_M_SHUTDOWN, ID);
	c = fx_do(fx, PSB_M_HISTORY, ID);
	assert_int_equal(c->events_len, 7);
	assert_int_equal(c->ev_to[6], PSB_ST_NONE);
	c = fx_do(fx, PSB_M_VERSION, NULL);
	assert_int_equal(c->code, 0);
	assert_string_equal(c->version.runtime, "scripted");
	assert_true(c->version.runtime_is_test_double);
	assert_int_equal(c->version.sandboxes, 1);
	assert_int_equal(c->version.newest_seq, 8);
	fx_free(fx);
}

static void
test_events_after_retention(void **state)
{
	fx_t         *fx  = fx_new("events-retention");
	psb_request_t req = {0};
	fx_call_t    *c;
	char          id[16];

	fx->journal_keep = 4;
	fx_start(fx, NULL);
	for (int i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "sb-%d", i);
		fx_do(fx, PSB_M_CREATE, id);
	}
	req.method = PSB_M_EVENTS;
	c          = fx_wait(fx, fx_submit(fx, &req));
	assert_int_equal(c->code, 0);
	assert_true(c->truncated); // the caller missed pruned entries
	assert_true(c->oldest_seq > 1);
	assert_int_equal(c->newest_seq, 40);
	assert_int_equal(c->ev_seq[0], c->oldest_seq);
	req.since = c->newest_seq - 1;
	c         = fx_wait(fx, fx_submit(fx, &req));
	assert_false(c->truncated);
	assert_int_equal(c->events_len, 1);
	fx_free(fx);
}

static void
test_list_label_selector(void **state)
{
	fx_t         *fx  = setup("list-selector");
	psb_request_t req = {0};

	fx_do(fx, PSB_M_CREATE, "a"); // labels {"app":"test"}
	req.method      = PSB_M_CREATE;
	req.sandbox_id  = "b";
	req.config      = "cfg-B";
	req.config_len  = 5;
	req.config_json = "{}";
	req.labels      = "{\"app\":\"web\",\"tier\":\"front\"}";
	fx_wait(fx, fx_submit(fx, &req));
	memset(&req, 0, sizeof(req));
	req.method         = PSB_M_LIST;
	req.label_selector = "{\"app\":\"test\"}";
	assert_int_equal(fx_wait(fx, fx_submit(fx, &req))->list_len, 1);
	req.label_selector = "{\"app\":\"web\",\"tier\":\"front\"}";
	assert_int_equal(fx_wait(fx, fx_submit(fx, &req))->list_len, 1);
	req.label_selector = "{\"app\":\"web\",\"tier\":\"back\"}";
	assert_int_equal(fx_wait(fx, fx_submit(fx, &req))->list_len, 0);
	req.label_selector = "{}";
	assert_int_equal(fx_wait(fx, fx_submit(fx, &req))->list_len, 2);
	req.label_selector = "[1]";
	assert_int_equal(fx_wait(fx, fx_submit(fx, &req))->code, PSB_EINVAL);
	fx_free(fx);
}

static void
test_waiter_of_removed_sandbox(void **state)
{
	fx_t      *fx = setup("wait-removed");
	fx_call_t *w;

	fx_do(fx, PSB_M_CREATE, ID); // never started: no exit on record
	w = fx_req(fx, PSB_M_WAIT, ID);
	psb_test_run_for(fx->loop, 10);
	assert_false(w->done);
	assert_int_equal(fx_do(fx, PSB_M_SHUTDOWN, ID)->code, 0);
	fx_wait(fx, w);
	assert_int_equal(w->code, 0);
	assert_int_equal(w->exit_status, PSB_EXIT_UNKNOWN);
	fx_free(fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_lifecycle),
	        cmocka_unit_test(test_create_idempotent),
	        cmocka_unit_test(test_bad_input),
	        cmocka_unit_test(test_start_only_from_created),
	        cmocka_unit_test(test_failed_start_rolled_back),
	        cmocka_unit_test(test_failed_rollback_unknown),
	        cmocka_unit_test(test_unknown_shutdown_cleans_up),
	        cmocka_unit_test(test_exit_during_start),
	        cmocka_unit_test(test_stop_during_start),
	        cmocka_unit_test(test_shutdown_during_start),
	        cmocka_unit_test(test_start_deadline),
	        cmocka_unit_test(test_stop_idempotent),
	        cmocka_unit_test(test_network_stop),
	        cmocka_unit_test(test_network_exit_then_stop),
	        cmocka_unit_test(test_network_restart_keeps_ip),
	        cmocka_unit_test(test_concurrent_stops_join),
	        cmocka_unit_test(test_stop_escalates_then_unknown),
	        cmocka_unit_test(test_unknown_is_probed_again),
	        cmocka_unit_test(test_kill_retry_succeeds),
	        cmocka_unit_test(test_shutdown_idempotent_and_stops_first),
	        cmocka_unit_test(test_shutdown_retries_delete),
	        cmocka_unit_test(test_many_waiters),
	        cmocka_unit_test(test_wait_timeout_and_cancel),
	        cmocka_unit_test(test_wait_survives_restart),
	        cmocka_unit_test(test_waiter_held_across_restart_gets_exit),
	        cmocka_unit_test(test_stale_and_duplicate_events_ignored),
	        cmocka_unit_test(test_failed_commit_changes_nothing),
	        cmocka_unit_test(test_drain),
	        cmocka_unit_test(test_list_and_platform),
	        cmocka_unit_test(test_events_history_version),
	        cmocka_unit_test(test_published_equals_replayed),
	        cmocka_unit_test(test_events_after_retention),
	        cmocka_unit_test(test_list_label_selector),
	        cmocka_unit_test(test_waiter_of_removed_sandbox),
	};

	return (psb_test_run_group(tests, NULL, NULL));
}
