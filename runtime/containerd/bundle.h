//
// podsandboxd - a task bundle containerd left behind (issue 12's audit).
//
// containerd 1.6 makes a task's bundle directory
// (<state>/io.containerd.runtime.v2.task/<ns>/<id>, and its work
// directory under <root>) before it starts the shim. Killed in between,
// it leaves the directory; a restarted containerd only cleans up bundles
// whose shim it can run "delete" for, and every later Tasks.Create of the
// id then fails with "mkdir <path>: file exists". No API removes it: the
// daemon recognises exactly that message for its own id and namespace and
// removes the directory itself (on a worker thread), then creates the
// task again, once.
//

#ifndef PSB_RUNTIME_CONTAINERD_BUNDLE_H
#define PSB_RUNTIME_CONTAINERD_BUNDLE_H

#include "base/error.h"

struct psb_worker_pool;

typedef struct ctrd_bundle_job ctrd_bundle_job_t;

// ctrd_bundle_cb gets 0, or PSB_ERUNTIME / PSB_EBUSY and why (a sentence
// naming the path). Loop thread.
typedef void (*ctrd_bundle_cb)(void *arg, int rc, const char *why);

// ctrd_stale_bundle returns the directory a failed Tasks.Create reports as
// existing ("mkdir PATH: file exists") when PATH is an absolute path that
// ends in "/io.containerd.runtime.v2.task/NS/ID" with this ns and id and
// has no "." or ".." component; NULL otherwise. malloc'd. Pure.
char *ctrd_stale_bundle(const char *message, const char *ns, const char *id);

// ctrd_bundle_remove removes path on a pool thread: it must be a directory
// (not a symlink) without a shim's "address" file (a shim was started: a
// task containerd should know; PSB_EBUSY); rootfs is unmounted (detached)
// if mounted, then the tree is removed without crossing into another
// mount. A path that is already gone is success. cb runs later on the
// loop thread unless canceled; *job (if not NULL) is a handle for
// ctrd_bundle_cancel, valid until then. Returns 0, or the pool's refusal
// (cb never runs).
int ctrd_bundle_remove(struct psb_worker_pool *pool, const char *path,
        ctrd_bundle_cb cb, void *arg, ctrd_bundle_job_t **job);

// ctrd_bundle_cancel: cb will not run (the removal itself finishes).
void ctrd_bundle_cancel(ctrd_bundle_job_t *job);

#endif // PSB_RUNTIME_CONTAINERD_BUNDLE_H
