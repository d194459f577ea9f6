//
// podsandboxd - containerd backend: probe (recovery) and platform (see
// backend.h). A probe is one Tasks.List and one Containers.List (our
// label), then one outcome per sandbox asked about.
//

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/log.h"
#include "base/parse.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb-c.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "runtime/containerd/ctrd.h"

typedef struct probe {
	ctrd_t           *c;
	size_t            n;
	char            **ids;
	uint64_t         *gens;
	ProtobufCMessage *tasks; // ListTasksResponse
	ProtobufCMessage *conts; // ListContainersResponse
	int               pending;
	bool              unreachable;
	bool              complete; // ids is every sandbox: reap orphans
} probe_t;

static void
probe_free(probe_t *o)
{
	if (o->tasks != NULL) {
		protobuf_c_message_free_unpacked(o->tasks, NULL);
	}
	if (o->conts != NULL) {
		protobuf_c_message_free_unpacked(o->conts, NULL);
	}
	for (size_t i = 0; i < o->n; i++) {
		free(o->ids[i]);
	}
	free(o->ids);
	free(o->gens);
	free(o);
}

// ---- probe ----------------------------------------------------------------

static const char *
label_of(const Containerd__Services__Containers__V1__Container *ct,
        const char                                             *key)
{
	for (size_t i = 0; i < ct->n_labels; i++) {
		if (strcmp(ct->labels[i]->key, key) == 0) {
			return (ct->labels[i]->value);
		}
	}
	return (NULL);
}

// probe_generation is the generation that created ct, from our label;
// asked (the generation the daemon has) when the label is missing. The
// label comes from containerd, where anyone may have written it: one that
// is not a number is not ours to believe, and is ignored with a warning.
static uint64_t
probe_generation(const Containerd__Services__Containers__V1__Container *ct,
        uint64_t                                                        asked)
{
	const char *g = label_of(ct, PSB_CTRD_LABEL_GEN);
	uint64_t    gen;

	if (g == NULL) {
		return (asked);
	}
	if (psb_parse_uint(g, strlen(g), UINT64_MAX, &gen) != 0) {
		psb_log_sb(PSB_LOG_WARN, ct->id,
		        "containerd: label %s=\"%.32s\" is not a generation: "
		        "ignored",
		        PSB_CTRD_LABEL_GEN, g);
		return (asked);
	}
	return (gen);
}

// A task that was created but never started (the daemon died between
// Tasks.Create and Tasks.Start) is deleted before FOUND_NOTHING is told:
// it holds runc's init process, and the sandbox may be started again.
typedef struct probe_clean {
	ctrd_t  *c;
	char     id[CTRD_ID_MAX + 1];
	uint64_t generation;
} probe_clean_t;

static void
probe_cleaned(
        void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	probe_clean_t *pc = arg;
	psb_rt_event_t ev = {
	        .event       = PSB_EV_FOUND_NOTHING,
	        .sandbox_id  = pc->id,
	        .generation  = pc->generation,
	        .exit_status = PSB_EXIT_UNKNOWN,
	};

	if (resp != NULL) {
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	if (!pc->c->closing) {
		if (status != PSB_GRPC_OK && status != PSB_GRPC_NOT_FOUND) {
			// A later start's stale-container path retries it.
			psb_log_sb(PSB_LOG_WARN, pc->id,
			        "containerd: deleting a never-started task: "
			        "%s: %s",
			        psb_grpc_status_name(status), message);
		}
		ctrd_emit(pc->c, &ev);
	}
	free(pc);
}

static bool
probe_clean_task(ctrd_t *c, const char *id, uint64_t generation)
{
	probe_clean_t *pc = xcalloc(1, sizeof(*pc));
	Containerd__Services__Tasks__V1__DeleteTaskRequest req =
	        CONTAINERD__SERVICES__TASKS__V1__DELETE_TASK_REQUEST__INIT;

	pc->c          = c;
	pc->generation = generation;
	snprintf(pc->id, sizeof(pc->id), "%s", id);
	req.container_id = pc->id;
	psb_log_sb(PSB_LOG_INFO, id,
	        "containerd: a task was created but never started: "
	        "deleting it");
	if (psb_grpc_call(c->g, CTRD_TASKS "Delete", &req.base,
	            &containerd__services__tasks__v1__delete_response__descriptor,
	            CTRD_DEADLINE_MS, probe_cleaned, pc) != 0) {
		free(pc);
		return (false);
	}
	return (true);
}

// probe_orphans removes every container of ours that is not a sandbox
// asked about and that no operation started since is using.
static void
probe_orphans(probe_t *o)
{
	Containerd__Services__Containers__V1__ListContainersResponse *cl =
	        (void *)o->conts;

	for (size_t j = 0; j < cl->n_containers; j++) {
		const Containerd__Services__Containers__V1__Container *ct =
		        cl->containers[j];
		bool known = false;

		for (size_t i = 0; i < o->n && !known; i++) {
			known = strcmp(o->ids[i], ct->id) == 0;
		}
		if (known || ctrd_track_find(o->c, ct->id) != NULL ||
		        ctrd_op_pending(o->c, ct->id)) {
			continue;
		}
		ctrd_reap_orphan(
		        o->c, ct->id, label_of(ct, PSB_CTRD_LABEL_GEN));
	}
}

// list_ours starts a Containers.List of the containers with our label.
static int
list_ours(psb_grpc_t *g, uint32_t deadline_ms, psb_grpc_unary_cb cb, void *arg)
{
	Containerd__Services__Containers__V1__ListContainersRequest req =
	        CONTAINERD__SERVICES__CONTAINERS__V1__LIST_CONTAINERS_REQUEST__INIT;
	char  filter[]   = "labels.\"" PSB_CTRD_LABEL_ID "\"";
	char *filters[1] = {filter};

	req.n_filters = 1;
	req.filters   = filters;
	return (psb_grpc_call(g, CTRD_CONTS "List", &req.base,
	        &containerd__services__containers__v1__list_containers_response__descriptor,
	        deadline_ms, cb, arg));
}

// ---- orphans, when the start-up probe could not list them -----------------

#define ORPHAN_RETRY_MS  1000
#define ORPHAN_LIST_WAIT 60000 // the wait-for-ready list's deadline

static void orphans_list(ctrd_t *c);

static void
orphans_listed(
        void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	probe_t *o = arg;
	ctrd_t  *c = o->c;

	(void)message;
	if (c->closing) {
		if (resp != NULL) {
			protobuf_c_message_free_unpacked(resp, NULL);
		}
		probe_free(o); // fini left it to this callback
		return;
	}
	if (status != PSB_GRPC_OK) {
		ev_timer_start(c->loop, &c->orphan_timer); // again, later
		return;
	}
	o->conts = resp;
	psb_log(PSB_LOG_INFO,
	        "containerd: back; looking for orphans missed at start-up");
	probe_orphans(o);
	c->orphan_probe = NULL;
	probe_free(o);
}

static void
orphans_list(ctrd_t *c)
{
	probe_t *o = c->orphan_probe;

	if (o->conts != NULL) {
		protobuf_c_message_free_unpacked(o->conts, NULL);
		o->conts = NULL;
	}
	// Wait-for-ready: it goes out once containerd answers again.
	if (list_ours(c->ev_g, ORPHAN_LIST_WAIT, orphans_listed, o) != 0) {
		c->orphan_probe = NULL;
		probe_free(o);
	}
}

static void
orphan_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	orphans_list(w->data);
}

// orphans_later keeps the start-up probe's ids (every sandbox the daemon
// had) and removes the orphans once containerd can list its containers:
// sandboxes created since are told apart by their tracks and operations.
static void
orphans_later(probe_t *o)
{
	ctrd_t *c = o->c;

	psb_log(PSB_LOG_WARN, "containerd: orphans cannot be looked for "
	                      "yet; trying again once containerd answers");
	if (o->tasks != NULL) {
		protobuf_c_message_free_unpacked(o->tasks, NULL);
		o->tasks = NULL;
	}
	if (c->orphan_probe != NULL) { // cannot be: one start-up probe
		probe_free(o);
		return;
	}
	c->orphan_probe = o;
	ev_timer_init(&c->orphan_timer, orphan_timer_cb,
	        ORPHAN_RETRY_MS / 1000.0, 0.);
	c->orphan_timer.data = c;
	orphans_list(c);
}

void
ctrd_probe_stop(ctrd_t *c)
{
	// A list in flight frees the probe in its (CANCELLED) callback; one
	// waiting for its timer is freed here.
	if (c->orphan_probe != NULL && ev_is_active(&c->orphan_timer)) {
		ev_timer_stop(c->loop, &c->orphan_timer);
		probe_free(c->orphan_probe);
	}
	c->orphan_probe = NULL;
}

static void
probe_finish(probe_t *o)
{
	ctrd_t                                             *c = o->c;
	Containerd__Services__Tasks__V1__ListTasksResponse *tl =
	        (void *)o->tasks;
	Containerd__Services__Containers__V1__ListContainersResponse *cl =
	        (void *)o->conts;

	if (!o->unreachable) {
		psb_log(PSB_LOG_DEBUG,
		        "containerd: probe: %zu tasks, %zu containers of ours",
		        tl->n_tasks, cl->n_containers);
	}
	for (size_t i = 0; i < o->n && !c->closing; i++) {
		const char                           *id   = o->ids[i];
		const Containerd__V1__Types__Process *task = NULL;
		const Containerd__Services__Containers__V1__Container *ct =
		        NULL;
		psb_rt_event_t ev = {
		        .sandbox_id  = id,
		        .generation  = o->gens[i],
		        .exit_status = PSB_EXIT_UNKNOWN,
		};

		if (o->unreachable) {
			ev.event = PSB_EV_RUNTIME_UNREACHABLE;
			ctrd_emit(c, &ev);
			continue;
		}
		for (size_t j = 0; j < tl->n_tasks; j++) {
			if (strcmp(ctrd_task_container(tl->tasks[j]), id) ==
			        0) {
				task = tl->tasks[j];
			}
		}
		for (size_t j = 0; j < cl->n_containers; j++) {
			if (strcmp(cl->containers[j]->id, id) == 0) {
				ct = cl->containers[j];
			}
		}
		if (ct != NULL && task != NULL &&
		        (task->status ==
		                        CONTAINERD__V1__TYPES__STATUS__RUNNING ||
		                task->status ==
		                        CONTAINERD__V1__TYPES__STATUS__PAUSED ||
		                task->status ==
		                        CONTAINERD__V1__TYPES__STATUS__PAUSING)) {
			ctrd_track_t *t;

			ev.generation = probe_generation(ct, o->gens[i]);
			ev.event      = PSB_EV_FOUND_RUNNING;
			ev.pid        = task->pid;
			t             = ctrd_track_put(c, id, ev.generation);
			ctrd_track_set_pid(c, t, task->pid);
		} else if (ct != NULL && task != NULL &&
		           task->status ==
		                   CONTAINERD__V1__TYPES__STATUS__STOPPED) {
			ctrd_track_t *t = ctrd_track_put(c, id, o->gens[i]);

			ev.event         = PSB_EV_FOUND_EXITED;
			ev.pid           = task->pid;
			ev.exit_status   = (int32_t)task->exit_status;
			ev.exited_at     = ctrd_ts_ns(task->exited_at);
			t->pid           = task->pid;
			t->exit_reported = true; // the resync reaps it
		} else {
			ev.event = PSB_EV_FOUND_NOTHING;
			if (ct != NULL && task != NULL &&
			        task->status !=
			                CONTAINERD__V1__TYPES__STATUS__STOPPED &&
			        probe_clean_task(c, id, o->gens[i])) {
				continue; // probe_cleaned tells
			}
		}
		ctrd_emit(c, &ev);
	}
	if (o->complete && !o->unreachable && !c->closing) {
		probe_orphans(o);
	} else if (o->complete && !c->closing) {
		orphans_later(o); // keeps o
		return;
	}
	probe_free(o);
}

static void
probe_part(probe_t *o, int status, const char *message, ProtobufCMessage *resp,
        ProtobufCMessage **slot, const char *what)
{
	if (status != PSB_GRPC_OK) {
		if (!o->c->closing) {
			psb_log(PSB_LOG_WARN, "containerd: probe: %s: %s: %s",
			        what, psb_grpc_status_name(status), message);
		}
		o->unreachable = true;
	}
	*slot = resp;
	if (--o->pending > 0) {
		return;
	}
	if (o->c->closing) {
		probe_free(o);
	} else {
		probe_finish(o);
	}
}

static void
probe_tasks(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	probe_t *o = arg;

	probe_part(o, status, message, resp, &o->tasks, "Tasks.List");
}

static void
probe_conts(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	probe_t *o = arg;

	probe_part(o, status, message, resp, &o->conts, "Containers.List");
}

int
ctrd_probe(void *impl, const psb_rt_sandbox_t *sbs, size_t n, bool complete,
        psb_error_t *err)
{
	ctrd_t                                           *c = impl;
	probe_t                                          *o;
	Containerd__Services__Tasks__V1__ListTasksRequest tr =
	        CONTAINERD__SERVICES__TASKS__V1__LIST_TASKS_REQUEST__INIT;
	int rv;

	if (sbs == NULL && n > 0) {
		return (psb_error_make(err, PSB_EINVAL,
		        "containerd: probe: %zu sandboxes and no array", n));
	}
	for (size_t i = 0; i < n; i++) {
		if ((rv = ctrd_id_check(sbs[i].id, err)) != 0) {
			return (rv);
		}
	}
	if (n == 0 && !complete) {
		return (0);
	}
	o           = xcalloc(1, sizeof(*o));
	o->c        = c;
	o->n        = n;
	o->complete = complete;
	o->ids      = xcalloc(n + 1, sizeof(*o->ids));
	o->gens     = xcalloc(n + 1, sizeof(*o->gens));
	for (size_t i = 0; i < n; i++) {
		o->ids[i]  = xstrdup(sbs[i].id);
		o->gens[i] = sbs[i].generation;
	}
	o->pending = 2;
	if (psb_grpc_call(c->g, CTRD_TASKS "List", &tr.base,
	            &containerd__services__tasks__v1__list_tasks_response__descriptor,
	            CTRD_DEADLINE_MS, probe_tasks, o) != 0) {
		probe_free(o);
		return (psb_error_make(err, PSB_ECANCELED,
		        "containerd: probe: the client is closing"));
	}
	if (list_ours(c->g, CTRD_DEADLINE_MS, probe_conts, o) != 0) {
		// The first call's callback will find one more pending.
		o->unreachable = true;
		o->pending--;
	}
	return (0);
}

// ---- platform -------------------------------------------------------------

int
ctrd_platform(void *impl, psb_platform_t *out)
{
	(void)impl;
	return (psb_runtime_host_platform(out));
}
