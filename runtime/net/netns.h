//
// podsandboxd - pinned network namespaces for pods.
//
// A pod's network namespace is made before its pause task, so that CNI
// can set it up, and it must outlive every process in it: it is "pinned"
// by bind-mounting its nsfs file onto a plain file in a pin directory
// (the way containerd's pkg/netns and "ip netns add" do). The pin's path
// is what the pause task's spec and CNI are given, and what the store
// records.
//
// Making and removing one blocks (unshare, mount, a remove that retries
// for up to ~2 s), so both run on a worker pool thread (worker.h) and
// report through a callback, always on the loop thread and never from
// inside the call that started the operation. The calling thread's own
// network namespace never changes. The new namespace is left as the
// kernel makes it: only "lo", and down; bringing lo up is the CNI
// loopback plugin's job, as with containerd.
//
// Pin names are "psb-" and 16 random hex digits (psb_netns_path), which
// cannot collide with containerd's "cni-<uuid>" nor, in practice, with
// names an operator gives "ip netns add".
//
// All functions: loop thread only, unless said otherwise.
//

#ifndef PSB_RUNTIME_NET_NETNS_H
#define PSB_RUNTIME_NET_NETNS_H

#include <stdbool.h>

#include "base/error.h"
#include "runtime/net/worker.h"

typedef struct psb_netns_op psb_netns_op_t;

// The outcome of psb_netns_create or psb_netns_remove: rc is 0 or a
// negative psb_err; err is NULL on success, else the failure (borrowed
// for the call). Runs on the loop thread.
typedef void (*psb_netns_cb)(void *arg, int rc, const psb_error_t *err);

// psb_netns_prepare_dir makes dir (and missing parents, mode 0755) and makes
// it a mount point of its own if it is not one already (a recursive bind mount
// onto itself; pins already in it are moved into the new mount, so that they
// stay visible and removable), then marks that mount private (MS_PRIVATE,
// recursive): a pin made in it then does not propagate into the mount
// namespaces of containers that bind a parent such as /run, where it would
// keep the namespace alive and make its removal fail with EBUSY (containerd
// issue 6143). Idempotent: calling it again neither stacks another mount nor
// fails. Synchronous and cheap (call once at start-up, before any pin is
// made). PSB_ERUNTIME if a step fails, naming the step. Any thread.
int psb_netns_prepare_dir(const char *dir, psb_error_t *err);

// psb_netns_path returns a new pin path, "<dir>/psb-<16 hex digits>" from
// getrandom(2), owned by the caller (free), or NULL with errno set if
// getrandom fails (it does not on a kernel that has /proc/thread-self,
// which the pool needs anyway). Nothing is created. Any thread.
char *psb_netns_path(const char *dir);

// psb_netns_create makes a new network namespace and pins it at path (a file
// in a directory that psb_netns_prepare_dir prepared). path is copied; cb(arg,
// ...) runs once on the loop thread with the outcome, unless the operation is
// canceled (cb may be NULL: no report). On a worker thread: the pin file is
// created (O_EXCL; an existing plain file, left by a crash between the two
// steps, is reused, and an existing pin, already an nsfs mount, is success
// without a new namespace, so retrying after a crash is safe); the thread
// unshares its network namespace, bind-mounts it onto the pin and returns to
// its previous namespace. On failure a pin file it created is removed again,
// and cb gets PSB_ERUNTIME (PSB_EEXIST if path exists and is not a regular
// file or pin). If op is not NULL, *op is set to a handle for
// psb_netns_cancel, valid until cb has run or the operation is canceled.
// Returns 0, or non-zero with err filled and cb never called: PSB_EINVAL for a
// path that is not absolute, or the pool's refusal (psb_worker_submit).
int psb_netns_create(psb_worker_pool_t *pool, const char *path,
        psb_netns_cb cb, void *arg, psb_netns_op_t **op, psb_error_t *err);

// psb_netns_remove unpins the namespace at path and deletes the file: it
// detaches the mount (umount2 MNT_DETACH | UMOUNT_NOFOLLOW; "not a mount
// point" is fine) and unlinks path. EBUSY from either (a mount stacked on
// the pin, or one leaked elsewhere: containerd issue 6143) is retried,
// umount included, with a backoff from 10 to 200 ms for about 2 s; then cb
// gets PSB_EBUSY naming path. A path that does not exist is success, so
// removing twice is too. The namespace itself goes away once nothing
// else (a process, another mount, an open fd) holds it. Other failures
// are PSB_ERUNTIME. Arguments, callback, *op and the return value as for
// psb_netns_create.
int psb_netns_remove(psb_worker_pool_t *pool, const char *path,
        psb_netns_cb cb, void *arg, psb_netns_op_t **op, psb_error_t *err);

// psb_netns_cancel makes sure op's callback does not run; the handle is
// invalid afterwards. The work itself cannot be stopped: a namespace
// being made or removed still is, on the worker, and the operation's
// memory is freed when the worker is done with it. Not from inside the
// operation's own callback.
void psb_netns_cancel(psb_netns_op_t *op);

// psb_netns_pinned is true if path is a pinned network namespace (a mount
// of nsfs: statfs f_type NSFS_MAGIC), false if it is anything else or
// does not exist. Synchronous and cheap (one statfs): what Status uses to
// answer whether the pod's network namespace is closed. Any thread.
bool psb_netns_pinned(const char *path);

#endif // PSB_RUNTIME_NET_NETNS_H
