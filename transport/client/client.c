//
// libpodsandbox - the connection: open, close, the timeout, and the error
// and allocation helpers every file of the library uses.
//
// A client is one REQ socket; every call opens its own nng context on it
// (unary.c), so calls from several threads never share request state.
//

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "client_int.h"

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

int
psb_client_fail(psb_client_error_t *err, int code, const char *fmt, ...)
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

void *
psb_client_xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);
	if (p == NULL) {
		abort();
	}
	return (p);
}

void *
psb_client_xzalloc(size_t n)
{
	void *p = calloc(1, n == 0 ? 1 : n);
	if (p == NULL) {
		abort();
	}
	return (p);
}

char *
psb_client_xstrdup(const char *s)
{
	size_t n = strlen(s != NULL ? s : "") + 1;
	char  *p = psb_client_xmalloc(n);
	memcpy(p, s != NULL ? s : "", n);
	return (p);
}

void
psb_client_copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src != NULL ? src : "");
}

PSB_PUBLIC int
psb_client_open(const char *url, psb_client_t **out, psb_client_error_t *err)
{
	psb_client_t *c;
	int           rv;

	if (url == NULL || *url == '\0') {
		url = PSB_CLIENT_DEFAULT_URL;
	}
	if (strlen(url) >= sizeof(c->url)) {
		return (psb_client_fail(err, PSB_CODE_INVALID_ARGUMENT,
		        "url too long: %s", url));
	}
	c = psb_client_xzalloc(sizeof(*c));
	psb_client_copy(c->url, sizeof(c->url), url);
	atomic_init(&c->timeout_ms, 10000);
	atomic_init(&c->closing, false);
	pthread_mutex_init(&c->mtx, NULL);
	pthread_cond_init(&c->cv, NULL);
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		free(c);
		return (psb_client_fail(err, PSB_CODE_INTERNAL,
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
		return (psb_client_fail(err, code, "cannot dial %s: %s", url,
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
	psb_client_async_reap(c);
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
