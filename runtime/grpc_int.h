//
// podsandboxd - what the gRPC client's files share (grpc.h): grpc.c, the
// client object and the flush; grpc_conn.c, the connection (socket,
// HTTP/2 session, ev_io, reconnect with backoff, GOAWAY); grpc_call.c,
// the calls (framing, headers and trailers, deadlines, cancellation).
// Nothing outside runtime/grpc*.c includes this. Loop thread only.
//
// Structure. Every call (unary or stream) is a grpc_call_t on g->calls and
// moves QUEUED -> ACTIVE -> DONE. QUEUED calls wait for a connection;
// ACTIVE ones own an HTTP/2 stream; DONE ones know their final status and
// wait for their callback. Nothing that nghttp2 or a watcher calls ever
// runs user code: it only records facts and queues the call on g->ready.
// User callbacks run in exactly two places, grpc_flush_cb (a zero-delay
// ev_timer, so in the loop's ordinary callback phase: an ev_prepare would
// run them after other prepare watchers, e.g. the store's commit, had
// already run, and the loop would then sleep on their work) and
// psb_grpc_close. That keeps nghttp2 free of re-entrancy (a callback may
// call, cancel or close) and guarantees that no callback runs inside
// psb_grpc_call. The same flush batches all requests of one loop
// iteration into one write.
//
// Flow control. The session runs with no automatic WINDOW_UPDATE. Received
// bytes are only consumed (nghttp2_session_consume) once every complete
// message in them has been handed to its callback, so a peer can never be
// more than one window ahead of us, and the bytes of one unfinished
// message are bounded by max_msg_size (the call fails first). The session
// option is set in grpc_conn.c; bytes are consumed in grpc_deliver
// (grpc.c) and, for a call given up on, in grpc_call.c.
//

#ifndef PSB_RUNTIME_GRPC_INT_H
#define PSB_RUNTIME_GRPC_INT_H

#include <ev.h>
#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/list.h"
#include "runtime/grpc.h"

#define GRPC_HDR_LEN 5 // message prefix: 1 flag byte, 4 length bytes

typedef struct psb_grpc_call grpc_call_t;

typedef enum { CONN_IDLE, CONN_CONNECTING, CONN_READY } conn_state;
typedef enum { CALL_QUEUED, CALL_ACTIVE, CALL_DONE } call_state;

struct psb_grpc_call {
	psb_grpc_t     *g;
	psb_list_node_t node;       // on g->calls until freed
	psb_list_node_t ready_node; // queued on g->ready (a FIFO)
	bool            streaming;
	bool            cancelled; // psb_grpc_stream_cancel: no more callbacks
	bool            ended;     // the final callback has started
	call_state      state;
	int32_t         stream_id;
	uint8_t        *req; // framed request
	size_t          req_len;
	size_t          req_off;
	char           *path;
	const ProtobufCMessageDescriptor *resp_desc;
	ev_timer                          deadline;

	// Receive framing: the 5-byte prefix, then the message body.
	uint8_t            hdr[GRPC_HDR_LEN];
	size_t             hdr_have;
	uint8_t           *body;
	size_t             body_len;
	size_t             body_have;
	ProtobufCMessage **rxq; // decoded, not yet handed over
	size_t             rxq_n;
	size_t             rxq_cap;
	size_t             unconsumed; // bytes not yet given back to the peer

	int   http_status;
	bool  have_status;
	int   status;     // grpc-status from headers or trailers
	char *message;    // grpc-message, decoded
	int   fin_status; // final, once DONE
	char *fin_message;

	psb_grpc_unary_cb unary_cb;
	psb_grpc_msg_cb   msg_cb;
	psb_grpc_end_cb   end_cb;
	void             *arg;
};

struct psb_grpc {
	struct ev_loop  *loop;
	char            *path;
	char            *ns;
	psb_grpc_opts_t  opts;
	conn_state       state;
	int              fd;
	nghttp2_session *sess;
	ev_io            io;
	ev_timer         flush;   // 0 s: delivers callbacks, sends, connects
	ev_timer         backoff; // wait_for_ready: next connect attempt
	double           next_attempt; // ev_now() before which we don't dial
	uint32_t         backoff_ms;
	bool             got_settings; // the peer speaks HTTP/2
	bool             goaway;
	uint32_t         goaway_code;
	int              sys_errno;  // from send_cb
	char            *last_error; // why the last connect failed
	psb_list_t       calls;      // grpc_call_t, newest first
	psb_list_t       ready;      // grpc_call_t whose callbacks are due
	grpc_call_t     *delivering; // whose callback is running
	size_t           nqueued;
	int              depth; // frames that run user callbacks
	bool             closed;
};

// ---- grpc.c ----

// grpc_kick schedules the flush (a zero-delay ev_timer) unless g is closed
// or a flush is already pending.
void grpc_kick(psb_grpc_t *g);

// ---- grpc_conn.c (the connection) ----

// grpc_conn_init sets up g's connection watchers (not started: the first
// call connects).
void grpc_conn_init(psb_grpc_t *g);

// grpc_conn_close stops g's connection watchers, frees the HTTP/2 session
// and closes the socket, without failing any call (psb_grpc_close does).
void grpc_conn_close(psb_grpc_t *g);

// grpc_connect dials the socket, or, within the backoff after a failed
// attempt, arms the backoff timer (wait_for_ready) or fails every queued
// call fast with UNAVAILABLE.
void grpc_connect(psb_grpc_t *g);

// grpc_conn_lost drops the connection: every ACTIVE call fails with
// UNAVAILABLE. Queued calls were never sent, so they stay queued and the
// next flush dials again. Must not run inside an nghttp2 callback.
void grpc_conn_lost(psb_grpc_t *g, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

// grpc_io_update makes g's ev_io watch for what the connection waits on:
// writable while connecting, else readable, and writable too while
// nghttp2 has something to send.
void grpc_io_update(psb_grpc_t *g);

// ---- grpc_call.c (the calls) ----

// grpc_call_callbacks sets the per-stream nghttp2 callbacks (headers,
// DATA, stream close) in cbs, for the session grpc_conn.c creates.
void grpc_call_callbacks(nghttp2_session_callbacks *cbs);

// grpc_submit turns a QUEUED call into an HTTP/2 request on g's session
// (CONN_READY); it goes out with the next nghttp2_session_send. A refused
// submit finishes the call with UNAVAILABLE.
void grpc_submit(psb_grpc_t *g, grpc_call_t *c);

// grpc_call_finish fixes the final status (the first one wins) and queues
// the callback. rst resets the stream of an ACTIVE call (the server must
// stop); it is false when the stream is already closed.
void grpc_call_finish(grpc_call_t *c, int status, bool rst, const char *fmt,
        ...) __attribute__((format(printf, 4, 5)));

// grpc_call_free unlinks c from g->calls and frees it. c must not be on
// g->ready, and no callback of c may be running.
void grpc_call_free(grpc_call_t *c);

#endif // PSB_RUNTIME_GRPC_INT_H
