//
// podsandboxd - the listeners' watchdog (see server_int.h).
//
// nng 1.5 (Debian 12's) has a listener bug, nng issue #1518: a client that
// disconnects before the SP handshake is over leaves the ipc listener
// accepting nothing more, with nng's poller spinning on the dead
// connection. 2000 plain connect()+close() on the API socket were enough
// to make the daemon deaf for good. The watchdog dials each listener once
// a second with a fresh socket of the matching protocol and waits for the
// handshake (the pipe's ADD_POST) and, on the API, for the answer to an
// empty request (INVALID_ARGUMENT, at once): the listener still completes
// handshakes when it is broken, but no request gets through any more.
// After two probes in a row that fail it closes the listener (which also
// closes the stuck connections) and listens again on the same URL. Established
// pipes of the old listener go with it: their clients redial, as after a
// daemon restart. The API probe goes through the loop: a loop that answers
// nothing for WATCH_MISSES probes of WATCH_PROBE_MS (6 s) is taken for a
// broken listener too, and the restart costs its clients a reconnect.
//
// It runs on a thread of its own: the probes block, and the loop must
// not. It only touches the listener handles it restarts and the restart
// counter; psb_server_free stops it before anything else is freed.
//

#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"
#include "transport/server_int.h"

#define WATCH_PERIOD_MS 1000 // between probes
#define WATCH_PROBE_MS  3000 // a handshake that takes longer is a miss
#define WATCH_MISSES    2    // misses in a row before a restart

typedef struct watch_probe {
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	bool            added;
} watch_probe_t;

static void
watch_added_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	watch_probe_t *pr = arg;

	(void)p;
	(void)ev;
	pthread_mutex_lock(&pr->mtx);
	pr->added = true;
	pthread_cond_signal(&pr->cv);
	pthread_mutex_unlock(&pr->mtx);
}

static void
watch_deadline(struct timespec *ts, uint32_t ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

// watch_probe dials url with a fresh socket (req: the API; sub: the
// events) and reports whether the handshake finished within
// WATCH_PROBE_MS. A socket that cannot even be opened is not the
// listener's fault: that counts as a success.
static bool
watch_probe(const char *url, bool sub)
{
	watch_probe_t   pr = {.added = false};
	nng_socket      sock;
	struct timespec ts;
	bool            ok;
	int             rv;

	rv = sub ? nng_sub0_open(&sock) : nng_req0_open(&sock);
	if (rv != 0) {
		return (true);
	}
	pthread_mutex_init(&pr.mtx, NULL);
	pthread_cond_init(&pr.cv, NULL);
	if (nng_pipe_notify(sock, NNG_PIPE_EV_ADD_POST, watch_added_cb, &pr) !=
	                0 ||
	        nng_dial(sock, url, NULL, NNG_FLAG_NONBLOCK) != 0) {
		nng_close(sock);
		pthread_cond_destroy(&pr.cv);
		pthread_mutex_destroy(&pr.mtx);
		return (true);
	}
	watch_deadline(&ts, WATCH_PROBE_MS);
	pthread_mutex_lock(&pr.mtx);
	while (!pr.added &&
	        pthread_cond_timedwait(&pr.cv, &pr.mtx, &ts) != ETIMEDOUT) { }
	ok = pr.added;
	pthread_mutex_unlock(&pr.mtx);
	if (ok && !sub) {
		// The API: a request must also come back. An empty one is
		// answered at once (INVALID_ARGUMENT) by the server.
		void  *buf = NULL;
		size_t len = 0;

		nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, WATCH_PROBE_MS);
		nng_socket_set_ms(
		        sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
		ok = nng_send(sock, "", 0, 0) == 0 &&
		     nng_recv(sock, &buf, &len, NNG_FLAG_ALLOC) == 0;
		if (buf != NULL) {
			nng_free(buf, len);
		}
	}
	// After the handshake a close is an ordinary one. The callback may
	// still run until nng_close returns; pr outlives it.
	nng_close(sock);
	pthread_cond_destroy(&pr.cv);
	pthread_mutex_destroy(&pr.mtx);
	return (ok);
}

// watch_restart closes the listener *l of sock and listens on url again.
static void
watch_restart(psb_server_t *s, nng_socket sock, nng_listener *l,
        const char *url, const char *what)
{
	psb_error_t err = PSB_ERROR_INIT;
	bool        nocred;

	psb_log(PSB_LOG_WARN,
	        "%s: the %s listener stopped answering (nng issue #1518: "
	        "a client left mid-handshake): listening again; its "
	        "clients reconnect",
	        url, what);
	nng_listener_close(*l);
	if (srv_listen(sock, url, s->watch_mode, s->watch_allow_tcp, l,
	            &nocred, &err) != 0) {
		psb_log(PSB_LOG_ERROR, "%s: listening again failed: %s", url,
		        psb_error_message(&err));
		psb_error_release(&err);
		return;
	}
	atomic_fetch_add(&s->listener_restarts, 1);
}

static void *
watch_main(void *arg)
{
	psb_server_t   *s         = arg;
	unsigned        misses[2] = {0, 0};
	struct timespec ts;

	pthread_mutex_lock(&s->watch_mtx);
	while (!s->watch_stop) {
		watch_deadline(&ts, WATCH_PERIOD_MS);
		pthread_cond_timedwait(&s->watch_cv, &s->watch_mtx, &ts);
		if (s->watch_stop) {
			break;
		}
		pthread_mutex_unlock(&s->watch_mtx);
		for (int i = 0; i < 2; i++) {
			const char *url =
			        i == 0 ? s->watch_api : s->watch_events;

			if (watch_probe(url, i == 1)) {
				misses[i] = 0;
				continue;
			}
			if (++misses[i] < WATCH_MISSES) {
				continue;
			}
			misses[i] = 0;
			pthread_mutex_lock(&s->watch_mtx);
			if (!s->watch_stop) {
				if (i == 0) {
					watch_restart(s, s->rep, &s->rep_l,
					        url, "API");
				} else {
					watch_restart(s, s->pub, &s->pub_l,
					        url, "events");
				}
			}
			pthread_mutex_unlock(&s->watch_mtx);
		}
		pthread_mutex_lock(&s->watch_mtx);
	}
	pthread_mutex_unlock(&s->watch_mtx);
	return (NULL);
}

int
srv_watch_start(psb_server_t *s, const char *api, const char *events,
        uint32_t mode, bool allow_tcp, psb_error_t *err)
{
	int rv;

	s->watch_api       = xstrdup(api);
	s->watch_events    = xstrdup(events);
	s->watch_mode      = mode;
	s->watch_allow_tcp = allow_tcp;
	pthread_mutex_init(&s->watch_mtx, NULL);
	pthread_cond_init(&s->watch_cv, NULL);
	if ((rv = pthread_create(&s->watch_thread, NULL, watch_main, s)) !=
	        0) {
		return (psb_error_sys(err, PSB_EINTERNAL, rv,
		        "cannot start the listeners' watchdog"));
	}
	s->watch_running = true;
	return (0);
}

void
srv_watch_stop(psb_server_t *s)
{
	if (s->watch_running) {
		pthread_mutex_lock(&s->watch_mtx);
		s->watch_stop = true;
		pthread_cond_signal(&s->watch_cv);
		pthread_mutex_unlock(&s->watch_mtx);
		pthread_join(s->watch_thread, NULL);
		s->watch_running = false;
	}
	if (s->watch_api != NULL) {
		pthread_cond_destroy(&s->watch_cv);
		pthread_mutex_destroy(&s->watch_mtx);
	}
	free(s->watch_api);
	free(s->watch_events);
	s->watch_api    = NULL;
	s->watch_events = NULL;
}
