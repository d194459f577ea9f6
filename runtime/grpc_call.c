//
// podsandboxd - the gRPC client's calls (grpc.h, grpc_int.h): unary and
// server-streaming calls, their 5-byte message framing both ways, the
// request headers, grpc-status and grpc-message from the response headers
// or trailers, deadlines as loop timers, and cancellation.
//

#include <ev.h>
#include <inttypes.h>
#include <nghttp2/nghttp2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/list.h"
#include "base/parse.h"
#include "runtime/grpc.h"
#include "runtime/grpc_int.h"

// ---- calls ------------------------------------------------------------

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

void
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

void
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

void
grpc_call_callbacks(nghttp2_session_callbacks *cbs)
{
	nghttp2_session_callbacks_set_on_header_callback(cbs, grpc_header_cb);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
	        cbs, grpc_data_cb);
	nghttp2_session_callbacks_set_on_stream_close_callback(
	        cbs, grpc_stream_close_cb);
}

// ---- sending ----------------------------------------------------------

void
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

// ---- public API -------------------------------------------------------

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
