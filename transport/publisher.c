//
// podsandboxd - the event publisher: a PUB socket that only allowed
// subscribers join, and one message per committed transition (see
// server.h; DESIGN.md §5).
//
// Threads: srv_pub_pipe_cb runs on nng's threads and reads only fields
// set before the listener starts (and two atomics); psb_server_publish
// runs on the loop thread.
//

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/transport/ipc/ipc.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/clock.h"
#include "base/log.h"
#include "transport/codec.h"
#include "transport/server_int.h"

// srv_pub_refused closes p and logs it, at most once per
// SRV_REFUSED_LOG_NS with the number refused meanwhile.
static void
srv_pub_refused(psb_server_t *s, nng_pipe p, const char *why)
{
	uint64_t n   = atomic_fetch_add(&s->pub_refused, 1) + 1;
	int64_t  now = psb_mono_ns();
	int64_t  due = atomic_load(&s->pub_warn_due);

	nng_pipe_close(p);
	if (now >= due && atomic_compare_exchange_strong(&s->pub_warn_due,
	                          &due, now + SRV_REFUSED_LOG_NS)) {
		psb_log(PSB_LOG_WARN,
		        "events: refused a subscriber: %s (%llu refused so "
		        "far; logged at most every %d s)",
		        why, (unsigned long long)n,
		        (int)(SRV_REFUSED_LOG_NS / 1000000000));
	}
}

// srv_pub_pipe_cb vets a subscriber before its pipe joins the PUB socket
// (ADD_PRE): a pipe closed here is never seen by the socket, so not one
// event is queued for it. Same rules as srv_request, without an answer:
// a subscriber has nowhere to read one.
static void
srv_pub_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	psb_server_t *s   = arg;
	uint64_t      uid = UINT64_MAX, gid = UINT64_MAX;
	int           rv_u, rv_g;
	char          why[96];

	(void)ev;
	// tcp peers have no credentials: --allow-tcp accepts them all (and
	// inproc peers are this process).
	if (s->pub_nocred) {
		return;
	}
	rv_u = nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid);
	rv_g = nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_GID, &gid);
	if (rv_u != 0 || rv_g != 0) {
		snprintf(why, sizeof(why),
		        "its credentials could not be read: %s",
		        nng_strerror(rv_u != 0 ? rv_u : rv_g));
		srv_pub_refused(s, p, why);
		return;
	}
	if (!srv_peer_allowed(s, uid, gid)) {
		snprintf(why, sizeof(why), "uid %llu gid %llu",
		        (unsigned long long)uid, (unsigned long long)gid);
		srv_pub_refused(s, p, why);
	}
}

int
srv_open_pub(psb_server_t *s, const psb_server_opts_t *o, const char *url,
        uint32_t mode, psb_error_t *err)
{
	int rv;

	if ((rv = nng_pub0_open(&s->pub)) != 0) {
		return (psb_error_make(err, PSB_EINTERNAL,
		        "cannot open the events socket: %s",
		        nng_strerror(rv)));
	}
	s->pub_open = true;
	// Per-subscriber queue: one tick may publish a burst (recovery of
	// many sandboxes); nng's default of 16 would drop most of it.
	nng_socket_set_int(s->pub, NNG_OPT_SENDBUF, SRV_PUB_QUEUE);
	// Registered before the listener starts, so no subscriber gets in
	// unchecked; the allow lists are already filled (psb_server_start).
	if ((rv = nng_pipe_notify(
	             s->pub, NNG_PIPE_EV_ADD_PRE, srv_pub_pipe_cb, s)) != 0) {
		return (psb_error_make(err, PSB_EINTERNAL,
		        "cannot configure the events socket: %s",
		        nng_strerror(rv)));
	}
	return (srv_listen(s->pub, url, mode, o->allow_tcp, &s->pub_l,
	        &s->pub_nocred, err));
}

void
psb_server_publish(void *server, const psb_transition_t *t)
{
	psb_server_t *s   = server;
	void         *buf = NULL;
	size_t        len = 0;
	int           rv;

	if (s == NULL || !s->pub_open || s->closing) {
		return;
	}
	if (psb_codec_encode_event(t, &buf, &len) != 0) {
		psb_log(PSB_LOG_ERROR, "events: cannot encode seq %llu",
		        (unsigned long long)t->seq);
		return;
	}
	// PUB never blocks for a slow subscriber (it drops for it); NONBLOCK
	// guards the loop thread anyway. nng copies buf (no NNG_FLAG_ALLOC:
	// buf is malloc'd by the codec, not nng_alloc'd).
	if ((rv = nng_send(s->pub, buf, len, NNG_FLAG_NONBLOCK)) != 0) {
		psb_log(PSB_LOG_WARN, "events: seq %llu not published: %s",
		        (unsigned long long)t->seq, nng_strerror(rv));
	}
	free(buf);
}
