//
// podsandboxd - the listeners' watchdog (see server_int.h).
//
// nng 1.5 (Debian 12's) has a listener bug, nng issue #1518: a client that
// disconnects before the SP handshake is over leaves the ipc listener
// accepting nothing more, with nng's poller spinning on the dead
// connection. 2000 plain connect()+close() on the API socket were enough
// to make the daemon deaf for good. The watchdog dials each listener once
// a second with a fresh connection of the matching protocol and waits for
// the handshake and, on the API, for the answer to an empty request
// (INVALID_ARGUMENT, at once): the listener still completes handshakes
// when it is broken, but no request gets through any more.
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
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "transport/server_int.h"

#define WATCH_PERIOD_MS 1000 // between probes
#define WATCH_PROBE_MS  3000 // a handshake that takes longer is a miss
#define WATCH_MISSES    2    // misses in a row before a restart

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

// The probes speak SP over a plain unix socket, not through an nng
// socket: closing an nng SUB socket under a busy publisher can hang in
// nng 1.5.2 (a soak of ~20,000 lifecycles hung it once), and with it the
// watchdog and the daemon's exit, which joins it. The wire format is
// nng's ipc transport: an 8-byte header each way ("\0SP\0", the protocol
// number, two zero bytes), then messages of a type byte (1), a 64-bit
// big-endian length and the body; a REQ body starts with the request id
// (high bit set), which the REP answer carries back.
#define WATCH_PROTO_REQ 0x30
#define WATCH_PROTO_REP 0x31
#define WATCH_PROTO_PUB 0x20
#define WATCH_PROTO_SUB 0x21
#define WATCH_REQ_ID    0x80000001u

static bool
watch_io(int fd, void *buf, size_t len, bool out)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = out ? send(fd, p, len, MSG_NOSIGNAL)
		                : recv(fd, p, len, 0);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return (false); // an error, the peer gone, or timed
			                // out
		}
		p += n;
		len -= (size_t)n;
	}
	return (true);
}

// watch_probe dials url (ipc:// only: the listener bug is the ipc
// transport's) and reports whether the SP handshake finished within
// WATCH_PROBE_MS and, on the API (events false), whether an empty request
// was answered (INVALID_ARGUMENT, at once, by the server). Other URLs, or
// a socket that cannot even be made, are not the listener's fault: a
// success.
static bool
watch_probe(const char *url, bool events)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval     tv = {
	            WATCH_PROBE_MS / 1000, (WATCH_PROBE_MS % 1000) * 1000};
	unsigned char hdr[8] = {0, 'S', 'P', 0, 0,
	        events ? WATCH_PROTO_SUB : WATCH_PROTO_REQ, 0, 0};
	unsigned char peer[8];
	unsigned char msg[9 + 4];
	uint64_t      len = 0;
	bool          ok;
	int           fd;

	if (strncmp(url, "ipc://", 6) != 0 ||
	        strlen(url + 6) >= sizeof(sa.sun_path)) {
		return (true);
	}
	memcpy(sa.sun_path, url + 6, strlen(url + 6) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		return (true);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	     watch_io(fd, hdr, sizeof(hdr), true) &&
	     watch_io(fd, peer, sizeof(peer), false) && peer[0] == 0 &&
	     peer[1] == 'S' && peer[2] == 'P' && peer[3] == 0 &&
	     peer[4] == 0 &&
	     peer[5] == (events ? WATCH_PROTO_PUB : WATCH_PROTO_REP);
	if (ok && !events) {
		// One message: type 1, length 4, the request id, no body.
		memset(msg, 0, sizeof(msg));
		msg[0]  = 1;
		msg[8]  = 4;
		msg[9]  = (unsigned char)(WATCH_REQ_ID >> 24);
		msg[12] = (unsigned char)(WATCH_REQ_ID & 0xff);
		ok      = watch_io(fd, msg, sizeof(msg), true) &&
		     watch_io(fd, msg, 9, false) && msg[0] == 1;
		for (int i = 1; ok && i < 9; i++) {
			len = len << 8 | msg[i];
		}
		// The answer: the request id back, then a small Response.
		ok = ok && len >= 4 && len <= 4096;
		if (ok) {
			unsigned char body[4096];

			ok = watch_io(fd, body, (size_t)len, false) &&
			     ((uint32_t)body[0] << 24 |
			             (uint32_t)body[1] << 16 |
			             (uint32_t)body[2] << 8 | body[3]) ==
			             WATCH_REQ_ID;
		}
	}
	close(fd);
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
