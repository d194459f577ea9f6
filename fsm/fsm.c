//
// podsandboxd - the sandbox transition table and the pure step function.
//
// This file is the only place that decides a sandbox's next state
// (DESIGN.md §3). Each cell [state][event] lists up to PSB_FSM_MAX_ALTS
// alternatives; the first whose required guards all hold is taken, so the
// last alternative of every cell requires no guard. docs/fsm.md is
// generated from this table by tools/fsmdoc.c: never edit it by hand.
//
// Codes on rules: REJECT rules carry the error the request gets. On MOVE
// rules with a *_ERR action the code is what the held requests get; 0 there
// means "the failing runtime event's own code".
//

#include "fsm/fsm.h"

#include <stdio.h>
#include <string.h>

#include "base/error.h"

typedef struct fsm_cell {
	psb_fsm_rule_t alt[PSB_FSM_MAX_ALTS];
} fsm_cell_t;

// The table is data laid out by hand for reading; the formatter would
// fold it into one alternative per several lines.
// clang-format off
#define A(x) PSB_A_##x
#define G(x) PSB_G_##x
#define MOVE(g, to, acts)        {(g), PSB_FSM_MOVE, PSB_ST_##to, (acts), 0}
#define MOVE_ERR(g, to, acts, c) {(g), PSB_FSM_MOVE, PSB_ST_##to, (acts), (c)}
#define REJECT(c)                {0, PSB_FSM_REJECT, PSB_ST_NONE, 0, (c)}
#define IGNORE_IF(g)             {(g), PSB_FSM_IGNORE, PSB_ST_NONE, 0, PSB_ESTALE}
#define IGNORE                   IGNORE_IF(0)
#define CELL(...)                {{__VA_ARGS__}}

// Runtime and timer events that mean nothing in a state.
#define IGNORE_RUNTIME                                                       \
	[PSB_EV_START_OK] = CELL(IGNORE),                                    \
	IGNORE_RUNTIME_BUT_START_OK
#define IGNORE_RUNTIME_BUT_START_OK                                          \
	[PSB_EV_START_FAILED] = CELL(IGNORE),                                \
	[PSB_EV_TASK_EXIT] = CELL(IGNORE),                                   \
	[PSB_EV_KILL_FAILED] = CELL(IGNORE),                                 \
	[PSB_EV_DELETE_OK] = CELL(IGNORE),                                   \
	[PSB_EV_DELETE_FAILED] = CELL(IGNORE),                               \
	[PSB_EV_NET_DOWN_OK] = CELL(IGNORE),                                 \
	[PSB_EV_NET_DOWN_FAILED] = CELL(IGNORE),                             \
	[PSB_EV_DEADLINE] = CELL(IGNORE)

// Create of an existing id: the same config is an idempotent success, a
// different one is ALREADY_EXISTS.
#define CREATE_EXISTING(st)                                                  \
	[PSB_EV_CREATE] = CELL(                                              \
	    MOVE(G(SAME_CONFIG), st, A(REPLY)),                              \
	    REJECT(PSB_EEXIST))

// The start settled with a running task (START_OK, or found running by
// recovery): a Stop or Shutdown wanted meanwhile is honoured now.
#define STARTED_RUNNING                                                      \
	CELL(                                                                \
	    MOVE(G(WANT_SHUTDOWN), STOPPING, A(RECORD_PID) | A(START_DONE) | A(RT_KILL)), \
	    MOVE(G(WANT_STOP),     STOPPING, A(RECORD_PID) | A(START_DONE) | A(RT_KILL)), \
	    MOVE(0,                READY,    A(RECORD_PID) | A(START_DONE)))

// The pause exited before the start settled: the exit wins and the Start
// gets an error. A wanted Stop is done once a pod network is torn down
// too; a wanted Shutdown once the removal is (DELETE_OK answers both).
#define EXIT_DURING_START (A(RECORD_EXIT) | A(START_ERR) | A(WAKE_WAITERS) | A(CLEAR_WANT))
#define EXITED_WHILE_STARTING                                                \
	CELL(                                                                \
	    MOVE_ERR(G(WANT_SHUTDOWN), DELETING, EXIT_DURING_START | A(RT_DELETE), PSB_ERUNTIME), \
	    MOVE_ERR(G(WANT_STOP) | G(NET_UP), STOPPING, EXIT_DURING_START | A(RT_NET_DOWN), PSB_ERUNTIME), \
	    MOVE_ERR(0,                EXITED,   EXIT_DURING_START | A(STOP_DONE), PSB_ERUNTIME))

// The start left nothing behind.
#define START_ROLLED_BACK(g, c)                                              \
	MOVE_ERR((g) | G(WANT_SHUTDOWN), DELETING, A(START_ERR) | A(STOP_DONE) | A(RT_DELETE) | A(CLEAR_WANT), (c)), \
	MOVE_ERR((g),                    CREATED,  A(START_ERR) | A(STOP_DONE) | A(CLEAR_WANT), (c))

// The start's outcome cannot be known (deadline, runtime unreachable):
// a wanted Shutdown removes whatever exists (a held Stop is answered when
// that is done: the pause may still run), a wanted Stop kills it.
#define START_UNSETTLED(c)                                                   \
	CELL(                                                                \
	    MOVE_ERR(G(WANT_SHUTDOWN), DELETING, A(START_ERR) | A(RT_DELETE) | A(CLEAR_WANT), (c)), \
	    MOVE_ERR(G(WANT_STOP),     STOPPING, A(START_ERR) | A(RT_KILL) | A(CLEAR_WANT), (c)),                 \
	    MOVE_ERR(0,                UNKNOWN,  A(START_ERR), (c)))

// The pause exited while stopping: the stop is done, once the pod network
// (if any) is torn down too. An exit of this generation already recorded
// means that teardown is in flight.
#define EXITED_WHILE_STOPPING                                                \
	CELL(                                                                \
	    IGNORE_IF(G(EXIT_RECORDED)),                                     \
	    MOVE(G(NET_UP),        STOPPING, A(RECORD_EXIT) | A(WAKE_WAITERS) | A(RT_NET_DOWN)), \
	    MOVE(G(WANT_SHUTDOWN), DELETING, A(RECORD_EXIT) | A(STOP_DONE) | A(WAKE_WAITERS) | A(RT_DELETE) | A(CLEAR_WANT)), \
	    MOVE(0,                EXITED,   A(RECORD_EXIT) | A(STOP_DONE) | A(WAKE_WAITERS)))

// An exit for a generation whose exit is already recorded is not a second
// exit: one terminal exit per start generation.
#define EXIT_SEEN(acts) MOVE(G(EXIT_RECORDED), EXITED, (acts))

// UNKNOWN learns that the pause is gone. A kept Shutdown removes it now, a
// kept Stop tears its network down (or is simply done).
#define GONE_WHILE_UNKNOWN                                                   \
	CELL(EXIT_SEEN(0),                                                   \
	    MOVE(G(WANT_SHUTDOWN), DELETING, A(RECORD_EXIT) | A(WAKE_WAITERS) | A(CLEAR_WANT) | A(RT_DELETE)), \
	    MOVE(G(WANT_STOP) | G(NET_UP), STOPPING, A(RECORD_EXIT) | A(WAKE_WAITERS) | A(CLEAR_WANT) | A(RT_NET_DOWN)), \
	    MOVE(G(WANT_STOP), EXITED, A(RECORD_EXIT) | A(WAKE_WAITERS) | A(CLEAR_WANT)), \
	    MOVE(0, EXITED, A(RECORD_EXIT) | A(WAKE_WAITERS)))

static const fsm_cell_t fsm_table[PSB_STATE_COUNT][PSB_EVENT_COUNT] = {
    // No row. Only Create makes one; Shutdown of a missing id succeeds.
    [PSB_ST_NONE] = {
	[PSB_EV_CREATE]   = CELL(MOVE(0, CREATED, A(INSERT) | A(REPLY))),
	[PSB_EV_START]    = CELL(REJECT(PSB_ENOENT)),
	[PSB_EV_STOP]     = CELL(REJECT(PSB_ENOENT)),
	[PSB_EV_SHUTDOWN] = CELL(MOVE(0, NONE, A(REPLY))),
	IGNORE_RUNTIME,
	[PSB_EV_FOUND_RUNNING]       = CELL(IGNORE),
	[PSB_EV_FOUND_EXITED]        = CELL(IGNORE),
	[PSB_EV_FOUND_NOTHING]       = CELL(IGNORE),
	[PSB_EV_RUNTIME_UNREACHABLE] = CELL(IGNORE),
    },

    [PSB_ST_CREATED] = {
	CREATE_EXISTING(CREATED),
	[PSB_EV_START]    = CELL(MOVE(0, STARTING, A(NEW_GENERATION) | A(RT_START) | A(PARK))),
	[PSB_EV_STOP]     = CELL(MOVE(0, CREATED, A(REPLY))),
	[PSB_EV_SHUTDOWN] = CELL(MOVE(0, DELETING, A(RT_DELETE) | A(PARK))),
	IGNORE_RUNTIME,
	// Observation beats the record (STYLE.md practice 14).
	[PSB_EV_FOUND_RUNNING]       = CELL(MOVE(0, READY, A(RECORD_PID))),
	[PSB_EV_FOUND_EXITED]        = CELL(MOVE(0, EXITED, A(RECORD_EXIT) | A(WAKE_WAITERS))),
	[PSB_EV_FOUND_NOTHING]       = CELL(MOVE(0, CREATED, 0)),
	[PSB_EV_RUNTIME_UNREACHABLE] = CELL(MOVE(0, CREATED, 0)),
    },

    [PSB_ST_STARTING] = {
	CREATE_EXISTING(STARTING),
	// A retried Start joins the one in flight.
	[PSB_EV_START]    = CELL(MOVE(0, STARTING, A(PARK))),
	// Stop and Shutdown are honoured as soon as the start settles.
	[PSB_EV_STOP]     = CELL(MOVE(0, STARTING, A(SET_WANT_STOP) | A(PARK))),
	[PSB_EV_SHUTDOWN] = CELL(MOVE(0, STARTING, A(SET_WANT_SHUTDOWN) | A(PARK))),
	[PSB_EV_START_OK] = STARTED_RUNNING,
	[PSB_EV_START_FAILED] = CELL(
	    START_ROLLED_BACK(G(ROLLED_BACK), 0),
	    // Not rolled back: something may be left (and run).
	    MOVE(G(WANT_SHUTDOWN), DELETING, A(START_ERR) | A(RT_DELETE) | A(CLEAR_WANT)),
	    MOVE(G(WANT_STOP),     STOPPING, A(START_ERR) | A(RT_KILL) | A(CLEAR_WANT)),
	    MOVE(0,                UNKNOWN,  A(START_ERR))),
	[PSB_EV_TASK_EXIT]     = EXITED_WHILE_STARTING,
	[PSB_EV_KILL_FAILED]   = CELL(IGNORE),
	[PSB_EV_DELETE_OK]     = CELL(IGNORE),
	[PSB_EV_DELETE_FAILED] = CELL(IGNORE),
	[PSB_EV_NET_DOWN_OK]     = CELL(IGNORE),
	[PSB_EV_NET_DOWN_FAILED] = CELL(IGNORE),
	[PSB_EV_DEADLINE]      = START_UNSETTLED(PSB_ETIMEDOUT),
	// Recovered mid-start: each answer settles the start the way its
	// runtime twin would.
	[PSB_EV_FOUND_RUNNING]       = STARTED_RUNNING,
	[PSB_EV_FOUND_EXITED]        = EXITED_WHILE_STARTING,
	[PSB_EV_FOUND_NOTHING]       = CELL(START_ROLLED_BACK(0, PSB_ERUNTIME)),
	[PSB_EV_RUNTIME_UNREACHABLE] = START_UNSETTLED(PSB_EUNAVAIL),
    },

    [PSB_ST_READY] = {
	CREATE_EXISTING(READY),
	[PSB_EV_START]    = CELL(REJECT(PSB_ESTATE)),
	[PSB_EV_STOP]     = CELL(MOVE(0, STOPPING, A(RT_KILL) | A(PARK))),
	// Shutdown of a running sandbox stops it first.
	[PSB_EV_SHUTDOWN] = CELL(MOVE(0, STOPPING, A(SET_WANT_SHUTDOWN) | A(RT_KILL) | A(PARK))),
	[PSB_EV_START_OK]      = CELL(IGNORE),
	[PSB_EV_START_FAILED]  = CELL(IGNORE),
	[PSB_EV_TASK_EXIT]     = CELL(MOVE(0, EXITED, A(RECORD_EXIT) | A(WAKE_WAITERS))),
	[PSB_EV_KILL_FAILED]   = CELL(IGNORE),
	[PSB_EV_DELETE_OK]     = CELL(IGNORE),
	[PSB_EV_DELETE_FAILED] = CELL(IGNORE),
	[PSB_EV_NET_DOWN_OK]     = CELL(IGNORE),
	[PSB_EV_NET_DOWN_FAILED] = CELL(IGNORE),
	[PSB_EV_DEADLINE]      = CELL(IGNORE),
	[PSB_EV_FOUND_RUNNING] = CELL(MOVE(0, READY, A(RECORD_PID))),
	[PSB_EV_FOUND_EXITED]  = CELL(MOVE(0, EXITED, A(RECORD_EXIT) | A(WAKE_WAITERS))),
	// The task vanished while we were away: exit status unknown (255).
	[PSB_EV_FOUND_NOTHING] = CELL(MOVE(0, EXITED, A(RECORD_EXIT) | A(WAKE_WAITERS))),
	[PSB_EV_RUNTIME_UNREACHABLE] = CELL(MOVE(0, UNKNOWN, 0)),
    },

    [PSB_ST_STOPPING] = {
	CREATE_EXISTING(STOPPING),
	[PSB_EV_START]    = CELL(REJECT(PSB_ESTATE)),
	[PSB_EV_STOP]     = CELL(MOVE(0, STOPPING, A(PARK))),
	[PSB_EV_SHUTDOWN] = CELL(MOVE(0, STOPPING, A(SET_WANT_SHUTDOWN) | A(PARK))),
	// A start that completes only now (it outlived its deadline, and
	// the kill may have found no task): its pause is killed too.
	[PSB_EV_START_OK]     = CELL(
	    MOVE(G(EXIT_RECORDED), STOPPING, A(RT_KILL)),
	    MOVE(0,                STOPPING, A(RECORD_PID) | A(RT_KILL))),
	[PSB_EV_START_FAILED] = CELL(IGNORE),
	[PSB_EV_TASK_EXIT]    = EXITED_WHILE_STOPPING,
	// Escalate: retry the kill after a backoff...
	[PSB_EV_KILL_FAILED]   = CELL(IGNORE_IF(G(EXIT_RECORDED)), MOVE(0, STOPPING, A(BACKOFF))),
	[PSB_EV_DELETE_OK]     = CELL(IGNORE),
	[PSB_EV_DELETE_FAILED] = CELL(IGNORE),
	// The pod network is down: now the stop is done. (The teardown
	// runs only once the exit is recorded.)
	[PSB_EV_NET_DOWN_OK] = CELL(
	    MOVE(G(EXIT_RECORDED) | G(WANT_SHUTDOWN), DELETING, A(STOP_DONE) | A(RT_DELETE) | A(CLEAR_WANT)),
	    MOVE(G(EXIT_RECORDED),                    EXITED,   A(STOP_DONE)),
	    IGNORE),
	[PSB_EV_NET_DOWN_FAILED] = CELL(
	    MOVE(G(EXIT_RECORDED), STOPPING, A(BACKOFF)),
	    IGNORE),
	// ...and after each deadline, until the budget is used up (the
	// network teardown, once the exit is recorded, alike).
	[PSB_EV_DEADLINE] = CELL(
	    MOVE(G(EXIT_RECORDED) | G(RETRY_LEFT), STOPPING, A(RT_NET_DOWN) | A(BACKOFF)),
	    MOVE(G(RETRY_LEFT), STOPPING, A(RT_KILL) | A(BACKOFF)),
	    // Out of retries: the held requests learn so, but the wish stays
	    // in the row and is carried out once the runtime answers (UNKNOWN
	    // is probed again every reprobe period).
	    MOVE_ERR(G(EXIT_RECORDED), UNKNOWN, A(STOP_ERR) | A(SHUTDOWN_ERR) | A(CLEAR_WANT), PSB_ETIMEDOUT),
	    MOVE_ERR(0, UNKNOWN, A(STOP_ERR) | A(SHUTDOWN_ERR) | A(SET_WANT_STOP), PSB_ETIMEDOUT)),
	// Recovered mid-stop: kill again; an exit settles it. Recovered
	// mid network teardown: run it again (CNI DEL is safe to repeat).
	[PSB_EV_FOUND_RUNNING]       = CELL(
	    MOVE(G(EXIT_RECORDED), STOPPING, A(RT_NET_DOWN)),
	    MOVE(0, STOPPING, A(RT_KILL))),
	[PSB_EV_FOUND_EXITED]        = CELL(
	    MOVE(G(EXIT_RECORDED), STOPPING, A(RT_NET_DOWN)),
	    MOVE(G(NET_UP),        STOPPING, A(RECORD_EXIT) | A(WAKE_WAITERS) | A(RT_NET_DOWN)),
	    MOVE(G(WANT_SHUTDOWN), DELETING, A(RECORD_EXIT) | A(STOP_DONE) | A(WAKE_WAITERS) | A(RT_DELETE) | A(CLEAR_WANT)),
	    MOVE(0,                EXITED,   A(RECORD_EXIT) | A(STOP_DONE) | A(WAKE_WAITERS))),
	[PSB_EV_FOUND_NOTHING]       = CELL(
	    MOVE(G(EXIT_RECORDED), STOPPING, A(RT_NET_DOWN)),
	    MOVE(G(NET_UP),        STOPPING, A(RECORD_EXIT) | A(WAKE_WAITERS) | A(RT_NET_DOWN)),
	    MOVE(G(WANT_SHUTDOWN), DELETING, A(RECORD_EXIT) | A(STOP_DONE) | A(WAKE_WAITERS) | A(RT_DELETE) | A(CLEAR_WANT)),
	    MOVE(0,                EXITED,   A(RECORD_EXIT) | A(STOP_DONE) | A(WAKE_WAITERS))),
	// CNI DEL and the netns do not need containerd. A kill that could
	// not reach it is tried again after the backoff, like a failed one:
	// the Stop stays held (bounded by its own timeout) and nothing flaps.
	[PSB_EV_RUNTIME_UNREACHABLE] = CELL(
	    MOVE(G(EXIT_RECORDED), STOPPING, A(RT_NET_DOWN)),
	    MOVE(0, STOPPING, A(BACKOFF))),
    },

    [PSB_ST_EXITED] = {
	CREATE_EXISTING(EXITED),
	// A sandbox is never restarted (containerd: Ready is never
	// re-entered from NotReady).
	[PSB_EV_START]    = CELL(REJECT(PSB_ESTATE)),
	// Stop of an exited sandbox tears its pod network down, if any (the
	// pause may die on its own; its network stays until Stop).
	[PSB_EV_STOP]     = CELL(
	    MOVE(G(NET_UP), STOPPING, A(RT_NET_DOWN) | A(PARK)),
	    MOVE(0, EXITED, A(REPLY))),
	[PSB_EV_SHUTDOWN] = CELL(MOVE(0, DELETING, A(RT_DELETE) | A(PARK))),
	// A start that completes only now (it outlived its deadline) made a
	// pause nobody wants: killed, like a stray task.
	[PSB_EV_START_OK] = CELL(MOVE(0, EXITED, A(RT_KILL))),
	IGNORE_RUNTIME_BUT_START_OK,
	// A stray task of an exited sandbox is killed, not adopted.
	[PSB_EV_FOUND_RUNNING]       = CELL(MOVE(0, EXITED, A(RT_KILL))),
	[PSB_EV_FOUND_EXITED]        = CELL(MOVE(0, EXITED, 0)),
	[PSB_EV_FOUND_NOTHING]       = CELL(MOVE(0, EXITED, 0)),
	[PSB_EV_RUNTIME_UNREACHABLE] = CELL(MOVE(0, EXITED, 0)),
    },

    // UNKNOWN accepts only Stop and Shutdown of the requests, but believes
    // what the runtime reports. If this generation's exit is already
    // recorded (UNKNOWN reached from EXITED by a failed shutdown), a
    // report cannot be a second exit nor make the sandbox run again.
    [PSB_ST_UNKNOWN] = {
	CREATE_EXISTING(UNKNOWN),
	[PSB_EV_START]    = CELL(REJECT(PSB_ESTATE)),
	// Stopped already if this generation's exit is recorded.
	[PSB_EV_STOP]     = CELL(
	    MOVE(G(EXIT_RECORDED) | G(NET_UP), STOPPING, A(RT_NET_DOWN) | A(PARK)),
	    EXIT_SEEN(A(REPLY)),
	    MOVE(0, STOPPING, A(RT_KILL) | A(PARK))),
	[PSB_EV_SHUTDOWN] = CELL(MOVE(0, DELETING, A(RT_DELETE) | A(PARK))),
	// Late answers from a start that outlived its deadline.
	[PSB_EV_START_OK] = CELL(EXIT_SEEN(A(RT_KILL)), MOVE(0, READY, A(RECORD_PID))),
	[PSB_EV_START_FAILED] = CELL(
	    IGNORE_IF(G(EXIT_RECORDED)),
	    MOVE(G(ROLLED_BACK), CREATED, 0),
	    IGNORE),
	[PSB_EV_TASK_EXIT]     = GONE_WHILE_UNKNOWN,
	[PSB_EV_KILL_FAILED]   = CELL(IGNORE),
	[PSB_EV_DELETE_OK]     = CELL(IGNORE),
	[PSB_EV_DELETE_FAILED] = CELL(IGNORE),
	[PSB_EV_NET_DOWN_OK]     = CELL(IGNORE),
	[PSB_EV_NET_DOWN_FAILED] = CELL(IGNORE),
	[PSB_EV_DEADLINE]      = CELL(IGNORE),
	// A Stop or Shutdown that ran out of retries while the runtime was
	// away is still wanted: carried out now.
	[PSB_EV_FOUND_RUNNING] = CELL(
	    EXIT_SEEN(A(RT_KILL)),
	    MOVE(G(WANT_SHUTDOWN), DELETING, A(RECORD_PID) | A(CLEAR_WANT) | A(RT_DELETE)),
	    MOVE(G(WANT_STOP),     STOPPING, A(RECORD_PID) | A(CLEAR_WANT) | A(RT_KILL)),
	    MOVE(0,                READY,    A(RECORD_PID))),
	[PSB_EV_FOUND_EXITED]  = GONE_WHILE_UNKNOWN,
	[PSB_EV_FOUND_NOTHING] = GONE_WHILE_UNKNOWN,
	[PSB_EV_RUNTIME_UNREACHABLE] = CELL(MOVE(0, UNKNOWN, 0)),
    },

    [PSB_ST_DELETING] = {
	[PSB_EV_CREATE]   = CELL(REJECT(PSB_ESTATE)),
	[PSB_EV_START]    = CELL(REJECT(PSB_ESTATE)),
	[PSB_EV_STOP]     = CELL(MOVE(0, DELETING, A(PARK))),
	[PSB_EV_SHUTDOWN] = CELL(MOVE(0, DELETING, A(PARK))),
	[PSB_EV_START_OK]      = CELL(IGNORE),
	[PSB_EV_START_FAILED]  = CELL(IGNORE),
	[PSB_EV_TASK_EXIT]     = CELL(IGNORE),
	[PSB_EV_KILL_FAILED]   = CELL(IGNORE),
	// Removed: waiters get the recorded exit, or 255 (unknown) when the
	// pause never exited on record (a CREATED or UNKNOWN sandbox).
	[PSB_EV_DELETE_OK]     = CELL(
	    MOVE(G(EXIT_RECORDED), NONE, A(REMOVE) | A(SHUTDOWN_DONE) | A(STOP_DONE) | A(WAKE_WAITERS)),
	    MOVE(0,                NONE, A(REMOVE) | A(RECORD_EXIT) | A(SHUTDOWN_DONE) | A(STOP_DONE) | A(WAKE_WAITERS))),
	[PSB_EV_DELETE_FAILED] = CELL(MOVE(0, DELETING, A(BACKOFF))),
	[PSB_EV_NET_DOWN_OK]     = CELL(IGNORE),
	[PSB_EV_NET_DOWN_FAILED] = CELL(IGNORE),
	[PSB_EV_DEADLINE] = CELL(
	    MOVE(G(RETRY_LEFT), DELETING, A(RT_DELETE) | A(BACKOFF)),
	    MOVE_ERR(0, UNKNOWN, A(SHUTDOWN_ERR) | A(STOP_ERR) | A(SET_WANT_SHUTDOWN), PSB_ETIMEDOUT)),
	// Recovered mid-delete: finish it, whatever is left.
	[PSB_EV_FOUND_RUNNING]       = CELL(MOVE(0, DELETING, A(RT_DELETE))),
	[PSB_EV_FOUND_EXITED]        = CELL(MOVE(0, DELETING, A(RT_DELETE))),
	[PSB_EV_FOUND_NOTHING]       = CELL(MOVE(0, DELETING, A(RT_DELETE))),
	// Tried again after the backoff; the deadline bounds it.
	[PSB_EV_RUNTIME_UNREACHABLE] = CELL(MOVE(0, DELETING, A(BACKOFF))),
    },
};
// clang-format on

psb_fsm_kind_t
psb_fsm_step(psb_state_t state, psb_event_t event, uint32_t guards,
        psb_fsm_result_t *res)
{
	psb_fsm_result_t  r;
	const fsm_cell_t *cell;

	memset(&r, 0, sizeof(r));
	r.alt       = -1;
	r.rule.kind = PSB_FSM_REJECT;
	r.rule.code = PSB_EINVAL;
	if ((unsigned)state >= PSB_STATE_COUNT ||
	        (unsigned)event >= PSB_EVENT_COUNT) {
		goto out;
	}
	// A runtime or timer event of an older start generation is ignored
	// in every state: it can only describe a task that is gone.
	if ((guards & PSB_G_STALE) != 0 &&
	        psb_event_source(event) != PSB_SRC_API) {
		r.rule.kind = PSB_FSM_IGNORE;
		r.rule.code = PSB_ESTALE;
		goto out;
	}
	cell = &fsm_table[state][event];
	for (int i = 0; i < PSB_FSM_MAX_ALTS; i++) {
		const psb_fsm_rule_t *alt = &cell->alt[i];

		if (alt->kind == PSB_FSM_EMPTY) {
			break;
		}
		if ((alt->guards & guards) == alt->guards) {
			r.rule = *alt;
			r.alt  = i;
			goto out;
		}
	}
	// A hole in the table (the unit test proves there is none).
	r.rule.kind = PSB_FSM_REJECT;
	r.rule.code = PSB_ESTATE;
out:
	if (res != NULL) {
		*res = r;
	}
	return (r.rule.kind);
}

const psb_fsm_rule_t *
psb_fsm_cell(psb_state_t state, psb_event_t event, int *count)
{
	static const psb_fsm_rule_t none[1];
	const fsm_cell_t           *cell;
	int                         n = 0;

	if ((unsigned)state >= PSB_STATE_COUNT ||
	        (unsigned)event >= PSB_EVENT_COUNT) {
		*count = 0;
		return (none);
	}
	cell = &fsm_table[state][event];
	while (n < PSB_FSM_MAX_ALTS && cell->alt[n].kind != PSB_FSM_EMPTY) {
		n++;
	}
	*count = n;
	return (cell->alt);
}

static const struct {
	const char *name;
	bool        deadline;
	const char *desc;
} fsm_states[] = {
#define PSB_STATE(n, dl, d) {#n, (dl) != 0, d},
#include "fsm/states.def"
#undef PSB_STATE
};

static const struct {
	const char        *name;
	psb_event_source_t src;
	const char        *desc;
} fsm_events[] = {
#define api                PSB_SRC_API
#define runtime            PSB_SRC_RUNTIME
#define timer              PSB_SRC_TIMER
#define recovery           PSB_SRC_RECOVERY
#define PSB_EVENT(n, s, d) {#n, s, d},
#include "fsm/events.def"
#undef PSB_EVENT
#undef api
#undef runtime
#undef timer
#undef recovery
};

static const struct {
	const char *name;
	const char *desc;
} fsm_guards[] =
        {
#define PSB_GUARD(n, d) {#n, d},
#include "fsm/guards.def"
#undef PSB_GUARD
},
  fsm_actions[] = {
#define PSB_ACTION(n, d) {#n, d},
#include "fsm/actions.def"
#undef PSB_ACTION
};

const char *
psb_state_name(psb_state_t s)
{
	return ((unsigned)s < PSB_STATE_COUNT ? fsm_states[s].name : "?");
}

const char *
psb_state_desc(psb_state_t s)
{
	return ((unsigned)s < PSB_STATE_COUNT ? fsm_states[s].desc : "?");
}

bool
psb_state_has_deadline(psb_state_t s)
{
	return ((unsigned)s < PSB_STATE_COUNT && fsm_states[s].deadline);
}

const char *
psb_event_name(psb_event_t e)
{
	return ((unsigned)e < PSB_EVENT_COUNT ? fsm_events[e].name : "?");
}

const char *
psb_event_desc(psb_event_t e)
{
	return ((unsigned)e < PSB_EVENT_COUNT ? fsm_events[e].desc : "?");
}

psb_event_source_t
psb_event_source(psb_event_t e)
{
	return ((unsigned)e < PSB_EVENT_COUNT ? fsm_events[e].src
	                                      : PSB_SRC_API);
}

const char *
psb_event_source_name(psb_event_source_t src)
{
	switch (src) {
	case PSB_SRC_API: return ("api");
	case PSB_SRC_RUNTIME: return ("runtime");
	case PSB_SRC_TIMER: return ("timer");
	case PSB_SRC_RECOVERY: return ("recovery");
	}
	return ("?");
}

const char *
psb_guard_name(int bit)
{
	return (bit >= 0 && bit < PSB_GUARD_COUNT ? fsm_guards[bit].name
	                                          : "?");
}

const char *
psb_guard_desc(int bit)
{
	return (bit >= 0 && bit < PSB_GUARD_COUNT ? fsm_guards[bit].desc
	                                          : "?");
}

const char *
psb_action_name(int bit)
{
	return (bit >= 0 && bit < PSB_ACTION_COUNT ? fsm_actions[bit].name
	                                           : "?");
}

const char *
psb_action_desc(int bit)
{
	return (bit >= 0 && bit < PSB_ACTION_COUNT ? fsm_actions[bit].desc
	                                           : "?");
}

int
psb_state_parse(const char *name)
{
	for (int i = 0; name != NULL && i < PSB_STATE_COUNT; i++) {
		if (strcmp(fsm_states[i].name, name) == 0) {
			return (i);
		}
	}
	return (-1);
}

int
psb_event_parse(const char *name)
{
	for (int i = 0; name != NULL && i < PSB_EVENT_COUNT; i++) {
		if (strcmp(fsm_events[i].name, name) == 0) {
			return (i);
		}
	}
	return (-1);
}

bool
psb_fsm_settled(psb_state_t s)
{
	return (!psb_state_has_deadline(s));
}

static const char *
fsm_bits_str(uint32_t bits, int count, const char *(*name)(int),
        const char *sep, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < count; i++) {
		int n;

		if ((bits & (1u << i)) == 0) {
			continue;
		}
		n = snprintf(buf + used, len - used, "%s%s",
		        used > 0 ? sep : "", name(i));
		if (n < 0 || (size_t)n >= len - used) {
			break;
		}
		used += (size_t)n;
	}
	return (buf);
}

const char *
psb_fsm_guards_str(uint32_t g, const char *sep, char *buf, size_t len)
{
	return (fsm_bits_str(
	        g, PSB_GUARD_COUNT, psb_guard_name, sep, buf, len));
}

const char *
psb_fsm_actions_str(uint32_t a, const char *sep, char *buf, size_t len)
{
	return (fsm_bits_str(
	        a, PSB_ACTION_COUNT, psb_action_name, sep, buf, len));
}

const char *
psb_fsm_kind_name(psb_fsm_kind_t k)
{
	switch (k) {
	case PSB_FSM_EMPTY: return ("EMPTY");
	case PSB_FSM_MOVE: return ("MOVE");
	case PSB_FSM_REJECT: return ("REJECT");
	case PSB_FSM_IGNORE: return ("IGNORE");
	}
	return ("?");
}
