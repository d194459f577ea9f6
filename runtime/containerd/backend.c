//
// podsandboxd - the containerd runtime backend: options and operations
// (see backend.h; exits are in exits.c).
//
// Every operation is a chain of asynchronous gRPC calls on the loop; each
// step's callback starts the next one. An operation lives in a ctrd_op_t
// on the backend's list until its outcome is emitted. When the backend
// closes, closing the gRPC clients completes every call with CANCELLED:
// the callbacks then only free their operation.
//

#include "runtime/containerd/backend.h"

#include <ev.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/log.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb-c.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.pb-c.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "github.com/containerd/containerd/runtime/v2/runc/options/oci.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "runtime/containerd/ctrd.h"
#include "runtime/containerd/image.h"
#include "runtime/containerd/spec.h"

#ifndef PSB_PAUSE_IMAGE_DEFAULT
#define PSB_PAUSE_IMAGE_DEFAULT "localhost/podsandbox/pause:latest"
#endif

#define CTRD_SPEC_URL      "types.containerd.io/opencontainers/runtime-spec/1/Spec"
#define CTRD_RUNC_OPTS_URL "containerd.runc.v1.Options"
#define CTRD_POLL_MS       50
#define CTRD_POLL_MAX      200 // 10 s of waiting for a killed task to stop
#define CTRD_DEFAULT_SOCK  "/run/containerd/containerd.sock"

typedef enum { OP_START, OP_KILL, OP_DELETE } op_kind;

typedef enum {
	MADE_SNAPSHOT  = 1,
	MADE_CONTAINER = 2,
	MADE_TASK      = 4,
} made_t;

struct ctrd_op {
	ctrd_op_t *prev;
	ctrd_op_t *next;
	ctrd_t    *c;
	op_kind    kind;
	char       id[CTRD_ID_MAX + 1];
	uint64_t   generation;
	ev_timer   timer; // delete: polling for the killed task to stop
	int        polls;
	int        retried; // start: the one retry after ALREADY_EXISTS
	void (*retry_step)(ctrd_op_t *o); // ... runs this step again
	const char *retry_what;           // ... after removing this

	// delete of an orphan (our label, no sandbox): nothing is emitted,
	// and a start of the same id waits for it (then).
	bool        orphan;
	ctrd_op_t  *then;
	psb_grpc_t *g; // the client its calls use (NULL: c->g, fail fast)

	// start
	char             *config_json;
	char             *spec_json; // what the container was created with
	psb_image_t      *img;
	ProtobufCMessage *prepared; // PrepareSnapshotResponse (mounts)
	unsigned          made;     // made_t
	unsigned          left;     // made_t not removed by the rollback
	uint32_t          pid;
	int               fail_code;
	char             *fail_msg;
};

// ---- operations ----------------------------------------------------------

static ctrd_op_t *
op_new(ctrd_t *c, op_kind kind, const char *id, uint64_t generation)
{
	ctrd_op_t *o = xcalloc(1, sizeof(*o));

	o->c    = c;
	o->kind = kind;
	snprintf(o->id, sizeof(o->id), "%s", id != NULL ? id : "");
	o->generation = generation;
	o->next       = c->ops;
	if (c->ops != NULL) {
		c->ops->prev = o;
	}
	c->ops = o;
	return (o);
}

static void
op_free(ctrd_op_t *o)
{
	ctrd_t *c = o->c;

	ev_timer_stop(c->loop, &o->timer);
	if (o->prev != NULL) {
		o->prev->next = o->next;
	} else {
		c->ops = o->next;
	}
	if (o->next != NULL) {
		o->next->prev = o->prev;
	}
	free(o->config_json);
	free(o->spec_json);
	psb_image_free(o->img);
	if (o->prepared != NULL) {
		protobuf_c_message_free_unpacked(o->prepared, NULL);
	}
	free(o->fail_msg);
	free(o);
}

// op_call starts a unary call for o. It fails (and cb never runs) only
// when the client is closing or an argument is NULL.
static int
op_call(ctrd_op_t *o, const char *path, const ProtobufCMessage *req,
        const ProtobufCMessageDescriptor *resp_desc, psb_grpc_unary_cb cb)
{
	return (psb_grpc_call(o->g != NULL ? o->g : o->c->g, path, req,
	        resp_desc, CTRD_DEADLINE_MS, cb, o));
}

// op_gone is true when a callback must only clean up: the backend closes.
static bool
op_gone(ctrd_op_t *o, ProtobufCMessage *resp)
{
	if (!o->c->closing) {
		return (false);
	}
	if (resp != NULL) {
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	op_free(o);
	return (true);
}

static void
free_resp(ProtobufCMessage *resp)
{
	if (resp != NULL) {
		protobuf_c_message_free_unpacked(resp, NULL);
	}
}

// ---- removal steps shared by start's rollback and delete -----------------

static int
call_task_delete(ctrd_op_t *o, psb_grpc_unary_cb cb)
{
	Containerd__Services__Tasks__V1__DeleteTaskRequest req =
	        CONTAINERD__SERVICES__TASKS__V1__DELETE_TASK_REQUEST__INIT;

	req.container_id = o->id;
	return (op_call(o, CTRD_TASKS "Delete", &req.base,
	        &containerd__services__tasks__v1__delete_response__descriptor,
	        cb));
}

static int
call_container_delete(ctrd_op_t *o, psb_grpc_unary_cb cb)
{
	Containerd__Services__Containers__V1__DeleteContainerRequest req =
	        CONTAINERD__SERVICES__CONTAINERS__V1__DELETE_CONTAINER_REQUEST__INIT;

	req.id = o->id;
	return (op_call(o, CTRD_CONTS "Delete", &req.base,
	        &google__protobuf__empty__descriptor, cb));
}

static int
call_snapshot_remove(ctrd_op_t *o, psb_grpc_unary_cb cb)
{
	Containerd__Services__Snapshots__V1__RemoveSnapshotRequest req =
	        CONTAINERD__SERVICES__SNAPSHOTS__V1__REMOVE_SNAPSHOT_REQUEST__INIT;

	req.snapshotter = o->c->snapshotter;
	req.key         = o->id;
	return (op_call(o, CTRD_SNAPS "Remove", &req.base,
	        &google__protobuf__empty__descriptor, cb));
}

static int
call_kill(ctrd_op_t *o, psb_grpc_unary_cb cb)
{
	Containerd__Services__Tasks__V1__KillRequest req =
	        CONTAINERD__SERVICES__TASKS__V1__KILL_REQUEST__INIT;

	req.container_id = o->id;
	req.signal       = CTRD_SIGKILL;
	return (op_call(o, CTRD_TASKS "Kill", &req.base,
	        &google__protobuf__empty__descriptor, cb));
}

static bool
gone_ok(int status)
{
	return (status == PSB_GRPC_OK || status == PSB_GRPC_NOT_FOUND);
}

// ---- start ----------------------------------------------------------------

static void start_fail(ctrd_op_t *o, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void start_rollback(ctrd_op_t *o);
static void st_prepare(ctrd_op_t *o);
static void st_container_create(ctrd_op_t *o);

static void
start_fail_grpc(ctrd_op_t *o, const char *step, int status, const char *msg)
{
	start_fail(o, psb_grpc_status_to_err(status), "start: %s: %s: %s",
	        step, psb_grpc_status_name(status), msg);
}

static void
start_fail(ctrd_op_t *o, int code, const char *fmt, ...)
{
	va_list ap;
	char    buf[1024];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	o->fail_code = code != 0 ? code : PSB_ERUNTIME;
	o->fail_msg  = xstrdup(buf);
	psb_log_sb(PSB_LOG_WARN, o->id, "containerd: %s", buf);
	start_rollback(o);
}

static void
start_failed_emit(ctrd_op_t *o)
{
	ctrd_t              *c   = o->c;
	_cleanup_free_ char *res = NULL;
	psb_rt_event_t       ev  = {
	               .event       = PSB_EV_START_FAILED,
	               .sandbox_id  = o->id,
	               .generation  = o->generation,
	               .rolled_back = o->left == 0,
	               .code        = o->fail_code,
	               .message     = o->fail_msg,
        };

	if (o->left != 0) {
		json_t *j = json_object();

		json_object_set_new(j, "namespace", json_string(c->ns));
		if (o->left & MADE_TASK) {
			json_object_set_new(j, "task", json_string(o->id));
		}
		if (o->left & MADE_CONTAINER) {
			json_object_set_new(
			        j, "container", json_string(o->id));
		}
		if (o->left & MADE_SNAPSHOT) {
			json_object_set_new(j, "snapshot",
			        json_pack("{s:s, s:s}", "snapshotter",
			                c->snapshotter, "key", o->id));
		}
		res          = json_dumps(j, JSON_COMPACT);
		ev.resources = res;
		json_decref(j);
	}
	ctrd_track_remove(c, o->id);
	ctrd_emit(c, &ev);
	op_free(o);
}

static void
rb_snapshot_done(
        void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t *o = arg;

	(void)message;
	if (op_gone(o, resp)) {
		return;
	}
	free_resp(resp);
	if (!gone_ok(status)) {
		o->left |= MADE_SNAPSHOT;
	}
	start_failed_emit(o);
}

static void
rb_snapshot(ctrd_op_t *o)
{
	if (!(o->made & MADE_SNAPSHOT)) {
		start_failed_emit(o);
		return;
	}
	if (call_snapshot_remove(o, rb_snapshot_done) != 0) {
		o->left |= MADE_SNAPSHOT;
		start_failed_emit(o);
	}
}

static void
rb_container_done(
        void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t *o = arg;

	(void)message;
	if (op_gone(o, resp)) {
		return;
	}
	free_resp(resp);
	if (!gone_ok(status)) {
		// The snapshot is in use by the container: leave both.
		o->left |= MADE_CONTAINER | (o->made & MADE_SNAPSHOT);
		start_failed_emit(o);
		return;
	}
	rb_snapshot(o);
}

static void
rb_container(ctrd_op_t *o)
{
	if (!(o->made & MADE_CONTAINER)) {
		rb_snapshot(o);
		return;
	}
	if (call_container_delete(o, rb_container_done) != 0) {
		o->left |= o->made;
		start_failed_emit(o);
	}
}

static void
rb_task_done(
        void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t *o = arg;

	(void)message;
	if (op_gone(o, resp)) {
		return;
	}
	free_resp(resp);
	if (!gone_ok(status)) {
		o->left |= o->made; // everything depends on the task
		start_failed_emit(o);
		return;
	}
	rb_container(o);
}

static void
rb_task_killed(
        void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t *o = arg;

	(void)status;
	(void)message;
	if (op_gone(o, resp)) {
		return;
	}
	free_resp(resp);
	if (call_task_delete(o, rb_task_done) != 0) {
		o->left |= o->made;
		start_failed_emit(o);
	}
}

static void
start_rollback(ctrd_op_t *o)
{
	if (!(o->made & MADE_TASK)) {
		rb_container(o);
		return;
	}
	// A created or started task: kill it (errors are for the delete to
	// tell), then delete it.
	if (call_kill(o, rb_task_killed) != 0) {
		o->left |= o->made;
		start_failed_emit(o);
	}
}

static void
st_started(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t                                      *o = arg;
	Containerd__Services__Tasks__V1__StartResponse *r = (void *)resp;
	ctrd_track_t                                   *t;

	if (op_gone(o, resp)) {
		return;
	}
	if (status != PSB_GRPC_OK) {
		start_fail_grpc(o, "Tasks.Start", status, message);
		return;
	}
	o->pid = r->pid;
	free_resp(resp);
	t = ctrd_track_put(o->c, o->id, o->generation);
	if (t->pid == 0) {
		ctrd_track_set_pid(o->c, t, o->pid);
	}
	t->epoch = o->c->list_epoch; // lists issued before now: no say
	psb_log_sb(PSB_LOG_INFO, o->id,
	        "containerd: pause task started, pid %u", (unsigned)o->pid);
	{
		// What verbose Status shows (the seed's SandboxInfo keys): the
		// controller records it with the sandbox.
		json_t *res  = json_pack("{s:s, s:s, s:s, s:s}", "image",
		         o->c->image, "snapshotKey", o->id, "snapshotter",
		         o->c->snapshotter, "runtimeType", o->c->runtime);
		json_t *spec = o->spec_json != NULL
		                       ? json_loads(o->spec_json, 0, NULL)
		                       : NULL;
		char   *text;

		if (o->c->runc_root != NULL) {
			json_object_set_new(res, "runtimeOptions",
			        json_pack("{s:s}", "root", o->c->runc_root));
		}
		if (spec != NULL) {
			json_object_set_new(res, "runtimeSpec", spec);
		}
		text = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(res);
		psb_rt_event_t ev = {
		        .event      = PSB_EV_START_OK,
		        .sandbox_id = o->id,
		        .generation = o->generation,
		        .pid        = o->pid,
		        .resources  = text,
		};

		ctrd_emit(o->c, &ev);
		free(text);
	}
	op_free(o);
}

static void
st_task_created(
        void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t                                    *o = arg;
	Containerd__Services__Tasks__V1__StartRequest req =
	        CONTAINERD__SERVICES__TASKS__V1__START_REQUEST__INIT;

	if (op_gone(o, resp)) {
		return;
	}
	free_resp(resp);
	if (status != PSB_GRPC_OK) {
		start_fail_grpc(o, "Tasks.Create", status, message);
		return;
	}
	o->made |= MADE_TASK;
	req.container_id = o->id;
	if (op_call(o, CTRD_TASKS "Start", &req.base,
	            &containerd__services__tasks__v1__start_response__descriptor,
	            st_started) != 0) {
		start_fail(o, PSB_ECANCELED, "start: Tasks.Start: canceled");
	}
}

static void
st_task_create(ctrd_op_t *o)
{
	Containerd__Services__Tasks__V1__CreateTaskRequest req =
	        CONTAINERD__SERVICES__TASKS__V1__CREATE_TASK_REQUEST__INIT;
	Containerd__Services__Snapshots__V1__PrepareSnapshotResponse *p =
	        (void *)o->prepared;

	req.container_id = o->id;
	req.n_rootfs     = p->n_mounts;
	req.rootfs       = p->mounts;
	if (op_call(o, CTRD_TASKS "Create", &req.base,
	            &containerd__services__tasks__v1__create_task_response__descriptor,
	            st_task_created) != 0) {
		start_fail(o, PSB_ECANCELED, "start: Tasks.Create: canceled");
	}
}

// st_stale_removed continues a start after a leftover of an earlier
// attempt (a container or snapshot with this id) was removed: the step
// that met it (o->retry_step) runs once more.
static void
st_stale_removed(
        void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t *o = arg;

	if (op_gone(o, resp)) {
		return;
	}
	free_resp(resp);
	if (!gone_ok(status)) {
		start_fail_grpc(o, o->retry_what, status, message);
		return;
	}
	o->retry_step(o);
}

// st_stale_container_delete is the second half of removing a stale
// container: its task is gone, now the container; then create again.
static void
st_stale_container_delete(ctrd_op_t *o)
{
	o->retry_step = st_container_create;
	o->retry_what = "deleting a stale container";
	if (call_container_delete(o, st_stale_removed) != 0) {
		start_fail(o, PSB_ECANCELED, "start: canceled");
	}
}

static void
st_container_created(
        void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t *o = arg;

	if (op_gone(o, resp)) {
		return;
	}
	free_resp(resp);
	if (status == PSB_GRPC_ALREADY_EXISTS && !o->retried) {
		o->retried = 1;
		psb_log_sb(PSB_LOG_WARN, o->id,
		        "containerd: a stale container exists: deleting it "
		        "and its task");
		// A task that was created but never started (a daemon killed
		// between Tasks.Create and Tasks.Start) still holds runc's
		// init process: delete it before its container.
		o->retry_step = st_stale_container_delete;
		o->retry_what = "deleting a stale task";
		if (call_task_delete(o, st_stale_removed) != 0) {
			start_fail(o, PSB_ECANCELED, "start: canceled");
		}
		return;
	}
	if (status != PSB_GRPC_OK) {
		start_fail_grpc(o, "Containers.Create", status, message);
		return;
	}
	o->made |= MADE_CONTAINER;
	o->retried = 0;
	st_prepare(o);
}

static void
st_container_create(ctrd_op_t *o)
{
	ctrd_t                                                      *c = o->c;
	Containerd__Services__Containers__V1__CreateContainerRequest req =
	        CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_REQUEST__INIT;
	Containerd__Services__Containers__V1__Container ct =
	        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
	Containerd__Services__Containers__V1__Container__Runtime rtm =
	        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__RUNTIME__INIT;
	Containerd__Services__Containers__V1__Container__LabelsEntry l_id =
	        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__LABELS_ENTRY__INIT;
	Containerd__Services__Containers__V1__Container__LabelsEntry l_gen =
	        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__LABELS_ENTRY__INIT;
	Containerd__Services__Containers__V1__Container__LabelsEntry
	                             *labels[2] = {&l_id, &l_gen};
	Google__Protobuf__Any         spec      = GOOGLE__PROTOBUF__ANY__INIT;
	Google__Protobuf__Any         ropts     = GOOGLE__PROTOBUF__ANY__INIT;
	Containerd__Runc__V1__Options runc =
	        CONTAINERD__RUNC__V1__OPTIONS__INIT;
	uint8_t              runc_buf[512];
	psb_spec_input_t     in;
	psb_error_t          err  = PSB_ERROR_INIT;
	_cleanup_free_ char *json = NULL;
	char                 gen[24];
	const psb_image_t   *img = o->img;
	size_t               ne = 0, nc = 0, nv = 0;

	while (img->entrypoint[ne] != NULL) {
		ne++;
	}
	while (img->cmd[nc] != NULL) {
		nc++;
	}
	while (img->env[nv] != NULL) {
		nv++;
	}
	psb_spec_input_init(&in);
	in.sandbox_id         = o->id;
	in.config_text        = o->config_json != NULL ? o->config_json : "{}";
	in.image.entrypoint   = (const char *const *)img->entrypoint;
	in.image.n_entrypoint = ne;
	in.image.cmd          = (const char *const *)img->cmd;
	in.image.n_cmd        = nc;
	in.image.env          = (const char *const *)img->env;
	in.image.n_env        = nv;
	in.image.working_dir  = img->working_dir;
	in.image.user         = img->user;
	in.daemon_oom_score_adj = c->daemon_oom;
	in.seccomp_default      = c->seccomp_default;
	if (psb_spec_build(&in, &json, &err) != 0) {
		int code = err.code;

		start_fail(o, code, "start: building the OCI spec: %s",
		        psb_error_message(&err));
		psb_error_release(&err);
		return;
	}

	psb_log_sb(PSB_LOG_DEBUG, o->id,
	        "containerd: pod config %s -> spec %s", in.config_text, json);
	free(o->spec_json);
	o->spec_json = xstrdup(json);
	snprintf(gen, sizeof(gen), "%llu", (unsigned long long)o->generation);
	l_id.key    = PSB_CTRD_LABEL_ID;
	l_id.value  = o->id;
	l_gen.key   = PSB_CTRD_LABEL_GEN;
	l_gen.value = gen;
	rtm.name    = c->runtime;
	if (c->runc_root != NULL) {
		// runc keeps its state under ROOT/<namespace>/<id>.
		runc.root = c->runc_root;
		if (containerd__runc__v1__options__get_packed_size(&runc) <=
		        sizeof(runc_buf)) {
			ropts.type_url   = CTRD_RUNC_OPTS_URL;
			ropts.value.data = runc_buf;
			ropts.value.len  = containerd__runc__v1__options__pack(
			         &runc, runc_buf);
			rtm.options = &ropts;
		}
	}
	spec.type_url   = CTRD_SPEC_URL;
	spec.value.data = (uint8_t *)json;
	spec.value.len  = strlen(json);
	ct.id           = o->id;
	ct.image        = c->image;
	ct.runtime      = &rtm;
	ct.spec         = &spec;
	ct.snapshotter  = c->snapshotter;
	ct.snapshot_key = o->id;
	ct.n_labels     = 2;
	ct.labels       = labels;
	req.container   = &ct;
	if (op_call(o, CTRD_CONTS "Create", &req.base,
	            &containerd__services__containers__v1__create_container_response__descriptor,
	            st_container_created) != 0) {
		start_fail(o, PSB_ECANCELED,
		        "start: Containers.Create: canceled");
	}
}

static void
st_prepared(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t *o = arg;

	if (op_gone(o, resp)) {
		return;
	}
	if (status == PSB_GRPC_ALREADY_EXISTS && !o->retried) {
		o->retried = 1;
		psb_log_sb(PSB_LOG_WARN, o->id,
		        "containerd: a stale snapshot exists: removing it");
		o->retry_step = st_prepare;
		o->retry_what = "removing a stale snapshot";
		if (call_snapshot_remove(o, st_stale_removed) != 0) {
			start_fail(o, PSB_ECANCELED, "start: canceled");
		}
		return;
	}
	if (status != PSB_GRPC_OK) {
		start_fail_grpc(o, "Snapshots.Prepare", status, message);
		return;
	}
	o->made |= MADE_SNAPSHOT;
	o->prepared = resp;
	st_task_create(o);
}

static void
st_prepare(ctrd_op_t *o)
{
	Containerd__Services__Snapshots__V1__PrepareSnapshotRequest req =
	        CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__INIT;

	req.snapshotter = o->c->snapshotter;
	req.key         = o->id;
	req.parent      = o->img->chain_id;
	if (op_call(o, CTRD_SNAPS "Prepare", &req.base,
	            &containerd__services__snapshots__v1__prepare_snapshot_response__descriptor,
	            st_prepared) != 0) {
		start_fail(o, PSB_ECANCELED,
		        "start: Snapshots.Prepare: canceled");
	}
}

static void
st_resolved(void *arg, psb_image_t *img, const psb_error_t *err)
{
	ctrd_op_t *o = arg;

	if (o->c->closing) {
		psb_image_free(img);
		op_free(o);
		return;
	}
	if (img == NULL) {
		// PSB_ESTATE (image missing, with the import hint) passes
		// through as the code: FAILED_PRECONDITION at the API.
		start_fail(o, err->code, "%s", psb_error_message(err));
		return;
	}
	o->img = img;
	// The container comes before its snapshot: containerd's garbage
	// collector removes a snapshot nothing references, and a fresh one
	// prepared first was seen collected before Tasks.Create mounted it
	// (under churn: another sandbox's deletion runs the collector). A
	// container naming snapshot_key keeps it from the moment it exists.
	st_container_create(o);
}

// st_begin resolves the sandbox image, the first step of a start.
static int
st_begin(ctrd_op_t *o)
{
	ctrd_t          *c  = o->c;
	psb_image_opts_t io = {0};

	io.loop        = c->loop;
	io.ns          = c->ns;
	io.address     = c->address;
	io.import_path = c->image_archive;
	return (psb_image_resolve(c->g, c->image, &io, st_resolved, o));
}

// orphan_find returns the pending delete of an orphan with this id.
static ctrd_op_t *
orphan_find(ctrd_t *c, const char *id)
{
	for (ctrd_op_t *o = c->ops; o != NULL; o = o->next) {
		if (o->orphan && strcmp(o->id, id) == 0) {
			return (o);
		}
	}
	return (NULL);
}

static int
ctrd_start(void *impl, const psb_rt_sandbox_t *sb)
{
	ctrd_t    *c = impl;
	ctrd_op_t *o;
	ctrd_op_t *orphan;

	if (sb == NULL || sb->id == NULL || sb->id[0] == '\0' ||
	        strlen(sb->id) > CTRD_ID_MAX) {
		return (PSB_EINVAL);
	}
	o = op_new(c, OP_START, sb->id, sb->generation);
	if (sb->config_json != NULL) {
		o->config_json = xstrdup(sb->config_json);
	}
	// A new generation: its exit is yet to come.
	ctrd_track_put(c, sb->id, sb->generation);
	// Recovery is removing an orphan of the same id (a container of
	// ours that no sandbox owned): start once it is gone.
	if ((orphan = orphan_find(c, sb->id)) != NULL &&
	        orphan->then == NULL) {
		psb_log_sb(PSB_LOG_INFO, sb->id,
		        "containerd: start waits for an orphan's removal");
		orphan->then = o;
		return (0);
	}
	if (st_begin(o) != 0) {
		ctrd_track_remove(c, sb->id);
		op_free(o);
		return (PSB_EINVAL);
	}
	return (0);
}

// ---- kill -----------------------------------------------------------------

// unreachable_or: containerd could not be reached at all (the fail-fast
// client's UNAVAILABLE: down, restarting) is RUNTIME_UNREACHABLE, which
// the table answers at once (UNAVAILABLE, UNKNOWN, asked again until
// known) instead of retrying against nobody; any other failure is ev.
static psb_event_t
unreachable_or(int status, psb_event_t ev)
{
	return (status == PSB_GRPC_UNAVAILABLE ? PSB_EV_RUNTIME_UNREACHABLE
	                                       : ev);
}

static void
kill_done(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t    *o = arg;
	ctrd_t       *c = o->c;
	ctrd_track_t *t;

	if (op_gone(o, resp)) {
		return;
	}
	free_resp(resp);
	if (status == PSB_GRPC_OK) {
		op_free(o); // the exit comes from the subscription
		return;
	}
	if (status == PSB_GRPC_NOT_FOUND) {
		t = ctrd_track_find(c, o->id);
		// An exit already claimed for this generation is (or will
		// be) reported with its real status.
		if (t == NULL || t->generation != o->generation ||
		        (!t->exit_reported && !t->reaping)) {
			psb_rt_event_t ev = {
			        .event       = PSB_EV_TASK_EXIT,
			        .sandbox_id  = o->id,
			        .generation  = o->generation,
			        .exit_status = PSB_EXIT_UNKNOWN,
			};

			if (t != NULL && t->generation == o->generation) {
				t->exit_reported = true;
			}
			ctrd_emit(c, &ev);
		}
	} else {
		char           buf[512];
		psb_rt_event_t ev = {
		        .event = unreachable_or(status, PSB_EV_KILL_FAILED),
		        .sandbox_id = o->id,
		        .generation = o->generation,
		        .code       = psb_grpc_status_to_err(status),
		        .message    = buf,
		};

		snprintf(buf, sizeof(buf), "kill: Tasks.Kill: %s: %s",
		        psb_grpc_status_name(status), message);
		ctrd_emit(c, &ev);
	}
	op_free(o);
}

static int
ctrd_kill(void *impl, const psb_rt_sandbox_t *sb)
{
	ctrd_t       *c = impl;
	ctrd_op_t    *o;
	ctrd_track_t *t;

	if (sb == NULL || sb->id == NULL || strlen(sb->id) > CTRD_ID_MAX) {
		return (PSB_EINVAL);
	}
	// Track it (a sandbox recovered before we knew it) so that its exit
	// is reported.
	t = ctrd_track_put(c, sb->id, sb->generation);
	if (t->pid == 0) {
		ctrd_track_set_pid(c, t, sb->pid);
	}
	o = op_new(c, OP_KILL, sb->id, sb->generation);
	if (call_kill(o, kill_done) != 0) {
		op_free(o);
		return (PSB_ECANCELED);
	}
	return (0);
}

// ---- delete ---------------------------------------------------------------

// orphan_done ends the removal of an orphan (removed is false when a step
// failed: the next start-up tries again) and starts what waited for it.
static void
orphan_done(ctrd_op_t *o, bool removed)
{
	ctrd_op_t *then = o->then;

	if (removed) {
		psb_log_sb(PSB_LOG_INFO, o->id,
		        "containerd: orphan removed (task, container and "
		        "snapshot)");
	}
	o->then = NULL;
	op_free(o);
	if (then != NULL && st_begin(then) != 0) {
		start_fail(then, PSB_ECANCELED, "start: canceled");
	}
}

static void
del_fail(ctrd_op_t *o, const char *step, int status, const char *message)
{
	char           buf[512];
	ctrd_track_t  *t  = ctrd_track_find(o->c, o->id);
	psb_rt_event_t ev = {
	        .event      = unreachable_or(status, PSB_EV_DELETE_FAILED),
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
		orphan_done(o, false);
		return;
	}
	ctrd_emit(o->c, &ev);
	op_free(o);
}

static void
del_snapshot_done(
        void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t *o = arg;

	if (op_gone(o, resp)) {
		return;
	}
	free_resp(resp);
	if (!gone_ok(status)) {
		del_fail(o, "Snapshots.Remove", status, message);
		return;
	}
	if (o->orphan) {
		orphan_done(o, true);
		return;
	}
	{
		psb_rt_event_t ev = {
		        .event      = PSB_EV_DELETE_OK,
		        .sandbox_id = o->id,
		        .generation = o->generation,
		};

		ctrd_track_remove(o->c, o->id);
		ctrd_emit(o->c, &ev);
	}
	op_free(o);
}

static void
del_container_done(
        void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t *o = arg;

	if (op_gone(o, resp)) {
		return;
	}
	free_resp(resp);
	if (!gone_ok(status)) {
		del_fail(o, "Containers.Delete", status, message);
	} else if (call_snapshot_remove(o, del_snapshot_done) != 0) {
		op_free(o);
	}
}

static void
del_task_done(
        void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t *o = arg;

	if (op_gone(o, resp)) {
		return;
	}
	free_resp(resp);
	if (!gone_ok(status)) {
		del_fail(o, "Tasks.Delete", status, message);
	} else if (call_container_delete(o, del_container_done) != 0) {
		op_free(o);
	}
}

static void del_poll(ctrd_op_t *o);

static void
del_got(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t                                    *o = arg;
	Containerd__Services__Tasks__V1__GetResponse *r = (void *)resp;
	bool                                          stopped;

	if (op_gone(o, resp)) {
		return;
	}
	if (status != PSB_GRPC_OK && status != PSB_GRPC_NOT_FOUND) {
		del_fail(o, "Tasks.Get", status, message);
		return;
	}
	stopped =
	        status == PSB_GRPC_NOT_FOUND || r->process == NULL ||
	        r->process->status == CONTAINERD__V1__TYPES__STATUS__STOPPED ||
	        r->process->status == CONTAINERD__V1__TYPES__STATUS__CREATED;
	free_resp(resp);
	if (!stopped && ++o->polls < CTRD_POLL_MAX) {
		ev_timer_set(&o->timer, CTRD_POLL_MS / 1000.0, 0.);
		ev_timer_start(o->c->loop, &o->timer);
		return;
	}
	if (!stopped) {
		del_fail(o, "waiting for the killed task to stop",
		        PSB_GRPC_DEADLINE_EXCEEDED,
		        "still running after 10 s");
		return;
	}
	if (call_task_delete(o, del_task_done) != 0) {
		op_free(o);
	}
}

static void
del_poll(ctrd_op_t *o)
{
	Containerd__Services__Tasks__V1__GetRequest req =
	        CONTAINERD__SERVICES__TASKS__V1__GET_REQUEST__INIT;

	req.container_id = o->id;
	if (op_call(o, CTRD_TASKS "Get", &req.base,
	            &containerd__services__tasks__v1__get_response__descriptor,
	            del_got) != 0) {
		op_free(o);
	}
}

static void
del_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	del_poll(w->data);
}

static void
del_killed(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t *o = arg;

	if (op_gone(o, resp)) {
		return;
	}
	free_resp(resp);
	// NOT_FOUND: no task, or it has already exited. FAILED_PRECONDITION
	// is a created-but-never-started task: the delete removes it.
	if (!gone_ok(status) && status != PSB_GRPC_FAILED_PRECONDITION) {
		del_fail(o, "Tasks.Kill", status, message);
		return;
	}
	del_poll(o);
}

static int
ctrd_delete(void *impl, const psb_rt_sandbox_t *sb)
{
	ctrd_t       *c = impl;
	ctrd_op_t    *o;
	ctrd_track_t *t;

	if (sb == NULL || sb->id == NULL || strlen(sb->id) > CTRD_ID_MAX) {
		return (PSB_EINVAL);
	}
	if ((t = ctrd_track_find(c, sb->id)) != NULL) {
		t->deleting = true;
	}
	o = op_new(c, OP_DELETE, sb->id, sb->generation);
	ev_timer_init(&o->timer, del_timer_cb, 0., 0.);
	o->timer.data = o;
	// The exit's reap (Tasks.Delete) may still be in flight: the shim is
	// shutting down, and a Kill now fails with "ttrpc: closed". Wait for
	// the reap; the task is gone after it.
	if (t != NULL && t->reaping && t->delete_after_reap == NULL) {
		t->delete_after_reap = o;
		return (0);
	}
	if (call_kill(o, del_killed) != 0) {
		op_free(o);
		return (PSB_ECANCELED);
	}
	return (0);
}

void
ctrd_reap_orphan(ctrd_t *c, const char *id, const char *generation)
{
	ctrd_op_t *o;

	if (strlen(id) > CTRD_ID_MAX || orphan_find(c, id) != NULL) {
		return;
	}
	psb_log_sb(PSB_LOG_WARN, id,
	        "containerd: container of generation %s has no sandbox "
	        "(an orphan): removing it",
	        generation != NULL ? generation : "?");
	o         = op_new(c, OP_DELETE, id, 0);
	o->orphan = true;
	// Housekeeping nobody waits for: on the wait-for-ready client, so
	// that containerd just back (the fail-fast client still in its dial
	// backoff) does not fail it.
	o->g = c->ev_g;
	ev_timer_init(&o->timer, del_timer_cb, 0., 0.);
	o->timer.data = o;
	if (call_kill(o, del_killed) != 0) {
		op_free(o);
	}
}

bool
ctrd_op_pending(ctrd_t *c, const char *id)
{
	for (ctrd_op_t *o = c->ops; o != NULL; o = o->next) {
		if (strcmp(o->id, id) == 0) {
			return (true);
		}
	}
	return (false);
}

void
ctrd_delete_resume(ctrd_op_t *o)
{
	if (call_kill(o, del_killed) != 0) {
		del_fail(o, "Tasks.Kill", PSB_GRPC_CANCELLED, "canceled");
	}
}

// ---- init / fini ----------------------------------------------------------

static int
read_oom_score_adj(void)
{
	char    buf[32] = "";
	int     fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0) {
		return (0);
	}
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return (r > 0 ? atoi(buf) : 0);
}

static void
ctrd_free(ctrd_t *c)
{
	free(c->address);
	free(c->ns);
	free(c->image);
	free(c->image_archive);
	free(c->snapshotter);
	free(c->runtime);
	free(c->runc_root);
	json_decref(c->seccomp_default);
	free(c->tracks);
	free(c);
}

static int
parse_options(ctrd_t *c, const char *options, psb_error_t *err)
{
	struct {
		const char *key;
		char      **val;
	} keys[] = {
	        {"address", &c->address},
	        {"namespace", &c->ns},
	        {"image", &c->image},
	        {"image_archive", &c->image_archive},
	        {"snapshotter", &c->snapshotter},
	        {"runtime", &c->runtime},
	        {"runc_root", &c->runc_root},
	};
	_cleanup_free_ char *copy = xstrdup(options != NULL ? options : "");
	char                *save = NULL;

	for (char *kv = strtok_r(copy, ",", &save); kv != NULL;
	        kv    = strtok_r(NULL, ",", &save)) {
		char *eq    = strchr(kv, '=');
		bool  found = false;

		if (eq == NULL) {
			return (psb_error_make(err, PSB_EINVAL,
			        "containerd runtime option \"%s\": want "
			        "key=value",
			        kv));
		}
		*eq = '\0';
		if (strcmp(kv, "resync_ms") == 0) {
			char *end;

			c->resync_ms = (uint32_t)strtoul(eq + 1, &end, 10);
			if (eq[1] == '\0' || *end != '\0') {
				return (psb_error_make(err, PSB_EINVAL,
				        "containerd runtime option resync_ms: "
				        "\"%s\" is not a number",
				        eq + 1));
			}
			continue;
		}
		for (size_t i = 0; i < PSB_NELEM(keys); i++) {
			if (strcmp(kv, keys[i].key) == 0) {
				if (eq[1] == '\0') {
					return (psb_error_make(err, PSB_EINVAL,
					        "containerd runtime option %s "
					        "is empty",
					        kv));
				}
				free(*keys[i].val);
				*keys[i].val = xstrdup(eq + 1);
				found        = true;
			}
		}
		if (!found) {
			return (psb_error_make(err, PSB_EINVAL,
			        "unknown containerd runtime option \"%s\" "
			        "(known: address, namespace, image, "
			        "image_archive, snapshotter, runtime, "
			        "runc_root, resync_ms)",
			        kv));
		}
	}
	return (0);
}

// init_image_cb reports the start-up check of the sandbox image: a
// missing image is said at once (with the import command), not only when
// the first Start fails. It does not stop the daemon: the image may be
// imported while it runs.
static void
init_image_cb(void *arg, psb_image_t *img, const psb_error_t *err)
{
	ctrd_t *c = arg;

	if (c->closing) {
		psb_image_free(img);
		return;
	}
	if (img != NULL) {
		psb_log(PSB_LOG_INFO, "containerd: sandbox image %s (%s)",
		        c->image, img->chain_id);
		psb_image_free(img);
	} else if (err->code == PSB_EUNAVAIL) {
		psb_log(PSB_LOG_WARN, "containerd: %s",
		        psb_error_message(err));
	} else {
		psb_log(PSB_LOG_ERROR, "%s", psb_error_message(err));
	}
}

static int
ctrd_init(
        psb_runtime_t *rt, const char *options, void **impl, psb_error_t *err)
{
	ctrd_t         *c  = xcalloc(1, sizeof(*c));
	psb_grpc_opts_t go = {0};
	int             rv;

	c->rt            = rt;
	c->loop          = psb_runtime_loop(rt);
	c->address       = xstrdup(CTRD_DEFAULT_SOCK);
	c->ns            = xstrdup("podsandbox");
	c->image         = xstrdup(PSB_PAUSE_IMAGE_DEFAULT);
	c->image_archive = xstrdup("build/tools/pause/pause-image.tar");
	c->snapshotter   = xstrdup("overlayfs");
	c->runtime       = xstrdup("io.containerd.runc.v2");
	c->resync_ms     = 10000;
	if ((rv = parse_options(c, options, err)) != 0) {
		ctrd_free(c);
		return (rv);
	}
	c->daemon_oom = read_oom_score_adj();
	// Read once here, not at every Start (the loop thread's hot path).
	{
		psb_error_t perr = PSB_ERROR_INIT;

		if (psb_spec_profile_load(NULL, &c->seccomp_default, &perr) !=
		        0) {
			psb_log(PSB_LOG_WARN,
			        "containerd: %s; sandboxes that ask for the "
			        "RuntimeDefault seccomp profile cannot start",
			        psb_error_message(&perr));
			psb_error_release(&perr);
		}
	}
	go.ns                  = c->ns;
	go.default_deadline_ms = CTRD_DEADLINE_MS;
	if ((rv = psb_grpc_open(c->loop, c->address, &go, &c->g, err)) != 0) {
		ctrd_free(c);
		return (rv);
	}
	go.wait_for_ready = true;
	if ((rv = psb_grpc_open(c->loop, c->address, &go, &c->ev_g, err)) !=
	        0) {
		psb_grpc_close(c->g);
		ctrd_free(c);
		return (rv);
	}
	psb_log(PSB_LOG_INFO,
	        "containerd runtime: %s, namespace %s, image %s, "
	        "snapshotter %s, runtime %s",
	        c->address, c->ns, c->image, c->snapshotter, c->runtime);
	ctrd_exits_start(c);
	{
		psb_image_opts_t io = {0};

		io.loop        = c->loop;
		io.ns          = c->ns;
		io.address     = c->address;
		io.import_path = c->image_archive;
		(void)psb_image_resolve(c->g, c->image, &io, init_image_cb, c);
	}
	*impl = c;
	return (0);
}

static void
ctrd_fini(void *impl)
{
	ctrd_t *c = impl;

	if (c == NULL) {
		return;
	}
	c->closing = true;
	ctrd_exits_stop(c);
	ctrd_probe_stop(c);
	// Completes every call with CANCELLED: the callbacks free their ops.
	psb_grpc_close(c->ev_g);
	psb_grpc_close(c->g);
	while (c->ops != NULL) {
		op_free(c->ops); // ops waiting on a timer
	}
	ctrd_free(c);
}

uint64_t
psb_containerd_missed_exits(psb_runtime_t *rt)
{
	ctrd_t *c = psb_runtime_impl(rt);

	return (c != NULL ? c->missed_exits : 0);
}

static uint64_t
ctrd_missed_exits(void *impl)
{
	return (((ctrd_t *)impl)->missed_exits);
}

const psb_runtime_ops_t psb_containerd_ops = {
        .rt_missed_exits = ctrd_missed_exits,
        .rt_name         = "containerd",
        .rt_init         = ctrd_init,
        .rt_fini         = ctrd_fini,
        .rt_start        = ctrd_start,
        .rt_kill         = ctrd_kill,
        .rt_delete       = ctrd_delete,
        .rt_probe        = ctrd_probe,    // probe.c
        .rt_platform     = ctrd_platform, // probe.c
};
