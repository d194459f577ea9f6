//
// podsandboxd - the containerd runtime backend: options, init and fini,
// the ops table, kill, and what the operations share (see backend.h and
// op.h). The start chain is in start.c, the removal of task, container and
// snapshot (a failed start's rollback, a delete) in teardown.c, the exits
// in exits.c, probe and platform in probe.c.
//

#include "runtime/containerd/backend.h"
#include "runtime/containerd/bundle.h"

#include <ev.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/ident.h"
#include "base/log.h"
#include "base/parse.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb-c.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.pb-c.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "runtime/containerd/ctrd.h"
#include "runtime/containerd/image.h"
#include "runtime/containerd/op.h"
#include "runtime/containerd/seccomp.h"
#include "runtime/net/worker.h"

#ifndef PSB_PAUSE_IMAGE_DEFAULT
#define PSB_PAUSE_IMAGE_DEFAULT "localhost/podsandbox/pause:latest"
#endif

#define CTRD_DEFAULT_SOCK "/run/containerd/containerd.sock"

// ---- operations ----------------------------------------------------------

ctrd_op_t *
ctrd_op_new(
        ctrd_t *c, ctrd_op_kind_t kind, const char *id, uint64_t generation)
{
	ctrd_op_t *o = xcalloc(1, sizeof(*o));

	o->c    = c;
	o->kind = kind;
	snprintf(o->id, sizeof(o->id), "%s", id != NULL ? id : "");
	o->generation = generation;
	ctrd_files_paths(&o->files, c->sandbox_root, c->sandbox_state, o->id);
	psb_list_prepend(&c->ops, o);
	return (o);
}

void
ctrd_op_free(ctrd_op_t *o)
{
	ctrd_t *c = o->c;

	ev_timer_stop(c->loop, &o->timer);
	psb_list_remove(&c->ops, o);
	free(o->config_json);
	free(o->spec_json);
	psb_image_free(o->img);
	if (o->prepared != NULL) {
		protobuf_c_message_free_unpacked(o->prepared, NULL);
	}
	free(o->fail_msg);
	free(o->resources);
	free(o->caller_netns);
	ctrd_files_release(&o->files);
	ctrd_net_release(&o->net); // cancels a netns or CNI step in flight
	if (o->bundle != NULL) {
		ctrd_bundle_cancel(o->bundle);
	}
	free(o);
}

static void
defer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ctrd_op_t *o = w->data;

	(void)loop;
	(void)revents;
	o->deferred(o);
}

void
ctrd_defer(ctrd_op_t *o, void (*fn)(ctrd_op_t *o))
{
	ev_timer_stop(o->c->loop, &o->timer);
	ev_timer_init(&o->timer, defer_cb, 0., 0.);
	o->timer.data = o;
	o->deferred   = fn;
	ev_timer_start(o->c->loop, &o->timer);
}

int
ctrd_op_call(ctrd_op_t *o, const char *path, const ProtobufCMessage *req,
        const ProtobufCMessageDescriptor *resp_desc, psb_grpc_unary_cb cb)
{
	return (psb_grpc_call(o->g != NULL ? o->g : o->c->g, path, req,
	        resp_desc, CTRD_DEADLINE_MS, cb, o));
}

bool
ctrd_op_gone(ctrd_op_t *o, ProtobufCMessage *resp)
{
	if (!o->c->closing) {
		return (false);
	}
	ctrd_free_resp(resp);
	ctrd_op_free(o);
	return (true);
}

void
ctrd_free_resp(ProtobufCMessage *resp)
{
	if (resp != NULL) {
		protobuf_c_message_free_unpacked(resp, NULL);
	}
}

// op_find returns the newest operation on id (of kind, or of any kind
// when kind is -1), or NULL.
static ctrd_op_t *
op_find(ctrd_t *c, const char *id, int kind)
{
	ctrd_op_t *o;

	PSB_LIST_FOREACH(&c->ops, o)
	{
		if (strcmp(o->id, id) == 0 &&
		        (kind < 0 || (int)o->kind == kind)) {
			return (o);
		}
	}
	return (NULL);
}

bool
ctrd_op_pending(ctrd_t *c, const char *id)
{
	return (op_find(c, id, -1) != NULL);
}

bool
ctrd_start_before_task(ctrd_t *c, const char *id)
{
	ctrd_op_t *o = op_find(c, id, CTRD_OP_START);

	return (o != NULL && (o->made & CTRD_MADE_TASK) == 0);
}

int
ctrd_id_check(const char *id, psb_error_t *err)
{
	if (id == NULL || id[0] == '\0') {
		return (psb_error_make(
		        err, PSB_EINVAL, "containerd: no sandbox id"));
	}
	if (!psb_id_valid(id)) {
		return (psb_error_make(err, PSB_EINVAL,
		        "containerd: sandbox id \"%.*s\" is not a valid id "
		        "(containerd's identifier rule, at most %d "
		        "characters)",
		        32, id, PSB_ID_MAX));
	}
	return (0);
}

psb_event_t
ctrd_unreachable_or(int status, psb_event_t ev)
{
	return (status == PSB_GRPC_UNAVAILABLE ? PSB_EV_RUNTIME_UNREACHABLE
	                                       : ev);
}

// ---- the calls that remove things ----------------------------------------

int
ctrd_call_kill(ctrd_op_t *o, psb_grpc_unary_cb cb)
{
	Containerd__Services__Tasks__V1__KillRequest req =
	        CONTAINERD__SERVICES__TASKS__V1__KILL_REQUEST__INIT;

	req.container_id = o->id;
	req.signal       = CTRD_SIGKILL;
	return (ctrd_op_call(o, CTRD_TASKS "Kill", &req.base,
	        &google__protobuf__empty__descriptor, cb));
}

int
ctrd_call_task_get(ctrd_op_t *o, psb_grpc_unary_cb cb)
{
	Containerd__Services__Tasks__V1__GetRequest req =
	        CONTAINERD__SERVICES__TASKS__V1__GET_REQUEST__INIT;

	req.container_id = o->id;
	return (ctrd_op_call(o, CTRD_TASKS "Get", &req.base,
	        &containerd__services__tasks__v1__get_response__descriptor,
	        cb));
}

int
ctrd_call_task_delete(ctrd_op_t *o, psb_grpc_unary_cb cb)
{
	Containerd__Services__Tasks__V1__DeleteTaskRequest req =
	        CONTAINERD__SERVICES__TASKS__V1__DELETE_TASK_REQUEST__INIT;

	req.container_id = o->id;
	return (ctrd_op_call(o, CTRD_TASKS "Delete", &req.base,
	        &containerd__services__tasks__v1__delete_response__descriptor,
	        cb));
}

int
ctrd_call_container_delete(ctrd_op_t *o, psb_grpc_unary_cb cb)
{
	Containerd__Services__Containers__V1__DeleteContainerRequest req =
	        CONTAINERD__SERVICES__CONTAINERS__V1__DELETE_CONTAINER_REQUEST__INIT;

	req.id = o->id;
	return (ctrd_op_call(o, CTRD_CONTS "Delete", &req.base,
	        &google__protobuf__empty__descriptor, cb));
}

int
ctrd_call_snapshot_remove(ctrd_op_t *o, psb_grpc_unary_cb cb)
{
	Containerd__Services__Snapshots__V1__RemoveSnapshotRequest req =
	        CONTAINERD__SERVICES__SNAPSHOTS__V1__REMOVE_SNAPSHOT_REQUEST__INIT;

	req.snapshotter = o->c->snapshotter;
	req.key         = o->id;
	return (ctrd_op_call(o, CTRD_SNAPS "Remove", &req.base,
	        &google__protobuf__empty__descriptor, cb));
}

// ---- kill -----------------------------------------------------------------

// kill_exit_unknown reports the exit of o's generation with no status,
// unless it is claimed already (then it is, or will be, reported with its
// real status).
static void
kill_exit_unknown(ctrd_op_t *o)
{
	ctrd_t       *c = o->c;
	ctrd_track_t *t = ctrd_track_find(c, o->id);

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
}

// kill_got: Tasks.Get after a kill found the process finished. A stopped
// task still has its exit status (a pause killed while containerd was away
// or frozen): reported with it; a task that is gone: no status to give.
static void
kill_got(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t                                    *o = arg;
	Containerd__Services__Tasks__V1__GetResponse *r = (void *)resp;
	const Containerd__V1__Types__Process         *p;
	ctrd_track_t                                 *t;

	(void)message;
	if (ctrd_op_gone(o, resp)) {
		return;
	}
	p = status == PSB_GRPC_OK ? r->process : NULL;
	t = ctrd_track_find(o->c, o->id);
	if (p != NULL && p->status == CONTAINERD__V1__TYPES__STATUS__STOPPED &&
	        t != NULL && t->generation == o->generation) {
		ctrd_exit_handle(o->c, o->id, p->pid, (int32_t)p->exit_status,
		        ctrd_ts_ns(p->exited_at));
	} else if (p == NULL ||
	           p->status != CONTAINERD__V1__TYPES__STATUS__RUNNING) {
		kill_exit_unknown(o);
	}
	ctrd_free_resp(resp);
	ctrd_op_free(o);
}

static void
kill_done(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t *o = arg;
	ctrd_t    *c = o->c;

	if (ctrd_op_gone(o, resp)) {
		return;
	}
	ctrd_free_resp(resp);
	if (status == PSB_GRPC_OK) {
		ctrd_op_free(o); // the exit comes from the subscription
		return;
	}
	if (status == PSB_GRPC_NOT_FOUND) {
		// "process already finished": ask for its status first.
		if (ctrd_call_task_get(o, kill_got) == 0) {
			return;
		}
		kill_exit_unknown(o);
	} else {
		char           buf[512];
		psb_rt_event_t ev = {
		        .event = ctrd_unreachable_or(
		                status, PSB_EV_KILL_FAILED),
		        .sandbox_id = o->id,
		        .generation = o->generation,
		        .code       = psb_grpc_status_to_err(status),
		        .message    = buf,
		};

		snprintf(buf, sizeof(buf), "kill: Tasks.Kill: %s: %s",
		        psb_grpc_status_name(status), message);
		ctrd_emit(c, &ev);
	}
	ctrd_op_free(o);
}

static int
ctrd_kill(void *impl, const psb_rt_sandbox_t *sb, psb_error_t *err)
{
	ctrd_t       *c = impl;
	ctrd_op_t    *o;
	ctrd_track_t *t;
	int           rv;

	if ((rv = ctrd_id_check(sb != NULL ? sb->id : NULL, err)) != 0) {
		return (rv);
	}
	// Track it (a sandbox recovered before we knew it) so that its exit
	// is reported.
	t = ctrd_track_put(c, sb->id, sb->generation);
	if (t->pid == 0) {
		ctrd_track_set_pid(c, t, sb->pid);
	}
	o = ctrd_op_new(c, CTRD_OP_KILL, sb->id, sb->generation);
	if (ctrd_call_kill(o, kill_done) != 0) {
		ctrd_op_free(o);
		return (psb_error_make(err, PSB_ECANCELED,
		        "sandbox %s: kill: the containerd client is closing",
		        sb->id));
	}
	return (0);
}

// ---- init / fini ----------------------------------------------------------

// read_oom_score_adj is the daemon's own oom_score_adj (-1000..1000; 0
// when it cannot be read): the spec clamps the pause process's to it.
static int
read_oom_score_adj(void)
{
	char     buf[32] = "";
	int      fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
	ssize_t  r;
	size_t   n;
	bool     neg;
	uint64_t v;

	if (fd < 0) {
		return (0);
	}
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0) {
		return (0);
	}
	neg = buf[0] == '-';
	n   = strcspn(buf + neg, "\n");
	if (psb_parse_uint(buf + neg, n, 1000, &v) != 0) {
		return (0);
	}
	return (neg ? -(int)v : (int)v);
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
	free(c->sandbox_root);
	free(c->sandbox_state);
	free(c->netns_dir);
	free(c->cni_conf_dir);
	free(c->cni_bin_dirs);
	free(c->cni_network);
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
	        {"sandbox_root", &c->sandbox_root},
	        {"sandbox_state", &c->sandbox_state},
	        {"netns_dir", &c->netns_dir},
	        {"cni_conf_dir", &c->cni_conf_dir},
	        {"cni_bin_dirs", &c->cni_bin_dirs},
	        {"cni_network", &c->cni_network},
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
		if (strcmp(kv, "resync_ms") == 0 ||
		        strcmp(kv, "cni_timeout_ms") == 0) {
			uint64_t ms;

			if (psb_parse_uint(eq + 1, strlen(eq + 1), UINT32_MAX,
			            &ms) != 0) {
				return (psb_error_make(err, PSB_EINVAL,
				        "containerd runtime option %s: "
				        "\"%s\" is not a number (0-%" PRIu32
				        ")",
				        kv, eq + 1, UINT32_MAX));
			}
			if (kv[0] == 'r') {
				c->resync_ms = (uint32_t)ms;
			} else {
				c->cni_timeout_ms = (uint32_t)ms;
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
			        "runc_root, sandbox_root, sandbox_state, "
			        "netns_dir, cni_conf_dir, cni_bin_dirs, "
			        "cni_network, cni_timeout_ms, resync_ms)",
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

	c->rt = rt;
	PSB_LIST_INIT(&c->ops, ctrd_op_t, node);
	c->loop           = psb_runtime_loop(rt);
	c->address        = xstrdup(CTRD_DEFAULT_SOCK);
	c->ns             = xstrdup("podsandbox");
	c->image          = xstrdup(PSB_PAUSE_IMAGE_DEFAULT);
	c->image_archive  = xstrdup("build/tools/pause/pause-image.tar");
	c->snapshotter    = xstrdup("overlayfs");
	c->runtime        = xstrdup("io.containerd.runc.v2");
	c->resync_ms      = 10000;
	c->sandbox_root   = xstrdup(CTRD_SANDBOX_ROOT);
	c->sandbox_state  = xstrdup(CTRD_SANDBOX_STATE);
	c->netns_dir      = xstrdup(CTRD_NETNS_DIR);
	c->cni_conf_dir   = xstrdup(CTRD_CNI_CONF_DIR);
	c->cni_bin_dirs   = xstrdup(CTRD_CNI_BIN_DIRS);
	c->cni_timeout_ms = 0; // the CNI module's default
	if ((rv = parse_options(c, options, err)) != 0) {
		ctrd_free(c);
		return (rv);
	}
	// Threads start with the first pod network (network.c), which also
	// prepares the pin directory: a node of host-network pods only
	// never touches it.
	if ((rv = psb_worker_pool_new(c->loop, 0, &c->workers, err)) != 0) {
		ctrd_free(c);
		return (rv);
	}
	c->daemon_oom = read_oom_score_adj();
	// Read once here, not at every Start (the loop thread's hot path).
	{
		psb_error_t perr = PSB_ERROR_INIT;

		if (psb_seccomp_profile_load(
		            NULL, &c->seccomp_default, &perr) != 0) {
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
	ctrd_t    *c = impl;
	ctrd_op_t *o;

	if (c == NULL) {
		return;
	}
	c->closing = true;
	ctrd_exits_stop(c);
	ctrd_probe_stop(c);
	// Completes every call with CANCELLED: the callbacks free their ops.
	psb_grpc_close(c->ev_g);
	psb_grpc_close(c->g);
	while ((o = psb_list_first(&c->ops)) != NULL) {
		ctrd_op_free(o); // ops waiting on a timer, a netns or CNI
	}
	psb_worker_pool_free(c->workers);
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
        .rt_start        = ctrd_start, // start.c
        .rt_kill         = ctrd_kill,
        .rt_delete       = ctrd_delete,   // teardown.c
        .rt_net_down     = ctrd_net_down, // network.c
        .rt_probe        = ctrd_probe,    // probe.c
        .rt_platform     = ctrd_platform, // probe.c
};
