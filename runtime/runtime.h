//
// podsandboxd - the runtime interface (DESIGN.md §6, STYLE.md practice 15).
//
// A runtime backend runs pause tasks. Every operation is asynchronous: the
// call only starts it (and returns non-zero only if it could not even be
// started, or was refused: then with err filled, saying why), and its
// outcome arrives later as a psb_rt_event_t through the sink, always on
// the loop thread and never from inside the call that started it. Events
// name sandboxes by id and start generation, never by pointer (practice
// 3): an event for a generation the controller has moved past is ignored
// by the FSM.
//
// Outcomes per operation:
//   start  -> START_OK(pid) | START_FAILED(code, message, rolled_back)
//   kill   -> (nothing on success: the exit comes as TASK_EXIT)
//             | TASK_EXIT(255) if no task exists | KILL_FAILED
//             | RUNTIME_UNREACHABLE (the runtime could not be reached)
//   delete -> DELETE_OK | DELETE_FAILED     (kills first; missing = OK)
//             | RUNTIME_UNREACHABLE
//   net_down -> NET_DOWN_OK (resources without the network) |
//             NET_DOWN_FAILED               (nothing to remove = OK)
//   probe  -> one FOUND_RUNNING | FOUND_EXITED | FOUND_NOTHING |
//             RUNTIME_UNREACHABLE per sandbox asked about (a task that
//             was created but never started is removed first: NOTHING)
// A pause task that exits on its own produces TASK_EXIT (status, time).
// The backend owns reaping: it reports each exit once and deletes the
// exited task itself (containerd: right after reporting, since its exit
// event already carries the status).
//
// Resources: the JSON object a backend records with a sandbox (START_OK,
// START_FAILED, NET_DOWN_OK and psb_runtime_record carry it whole; the
// controller persists it in the row and hands it back to every later
// operation). A top-level PSB_RT_NETWORK member that is an object means
// the sandbox has a pod network to tear down (the FSM's NET_UP guard).
//
// All functions: loop thread only.
//

#ifndef PSB_RUNTIME_RUNTIME_H
#define PSB_RUNTIME_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/goarch.h"
#include "fsm/fsm.h"

struct ev_loop;

#define PSB_EXIT_UNKNOWN 255 // containerd's UnknownExitStatus
#define PSB_RT_NETWORK   "network"

typedef struct psb_runtime psb_runtime_t;

// What an operation needs to know about a sandbox. Borrowed for the call.
typedef struct psb_rt_sandbox {
	const char *id;
	uint64_t    generation;
	const void *config; // CRI PodSandboxConfig protobuf bytes
	size_t      config_len;
	const char *runtime_handler;
	const char *netns_path;  // a netns the caller made (Create), or NULL:
	                         // then the backend makes none and runs no
	                         // CNI; the pause joins it
	uint32_t    pid;         // last known pause pid (0 if none)
	const char *resources;   // JSON the runtime recorded earlier, or NULL
	const char *config_json; // the pod config as crictl JSON (snake_case
	                         // keys); a start requires it (see
	                         // psb_runtime_pod_config), other ops may
	                         // use it (CNI DEL's pod name) or not
} psb_rt_sandbox_t;

// An outcome. Strings are borrowed for the duration of the sink call.
typedef struct psb_rt_event {
	psb_event_t event; // one of the runtime/recovery events
	const char *sandbox_id;
	uint64_t    generation;
	uint32_t    pid;
	int32_t     exit_status;
	int64_t     exited_at; // ns since epoch
	bool        rolled_back;
	int         code;      // psb_err of a failure, else 0
	const char *message;   // failure detail, or NULL
	const char *resources; // JSON of resources that exist, or NULL
} psb_rt_event_t;

typedef void (*psb_rt_sink_cb)(void *arg, const psb_rt_event_t *ev);

// A record: resources an operation in flight wants in the sandbox's row
// before it goes on (intent before action, DESIGN.md §4): the plan of a
// network step before the step, its result after. done runs exactly once,
// on the loop and never inside psb_runtime_record: rc 0 once the row with
// the resources is committed; non-zero when they could not be recorded
// (no sandbox of that generation, or the commit failed): then the
// operation must not go on as if they were.
typedef void (*psb_rt_recorded_cb)(void *arg, int rc);
typedef struct psb_rt_record {
	const char        *sandbox_id;
	uint64_t           generation;
	const char        *resources; // the whole object, not a change
	psb_rt_recorded_cb done;
	void              *done_arg;
} psb_rt_record_t;
typedef int (*psb_rt_record_sink_cb)(void *arg, const psb_rt_record_t *rec);

// The ops table every backend provides. impl is the backend's state.
typedef struct psb_runtime_ops {
	const char *rt_name;
	int (*rt_init)(psb_runtime_t *rt, const char *options, void **impl,
	        psb_error_t *err);
	void (*rt_fini)(void *impl);
	// The operations fill err (only) when they return non-zero.
	int (*rt_start)(
	        void *impl, const psb_rt_sandbox_t *sb, psb_error_t *err);
	int (*rt_kill)(
	        void *impl, const psb_rt_sandbox_t *sb, psb_error_t *err);
	int (*rt_delete)(
	        void *impl, const psb_rt_sandbox_t *sb, psb_error_t *err);
	// NULL: the backend makes no pod networks (never NET_UP).
	int (*rt_net_down)(
	        void *impl, const psb_rt_sandbox_t *sb, psb_error_t *err);
	// complete: sbs is every sandbox the daemon has, so anything else
	// the backend finds of its own is an orphan to remove.
	int (*rt_probe)(void *impl, const psb_rt_sandbox_t *sbs, size_t n,
	        bool complete, psb_error_t *err);
	int (*rt_platform)(void *impl, psb_platform_t *out);
	bool rt_is_test_double; // logged loudly at start-up
	// Exits found by a resync instead of the event stream (late or
	// missed events); NULL = the backend has no such stream.
	uint64_t (*rt_missed_exits)(void *impl);
} psb_runtime_ops_t;

// psb_runtime_open finds the backend called name ("scripted", ...) and
// initialises it on loop with a backend-specific options string (may be
// NULL). PSB_ENOENT names the known backends in the message.
int psb_runtime_open(const char *name, struct ev_loop *loop,
        const char *options, psb_runtime_t **out, psb_error_t *err);

// psb_runtime_close stops the backend: no event is delivered after it
// returns, pending operations are abandoned. NULL is a no-op.
void psb_runtime_close(psb_runtime_t *rt);

// psb_runtime_set_sink chooses where events go (the controller).
void psb_runtime_set_sink(psb_runtime_t *rt, psb_rt_sink_cb cb, void *arg);

// psb_runtime_set_recorder chooses who records (the controller): cb
// returns non-zero when it refuses at once (then done never runs).
void psb_runtime_set_recorder(
        psb_runtime_t *rt, psb_rt_record_sink_cb cb, void *arg);

// psb_runtime_record is for backends: see psb_rt_record_t. Returns 0 when
// done will run; non-zero (PSB_ENOTSUP without a recorder, or the
// recorder's refusal) when it will not.
int psb_runtime_record(psb_runtime_t *rt, const psb_rt_record_t *rec);

// psb_runtime_emit is for backends: deliver ev to the sink now (the caller
// must already be on the loop thread, outside any operation call).
void psb_runtime_emit(psb_runtime_t *rt, const psb_rt_event_t *ev);

struct ev_loop *psb_runtime_loop(psb_runtime_t *rt);
const char     *psb_runtime_name(const psb_runtime_t *rt);
bool            psb_runtime_is_test_double(const psb_runtime_t *rt);
void           *psb_runtime_impl(psb_runtime_t *rt);

// The operations (outcomes: see the top of this file). Each returns 0
// once the operation is under way; non-zero (a psb_err) when it could not
// even begin or was refused, with err (may be NULL) saying why: then no
// event of it follows, and nothing was made. sb/sbs are borrowed.
// A start is refused (PSB_EINVAL) without a pod config that parses: see
// psb_runtime_pod_config.
int psb_runtime_start(
        psb_runtime_t *rt, const psb_rt_sandbox_t *sb, psb_error_t *err);
int psb_runtime_kill(
        psb_runtime_t *rt, const psb_rt_sandbox_t *sb, psb_error_t *err);
int psb_runtime_delete(
        psb_runtime_t *rt, const psb_rt_sandbox_t *sb, psb_error_t *err);
// PSB_ENOTSUP when the backend makes no pod networks.
int psb_runtime_net_down(
        psb_runtime_t *rt, const psb_rt_sandbox_t *sb, psb_error_t *err);
int psb_runtime_probe(psb_runtime_t *rt, const psb_rt_sandbox_t *sbs, size_t n,
        psb_error_t *err);
// psb_runtime_probe_all is the start-up probe: sbs (n may be 0) is every
// sandbox the daemon has, and the backend removes what it finds of its own
// that is not among them (orphans: a lost or older database), except what
// an operation started since is using.
int psb_runtime_probe_all(psb_runtime_t *rt, const psb_rt_sandbox_t *sbs,
        size_t n, psb_error_t *err);
int psb_runtime_platform(psb_runtime_t *rt, psb_platform_t *out);

// psb_runtime_pod_config is for backends' rt_start, so that every backend
// keeps the same rule: a start runs the pod config it was given, never a
// default pod in place of one that was lost. It parses sb->config_json;
// NULL, or text that is not a JSON object, is PSB_EINVAL with "sandbox
// <id>: its stored pod config is missing or unreadable" in err. On
// success *out (if out is not NULL) is the parsed object, owned by the
// caller (json_decref).
struct json_t;
int psb_runtime_pod_config(
        const psb_rt_sandbox_t *sb, struct json_t **out, psb_error_t *err);

// psb_runtime_host_platform fills out with this host's OCI platform
// (linux, GOARCH, variant): what local backends answer for Platform.
int psb_runtime_host_platform(psb_platform_t *out);

// psb_runtime_missed_exits counts exits the backend found by resyncing
// rather than through its event stream (0 if it has no stream).
uint64_t psb_runtime_missed_exits(psb_runtime_t *rt);

#endif // PSB_RUNTIME_RUNTIME_H
