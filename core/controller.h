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

#include "api/api.h"
#include "base/error.h"
#include "fsm/fsm.h"
#include "persistence/store.h"
#include "runtime/runtime.h"

struct ev_loop;

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

// psb_controller_read answers a plain Status or List from what is
// committed, on the calling thread, which may be any thread (board.h):
// cb runs exactly once before it returns true. false: not answered, cb
// not called; submit the request. Safe until psb_controller_free.
bool psb_controller_read(psb_controller_t *c, const psb_request_t *req,
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
