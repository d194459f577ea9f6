//
// podsandboxd - the wire contract, spoken without libpodsandbox and
// without protobuf-c: a raw nng REQ socket and protobuf bytes built by hand
// against the real daemon binary (scripted runtime, temporary directory).
//
// Going around both libraries is the point: a client in another language
// can put on the wire what protobuf-c never would (a NUL inside a string,
// map entries in any order, field number 0, an overlong tag), and the
// daemon's answer to those bytes is the contract, not what our own encoder
// happens to produce. The same goes for the other direction: a published
// Event is compared byte for byte with its replay from the journal.
//
// Each case collects its checks and reports every failed one before it
// fails, so one run shows the whole gap between the daemon and the
// contract, not just the first difference.
//
// Usage (ctest passes it): wire_test PATH/TO/podsandboxd
//
// Run as "wire_test --events-client URL STOPFD SAYFD WANT" this binary is
// the unprivileged subscriber of test_events_credentials (fork + setuid +
// exec, because nng's threads make a forked child without exec unsafe).
//

#include "tests/harness/testing.h"

#include <fcntl.h>
#include <grp.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"

// Request oneof field numbers (transport/proto/podsandbox.proto).
enum {
	M_CREATE   = 1,
	M_START    = 2,
	M_STOP     = 4,
	M_WAIT     = 5,
	M_STATUS   = 6,
	M_SHUTDOWN = 7,
	M_LIST     = 8,
	M_EVENTS   = 9,
	M_HISTORY  = 10,
	M_VERSION  = 11,
};

// Response result field numbers and the status codes the cases expect.
enum { R_STATUS = 7, R_LIST = 9, R_EVENTS = 10, R_VERSION = 12 };
enum {
	C_OK                 = 0,
	C_INVALID_ARGUMENT   = 3,
	C_NOT_FOUND          = 5,
	C_ALREADY_EXISTS     = 6,
	C_RESOURCE_EXHAUSTED = 8,
};

static const char *code_names[] = {"OK", "CANCELLED", "UNKNOWN",
        "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE",
        "DATA_LOSS", "UNAUTHENTICATED"};

static const char *daemon_bin;

static const char *
code_name(int code)
{
	return (code >= 0 && code <= 16 ? code_names[code] : "?");
}

static int
scaled(int ms)
{
	return (ms * (int)psb_test_timeout_multiplier());
}

// rv_str names an nng result for a message: 0 means an answer came.
static const char *
rv_str(int rv)
{
	return (rv == 0 ? "answered" : nng_strerror(rv));
}

// ---- checks that report every failure ----------------------------------

typedef struct checks {
	int n;
	int failed;
} checks_t;

static void check(checks_t *ck, bool ok, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void
check(checks_t *ck, bool ok, const char *fmt, ...)
{
	va_list ap;

	ck->n++;
	if (ok) {
		return;
	}
	ck->failed++;
	va_start(ap, fmt);
	fprintf(stderr, "  FAILED: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void
checks_done(const checks_t *ck)
{
	if (ck->failed > 0) {
		fail_msg("%d of %d checks failed (listed above)", ck->failed,
		        ck->n);
	}
}

// ---- a tiny protobuf encoder --------------------------------------------

// Strings are spans so that a NUL can sit inside one: S("a\0b") is 3
// bytes. A span with p == NULL is a field left out.
typedef struct span {
	const char *p;
	size_t      n;
} span_t;

#define S(lit) ((span_t) {(lit), sizeof(lit) - 1})
#define NOSPAN ((span_t) {NULL, 0})

typedef struct pb {
	uint8_t *b;
	size_t   len;
	size_t   cap;
} pb_t;

static void
pb_free(pb_t *pb)
{
	free(pb->b);
	memset(pb, 0, sizeof(*pb));
}

static void
pb_raw(pb_t *pb, const void *p, size_t n)
{
	if (pb->len + n > pb->cap) {
		pb->cap = (pb->len + n) * 2 + 64;
		assert_non_null(pb->b = realloc(pb->b, pb->cap));
	}
	if (n > 0) {
		memcpy(pb->b + pb->len, p, n);
	}
	pb->len += n;
}

static void
pb_varint(pb_t *pb, uint64_t v)
{
	do {
		uint8_t c = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));

		pb_raw(pb, &c, 1);
		v >>= 7;
	} while (v != 0);
}

// pb_uint writes a varint field. proto3 int32/int64 put a negative value
// on the wire as its 64-bit two's complement (ten bytes): callers cast.
static void
pb_uint(pb_t *pb, uint32_t num, uint64_t v)
{
	pb_varint(pb, (uint64_t)num << 3 | 0);
	pb_varint(pb, v);
}

static void
pb_bytes(pb_t *pb, uint32_t num, span_t s)
{
	if (s.p != NULL) {
		pb_varint(pb, (uint64_t)num << 3 | 2);
		pb_varint(pb, s.n);
		pb_raw(pb, s.p, s.n);
	}
}

// pb_msg appends sub as a nested message and frees it. An empty sub is
// still written unless opt: a oneof member must be present to be chosen.
static void
pb_msg(pb_t *pb, uint32_t num, pb_t *sub, bool opt)
{
	if (sub->len > 0 || !opt) {
		pb_bytes(pb, num,
		        (span_t) {sub->len ? (char *)sub->b : "", sub->len});
	}
	pb_free(sub);
}

// A map<string, string> entry is a nested {1: key, 2: value}; the order
// of the entries on the wire is the encoder's choice.
static void
pb_entry(pb_t *pb, uint32_t num, span_t k, span_t v)
{
	pb_t e = {0};

	pb_bytes(&e, 1, k);
	pb_bytes(&e, 2, v);
	pb_msg(pb, num, &e, false);
}

// ---- a tiny protobuf decoder --------------------------------------------

typedef struct pbf {
	uint32_t       num;
	uint64_t       v; // wire type 0: the value; 2: the length
	const uint8_t *b; // wire type 2: the bytes
} pbf_t;

typedef struct pbr {
	const uint8_t *p;
	const uint8_t *end;
} pbr_t;

static uint64_t
pbr_varint(pbr_t *r)
{
	uint64_t v = 0;

	for (int s = 0; s < 64 && r->p < r->end; s += 7) {
		v |= (uint64_t)(*r->p & 0x7f) << s;
		if ((*r->p++ & 0x80) == 0) {
			return (v);
		}
	}
	fail_msg("truncated varint in an answer");
	return (0);
}

// pbr_next reads one field into f: 1, or 0 at the end. The daemon's
// messages use only varints and length-delimited fields; anything else,
// or a truncated field, fails the test.
static int
pbr_next(pbr_t *r, pbf_t *f)
{
	uint64_t tag;

	if (r->p >= r->end) {
		return (0);
	}
	tag    = pbr_varint(r);
	f->num = (uint32_t)(tag >> 3);
	f->v   = pbr_varint(r);
	f->b   = NULL;
	assert_true((tag & 7) == 0 || (tag & 7) == 2);
	if ((tag & 7) == 2) {
		assert_true(f->v <= (uint64_t)(r->end - r->p));
		f->b = r->p;
		r->p += f->v;
	}
	return (1);
}

// pb_get finds the last field num of message (b, n), as proto3 reads a
// repeated singular field; false if it is absent.
static bool
pb_get(const uint8_t *b, size_t n, uint32_t num, pbf_t *out)
{
	pbr_t r     = {b, b + n};
	bool  found = false;
	pbf_t f;

	while (pbr_next(&r, &f)) {
		if (f.num == num) {
			*out  = f;
			found = true;
		}
	}
	return (found);
}

// pb_int returns varint field num (0 if absent), sign-extended as proto3
// int32/int64 are.
static int64_t
pb_int(const uint8_t *b, size_t n, uint32_t num)
{
	pbf_t f;

	return (pb_get(b, n, num, &f) ? (int64_t)f.v : 0);
}

static void
pb_str(const uint8_t *b, size_t n, uint32_t num, char *dst, size_t size)
{
	pbf_t f;

	dst[0] = '\0';
	if (pb_get(b, n, num, &f) && f.b != NULL) {
		snprintf(dst, size, "%.*s", (int)f.v, (const char *)f.b);
	}
}

typedef struct resp {
	int            code;
	char           msg[512];
	uint32_t       result; // field number of the oneof result, 0: none
	const uint8_t *res;    // its bytes, inside raw
	size_t         res_len;
	void          *raw;
	size_t         len;
} resp_t;

static void
resp_free(resp_t *r)
{
	if (r->raw != NULL) {
		nng_free(r->raw, r->len);
	}
	r->raw = NULL;
}

static void
resp_decode(resp_t *r)
{
	pbr_t rd = {r->raw, (const uint8_t *)r->raw + r->len};
	pbf_t f;

	while (pbr_next(&rd, &f)) {
		if (f.num == 1 && f.b != NULL) { // RpcStatus{code, message}
			r->code = (int)pb_int(f.b, f.v, 1);
			pb_str(f.b, f.v, 2, r->msg, sizeof(r->msg));
		} else if (f.b != NULL) {
			r->result  = f.num;
			r->res     = f.b;
			r->res_len = f.v;
		}
	}
}

typedef struct event {
	uint64_t seq;
	uint64_t generation;
	int32_t  exit_status;
	char     id[80];
	char     from[16];
	char     ev[24];
	char     to[16];
} event_t;

static void
event_decode(const uint8_t *b, size_t n, event_t *e)
{
	e->seq         = (uint64_t)pb_int(b, n, 1);
	e->exit_status = (int32_t)pb_int(b, n, 7);
	e->generation  = (uint64_t)pb_int(b, n, 8);
	pb_str(b, n, 2, e->id, sizeof(e->id));
	pb_str(b, n, 3, e->from, sizeof(e->from));
	pb_str(b, n, 4, e->ev, sizeof(e->ev));
	pb_str(b, n, 5, e->to, sizeof(e->to));
}

// The fields of ControllerStatus the cases look at.
typedef struct sbstat {
	char    id[80];
	char    state[16];
	int32_t exit_status;
} sbstat_t;

static void
sbstat_decode(const uint8_t *b, size_t n, sbstat_t *s)
{
	pb_str(b, n, 1, s->id, sizeof(s->id));
	pb_str(b, n, 3, s->state, sizeof(s->state));
	s->exit_status = (int32_t)pb_int(b, n, 9);
}

// ---- requests -----------------------------------------------------------

// The pod config of the cases: CRI's PodSandboxConfig subset, with every
// field the cases vary. A zero pod_t is the default config: name "web",
// labels a=1, b=2, c=3 and annotations x=1, y=2 (each used unless the
// case gives its own); a zero number or NOSPAN leaves a field out.
typedef struct pod {
	span_t  name;
	span_t  hostname;
	span_t  log_dir;
	span_t  labels[3][2];
	span_t  annotations[2][2];
	span_t  sysctl[2];
	int64_t memory;
	int64_t shares;
	bool    has_user;
	int64_t user;
	bool    has_group;
	int64_t group;
} pod_t;

static const span_t def_labels[3][2] = {
        {{"a", 1}, {"1", 1}}, {{"b", 1}, {"2", 1}}, {{"c", 1}, {"3", 1}}};
static const span_t def_annotations[2][2] = {
        {{"x", 1}, {"1", 1}}, {{"y", 1}, {"2", 1}}};

static void
pod_encode(pb_t *out, const pod_t *p)
{
	pb_t md = {0}, lx = {0}, sc = {0}, res = {0}, v = {0};
	const span_t(*lb)[2] = p->labels[0][0].p ? p->labels : def_labels;
	const span_t(*an)[2] =
	        p->annotations[0][0].p ? p->annotations : def_annotations;

	pb_bytes(&md, 1, p->name.p ? p->name : S("web"));
	pb_bytes(&md, 2, S("uid-1"));
	pb_bytes(&md, 3, S("default"));
	pb_uint(&md, 4, 1);
	pb_msg(out, 1, &md, false);
	pb_bytes(out, 2, p->hostname);
	pb_bytes(out, 3, p->log_dir);
	for (int i = 0; i < 3 && lb[i][0].p != NULL; i++) {
		pb_entry(out, 6, lb[i][0], lb[i][1]);
	}
	for (int i = 0; i < 2 && an[i][0].p != NULL; i++) {
		pb_entry(out, 7, an[i][0], an[i][1]);
	}
	if (p->has_user) {
		pb_uint(&v, 1, (uint64_t)p->user);
		pb_msg(&sc, 3, &v, false); // Int64Value run_as_user
	}
	if (p->has_group) {
		pb_varint(&v, (uint64_t)p->group);
		pb_msg(&sc, 5, &v, false); // packed supplemental_groups
	}
	pb_msg(&lx, 2, &sc, true);
	if (p->sysctl[0].p != NULL) {
		pb_entry(&lx, 3, p->sysctl[0], p->sysctl[1]);
	}
	if (p->shares != 0) {
		pb_uint(&res, 3, (uint64_t)p->shares);
	}
	if (p->memory != 0) {
		pb_uint(&res, 4, (uint64_t)p->memory);
	}
	pb_msg(&lx, 5, &res, true);
	pb_msg(out, 8, &lx, true);
}

static pb_t
req_create(span_t id, const pod_t *p, span_t handler)
{
	pb_t r = {0}, m = {0}, cfg = {0};

	pb_bytes(&m, 1, id);
	pod_encode(&cfg, p);
	pb_msg(&m, 2, &cfg, false);
	pb_bytes(&m, 3, handler);
	pb_msg(&r, M_CREATE, &m, false);
	return (r);
}

// req_id builds a request whose method message is {1: sandbox_id} plus,
// if f2 != 0, the varint field 2 (Stop's timeout_secs, Wait's
// timeout_ms).
static pb_t
req_id(uint32_t method, span_t id, uint64_t f2)
{
	pb_t r = {0}, m = {0};

	pb_bytes(&m, 1, id);
	if (f2 != 0) {
		pb_uint(&m, 2, f2);
	}
	pb_msg(&r, method, &m, false);
	return (r);
}

static pb_t
req_empty(uint32_t method)
{
	return (req_id(method, NOSPAN, 0));
}

// req_sized builds a Status request of exactly size bytes (its id is far
// too long, but the size limit is checked before anything is decoded).
static pb_t
req_sized(size_t size)
{
	pb_t   r = {0}, m = {0};
	size_t n = size;
	char  *id;

	assert_non_null(id = malloc(size));
	memset(id, 'a', size);
	do { // shorten the id until tags and lengths fit in size
		pb_free(&r);
		pb_bytes(&m, 1, (span_t) {id, n--});
		pb_msg(&r, M_STATUS, &m, false);
	} while (r.len > size);
	free(id);
	assert_int_equal(r.len, size);
	return (r);
}

// ---- the daemon ---------------------------------------------------------

typedef struct daemon {
	pid_t       pid;
	char        dir[512];
	char        api[600];
	char        events[600];
	char        ropts[1300]; // --runtime-options
	const char *max_msg;     // --max-message-bytes, or NULL
	const char *sock_mode;   // --socket-mode, or NULL
	const char *allow_uid;   // --allow-uid, or NULL
	nng_socket  req;         // the case's REQ socket
	int64_t     started;     // psb_mono_ms() of the last exec
} daemon_t;

// The running case's daemon, so that the teardown can kill it after a
// failed assertion has jumped out of the case.
static daemon_t *live;

// req_socket opens a REQ socket to url. Resending is off (a held request
// must not be sent twice, docs/api.md) and the dial is non-blocking: a
// request sent before the daemon listens goes out once it does. The short
// reconnect interval lets "answers Version" be seen within a few ms of the
// daemon listening: the recovery case measures from there.
// req_socket_blocking is req_socket with the dial finished before it
// returns, for a daemon known to be up. A REQ that dials non-blocking and
// sends at once, right after the daemon dropped another pipe, sometimes
// got no answer at all (4 of 30 runs of this test; 0 of 30 with this
// dial): an open question about nng's REQ with resend off, written down
// in the issue tracker, not a contract of the daemon this test checks.
// req_dial_blocking is req_socket_blocking that returns the dial's
// result instead of asserting it (*out is closed when it failed).
static int
req_dial_blocking(const char *url, int recv_ms, nng_socket *out)
{
	int rv;

	assert_int_equal(nng_req0_open(out), 0);
	assert_int_equal(nng_socket_set_ms(*out, NNG_OPT_REQ_RESENDTIME,
	                         NNG_DURATION_INFINITE),
	        0);
	assert_int_equal(
	        nng_socket_set_ms(*out, NNG_OPT_RECVTIMEO, recv_ms), 0);
	if ((rv = nng_dial(*out, url, NULL, 0)) != 0) {
		nng_close(*out);
	}
	return (rv);
}

static nng_socket
req_socket_blocking(const char *url, int recv_ms)
{
	nng_socket s;

	assert_int_equal(req_dial_blocking(url, recv_ms, &s), 0);
	return (s);
}

static nng_socket
req_socket(const char *url, int recv_ms)
{
	nng_socket s;

	assert_int_equal(nng_req0_open(&s), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME,
	                         NNG_DURATION_INFINITE),
	        0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, recv_ms), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 10), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 50), 0);
	assert_int_equal(nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK), 0);
	return (s);
}

// send_req sends req and frees it.
static int
send_req(nng_socket s, pb_t req)
{
	int rv = nng_send(s, req.b, req.len, 0);

	pb_free(&req);
	return (rv);
}

// recv_resp receives one Response into out (resp_free it); 0 or the nng
// error, e.g. NNG_ETIMEDOUT when no answer came.
static int
recv_resp(nng_socket s, resp_t *out)
{
	int rv;

	memset(out, 0, sizeof(*out));
	if ((rv = nng_recv(s, &out->raw, &out->len, NNG_FLAG_ALLOC)) == 0) {
		resp_decode(out);
	}
	return (rv);
}

static int
rpc(nng_socket s, pb_t req, resp_t *out)
{
	int rv = send_req(s, req);

	memset(out, 0, sizeof(*out));
	return (rv != 0 ? rv : recv_resp(s, out));
}

// must_ok is for the steps a case builds on: they have to succeed.
static void
must_ok(daemon_t *d, const char *what, pb_t req)
{
	resp_t r;
	int    rv = rpc(d->req, req, &r);

	if (rv != 0) {
		fail_msg("%s: no answer: %s", what, nng_strerror(rv));
	}
	if (r.code != C_OK) {
		fail_msg("%s: %s: %s", what, code_name(r.code), r.msg);
	}
	resp_free(&r);
}

// expect sends req and checks the answer's code and that its message
// names w1 and w2 (either may be NULL).
static void
expect(checks_t *ck, daemon_t *d, const char *what, pb_t req, int code,
        const char *w1, const char *w2)
{
	resp_t r;
	int    rv = rpc(d->req, req, &r);

	if (rv != 0) {
		check(ck, false, "%s: no answer (%s)", what, nng_strerror(rv));
		return;
	}
	check(ck,
	        r.code == code && (w1 == NULL || strstr(r.msg, w1)) &&
	                (w2 == NULL || strstr(r.msg, w2)),
	        "%s: got %s \"%s\", want %s mentioning \"%s\" and \"%s\"",
	        what, code_name(r.code), r.msg, code_name(code), w1 ? w1 : "",
	        w2 ? w2 : "");
	resp_free(&r);
}

// status_of answers the code of Status(id) and, when OK, its fields.
static int
status_of(daemon_t *d, span_t id, sbstat_t *st)
{
	resp_t r;
	int    code;

	assert_int_equal(rpc(d->req, req_id(M_STATUS, id, 0), &r), 0);
	memset(st, 0, sizeof(*st));
	if ((code = r.code) == C_OK && r.result == R_STATUS) {
		sbstat_decode(r.res, r.res_len, st);
	}
	resp_free(&r);
	return (code);
}

// daemon_start runs podsandboxd on d's directory and waits until it
// answers Version on d->req: polling bounded by a deadline, each round
// paced by the 200 ms receive timeout rather than by a sleep.
static void
daemon_start(daemon_t *d)
{
	char        log[700], db[700], run[700];
	int64_t     until    = psb_mono_ms() + scaled(10000);
	const char *argv[24] = {daemon_bin, "--runtime=scripted",
	        "--runtime-options", d->ropts, "--db", db, "--state-dir", run,
	        "--socket", d->api, "--events-socket", d->events,
	        "--log-level", "debug"};
	size_t      argc     = 14;
	resp_t      r;
	int         rv;
	const char *opt[][2] = {{"--max-message-bytes", d->max_msg},
	        {"--socket-mode", d->sock_mode},
	        {"--allow-uid", d->allow_uid}};

	for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
		if (opt[i][1] != NULL) {
			argv[argc++] = opt[i][0];
			argv[argc++] = opt[i][1];
		}
	}
	argv[argc] = NULL;

	snprintf(log, sizeof(log), "%s/daemon.log", d->dir);
	snprintf(db, sizeof(db), "%s/podsandboxd.db", d->dir);
	snprintf(run, sizeof(run), "%s/run", d->dir);
	d->started = psb_mono_ms();
	d->pid     = fork();
	assert_true(d->pid >= 0);
	if (d->pid == 0) {
		// Both streams to the log: ctest must not wait on a pipe that
		// a leftover daemon still holds.
		if (freopen(log, "a", stderr) != NULL) {
			dup2(STDERR_FILENO, STDOUT_FILENO);
		}
		execv(daemon_bin, (char *const *)argv);
		_exit(127);
	}
	if (nng_socket_id(d->req) > 0) {
		nng_close(d->req);
	}
	d->req = req_socket(d->api, 200);
	while ((rv = rpc(d->req, req_empty(M_VERSION), &r)) != 0) {
		assert_true(psb_mono_ms() < until);
		assert_int_equal(waitpid(d->pid, NULL, WNOHANG), 0);
		if (rv != NNG_ETIMEDOUT) {
			usleep(20000); // paces the polling only
		}
	}
	assert_int_equal(r.code, C_OK);
	assert_int_equal(r.result, R_VERSION);
	resp_free(&r);
	nng_socket_set_ms(d->req, NNG_OPT_RECVTIMEO, scaled(10000));
}

// daemon_alloc makes a case's daemon and its directory; the case may set
// options before daemon_start.
static daemon_t *
daemon_alloc(const char *name, const char *max_msg)
{
	daemon_t *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	live = d;
	snprintf(d->dir, sizeof(d->dir), "%s", psb_test_tmpdir(name));
	snprintf(d->api, sizeof(d->api), "ipc://%s/api.sock", d->dir);
	snprintf(d->events, sizeof(d->events), "ipc://%s/events.sock", d->dir);
	snprintf(d->ropts, sizeof(d->ropts), "world=%s/world.json", d->dir);
	d->max_msg = max_msg;
	return (d);
}

static daemon_t *
daemon_new(const char *name, const char *max_msg)
{
	daemon_t *d = daemon_alloc(name, max_msg);

	daemon_start(d);
	return (d);
}

// daemon_stop ends a case: whatever bytes it was sent, the daemon must
// still shut down cleanly on SIGTERM.
static void
daemon_stop(daemon_t *d)
{
	int status = 0;

	nng_close(d->req);
	kill(d->pid, SIGTERM);
	waitpid(d->pid, &status, 0);
	live = NULL;
	free(d);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

// The unprivileged subscriber of test_events_credentials while it runs:
// the teardown kills it after a failed assertion.
typedef struct nobody {
	pid_t pid;
	int   stop; // write end: closing it tells the child to finish
	int   say;  // read end: what the child reports ('D', 'E')
} nobody_t;

static nobody_t nobody = {0, -1, -1};

static int
reap(void **state)
{
	if (nobody.pid > 0) {
		kill(nobody.pid, SIGKILL);
		waitpid(nobody.pid, NULL, 0);
		nobody.pid = 0;
	}
	for (int *fd = &nobody.stop; fd <= &nobody.say; fd++) {
		if (*fd >= 0) {
			close(*fd);
			*fd = -1;
		}
	}
	if (live != NULL) {
		if (nng_socket_id(live->req) > 0) {
			nng_close(live->req);
		}
		if (live->pid > 0) {
			kill(live->pid, SIGKILL);
			waitpid(live->pid, NULL, 0);
		}
		free(live);
		live = NULL;
	}
	return (0);
}

static void
create_ok(daemon_t *d, const char *id)
{
	pod_t p = {0};

	must_ok(d, id, req_create((span_t) {id, strlen(id)}, &p, NOSPAN));
}

// A Create whose answer a case checks.
typedef struct create_case {
	const char *what;
	const char *id;
	pod_t       pod;
	span_t      handler;
	int         code;
	const char *w1; // words the message must contain (or NULL)
	const char *w2;
} create_case_t;

static void
expect_creates(checks_t *ck, daemon_t *d, const create_case_t *cs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		expect(ck, d, cs[i].what,
		        req_create((span_t) {cs[i].id, strlen(cs[i].id)},
		                &cs[i].pod, cs[i].handler),
		        cs[i].code, cs[i].w1, cs[i].w2);
	}
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

// ---- the cases ----------------------------------------------------------

// protobuf-c ends a C string at the first NUL: "acc-victim\0x" used to
// reach the controller as "acc-victim", so a Shutdown of that id removed
// another sandbox. Every string that names something must refuse a NUL.
static void
test_nul_in_strings(void **state)
{
	daemon_t *d   = daemon_new("wire-nul", NULL);
	checks_t  ck  = {0};
	span_t    nul = S("acc-victim\0x");
	sbstat_t  st;
	char      what[64];
	static const struct {
		uint32_t    method;
		const char *name;
		uint64_t    f2; // Wait gets a timeout so that it cannot hang
	} ms[] = {{M_STATUS, "status", 0}, {M_STOP, "stop", 5},
	        {M_SHUTDOWN, "shutdown", 0}, {M_WAIT, "wait", 500},
	        {M_HISTORY, "history", 0}, {M_START, "start", 0}};
	const pod_t         def  = {0};
	const create_case_t cs[] = {
	        {"label value with NUL", "nul-1",
	                {.labels = {{S("a"), S("ng\0inx")}}}, NOSPAN,
	                C_INVALID_ARGUMENT, "labels", "NUL"},
	        {"label key with NUL", "nul-2",
	                {.labels = {{S("a\0b"), S("1")}}}, NOSPAN,
	                C_INVALID_ARGUMENT, "labels", "NUL"},
	        {"metadata.name with NUL", "nul-3", {.name = S("web\0x")},
	                NOSPAN, C_INVALID_ARGUMENT, "name", "NUL"},
	        {"runtime_handler with NUL", "nul-4", {0}, S("runc\0x"),
	                C_INVALID_ARGUMENT, "runtime_handler", "NUL"},
	};

	create_ok(d, "acc-victim");
	for (size_t i = 0; i < NELEM(ms); i++) {
		snprintf(what, sizeof(what), "%s of \"acc-victim\\0x\"",
		        ms[i].name);
		expect(&ck, d, what, req_id(ms[i].method, nul, ms[i].f2),
		        C_INVALID_ARGUMENT, "sandbox_id", "NUL");
	}
	expect(&ck, d, "create of \"acc-victim\\0x\"",
	        req_create(nul, &def, NOSPAN), C_INVALID_ARGUMENT,
	        "sandbox_id", "NUL");
	check(&ck, status_of(d, S("acc-victim"), &st) == C_OK,
	        "acc-victim is gone after the NUL-id requests");
	check(&ck, strcmp(st.state, "CREATED") == 0,
	        "acc-victim is \"%s\", want CREATED (untouched)", st.state);
	expect_creates(&ck, d, cs, NELEM(cs));
	daemon_stop(d);
	checks_done(&ck);
}

// A map is a set of entries: encoders (Go's, for one) emit them in any
// order, so a retried Create from such a client is still "the same
// config".
static void
test_create_map_order(void **state)
{
	daemon_t           *d    = daemon_new("wire-maporder", NULL);
	checks_t            ck   = {0};
	const create_case_t cs[] = {
	        {"create (labels a, b, c)", "idem-1", {0}, NOSPAN, C_OK, NULL,
	                NULL},
	        {"same create, labels c, a, b", "idem-1",
	                {.labels = {{S("c"), S("3")}, {S("a"), S("1")},
	                         {S("b"), S("2")}}},
	                NOSPAN, C_OK, NULL, NULL},
	        {"same create, annotations y, x", "idem-1",
	                {.annotations = {{S("y"), S("2")}, {S("x"), S("1")}}},
	                NOSPAN, C_OK, NULL, NULL},
	        {"create with label b=20", "idem-1",
	                {.labels = {{S("a"), S("1")}, {S("b"), S("20")},
	                         {S("c"), S("3")}}},
	                NOSPAN, C_ALREADY_EXISTS, NULL, NULL},
	};

	expect_creates(&ck, d, cs, NELEM(cs));
	daemon_stop(d);
	checks_done(&ck);
}

#define MAXPUB 64

typedef struct pubmsg {
	event_t ev;
	void   *b;
	size_t  n;
} pubmsg_t;

// sub_recv receives one PUB message (or times out) into pub[*n].
static void
sub_recv(nng_socket sub, pubmsg_t *pub, size_t *n)
{
	void  *b;
	size_t len;

	if (nng_recv(sub, &b, &len, NNG_FLAG_ALLOC) == 0) {
		assert_true(*n < MAXPUB);
		event_decode(b, len, &pub[*n].ev);
		pub[*n].b     = b;
		pub[(*n)++].n = len;
	}
}

static int
count_of(const pubmsg_t *pub, size_t n, const char *id, const char *to)
{
	int c = 0;

	for (size_t i = 0; i < n; i++) {
		c += strcmp(pub[i].ev.id, id) == 0 &&
		     (to == NULL || strcmp(pub[i].ev.to, to) == 0);
	}
	return (c);
}

static void
describe(char *buf, size_t size, const event_t *e)
{
	snprintf(buf, size, "seq %llu %s %s --%s--> %s exit %d gen %llu",
	        (unsigned long long)e->seq, e->id, e->from, e->ev, e->to,
	        e->exit_status, (unsigned long long)e->generation);
}

// A subscriber that fills a gap from Events(since) must get the very same
// messages: the replay is the journal row, the PUB message what the
// controller had in hand, and the two must not drift apart.
static void
test_events_match_replay(void **state)
{
	daemon_t  *d  = daemon_new("wire-events", NULL);
	checks_t   ck = {0};
	pubmsg_t   pub[MAXPUB];
	size_t     npub = 0;
	nng_socket sub;
	resp_t     r;
	pbf_t      f;
	int64_t    until;
	int        matched = 0;
	char       a[160], b[160];

	assert_int_equal(nng_sub0_open(&sub), 0);
	assert_int_equal(nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "", 0), 0);
	assert_int_equal(nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 200), 0);
	assert_int_equal(nng_dial(sub, d->events, NULL, 0), 0);
	// A finished dial does not prove that the daemon's PUB side has
	// attached the pipe, and PUB drops what it sends before that: create
	// throwaway sandboxes until one's CREATED arrives.
	for (int i = 0; npub == 0; i++) {
		char id[32];

		assert_true(i < 50);
		snprintf(id, sizeof(id), "warm-%d", i);
		create_ok(d, id);
		sub_recv(sub, pub, &npub);
	}
	create_ok(d, "ev-a");
	must_ok(d, "start ev-a", req_id(M_START, S("ev-a"), 0));
	must_ok(d, "stop ev-a", req_id(M_STOP, S("ev-a"), 5));
	must_ok(d, "shutdown ev-a", req_id(M_SHUTDOWN, S("ev-a"), 0));
	create_ok(d, "ev-b");
	must_ok(d, "shutdown ev-b", req_id(M_SHUTDOWN, S("ev-b"), 0));
	// Both sandboxes end in a transition to NONE; wait for those.
	until = psb_mono_ms() + scaled(5000);
	while ((count_of(pub, npub, "ev-a", "NONE") == 0 ||
	               count_of(pub, npub, "ev-b", "NONE") == 0) &&
	        psb_mono_ms() < until) {
		sub_recv(sub, pub, &npub);
	}
	nng_close(sub);
	// CREATED, STARTING, READY, STOPPING, EXITED, DELETING, NONE; and
	// for the never-started one CREATED, DELETING, NONE.
	check(&ck, count_of(pub, npub, "ev-a", NULL) == 7,
	        "ev-a: %d events published, want 7",
	        count_of(pub, npub, "ev-a", NULL));
	check(&ck, count_of(pub, npub, "ev-b", NULL) == 3,
	        "ev-b: %d events published, want 3",
	        count_of(pub, npub, "ev-b", NULL));

	assert_int_equal(rpc(d->req, req_empty(M_EVENTS), &r), 0);
	assert_int_equal(r.code, C_OK);
	assert_int_equal(r.result, R_EVENTS);
	for (pbr_t rd = {r.res, r.res + r.res_len}; pbr_next(&rd, &f);) {
		event_t e;

		if (f.num != 1 || f.b == NULL) {
			continue; // oldest_seq, newest_seq, ...
		}
		event_decode(f.b, f.v, &e);
		for (size_t i = 0; i < npub; i++) {
			if (pub[i].ev.seq != e.seq) {
				continue;
			}
			matched++;
			describe(a, sizeof(a), &pub[i].ev);
			describe(b, sizeof(b), &e);
			check(&ck,
			        pub[i].n == f.v &&
			                memcmp(pub[i].b, f.b, f.v) == 0,
			        "seq %llu differs: published [%s] (%zu "
			        "bytes), "
			        "replayed [%s] (%zu bytes)",
			        (unsigned long long)e.seq, a, pub[i].n, b,
			        (size_t)f.v);
		}
	}
	check(&ck, matched == (int)npub,
	        "%d of %zu published events found in the replay", matched,
	        npub);
	resp_free(&r);
	for (size_t i = 0; i < npub; i++) {
		nng_free(pub[i].b, pub[i].n);
	}
	daemon_stop(d);
	checks_done(&ck);
}

// Values that would reach the OCI spec, the kernel or a path: each refused
// up front with the field named, rather than failing later in a Start.
static void
test_invalid_fields(void **state)
{
	daemon_t     *d  = daemon_new("wire-fields", NULL);
	checks_t      ck = {0};
	char          host[301];
	const int     bad  = C_INVALID_ARGUMENT;
	create_case_t cs[] = {
	        {"sysctl net/../../x", "bad-1",
	                {.sysctl = {S("net/../../x"), S("1")}}, NOSPAN, bad,
	                "sysctls", NULL},
	        {"sysctl \"kernel.shm max\"", "bad-2",
	                {.sysctl = {S("kernel.shm max"), S("1")}}, NOSPAN, bad,
	                "sysctls", NULL},
	        {"memory_limit_in_bytes -1", "bad-3", {.memory = -1}, NOSPAN,
	                bad, "memory_limit_in_bytes", NULL},
	        {"cpu_shares -1", "bad-4", {.shares = -1}, NOSPAN, bad,
	                "cpu_shares", NULL},
	        {"run_as_user -1", "bad-5", {.has_user = true, .user = -1},
	                NOSPAN, bad, "run_as_user", NULL},
	        {"supplemental_groups [-5]", "bad-6",
	                {.has_group = true, .group = -5}, NOSPAN, bad,
	                "supplemental_groups", NULL},
	        {"300-character hostname", "bad-7", {.hostname = {host, 300}},
	                NOSPAN, bad, "hostname", NULL},
	        {"log_directory relative/logs", "bad-8",
	                {.log_dir = S("relative/logs")}, NOSPAN, bad,
	                "log_directory", NULL},
	        // The control: the same fields with sane values.
	        {"valid config", "good-1",
	                {.sysctl          = {S("net.ipv4.ip_forward"), S("1")},
	                        .memory   = 1024LL * 1024 * 1024,
	                        .hostname = S("web-1"),
	                        .log_dir  = S("/var/log/pods/x")},
	                NOSPAN, C_OK, NULL, NULL},
	};

	memset(host, 'h', 300);
	host[300] = '\0';
	expect_creates(&ck, d, cs, NELEM(cs));
	daemon_stop(d);
	checks_done(&ck);
}

// field0_then_status prefixes a valid Status request with the bytes of a
// field numbered 0.
static pb_t
field0_then_status(const char *field0, size_t n)
{
	pb_t req = {0};
	pb_t st  = req_id(M_STATUS, S("fz-1"), 0);

	pb_raw(&req, field0, n);
	pb_raw(&req, st.b, st.len);
	pb_free(&st);
	return (req);
}

// Field number 0 is reserved: protobuf-c skips it as an unknown field,
// and behind an overlong two-byte tag it even survived decoding once
// (tests/fuzz/corpus/codec/regress-unknown-field-zero).
static void
test_field_zero(void **state)
{
	daemon_t *d  = daemon_new("wire-field0", NULL);
	checks_t  ck = {0};

	create_ok(d, "fz-1");
	expect(&ck, d, "field 0 (two-byte tag 82 00) + status",
	        field0_then_status("\x82\x00\x01\x78", 4), C_INVALID_ARGUMENT,
	        NULL, NULL);
	expect(&ck, d, "field 0 (one-byte tag 02) + status",
	        field0_then_status("\x02\x01\x78", 3), C_INVALID_ARGUMENT,
	        NULL, NULL);
	expect(&ck, d, "status alone", req_id(M_STATUS, S("fz-1"), 0), C_OK,
	        NULL, NULL);
	daemon_stop(d);
	checks_done(&ck);
}

static int pipes_removed;
static int pipes_readded;

static void
pipe_removed_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	__atomic_add_fetch(&pipes_removed, 1, __ATOMIC_SEQ_CST);
}

// pipe_added_cb counts the pipes the dialer brings up again after the drop.
static void
pipe_added_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	if (__atomic_load_n(&pipes_removed, __ATOMIC_SEQ_CST) > 0) {
		__atomic_add_fetch(&pipes_readded, 1, __ATOMIC_SEQ_CST);
	}
}

// wait_counter polls *counter (bounded) until it is non-zero.
static bool
wait_counter(int *counter, int ms)
{
	int64_t until = psb_mono_ms() + scaled(ms);

	while (__atomic_load_n(counter, __ATOMIC_SEQ_CST) == 0 &&
	        psb_mono_ms() < until) {
		usleep(10000); // bounded polling of a pipe callback's counter
	}
	return (__atomic_load_n(counter, __ATOMIC_SEQ_CST) > 0);
}

// Between the cap and 4 x the cap the daemon reads the request and says
// why it refuses it; beyond that nng itself drops the connection (server.c)
// and no answer comes. What the client's receive then reports is nng's
// doing, not the daemon's: with resending off (as docs/api.md requires)
// nng 1.5's REQ fails it at once with NNG_ECONNRESET when the pipe that
// carried the request closes; otherwise the receive timeout would end it
// (NNG_ETIMEDOUT). Both mean "no reply"; the drop itself is checked with a
// pipe-removal callback. The dialer then redials; the socket is closed only
// once that pipe is up, since nng 1.5 leaks a pipe when a socket is closed
// while its dialer is still connecting.
static void
test_size_limits(void **state)
{
	daemon_t  *d  = daemon_new("wire-size", "4096");
	checks_t   ck = {0};
	nng_socket s  = req_socket(d->api, 1000);
	resp_t     r;
	int        rv;

	expect(&ck, d, "5000-byte request", req_sized(5000),
	        C_RESOURCE_EXHAUSTED, NULL, NULL);
	assert_int_equal(nng_pipe_notify(s, NNG_PIPE_EV_REM_POST,
	                         pipe_removed_cb, NULL),
	        0);
	assert_int_equal(
	        nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, pipe_added_cb, NULL),
	        0);
	rv = rpc(s, req_sized(20000), &r);
	check(&ck, rv == NNG_ECONNRESET || rv == NNG_ETIMEDOUT,
	        "20000-byte request: %s (code %s), want no answer", rv_str(rv),
	        rv ? "-" : code_name(r.code));
	if (rv == 0) {
		resp_free(&r);
	}
	check(&ck, wait_counter(&pipes_removed, 2000),
	        "20000-byte request: the connection was not dropped");
	check(&ck, wait_counter(&pipes_readded, 2000),
	        "the dialer did not connect again after the drop");
	nng_close(s);
	// A fresh connection is served as if nothing had happened.
	s  = req_socket_blocking(d->api, scaled(5000));
	rv = rpc(s, req_empty(M_VERSION), &r);
	check(&ck, rv == 0 && r.code == C_OK,
	        "version on a fresh socket: %s %s", rv_str(rv),
	        rv ? "" : code_name(r.code));
	if (rv == 0) {
		resp_free(&r);
	}
	nng_close(s);
	daemon_stop(d);
	checks_done(&ck);
}

static void
test_not_found(void **state)
{
	daemon_t *d  = daemon_new("wire-notfound", NULL);
	checks_t  ck = {0};

	expect(&ck, d, "history of a never-created id",
	        req_id(M_HISTORY, S("never-was"), 0), C_NOT_FOUND, NULL, NULL);
	create_ok(d, "gone-1");
	must_ok(d, "shutdown gone-1", req_id(M_SHUTDOWN, S("gone-1"), 0));
	expect(&ck, d, "wait on a removed id",
	        req_id(M_WAIT, S("gone-1"), 2000), C_NOT_FOUND, NULL, NULL);
	expect(&ck, d, "status of a removed id",
	        req_id(M_STATUS, S("gone-1"), 0), C_NOT_FOUND, NULL, NULL);
	daemon_stop(d);
	checks_done(&ck);
}

// nng issue #1518: clients that leave before the SP handshake is over
// (here 2000 plain connect()+close() on the API socket) leave nng 1.5's
// listener answering nothing more. The daemon's listener watchdog
// (transport/watchdog.c) must notice and listen again: a fresh client is
// answered within the watchdog's two missed probes.
static void
test_listener_heals(void **state)
{
	daemon_t          *d  = daemon_new("wire-heal", NULL);
	checks_t           ck = {0};
	struct sockaddr_un sun;
	int64_t            until;
	bool               answered  = false;
	int                connected = 0;
	int                rv;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", d->api + 6);
	for (int i = 0; i < 2000; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		assert_true(fd >= 0);
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			connected++;
		}
		close(fd);
	}
	check(&ck, connected > 1000, "only %d of 2000 connects went through",
	        connected);
	// Two missed probes of up to 3 s each, a second apart, then the
	// restart: ~8 s; more on a slow (sanitizer) build.
	until = psb_mono_ms() + scaled(30000);
	while (!answered && psb_mono_ms() < until) {
		nng_socket s;
		resp_t     r;

		// While the listener is broken its backlog fills: a dial may
		// fail (NNG_EAGAIN) as well as a request go unanswered.
		if (req_dial_blocking(d->api, 1000, &s) != 0) {
			usleep(100000); // bounded by until
			continue;
		}
		rv = rpc(s, req_empty(M_VERSION), &r);
		if (rv == 0) {
			answered = r.code == C_OK;
			resp_free(&r);
		}
		nng_close(s);
	}
	check(&ck, answered,
	        "version after 2000 aborted connections: no answer in 30 s");
	// Not daemon_stop: the broken listener and its stuck pipes can never
	// be freed inside nng, and LeakSanitizer would fail the clean exit
	// for nng's bug. The teardown (reap) kills the daemon.
	checks_done(&ck);
}

// After kill -9 the committed READY is only a memory: the pause may have
// died meanwhile. Until the runtime has been asked, READY would be a guess,
// so Status and List wait for the sandbox's first probe (which the
// scripted runtime's probe_delay_ms makes late on purpose).
static void
test_recovery_answers(void **state)
{
	daemon_t  *d  = daemon_new("wire-recovery", NULL);
	checks_t   ck = {0};
	sbstat_t   st;
	resp_t     r;
	nng_socket s2;
	pbf_t      f;
	int64_t    ready, held;
	int        rv;
	bool       listed = false;
	int        status = 0;

	create_ok(d, "rec-1");
	must_ok(d, "start rec-1", req_id(M_START, S("rec-1"), 0));
	assert_int_equal(status_of(d, S("rec-1"), &st), C_OK);
	assert_string_equal(st.state, "READY");
	kill(d->pid, SIGKILL);
	waitpid(d->pid, &status, 0);
	assert_true(WIFSIGNALED(status));
	// Same database, a new and empty world: the pause is gone.
	snprintf(d->ropts, sizeof(d->ropts),
	        "world=%s/world-new.json,probe_delay_ms=800", d->dir);
	daemon_start(d);
	ready = psb_mono_ms() - d->started;
	nng_socket_set_ms(d->req, NNG_OPT_RECVTIMEO, 5000);
	assert_int_equal(send_req(d->req, req_id(M_STATUS, S("rec-1"), 0)), 0);
	s2 = req_socket(d->api, 5000);
	assert_int_equal(send_req(s2, req_empty(M_LIST)), 0);

	rv   = recv_resp(d->req, &r);
	held = psb_mono_ms() - d->started;
	print_message("restart: Version answered after %lld ms, Status after "
	              "%lld ms\n",
	        (long long)ready, (long long)held);
	memset(&st, 0, sizeof(st));
	if (rv == 0 && r.result == R_STATUS) {
		sbstat_decode(r.res, r.res_len, &st);
	}
	check(&ck,
	        rv == 0 && r.code == C_OK && strcmp(st.state, "EXITED") == 0 &&
	                st.exit_status == 255,
	        "status after restart: %s %s \"%s\" state \"%s\" exit %d, "
	        "want OK EXITED 255",
	        rv_str(rv), code_name(r.code), r.msg, st.state,
	        st.exit_status);
	check(&ck, rv == 0 && held >= 500 && held <= 5000,
	        "status after restart answered %lld ms after the exec, want "
	        "500-5000 (held until the probe)",
	        (long long)held);
	resp_free(&r);

	rv = recv_resp(s2, &r);
	check(&ck, rv == 0 && r.code == C_OK && r.result == R_LIST,
	        "list after restart: %s %s \"%s\"", rv_str(rv),
	        code_name(r.code), r.msg);
	if (rv == 0 && r.result == R_LIST) {
		for (pbr_t rd = {r.res, r.res + r.res_len};
		        pbr_next(&rd, &f);) {
			if (f.num != 1 || f.b == NULL) {
				continue;
			}
			sbstat_decode(f.b, f.v, &st);
			if (strcmp(st.id, "rec-1") == 0) {
				listed = true;
				check(&ck, strcmp(st.state, "EXITED") == 0,
				        "list after restart: rec-1 is \"%s\", "
				        "want EXITED",
				        st.state);
			}
		}
	}
	check(&ck, listed, "list after restart lacks rec-1");
	resp_free(&r);
	nng_close(s2);
	daemon_stop(d);
	checks_done(&ck);
}

// ---- events: peer credentials ----------------------------------------

#define NOBODY 65534

// events_client is the child (uid/gid 65534): it subscribes to url,
// writes 'D' to say once dialled and 'E' on its first event, and receives
// until the parent closes stop (or its own deadline passes). want 0: no
// event may come, and the daemon must have closed its pipe (the dialer
// dials again, and is closed again); want 1: an event must come. The
// answer is its exit status, with the reason on stderr.
static int
events_client(const char *url, int stop, int say, int want)
{
	struct pollfd pfd   = {stop, POLLIN, 0};
	int64_t       until = psb_mono_ms() + scaled(30000);
	nng_socket    s;
	int           got = 0;
	int           rv;

	if ((rv = nng_sub0_open(&s)) != 0 ||
	        (rv = nng_socket_set(s, NNG_OPT_SUB_SUBSCRIBE, "", 0)) != 0 ||
	        (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 100)) != 0 ||
	        (rv = nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, pipe_removed_cb,
	                 NULL)) != 0 ||
	        (rv = nng_dial(s, url, NULL, 0)) != 0) {
		// The dial succeeds even when refused: the daemon closes the
		// pipe only after the handshake.
		fprintf(stderr, "events client (uid %u): %s\n",
		        (unsigned)getuid(), nng_strerror(rv));
		return (2);
	}
	if (write(say, "D", 1) != 1) {
		return (2);
	}
	while (poll(&pfd, 1, 0) == 0) { // stop open: nothing readable
		void  *b;
		size_t n;

		if (psb_mono_ms() >= until) {
			fprintf(stderr, "events client: never told to stop\n");
			return (3);
		}
		if (nng_recv(s, &b, &n, NNG_FLAG_ALLOC) == 0) {
			nng_free(b, n);
			if (got++ == 0 && write(say, "E", 1) != 1) {
				return (2);
			}
		}
	}
	if (want) {
		if (got == 0) {
			fprintf(stderr,
			        "events client: uid %u allowed, but "
			        "received no event\n",
			        (unsigned)getuid());
		}
		return (got > 0 ? 0 : 1);
	}
	if (got > 0) {
		fprintf(stderr, "events client: uid %u received %d events\n",
		        (unsigned)getuid(), got);
		return (1);
	}
	if (!wait_counter(&pipes_removed, 2000)) {
		fprintf(stderr,
		        "events client: uid %u got no event, but the "
		        "daemon never closed its pipe\n",
		        (unsigned)getuid());
		return (1);
	}
	return (0);
}

// nobody_start runs this binary as a uid/gid 65534 subscriber to url.
static void
nobody_start(const char *url, int want)
{
	int  stop[2], say[2];
	char stops[16], says[16], wants[16];

	assert_int_equal(pipe2(stop, O_CLOEXEC), 0);
	assert_int_equal(pipe2(say, O_CLOEXEC), 0);
	snprintf(stops, sizeof(stops), "%d", stop[0]);
	snprintf(says, sizeof(says), "%d", say[1]);
	snprintf(wants, sizeof(wants), "%d", want);
	nobody.pid = fork();
	assert_true(nobody.pid >= 0);
	if (nobody.pid == 0) {
		if (fcntl(stop[0], F_SETFD, 0) != 0 ||
		        fcntl(say[1], F_SETFD, 0) != 0 ||
		        setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 ||
		        setuid(NOBODY) != 0) {
			_exit(3);
		}
		execl("/proc/self/exe", "wire_test", "--events-client", url,
		        stops, says, wants, (char *)NULL);
		_exit(4);
	}
	close(stop[0]);
	close(say[1]);
	nobody.stop = stop[1];
	nobody.say  = say[0];
}

// nobody_said is true once the child wrote c within ms (false if it
// wrote something else first, or exited).
static bool
nobody_said(char c, int ms)
{
	struct pollfd pfd   = {nobody.say, POLLIN, 0};
	int64_t       until = psb_mono_ms() + scaled(ms);
	int64_t       left;
	char          got;

	while ((left = until - psb_mono_ms()) > 0) {
		if (poll(&pfd, 1, (int)left) == 1) {
			return (read(nobody.say, &got, 1) == 1 && got == c);
		}
	}
	return (false);
}

// nobody_end tells the child to finish and answers its exit status
// (-1: it did not exit in time, and was killed).
static int
nobody_end(void)
{
	int64_t until  = psb_mono_ms() + scaled(10000);
	int     status = -1;

	close(nobody.stop);
	nobody.stop = -1;
	while (waitpid(nobody.pid, &status, WNOHANG) == 0) {
		if (psb_mono_ms() >= until) {
			kill(nobody.pid, SIGKILL);
			waitpid(nobody.pid, NULL, 0);
			status = -1;
			break;
		}
		usleep(10000); // bounded polling of the child's exit
	}
	nobody.pid = 0;
	close(nobody.say);
	nobody.say = -1;
	return (status);
}

// exit_code answers a child's exit code, or -1 if it did not exit.
static int
exit_code(int status)
{
	return (status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

// file_has is true if a line of the file at path contains needle.
static bool
file_has(const char *path, const char *needle)
{
	FILE  *fp    = fopen(path, "r");
	char  *line  = NULL;
	size_t cap   = 0;
	bool   found = false;

	if (fp == NULL) {
		return (false);
	}
	while (!found && getline(&line, &cap, fp) != -1) {
		found = strstr(line, needle) != NULL;
	}
	free(line);
	fclose(fp);
	return (found);
}

// Issue 8, defect 4: with a world-connectable events socket, uid 65534
// received every event while its API requests were refused. The daemon
// checks a subscriber's peer credentials when its pipe connects (the API's
// allow-list) and closes a refused pipe, so nobody gets nothing while a
// root subscriber gets it all; with --allow-uid 65534, nobody gets events.
static void
test_events_credentials(void **state)
{
	daemon_t  *d;
	checks_t   ck = {0};
	pubmsg_t   pub[MAXPUB];
	size_t     npub = 0;
	nng_socket sub;
	int64_t    until;
	int        status = 0;
	bool       got    = false;
	char       path[600], id[32];

	if (geteuid() != 0) {
		skip(); // setuid to 65534 needs root
	}
	d            = daemon_alloc("wire-evcred", NULL);
	d->sock_mode = "0666";
	// mkdtemp made the directory 0700: let uid 65534 reach the sockets.
	assert_int_equal(chmod(d->dir, 0755), 0);
	daemon_start(d);

	nobody_start(d->events, 0);
	assert_true(nobody_said('D', 10000));
	// A root subscriber, dialled after nobody's, warms up (as in
	// test_events_match_replay) and then gets every event of cred-1;
	// nobody is subscribed all along.
	assert_int_equal(nng_sub0_open(&sub), 0);
	assert_int_equal(nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "", 0), 0);
	assert_int_equal(nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 200), 0);
	assert_int_equal(nng_dial(sub, d->events, NULL, 0), 0);
	for (int i = 0; npub == 0; i++) {
		assert_true(i < 50);
		snprintf(id, sizeof(id), "warm-%d", i);
		create_ok(d, id);
		sub_recv(sub, pub, &npub);
	}
	create_ok(d, "cred-1");
	must_ok(d, "start cred-1", req_id(M_START, S("cred-1"), 0));
	must_ok(d, "stop cred-1", req_id(M_STOP, S("cred-1"), 5));
	must_ok(d, "shutdown cred-1", req_id(M_SHUTDOWN, S("cred-1"), 0));
	until = psb_mono_ms() + scaled(5000);
	while (count_of(pub, npub, "cred-1", "NONE") == 0 &&
	        psb_mono_ms() < until) {
		sub_recv(sub, pub, &npub);
	}
	nng_close(sub);
	check(&ck, count_of(pub, npub, "cred-1", NULL) == 7,
	        "root subscriber: %d events of cred-1, want 7",
	        count_of(pub, npub, "cred-1", NULL));
	for (size_t i = 0; i < npub; i++) {
		nng_free(pub[i].b, pub[i].n);
	}
	status = nobody_end();
	check(&ck, exit_code(status) == 0,
	        "uid 65534 subscriber (not allowed): exit %d, want 0 "
	        "(no event, pipe closed; its reason is above)",
	        exit_code(status));
	snprintf(path, sizeof(path), "%s/daemon.log", d->dir);
	check(&ck, file_has(path, "events: refused a subscriber: uid 65534"),
	        "no refusal of uid 65534 logged in %s", path);

	// The same allow-list as the API: --allow-uid lets nobody in.
	kill(d->pid, SIGTERM);
	waitpid(d->pid, &status, 0);
	d->pid = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	d->allow_uid = "65534";
	daemon_start(d);
	nobody_start(d->events, 1);
	assert_true(nobody_said('D', 10000));
	// Its pipe may join a moment after its dial returns: create until
	// it says it got an event.
	for (int i = 0; i < 50 && !got; i++) {
		snprintf(id, sizeof(id), "allow-%d", i);
		create_ok(d, id);
		got = nobody_said('E', 200);
	}
	check(&ck, got, "uid 65534 with --allow-uid 65534: no event");
	status = nobody_end();
	check(&ck, exit_code(status) == 0,
	        "uid 65534 subscriber (allowed): exit %d, want 0",
	        exit_code(status));
	daemon_stop(d);
	checks_done(&ck);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_teardown(test_nul_in_strings, reap),
	        cmocka_unit_test_teardown(test_create_map_order, reap),
	        cmocka_unit_test_teardown(test_events_match_replay, reap),
	        cmocka_unit_test_teardown(test_invalid_fields, reap),
	        cmocka_unit_test_teardown(test_field_zero, reap),
	        cmocka_unit_test_teardown(test_size_limits, reap),
	        cmocka_unit_test_teardown(test_not_found, reap),
	        cmocka_unit_test_teardown(test_listener_heals, reap),
	        cmocka_unit_test_teardown(test_recovery_answers, reap),
	        cmocka_unit_test_teardown(test_events_credentials, reap),
	};

	if (argc == 6 && strcmp(argv[1], "--events-client") == 0) {
		// _exit: no exit-time checks while nng's dialer may be
		// connecting (nng 1.5 leaks a pipe closed then).
		_exit(events_client(
		        argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5])));
	}
	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH/TO/podsandboxd\n", argv[0]);
		return (2);
	}
	daemon_bin = argv[1];
	signal(SIGPIPE, SIG_IGN);
	return (psb_test_run_group(tests, NULL, NULL));
}
