//
// podsandboxd - one test per "Required behaviour" bullet of DESIGN.md §3,
// checked on the table through psb_fsm_step: single cells, and short event
// histories through sim_t (a bullet such as "duplicate exits are ignored"
// is about histories, not single cells). The table-wide checks and the
// independent expectation are in fsm_test.c.
//

#include "tests/unit/fsm_check.h"

// ---------------------------------------------------------------------
// DESIGN.md §3: Create.
// ---------------------------------------------------------------------

// Only CREATE on a missing id inserts a row.
static void
test_create_inserts_once(void **state)
{
	(void)state;
	check_move(ST(NONE), EV(CREATE), 0, ST(CREATED), A(INSERT) | A(REPLY));
	for (int s = 0; s < PSB_STATE_COUNT; s++) {
		for (int e = 0; e < PSB_EVENT_COUNT; e++) {
			for (uint32_t g = 0; g < GUARD_COMBOS; g++) {
				psb_fsm_result_t r = step(s, e, g);

				if ((r.rule.actions & A(INSERT)) != 0) {
					assert_int_equal(s, ST(NONE));
					assert_int_equal(e, EV(CREATE));
				}
			}
		}
	}
}

// Same id and config: success, the existing sandbox, nothing changes.
static void
test_create_idempotent(void **state)
{
	(void)state;
	for (int s = ST(CREATED); s < PSB_STATE_COUNT; s++) {
		if (s == ST(DELETING)) {
			continue;
		}
		check_move(s, EV(CREATE), G(SAME_CONFIG), s, A(REPLY));
	}
}

static void
test_create_different_config_exists(void **state)
{
	(void)state;
	for (int s = ST(CREATED); s < PSB_STATE_COUNT; s++) {
		if (s == ST(DELETING)) {
			continue;
		}
		check_reject(s, EV(CREATE), 0, PSB_EEXIST);
	}
}

// A sandbox being deleted cannot be handed out as the result of a Create:
// the client is told to retry (FAILED_PRECONDITION).
static void
test_create_while_deleting_rejected(void **state)
{
	(void)state;
	check_reject(ST(DELETING), EV(CREATE), 0, PSB_ESTATE);
	check_reject(ST(DELETING), EV(CREATE), G(SAME_CONFIG), PSB_ESTATE);
}

// ---------------------------------------------------------------------
// DESIGN.md §3: Start.
// ---------------------------------------------------------------------

// RT_START and NEW_GENERATION come only from START in CREATED; every
// other state either joins the start in flight or is FAILED_PRECONDITION.
static void
test_start_only_from_created(void **state)
{
	(void)state;
	check_move(ST(CREATED), EV(START), 0, ST(STARTING),
	        A(NEW_GENERATION) | A(RT_START) | A(PARK));
	check_reject(ST(NONE), EV(START), 0, PSB_ENOENT);
	check_reject(ST(READY), EV(START), 0, PSB_ESTATE);
	check_reject(ST(STOPPING), EV(START), 0, PSB_ESTATE);
	check_reject(ST(EXITED), EV(START), 0, PSB_ESTATE);
	check_reject(ST(UNKNOWN), EV(START), 0, PSB_ESTATE);
	check_reject(ST(DELETING), EV(START), 0, PSB_ESTATE);
	for (int s = 0; s < PSB_STATE_COUNT; s++) {
		for (int e = 0; e < PSB_EVENT_COUNT; e++) {
			for (uint32_t g = 0; g < GUARD_COMBOS; g++) {
				psb_fsm_result_t r = step(s, e, g);

				if ((r.rule.actions &
				            (A(RT_START) |
				                    A(NEW_GENERATION))) != 0) {
					assert_int_equal(s, ST(CREATED));
					assert_int_equal(e, EV(START));
				}
			}
		}
	}
}

// A retried Start while starting waits for the same start.
static void
test_start_joins_start_in_flight(void **state)
{
	(void)state;
	for (uint32_t g = 0; g < GUARD_COMBOS; g++) {
		check_move(ST(STARTING), EV(START), g, ST(STARTING), A(PARK));
	}
}

static void
test_failed_start_rolled_back_returns_created(void **state)
{
	sim_t sb;

	(void)state;
	check_move(ST(STARTING), EV(START_FAILED), G(ROLLED_BACK), ST(CREATED),
	        A(START_ERR) | A(STOP_DONE) | A(CLEAR_WANT));
	sim_init(&sb, ST(CREATED));
	sim_step(&sb, EV(START), 0);
	assert_int_equal(
	        sim_step(&sb, EV(START_FAILED), G(ROLLED_BACK)), PSB_FSM_MOVE);
	assert_int_equal(sb.state, ST(CREATED));
	// The Start gets the error (code 0: the runtime event's own code).
	assert_int_equal(sb.answered, A(START_ERR));
	assert_int_equal(sb.last.rule.code, 0);
	// ...and the sandbox can be started again.
	assert_int_equal(sim_step(&sb, EV(START), 0), PSB_FSM_MOVE);
	assert_int_equal(sb.state, ST(STARTING));
	assert_int_equal(sb.gen, 2);
}

// A failed rollback leaves UNKNOWN with the Start answered; nothing is
// removed or forgotten, so Stop and Shutdown can finish the cleanup.
static void
test_failed_rollback_unknown(void **state)
{
	sim_t sb;

	(void)state;
	check_move(
	        ST(STARTING), EV(START_FAILED), 0, ST(UNKNOWN), A(START_ERR));
	sim_init(&sb, ST(CREATED));
	sim_step(&sb, EV(START), 0);
	sim_step(&sb, EV(START_FAILED), 0);
	assert_int_equal(sb.state, ST(UNKNOWN));
	assert_int_equal(sb.answered, A(START_ERR));
	assert_int_equal(sb.parked, 0);
	assert_int_equal(sb.last.rule.actions & (A(REMOVE) | A(RT_DELETE)), 0);
	// Shutdown removes whatever is left...
	assert_int_equal(sim_step(&sb, EV(SHUTDOWN), 0), PSB_FSM_MOVE);
	assert_int_equal(sb.state, ST(DELETING));
	assert_true((sb.last.rule.actions & A(RT_DELETE)) != 0);
	assert_int_equal(sim_step(&sb, EV(DELETE_OK), 0), PSB_FSM_MOVE);
	assert_int_equal(sb.state, ST(NONE));
	assert_int_equal(sb.answered, A(SHUTDOWN_DONE));
}

// UNKNOWN accepts only Stop and Shutdown among the requests (an
// idempotent Create just returns the existing sandbox).
static void
test_unknown_only_stop_shutdown(void **state)
{
	(void)state;
	check_move(
	        ST(UNKNOWN), EV(STOP), 0, ST(STOPPING), A(RT_KILL) | A(PARK));
	check_move(ST(UNKNOWN), EV(SHUTDOWN), 0, ST(DELETING),
	        A(RT_DELETE) | A(PARK));
	check_reject(ST(UNKNOWN), EV(START), 0, PSB_ESTATE);
	check_reject(ST(UNKNOWN), EV(CREATE), 0, PSB_EEXIST);
	check_move(ST(UNKNOWN), EV(CREATE), G(SAME_CONFIG), ST(UNKNOWN),
	        A(REPLY));
}

// ---------------------------------------------------------------------
// DESIGN.md §3: exits and stale events.
// ---------------------------------------------------------------------

// An exit while STARTING wins: EXITED, the Start gets an error, Stops
// held meanwhile succeed, waiters wake; the start's late completion is
// then ignored.
static void
test_exit_during_start_wins(void **state)
{
	sim_t sb;

	(void)state;
	sim_init(&sb, ST(CREATED));
	sim_step(&sb, EV(START), 0);
	sim_step(&sb, EV(STOP), 0);
	assert_int_equal(sim_step(&sb, EV(TASK_EXIT), 0), PSB_FSM_MOVE);
	assert_int_equal(sb.state, ST(EXITED));
	assert_int_equal(sb.answered, A(START_ERR) | A(STOP_DONE));
	assert_int_equal(sb.last.rule.code, PSB_ERUNTIME);
	assert_true((sb.last.rule.actions & A(WAKE_WAITERS)) != 0);
	assert_int_equal(sb.wants, 0);
	// A late START_OK of this generation: its pause is killed (it may
	// run: a start that outlived its deadline), nothing else changes.
	assert_int_equal(sim_step(&sb, EV(START_OK), 0), PSB_FSM_MOVE);
	assert_int_equal(sb.last.rule.actions, A(RT_KILL));
	assert_int_equal(sim_step(&sb, EV(START_FAILED), 0), PSB_FSM_IGNORE);
	assert_int_equal(sb.state, ST(EXITED));
	// With a Shutdown held, the exit goes straight on to deleting (a
	// held Stop is answered when that is done).
	check_move(ST(STARTING), EV(TASK_EXIT), G(WANT_SHUTDOWN), ST(DELETING),
	        A(RECORD_EXIT) | A(START_ERR) | A(WAKE_WAITERS) |
	                A(RT_DELETE) | A(CLEAR_WANT));
	// With a Stop held and a pod network up, the Stop waits for the
	// network's teardown.
	check_move(ST(STARTING), EV(TASK_EXIT), G(WANT_STOP) | G(NET_UP),
	        ST(STOPPING),
	        A(RECORD_EXIT) | A(START_ERR) | A(WAKE_WAITERS) |
	                A(RT_NET_DOWN) | A(CLEAR_WANT));
}

// A runtime, timer or recovery event of an older generation is ignored
// in every state, whatever the other guards; API events never are.
static void
test_stale_events_ignored(void **state)
{
	(void)state;
	for (int s = 0; s < PSB_STATE_COUNT; s++) {
		for (int e = 0; e < PSB_EVENT_COUNT; e++) {
			for (uint32_t g = 0; g < GUARD_COMBOS; g++) {
				psb_fsm_result_t r = step(s, e, g | G(STALE));
				psb_fsm_result_t f = step(s, e, g & ~G(STALE));

				if (is_api_event(e)) {
					assert_memory_equal(&r, &f, sizeof(r));
					continue;
				}
				assert_int_equal(r.rule.kind, PSB_FSM_IGNORE);
				assert_int_equal(r.alt, -1);
				assert_int_equal(r.rule.actions, 0);
				assert_int_equal(r.rule.code, PSB_ESTALE);
			}
		}
	}
}

// A second exit of the same generation, once the first was recorded,
// changes nothing (cells).
static void
test_duplicate_exits_ignored(void **state)
{
	(void)state;
	check_ignore(ST(EXITED), EV(TASK_EXIT), 0);
	check_ignore(ST(DELETING), EV(TASK_EXIT), 0);
	check_ignore(ST(NONE), EV(TASK_EXIT), 0);
	check_ignore(ST(CREATED), EV(TASK_EXIT), 0);
	check_move(ST(EXITED), EV(START_OK), 0, ST(EXITED), A(RT_KILL));
	check_ignore(ST(DELETING), EV(START_OK), 0);
}

// The same, as histories: after an exit was recorded, the sandbox may
// reach UNKNOWN (a Shutdown that timed out). DESIGN.md §3 says a late or
// duplicate exit is still ignored there, and a late START_OK of the start
// the exit beat must not bring back READY.
static void
test_duplicate_exit_after_unknown_ignored(void **state)
{
	sim_t sb;

	(void)state;
	sim_init(&sb, ST(CREATED));
	sim_step(&sb, EV(START), 0);
	sim_step(&sb, EV(DEADLINE), 0); // start timed out: UNKNOWN
	assert_int_equal(sb.state, ST(UNKNOWN));
	sim_step(&sb, EV(TASK_EXIT), 0); // the one real exit
	assert_int_equal(sb.state, ST(EXITED));
	assert_int_equal(sb.exits, 1);
	sim_step(&sb, EV(SHUTDOWN), 0);
	sim_step(&sb, EV(DEADLINE), 0); // delete timed out: UNKNOWN
	assert_int_equal(sb.state, ST(UNKNOWN));
	sim_step(&sb, EV(TASK_EXIT), 0); // duplicate, same generation
	if (sb.exits != 1) {
		print_error("duplicate TASK_EXIT in UNKNOWN recorded a "
		            "second exit for generation %d\n",
		        sb.gen);
	}
	assert_int_equal(sb.exits, 1);
}

static void
test_late_start_ok_after_exit_ignored(void **state)
{
	sim_t sb;

	(void)state;
	sim_init(&sb, ST(CREATED));
	sim_step(&sb, EV(START), 0);
	sim_step(&sb, EV(TASK_EXIT), 0); // exit wins
	assert_int_equal(sb.state, ST(EXITED));
	sim_step(&sb, EV(SHUTDOWN), 0);
	sim_step(&sb, EV(DEADLINE), 0); // delete timed out: UNKNOWN
	assert_int_equal(sb.state, ST(UNKNOWN));
	sim_step(&sb, EV(START_OK), 0); // the start's late completion
	if (sb.state == ST(READY)) {
		print_error("late START_OK of the start an exit beat made the "
		            "sandbox READY again\n");
	}
	assert_int_not_equal(sb.state, ST(READY));
}

// ---------------------------------------------------------------------
// DESIGN.md §3: Stop.
// ---------------------------------------------------------------------

static void
test_stop_idempotent(void **state)
{
	(void)state;
	check_move(ST(CREATED), EV(STOP), 0, ST(CREATED), A(REPLY));
	check_move(ST(EXITED), EV(STOP), 0, ST(EXITED), A(REPLY));
	// A Stop while one is in flight joins it.
	check_move(ST(STOPPING), EV(STOP), 0, ST(STOPPING), A(PARK));
	check_move(ST(DELETING), EV(STOP), 0, ST(DELETING), A(PARK));
	check_reject(ST(NONE), EV(STOP), 0, PSB_ENOENT);
}

// Stop kills and waits in STOPPING, which has a deadline.
static void
test_stop_bounded_by_deadline(void **state)
{
	(void)state;
	check_move(ST(READY), EV(STOP), 0, ST(STOPPING), A(RT_KILL) | A(PARK));
	assert_true(psb_state_has_deadline(ST(STOPPING)));
	assert_false(psb_fsm_settled(ST(STOPPING)));
}

// Each expired deadline re-kills with backoff while the retry budget
// lasts; then UNKNOWN and the held Stop and Shutdown get ETIMEDOUT.
static void
test_stop_escalates_then_unknown(void **state)
{
	sim_t sb;

	(void)state;
	check_move(ST(STOPPING), EV(KILL_FAILED), 0, ST(STOPPING), A(BACKOFF));
	sim_init(&sb, ST(READY));
	sim_step(&sb, EV(SHUTDOWN), 0);
	sim_step(&sb, EV(STOP), 0);
	assert_int_equal(sb.state, ST(STOPPING));
	for (int i = 0; i < 5; i++) {
		assert_int_equal(sim_step(&sb, EV(DEADLINE), G(RETRY_LEFT)),
		        PSB_FSM_MOVE);
		assert_int_equal(sb.state, ST(STOPPING));
		assert_int_equal(
		        sb.last.rule.actions, A(RT_KILL) | A(BACKOFF));
		assert_int_equal(sb.answered, 0);
	}
	sim_step(&sb, EV(DEADLINE), 0);
	assert_int_equal(sb.state, ST(UNKNOWN));
	assert_int_equal(sb.answered, A(STOP_ERR) | A(SHUTDOWN_ERR));
	assert_int_equal(sb.last.rule.code, PSB_ETIMEDOUT);
	assert_int_equal(sb.parked, 0);
	// The wishes outlive the requests: once the runtime answers (the
	// UNKNOWN sandbox is probed again) they are carried out.
	assert_int_equal(sb.wants, G(WANT_STOP) | G(WANT_SHUTDOWN));
	sim_step(&sb, EV(RUNTIME_UNREACHABLE), 0);
	assert_int_equal(sb.state, ST(UNKNOWN));
	sim_step(&sb, EV(FOUND_RUNNING), 0);
	assert_int_equal(sb.state, ST(DELETING));
	assert_true((sb.last.rule.actions & A(RT_DELETE)) != 0);
	assert_int_equal(sb.wants, 0);
}

// A Stop while the runtime cannot be reached is neither answered at once
// nor forgotten: the kill is retried after the backoff, the state stays
// STOPPING (no flapping through UNKNOWN), and an exit settles it.
static void
test_stop_while_runtime_away(void **state)
{
	sim_t sb;

	(void)state;
	sim_init(&sb, ST(READY));
	sim_step(&sb, EV(STOP), 0);
	for (int i = 0; i < 3; i++) {
		sim_step(&sb, EV(RUNTIME_UNREACHABLE), 0);
		assert_int_equal(sb.state, ST(STOPPING));
		assert_int_equal(sb.last.rule.actions, A(BACKOFF));
		assert_int_equal(sb.answered, 0);
		sim_step(&sb, EV(DEADLINE), G(RETRY_LEFT));
		assert_int_equal(
		        sb.last.rule.actions, A(RT_KILL) | A(BACKOFF));
	}
	sim_step(&sb, EV(TASK_EXIT), 0);
	assert_int_equal(sb.state, ST(EXITED));
	assert_int_equal(sb.answered, A(STOP_DONE));
	// A Shutdown the same: DELETING waits for the runtime.
	sim_step(&sb, EV(SHUTDOWN), 0);
	sim_step(&sb, EV(RUNTIME_UNREACHABLE), 0);
	assert_int_equal(sb.state, ST(DELETING));
	assert_int_equal(sb.last.rule.actions, A(BACKOFF));
	sim_step(&sb, EV(DELETE_OK), 0);
	assert_int_equal(sb.state, ST(NONE));
}

// A Stop during STARTING is remembered and honoured as soon as the start
// settles, however it settles; it is answered then or after the kill.
static void
test_stop_during_start_honoured(void **state)
{
	sim_t sb;

	(void)state;
	// Start succeeds: Start OK, then kill; the Stop answers on the exit.
	sim_init(&sb, ST(CREATED));
	sim_step(&sb, EV(START), 0);
	check_move(ST(STARTING), EV(STOP), 0, ST(STARTING),
	        A(SET_WANT_STOP) | A(PARK));
	sim_step(&sb, EV(STOP), 0);
	assert_int_equal(sb.wants, G(WANT_STOP));
	sim_step(&sb, EV(START_OK), 0);
	assert_int_equal(sb.state, ST(STOPPING));
	assert_int_equal(sb.answered, A(START_DONE));
	assert_true((sb.last.rule.actions & A(RT_KILL)) != 0);
	sim_step(&sb, EV(TASK_EXIT), 0);
	assert_int_equal(sb.state, ST(EXITED));
	assert_int_equal(sb.answered, A(STOP_DONE));
	assert_int_equal(sb.parked, 0);
	// Start rolled back: nothing runs, the Stop succeeds at once.
	check_move(ST(STARTING), EV(START_FAILED),
	        G(WANT_STOP) | G(ROLLED_BACK), ST(CREATED),
	        A(START_ERR) | A(STOP_DONE) | A(CLEAR_WANT));
	// Start failed without rollback, or timed out: kill what may run.
	check_move(ST(STARTING), EV(START_FAILED), G(WANT_STOP), ST(STOPPING),
	        A(START_ERR) | A(RT_KILL) | A(CLEAR_WANT));
	check_rule(ST(STARTING), EV(DEADLINE), G(WANT_STOP), PSB_FSM_MOVE,
	        ST(STOPPING), A(START_ERR) | A(RT_KILL) | A(CLEAR_WANT), 0);
}

// ---------------------------------------------------------------------
// DESIGN.md §3: exit ownership and Wait.
// ---------------------------------------------------------------------

// Only exit observations (and a completed delete of a sandbox whose exit
// was never recorded) record an exit, and a runtime exit always wakes
// the waiters in the same step (one owner does all of it).
static void
test_exit_single_owner(void **state)
{
	(void)state;
	for (int s = 0; s < PSB_STATE_COUNT; s++) {
		for (int e = 0; e < PSB_EVENT_COUNT; e++) {
			for (uint32_t g = 0; g < GUARD_COMBOS; g++) {
				psb_fsm_result_t r = step(s, e, g);
				uint32_t         a = r.rule.actions;

				if ((a & A(RECORD_EXIT)) == 0) {
					continue;
				}
				if (e == EV(DELETE_OK)) {
					// A completed delete (it kills first)
					// ends the pause too: recorded as
					// unknown, but only if no exit was
					// recorded before.
					assert_int_equal(s, ST(DELETING));
					assert_int_equal(
					        r.rule.next, ST(NONE));
					assert_true(
					        (g & G(EXIT_RECORDED)) == 0);
					continue;
				}
				assert_true(e == EV(TASK_EXIT) ||
				            e == EV(FOUND_EXITED) ||
				            e == EV(FOUND_NOTHING));
				// STOPPING: the exit is recorded, the
				// pod network's teardown follows.
				assert_true(
				        r.rule.next == ST(EXITED) ||
				        r.rule.next == ST(DELETING) ||
				        (r.rule.next == ST(STOPPING) &&
				                (g & G(NET_UP)) != 0 &&
				                (a & A(RT_NET_DOWN)) != 0));
				assert_int_not_equal(s, ST(EXITED));
				if (e == EV(TASK_EXIT)) {
					assert_true(
					        (a & A(WAKE_WAITERS)) != 0);
				}
			}
		}
	}
	// Once exited, further exits and observations record nothing.
	for (int e = 0; e < PSB_EVENT_COUNT; e++) {
		if (!is_api_event(e)) {
			assert_int_equal(
			        step(ST(EXITED), e, 0).rule.actions &
			                (A(RECORD_EXIT) | A(WAKE_WAITERS)),
			        0);
		}
	}
}

// Wait and Status are reads: they are not events of the state machine,
// so they can never change state. Removal wakes the remaining waiters.
static void
test_wait_is_not_an_event(void **state)
{
	(void)state;
	assert_int_equal(psb_event_parse("WAIT"), -1);
	assert_int_equal(psb_event_parse("STATUS"), -1);
	assert_int_equal(psb_event_parse("LIST"), -1);
	assert_true((step(ST(DELETING), EV(DELETE_OK), 0).rule.actions &
	                    A(WAKE_WAITERS)) != 0);
}

// ---------------------------------------------------------------------
// DESIGN.md §3: Shutdown.
// ---------------------------------------------------------------------

static void
test_shutdown_idempotent(void **state)
{
	(void)state;
	check_move(ST(NONE), EV(SHUTDOWN), 0, ST(NONE), A(REPLY));
	check_move(ST(DELETING), EV(SHUTDOWN), 0, ST(DELETING), A(PARK));
	check_move(ST(STOPPING), EV(SHUTDOWN), 0, ST(STOPPING),
	        A(SET_WANT_SHUTDOWN) | A(PARK));
}

// Shutdown of a running sandbox stops it first and deletes after the
// exit; the held Shutdown is answered when the row is gone.
static void
test_shutdown_running_stops_first(void **state)
{
	sim_t sb;

	(void)state;
	check_move(ST(READY), EV(SHUTDOWN), 0, ST(STOPPING),
	        A(SET_WANT_SHUTDOWN) | A(RT_KILL) | A(PARK));
	sim_init(&sb, ST(READY));
	sim_step(&sb, EV(SHUTDOWN), 0);
	sim_step(&sb, EV(TASK_EXIT), 0);
	assert_int_equal(sb.state, ST(DELETING));
	assert_true((sb.last.rule.actions & A(RT_DELETE)) != 0);
	assert_true((sb.last.rule.actions & A(RECORD_EXIT)) != 0);
	assert_int_equal(sb.parked, ANSWERS_SHUTDOWN);
	sim_step(&sb, EV(DELETE_OK), 0);
	assert_int_equal(sb.state, ST(NONE));
	assert_int_equal(sb.answered, A(SHUTDOWN_DONE));
	assert_true((sb.last.rule.actions & A(REMOVE)) != 0);
}

// Nothing runs: Shutdown deletes at once.
static void
test_shutdown_idle_deletes(void **state)
{
	(void)state;
	check_move(ST(CREATED), EV(SHUTDOWN), 0, ST(DELETING),
	        A(RT_DELETE) | A(PARK));
	check_move(ST(EXITED), EV(SHUTDOWN), 0, ST(DELETING),
	        A(RT_DELETE) | A(PARK));
	check_move(ST(DELETING), EV(DELETE_OK), G(EXIT_RECORDED), ST(NONE),
	        A(REMOVE) | A(SHUTDOWN_DONE) | A(STOP_DONE) | A(WAKE_WAITERS));
	// Never exited on record: the exit is recorded as unknown (255).
	check_move(ST(DELETING), EV(DELETE_OK), 0, ST(NONE),
	        A(REMOVE) | A(RECORD_EXIT) | A(SHUTDOWN_DONE) | A(STOP_DONE) |
	                A(WAKE_WAITERS));
}

// A Shutdown during STARTING waits for the start and then stops and
// deletes.
static void
test_shutdown_during_start_honoured(void **state)
{
	sim_t sb;

	(void)state;
	sim_init(&sb, ST(CREATED));
	sim_step(&sb, EV(START), 0);
	sim_step(&sb, EV(SHUTDOWN), 0);
	assert_int_equal(sb.state, ST(STARTING));
	assert_int_equal(sb.wants, G(WANT_SHUTDOWN));
	sim_step(&sb, EV(START_OK), 0);
	assert_int_equal(sb.state, ST(STOPPING));
	assert_int_equal(sb.answered, A(START_DONE));
	sim_step(&sb, EV(TASK_EXIT), 0);
	assert_int_equal(sb.state, ST(DELETING));
	sim_step(&sb, EV(DELETE_OK), 0);
	assert_int_equal(sb.state, ST(NONE));
	assert_int_equal(sb.answered, A(SHUTDOWN_DONE));
	// A rolled-back or failed start goes straight to deleting.
	check_move(ST(STARTING), EV(START_FAILED),
	        G(WANT_SHUTDOWN) | G(ROLLED_BACK), ST(DELETING),
	        A(START_ERR) | A(STOP_DONE) | A(RT_DELETE) | A(CLEAR_WANT));
}

// Deleting retries with backoff within its budget, then UNKNOWN and the
// held Shutdown and Stop get ETIMEDOUT.
static void
test_shutdown_escalates_then_unknown(void **state)
{
	(void)state;
	check_move(
	        ST(DELETING), EV(DELETE_FAILED), 0, ST(DELETING), A(BACKOFF));
	check_move(ST(DELETING), EV(DEADLINE), G(RETRY_LEFT), ST(DELETING),
	        A(RT_DELETE) | A(BACKOFF));
	check_rule(ST(DELETING), EV(DEADLINE), 0, PSB_FSM_MOVE, ST(UNKNOWN),
	        A(SHUTDOWN_ERR) | A(STOP_ERR) | A(SET_WANT_SHUTDOWN), 0);
	assert_int_equal(
	        step(ST(DELETING), EV(DEADLINE), 0).rule.code, PSB_ETIMEDOUT);
}

// After removal the id is free again: only Create leaves NONE.
static void
test_removed_only_create_leaves_none(void **state)
{
	(void)state;
	for (int e = 0; e < PSB_EVENT_COUNT; e++) {
		for (uint32_t g = 0; g < GUARD_COMBOS; g++) {
			psb_fsm_result_t r = step(ST(NONE), e, g);

			if (e == EV(CREATE)) {
				assert_int_equal(r.rule.next, ST(CREATED));
			} else if (r.rule.kind == PSB_FSM_MOVE) {
				assert_int_equal(r.rule.next, ST(NONE));
			}
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_create_inserts_once),
	        cmocka_unit_test(test_create_idempotent),
	        cmocka_unit_test(test_create_different_config_exists),
	        cmocka_unit_test(test_create_while_deleting_rejected),
	        cmocka_unit_test(test_start_only_from_created),
	        cmocka_unit_test(test_start_joins_start_in_flight),
	        cmocka_unit_test(
	                test_failed_start_rolled_back_returns_created),
	        cmocka_unit_test(test_failed_rollback_unknown),
	        cmocka_unit_test(test_unknown_only_stop_shutdown),
	        cmocka_unit_test(test_exit_during_start_wins),
	        cmocka_unit_test(test_stale_events_ignored),
	        cmocka_unit_test(test_duplicate_exits_ignored),
	        cmocka_unit_test(test_duplicate_exit_after_unknown_ignored),
	        cmocka_unit_test(test_late_start_ok_after_exit_ignored),
	        cmocka_unit_test(test_stop_idempotent),
	        cmocka_unit_test(test_stop_bounded_by_deadline),
	        cmocka_unit_test(test_stop_escalates_then_unknown),
	        cmocka_unit_test(test_stop_during_start_honoured),
	        cmocka_unit_test(test_exit_single_owner),
	        cmocka_unit_test(test_wait_is_not_an_event),
	        cmocka_unit_test(test_shutdown_idempotent),
	        cmocka_unit_test(test_shutdown_running_stops_first),
	        cmocka_unit_test(test_shutdown_idle_deletes),
	        cmocka_unit_test(test_shutdown_during_start_honoured),
	        cmocka_unit_test(test_shutdown_escalates_then_unknown),
	        cmocka_unit_test(test_stop_while_runtime_away),
	        cmocka_unit_test(test_removed_only_create_leaves_none),
	};

	return (psb_test_run_group(tests, NULL, NULL));
}
