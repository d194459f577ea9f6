//
// podsandboxd - containerd backend internals shared by its files: the
// operations (backend.c, start.c, teardown.c; their own op.h), the exit
// subscription, resync and reaping (exits.c), probe and platform
// (probe.c). Loop thread only.
//

#ifndef PSB_RUNTIME_CONTAINERD_CTRD_H
#define PSB_RUNTIME_CONTAINERD_CTRD_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/ident.h"
#include "base/list.h"
#include "github.com/containerd/containerd/api/types/task/task.pb-c.h"
#include "runtime/containerd/backend.h"
#include "runtime/grpc.h"

#define CTRD_ID_MAX PSB_ID_MAX // containerd's identifier rule

#define CTRD_TASKS   "/containerd.services.tasks.v1.Tasks/"
#define CTRD_CONTS   "/containerd.services.containers.v1.Containers/"
#define CTRD_SNAPS   "/containerd.services.snapshots.v1.Snapshots/"
#define CTRD_EVENTS  "/containerd.services.events.v1.Events/"
#define CTRD_SIGKILL 9

#define CTRD_DEADLINE_MS 30000 // of every unary call of an operation

typedef struct ctrd_pidw ctrd_pidw_t; // a pidfd watch (exits.c)
typedef struct ctrd_reap ctrd_reap_t; // a deferred Tasks.Delete (exits.c)

// A sandbox whose task this backend knows about: the exits it reports.
typedef struct ctrd_track {
	char     id[CTRD_ID_MAX + 1];
	uint64_t generation;
	uint32_t pid;           // 0 until the task started
	bool     exit_reported; // TASK_EXIT sent (or claimed) for generation
	bool     reaping;       // a Tasks.Delete of the exit is in flight
	bool     deleting;      // a delete op runs: no exit inferred
	struct ctrd_op *delete_after_reap; // a delete waiting for the reap
	uint64_t        epoch;             // list_epoch when (re)tracked
	ctrd_pidw_t    *pidw;              // watches pid, or NULL
} ctrd_track_t;

typedef struct ctrd_op ctrd_op_t;

typedef struct ctrd {
	psb_runtime_t  *rt;
	struct ev_loop *loop;
	psb_grpc_t     *g;    // operations (fail fast)
	psb_grpc_t     *ev_g; // subscription + resync (wait for ready)
	bool            closing;

	char    *address;
	char    *ns;
	char    *image;
	char    *image_archive;
	char    *snapshotter;
	char    *runtime;
	char    *runc_root;       // runc's state root (runc options), or NULL
	char    *sandbox_root;    // sandbox files: persistent (files.h)
	char    *sandbox_state;   // ... and volatile (shm)
	char    *netns_dir;       // pod netns pins (network.h)
	char    *cni_conf_dir;    // CNI network config lists
	char    *cni_bin_dirs;    // CNI plugins, colon-separated
	char    *cni_network;     // the list's name, or NULL: first
	uint32_t cni_timeout_ms;  // per plugin run
	bool     netns_dir_ready; // psb_netns_prepare_dir done
	struct psb_worker_pool *workers; // netns work off the loop
	struct json_t *seccomp_default;  // RuntimeDefault profile, or NULL
	int            daemon_oom;

	ctrd_track_t *tracks;
	size_t        ntracks;
	size_t        cap;

	psb_list_t ops;   // ctrd_op_t pending, newest first (for fini)
	psb_list_t reaps; // ctrd_reap_t waiting for their loop iteration

	// Subscription.
	psb_grpc_stream_t *sub;
	ev_timer           resub_timer;
	uint32_t           resub_ms;
	ev_timer           resync_timer;
	uint32_t           resync_ms;
	bool               resync_busy;
	uint64_t           list_epoch; // resyncs issued

	uint64_t missed_exits;

	// Orphans the start-up probe could not look for (probe.c).
	struct probe *orphan_probe;
	ev_timer      orphan_timer;
	uint64_t      pidfd_exits; // exits first found through a pidfd
	uint64_t      pidw_serial; // of the last pidfd watch made
} ctrd_t;

// The tracking table (exits.c).
ctrd_track_t *ctrd_track_find(ctrd_t *c, const char *id);
ctrd_track_t *ctrd_track_put(ctrd_t *c, const char *id, uint64_t generation);
void          ctrd_track_remove(ctrd_t *c, const char *id);

// ctrd_track_set_pid records pid, as containerd just reported it for t's
// generation, on t and watches it with a pidfd: its exit is then seen at
// once (the status still comes from containerd, Tasks.Get). Without
// pidfds the exit comes from the event stream only. Emits nothing and
// leaves the table as it is (t stays valid).
void ctrd_track_set_pid(ctrd_t *c, ctrd_track_t *t, uint32_t pid);

// ctrd_exit_handle reports TASK_EXIT of id once, with pid/status/at, and
// then reaps the exited task (Tasks.Delete, one loop iteration later, once
// the exit is committed).
void ctrd_exit_handle(
        ctrd_t *c, const char *id, uint32_t pid, int32_t status, int64_t at);

// The subscription (exits.c).
// ctrd_delete_resume starts a delete that waited for the exit's reap
// (teardown.c; called by exits.c once the reap's Tasks.Delete returned).
void ctrd_delete_resume(ctrd_op_t *o);

// ctrd_reap_orphan removes the task, container and snapshot of id, a
// container with our label that no sandbox owns (teardown.c); nothing is
// emitted. A start of id meanwhile waits for it.
void ctrd_reap_orphan(ctrd_t *c, const char *id, const char *generation);

// ctrd_id_check is the id rule of every operation (backend.c): an id (not
// NULL) that follows containerd's identifier rule (base/ident.h).
// PSB_EINVAL in err otherwise.
int ctrd_id_check(const char *id, psb_error_t *err);

// ctrd_op_pending is true while an operation on id is in flight
// (backend.c).
bool ctrd_op_pending(ctrd_t *c, const char *id);

// ctrd_start_before_task is true while a start of id is in flight that
// has not created its task yet: an exit reported for id then is of an
// earlier task (an orphan's being removed), never of this start's.
bool ctrd_start_before_task(ctrd_t *c, const char *id);

void ctrd_exits_start(ctrd_t *c);
void ctrd_exits_stop(ctrd_t *c);

// The ops in probe.c.
int ctrd_probe(void *impl, const psb_rt_sandbox_t *sbs, size_t n,
        bool complete, psb_error_t *err);
int ctrd_platform(void *impl, psb_platform_t *out);

// ctrd_probe_stop drops what probe.c still waits for (fini).
void ctrd_probe_stop(ctrd_t *c);

// ctrd_task_container is the container of a task in Tasks.List: containerd
// (1.6) fills only id, the container's id; container_id is "".
static inline const char *
ctrd_task_container(const Containerd__V1__Types__Process *p)
{
	return (p->container_id[0] != '\0' ? p->container_id : p->id);
}

// ctrd_emit sends an event unless the backend is closing.
void ctrd_emit(ctrd_t *c, const psb_rt_event_t *ev);

// ctrd_ts_ns converts a protobuf Timestamp (may be NULL: 0).
struct Google__Protobuf__Timestamp;
int64_t ctrd_ts_ns(const struct Google__Protobuf__Timestamp *ts);

#endif // PSB_RUNTIME_CONTAINERD_CTRD_H
