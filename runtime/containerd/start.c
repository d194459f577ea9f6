//
// podsandboxd - containerd backend: the start chain (see op.h).
//
// Image → sandbox files (files.h) → container (with the pause OCI
// spec, which binds the files' shm and resolv.conf) → snapshot → task
// create → task start. Each step's callback starts the next; a failure at
// any step rolls back what the start made (ctrd_teardown, the same steps
// as a delete) and then reports START_FAILED (ctrd_start_failed). A
// container or snapshot left by an earlier attempt (ALREADY_EXISTS) is
// removed once and the step tried again.
//

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/log.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb-c.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.pb-c.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "github.com/containerd/containerd/runtime/v2/runc/options/oci.pb-c.h"
#include "runtime/containerd/bundle.h"
#include "runtime/containerd/ctrd.h"
#include "runtime/containerd/op.h"
#include "runtime/containerd/spec.h"

#define CTRD_SPEC_URL      "types.containerd.io/opencontainers/runtime-spec/1/Spec"
#define CTRD_RUNC_OPTS_URL "containerd.runc.v1.Options"

static void st_prepare(ctrd_op_t *o);
static void st_container_create(ctrd_op_t *o);

// ---- failure ---------------------------------------------------------------

static void
start_fail_grpc(ctrd_op_t *o, const char *step, int status, const char *msg)
{
	ctrd_start_fail(o, psb_grpc_status_to_err(status), "start: %s: %s: %s",
	        step, psb_grpc_status_name(status), msg);
}

void
ctrd_start_fail(ctrd_op_t *o, int code, const char *fmt, ...)
{
	va_list ap;
	char    buf[1024];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	o->fail_code = code != 0 ? code : PSB_ERUNTIME;
	o->fail_msg  = xstrdup(buf);
	psb_log_sb(PSB_LOG_WARN, o->id, "containerd: %s", buf);
	ctrd_teardown(o); // the rollback: ends in ctrd_start_failed
}

void
ctrd_start_failed(ctrd_op_t *o)
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
		if (o->left & CTRD_MADE_TASK) {
			json_object_set_new(j, "task", json_string(o->id));
		}
		if (o->left & CTRD_MADE_CONTAINER) {
			json_object_set_new(
			        j, "container", json_string(o->id));
		}
		if (o->left & CTRD_MADE_SNAPSHOT) {
			json_object_set_new(j, "snapshot",
			        json_pack("{s:s, s:s}", "snapshotter",
			                c->snapshotter, "key", o->id));
		}
		if (o->left & CTRD_MADE_FILES) {
			json_object_set_new(
			        j, "sandboxFiles", ctrd_files_json(&o->files));
		}
		if ((o->left & (CTRD_MADE_NETNS | CTRD_MADE_CNI)) != 0) {
			json_t *net = ctrd_net_json(&o->net);

			if (net != NULL) {
				json_object_set_new(j, PSB_RT_NETWORK, net);
			}
		}
		res          = json_dumps(j, JSON_COMPACT);
		ev.resources = res;
		json_decref(j);
	} else if (o->recorded) {
		// Rolled back: the plan recorded on the way is void.
		ev.resources = "{}";
	}
	ctrd_track_remove(c, o->id);
	ctrd_emit(c, &ev);
	ctrd_op_free(o);
}

// ---- the chain -------------------------------------------------------------

static void
st_started(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t                                      *o = arg;
	Containerd__Services__Tasks__V1__StartResponse *r = (void *)resp;
	ctrd_track_t                                   *t;

	if (ctrd_op_gone(o, resp)) {
		return;
	}
	if (status != PSB_GRPC_OK) {
		start_fail_grpc(o, "Tasks.Start", status, message);
		return;
	}
	o->pid = r->pid;
	ctrd_free_resp(resp);
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
		json_object_set_new(
		        res, "sandboxFiles", ctrd_files_json(&o->files));
		if (o->caller_netns != NULL) {
			json_object_set_new(res, "callerNetns",
			        json_string(o->caller_netns));
		}
		{
			json_t *net = ctrd_net_json(&o->net);

			if (net != NULL) {
				json_object_set_new(res, PSB_RT_NETWORK, net);
			}
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
	ctrd_op_free(o);
}

static void st_task_create(ctrd_op_t *o);

static void
st_bundle_removed(void *arg, int rc, const char *why)
{
	ctrd_op_t *o = arg;

	o->bundle = NULL;
	if (rc != 0) {
		ctrd_start_fail(o, PSB_ERUNTIME,
		        "start: Tasks.Create: containerd left the task bundle "
		        "of "
		        "an earlier attempt and it could not be removed: %s",
		        why);
		return;
	}
	psb_log_sb(PSB_LOG_INFO, o->id,
	        "containerd: its leftover task bundle is removed; creating "
	        "the task again");
	st_task_create(o);
}

// st_stale_bundle: Tasks.Create found containerd's own leftover of an
// earlier attempt (bundle.h): removed, then the task is created again,
// once. False if message is not that.
static bool
st_stale_bundle(ctrd_op_t *o, const char *message)
{
	char *path;
	int   rv;

	if (o->bundle_retried ||
	        (path = ctrd_stale_bundle(message, o->c->ns, o->id)) == NULL) {
		return (false);
	}
	o->bundle_retried = true;
	psb_log_sb(PSB_LOG_WARN, o->id,
	        "containerd: Tasks.Create found the task bundle %s of an "
	        "earlier attempt (containerd stopped while making it): "
	        "removing it",
	        path);
	rv = ctrd_bundle_remove(
	        o->c->workers, path, st_bundle_removed, o, &o->bundle);
	free(path);
	if (rv != 0) {
		ctrd_start_fail(o, rv,
		        "start: Tasks.Create: cannot remove containerd's "
		        "leftover task bundle: no worker");
	}
	return (true);
}

static void
st_task_created(
        void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t                                    *o = arg;
	Containerd__Services__Tasks__V1__StartRequest req =
	        CONTAINERD__SERVICES__TASKS__V1__START_REQUEST__INIT;

	if (ctrd_op_gone(o, resp)) {
		return;
	}
	ctrd_free_resp(resp);
	if (status != PSB_GRPC_OK) {
		if (!st_stale_bundle(o, message)) {
			start_fail_grpc(o, "Tasks.Create", status, message);
		}
		return;
	}
	o->made |= CTRD_MADE_TASK;
	req.container_id = o->id;
	if (ctrd_op_call(o, CTRD_TASKS "Start", &req.base,
	            &containerd__services__tasks__v1__start_response__descriptor,
	            st_started) != 0) {
		ctrd_start_fail(
		        o, PSB_ECANCELED, "start: Tasks.Start: canceled");
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
	if (ctrd_op_call(o, CTRD_TASKS "Create", &req.base,
	            &containerd__services__tasks__v1__create_task_response__descriptor,
	            st_task_created) != 0) {
		ctrd_start_fail(
		        o, PSB_ECANCELED, "start: Tasks.Create: canceled");
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

	if (ctrd_op_gone(o, resp)) {
		return;
	}
	ctrd_free_resp(resp);
	if (!ctrd_gone_ok(status)) {
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
	if (ctrd_call_container_delete(o, st_stale_removed) != 0) {
		ctrd_start_fail(o, PSB_ECANCELED, "start: canceled");
	}
}

static void
st_container_created(
        void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t *o = arg;

	if (ctrd_op_gone(o, resp)) {
		return;
	}
	ctrd_free_resp(resp);
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
		if (ctrd_call_task_delete(o, st_stale_removed) != 0) {
			ctrd_start_fail(o, PSB_ECANCELED, "start: canceled");
		}
		return;
	}
	if (status != PSB_GRPC_OK) {
		start_fail_grpc(o, "Containers.Create", status, message);
		return;
	}
	o->made |= CTRD_MADE_CONTAINER;
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
	in.sandbox_id           = o->id;
	in.config_text          = o->config_json; // checked by ctrd_start
	in.image.entrypoint     = (const char *const *)img->entrypoint;
	in.image.n_entrypoint   = ne;
	in.image.cmd            = (const char *const *)img->cmd;
	in.image.n_cmd          = nc;
	in.image.env            = (const char *const *)img->env;
	in.image.n_env          = nv;
	in.image.working_dir    = img->working_dir;
	in.image.user           = img->user;
	in.daemon_oom_score_adj = c->daemon_oom;
	in.seccomp_default      = c->seccomp_default;
	in.resolv_conf_path     = o->files.resolv_conf;
	in.shm_path = o->files.ipc_node ? NULL : o->files.shm; // NULL: host's
	// The daemon's pin, or the caller's netns; NULL for NODE: the host's.
	in.netns_path =
	        o->caller_netns != NULL ? o->caller_netns : o->net.netns;
	if (psb_spec_build(&in, &json, &err) != 0) {
		int code = err.code;

		ctrd_start_fail(o, code, "start: building the OCI spec: %s",
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
	if (ctrd_op_call(o, CTRD_CONTS "Create", &req.base,
	            &containerd__services__containers__v1__create_container_response__descriptor,
	            st_container_created) != 0) {
		ctrd_start_fail(o, PSB_ECANCELED,
		        "start: Containers.Create: canceled");
	}
}

static void
st_prepared(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t *o = arg;

	if (ctrd_op_gone(o, resp)) {
		return;
	}
	if (status == PSB_GRPC_ALREADY_EXISTS && !o->retried) {
		o->retried = 1;
		psb_log_sb(PSB_LOG_WARN, o->id,
		        "containerd: a stale snapshot exists: removing it");
		o->retry_step = st_prepare;
		o->retry_what = "removing a stale snapshot";
		if (ctrd_call_snapshot_remove(o, st_stale_removed) != 0) {
			ctrd_start_fail(o, PSB_ECANCELED, "start: canceled");
		}
		return;
	}
	if (status != PSB_GRPC_OK) {
		start_fail_grpc(o, "Snapshots.Prepare", status, message);
		return;
	}
	o->made |= CTRD_MADE_SNAPSHOT;
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
	if (ctrd_op_call(o, CTRD_SNAPS "Prepare", &req.base,
	            &containerd__services__snapshots__v1__prepare_snapshot_response__descriptor,
	            st_prepared) != 0) {
		ctrd_start_fail(o, PSB_ECANCELED,
		        "start: Snapshots.Prepare: canceled");
	}
}

static void
st_resolved(void *arg, psb_image_t *img, const psb_error_t *err)
{
	ctrd_op_t *o = arg;

	if (o->c->closing) {
		psb_image_free(img);
		ctrd_op_free(o);
		return;
	}
	if (img == NULL) {
		// PSB_ESTATE (image missing, with the import hint) passes
		// through as the code: FAILED_PRECONDITION at the API.
		ctrd_start_fail(o, err->code, "%s", psb_error_message(err));
		return;
	}
	o->img = img;
	// The files come first: the spec binds shm and resolv.conf. Marked
	// made before they are, so that a half-made set is rolled back.
	{
		psb_error_t ferr = PSB_ERROR_INIT;

		o->made |= CTRD_MADE_FILES;
		if (ctrd_files_create(&o->files, o->config_json, &ferr) != 0) {
			int code = ferr.code;

			ctrd_start_fail(o, code, "start: sandbox files: %s",
			        psb_error_message(&ferr));
			psb_error_release(&ferr);
			return;
		}
	}
	// Then the pod network (network.h), whose netns the spec names.
	// The container comes before its snapshot: containerd's garbage
	// collector removes a snapshot nothing references, and a fresh one
	// prepared first was seen collected before Tasks.Create mounted it
	// (under churn: another sandbox's deletion runs the collector). A
	// container naming snapshot_key keeps it from the moment it exists.
	ctrd_net_start(o, st_container_create);
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

void
ctrd_start_resume(ctrd_op_t *o)
{
	if (st_begin(o) != 0) {
		ctrd_start_fail(o, PSB_ECANCELED, "start: canceled");
	}
}

// ---- the operation ---------------------------------------------------------

int
ctrd_start(void *impl, const psb_rt_sandbox_t *sb, psb_error_t *err)
{
	ctrd_t    *c = impl;
	ctrd_op_t *o;
	int        rv;

	if ((rv = ctrd_id_check(sb != NULL ? sb->id : NULL, err)) != 0) {
		return (rv);
	}
	if (sb->id[0] == '\0') {
		return (psb_error_make(
		        err, PSB_EINVAL, "containerd: start: no sandbox id"));
	}
	// Never a default pod in place of one whose config is lost: the
	// start is refused before anything is made.
	if ((rv = psb_runtime_pod_config(sb, NULL, err)) != 0) {
		return (rv);
	}
	o              = ctrd_op_new(c, CTRD_OP_START, sb->id, sb->generation);
	o->config_json = xstrdup(sb->config_json);
	// A network an earlier attempt left (recorded) goes first.
	(void)ctrd_net_recorded(&o->net, sb->resources);
	if (sb->netns_path != NULL && sb->netns_path[0] != '\0') {
		o->caller_netns = xstrdup(sb->netns_path);
	}
	// A new generation: its exit is yet to come.
	ctrd_track_put(c, sb->id, sb->generation);
	// Recovery is removing an orphan of the same id (a container of
	// ours that no sandbox owned): start once it is gone.
	if (ctrd_orphan_wait(c, o)) {
		psb_log_sb(PSB_LOG_INFO, sb->id,
		        "containerd: start waits for an orphan's removal");
		return (0);
	}
	if ((rv = st_begin(o)) != 0) {
		ctrd_track_remove(c, sb->id);
		ctrd_op_free(o);
		return (psb_error_make(err, PSB_EINVAL,
		        "sandbox %s: start: resolving the sandbox image could "
		        "not begin (%s)",
		        sb->id, psb_strerror(rv)));
	}
	return (0);
}
