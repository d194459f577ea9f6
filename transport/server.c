//
// podsandboxd - the API server and the event publisher over nng (see
// server.h; DESIGN.md §5, §8; reference/stack-notes.md §C).
//
// Every request lives in a slot: one nng_ctx plus one nng_aio. A slot is
// RECV (in nng_ctx_recv), HELD (with the dispatcher), SEND (in
// nng_ctx_send) or IDLE (parked for reuse). The server keeps `contexts`
// slots in RECV at all times: a slot that leaves RECV is replaced at the
// end of the wake-up, so 1,000 held Waits never shrink the receive pool.
//
// Threads: aio and pipe callbacks run on nng's threads. They only append
// to a mutex-protected queue and ev_async_send; everything else (slots,
// counters, the dispatcher) is touched on the loop thread only. The
// publisher is publisher.c, the socket setup listen.c.
//
// Message size: nng itself drops a message larger than NNG_OPT_RECVMAXSZ
// (and, on ipc, closes the pipe) without telling us, so RECVMAXSZ is set to
// 4 x max_msg_bytes and requests between max_msg_bytes and that get a
// RESOURCE_EXHAUSTED reply. Beyond 4 x the limit the client sees its
// connection dropped and no reply: an nng REQ with resend off (as
// docs/api.md asks) fails the receive with NNG_ECONNRESET at once.
//

#include "transport/server_int.h"

#include <errno.h>
#include <ev.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/transport/ipc/ipc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "transport/codec.h"

static void srv_recycle(psb_server_t *s, srv_slot *sl);

// ---- the quick way: reads answered on the nng thread ----
//
// A round trip through the loop (queue, ev_async_send, the loop's
// wake-up, back to nng to send) costs more CPU than the answer itself
// (docs/performance.md). A request that the dispatcher's read can answer
// from what is committed is answered on the nng thread that received
// it, and the slot goes straight back to receiving: the loop never sees
// it and keeps counting it as receiving. What the quick way declines or
// cannot do (a peer to refuse, a size to refuse, bad bytes, any other
// method, an encoding failure) goes to the loop exactly as before, with
// the request still in the aio.

typedef struct srv_quick_ans {
	void  *buf;
	size_t len;
} srv_quick_ans;

static void
srv_quick_reply_cb(void *arg, const psb_reply_t *reply)
{
	srv_quick_ans *q = arg;

	if (psb_codec_encode_reply(reply, &q->buf, &q->len) != 0) {
		q->buf = NULL;
	}
}

// srv_quick answers the slot's received request on this thread, or
// returns false and leaves everything as it was.
static bool
srv_quick(psb_server_t *s, srv_slot *sl)
{
	nng_msg             *m, *r;
	nng_pipe             p;
	uint64_t             uid = UINT64_MAX, gid = UINT64_MAX;
	psb_request_t        req    = {0};
	psb_codec_request_t *holder = NULL;
	psb_error_t          err    = PSB_ERROR_INIT;
	srv_quick_ans        q      = {NULL, 0};
	bool                 answered;

	if (s->dispatch.read == NULL || atomic_load(&s->quick_off) ||
	        nng_aio_result(sl->aio) != 0 ||
	        (m = nng_aio_get_msg(sl->aio)) == NULL ||
	        nng_msg_len(m) > s->max_msg) {
		return (false);
	}
	p = nng_msg_get_pipe(m);
	if (!s->rep_nocred &&
	        (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid) != 0 ||
	                nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_GID, &gid) !=
	                        0 ||
	                !srv_peer_allowed(s, uid, gid))) {
		return (false);
	}
	if (psb_codec_decode_request(nng_msg_body(m), nng_msg_len(m), &req,
	            &holder, &err) != 0) {
		psb_error_release(&err);
		return (false);
	}
	answered = s->dispatch.read(
	        s->dispatch.arg, &req, srv_quick_reply_cb, &q);
	psb_codec_request_free(holder);
	if (!answered) {
		return (false);
	}
	if (q.buf == NULL || nng_msg_alloc(&r, q.len) != 0) {
		free(q.buf);
		return (false);
	}
	memcpy(nng_msg_body(r), q.buf, q.len);
	free(q.buf);
	nng_aio_set_msg(sl->aio, r);
	nng_msg_free(m);
	sl->quick = true;
	atomic_fetch_add(&s->nquick, 1);
	nng_aio_set_timeout(sl->aio, NNG_DURATION_INFINITE);
	nng_ctx_send(sl->ctx, sl->aio);
	return (true);
}

// srv_quick_sent: a quick reply's send finished. The slot receives again,
// unless the server is stopping or the send failed: then it goes to the
// loop as a receive that ended without a request (false).
static bool
srv_quick_sent(psb_server_t *s, srv_slot *sl)
{
	int      rv = nng_aio_result(sl->aio);
	nng_msg *m;

	sl->quick = false;
	if (rv != 0 && (m = nng_aio_get_msg(sl->aio)) != NULL) {
		nng_aio_set_msg(sl->aio, NULL); // a failed send leaves it
		nng_msg_free(m);
	}
	if (rv == 0 && !atomic_load(&s->quick_off)) {
		nng_aio_set_timeout(sl->aio, NNG_DURATION_INFINITE);
		nng_ctx_recv(sl->ctx, sl->aio);
		atomic_fetch_sub(&s->nquick, 1);
		return (true);
	}
	atomic_fetch_sub(&s->nquick, 1);
	return (false);
}

// ---- the nng side: answer quickly, or enqueue and wake the loop ----

static void
srv_aio_cb(void *arg)
{
	srv_slot     *sl = arg;
	psb_server_t *s  = sl->srv;

	// The slot's state is the loop's, written before the operation
	// began and not again until the loop has it back.
	if (sl->quick) {
		if (srv_quick_sent(s, sl)) {
			return;
		}
	} else if (sl->state == SLOT_RECV && srv_quick(s, sl)) {
		return;
	}
	pthread_mutex_lock(&s->mtx);
	// A slot has at most one aio operation outstanding and the loop
	// dequeues it before starting the next, so it is never queued twice.
	psb_list_append(&s->queue, sl);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mtx);
	ev_async_send(s->loop, &s->async);
}

static void
srv_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	psb_server_t *s = arg;

	(void)ev;
	pthread_mutex_lock(&s->mtx);
	if (!s->pipes_off) {
		if (s->n_gone == s->cap_gone) {
			s->cap_gone = s->cap_gone ? 2 * s->cap_gone : 16;
			s->gone     = xrealloc(
			            s->gone, s->cap_gone * sizeof(*s->gone));
		}
		s->gone[s->n_gone++] = (uint32_t)nng_pipe_id(p);
	}
	pthread_mutex_unlock(&s->mtx);
	ev_async_send(s->loop, &s->async);
}

// ---- slots (loop thread) ----

static srv_slot *
srv_slot_new(psb_server_t *s)
{
	srv_slot *sl = xcalloc(1, sizeof(*sl));
	int       rv;

	sl->srv = s;
	if ((rv = nng_ctx_open(&sl->ctx, s->rep)) != 0) {
		psb_log(PSB_LOG_ERROR, "api: cannot open an nng context: %s",
		        nng_strerror(rv));
		free(sl);
		return (NULL);
	}
	if ((rv = nng_aio_alloc(&sl->aio, srv_aio_cb, sl)) != 0) {
		psb_log(PSB_LOG_ERROR, "api: cannot allocate an nng aio: %s",
		        nng_strerror(rv));
		nng_ctx_close(sl->ctx);
		free(sl);
		return (NULL);
	}
	psb_list_prepend(&s->all, sl);
	return (sl);
}

static void
srv_slot_unlink(psb_server_t *s, srv_slot *sl)
{
	psb_list_remove(&s->all, sl);
	if (psb_list_node_active(&sl->qnode)) {
		psb_list_remove(&s->idle, sl); // only idle slots are freed
		s->nidle--;
	}
}

// srv_slot_free releases a slot whose aio is not in flight. nng_aio_free
// waits for a callback that may still be returning on an nng thread.
static void
srv_slot_free(psb_server_t *s, srv_slot *sl)
{
	nng_msg *m;

	srv_slot_unlink(s, sl);
	nng_aio_stop(sl->aio);
	if ((m = nng_aio_get_msg(sl->aio)) != NULL) {
		nng_aio_set_msg(sl->aio, NULL);
		nng_msg_free(m);
	}
	nng_aio_free(sl->aio);
	nng_ctx_close(sl->ctx);
	free(sl);
}

static void
srv_arm_recv(psb_server_t *s, srv_slot *sl)
{
	sl->state     = SLOT_RECV;
	sl->pipe_gone = false;
	s->nrecv++;
	nng_aio_set_timeout(sl->aio, NNG_DURATION_INFINITE);
	nng_ctx_recv(sl->ctx, sl->aio);
}

// srv_refill tops the receive pool back up to `contexts`.
static void
srv_refill(psb_server_t *s)
{
	while (!s->stopped && s->nrecv < s->contexts) {
		srv_slot *sl = psb_list_take(&s->idle);

		if (sl != NULL) {
			s->nidle--;
		} else if ((sl = srv_slot_new(s)) == NULL) {
			return; // logged; retried at the next wake-up
		}
		srv_arm_recv(s, sl);
	}
}

// srv_recycle takes a slot that finished its request: back to receiving,
// parked for the next hand-off, or freed.
static void
srv_recycle(psb_server_t *s, srv_slot *sl)
{
	if (s->stopped) {
		srv_slot_free(s, sl);
	} else if (s->nrecv < s->contexts) {
		srv_arm_recv(s, sl);
	} else if (s->nidle < s->contexts) {
		sl->state = SLOT_IDLE;
		psb_list_prepend(&s->idle, sl);
		s->nidle++;
	} else {
		srv_slot_free(s, sl);
	}
}

// srv_send replies on the slot's context; buf is taken.
static void
srv_send(psb_server_t *s, srv_slot *sl, void *buf, size_t len)
{
	nng_msg *m;
	int      rv;

	if ((rv = nng_msg_alloc(&m, len)) != 0) {
		psb_log(PSB_LOG_ERROR, "api: cannot allocate a reply: %s",
		        nng_strerror(rv));
		free(buf);
		srv_recycle(s, sl);
		return;
	}
	memcpy(nng_msg_body(m), buf, len);
	free(buf);
	sl->state = SLOT_SEND;
	s->nsend++;
	nng_aio_set_msg(sl->aio, m);
	nng_aio_set_timeout(sl->aio, NNG_DURATION_INFINITE);
	nng_ctx_send(sl->ctx, sl->aio);
}

static void
srv_send_error(psb_server_t *s, srv_slot *sl, int code, const char *msg)
{
	void  *buf = NULL;
	size_t len = 0;

	if (psb_codec_encode_error(code, msg, &buf, &len) != 0) {
		psb_log(PSB_LOG_ERROR, "api: cannot encode an error reply");
		srv_recycle(s, sl);
		return;
	}
	srv_send(s, sl, buf, len);
}

// ---- requests (loop thread) ----

static bool
srv_pipe_dead(const psb_server_t *s, uint32_t id)
{
	for (size_t i = 0; i < SRV_DEAD_PIPES; i++) {
		if (s->dead[i] == id) {
			return (true);
		}
	}
	return (false);
}

static void
srv_reply_cb(void *arg, const psb_reply_t *reply)
{
	srv_slot     *sl  = arg;
	psb_server_t *s   = sl->srv;
	void         *buf = NULL;
	size_t        len = 0;

	if (s == NULL) {
		free(sl); // orphaned by psb_server_free: nothing to send on
		return;
	}
	s->nheld--;
	if (s->closing) {
		srv_slot_free(s, sl);
		return;
	}
	// The client went away: nobody is left to read the answer.
	if (reply->code == PSB_ECANCELED && sl->pipe_gone) {
		srv_recycle(s, sl);
		return;
	}
	if (psb_codec_encode_reply(reply, &buf, &len) != 0) {
		psb_log(PSB_LOG_ERROR, "api: cannot encode the %s reply",
		        psb_method_name(reply->method));
		srv_send_error(
		        s, sl, PSB_EINTERNAL, "cannot encode the reply");
		return;
	}
	srv_send(s, sl, buf, len);
}

static void
srv_dispatch(psb_server_t *s, srv_slot *sl, nng_msg *m)
{
	psb_request_t        req    = {0};
	psb_codec_request_t *holder = NULL;
	psb_error_t          err    = PSB_ERROR_INIT;

	if (psb_codec_decode_request(nng_msg_body(m), nng_msg_len(m), &req,
	            &holder, &err) != 0) {
		psb_log(PSB_LOG_DEBUG, "api: bad request from pipe %u: %s",
		        sl->pipe_id, psb_error_message(&err));
		srv_send_error(s, sl, PSB_EINVAL, psb_error_message(&err));
		psb_error_release(&err);
		return;
	}
	sl->state     = SLOT_HELD;
	sl->pipe_gone = false;
	s->nheld++;
	// The reply never comes before submit returns (controller.h), so
	// setting the token afterwards is safe.
	sl->token =
	        s->dispatch.submit(s->dispatch.arg, &req, srv_reply_cb, sl);
	psb_codec_request_free(holder);
}

static void
srv_request(psb_server_t *s, srv_slot *sl)
{
	nng_msg *m   = nng_aio_get_msg(sl->aio);
	nng_pipe p   = nng_msg_get_pipe(m);
	uint64_t uid = UINT64_MAX, gid = UINT64_MAX;
	int      rv_u, rv_g;
	char     text[160];

	nng_aio_set_msg(sl->aio, NULL);
	sl->pipe_id = (uint32_t)nng_pipe_id(p);
	if (s->stopped) {
		nng_msg_free(m);
		srv_send_error(
		        s, sl, PSB_EUNAVAIL, "podsandboxd is shutting down");
		return;
	}
	// The pipe-remove notification and this completion race on nng's
	// threads; a request from a pipe already reported gone is dropped.
	rv_u = nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid);
	rv_g = nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_GID, &gid);
	if (srv_pipe_dead(s, sl->pipe_id)) {
		psb_log(PSB_LOG_DEBUG,
		        "api: dropped a request from pipe %u, already gone",
		        sl->pipe_id);
		nng_msg_free(m);
		srv_recycle(s, sl);
		return;
	}
	// Credentials that cannot be read are refused with an answer, never
	// dropped: a client must not wait for a reply that never comes.
	if ((rv_u != 0 || rv_g != 0) && !s->rep_nocred) {
		psb_log(PSB_LOG_WARN,
		        "api: cannot read the credentials of pipe %u: %s",
		        sl->pipe_id, nng_strerror(rv_u != 0 ? rv_u : rv_g));
		nng_msg_free(m);
		srv_send_error(s, sl, PSB_EPERM,
		        "the peer's credentials could not be read");
		return;
	}
	// tcp peers have no credentials: --allow-tcp accepts them all (and
	// inproc peers are this process).
	if (!s->rep_nocred && !srv_peer_allowed(s, uid, gid)) {
		psb_log(PSB_LOG_WARN,
		        "api: refused a request from uid %llu gid %llu",
		        (unsigned long long)uid, (unsigned long long)gid);
		snprintf(text, sizeof(text),
		        "peer uid %llu (gid %llu) may not use the podsandboxd "
		        "API; allow it with --allow-uid or --allow-gid",
		        (unsigned long long)uid, (unsigned long long)gid);
		nng_msg_free(m);
		srv_send_error(s, sl, PSB_EPERM, text);
		return;
	}
	if (nng_msg_len(m) > s->max_msg) {
		snprintf(text, sizeof(text),
		        "request of %zu bytes exceeds the limit of %zu bytes "
		        "(--max-message-bytes)",
		        nng_msg_len(m), s->max_msg);
		nng_msg_free(m);
		srv_send_error(s, sl, PSB_ENOSPC, text);
		return;
	}
	srv_dispatch(s, sl, m);
	nng_msg_free(m);
}

// srv_pipes_gone cancels every held request of the removed pipes. Tokens
// are collected first: a cancel may answer (and recycle) slots at once.
static void
srv_pipes_gone(psb_server_t *s, const uint32_t *ids, size_t n)
{
	uint64_t *tokens = NULL;
	size_t    nt = 0, cap = 0;
	srv_slot *sl;

	for (size_t i = 0; i < n; i++) {
		s->dead[s->dead_next++ % SRV_DEAD_PIPES] = ids[i];
	}
	PSB_LIST_FOREACH(&s->all, sl)
	{
		if (sl->state != SLOT_HELD || sl->pipe_gone) {
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			if (sl->pipe_id != ids[i]) {
				continue;
			}
			sl->pipe_gone = true;
			if (nt == cap) {
				cap    = cap ? 2 * cap : 64;
				tokens = xrealloc(
				        tokens, cap * sizeof(*tokens));
			}
			tokens[nt++] = sl->token;
			break;
		}
	}
	if (nt > 0) {
		psb_log(PSB_LOG_DEBUG,
		        "api: client gone, cancelling %zu held requests", nt);
	}
	for (size_t i = 0; i < nt; i++) {
		s->dispatch.cancel(s->dispatch.arg, tokens[i]);
	}
	free(tokens);
}

static void
srv_completion(psb_server_t *s, srv_slot *sl)
{
	int      rv = nng_aio_result(sl->aio);
	nng_msg *m;

	switch (sl->state) {
	case SLOT_RECV:
		s->nrecv--;
		// A quick reply's slot handed back: no request in it.
		if (rv == 0 && nng_aio_get_msg(sl->aio) == NULL) {
			rv = NNG_ECANCELED;
		}
		if (rv == 0) {
			srv_request(s, sl);
		} else if (s->stopped || rv == NNG_ECLOSED ||
		           rv == NNG_ECANCELED) {
			srv_slot_free(s, sl);
		} else {
			psb_log(PSB_LOG_WARN, "api: receive failed: %s",
			        nng_strerror(rv));
			srv_recycle(s, sl);
		}
		break;
	case SLOT_SEND:
		s->nsend--;
		if (rv != 0) {
			// A failed send leaves the message with us.
			if ((m = nng_aio_get_msg(sl->aio)) != NULL) {
				nng_aio_set_msg(sl->aio, NULL);
				nng_msg_free(m);
			}
			psb_log(PSB_LOG_DEBUG, "api: reply not sent: %s",
			        nng_strerror(rv));
		}
		srv_recycle(s, sl);
		break;
	default:
		psb_log(PSB_LOG_ERROR, "api: completion on an idle slot");
		break;
	}
}

// srv_drain_queue handles every completion and pipe event queued so far
// (ev_async coalesces wake-ups, so one wake-up may carry many).
static void
srv_drain_queue(psb_server_t *s)
{
	for (;;) {
		psb_list_t head;
		srv_slot  *sl;
		uint32_t  *gone;
		size_t     n_gone;

		PSB_LIST_INIT(&head, srv_slot, qnode);
		pthread_mutex_lock(&s->mtx);
		psb_list_move_all(&head, &s->queue);
		gone      = s->gone;
		n_gone    = s->n_gone;
		s->gone   = NULL;
		s->n_gone = s->cap_gone = 0;
		pthread_mutex_unlock(&s->mtx);
		if (psb_list_empty(&head) && n_gone == 0) {
			return;
		}
		// Pipe events first: a request from a pipe that is already
		// gone is then dropped instead of held and cancelled.
		if (n_gone > 0) {
			srv_pipes_gone(s, gone, n_gone);
		}
		free(gone);
		while ((sl = psb_list_take(&head)) != NULL) {
			srv_completion(s, sl);
		}
		srv_refill(s);
	}
}

static void
srv_async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)loop;
	(void)revents;
	srv_drain_queue(w->data);
}

static int
srv_open_rep(psb_server_t *s, const psb_server_opts_t *o, const char *url,
        uint32_t mode, psb_error_t *err)
{
	int rv;

	if ((rv = nng_rep0_open(&s->rep)) != 0) {
		return (psb_error_make(err, PSB_EINTERNAL,
		        "cannot open the API socket: %s", nng_strerror(rv)));
	}
	s->rep_open = true;
	if ((rv = nng_socket_set_size(s->rep, NNG_OPT_RECVMAXSZ,
	             s->max_msg * SRV_RECV_SLACK)) != 0 ||
	        (rv = nng_pipe_notify(
	                 s->rep, NNG_PIPE_EV_REM_POST, srv_pipe_cb, s)) != 0) {
		return (psb_error_make(err, PSB_EINTERNAL,
		        "cannot configure the API socket: %s",
		        nng_strerror(rv)));
	}
	return (srv_listen(s->rep, url, mode, o->allow_tcp, &s->rep_l,
	        &s->rep_nocred, err));
}

int
psb_server_start(struct ev_loop *loop, const psb_dispatch_t *dispatch,
        const psb_server_opts_t *opts, psb_server_t **out, psb_error_t *err)
{
	psb_server_t *s = xcalloc(1, sizeof(*s));
	const char   *api =
                opts->api_url ? opts->api_url : PSB_SERVER_DEFAULT_API_URL;
	const char *evu = opts->events_url ? opts->events_url
	                                   : PSB_SERVER_DEFAULT_EVENTS_URL;
	uint32_t    mode =
                opts->socket_mode ? opts->socket_mode : SRV_DEFAULT_MODE;
	int rv;

	s->loop     = loop;
	s->dispatch = *dispatch;
	s->max_msg  = opts->max_msg_bytes ? opts->max_msg_bytes
	                                  : PSB_SERVER_DEFAULT_MAX_MSG;
	s->contexts = opts->contexts ? opts->contexts : SRV_DEFAULT_CONTEXTS;
	// Root and the daemon's own user are always allowed; the lists add
	// to them (an empty uid list means root only). Filled before any
	// listener starts: srv_pub_pipe_cb reads them on nng's threads.
	s->allow_uids[s->n_uids++] = 0;
	if (geteuid() != 0) {
		s->allow_uids[s->n_uids++] = (uint32_t)geteuid();
	}
	for (size_t i = 0; i < opts->n_allow_uids && i < PSB_MAX_IDS; i++) {
		s->allow_uids[s->n_uids++] = opts->allow_uids[i];
	}
	for (size_t i = 0; i < opts->n_allow_gids && i < PSB_MAX_IDS; i++) {
		s->allow_gids[s->n_gids++] = opts->allow_gids[i];
	}
	PSB_LIST_INIT(&s->all, srv_slot, node);
	PSB_LIST_INIT(&s->idle, srv_slot, qnode);
	PSB_LIST_INIT(&s->queue, srv_slot, qnode);
	pthread_mutex_init(&s->mtx, NULL);
	pthread_cond_init(&s->cv, NULL);
	ev_async_init(&s->async, srv_async_cb);
	s->async.data = s;
	ev_async_start(loop, &s->async);

	if ((mode & ~0777u) != 0) {
		rv = psb_error_make(err, PSB_EINVAL,
		        "socket mode %04o is not a permission mode",
		        (unsigned)mode);
		goto fail;
	}
	if ((rv = srv_open_rep(s, opts, api, mode, err)) != 0 ||
	        (rv = srv_open_pub(s, opts, evu, mode, err)) != 0) {
		goto fail;
	}
	srv_refill(s);
	if (s->nrecv == 0) {
		rv = psb_error_make(err, PSB_EINTERNAL,
		        "%s: cannot open any receiving context", api);
		goto fail;
	}
	if ((rv = srv_watch_start(s, api, evu, mode, opts->allow_tcp, err)) !=
	        0) {
		goto fail;
	}
	*out = s;
	return (0);

fail:
	psb_server_free(s);
	return (rv);
}

void
psb_server_stop(psb_server_t *s)
{
	srv_slot *sl;

	if (s == NULL || s->stopped) {
		return;
	}
	s->stopped = true;
	atomic_store(&s->quick_off, true);
	// The listener stays open: closing it would close the pipes it made,
	// and the replies to held requests still have to go out on them.
	// Receiving slots come back through the queue as cancelled and are
	// freed there; one that already holds a request answers it with
	// UNAVAILABLE. Held requests are still answered normally.
	PSB_LIST_FOREACH(&s->all, sl)
	{
		if (sl->state == SLOT_RECV) {
			nng_aio_cancel(sl->aio);
		}
	}
	while ((sl = psb_list_first(&s->idle)) != NULL) {
		srv_slot_free(s, sl); // unlinks it from idle too
	}
}

// srv_flush gives replies already handed to nng up to SRV_FLUSH_MS to
// reach their pipes (drain's UNAVAILABLE answers among them). A send
// completes once nng has written the message to the pipe, and closing the
// socket after that does not take it back.
static void
srv_flush(psb_server_t *s)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += SRV_FLUSH_MS / 1000;
	for (;;) {
		srv_drain_queue(s);
		if (s->nsend == 0 && atomic_load(&s->nquick) == 0) {
			return;
		}
		pthread_mutex_lock(&s->mtx);
		if (psb_list_empty(&s->queue) &&
		        pthread_cond_timedwait(&s->cv, &s->mtx, &deadline) ==
		                ETIMEDOUT) {
			pthread_mutex_unlock(&s->mtx);
			psb_log(PSB_LOG_WARN,
			        "api: %u replies still unsent at exit",
			        s->nsend + atomic_load(&s->nquick));
			return;
		}
		pthread_mutex_unlock(&s->mtx);
	}
}

void
psb_server_free(psb_server_t *s)
{
	uint64_t *tokens;
	size_t    nt = 0;
	srv_slot *sl;

	if (s == NULL) {
		return;
	}
	srv_watch_stop(s); // before any listener or socket goes
	psb_server_stop(s);
	srv_flush(s);
	s->closing = true;

	// Held requests: cancel them. A reply that comes now frees its slot
	// (srv_reply_cb sees closing); one that comes after we return finds
	// an orphan (srv == NULL) that only frees itself.
	tokens = xcalloc(s->nheld + 1, sizeof(*tokens));
	PSB_LIST_FOREACH(&s->all, sl)
	{
		if (sl->state == SLOT_HELD) {
			sl->pipe_gone = true;
			tokens[nt++]  = sl->token;
		}
	}
	for (size_t i = 0; i < nt; i++) {
		s->dispatch.cancel(s->dispatch.arg, tokens[i]);
	}
	free(tokens);

	// Stop every aio first (nng_aio_stop waits for a running callback),
	// then close each socket once. Only then can nothing call back.
	PSB_LIST_FOREACH(&s->all, sl)
	{
		nng_aio_stop(sl->aio);
	}
	if (s->rep_open) {
		nng_pipe_notify(s->rep, NNG_PIPE_EV_REM_POST, NULL, NULL);
		nng_close(s->rep);
	}
	if (s->pub_open) {
		nng_pipe_notify(s->pub, NNG_PIPE_EV_ADD_PRE, NULL, NULL);
		nng_close(s->pub);
	}
	pthread_mutex_lock(&s->mtx);
	s->pipes_off = true;
	// What is still queued is freed with all below.
	PSB_LIST_INIT(&s->queue, srv_slot, qnode);
	pthread_mutex_unlock(&s->mtx);
	ev_async_stop(s->loop, &s->async);

	while ((sl = psb_list_first(&s->all)) != NULL) {
		nng_msg *m;

		psb_list_remove(&s->all, sl);
		if ((m = nng_aio_get_msg(sl->aio)) != NULL) {
			nng_msg_free(m);
		}
		nng_aio_free(sl->aio);
		if (sl->state == SLOT_HELD) {
			sl->srv = NULL; // the dispatcher still holds it
			sl->aio = NULL;
			psb_log(PSB_LOG_WARN,
			        "api: request %llu still held at exit",
			        (unsigned long long)sl->token);
		} else {
			free(sl);
		}
	}
	free(s->gone);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mtx);
	free(s);
}
