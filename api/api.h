//
// podsandboxd - the values the API carries, below both the controller
// (core/) and the wire (transport/) (DESIGN.md §2, §5).
//
// A request decoded by transport is handed to core as a psb_request_t;
// core answers with a psb_reply_t and publishes psb_transition_t values,
// which transport encodes. Neither side includes the other: only the
// daemon's main.c wires them together. The methods themselves are listed
// once, in api/methods.def.
//
// Plain value types; the strings they point to are borrowed as each
// comment says.
//

#ifndef PSB_API_API_H
#define PSB_API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/goarch.h"
#include "base/ident.h"
#include "fsm/fsm.h"

// The API version Version reports; bump on incompatible changes.
#define PSB_API_VERSION 1

typedef enum psb_method {
#define PSB_METHOD(e, name, req, res, body, id, ev) PSB_M_##e,
#include "api/methods.def"
#undef PSB_METHOD
	PSB_M_COUNT
} psb_method_t;

// psb_method_needs_id: the method acts on one sandbox, named by its id.
bool psb_method_needs_id(psb_method_t m);

// psb_method_name returns the method's name ("Create"), or "?".
const char *psb_method_name(psb_method_t m);

// The most entries one EVENTS reply carries.
#define PSB_EVENTS_MAX 1000

// A request. Everything is borrowed for the duration of submit (copied).
typedef struct psb_request {
	psb_method_t method;
	const char  *sandbox_id;
	const void  *config; // CREATE: CRI PodSandboxConfig bytes
	size_t       config_len;
	const char  *config_json;     // CREATE: the same config as crictl JSON
	const char  *labels;          // CREATE: JSON object text, or NULL
	const char  *runtime_handler; // CREATE
	// CREATE: a network namespace the caller made (an absolute path), or
	// NULL: for a network POD pod the daemon then neither makes nor
	// removes a netns and runs no CNI (the split containerd's CRI uses
	// with a sandbox controller). Part of "the same config".
	const char *netns_path;
	uint32_t    timeout_ms;   // STOP/WAIT: reply DEADLINE_EXCEEDED after
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
	// The pod network's IPs (CRI PodSandboxNetworkStatus): ip is the
	// primary (the first IPv4 if any), NULL without a pod network.
	const char        *ip;
	const char *const *additional_ips;
	size_t             n_additional_ips;
} psb_sandbox_view_t;

// psb_view_cmp orders views by id (for qsort).
int psb_view_cmp(const void *a, const void *b);

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

#endif // PSB_API_API_H
