//
// libpodsandbox - the synchronous calls and the async Wait.
//
// Every call opens its own nng context on the client's REQ socket, so
// calls from several threads never share request state, and runs the
// send and the receive on one aio bounded by a single deadline. Protobuf
// types stay in this file (and subscribe.c): the public header speaks
// plain C structs.
//

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "podsandbox.h"
#include "podsandbox.pb-c.h"
#include "transport/config_json.h"

// The library is built with -fvisibility=hidden: only the API in
// podsandbox.h is exported.
#define PSB_PUBLIC __attribute__((visibility("default")))

// A Wait sent with its own deadline is answered by the daemon at that
// deadline; the client gives the answer this much longer to arrive.
#define CLIENT_WAIT_GRACE_MS 1000

typedef Podsandbox__V1__Request  pb_request;
typedef Podsandbox__V1__Response pb_response;

struct psb_client {
	nng_socket      sock;
	char            url[256];
	atomic_int      timeout_ms;
	atomic_bool     closing;
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	unsigned        n_async; // wait_async calls whose callback has not run
	struct client_async *done; // finished wait_async calls, to free
};

static void client_async_free_done(psb_client_t *c);

// Shared with subscribe.c (hidden from the shared library's exports).
int psb_client_events_ms(psb_client_t *c, uint64_t since, uint32_t limit,
        int timeout_ms, psb_event_list_t *out, psb_client_error_t *err);
int psb_client_timeout_ms(const psb_client_t *c);

static const char *const client_code_names[] = {
        [PSB_CODE_OK]                  = "OK",
        [PSB_CODE_CANCELLED]           = "CANCELLED",
        [PSB_CODE_UNKNOWN]             = "UNKNOWN",
        [PSB_CODE_INVALID_ARGUMENT]    = "INVALID_ARGUMENT",
        [PSB_CODE_DEADLINE_EXCEEDED]   = "DEADLINE_EXCEEDED",
        [PSB_CODE_NOT_FOUND]           = "NOT_FOUND",
        [PSB_CODE_ALREADY_EXISTS]      = "ALREADY_EXISTS",
        [PSB_CODE_PERMISSION_DENIED]   = "PERMISSION_DENIED",
        [PSB_CODE_RESOURCE_EXHAUSTED]  = "RESOURCE_EXHAUSTED",
        [PSB_CODE_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
        [PSB_CODE_ABORTED]             = "ABORTED",
        [PSB_CODE_OUT_OF_RANGE]        = "OUT_OF_RANGE",
        [PSB_CODE_UNIMPLEMENTED]       = "UNIMPLEMENTED",
        [PSB_CODE_INTERNAL]            = "INTERNAL",
        [PSB_CODE_UNAVAILABLE]         = "UNAVAILABLE",
        [PSB_CODE_DATA_LOSS]           = "DATA_LOSS",
        [PSB_CODE_UNAUTHENTICATED]     = "UNAUTHENTICATED",
};

PSB_PUBLIC const char *
psb_code_name(int code)
{
	if (code < 0) {
		code = -code;
	}
	if (code >= (int)(sizeof(client_code_names) /
	                    sizeof(client_code_names[0]))) {
		return ("UNKNOWN");
	}
	return (client_code_names[code]);
}

// client_fail fills *err and returns -code.
__attribute__((format(printf, 3, 4))) static int
client_fail(psb_client_error_t *err, int code, const char *fmt, ...)
{
	if (err != NULL) {
		va_list ap;
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return (-code);
}

static void *
client_xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);
	if (p == NULL) {
		abort();
	}
	return (p);
}

static char *
client_xstrdup(const char *s)
{
	size_t n = strlen(s != NULL ? s : "") + 1;
	char  *p = client_xmalloc(n);
	memcpy(p, s != NULL ? s : "", n);
	return (p);
}

static void
client_copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src != NULL ? src : "");
}

// ---- open / close ----

PSB_PUBLIC int
psb_client_open(const char *url, psb_client_t **out, psb_client_error_t *err)
{
	psb_client_t *c;
	int           rv;

	if (url == NULL || *url == '\0') {
		url = PSB_CLIENT_DEFAULT_URL;
	}
	if (strlen(url) >= sizeof(c->url)) {
		return (client_fail(err, PSB_CODE_INVALID_ARGUMENT,
		        "url too long: %s", url));
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		abort();
	}
	client_copy(c->url, sizeof(c->url), url);
	atomic_init(&c->timeout_ms, 10000);
	atomic_init(&c->closing, false);
	pthread_mutex_init(&c->mtx, NULL);
	pthread_cond_init(&c->cv, NULL);
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		free(c);
		return (client_fail(err, PSB_CODE_INTERNAL,
		        "cannot open a REQ socket: %s", nng_strerror(rv)));
	}
	// Never resend: a long Wait (or any request after a reconnect) must
	// not reach the daemon twice. A dropped pipe fails the call instead.
	rv = nng_socket_set_ms(
	        c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	// Non-blocking dial: nng connects in the background and redials
	// whenever the daemon goes away, so a daemon restart is transparent
	// to later calls.
	if (rv == 0) {
		rv = nng_dial(c->sock, url, NULL, NNG_FLAG_NONBLOCK);
	}
	if (rv != 0) {
		int code = rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP ||
		                           rv == NNG_EINVAL
		                   ? PSB_CODE_INVALID_ARGUMENT
		                   : PSB_CODE_UNAVAILABLE;
		nng_close(c->sock);
		pthread_mutex_destroy(&c->mtx);
		pthread_cond_destroy(&c->cv);
		free(c);
		return (client_fail(err, code, "cannot dial %s: %s", url,
		        nng_strerror(rv)));
	}
	*out = c;
	return (0);
}

PSB_PUBLIC void
psb_client_close(psb_client_t *c)
{
	if (c == NULL) {
		return;
	}
	// Closing the socket aborts outstanding async Waits with NNG_ECLOSED;
	// their callbacks still run (with CANCELLED) and must finish before
	// the client's memory goes.
	atomic_store(&c->closing, true);
	nng_close(c->sock);
	pthread_mutex_lock(&c->mtx);
	while (c->n_async > 0) {
		pthread_cond_wait(&c->cv, &c->mtx);
	}
	pthread_mutex_unlock(&c->mtx);
	client_async_free_done(c);
	pthread_mutex_destroy(&c->mtx);
	pthread_cond_destroy(&c->cv);
	free(c);
}

PSB_PUBLIC void
psb_client_set_timeout(psb_client_t *c, int timeout_ms)
{
	atomic_store(&c->timeout_ms, timeout_ms);
}

int
psb_client_timeout_ms(const psb_client_t *c)
{
	return (atomic_load(&c->timeout_ms));
}

// ---- one round trip ----

// client_transport_error maps an nng failure of the send (sent == false)
// or the receive stage to an API code and message.
static int
client_transport_error(const psb_client_t *c, int rv, bool sent,
        int timeout_ms, psb_client_error_t *err)
{
	switch (rv) {
	case NNG_ETIMEDOUT:
		if (!sent) {
			// REQ hands a request to a pipe only once connected:
			// a send that times out never reached any daemon.
			return (client_fail(err, PSB_CODE_UNAVAILABLE,
			        "podsandboxd is not reachable at %s "
			        "(no connection within %d ms)",
			        c->url, timeout_ms));
		}
		return (client_fail(err, PSB_CODE_DEADLINE_EXCEEDED,
		        "no answer from %s within %d ms", c->url, timeout_ms));
	case NNG_ECONNREFUSED:
	case NNG_ECLOSED:
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
	case NNG_ENOENT:
		if (rv == NNG_ECLOSED) {
			return (client_fail(err, PSB_CODE_CANCELLED,
			        "client for %s closed", c->url));
		}
		return (client_fail(err, PSB_CODE_UNAVAILABLE,
		        "podsandboxd is not reachable at %s (%s)", c->url,
		        nng_strerror(rv)));
	case NNG_ECANCELED:
		return (client_fail(err, PSB_CODE_CANCELLED,
		        "call to %s cancelled", c->url));
	case NNG_ENOMEM:
		return (client_fail(err, PSB_CODE_RESOURCE_EXHAUSTED,
		        "out of memory talking to %s", c->url));
	case NNG_EMSGSIZE:
		return (client_fail(err, PSB_CODE_RESOURCE_EXHAUSTED,
		        "message too large for %s", c->url));
	default:
		return (client_fail(err, PSB_CODE_UNKNOWN, "talking to %s: %s",
		        c->url, nng_strerror(rv)));
	}
}

// client_pack returns req as a new nng message.
static int
client_pack(const pb_request *req, nng_msg **out, psb_client_error_t *err)
{
	size_t   len = podsandbox__v1__request__get_packed_size(req);
	nng_msg *m;
	int      rv;

	if ((rv = nng_msg_alloc(&m, len)) != 0) {
		return (client_fail(err, PSB_CODE_RESOURCE_EXHAUSTED,
		        "cannot allocate a %zu byte request", len));
	}
	podsandbox__v1__request__pack(req, nng_msg_body(m));
	*out = m;
	return (0);
}

// client_decode unpacks m (which it frees) and checks the status and that
// the result is `want`. On success *out owns the Response.
static int
client_decode(const char *url, nng_msg *m,
        Podsandbox__V1__Response__ResultCase want, pb_response **out,
        psb_client_error_t *err)
{
	pb_response *resp = podsandbox__v1__response__unpack(
	        NULL, nng_msg_len(m), nng_msg_body(m));
	nng_msg_free(m);
	if (resp == NULL) {
		return (client_fail(err, PSB_CODE_INTERNAL,
		        "malformed response from %s", url));
	}
	if (resp->status != NULL &&
	        resp->status->code != PODSANDBOX__V1__CODE__OK) {
		int         code = (int)resp->status->code;
		const char *msg  = resp->status->message;
		int         rv;
		if (code < 0 || code > PSB_CODE_UNAUTHENTICATED) {
			code = PSB_CODE_UNKNOWN;
		}
		rv = client_fail(err, code, "%s",
		        msg != NULL && *msg != '\0' ? msg
		                                    : psb_code_name(code));
		podsandbox__v1__response__free_unpacked(resp, NULL);
		return (rv);
	}
	if (resp->result_case != want) {
		int got = (int)resp->result_case;
		podsandbox__v1__response__free_unpacked(resp, NULL);
		return (client_fail(err, PSB_CODE_INTERNAL,
		        "unexpected response from %s (result %d, want %d)",
		        url, got, (int)want));
	}
	*out = resp;
	return (0);
}

// client_call sends req and waits for the answer, all within timeout_ms
// (<= 0: no limit once sent; the send itself - waiting for a connection -
// stays bounded by the client's timeout, so a Wait for ever on a daemon
// that is not there still fails UNAVAILABLE).
static int
client_call(psb_client_t *c, const pb_request *req, int timeout_ms,
        Podsandbox__V1__Response__ResultCase want, pb_response **out,
        psb_client_error_t *err)
{
	nng_ctx      ctx;
	nng_aio     *aio;
	nng_msg     *m;
	nng_duration left;
	nng_time     deadline = 0;
	bool         sent     = false;
	int          send_ms  = timeout_ms;
	int          rv;

	if (send_ms <= 0) {
		send_ms = psb_client_timeout_ms(c);
	}
	if ((rv = client_pack(req, &m, err)) != 0) {
		return (rv);
	}
	if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0) {
		nng_msg_free(m);
		return (client_transport_error(c, rv, false, send_ms, err));
	}
	if ((rv = nng_ctx_open(&ctx, c->sock)) != 0) {
		nng_msg_free(m);
		nng_aio_free(aio);
		return (client_transport_error(c, rv, false, send_ms, err));
	}
	if (timeout_ms > 0) {
		deadline = nng_clock() + (nng_time)timeout_ms;
	}
	nng_aio_set_timeout(
	        aio, send_ms > 0 ? send_ms : NNG_DURATION_INFINITE);
	nng_aio_set_msg(aio, m);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		// A failed send leaves the message with us.
		nng_msg_free(nng_aio_get_msg(aio));
		goto fail;
	}
	sent = true;
	left = NNG_DURATION_INFINITE;
	if (timeout_ms > 0) {
		nng_time now = nng_clock();
		left = now >= deadline ? 1 : (nng_duration)(deadline - now);
	}
	nng_aio_set_timeout(aio, left);
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		goto fail;
	}
	m = nng_aio_get_msg(aio);
	nng_ctx_close(ctx);
	nng_aio_free(aio);
	return (client_decode(c->url, m, want, out, err));

fail:
	nng_ctx_close(ctx);
	nng_aio_free(aio);
	return (client_transport_error(
	        c, rv, sent, sent ? timeout_ms : send_ms, err));
}

// ---- conversions ----

// client_map_json renders protobuf-c map entries (all map entries share
// the key/value layout) as a JSON object text.
static char *
client_map_json(size_t n, void *const *entries)
{
	json_t *obj = json_object();
	char   *s;
	for (size_t i = 0; i < n; i++) {
		const Podsandbox__V1__ControllerStatus__LabelsEntry *e =
		        entries[i];
		json_object_set_new(obj, e->key, json_string(e->value));
	}
	s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	return (s != NULL ? s : client_xstrdup("{}"));
}

static void
client_status_from_pb(
        const Podsandbox__V1__ControllerStatus *s, psb_sandbox_status_t *o)
{
	memset(o, 0, sizeof(*o));
	client_copy(o->sandbox_id, sizeof(o->sandbox_id), s->sandbox_id);
	client_copy(o->state, sizeof(o->state), s->state);
	o->pid             = s->pid;
	o->generation      = s->generation;
	o->created_at      = s->created_at;
	o->started_at      = s->started_at;
	o->exited_at       = s->exited_at;
	o->exit_status     = s->exit_status;
	o->labels_json     = client_map_json(s->n_labels, (void *)s->labels);
	o->runtime_handler = client_xstrdup(s->runtime_handler);
	o->name = client_xstrdup(s->metadata != NULL ? s->metadata->name : "");
	o->namespace_ = client_xstrdup(
	        s->metadata != NULL ? s->metadata->namespace_ : "");
	for (size_t i = 0; i < s->n_info; i++) {
		if (strcmp(s->info[i]->key, "info") == 0) {
			o->info_json = client_xstrdup(s->info[i]->value);
		}
	}
}

static void
client_event_from_pb(const Podsandbox__V1__Event *e, psb_event_t *o)
{
	memset(o, 0, sizeof(*o));
	o->seq = e->seq;
	client_copy(o->sandbox_id, sizeof(o->sandbox_id), e->sandbox_id);
	client_copy(o->from, sizeof(o->from), e->from_state);
	client_copy(o->event, sizeof(o->event), e->event);
	client_copy(o->to, sizeof(o->to), e->to_state);
	o->time        = e->time;
	o->exit_status = e->exit_status;
	o->generation  = e->generation;
}

static void
client_events_from_pb(
        size_t n, Podsandbox__V1__Event *const *ev, psb_event_list_t *o)
{
	memset(o, 0, sizeof(*o));
	o->events = client_xmalloc(n * sizeof(*o->events));
	o->n      = n;
	for (size_t i = 0; i < n; i++) {
		client_event_from_pb(ev[i], &o->events[i]);
	}
}

static int
client_check_id(const char *id, psb_client_error_t *err)
{
	if (id == NULL || *id == '\0') {
		return (client_fail(err, PSB_CODE_INVALID_ARGUMENT,
		        "sandbox id is empty"));
	}
	return (0);
}

// ---- the calls ----

PSB_PUBLIC int
psb_config_from_json(
        const char *json, void **bytes, size_t *len, psb_client_error_t *err)
{
	Podsandbox__V1__PodSandboxConfig *cfg;
	json_error_t                      jerr;
	json_t                           *root;
	char                             *msg = NULL;
	size_t                            n;

	root = json_loads(json != NULL ? json : "", 0, &jerr);
	if (root == NULL) {
		return (client_fail(err, PSB_CODE_INVALID_ARGUMENT,
		        "pod config: line %d column %d: %s", jerr.line,
		        jerr.column, jerr.text));
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return (client_fail(err, PSB_CODE_INVALID_ARGUMENT,
		        "pod config: expected a JSON object"));
	}
	cfg = psb_pbjson_config_from_json(root, &msg);
	json_decref(root);
	if (cfg == NULL) {
		int rv = client_fail(err, PSB_CODE_INVALID_ARGUMENT,
		        "pod config: %s", msg != NULL ? msg : "invalid");
		free(msg);
		return (rv);
	}
	free(msg);
	n      = podsandbox__v1__pod_sandbox_config__get_packed_size(cfg);
	*bytes = client_xmalloc(n);
	podsandbox__v1__pod_sandbox_config__pack(cfg, *bytes);
	*len = n;
	psb_pbjson_config_free(cfg);
	return (0);
}

PSB_PUBLIC int
psb_client_create(psb_client_t *c, const char *id, const void *config,
        size_t config_len, const char *runtime_handler,
        psb_client_error_t *err)
{
	Podsandbox__V1__CreateRequest cr =
	        PODSANDBOX__V1__CREATE_REQUEST__INIT;
	pb_request                        req = PODSANDBOX__V1__REQUEST__INIT;
	Podsandbox__V1__PodSandboxConfig *cfg;
	pb_response                      *resp;
	int                               rv;

	if ((rv = client_check_id(id, err)) != 0) {
		return (rv);
	}
	cfg = podsandbox__v1__pod_sandbox_config__unpack(
	        NULL, config_len, config);
	if (cfg == NULL) {
		return (client_fail(err, PSB_CODE_INVALID_ARGUMENT,
		        "config is not an encoded PodSandboxConfig"));
	}
	cr.sandbox_id = (char *)id;
	cr.config     = cfg;
	cr.runtime_handler =
	        (char *)(runtime_handler != NULL ? runtime_handler : "");
	req.method_case = PODSANDBOX__V1__REQUEST__METHOD_CREATE;
	req.create      = &cr;
	rv              = client_call(c, &req, psb_client_timeout_ms(c),
	                     PODSANDBOX__V1__RESPONSE__RESULT_CREATE, &resp, err);
	podsandbox__v1__pod_sandbox_config__free_unpacked(cfg, NULL);
	if (rv == 0) {
		podsandbox__v1__response__free_unpacked(resp, NULL);
	}
	return (rv);
}

PSB_PUBLIC int
psb_client_start(psb_client_t *c, const char *id, psb_instance_t *out,
        psb_client_error_t *err)
{
	Podsandbox__V1__StartRequest sr  = PODSANDBOX__V1__START_REQUEST__INIT;
	pb_request                   req = PODSANDBOX__V1__REQUEST__INIT;
	pb_response                 *resp;
	int                          rv;

	if ((rv = client_check_id(id, err)) != 0) {
		return (rv);
	}
	sr.sandbox_id   = (char *)id;
	req.method_case = PODSANDBOX__V1__REQUEST__METHOD_START;
	req.start       = &sr;
	rv              = client_call(c, &req, psb_client_timeout_ms(c),
	                     PODSANDBOX__V1__RESPONSE__RESULT_START, &resp, err);
	if (rv != 0) {
		return (rv);
	}
	if (out != NULL) {
		const Podsandbox__V1__ControllerInstance *in = resp->start;
		memset(out, 0, sizeof(*out));
		client_copy(out->sandbox_id, sizeof(out->sandbox_id),
		        in->sandbox_id);
		out->pid        = in->pid;
		out->created_at = in->created_at;
		out->labels_json =
		        client_map_json(in->n_labels, (void *)in->labels);
	}
	podsandbox__v1__response__free_unpacked(resp, NULL);
	return (0);
}

PSB_PUBLIC int
psb_client_stop(psb_client_t *c, const char *id, uint32_t timeout_secs,
        psb_client_error_t *err)
{
	Podsandbox__V1__StopRequest sr  = PODSANDBOX__V1__STOP_REQUEST__INIT;
	pb_request                  req = PODSANDBOX__V1__REQUEST__INIT;
	pb_response                *resp;
	int                         tmo = psb_client_timeout_ms(c);
	int                         rv;

	if ((rv = client_check_id(id, err)) != 0) {
		return (rv);
	}
	// The daemon answers at timeout_secs itself; do not give up first.
	if (tmo > 0 && timeout_secs > 0 &&
	        (int64_t)timeout_secs * 1000 + CLIENT_WAIT_GRACE_MS > tmo) {
		int64_t want =
		        (int64_t)timeout_secs * 1000 + CLIENT_WAIT_GRACE_MS;
		tmo = want > INT32_MAX ? 0 : (int)want;
	}
	sr.sandbox_id   = (char *)id;
	sr.timeout_secs = timeout_secs;
	req.method_case = PODSANDBOX__V1__REQUEST__METHOD_STOP;
	req.stop        = &sr;
	rv = client_call(c, &req, tmo, PODSANDBOX__V1__RESPONSE__RESULT_STOP,
	        &resp, err);
	if (rv == 0) {
		podsandbox__v1__response__free_unpacked(resp, NULL);
	}
	return (rv);
}

PSB_PUBLIC int
psb_client_shutdown(psb_client_t *c, const char *id, psb_client_error_t *err)
{
	Podsandbox__V1__ShutdownRequest sr =
	        PODSANDBOX__V1__SHUTDOWN_REQUEST__INIT;
	pb_request   req = PODSANDBOX__V1__REQUEST__INIT;
	pb_response *resp;
	int          rv;

	if ((rv = client_check_id(id, err)) != 0) {
		return (rv);
	}
	sr.sandbox_id   = (char *)id;
	req.method_case = PODSANDBOX__V1__REQUEST__METHOD_SHUTDOWN;
	req.shutdown    = &sr;
	rv              = client_call(c, &req, psb_client_timeout_ms(c),
	                     PODSANDBOX__V1__RESPONSE__RESULT_SHUTDOWN, &resp, err);
	if (rv == 0) {
		podsandbox__v1__response__free_unpacked(resp, NULL);
	}
	return (rv);
}

// client_wait_request fills a WaitRequest for timeout_ms (0 = the
// client's timeout, < 0 = for ever) and returns the client-side limit.
static int
client_wait_request(psb_client_t *c, const char *id, int timeout_ms,
        Podsandbox__V1__WaitRequest *wr)
{
	if (timeout_ms == 0) {
		timeout_ms = psb_client_timeout_ms(c);
	}
	wr->sandbox_id = (char *)id;
	if (timeout_ms <= 0) {
		wr->timeout_ms = 0;
		return (0);
	}
	wr->timeout_ms = (uint32_t)timeout_ms;
	return (timeout_ms > INT32_MAX - CLIENT_WAIT_GRACE_MS
	                ? 0
	                : timeout_ms + CLIENT_WAIT_GRACE_MS);
}

PSB_PUBLIC int
psb_client_wait(psb_client_t *c, const char *id, int timeout_ms,
        psb_exit_t *out, psb_client_error_t *err)
{
	Podsandbox__V1__WaitRequest wr  = PODSANDBOX__V1__WAIT_REQUEST__INIT;
	pb_request                  req = PODSANDBOX__V1__REQUEST__INIT;
	pb_response                *resp;
	int                         tmo;
	int                         rv;

	if ((rv = client_check_id(id, err)) != 0) {
		return (rv);
	}
	tmo             = client_wait_request(c, id, timeout_ms, &wr);
	req.method_case = PODSANDBOX__V1__REQUEST__METHOD_WAIT;
	req.wait        = &wr;
	rv = client_call(c, &req, tmo, PODSANDBOX__V1__RESPONSE__RESULT_WAIT,
	        &resp, err);
	if (rv != 0) {
		return (rv);
	}
	if (out != NULL) {
		out->exit_status = resp->wait->exit_status;
		out->exited_at   = resp->wait->exited_at;
	}
	podsandbox__v1__response__free_unpacked(resp, NULL);
	return (0);
}

PSB_PUBLIC int
psb_client_status(psb_client_t *c, const char *id, bool verbose,
        psb_sandbox_status_t *out, psb_client_error_t *err)
{
	Podsandbox__V1__StatusRequest sr =
	        PODSANDBOX__V1__STATUS_REQUEST__INIT;
	pb_request   req = PODSANDBOX__V1__REQUEST__INIT;
	pb_response *resp;
	int          rv;

	if ((rv = client_check_id(id, err)) != 0) {
		return (rv);
	}
	sr.sandbox_id   = (char *)id;
	sr.verbose      = verbose;
	req.method_case = PODSANDBOX__V1__REQUEST__METHOD_STATUS;
	req.status      = &sr;
	rv              = client_call(c, &req, psb_client_timeout_ms(c),
	                     PODSANDBOX__V1__RESPONSE__RESULT_SANDBOX_STATUS, &resp, err);
	if (rv != 0) {
		return (rv);
	}
	if (out != NULL) {
		client_status_from_pb(resp->sandbox_status, out);
	}
	podsandbox__v1__response__free_unpacked(resp, NULL);
	return (0);
}

// client_selector parses a JSON object of string labels into map entries
// (borrowing the strings from obj).
static int
client_selector(json_t *obj, Podsandbox__V1__ListRequest *lr,
        Podsandbox__V1__ListRequest__LabelSelectorEntry **entries,
        psb_client_error_t                               *err)
{
	const char *key;
	json_t     *val;
	size_t      i = 0;

	json_object_foreach(obj, key, val)
	{
		if (!json_is_string(val)) {
			return (client_fail(err, PSB_CODE_INVALID_ARGUMENT,
			        "label selector: %s: expected a string", key));
		}
		podsandbox__v1__list_request__label_selector_entry__init(
		        entries[i]);
		entries[i]->key   = (char *)key;
		entries[i]->value = (char *)json_string_value(val);
		i++;
	}
	lr->n_label_selector = i;
	lr->label_selector   = entries;
	return (0);
}

PSB_PUBLIC int
psb_client_list(psb_client_t *c, const char *state, const char *selector_json,
        psb_sandbox_status_t **out, size_t *n, psb_client_error_t *err)
{
	Podsandbox__V1__ListRequest lr  = PODSANDBOX__V1__LIST_REQUEST__INIT;
	pb_request                  req = PODSANDBOX__V1__REQUEST__INIT;
	Podsandbox__V1__ListRequest__LabelSelectorEntry  *store = NULL;
	Podsandbox__V1__ListRequest__LabelSelectorEntry **ptrs  = NULL;
	json_t                                           *sel   = NULL;
	pb_response                                      *resp;
	int                                               rv;

	if (selector_json != NULL && *selector_json != '\0') {
		json_error_t jerr;
		size_t       k;
		sel = json_loads(selector_json, 0, &jerr);
		if (sel == NULL || !json_is_object(sel)) {
			json_decref(sel);
			return (client_fail(err, PSB_CODE_INVALID_ARGUMENT,
			        "label selector: expected a JSON object"));
		}
		k     = json_object_size(sel);
		store = client_xmalloc(k * sizeof(*store));
		ptrs  = client_xmalloc(k * sizeof(*ptrs));
		for (size_t i = 0; i < k; i++) {
			ptrs[i] = &store[i];
		}
		if ((rv = client_selector(sel, &lr, ptrs, err)) != 0) {
			goto out;
		}
	}
	lr.state        = (char *)(state != NULL ? state : "");
	req.method_case = PODSANDBOX__V1__REQUEST__METHOD_LIST;
	req.list        = &lr;
	rv              = client_call(c, &req, psb_client_timeout_ms(c),
	                     PODSANDBOX__V1__RESPONSE__RESULT_LIST, &resp, err);
	if (rv != 0) {
		goto out;
	}
	{
		const Podsandbox__V1__ListResponse *l = resp->list;
		psb_sandbox_status_t               *v =
		        client_xmalloc(l->n_sandboxes * sizeof(*v));
		for (size_t i = 0; i < l->n_sandboxes; i++) {
			client_status_from_pb(l->sandboxes[i], &v[i]);
		}
		*out = v;
		*n   = l->n_sandboxes;
	}
	podsandbox__v1__response__free_unpacked(resp, NULL);
out:
	free(ptrs);
	free(store);
	json_decref(sel);
	return (rv);
}

PSB_PUBLIC int
psb_client_platform(
        psb_client_t *c, psb_platform_info_t *out, psb_client_error_t *err)
{
	Podsandbox__V1__PlatformRequest pr =
	        PODSANDBOX__V1__PLATFORM_REQUEST__INIT;
	pb_request   req = PODSANDBOX__V1__REQUEST__INIT;
	pb_response *resp;
	int          rv;

	req.method_case = PODSANDBOX__V1__REQUEST__METHOD_PLATFORM;
	req.platform    = &pr;
	rv              = client_call(c, &req, psb_client_timeout_ms(c),
	                     PODSANDBOX__V1__RESPONSE__RESULT_PLATFORM, &resp, err);
	if (rv != 0) {
		return (rv);
	}
	if (out != NULL) {
		client_copy(out->os, sizeof(out->os), resp->platform->os);
		client_copy(out->architecture, sizeof(out->architecture),
		        resp->platform->architecture);
		client_copy(out->variant, sizeof(out->variant),
		        resp->platform->variant);
	}
	podsandbox__v1__response__free_unpacked(resp, NULL);
	return (0);
}

PSB_PUBLIC int
psb_client_version(
        psb_client_t *c, psb_daemon_version_t *out, psb_client_error_t *err)
{
	Podsandbox__V1__VersionRequest vr =
	        PODSANDBOX__V1__VERSION_REQUEST__INIT;
	pb_request   req = PODSANDBOX__V1__REQUEST__INIT;
	pb_response *resp;
	int          rv;

	req.method_case = PODSANDBOX__V1__REQUEST__METHOD_VERSION;
	req.version     = &vr;
	rv              = client_call(c, &req, psb_client_timeout_ms(c),
	                     PODSANDBOX__V1__RESPONSE__RESULT_VERSION, &resp, err);
	if (rv != 0) {
		return (rv);
	}
	if (out != NULL) {
		const Podsandbox__V1__VersionResponse *v = resp->version;
		memset(out, 0, sizeof(*out));
		client_copy(out->version, sizeof(out->version), v->version);
		client_copy(out->runtime, sizeof(out->runtime), v->runtime);
		out->api_version            = v->api_version;
		out->runtime_is_test_double = v->runtime_is_test_double;
		out->sandboxes              = v->sandboxes;
		out->commit_failures        = v->commit_failures;
		out->newest_seq             = v->newest_seq;
		out->missed_exits           = v->missed_exits;
	}
	podsandbox__v1__response__free_unpacked(resp, NULL);
	return (0);
}

int
psb_client_events_ms(psb_client_t *c, uint64_t since, uint32_t limit,
        int timeout_ms, psb_event_list_t *out, psb_client_error_t *err)
{
	Podsandbox__V1__EventsRequest er =
	        PODSANDBOX__V1__EVENTS_REQUEST__INIT;
	pb_request   req = PODSANDBOX__V1__REQUEST__INIT;
	pb_response *resp;
	int          rv;

	er.since        = since;
	er.limit        = limit;
	req.method_case = PODSANDBOX__V1__REQUEST__METHOD_EVENTS;
	req.events      = &er;
	rv              = client_call(c, &req, timeout_ms,
	                     PODSANDBOX__V1__RESPONSE__RESULT_EVENTS, &resp, err);
	if (rv != 0) {
		return (rv);
	}
	client_events_from_pb(
	        resp->events->n_events, resp->events->events, out);
	out->oldest_seq = resp->events->oldest_seq;
	out->newest_seq = resp->events->newest_seq;
	out->truncated  = resp->events->truncated;
	out->more       = resp->events->more;
	podsandbox__v1__response__free_unpacked(resp, NULL);
	return (0);
}

PSB_PUBLIC int
psb_client_events(psb_client_t *c, uint64_t since, uint32_t limit,
        psb_event_list_t *out, psb_client_error_t *err)
{
	return (psb_client_events_ms(
	        c, since, limit, psb_client_timeout_ms(c), out, err));
}

PSB_PUBLIC int
psb_client_history(psb_client_t *c, const char *id, psb_event_list_t *out,
        psb_client_error_t *err)
{
	Podsandbox__V1__HistoryRequest hr =
	        PODSANDBOX__V1__HISTORY_REQUEST__INIT;
	pb_request   req = PODSANDBOX__V1__REQUEST__INIT;
	pb_response *resp;
	int          rv;

	if ((rv = client_check_id(id, err)) != 0) {
		return (rv);
	}
	hr.sandbox_id   = (char *)id;
	req.method_case = PODSANDBOX__V1__REQUEST__METHOD_HISTORY;
	req.history     = &hr;
	rv              = client_call(c, &req, psb_client_timeout_ms(c),
	                     PODSANDBOX__V1__RESPONSE__RESULT_HISTORY, &resp, err);
	if (rv != 0) {
		return (rv);
	}
	client_events_from_pb(
	        resp->history->n_events, resp->history->events, out);
	podsandbox__v1__response__free_unpacked(resp, NULL);
	return (0);
}

// ---- free ----

PSB_PUBLIC void
psb_instance_free(psb_instance_t *x)
{
	if (x != NULL) {
		free(x->labels_json);
		x->labels_json = NULL;
	}
}

PSB_PUBLIC void
psb_sandbox_status_free(psb_sandbox_status_t *x)
{
	if (x == NULL) {
		return;
	}
	free(x->labels_json);
	free(x->runtime_handler);
	free(x->name);
	free(x->namespace_);
	free(x->info_json);
	x->labels_json     = NULL;
	x->runtime_handler = NULL;
	x->name            = NULL;
	x->namespace_      = NULL;
	x->info_json       = NULL;
}

PSB_PUBLIC void
psb_sandbox_status_list_free(psb_sandbox_status_t *v, size_t n)
{
	if (v == NULL) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		psb_sandbox_status_free(&v[i]);
	}
	free(v);
}

PSB_PUBLIC void
psb_event_list_free(psb_event_list_t *l)
{
	if (l != NULL) {
		free(l->events);
		l->events = NULL;
		l->n      = 0;
	}
}

// ---- async Wait ----

typedef struct client_async {
	psb_client_t        *c;
	nng_ctx              ctx;
	nng_aio             *aio;
	bool                 sent;
	int                  send_ms;    // bound on waiting for a connection
	int                  timeout_ms; // then on the answer (<= 0: none)
	psb_wait_cb          cb;
	void                *arg;
	struct client_async *next; // on psb_client.done
} client_async;

// client_async_free_done releases finished async Waits. nng_aio_free
// waits for a callback that is still returning, so this must never run
// on the callback of a listed aio: a psb_wait_cb that re-arms with
// psb_client_wait_async is fine, its own aio is listed only afterwards.
static void
client_async_free_done(psb_client_t *c)
{
	client_async *a;

	pthread_mutex_lock(&c->mtx);
	a       = c->done;
	c->done = NULL;
	pthread_mutex_unlock(&c->mtx);
	while (a != NULL) {
		client_async *next = a->next;
		nng_ctx_close(a->ctx);
		nng_aio_free(a->aio);
		free(a);
		a = next;
	}
}

// client_async_cb runs on an nng thread twice: when the request is sent
// (then it posts the receive) and when the answer (or an error) is in.
static void
client_async_cb(void *arg)
{
	client_async      *a  = arg;
	psb_client_t      *c  = a->c;
	int                rv = nng_aio_result(a->aio);
	psb_client_error_t err;
	pb_response       *resp = NULL;
	psb_exit_t         ex;

	if (!a->sent && rv == 0) {
		a->sent = true;
		nng_aio_set_timeout(a->aio, a->timeout_ms > 0
		                                    ? a->timeout_ms
		                                    : NNG_DURATION_INFINITE);
		nng_ctx_recv(a->ctx, a->aio);
		return;
	}
	if (rv != 0) {
		if (!a->sent) {
			nng_msg_free(nng_aio_get_msg(a->aio));
		}
		// Closing the socket drops its pipes first, so the Wait may
		// fail with ECONNRESET rather than ECLOSED.
		if (atomic_load(&c->closing)) {
			rv = NNG_ECLOSED;
		}
		client_transport_error(c, rv, a->sent,
		        a->sent ? a->timeout_ms : a->send_ms, &err);
	} else {
		rv = client_decode(c->url, nng_aio_get_msg(a->aio),
		        PODSANDBOX__V1__RESPONSE__RESULT_WAIT, &resp, &err);
	}
	if (resp != NULL) {
		ex.exit_status = resp->wait->exit_status;
		ex.exited_at   = resp->wait->exited_at;
		podsandbox__v1__response__free_unpacked(resp, NULL);
		a->cb(a->arg, 0, &ex, NULL);
	} else {
		a->cb(a->arg, err.code, NULL, err.message);
	}
	// Neither the aio nor its context may be released from the aio's
	// own callback (nng may still touch them when it returns): hand
	// them to the client, which frees them from a thread of the caller.
	pthread_mutex_lock(&c->mtx);
	a->next = c->done;
	c->done = a;
	if (--c->n_async == 0) {
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mtx);
}

PSB_PUBLIC int
psb_client_wait_async(psb_client_t *c, const char *id, psb_wait_cb cb,
        void *arg, psb_client_error_t *err)
{
	Podsandbox__V1__WaitRequest wr  = PODSANDBOX__V1__WAIT_REQUEST__INIT;
	pb_request                  req = PODSANDBOX__V1__REQUEST__INIT;
	client_async               *a;
	nng_msg                    *m;
	int                         tmo;
	int                         rv;

	if ((rv = client_check_id(id, err)) != 0) {
		return (rv);
	}
	if (cb == NULL) {
		return (client_fail(err, PSB_CODE_INVALID_ARGUMENT,
		        "wait_async needs a callback"));
	}
	client_async_free_done(c);
	tmo             = client_wait_request(c, id, 0, &wr);
	req.method_case = PODSANDBOX__V1__REQUEST__METHOD_WAIT;
	req.wait        = &wr;
	if ((rv = client_pack(&req, &m, err)) != 0) {
		return (rv);
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		abort();
	}
	a->c          = c;
	a->cb         = cb;
	a->arg        = arg;
	a->timeout_ms = tmo;
	a->send_ms    = psb_client_timeout_ms(c);
	if ((rv = nng_aio_alloc(&a->aio, client_async_cb, a)) != 0) {
		free(a);
		nng_msg_free(m);
		return (client_transport_error(c, rv, false, tmo, err));
	}
	if ((rv = nng_ctx_open(&a->ctx, c->sock)) != 0) {
		nng_aio_free(a->aio);
		free(a);
		nng_msg_free(m);
		return (client_transport_error(c, rv, false, tmo, err));
	}
	// One timeout for each stage; the daemon answers at wr.timeout_ms.
	nng_aio_set_timeout(
	        a->aio, a->send_ms > 0 ? a->send_ms : NNG_DURATION_INFINITE);
	nng_aio_set_msg(a->aio, m);
	pthread_mutex_lock(&c->mtx);
	c->n_async++;
	pthread_mutex_unlock(&c->mtx);
	nng_ctx_send(a->ctx, a->aio);
	return (0);
}
