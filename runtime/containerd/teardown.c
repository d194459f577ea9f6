//
// podsandboxd - containerd backend: the teardown of a sandbox (task,
// container, snapshot), shared by a failed start's rollback and by a
// delete (Shutdown, and the removal of an orphan); see op.h.
//
// The steps are one table walked by one driver: each step is a gRPC call,
// the statuses that let the walk go on, and what it removes. NotFound is
// success at each step (DESIGN.md §6), so a teardown that was cut short (a
// crash, containerd restarting) can simply run again. The two uses differ
// only in where the walk ends and in what the rollback may skip:
//   - a delete runs every step and stops at the first failure
//     (DELETE_FAILED naming the step; RUNTIME_UNREACHABLE if containerd
//     is away), else DELETE_OK;
//   - a rollback runs only the steps of what its start made, and a step
//     that fails leaves that and everything after it in place: the
//     START_FAILED event lists what is left (not rolled back).
// Between the task and the container the sandbox files go (files.h), a
// step done on the loop without a call.
// The gRPC calls and their order are those of the crash-recovery e2e test's
// failpoints (tests/e2e/crash_test.sh): Tasks/Kill, Tasks/Delete,
// Containers/Delete, Snapshots/Remove.
//

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/ident.h"
#include "base/log.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "runtime/containerd/ctrd.h"
#include "runtime/containerd/op.h"

#define TD_BIT(status) (1u << (status))
#define TD_GONE        (TD_BIT(PSB_GRPC_OK) | TD_BIT(PSB_GRPC_NOT_FOUND))

// How a start's rollback takes a step (a delete takes them all alike).
typedef enum {
	TD_RB_RUN,     // as a delete does
	TD_RB_LENIENT, // whatever the status, go on: the next step tells
	TD_RB_SKIP,    // not at all
} td_rollback_t;

// One step. A rollback skips a step that removes nothing its start made.
// A step is a gRPC call, or (local) work done at once on the loop.
typedef struct td_step {
	const char *name; // in messages: "Tasks.Delete"
	int (*call)(ctrd_op_t *o, psb_grpc_unary_cb cb);
	int (*local)(ctrd_op_t *o, psb_error_t *err);
	uint32_t      ok;       // TD_BIT() of the statuses that go on
	unsigned      removes;  // ctrd_made_t
	td_rollback_t rollback; // how a rollback takes the step
	bool          wait;     // poll until the task stopped (td_stopped)
	bool (*needed)(const ctrd_op_t *o); // NULL: always; else if true
} td_step_t;

static int td_files_remove(ctrd_op_t *o, psb_error_t *err);

static const td_step_t td_steps[] = {
        // A task must stop before Tasks.Delete takes it. NOT_FOUND: no
        // task, or it has exited already; FAILED_PRECONDITION: created
        // but never started, which the delete removes as it is.
        {
                .name     = "Tasks.Kill",
                .call     = ctrd_call_kill,
                .ok       = TD_GONE | TD_BIT(PSB_GRPC_FAILED_PRECONDITION),
                .removes  = CTRD_MADE_TASK,
                .rollback = TD_RB_LENIENT,
        },
        // SIGKILL is asynchronous: wait for the task to stop. A rollback
        // does not (it never did): it follows a failed Tasks.Start, so
        // its task is not known to have run.
        {
                .name     = "Tasks.Get",
                .call     = ctrd_call_task_get,
                .ok       = TD_GONE,
                .removes  = CTRD_MADE_TASK,
                .rollback = TD_RB_SKIP,
                .wait     = true,
        },
        {
                .name     = "Tasks.Delete",
                .call     = ctrd_call_task_delete,
                .ok       = TD_GONE,
                .removes  = CTRD_MADE_TASK,
                .rollback = TD_RB_RUN,
        },
        // The pod network (network.h): its intent and result are in the
        // resources, so a teardown knows what to undo. Plugins must
        // tolerate a repeated DEL (the CNI spec), so a cut-short one
        // simply runs again.
        {
                .name     = "CNI DEL",
                .call     = ctrd_net_call_del,
                .ok       = TD_BIT(PSB_GRPC_OK),
                .removes  = CTRD_MADE_CNI,
                .rollback = TD_RB_RUN,
                .needed   = ctrd_net_needs_del,
        },
        {
                .name     = "removing the network namespace",
                .call     = ctrd_net_call_remove,
                .ok       = TD_BIT(PSB_GRPC_OK),
                .removes  = CTRD_MADE_NETNS,
                .rollback = TD_RB_RUN,
                .needed   = ctrd_net_needs_netns,
        },
        // Where containerd removes them: the task that used shm is gone.
        {
                .name     = "removing the sandbox files",
                .local    = td_files_remove,
                .removes  = CTRD_MADE_FILES,
                .rollback = TD_RB_RUN,
        },
        {
                .name     = "Containers.Delete",
                .call     = ctrd_call_container_delete,
                .ok       = TD_GONE,
                .removes  = CTRD_MADE_CONTAINER,
                .rollback = TD_RB_RUN,
        },
        {
                .name     = "Snapshots.Remove",
                .call     = ctrd_call_snapshot_remove,
                .ok       = TD_GONE,
                .removes  = CTRD_MADE_SNAPSHOT,
                .rollback = TD_RB_RUN,
        },
};

#define TD_NSTEPS PSB_NELEM(td_steps)

// td_files_remove unmounts shm and removes the sandbox's directories;
// what is gone already is success (files.h), like NotFound for a call.
static int
td_files_remove(ctrd_op_t *o, psb_error_t *err)
{
	return (ctrd_files_remove(&o->files, err));
}

static void td_next(ctrd_op_t *o);

static bool
td_is_rollback(const ctrd_op_t *o)
{
	return (o->kind == CTRD_OP_START);
}

static bool
td_status_ok(const td_step_t *s, int status)
{
	return (status >= 0 && status < 32 && (s->ok & TD_BIT(status)) != 0);
}

// td_applies: a delete runs every step; a rollback those it takes, for
// what its start made.
static bool
td_applies(const ctrd_op_t *o, const td_step_t *s)
{
	if (s->needed != NULL && !s->needed(o)) {
		return (false);
	}
	return (!td_is_rollback(o) ||
	        (s->rollback != TD_RB_SKIP && (o->made & s->removes) != 0));
}

// td_left is what a failure at step i leaves: what that step and the ones
// after it remove (a container holds its snapshot, a task both).
static unsigned
td_left(size_t i)
{
	unsigned left = 0;

	for (; i < TD_NSTEPS; i++) {
		left |= td_steps[i].removes;
	}
	return (left);
}

// ---- the end of a delete ---------------------------------------------------

// td_orphan_done ends the removal of an orphan (removed is false when a
// step failed: the next start-up tries again) and starts what waited.
static void
td_orphan_done(ctrd_op_t *o, bool removed)
{
	ctrd_op_t *then = o->then;

	if (removed) {
		psb_log_sb(PSB_LOG_INFO, o->id,
		        "containerd: orphan removed (task, container and "
		        "snapshot)");
	}
	o->then = NULL;
	ctrd_op_free(o);
	if (then != NULL) {
		ctrd_start_resume(then);
	}
}

static void
td_delete_failed(
        ctrd_op_t *o, const char *step, int status, const char *message)
{
	char           buf[512];
	ctrd_track_t  *t  = ctrd_track_find(o->c, o->id);
	psb_rt_event_t ev = {
	        .event = ctrd_unreachable_or(status, PSB_EV_DELETE_FAILED),
	        .sandbox_id = o->id,
	        .generation = o->generation,
	        .code       = psb_grpc_status_to_err(status),
	        .message    = buf,
	};

	if (t != NULL) {
		t->deleting = false;
	}
	snprintf(buf, sizeof(buf), "delete: %s: %s: %s", step,
	        psb_grpc_status_name(status), message);
	psb_log_sb(PSB_LOG_WARN, o->id, "containerd: %s%s", buf,
	        o->orphan ? " (orphan left; the next start-up retries)" : "");
	if (o->orphan) {
		td_orphan_done(o, false);
		return;
	}
	ctrd_emit(o->c, &ev);
	ctrd_op_free(o);
}

static void
td_deleted(ctrd_op_t *o)
{
	psb_rt_event_t ev = {
	        .event      = PSB_EV_DELETE_OK,
	        .sandbox_id = o->id,
	        .generation = o->generation,
	};

	if (o->orphan) {
		td_orphan_done(o, true);
		return;
	}
	ctrd_track_remove(o->c, o->id);
	ctrd_emit(o->c, &ev);
	ctrd_op_free(o);
}

// ---- the driver -----------------------------------------------------------

// td_fail ends the teardown at step o->step (what: the step's name, or
// what it was waiting for).
static void
td_fail(ctrd_op_t *o, const char *what, int status, const char *message)
{
	if (td_is_rollback(o)) {
		o->left |= o->made & td_left(o->step);
		ctrd_start_failed(o);
	} else {
		td_delete_failed(o, what, status, message);
	}
}

// td_stopped: Tasks.Get says the killed task is no more running (gone,
// stopped, or created and never started).
static bool
td_stopped(int status, const ProtobufCMessage *resp)
{
	const Containerd__Services__Tasks__V1__GetResponse *r =
	        (const void *)resp;

	return (status == PSB_GRPC_NOT_FOUND || r->process == NULL ||
	        r->process->status == CONTAINERD__V1__TYPES__STATUS__STOPPED ||
	        r->process->status == CONTAINERD__V1__TYPES__STATUS__CREATED);
}

static void
td_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	td_next(w->data); // the same step (Tasks.Get) again
}

static void
td_done(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t       *o = arg;
	const td_step_t *s = &td_steps[o->step];
	bool             stopped;

	if (ctrd_op_gone(o, resp)) {
		return;
	}
	if (!td_status_ok(s, status) &&
	        !(td_is_rollback(o) && s->rollback == TD_RB_LENIENT)) {
		ctrd_free_resp(resp);
		td_fail(o, s->name, status, message);
		return;
	}
	if (s->wait) {
		stopped = td_stopped(status, resp);
		ctrd_free_resp(resp);
		if (!stopped && ++o->polls < CTRD_POLL_MAX) {
			ev_timer_init(&o->timer, td_timer_cb,
			        CTRD_POLL_MS / 1000.0, 0.);
			o->timer.data = o;
			ev_timer_start(o->c->loop, &o->timer);
			return;
		}
		if (!stopped) {
			td_fail(o, "waiting for the killed task to stop",
			        PSB_GRPC_DEADLINE_EXCEEDED,
			        "still running after 10 s");
			return;
		}
	} else {
		ctrd_free_resp(resp);
	}
	o->step++;
	td_next(o);
}

// td_start issues the call of step o->step, or of the first one after it
// that applies. With no step left the teardown is over: it ends (and 0 is
// returned). Non-zero only when the call could not be made (the client is
// closing); o is then the caller's.
static int
td_start(ctrd_op_t *o)
{
	while (o->step < TD_NSTEPS) {
		const td_step_t *s    = &td_steps[o->step];
		psb_error_t      lerr = PSB_ERROR_INIT;

		if (td_applies(o, s) && s->local == NULL) {
			break;
		}
		if (td_applies(o, s) && s->local(o, &lerr) != 0) {
			psb_log_sb(PSB_LOG_WARN, o->id, "containerd: %s: %s",
			        s->name, psb_error_message(&lerr));
			// Ends the teardown: o is no longer the caller's.
			td_fail(o, s->name, PSB_GRPC_INTERNAL,
			        psb_error_message(&lerr));
			psb_error_release(&lerr);
			return (0);
		}
		o->step++;
	}
	if (o->step == TD_NSTEPS) {
		if (td_is_rollback(o)) {
			ctrd_start_failed(o);
		} else {
			td_deleted(o);
		}
		return (0);
	}
	return (td_steps[o->step].call(o, td_done));
}

static void
td_next(ctrd_op_t *o)
{
	if (td_start(o) != 0) {
		td_fail(o, td_steps[o->step].name, PSB_GRPC_CANCELLED,
		        "canceled");
	}
}

void
ctrd_teardown(ctrd_op_t *o)
{
	o->step  = 0;
	o->polls = 0;
	td_next(o);
}

// ---- delete ---------------------------------------------------------------

// td_orphan_find returns the pending delete of an orphan with this id.
static ctrd_op_t *
td_orphan_find(ctrd_t *c, const char *id)
{
	ctrd_op_t *o;

	PSB_LIST_FOREACH(&c->ops, o)
	{
		if (o->orphan && strcmp(o->id, id) == 0) {
			return (o);
		}
	}
	return (NULL);
}

bool
ctrd_orphan_wait(ctrd_t *c, ctrd_op_t *start)
{
	ctrd_op_t *orphan = td_orphan_find(c, start->id);

	if (orphan == NULL || orphan->then != NULL) {
		return (false);
	}
	orphan->then = start;
	return (true);
}

int
ctrd_delete(void *impl, const psb_rt_sandbox_t *sb, psb_error_t *err)
{
	ctrd_t       *c = impl;
	ctrd_op_t    *o;
	ctrd_track_t *t;
	int           rv;

	if ((rv = ctrd_id_check(sb != NULL ? sb->id : NULL, err)) != 0) {
		return (rv);
	}
	if ((t = ctrd_track_find(c, sb->id)) != NULL) {
		t->deleting = true;
	}
	o       = ctrd_op_new(c, CTRD_OP_DELETE, sb->id, sb->generation);
	o->made = CTRD_MADE_ALL; // whatever there is
	(void)ctrd_files_recorded(&o->files, sb->resources);
	(void)ctrd_net_recorded(&o->net, sb->resources);
	o->config_json =
	        sb->config_json != NULL ? xstrdup(sb->config_json) : NULL;
	// The exit's reap (Tasks.Delete) may still be in flight: the shim is
	// shutting down, and a Kill now fails with "ttrpc: closed". Wait for
	// the reap; the task is gone after it (ctrd_delete_resume).
	if (t != NULL && t->reaping && t->delete_after_reap == NULL) {
		t->delete_after_reap = o;
		return (0);
	}
	if (td_start(o) != 0) {
		ctrd_op_free(o);
		return (psb_error_make(err, PSB_ECANCELED,
		        "sandbox %s: delete: the containerd client is closing",
		        sb->id));
	}
	return (0);
}

void
ctrd_delete_resume(ctrd_op_t *o)
{
	ctrd_teardown(o);
}

void
ctrd_reap_orphan(ctrd_t *c, const char *id, const char *generation)
{
	ctrd_op_t *o;

	// The id names the sandbox's directories: one that is not a valid
	// id ("..") is never ours, whatever containerd lists.
	if (!psb_id_valid(id) || strlen(id) > CTRD_ID_MAX ||
	        td_orphan_find(c, id) != NULL) {
		return;
	}
	psb_log_sb(PSB_LOG_WARN, id,
	        "containerd: container of generation %s has no sandbox "
	        "(an orphan): removing it",
	        generation != NULL ? generation : "?");
	o         = ctrd_op_new(c, CTRD_OP_DELETE, id, 0);
	o->made   = CTRD_MADE_ALL;
	o->orphan = true;
	// Housekeeping nobody waits for: on the wait-for-ready client, so
	// that containerd just back (the fail-fast client still in its dial
	// backoff) does not fail it.
	o->g = c->ev_g;
	if (td_start(o) != 0) {
		ctrd_op_free(o);
	}
}
