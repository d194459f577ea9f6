//
// podsandboxd - the sandbox state machine as data (DESIGN.md §3, STYLE.md
// practice 11).
//
// States, events, guards and actions are X-macro lists (*.def) and the
// transitions are one static const table in fsm.c. psb_fsm_step is pure:
// no I/O, no allocation, no libev. It is the only code that decides a next
// state; the controller (core/) carries out the returned actions.
//
// All functions here are pure and may be called from any thread.
//

#ifndef PSB_FSM_H
#define PSB_FSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum psb_state {
#define PSB_STATE(name, dl, desc) PSB_ST_##name,
#include "fsm/states.def"
#undef PSB_STATE
	PSB_STATE_COUNT
} psb_state_t;

typedef enum psb_event {
#define PSB_EVENT(name, src, desc) PSB_EV_##name,
#include "fsm/events.def"
#undef PSB_EVENT
	PSB_EVENT_COUNT
} psb_event_t;

// Guard and action bits: PSB_G_<NAME> and PSB_A_<NAME>.
enum {
#define PSB_GUARD(name, desc) PSB_GBIT_##name,
#include "fsm/guards.def"
#undef PSB_GUARD
	PSB_GUARD_COUNT
};
enum {
#define PSB_GUARD(name, desc) PSB_G_##name = 1u << PSB_GBIT_##name,
#include "fsm/guards.def"
#undef PSB_GUARD
};
enum {
#define PSB_ACTION(name, desc) PSB_ABIT_##name,
#include "fsm/actions.def"
#undef PSB_ACTION
	PSB_ACTION_COUNT
};
enum {
#define PSB_ACTION(name, desc) PSB_A_##name = 1u << PSB_ABIT_##name,
#include "fsm/actions.def"
#undef PSB_ACTION
};

// Where an event comes from.
typedef enum psb_event_source {
	PSB_SRC_API,
	PSB_SRC_RUNTIME,
	PSB_SRC_TIMER,
	PSB_SRC_RECOVERY,
} psb_event_source_t;

// One alternative of a table cell. code is 0 for a transition, or a
// negative psb_err: for a rejection (kind REJECT) it is the error the
// request gets; for START_ERR/STOP_ERR/SHUTDOWN_ERR actions it is the
// error the held requests get.
typedef enum psb_fsm_kind {
	PSB_FSM_EMPTY = 0, // no alternative (a hole in the table; a bug)
	PSB_FSM_MOVE,      // go to next, carry out actions
	PSB_FSM_REJECT,    // change nothing; a request gets code
	PSB_FSM_IGNORE,    // change nothing; a runtime/timer event is dropped
} psb_fsm_kind_t;

typedef struct psb_fsm_rule {
	uint32_t       guards;  // required PSB_G_* bits (all must hold)
	psb_fsm_kind_t kind;    //
	psb_state_t    next;    // for MOVE
	uint32_t       actions; // PSB_A_* bits, for MOVE
	int            code;    // see above
} psb_fsm_rule_t;

#define PSB_FSM_MAX_ALTS 5

// The result of a step: the chosen rule (a copy) and its index in the
// cell, -1 when the event was rejected for being stale before the table
// was consulted.
typedef struct psb_fsm_result {
	psb_fsm_rule_t rule;
	int            alt;
} psb_fsm_result_t;

// psb_fsm_step decides what event does to a sandbox in state, given the
// guard bits the controller computed. A stale runtime or timer event (guard
// PSB_G_STALE) is ignored in every state before the table is consulted.
// Returns the kind of the chosen rule; res (if not NULL) gets a copy.
psb_fsm_kind_t psb_fsm_step(psb_state_t state, psb_event_t event,
        uint32_t guards, psb_fsm_result_t *res);

// psb_fsm_cell returns the alternatives of (state, event) and their count
// (for docs, tests and fuzzers). Never NULL for valid arguments.
const psb_fsm_rule_t *psb_fsm_cell(
        psb_state_t state, psb_event_t event, int *count);

// Names, descriptions and metadata from the .def lists (static strings).
const char        *psb_state_name(psb_state_t s);
const char        *psb_state_desc(psb_state_t s);
bool               psb_state_has_deadline(psb_state_t s);
const char        *psb_event_name(psb_event_t e);
const char        *psb_event_desc(psb_event_t e);
psb_event_source_t psb_event_source(psb_event_t e);
const char        *psb_event_source_name(psb_event_source_t src);
const char        *psb_guard_name(int bit);
const char        *psb_guard_desc(int bit);
const char        *psb_action_name(int bit);
const char        *psb_action_desc(int bit);

// psb_fsm_guards_str and psb_fsm_actions_str write the names of the set
// bits, joined by sep, into buf (len > 0; truncated to fit, always
// terminated) and return buf. psb_fsm_kind_name names a rule kind.
const char *psb_fsm_guards_str(
        uint32_t g, const char *sep, char *buf, size_t len);
const char *psb_fsm_actions_str(
        uint32_t a, const char *sep, char *buf, size_t len);
const char *psb_fsm_kind_name(psb_fsm_kind_t k);

// psb_state_parse maps a persisted name ("READY") back; -1 if unknown.
int psb_state_parse(const char *name);
int psb_event_parse(const char *name);

// psb_fsm_settled is true for states with nothing in flight (CREATED,
// READY, EXITED, UNKNOWN, NONE).
bool psb_fsm_settled(psb_state_t s);

#endif // PSB_FSM_H
