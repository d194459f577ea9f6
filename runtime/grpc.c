//
// podsandboxd - gRPC client over nghttp2 on the loop thread (grpc.h).
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
// message are bounded by max_msg_size (the call fails first).
//

#include "runtime/grpc.h"

#include <errno.h>
#include <ev.h>
#include <inttypes.h>
#include <nghttp2/nghttp2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/failpoint.h"
#include "base/list.h"
#include "base/log.h"
#include "base/parse.h"

#define GRPC_HDR_LEN      5
#define GRPC_MAX_MSG_DEF  (16u << 20)
#define GRPC_BACKOFF_MIN  100
#define GRPC_BACKOFF_MAX  1000
#define GRPC_READ_BUF     (64 * 1024)
#define GRPC_READS_PER_CB 4

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

static const char *const grpc_status_names[] = {"OK", "CANCELLED", "UNKNOWN",
        "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE",
        "DATA_LOSS", "UNAUTHENTICATED"};

const char *
psb_grpc_status_name(int status)
{
	if (status < 0 || status > PSB_GRPC_UNAUTHENTICATED) {
		return ("UNKNOWN");
	}
	return (grpc_status_names[status]);
}

// The errdefs mapping containerd itself uses (errdefs/grpc.go).
static const int grpc_errs[] = {
        [PSB_GRPC_OK]                  = PSB_OK,
        [PSB_GRPC_CANCELLED]           = PSB_ECANCELED,
        [PSB_GRPC_UNKNOWN]             = PSB_ERUNTIME,
        [PSB_GRPC_INVALID_ARGUMENT]    = PSB_EINVAL,
        [PSB_GRPC_DEADLINE_EXCEEDED]   = PSB_ETIMEDOUT,
        [PSB_GRPC_NOT_FOUND]           = PSB_ENOENT,
        [PSB_GRPC_ALREADY_EXISTS]      = PSB_EEXIST,
        [PSB_GRPC_PERMISSION_DENIED]   = PSB_EPERM,
        [PSB_GRPC_RESOURCE_EXHAUSTED]  = PSB_ENOSPC,
        [PSB_GRPC_FAILED_PRECONDITION] = PSB_ESTATE,
        [PSB_GRPC_ABORTED]             = PSB_ESTATE,
        [PSB_GRPC_OUT_OF_RANGE]        = PSB_EINVAL,
        [PSB_GRPC_UNIMPLEMENTED]       = PSB_ENOTSUP,
        [PSB_GRPC_INTERNAL]            = PSB_EINTERNAL,
        [PSB_GRPC_UNAVAILABLE]         = PSB_EUNAVAIL,
        [PSB_GRPC_DATA_LOSS]           = PSB_ERUNTIME,
        [PSB_GRPC_UNAUTHENTICATED]     = PSB_EPERM,
};

int
psb_grpc_status_to_err(int status)
{
	if (status < 0 || (size_t)status >= PSB_NELEM(grpc_errs)) {
		return (PSB_ERUNTIME);
	}
	return (grpc_errs[status]);
}

int
psb_grpc_method_path(const ProtobufCServiceDescriptor *svc, const char *method,
        char *buf, size_t size)
{
	int n;

	if (svc == NULL || method == NULL || buf == NULL) {
		return (PSB_EINVAL);
	}
	for (unsigned i = 0; i < svc->n_methods; i++) {
		if (strcmp(svc->methods[i].name, method) != 0) {
			continue;
		}
		n = snprintf(buf, size, "/%s/%s", svc->name, method);
		return (n < 0 || (size_t)n >= size ? PSB_EINVAL : PSB_OK);
	}
	return (PSB_EINVAL);
}

// ---- calls ------------------------------------------------------------

static void grpc_kick(psb_grpc_t *g);

static void
grpc_ready_push(grpc_call_t *c)
{
	psb_grpc_t *g = c->g;

	if (psb_list_node_active(&c->ready_node)) {
		return;
	}
	psb_list_append(&g->ready, c);
	grpc_kick(g);
}

static grpc_call_t *
grpc_ready_pop(psb_grpc_t *g)
{
	return (psb_list_take(&g->ready));
}

static void
grpc_rxq_clear(grpc_call_t *c)
{
	for (size_t i = 0; i < c->rxq_n; i++) {
		// Entries already handed to a callback are NULL.
		if (c->rxq[i] != NULL) {
			protobuf_c_message_free_unpacked(c->rxq[i], NULL);
		}
	}
	c->rxq_n = 0;
}

static void
grpc_call_free(grpc_call_t *c)
{
	psb_grpc_t *g = c->g;

	if (psb_list_node_active(&c->node)) {
		psb_list_remove(&g->calls, c);
	}
	ev_timer_stop(g->loop, &c->deadline);
	grpc_rxq_clear(c);
	free(c->rxq);
	free(c->body);
	free(c->req);
	free(c->path);
	free(c->message);
	free(c->fin_message);
	free(c);
}

// grpc_call_detach unhooks an ACTIVE call from its stream. rst asks the
// server to stop (deadline, cancel, our own protocol error); it is false
// when the stream is already closed. Bytes we received but never consumed
// are given back at connection level, or the connection window would
// shrink for good.
static void
grpc_call_detach(grpc_call_t *c, bool rst)
{
	psb_grpc_t *g = c->g;

	if (c->state == CALL_QUEUED) {
		g->nqueued--;
	} else if (c->state == CALL_ACTIVE && g->sess != NULL) {
		nghttp2_session_set_stream_user_data(
		        g->sess, c->stream_id, NULL);
		if (rst) {
			nghttp2_submit_rst_stream(g->sess, NGHTTP2_FLAG_NONE,
			        c->stream_id, NGHTTP2_CANCEL);
		}
		if (c->unconsumed > 0) {
			nghttp2_session_consume_connection(
			        g->sess, c->unconsumed);
			c->unconsumed = 0;
		}
		grpc_kick(g);
	}
	ev_timer_stop(g->loop, &c->deadline);
	c->state = CALL_DONE;
}

// grpc_call_finish fixes the final status (the first one wins) and queues
// the callback.
static void grpc_call_finish(grpc_call_t *c, int status, bool rst,
        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
grpc_call_finish(grpc_call_t *c, int status, bool rst, const char *fmt, ...)
{
	va_list ap;
	char    buf[512];

	if (c->state == CALL_DONE) {
		return;
	}
	grpc_call_detach(c, rst);
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	c->fin_status  = status;
	c->fin_message = xstrdup(buf);
	grpc_ready_push(c);
}

static void
grpc_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	grpc_call_t *c = w->data;

	grpc_call_finish(
	        c, PSB_GRPC_DEADLINE_EXCEEDED, true, "deadline exceeded");
}

// ---- receive framing --------------------------------------------------

// grpc_frame_feed splits received DATA into messages: a 1-byte flag and a
// 4-byte big-endian length, then the body, with any number of messages
// per DATA frame and any message split over frames. Returns a gRPC status
// (OK, or why the stream must be failed) and sets *why.
static int
grpc_frame_feed(grpc_call_t *c, const uint8_t *p, size_t n, const char **why)
{
	size_t            take;
	uint32_t          len;
	ProtobufCMessage *m;

	while (n > 0) {
		if (c->hdr_have < GRPC_HDR_LEN) {
			take = GRPC_HDR_LEN - c->hdr_have;
			take = take < n ? take : n;
			memcpy(c->hdr + c->hdr_have, p, take);
			c->hdr_have += take;
			p += take;
			n -= take;
			if (c->hdr_have < GRPC_HDR_LEN) {
				break;
			}
			// We never offer grpc-accept-encoding, so a compressed
			// message is a protocol violation (as grpc-go says).
			if (c->hdr[0] != 0) {
				*why = "compressed message received but no "
				       "grpc-encoding was negotiated";
				return (PSB_GRPC_INTERNAL);
			}
			len = ((uint32_t)c->hdr[1] << 24) |
			      ((uint32_t)c->hdr[2] << 16) |
			      ((uint32_t)c->hdr[3] << 8) | c->hdr[4];
			if (len > c->g->opts.max_msg_size) {
				*why = "received message larger than max";
				return (PSB_GRPC_RESOURCE_EXHAUSTED);
			}
			c->body_len  = len;
			c->body_have = 0;
			c->body      = len > 0 ? xmalloc(len) : NULL;
		}
		take = c->body_len - c->body_have;
		take = take < n ? take : n;
		if (take > 0) {
			memcpy(c->body + c->body_have, p, take);
			c->body_have += take;
			p += take;
			n -= take;
		}
		if (c->body_have < c->body_len) {
			break;
		}
		m = protobuf_c_message_unpack(
		        c->resp_desc, NULL, c->body_len, c->body);
		free(c->body);
		c->body     = NULL;
		c->hdr_have = 0;
		if (m == NULL) {
			*why = "failed to decode response message";
			return (PSB_GRPC_INTERNAL);
		}
		if (!c->streaming && c->rxq_n > 0) {
			protobuf_c_message_free_unpacked(m, NULL);
			*why = "more than one response message for a unary "
			       "call";
			return (PSB_GRPC_INTERNAL);
		}
		if (c->rxq_n == c->rxq_cap) {
			c->rxq_cap = c->rxq_cap ? 2 * c->rxq_cap : 4;
			c->rxq =
			        xrealloc(c->rxq, c->rxq_cap * sizeof(*c->rxq));
		}
		c->rxq[c->rxq_n++] = m;
	}
	return (PSB_GRPC_OK);
}

// grpc_percent_decode decodes grpc-message ("%XX" for bytes outside
// printable ASCII); malformed escapes are kept as they are.
static char *
grpc_percent_decode(const uint8_t *v, size_t n)
{
	char *out = xmalloc(n + 1);
	char *o   = out;

	for (size_t i = 0; i < n; i++) {
		unsigned x;
		char     hex[3];

		if (v[i] == '%' && i + 2 < n) {
			hex[0] = (char)v[i + 1];
			hex[1] = (char)v[i + 2];
			hex[2] = '\0';
			if (strspn(hex, "0123456789abcdefABCDEF") == 2 &&
			        sscanf(hex, "%2x", &x) == 1) {
				*o++ = (char)x;
				i += 2;
				continue;
			}
		}
		*o++ = (char)v[i];
	}
	*o = '\0';
	return (out);
}

// ---- nghttp2 callbacks (no user code may run from here) -----------------

static ssize_t
grpc_send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags,
        void *ud)
{
	psb_grpc_t *g = ud;
	ssize_t     n;

	do {
		// MSG_NOSIGNAL: a vanished containerd must not SIGPIPE us.
		n = send(g->fd, data, len, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n >= 0) {
		return (n);
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		return (NGHTTP2_ERR_WOULDBLOCK);
	}
	g->sys_errno = errno;
	return (NGHTTP2_ERR_CALLBACK_FAILURE);
}

static ssize_t
grpc_req_read_cb(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
        uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	grpc_call_t *c = nghttp2_session_get_stream_user_data(s, id);
	size_t       n;

	// A detached call has its RST_STREAM queued; end the body quietly.
	if (c == NULL) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		return (0);
	}
	n = c->req_len - c->req_off;
	n = n < len ? n : len;
	memcpy(buf, c->req + c->req_off, n);
	c->req_off += n;
	if (c->req_off == c->req_len) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		free(c->req);
		c->req = NULL;
	}
	return ((ssize_t)n);
}

static bool
grpc_name_is(const uint8_t *name, size_t len, const char *want)
{
	return (len == strlen(want) && memcmp(name, want, len) == 0);
}

static int
grpc_header_cb(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
        size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags,
        void *ud)
{
	grpc_call_t *c;

	if (f->hd.type != NGHTTP2_HEADERS ||
	        (c = nghttp2_session_get_stream_user_data(
	                 s, f->hd.stream_id)) == NULL) {
		return (0);
	}
	// grpc-status may come in the trailers or, for a Trailers-Only
	// response, in the one HEADERS frame; either way it is the status.
	if (grpc_name_is(name, nlen, ":status") ||
	        grpc_name_is(name, nlen, "grpc-status")) {
		uint64_t n;
		int      v = -1;

		if (psb_parse_uint((const char *)value, vlen, INT32_MAX, &n) ==
		        0) {
			v = (int)n;
		}
		if (name[0] == ':') {
			c->http_status = v;
		} else {
			c->have_status = true;
			c->status      = v < 0 ? PSB_GRPC_UNKNOWN : v;
		}
	} else if (grpc_name_is(name, nlen, "grpc-message")) {
		free(c->message);
		c->message = grpc_percent_decode(value, vlen);
	}
	return (0);
}

static int
grpc_data_cb(nghttp2_session *s, uint8_t flags, int32_t id,
        const uint8_t *data, size_t len, void *ud)
{
	grpc_call_t *c = nghttp2_session_get_stream_user_data(s, id);
	const char  *why;
	int          st;

	// Data for a call we gave up on: nobody will consume it later, so
	// give the window back now.
	if (c == NULL) {
		nghttp2_session_consume(s, id, len);
		return (0);
	}
	c->unconsumed += len;
	st = grpc_frame_feed(c, data, len, &why);
	if (st != PSB_GRPC_OK) {
		grpc_call_finish(c, st, true, "%s", why);
		return (0);
	}
	// Even without a complete message, the flush must consume the bytes.
	grpc_ready_push(c);
	return (0);
}

// HTTP/2 reset codes to gRPC status (grpc/doc/PROTOCOL-HTTP2.md).
static int
grpc_h2_error_status(uint32_t code)
{
	switch (code) {
	case NGHTTP2_REFUSED_STREAM: return (PSB_GRPC_UNAVAILABLE);
	case NGHTTP2_CANCEL: return (PSB_GRPC_CANCELLED);
	case NGHTTP2_ENHANCE_YOUR_CALM: return (PSB_GRPC_RESOURCE_EXHAUSTED);
	case NGHTTP2_INADEQUATE_SECURITY: return (PSB_GRPC_PERMISSION_DENIED);
	default: return (PSB_GRPC_INTERNAL);
	}
}

// A non-gRPC answer (a proxy, a wrong socket): http-grpc-status-mapping.md.
static int
grpc_http_status(int http)
{
	switch (http) {
	case 400: return (PSB_GRPC_INTERNAL);
	case 401: return (PSB_GRPC_UNAUTHENTICATED);
	case 403: return (PSB_GRPC_PERMISSION_DENIED);
	case 404: return (PSB_GRPC_UNIMPLEMENTED);
	case 429:
	case 502:
	case 503:
	case 504: return (PSB_GRPC_UNAVAILABLE);
	default: return (PSB_GRPC_UNKNOWN);
	}
}

static int
grpc_stream_close_cb(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
	grpc_call_t *c = nghttp2_session_get_stream_user_data(s, id);
	const char  *msg;

	if (c == NULL) {
		return (0);
	}
	msg = c->message != NULL ? c->message : "";
	if (code != NGHTTP2_NO_ERROR) {
		grpc_call_finish(c, grpc_h2_error_status(code), false,
		        "stream reset by server: %s",
		        nghttp2_http2_strerror(code));
	} else if (c->have_status) {
		if (c->status == PSB_GRPC_OK && !c->streaming &&
		        c->rxq_n == 0) {
			grpc_call_finish(c, PSB_GRPC_INTERNAL, false,
			        "server returned OK without a response "
			        "message");
		} else if (c->status == PSB_GRPC_OK && c->hdr_have > 0) {
			grpc_call_finish(c, PSB_GRPC_INTERNAL, false,
			        "stream ended inside a message");
		} else {
			grpc_call_finish(c, c->status, false, "%s", msg);
		}
	} else if (c->http_status != 200) {
		grpc_call_finish(c, grpc_http_status(c->http_status), false,
		        "unexpected HTTP status %d", c->http_status);
	} else {
		grpc_call_finish(c, PSB_GRPC_INTERNAL, false,
		        "server closed the stream without grpc-status");
	}
	return (0);
}

static int
grpc_frame_recv_cb(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	psb_grpc_t *g = ud;

	if (f->hd.type == NGHTTP2_SETTINGS &&
	        (f->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
		// A real HTTP/2 peer: connect attempts start afresh.
		g->got_settings = true;
		g->backoff_ms   = g->opts.backoff_min_ms;
	} else if (f->hd.type == NGHTTP2_GOAWAY) {
		// Acted on after nghttp2_session_mem_recv returns: tearing the
		// session down from inside its own callback is not allowed.
		g->goaway      = true;
		g->goaway_code = f->goaway.error_code;
	}
	return (0);
}

// ---- connection -------------------------------------------------------

static void
grpc_io_update(psb_grpc_t *g)
{
	int ev = EV_READ;

	if (g->state == CONN_CONNECTING) {
		ev = EV_WRITE;
	} else if (g->sess != NULL && nghttp2_session_want_write(g->sess)) {
		ev |= EV_WRITE;
	}
	if (ev_is_active(&g->io) &&
	        (g->io.events & (EV_READ | EV_WRITE)) == ev) {
		return;
	}
	ev_io_stop(g->loop, &g->io);
	ev_io_set(&g->io, g->fd, ev);
	ev_io_start(g->loop, &g->io);
}

static void
grpc_fail_queued(psb_grpc_t *g, int status, const char *why)
{
	for (grpc_call_t *c                    = psb_list_first(&g->calls);
	        c != NULL && g->nqueued > 0; c = psb_list_next(&g->calls, c)) {
		if (c->state == CALL_QUEUED) {
			grpc_call_finish(c, status, false, "%s", why);
		}
	}
}

// grpc_backoff_step records a failed connect attempt: no new attempt
// before the current backoff has passed, and the next backoff doubles.
static void
grpc_backoff_step(psb_grpc_t *g, const char *why)
{
	free(g->last_error);
	g->last_error   = xstrdup(why);
	g->next_attempt = ev_now(g->loop) + g->backoff_ms / 1000.;
	g->backoff_ms   = g->backoff_ms * 2 < g->opts.backoff_max_ms
	                          ? g->backoff_ms * 2
	                          : g->opts.backoff_max_ms;
}

// grpc_backoff_arm starts the backoff timer (wait_for_ready): it dials
// again once the current backoff has passed. Nothing else would: the flush
// that met the failure has stopped, and queued calls may wait for minutes.
static void
grpc_backoff_arm(psb_grpc_t *g)
{
	double left = g->next_attempt - ev_now(g->loop);

	if (!ev_is_active(&g->backoff)) {
		ev_timer_set(&g->backoff, left > 0. ? left : 0., 0.);
		ev_timer_start(g->loop, &g->backoff);
	}
}

// grpc_conn_lost drops the connection: every ACTIVE call fails with
// UNAVAILABLE. Queued calls were never sent, so they stay queued and the
// next flush dials again. Must not run inside an nghttp2 callback.
static void grpc_conn_lost(psb_grpc_t *g, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void
grpc_conn_lost(psb_grpc_t *g, const char *fmt, ...)
{
	va_list ap;
	char    why[256];

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	psb_log(PSB_LOG_DEBUG, "grpc %s: %s", g->path, why);
	for (grpc_call_t *c = psb_list_first(&g->calls); c != NULL;
	        c           = psb_list_next(&g->calls, c)) {
		if (c->state == CALL_ACTIVE) {
			grpc_call_finish(
			        c, PSB_GRPC_UNAVAILABLE, false, "%s", why);
		}
	}
	if (g->sess != NULL) {
		nghttp2_session_del(g->sess);
		g->sess = NULL;
	}
	ev_io_stop(g->loop, &g->io);
	if (g->fd >= 0) {
		close(g->fd);
		g->fd = -1;
	}
	// A peer that hangs up before it ever spoke HTTP/2 is backed off
	// like a refused connect, so queued calls cannot spin on it.
	if (g->state != CONN_IDLE && !g->got_settings) {
		grpc_backoff_step(g, why);
	}
	g->state        = CONN_IDLE;
	g->goaway       = false;
	g->got_settings = false;
	grpc_kick(g);
}

static void
grpc_connect_failed(psb_grpc_t *g, int e)
{
	char why[300];

	snprintf(why, sizeof(why), "connect %s: %s", g->path, strerror(e));
	if (g->fd >= 0) {
		close(g->fd);
		g->fd = -1;
	}
	ev_io_stop(g->loop, &g->io);
	g->state = CONN_IDLE;
	grpc_backoff_step(g, why);
	if (!g->opts.wait_for_ready) {
		grpc_fail_queued(g, PSB_GRPC_UNAVAILABLE, why);
	} else if (g->nqueued > 0) {
		grpc_backoff_arm(g);
	}
}

static int
grpc_conn_up(psb_grpc_t *g)
{
	nghttp2_session_callbacks *cbs;
	nghttp2_option            *opt;
	nghttp2_settings_entry     iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
	int                        rv;

	if (nghttp2_session_callbacks_new(&cbs) != 0 ||
	        nghttp2_option_new(&opt) != 0) {
		psb_oom(); // only fails on OOM (STYLE.md practice 7)
	}
	nghttp2_session_callbacks_set_send_callback(cbs, grpc_send_cb);
	nghttp2_session_callbacks_set_on_header_callback(cbs, grpc_header_cb);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
	        cbs, grpc_data_cb);
	nghttp2_session_callbacks_set_on_stream_close_callback(
	        cbs, grpc_stream_close_cb);
	nghttp2_session_callbacks_set_on_frame_recv_callback(
	        cbs, grpc_frame_recv_cb);
	nghttp2_option_set_no_auto_window_update(opt, 1);
	rv = nghttp2_session_client_new2(&g->sess, cbs, g, opt);
	nghttp2_session_callbacks_del(cbs);
	nghttp2_option_del(opt);
	if (rv == 0) {
		rv = nghttp2_submit_settings(
		        g->sess, NGHTTP2_FLAG_NONE, iv, PSB_NELEM(iv));
	}
	if (rv != 0) {
		grpc_conn_lost(g, "nghttp2: %s", nghttp2_strerror(rv));
		return (-1);
	}
	g->state = CONN_READY;
	grpc_io_update(g);
	return (0);
}

static void
grpc_connect(psb_grpc_t *g)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (ev_now(g->loop) < g->next_attempt) {
		if (g->opts.wait_for_ready) {
			grpc_backoff_arm(g);
		} else {
			grpc_fail_queued(
			        g, PSB_GRPC_UNAVAILABLE, g->last_error);
		}
		return;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g->path);
	g->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (g->fd < 0) {
		grpc_connect_failed(g, errno);
		return;
	}
	if (connect(g->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		grpc_conn_up(g);
	} else if (errno == EINPROGRESS) {
		g->state = CONN_CONNECTING;
		grpc_io_update(g);
	} else {
		// EAGAIN (a full listen backlog) too: unix sockets do not
		// complete such a connect later, so it counts as a failure.
		grpc_connect_failed(g, errno);
	}
}

static void
grpc_submit(psb_grpc_t *g, grpc_call_t *c)
{
	nghttp2_data_provider prd = {.read_callback = grpc_req_read_cb};
	char                  tmo[24];
	nghttp2_nv            nv[8];
	size_t                n = 0;
	int32_t               id;

#define NV(k, v)                                                \
	nv[n++] = (nghttp2_nv) {(uint8_t *)(k), (uint8_t *)(v), \
	        sizeof(k) - 1, strlen(v), NGHTTP2_NV_FLAG_NO_COPY_NAME}
	NV(":method", "POST");
	NV(":scheme", "http");
	NV(":path", c->path);
	NV(":authority", "localhost");
	NV("content-type", "application/grpc");
	NV("te", "trailers");
	if (ev_is_active(&c->deadline)) {
		// Tell the server too, so it stops working on our behalf; at
		// most 8 digits per the spec.
		double   left = ev_timer_remaining(g->loop, &c->deadline);
		uint64_t ms =
		        left > 0.001 ? (uint64_t)(left * 1000. + 0.5) : 1;

		if (ms <= 99999999) {
			snprintf(tmo, sizeof(tmo), "%" PRIu64 "m", ms);
		} else {
			snprintf(tmo, sizeof(tmo), "%" PRIu64 "S", ms / 1000);
		}
		NV("grpc-timeout", tmo);
	}
	if (g->ns != NULL) {
		NV("containerd-namespace", g->ns);
	}
#undef NV
	// nghttp2 copies the header values; c->path outlives nothing here.
	id = nghttp2_submit_request(g->sess, NULL, nv, n, &prd, c);
	g->nqueued--;
	if (id < 0) {
		c->state = CALL_DONE;
		ev_timer_stop(g->loop, &c->deadline);
		c->fin_status = PSB_GRPC_UNAVAILABLE;
		c->fin_message =
		        xasprintf("nghttp2: %s", nghttp2_strerror(id));
		grpc_ready_push(c);
		return;
	}
	c->stream_id = id;
	c->state     = CALL_ACTIVE;
}

static void
grpc_backoff_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	grpc_kick(w->data);
}

static void
grpc_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	psb_grpc_t *g = w->data;
	uint8_t     buf[GRPC_READ_BUF];
	ssize_t     n, rv;
	int         e   = 0;
	socklen_t   len = sizeof(e);

	grpc_kick(g);
	if (g->state == CONN_CONNECTING) {
		if (getsockopt(g->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0) {
			e = errno;
		}
		if (e != 0) {
			grpc_connect_failed(g, e);
		} else {
			grpc_conn_up(g);
		}
		return;
	}
	if ((revents & EV_READ) == 0) {
		return; // writable: the flush sends
	}
	for (int i = 0; i < GRPC_READS_PER_CB; i++) {
		n = read(g->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			break;
		}
		if (n <= 0) {
			grpc_conn_lost(g, "connection to %s lost: %s", g->path,
			        n == 0 ? "EOF" : strerror(errno));
			return;
		}
		rv = nghttp2_session_mem_recv(g->sess, buf, (size_t)n);
		if (rv < 0) {
			grpc_conn_lost(g, "HTTP/2 error from %s: %s", g->path,
			        nghttp2_strerror((int)rv));
			return;
		}
		if (g->goaway) {
			grpc_conn_lost(g, "server %s sent GOAWAY (%s)",
			        g->path,
			        nghttp2_http2_strerror(g->goaway_code));
			return;
		}
	}
}

// ---- the flush: the only place user callbacks run (besides close) -----

static void
grpc_kick(psb_grpc_t *g)
{
	if (!g->closed && !ev_is_active(&g->flush)) {
		ev_timer_set(&g->flush, 0., 0.);
		ev_timer_start(g->loop, &g->flush);
	}
}

// grpc_deliver hands decoded messages and final statuses to the callbacks.
// Returns false when a callback closed g (which must not be touched then).
static bool
grpc_deliver(psb_grpc_t *g)
{
	grpc_call_t      *c;
	ProtobufCMessage *m;
	const char       *msg;

	while ((c = grpc_ready_pop(g)) != NULL) {
		g->delivering = c;
		for (size_t i = 0; c->streaming && i < c->rxq_n; i++) {
			m         = c->rxq[i];
			c->rxq[i] = NULL;
			if (!c->cancelled) {
				c->msg_cb(c->arg, m);
			} else {
				protobuf_c_message_free_unpacked(m, NULL);
			}
			if (g->closed) {
				return (false);
			}
		}
		if (c->streaming) {
			c->rxq_n = 0;
		}
		g->delivering = NULL;
		if (c->cancelled) {
			grpc_call_free(c);
			continue;
		}
		if (c->state != CALL_DONE) {
			// Everything complete in these bytes was handed over.
			if (c->unconsumed > 0 && g->sess != NULL) {
				nghttp2_session_consume(
				        g->sess, c->stream_id, c->unconsumed);
				c->unconsumed = 0;
			}
			continue;
		}
		// Test-only crash point (failpoint.h): unary outcomes only.
		psb_failpoint_check(c->streaming ? NULL : c->path);
		msg           = c->fin_message != NULL ? c->fin_message : "";
		g->delivering = c;
		c->ended      = true;
		if (c->streaming) {
			c->end_cb(c->arg, c->fin_status, msg);
		} else if (c->fin_status == PSB_GRPC_OK && c->rxq_n == 1) {
			c->rxq_n = 0;
			c->unary_cb(c->arg, PSB_GRPC_OK, msg, c->rxq[0]);
		} else {
			c->unary_cb(c->arg,
			        c->fin_status == PSB_GRPC_OK
			                ? PSB_GRPC_INTERNAL
			                : c->fin_status,
			        msg, NULL);
		}
		g->delivering = NULL;
		if (g->closed) {
			return (false);
		}
		grpc_call_free(c);
	}
	return (true);
}

static void
grpc_flush_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	psb_grpc_t *g = w->data;
	int         rv;

	ev_timer_stop(loop, w);
	g->depth++;
	for (;;) {
		if (g->nqueued > 0 && g->state == CONN_IDLE) {
			grpc_connect(g);
		}
		if (g->state == CONN_READY) {
			for (grpc_call_t *c = psb_list_first(&g->calls);
			        c != NULL && g->nqueued > 0;
			        c = psb_list_next(&g->calls, c)) {
				if (c->state == CALL_QUEUED) {
					grpc_submit(g, c);
				}
			}
			rv = nghttp2_session_send(g->sess);
			if (rv != 0) {
				grpc_conn_lost(g, "connection to %s lost: %s",
				        g->path,
				        rv == NGHTTP2_ERR_CALLBACK_FAILURE
				                ? strerror(g->sys_errno)
				                : nghttp2_strerror(rv));
			} else if (!nghttp2_session_want_read(g->sess) &&
			           !nghttp2_session_want_write(g->sess)) {
				grpc_conn_lost(g, "HTTP/2 session to %s ended",
				        g->path);
			} else {
				grpc_io_update(g);
			}
		}
		if (psb_list_empty(&g->ready) || !grpc_deliver(g)) {
			break;
		}
	}
	g->depth--;
	if (g->closed) {
		if (g->depth == 0) {
			free(g);
		}
		return;
	}
	// The passes above ran until nothing was left, so a kick from a
	// callback in the last one is spent; whatever waits now (a connect,
	// a backoff) has its own watcher to wake us.
	ev_timer_stop(loop, w);
}

// ---- public API -------------------------------------------------------

int
psb_grpc_open(struct ev_loop *loop, const char *unix_path,
        const psb_grpc_opts_t *opts, psb_grpc_t **out, psb_error_t *err)
{
	struct sockaddr_un sa;
	psb_grpc_t        *g;

	if (loop == NULL || unix_path == NULL || out == NULL) {
		return (psb_error_make(
		        err, PSB_EINVAL, "grpc: missing argument"));
	}
	if (unix_path[0] == '\0' || strlen(unix_path) >= sizeof(sa.sun_path)) {
		return (psb_error_make(err, PSB_EINVAL,
		        "grpc: socket path \"%s\" empty or too long",
		        unix_path));
	}
	g       = xcalloc(1, sizeof(*g));
	g->loop = loop;
	PSB_LIST_INIT(&g->calls, grpc_call_t, node);
	PSB_LIST_INIT(&g->ready, grpc_call_t, ready_node);
	g->path = xstrdup(unix_path);
	g->fd   = -1;
	if (opts != NULL) {
		g->opts = *opts;
	}
	g->opts.ns = NULL;
	if (opts != NULL && opts->ns != NULL && opts->ns[0] != '\0') {
		g->ns = xstrdup(opts->ns);
	}
	if (g->opts.backoff_min_ms == 0) {
		g->opts.backoff_min_ms = GRPC_BACKOFF_MIN;
	}
	if (g->opts.backoff_max_ms < g->opts.backoff_min_ms) {
		g->opts.backoff_max_ms =
		        g->opts.backoff_min_ms > GRPC_BACKOFF_MAX
		                ? g->opts.backoff_min_ms
		                : GRPC_BACKOFF_MAX;
	}
	if (g->opts.max_msg_size == 0 || g->opts.max_msg_size > UINT32_MAX) {
		g->opts.max_msg_size = GRPC_MAX_MSG_DEF;
	}
	g->backoff_ms = g->opts.backoff_min_ms;
	ev_io_init(&g->io, grpc_io_cb, -1, EV_READ);
	g->io.data = g;
	ev_timer_init(&g->flush, grpc_flush_cb, 0., 0.);
	g->flush.data = g;
	ev_timer_init(&g->backoff, grpc_backoff_cb, 0., 0.);
	g->backoff.data = g;
	*out            = g;
	return (PSB_OK);
}

bool
psb_grpc_connected(const psb_grpc_t *g)
{
	return (g != NULL && g->state == CONN_READY && !g->goaway);
}

static int
grpc_start(psb_grpc_t *g, const char *path, const ProtobufCMessage *req,
        const ProtobufCMessageDescriptor *resp_desc, uint32_t deadline_ms,
        grpc_call_t **out)
{
	grpc_call_t *c;
	size_t       len;

	if (g == NULL || path == NULL || req == NULL || resp_desc == NULL) {
		return (PSB_EINVAL);
	}
	if (g->closed) {
		return (PSB_ECANCELED);
	}
	c            = xcalloc(1, sizeof(*c));
	c->g         = g;
	c->path      = xstrdup(path);
	c->resp_desc = resp_desc;
	c->state     = CALL_QUEUED;
	ev_timer_init(&c->deadline, grpc_deadline_cb, deadline_ms / 1000., 0.);
	c->deadline.data = c;
	if (deadline_ms > 0) {
		ev_timer_start(g->loop, &c->deadline);
	}
	psb_list_prepend(&g->calls, c);
	g->nqueued++;

	len = protobuf_c_message_get_packed_size(req);
	if (len > g->opts.max_msg_size) {
		grpc_call_finish(c, PSB_GRPC_RESOURCE_EXHAUSTED, false,
		        "request of %zu bytes is larger than max %zu", len,
		        g->opts.max_msg_size);
	} else {
		c->req_len = GRPC_HDR_LEN + len;
		c->req     = xmalloc(c->req_len);
		c->req[0]  = 0; // not compressed
		c->req[1]  = (uint8_t)(len >> 24);
		c->req[2]  = (uint8_t)(len >> 16);
		c->req[3]  = (uint8_t)(len >> 8);
		c->req[4]  = (uint8_t)len;
		protobuf_c_message_pack(req, c->req + GRPC_HDR_LEN);
	}
	grpc_kick(g);
	*out = c;
	return (PSB_OK);
}

int
psb_grpc_call(psb_grpc_t *g, const char *path, const ProtobufCMessage *req,
        const ProtobufCMessageDescriptor *resp_desc, uint32_t deadline_ms,
        psb_grpc_unary_cb cb, void *arg)
{
	grpc_call_t *c;
	int          rv;

	if (cb == NULL) {
		return (PSB_EINVAL);
	}
	if (g != NULL && deadline_ms == 0) {
		deadline_ms = g->opts.default_deadline_ms;
	}
	if ((rv = grpc_start(g, path, req, resp_desc, deadline_ms, &c)) != 0) {
		return (rv);
	}
	c->unary_cb = cb;
	c->arg      = arg;
	return (PSB_OK);
}

int
psb_grpc_stream(psb_grpc_t *g, const char *path, const ProtobufCMessage *req,
        const ProtobufCMessageDescriptor *resp_desc, psb_grpc_msg_cb msg_cb,
        psb_grpc_end_cb end_cb, void *arg, psb_grpc_stream_t **out)
{
	grpc_call_t *c;
	int          rv;

	if (msg_cb == NULL || end_cb == NULL) {
		return (PSB_EINVAL);
	}
	if ((rv = grpc_start(g, path, req, resp_desc, 0, &c)) != 0) {
		return (rv);
	}
	c->streaming = true;
	c->msg_cb    = msg_cb;
	c->end_cb    = end_cb;
	c->arg       = arg;
	if (out != NULL) {
		*out = c;
	}
	return (PSB_OK);
}

void
psb_grpc_stream_cancel(psb_grpc_stream_t *s)
{
	psb_grpc_t *g;

	if (s == NULL || s->cancelled) {
		return;
	}
	g = s->g;
	if (s->state != CALL_DONE) {
		grpc_call_detach(s, true);
	}
	s->cancelled = true;
	// The flush or close loop that holds s frees it.
	if (g->delivering == s || psb_list_node_active(&s->ready_node)) {
		return;
	}
	grpc_call_free(s);
}

void
psb_grpc_close(psb_grpc_t *g)
{
	grpc_call_t *c;

	if (g == NULL || g->closed) {
		return;
	}
	g->closed = true;
	g->depth++;
	ev_timer_stop(g->loop, &g->flush);
	ev_timer_stop(g->loop, &g->backoff);
	ev_io_stop(g->loop, &g->io);
	while ((c = grpc_ready_pop(g)) != NULL) { }
	// Closing the socket is all the server needs: it cancels the streams.
	if (g->sess != NULL) {
		nghttp2_session_del(g->sess);
		g->sess = NULL;
	}
	if (g->fd >= 0) {
		close(g->fd);
		g->fd = -1;
	}
	while ((c = psb_list_first(&g->calls)) != NULL) {
		ev_timer_stop(g->loop, &c->deadline);
		if (c->state == CALL_QUEUED) {
			g->nqueued--;
		}
		c->state = CALL_DONE;
		// A call whose callback is running (close from inside it)
		// gets no second one.
		if (!c->cancelled && !c->ended) {
			g->delivering = c;
			if (c->streaming) {
				c->end_cb(c->arg, PSB_GRPC_CANCELLED,
				        "client closed");
			} else {
				c->unary_cb(c->arg, PSB_GRPC_CANCELLED,
				        "client closed", NULL);
			}
			g->delivering = NULL;
		}
		grpc_call_free(c);
	}
	g->depth--;
	free(g->path);
	free(g->ns);
	free(g->last_error);
	g->path = g->ns = g->last_error = NULL;
	if (g->depth == 0) {
		free(g);
	}
}
