//
// libpodsandbox - the callback form of Wait.
//
// The request is built and its answer decoded by the method table like
// any call (unary.c); what is particular here is the aio: its callback
// runs on an nng thread twice (sent, then answered), and neither the aio
// nor its context may be freed on that thread, so finished calls are
// handed back to the client and freed from a caller's thread.
//

#include <stdlib.h>

#include "client_int.h"

typedef struct psb_client_async {
	psb_client_t *c;
	nng_ctx       ctx;
	nng_aio      *aio;
	bool          sent;
	int           send_ms;    // bound on waiting for a connection
	int           timeout_ms; // then on the answer (<= 0: none)
	psb_wait_cb   cb;
	void         *arg;
	// On psb_client.done. Its own list: libpodsandbox is built alone,
	// without base/ (base/list.h is the daemon's).
	struct psb_client_async *next;
} as_call;

// psb_client_async_reap releases finished async Waits. nng_aio_free
// waits for a callback that is still returning, so this must never run
// on the callback of a listed aio: a psb_wait_cb that re-arms with
// psb_client_wait_async is fine, its own aio is listed only afterwards.
void
psb_client_async_reap(psb_client_t *c)
{
	as_call *a;

	pthread_mutex_lock(&c->mtx);
	a       = c->done;
	c->done = NULL;
	pthread_mutex_unlock(&c->mtx);
	while (a != NULL) {
		as_call *next = a->next;
		nng_ctx_close(a->ctx);
		nng_aio_free(a->aio);
		free(a);
		a = next;
	}
}

// as_cb runs on an nng thread twice: when the request is sent
// (then it posts the receive) and when the answer (or an error) is in.
static void
as_cb(void *arg)
{
	as_call           *a  = arg;
	psb_client_t      *c  = a->c;
	int                rv = nng_aio_result(a->aio);
	psb_client_error_t err;
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
		psb_client_transport_error(c, rv, a->sent,
		        a->sent ? a->timeout_ms : a->send_ms, &err);
	} else {
		rv = psb_client_decode(
		        c, PSB_CM_WAIT, nng_aio_get_msg(a->aio), &ex, &err);
	}
	if (rv == 0) {
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
	int                         tmo = psb_client_wait_request(c, 0, &wr);
	as_call                    *a;
	nng_msg                    *m;
	int                         rv;

	if ((rv = psb_client_encode(PSB_CM_WAIT, id, &wr.base, &m, err)) !=
	        0) {
		return (rv);
	}
	if (cb == NULL) {
		nng_msg_free(m);
		return (psb_client_fail(err, PSB_CODE_INVALID_ARGUMENT,
		        "wait_async needs a callback"));
	}
	psb_client_async_reap(c);
	a             = psb_client_xzalloc(sizeof(*a));
	a->c          = c;
	a->cb         = cb;
	a->arg        = arg;
	a->timeout_ms = tmo;
	a->send_ms    = psb_client_timeout_ms(c);
	if ((rv = nng_aio_alloc(&a->aio, as_cb, a)) != 0) {
		free(a);
		nng_msg_free(m);
		return (psb_client_transport_error(c, rv, false, tmo, err));
	}
	if ((rv = nng_ctx_open(&a->ctx, c->sock)) != 0) {
		nng_aio_free(a->aio);
		free(a);
		nng_msg_free(m);
		return (psb_client_transport_error(c, rv, false, tmo, err));
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
