//
// podsandboxd - gRPC client over nghttp2 on the loop thread (grpc.h): the
// client object, the status helpers and the flush, the only place user
// callbacks run besides psb_grpc_close. The connection is in grpc_conn.c,
// the calls in grpc_call.c; how they fit together is in grpc_int.h.
//

#include "runtime/grpc.h"

#include <ev.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/failpoint.h"
#include "base/list.h"
#include "runtime/grpc_int.h"

#define GRPC_MAX_MSG_DEF (16u << 20)
#define GRPC_BACKOFF_MIN 100
#define GRPC_BACKOFF_MAX 1000

static const char *const grpc_status_names[] = {"OK", "CANCELLED", "UNKNOWN",
        "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE",
        "DATA_LOSS", "UNAUTHENTICATED"};

const char *
psb_grpc_status_name(int status)
{
	if (status < 0 || status > PSB_GRPC_UNAUTHENTICATED) {
		return ("UNKNOWN");
	}
	return (grpc_status_names[status]);
}

// The errdefs mapping containerd itself uses (errdefs/grpc.go).
static const int grpc_errs[] = {
        [PSB_GRPC_OK]                  = PSB_OK,
        [PSB_GRPC_CANCELLED]           = PSB_ECANCELED,
        [PSB_GRPC_UNKNOWN]             = PSB_ERUNTIME,
        [PSB_GRPC_INVALID_ARGUMENT]    = PSB_EINVAL,
        [PSB_GRPC_DEADLINE_EXCEEDED]   = PSB_ETIMEDOUT,
        [PSB_GRPC_NOT_FOUND]           = PSB_ENOENT,
        [PSB_GRPC_ALREADY_EXISTS]      = PSB_EEXIST,
        [PSB_GRPC_PERMISSION_DENIED]   = PSB_EPERM,
        [PSB_GRPC_RESOURCE_EXHAUSTED]  = PSB_ENOSPC,
        [PSB_GRPC_FAILED_PRECONDITION] = PSB_ESTATE,
        [PSB_GRPC_ABORTED]             = PSB_ESTATE,
        [PSB_GRPC_OUT_OF_RANGE]        = PSB_EINVAL,
        [PSB_GRPC_UNIMPLEMENTED]       = PSB_ENOTSUP,
        [PSB_GRPC_INTERNAL]            = PSB_EINTERNAL,
        [PSB_GRPC_UNAVAILABLE]         = PSB_EUNAVAIL,
        [PSB_GRPC_DATA_LOSS]           = PSB_ERUNTIME,
        [PSB_GRPC_UNAUTHENTICATED]     = PSB_EPERM,
};

int
psb_grpc_status_to_err(int status)
{
	if (status < 0 || (size_t)status >= PSB_NELEM(grpc_errs)) {
		return (PSB_ERUNTIME);
	}
	return (grpc_errs[status]);
}

int
psb_grpc_method_path(const ProtobufCServiceDescriptor *svc, const char *method,
        char *buf, size_t size)
{
	int n;

	if (svc == NULL || method == NULL || buf == NULL) {
		return (PSB_EINVAL);
	}
	for (unsigned i = 0; i < svc->n_methods; i++) {
		if (strcmp(svc->methods[i].name, method) != 0) {
			continue;
		}
		n = snprintf(buf, size, "/%s/%s", svc->name, method);
		return (n < 0 || (size_t)n >= size ? PSB_EINVAL : PSB_OK);
	}
	return (PSB_EINVAL);
}

// ---- the flush: the only place user callbacks run (besides close) -----

void
grpc_kick(psb_grpc_t *g)
{
	if (!g->closed && !ev_is_active(&g->flush)) {
		ev_timer_set(&g->flush, 0., 0.);
		ev_timer_start(g->loop, &g->flush);
	}
}

static grpc_call_t *
grpc_ready_pop(psb_grpc_t *g)
{
	return (psb_list_take(&g->ready));
}

// grpc_deliver hands decoded messages and final statuses to the callbacks.
// Returns false when a callback closed g (which must not be touched then).
static bool
grpc_deliver(psb_grpc_t *g)
{
	grpc_call_t      *c;
	ProtobufCMessage *m;
	const char       *msg;

	while ((c = grpc_ready_pop(g)) != NULL) {
		g->delivering = c;
		for (size_t i = 0; c->streaming && i < c->rxq_n; i++) {
			m         = c->rxq[i];
			c->rxq[i] = NULL;
			if (!c->cancelled) {
				c->msg_cb(c->arg, m);
			} else {
				protobuf_c_message_free_unpacked(m, NULL);
			}
			if (g->closed) {
				return (false);
			}
		}
		if (c->streaming) {
			c->rxq_n = 0;
		}
		g->delivering = NULL;
		if (c->cancelled) {
			grpc_call_free(c);
			continue;
		}
		if (c->state != CALL_DONE) {
			// Everything complete in these bytes was handed over.
			if (c->unconsumed > 0 && g->sess != NULL) {
				nghttp2_session_consume(
				        g->sess, c->stream_id, c->unconsumed);
				c->unconsumed = 0;
			}
			continue;
		}
		// Test-only crash point (failpoint.h): unary outcomes only.
		psb_failpoint_check(c->streaming ? NULL : c->path);
		msg           = c->fin_message != NULL ? c->fin_message : "";
		g->delivering = c;
		c->ended      = true;
		if (c->streaming) {
			c->end_cb(c->arg, c->fin_status, msg);
		} else if (c->fin_status == PSB_GRPC_OK && c->rxq_n == 1) {
			c->rxq_n = 0;
			c->unary_cb(c->arg, PSB_GRPC_OK, msg, c->rxq[0]);
		} else {
			c->unary_cb(c->arg,
			        c->fin_status == PSB_GRPC_OK
			                ? PSB_GRPC_INTERNAL
			                : c->fin_status,
			        msg, NULL);
		}
		g->delivering = NULL;
		if (g->closed) {
			return (false);
		}
		grpc_call_free(c);
	}
	return (true);
}

static void
grpc_flush_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	psb_grpc_t *g = w->data;
	int         rv;

	ev_timer_stop(loop, w);
	g->depth++;
	for (;;) {
		if (g->nqueued > 0 && g->state == CONN_IDLE) {
			grpc_connect(g);
		}
		if (g->state == CONN_READY) {
			for (grpc_call_t *c = psb_list_first(&g->calls);
			        c != NULL && g->nqueued > 0;
			        c = psb_list_next(&g->calls, c)) {
				if (c->state == CALL_QUEUED) {
					grpc_submit(g, c);
				}
			}
			rv = nghttp2_session_send(g->sess);
			if (rv != 0) {
				grpc_conn_lost(g, "connection to %s lost: %s",
				        g->path,
				        rv == NGHTTP2_ERR_CALLBACK_FAILURE
				                ? strerror(g->sys_errno)
				                : nghttp2_strerror(rv));
			} else if (!nghttp2_session_want_read(g->sess) &&
			           !nghttp2_session_want_write(g->sess)) {
				grpc_conn_lost(g, "HTTP/2 session to %s ended",
				        g->path);
			} else {
				grpc_io_update(g);
			}
		}
		if (psb_list_empty(&g->ready) || !grpc_deliver(g)) {
			break;
		}
	}
	g->depth--;
	if (g->closed) {
		if (g->depth == 0) {
			free(g);
		}
		return;
	}
	// The passes above ran until nothing was left, so a kick from a
	// callback in the last one is spent; whatever waits now (a connect,
	// a backoff) has its own watcher to wake us.
	ev_timer_stop(loop, w);
}

// ---- public API -------------------------------------------------------

int
psb_grpc_open(struct ev_loop *loop, const char *unix_path,
        const psb_grpc_opts_t *opts, psb_grpc_t **out, psb_error_t *err)
{
	struct sockaddr_un sa;
	psb_grpc_t        *g;

	if (loop == NULL || unix_path == NULL || out == NULL) {
		return (psb_error_make(
		        err, PSB_EINVAL, "grpc: missing argument"));
	}
	if (unix_path[0] == '\0' || strlen(unix_path) >= sizeof(sa.sun_path)) {
		return (psb_error_make(err, PSB_EINVAL,
		        "grpc: socket path \"%s\" empty or too long",
		        unix_path));
	}
	g       = xcalloc(1, sizeof(*g));
	g->loop = loop;
	PSB_LIST_INIT(&g->calls, grpc_call_t, node);
	PSB_LIST_INIT(&g->ready, grpc_call_t, ready_node);
	g->path = xstrdup(unix_path);
	g->fd   = -1;
	if (opts != NULL) {
		g->opts = *opts;
	}
	g->opts.ns = NULL;
	if (opts != NULL && opts->ns != NULL && opts->ns[0] != '\0') {
		g->ns = xstrdup(opts->ns);
	}
	if (g->opts.backoff_min_ms == 0) {
		g->opts.backoff_min_ms = GRPC_BACKOFF_MIN;
	}
	if (g->opts.backoff_max_ms < g->opts.backoff_min_ms) {
		g->opts.backoff_max_ms =
		        g->opts.backoff_min_ms > GRPC_BACKOFF_MAX
		                ? g->opts.backoff_min_ms
		                : GRPC_BACKOFF_MAX;
	}
	if (g->opts.max_msg_size == 0 || g->opts.max_msg_size > UINT32_MAX) {
		g->opts.max_msg_size = GRPC_MAX_MSG_DEF;
	}
	g->backoff_ms = g->opts.backoff_min_ms;
	grpc_conn_init(g);
	ev_timer_init(&g->flush, grpc_flush_cb, 0., 0.);
	g->flush.data = g;
	*out          = g;
	return (PSB_OK);
}

void
psb_grpc_close(psb_grpc_t *g)
{
	grpc_call_t *c;

	if (g == NULL || g->closed) {
		return;
	}
	g->closed = true;
	g->depth++;
	ev_timer_stop(g->loop, &g->flush);
	while ((c = grpc_ready_pop(g)) != NULL) { }
	grpc_conn_close(g);
	while ((c = psb_list_first(&g->calls)) != NULL) {
		ev_timer_stop(g->loop, &c->deadline);
		if (c->state == CALL_QUEUED) {
			g->nqueued--;
		}
		c->state = CALL_DONE;
		// A call whose callback is running (close from inside it)
		// gets no second one.
		if (!c->cancelled && !c->ended) {
			g->delivering = c;
			if (c->streaming) {
				c->end_cb(c->arg, PSB_GRPC_CANCELLED,
				        "client closed");
			} else {
				c->unary_cb(c->arg, PSB_GRPC_CANCELLED,
				        "client closed", NULL);
			}
			g->delivering = NULL;
		}
		grpc_call_free(c);
	}
	g->depth--;
	free(g->path);
	free(g->ns);
	free(g->last_error);
	g->path = g->ns = g->last_error = NULL;
	if (g->depth == 0) {
		free(g);
	}
}
