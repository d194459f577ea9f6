//
// podsandboxd - containerd backend: one operation in flight, shared by the
// files that carry operations out: backend.c (the list of operations, the
// calls, kill), start.c (the start chain) and teardown.c (the removal of
// task, container and snapshot that a failed start's rollback and a
// delete share). Loop thread only.
//
// Every operation is a chain of asynchronous gRPC calls on the loop; each
// step's callback starts the next one. An operation lives on the backend's
// list (c->ops) from ctrd_op_new until ctrd_op_free, which the chain calls
// once its outcome is emitted. When the backend closes, closing the gRPC
// clients completes every call with CANCELLED: the callbacks then only
// free their operation (ctrd_op_gone).
//

#ifndef PSB_RUNTIME_CONTAINERD_OP_H
#define PSB_RUNTIME_CONTAINERD_OP_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/containerd/ctrd.h"
#include "runtime/containerd/files.h"
#include "runtime/containerd/image.h"
#include "runtime/containerd/network.h"

#define CTRD_POLL_MS  50
#define CTRD_POLL_MAX 200 // 10 s of waiting for a killed task to stop

typedef enum {
	CTRD_OP_START,
	CTRD_OP_KILL,
	CTRD_OP_DELETE,
	CTRD_OP_NET_DOWN, // network.c
} ctrd_op_kind_t;

// What a start has made so far, and what a teardown removes.
typedef enum {
	CTRD_MADE_SNAPSHOT  = 1,
	CTRD_MADE_CONTAINER = 2,
	CTRD_MADE_TASK      = 4,
	CTRD_MADE_FILES     = 8,  // the sandbox files (files.h)
	CTRD_MADE_NETNS     = 16, // the pod's netns pin (network.h)
	CTRD_MADE_CNI       = 32, // what CNI ADD made (network.h)
	CTRD_MADE_ALL       = 63,
} ctrd_made_t;

struct ctrd_op {
	psb_list_node_t node; // on c->ops
	ctrd_t         *c;
	ctrd_op_kind_t  kind;
	char            id[CTRD_ID_MAX + 1];
	uint64_t        generation;
	psb_grpc_t     *g; // the client its calls use (NULL: c->g, fail fast)
	ctrd_files_t    files;        // the sandbox's file paths
	ctrd_net_t      net;          // the pod network (network.h)
	char           *resources;    // what the sandbox had recorded, or NULL
	char           *caller_netns; // start: a netns the caller made
	void (*deferred)(ctrd_op_t *o); // ctrd_defer's step

	// The network steps (network.c).
	void (*net_next)(ctrd_op_t *o); // after the start's network
	void (*net_then)(ctrd_op_t *o); // after a record commits
	psb_grpc_unary_cb net_cb;       // a teardown step's callback
	bool              net_del_done; // CNI DEL succeeded
	bool              net_ns_done;  // the pin is removed
	bool              recorded;     // a record was made (start)
	bool              net_wanted;   // the start makes a pod network

	// The teardown (teardown.c): a start's rollback, or a delete.
	unsigned made;  // ctrd_made_t: what exists (a delete: all of it)
	unsigned left;  // ctrd_made_t: what the rollback could not remove
	size_t   step;  // the teardown step in flight
	ev_timer timer; // polling for the killed task to stop
	int      polls;

	// A delete of an orphan (our label, no sandbox): nothing is emitted,
	// and a start of the same id waits for it (then).
	bool       orphan;
	ctrd_op_t *then;

	// start (start.c)
	struct ctrd_bundle_job *bundle; // a stale bundle's removal (bundle.h)
	bool bundle_retried; // the one Tasks.Create after removing it
	int  retried;        // the one retry after ALREADY_EXISTS ...
	void (*retry_step)(ctrd_op_t *o); // ... runs this step again
	const char       *retry_what;     // ... after removing this
	char             *config_json;    // the pod config (crictl JSON)
	char             *spec_json; // what the container was created with
	psb_image_t      *img;
	ProtobufCMessage *prepared; // PrepareSnapshotResponse (mounts)
	uint32_t          pid;
	int               fail_code;
	char             *fail_msg;
};

// ctrd_op_new puts a new operation of kind on id (generation) on c's list.
ctrd_op_t *ctrd_op_new(
        ctrd_t *c, ctrd_op_kind_t kind, const char *id, uint64_t generation);

// ctrd_op_free takes o off the list, stops its timer and frees it and
// what it holds (not o->then).
void ctrd_op_free(ctrd_op_t *o);

// ctrd_op_call starts a unary call for o, on o->g (else c->g) with the
// operations' deadline. It fails (and cb never runs) only when the client
// is closing or an argument is NULL.
int ctrd_op_call(ctrd_op_t *o, const char *path, const ProtobufCMessage *req,
        const ProtobufCMessageDescriptor *resp_desc, psb_grpc_unary_cb cb);

// ctrd_op_gone is true when a callback must only clean up because the
// backend closes: resp and o are freed then.
bool ctrd_op_gone(ctrd_op_t *o, ProtobufCMessage *resp);

// ctrd_free_resp frees a response (NULL is fine).
void ctrd_free_resp(ProtobufCMessage *resp);

// The calls that remove what a sandbox has in containerd (backend.c), each
// on o->id with ctrd_op_call's contract: the teardown's steps, and start's
// removal of a leftover of an earlier attempt.
int ctrd_call_kill(ctrd_op_t *o, psb_grpc_unary_cb cb); // SIGKILL
int ctrd_call_task_get(ctrd_op_t *o, psb_grpc_unary_cb cb);
int ctrd_call_task_delete(ctrd_op_t *o, psb_grpc_unary_cb cb);
int ctrd_call_container_delete(ctrd_op_t *o, psb_grpc_unary_cb cb);
int ctrd_call_snapshot_remove(ctrd_op_t *o, psb_grpc_unary_cb cb);

// ctrd_gone_ok: a removal's status that means the thing is gone (removed
// now, or there was nothing to remove).
static inline bool
ctrd_gone_ok(int status)
{
	return (status == PSB_GRPC_OK || status == PSB_GRPC_NOT_FOUND);
}

// ctrd_unreachable_or is the event of a failed call with status:
// RUNTIME_UNREACHABLE when containerd could not be reached at all (the
// fail-fast client's UNAVAILABLE: down, restarting), which the FSM answers
// at once instead of retrying against nobody; else ev.
psb_event_t ctrd_unreachable_or(int status, psb_event_t ev);

// ctrd_teardown removes what o has in containerd: task (killed first),
// container, snapshot, in that order (teardown.c). For a start it is the
// rollback of a failure, which removes only what the start made and ends
// in ctrd_start_failed; for a delete, everything, ending in DELETE_OK or
// DELETE_FAILED (an orphan's delete emits nothing and then starts what
// waited for it, ctrd_start_resume).
void ctrd_teardown(ctrd_op_t *o);

// ctrd_orphan_wait makes start wait for the removal of an orphan of the
// same id, if one is in flight (teardown.c): true when it does (the
// removal starts it, ctrd_start_resume), false when start may go now.
bool ctrd_orphan_wait(ctrd_t *c, ctrd_op_t *start);

// ctrd_start_fail ends a start that failed at a step: the message (also
// logged) goes with START_FAILED after the rollback (start.c).
void ctrd_start_fail(ctrd_op_t *o, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

// ctrd_defer runs fn(o) on the next loop iteration (o->timer), so that an
// operation never reports from inside the call that started it.
void ctrd_defer(ctrd_op_t *o, void (*fn)(ctrd_op_t *o));

// ctrd_start_failed ends a start whose rollback is over: START_FAILED,
// rolled back unless o->left names what is still there (start.c).
void ctrd_start_failed(ctrd_op_t *o);

// ctrd_start_resume begins a start that waited (start.c).
void ctrd_start_resume(ctrd_op_t *o);

// The operations of the ops table in start.c and teardown.c.
int ctrd_start(void *impl, const psb_rt_sandbox_t *sb, psb_error_t *err);
int ctrd_delete(void *impl, const psb_rt_sandbox_t *sb, psb_error_t *err);

#endif // PSB_RUNTIME_CONTAINERD_OP_H
