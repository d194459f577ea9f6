//
// podsandboxd - the sandbox controller (DESIGN.md §2-3).
//
// The controller owns the registry of sandboxes and is the only code that
// changes one: every request and every runtime/timer event goes through
// psb_fsm_step, and the controller carries out the returned actions.
//
// Persist before you acknowledge: each loop tick's row and journal writes
// share one store transaction, committed from an ev_prepare watcher before
// the loop sleeps. Replies, published events, runtime operations and timer
// changes of the tick wait in an outbox and leave only after that commit
// succeeds. If the commit fails, every sandbox the tick touched is put back
// as it was, the tick's new requests fail with PSB_EUNAVAIL, and the
// tick's runtime/timer events are queued again (nothing is lost).
//
// All functions: loop thread only.
//

#ifndef PSB_CORE_CONTROLLER_H
#define PSB_CORE_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "fsm/fsm.h"
#include "persistence/store.h"
#include "runtime/runtime.h"

struct ev_loop;

#define PSB_ID_MAX 76 // containerd identifier rule

typedef struct psb_controller psb_controller_t;

typedef struct psb_controller_opts {
	uint32_t start_timeout_ms;  // STARTING deadline
	uint32_t stop_timeout_ms;   // STOPPING per-attempt deadline
	uint32_t delete_timeout_ms; // DELETING per-attempt deadline
	uint32_t retry_max;         // re-kill / re-delete attempts
	uint32_t backoff_ms;        // first retry backoff (doubles, <= 1 s)
	uint32_t reprobe_ms;        // retry interval for unreachable recovery
	uint32_t probe_timeout_ms;  // a sandbox's probe answer deadline
} psb_controller_opts_t;

#define PSB_CONTROLLER_OPTS_DEFAULT                     \
	{                                               \
		60000, 2000, 10000, 5, 100, 1000, 10000 \
	}

typedef enum psb_method {
	PSB_M_CREATE,
	PSB_M_START,
	PSB_M_STOP,
	PSB_M_SHUTDOWN,
	PSB_M_WAIT,
	PSB_M_STATUS,
	PSB_M_PLATFORM,
	PSB_M_LIST,
	PSB_M_EVENTS,  // committed transitions with seq > since (journal)
	PSB_M_HISTORY, // every retained transition of one sandbox
	PSB_M_VERSION,
	PSB_M_COUNT
} psb_method_t;

const char *psb_method_name(psb_method_t m);

// The most entries one EVENTS reply carries.
#define PSB_EVENTS_MAX 1000

// A request. Everything is borrowed for the duration of submit (copied).
typedef struct psb_request {
	psb_method_t method;
	const char  *sandbox_id;
	const void  *config; // CREATE: CRI PodSandboxConfig bytes
	size_t       config_len;
	const char  *labels;          // CREATE: JSON object text, or NULL
	const char  *runtime_handler; // CREATE
	uint32_t     timeout_ms;  // STOP/WAIT: reply DEADLINE_EXCEEDED after
	                          // this long (0 = no limit); state unaffected
	bool        verbose;      // STATUS
	const char *state_filter; // LIST: only this state name, or NULL
	const char *label_selector; // LIST: JSON object; each key must equal
	                            // the sandbox's label, or NULL
	uint64_t since;             // EVENTS: entries with seq > since
	uint32_t limit;             // EVENTS: at most this many (0 = max)
} psb_request_t;

// A sandbox as a reply shows it. Strings live as long as the reply.
typedef struct psb_sandbox_view {
	const char *id;
	psb_state_t state;
	uint64_t    generation;
	uint32_t    pid;
	int64_t     created_at;
	int64_t     started_at;
	int64_t     exited_at;
	int32_t     exit_status; // -1 while not exited
	const char *labels;      // JSON object text
	const char *runtime_handler;
	const void *config;
	size_t      config_len;
	const char *info; // STATUS verbose: SandboxInfo JSON, else NULL
} psb_sandbox_view_t;

// A committed transition: published after its commit, and read back from
// the journal by EVENTS and HISTORY.
typedef struct psb_transition {
	uint64_t    seq;
	const char *sandbox_id;
	int64_t     time;
	psb_state_t from;
	psb_event_t event;
	psb_state_t to;
	int32_t     exit_status; // -1 if none recorded
	uint64_t    generation;
} psb_transition_t;

typedef struct psb_version_info {
	const char *runtime;
	bool        runtime_is_test_double;
	uint64_t    sandboxes;
	uint64_t    commit_failures;
	uint64_t    newest_seq;
	uint64_t    missed_exits; // found by the runtime's resync
} psb_version_info_t;

// A reply. code 0 = success. Everything is borrowed for the callback.
typedef struct psb_reply {
	psb_method_t        method;
	int                 code;    // psb_err
	const char         *message; // error text, or NULL
	psb_sandbox_view_t  sandbox; // CREATE/START/STATUS/WAIT
	psb_platform_t      platform;
	psb_sandbox_view_t *list; // LIST
	size_t              list_len;
	psb_transition_t   *events; // EVENTS, HISTORY (oldest first)
	size_t              events_len;
	uint64_t            oldest_seq; // EVENTS: oldest retained seq
	uint64_t            newest_seq; // EVENTS: newest seq
	bool                truncated;  // EVENTS: entries after since pruned
	bool                more;       // EVENTS: limit reached
	psb_version_info_t  version;    // VERSION
} psb_reply_t;

// The reply callback; called exactly once per submitted request (with
// PSB_ECANCELED if the request is cancelled or the controller closes).
typedef void (*psb_reply_cb)(void *arg, const psb_reply_t *reply);

typedef void (*psb_publish_cb)(void *arg, const psb_transition_t *t);

// psb_controller_new builds a controller on loop over store and rt (both
// borrowed; they must outlive it) and installs itself as rt's sink.
// It loads nothing: call psb_controller_recover next.
int psb_controller_new(struct ev_loop *loop, psb_store_t *store,
        psb_runtime_t *rt, const psb_controller_opts_t *opts,
        psb_controller_t **out, psb_error_t *err);

// psb_controller_recover loads every row and asks the runtime about every
// sandbox (DESIGN.md §6 recovery); the answers arrive as FOUND_* events.
// Sandboxes whose runtime could not be asked become UNKNOWN and are asked
// again every reprobe_ms. Returns once the rows are loaded (Status works
// from then on); done_cb (may be NULL) is called when every sandbox has
// been resolved once.
int psb_controller_recover(psb_controller_t *c, void (*done_cb)(void *),
        void *arg, psb_error_t *err);

// psb_controller_set_publisher sets the callback for committed transitions.
void psb_controller_set_publisher(
        psb_controller_t *c, psb_publish_cb cb, void *arg);

// psb_controller_submit hands a request to the controller and returns a
// token that identifies it (for psb_controller_cancel). The reply comes
// through cb, never before submit returns, and never before the
// transaction holding its transition commits.
uint64_t psb_controller_submit(psb_controller_t *c, const psb_request_t *req,
        psb_reply_cb cb, void *arg);

// psb_controller_cancel drops a held request (its client went away); its
// callback runs with PSB_ECANCELED. Unknown or answered tokens: no-op.
void psb_controller_cancel(psb_controller_t *c, uint64_t token);

// psb_controller_drain stops accepting work (new requests get
// PSB_EUNAVAIL), commits what the current tick has, and answers every
// held request with PSB_EUNAVAIL ("daemon shutting down").
void psb_controller_drain(psb_controller_t *c);

// psb_controller_free stops every watcher it owns and frees it. Held
// requests are answered with PSB_ECANCELED. NULL is a no-op.
void psb_controller_free(psb_controller_t *c);

// Introspection for tests and Version output.
size_t psb_controller_count(const psb_controller_t *c);
bool   psb_controller_idle(const psb_controller_t *c); // nothing held/
                                                       // queued/uncommitted
uint64_t psb_controller_commit_failures(const psb_controller_t *c);

#endif // PSB_CORE_CONTROLLER_H
