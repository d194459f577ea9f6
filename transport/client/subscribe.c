//
// libpodsandbox - event subscription: live PUB events, in seq order, with
// gaps filled from the daemon's journal.
//
// PUB/SUB loses messages by design (a slow subscriber's queue overflows,
// events published before the SUB pipe connects are never seen), so the
// journal is the truth and the PUB stream only a fast path: one thread
// delivers events strictly in seq order, replaying with Events(since)
// whenever a live event skips ahead of the last one delivered.
//

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/supplemental/util/platform.h>

#include "client_int.h"

// How often the thread looks at its stop flag while the stream is idle.
#define SUB_POLL_MS 100
// Replays run on the subscription thread; bound them so that close never
// waits long on a daemon that does not answer.
#define SUB_REPLAY_MAX_MS 2000
// Back-off before retrying a replay that failed.
#define SUB_RETRY_MS 500

struct psb_subscription {
	psb_client_t *c;
	nng_socket    sock;
	pthread_t     thread;
	atomic_bool   stop;
	psb_event_cb  cb;
	void         *arg;
	uint64_t      last;        // seq of the last event delivered
	bool          need_replay; // the journal may hold undelivered events
	nng_time      retry_at;    // no replay before this time
};

static int
sub_fail(psb_client_error_t *err, int code, const char *what, int rv)
{
	return (psb_client_fail(err, code, "%s: %s", what, nng_strerror(rv)));
}

static int
sub_replay_timeout(const psb_subscription_t *s)
{
	int t = psb_client_timeout_ms(s->c);
	return (t <= 0 || t > SUB_REPLAY_MAX_MS ? SUB_REPLAY_MAX_MS : t);
}

// sub_catch_up delivers journal events after s->last until it has
// delivered `upto` (or the journal has nothing more). On failure the
// replay is retried later and nothing after s->last is delivered.
static bool
sub_catch_up(psb_subscription_t *s, uint64_t upto)
{
	while (!atomic_load(&s->stop)) {
		psb_event_list_t   l;
		psb_client_error_t err;

		if (psb_client_events_ms(s->c, s->last, 0,
		            sub_replay_timeout(s), &l, &err) != 0) {
			s->need_replay = true;
			s->retry_at    = nng_clock() + SUB_RETRY_MS;
			return (false);
		}
		if (l.truncated) {
			// Entries after s->last were pruned: say so once and
			// carry on from the oldest the journal still has.
			s->cb(s->arg, NULL, PSB_CODE_DATA_LOSS);
		}
		for (size_t i = 0; i < l.n; i++) {
			if (l.events[i].seq > s->last) {
				s->cb(s->arg, &l.events[i], 0);
				s->last = l.events[i].seq;
			}
		}
		if (l.truncated && l.n == 0 && l.newest_seq > s->last) {
			s->last = l.newest_seq;
		}
		bool more = l.more && l.n > 0;
		psb_event_list_free(&l);
		if (!more || s->last >= upto) {
			break;
		}
	}
	s->need_replay = false;
	return (true);
}

static void
sub_deliver_live(psb_subscription_t *s, const Podsandbox__V1__Event *pe)
{
	psb_event_t ev;

	if (pe->seq <= s->last) {
		return; // already delivered by a replay
	}
	if (pe->seq > s->last + 1 && !sub_catch_up(s, pe->seq - 1)) {
		return; // the pending replay will bring it
	}
	if (pe->seq <= s->last) {
		return;
	}
	psb_client_event_from_pb(pe, &ev);
	s->cb(s->arg, &ev, 0);
	s->last = pe->seq;
}

static void *
sub_thread(void *arg)
{
	psb_subscription_t *s = arg;

	while (!atomic_load(&s->stop)) {
		nng_msg *m;
		int      rv;

		if (s->need_replay && nng_clock() >= s->retry_at) {
			sub_catch_up(s, UINT64_MAX);
			continue;
		}
		rv = nng_recvmsg(s->sock, &m, 0);
		if (rv == NNG_ETIMEDOUT) {
			continue;
		}
		if (rv != 0) {
			break; // NNG_ECLOSED: closing
		}
		Podsandbox__V1__Event *pe = podsandbox__v1__event__unpack(
		        NULL, nng_msg_len(m), nng_msg_body(m));
		nng_msg_free(m);
		if (pe == NULL) {
			// Not ours to judge: the journal will tell.
			s->need_replay = true;
			continue;
		}
		if (!s->need_replay) {
			sub_deliver_live(s, pe);
		}
		podsandbox__v1__event__free_unpacked(pe, NULL);
	}
	return (NULL);
}

PSB_PUBLIC int
psb_client_subscribe(psb_client_t *c, const char *events_url, uint64_t since,
        psb_event_cb cb, void *arg, psb_subscription_t **out,
        psb_client_error_t *err)
{
	psb_subscription_t *s;
	int                 rv;

	if (c == NULL || cb == NULL) {
		return (psb_client_fail(err, PSB_CODE_INVALID_ARGUMENT,
		        "subscribe needs a client and a callback"));
	}
	if (events_url == NULL || *events_url == '\0') {
		events_url = PSB_CLIENT_DEFAULT_EVENTS_URL;
	}
	s              = psb_client_xzalloc(sizeof(*s));
	s->c           = c;
	s->cb          = cb;
	s->arg         = arg;
	s->last        = since;
	s->need_replay = true; // first everything after `since`
	atomic_init(&s->stop, false);
	if ((rv = nng_sub0_open(&s->sock)) != 0) {
		free(s);
		return (sub_fail(err, PSB_CODE_INTERNAL,
		        "cannot open a SUB socket", rv));
	}
	if ((rv = nng_socket_set(s->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0)) !=
	                0 ||
	        (rv = nng_socket_set_ms(
	                 s->sock, NNG_OPT_RECVTIMEO, SUB_POLL_MS)) != 0) {
		nng_close(s->sock);
		free(s);
		return (sub_fail(err, PSB_CODE_INTERNAL,
		        "cannot set up the SUB socket", rv));
	}
	// Dial first, replay after (on the thread): an event committed in
	// between is then either in the replay or in the stream.
	if ((rv = nng_dial(s->sock, events_url, NULL, NNG_FLAG_NONBLOCK)) !=
	        0) {
		nng_close(s->sock);
		free(s);
		return (sub_fail(err,
		        rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP
		                ? PSB_CODE_INVALID_ARGUMENT
		                : PSB_CODE_UNAVAILABLE,
		        events_url, rv));
	}
	if ((rv = pthread_create(&s->thread, NULL, sub_thread, s)) != 0) {
		nng_close(s->sock);
		free(s);
		return (psb_client_fail(err, PSB_CODE_RESOURCE_EXHAUSTED,
		        "cannot start the subscription thread"));
	}
	*out = s;
	return (0);
}

PSB_PUBLIC void
psb_subscription_close(psb_subscription_t *s)
{
	if (s == NULL) {
		return;
	}
	// The thread notices the flag within SUB_POLL_MS (or when a replay
	// in flight ends); closing the socket also wakes a blocked receive.
	atomic_store(&s->stop, true);
	nng_close(s->sock);
	pthread_join(s->thread, NULL);
	free(s);
}
