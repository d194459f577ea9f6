//
// podsandboxd - the gRPC client's connection (grpc.h, grpc_int.h): the
// unix socket dialled without blocking, the HTTP/2 client session, the
// ev_io that feeds it, reconnect with backoff, and what a lost connection
// or a GOAWAY does to the calls in flight.
//

#include <errno.h>
#include <ev.h>
#include <nghttp2/nghttp2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/list.h"
#include "base/log.h"
#include "runtime/grpc.h"
#include "runtime/grpc_int.h"

#define GRPC_READ_BUF     (64 * 1024)
#define GRPC_READS_PER_CB 4

// ---- nghttp2 callbacks (no user code may run from here) -----------------

static ssize_t
grpc_send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags,
        void *ud)
{
	psb_grpc_t *g = ud;
	ssize_t     n;

	do {
		// MSG_NOSIGNAL: a vanished containerd must not SIGPIPE us.
		n = send(g->fd, data, len, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n >= 0) {
		return (n);
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		return (NGHTTP2_ERR_WOULDBLOCK);
	}
	g->sys_errno = errno;
	return (NGHTTP2_ERR_CALLBACK_FAILURE);
}

static int
grpc_frame_recv_cb(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	psb_grpc_t *g = ud;

	if (f->hd.type == NGHTTP2_SETTINGS &&
	        (f->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
		// A real HTTP/2 peer: connect attempts start afresh.
		g->got_settings = true;
		g->backoff_ms   = g->opts.backoff_min_ms;
	} else if (f->hd.type == NGHTTP2_GOAWAY) {
		// Acted on after nghttp2_session_mem_recv returns: tearing the
		// session down from inside its own callback is not allowed.
		g->goaway      = true;
		g->goaway_code = f->goaway.error_code;
	}
	return (0);
}

// ---- connection -------------------------------------------------------

void
grpc_io_update(psb_grpc_t *g)
{
	int ev = EV_READ;

	if (g->state == CONN_CONNECTING) {
		ev = EV_WRITE;
	} else if (g->sess != NULL && nghttp2_session_want_write(g->sess)) {
		ev |= EV_WRITE;
	}
	if (ev_is_active(&g->io) &&
	        (g->io.events & (EV_READ | EV_WRITE)) == ev) {
		return;
	}
	ev_io_stop(g->loop, &g->io);
	ev_io_set(&g->io, g->fd, ev);
	ev_io_start(g->loop, &g->io);
}

static void
grpc_fail_queued(psb_grpc_t *g, int status, const char *why)
{
	for (grpc_call_t *c                    = psb_list_first(&g->calls);
	        c != NULL && g->nqueued > 0; c = psb_list_next(&g->calls, c)) {
		if (c->state == CALL_QUEUED) {
			grpc_call_finish(c, status, false, "%s", why);
		}
	}
}

// grpc_backoff_step records a failed connect attempt: no new attempt
// before the current backoff has passed, and the next backoff doubles.
static void
grpc_backoff_step(psb_grpc_t *g, const char *why)
{
	free(g->last_error);
	g->last_error   = xstrdup(why);
	g->next_attempt = ev_now(g->loop) + g->backoff_ms / 1000.;
	g->backoff_ms   = g->backoff_ms * 2 < g->opts.backoff_max_ms
	                          ? g->backoff_ms * 2
	                          : g->opts.backoff_max_ms;
}

// grpc_backoff_arm starts the backoff timer (wait_for_ready): it dials
// again once the current backoff has passed. Nothing else would: the flush
// that met the failure has stopped, and queued calls may wait for minutes.
static void
grpc_backoff_arm(psb_grpc_t *g)
{
	double left = g->next_attempt - ev_now(g->loop);

	if (!ev_is_active(&g->backoff)) {
		ev_timer_set(&g->backoff, left > 0. ? left : 0., 0.);
		ev_timer_start(g->loop, &g->backoff);
	}
}

void
grpc_conn_lost(psb_grpc_t *g, const char *fmt, ...)
{
	va_list ap;
	char    why[256];

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	psb_log(PSB_LOG_DEBUG, "grpc %s: %s", g->path, why);
	for (grpc_call_t *c = psb_list_first(&g->calls); c != NULL;
	        c           = psb_list_next(&g->calls, c)) {
		if (c->state == CALL_ACTIVE) {
			grpc_call_finish(
			        c, PSB_GRPC_UNAVAILABLE, false, "%s", why);
		}
	}
	if (g->sess != NULL) {
		nghttp2_session_del(g->sess);
		g->sess = NULL;
	}
	ev_io_stop(g->loop, &g->io);
	if (g->fd >= 0) {
		close(g->fd);
		g->fd = -1;
	}
	// A peer that hangs up before it ever spoke HTTP/2 is backed off
	// like a refused connect, so queued calls cannot spin on it.
	if (g->state != CONN_IDLE && !g->got_settings) {
		grpc_backoff_step(g, why);
	}
	g->state        = CONN_IDLE;
	g->goaway       = false;
	g->got_settings = false;
	grpc_kick(g);
}

static void
grpc_connect_failed(psb_grpc_t *g, int e)
{
	char why[300];

	snprintf(why, sizeof(why), "connect %s: %s", g->path, strerror(e));
	if (g->fd >= 0) {
		close(g->fd);
		g->fd = -1;
	}
	ev_io_stop(g->loop, &g->io);
	g->state = CONN_IDLE;
	grpc_backoff_step(g, why);
	if (!g->opts.wait_for_ready) {
		grpc_fail_queued(g, PSB_GRPC_UNAVAILABLE, why);
	} else if (g->nqueued > 0) {
		grpc_backoff_arm(g);
	}
}

static int
grpc_conn_up(psb_grpc_t *g)
{
	nghttp2_session_callbacks *cbs;
	nghttp2_option            *opt;
	nghttp2_settings_entry     iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
	int                        rv;

	if (nghttp2_session_callbacks_new(&cbs) != 0 ||
	        nghttp2_option_new(&opt) != 0) {
		psb_oom(); // only fails on OOM (STYLE.md practice 7)
	}
	nghttp2_session_callbacks_set_send_callback(cbs, grpc_send_cb);
	nghttp2_session_callbacks_set_on_frame_recv_callback(
	        cbs, grpc_frame_recv_cb);
	grpc_call_callbacks(cbs); // headers, DATA, stream close (grpc_call.c)
	nghttp2_option_set_no_auto_window_update(opt, 1);
	rv = nghttp2_session_client_new2(&g->sess, cbs, g, opt);
	nghttp2_session_callbacks_del(cbs);
	nghttp2_option_del(opt);
	if (rv == 0) {
		rv = nghttp2_submit_settings(
		        g->sess, NGHTTP2_FLAG_NONE, iv, PSB_NELEM(iv));
	}
	if (rv != 0) {
		grpc_conn_lost(g, "nghttp2: %s", nghttp2_strerror(rv));
		return (-1);
	}
	g->state = CONN_READY;
	grpc_io_update(g);
	return (0);
}

void
grpc_connect(psb_grpc_t *g)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (ev_now(g->loop) < g->next_attempt) {
		if (g->opts.wait_for_ready) {
			grpc_backoff_arm(g);
		} else {
			grpc_fail_queued(
			        g, PSB_GRPC_UNAVAILABLE, g->last_error);
		}
		return;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g->path);
	g->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (g->fd < 0) {
		grpc_connect_failed(g, errno);
		return;
	}
	if (connect(g->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		grpc_conn_up(g);
	} else if (errno == EINPROGRESS) {
		g->state = CONN_CONNECTING;
		grpc_io_update(g);
	} else {
		// EAGAIN (a full listen backlog) too: unix sockets do not
		// complete such a connect later, so it counts as a failure.
		grpc_connect_failed(g, errno);
	}
}

static void
grpc_backoff_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	grpc_kick(w->data);
}

static void
grpc_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	psb_grpc_t *g = w->data;
	uint8_t     buf[GRPC_READ_BUF];
	ssize_t     n, rv;
	int         e   = 0;
	socklen_t   len = sizeof(e);

	grpc_kick(g);
	if (g->state == CONN_CONNECTING) {
		if (getsockopt(g->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0) {
			e = errno;
		}
		if (e != 0) {
			grpc_connect_failed(g, e);
		} else {
			grpc_conn_up(g);
		}
		return;
	}
	if ((revents & EV_READ) == 0) {
		return; // writable: the flush sends
	}
	for (int i = 0; i < GRPC_READS_PER_CB; i++) {
		n = read(g->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			break;
		}
		if (n <= 0) {
			grpc_conn_lost(g, "connection to %s lost: %s", g->path,
			        n == 0 ? "EOF" : strerror(errno));
			return;
		}
		rv = nghttp2_session_mem_recv(g->sess, buf, (size_t)n);
		if (rv < 0) {
			grpc_conn_lost(g, "HTTP/2 error from %s: %s", g->path,
			        nghttp2_strerror((int)rv));
			return;
		}
		if (g->goaway) {
			grpc_conn_lost(g, "server %s sent GOAWAY (%s)",
			        g->path,
			        nghttp2_http2_strerror(g->goaway_code));
			return;
		}
	}
}

void
grpc_conn_init(psb_grpc_t *g)
{
	ev_io_init(&g->io, grpc_io_cb, -1, EV_READ);
	g->io.data = g;
	ev_timer_init(&g->backoff, grpc_backoff_cb, 0., 0.);
	g->backoff.data = g;
}

void
grpc_conn_close(psb_grpc_t *g)
{
	ev_timer_stop(g->loop, &g->backoff);
	ev_io_stop(g->loop, &g->io);
	// Closing the socket is all the server needs: it cancels the streams.
	if (g->sess != NULL) {
		nghttp2_session_del(g->sess);
		g->sess = NULL;
	}
	if (g->fd >= 0) {
		close(g->fd);
		g->fd = -1;
	}
}

bool
psb_grpc_connected(const psb_grpc_t *g)
{
	return (g != NULL && g->state == CONN_READY && !g->goaway);
}
