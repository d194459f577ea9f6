//
// podsandboxd - tests for the gRPC client (runtime/grpc.c) against an
// in-process HTTP/2 server built on nghttp2's server API.
//
// The server runs on the same loop as the client: both sides are
// non-blocking, so one thread drives the whole conversation and every test
// is deterministic. Each test installs a handler that decides, per
// request, whether to answer, fail, stall, reset, GOAWAY or hang up.
//

#include "tests/harness/testing.h"

#include <errno.h>
#include <ev.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/clock.h"
#include "runtime/grpc.h"

#include "github.com/containerd/containerd/api/events/task.pb-c.h"
#include "github.com/containerd/containerd/api/services/events/v1/events.pb-c.h"
#include "github.com/containerd/containerd/api/services/namespaces/v1/namespace.pb-c.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#define WAIT_MS  3000
#define MAX_REQS 512

#define VERSION_PATH "/containerd.services.version.v1.Version/Version"
#define NSGET_PATH   "/containerd.services.namespaces.v1.Namespaces/Get"
#define SUB_PATH     "/containerd.services.events.v1.Events/Subscribe"

// ---- the test server --------------------------------------------------

typedef struct srv   srv_t;
typedef struct sconn sconn_t;
typedef struct sreq  sreq_t;

struct sreq {
	sconn_t *conn; // NULL once the connection is gone
	int32_t  id;
	char     path[128], method[16], scheme[16], authority[32];
	char     ctype[64], te[32], tmo[32], ns[64];
	uint8_t  body[4096];
	size_t   body_len;
	uint8_t *out; // response body still to send
	size_t   out_len, out_off;
	size_t   chunk; // max bytes per DATA frame (0 = nghttp2's)
	bool     started, fin, closed;
	int      st;
	char     msg[256];
	uint32_t close_code;
};

struct sconn {
	srv_t           *s;
	int              fd;
	ev_io            io;
	nghttp2_session *sess;
	bool             in_recv, dead;
	sconn_t         *next;
};

struct srv {
	struct ev_loop *loop;
	char            path[256];
	int             lfd;
	ev_io           lio;
	sconn_t        *conns;
	void (*handler)(srv_t *s, sreq_t *r);
	size_t  chunk;
	sreq_t *reqs[MAX_REQS];
	int     nreq;    // requests complete (END_STREAM seen)
	int     nall;    // streams begun
	int     ncancel; // streams the client reset with CANCEL
	int     naccept;
};

static void srv_flush(sconn_t *c);

static void
srv_conn_free(sconn_t *c)
{
	srv_t *s = c->s;

	for (sconn_t **pp = &s->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	for (int i = 0; i < s->nall; i++) {
		if (s->reqs[i]->conn == c) {
			s->reqs[i]->conn = NULL;
		}
	}
	ev_io_stop(s->loop, &c->io);
	nghttp2_session_del(c->sess);
	close(c->fd);
	free(c);
}

static ssize_t
srv_send_cb(nghttp2_session *ss, const uint8_t *d, size_t n, int f, void *ud)
{
	sconn_t *c = ud;
	ssize_t  w = send(c->fd, d, n, MSG_NOSIGNAL);

	if (w < 0) {
		return (errno == EAGAIN ? NGHTTP2_ERR_WOULDBLOCK
		                        : NGHTTP2_ERR_CALLBACK_FAILURE);
	}
	return (w);
}

static int
srv_begin_headers_cb(nghttp2_session *ss, const nghttp2_frame *f, void *ud)
{
	sconn_t *c = ud;
	sreq_t  *r;

	if (f->hd.type != NGHTTP2_HEADERS ||
	        f->headers.cat != NGHTTP2_HCAT_REQUEST) {
		return (0);
	}
	assert_true(c->s->nall < MAX_REQS);
	r                        = calloc(1, sizeof(*r));
	r->conn                  = c;
	r->id                    = f->hd.stream_id;
	r->chunk                 = c->s->chunk;
	c->s->reqs[c->s->nall++] = r;
	nghttp2_session_set_stream_user_data(ss, r->id, r);
	return (0);
}

static void
copy_hdr(char *dst, size_t size, const uint8_t *v, size_t n)
{
	snprintf(dst, size, "%.*s", (int)n, (const char *)v);
}

static int
srv_header_cb(nghttp2_session *ss, const nghttp2_frame *f, const uint8_t *k,
        size_t kn, const uint8_t *v, size_t vn, uint8_t fl, void *ud)
{
	sreq_t *r = nghttp2_session_get_stream_user_data(ss, f->hd.stream_id);
	char    key[64];

	if (r == NULL) {
		return (0);
	}
	copy_hdr(key, sizeof(key), k, kn);
#define H(name, field)                                       \
	if (strcmp(key, name) == 0) {                        \
		copy_hdr(r->field, sizeof(r->field), v, vn); \
	}
	H(":path", path);
	H(":method", method);
	H(":scheme", scheme);
	H(":authority", authority);
	H("content-type", ctype);
	H("te", te);
	H("grpc-timeout", tmo);
	H("containerd-namespace", ns);
#undef H
	return (0);
}

static int
srv_data_cb(nghttp2_session *ss, uint8_t fl, int32_t id, const uint8_t *d,
        size_t n, void *ud)
{
	sreq_t *r = nghttp2_session_get_stream_user_data(ss, id);

	if (r != NULL && r->body_len + n <= sizeof(r->body)) {
		memcpy(r->body + r->body_len, d, n);
		r->body_len += n;
	}
	return (0);
}

static int
srv_frame_recv_cb(nghttp2_session *ss, const nghttp2_frame *f, void *ud)
{
	sconn_t *c = ud;
	sreq_t  *r;

	if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
	        (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0 &&
	        (r = nghttp2_session_get_stream_user_data(
	                 ss, f->hd.stream_id)) != NULL) {
		c->s->nreq++;
		if (c->s->handler != NULL) {
			c->s->handler(c->s, r);
		}
	}
	return (0);
}

static int
srv_close_cb(nghttp2_session *ss, int32_t id, uint32_t code, void *ud)
{
	sconn_t *c = ud;
	sreq_t  *r = nghttp2_session_get_stream_user_data(ss, id);

	if (r != NULL) {
		r->closed     = true;
		r->close_code = code;
	}
	if (code == NGHTTP2_CANCEL) {
		c->s->ncancel++;
	}
	return (0);
}

static void
srv_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	sconn_t *c = w->data;
	uint8_t  buf[16384];
	ssize_t  n;

	if (revents & EV_READ) {
		n = read(c->fd, buf, sizeof(buf));
		if (n <= 0 && !(n < 0 && errno == EAGAIN)) {
			srv_conn_free(c);
			return;
		}
		if (n > 0) {
			c->in_recv = true;
			if (nghttp2_session_mem_recv(c->sess, buf, (size_t)n) <
			        0) {
				c->dead = true;
			}
			c->in_recv = false;
			if (c->dead) {
				srv_conn_free(c);
				return;
			}
		}
	}
	srv_flush(c);
}

static void
srv_flush(sconn_t *c)
{
	int ev = EV_READ;

	if (c == NULL || c->in_recv) {
		return; // srv_io_cb flushes once nghttp2 returns
	}
	assert_int_equal(nghttp2_session_send(c->sess), 0);
	if (nghttp2_session_want_write(c->sess)) {
		ev |= EV_WRITE;
	}
	if ((c->io.events & (EV_READ | EV_WRITE)) != ev) {
		ev_io_stop(c->s->loop, &c->io);
		ev_io_set(&c->io, c->fd, ev);
		ev_io_start(c->s->loop, &c->io);
	}
}

static void
srv_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	srv_t                     *s = w->data;
	sconn_t                   *c;
	nghttp2_session_callbacks *cbs;
	nghttp2_settings_entry     iv[] = {
	            {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000}};
	int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		return;
	}
	s->naccept++;
	c     = calloc(1, sizeof(*c));
	c->s  = s;
	c->fd = fd;
	assert_int_equal(nghttp2_session_callbacks_new(&cbs), 0);
	nghttp2_session_callbacks_set_send_callback(cbs, srv_send_cb);
	nghttp2_session_callbacks_set_on_begin_headers_callback(
	        cbs, srv_begin_headers_cb);
	nghttp2_session_callbacks_set_on_header_callback(cbs, srv_header_cb);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
	        cbs, srv_data_cb);
	nghttp2_session_callbacks_set_on_frame_recv_callback(
	        cbs, srv_frame_recv_cb);
	nghttp2_session_callbacks_set_on_stream_close_callback(
	        cbs, srv_close_cb);
	assert_int_equal(nghttp2_session_server_new(&c->sess, cbs, c), 0);
	nghttp2_session_callbacks_del(cbs);
	nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, 1);
	c->next  = s->conns;
	s->conns = c;
	ev_io_init(&c->io, srv_io_cb, fd, EV_READ);
	c->io.data = c;
	ev_io_start(loop, &c->io);
	srv_flush(c);
}

static void
srv_listen(srv_t *s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	assert_true(snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->path) <
	            (int)sizeof(sa.sun_path));
	s->lfd =
	        socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s->lfd, 128), 0);
	ev_io_init(&s->lio, srv_accept_cb, s->lfd, EV_READ);
	s->lio.data = s;
	ev_io_start(s->loop, &s->lio);
}

// srv_down hangs up every connection and stops listening (the socket file
// goes too, like a stopped containerd).
static void
srv_down(srv_t *s)
{
	while (s->conns != NULL) {
		srv_conn_free(s->conns);
	}
	if (s->lfd >= 0) {
		ev_io_stop(s->loop, &s->lio);
		close(s->lfd);
		s->lfd = -1;
		unlink(s->path);
	}
}

static ssize_t
srv_read_cb(nghttp2_session *ss, int32_t id, uint8_t *buf, size_t len,
        uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	sreq_t *r = src->ptr;
	size_t  n = r->out_len - r->out_off;

	if (n > 0) {
		n = n < len ? n : len;
		if (r->chunk > 0 && n > r->chunk) {
			n = r->chunk;
		}
		memcpy(buf, r->out + r->out_off, n);
		r->out_off += n;
		return ((ssize_t)n);
	}
	if (!r->fin) {
		return (NGHTTP2_ERR_DEFERRED);
	}
	*flags |= NGHTTP2_DATA_FLAG_EOF;
	if (r->st >= 0) {
		char       st[16];
		nghttp2_nv nv[2];
		size_t     k = 0;

		snprintf(st, sizeof(st), "%d", r->st);
		nv[k++] = (nghttp2_nv) {(uint8_t *)"grpc-status",
		        (uint8_t *)st, 11, strlen(st), 0};
		if (r->msg[0] != '\0') {
			nv[k++] = (nghttp2_nv) {(uint8_t *)"grpc-message",
			        (uint8_t *)r->msg, 12, strlen(r->msg), 0};
		}
		*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
		assert_int_equal(nghttp2_submit_trailer(ss, id, nv, k), 0);
	}
	return (0);
}

static void
srv_begin(sreq_t *r)
{
	nghttp2_nv nv[] = {
	        {(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0},
	        {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12,
	                16, 0},
	};
	nghttp2_data_provider prd = {
	        .source.ptr = r, .read_callback = srv_read_cb};

	if (!r->started) {
		r->started = true;
		assert_int_equal(nghttp2_submit_response(
		                         r->conn->sess, r->id, nv, 2, &prd),
		        0);
	}
}

// srv_send appends raw body bytes (already framed or deliberately not).
static void
srv_send(sreq_t *r, const void *p, size_t n)
{
	r->out = realloc(r->out, r->out_len + n);
	memcpy(r->out + r->out_len, p, n);
	r->out_len += n;
	srv_begin(r);
	nghttp2_session_resume_data(r->conn->sess, r->id);
	srv_flush(r->conn);
}

static void
srv_send_msg(sreq_t *r, const ProtobufCMessage *m)
{
	size_t   n   = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n + 5);

	buf[0] = 0;
	buf[1] = (uint8_t)(n >> 24);
	buf[2] = (uint8_t)(n >> 16);
	buf[3] = (uint8_t)(n >> 8);
	buf[4] = (uint8_t)n;
	protobuf_c_message_pack(m, buf + 5);
	srv_send(r, buf, n + 5);
	free(buf);
}

// srv_finish ends the response with trailers (st < 0: no trailers).
static void
srv_finish(sreq_t *r, int st, const char *msg)
{
	r->fin = true;
	r->st  = st;
	snprintf(r->msg, sizeof(r->msg), "%s", msg != NULL ? msg : "");
	srv_begin(r);
	nghttp2_session_resume_data(r->conn->sess, r->id);
	srv_flush(r->conn);
}

// srv_headers_only answers with one HEADERS frame that ends the stream:
// a Trailers-Only gRPC error, or a bare HTTP status.
static void
srv_headers_only(sreq_t *r, const char *http, int st, const char *msg)
{
	char       s[16];
	nghttp2_nv nv[4];
	size_t     k = 0;

	nv[k++] = (nghttp2_nv) {
	        (uint8_t *)":status", (uint8_t *)http, 7, strlen(http), 0};
	if (st >= 0) {
		snprintf(s, sizeof(s), "%d", st);
		nv[k++] = (nghttp2_nv) {(uint8_t *)"content-type",
		        (uint8_t *)"application/grpc", 12, 16, 0};
		nv[k++] = (nghttp2_nv) {(uint8_t *)"grpc-status", (uint8_t *)s,
		        11, strlen(s), 0};
		nv[k++] = (nghttp2_nv) {(uint8_t *)"grpc-message",
		        (uint8_t *)msg, 12, strlen(msg), 0};
	}
	r->started = true;
	assert_int_equal(
	        nghttp2_submit_response(r->conn->sess, r->id, nv, k, NULL), 0);
	srv_flush(r->conn);
}

static void
srv_version(sreq_t *r, const char *version)
{
	Containerd__Services__Version__V1__VersionResponse v =
	        CONTAINERD__SERVICES__VERSION__V1__VERSION_RESPONSE__INIT;

	v.version  = (char *)version;
	v.revision = "r1";
	srv_send_msg(r, &v.base);
	srv_finish(r, 0, NULL);
}

// ---- handlers ---------------------------------------------------------

static void
h_version(srv_t *s, sreq_t *r)
{
	srv_version(r, "test");
}

static void
h_nsget(srv_t *s, sreq_t *r)
{
	Containerd__Services__Namespaces__V1__GetNamespaceRequest *req;
	Containerd__Services__Namespaces__V1__GetNamespaceResponse resp =
	        CONTAINERD__SERVICES__NAMESPACES__V1__GET_NAMESPACE_RESPONSE__INIT;
	Containerd__Services__Namespaces__V1__Namespace ns =
	        CONTAINERD__SERVICES__NAMESPACES__V1__NAMESPACE__INIT;

	assert_true(r->body_len >= 5);
	assert_int_equal(r->body[0], 0);
	req = containerd__services__namespaces__v1__get_namespace_request__unpack(
	        NULL, r->body_len - 5, r->body + 5);
	assert_non_null(req);
	ns.name         = req->name;
	resp.namespace_ = &ns;
	srv_send_msg(r, &resp.base);
	srv_finish(r, 0, NULL);
	containerd__services__namespaces__v1__get_namespace_request__free_unpacked(
	        req, NULL);
}

static void
h_stall(srv_t *s, sreq_t *r)
{
}

// ---- fixture ----------------------------------------------------------

typedef struct res {
	int               calls;
	int               status;
	char              msg[256];
	ProtobufCMessage *resp;
	int64_t           at;
	bool              inside; // fired inside the starting call
} res_t;

typedef struct fx {
	struct ev_loop *loop;
	srv_t           srv;
	psb_grpc_t     *g;
	psb_grpc_opts_t opts;
	bool            in_call;
	char            dir[512];
} fx_t;

static fx_t *cur_fx;

static void
unary_cb(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	res_t *r = arg;

	assert_non_null(message);
	assert_true((resp != NULL) == (status == PSB_GRPC_OK));
	r->calls++;
	r->status = status;
	r->inside = cur_fx->in_call;
	snprintf(r->msg, sizeof(r->msg), "%s", message);
	if (r->resp != NULL) {
		protobuf_c_message_free_unpacked(r->resp, NULL);
	}
	r->resp = resp;
	r->at   = psb_mono_ns();
}

static void
res_release(res_t *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (r[i].resp != NULL) {
			protobuf_c_message_free_unpacked(r[i].resp, NULL);
			r[i].resp = NULL;
		}
	}
}

static bool
res_done(void *arg)
{
	return (((res_t *)arg)->calls > 0);
}

static void
wait_res(fx_t *fx, res_t *r)
{
	assert_true(psb_test_run_until(fx->loop, res_done, r, WAIT_MS));
	assert_int_equal(r->calls, 1);
	assert_false(r->inside);
}

// srv_first_closed: the server has closed the first request's stream.
static bool
srv_first_closed(void *arg)
{
	fx_t *fx = arg;

	return (fx->srv.nall > 0 && fx->srv.reqs[0] != NULL &&
	        fx->srv.reqs[0]->closed);
}

// wait_first_closed runs the loop until the server has closed the first
// request's stream (asserted, WAIT_MS at most).
static void
wait_first_closed(fx_t *fx)
{
	assert_true(
	        psb_test_run_until(fx->loop, srv_first_closed, fx, WAIT_MS));
}

static Google__Protobuf__Empty empty_req = GOOGLE__PROTOBUF__EMPTY__INIT;

static void
call_version(fx_t *fx, uint32_t deadline_ms, res_t *r)
{
	fx->in_call = true;
	assert_int_equal(
	        psb_grpc_call(fx->g, VERSION_PATH, &empty_req.base,
	                &containerd__services__version__v1__version_response__descriptor,
	                deadline_ms, unary_cb, r),
	        0);
	fx->in_call = false;
	assert_int_equal(r->calls, 0); // never from inside the call
}

static void
call_nsget(fx_t *fx, const char *name, res_t *r)
{
	Containerd__Services__Namespaces__V1__GetNamespaceRequest req =
	        CONTAINERD__SERVICES__NAMESPACES__V1__GET_NAMESPACE_REQUEST__INIT;

	req.name = (char *)name;
	assert_int_equal(
	        psb_grpc_call(fx->g, NSGET_PATH, &req.base,
	                &containerd__services__namespaces__v1__get_namespace_response__descriptor,
	                0, unary_cb, r),
	        0);
}

static const char *
version_of(const res_t *r)
{
	return (((Containerd__Services__Version__V1__VersionResponse *)r->resp)
	                ->version);
}

static void
open_client(fx_t *fx)
{
	psb_error_t err = PSB_ERROR_INIT;

	assert_int_equal(
	        psb_grpc_open(fx->loop, fx->srv.path, &fx->opts, &fx->g, &err),
	        0);
}

static int
setup(void **state)
{
	fx_t *fx = calloc(1, sizeof(*fx));

	fx->loop = ev_loop_new(EVFLAG_AUTO);
	snprintf(fx->dir, sizeof(fx->dir), "%s", psb_test_tmpdir("grpc"));
	fx->srv.loop    = fx->loop;
	fx->srv.lfd     = -1;
	fx->srv.handler = h_version;
	assert_true(
	        snprintf(fx->srv.path, sizeof(fx->srv.path), "%s/ctrd.sock",
	                fx->dir) < (int)sizeof(fx->srv.path));
	srv_listen(&fx->srv);
	fx->opts.ns                  = "psb-test";
	fx->opts.default_deadline_ms = 5000;
	open_client(fx);
	cur_fx = fx;
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	fx_t *fx = *state;

	psb_grpc_close(fx->g);
	srv_down(&fx->srv);
	for (int i = 0; i < fx->srv.nall; i++) {
		free(fx->srv.reqs[i]->out);
		free(fx->srv.reqs[i]);
	}
	assert_true(psb_test_loop_is_clean(fx->loop));
	ev_loop_destroy(fx->loop);
	rmdir(fx->dir);
	free(fx);
	return (0);
}

// ---- tests ------------------------------------------------------------

// A unary call carries every header gRPC and containerd need, the request
// is framed and the response decoded; the connection is made lazily.
static void
test_unary_ok(void **state)
{
	fx_t   *fx = *state;
	res_t   r = {0}, r2 = {0};
	sreq_t *q;
	long    tmo;
	char    unit;
	Containerd__Services__Namespaces__V1__GetNamespaceResponse *ns;

	assert_false(psb_grpc_connected(fx->g));
	psb_test_run_for(fx->loop, 20);
	assert_int_equal(fx->srv.naccept, 0); // lazy: nothing yet
	call_version(fx, 2000, &r);
	wait_res(fx, &r);
	assert_int_equal(r.status, PSB_GRPC_OK);
	assert_string_equal(r.msg, "");
	assert_string_equal(version_of(&r), "test");
	assert_true(psb_grpc_connected(fx->g));

	q = fx->srv.reqs[0];
	assert_string_equal(q->path, VERSION_PATH);
	assert_string_equal(q->method, "POST");
	assert_string_equal(q->scheme, "http");
	assert_string_equal(q->authority, "localhost");
	assert_string_equal(q->ctype, "application/grpc");
	assert_string_equal(q->te, "trailers");
	assert_string_equal(q->ns, "psb-test");
	assert_int_equal(sscanf(q->tmo, "%ld%c", &tmo, &unit), 2);
	assert_int_equal(unit, 'm');
	assert_true(tmo > 1500 && tmo <= 2001);
	assert_int_equal(q->body_len, 5); // Empty: a bare 5-byte prefix
	assert_memory_equal(q->body, "\0\0\0\0\0", 5);

	fx->srv.handler = h_nsget;
	call_nsget(fx, "podsandbox", &r2);
	wait_res(fx, &r2);
	assert_int_equal(r2.status, PSB_GRPC_OK);
	ns = (void *)r2.resp;
	assert_non_null(ns->namespace_);
	assert_string_equal(ns->namespace_->name, "podsandbox");
	// The default 5 s deadline, less what passed between arming its
	// timer (at the loop's cached time) and writing the header.
	assert_int_equal(
	        sscanf(fx->srv.reqs[1]->tmo, "%ld%c", &tmo, &unit), 2);
	assert_int_equal(unit, 'm');
	assert_true(tmo > 4500 && tmo <= 5000);
	assert_int_equal(fx->srv.naccept, 1); // one connection
	res_release(&r, 1);
	res_release(&r2, 1);
}

static void
h_notfound(srv_t *s, sreq_t *r)
{
	// grpc-message is percent-encoded on the wire.
	srv_finish(r, PSB_GRPC_NOT_FOUND,
	        "container %22x%22: not found %C3%A9 100%25 %zz");
}

static void
test_not_found(void **state)
{
	fx_t *fx = *state;
	res_t r  = {0};

	fx->srv.handler = h_notfound;
	call_version(fx, 0, &r);
	wait_res(fx, &r);
	assert_int_equal(r.status, PSB_GRPC_NOT_FOUND);
	assert_null(r.resp);
	assert_string_equal(
	        r.msg, "container \"x\": not found \xc3\xa9 100% %zz");
	assert_int_equal(psb_grpc_status_to_err(r.status), PSB_ENOENT);
}

static void
h_trailers_only(srv_t *s, sreq_t *r)
{
	srv_headers_only(r, "200", PSB_GRPC_FAILED_PRECONDITION,
	        "namespace is required");
}

static void
h_http503(srv_t *s, sreq_t *r)
{
	srv_headers_only(r, "503", -1, NULL);
}

static void
h_ok_no_message(srv_t *s, sreq_t *r)
{
	srv_finish(r, 0, NULL);
}

// Status from a Trailers-Only response, from a non-gRPC HTTP status, and
// an OK without the one message a unary call needs.
static void
test_trailers_only_and_http(void **state)
{
	fx_t *fx   = *state;
	res_t r[3] = {{0}};

	fx->srv.handler = h_trailers_only;
	call_version(fx, 0, &r[0]);
	wait_res(fx, &r[0]);
	assert_int_equal(r[0].status, PSB_GRPC_FAILED_PRECONDITION);
	assert_string_equal(r[0].msg, "namespace is required");

	fx->srv.handler = h_http503;
	call_version(fx, 0, &r[1]);
	wait_res(fx, &r[1]);
	assert_int_equal(r[1].status, PSB_GRPC_UNAVAILABLE);
	assert_string_equal(r[1].msg, "unexpected HTTP status 503");

	fx->srv.handler = h_ok_no_message;
	call_version(fx, 0, &r[2]);
	wait_res(fx, &r[2]);
	assert_int_equal(r[2].status, PSB_GRPC_INTERNAL);
	assert_int_equal(fx->srv.naccept, 1);
}

// A stalled server: the deadline fires, the client resets the stream with
// CANCEL, and the connection stays usable.
static void
test_deadline(void **state)
{
	fx_t   *fx = *state;
	res_t   r = {0}, r2 = {0};
	int64_t t0;

	fx->srv.handler = h_stall;
	t0              = psb_mono_ns();
	call_version(fx, 100, &r);
	wait_res(fx, &r);
	assert_int_equal(r.status, PSB_GRPC_DEADLINE_EXCEEDED);
	assert_string_equal(r.msg, "deadline exceeded");
	assert_true(r.at - t0 >= 95 * 1000000LL);
	assert_true(r.at - t0 < 2000 * 1000000LL);
	wait_first_closed(fx);
	assert_int_equal(fx->srv.ncancel, 1);
	assert_true(fx->srv.reqs[0]->closed);
	assert_int_equal(fx->srv.reqs[0]->close_code, NGHTTP2_CANCEL);

	// A late answer to the cancelled call is dropped quietly.
	fx->srv.handler = h_version;
	call_version(fx, 0, &r2);
	wait_res(fx, &r2);
	assert_int_equal(r2.status, PSB_GRPC_OK);
	assert_int_equal(fx->srv.naccept, 1);
	res_release(&r2, 1);
}

static size_t big_len = 300 * 1024;

static void
h_big(srv_t *s, sreq_t *r)
{
	char *v = malloc(big_len + 1);

	for (size_t i = 0; i < big_len; i++) {
		v[i] = (char)('a' + i % 26);
	}
	v[big_len] = '\0';
	srv_version(r, v);
	free(v);
}

// A 300 KiB message over many DATA frames: more than the 64 KiB windows,
// so it only arrives if the client hands out WINDOW_UPDATEs as it
// consumes.
static void
test_large_flow_control(void **state)
{
	fx_t  *fx   = *state;
	res_t  r[3] = {{0}};
	size_t i;

	fx->srv.handler = h_big;
	big_len         = 300 * 1024;
	for (i = 0; i < 3; i++) {
		call_version(fx, 0, &r[i]);
		wait_res(fx, &r[i]);
		assert_int_equal(r[i].status, PSB_GRPC_OK);
		assert_int_equal(strlen(version_of(&r[i])), big_len);
		for (size_t k = 0; k < big_len; k += 4093) {
			assert_int_equal(version_of(&r[i])[k], 'a' + k % 26);
		}
	}
	assert_int_equal(fx->srv.naccept, 1);
	res_release(r, 3);
}

// Over max_msg_size: RESOURCE_EXHAUSTED as soon as the length prefix
// arrives, and the stream is reset. The window the server had already
// filled for it is given back: three 150 KiB answers that follow need
// more than the 64 KiB connection window, so they would stall otherwise.
static void
test_too_large(void **state)
{
	fx_t *fx = *state;
	res_t r = {0}, r2[3] = {{0}};

	psb_grpc_close(fx->g);
	fx->opts.max_msg_size = 200 * 1024;
	open_client(fx);
	fx->srv.handler = h_big;
	big_len         = 300 * 1024;
	call_version(fx, 0, &r);
	wait_res(fx, &r);
	assert_int_equal(r.status, PSB_GRPC_RESOURCE_EXHAUSTED);
	assert_string_equal(r.msg, "received message larger than max");
	wait_first_closed(fx);
	assert_int_equal(fx->srv.reqs[0]->close_code, NGHTTP2_CANCEL);
	big_len = 150 * 1024;
	for (int i = 0; i < 3; i++) {
		call_version(fx, 0, &r2[i]);
		wait_res(fx, &r2[i]);
		assert_int_equal(r2[i].status, PSB_GRPC_OK);
		assert_int_equal(strlen(version_of(&r2[i])), big_len);
	}
	assert_int_equal(fx->srv.naccept, 1);
	res_release(r2, 3);
}

static void
h_compressed(srv_t *s, sreq_t *r)
{
	srv_send(r, "\1\0\0\0\1x", 6);
	srv_finish(r, 0, NULL);
}

static void
test_compressed_rejected(void **state)
{
	fx_t *fx = *state;
	res_t r  = {0};

	fx->srv.handler = h_compressed;
	call_version(fx, 0, &r);
	wait_res(fx, &r);
	assert_int_equal(r.status, PSB_GRPC_INTERNAL);
	assert_non_null(strstr(r.msg, "compressed"));
}

// ---- streams ----------------------------------------------------------

typedef struct sres {
	Containerd__Services__Events__V1__Envelope *ev[16];
	int                                         n;
	int                                         ends;
	int                                         status;
	char                                        msg[128];
	psb_grpc_stream_t                          *s;
	int                                         cancel_after;
	int                                         want;
} sres_t;

static void
smsg_cb(void *arg, ProtobufCMessage *m)
{
	sres_t *r = arg;

	assert_false(cur_fx->in_call);
	assert_ptr_equal(m->descriptor,
	        &containerd__services__events__v1__envelope__descriptor);
	assert_true(r->n < 16);
	r->ev[r->n++] = (void *)m;
	if (r->cancel_after > 0 && r->n == r->cancel_after) {
		psb_grpc_stream_cancel(r->s);
	}
}

static void
send_cb_end(void *arg, int status, const char *message)
{
	sres_t *r = arg;

	assert_false(cur_fx->in_call);
	r->ends++;
	r->status = status;
	snprintf(r->msg, sizeof(r->msg), "%s", message);
}

static void
sres_release(sres_t *r)
{
	for (int i = 0; i < r->n; i++) {
		protobuf_c_message_free_unpacked(&r->ev[i]->base, NULL);
	}
	r->n = 0;
}

static bool
sres_count(void *arg)
{
	sres_t *r = arg;

	return (r->n >= r->want);
}

static bool
sres_ended(void *arg)
{
	return (((sres_t *)arg)->ends > 0);
}

static void
send_envelope(sreq_t *q, uint32_t pid)
{
	Containerd__Services__Events__V1__Envelope e =
	        CONTAINERD__SERVICES__EVENTS__V1__ENVELOPE__INIT;
	Containerd__Events__TaskExit x   = CONTAINERD__EVENTS__TASK_EXIT__INIT;
	Google__Protobuf__Any        any = GOOGLE__PROTOBUF__ANY__INIT;
	uint8_t                      buf[256];

	x.container_id = "sb-1";
	x.id           = "sb-1";
	x.pid          = pid;
	x.exit_status  = 137;
	any.type_url   = "containerd.events.TaskExit";
	any.value.len  = protobuf_c_message_pack(&x.base, buf);
	any.value.data = buf;
	e.namespace_   = "podsandbox";
	e.topic        = "/tasks/exit";
	e.event        = &any;
	srv_send_msg(q, &e.base);
}

static void
start_subscribe(fx_t *fx, sres_t *r)
{
	Containerd__Services__Events__V1__SubscribeRequest req =
	        CONTAINERD__SERVICES__EVENTS__V1__SUBSCRIBE_REQUEST__INIT;
	char *filters[] = {"topic==\"/tasks/exit\""};

	req.n_filters = 1;
	req.filters   = filters;
	fx->in_call   = true;
	assert_int_equal(
	        psb_grpc_stream(fx->g, SUB_PATH, &req.base,
	                &containerd__services__events__v1__envelope__descriptor,
	                smsg_cb, send_cb_end, r, &r->s),
	        0);
	fx->in_call = false;
}

static int want_reqs;

static bool
srv_has_reqs(void *arg)
{
	return (((fx_t *)arg)->srv.nreq >= want_reqs);
}

static void
wait_reqs(fx_t *fx, int n)
{
	want_reqs = n;
	assert_true(psb_test_run_until(fx->loop, srv_has_reqs, fx, WAIT_MS));
}

// Events.Subscribe-like: messages arrive over time, several in one DATA
// frame and one split over 3-byte frames, then the stream ends with OK.
static void
test_stream(void **state)
{
	fx_t                                               *fx = *state;
	sres_t                                              r  = {0};
	sreq_t                                             *q;
	Containerd__Services__Events__V1__SubscribeRequest *sub;
	Containerd__Events__TaskExit                       *x;

	fx->srv.handler = h_stall;
	start_subscribe(fx, &r);
	wait_reqs(fx, 1);
	q   = fx->srv.reqs[0];
	sub = containerd__services__events__v1__subscribe_request__unpack(
	        NULL, q->body_len - 5, q->body + 5);
	assert_non_null(sub);
	assert_int_equal(sub->n_filters, 1);
	assert_string_equal(sub->filters[0], "topic==\"/tasks/exit\"");
	containerd__services__events__v1__subscribe_request__free_unpacked(
	        sub, NULL);
	assert_string_equal(q->tmo, ""); // streams carry no deadline

	send_envelope(q, 100);
	send_envelope(q, 101);
	send_envelope(q, 102);
	r.want = 3;
	assert_true(psb_test_run_until(fx->loop, sres_count, &r, WAIT_MS));
	q->chunk = 3;
	send_envelope(q, 103);
	send_envelope(q, 104);
	srv_finish(q, 0, NULL);
	assert_true(psb_test_run_until(fx->loop, sres_ended, &r, WAIT_MS));
	assert_int_equal(r.ends, 1);
	assert_int_equal(r.status, PSB_GRPC_OK);
	assert_int_equal(r.n, 5);
	for (int i = 0; i < 5; i++) {
		assert_string_equal(r.ev[i]->topic, "/tasks/exit");
		assert_string_equal(r.ev[i]->namespace_, "podsandbox");
		assert_string_equal(r.ev[i]->event->type_url,
		        "containerd.events.TaskExit");
		x = containerd__events__task_exit__unpack(NULL,
		        r.ev[i]->event->value.len, r.ev[i]->event->value.data);
		assert_non_null(x);
		assert_int_equal(x->pid, 100 + i);
		assert_int_equal(x->exit_status, 137);
		assert_string_equal(x->id, "sb-1");
		containerd__events__task_exit__free_unpacked(x, NULL);
	}
	sres_release(&r);
}

// Cancelling a stream from its own message callback: RST_STREAM(CANCEL)
// to the server, no more callbacks, even for messages already received.
static void
test_stream_cancel(void **state)
{
	fx_t  *fx = *state;
	sres_t r  = {0};

	fx->srv.handler = h_stall;
	start_subscribe(fx, &r);
	wait_reqs(fx, 1);
	r.cancel_after = 1;
	r.want         = 1;
	send_envelope(fx->srv.reqs[0], 1);
	send_envelope(fx->srv.reqs[0], 2);
	assert_true(psb_test_run_until(fx->loop, sres_count, &r, WAIT_MS));
	psb_test_run_for(fx->loop, 50);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ends, 0);
	assert_int_equal(fx->srv.ncancel, 1);
	sres_release(&r);
}

static void
h_rst(srv_t *s, sreq_t *r)
{
	nghttp2_submit_rst_stream(r->conn->sess, NGHTTP2_FLAG_NONE, r->id,
	        s->nreq == 1 ? NGHTTP2_INTERNAL_ERROR
	                     : NGHTTP2_REFUSED_STREAM);
}

// RST_STREAM from the server maps per the gRPC HTTP/2 spec.
static void
test_rst_stream(void **state)
{
	fx_t *fx = *state;
	res_t r = {0}, r2 = {0};

	fx->srv.handler = h_rst;
	call_version(fx, 0, &r);
	wait_res(fx, &r);
	assert_int_equal(r.status, PSB_GRPC_INTERNAL);
	assert_non_null(strstr(r.msg, "stream reset by server"));
	call_version(fx, 0, &r2);
	wait_res(fx, &r2);
	assert_int_equal(r2.status, PSB_GRPC_UNAVAILABLE);
}

// GOAWAY with three unary calls and a stream in flight: all fail with
// UNAVAILABLE; the next call dials a new connection and succeeds.
static void
test_goaway(void **state)
{
	fx_t    *fx   = *state;
	res_t    r[4] = {{0}};
	sres_t   s    = {0};
	sconn_t *c;

	fx->srv.handler = h_stall;
	for (int i = 0; i < 3; i++) {
		call_version(fx, 0, &r[i]);
	}
	start_subscribe(fx, &s);
	wait_reqs(fx, 4);
	c = fx->srv.conns;
	assert_int_equal(
	        nghttp2_submit_goaway(c->sess, NGHTTP2_FLAG_NONE,
	                nghttp2_session_get_last_proc_stream_id(c->sess),
	                NGHTTP2_NO_ERROR, (const uint8_t *)"bye", 3),
	        0);
	srv_flush(c);
	for (int i = 0; i < 3; i++) {
		wait_res(fx, &r[i]);
		assert_int_equal(r[i].status, PSB_GRPC_UNAVAILABLE);
		assert_non_null(strstr(r[i].msg, "GOAWAY"));
	}
	assert_true(psb_test_run_until(fx->loop, sres_ended, &s, WAIT_MS));
	assert_int_equal(s.status, PSB_GRPC_UNAVAILABLE);
	assert_false(psb_grpc_connected(fx->g));

	fx->srv.handler = h_version;
	call_version(fx, 0, &r[3]);
	wait_res(fx, &r[3]);
	assert_int_equal(r[3].status, PSB_GRPC_OK);
	assert_int_equal(fx->srv.naccept, 2);
	res_release(r, 4);
}

// The server dies mid-call: UNAVAILABLE. While it is down calls fail fast
// (connect fails; within the backoff they fail without dialling). Once it
// is back and the backoff has passed, the next call reconnects.
static void
test_disconnect_reconnect(void **state)
{
	fx_t   *fx   = *state;
	res_t   r[5] = {{0}};
	int64_t t0;

	fx->srv.handler = h_stall;
	call_version(fx, 0, &r[0]);
	wait_reqs(fx, 1);
	srv_down(&fx->srv);
	wait_res(fx, &r[0]);
	assert_int_equal(r[0].status, PSB_GRPC_UNAVAILABLE);
	assert_non_null(strstr(r[0].msg, "lost"));

	t0 = psb_mono_ns();
	call_version(fx, 0, &r[1]);
	wait_res(fx, &r[1]);
	assert_int_equal(r[1].status, PSB_GRPC_UNAVAILABLE);
	assert_non_null(strstr(r[1].msg, "No such file or directory"));
	assert_true(r[1].at - t0 < 50 * 1000000LL); // fast, not a timeout

	srv_listen(&fx->srv);
	fx->srv.handler = h_version;
	call_version(fx, 0, &r[2]); // within 100 ms of the failed dial
	wait_res(fx, &r[2]);
	assert_int_equal(r[2].status, PSB_GRPC_UNAVAILABLE);
	assert_int_equal(fx->srv.naccept, 1);

	psb_test_run_for(fx->loop, 150);
	call_version(fx, 0, &r[3]);
	wait_res(fx, &r[3]);
	assert_int_equal(r[3].status, PSB_GRPC_OK);
	assert_string_equal(version_of(&r[3]), "test");
	assert_int_equal(fx->srv.naccept, 2);
	assert_true(psb_grpc_connected(fx->g));
	res_release(r, 5);
}

// wait_for_ready: calls made while the server is down wait (their
// deadline still runs) and go through once a backoff retry connects.
static void
test_wait_for_ready(void **state)
{
	fx_t *fx   = *state;
	res_t r[2] = {{0}};

	psb_grpc_close(fx->g);
	srv_down(&fx->srv);
	fx->opts.wait_for_ready = true;
	open_client(fx);
	call_version(fx, 3000, &r[0]);
	call_version(fx, 150, &r[1]);
	wait_res(fx, &r[1]);
	assert_int_equal(r[1].status, PSB_GRPC_DEADLINE_EXCEEDED);
	assert_int_equal(r[0].calls, 0);
	psb_test_run_for(fx->loop, 200);
	srv_listen(&fx->srv);
	wait_res(fx, &r[0]);
	assert_int_equal(r[0].status, PSB_GRPC_OK);
	assert_int_equal(fx->srv.naccept, 1);
	res_release(r, 2);
}

// wait_for_ready with nothing else going on: the failed dial itself arms
// the backoff retry (the exit subscription is such a lone call; it once
// waited for an unrelated call to dial again).
static void
test_wait_for_ready_alone(void **state)
{
	fx_t *fx   = *state;
	res_t r[1] = {{0}};

	psb_grpc_close(fx->g);
	srv_down(&fx->srv);
	fx->opts.wait_for_ready = true;
	open_client(fx);
	call_version(fx, 3000, &r[0]);
	psb_test_run_for(fx->loop, 300);
	assert_int_equal(r[0].calls, 0);
	srv_listen(&fx->srv);
	wait_res(fx, &r[0]);
	assert_int_equal(r[0].calls, 1);
	assert_int_equal(r[0].status, PSB_GRPC_OK);
	res_release(r, 1);
}

static void
h_many(srv_t *s, sreq_t *r)
{
	// Answer all 100 at once, in reverse order, once the last arrives.
	if (s->nreq < 100) {
		return;
	}
	for (int i = s->nall - 1; i >= 0; i--) {
		h_nsget(s, s->reqs[i]);
	}
}

static void
test_many_concurrent(void **state)
{
	fx_t *fx = *state;
	res_t r[100];
	char  name[32];
	Containerd__Services__Namespaces__V1__GetNamespaceResponse *ns;

	memset(r, 0, sizeof(r));
	fx->srv.handler = h_many;
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "ns-%d", i);
		call_nsget(fx, name, &r[i]);
	}
	for (int i = 0; i < 100; i++) {
		wait_res(fx, &r[i]);
		assert_int_equal(r[i].status, PSB_GRPC_OK);
		ns = (void *)r[i].resp;
		snprintf(name, sizeof(name), "ns-%d", i);
		assert_string_equal(ns->namespace_->name, name);
	}
	assert_int_equal(fx->srv.naccept, 1);
	res_release(r, 100);
}

static int nested_rv = 1;

static void
close_cb(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	unary_cb(arg, status, message, resp);
	// Calls from a callback during close are refused.
	nested_rv = psb_grpc_call(cur_fx->g, VERSION_PATH, &empty_req.base,
	        &containerd__services__version__v1__version_response__descriptor,
	        0, unary_cb, arg);
}

// Close fires every pending callback with CANCELLED inside the call, and
// nothing afterwards.
static void
test_close_cancels(void **state)
{
	fx_t  *fx   = *state;
	res_t  r[2] = {{0}};
	sres_t s    = {0};

	fx->srv.handler = h_stall;
	call_version(fx, 0, &r[0]);
	start_subscribe(fx, &s);
	wait_reqs(fx, 2);
	assert_int_equal(
	        psb_grpc_call(fx->g, VERSION_PATH, &empty_req.base,
	                &containerd__services__version__v1__version_response__descriptor,
	                0, close_cb, &r[1]),
	        0); // queued, never sent
	psb_grpc_close(fx->g);
	fx->g = NULL;
	assert_int_equal(r[0].calls, 1);
	assert_int_equal(r[0].status, PSB_GRPC_CANCELLED);
	assert_int_equal(r[1].calls, 1);
	assert_int_equal(r[1].status, PSB_GRPC_CANCELLED);
	assert_int_equal(nested_rv, PSB_ECANCELED);
	assert_int_equal(s.ends, 1);
	assert_int_equal(s.status, PSB_GRPC_CANCELLED);
	psb_test_run_for(fx->loop, 50);
	assert_int_equal(r[0].calls, 1);
	assert_int_equal(r[1].calls, 1);
	assert_int_equal(s.ends, 1);
}

static void
close_in_cb(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	unary_cb(arg, status, message, resp);
	psb_grpc_close(cur_fx->g);
	cur_fx->g = NULL;
}

// Closing from inside a callback is safe; the other call gets CANCELLED
// inside that close.
static void
h_version_only(srv_t *s, sreq_t *r)
{
	if (strcmp(r->path, VERSION_PATH) == 0) {
		srv_version(r, "test");
	}
}

static void
test_close_from_callback(void **state)
{
	fx_t *fx   = *state;
	res_t r[2] = {{0}};

	fx->srv.handler = h_version_only;
	call_nsget(fx, "stalled", &r[1]);
	wait_reqs(fx, 1);
	assert_int_equal(
	        psb_grpc_call(fx->g, VERSION_PATH, &empty_req.base,
	                &containerd__services__version__v1__version_response__descriptor,
	                0, close_in_cb, &r[0]),
	        0);
	wait_res(fx, &r[0]);
	assert_int_equal(r[0].status, PSB_GRPC_OK);
	assert_null(fx->g);
	assert_int_equal(r[1].calls, 1);
	assert_int_equal(r[1].status, PSB_GRPC_CANCELLED);
	psb_test_run_for(fx->loop, 30);
	assert_int_equal(r[0].calls, 1);
	assert_int_equal(r[1].calls, 1);
	res_release(r, 2);
}

static void
test_helpers(void **state)
{
	char buf[128];

	assert_int_equal(
	        psb_grpc_method_path(
	                &containerd__services__version__v1__version__descriptor,
	                "Version", buf, sizeof(buf)),
	        0);
	assert_string_equal(buf, VERSION_PATH);
	assert_int_equal(
	        psb_grpc_method_path(
	                &containerd__services__events__v1__events__descriptor,
	                "Subscribe", buf, sizeof(buf)),
	        0);
	assert_string_equal(buf, SUB_PATH);
	assert_int_equal(
	        psb_grpc_method_path(
	                &containerd__services__events__v1__events__descriptor,
	                "Nope", buf, sizeof(buf)),
	        PSB_EINVAL);
	assert_int_equal(
	        psb_grpc_method_path(
	                &containerd__services__events__v1__events__descriptor,
	                "Subscribe", buf, 10),
	        PSB_EINVAL);
	assert_int_equal(psb_grpc_status_to_err(PSB_GRPC_OK), PSB_OK);
	assert_int_equal(
	        psb_grpc_status_to_err(PSB_GRPC_ALREADY_EXISTS), PSB_EEXIST);
	assert_int_equal(
	        psb_grpc_status_to_err(PSB_GRPC_UNAVAILABLE), PSB_EUNAVAIL);
	assert_int_equal(psb_grpc_status_to_err(PSB_GRPC_DEADLINE_EXCEEDED),
	        PSB_ETIMEDOUT);
	assert_int_equal(psb_grpc_status_to_err(PSB_GRPC_FAILED_PRECONDITION),
	        PSB_ESTATE);
	assert_int_equal(
	        psb_grpc_status_to_err(PSB_GRPC_UNIMPLEMENTED), PSB_ENOTSUP);
	assert_string_equal(psb_grpc_status_name(14), "UNAVAILABLE");
	assert_string_equal(psb_grpc_status_name(99), "UNKNOWN");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        T(test_unary_ok),
	        T(test_not_found),
	        T(test_trailers_only_and_http),
	        T(test_deadline),
	        T(test_large_flow_control),
	        T(test_too_large),
	        T(test_compressed_rejected),
	        T(test_stream),
	        T(test_stream_cancel),
	        T(test_rst_stream),
	        T(test_goaway),
	        T(test_disconnect_reconnect),
	        T(test_wait_for_ready),
	        T(test_wait_for_ready_alone),
	        T(test_many_concurrent),
	        T(test_close_cancels),
	        T(test_close_from_callback),
	        T(test_helpers),
	};

	return (psb_test_run_group(tests, NULL, NULL));
}
