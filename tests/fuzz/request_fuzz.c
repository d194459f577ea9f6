//
// podsandboxd - the whole request path in one process: request bytes in,
// reply bytes out (transport/codec.h -> core/controller.h -> store ->
// scripted runtime -> codec), as transport/server.c drives it, with the
// runtime and restarts interleaved (STYLE.md practice 21).
//
// Byte 0: bit 0 the scripted runtime makes pod networks (network=1).
// Then steps: op (1 byte), length (2 bytes, little endian), payload.
// op % 8:
//   0, 1  REQUEST  payload: a podsandbox.v1.Request, as a client sends it
//   2     BUILD    a request built from the payload: p[0] method, p[1]
//                  sandbox, p[2] timeout/verbose/limit, p[3] state filter
//                  (so that the corpus reaches deep states on valid ids)
//   3     RUN      run the loop for p[0] % 16 ms
//   4     SCRIPT   psb_scripted_script(op p[0], sandbox p[1], how p[2],
//                  delay p[3] % 4 ms, times p[4] % 3 + 1)
//   5     EXIT     psb_scripted_exit(sandbox p[0], status p[1])
//   6     CANCEL   psb_controller_cancel(the p[0]-th request's token)
//   7     RESTART  the daemon goes away (controller freed: held requests
//                  answered; store closed) and comes back over the same
//                  database and runtime "world", recovering
// Each request is first offered to psb_controller_read, as the server's
// nng threads do for a plain Status or List, then submitted; bytes that
// do not decode are answered with psb_codec_encode_error. After each
// step the loop runs until that request is answered or nothing moves.
//
// Invariants: a reply for every request, exactly once, never from inside
// submit, for the method asked; every reply encodes, and the bytes decode
// as a Response; a sandbox in a successful reply is the one asked about;
// Events and History are in seq order; published transitions have
// increasing seqs, across restarts too (the journal never reuses one).
//

#include <ev.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "core/controller.h"
#include "fuzz_util.h"
#include "persistence/store.h"
#include "podsandbox.pb-c.h"
#include "runtime/scripted.h"
#include "transport/codec.h"

#define FZ_CALLS  128
#define FZ_STEPS  64
#define FZ_SETTLE 3  // loop iterations without a move that end a step
#define FZ_MAX_MS 20 // loop time one step may take at most

static const char *const fz_ids[] = {"sb-a", "sb-b", "sb-c"};

typedef struct fz_call {
	psb_method_t method;
	char         id[PSB_ID_MAX + 1];
	uint64_t     token;
	int          replies;
	int          code;
	bool         submitted; // handed to submit (cancellable)
} fz_call_t;

typedef struct fz_state {
	struct ev_loop   *loop;
	psb_runtime_t    *rt;
	psb_store_t      *store;
	psb_controller_t *c;
	fz_call_t         calls[FZ_CALLS];
	int               ncalls;
	bool              in_submit;
	uint64_t          last_seq; // newest published
	uint64_t          moves;    // replies and publications
	bool              recovered;
} fz_state_t;

static fz_state_t fz;
static char       fz_db[300];

// ---- replies
// ----------------------------------------------------------------

static void
fz_check_bytes(const void *buf, size_t len)
{
	Podsandbox__V1__Response *resp =
	        podsandbox__v1__response__unpack(NULL, len, buf);

	FZ_CHECK(resp != NULL);
	podsandbox__v1__response__free_unpacked(resp, NULL);
}

static void
fz_check_seqs(const psb_transition_t *ev, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		FZ_CHECK(ev[i].seq > ev[i - 1].seq);
	}
}

static void
fz_reply_cb(void *arg, const psb_reply_t *r)
{
	fz_call_t *call = arg;
	void      *buf  = NULL;
	size_t     len  = 0;
	int        rv;

	fz.moves++;
	FZ_CHECK(!fz.in_submit);
	FZ_CHECK(++call->replies == 1);
	FZ_CHECK(r->method == call->method);
	call->code = r->code;
	FZ_NOTE("reply %s %s: %d %s\n", psb_method_name(r->method), call->id,
	        r->code, r->message != NULL ? r->message : "");
	if (r->code == 0 && r->sandbox.id != NULL && call->id[0] != '\0' &&
	        psb_method_needs_id(r->method)) {
		FZ_CHECK(strcmp(r->sandbox.id, call->id) == 0);
	}
	if (r->method == PSB_M_EVENTS || r->method == PSB_M_HISTORY) {
		fz_check_seqs(r->events, r->events_len);
	}
	rv = psb_codec_encode_reply(r, &buf, &len);
	FZ_CHECK(rv == 0);
	fz_check_bytes(buf, len);
	free(buf);
}

static void
fz_publish_cb(void *arg, const psb_transition_t *t)
{
	(void)arg;
	fz.moves++;
	FZ_CHECK(t->seq > fz.last_seq);
	FZ_CHECK(t->from < PSB_STATE_COUNT && t->to < PSB_STATE_COUNT);
	fz.last_seq = t->seq;
}

// ---- the loop
// -----------------------------------------------------------------

static void
fz_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

// fz_run runs the loop until call (may be NULL) is answered, at most
// for max_ms (a NULL call: for max_ms), then without waiting until
// nothing moves any more (what is due now is done, nothing later).
static void
fz_run(const fz_call_t *call, unsigned max_ms)
{
	ev_timer  tick;
	ev_tstamp end   = ev_time() + max_ms / 1000.0;
	int       quiet = 0;

	ev_timer_init(&tick, fz_tick_cb, 0.001, 0.001);
	ev_timer_start(fz.loop, &tick);
	// What is due now first, without sleeping; then wait for timers.
	for (int i = 0; call != NULL && call->replies == 0 && i < 8; i++) {
		ev_run(fz.loop, EVRUN_NOWAIT);
	}
	while ((call == NULL || call->replies == 0) && ev_time() < end) {
		ev_run(fz.loop, EVRUN_ONCE);
	}
	ev_timer_stop(fz.loop, &tick);
	for (int i = 0; i < 64 && quiet < FZ_SETTLE; i++) {
		uint64_t seen = fz.moves;

		ev_run(fz.loop, EVRUN_NOWAIT);
		quiet = fz.moves == seen ? quiet + 1 : 0;
	}
}

// ---- the daemon
// ---------------------------------------------------------------

static void
fz_recovered_cb(void *arg)
{
	(void)arg;
	fz.recovered = true;
}

static void
fz_daemon_start(void)
{
	static const psb_controller_opts_t opts = {50, 10, 20, 2, 1, 5, 20};
	psb_store_options_t                so   = PSB_STORE_OPTIONS_DEFAULT;
	psb_error_t                        err  = PSB_ERROR_INIT;

	so.sync_full    = false;
	so.journal_keep = 16; // pruning happens too
	FZ_CHECK(psb_store_open(fz_db, &so, &fz.store, &err) == 0);
	FZ_CHECK(psb_controller_new(
	                 fz.loop, fz.store, fz.rt, &opts, &fz.c, &err) == 0);
	psb_controller_set_publisher(fz.c, fz_publish_cb, NULL);
	fz.recovered = false;
	FZ_CHECK(psb_controller_recover(fz.c, fz_recovered_cb, NULL, &err) ==
	         0);
}

static void
fz_daemon_stop(void)
{
	psb_controller_free(fz.c); // answers held requests: ECANCELED
	fz.c = NULL;
	psb_store_close(fz.store);
	fz.store = NULL;
	for (int i = 0; i < fz.ncalls; i++) {
		fz.calls[i].submitted = false; // tokens of the old controller
	}
}

// ---- requests
// -------------------------------------------------------------------

static fz_call_t *
fz_call_new(psb_method_t m, const char *id)
{
	fz_call_t *call = &fz.calls[fz.ncalls++];

	memset(call, 0, sizeof(*call));
	call->method = m;
	snprintf(call->id, sizeof(call->id), "%s", id != NULL ? id : "");
	return (call);
}

// fz_request takes request bytes the way the server does.
static void
fz_request(const uint8_t *p, size_t n)
{
	psb_codec_request_t *h   = NULL;
	psb_request_t        req = {0};
	psb_error_t          err = PSB_ERROR_INIT;
	fz_call_t           *call;
	void                *buf = NULL;
	size_t               len = 0;

	if (fz.ncalls == FZ_CALLS) {
		return;
	}
	if (psb_codec_decode_request(p, n, &req, &h, &err) != 0) {
		FZ_CHECK(err.code == PSB_EINVAL && err.msg != NULL);
		FZ_CHECK(psb_codec_encode_error(
		                 err.code, err.msg, &buf, &len) == 0);
		fz_check_bytes(buf, len);
		free(buf);
		psb_error_release(&err);
		return;
	}
	call = fz_call_new(req.method, req.sandbox_id);
	FZ_NOTE("request %s %s\n", psb_method_name(req.method), call->id);
	if (!psb_controller_read(fz.c, &req, fz_reply_cb, call)) {
		fz.in_submit = true;
		call->token =
		        psb_controller_submit(fz.c, &req, fz_reply_cb, call);
		fz.in_submit    = false;
		call->submitted = true;
	} else {
		FZ_CHECK(call->replies == 1); // answered before read returned
	}
	psb_codec_request_free(h);
	fz_run(call, FZ_MAX_MS);
}

static uint8_t
fz_at(const uint8_t *p, size_t n, size_t i)
{
	return (i < n ? p[i] : 0);
}

// fz_build packs a Request from a few bytes (see the file comment).
static void
fz_build(const uint8_t *p, size_t n)
{
	static const char *const states[] = {
	        "", "READY", "EXITED", "CREATED", "BOGUS"};
	Podsandbox__V1__Request       r = PODSANDBOX__V1__REQUEST__INIT;
	Podsandbox__V1__CreateRequest cr =
	        PODSANDBOX__V1__CREATE_REQUEST__INIT;
	Podsandbox__V1__PodSandboxConfig cfg =
	        PODSANDBOX__V1__POD_SANDBOX_CONFIG__INIT;
	Podsandbox__V1__PodSandboxMetadata md =
	        PODSANDBOX__V1__POD_SANDBOX_METADATA__INIT;
	Podsandbox__V1__StartRequest  st = PODSANDBOX__V1__START_REQUEST__INIT;
	Podsandbox__V1__StopRequest   sp = PODSANDBOX__V1__STOP_REQUEST__INIT;
	Podsandbox__V1__WaitRequest   wt = PODSANDBOX__V1__WAIT_REQUEST__INIT;
	Podsandbox__V1__StatusRequest ss =
	        PODSANDBOX__V1__STATUS_REQUEST__INIT;
	Podsandbox__V1__ShutdownRequest sd =
	        PODSANDBOX__V1__SHUTDOWN_REQUEST__INIT;
	Podsandbox__V1__ListRequest   ls = PODSANDBOX__V1__LIST_REQUEST__INIT;
	Podsandbox__V1__EventsRequest es =
	        PODSANDBOX__V1__EVENTS_REQUEST__INIT;
	Podsandbox__V1__HistoryRequest hs =
	        PODSANDBOX__V1__HISTORY_REQUEST__INIT;
	Podsandbox__V1__VersionRequest vs =
	        PODSANDBOX__V1__VERSION_REQUEST__INIT;
	Podsandbox__V1__PlatformRequest ps =
	        PODSANDBOX__V1__PLATFORM_REQUEST__INIT;
	char   *id = (char *)fz_ids[fz_at(p, n, 1) % PSB_NELEM(fz_ids)];
	uint8_t x  = fz_at(p, n, 2);
	uint8_t buf[512];
	size_t  len;

	md.name       = "pod";
	md.uid        = (x & 1) ? "uid-2" : "uid-1"; // another config
	md.namespace_ = "default";
	cfg.metadata  = &md;
	cr.sandbox_id = id;
	cr.config     = &cfg;
	st.sandbox_id = sp.sandbox_id = wt.sandbox_id = id;
	ss.sandbox_id = sd.sandbox_id = hs.sandbox_id = id;
	sp.timeout_secs                               = x % 3;
	wt.timeout_ms                                 = (x % 4) * 5;
	ss.verbose                                    = x & 1;
	ls.state = (char *)states[fz_at(p, n, 3) % PSB_NELEM(states)];
	es.since = x % 8;
	es.limit = x % 4;
	switch (fz_at(p, n, 0) % 11) {
	case 0:
		r.method_case = PODSANDBOX__V1__REQUEST__METHOD_CREATE;
		r.create      = &cr;
		break;
	case 1:
		r.method_case = PODSANDBOX__V1__REQUEST__METHOD_START;
		r.start       = &st;
		break;
	case 2:
		r.method_case = PODSANDBOX__V1__REQUEST__METHOD_STOP;
		r.stop        = &sp;
		break;
	case 3:
		r.method_case = PODSANDBOX__V1__REQUEST__METHOD_WAIT;
		r.wait        = &wt;
		break;
	case 4:
		r.method_case = PODSANDBOX__V1__REQUEST__METHOD_STATUS;
		r.status      = &ss;
		break;
	case 5:
		r.method_case = PODSANDBOX__V1__REQUEST__METHOD_SHUTDOWN;
		r.shutdown    = &sd;
		break;
	case 6:
		r.method_case = PODSANDBOX__V1__REQUEST__METHOD_LIST;
		r.list        = &ls;
		break;
	case 7:
		r.method_case = PODSANDBOX__V1__REQUEST__METHOD_EVENTS;
		r.events      = &es;
		break;
	case 8:
		r.method_case = PODSANDBOX__V1__REQUEST__METHOD_HISTORY;
		r.history     = &hs;
		break;
	case 9:
		r.method_case = PODSANDBOX__V1__REQUEST__METHOD_VERSION;
		r.version     = &vs;
		break;
	default:
		r.method_case = PODSANDBOX__V1__REQUEST__METHOD_PLATFORM;
		r.platform    = &ps;
		break;
	}
	len = podsandbox__v1__request__get_packed_size(&r);
	FZ_CHECK(len <= sizeof(buf));
	podsandbox__v1__request__pack(&r, buf);
	fz_request(buf, len);
}

// ---- the input
// ------------------------------------------------------------------

static void
fz_step(uint8_t op, const uint8_t *p, size_t n)
{
	switch (op % 8) {
	case 0:
	case 1: fz_request(p, n); break;
	case 2: fz_build(p, n); break;
	case 3: fz_run(NULL, fz_at(p, n, 0) % 16); break;
	case 4:
		psb_scripted_script(fz.rt,
		        (psb_rt_op_t)(fz_at(p, n, 0) % PSB_RTOP_COUNT),
		        fz_at(p, n, 1) % 4 == 3
		                ? NULL
		                : fz_ids[fz_at(p, n, 1) % PSB_NELEM(fz_ids)],
		        (psb_script_how_t)(fz_at(p, n, 2) % 5),
		        fz_at(p, n, 3) % 4, fz_at(p, n, 4) % 3 + 1);
		break;
	case 5:
		(void)psb_scripted_exit(fz.rt,
		        fz_ids[fz_at(p, n, 0) % PSB_NELEM(fz_ids)],
		        fz_at(p, n, 1));
		fz_run(NULL, 0);
		break;
	case 6:
		if (fz.ncalls > 0) {
			fz_call_t *call =
			        &fz.calls[fz_at(p, n, 0) % fz.ncalls];

			if (call->submitted) {
				psb_controller_cancel(fz.c, call->token);
			}
			fz_run(NULL, 0);
		}
		break;
	default:
		fz_daemon_stop();
		fz_daemon_start();
		fz_run(NULL, 1);
		break;
	}
}

static void
fz_unlink_db(void)
{
	static const char *const sfx[] = {"", "-wal", "-shm", ".lock"};
	char                     path[340];

	for (size_t i = 0; i < PSB_NELEM(sfx); i++) {
		snprintf(path, sizeof(path), "%s%s", fz_db, sfx[i]);
		unlink(path);
	}
}

static void
fz_cleanup(void)
{
	fz_unlink_db();
	rmdir(fz_scratch("request"));
}

static void
fz_init(void)
{
	int fd;

	if (fz.loop != NULL) {
		return;
	}
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (getenv("PSB_FUZZ_VERBOSE") == NULL) {
		psb_log_setup(PSB_LOG_ERROR, PSB_LOG_TEXT, fd >= 0 ? fd : 2);
	} else {
		psb_log_setup(PSB_LOG_DEBUG, PSB_LOG_TEXT, 2);
		if (fd >= 0) {
			close(fd);
		}
	}
	snprintf(fz_db, sizeof(fz_db), "%s/r.db", fz_scratch("request"));
	fz.loop = ev_loop_new(EVFLAG_AUTO);
	FZ_CHECK(fz.loop != NULL);
	atexit(fz_cleanup);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	psb_error_t err  = PSB_ERROR_INIT;
	size_t      off  = 1;
	int         step = 0;

	if (size == 0) {
		return (0);
	}
	fz_init();
	fz_unlink_db();
	fz.ncalls   = 0;
	fz.last_seq = 0;
	FZ_CHECK(psb_runtime_open("scripted", fz.loop,
	                 (data[0] & 1) ? "network=1" : NULL, &fz.rt,
	                 &err) == 0);
	fz_daemon_start();
	fz_run(NULL, 1);
	while (off + 3 <= size && step++ < FZ_STEPS) {
		uint8_t op  = data[off];
		size_t  len = data[off + 1] | (size_t)data[off + 2] << 8;

		off += 3;
		len = len < size - off ? len : size - off;
		fz_step(op, data + off, len);
		off += len;
	}
	// Shutdown as main.c does it: drain, then free.
	psb_controller_drain(fz.c);
	fz_run(NULL, 1);
	fz_daemon_stop();
	psb_runtime_close(fz.rt);
	fz.rt = NULL;
	for (int i = 0; i < fz.ncalls; i++) {
		if (fz.calls[i].replies != 1) {
			fprintf(stderr,
			        "request_fuzz: request %d (%s %s) got %d "
			        "replies\n",
			        i, psb_method_name(fz.calls[i].method),
			        fz.calls[i].id, fz.calls[i].replies);
			abort();
		}
	}
	return (0);
}
