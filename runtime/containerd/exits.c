//
// podsandboxd - containerd backend: task exits (see backend.h).
//
// Events.Subscribe on the wait-for-ready client, filtered on the server to
// /tasks/exit in our namespace. containerd acknowledges a subscription
// only with its first event, so every (re)subscribe is followed by a
// Tasks.List resync; a periodic resync catches anything else. A pidfd
// per pause pid (ev_io) sees an exit first: it asks containerd (Tasks.Get)
// for the status, retrying briefly while the shim has not reaped yet.
// Whatever finds an exit first claims it (exit_reported) in the tracking
// table, so an (id, generation) is reported once.
//

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "github.com/containerd/containerd/api/events/task.pb-c.h"
#include "github.com/containerd/containerd/api/services/events/v1/events.pb-c.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "runtime/containerd/ctrd.h"
#include "runtime/containerd/files.h"

#define RESUB_MIN_MS    100
#define RESUB_MAX_MS    2000
#define RESYNC_DEADLINE 5000
#define REAP_DEADLINE   10000
#define PIDW_DEADLINE   2000
#define PIDW_TRIES      9 // Tasks.Get retries: 1 + 2 + ... + 256 = 511 ms

int64_t
ctrd_ts_ns(const struct Google__Protobuf__Timestamp *ts)
{
	// containerd sends Go's zero time (year 1, -62135596800 s) for "not
	// exited"; nanoseconds since 1970 hold neither that nor anything
	// past 2262. Unknown is 0.
	if (ts == NULL || ts->seconds <= 0 ||
	        ts->seconds >= INT64_MAX / 1000000000LL || ts->nanos < 0 ||
	        ts->nanos > 999999999) {
		return (0);
	}
	return (ts->seconds * 1000000000LL + ts->nanos);
}

void
ctrd_emit(ctrd_t *c, const psb_rt_event_t *ev)
{
	if (!c->closing) {
		psb_runtime_emit(c->rt, ev);
	}
}

static void pidw_close(ctrd_t *c, ctrd_track_t *t);

// ---- the tracking table ---------------------------------------------------

ctrd_track_t *
ctrd_track_find(ctrd_t *c, const char *id)
{
	for (size_t i = 0; i < c->ntracks; i++) {
		if (strcmp(c->tracks[i].id, id) == 0) {
			return (&c->tracks[i]);
		}
	}
	return (NULL);
}

// ctrd_track_put returns the entry of id for generation: a new generation
// (or a new id) starts afresh. Valid until the table changes.
ctrd_track_t *
ctrd_track_put(ctrd_t *c, const char *id, uint64_t generation)
{
	ctrd_track_t *t = ctrd_track_find(c, id);

	if (t != NULL && t->generation == generation) {
		return (t);
	}
	if (t != NULL) {
		pidw_close(c, t); // of the older generation
	} else {
		if (c->ntracks == c->cap) {
			c->cap    = c->cap == 0 ? 16 : c->cap * 2;
			c->tracks = xrealloc(
			        c->tracks, c->cap * sizeof(*c->tracks));
		}
		t = &c->tracks[c->ntracks++];
	}
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->generation = generation;
	t->epoch      = c->list_epoch;
	return (t);
}

void
ctrd_track_remove(ctrd_t *c, const char *id)
{
	ctrd_track_t *t = ctrd_track_find(c, id);

	if (t != NULL) {
		pidw_close(c, t);
		*t = c->tracks[--c->ntracks];
	}
}

// ---- pidfds ---------------------------------------------------------------

// A pidfd watch of a track's pid. Allocated apart from the track (the
// table is realloc'd; libev keeps the watchers' addresses), owned by it,
// and closed with it, when its generation changes or its exit is claimed.
struct ctrd_pidw {
	ctrd_t  *c;
	char     id[CTRD_ID_MAX + 1];
	uint64_t generation;
	uint64_t serial; // tells the answers of an older watch apart
	uint32_t pid;
	int      fd; // -1 once the process has exited
	ev_io    io;
	ev_timer retry; // Tasks.Get again: containerd still says RUNNING
	int      tries;
};

// A Tasks.Get of a watch: ids, not the watch, which may close meanwhile.
typedef struct ctrd_pidget {
	ctrd_t  *c;
	char     id[CTRD_ID_MAX + 1];
	uint64_t generation;
	uint64_t serial;
} ctrd_pidget_t;

static void
pidw_close(ctrd_t *c, ctrd_track_t *t)
{
	ctrd_pidw_t *w = t->pidw;

	if (w == NULL) {
		return;
	}
	t->pidw = NULL;
	ev_io_stop(c->loop, &w->io);
	ev_timer_stop(c->loop, &w->retry);
	if (w->fd >= 0) {
		close(w->fd);
	}
	free(w);
}

static void
pidw_got(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_pidget_t                                *g = arg;
	ctrd_t                                       *c = g->c;
	Containerd__Services__Tasks__V1__GetResponse *r = (void *)resp;
	const Containerd__V1__Types__Process         *p = NULL;
	ctrd_track_t                                 *t;
	ctrd_pidw_t                                  *w = NULL;

	if (c->closing) {
		goto done;
	}
	if (status == PSB_GRPC_OK) {
		p = r->process;
	}
	t = ctrd_track_find(c, g->id);
	if (t != NULL && t->pidw != NULL && t->pidw->serial == g->serial) {
		w = t->pidw;
	}
	if (t == NULL || t->generation != g->generation) {
		// A new generation closed the watch that asked.
	} else if (t->exit_reported || t->reaping) {
		// Claimed meanwhile (the event stream won): it reports.
		psb_log_sb(PSB_LOG_DEBUG, g->id,
		        "containerd: the exit was claimed before Tasks.Get "
		        "answered");
		if (w != NULL) {
			pidw_close(c, t);
		}
	} else if (p != NULL &&
	           p->status == CONTAINERD__V1__TYPES__STATUS__STOPPED) {
		uint32_t pid = p->pid != 0 ? p->pid : t->pid;

		c->pidfd_exits++;
		psb_log_sb(PSB_LOG_DEBUG, g->id,
		        "containerd: the pidfd's Tasks.Get claims the exit of "
		        "pid %u",
		        (unsigned)pid);
		// It closes the watch (reap) and reports.
		ctrd_exit_handle(c, g->id, pid, (int32_t)p->exit_status,
		        ctrd_ts_ns(p->exited_at));
	} else if (p != NULL && w != NULL && w->tries < PIDW_TRIES) {
		// Exited, but the shim has not reaped it yet: ask again soon.
		ev_timer_set(&w->retry, (1u << w->tries) / 1000.0, 0.);
		ev_timer_start(c->loop, &w->retry);
		w->tries++;
	} else if (w != NULL) {
		// NOT_FOUND, an error, or RUNNING for too long: the event
		// stream or the resync reports it.
		if (p != NULL) {
			psb_log_sb(PSB_LOG_DEBUG, g->id,
			        "containerd: pid %u exited, containerd still "
			        "says it runs: leaving it to the event stream",
			        (unsigned)w->pid);
		} else {
			psb_log_sb(PSB_LOG_DEBUG, g->id,
			        "containerd: pid %u exited, Tasks.Get %s: %s: "
			        "leaving it to the event stream",
			        (unsigned)w->pid, psb_grpc_status_name(status),
			        message);
		}
		pidw_close(c, t);
	}
done:
	if (resp != NULL) {
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	free(g);
}

// pidw_check asks containerd about the exit of w's pid unless the exit
// of its generation is claimed already.
static void
pidw_check(ctrd_pidw_t *w)
{
	Containerd__Services__Tasks__V1__GetRequest req =
	        CONTAINERD__SERVICES__TASKS__V1__GET_REQUEST__INIT;
	ctrd_t        *c = w->c;
	ctrd_track_t  *t = ctrd_track_find(c, w->id); // its owner
	ctrd_pidget_t *g;

	if (t == NULL || t->pidw != w) {
		return; // cannot be: a track closes its watch
	}
	if (t->exit_reported || t->reaping) {
		psb_log_sb(PSB_LOG_DEBUG, w->id,
		        "containerd: the exit is claimed already");
		pidw_close(c, t); // the event stream or the resync reports
		return;
	}
	g = xcalloc(1, sizeof(*g));
	memcpy(g->id, w->id, sizeof(g->id));
	g->c             = c;
	g->generation    = w->generation;
	g->serial        = w->serial;
	req.container_id = w->id;
	if (psb_grpc_call(c->ev_g, CTRD_TASKS "Get", &req.base,
	            &containerd__services__tasks__v1__get_response__descriptor,
	            PIDW_DEADLINE, pidw_got, g) != 0) {
		free(g);
		pidw_close(c, t);
	}
}

static void
pidw_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	ctrd_pidw_t *w = io->data;

	(void)revents;
	// The process has exited: the pidfd stays readable.
	psb_log_sb(PSB_LOG_DEBUG, w->id,
	        "containerd: exit of pid %u seen by pidfd", (unsigned)w->pid);
	ev_io_stop(loop, io);
	close(w->fd);
	w->fd = -1;
	pidw_check(w);
}

static void
pidw_retry_cb(struct ev_loop *loop, ev_timer *tw, int revents)
{
	(void)loop;
	(void)revents;
	pidw_check(tw->data);
}

void
ctrd_track_set_pid(ctrd_t *c, ctrd_track_t *t, uint32_t pid)
{
	ctrd_pidw_t *w;
	int          fd = -1;

	if (t->pidw != NULL && t->pidw->pid == pid) {
		return; // watched already
	}
	pidw_close(c, t);
	t->pid = pid;
	if (pid == 0 || t->exit_reported || t->reaping || c->closing) {
		return;
	}
	// A pidfd is close-on-exec, and names this very process: a pid
	// reused after this open cannot fool it.
#ifdef SYS_pidfd_open
	fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
#else
	errno = ENOSYS;
#endif
	if (fd < 0 && errno != ESRCH) {
		psb_log_sb(PSB_LOG_DEBUG, t->id,
		        "containerd: pidfd_open(%u): %s: exits come from the "
		        "event stream only",
		        (unsigned)pid, strerror(errno));
		return;
	}
	w = xcalloc(1, sizeof(*w));
	memcpy(w->id, t->id, sizeof(w->id));
	w->c          = c;
	w->generation = t->generation;
	w->serial     = ++c->pidw_serial;
	w->pid        = pid;
	w->fd         = fd;
	ev_io_init(&w->io, pidw_io_cb, fd, EV_READ);
	w->io.data = w;
	ev_timer_init(&w->retry, pidw_retry_cb, 0., 0.);
	w->retry.data = w;
	t->pidw       = w;
	if (fd >= 0) {
		ev_io_start(c->loop, &w->io);
		return;
	}
	// Gone already (ESRCH): as if the pidfd were readable. The call
	// answers later, so t stays valid for the caller.
	psb_log_sb(PSB_LOG_DEBUG, t->id,
	        "containerd: pid %u is gone already: asking containerd",
	        (unsigned)pid);
	pidw_check(w);
}

// ---- reaping --------------------------------------------------------------

// Tasks.Delete throws away the exit status containerd kept, so it goes out
// only once the TASK_EXIT reported before it is committed: a reap waits one
// loop iteration on its own zero-delay timer, and the controller's tick
// (ev_prepare, at the start of the next iteration) commits first. Sent at
// once, it could reach containerd before the commit, and a crash between
// the two would leave a sandbox whose exit status nobody knows any more.
struct ctrd_reap {
	ctrd_t         *c;
	psb_list_node_t node; // on c->reaps, until sent
	ev_timer        kick;
	char            id[CTRD_ID_MAX + 1];
	uint64_t        generation;
};

// reap_unmount_shm unmounts the shm of id's exited pause, as containerd's
// Stop does; the directories stay until Shutdown. Only while no operation
// on id is in flight: a start of the next generation may have mounted a
// fresh one, and a delete unmounts it itself.
static void
reap_unmount_shm(ctrd_t *c, const char *id)
{
	ctrd_files_t f   = {0};
	psb_error_t  err = PSB_ERROR_INIT;

	ctrd_files_paths(&f, c->sandbox_root, c->sandbox_state, id);
	if (ctrd_files_unmount(&f, &err) != 0) {
		psb_log_sb(PSB_LOG_WARN, id,
		        "containerd: %s (Shutdown tries again)",
		        psb_error_message(&err));
		psb_error_release(&err);
	}
	ctrd_files_release(&f);
}

static void
reap_done(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_reap_t  *r = arg;
	ctrd_t       *c = r->c;
	ctrd_track_t *t;

	if (resp != NULL) {
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	if (status != PSB_GRPC_OK && status != PSB_GRPC_NOT_FOUND &&
	        !c->closing) {
		psb_log_sb(PSB_LOG_WARN, r->id,
		        "containerd: reaping the exited task failed: %s: %s "
		        "(the resync retries)",
		        psb_grpc_status_name(status), message);
	}
	if (c->closing) {
		free(r);
		return;
	}
	t = ctrd_track_find(c, r->id);
	if (t != NULL && t->generation == r->generation) {
		t->reaping = false;
		if ((status == PSB_GRPC_OK || status == PSB_GRPC_NOT_FOUND) &&
		        !ctrd_op_pending(c, r->id)) {
			reap_unmount_shm(c, r->id);
		}
	}
	if (t != NULL && t->delete_after_reap != NULL) {
		ctrd_op_t *del = t->delete_after_reap;

		t->delete_after_reap = NULL;
		ctrd_delete_resume(del);
	}
	free(r);
}

static void
reap_kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ctrd_reap_t                                       *r = w->data;
	ctrd_t                                            *c = r->c;
	Containerd__Services__Tasks__V1__DeleteTaskRequest req =
	        CONTAINERD__SERVICES__TASKS__V1__DELETE_TASK_REQUEST__INIT;

	(void)loop;
	(void)revents;
	psb_list_remove(&c->reaps, r);
	req.container_id = r->id;
	// On the wait-for-ready client, like the resync that may have found
	// the exit: right after containerd came back, the fail-fast client
	// may still be in its dial backoff and would fail at once.
	if (psb_grpc_call(c->ev_g, CTRD_TASKS "Delete", &req.base,
	            &containerd__services__tasks__v1__delete_response__descriptor,
	            REAP_DEADLINE, reap_done, r) != 0) {
		// Closing: reap_done would only free it.
		free(r);
	}
}

// reap deletes t's exited task in the next loop iteration (see above).
// The exit must have been reported (or claimed) already.
static void
reap(ctrd_t *c, ctrd_track_t *t)
{
	ctrd_reap_t *r = xcalloc(1, sizeof(*r));

	memcpy(r->id, t->id, sizeof(r->id));
	r->c          = c;
	r->generation = t->generation;
	psb_list_prepend(&c->reaps, r);
	ev_timer_init(&r->kick, reap_kick_cb, 0., 0.);
	r->kick.data = r;
	ev_timer_start(c->loop, &r->kick);
	pidw_close(c, t); // claimed, or being reaped
	t->reaping = true;
}

void
ctrd_exit_handle(
        ctrd_t *c, const char *id, uint32_t pid, int32_t status, int64_t at)
{
	ctrd_track_t *t = ctrd_track_find(c, id);

	psb_rt_event_t ev = {
	        .event       = PSB_EV_TASK_EXIT,
	        .sandbox_id  = id,
	        .pid         = pid,
	        .exit_status = status,
	        .exited_at   = at,
	};

	if (t == NULL || t->exit_reported || t->reaping) {
		return; // not ours, or already claimed
	}
	if (t->pid == 0 && ctrd_start_before_task(c, id)) {
		// e.g. the TaskExit of an orphan of the same id that the
		// start-up probe is removing while a new start waits for it.
		psb_log_sb(PSB_LOG_DEBUG, id,
		        "containerd: exit of an earlier task (pid %u) "
		        "ignored: "
		        "the start in flight has not made its task yet",
		        (unsigned)pid);
		return;
	}
	// containerd's TaskExit carries the status: report it now and reap
	// (Tasks.Delete, 10-40 ms) afterwards, so EXITED shows as soon as
	// containerd knows. A Shutdown racing the reap finds NotFound, which
	// is success for it.
	t->exit_reported = true;
	ev.generation    = t->generation;
	if (ev.pid == 0) {
		ev.pid = t->pid;
	}
	psb_log_sb(PSB_LOG_INFO, id,
	        "containerd: pause task (pid %u) exited with status %d",
	        (unsigned)ev.pid, (int)status);
	ctrd_emit(c, &ev);
	reap(c, t);
}

// ---- resync ---------------------------------------------------------------

typedef struct ctrd_resync {
	ctrd_t  *c;
	uint64_t epoch;
} ctrd_resync_t;

static void
resync_done(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_resync_t                                      *rs    = arg;
	ctrd_t                                             *c     = rs->c;
	uint64_t                                            epoch = rs->epoch;
	Containerd__Services__Tasks__V1__ListTasksResponse *l = (void *)resp;

	free(rs);
	if (c->closing) {
		if (resp != NULL) {
			protobuf_c_message_free_unpacked(resp, NULL);
		}
		return;
	}
	c->resync_busy = false;
	if (status != PSB_GRPC_OK) {
		psb_log(PSB_LOG_DEBUG, "containerd: resync Tasks.List: %s: %s",
		        psb_grpc_status_name(status), message);
		// containerd was away: the subscription waits to come back,
		// and so must the resync that goes with it, or the exits of
		// meanwhile wait for the next period.
		if (c->sub != NULL && c->resync_ms > 0 &&
		        (status == PSB_GRPC_DEADLINE_EXCEEDED ||
		                status == PSB_GRPC_UNAVAILABLE)) {
			ev_ref(c->loop); // stopping an unref'd watcher
			ev_timer_stop(c->loop, &c->resync_timer);
			ev_timer_set(&c->resync_timer, RESUB_MIN_MS / 1000.0,
			        c->resync_ms / 1000.0);
			ev_timer_start(c->loop, &c->resync_timer);
			ev_unref(c->loop);
		}
		return;
	}
	// Copy the ids first: an emitted event may reach the controller,
	// which may start operations that change the table.
	size_t n                    = c->ntracks;
	char(*ids)[CTRD_ID_MAX + 1] = xcalloc(n + 1, sizeof(*ids));

	for (size_t i = 0; i < n; i++) {
		memcpy(ids[i], c->tracks[i].id, sizeof(ids[i]));
	}
	for (size_t i = 0; i < n && !c->closing; i++) {
		ctrd_track_t *t = ctrd_track_find(c, ids[i]);
		const Containerd__V1__Types__Process *task = NULL;

		// A list issued before t was (re)tracked cannot tell about
		// it: it may show an older task, or none yet.
		if (t == NULL || t->reaping || t->epoch >= epoch) {
			continue;
		}
		for (size_t j = 0; j < l->n_tasks; j++) {
			if (strcmp(ctrd_task_container(l->tasks[j]), t->id) ==
			        0) {
				task = l->tasks[j];
				break;
			}
		}
		if (task != NULL &&
		        task->status ==
		                CONTAINERD__V1__TYPES__STATUS__STOPPED) {
			if (t->exit_reported) {
				reap(c, t); // recovery found it exited
				continue;
			}
			c->missed_exits++;
			psb_log_sb(PSB_LOG_WARN, t->id,
			        "containerd: exit found by resync "
			        "(event late or missed)");
			// Reported with the list's status, then reaped.
			ctrd_exit_handle(c, ids[i], task->pid,
			        (int32_t)task->exit_status,
			        ctrd_ts_ns(task->exited_at));
		} else if (task == NULL && t->pid != 0 && !t->exit_reported &&
		           !t->deleting) {
			// Started, and its task is gone without an exit seen.
			psb_rt_event_t ev = {
			        .event       = PSB_EV_TASK_EXIT,
			        .sandbox_id  = ids[i],
			        .generation  = t->generation,
			        .pid         = t->pid,
			        .exit_status = PSB_EXIT_UNKNOWN,
			};

			c->missed_exits++;
			t->exit_reported = true;
			pidw_close(c, t);
			psb_log_sb(PSB_LOG_WARN, t->id,
			        "containerd: task vanished without an exit "
			        "event");
			ctrd_emit(c, &ev);
		}
	}
	free(ids);
	protobuf_c_message_free_unpacked(resp, NULL);
}

static void
resync(ctrd_t *c)
{
	Containerd__Services__Tasks__V1__ListTasksRequest req =
	        CONTAINERD__SERVICES__TASKS__V1__LIST_TASKS_REQUEST__INIT;
	ctrd_resync_t *rs;

	if (c->resync_busy || c->ntracks == 0) {
		return;
	}
	rs        = xcalloc(1, sizeof(*rs));
	rs->c     = c;
	rs->epoch = ++c->list_epoch;
	if (psb_grpc_call(c->ev_g, CTRD_TASKS "List", &req.base,
	            &containerd__services__tasks__v1__list_tasks_response__descriptor,
	            RESYNC_DEADLINE, resync_done, rs) != 0) {
		free(rs);
		return;
	}
	c->resync_busy = true;
}

static void
resync_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ctrd_t *c = w->data;

	(void)loop;
	(void)revents;
	resync(c);
}

// ---- the subscription -----------------------------------------------------

static void subscribe(ctrd_t *c);

static void
sub_msg(void *arg, ProtobufCMessage *msg)
{
	ctrd_t                                     *c = arg;
	Containerd__Services__Events__V1__Envelope *e = (void *)msg;
	Containerd__Events__TaskExit               *x = NULL;

	c->resub_ms = RESUB_MIN_MS; // the stream works
	if (e->event != NULL && strcmp(e->namespace_, c->ns) == 0 &&
	        strcmp(e->event->type_url,
	                containerd__events__task_exit__descriptor.name) == 0) {
		x = containerd__events__task_exit__unpack(
		        NULL, e->event->value.len, e->event->value.data);
	}
	// Only the init process of a container (exec ids differ).
	if (x != NULL && strcmp(x->id, x->container_id) == 0) {
		ctrd_exit_handle(c, x->container_id, x->pid,
		        (int32_t)x->exit_status, ctrd_ts_ns(x->exited_at));
	}
	if (x != NULL) {
		containerd__events__task_exit__free_unpacked(x, NULL);
	}
	protobuf_c_message_free_unpacked(msg, NULL);
}

static void
sub_end(void *arg, int status, const char *message)
{
	ctrd_t *c = arg;

	c->sub = NULL;
	if (c->closing) {
		return;
	}
	psb_log(PSB_LOG_INFO,
	        "containerd: exit subscription ended (%s: %s); "
	        "re-subscribing in %u ms",
	        psb_grpc_status_name(status), message, (unsigned)c->resub_ms);
	ev_timer_set(&c->resub_timer, c->resub_ms / 1000.0, 0.);
	ev_timer_start(c->loop, &c->resub_timer);
	c->resub_ms = c->resub_ms * 2 > RESUB_MAX_MS ? RESUB_MAX_MS
	                                             : c->resub_ms * 2;
}

static void
resub_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	subscribe(w->data);
}

static void
subscribe(ctrd_t *c)
{
	Containerd__Services__Events__V1__SubscribeRequest req =
	        CONTAINERD__SERVICES__EVENTS__V1__SUBSCRIBE_REQUEST__INIT;
	char  filter[256];
	char *filters[1] = {filter};

	// One filter: its comma is AND (separate filters would be OR).
	snprintf(filter, sizeof(filter),
	        "topic==\"/tasks/exit\",namespace==\"%s\"", c->ns);
	req.n_filters = 1;
	req.filters   = filters;
	if (psb_grpc_stream(c->ev_g, CTRD_EVENTS "Subscribe", &req.base,
	            &containerd__services__events__v1__envelope__descriptor,
	            sub_msg, sub_end, c, &c->sub) != 0) {
		c->sub = NULL;
		return;
	}
	resync(c);
}

void
ctrd_exits_start(ctrd_t *c)
{
	PSB_LIST_INIT(&c->reaps, ctrd_reap_t, node);
	c->resub_ms = RESUB_MIN_MS;
	ev_timer_init(&c->resub_timer, resub_timer_cb, 0., 0.);
	c->resub_timer.data = c;
	ev_timer_init(&c->resync_timer, resync_timer_cb, 0., 0.);
	c->resync_timer.data = c;
	if (c->resync_ms > 0) {
		ev_timer_set(&c->resync_timer, c->resync_ms / 1000.0,
		        c->resync_ms / 1000.0);
		ev_timer_start(c->loop, &c->resync_timer);
		ev_unref(c->loop); // the resync alone keeps no loop alive
	}
	subscribe(c);
}

void
ctrd_exits_stop(ctrd_t *c)
{
	ctrd_reap_t *r;

	for (size_t i = 0; i < c->ntracks; i++) {
		pidw_close(c, &c->tracks[i]);
	}
	while ((r = psb_list_take(&c->reaps)) != NULL) {
		ev_timer_stop(c->loop, &r->kick);
		free(r);
	}
	if (ev_is_active(&c->resync_timer)) {
		ev_ref(c->loop);
		ev_timer_stop(c->loop, &c->resync_timer);
	}
	ev_timer_stop(c->loop, &c->resub_timer);
}
