//
// libpodsandbox - the C client library of podsandboxd.
//
// A client holds one nng REQ socket to the daemon's API URL. Calls are
// synchronous and bounded by the client's timeout; several threads may
// share a client (each call uses its own nng context). REQ resend is
// disabled (a long Wait is never sent twice). Times are nanoseconds since
// the Unix epoch. Every function that can fail returns 0 or a negative
// psb_code value and fills *err (if not NULL) with the code and a message.
//
// Ownership: *_out structures are filled by the call and owned by the
// caller, released with the matching *_free function.
//

#ifndef PODSANDBOX_H
#define PODSANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PSB_CLIENT_DEFAULT_URL        "ipc:///run/podsandboxd/podsandboxd.sock"
#define PSB_CLIENT_DEFAULT_EVENTS_URL "ipc:///run/podsandboxd/events.sock"

// API status codes (gRPC / containerd errdefs), as negative returns.
typedef enum psb_code {
	PSB_CODE_OK                  = 0,
	PSB_CODE_CANCELLED           = 1,
	PSB_CODE_UNKNOWN             = 2,
	PSB_CODE_INVALID_ARGUMENT    = 3,
	PSB_CODE_DEADLINE_EXCEEDED   = 4,
	PSB_CODE_NOT_FOUND           = 5,
	PSB_CODE_ALREADY_EXISTS      = 6,
	PSB_CODE_PERMISSION_DENIED   = 7,
	PSB_CODE_RESOURCE_EXHAUSTED  = 8,
	PSB_CODE_FAILED_PRECONDITION = 9,
	PSB_CODE_ABORTED             = 10,
	PSB_CODE_OUT_OF_RANGE        = 11,
	PSB_CODE_UNIMPLEMENTED       = 12,
	PSB_CODE_INTERNAL            = 13,
	PSB_CODE_UNAVAILABLE         = 14,
	PSB_CODE_DATA_LOSS           = 15,
	PSB_CODE_UNAUTHENTICATED     = 16,
} psb_code;

// psb_code_name returns "NOT_FOUND" etc. (static).
const char *psb_code_name(int code);

typedef struct psb_client_error {
	int  code; // psb_code (positive)
	char message[512];
} psb_client_error_t;

typedef struct psb_client psb_client_t;

// psb_client_open connects to url (NULL = PSB_CLIENT_DEFAULT_URL). The
// connection is made lazily by nng; a daemon that is not there shows as
// UNAVAILABLE on the first call, after the timeout.
int psb_client_open(
        const char *url, psb_client_t **out, psb_client_error_t *err);
void psb_client_close(psb_client_t *c);

// psb_client_set_timeout bounds every later call (default 10 s; <= 0 =
// no limit, for Wait).
void psb_client_set_timeout(psb_client_t *c, int timeout_ms);

typedef struct psb_instance {
	char     sandbox_id[80];
	uint32_t pid;
	int64_t  created_at;
	char    *labels_json; // JSON object
} psb_instance_t;

typedef struct psb_exit {
	uint32_t exit_status;
	int64_t  exited_at;
} psb_exit_t;

typedef struct psb_sandbox_status {
	char     sandbox_id[80];
	char     state[16]; // "READY", "EXITED", ...
	uint32_t pid;
	uint64_t generation;
	int64_t  created_at;
	int64_t  started_at;
	int64_t  exited_at;
	int32_t  exit_status; // -1 while not exited
	char    *labels_json;
	char    *runtime_handler;
	char    *name;       // metadata.name
	char    *namespace_; // metadata.namespace
	char    *info_json;  // verbose: the SandboxInfo JSON, else NULL
	// The pod network's IPs (CRI PodSandboxNetworkStatus): ip is the
	// primary (the first IPv4 if any), NULL without a pod network (a
	// host-network pod, or one whose network is not up: before Start,
	// after Stop); additional_ips are the others (NULL when
	// n_additional_ips is 0). Freed by psb_sandbox_status_free.
	char  *ip;
	char **additional_ips;
	size_t n_additional_ips;
} psb_sandbox_status_t;

typedef struct psb_event {
	uint64_t seq;
	char     sandbox_id[80];
	char     from[16];
	char     event[24];
	char     to[16];
	int64_t  time;
	int32_t  exit_status;
	uint64_t generation;
} psb_event_t;

typedef struct psb_event_list {
	psb_event_t *events;
	size_t       n;
	uint64_t     oldest_seq;
	uint64_t     newest_seq;
	bool         truncated; // entries after `since` were pruned
	bool         more;      // ask again from the last seq
} psb_event_list_t;

typedef struct psb_platform_info {
	char os[32];
	char architecture[32];
	char variant[32];
} psb_platform_info_t;

typedef struct psb_version_info_client {
	char     version[32];
	uint32_t api_version;
	char     runtime[32];
	bool     runtime_is_test_double;
	uint64_t sandboxes;
	uint64_t commit_failures;
	uint64_t newest_seq;
	uint64_t missed_exits; // exits found by resync, not the event stream
} psb_daemon_version_t;

// psb_config_from_json encodes a crictl-style pod config JSON document
// (the PodSandboxConfig fields, in crictl's JSON names: metadata{name,
// uid, namespace, attempt}, hostname, log_directory, dns_config, port_
// mappings, labels, annotations, linux{cgroup_parent, security_context{
// namespace_options{network, pid, ipc}, ...}, sysctls}) as protobuf bytes.
// *bytes is malloc'd. Unknown keys and wrong types are INVALID_ARGUMENT
// naming the key.
int psb_config_from_json(
        const char *json, void **bytes, size_t *len, psb_client_error_t *err);

// The calls. id must be a valid sandbox id.
//
// psb_client_create: config is the encoded PodSandboxConfig (see
// psb_config_from_json); runtime_handler NULL or "" = the daemon's
// default. Idempotent for the same id, config, handler (and netns path).
int psb_client_create(psb_client_t *c, const char *id, const void *config,
        size_t config_len, const char *runtime_handler,
        psb_client_error_t *err);
// psb_client_create_netns is psb_client_create with netns_path, a network
// namespace the caller made (an absolute path such as
// "/var/run/netns/cni-1234", at most 4095 bytes, no ".." component), or
// NULL/"" for none (then it is psb_client_create). With a path, a pod whose
// config asks for network POD joins that namespace: the daemon neither
// makes nor removes a netns for it and runs no CNI; the caller owns the
// namespace and its network. A config with network NODE and a path is
// INVALID_ARGUMENT, as is a path that breaks the rules above. The path is
// part of what a retried Create must repeat: the same id with another (or
// no) path is ALREADY_EXISTS.
int psb_client_create_netns(psb_client_t *c, const char *id,
        const void *config, size_t config_len, const char *runtime_handler,
        const char *netns_path, psb_client_error_t *err);
int psb_client_start(psb_client_t *c, const char *id, psb_instance_t *out,
        psb_client_error_t *err);
int psb_client_stop(psb_client_t *c, const char *id, uint32_t timeout_secs,
        psb_client_error_t *err);
int psb_client_shutdown(
        psb_client_t *c, const char *id, psb_client_error_t *err);
// psb_client_wait blocks until the sandbox exits (or timeout_ms, 0 = the
// client's timeout, < 0 = for ever).
int psb_client_wait(psb_client_t *c, const char *id, int timeout_ms,
        psb_exit_t *out, psb_client_error_t *err);
int psb_client_status(psb_client_t *c, const char *id, bool verbose,
        psb_sandbox_status_t *out, psb_client_error_t *err);
// state may be NULL; selector_json is a JSON object of labels or NULL.
int psb_client_list(psb_client_t *c, const char *state,
        const char *selector_json, psb_sandbox_status_t **out, size_t *n,
        psb_client_error_t *err);
int psb_client_platform(
        psb_client_t *c, psb_platform_info_t *out, psb_client_error_t *err);
int psb_client_version(
        psb_client_t *c, psb_daemon_version_t *out, psb_client_error_t *err);
int psb_client_events(psb_client_t *c, uint64_t since, uint32_t limit,
        psb_event_list_t *out, psb_client_error_t *err);
int psb_client_history(psb_client_t *c, const char *id, psb_event_list_t *out,
        psb_client_error_t *err);

void psb_instance_free(psb_instance_t *x);
void psb_sandbox_status_free(psb_sandbox_status_t *x);
void psb_sandbox_status_list_free(psb_sandbox_status_t *v, size_t n);
void psb_event_list_free(psb_event_list_t *l);

// The callback form of Wait: cb runs once, on an nng thread, with the
// exit or an error. Returns 0 if the Wait was sent.
typedef void (*psb_wait_cb)(
        void *arg, int code, const psb_exit_t *exit, const char *message);
int psb_client_wait_async(psb_client_t *c, const char *id, psb_wait_cb cb,
        void *arg, psb_client_error_t *err);

// Event subscription: a SUB socket on events_url (NULL = default) that
// calls cb for each event in seq order, starting after `since`. Gaps in
// seq (a slow subscriber misses PUB messages) are filled by Events
// replays through client c; if the journal no longer has them, cb gets
// one call with ev == NULL and code DATA_LOSS. cb runs on a thread of the
// subscription's own.
typedef struct psb_subscription psb_subscription_t;
typedef void (*psb_event_cb)(void *arg, const psb_event_t *ev, int code);
int  psb_client_subscribe(psb_client_t *c, const char *events_url,
         uint64_t since, psb_event_cb cb, void *arg, psb_subscription_t **out,
         psb_client_error_t *err);
void psb_subscription_close(psb_subscription_t *s);

#ifdef __cplusplus
}
#endif

#endif // PODSANDBOX_H
