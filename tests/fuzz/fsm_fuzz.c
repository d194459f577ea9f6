//
// podsandboxd - random event sequences against the state machine's
// invariants (STYLE.md practice 21).
//
// The input is a list of 2-byte steps over FZ_SANDBOXES simulated
// sandboxes (a trailing odd byte is ignored):
//
//   byte 0  bits 0-1  sandbox index
//           bits 2-7  event (modulo PSB_EVENT_COUNT)
//   byte 1  bit 0     the event is for an older start generation
//                     (runtime/timer events); on a request the STALE bit
//                     is set anyway and must make no difference
//           bit 1     CREATE carries the config the sandbox already has
//           bit 2     START_FAILED: the runtime rolled everything back
//
// Each sandbox has a tiny model of what the controller keeps, changed
// only by the rules psb_fsm_step returns (as the controller would carry
// them out), and guards are computed from it as the controller would.
// A recovery event means the daemon restarted: requests held before are
// gone with their connections. A broken invariant prints the sandbox's
// recent steps and calls abort(), so libFuzzer reports it; fuzz_main.c
// replays inputs without libFuzzer.
//

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsm/fsm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_SANDBOXES 4
#define FZ_RETRIES   5  // deadlines per state before RETRY_LEFT is false
#define FZ_TRACE     48 // steps kept per sandbox for failure reports

// Held request kinds.
#define FZ_PK_START    1u
#define FZ_PK_STOP     2u
#define FZ_PK_SHUTDOWN 4u

typedef struct fz_step {
	psb_state_t      from;
	psb_event_t      event;
	uint32_t         guards;
	psb_fsm_result_t res;
} fz_step_t;

typedef struct fz_model {
	psb_state_t state;
	uint32_t    gen; // start generation
	bool        want_stop;
	bool        want_shutdown;
	unsigned    retries; // DEADLINEs that stayed in this state
	unsigned    exits;   // RECORD_EXITs in this generation
	bool        removed; // a REMOVE ended the row
	uint32_t    parked;  // FZ_PK_* held requests
	unsigned    ntrace;
	fz_step_t   trace[FZ_TRACE];
} fz_model_t;

#ifdef PSB_FUZZ_LIBFUZZER
// Which rule fired is data, not code, so libFuzzer's edge coverage cannot
// see it. Extra counters (a section libFuzzer scans) give it one feature
// per (state, event, alternative, wants, requests held).
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t
        fz_cov[PSB_STATE_COUNT][PSB_EVENT_COUNT][PSB_FSM_MAX_ALTS + 1][4][2];
#endif

// fz_fail reports a broken invariant with the sandbox's recent steps and
// aborts.
static void
fz_fail(const fz_model_t *m, int sb, const char *what)
{
	unsigned first = m->ntrace > FZ_TRACE ? m->ntrace - FZ_TRACE : 0;
	char     buf[1024];

	fprintf(stderr, "fsm_fuzz: sandbox %d: invariant broken: %s\n", sb,
	        what);
	fprintf(stderr, "fsm_fuzz: last %u steps (gen %u, exits %u):\n",
	        m->ntrace - first, m->gen, m->exits);
	for (unsigned i = first; i < m->ntrace; i++) {
		const fz_step_t *t = &m->trace[i % FZ_TRACE];

		fprintf(stderr, "  %s --%s [", psb_state_name(t->from),
		        psb_event_name(t->event));
		fputs(psb_fsm_guards_str(t->guards, ",", buf, sizeof(buf)),
		        stderr);
		fprintf(stderr, "]--> %s %s {",
		        psb_fsm_kind_name(t->res.rule.kind),
		        t->res.rule.kind == PSB_FSM_MOVE
		                ? psb_state_name(t->res.rule.next)
		                : "-");
		fputs(psb_fsm_actions_str(
		              t->res.rule.actions, ",", buf, sizeof(buf)),
		        stderr);
		fprintf(stderr, "}\n");
	}
	abort();
}

static uint32_t
fz_request_kind(psb_event_t e)
{
	switch (e) {
	case PSB_EV_START: return (FZ_PK_START);
	case PSB_EV_STOP: return (FZ_PK_STOP);
	case PSB_EV_SHUTDOWN: return (FZ_PK_SHUTDOWN);
	default: return (0);
	}
}

static void
fz_model_fresh(fz_model_t *m, psb_state_t state)
{
	m->state         = state;
	m->want_stop     = false;
	m->want_shutdown = false;
	m->retries       = 0;
	m->exits         = 0;
	m->removed       = false;
	m->parked        = 0;
}

static bool
fz_model_equal(const fz_model_t *a, const fz_model_t *b)
{
	return (a->state == b->state && a->gen == b->gen &&
	        a->want_stop == b->want_stop &&
	        a->want_shutdown == b->want_shutdown &&
	        a->retries == b->retries && a->exits == b->exits &&
	        a->removed == b->removed && a->parked == b->parked);
}

// fz_guards computes what the controller would know before the step.
static uint32_t
fz_guards(const fz_model_t *m, psb_event_t e, uint8_t payload)
{
	psb_event_source_t src = psb_event_source(e);
	uint32_t           g   = 0;

	if ((payload & 1u) != 0) {
		// A runtime event or timer of an older generation; a
		// request carries no generation, and the bit must not
		// matter for it.
		if (src == PSB_SRC_API ||
		        ((src == PSB_SRC_RUNTIME || src == PSB_SRC_TIMER) &&
		                m->gen > 0)) {
			g |= PSB_G_STALE;
		}
	}
	if (e == PSB_EV_CREATE && (payload & 2u) != 0) {
		g |= PSB_G_SAME_CONFIG;
	}
	if (e == PSB_EV_START_FAILED && (payload & 4u) != 0) {
		g |= PSB_G_ROLLED_BACK;
	}
	g |= m->want_stop ? PSB_G_WANT_STOP : 0;
	g |= m->want_shutdown ? PSB_G_WANT_SHUTDOWN : 0;
	g |= m->retries < FZ_RETRIES ? PSB_G_RETRY_LEFT : 0;
	g |= m->exits > 0 ? PSB_G_EXIT_RECORDED : 0;
	return (g);
}

// fz_apply carries out a rule as the controller would: every action the
// rule lists (whatever its kind, so that a REJECT or IGNORE with actions
// would show), and the next state for a MOVE.
static void
fz_apply(fz_model_t *m, int sb, psb_event_t e, const psb_fsm_rule_t *r)
{
	uint32_t a = r->actions;

	if ((a & PSB_A_INSERT) != 0) {
		fz_model_fresh(m, PSB_ST_CREATED);
	}
	if ((a & PSB_A_REMOVE) != 0) {
		m->removed = true;
	}
	if ((a & PSB_A_NEW_GENERATION) != 0) {
		m->gen++;
		m->exits = 0;
	}
	if ((a & PSB_A_RECORD_EXIT) != 0) {
		if (m->exits > 0) {
			fz_fail(m, sb,
			        "(b) a second RECORD_EXIT in one start "
			        "generation");
		}
		m->exits++;
	}
	if ((a & PSB_A_CLEAR_WANT) != 0) {
		m->want_stop     = false;
		m->want_shutdown = false;
	}
	m->want_stop |= (a & PSB_A_SET_WANT_STOP) != 0;
	m->want_shutdown |= (a & PSB_A_SET_WANT_SHUTDOWN) != 0;
	if ((a & PSB_A_PARK) != 0) {
		m->parked |= fz_request_kind(e);
	}
	if ((a & (PSB_A_START_DONE | PSB_A_START_ERR)) != 0) {
		m->parked &= ~FZ_PK_START;
	}
	if ((a & (PSB_A_STOP_DONE | PSB_A_STOP_ERR)) != 0) {
		m->parked &= ~FZ_PK_STOP;
	}
	if ((a & (PSB_A_SHUTDOWN_DONE | PSB_A_SHUTDOWN_ERR)) != 0) {
		m->parked &= ~FZ_PK_SHUTDOWN;
	}
	if (r->kind == PSB_FSM_MOVE) {
		if (r->next != m->state) {
			m->retries = 0;
		} else if (e == PSB_EV_DEADLINE) {
			m->retries++;
		}
		m->state = r->next;
	}
}

// fz_check_answer: (e) a request gets exactly one of REPLY, PARK, REJECT;
// a runtime/timer/recovery event is never rejected and answers nobody.
static void
fz_check_answer(
        const fz_model_t *m, int sb, psb_event_t e, const psb_fsm_rule_t *r)
{
	uint32_t answer = r->actions & (PSB_A_REPLY | PSB_A_PARK);
	bool     one;

	if (psb_event_source(e) != PSB_SRC_API) {
		if (r->kind == PSB_FSM_REJECT || answer != 0 ||
		        (r->actions & PSB_A_INSERT) != 0) {
			fz_fail(m, sb,
			        "(e) a runtime event was answered or "
			        "rejected");
		}
		return;
	}
	switch (r->kind) {
	case PSB_FSM_REJECT: one = r->code < 0 && answer == 0; break;
	case PSB_FSM_MOVE:
		one = answer == PSB_A_REPLY || answer == PSB_A_PARK;
		break;
	default: one = false; break;
	}
	if (!one) {
		fz_fail(m, sb, "(e) a request got no answer or two answers");
	}
}

static void
fz_check_step(const fz_model_t *before, const fz_model_t *m, int sb,
        psb_event_t e, uint32_t g, const psb_fsm_rule_t *r)
{
	if (r->kind == PSB_FSM_EMPTY ||
	        (r->kind == PSB_FSM_MOVE &&
	                (unsigned)r->next >= PSB_STATE_COUNT)) {
		fz_fail(m, sb, "a hole or a bad next state in the table");
	}
	// (a) REJECT and IGNORE change nothing.
	if (r->kind != PSB_FSM_MOVE &&
	        (r->actions != 0 || !fz_model_equal(before, m))) {
		fz_fail(m, sb, "(a) a REJECT/IGNORE changed the model");
	}
	if ((g & PSB_G_STALE) != 0 && psb_event_source(e) != PSB_SRC_API &&
	        r->kind != PSB_FSM_IGNORE) {
		fz_fail(m, sb, "a stale event was not ignored");
	}
	fz_check_answer(m, sb, e, r);
	// (c) Once there is no row, only CREATE makes one, as a fresh
	// sandbox.
	if (before->state == PSB_ST_NONE) {
		if (e != PSB_EV_CREATE && m->state != PSB_ST_NONE) {
			fz_fail(m, sb,
			        "(c) an event other than CREATE left NONE");
		}
		if (e == PSB_EV_CREATE &&
		        (r->kind != PSB_FSM_MOVE ||
		                m->state != PSB_ST_CREATED ||
		                (r->actions & PSB_A_INSERT) == 0 ||
		                m->removed || m->want_stop ||
		                m->want_shutdown || m->exits != 0 ||
		                m->retries != 0)) {
			fz_fail(m, sb,
			        "(c) CREATE did not make a fresh sandbox");
		}
	}
	if ((r->actions & PSB_A_REMOVE) != 0 && m->state != PSB_ST_NONE) {
		fz_fail(m, sb, "(c) REMOVE without going to NONE");
	}
	// (d) Only START in CREATED starts the runtime.
	if ((r->actions & (PSB_A_RT_START | PSB_A_NEW_GENERATION)) != 0 &&
	        (e != PSB_EV_START || before->state != PSB_ST_CREATED)) {
		fz_fail(m, sb, "(d) RT_START outside START in CREATED");
	}
	// (f) A state with a deadline has something in flight.
	if (psb_state_has_deadline(m->state) && psb_fsm_settled(m->state)) {
		fz_fail(m, sb, "(f) a state with a deadline is settled");
	}
	// (g) A held request is never left in a settled state, where
	// nothing in flight (and no deadline) would ever answer it.
	if (psb_fsm_settled(m->state) && m->parked != 0) {
		fz_fail(m, sb, "(g) a request is held in a settled state");
	}
}

static void
fz_step(fz_model_t *m, int sb, psb_event_t e, uint8_t payload)
{
	fz_model_t       before;
	fz_step_t       *t;
	uint32_t         g;
	psb_fsm_result_t res;

	if (psb_event_source(e) == PSB_SRC_RECOVERY) {
		m->parked = 0; // a restart: held requests are gone
	}
	g = fz_guards(m, e, payload);
	psb_fsm_step(m->state, e, g, &res);
	t         = &m->trace[m->ntrace++ % FZ_TRACE];
	t->from   = m->state;
	t->event  = e;
	t->guards = g;
	t->res    = res;
#ifdef PSB_FUZZ_LIBFUZZER
	fz_cov[m->state][e][res.alt + 1]
	      [(m->want_stop ? 1 : 0) | (m->want_shutdown ? 2 : 0)]
	      [m->parked != 0 ? 1 : 0]++;
#endif
	if (psb_event_source(e) == PSB_SRC_API && (g & PSB_G_STALE) != 0) {
		psb_fsm_result_t plain;

		psb_fsm_step(m->state, e, g & ~PSB_G_STALE, &plain);
		if (memcmp(&plain, &res, sizeof(res)) != 0) {
			fz_fail(m, sb, "STALE changed a request's outcome");
		}
	}
	before = *m;
	fz_apply(m, sb, e, &res.rule);
	fz_check_step(&before, m, sb, e, g, &res.rule);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static fz_model_t sbs[FZ_SANDBOXES];

	for (int i = 0; i < FZ_SANDBOXES; i++) {
		memset(&sbs[i], 0, sizeof(sbs[i]));
		fz_model_fresh(&sbs[i], PSB_ST_NONE);
	}
	for (size_t i = 0; i + 1 < size; i += 2) {
		int         sb = data[i] & 3;
		psb_event_t e =
		        (psb_event_t)((data[i] >> 2) % PSB_EVENT_COUNT);

		fz_step(&sbs[sb], sb, e, data[i + 1]);
	}
	return (0);
}
