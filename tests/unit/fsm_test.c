//
// podsandboxd - unit tests of the sandbox state machine (DESIGN.md §3).
//
// Two layers. First, structural checks of the table as data: it is
// total, every rule is well formed, every request gets an answer. Second,
// expect(): the semantics written out again by hand as if-chains, without
// looking at the table, and compared with psb_fsm_step for every state,
// event and guard combination; a typo in either shows up as a mismatch.
// The per-bullet tests of DESIGN.md §3 are in fsm_design_test.c.
//

#include "tests/unit/fsm_check.h"

typedef struct expect {
	psb_fsm_kind_t kind;
	psb_state_t    next;
	uint32_t       actions;
	int            code; // REJECT code, or the code of a *_ERR move
} expect_t;

static expect_t
ex_move(psb_state_t next, uint32_t actions)
{
	expect_t x = {PSB_FSM_MOVE, next, actions, 0};

	return (x);
}

static expect_t
ex_move_err(psb_state_t next, uint32_t actions, int code)
{
	expect_t x = {PSB_FSM_MOVE, next, actions, code};

	return (x);
}

static expect_t
ex_reject(int code)
{
	expect_t x = {PSB_FSM_REJECT, ST(NONE), 0, code};

	return (x);
}

static expect_t
ex_ignore(void)
{
	expect_t x = {PSB_FSM_IGNORE, ST(NONE), 0, 0};

	return (x);
}

static expect_t
expect_api(psb_state_t s, psb_event_t e, uint32_t g)
{
	if (s == ST(NONE)) {
		if (e == EV(CREATE)) {
			return (ex_move(ST(CREATED), A(INSERT) | A(REPLY)));
		}
		if (e == EV(SHUTDOWN)) {
			return (ex_move(ST(NONE), A(REPLY)));
		}
		return (ex_reject(PSB_ENOENT));
	}
	if (e == EV(CREATE)) {
		if (s == ST(DELETING)) {
			return (ex_reject(PSB_ESTATE));
		}
		if ((g & G(SAME_CONFIG)) != 0) {
			return (ex_move(s, A(REPLY)));
		}
		return (ex_reject(PSB_EEXIST));
	}
	if (e == EV(START)) {
		if (s == ST(CREATED)) {
			return (ex_move(ST(STARTING),
			        A(NEW_GENERATION) | A(RT_START) | A(PARK)));
		}
		if (s == ST(STARTING)) {
			return (ex_move(ST(STARTING), A(PARK)));
		}
		return (ex_reject(PSB_ESTATE));
	}
	if (e == EV(STOP)) {
		bool exited =
		        s == ST(EXITED) ||
		        (s == ST(UNKNOWN) && (g & G(EXIT_RECORDED)) != 0);

		// A pause that exited is stopped, but its pod network stays
		// until a Stop tears it down.
		if (exited && (g & G(NET_UP)) != 0) {
			return (ex_move(
			        ST(STOPPING), A(RT_NET_DOWN) | A(PARK)));
		}
		if (s == ST(CREATED) || s == ST(EXITED)) {
			return (ex_move(s, A(REPLY)));
		}
		if (s == ST(STARTING)) {
			return (ex_move(s, A(SET_WANT_STOP) | A(PARK)));
		}
		if (s == ST(UNKNOWN) && (g & G(EXIT_RECORDED)) != 0) {
			// The exit is recorded: it is stopped already.
			return (ex_move(ST(EXITED), A(REPLY)));
		}
		if (s == ST(READY) || s == ST(UNKNOWN)) {
			return (ex_move(ST(STOPPING), A(RT_KILL) | A(PARK)));
		}
		return (ex_move(s, A(PARK))); // STOPPING, DELETING
	}
	// SHUTDOWN
	if (s == ST(CREATED) || s == ST(EXITED) || s == ST(UNKNOWN)) {
		return (ex_move(ST(DELETING), A(RT_DELETE) | A(PARK)));
	}
	if (s == ST(STARTING) || s == ST(STOPPING)) {
		return (ex_move(s, A(SET_WANT_SHUTDOWN) | A(PARK)));
	}
	if (s == ST(READY)) {
		return (ex_move(ST(STOPPING),
		        A(SET_WANT_SHUTDOWN) | A(RT_KILL) | A(PARK)));
	}
	return (ex_move(s, A(PARK))); // DELETING
}

static expect_t
expect_created(psb_event_t e)
{
	if (e == EV(FOUND_RUNNING)) {
		return (ex_move(ST(READY), A(RECORD_PID)));
	}
	if (e == EV(FOUND_EXITED)) {
		return (ex_move(ST(EXITED), A(RECORD_EXIT) | A(WAKE_WAITERS)));
	}
	if (e == EV(FOUND_NOTHING) || e == EV(RUNTIME_UNREACHABLE)) {
		return (ex_move(ST(CREATED), 0));
	}
	return (ex_ignore());
}

static expect_t
expect_starting(psb_event_t e, uint32_t g)
{
	bool shut = (g & G(WANT_SHUTDOWN)) != 0;
	bool stop = (g & G(WANT_STOP)) != 0;
	bool rb   = (g & G(ROLLED_BACK)) != 0;

	if (e == EV(START_OK)) {
		if (shut || stop) {
			return (ex_move(ST(STOPPING),
			        A(RECORD_PID) | A(START_DONE) | A(RT_KILL)));
		}
		return (ex_move(ST(READY), A(RECORD_PID) | A(START_DONE)));
	}
	if (e == EV(START_FAILED)) {
		if (rb && shut) {
			return (ex_move(ST(DELETING),
			        A(START_ERR) | A(STOP_DONE) | A(RT_DELETE) |
			                A(CLEAR_WANT)));
		}
		if (rb) {
			return (ex_move(ST(CREATED),
			        A(START_ERR) | A(STOP_DONE) | A(CLEAR_WANT)));
		}
		// Not rolled back: the pause may run; a held Stop is
		// answered when the removal is done.
		if (shut) {
			return (ex_move(ST(DELETING),
			        A(START_ERR) | A(RT_DELETE) | A(CLEAR_WANT)));
		}
		if (stop) {
			return (ex_move(ST(STOPPING),
			        A(START_ERR) | A(RT_KILL) | A(CLEAR_WANT)));
		}
		return (ex_move(ST(UNKNOWN), A(START_ERR)));
	}
	if (e == EV(TASK_EXIT)) {
		uint32_t a = A(RECORD_EXIT) | A(START_ERR) | A(WAKE_WAITERS) |
		             A(CLEAR_WANT);

		if (shut) {
			return (ex_move_err(
			        ST(DELETING), a | A(RT_DELETE), PSB_ERUNTIME));
		}
		// A Stop is done once the pod network is down too.
		if (stop && (g & G(NET_UP)) != 0) {
			return (ex_move_err(ST(STOPPING), a | A(RT_NET_DOWN),
			        PSB_ERUNTIME));
		}
		return (ex_move_err(
		        ST(EXITED), a | A(STOP_DONE), PSB_ERUNTIME));
	}
	if (e == EV(DEADLINE)) {
		if (shut) {
			return (ex_move_err(ST(DELETING),
			        A(START_ERR) | A(RT_DELETE) | A(CLEAR_WANT),
			        PSB_ETIMEDOUT));
		}
		if (stop) {
			return (ex_move_err(ST(STOPPING),
			        A(START_ERR) | A(RT_KILL) | A(CLEAR_WANT),
			        PSB_ETIMEDOUT));
		}
		return (ex_move_err(ST(UNKNOWN), A(START_ERR), PSB_ETIMEDOUT));
	}
	// Recovered mid-start: each answer settles the start like its
	// runtime twin, with the error the held Start gets.
	if (e == EV(FOUND_RUNNING)) {
		return (expect_starting(EV(START_OK), g));
	}
	if (e == EV(FOUND_EXITED)) {
		return (expect_starting(EV(TASK_EXIT), g));
	}
	if (e == EV(FOUND_NOTHING)) {
		expect_t x =
		        expect_starting(EV(START_FAILED), g | G(ROLLED_BACK));

		x.code = PSB_ERUNTIME;
		return (x);
	}
	if (e == EV(RUNTIME_UNREACHABLE)) {
		expect_t x = expect_starting(EV(DEADLINE), g);

		x.code = PSB_EUNAVAIL;
		return (x);
	}
	return (ex_ignore()); // KILL_FAILED, DELETE_OK, DELETE_FAILED
}

static expect_t
expect_ready(psb_event_t e)
{
	if (e == EV(TASK_EXIT) || e == EV(FOUND_EXITED) ||
	        e == EV(FOUND_NOTHING)) {
		return (ex_move(ST(EXITED), A(RECORD_EXIT) | A(WAKE_WAITERS)));
	}
	if (e == EV(FOUND_RUNNING)) {
		return (ex_move(ST(READY), A(RECORD_PID)));
	}
	if (e == EV(RUNTIME_UNREACHABLE)) {
		return (ex_move(ST(UNKNOWN), 0));
	}
	return (ex_ignore());
}

// The stop's exit, seen or found: recorded, and the stop is done unless a
// pod network must be torn down first.
static expect_t
expect_stop_exit(uint32_t g)
{
	if ((g & G(NET_UP)) != 0) {
		return (ex_move(ST(STOPPING),
		        A(RECORD_EXIT) | A(WAKE_WAITERS) | A(RT_NET_DOWN)));
	}
	if ((g & G(WANT_SHUTDOWN)) != 0) {
		return (ex_move(ST(DELETING),
		        A(RECORD_EXIT) | A(STOP_DONE) | A(WAKE_WAITERS) |
		                A(RT_DELETE) | A(CLEAR_WANT)));
	}
	return (ex_move(
	        ST(EXITED), A(RECORD_EXIT) | A(STOP_DONE) | A(WAKE_WAITERS)));
}

// STOPPING with this generation's exit recorded: only the pod network's
// teardown is left.
static expect_t
expect_stopping_net(psb_event_t e, uint32_t g)
{
	if (e == EV(NET_DOWN_OK)) {
		if ((g & G(WANT_SHUTDOWN)) != 0) {
			return (ex_move(ST(DELETING),
			        A(STOP_DONE) | A(RT_DELETE) | A(CLEAR_WANT)));
		}
		return (ex_move(ST(EXITED), A(STOP_DONE)));
	}
	if (e == EV(NET_DOWN_FAILED)) {
		return (ex_move(ST(STOPPING), A(BACKOFF)));
	}
	if (e == EV(DEADLINE)) {
		if ((g & G(RETRY_LEFT)) != 0) {
			return (ex_move(
			        ST(STOPPING), A(RT_NET_DOWN) | A(BACKOFF)));
		}
		return (ex_move_err(ST(UNKNOWN),
		        A(STOP_ERR) | A(SHUTDOWN_ERR) | A(CLEAR_WANT),
		        PSB_ETIMEDOUT));
	}
	if (e == EV(FOUND_RUNNING) || e == EV(FOUND_EXITED) ||
	        e == EV(FOUND_NOTHING) || e == EV(RUNTIME_UNREACHABLE)) {
		// Recovered mid-teardown (it needs no containerd): again.
		return (ex_move(ST(STOPPING), A(RT_NET_DOWN)));
	}
	if (e == EV(START_OK)) {
		// A start that completed only now: its pause is killed.
		return (ex_move(ST(STOPPING), A(RT_KILL)));
	}
	return (ex_ignore()); // a second exit, KILL_FAILED, START_*, DELETE_*
}

static expect_t
expect_stopping(psb_event_t e, uint32_t g)
{
	if ((g & G(EXIT_RECORDED)) != 0) {
		return (expect_stopping_net(e, g));
	}
	if (e == EV(TASK_EXIT) || e == EV(FOUND_EXITED) ||
	        e == EV(FOUND_NOTHING)) {
		return (expect_stop_exit(g));
	}
	if (e == EV(TASK_EXIT)) {
		if ((g & G(WANT_SHUTDOWN)) != 0) {
			return (ex_move(ST(DELETING),
			        A(RECORD_EXIT) | A(STOP_DONE) |
			                A(WAKE_WAITERS) | A(RT_DELETE) |
			                A(CLEAR_WANT)));
		}
		return (ex_move(ST(EXITED),
		        A(RECORD_EXIT) | A(STOP_DONE) | A(WAKE_WAITERS)));
	}
	if (e == EV(KILL_FAILED)) {
		return (ex_move(ST(STOPPING), A(BACKOFF)));
	}
	if (e == EV(START_OK)) {
		// A start that completed only now: its pause is killed too.
		return (ex_move(ST(STOPPING), A(RECORD_PID) | A(RT_KILL)));
	}
	if (e == EV(DEADLINE)) {
		if ((g & G(RETRY_LEFT)) != 0) {
			return (ex_move(
			        ST(STOPPING), A(RT_KILL) | A(BACKOFF)));
		}
		// Out of retries: the Stop stays wanted for when the runtime
		// answers again.
		return (ex_move_err(ST(UNKNOWN),
		        A(STOP_ERR) | A(SHUTDOWN_ERR) | A(SET_WANT_STOP),
		        PSB_ETIMEDOUT));
	}
	if (e == EV(FOUND_RUNNING)) {
		return (ex_move(ST(STOPPING), A(RT_KILL)));
	}
	if (e == EV(FOUND_EXITED) || e == EV(FOUND_NOTHING)) {
		// Like TASK_EXIT.
		if ((g & G(WANT_SHUTDOWN)) != 0) {
			return (ex_move(ST(DELETING),
			        A(RECORD_EXIT) | A(STOP_DONE) |
			                A(WAKE_WAITERS) | A(RT_DELETE) |
			                A(CLEAR_WANT)));
		}
		return (ex_move(ST(EXITED),
		        A(RECORD_EXIT) | A(STOP_DONE) | A(WAKE_WAITERS)));
	}
	if (e == EV(RUNTIME_UNREACHABLE)) {
		// The kill is tried again after the backoff, like a failed
		// one.
		return (ex_move(ST(STOPPING), A(BACKOFF)));
	}
	return (ex_ignore()); // START_OK, START_FAILED, DELETE_*
}

static expect_t
expect_exited(psb_event_t e)
{
	if (e == EV(FOUND_RUNNING) || e == EV(START_OK)) {
		return (ex_move(ST(EXITED), A(RT_KILL)));
	}
	if (e == EV(FOUND_EXITED) || e == EV(FOUND_NOTHING) ||
	        e == EV(RUNTIME_UNREACHABLE)) {
		return (ex_move(ST(EXITED), 0));
	}
	return (ex_ignore());
}

static expect_t
expect_unknown(psb_event_t e, uint32_t g)
{
	bool exited = (g & G(EXIT_RECORDED)) != 0;

	// With this generation's exit already recorded, nothing may record
	// it again nor make the sandbox run again: a running task is killed.
	if (e == EV(START_OK) || e == EV(FOUND_RUNNING)) {
		if (exited) {
			return (ex_move(ST(EXITED), A(RT_KILL)));
		}
		// A wish kept while the runtime was away is carried out now.
		if (e == EV(FOUND_RUNNING) && (g & G(WANT_SHUTDOWN)) != 0) {
			return (ex_move(ST(DELETING),
			        A(RECORD_PID) | A(CLEAR_WANT) | A(RT_DELETE)));
		}
		if (e == EV(FOUND_RUNNING) && (g & G(WANT_STOP)) != 0) {
			return (ex_move(ST(STOPPING),
			        A(RECORD_PID) | A(CLEAR_WANT) | A(RT_KILL)));
		}
		return (ex_move(ST(READY), A(RECORD_PID)));
	}
	if (e == EV(START_FAILED)) {
		if (!exited && (g & G(ROLLED_BACK)) != 0) {
			return (ex_move(ST(CREATED), 0));
		}
		return (ex_ignore());
	}
	if (e == EV(TASK_EXIT) || e == EV(FOUND_EXITED) ||
	        e == EV(FOUND_NOTHING)) {
		uint32_t gone = A(RECORD_EXIT) | A(WAKE_WAITERS);

		if (exited) {
			return (ex_move(ST(EXITED), 0));
		}
		if ((g & G(WANT_SHUTDOWN)) != 0) {
			return (ex_move(ST(DELETING),
			        gone | A(CLEAR_WANT) | A(RT_DELETE)));
		}
		if ((g & G(WANT_STOP)) != 0 && (g & G(NET_UP)) != 0) {
			return (ex_move(ST(STOPPING),
			        gone | A(CLEAR_WANT) | A(RT_NET_DOWN)));
		}
		if ((g & G(WANT_STOP)) != 0) {
			return (ex_move(ST(EXITED), gone | A(CLEAR_WANT)));
		}
		return (ex_move(ST(EXITED), gone));
	}
	if (e == EV(RUNTIME_UNREACHABLE)) {
		return (ex_move(ST(UNKNOWN), 0));
	}
	return (ex_ignore()); // KILL_FAILED, DELETE_*, DEADLINE
}

static expect_t
expect_deleting(psb_event_t e, uint32_t g)
{
	if (e == EV(DELETE_OK)) {
		// Waiters get the recorded exit, or 255 recorded now.
		uint32_t x = A(REMOVE) | A(SHUTDOWN_DONE) | A(STOP_DONE) |
		             A(WAKE_WAITERS);

		if ((g & G(EXIT_RECORDED)) == 0) {
			x |= A(RECORD_EXIT);
		}
		return (ex_move(ST(NONE), x));
	}
	if (e == EV(DELETE_FAILED)) {
		return (ex_move(ST(DELETING), A(BACKOFF)));
	}
	if (e == EV(DEADLINE)) {
		if ((g & G(RETRY_LEFT)) != 0) {
			return (ex_move(
			        ST(DELETING), A(RT_DELETE) | A(BACKOFF)));
		}
		// The Shutdown stays wanted for when the runtime answers.
		return (ex_move_err(ST(UNKNOWN),
		        A(SHUTDOWN_ERR) | A(STOP_ERR) | A(SET_WANT_SHUTDOWN),
		        PSB_ETIMEDOUT));
	}
	if (e == EV(FOUND_RUNNING) || e == EV(FOUND_EXITED) ||
	        e == EV(FOUND_NOTHING)) {
		return (ex_move(ST(DELETING), A(RT_DELETE)));
	}
	if (e == EV(RUNTIME_UNREACHABLE)) {
		return (ex_move(ST(DELETING), A(BACKOFF)));
	}
	return (ex_ignore()); // START_OK, START_FAILED, TASK_EXIT, KILL_FAILED
}

static expect_t
expect(psb_state_t s, psb_event_t e, uint32_t g)
{
	if (is_api_event(e)) {
		return (expect_api(s, e, g)); // API events ignore STALE
	}
	if ((g & G(STALE)) != 0) {
		return (ex_ignore());
	}
	switch (s) {
	case ST(NONE): return (ex_ignore());
	case ST(CREATED): return (expect_created(e));
	case ST(STARTING): return (expect_starting(e, g));
	case ST(READY): return (expect_ready(e));
	case ST(STOPPING): return (expect_stopping(e, g));
	case ST(EXITED): return (expect_exited(e));
	case ST(UNKNOWN): return (expect_unknown(e, g));
	case ST(DELETING): return (expect_deleting(e, g));
	default: break;
	}
	return (ex_reject(PSB_EINVAL));
}

// ---------------------------------------------------------------------
// Structure of the table.
// ---------------------------------------------------------------------

static void
test_table_total(void **state)
{
	(void)state;
	for (int s = 0; s < PSB_STATE_COUNT; s++) {
		for (int e = 0; e < PSB_EVENT_COUNT; e++) {
			const psb_fsm_rule_t *cell;
			int                   n = -1;

			cell = psb_fsm_cell(s, e, &n);
			assert_non_null(cell);
			if (n < 1 || n > PSB_FSM_MAX_ALTS ||
			        cell[n - 1].guards != 0) {
				print_error("%s/%s: %d alternatives, the last "
				            "must require no guard\n",
				        psb_state_name(s), psb_event_name(e),
				        n);
				fail();
			}
			for (int i = 0; i < n; i++) {
				assert_int_not_equal(
				        cell[i].kind, PSB_FSM_EMPTY);
			}
			// Every guard combination is decided by a rule.
			for (uint32_t g = 0; g < GUARD_COMBOS; g++) {
				psb_fsm_result_t r = step(s, e, g);

				assert_int_not_equal(
				        r.rule.kind, PSB_FSM_EMPTY);
				if ((g & G(STALE)) == 0 || is_api_event(e)) {
					assert_true(r.alt >= 0 && r.alt < n);
				}
			}
		}
	}
}

static void
test_rules_well_formed(void **state)
{
	(void)state;
	for (int s = 0; s < PSB_STATE_COUNT; s++) {
		for (int e = 0; e < PSB_EVENT_COUNT; e++) {
			const psb_fsm_rule_t *cell;
			int                   n;

			cell = psb_fsm_cell(s, e, &n);
			for (int i = 0; i < n; i++) {
				const psb_fsm_rule_t *r = &cell[i];

				assert_true(r->guards < GUARD_COMBOS);
				// STALE is decided before the table.
				assert_int_equal(r->guards & G(STALE), 0);
				if (r->kind == PSB_FSM_MOVE) {
					assert_true((unsigned)r->next <
					            PSB_STATE_COUNT);
					assert_true(r->actions <
					            (1u << PSB_ACTION_COUNT));
					assert_true(r->code <= 0);
				} else {
					assert_int_equal(r->actions, 0);
				}
				if (r->kind == PSB_FSM_REJECT) {
					assert_true(r->code < 0);
					assert_string_not_equal(
					        psb_errname(r->code),
					        "PSB_E?");
				}
				// A later alternative that an earlier one
				// always shadows is dead code.
				for (int j = 0; j < i; j++) {
					assert_false(
					        (cell[j].guards & r->guards) ==
					        cell[j].guards);
				}
			}
		}
	}
}

// A request must always get an answer: REPLY now, PARK until its goal
// settles, or REJECT with a code; never IGNORE, never two of them.
static void
test_api_events_always_answered(void **state)
{
	(void)state;
	for (int s = 0; s < PSB_STATE_COUNT; s++) {
		for (int e = 0; e < PSB_EVENT_COUNT; e++) {
			if (psb_event_source(e) != PSB_SRC_API) {
				continue;
			}
			for (uint32_t g = 0; g < GUARD_COMBOS; g++) {
				psb_fsm_result_t r = step(s, e, g);
				uint32_t         answer =
				        r.rule.actions & (A(REPLY) | A(PARK));

				assert_int_not_equal(
				        r.rule.kind, PSB_FSM_IGNORE);
				if (r.rule.kind == PSB_FSM_MOVE) {
					assert_true(answer == A(REPLY) ||
					            answer == A(PARK));
				} else {
					assert_int_equal(
					        r.rule.kind, PSB_FSM_REJECT);
				}
			}
		}
	}
}

// Runtime, timer and recovery events have nobody to answer: they are
// never REJECTed and never REPLY or PARK.
static void
test_background_events_never_rejected(void **state)
{
	(void)state;
	for (int s = 0; s < PSB_STATE_COUNT; s++) {
		for (int e = 0; e < PSB_EVENT_COUNT; e++) {
			if (psb_event_source(e) == PSB_SRC_API) {
				continue;
			}
			for (uint32_t g = 0; g < GUARD_COMBOS; g++) {
				psb_fsm_result_t r = step(s, e, g);

				assert_int_not_equal(
				        r.rule.kind, PSB_FSM_REJECT);
				assert_int_equal(
				        r.rule.actions & (A(REPLY) | A(PARK) |
				                                 A(INSERT)),
				        0);
			}
		}
	}
}

// table_agrees compares the table with expect() for one (state, event,
// guards) and, if they differ and report is set, prints both.
static bool
table_agrees(psb_state_t s, psb_event_t e, uint32_t g, bool report)
{
	psb_fsm_result_t r = step(s, e, g);
	expect_t         x = expect(s, e, g);
	bool             ok;
	char             gb[128], ab[256], xb[256];

	ok = r.rule.kind == x.kind;
	if (ok && x.kind == PSB_FSM_MOVE) {
		ok = r.rule.next == x.next && r.rule.actions == x.actions &&
		     r.rule.code == x.code;
	}
	if (ok && x.kind == PSB_FSM_REJECT) {
		ok = r.rule.code == x.code;
	}
	if (!ok && report) {
		print_error("%s --%s [%s]: table %s %s {%s} %s, expected %s "
		            "%s {%s} %s\n",
		        psb_state_name(s), psb_event_name(e),
		        fmt_guards(g, gb, sizeof(gb)), kind_name(r.rule.kind),
		        psb_state_name(r.rule.next),
		        fmt_actions(r.rule.actions, ab, sizeof(ab)),
		        psb_errname(r.rule.code), kind_name(x.kind),
		        psb_state_name(x.next),
		        fmt_actions(x.actions, xb, sizeof(xb)),
		        psb_errname(x.code));
	}
	return (ok);
}

// The table against expect() for every (state, event, guards); the first
// mismatch of each cell is printed.
static void
test_matches_independent_expectation(void **state)
{
	int bad = 0;

	(void)state;
	for (int s = 0; s < PSB_STATE_COUNT; s++) {
		for (int e = 0; e < PSB_EVENT_COUNT; e++) {
			int cell_bad = 0;

			for (uint32_t g = 0; g < GUARD_COMBOS; g++) {
				if (!table_agrees(s, e, g, cell_bad == 0)) {
					cell_bad++;
				}
			}
			bad += cell_bad;
		}
	}
	assert_int_equal(bad, 0);
}

static void
test_invalid_arguments_rejected(void **state)
{
	psb_fsm_result_t r;
	int              n = 7;

	(void)state;
	assert_int_equal(psb_fsm_step(PSB_STATE_COUNT, EV(START), 0, &r),
	        PSB_FSM_REJECT);
	assert_int_equal(r.rule.code, PSB_EINVAL);
	assert_int_equal(psb_fsm_step(ST(READY), PSB_EVENT_COUNT, 0, NULL),
	        PSB_FSM_REJECT);
	assert_non_null(psb_fsm_cell(PSB_STATE_COUNT, EV(START), &n));
	assert_int_equal(n, 0);
}

// Deadlines belong to the states that wait on something external, and
// those are exactly the states that are not settled.
static void
test_deadlines_not_settled(void **state)
{
	(void)state;
	for (int s = 0; s < PSB_STATE_COUNT; s++) {
		bool dl = s == ST(STARTING) || s == ST(STOPPING) ||
		          s == ST(DELETING);

		assert_int_equal(psb_state_has_deadline(s), dl);
		assert_int_equal(psb_fsm_settled(s), !dl);
	}
}

// Every PARK goes to a state with a deadline: a held request never sits
// in a state where nothing is in flight to answer it.
static void
test_park_only_into_deadline_states(void **state)
{
	(void)state;
	for (int s = 0; s < PSB_STATE_COUNT; s++) {
		for (int e = 0; e < PSB_EVENT_COUNT; e++) {
			const psb_fsm_rule_t *cell;
			int                   n;

			cell = psb_fsm_cell(s, e, &n);
			for (int i = 0; i < n; i++) {
				if ((cell[i].actions & A(PARK)) != 0) {
					assert_true(psb_state_has_deadline(
					        cell[i].next));
				}
			}
		}
	}
}

// Static version of fuzz invariant (g): explore every reachable
// (state, held requests, wanted Stop/Shutdown) and check that a held
// request never sits in a settled state and that from every reachable
// node some sequence of events answers each held request. Recovery events
// happen only at start-up, when nothing is held, so they are left out.

#define PK_START       1u
#define PK_STOP        2u
#define PK_SHUTDOWN    4u
#define NODE(s, pk, w) (((int)(s)*8 + (int)(pk)) * 4 + (int)(w))
#define NODE_COUNT     (PSB_STATE_COUNT * 8 * 4)

static int
park_next(int node, psb_event_t e, uint32_t free_g, uint32_t *answered)
{
	int              s  = node / 32;
	uint32_t         pk = (uint32_t)(node / 4) % 8;
	uint32_t         w  = (uint32_t)node % 4;
	uint32_t         g  = free_g;
	psb_fsm_result_t r;
	uint32_t         a;

	g |= ((w & 1u) != 0 ? G(WANT_STOP) : 0) |
	     ((w & 2u) != 0 ? G(WANT_SHUTDOWN) : 0);
	*answered = 0;
	if (psb_fsm_step(s, e, g, &r) != PSB_FSM_MOVE) {
		return (node);
	}
	a = r.rule.actions;
	if ((a & (A(INSERT) | A(REMOVE))) != 0) {
		w = 0;
	}
	if ((a & A(CLEAR_WANT)) != 0) {
		w = 0;
	}
	w |= ((a & A(SET_WANT_STOP)) != 0 ? 1u : 0) |
	     ((a & A(SET_WANT_SHUTDOWN)) != 0 ? 2u : 0);
	if ((a & A(PARK)) != 0) {
		pk |= e == EV(START)  ? PK_START
		      : e == EV(STOP) ? PK_STOP
		                      : PK_SHUTDOWN;
	}
	*answered = (((a & ANSWERS_START) != 0 ? PK_START : 0) |
	                    ((a & ANSWERS_STOP) != 0 ? PK_STOP : 0) |
	                    ((a & ANSWERS_SHUTDOWN) != 0 ? PK_SHUTDOWN : 0)) &
	            pk;
	pk &= ~*answered;
	return (NODE(r.rule.next, pk, w));
}

static void
test_park_always_answerable(void **state)
{
	static bool    reach[NODE_COUNT];
	static bool    can[3][NODE_COUNT];
	int            queue[NODE_COUNT], head = 0, tail = 0;
	const uint32_t free_guards[] = {0, G(SAME_CONFIG), G(ROLLED_BACK),
	        G(RETRY_LEFT), G(ROLLED_BACK) | G(RETRY_LEFT)};
	bool           changed;

	(void)state;
	memset(reach, 0, sizeof(reach));
	memset(can, 0, sizeof(can));
	reach[NODE(ST(NONE), 0, 0)] = true;
	queue[tail++]               = NODE(ST(NONE), 0, 0);
	while (head < tail) {
		int node = queue[head++];

		if (psb_fsm_settled(node / 32) && (node / 4) % 8 != 0) {
			print_error("requests %d held in settled %s\n",
			        (node / 4) % 8, psb_state_name(node / 32));
			fail();
		}
		for (int e = 0; e < PSB_EVENT_COUNT; e++) {
			if (psb_event_source(e) == PSB_SRC_RECOVERY) {
				continue;
			}
			for (size_t i = 0; i < 5; i++) {
				uint32_t ans;
				int      n = park_next(
				             node, e, free_guards[i], &ans);

				for (int k = 0; k < 3; k++) {
					if ((ans & (1u << k)) != 0) {
						can[k][node] = true;
					}
				}
				if (!reach[n]) {
					reach[n]      = true;
					queue[tail++] = n;
				}
			}
		}
	}
	// can[k][x]: from x, some path answers a held request of kind k.
	do {
		changed = false;
		for (int node = 0; node < NODE_COUNT; node++) {
			for (int e = 0; reach[node] && e < PSB_EVENT_COUNT;
			        e++) {
				for (size_t i = 0; i < 5; i++) {
					uint32_t ans;
					int      n = park_next(
					             node, e, free_guards[i], &ans);

					for (int k = 0; k < 3; k++) {
						if (!can[k][node] &&
						        can[k][n]) {
							can[k][node] = true;
							changed      = true;
						}
					}
				}
			}
		}
	} while (changed);
	for (int node = 0; node < NODE_COUNT; node++) {
		for (int k = 0; reach[node] && k < 3; k++) {
			if (((node / 4) % 8 & (1 << k)) != 0 &&
			        !can[k][node]) {
				print_error("%s with held kind %d (wants %d) "
				            "can never be answered\n",
				        psb_state_name(node / 32), k,
				        node % 4);
				fail();
			}
		}
	}
}

// ---------------------------------------------------------------------
// Names.
// ---------------------------------------------------------------------

static void
test_names_round_trip(void **state)
{
	(void)state;
	for (int s = 0; s < PSB_STATE_COUNT; s++) {
		assert_int_equal(psb_state_parse(psb_state_name(s)), s);
		assert_true(strlen(psb_state_desc(s)) > 0);
	}
	for (int e = 0; e < PSB_EVENT_COUNT; e++) {
		assert_int_equal(psb_event_parse(psb_event_name(e)), e);
		assert_true(strlen(psb_event_desc(e)) > 0);
		assert_string_not_equal(
		        psb_event_source_name(psb_event_source(e)), "?");
	}
	for (int g = 0; g < PSB_GUARD_COUNT; g++) {
		assert_string_not_equal(psb_guard_name(g), "?");
		assert_string_not_equal(psb_guard_desc(g), "?");
	}
	for (int a = 0; a < PSB_ACTION_COUNT; a++) {
		assert_string_not_equal(psb_action_name(a), "?");
		assert_string_not_equal(psb_action_desc(a), "?");
	}
	assert_string_equal(psb_state_name(ST(READY)), "READY");
	assert_string_equal(psb_event_name(EV(TASK_EXIT)), "TASK_EXIT");
	assert_int_equal(psb_state_parse("ready"), -1);
	assert_int_equal(psb_state_parse(NULL), -1);
	assert_int_equal(psb_event_parse("NOPE"), -1);
	assert_string_equal(psb_state_name(PSB_STATE_COUNT), "?");
	assert_string_equal(psb_event_name(PSB_EVENT_COUNT), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_table_total),
	        cmocka_unit_test(test_rules_well_formed),
	        cmocka_unit_test(test_api_events_always_answered),
	        cmocka_unit_test(test_background_events_never_rejected),
	        cmocka_unit_test(test_matches_independent_expectation),
	        cmocka_unit_test(test_invalid_arguments_rejected),
	        cmocka_unit_test(test_deadlines_not_settled),
	        cmocka_unit_test(test_park_only_into_deadline_states),
	        cmocka_unit_test(test_park_always_answerable),
	        cmocka_unit_test(test_names_round_trip),
	};

	return (psb_test_run_group(tests, NULL, NULL));
}
