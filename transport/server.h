//
// podsandboxd - the API server and the event publisher over nng
// (DESIGN.md §5, §8; reference/stack-notes.md §C).
//
// REP: a cooked nng_rep0 socket with a pool of contexts always receiving.
// A request the dispatcher's read answers at once (plain Status, List)
// is answered on the nng thread that received it. Everything else is
// queued for the loop thread (ev_async_send), which decodes, checks the
// peer's credentials, hands the request to the dispatcher, and sends the
// reply with nng_ctx_send when the dispatcher answers (possibly much
// later: Wait). A held request whose
// pipe goes away is cancelled through the dispatcher. PUB: every committed
// transition is published by psb_server_publish.
//
// All functions: loop thread only.
//

#ifndef PSB_TRANSPORT_SERVER_H
#define PSB_TRANSPORT_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "base/error.h"

struct ev_loop;

typedef struct psb_server psb_server_t;

// The controller as the server sees it (core is wired in by main.c, so
// transport does not depend on core's implementation). submit and cancel
// are called on the loop thread. read (optional) is called on nng's
// threads with a request from an allowed peer: it either answers at once
// from what is committed, calling cb before it returns true, or returns
// false and the request is submitted as usual.
typedef struct psb_dispatch {
	uint64_t (*submit)(void *arg, const psb_request_t *req,
	        psb_reply_cb cb, void *cb_arg);
	void (*cancel)(void *arg, uint64_t token);
	bool (*read)(void *arg, const psb_request_t *req, psb_reply_cb cb,
	        void *cb_arg);
	void *arg;
} psb_dispatch_t;

#define PSB_MAX_IDS 16

typedef struct psb_server_opts {
	const char *api_url;     // "ipc:///run/podsandboxd/podsandboxd.sock"
	const char *events_url;  // "ipc:///run/podsandboxd/events.sock"
	uint32_t    socket_mode; // ipc socket file mode, default 0660
	uint32_t    allow_uids[PSB_MAX_IDS]; // peers allowed (uid match)
	size_t      n_allow_uids;            // 0 = root only
	uint32_t    allow_gids[PSB_MAX_IDS]; // ... or primary gid match
	size_t      n_allow_gids;
	size_t      max_msg_bytes; // larger requests: RESOURCE_EXHAUSTED
	uint32_t    contexts;      // receiving contexts (default 16)
	bool        allow_tcp;     // tcp:// URLs are refused unless set
} psb_server_opts_t;

#define PSB_SERVER_DEFAULT_API_URL    "ipc:///run/podsandboxd/podsandboxd.sock"
#define PSB_SERVER_DEFAULT_EVENTS_URL "ipc:///run/podsandboxd/events.sock"
#define PSB_SERVER_DEFAULT_MAX_MSG    (1024 * 1024)

// psb_server_start creates the socket directories (root-owned, not
// writable by group or others; an existing one that is, is refused),
// opens both sockets with the file mode set before listening, and starts
// receiving. Errors name the URL; PSB_EBUSY if another daemon listens.
int psb_server_start(struct ev_loop *loop, const psb_dispatch_t *dispatch,
        const psb_server_opts_t *opts, psb_server_t **out, psb_error_t *err);

// psb_server_publish sends t to every subscriber (never blocks; a slow
// subscriber misses messages and detects the gap by seq). Usable directly
// as the controller's psb_publish_cb with arg = the server.
void psb_server_publish(void *server, const psb_transition_t *t);

// psb_server_stop stops receiving new requests (requests already handed
// to the dispatcher are still answered). Idempotent.
void psb_server_stop(psb_server_t *s);

// psb_server_free closes the sockets and frees everything, after every
// nng callback has finished. NULL is a no-op.
void psb_server_free(psb_server_t *s);

#endif // PSB_TRANSPORT_SERVER_H
