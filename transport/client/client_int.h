//
// libpodsandbox - what the library's files share and its users never see.
//
// The files: client.c (the connection and the error helpers), unary.c (one
// request and its answer, driven by the method table), methods.c (the
// method table and each result's conversion to the public structs),
// calls.c (the public calls), async.c (the callback form of Wait),
// config.c (pod config JSON) and subscribe.c (the event subscription).
// Protobuf types stay inside these files: podsandbox.h speaks plain C structs.
//
// The library is built with -fvisibility=hidden, so nothing declared here
// is exported from the shared library; only what PSB_PUBLIC marks is.
//

#ifndef PSB_CLIENT_INT_H
#define PSB_CLIENT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <nng/nng.h>

#include "podsandbox.h"
#include "podsandbox.pb-c.h"

#define PSB_PUBLIC __attribute__((visibility("default")))

// A call the daemon answers at its own deadline (Stop, Wait) is given
// this much longer on the client to let the answer arrive.
#define PSB_CLIENT_GRACE_MS 1000

struct psb_client_async;

struct psb_client {
	nng_socket      sock;
	char            url[256];
	atomic_int      timeout_ms;
	atomic_bool     closing;
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	unsigned        n_async; // wait_async calls whose callback has not run
	struct psb_client_async *done; // finished wait_async calls, to free
};

// psb_client_fail fills *err (if not NULL) and returns -code.
int psb_client_fail(psb_client_error_t *err, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

// Allocation aborts on failure (the library's OOM policy, like xmalloc);
// xzalloc zeroes, xstrdup(NULL) is "". psb_client_copy copies src (NULL =
// "") into a fixed-size field, cut to fit.
void *psb_client_xmalloc(size_t n);
void *psb_client_xzalloc(size_t n);
char *psb_client_xstrdup(const char *s);
void  psb_client_copy(char *dst, size_t size, const char *src);

// psb_client_timeout_ms returns the timeout set on c (any thread).
int psb_client_timeout_ms(const psb_client_t *c);

// ---- the method table (methods.c) ----

// Every unary method: api/methods.def (compiled in; not installed).
typedef enum psb_client_mid {
#define PSB_METHOD(e, name, req, res, body, id, ev) PSB_CM_##e,
#include "api/methods.def"
#undef PSB_METHOD
	PSB_CM_COUNT
} psb_client_mid;

// One unary method as the client calls it.
typedef struct psb_client_method {
	unsigned method;   // the Request oneof case (its field number)
	unsigned result;   // the Response oneof case the answer must carry
	bool     needs_id; // sandbox_id is required (and set by the helper)
	// convert fills out (the public struct the caller passed) from the
	// result message; NULL for methods that answer Empty. Whatever it
	// allocates is released by the matching psb_*_free.
	void (*convert)(const ProtobufCMessage *result, void *out);
} psb_client_method_t;

extern const psb_client_method_t psb_client_methods[PSB_CM_COUNT];

// psb_client_event_from_pb converts one Event (also the PUB message).
void psb_client_event_from_pb(const Podsandbox__V1__Event *e, psb_event_t *o);

// The `out` of PSB_CM_LIST: the two results of psb_client_list.
typedef struct psb_client_list_out {
	psb_sandbox_status_t **v;
	size_t                *n;
} psb_client_list_out_t;

// ---- one request and its answer (unary.c) ----

// psb_client_check_id fails INVALID_ARGUMENT for a NULL or empty id. (The
// daemon judges the rest of the id rule.)
int psb_client_check_id(const char *id, psb_client_error_t *err);

// psb_client_encode packs the Request for method m into a new *msg: sub
// (borrowed) goes in the oneof, or, if sub is NULL, an empty request of
// the method's type. For a method that needs an id, id is checked (an
// empty one is INVALID_ARGUMENT) and set as sub's sandbox_id.
int psb_client_encode(psb_client_mid m, const char *id, ProtobufCMessage *sub,
        nng_msg **msg, psb_client_error_t *err);

// psb_client_decode unpacks msg (taken, always freed), turns a status
// other than OK into its code and message, checks that the result is
// method m's, and converts it into out (skipped if out is NULL).
int psb_client_decode(const psb_client_t *c, psb_client_mid m, nng_msg *msg,
        void *out, psb_client_error_t *err);

// psb_client_transport_error maps an nng failure of the send stage (sent
// false) or of the receive stage to an API code and message.
int psb_client_transport_error(const psb_client_t *c, int rv, bool sent,
        int timeout_ms, psb_client_error_t *err);

// psb_client_unary is every synchronous call: encode, one round trip on
// a context of its own within timeout_ms (<= 0: no limit once sent; the
// send - waiting for a connection - stays bounded by the client's
// timeout), decode. sub and id are borrowed; out as psb_client_decode.
int psb_client_unary(psb_client_t *c, psb_client_mid m, const char *id,
        ProtobufCMessage *sub, int timeout_ms, void *out,
        psb_client_error_t *err);

// psb_client_wait_request fills wr for a Wait of timeout_ms (0 = the
// client's timeout, < 0 = for ever) and returns the client-side limit
// (0 = none).
int psb_client_wait_request(
        psb_client_t *c, int timeout_ms, Podsandbox__V1__WaitRequest *wr);

// psb_client_async_reap frees the finished async Waits of c. Never on an
// nng callback thread (see async.c).
void psb_client_async_reap(psb_client_t *c);

// psb_client_events_ms is psb_client_events with its own timeout (the
// subscription bounds its replays).
int psb_client_events_ms(psb_client_t *c, uint64_t since, uint32_t limit,
        int timeout_ms, psb_event_list_t *out, psb_client_error_t *err);

#endif // PSB_CLIENT_INT_H
