//
// podsandboxd - containerd's answers against the gRPC client and the
// containerd backend (runtime/grpc*.c, runtime/containerd/; STYLE.md
// practice 7: what comes from containerd returns an error, never a
// crash).
//
// A fake containerd (an nghttp2 server on a unix socket, on the same
// loop as the client, as in tests/unit/grpc_test.c) answers every call
// with what the input says. The input is:
//
//   byte 0    bit 0      scenario: 0 = resolve an image with
//                        psb_image_resolve on a psb_grpc client;
//                        1 = the containerd backend (psb_runtime_open
//                        "containerd": exit subscription and image check
//                        at init, then a start-up probe, a kill and a
//                        delete)
//             bits 1-2   image platform: amd64, arm/v7, arm64/v8, s390x
//             bit 3      backend: resync every 5 ms
//             bits 4-5   backend: how many sandboxes are probed (0-2)
//             bit 6      backend: kill fz-a
//             bit 7      backend: delete fz-b
//   then records: tag (1 byte), length (2 bytes, little endian), payload.
//
// A record whose tag's low nibble is 15 is a blob for the content store
// (at most FZ_BLOBS). In a blob, "@D<j>@" and "@S<j>@" stand for the
// digest and size of blob j > i, so that an index or manifest can name a
// blob that really has that digest: blobs are resolved from the last.
// Every other record is the answer to the next call, in arrival order
// (the low nibble; fz_answer_kind): the natural answer built from the
// payload (FZ_A_STRUCT, see fz_struct_*), the payload as one protobuf
// message (RAW), as raw DATA bytes (FRAMES: the gRPC length prefix is
// the input's), as several messages (STREAM), a Trailers-Only status, no
// answer at all (HANG), RST_STREAM, a non-gRPC HTTP status or GOAWAY.
// Once the records run out every call gets its natural answer from an
// empty payload, and Subscribe hangs, as containerd's does.
//
// Invariants: every resolve completes exactly once (success: what it
// names is what the server holds); the backend reports only about the
// sandboxes it was asked about, never from inside an operation's call or
// after psb_runtime_close, at most one probe outcome per sandbox, at most
// one TASK_EXIT per (id, generation) and at most one outcome per delete.
//
// Safety, and a known bug: the backend removes an orphan container's
// files, <sandbox_root>/<id> and <sandbox_state>/<id>, with the id
// containerd lists, checked for its length only (ctrd_reap_orphan). An
// id ".." makes it remove sandbox_root's parent, whatever is in it (a
// verified product bug, not fixed yet), so the fake containerd never
// lists an id that is not one path element; the rest of the answers are
// the input's. The backend's directories are in this target's scratch
// directory, and it runs in its own mount namespace where it can get
// one (root), so its unmounts stay there.
//

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <ftw.h>
#include <nghttp2/nghttp2.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "base/sha256.h"
#include "fuzz_util.h"
#include "runtime/containerd/image.h"
#include "runtime/grpc.h"
#include "runtime/runtime.h"

#include "github.com/containerd/containerd/api/events/task.pb-c.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb-c.h"
#include "github.com/containerd/containerd/api/services/content/v1/content.pb-c.h"
#include "github.com/containerd/containerd/api/services/events/v1/events.pb-c.h"
#include "github.com/containerd/containerd/api/services/images/v1/images.pb-c.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"

#define FZ_BLOBS      4
#define FZ_ANSWERS    64
#define FZ_BLOB_MAX   (64 * 1024)
#define FZ_BODY_MAX   (64 * 1024)
#define FZ_MAX_REQS   256
#define FZ_IMAGE_MS   30 // loop time an image resolve may take
#define FZ_BACKEND_MS 40

#define P_IMAGES_GET "/containerd.services.images.v1.Images/Get"
#define P_READ       "/containerd.services.content.v1.Content/Read"
#define P_TASKS      "/containerd.services.tasks.v1.Tasks/"
#define P_CONTS_LIST "/containerd.services.containers.v1.Containers/List"
#define P_SUBSCRIBE  "/containerd.services.events.v1.Events/Subscribe"

enum fz_answer_kind {
	FZ_A_STRUCT,
	FZ_A_RAW,
	FZ_A_FRAMES,
	FZ_A_STATUS,
	FZ_A_HANG,
	FZ_A_RESET,
	FZ_A_HTTP,
	FZ_A_GOAWAY,
	FZ_A_STREAM,
	FZ_A_BLOB = 15, // not an answer: a blob record
};

typedef struct fz_rec {
	uint8_t        tag;
	const uint8_t *p;
	size_t         n;
} fz_rec_t;

typedef struct fz_blob {
	uint8_t *data;
	size_t   len;
	char     digest[PSB_IMAGE_DIGEST_LEN + 1];
} fz_blob_t;

// ---- the fake containerd ------------------------------------------------

typedef struct fz_conn fz_conn_t;

typedef struct fz_req {
	fz_conn_t *conn; // NULL once the connection is gone
	int32_t    id;
	char       path[128];
	uint8_t   *body;
	size_t     body_len;
	uint8_t   *out; // response body still to send
	size_t     out_len, out_off;
	bool       started, fin, hang;
	int        delay;      // answers to other calls before this one's body
	char       status[24]; // grpc-status in the trailers ("" = none)
	char       msg[64];
} fz_req_t;

struct fz_conn {
	int              fd;
	ev_io            io;
	nghttp2_session *sess;
	bool             in_recv, dead;
	fz_conn_t       *next;
};

typedef struct fz_srv {
	struct ev_loop *loop;
	char            path[256];
	int             lfd;
	ev_io           lio;
	fz_conn_t      *conns;
	fz_req_t       *reqs[FZ_MAX_REQS];
	int             nreqs;
	uint64_t        activity; // bumps on every byte or request
	fz_rec_t        answers[FZ_ANSWERS];
	int             nanswers, next_answer;
	fz_blob_t       blobs[FZ_BLOBS];
	int             nblobs;
} fz_srv_t;

static fz_srv_t fz_srv;

static void fz_conn_flush(fz_conn_t *c);

static void
fz_conn_free(fz_conn_t *c)
{
	for (fz_conn_t **pp = &fz_srv.conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	for (int i = 0; i < fz_srv.nreqs; i++) {
		if (fz_srv.reqs[i]->conn == c) {
			fz_srv.reqs[i]->conn = NULL;
		}
	}
	ev_io_stop(fz_srv.loop, &c->io);
	nghttp2_session_del(c->sess);
	close(c->fd);
	free(c);
}

static ssize_t
fz_send_cb(nghttp2_session *s, const uint8_t *d, size_t n, int f, void *ud)
{
	fz_conn_t *c = ud;
	ssize_t    w = send(c->fd, d, n, MSG_NOSIGNAL);

	(void)s;
	(void)f;
	if (w < 0) {
		return (errno == EAGAIN ? NGHTTP2_ERR_WOULDBLOCK
		                        : NGHTTP2_ERR_CALLBACK_FAILURE);
	}
	return (w);
}

static int
fz_begin_headers_cb(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	fz_req_t *r;

	if (f->hd.type != NGHTTP2_HEADERS ||
	        f->headers.cat != NGHTTP2_HCAT_REQUEST ||
	        fz_srv.nreqs == FZ_MAX_REQS) {
		return (0);
	}
	r = calloc(1, sizeof(*r));
	FZ_CHECK(r != NULL);
	r->conn                     = ud;
	r->id                       = f->hd.stream_id;
	fz_srv.reqs[fz_srv.nreqs++] = r;
	nghttp2_session_set_stream_user_data(s, r->id, r);
	return (0);
}

static int
fz_header_cb(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *k,
        size_t kn, const uint8_t *v, size_t vn, uint8_t fl, void *ud)
{
	fz_req_t *r = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);

	(void)fl;
	(void)ud;
	if (r != NULL && kn == 5 && memcmp(k, ":path", 5) == 0) {
		snprintf(r->path, sizeof(r->path), "%.*s", (int)vn,
		        (const char *)v);
	}
	return (0);
}

static int
fz_data_cb(nghttp2_session *s, uint8_t fl, int32_t id, const uint8_t *d,
        size_t n, void *ud)
{
	fz_req_t *r = nghttp2_session_get_stream_user_data(s, id);

	(void)fl;
	(void)ud;
	if (r != NULL && r->body_len + n <= FZ_BODY_MAX) {
		uint8_t *b = realloc(r->body, r->body_len + n);

		FZ_CHECK(b != NULL);
		memcpy(b + r->body_len, d, n);
		r->body = b;
		r->body_len += n;
	}
	return (0);
}

static void fz_answer(fz_req_t *r);

static int
fz_frame_recv_cb(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	fz_req_t *r;

	(void)ud;
	if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
	        (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0 &&
	        (r = nghttp2_session_get_stream_user_data(
	                 s, f->hd.stream_id)) != NULL) {
		fz_srv.activity++;
		fz_answer(r);
	}
	return (0);
}

static void
fz_conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	fz_conn_t *c = w->data;
	uint8_t    buf[16384];
	ssize_t    n;

	(void)loop;
	if (revents & EV_READ) {
		n = read(c->fd, buf, sizeof(buf));
		if (n <= 0 && !(n < 0 && errno == EAGAIN)) {
			fz_conn_free(c);
			return;
		}
		if (n > 0) {
			fz_srv.activity++;
			c->in_recv = true;
			if (nghttp2_session_mem_recv(c->sess, buf, (size_t)n) <
			        0) {
				c->dead = true;
			}
			c->in_recv = false;
			if (c->dead) {
				fz_conn_free(c);
				return;
			}
		}
	}
	fz_conn_flush(c);
}

static void
fz_conn_flush(fz_conn_t *c)
{
	int ev = EV_READ;

	if (c == NULL || c->in_recv) {
		return; // fz_conn_io_cb flushes once nghttp2 returns
	}
	if (nghttp2_session_send(c->sess) != 0) {
		c->dead = true;
	}
	if (nghttp2_session_want_write(c->sess)) {
		ev |= EV_WRITE;
	}
	if ((c->io.events & (EV_READ | EV_WRITE)) != ev) {
		ev_io_stop(fz_srv.loop, &c->io);
		ev_io_set(&c->io, c->fd, ev);
		ev_io_start(fz_srv.loop, &c->io);
	}
}

static void
fz_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	nghttp2_session_callbacks *cbs;
	nghttp2_settings_entry     iv[] = {
	            {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000}};
	fz_conn_t *c;
	int fd = accept4(fz_srv.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	(void)w;
	(void)revents;
	if (fd < 0) {
		return;
	}
	c = calloc(1, sizeof(*c));
	FZ_CHECK(c != NULL);
	c->fd = fd;
	FZ_CHECK(nghttp2_session_callbacks_new(&cbs) == 0);
	nghttp2_session_callbacks_set_send_callback(cbs, fz_send_cb);
	nghttp2_session_callbacks_set_on_begin_headers_callback(
	        cbs, fz_begin_headers_cb);
	nghttp2_session_callbacks_set_on_header_callback(cbs, fz_header_cb);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
	        cbs, fz_data_cb);
	nghttp2_session_callbacks_set_on_frame_recv_callback(
	        cbs, fz_frame_recv_cb);
	FZ_CHECK(nghttp2_session_server_new(&c->sess, cbs, c) == 0);
	nghttp2_session_callbacks_del(cbs);
	nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, 1);
	c->next      = fz_srv.conns;
	fz_srv.conns = c;
	ev_io_init(&c->io, fz_conn_io_cb, fd, EV_READ);
	c->io.data = c;
	ev_io_start(loop, &c->io);
	fz_conn_flush(c);
}

static ssize_t
fz_read_cb(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
        uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	fz_req_t  *r = src->ptr;
	size_t     n = r->out_len - r->out_off;
	nghttp2_nv nv[2];
	size_t     k = 0;

	(void)ud;
	if (r->delay > 0) {
		return (NGHTTP2_ERR_DEFERRED);
	}
	if (n > 0) {
		n = n < len ? n : len;
		memcpy(buf, r->out + r->out_off, n);
		r->out_off += n;
		return ((ssize_t)n);
	}
	if (!r->fin) {
		return (NGHTTP2_ERR_DEFERRED);
	}
	*flags |= NGHTTP2_DATA_FLAG_EOF;
	if (r->status[0] == '\0') {
		return (0); // no trailers: the stream just ends
	}
	nv[k++] = (nghttp2_nv) {(uint8_t *)"grpc-status", (uint8_t *)r->status,
	        11, strlen(r->status), 0};
	if (r->msg[0] != '\0') {
		nv[k++] = (nghttp2_nv) {(uint8_t *)"grpc-message",
		        (uint8_t *)r->msg, 12, strlen(r->msg), 0};
	}
	*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
	(void)nghttp2_submit_trailer(s, id, nv, k);
	return (0);
}

// fz_begin sends the response headers (once) with a data provider.
static void
fz_begin(fz_req_t *r)
{
	nghttp2_nv nv[] = {
	        {(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0},
	        {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12,
	                16, 0},
	};
	nghttp2_data_provider prd = {
	        .source.ptr = r, .read_callback = fz_read_cb};

	if (!r->started) {
		r->started = true;
		(void)nghttp2_submit_response(
		        r->conn->sess, r->id, nv, 2, &prd);
	}
}

static void
fz_out(fz_req_t *r, const void *p, size_t n)
{
	uint8_t *b = realloc(r->out, r->out_len + n + 1);

	FZ_CHECK(b != NULL);
	memcpy(b + r->out_len, p, n);
	r->out = b;
	r->out_len += n;
}

// fz_out_msg appends one gRPC message: flag byte, length, bytes.
static void
fz_out_msg(fz_req_t *r, const void *p, size_t n)
{
	uint8_t h[5] = {0, (uint8_t)(n >> 24), (uint8_t)(n >> 16),
	        (uint8_t)(n >> 8), (uint8_t)n};

	fz_out(r, h, 5);
	fz_out(r, p, n);
}

static void
fz_out_pb(fz_req_t *r, const ProtobufCMessage *m)
{
	size_t   n   = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n + 1);

	FZ_CHECK(buf != NULL);
	protobuf_c_message_pack(m, buf);
	fz_out_msg(r, buf, n);
	free(buf);
}

// fz_finish ends the response after its body: with grpc-status st ("":
// no trailers), or not at all (hang: a stream containerd keeps open).
static void
fz_finish(fz_req_t *r, const char *st, const char *msg, bool hang)
{
	snprintf(r->status, sizeof(r->status), "%s", st);
	snprintf(r->msg, sizeof(r->msg), "%s", msg != NULL ? msg : "");
	r->fin = !hang;
	fz_begin(r);
	if (r->delay == 0) {
		nghttp2_session_resume_data(r->conn->sess, r->id);
	}
}

// fz_undelay counts an answer against the delays of the others.
static void
fz_undelay(const fz_req_t *by)
{
	for (int i = 0; i < fz_srv.nreqs; i++) {
		fz_req_t *r = fz_srv.reqs[i];

		if (r != by && r->delay > 0 && --r->delay == 0 &&
		        r->conn != NULL) {
			nghttp2_session_resume_data(r->conn->sess, r->id);
			fz_conn_flush(r->conn);
		}
	}
}

// fz_headers_only answers with one HEADERS frame that ends the stream.
static void
fz_headers_only(fz_req_t *r, const char *http, const char *st,
        const uint8_t *msg, size_t msg_len)
{
	nghttp2_nv nv[4];
	size_t     k = 0;

	nv[k++] = (nghttp2_nv) {
	        (uint8_t *)":status", (uint8_t *)http, 7, strlen(http), 0};
	if (st != NULL) {
		nv[k++] = (nghttp2_nv) {(uint8_t *)"content-type",
		        (uint8_t *)"application/grpc", 12, 16, 0};
		nv[k++] = (nghttp2_nv) {(uint8_t *)"grpc-status",
		        (uint8_t *)st, 11, strlen(st), 0};
		nv[k++] = (nghttp2_nv) {(uint8_t *)"grpc-message",
		        (uint8_t *)msg, 12, msg_len,
		        NGHTTP2_NV_FLAG_NO_COPY_VALUE};
	}
	r->started = true;
	(void)nghttp2_submit_response(r->conn->sess, r->id, nv, k, NULL);
}

// fz_status_text: grpc-status values, most of them well-formed.
static void
fz_status_text(uint8_t b, char *out, size_t size)
{
	static const char *const odd[] = {
	        "", "x", "-1", "4294967296", "017", " 5", "99"};

	if (b % 24 < 17) {
		snprintf(out, size, "%d", b % 24);
	} else {
		snprintf(out, size, "%s", odd[(b % 24) - 17]);
	}
}

// ---- known bugs -----------------------------------------------------------
//
// Answers that tripped a product bug found by this target: a containerd
// Timestamp with seconds just below INT64_MAX / 1e9 and nanos up to
// INT32_MAX overflowed ctrd_ts_ns (runtime/containerd/exits.c; UBSan).
// Fixed: such answers are sent as they are (the check below stays for the
// next one found).

static bool
fz_known_bugs(void)
{
	return (true); // the Timestamp overflow is fixed (ctrd_ts_ns)
}

static bool
fz_ts_overflows(const Google__Protobuf__Timestamp *ts)
{
	int64_t ns;

	return (ts->seconds > 0 && ts->seconds < INT64_MAX / 1000000000LL &&
	        __builtin_add_overflow(
	                ts->seconds * 1000000000LL, (int64_t)ts->nanos, &ns));
}

// fz_msg_trips walks m (and a TaskExit packed in an Any) for such a
// Timestamp.
static bool
fz_msg_trips(const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	if (depth > 8) {
		return (false);
	}
	if (d == &google__protobuf__timestamp__descriptor) {
		return (fz_ts_overflows((const void *)m));
	}
	if (d == &google__protobuf__any__descriptor) {
		const Google__Protobuf__Any  *any = (const void *)m;
		Containerd__Events__TaskExit *x;
		bool                          bad;

		x = containerd__events__task_exit__unpack(
		        NULL, any->value.len, any->value.data);
		bad = x != NULL && fz_msg_trips(&x->base, depth + 1);
		if (x != NULL) {
			containerd__events__task_exit__free_unpacked(x, NULL);
		}
		return (bad);
	}
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f    = &d->fields[i];
		const char                     *base = (const char *)m;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE) {
			continue;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n =
			        *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage *const *v =
			        *(ProtobufCMessage *const *const *)(base +
			                                            f->offset);

			for (size_t k = 0; k < n; k++) {
				if (fz_msg_trips(v[k], depth + 1)) {
					return (true);
				}
			}
		} else {
			const ProtobufCMessage *sub =
			        *(const ProtobufCMessage *const *)(base +
			                                           f->offset);

			if (sub != NULL && fz_msg_trips(sub, depth + 1)) {
				return (true);
			}
		}
	}
	return (false);
}

// fz_bytes_trip: one message's bytes, read as any answer that carries a
// Timestamp the backend converts.
static bool
fz_bytes_trip(const uint8_t *p, size_t n)
{
	static const ProtobufCMessageDescriptor *const ds[] = {
	        &containerd__services__events__v1__envelope__descriptor,
	        &containerd__services__tasks__v1__list_tasks_response__descriptor,
	        &containerd__services__tasks__v1__get_response__descriptor,
	        &containerd__services__tasks__v1__delete_response__descriptor,
	};
	bool bad = false;

	if (fz_known_bugs()) {
		return (false);
	}
	for (size_t i = 0; i < PSB_NELEM(ds) && !bad; i++) {
		ProtobufCMessage *m =
		        protobuf_c_message_unpack(ds[i], NULL, n, p);

		if (m != NULL) {
			bad = fz_msg_trips(m, 0);
			protobuf_c_message_free_unpacked(m, NULL);
		}
	}
	return (bad);
}

// fz_frames_trip: the same for raw DATA bytes, message by message.
static bool
fz_frames_trip(const uint8_t *p, size_t n)
{
	while (n >= 5) {
		size_t len = (size_t)p[1] << 24 | (size_t)p[2] << 16 |
		             (size_t)p[3] << 8 | p[4];

		if (len > n - 5) {
			len = n - 5; // the rest, as far as it goes
		}
		if (fz_bytes_trip(p + 5, len)) {
			return (true);
		}
		p += 5 + len;
		n -= 5 + len;
	}
	return (false);
}

// ---- natural answers ------------------------------------------------------

static const char *const fz_ids[] = {
        "fz-a", "fz-b", "fz-orphan", "fz-c", "", "..", "a/b", "fz-a.exec"};

static uint8_t
fz_byte(const fz_rec_t *a, size_t i)
{
	return (i < a->n ? a->p[i] : 0);
}

static fz_blob_t *
fz_blob_find(const char *digest)
{
	for (int i = 0; i < fz_srv.nblobs; i++) {
		if (strcmp(fz_srv.blobs[i].digest, digest) == 0) {
			return (&fz_srv.blobs[i]);
		}
	}
	return (NULL);
}

// Images.Get: p[0] media type, p[1] size, p[2] digest, p[3] which blob.
static void
fz_struct_image(fz_req_t *r, const fz_rec_t *a)
{
	static const char *const mts[] = {PSB_MT_OCI_INDEX,
	        PSB_MT_OCI_MANIFEST, PSB_MT_DOCKER_LIST,
	        PSB_MT_DOCKER_MANIFEST, PSB_MT_OCI_CONFIG,
	        "application/octet-stream", ""};
	Containerd__Services__Images__V1__GetImageResponse resp =
	        CONTAINERD__SERVICES__IMAGES__V1__GET_IMAGE_RESPONSE__INIT;
	Containerd__Services__Images__V1__Image img =
	        CONTAINERD__SERVICES__IMAGES__V1__IMAGE__INIT;
	Containerd__Types__Descriptor d = CONTAINERD__TYPES__DESCRIPTOR__INIT;
	const fz_blob_t              *b;
	char                          digest[PSB_IMAGE_DIGEST_LEN + 1];

	if (fz_srv.nblobs == 0) {
		fz_headers_only(
		        r, "200", "5", (const uint8_t *)"not found", 9);
		return;
	}
	b = &fz_srv.blobs[fz_byte(a, 3) % fz_srv.nblobs];
	snprintf(digest, sizeof(digest), "%s", b->digest);
	switch (fz_byte(a, 2) % 8) {
	case 1: digest[10] = 'A'; break;                      // upper case
	case 2: digest[PSB_IMAGE_DIGEST_LEN - 1] ^= 1; break; // unknown
	case 3: memcpy(digest, "sha512", 6); break;
	default: break;
	}
	d.media_type = (char *)mts[fz_byte(a, 0) % PSB_NELEM(mts)];
	d.digest     = digest;
	switch (fz_byte(a, 1) % 8) {
	case 1: d.size = (int64_t)b->len + 1; break;
	case 2: d.size = (int64_t)b->len - 1; break;
	case 3: d.size = 0; break;
	case 4: d.size = 5 * 1024 * 1024; break;
	case 5: d.size = -1; break;
	default: d.size = (int64_t)b->len; break;
	}
	img.name   = "fz/pause:1";
	img.target = fz_byte(a, 1) % 8 == 7 ? NULL : &d;
	resp.image = &img;
	fz_out_pb(r, &resp.base);
	fz_finish(r, "0", NULL, false);
}

// Content.Read: the blob asked for, in chunks of p[0] bytes (0: whole),
// spoilt as p[1] says.
static void
fz_struct_read(fz_req_t *r, const fz_rec_t *a)
{
	Containerd__Services__Content__V1__ReadContentRequest *req = NULL;
	const fz_blob_t                                       *b   = NULL;
	size_t  chunk = fz_byte(a, 0), off;
	uint8_t spoil = fz_byte(a, 1) % 8;

	if (r->body_len >= 5) {
		req = containerd__services__content__v1__read_content_request__unpack(
		        NULL, r->body_len - 5, r->body + 5);
	}
	if (req != NULL) {
		b = fz_blob_find(req->digest);
	}
	if (b == NULL) {
		fz_headers_only(r, "200", "5", (const uint8_t *)"blob", 4);
		goto out;
	}
	if (chunk == 0) {
		chunk = b->len > 0 ? b->len : 1;
	}
	for (off = 0; off < b->len; off += chunk) {
		Containerd__Services__Content__V1__ReadContentResponse resp =
		        CONTAINERD__SERVICES__CONTENT__V1__READ_CONTENT_RESPONSE__INIT;
		size_t  n = b->len - off < chunk ? b->len - off : chunk;
		uint8_t flip[256];

		resp.offset    = (int64_t)off;
		resp.data.data = b->data + off;
		resp.data.len  = n;
		if (spoil == 1 && off > 0) {
			resp.offset++; // a gap
		}
		if (spoil == 2 && off + n >= b->len) {
			resp.data.len++; // one byte too many (the NUL after)
		}
		if (spoil == 4 && n <= sizeof(flip)) {
			memcpy(flip, resp.data.data, n);
			flip[0] ^= 0x20;
			resp.data.data = flip;
		}
		if (spoil == 3 && off + n >= b->len) {
			break; // short
		}
		fz_out_pb(r, &resp.base);
		if (spoil == 5 && off > 0) {
			fz_finish(r, "5", "gone", false);
			goto out;
		}
	}
	fz_finish(r, "0", NULL, false);
out:
	if (req != NULL) {
		containerd__services__content__v1__read_content_request__free_unpacked(
		        req, NULL);
	}
}

// Tasks.List: one task per 3 bytes (id, status, pid); fz_ids[4..] are
// containerd's, never ours.
static void
fz_struct_tasks(fz_req_t *r, const fz_rec_t *a)
{
	Containerd__Services__Tasks__V1__ListTasksResponse resp =
	        CONTAINERD__SERVICES__TASKS__V1__LIST_TASKS_RESPONSE__INIT;
	Containerd__V1__Types__Process procs[8], *pp[8];
	Google__Protobuf__Timestamp    ts[8];

	for (size_t i = 0; i < 8 && 3 * i + 2 < a->n; i++) {
		uint8_t id = fz_byte(a, 3 * i), st = fz_byte(a, 3 * i + 1);

		containerd__v1__types__process__init(&procs[i]);
		google__protobuf__timestamp__init(&ts[i]);
		procs[i].id           = (char *)fz_ids[id % PSB_NELEM(fz_ids)];
		procs[i].container_id = (id & 0x80) ? procs[i].id : "";
		procs[i].status      = (Containerd__V1__Types__Status)(st % 7);
		procs[i].pid         = fz_byte(a, 3 * i + 2) * 1000u + 1;
		procs[i].exit_status = st >> 3;
		ts[i].seconds        = (st & 0x40) ? 9223372035 : 1700000000;
		ts[i].nanos          = (st & 0x40) ? 999999999 : 1;
		if ((st & 0x40) && fz_known_bugs()) {
			ts[i].nanos = 2147483647;
		}
		procs[i].exited_at = (st & 0x20) ? &ts[i] : NULL;
		pp[i]              = &procs[i];
		resp.n_tasks       = i + 1;
	}
	resp.tasks = pp;
	fz_out_pb(r, &resp.base);
	fz_finish(r, "0", NULL, false);
}

// Containers.List: one container per 2 bytes (id, generation label).
static void
fz_struct_conts(fz_req_t *r, const fz_rec_t *a)
{
	static const char *const gens[] = {NULL, "1", "2", "x", "", "-1",
	        "99999999999999999999", "18446744073709551615"};
	Containerd__Services__Containers__V1__ListContainersResponse resp =
	        CONTAINERD__SERVICES__CONTAINERS__V1__LIST_CONTAINERS_RESPONSE__INIT;
	Containerd__Services__Containers__V1__Container cs[8], *cp[8];
	Containerd__Services__Containers__V1__Container__LabelsEntry le[8][2],
	        *lp[8][2];

	for (size_t i = 0; i < 8 && 2 * i + 1 < a->n; i++) {
		uint8_t     g   = fz_byte(a, 2 * i + 1);
		const char *gen = gens[g % PSB_NELEM(gens)];

		containerd__services__containers__v1__container__init(&cs[i]);
		cs[i].id =
		        (char *)fz_ids[fz_byte(a, 2 * i) % PSB_NELEM(fz_ids)];
		containerd__services__containers__v1__container__labels_entry__init(
		        &le[i][0]);
		containerd__services__containers__v1__container__labels_entry__init(
		        &le[i][1]);
		le[i][0].key      = "io.podsandboxd.sandbox-id";
		le[i][0].value    = cs[i].id;
		le[i][1].key      = "io.podsandboxd.generation";
		le[i][1].value    = (char *)(gen != NULL ? gen : "");
		lp[i][0]          = &le[i][0];
		lp[i][1]          = &le[i][1];
		cs[i].labels      = lp[i];
		cs[i].n_labels    = gen != NULL ? 2 : 1;
		cp[i]             = &cs[i];
		resp.n_containers = i + 1;
	}
	resp.containers = cp;
	fz_out_pb(r, &resp.base);
	fz_finish(r, "0", NULL, false);
}

// Subscribe: after p[0] % 8 answers to other calls (so that the exits
// can come after the probe that tracks the sandboxes), one envelope per
// 4 bytes (what, id, status, time); then the stream stays open.
static void
fz_struct_events(fz_req_t *r, const fz_rec_t *a)
{
	r->delay = fz_byte(a, 0) % 8;
	for (size_t i = 0; 4 * i + 4 < a->n && i < 8; i++) {
		Containerd__Services__Events__V1__Envelope e =
		        CONTAINERD__SERVICES__EVENTS__V1__ENVELOPE__INIT;
		Google__Protobuf__Any        any = GOOGLE__PROTOBUF__ANY__INIT;
		Containerd__Events__TaskExit x =
		        CONTAINERD__EVENTS__TASK_EXIT__INIT;
		Google__Protobuf__Timestamp ts =
		        GOOGLE__PROTOBUF__TIMESTAMP__INIT;
		uint8_t what = fz_byte(a, 4 * i + 1),
		        t    = fz_byte(a, 4 * i + 4);
		uint8_t val[256];
		size_t  n;

		x.container_id = (char *)
		        fz_ids[fz_byte(a, 4 * i + 2) % PSB_NELEM(fz_ids)];
		x.id          = (what & 1) ? "exec-1" : x.container_id;
		x.pid         = what * 7u;
		x.exit_status = fz_byte(a, 4 * i + 3);
		ts.seconds    = (t & 1) ? 9223372035 - (t >> 4) : 1700000000;
		ts.nanos      = (t & 2) ? 999999999 : -(int32_t)(t >> 2);
		if ((t & 2) && fz_known_bugs()) {
			ts.nanos = 2147483647;
		}
		x.exited_at    = (t & 4) ? NULL : &ts;
		n              = containerd__events__task_exit__pack(&x, val);
		any.type_url   = (what & 2) ? "containerd.events.TaskStart"
		                            : "containerd.events.TaskExit";
		any.value.data = val;
		any.value.len  = (what & 8) ? n / 2 : n; // cut short
		e.namespace_   = (what & 4) ? "other" : "fz";
		e.topic        = "/tasks/exit";
		e.event        = (what & 16) ? NULL : &any;
		fz_out_pb(r, &e.base);
	}
	fz_finish(r, "", NULL, true);
}

// Tasks.Get (the pidfd's question, the delete's wait) and Tasks.Delete:
// a process with p[0]'s status and exit status.
static void
fz_struct_task(fz_req_t *r, const fz_rec_t *a, bool get)
{
	Containerd__Services__Tasks__V1__GetResponse g =
	        CONTAINERD__SERVICES__TASKS__V1__GET_RESPONSE__INIT;
	Containerd__Services__Tasks__V1__DeleteResponse d =
	        CONTAINERD__SERVICES__TASKS__V1__DELETE_RESPONSE__INIT;
	Containerd__V1__Types__Process p =
	        CONTAINERD__V1__TYPES__PROCESS__INIT;

	p.id          = "fz-a";
	p.status      = (Containerd__V1__Types__Status)(fz_byte(a, 0) % 7);
	p.exit_status = fz_byte(a, 1);
	p.pid         = fz_byte(a, 2);
	g.process     = (fz_byte(a, 0) & 0x80) ? NULL : &p;
	d.id          = "fz-a";
	d.exit_status = p.exit_status;
	fz_out_pb(r, get ? &g.base : &d.base);
	fz_finish(r, "0", NULL, false);
}

static void
fz_struct(fz_req_t *r, const fz_rec_t *a)
{
	if (strcmp(r->path, P_IMAGES_GET) == 0) {
		fz_struct_image(r, a);
	} else if (strcmp(r->path, P_READ) == 0) {
		fz_struct_read(r, a);
	} else if (strcmp(r->path, P_TASKS "List") == 0) {
		fz_struct_tasks(r, a);
	} else if (strcmp(r->path, P_CONTS_LIST) == 0) {
		fz_struct_conts(r, a);
	} else if (strcmp(r->path, P_SUBSCRIBE) == 0) {
		fz_struct_events(r, a);
	} else if (strcmp(r->path, P_TASKS "Get") == 0) {
		fz_struct_task(r, a, true);
	} else if (strcmp(r->path, P_TASKS "Delete") == 0) {
		fz_struct_task(r, a, false);
	} else {
		fz_out_msg(r, "", 0); // Kill, Remove, ...: an Empty
		fz_finish(r, "0", NULL, false);
	}
}

// ---- the answer to one call -----------------------------------------------

// fz_id_unsafe: an id that is not one path element (see the file comment).
static bool
fz_id_unsafe(const char *id)
{
	return (id[0] == '\0' || strchr(id, '/') != NULL ||
	        strcmp(id, ".") == 0 || strcmp(id, "..") == 0);
}

// fz_conts_unsafe: a Containers.List answer that would list such an id.
static bool
fz_conts_unsafe(const uint8_t *p, size_t n)
{
	Containerd__Services__Containers__V1__ListContainersResponse *l;
	bool unsafe = false;

	l = containerd__services__containers__v1__list_containers_response__unpack(
	        NULL, n, p);
	for (size_t i = 0; l != NULL && i < l->n_containers; i++) {
		unsafe = unsafe || fz_id_unsafe(l->containers[i]->id);
	}
	if (l != NULL) {
		containerd__services__containers__v1__list_containers_response__free_unpacked(
		        l, NULL);
	}
	return (unsafe);
}

static const fz_rec_t fz_unavailable = {
        FZ_A_STATUS, (const uint8_t *)"\x0e", 1};

static void
fz_answer_with(fz_req_t *r, const fz_rec_t *a)
{
	char st[24];
	int  kind   = a->tag & 0x0f;
	bool listed = strcmp(r->path, P_CONTS_LIST) == 0;

	if (kind > FZ_A_STREAM) {
		kind = FZ_A_STRUCT; // the natural answer, most often
	}
	if (listed && kind == FZ_A_FRAMES) {
		kind = FZ_A_RAW; // its messages are checked below
	}
	if (listed && kind == FZ_A_STRUCT) {
		fz_rec_t safe = *a;
		uint8_t  ids[16];

		// fz_ids[4..6] are the unsafe ones: list fz-c instead.
		safe.n = a->n < sizeof(ids) ? a->n : sizeof(ids);
		for (size_t i = 0; i < safe.n; i++) {
			uint8_t k = a->p[i] % PSB_NELEM(fz_ids);

			ids[i] =
			        (i % 2 == 0 && k >= 4 && k <= 6) ? 3 : a->p[i];
		}
		safe.p = ids;
		fz_struct(r, &safe);
		return;
	}
	if ((listed && kind == FZ_A_RAW && fz_conts_unsafe(a->p, a->n)) ||
	        (kind == FZ_A_RAW && fz_bytes_trip(a->p, a->n)) ||
	        (kind == FZ_A_FRAMES && fz_frames_trip(a->p, a->n))) {
		kind = FZ_A_STATUS;
		a    = &fz_unavailable;
	}
	switch (kind) {
	case FZ_A_STRUCT: fz_struct(r, a); break;
	case FZ_A_RAW:
		fz_out_msg(r, a->p, a->n);
		fz_finish(r, "0", NULL, false);
		break;
	case FZ_A_FRAMES:
		fz_out(r, a->p, a->n);
		fz_finish(r, a->n > 0 && (a->p[0] & 0x80) ? "" : "0", NULL,
		        false);
		break;
	case FZ_A_STREAM:
		// Messages of p[i] bytes each, taken from what follows.
		for (size_t i = 0; i < a->n;) {
			size_t n = a->p[i] % 64;

			i++;
			n = n < a->n - i ? n : a->n - i;
			if ((listed && fz_conts_unsafe(a->p + i, n)) ||
			        fz_bytes_trip(a->p + i, n)) {
				break;
			}
			fz_out_msg(r, a->p + i, n);
			i += n;
		}
		fz_finish(r, "0", NULL, false);
		break;
	case FZ_A_STATUS:
		fz_status_text(fz_byte(a, 0), st, sizeof(st));
		fz_headers_only(r, "200", st, a->n > 1 ? a->p + 1 : a->p,
		        a->n > 1 ? (a->n - 1 < 48 ? a->n - 1 : 48) : 0);
		break;
	case FZ_A_HANG: r->hang = true; break;
	case FZ_A_RESET:
		(void)nghttp2_submit_rst_stream(r->conn->sess,
		        NGHTTP2_FLAG_NONE, r->id, fz_byte(a, 0) % 14);
		break;
	case FZ_A_HTTP: {
		static const char *const https[] = {
		        "503", "404", "200", "400", "429", "500", "301"};

		fz_headers_only(r, https[fz_byte(a, 0) % PSB_NELEM(https)],
		        NULL, NULL, 0);
		break;
	}
	case FZ_A_GOAWAY:
		(void)nghttp2_submit_goaway(r->conn->sess, NGHTTP2_FLAG_NONE,
		        (fz_byte(a, 0) & 1) ? r->id : r->id - 2,
		        fz_byte(a, 1) % 14, NULL, 0);
		break;
	default: break;
	}
}

static void
fz_answer(fz_req_t *r)
{
	static const fz_rec_t none = {FZ_A_STRUCT, NULL, 0};

	if (r->conn == NULL) {
		return;
	}
	FZ_NOTE("call %s: answer %d of %d\n", r->path, fz_srv.next_answer,
	        fz_srv.nanswers);
	if (fz_srv.next_answer < fz_srv.nanswers) {
		fz_answer_with(r, &fz_srv.answers[fz_srv.next_answer++]);
	} else if (strcmp(r->path, P_SUBSCRIBE) == 0) {
		r->hang = true; // as containerd: no event, no end
	} else {
		fz_answer_with(r, &none);
	}
	if (r->conn != NULL) {
		fz_conn_flush(r->conn);
	}
	fz_undelay(r);
}

// ---- the server's life ----------------------------------------------------

static void
fz_srv_listen(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	FZ_CHECK(snprintf(sa.sun_path, sizeof(sa.sun_path), "%s",
	                 fz_srv.path) < (int)sizeof(sa.sun_path));
	unlink(fz_srv.path);
	fz_srv.lfd =
	        socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	FZ_CHECK(fz_srv.lfd >= 0);
	FZ_CHECK(bind(fz_srv.lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	FZ_CHECK(listen(fz_srv.lfd, 128) == 0);
	ev_io_init(&fz_srv.lio, fz_accept_cb, fz_srv.lfd, EV_READ);
	ev_io_start(fz_srv.loop, &fz_srv.lio);
}

// fz_srv_reset hangs up every connection and forgets the input's state.
static void
fz_srv_reset(void)
{
	while (fz_srv.conns != NULL) {
		fz_conn_free(fz_srv.conns);
	}
	for (int i = 0; i < fz_srv.nreqs; i++) {
		free(fz_srv.reqs[i]->body);
		free(fz_srv.reqs[i]->out);
		free(fz_srv.reqs[i]);
	}
	for (int i = 0; i < fz_srv.nblobs; i++) {
		free(fz_srv.blobs[i].data);
	}
	fz_srv.nreqs       = 0;
	fz_srv.nblobs      = 0;
	fz_srv.nanswers    = 0;
	fz_srv.next_answer = 0;
}

static char fz_dir[256];

static int
fz_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *w)
{
	(void)st;
	(void)flag;
	(void)w;
	return (remove(path) != 0 && errno != ENOENT ? -1 : 0);
}

// fz_rm_tree removes this target's own scratch directory (made by
// mkdtemp), staying on its file system.
static void
fz_rm_tree(const char *path)
{
	if (strstr(path, "/psbfz-ctrd-") != NULL &&
	        nftw(path, fz_rm_cb, 8, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) !=
	                0) {
		fprintf(stderr, "ctrd_fuzz: could not remove %s\n", path);
	}
}

static void
fz_cleanup(void)
{
	fz_srv_reset();
	fz_rm_tree(fz_dir);
}

static void
fz_init(void)
{
	if (fz_srv.loop != NULL) {
		return;
	}
	// A private mount namespace, where there is one to have: whatever
	// the backend unmounts stays in it.
	if (unshare(CLONE_NEWNS) == 0) {
		(void)mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	}
	if (getenv("PSB_FUZZ_VERBOSE") == NULL) {
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

		psb_log_setup(PSB_LOG_ERROR, PSB_LOG_TEXT, fd >= 0 ? fd : 2);
	} else {
		psb_log_setup(PSB_LOG_DEBUG, PSB_LOG_TEXT, 2);
	}
	FZ_CHECK(snprintf(fz_dir, sizeof(fz_dir), "%s", fz_scratch("ctrd")) <
	         (int)sizeof(fz_dir));
	FZ_CHECK(snprintf(fz_srv.path, sizeof(fz_srv.path), "%s/c.sock",
	                 fz_dir) < (int)sizeof(fz_srv.path));
	fz_srv.loop = ev_loop_new(EVFLAG_AUTO);
	FZ_CHECK(fz_srv.loop != NULL);
	fz_srv.lfd = -1;
	fz_srv_listen();
	atexit(fz_cleanup);
}

// ---- the input
// --------------------------------------------------------------

// fz_subst writes blob i with its placeholders for blobs j > i replaced.
static void
fz_subst(int i, const uint8_t *p, size_t n)
{
	fz_blob_t *b   = &fz_srv.blobs[i];
	size_t     cap = n + 1;

	b->data = malloc(cap);
	FZ_CHECK(b->data != NULL);
	b->len = 0;
	for (size_t k = 0; k < n;) {
		char        rep[PSB_IMAGE_DIGEST_LEN + 1];
		const char *put = NULL;
		int         j;

		if (k + 4 <= n && p[k] == '@' &&
		        (p[k + 1] == 'D' || p[k + 1] == 'S') &&
		        p[k + 2] >= '0' && p[k + 2] <= '9' &&
		        p[k + 3] == '@' && (j = p[k + 2] - '0') > i &&
		        j < fz_srv.nblobs) {
			if (p[k + 1] == 'D') {
				put = fz_srv.blobs[j].digest;
			} else {
				snprintf(rep, sizeof(rep), "%zu",
				        fz_srv.blobs[j].len);
				put = rep;
			}
		}
		if (put != NULL) {
			size_t pl = strlen(put);

			cap += pl;
			b->data = realloc(b->data, cap);
			FZ_CHECK(b->data != NULL);
			memcpy(b->data + b->len, put, pl);
			b->len += pl;
			k += 4;
		} else {
			b->data[b->len++] = p[k++];
		}
	}
	memcpy(b->digest, "sha256:", 7);
	psb_sha256_hex(b->data, b->len, b->digest + 7);
}

// fz_parse splits the records after byte 0 into blobs and answers.
static void
fz_parse(const uint8_t *data, size_t size)
{
	fz_rec_t blobs[FZ_BLOBS];
	size_t   off = 1;

	while (off + 3 <= size) {
		fz_rec_t rec;
		size_t   len = data[off + 1] | (size_t)data[off + 2] << 8;

		rec.tag = data[off];
		off += 3;
		rec.n = len < size - off ? len : size - off;
		rec.p = data + off;
		off += rec.n;
		if ((rec.tag & 0x0f) == FZ_A_BLOB) {
			if (fz_srv.nblobs < FZ_BLOBS && rec.n <= FZ_BLOB_MAX) {
				blobs[fz_srv.nblobs++] = rec;
			}
		} else if (fz_srv.nanswers < FZ_ANSWERS) {
			fz_srv.answers[fz_srv.nanswers++] = rec;
		}
	}
	for (int i = fz_srv.nblobs - 1; i >= 0; i--) {
		fz_subst(i, blobs[i].p, blobs[i].n);
	}
}

// ---- driving the loop -----------------------------------------------------

static void
fz_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

// fz_run runs the loop until done(arg), or until the answers are used up
// and nothing happened for a few ticks, or for at most max_ms.
static void
fz_run(bool (*done)(void *), void *arg, unsigned max_ms, uint64_t *moves)
{
	ev_timer  tick;
	uint64_t  seen  = 0;
	int       quiet = 0;
	ev_tstamp end   = ev_time() + max_ms / 1000.0;

	ev_timer_init(&tick, fz_tick_cb, 0.001, 0.001);
	ev_timer_start(fz_srv.loop, &tick);
	while (!done(arg) && ev_time() < end) {
		ev_run(fz_srv.loop, EVRUN_ONCE);
		if (fz_srv.activity + *moves != seen) {
			seen  = fz_srv.activity + *moves;
			quiet = 0;
		} else if (fz_srv.next_answer >= fz_srv.nanswers &&
		           ++quiet > 5) {
			break;
		}
	}
	ev_timer_stop(fz_srv.loop, &tick);
}

// fz_drain lets the last writes and closes through.
static void
fz_drain(void)
{
	for (int i = 0; i < 8; i++) {
		ev_run(fz_srv.loop, EVRUN_NOWAIT);
	}
}

// ---- scenario 0: an image resolve
// -------------------------------------------

typedef struct fz_resolve {
	int          calls;
	psb_image_t *img;
	int          code;
	bool         inside;
	uint64_t     moves;
} fz_resolve_t;

static bool fz_in_call;

static void
fz_image_cb(void *arg, psb_image_t *img, const psb_error_t *err)
{
	fz_resolve_t *res = arg;

	res->calls++;
	res->inside = res->inside || fz_in_call;
	res->moves++;
	if (img != NULL) {
		FZ_CHECK(err == NULL);
		res->img = img;
		FZ_NOTE("resolved: chain %s\n", img->chain_id);
		return;
	}
	FZ_CHECK(err != NULL && err->msg != NULL);
	FZ_NOTE("resolve failed: %s\n", err->msg);
	res->code = err->code;
	FZ_CHECK(err->code == PSB_ESTATE || err->code == PSB_EUNAVAIL ||
	         err->code == PSB_ETIMEDOUT || err->code == PSB_ERUNTIME ||
	         err->code == PSB_ECANCELED);
}

static bool
fz_resolved(void *arg)
{
	return (((fz_resolve_t *)arg)->calls > 0);
}

static const char *const fz_arches[] = {
        "amd64", "arm/v7", "arm64/v8", "s390x"};

static void
fz_image_ok(const psb_image_t *img)
{
	FZ_CHECK(strcmp(img->name, "fz/pause:1") == 0);
	FZ_CHECK(fz_blob_find(img->target_digest) != NULL);
	FZ_CHECK(fz_blob_find(img->manifest_digest) != NULL);
	FZ_CHECK(fz_blob_find(img->config_digest) != NULL);
	FZ_CHECK(img->chain_id != NULL &&
	         strlen(img->chain_id) == PSB_IMAGE_DIGEST_LEN);
	FZ_CHECK(img->entrypoint != NULL && img->cmd != NULL &&
	         img->env != NULL);
	FZ_CHECK(img->labels != NULL && img->os != NULL && img->arch != NULL);
}

static void
fz_image(uint8_t flags)
{
	psb_grpc_opts_t  go  = {0};
	psb_image_opts_t io  = {0};
	fz_resolve_t     res = {0};
	psb_grpc_t      *g   = NULL;
	psb_error_t      err = PSB_ERROR_INIT;

	go.ns                  = "fz";
	go.default_deadline_ms = 2 * FZ_IMAGE_MS;
	go.max_msg_size        = (flags & 0x80) ? 64 : 0;
	FZ_CHECK(psb_grpc_open(fz_srv.loop, fz_srv.path, &go, &g, &err) == 0);
	io.loop        = fz_srv.loop;
	io.deadline_ms = FZ_IMAGE_MS;
	io.arch        = fz_arches[(flags >> 1) & 3];
	fz_in_call     = true;
	FZ_CHECK(psb_image_resolve(g, "fz/pause:1", &io, fz_image_cb, &res) ==
	         0);
	fz_in_call = false;
	fz_run(fz_resolved, &res, 2 * FZ_IMAGE_MS, &res.moves);
	psb_grpc_close(g); // completes a resolve still waiting: CANCELLED
	FZ_CHECK(res.calls == 1 && !res.inside);
	if (res.img != NULL) {
		fz_image_ok(res.img);
		psb_image_free(res.img);
	}
}

// ---- scenario 1: the containerd backend ------------------------------------

typedef struct fz_backend {
	bool     open, in_call;
	uint64_t moves;
	int      probed[2];   // probe outcomes per sandbox
	int      exits[2][4]; // TASK_EXIT per sandbox and generation
	int      deleted;     // outcomes of the delete of fz-b
	int      nsb;
} fz_backend_t;

static int
fz_sb_index(const char *id)
{
	return (strcmp(id, "fz-a") == 0   ? 0
	        : strcmp(id, "fz-b") == 0 ? 1
	                                  : -1);
}

static void
fz_sink_cb(void *arg, const psb_rt_event_t *ev)
{
	fz_backend_t *b = arg;
	int           i = fz_sb_index(ev->sandbox_id);

	b->moves++;
	FZ_NOTE("event %s %s gen %llu code %d %s\n", psb_event_name(ev->event),
	        ev->sandbox_id, (unsigned long long)ev->generation, ev->code,
	        ev->message != NULL ? ev->message : "");
	FZ_CHECK(b->open && !b->in_call);
	FZ_CHECK(i >= 0); // only about sandboxes it was told of
	switch (ev->event) {
	case PSB_EV_FOUND_RUNNING:
	case PSB_EV_FOUND_EXITED:
	case PSB_EV_FOUND_NOTHING:
		FZ_CHECK(i < b->nsb);
		FZ_CHECK(++b->probed[i] == 1);
		break;
	case PSB_EV_TASK_EXIT:
		FZ_CHECK(++b->exits[i][ev->generation & 3] == 1);
		break;
	case PSB_EV_DELETE_OK:
	case PSB_EV_DELETE_FAILED:
		FZ_CHECK(i == 1 && ++b->deleted == 1);
		break;
	default: break;
	}
}

static int
fz_record_cb(void *arg, const psb_rt_record_t *rec)
{
	(void)arg;
	(void)rec;
	return (PSB_ENOTSUP); // refused at once: done never runs
}

static bool
fz_never(void *arg)
{
	(void)arg;
	return (false);
}

static void
fz_backend(uint8_t flags)
{
	psb_rt_sandbox_t sbs[2];
	fz_backend_t     b   = {0};
	psb_runtime_t   *rt  = NULL;
	psb_error_t      err = PSB_ERROR_INIT;
	char             opts[1200];

	FZ_CHECK(
	        snprintf(opts, sizeof(opts),
	                "address=%s,namespace=fz,image=fz/"
	                "pause:1,sandbox_root=%s/"
	                "root,sandbox_state=%s/state,netns_dir=%s/netns,"
	                "cni_conf_dir=%s/cni,cni_bin_dirs=%s/bin,resync_ms=%d",
	                fz_srv.path, fz_dir, fz_dir, fz_dir, fz_dir, fz_dir,
	                (flags & 8) ? 5 : 0) < (int)sizeof(opts));
	b.nsb = ((flags >> 4) & 3) > 2 ? 2 : (flags >> 4) & 3;
	memset(sbs, 0, sizeof(sbs));
	sbs[0].id         = "fz-a";
	sbs[0].generation = 1;
	sbs[1].id         = "fz-b";
	sbs[1].generation = 2;
	FZ_CHECK(psb_runtime_open(
	                 "containerd", fz_srv.loop, opts, &rt, &err) == 0);
	psb_runtime_set_sink(rt, fz_sink_cb, &b);
	psb_runtime_set_recorder(rt, fz_record_cb, &b);
	b.open    = true;
	b.in_call = true;
	FZ_CHECK(psb_runtime_probe_all(rt, sbs, (size_t)b.nsb, &err) == 0);
	if (flags & 0x40) {
		FZ_CHECK(psb_runtime_kill(rt, &sbs[0], &err) == 0);
	}
	if (flags & 0x80) {
		FZ_CHECK(psb_runtime_delete(rt, &sbs[1], &err) == 0);
	}
	b.in_call = false;
	fz_run(fz_never, NULL, FZ_BACKEND_MS, &b.moves);
	b.in_call = true; // nothing may come from inside the close either
	psb_runtime_close(rt);
	b.open = false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0) {
		return (0);
	}
	fz_init();
	fz_parse(data, size);
	if ((data[0] & 1) == 0) {
		fz_image(data[0]);
	} else {
		fz_backend(data[0]);
	}
	fz_drain();
	fz_srv_reset();
	return (0);
}
