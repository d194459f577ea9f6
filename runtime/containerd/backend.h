//
// podsandboxd - the containerd runtime backend (DESIGN.md §6, issue 4).
//
// Pause tasks run as containerd tasks (runc v2 shim) in one containerd
// namespace. Options (comma-separated key=value, all optional):
//   address=PATH        containerd's socket (/run/containerd/containerd.sock)
//   namespace=NS        containerd namespace ("podsandbox")
//   image=NAME          the pause image (PSB_PAUSE_IMAGE)
//   image_archive=PATH  the archive named in the "import it" hint
//   snapshotter=NAME    ("overlayfs")
//   runtime=NAME        containerd runtime ("io.containerd.runc.v2")
//   runc_root=PATH      runc's state root (runc options; the shim's default
//                       is /run/containerd/runc): state is PATH/NS/ID
//   resync_ms=N         periodic Tasks.List resync of exits (10000; 0 off)
// An unknown key fails psb_runtime_open with PSB_EINVAL. Nothing is
// connected at open: the first operation connects.
//
// Exits: an Events.Subscribe stream (topic /tasks/exit, our namespace)
// on its own wait-for-ready client, re-subscribed with backoff when it
// ends; on every (re)subscribe and periodically, a Tasks.List resync
// reports the exits the stream missed. One owner reaps each exited task
// (Tasks.Delete) and reports TASK_EXIT once per (id, generation).
//

#ifndef PSB_RUNTIME_CONTAINERD_BACKEND_H
#define PSB_RUNTIME_CONTAINERD_BACKEND_H

#include <stdint.h>

#include "runtime/runtime.h"

extern const psb_runtime_ops_t psb_containerd_ops;

// The label keys put on every container the backend creates.
#define PSB_CTRD_LABEL_ID  "io.podsandboxd.sandbox-id"
#define PSB_CTRD_LABEL_GEN "io.podsandboxd.generation"

// psb_containerd_missed_exits returns how many exits were found by a
// resync rather than by the event stream (late or missed events). rt
// must be a containerd runtime.
uint64_t psb_containerd_missed_exits(psb_runtime_t *rt);

#endif // PSB_RUNTIME_CONTAINERD_BACKEND_H
