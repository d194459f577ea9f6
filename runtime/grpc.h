//
// podsandboxd - a small gRPC client over a unix socket (DESIGN.md §6).
//
// One psb_grpc_t is one HTTP/2 connection (nghttp2 client session) to one
// unix socket path, driven by ev_io on the caller's loop. There are no
// threads: every function here must be called on the loop thread, and every
// callback runs on the loop thread.
//
// Callbacks never run inside the function that started the call, not even
// for an immediate failure: they are delivered from a zero-delay ev_timer
// in the next loop iteration. The one exception is psb_grpc_close,
// which fires the callbacks of every pending call with
// PSB_GRPC_CANCELLED before it returns; after it returns, no callback of
// that psb_grpc_t ever fires.
//
// Connection management:
// - The socket is connected lazily, by the first call.
// - When the connection is lost (EOF, ECONNRESET, a protocol error) or the
//   server sends GOAWAY, every call in flight fails with
//   PSB_GRPC_UNAVAILABLE and every stream ends with it. A GOAWAY fails
//   even the calls the server promised to finish: the caller sees the same
//   outcome as for a dropped connection and must treat the call as "may
//   or may not have happened".
// - A call made while disconnected connects again at once, unless a connect
//   attempt failed less than the current backoff ago (100 ms, doubling to
//   1 s, reset once the server's SETTINGS arrive). Within that window the
//   call fails fast with UNAVAILABLE (the default, as grpc's fail-fast),
//   or, with opts.wait_for_ready, waits queued (its deadline still runs)
//   while a backoff timer retries the connect.
//

#ifndef PSB_RUNTIME_GRPC_H
#define PSB_RUNTIME_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "base/error.h"

struct ev_loop;

// The gRPC status codes (grpc/doc/statuscodes.md); values are the wire's.
typedef enum psb_grpc_status {
	PSB_GRPC_OK                  = 0,
	PSB_GRPC_CANCELLED           = 1,
	PSB_GRPC_UNKNOWN             = 2,
	PSB_GRPC_INVALID_ARGUMENT    = 3,
	PSB_GRPC_DEADLINE_EXCEEDED   = 4,
	PSB_GRPC_NOT_FOUND           = 5,
	PSB_GRPC_ALREADY_EXISTS      = 6,
	PSB_GRPC_PERMISSION_DENIED   = 7,
	PSB_GRPC_RESOURCE_EXHAUSTED  = 8,
	PSB_GRPC_FAILED_PRECONDITION = 9,
	PSB_GRPC_ABORTED             = 10,
	PSB_GRPC_OUT_OF_RANGE        = 11,
	PSB_GRPC_UNIMPLEMENTED       = 12,
	PSB_GRPC_INTERNAL            = 13,
	PSB_GRPC_UNAVAILABLE         = 14,
	PSB_GRPC_DATA_LOSS           = 15,
	PSB_GRPC_UNAUTHENTICATED     = 16,
} psb_grpc_status;

// psb_grpc_status_name returns the static upper-case name of a status
// ("NOT_FOUND"), or "UNKNOWN" for a value out of range.
const char *psb_grpc_status_name(int status);

// psb_grpc_status_to_err maps a gRPC status to the daemon's error domain
// (the errdefs mapping containerd uses): OK -> PSB_OK, NOT_FOUND ->
// PSB_ENOENT, ALREADY_EXISTS -> PSB_EEXIST, DEADLINE_EXCEEDED ->
// PSB_ETIMEDOUT, UNAVAILABLE -> PSB_EUNAVAIL, ... anything unmapped ->
// PSB_ERUNTIME.
int psb_grpc_status_to_err(int status);

typedef struct psb_grpc      psb_grpc_t;
typedef struct psb_grpc_call psb_grpc_stream_t;

typedef struct psb_grpc_opts {
	// Value of the containerd-namespace header sent on every call
	// (copied); NULL or "" sends none.
	const char *ns;
	// Deadline of a unary call that passes deadline_ms = 0; 0 = none.
	uint32_t default_deadline_ms;
	// Reconnect backoff; 0 takes the defaults (100 ms, 1000 ms).
	uint32_t backoff_min_ms;
	uint32_t backoff_max_ms;
	// Largest message accepted or sent; 0 takes 16 MiB. A bigger one
	// fails the call with RESOURCE_EXHAUSTED.
	size_t max_msg_size;
	// Queue calls while the socket cannot be connected instead of
	// failing them fast (see the file comment).
	bool wait_for_ready;
} psb_grpc_opts_t;

// psb_grpc_unary_cb reports the outcome of a unary call. status is a
// psb_grpc_status; message is the grpc-message (percent-decoded) or our
// own description, borrowed for the callback, never NULL ("" if none).
// resp is non-NULL exactly when status is PSB_GRPC_OK; the callback owns
// it and frees it with protobuf_c_message_free_unpacked(resp, NULL).
typedef void (*psb_grpc_unary_cb)(
        void *arg, int status, const char *message, ProtobufCMessage *resp);

// psb_grpc_msg_cb delivers one message of a server stream; the callback
// owns msg (free with protobuf_c_message_free_unpacked).
typedef void (*psb_grpc_msg_cb)(void *arg, ProtobufCMessage *msg);

// psb_grpc_end_cb reports the end of a server stream, like
// psb_grpc_unary_cb without a message. The stream handle is invalid once
// it returns.
typedef void (*psb_grpc_end_cb)(void *arg, int status, const char *message);

// psb_grpc_open creates a client for the unix socket unix_path on loop.
// It does not connect (the first call does). opts may be NULL (all
// defaults); it is copied. Fails with PSB_EINVAL for a path that does not
// fit a sockaddr_un. On success *out is the caller's, to psb_grpc_close.
int psb_grpc_open(struct ev_loop *loop, const char *unix_path,
        const psb_grpc_opts_t *opts, psb_grpc_t **out, psb_error_t *err);

// psb_grpc_close fails every pending call and stream with
// PSB_GRPC_CANCELLED (their callbacks run inside this function; a stream
// already cancelled with psb_grpc_stream_cancel gets none), closes the
// connection and frees g. Calls made from those callbacks fail with
// PSB_ECANCELED. May be called from any callback of g. NULL is a no-op.
void psb_grpc_close(psb_grpc_t *g);

// psb_grpc_connected is true when an HTTP/2 connection is up (it may
// still be refused later); false while disconnected or connecting.
bool psb_grpc_connected(const psb_grpc_t *g);

// psb_grpc_method_path writes "/<package.Service>/<method>" for a service
// of the generated code into buf (e.g. "/containerd.services.version.v1.
// Version/Version"). Returns 0, or PSB_EINVAL if the service has no such
// method or buf is too small.
int psb_grpc_method_path(const ProtobufCServiceDescriptor *svc,
        const char *method, char *buf, size_t size);

// psb_grpc_call starts a unary call of path with req (borrowed: packed
// before this returns). The response is unpacked with resp_desc.
// deadline_ms = 0 takes opts.default_deadline_ms. cb fires exactly once,
// later, on the loop thread (or inside psb_grpc_close). Returns 0, or
// PSB_EINVAL (NULL argument) / PSB_ECANCELED (g is closing), in which case
// cb never fires.
int psb_grpc_call(psb_grpc_t *g, const char *path, const ProtobufCMessage *req,
        const ProtobufCMessageDescriptor *resp_desc, uint32_t deadline_ms,
        psb_grpc_unary_cb cb, void *arg);

// psb_grpc_stream starts a server-streaming call (no deadline). msg_cb
// fires per message, then end_cb exactly once with the final status, all
// later on the loop thread. *out (may be NULL) is a handle for
// psb_grpc_stream_cancel, valid until end_cb returns. Errors as
// psb_grpc_call.
int psb_grpc_stream(psb_grpc_t *g, const char *path,
        const ProtobufCMessage           *req,
        const ProtobufCMessageDescriptor *resp_desc, psb_grpc_msg_cb msg_cb,
        psb_grpc_end_cb end_cb, void *arg, psb_grpc_stream_t **out);

// psb_grpc_stream_cancel stops a stream (RST_STREAM CANCEL to the
// server). No callback of the stream fires after it returns, and the
// handle is invalid. May be called from the stream's own msg_cb. Must not
// be called after end_cb started.
void psb_grpc_stream_cancel(psb_grpc_stream_t *s);

#endif // PSB_RUNTIME_GRPC_H
