//
// podsandboxd - helpers shared by the FSM tests: formatting of guard and
// action sets, single-cell checks, and sim_t, a tiny controller model that
// applies rules as the real controller does (for history tests).
//

#ifndef PSB_TESTS_FSM_CHECK_H
#define PSB_TESTS_FSM_CHECK_H

#include "tests/harness/testing.h"

#include <stdio.h>
#include <string.h>

#include "base/error.h"
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

static inline const char *
fmt_guards(uint32_t g, char *buf, size_t len)
{
	return (psb_fsm_guards_str(g, ",", buf, len));
}

static inline const char *
fmt_actions(uint32_t a, char *buf, size_t len)
{
	return (psb_fsm_actions_str(a, ",", buf, len));
}

#define kind_name psb_fsm_kind_name

static inline psb_fsm_result_t
step(psb_state_t s, psb_event_t e, uint32_t g)
{
	psb_fsm_result_t r;

	psb_fsm_step(s, e, g, &r);
	return (r);
}

// check_rule fails the test with a readable line unless (s, e, g) gives
// kind, and for MOVE also next and exactly the actions acts; for REJECT
// the code.
static inline void
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

static inline void
check_move(psb_state_t s, psb_event_t e, uint32_t g, psb_state_t next,
        uint32_t acts)
{
	check_rule(s, e, g, PSB_FSM_MOVE, next, acts, 0);
}

static inline void
check_reject(psb_state_t s, psb_event_t e, uint32_t g, int code)
{
	check_rule(s, e, g, PSB_FSM_REJECT, ST(NONE), 0, code);
}

static inline void
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

static inline void
sim_init(sim_t *s, psb_state_t st)
{
	memset(s, 0, sizeof(*s));
	s->state = st;
}

static inline psb_fsm_kind_t
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

static inline bool
is_api_event(psb_event_t e)
{
	return (e == EV(CREATE) || e == EV(START) || e == EV(STOP) ||
	        e == EV(SHUTDOWN));
}

#endif // PSB_TESTS_FSM_CHECK_H
