//
// podsandboxd - unit tests of the sandbox state machine (DESIGN.md §3).
//
// Three layers. First, structural checks of the table as data: it is
// total, every rule is well formed, every request gets an answer. Second,
// expect(): the semantics written out again by hand as if-chains, without
// looking at the table, and compared with psb_fsm_step for every state,
// event and guard combination; a typo in either shows up as a mismatch.
// Third, one named test per "Required behaviour" bullet of DESIGN.md §3,
// some of them as short event sequences through a tiny simulated
// controller (sim_t), because a bullet such as "duplicate exits are
// ignored" is about histories, not single cells.
//

#include "tests/harness/testing.h"

#include <stdio.h>
#include <string.h>

#include "core/base/error.h"
#include "fsm/fsm.h"

#define ST(x) PSB_ST_##x
#define EV(x) PSB_EV_##x
#define A(x)  PSB_A_##x
#define G(x)  PSB_G_##x

#define GUARD_COMBOS (1u << PSB_GUARD_COUNT)

// The actions that answer a held (parked) request of each API kind.
#define ANSWERS_START    (A(START_DONE) | A(START_ERR))
#define ANSWERS_STOP     (A(STOP_DONE) | A(STOP_ERR))
#define ANSWERS_SHUTDOWN (A(SHUTDOWN_DONE) | A(SHUTDOWN_ERR))

// ---------------------------------------------------------------------
// Formatting for failure messages.
// ---------------------------------------------------------------------

static const char *
fmt_bits(uint32_t bits, int count, const char *(*name)(int), char *buf,
        size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < count; i++) {
		int n;

		if ((bits & (1u << i)) == 0) {
			continue;
		}
		n = snprintf(buf + used, len - used, "%s%s",
		        used > 0 ? "," : "", name(i));
		if (n < 0 || (size_t)n >= len - used) {
			break;
		}
		used += (size_t)n;
	}
	return (buf);
}

static const char *
fmt_guards(uint32_t g, char *buf, size_t len)
{
	return (fmt_bits(g, PSB_GUARD_COUNT, psb_guard_name, buf, len));
}

static const char *
fmt_actions(uint32_t a, char *buf, size_t len)
{
	return (fmt_bits(a, PSB_ACTION_COUNT, psb_action_name, buf, len));
}

static const char *
kind_name(psb_fsm_kind_t k)
{
	switch (k) {
	case PSB_FSM_EMPTY: return ("EMPTY");
	case PSB_FSM_MOVE: return ("MOVE");
	case PSB_FSM_REJECT: return ("REJECT");
	case PSB_FSM_IGNORE: return ("IGNORE");
	}
	return ("?");
}

static psb_fsm_result_t
step(psb_state_t s, psb_event_t e, uint32_t g)
{
	psb_fsm_result_t r;

	psb_fsm_step(s, e, g, &r);
	return (r);
}

// check_rule fails the test with a readable line unless (s, e, g) gives
// kind, and for MOVE also next and exactly the actions acts; for REJECT
// the code.
static void
check_rule(psb_state_t s, psb_event_t e, uint32_t g, psb_fsm_kind_t kind,
        psb_state_t next, uint32_t acts, int code)
{
	psb_fsm_result_t r = step(s, e, g);
	bool             ok;
	char             gb[128], ab[256], wb[256];

	ok = r.rule.kind == kind;
	if (ok && kind == PSB_FSM_MOVE) {
		ok = r.rule.next == next && r.rule.actions == acts;
	}
	if (ok && kind == PSB_FSM_REJECT) {
		ok = r.rule.code == code;
	}
	if (!ok) {
		print_error("%s --%s [%s]--> got %s %s {%s} %s, want %s %s "
		            "{%s} %s\n",
		        psb_state_name(s), psb_event_name(e),
		        fmt_guards(g, gb, sizeof(gb)), kind_name(r.rule.kind),
		        psb_state_name(r.rule.next),
		        fmt_actions(r.rule.actions, ab, sizeof(ab)),
		        psb_errname(r.rule.code), kind_name(kind),
		        psb_state_name(next),
		        fmt_actions(acts, wb, sizeof(wb)), psb_errname(code));
		fail();
	}
}

static void
check_move(psb_state_t s, psb_event_t e, uint32_t g, psb_state_t next,
        uint32_t acts)
{
	check_rule(s, e, g, PSB_FSM_MOVE, next, acts, 0);
}

static void
check_reject(psb_state_t s, psb_event_t e, uint32_t g, int code)
{
	check_rule(s, e, g, PSB_FSM_REJECT, ST(NONE), 0, code);
}

static void
check_ignore(psb_state_t s, psb_event_t e, uint32_t g)
{
	check_rule(s, e, g, PSB_FSM_IGNORE, ST(NONE), 0, 0);
}

// ---------------------------------------------------------------------
// A tiny controller for sequence tests: it keeps what the real one keeps
// (state, wanted Stop/Shutdown, exits recorded in this generation, held
// requests) and changes it only as the returned rule says.
// ---------------------------------------------------------------------

typedef struct sim {
	psb_state_t      state;
	uint32_t         wants;    // G(WANT_STOP) | G(WANT_SHUTDOWN)
	int              exits;    // RECORD_EXIT in the current generation
	int              gen;      // start generation
	uint32_t         parked;   // ANSWERS_* masks of held requests
	uint32_t         answered; // answers given by the last step
	psb_fsm_result_t last;
} sim_t;

static void
sim_init(sim_t *s, psb_state_t st)
{
	memset(s, 0, sizeof(*s));
	s->state = st;
}

static psb_fsm_kind_t
sim_step(sim_t *s, psb_event_t e, uint32_t extra)
{
	uint32_t a;

	// Guards as the controller computes them from its record.
	psb_fsm_step(s->state, e,
	        s->wants | extra | (s->exits > 0 ? G(EXIT_RECORDED) : 0),
	        &s->last);
	s->answered = 0;
	if (s->last.rule.kind != PSB_FSM_MOVE) {
		return (s->last.rule.kind);
	}
	a = s->last.rule.actions;
	if ((a & A(INSERT)) != 0) {
		sim_init(s, ST(CREATED));
	}
	if ((a & A(NEW_GENERATION)) != 0) {
		s->gen++;
		s->exits = 0;
	}
	if ((a & A(RECORD_EXIT)) != 0) {
		s->exits++;
	}
	if ((a & A(CLEAR_WANT)) != 0) {
		s->wants = 0;
	}
	if ((a & A(SET_WANT_STOP)) != 0) {
		s->wants |= G(WANT_STOP);
	}
	if ((a & A(SET_WANT_SHUTDOWN)) != 0) {
		s->wants |= G(WANT_SHUTDOWN);
	}
	if ((a & A(PARK)) != 0) {
		s->parked |= e == EV(START)  ? ANSWERS_START
		             : e == EV(STOP) ? ANSWERS_STOP
		                             : ANSWERS_SHUTDOWN;
	}
	s->answered = a & s->parked;
	if ((a & ANSWERS_START) != 0) {
		s->parked &= ~ANSWERS_START;
	}
	if ((a & ANSWERS_STOP) != 0) {
		s->parked &= ~ANSWERS_STOP;
	}
	if ((a & ANSWERS_SHUTDOWN) != 0) {
		s->parked &= ~ANSWERS_SHUTDOWN;
	}
	s->state = s->last.rule.next;
	return (PSB_FSM_MOVE);
}

// ---------------------------------------------------------------------
// The independent expectation. Written from DESIGN.md §3 by hand; it
// must not consult psb_fsm_cell or psb_event_source.
// ---------------------------------------------------------------------

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

static bool
is_api_event(psb_event_t e)
{
	return (e == EV(CREATE) || e == EV(START) || e == EV(STOP) ||
	        e == EV(SHUTDOWN));
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
		if (shut) {
			return (ex_move(ST(DELETING),
			        A(START_ERR) | A(STOP_DONE) | A(RT_DELETE) |
			                A(CLEAR_WANT)));
		}
		if (stop) {
			return (ex_move(ST(STOPPING),
			        A(START_ERR) | A(RT_KILL) | A(CLEAR_WANT)));
		}
		return (ex_move(ST(UNKNOWN), A(START_ERR)));
	}
	if (e == EV(TASK_EXIT)) {
		uint32_t a = A(RECORD_EXIT) | A(START_ERR) | A(STOP_DONE) |
		             A(WAKE_WAITERS) | A(CLEAR_WANT);

		if (shut) {
			return (ex_move_err(
			        ST(DELETING), a | A(RT_DELETE), PSB_ERUNTIME));
		}
		return (ex_move_err(ST(EXITED), a, PSB_ERUNTIME));
	}
	if (e == EV(DEADLINE)) {
		if (shut) {
			return (ex_move_err(ST(DELETING),
			        A(START_ERR) | A(STOP_DONE) | A(RT_DELETE) |
			                A(CLEAR_WANT),
			        PSB_ETIMEDOUT));
		}
		if (stop) {
			return (ex_move_err(ST(STOPPING),
			        A(START_ERR) | A(RT_KILL) | A(CLEAR_WANT),
			        PSB_ETIMEDOUT));
		}
		return (ex_move_err(ST(UNKNOWN), A(START_ERR), PSB_ETIMEDOUT));
	}
	// Recovered mid-start: FOUND_RUNNING settles like START_OK,
	// FOUND_EXITED like TASK_EXIT, FOUND_NOTHING like a rolled-back
	// failure (ERUNTIME), RUNTIME_UNREACHABLE like DEADLINE (EUNAVAIL).
	if (e == EV(FOUND_RUNNING)) {
		if (shut || stop) {
			return (ex_move(ST(STOPPING),
			        A(RECORD_PID) | A(START_DONE) | A(RT_KILL)));
		}
		return (ex_move(ST(READY), A(RECORD_PID) | A(START_DONE)));
	}
	if (e == EV(FOUND_EXITED)) {
		uint32_t x = A(RECORD_EXIT) | A(START_ERR) | A(STOP_DONE) |
		             A(WAKE_WAITERS) | A(CLEAR_WANT);

		if (shut) {
			return (ex_move_err(
			        ST(DELETING), x | A(RT_DELETE), PSB_ERUNTIME));
		}
		return (ex_move_err(ST(EXITED), x, PSB_ERUNTIME));
	}
	if (e == EV(FOUND_NOTHING)) {
		uint32_t x = A(START_ERR) | A(STOP_DONE) | A(CLEAR_WANT);

		if (shut) {
			return (ex_move_err(
			        ST(DELETING), x | A(RT_DELETE), PSB_ERUNTIME));
		}
		return (ex_move_err(ST(CREATED), x, PSB_ERUNTIME));
	}
	if (e == EV(RUNTIME_UNREACHABLE)) {
		if (shut) {
			return (ex_move_err(ST(DELETING),
			        A(START_ERR) | A(STOP_DONE) | A(RT_DELETE) |
			                A(CLEAR_WANT),
			        PSB_EUNAVAIL));
		}
		if (stop) {
			return (ex_move_err(ST(STOPPING),
			        A(START_ERR) | A(RT_KILL) | A(CLEAR_WANT),
			        PSB_EUNAVAIL));
		}
		return (ex_move_err(ST(UNKNOWN), A(START_ERR), PSB_EUNAVAIL));
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

static expect_t
expect_stopping(psb_event_t e, uint32_t g)
{
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
	if (e == EV(DEADLINE)) {
		if ((g & G(RETRY_LEFT)) != 0) {
			return (ex_move(
			        ST(STOPPING), A(RT_KILL) | A(BACKOFF)));
		}
		return (ex_move_err(ST(UNKNOWN),
		        A(STOP_ERR) | A(SHUTDOWN_ERR) | A(CLEAR_WANT),
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
		return (ex_move_err(ST(UNKNOWN),
		        A(STOP_ERR) | A(SHUTDOWN_ERR) | A(CLEAR_WANT),
		        PSB_EUNAVAIL));
	}
	return (ex_ignore()); // START_OK, START_FAILED, DELETE_*
}

static expect_t
expect_exited(psb_event_t e)
{
	if (e == EV(FOUND_RUNNING)) {
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
		if (exited) {
			return (ex_move(ST(EXITED), 0));
		}
		return (ex_move(ST(EXITED), A(RECORD_EXIT) | A(WAKE_WAITERS)));
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
		return (ex_move(ST(NONE), A(REMOVE) | A(SHUTDOWN_DONE) |
		                                  A(STOP_DONE) |
		                                  A(WAKE_WAITERS)));
	}
	if (e == EV(DELETE_FAILED)) {
		return (ex_move(ST(DELETING), A(BACKOFF)));
	}
	if (e == EV(DEADLINE)) {
		if ((g & G(RETRY_LEFT)) != 0) {
			return (ex_move(
			        ST(DELETING), A(RT_DELETE) | A(BACKOFF)));
		}
		return (ex_move_err(ST(UNKNOWN), A(SHUTDOWN_ERR) | A(STOP_ERR),
		        PSB_ETIMEDOUT));
	}
	if (e == EV(FOUND_RUNNING) || e == EV(FOUND_EXITED) ||
	        e == EV(FOUND_NOTHING)) {
		return (ex_move(ST(DELETING), A(RT_DELETE)));
	}
	if (e == EV(RUNTIME_UNREACHABLE)) {
		return (ex_move_err(ST(UNKNOWN),
		        A(SHUTDOWN_ERR) | A(STOP_ERR) | A(CLEAR_WANT),
		        PSB_EUNAVAIL));
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
	assert_int_equal(sim_step(&sb, EV(START_OK), 0), PSB_FSM_IGNORE);
	assert_int_equal(sim_step(&sb, EV(START_FAILED), 0), PSB_FSM_IGNORE);
	assert_int_equal(sb.state, ST(EXITED));
	// With a Shutdown held, the exit goes straight on to deleting.
	check_move(ST(STARTING), EV(TASK_EXIT), G(WANT_SHUTDOWN), ST(DELETING),
	        A(RECORD_EXIT) | A(START_ERR) | A(STOP_DONE) |
	                A(WAKE_WAITERS) | A(RT_DELETE) | A(CLEAR_WANT));
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
	check_ignore(ST(EXITED), EV(START_OK), 0);
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
	assert_int_equal(sb.wants, 0);
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

// Only exit observations record an exit, and a runtime exit always wakes
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
				assert_true(e == EV(TASK_EXIT) ||
				            e == EV(FOUND_EXITED) ||
				            e == EV(FOUND_NOTHING));
				assert_true(r.rule.next == ST(EXITED) ||
				            r.rule.next == ST(DELETING));
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
	check_move(ST(DELETING), EV(DELETE_OK), 0, ST(NONE),
	        A(REMOVE) | A(SHUTDOWN_DONE) | A(STOP_DONE) | A(WAKE_WAITERS));
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
	        A(SHUTDOWN_ERR) | A(STOP_ERR), 0);
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
	        cmocka_unit_test(test_removed_only_create_leaves_none),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
