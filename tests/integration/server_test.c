//
// podsandboxd - transport/server over a real ipc:// socket: a tiny test
// dispatcher on the loop thread, raw nng REQ/SUB clients in threads.
//
// The dispatcher answers Status at once (from an ev_prepare, since a reply
// may not come before submit returns), holds Waits until the test releases
// them, and answers everything else with a fixed Version reply.
//
// Run with "--peer-client URL EXPECT" this binary is the unprivileged
// client of the credentials test (fork + setuid + exec, because nng's
// threads make a forked child without exec unsafe); with
// "--events-client URL FD WANT" it is the unprivileged subscriber.
//

#include "tests/harness/testing.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <grp.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "podsandbox.pb-c.h"
#include "transport/server.h"

#define NOBODY 65534

// ---- the test dispatcher (loop thread) ----

typedef struct td_req {
	uint64_t     token;
	psb_reply_cb cb;
	void        *arg;
	psb_method_t method;
	char         id[80];
} td_req;

typedef struct td {
	td_req    *held; // Waits
	size_t     nheld, cap;
	td_req    *now; // answered at the next ev_prepare
	size_t     nnow, capnow;
	uint64_t   next_token;
	size_t     ncancel;
	size_t     nsubmit;
	ev_prepare prepare;
	// The quick way: Status of "sb-1" answered on nng's threads.
	bool       quick;
	atomic_int nread;
} td;

static void
td_push(td_req **v, size_t *n, size_t *cap, td_req r)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		*v   = realloc(*v, *cap * sizeof(**v));
		assert_non_null(*v);
	}
	(*v)[(*n)++] = r;
}

// td_answer replies to r; a Wait's exit status is the number in its id
// ("w-17" -> 17) so clients can check they got their own reply.
static void
td_answer(td_req *r, int code)
{
	psb_reply_t reply;

	memset(&reply, 0, sizeof(reply));
	reply.method                  = r->method;
	reply.code                    = code;
	reply.message                 = code ? psb_strerror(code) : NULL;
	reply.sandbox.id              = r->id;
	reply.sandbox.labels          = "{}";
	reply.sandbox.exit_status     = -1;
	reply.sandbox.runtime_handler = "";
	reply.version.runtime         = "test";
	if (r->method == PSB_M_WAIT && strncmp(r->id, "w-", 2) == 0) {
		reply.sandbox.exit_status = atoi(r->id + 2);
	}
	r->cb(r->arg, &reply);
}

static void
td_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	td *t = w->data;

	(void)loop;
	(void)revents;
	// Answering may lead to new submissions only from later wake-ups.
	while (t->nnow > 0) {
		td_req r = t->now[0];

		memmove(t->now, t->now + 1, --t->nnow * sizeof(*t->now));
		td_answer(&r, 0);
	}
}

static uint64_t
td_submit(void *arg, const psb_request_t *req, psb_reply_cb cb, void *cb_arg)
{
	td    *t = arg;
	td_req r = {++t->next_token, cb, cb_arg, req->method, ""};

	snprintf(r.id, sizeof(r.id), "%s",
	        req->sandbox_id ? req->sandbox_id : "");
	t->nsubmit++;
	if (req->method == PSB_M_WAIT) {
		td_push(&t->held, &t->nheld, &t->cap, r);
	} else {
		td_push(&t->now, &t->nnow, &t->capnow, r);
	}
	return (r.token);
}

// td_read is the dispatcher's read, on nng's threads.
static bool
td_read(void *arg, const psb_request_t *req, psb_reply_cb cb, void *cb_arg)
{
	td    *t = arg;
	td_req r = {0, cb, cb_arg, PSB_M_STATUS, "sb-1"};

	if (!t->quick || req->method != PSB_M_STATUS ||
	        strcmp(req->sandbox_id, "sb-1") != 0) {
		return (false);
	}
	atomic_fetch_add(&t->nread, 1);
	td_answer(&r, 0);
	return (true);
}

static void
td_cancel(void *arg, uint64_t token)
{
	td *t = arg;

	for (size_t i = 0; i < t->nheld; i++) {
		if (t->held[i].token == token) {
			td_req r = t->held[i];

			t->held[i] = t->held[--t->nheld];
			t->ncancel++;
			td_answer(&r, PSB_ECANCELED);
			return;
		}
	}
}

// td_release answers every held Wait, newest first (out of order).
static void
td_release(td *t, int code)
{
	while (t->nheld > 0) {
		td_req r = t->held[--t->nheld];

		td_answer(&r, code);
	}
}

static void
td_init(td *t, struct ev_loop *loop)
{
	memset(t, 0, sizeof(*t));
	ev_prepare_init(&t->prepare, td_prepare_cb);
	t->prepare.data = t;
	ev_prepare_start(loop, &t->prepare);
}

static void
td_fini(td *t, struct ev_loop *loop)
{
	ev_prepare_stop(loop, &t->prepare);
	free(t->held);
	free(t->now);
}

// ---- fixture ----

typedef struct fx {
	struct ev_loop   *loop;
	td                d;
	psb_server_t     *srv;
	psb_server_opts_t opts;
	char              dir[512];
	char              api[700];
	char              events[700];
} fx;

static psb_dispatch_t
fx_dispatch(fx *f)
{
	psb_dispatch_t d = {
	        .submit = td_submit,
	        .cancel = td_cancel,
	        .read   = td_read,
	        .arg    = &f->d,
	};

	return (d);
}

// fx_setup makes a socket directory (mode dirmode) and fills default
// opts; it does not start the server.
static void
fx_setup(fx *f, const char *name, mode_t dirmode)
{
	memset(f, 0, sizeof(*f));
	f->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(f->loop);
	td_init(&f->d, f->loop);
	snprintf(f->dir, sizeof(f->dir), "%s", psb_test_tmpdir(name));
	assert_int_equal(chmod(f->dir, dirmode), 0);
	snprintf(f->api, sizeof(f->api), "ipc://%s/api.sock", f->dir);
	snprintf(f->events, sizeof(f->events), "ipc://%s/ev.sock", f->dir);
	f->opts.api_url       = f->api;
	f->opts.events_url    = f->events;
	f->opts.max_msg_bytes = 4096;
}

static void
fx_start(fx *f)
{
	psb_dispatch_t d   = fx_dispatch(f);
	psb_error_t    err = PSB_ERROR_INIT;

	if (psb_server_start(f->loop, &d, &f->opts, &f->srv, &err) != 0) {
		fail_msg("psb_server_start: %s", psb_error_message(&err));
	}
}

static void
fx_teardown(fx *f)
{
	psb_server_free(f->srv);
	f->srv = NULL;
	td_fini(&f->d, f->loop);
	assert_true(psb_test_loop_is_clean(f->loop));
	ev_loop_destroy(f->loop);
}

// ---- clients (their own threads) ----

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static int
cli_open(const char *url, nng_socket *s)
{
	int rv;

	if ((rv = nng_req0_open(s)) != 0) {
		return (rv);
	}
	// The REQ resend trap (stack-notes §C): never resend a held Wait.
	nng_socket_set_ms(*s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO, 10000);
	if ((rv = nng_dial(*s, url, NULL, 0)) != 0) {
		nng_close(*s);
	}
	return (rv);
}

static void *
pack_request(Podsandbox__V1__Request *r, size_t *len)
{
	void *buf;

	*len = podsandbox__v1__request__get_packed_size(r);
	buf  = malloc(*len + 1);
	podsandbox__v1__request__pack(r, buf);
	return (buf);
}

static void *
req_status(const char *id, size_t *len)
{
	Podsandbox__V1__Request       r = PODSANDBOX__V1__REQUEST__INIT;
	Podsandbox__V1__StatusRequest st =
	        PODSANDBOX__V1__STATUS_REQUEST__INIT;

	st.sandbox_id = (char *)id;
	r.method_case = PODSANDBOX__V1__REQUEST__METHOD_STATUS;
	r.status      = &st;
	return (pack_request(&r, len));
}

static void *
req_wait(const char *id, size_t *len)
{
	Podsandbox__V1__Request     r = PODSANDBOX__V1__REQUEST__INIT;
	Podsandbox__V1__WaitRequest w = PODSANDBOX__V1__WAIT_REQUEST__INIT;

	w.sandbox_id  = (char *)id;
	r.method_case = PODSANDBOX__V1__REQUEST__METHOD_WAIT;
	r.wait        = &w;
	return (pack_request(&r, len));
}

// cli_call sends buf and returns the decoded Response (NULL on any
// failure; *rv says which).
static Podsandbox__V1__Response *
cli_call(nng_socket s, const void *buf, size_t len, int *rv)
{
	Podsandbox__V1__Response *resp;
	nng_msg                  *m;

	if ((*rv = nng_send(s, (void *)buf, len, 0)) != 0 ||
	        (*rv = nng_recvmsg(s, &m, 0)) != 0) {
		return (NULL);
	}
	resp = podsandbox__v1__response__unpack(
	        NULL, nng_msg_len(m), nng_msg_body(m));
	nng_msg_free(m);
	*rv = resp != NULL ? 0 : -1;
	return (resp);
}

// cli_code makes one call on a fresh socket and returns the status code
// (-1: no answer), copying the message into msg.
static int
cli_code(const char *url, const void *buf, size_t len, char *msg, size_t n)
{
	Podsandbox__V1__Response *resp;
	nng_socket                s;
	int                       rv, code = -1;

	if (cli_open(url, &s) != 0) {
		return (-2);
	}
	if ((resp = cli_call(s, buf, len, &rv)) != NULL) {
		code = resp->status ? (int)resp->status->code : 0;
		if (msg != NULL) {
			snprintf(msg, n, "%s",
			        resp->status ? resp->status->message : "");
		}
		podsandbox__v1__response__free_unpacked(resp, NULL);
	}
	nng_close(s);
	return (code);
}

typedef struct job {
	void *(*fn)(void *);
	void       *arg;
	atomic_bool done;
} job;

static void *
job_main(void *arg)
{
	job *j = arg;

	j->fn(j->arg);
	atomic_store(&j->done, true);
	return (NULL);
}

static bool
job_done(void *arg)
{
	return (atomic_load(&((job *)arg)->done));
}

// poll_until serves the loop in short slices until pred holds: the
// predicates here change on other threads, which do not wake the loop.
static bool
poll_until(fx *f, bool (*pred)(void *), void *arg, unsigned timeout_ms)
{
	double end =
	        now_s() + timeout_ms * psb_test_timeout_multiplier() / 1e3;

	while (!pred(arg)) {
		if (now_s() > end) {
			return (false);
		}
		psb_test_run_for(f->loop, 2);
	}
	return (true);
}

// run_job runs fn(arg) on a thread while the loop serves.
static void
run_job(fx *f, void *(*fn)(void *), void *arg, unsigned timeout_ms)
{
	job       j = {fn, arg, false};
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, job_main, &j), 0);
	if (!poll_until(f, job_done, &j, timeout_ms)) {
		fail_msg("client job timed out");
	}
	pthread_join(t, NULL);
}

typedef struct call_job {
	const char *url;
	void       *buf;
	size_t      len;
	int         code;
	char        msg[256];
} call_job;

static void *
call_main(void *arg)
{
	call_job *c = arg;

	c->code = cli_code(c->url, c->buf, c->len, c->msg, sizeof(c->msg));
	return (NULL);
}

// call runs one request against the server and returns its code; buf is
// taken.
static int
call(fx *f, void *buf, size_t len, char *msg, size_t n)
{
	call_job c = {f->api, buf, len, -1, ""};

	run_job(f, call_main, &c, 15000);
	free(buf);
	if (msg != NULL) {
		snprintf(msg, n, "%s", c.msg);
	}
	return (c.code);
}

static int
call_status(fx *f)
{
	size_t len;
	void  *buf = req_status("sb-1", &len);

	return (call(f, buf, len, NULL, 0));
}

// ---- socket files and directories ----

static void
test_socket_mode_and_dirs(void **state)
{
	fx             f;
	char           sub[600], path[700];
	struct stat    st;
	psb_dispatch_t d;
	psb_error_t    err = PSB_ERROR_INIT;
	psb_server_t  *other;

	(void)state;
	fx_setup(&f, "srv-mode", 0700);
	// A missing directory is created (0750, ours); the socket gets the
	// configured mode.
	snprintf(sub, sizeof(sub), "%s/made/here", f.dir);
	snprintf(f.api, sizeof(f.api), "ipc://%s/api.sock", sub);
	f.opts.socket_mode = 0640;
	fx_start(&f);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(st.st_uid, geteuid());
	snprintf(path, sizeof(path), "%s/api.sock", sub);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0640);
	snprintf(path, sizeof(path), "%s/ev.sock", f.dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(call_status(&f), PODSANDBOX__V1__CODE__OK);

	// A second server on the same socket: EBUSY.
	d = fx_dispatch(&f);
	assert_int_equal(psb_server_start(f.loop, &d, &f.opts, &other, &err),
	        PSB_EBUSY);
	assert_non_null(strstr(err.msg, "another process"));
	psb_error_release(&err);
	psb_server_free(f.srv);
	f.srv = NULL;

	// A group-writable directory is refused, naming the fix.
	assert_int_equal(chmod(sub, 0770), 0);
	assert_int_equal(psb_server_start(f.loop, &d, &f.opts, &other, &err),
	        PSB_EPERM);
	if (strstr(err.msg, "writable by group") == NULL ||
	        strstr(err.msg, "chmod go-w") == NULL) {
		fail_msg("unexpected message: %s", err.msg);
	}
	psb_error_release(&err);
	// So is one owned by somebody else.
	assert_int_equal(chmod(sub, 0750), 0);
	assert_int_equal(chown(sub, NOBODY, NOBODY), 0);
	assert_int_equal(psb_server_start(f.loop, &d, &f.opts, &other, &err),
	        PSB_EPERM);
	assert_non_null(strstr(err.msg, "owned by uid 65534"));
	psb_error_release(&err);

	// tcp is refused unless allowed.
	f.opts.api_url = "tcp://127.0.0.1:0";
	assert_int_equal(psb_server_start(f.loop, &d, &f.opts, &other, &err),
	        PSB_EPERM);
	assert_non_null(strstr(err.msg, "--allow-tcp"));
	psb_error_release(&err);
	f.opts.allow_tcp = true;
	assert_int_equal(
	        psb_server_start(f.loop, &d, &f.opts, &other, &err), 0);
	psb_server_free(other);
	fx_teardown(&f);
}

// ---- bad input ----

static void
test_bad_input(void **state)
{
	fx                         f;
	char                       msg[256];
	size_t                     len;
	void                      *buf;
	Podsandbox__V1__Request    r         = PODSANDBOX__V1__REQUEST__INIT;
	static const unsigned char garbage[] = {
	        0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x12, 0x99};

	(void)state;
	fx_setup(&f, "srv-bad", 0700);
	fx_start(&f);

	assert_int_equal(call(&f, xmemdup(garbage, sizeof(garbage)),
	                         sizeof(garbage), msg, sizeof(msg)),
	        PODSANDBOX__V1__CODE__INVALID_ARGUMENT);
	// Truncated: a Status request cut in the middle of its id.
	buf = req_status("sandbox-with-a-long-id", &len);
	assert_int_equal(call(&f, buf, len - 5, msg, sizeof(msg)),
	        PODSANDBOX__V1__CODE__INVALID_ARGUMENT);
	// No method set.
	buf = pack_request(&r, &len);
	assert_int_equal(call(&f, buf, len, msg, sizeof(msg)),
	        PODSANDBOX__V1__CODE__INVALID_ARGUMENT);
	// A malformed sandbox id.
	buf = req_status("../etc/passwd", &len);
	assert_int_equal(call(&f, buf, len, msg, sizeof(msg)),
	        PODSANDBOX__V1__CODE__INVALID_ARGUMENT);
	assert_true(strlen(msg) > 0);
	assert_int_equal(f.d.nsubmit, 0); // none reached the dispatcher
	// And the server keeps serving.
	assert_int_equal(call_status(&f), PODSANDBOX__V1__CODE__OK);
	assert_int_equal(f.d.nsubmit, 1);
	fx_teardown(&f);
}

typedef struct big_job {
	const char *url;
	size_t      len;
	int         rv;
} big_job;

// big_main sends len bytes nng refuses (over RECVMAXSZ): the pipe is
// dropped and no reply comes (documented in server.c).
static void *
big_main(void *arg)
{
	big_job   *b   = arg;
	void      *buf = calloc(1, b->len);
	nng_socket s;
	nng_msg   *m;

	if ((b->rv = cli_open(b->url, &s)) != 0) {
		free(buf);
		return (NULL);
	}
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 500);
	if ((b->rv = nng_send(s, buf, b->len, 0)) == 0 &&
	        (b->rv = nng_recvmsg(s, &m, 0)) == 0) {
		nng_msg_free(m);
	}
	nng_close(s);
	free(buf);
	return (NULL);
}

static void
test_oversized(void **state)
{
	fx      f;
	char    msg[256];
	big_job b;

	(void)state;
	fx_setup(&f, "srv-big", 0700);
	f.opts.max_msg_bytes = 1024;
	fx_start(&f);
	// Over the limit but under nng's cap (4x): RESOURCE_EXHAUSTED.
	assert_int_equal(call(&f, calloc(1, 2000), 2000, msg, sizeof(msg)),
	        PODSANDBOX__V1__CODE__RESOURCE_EXHAUSTED);
	assert_non_null(strstr(msg, "2000 bytes"));
	// Over nng's cap: nng drops it and the pipe; no reply at all (a
	// REQ socket without resend sees the connection reset).
	b = (big_job) {f.api, 5000, 0};
	run_job(&f, big_main, &b, 10000);
	assert_true(b.rv == NNG_ECONNRESET || b.rv == NNG_ETIMEDOUT);
	assert_int_equal(call_status(&f), PODSANDBOX__V1__CODE__OK);
	assert_int_equal(f.d.nsubmit, 1);
	fx_teardown(&f);
}

// ---- many held Waits ----

#define WAIT_SOCKETS 4
#define WAITS_PER    250
#define STATUS_CALLS 200

typedef struct wait_job {
	const char *url;
	int         base; // ids w-<base + i>
	int         n;
	nng_socket  s;
	nng_ctx     ctx[WAITS_PER];
	nng_aio    *aio[WAITS_PER];
	atomic_int  sent;
	int         ok; // replies matching their request
	int         codes[PODSANDBOX__V1__CODE__UNAUTHENTICATED + 2];
	int         failed; // no reply
} wait_job;

// wait_send opens n contexts on one socket and sends one Wait on each.
static void *
wait_send(void *arg)
{
	wait_job *w = arg;

	if (cli_open(w->url, &w->s) != 0) {
		return (NULL);
	}
	for (int i = 0; i < w->n; i++) {
		char     id[32];
		size_t   len;
		void    *buf;
		nng_msg *m;

		snprintf(id, sizeof(id), "w-%d", w->base + i);
		buf = req_wait(id, &len);
		assert_int_equal(nng_ctx_open(&w->ctx[i], w->s), 0);
		assert_int_equal(nng_aio_alloc(&w->aio[i], NULL, NULL), 0);
		nng_ctx_set_ms(w->ctx[i], NNG_OPT_REQ_RESENDTIME,
		        NNG_DURATION_INFINITE);
		assert_int_equal(nng_msg_alloc(&m, 0), 0);
		assert_int_equal(nng_msg_append(m, buf, len), 0);
		free(buf);
		nng_aio_set_msg(w->aio[i], m);
		nng_ctx_send(w->ctx[i], w->aio[i]);
		nng_aio_wait(w->aio[i]);
		assert_int_equal(nng_aio_result(w->aio[i]), 0);
		// No timeout: a Wait is held as long as the test likes (the
		// ctest TIMEOUT bounds a hang).
		nng_aio_set_timeout(w->aio[i], NNG_DURATION_INFINITE);
		nng_ctx_recv(w->ctx[i], w->aio[i]);
		atomic_fetch_add(&w->sent, 1);
	}
	return (NULL);
}

// wait_collect waits for every reply and checks it is this context's.
static void *
wait_collect(void *arg)
{
	wait_job *w = arg;

	for (int i = 0; i < w->n; i++) {
		Podsandbox__V1__Response *r;
		nng_msg                  *m;
		int                       code;

		nng_aio_wait(w->aio[i]);
		if (nng_aio_result(w->aio[i]) != 0) {
			if (w->failed++ == 0) {
				print_message("wait %d: %s\n", w->base + i,
				        nng_strerror(
				                nng_aio_result(w->aio[i])));
			}
			continue;
		}
		m = nng_aio_get_msg(w->aio[i]);
		r = podsandbox__v1__response__unpack(
		        NULL, nng_msg_len(m), nng_msg_body(m));
		nng_msg_free(m);
		if (r == NULL) {
			w->failed++;
			continue;
		}
		code = r->status ? (int)r->status->code : 0;
		w->codes[code]++;
		if (code == 0 && r->wait != NULL &&
		        r->wait->exit_status == (uint32_t)(w->base + i)) {
			w->ok++;
		}
		podsandbox__v1__response__free_unpacked(r, NULL);
	}
	return (NULL);
}

static void
wait_close(wait_job *w)
{
	for (int i = 0; i < w->n; i++) {
		nng_aio_free(w->aio[i]);
	}
	nng_close(w->s);
}

typedef struct status_job {
	const char *url;
	int         ok;
	double      secs;
	double      worst;
} status_job;

static void *
status_main(void *arg)
{
	status_job *sj = arg;
	nng_socket  s;
	double      t0 = now_s();
	size_t      len;
	void       *buf = req_status("sb-1", &len);

	if (cli_open(sj->url, &s) == 0) {
		for (int i = 0; i < STATUS_CALLS; i++) {
			Podsandbox__V1__Response *r;
			double                    t1 = now_s();
			int                       rv;

			if ((r = cli_call(s, buf, len, &rv)) != NULL) {
				sj->ok += r->status == NULL ||
				          r->status->code == 0;
				podsandbox__v1__response__free_unpacked(
				        r, NULL);
			}
			if (now_s() - t1 > sj->worst) {
				sj->worst = now_s() - t1;
			}
		}
		nng_close(s);
	}
	free(buf);
	sj->secs = now_s() - t0;
	return (NULL);
}

typedef struct held_state {
	td    *d;
	size_t want;
} held_state;

static bool
all_held(void *arg)
{
	held_state *h = arg;

	return (h->d->nheld >= h->want);
}

static void
test_held_waits(void **state)
{
	fx         f;
	wait_job  *w = calloc(WAIT_SOCKETS, sizeof(*w));
	pthread_t  t[WAIT_SOCKETS];
	status_job sj = {0};
	held_state h;
	double     t0;
	int        ok = 0;

	(void)state;
	fx_setup(&f, "srv-held", 0700);
	fx_start(&f);
	for (int i = 0; i < WAIT_SOCKETS; i++) {
		w[i].url  = f.api;
		w[i].base = i * WAITS_PER;
		w[i].n    = WAITS_PER;
		assert_int_equal(
		        pthread_create(&t[i], NULL, wait_send, &w[i]), 0);
	}
	h  = (held_state) {&f.d, WAIT_SOCKETS * WAITS_PER};
	t0 = now_s();
	assert_true(psb_test_run_until(
	        f.loop, all_held, &h, 30000 * psb_test_timeout_multiplier()));
	print_message("1000 Waits held after %.3f s\n", now_s() - t0);
	for (int i = 0; i < WAIT_SOCKETS; i++) {
		pthread_join(t[i], NULL);
	}
	assert_int_equal(f.d.nheld, WAIT_SOCKETS * WAITS_PER);

	// With 1,000 Waits held the receive pool is intact: Status answers.
	sj.url = f.api;
	run_job(&f, status_main, &sj, 30000);
	print_message("%d Status calls with 1000 held: %.3f s total, "
	              "worst %.2f ms\n",
	        STATUS_CALLS, sj.secs, sj.worst * 1000);
	assert_int_equal(sj.ok, STATUS_CALLS);
	assert_true(sj.secs < 5.0 * psb_test_timeout_multiplier());

	// Release every Wait, newest first: each context gets its own reply.
	for (int i = 0; i < WAIT_SOCKETS; i++) {
		assert_int_equal(
		        pthread_create(&t[i], NULL, wait_collect, &w[i]), 0);
	}
	t0 = now_s();
	td_release(&f.d, 0);
	// Serve until every collector has its replies.
	for (int i = 0; i < WAIT_SOCKETS; i++) {
		while (pthread_tryjoin_np(t[i], NULL) == EBUSY) {
			psb_test_run_for(f.loop, 5);
		}
	}
	print_message("1000 Wait replies delivered in %.3f s\n", now_s() - t0);
	for (int i = 0; i < WAIT_SOCKETS; i++) {
		ok += w[i].ok;
		assert_int_equal(w[i].failed, 0);
		wait_close(&w[i]);
	}
	assert_int_equal(ok, WAIT_SOCKETS * WAITS_PER);
	assert_int_equal(f.d.ncancel, 0);
	free(w);
	fx_teardown(&f);
}

// ---- a client that goes away cancels its held requests ----

typedef struct cancel_state {
	td    *d;
	size_t want;
} cancel_state;

static bool
all_cancelled(void *arg)
{
	cancel_state *c = arg;

	return (c->d->ncancel >= c->want);
}

static void
test_disconnect_cancels(void **state)
{
	fx           f;
	wait_job    *w = calloc(1, sizeof(*w));
	held_state   h;
	cancel_state c;

	(void)state;
	fx_setup(&f, "srv-gone", 0700);
	fx_start(&f);
	w->url = f.api;
	w->n   = 50;
	run_job(&f, wait_send, w, 15000);
	h = (held_state) {&f.d, 50};
	assert_true(psb_test_run_until(f.loop, all_held, &h, 10000));
	// Another client's Waits stay held.
	assert_int_equal(f.d.nsubmit, 50);
	wait_close(w); // the client goes away
	c = (cancel_state) {&f.d, 50};
	assert_true(psb_test_run_until(f.loop, all_cancelled, &c, 10000));
	assert_int_equal(f.d.ncancel, 50);
	assert_int_equal(f.d.nheld, 0);
	assert_int_equal(call_status(&f), PODSANDBOX__V1__CODE__OK);
	free(w);
	fx_teardown(&f);
}

// ---- peer credentials ----

// peer_client is the child: it becomes nobody and expects code.
static int
peer_client(const char *url, int want)
{
	size_t len;
	void  *buf = req_status("sb-1", &len);
	char   msg[256];
	int    code;

	code = cli_code(url, buf, len, msg, sizeof(msg));
	free(buf);
	if (code != want) {
		fprintf(stderr, "peer client: code %d (%s), wanted %d\n", code,
		        msg, want);
		return (1);
	}
	if (want == PODSANDBOX__V1__CODE__PERMISSION_DENIED &&
	        strstr(msg, "uid 65534") == NULL) {
		fprintf(stderr, "peer client: message \"%s\"\n", msg);
		return (1);
	}
	return (0);
}

typedef struct child_state {
	pid_t pid;
	int   status;
	bool  done;
} child_state;

static bool
child_done(void *arg)
{
	child_state *c = arg;

	if (!c->done && waitpid(c->pid, &c->status, WNOHANG) == c->pid) {
		c->done = true;
	}
	return (c->done);
}

// run_as_nobody runs this binary as uid/gid 65534 against url.
static void
run_as_nobody(fx *f, int want)
{
	child_state c = {0};
	char        wants[16];

	snprintf(wants, sizeof(wants), "%d", want);
	c.pid = fork();
	assert_true(c.pid >= 0);
	if (c.pid == 0) {
		if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 ||
		        setuid(NOBODY) != 0) {
			_exit(3);
		}
		execl("/proc/self/exe", "server_test", "--peer-client", f->api,
		        wants, (char *)NULL);
		_exit(4);
	}
	assert_true(poll_until(f, child_done, &c, 20000));
	assert_true(WIFEXITED(c.status));
	assert_int_equal(WEXITSTATUS(c.status), 0);
}

static void
test_peer_credentials(void **state)
{
	fx f;

	(void)state;
	if (geteuid() != 0) {
		skip();
	}
	fx_setup(&f, "srv-cred", 0755);
	f.opts.socket_mode = 0666;
	fx_start(&f);
	run_as_nobody(&f, PODSANDBOX__V1__CODE__PERMISSION_DENIED);
	assert_int_equal(f.d.nsubmit, 0);
	assert_int_equal(call_status(&f), PODSANDBOX__V1__CODE__OK);
	psb_server_free(f.srv);

	f.opts.allow_uids[0] = NOBODY;
	f.opts.n_allow_uids  = 1;
	fx_start(&f);
	run_as_nobody(&f, PODSANDBOX__V1__CODE__OK);
	psb_server_free(f.srv);

	f.opts.n_allow_uids  = 0;
	f.opts.allow_gids[0] = NOBODY;
	f.opts.n_allow_gids  = 1;
	fx_start(&f);
	run_as_nobody(&f, PODSANDBOX__V1__CODE__OK);
	assert_int_equal(f.d.nsubmit, 3);
	fx_teardown(&f);
}

// ---- events ----

typedef struct sub_job {
	const char *url;
	atomic_int  warm; // warm-up events seen
	int         got;  // seq 1..N in order
	bool        in_order;
} sub_job;

#define EVENTS 100

static void *
sub_main(void *arg)
{
	sub_job   *sj = arg;
	nng_socket s;
	uint64_t   want = 1;

	sj->in_order = true;
	if (nng_sub0_open(&s) != 0) {
		return (NULL);
	}
	nng_socket_set(s, NNG_OPT_SUB_SUBSCRIBE, "", 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
	if (nng_dial(s, sj->url, NULL, 0) != 0) {
		nng_close(s);
		return (NULL);
	}
	while (want <= EVENTS) {
		Podsandbox__V1__Event *e;
		nng_msg               *m;

		if (nng_recvmsg(s, &m, 0) != 0) {
			break;
		}
		e = podsandbox__v1__event__unpack(
		        NULL, nng_msg_len(m), nng_msg_body(m));
		nng_msg_free(m);
		if (e == NULL) {
			break;
		}
		if (e->seq == 0) {
			atomic_fetch_add(&sj->warm, 1);
		} else {
			sj->in_order &= e->seq == want &&
			                strcmp(e->sandbox_id, "sb-ev") == 0;
			want++;
			sj->got++;
		}
		podsandbox__v1__event__free_unpacked(e, NULL);
	}
	nng_close(s);
	return (NULL);
}

static void
test_publish(void **state)
{
	fx               f;
	sub_job          sj = {0};
	pthread_t        t;
	psb_transition_t tr = {0};

	(void)state;
	fx_setup(&f, "srv-pub", 0700);
	fx_start(&f);
	sj.url = f.events;
	assert_int_equal(pthread_create(&t, NULL, sub_main, &sj), 0);
	tr.sandbox_id  = "sb-ev";
	tr.from        = PSB_ST_CREATED;
	tr.to          = PSB_ST_STARTING;
	tr.event       = PSB_EV_START;
	tr.exit_status = -1;
	// PUB drops until the subscriber's pipe is up: warm up first.
	for (int i = 0; i < 500 && atomic_load(&sj.warm) == 0; i++) {
		psb_server_publish(f.srv, &tr);
		psb_test_run_for(f.loop, 10);
	}
	assert_true(atomic_load(&sj.warm) > 0);
	for (uint64_t seq = 1; seq <= EVENTS; seq++) {
		tr.seq = seq;
		psb_server_publish(f.srv, &tr);
	}
	while (pthread_tryjoin_np(t, NULL) == EBUSY) {
		psb_test_run_for(f.loop, 5);
	}
	assert_int_equal(sj.got, EVENTS);
	assert_true(sj.in_order);
	fx_teardown(&f);
}

// ---- events: peer credentials ----

// events_client is the child: it subscribes as nobody, writes 'D' to fd
// once dialled and 'E' on its first event. want 0: no event may come
// within the receive timeout (the server closes a refused pipe before it
// joins the socket); want 1: one must.
static int
events_client(const char *url, int fd, int want)
{
	Podsandbox__V1__Event *e;
	nng_socket             s;
	nng_msg               *m;
	int                    rv;

	if ((rv = nng_sub0_open(&s)) != 0 ||
	        (rv = nng_socket_set(s, NNG_OPT_SUB_SUBSCRIBE, "", 0)) != 0 ||
	        (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO,
	                 (nng_duration)(1000 *
	                                psb_test_timeout_multiplier()))) !=
	                0) {
		fprintf(stderr, "events client: %s\n", nng_strerror(rv));
		return (2);
	}
	// The dial succeeds either way: the server refuses the pipe only
	// after the handshake, and closes it.
	if ((rv = nng_dial(s, url, NULL, 0)) != 0) {
		fprintf(stderr, "events client: dial: %s\n", nng_strerror(rv));
		return (2);
	}
	if (write(fd, "D", 1) != 1) {
		return (2);
	}
	if ((rv = nng_recvmsg(s, &m, 0)) != 0) {
		nng_close(s);
		if (want) {
			fprintf(stderr, "events client: no event: %s\n",
			        nng_strerror(rv));
			return (1);
		}
		return (rv == NNG_ETIMEDOUT || rv == NNG_ECLOSED ? 0 : 1);
	}
	if (write(fd, "E", 1) != 1) {
		return (2);
	}
	e = podsandbox__v1__event__unpack(
	        NULL, nng_msg_len(m), nng_msg_body(m));
	nng_msg_free(m);
	nng_close(s);
	if (!want) {
		fprintf(stderr, "events client: uid %u received seq %llu\n",
		        (unsigned)getuid(),
		        e ? (unsigned long long)e->seq : 0ULL);
	}
	if (e != NULL) {
		podsandbox__v1__event__free_unpacked(e, NULL);
	}
	return (want ? 0 : 1);
}

typedef struct child_pipe {
	int  fd; // read end, non-blocking
	char want;
	bool seen;
	bool eof;
} child_pipe;

// child_said is true once the child wrote cp->want (or closed the pipe:
// it died, and its exit status tells why).
static bool
child_said(void *arg)
{
	child_pipe *cp = arg;
	char        c;
	ssize_t     n;

	while (!cp->seen && !cp->eof) {
		if ((n = read(cp->fd, &c, 1)) == 1) {
			cp->seen = c == cp->want;
		} else if (n == 0) {
			cp->eof = true;
		} else {
			break; // EAGAIN: nothing yet
		}
	}
	return (cp->seen || cp->eof);
}

static void
events_tr(psb_transition_t *tr)
{
	memset(tr, 0, sizeof(*tr));
	tr->sandbox_id  = "sb-ev";
	tr->from        = PSB_ST_CREATED;
	tr->to          = PSB_ST_STARTING;
	tr->event       = PSB_EV_START;
	tr->exit_status = -1;
}

// events_as_nobody runs this binary as a uid/gid 65534 subscriber to
// f's events socket. want 0: a root subscriber gets every event published
// meanwhile and nobody gets none; want 1: nobody gets one.
static void
events_as_nobody(fx *f, int want)
{
	child_state      c = {0};
	child_pipe       cp;
	sub_job          sj = {0};
	psb_transition_t tr;
	pthread_t        t;
	int              pfd[2];
	char             fds[16], wants[16];

	events_tr(&tr);
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(fcntl(pfd[0], F_SETFL, O_NONBLOCK), 0);
	snprintf(fds, sizeof(fds), "%d", pfd[1]);
	snprintf(wants, sizeof(wants), "%d", want);
	c.pid = fork();
	assert_true(c.pid >= 0);
	if (c.pid == 0) {
		close(pfd[0]);
		if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 ||
		        setuid(NOBODY) != 0) {
			_exit(3);
		}
		execl("/proc/self/exe", "server_test", "--events-client",
		        f->events, fds, wants, (char *)NULL);
		_exit(4);
	}
	close(pfd[1]);
	cp = (child_pipe) {pfd[0], 'D', false, false};
	assert_true(poll_until(f, child_said, &cp, 20000));

	if (want) {
		// Its pipe may join a moment after its dial returns: publish
		// until it says it got one (or gives up and exits).
		cp = (child_pipe) {pfd[0], 'E', false, false};
		for (int i = 0; i < 500 && !child_said(&cp); i++) {
			psb_server_publish(f->srv, &tr);
			psb_test_run_for(f->loop, 10);
		}
		assert_true(cp.seen);
	} else {
		// A root subscriber, dialled after nobody's, warms up and then
		// gets all EVENTS; nobody's receive times out meanwhile.
		sj.url = f->events;
		assert_int_equal(pthread_create(&t, NULL, sub_main, &sj), 0);
		for (int i = 0; i < 500 && atomic_load(&sj.warm) == 0; i++) {
			psb_server_publish(f->srv, &tr);
			psb_test_run_for(f->loop, 10);
		}
		assert_true(atomic_load(&sj.warm) > 0);
		for (uint64_t seq = 1; seq <= EVENTS; seq++) {
			tr.seq = seq;
			psb_server_publish(f->srv, &tr);
		}
		while (pthread_tryjoin_np(t, NULL) == EBUSY) {
			psb_test_run_for(f->loop, 5);
		}
		assert_int_equal(sj.got, EVENTS);
		assert_true(sj.in_order);
	}
	assert_true(poll_until(f, child_done, &c, 20000));
	close(pfd[0]);
	assert_true(WIFEXITED(c.status));
	assert_int_equal(WEXITSTATUS(c.status), 0);
}

// log_has is true if the file at path contains needle.
static bool
log_has(const char *path, const char *needle)
{
	char   buf[16384];
	FILE  *fp = fopen(path, "r");
	size_t n;

	if (fp == NULL) {
		return (false);
	}
	n      = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return (strstr(buf, needle) != NULL);
}

static void
test_events_credentials(void **state)
{
	fx          f;
	const char *logp;
	int         fd;

	(void)state;
	if (geteuid() != 0) {
		skip();
	}
	fx_setup(&f, "srv-evcred", 0755);
	f.opts.socket_mode = 0666; // world-connectable
	// Capture the server's log (no other thread logs until fx_start).
	logp = psb_test_path("server.log");
	fd   = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	psb_log_setup(PSB_LOG_INFO, PSB_LOG_TEXT, fd);
	fx_start(&f);
	events_as_nobody(&f, 0);
	psb_server_free(f.srv);
	psb_log_setup(PSB_LOG_INFO, PSB_LOG_TEXT, STDERR_FILENO);
	close(fd);
	if (!log_has(logp, "events: refused a subscriber: uid 65534")) {
		fail_msg("no refusal logged in %s", logp);
	}

	// The same allow-list as the API: by uid, then by primary gid.
	f.opts.allow_uids[0] = NOBODY;
	f.opts.n_allow_uids  = 1;
	fx_start(&f);
	events_as_nobody(&f, 1);
	psb_server_free(f.srv);

	f.opts.n_allow_uids  = 0;
	f.opts.allow_gids[0] = NOBODY;
	f.opts.n_allow_gids  = 1;
	fx_start(&f);
	events_as_nobody(&f, 1);
	fx_teardown(&f);
}

// ---- shutdown ----

// ---- the quick way ----

typedef struct quick_job {
	const char *url;
	int         calls;
	int         ok; // OK answers carrying id sb-1
} quick_job;

static void *
quick_main(void *arg)
{
	quick_job *q = arg;
	nng_socket s;
	size_t     len;
	void      *buf = req_status("sb-1", &len);

	if (cli_open(q->url, &s) == 0) {
		for (int i = 0; i < q->calls; i++) {
			Podsandbox__V1__Response *resp;
			int                       rv;

			if ((resp = cli_call(s, buf, len, &rv)) == NULL) {
				break;
			}
			q->ok +=
			        (resp->status == NULL ||
			                resp->status->code == 0) &&
			        resp->result_case ==
			                PODSANDBOX__V1__RESPONSE__RESULT_SANDBOX_STATUS &&
			        strcmp(resp->sandbox_status->sandbox_id,
			                "sb-1") == 0;
			podsandbox__v1__response__free_unpacked(resp, NULL);
		}
		nng_close(s);
	}
	free(buf);
	return (NULL);
}

// A read the dispatcher can answer at once is answered on nng's threads,
// with the loop never running; everything else still takes the loop's
// way. Freeing the server after thousands of quick replies leaks nothing
// (the ASan run).
static void
test_quick_reads(void **state)
{
	static const unsigned char garbage[] = {
	        0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x12, 0x99};
	fx        f;
	quick_job q[4];
	pthread_t t[4];
	size_t    len;
	void     *buf;
	char      msg[256];

	(void)state;
	fx_setup(&f, "srv-quick", 0755);
	f.d.quick = true;
	fx_start(&f);
	for (int i = 0; i < 4; i++) {
		q[i] = (quick_job) {f.api, 500, 0};
		assert_int_equal(
		        pthread_create(&t[i], NULL, quick_main, &q[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(q[i].ok, 500);
	}
	assert_int_equal(atomic_load(&f.d.nread), 2000);
	assert_int_equal(f.d.nsubmit, 0);

	// Declined by read: the loop answers (the test dispatcher's Status).
	buf = req_status("sb-2", &len);
	assert_int_equal(
	        call(&f, buf, len, NULL, 0), PODSANDBOX__V1__CODE__OK);
	assert_int_equal(f.d.nsubmit, 1);
	// Bad bytes are the loop's to refuse, with its message.
	assert_int_equal(call(&f, xmemdup(garbage, sizeof(garbage)),
	                         sizeof(garbage), msg, sizeof(msg)),
	        PODSANDBOX__V1__CODE__INVALID_ARGUMENT);
	// A refused peer gets its refusal, not a quick answer.
	if (geteuid() == 0) {
		psb_server_free(f.srv);
		f.opts.socket_mode = 0666;
		fx_start(&f);
		run_as_nobody(&f, PODSANDBOX__V1__CODE__PERMISSION_DENIED);
		assert_int_equal(atomic_load(&f.d.nread), 2000);
	}
	fx_teardown(&f);
}

static void
test_stop_then_free(void **state)
{
	fx         f;
	wait_job  *w = calloc(2, sizeof(*w));
	held_state h;
	pthread_t  t;

	(void)state;
	fx_setup(&f, "srv-stop", 0700);
	fx_start(&f);
	w[0].url = w[1].url = f.api;
	w[0].n = w[1].n = 20;
	w[1].base       = 20;
	run_job(&f, wait_send, &w[0], 15000);
	h = (held_state) {&f.d, 20};
	assert_true(psb_test_run_until(f.loop, all_held, &h, 10000));

	// The daemon's shutdown: stop receiving, the controller's drain
	// answers the held requests (UNAVAILABLE), free at once. The
	// answers must still reach the client.
	assert_int_equal(pthread_create(&t, NULL, wait_collect, &w[0]), 0);
	psb_server_stop(f.srv);
	psb_server_stop(f.srv); // idempotent
	td_release(&f.d, PSB_EUNAVAIL);
	psb_server_free(f.srv);
	f.srv = NULL;
	pthread_join(t, NULL);
	assert_int_equal(w[0].failed, 0);
	assert_int_equal(w[0].codes[PODSANDBOX__V1__CODE__UNAVAILABLE], 20);
	wait_close(&w[0]);

	// Free with requests still held: each is cancelled, nothing leaks
	// and no callback comes after free (ASan/UBSan builds check this).
	fx_start(&f);
	run_job(&f, wait_send, &w[1], 15000);
	h = (held_state) {&f.d, 20};
	assert_true(psb_test_run_until(f.loop, all_held, &h, 10000));
	psb_server_free(f.srv);
	f.srv = NULL;
	assert_int_equal(f.d.ncancel, 20);
	assert_int_equal(f.d.nheld, 0);
	wait_close(&w[1]);
	free(w);
	fx_teardown(&f);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_socket_mode_and_dirs),
	        cmocka_unit_test(test_bad_input),
	        cmocka_unit_test(test_oversized),
	        cmocka_unit_test(test_held_waits),
	        cmocka_unit_test(test_disconnect_cancels),
	        cmocka_unit_test(test_peer_credentials),
	        cmocka_unit_test(test_publish),
	        cmocka_unit_test(test_events_credentials),
	        cmocka_unit_test(test_quick_reads),
	        cmocka_unit_test(test_stop_then_free),
	};

	if (argc == 4 && strcmp(argv[1], "--peer-client") == 0) {
		return (peer_client(argv[2], atoi(argv[3])));
	}
	if (argc == 5 && strcmp(argv[1], "--events-client") == 0) {
		return (events_client(argv[2], atoi(argv[3]), atoi(argv[4])));
	}
	return (psb_test_run_group(tests, NULL, NULL));
}
