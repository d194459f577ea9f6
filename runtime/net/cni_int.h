//
// podsandboxd - CNI internals shared by cni.c, cni_op.c and cni_exec.c.
//

#ifndef PSB_RUNTIME_NET_CNI_INT_H
#define PSB_RUNTIME_NET_CNI_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "runtime/net/cni.h"

struct ev_loop;

// A parsed, checked network (cni.c).
struct psb_cni_net {
	json_t *list;    // {"cniVersion", "name", "plugins": [...], ...}
	char   *name;    // list's "name"
	char   *version; // the cniVersion plugins get
};

// cni_excerpt returns at most max bytes of p[0..len) as a malloc'd string
// with control characters, '"' and '\\' escaped ("\n", "\x01") and "..."
// after a cut, for error messages.
char *cni_excerpt(const char *p, size_t len, size_t max);

// ---- one child process (cni_exec.c) ----------------------------------------

typedef struct cni_exec cni_exec_t;

// How a run ended. Strings and buffers are borrowed for the callback.
typedef struct cni_exec_result {
	int         status;    // waitpid status; -1 if reaped elsewhere
	bool        timed_out; // killed at its deadline
	const char *overflow;  // "stdout" or "stderr" past the cap, or NULL
	const char *out;       // stdout, NUL-terminated (may hold NULs)
	size_t      out_len;
	const char *errout; // stderr, NUL-terminated
	size_t      err_len;
} cni_exec_result_t;

// The run is over: the child is reaped and its output read. The exec is
// freed right after the callback returns.
typedef void (*cni_exec_cb)(void *arg, const cni_exec_result_t *r);

// cni_exec_start spawns path with argv[0] = path, the environment envp,
// input (input_len bytes, borrowed: copied) on its stdin and its stdout
// and stderr captured up to cap bytes each; the child is killed when it
// outlives timeout_ms or prints more than cap. cb runs once, on the
// loop, never from inside this call. On failure (no pipes, spawn failed:
// err names path) nothing is left running and cb never runs.
int cni_exec_start(struct ev_loop *loop, const char *path, char *const envp[],
        const char *input, size_t input_len, uint32_t timeout_ms, size_t cap,
        cni_exec_cb cb, void *arg, cni_exec_t **out, psb_error_t *err);

// cni_exec_pid is the child's pid (for logs).
pid_t cni_exec_pid(const cni_exec_t *x);

// cni_exec_cancel kills the child's process group with SIGKILL; cb never
// runs. x is freed once the child is reaped: now, or from the loop.
void cni_exec_cancel(cni_exec_t *x);

#endif // PSB_RUNTIME_NET_CNI_INT_H
