//
// podsandboxd - CNI: ADD and DEL of a network list (see cni.h).
//
// An operation runs the list's plugins one at a time, each as a child
// (cni_exec.c). It starts on a zero timer, so that every outcome, even a
// first plugin that cannot be found, reaches the callback from the loop
// and never from inside psb_cni_add/psb_cni_del.
//

#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/json.h"
#include "base/log.h"
#include "runtime/net/cni_int.h"

#define OP_STDERR_EXCERPT 200 // bytes of stderr in a failure's message
#define OP_STDOUT_EXCERPT 100 // bytes of output that is not JSON

enum { OP_ENV_N = 7 }; // CNI_COMMAND ... PATH

struct psb_cni_op {
	struct ev_loop *loop;
	bool            add;
	const char     *cmd;     // "ADD" or "DEL"
	json_t         *plugins; // the list's array (a reference)
	char           *name;    // the list's name and cniVersion
	char           *version;
	size_t          n;    // plugins in the list
	size_t          done; // plugins run (or tried)
	char           *envp[OP_ENV_N + 1];
	char           *bin_dirs;
	uint32_t        timeout_ms;
	size_t          cap;
	json_t         *rtconf; // capabilities offered, or NULL
	json_t         *prev;   // ADD: the last result; DEL: the stored one
	cni_exec_t     *exec;   // the plugin running, or NULL
	const char     *type;   // its type (borrowed from plugins)
	int             rc;     // DEL: the first failure, and its error
	psb_error_t     err;
	ev_timer        next_w; // starts the next plugin from the loop
	psb_cni_done_cb cb;
	void           *arg;
};

static void op_next(psb_cni_op_t *op);

// ---- the end ---------------------------------------------------------------

static void
op_free(psb_cni_op_t *op)
{
	ev_timer_stop(op->loop, &op->next_w);
	json_decref(op->plugins);
	json_decref(op->rtconf);
	json_decref(op->prev);
	free(op->name);
	free(op->version);
	free(op->bin_dirs);
	for (size_t i = 0; i < OP_ENV_N; i++) {
		free(op->envp[i]);
	}
	psb_error_release(&op->err);
	free(op);
}

// op_finish frees op, then reports rc (with op's err) and, for a good ADD,
// the final result.
static void
op_finish(psb_cni_op_t *op, int rc)
{
	psb_cni_done_cb      cb     = op->cb;
	void                *arg    = op->arg;
	psb_error_t          err    = op->err;
	_cleanup_free_ char *result = NULL;

	if (rc == 0 && op->add) {
		result = json_dumps(op->prev, JSON_COMPACT);
		if (result == NULL) {
			psb_oom();
		}
	}
	psb_log(PSB_LOG_DEBUG, "cni: %s of network \"%s\" %s", op->cmd,
	        op->name, rc == 0 ? "done" : "failed");
	op->err = (psb_error_t)PSB_ERROR_INIT; // moved to err
	op_free(op);
	cb(arg, rc, result, &err);
	psb_error_release(&err);
}

// op_failed records a plugin's failure (e, taken). An ADD ends with it; a
// DEL keeps the first one and goes on with the next plugin.
static void
op_failed(psb_cni_op_t *op, int rc, psb_error_t *e)
{
	if (op->add) {
		op->err = *e;
		op_finish(op, rc);
		return;
	}
	if (op->rc == 0) {
		op->rc  = rc;
		op->err = *e;
	} else {
		psb_log(PSB_LOG_WARN, "cni: DEL of network \"%s\": %s",
		        op->name, psb_error_message(e));
		psb_error_release(e);
	}
	op_next(op);
}

// ---- one plugin's outcome --------------------------------------------------

// op_plugin_error fills e from a plugin that exited with a failure.
static int
op_plugin_error(psb_cni_op_t *op, const cni_exec_result_t *r, psb_error_t *e)
{
	const char *t = op->type;
	json_t     *j = json_loads(r->out, 0, NULL);
	const char *src;
	size_t      len;
	int         rc;

	// The spec's error object: {"code": N, "msg": "..", "details": ".."}.
	if (json_is_object(j) && json_is_integer(json_object_get(j, "code"))) {
		const char *msg = json_string_value(json_object_get(j, "msg"));
		const char *det =
		        json_string_value(json_object_get(j, "details"));

		rc = psb_error_make(e, PSB_ERUNTIME,
		        "plugin \"%s\" (%s) failed: code %lld: %s%s%s", t,
		        op->cmd,
		        (long long)json_integer_value(
		                json_object_get(j, "code")),
		        msg != NULL && msg[0] != '\0' ? msg : "(no message)",
		        det != NULL && det[0] != '\0' ? ": " : "",
		        det != NULL ? det : "");
		json_decref(j);
		return (rc);
	}
	json_decref(j);
	// No error object: what it said on stderr, else on stdout.
	src = r->err_len > 0 ? r->errout : r->out;
	len = r->err_len > 0 ? r->err_len : r->out_len;
	{
		_cleanup_free_ char *x =
		        cni_excerpt(src, len, OP_STDERR_EXCERPT);

		if (r->status == -1) {
			return (psb_error_make(e, PSB_ERUNTIME,
			        "plugin \"%s\" (%s) failed: exit status "
			        "unknown%s%s",
			        t, op->cmd, len > 0 ? ": " : " (no output)",
			        x));
		}
		return (psb_error_make(e, PSB_ERUNTIME,
		        "plugin \"%s\" (%s) failed: exit status %d%s%s", t,
		        op->cmd, WEXITSTATUS(r->status),
		        len > 0 ? ": " : " (no output)", x));
	}
}

// op_outcome checks how a plugin ended: 0, with *result (ADD: a new
// reference) set, or a failure in e.
static int
op_outcome(psb_cni_op_t *op, const cni_exec_result_t *r, json_t **result,
        psb_error_t *e)
{
	const char *t = op->type;
	json_t     *j;

	if (r->timed_out) {
		return (psb_error_make(e, PSB_ETIMEDOUT,
		        "plugin \"%s\" (%s) timed out after %u ms", t, op->cmd,
		        (unsigned)op->timeout_ms));
	}
	if (r->overflow != NULL) {
		return (psb_error_make(e, PSB_ERUNTIME,
		        "plugin \"%s\" (%s) output exceeds %zu bytes (%s): "
		        "killed",
		        t, op->cmd, op->cap, r->overflow));
	}
	if (r->status != -1 && WIFSIGNALED(r->status)) {
		int         sig  = WTERMSIG(r->status);
		const char *name = sigabbrev_np(sig);

		return (psb_error_make(e, PSB_ERUNTIME,
		        "plugin \"%s\" (%s) killed by signal %d (SIG%s)", t,
		        op->cmd, sig, name != NULL ? name : "?"));
	}
	if (r->status == -1 || WEXITSTATUS(r->status) != 0) {
		return (op_plugin_error(op, r, e));
	}
	if (!op->add) {
		return (0); // DEL prints nothing the runtime needs
	}
	j = json_loads(r->out, 0, NULL);
	if (!json_is_object(j) || strlen(r->out) != r->out_len) {
		_cleanup_free_ char *x =
		        cni_excerpt(r->out, r->out_len, OP_STDOUT_EXCERPT);

		json_decref(j);
		if (r->out_len == 0) {
			return (psb_error_make(e, PSB_ERUNTIME,
			        "plugin \"%s\" (%s) printed no result", t,
			        op->cmd));
		}
		return (psb_error_make(e, PSB_ERUNTIME,
		        "plugin \"%s\" (%s) printed output that is not JSON: "
		        "%s",
		        t, op->cmd, x));
	}
	*result = j;
	return (0);
}

static void
op_exec_cb(void *arg, const cni_exec_result_t *r)
{
	psb_cni_op_t *op     = arg;
	json_t       *result = NULL;
	psb_error_t   e      = PSB_ERROR_INIT;
	int           rc;

	op->exec = NULL; // freed when this returns
	rc       = op_outcome(op, r, &result, &e);
	if (rc != 0) {
		op_failed(op, rc, &e);
		return;
	}
	psb_log(PSB_LOG_DEBUG, "cni: plugin \"%s\" (%s) of network \"%s\" ok",
	        op->type, op->cmd, op->name);
	if (op->add) {
		json_decref(op->prev);
		op->prev = result;
	}
	op_next(op);
}

// ---- running a plugin ------------------------------------------------------

// op_find returns the first "<dir>/<type>" of the bin dirs that is an
// executable file (malloc'd), or NULL.
static char *
op_find(const char *bin_dirs, const char *type)
{
	const char *d = bin_dirs;

	while (*d != '\0') {
		size_t      len = strcspn(d, ":");
		struct stat st;

		if (len > 0) {
			char *path = xasprintf("%.*s/%s", (int)len, d, type);

			if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
			        access(path, X_OK) == 0) {
				return (path);
			}
			free(path);
		}
		d += len;
		if (*d == ':') {
			d++;
		}
	}
	return (NULL);
}

// op_stdin builds plugin p's stdin: its config with the list's name and
// cniVersion, the prevResult and the runtimeConfig of its capabilities.
static char *
op_stdin(const psb_cni_op_t *op, const json_t *p)
{
	json_t     *conf = json_copy((json_t *)p); // shallow: top keys only
	json_t     *caps = json_object_get(p, "capabilities");
	json_t     *rc   = json_object();
	const char *key;
	json_t     *on;
	char       *text;

	if (conf == NULL) {
		psb_oom();
	}
	psb_json_set(conf, "name", json_string(op->name));
	psb_json_set(conf, "cniVersion", json_string(op->version));
	// The first ADD plugin has no previous result; a DEL of a 0.3.x
	// list gets none (prevResult on DEL came with 0.4.0, as in libcni).
	if (op->prev != NULL &&
	        (op->add || (strcmp(op->version, "0.3.0") != 0 &&
	                            strcmp(op->version, "0.3.1") != 0))) {
		psb_json_set(conf, "prevResult", json_incref(op->prev));
	}
	json_object_foreach(caps, key, on)
	{
		json_t *v = json_object_get(op->rtconf, key);

		if (json_is_true(on) && v != NULL) {
			psb_json_set(rc, key, json_incref(v));
		}
	}
	if (json_object_size(rc) > 0) {
		psb_json_set(conf, "runtimeConfig", rc);
	} else {
		json_decref(rc);
	}
	text = json_dumps(conf, JSON_COMPACT);
	if (text == NULL) {
		psb_oom();
	}
	json_decref(conf);
	return (text);
}

// op_next starts the next plugin, or finishes when none is left. Called
// from the loop only (a timer or a plugin's exit). A plugin that cannot
// be started goes to op_failed, which (DEL) comes back here: recursion
// as deep as the list is long.
static void
op_next(psb_cni_op_t *op)
{
	size_t               i;
	json_t              *p;
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ char *in   = NULL;
	psb_error_t          e    = PSB_ERROR_INIT;

	if (op->done == op->n) {
		op_finish(op, op->rc);
		return;
	}
	i = op->add ? op->done : op->n - 1 - op->done;
	p = json_array_get(op->plugins, i);
	op->done++;
	op->type = json_string_value(json_object_get(p, "type"));
	// Looked up at each run, as libcni does: a plugin installed after
	// the network was loaded is found.
	if ((path = op_find(op->bin_dirs, op->type)) == NULL) {
		psb_error_make(&e, PSB_ENOENT,
		        "plugin \"%s\" not found in %s (%s)", op->type,
		        op->bin_dirs, op->cmd);
		op_failed(op, PSB_ENOENT, &e);
		return;
	}
	in = op_stdin(op, p);
	psb_log(PSB_LOG_DEBUG, "cni: %s of network \"%s\": plugin %s", op->cmd,
	        op->name, path);
	if (cni_exec_start(op->loop, path, op->envp, in, strlen(in),
	            op->timeout_ms, op->cap, op_exec_cb, op, &op->exec,
	            &e) != 0) {
		psb_error_wrap(&e, "plugin \"%s\" (%s)", op->type, op->cmd);
		op_failed(op, e.code, &e);
	}
	// Else op_exec_cb goes on.
}

static void
op_next_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	op_next(w->data);
}

// ---- starting --------------------------------------------------------------

// op_arg_ok: a CNI_ARGS value must not hold the separators.
static bool
op_arg_ok(const char *v)
{
	return (strpbrk(v, ";=") == NULL);
}

static const char *
op_or(const char *s, const char *dflt)
{
	return (s != NULL ? s : dflt);
}

// op_check refuses arguments no plugin could run with.
static int
op_check(bool add, const psb_cni_opts_t *opts, const psb_cni_net_t *net,
        const psb_cni_args_t *args, psb_error_t *err)
{
	const char *cmd = add ? "ADD" : "DEL";

	if (net == NULL || opts == NULL || args == NULL) {
		return (psb_error_make(err, PSB_EINVAL,
		        "CNI %s: no network, options or arguments", cmd));
	}
	if (opts->bin_dirs == NULL || opts->bin_dirs[0] == '\0') {
		return (psb_error_make(err, PSB_EINVAL,
		        "CNI %s: no plugin directories (bin_dirs)", cmd));
	}
	if (args->container_id == NULL || args->container_id[0] == '\0') {
		return (psb_error_make(
		        err, PSB_EINVAL, "CNI %s: no container id", cmd));
	}
	if (add && (args->netns == NULL || args->netns[0] == '\0')) {
		return (psb_error_make(
		        err, PSB_EINVAL, "CNI %s: no network namespace", cmd));
	}
	if (args->ifname != NULL && args->ifname[0] == '\0') {
		return (psb_error_make(
		        err, PSB_EINVAL, "CNI %s: empty interface name", cmd));
	}
	if (!op_arg_ok(args->container_id) ||
	        !op_arg_ok(op_or(args->pod_namespace, "")) ||
	        !op_arg_ok(op_or(args->pod_name, "")) ||
	        !op_arg_ok(op_or(args->pod_uid, ""))) {
		return (psb_error_make(err, PSB_EINVAL,
		        "CNI %s: a pod name, namespace, uid or container id "
		        "holds ';' or '=' (CNI_ARGS separators)",
		        cmd));
	}
	return (0);
}

// op_json_object parses text, NULL = none; -1 if it is not an object.
static int
op_json_object(const char *text, json_t **out)
{
	*out = NULL;
	if (text == NULL) {
		return (0);
	}
	*out = json_loads(text, 0, NULL);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return (-1);
	}
	return (0);
}

static void
op_env(psb_cni_op_t *op, const psb_cni_opts_t *opts,
        const psb_cni_args_t *args)
{
	size_t i = 0;

	op->envp[i++] = xasprintf("CNI_COMMAND=%s", op->cmd);
	op->envp[i++] = xasprintf("CNI_CONTAINERID=%s", args->container_id);
	op->envp[i++] = xasprintf("CNI_NETNS=%s", op_or(args->netns, ""));
	op->envp[i++] = xasprintf(
	        "CNI_IFNAME=%s", op_or(args->ifname, PSB_CNI_IFNAME));
	op->envp[i++] = xasprintf("CNI_ARGS=IgnoreUnknown=1;"
	                          "K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;"
	                          "K8S_POD_INFRA_CONTAINER_ID=%s;"
	                          "K8S_POD_UID=%s",
	        op_or(args->pod_namespace, ""), op_or(args->pod_name, ""),
	        args->container_id, op_or(args->pod_uid, ""));
	op->envp[i++] = xasprintf("CNI_PATH=%s", opts->bin_dirs);
	op->envp[i++] =
	        xasprintf("PATH=%s", op_or(opts->path_env, PSB_CNI_PATH_ENV));
	op->envp[i] = NULL;
}

static int
op_start(bool add, struct ev_loop *loop, const psb_cni_opts_t *opts,
        const psb_cni_net_t *net, const psb_cni_args_t *args,
        psb_cni_done_cb cb, void *arg, psb_cni_op_t **out, psb_error_t *err)
{
	psb_cni_op_t *op;
	json_t       *rtconf;
	json_t       *prev = NULL;

	if (op_check(add, opts, net, args, err) != 0) {
		return (PSB_EINVAL);
	}
	if (op_json_object(args->runtime_config, &rtconf) != 0) {
		return (psb_error_make(err, PSB_EINVAL,
		        "CNI %s: runtime_config is not a JSON object",
		        add ? "ADD" : "DEL"));
	}
	if (!add && op_json_object(args->prev_result, &prev) != 0) {
		// A DEL must run all the same: without it.
		psb_log(PSB_LOG_WARN,
		        "cni: DEL of %s in network \"%s\": the stored result "
		        "is not a JSON object: running without prevResult",
		        args->container_id, net->name);
	}
	op           = xcalloc(1, sizeof(*op));
	op->loop     = loop;
	op->add      = add;
	op->cmd      = add ? "ADD" : "DEL";
	op->plugins  = json_incref(json_object_get(net->list, "plugins"));
	op->n        = json_array_size(op->plugins);
	op->name     = xstrdup(net->name);
	op->version  = xstrdup(net->version);
	op->bin_dirs = xstrdup(opts->bin_dirs);
	op->timeout_ms =
	        opts->timeout_ms != 0 ? opts->timeout_ms : PSB_CNI_TIMEOUT_MS;
	op->cap =
	        opts->output_cap != 0 ? opts->output_cap : PSB_CNI_OUTPUT_CAP;
	op->rtconf = rtconf;
	op->prev   = prev;
	op->cb     = cb;
	op->arg    = arg;
	op_env(op, opts, args);
	ev_timer_init(&op->next_w, op_next_cb, 0., 0.);
	op->next_w.data = op;
	ev_timer_start(loop, &op->next_w);
	psb_log(PSB_LOG_DEBUG, "cni: %s of %s in network \"%s\" (%zu plugins)",
	        op->cmd, args->container_id, op->name, op->n);
	if (out != NULL) {
		*out = op;
	}
	return (0);
}

int
psb_cni_add(struct ev_loop *loop, const psb_cni_opts_t *opts,
        const psb_cni_net_t *net, const psb_cni_args_t *args,
        psb_cni_done_cb cb, void *arg, psb_cni_op_t **op, psb_error_t *err)
{
	return (op_start(true, loop, opts, net, args, cb, arg, op, err));
}

int
psb_cni_del(struct ev_loop *loop, const psb_cni_opts_t *opts,
        const psb_cni_net_t *net, const psb_cni_args_t *args,
        psb_cni_done_cb cb, void *arg, psb_cni_op_t **op, psb_error_t *err)
{
	return (op_start(false, loop, opts, net, args, cb, arg, op, err));
}

void
psb_cni_cancel(psb_cni_op_t *op)
{
	if (op == NULL) {
		return;
	}
	if (op->exec != NULL) {
		psb_log(PSB_LOG_DEBUG,
		        "cni: %s of network \"%s\" cancelled: killing pid %d",
		        op->cmd, op->name, (int)cni_exec_pid(op->exec));
		cni_exec_cancel(op->exec);
		op->exec = NULL;
	}
	op_free(op);
}
