//
// podsandboxd - containerd backend: the pod network of a sandbox (see
// network.h).
//

#include "runtime/containerd/network.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/failpoint.h"
#include "base/log.h"
#include "base/parse.h"
#include "runtime/containerd/op.h"

// ---- what a network is -----------------------------------------------------

void
ctrd_net_release(ctrd_net_t *n)
{
	if (n->nsop != NULL) {
		psb_netns_cancel(n->nsop);
	}
	if (n->cniop != NULL) {
		psb_cni_cancel(n->cniop);
	}
	free(n->netns);
	free(n->name);
	free(n->conflist);
	free(n->ifname);
	free(n->result);
	psb_cni_ips_free(n->ips, n->nips);
	memset(n, 0, sizeof(*n));
}

static char *
net_dump(const json_t *j)
{
	return (j != NULL ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER)
	                  : NULL);
}

// net_set_result records an ADD's result and the pod IPs in it.
static void
net_set_result(ctrd_net_t *n, const char *result)
{
	free(n->result);
	psb_cni_ips_free(n->ips, n->nips);
	n->ips    = NULL;
	n->nips   = 0;
	n->result = result != NULL ? xstrdup(result) : NULL;
	if (result != NULL) {
		int k = psb_cni_result_ips(result,
		        n->ifname != NULL ? n->ifname : PSB_CNI_IFNAME,
		        &n->ips);

		n->nips = k > 0 ? k : 0;
		if (k <= 0) {
			n->ips = NULL;
		}
	}
}

bool
ctrd_net_recorded(ctrd_net_t *n, const char *resources)
{
	json_t       *res;
	const json_t *net;
	const char   *s;

	ctrd_net_release(n);
	if (resources == NULL ||
	        (res = json_loads(resources, 0, NULL)) == NULL) {
		return (false);
	}
	net = json_object_get(res, PSB_RT_NETWORK);
	if (!json_is_object(net)) {
		json_decref(res);
		return (false);
	}
	if ((s = json_string_value(json_object_get(net, "netns"))) != NULL) {
		n->netns = xstrdup(s);
	}
	if ((s = json_string_value(json_object_get(net, "name"))) != NULL) {
		n->name = xstrdup(s);
	}
	if ((s = json_string_value(json_object_get(net, "ifname"))) != NULL) {
		n->ifname = xstrdup(s);
	}
	n->conflist = net_dump(json_object_get(net, "conflist"));
	{
		_cleanup_free_ char *r =
		        net_dump(json_object_get(net, "result"));

		net_set_result(n, r);
	}
	json_decref(res);
	return (true);
}

json_t *
ctrd_net_json(const ctrd_net_t *n)
{
	json_t *j, *ips;

	if (n->netns == NULL && n->conflist == NULL) {
		return (NULL);
	}
	j = json_object();
	if (n->netns != NULL) {
		json_object_set_new(j, "netns", json_string(n->netns));
	}
	if (n->name != NULL) {
		json_object_set_new(j, "name", json_string(n->name));
	}
	json_object_set_new(j, "ifname",
	        json_string(n->ifname != NULL ? n->ifname : PSB_CNI_IFNAME));
	if (n->conflist != NULL) {
		json_object_set_new(
		        j, "conflist", json_loads(n->conflist, 0, NULL));
	}
	if (n->result != NULL) {
		json_object_set_new(
		        j, "result", json_loads(n->result, 0, NULL));
	}
	ips = json_array();
	for (int i = 0; i < n->nips; i++) {
		json_array_append_new(ips, json_string(n->ips[i]));
	}
	json_object_set_new(j, "ips", ips);
	return (j);
}

bool
ctrd_net_pod(const json_t *config)
{
	const json_t *linux_ = json_object_get(config, "linux");
	const json_t *sc     = json_object_get(linux_, "security_context");
	const json_t *nso    = json_object_get(sc, "namespace_options");
	const json_t *net    = json_object_get(nso, "network");

	// NODE (2) keeps the host's network; POD (0, the default) and
	// anything else the validation let through get their own.
	return (!((json_is_integer(net) && json_integer_value(net) == 2) ||
	          (json_is_string(net) &&
	                  strcmp(json_string_value(net), "NODE") == 0)));
}

// ---- the CNI arguments -----------------------------------------------------

static const char *
cfg_str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return (s != NULL ? s : "");
}

// net_quantity parses a Kubernetes quantity ("10M", "1Gi", "500k") into
// a count; false if it is not one.
static bool
net_quantity(const char *s, uint64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t    mult;
	} units[] = {
	        {"Ki", 1ull << 10},
	        {"Mi", 1ull << 20},
	        {"Gi", 1ull << 30},
	        {"Ti", 1ull << 40},
	        {"k", 1000ull},
	        {"M", 1000000ull},
	        {"G", 1000000000ull},
	        {"T", 1000000000000ull},
	        {"", 1},
	};
	const char *end;
	uint64_t    v;

	if (s == NULL) {
		return (false);
	}
	end = s;
	while (isdigit((unsigned char)*end)) {
		end++;
	}
	if (psb_parse_uint(s, (size_t)(end - s), UINT64_MAX, &v) != 0) {
		return (false); // no digits, or more than 64 bits of them
	}
	for (size_t i = 0; i < PSB_NELEM(units); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			if (v > UINT64_MAX / units[i].mult) {
				return (false);
			}
			*out = v * units[i].mult;
			return (true);
		}
	}
	return (false);
}

// net_runtime_config is every capability this runtime offers a plugin,
// from the pod config (reference §2.3 step 4): port mappings, the pod's
// annotations (io.kubernetes.cri.pod-annotations), bandwidth (from the
// kubernetes.io annotations), DNS and the cgroup parent.
static char *
net_runtime_config(const json_t *cfg)
{
	json_t       *rc = json_object();
	json_t       *pm = json_array();
	const json_t *m, *ann, *dns, *linux_;
	size_t        i;
	uint64_t      rate;
	char         *text;

	json_array_foreach(json_object_get(cfg, "port_mappings"), i, m)
	{
		json_int_t host =
		        json_integer_value(json_object_get(m, "host_port"));
		json_int_t cont = json_integer_value(
		        json_object_get(m, "container_port"));
		const char *proto = cfg_str(m, "protocol");
		char        lower[8];
		size_t      k;

		// containerd skips mappings without a host port.
		if (host <= 0 || cont <= 0) {
			continue;
		}
		if (proto[0] == '\0') {
			proto = "tcp";
		}
		for (k = 0; proto[k] != '\0' && k < sizeof(lower) - 1; k++) {
			lower[k] = (char)tolower((unsigned char)proto[k]);
		}
		lower[k] = '\0';
		json_array_append_new(
		        pm, json_pack("{s:I, s:I, s:s, s:s}", "hostPort",
		                    (json_int_t)host, "containerPort",
		                    (json_int_t)cont, "protocol", lower,
		                    "hostIP", cfg_str(m, "host_ip")));
	}
	json_object_set_new(rc, "portMappings", pm);

	ann = json_object_get(cfg, "annotations");
	json_object_set_new(rc, "io.kubernetes.cri.pod-annotations",
	        json_is_object(ann) ? json_deep_copy(ann) : json_object());
	{
		json_t *bw = json_object();

		if (net_quantity(
		            cfg_str(ann, "kubernetes.io/ingress-bandwidth"),
		            &rate)) {
			json_object_set_new(bw, "ingressRate",
			        json_integer((json_int_t)rate));
			json_object_set_new(bw, "ingressBurst",
			        json_integer((json_int_t)UINT32_MAX));
		}
		if (net_quantity(
		            cfg_str(ann, "kubernetes.io/egress-bandwidth"),
		            &rate)) {
			json_object_set_new(bw, "egressRate",
			        json_integer((json_int_t)rate));
			json_object_set_new(bw, "egressBurst",
			        json_integer((json_int_t)UINT32_MAX));
		}
		if (json_object_size(bw) > 0) {
			json_object_set_new(rc, "bandwidth", bw);
		} else {
			json_decref(bw);
		}
	}
	dns = json_object_get(cfg, "dns_config");
	if (json_is_object(dns)) {
		json_object_set_new(rc, "dns",
		        json_pack("{s:O, s:O, s:O}", "servers",
		                json_is_array(json_object_get(dns, "servers"))
		                        ? json_object_get(dns, "servers")
		                        : json_array(),
		                "searches",
		                json_is_array(json_object_get(dns, "searches"))
		                        ? json_object_get(dns, "searches")
		                        : json_array(),
		                "options",
		                json_is_array(json_object_get(dns, "options"))
		                        ? json_object_get(dns, "options")
		                        : json_array()));
	}
	linux_ = json_object_get(cfg, "linux");
	if (cfg_str(linux_, "cgroup_parent")[0] != '\0') {
		json_object_set_new(rc, "cgroupPath",
		        json_string(cfg_str(linux_, "cgroup_parent")));
	}
	text = json_dumps(rc, JSON_COMPACT);
	json_decref(rc);
	return (text);
}

static void
net_opts(const ctrd_t *c, psb_cni_opts_t *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->bin_dirs   = c->cni_bin_dirs;
	opts->timeout_ms = c->cni_timeout_ms;
}

// ---- the start -------------------------------------------------------------

static void net_plan(ctrd_op_t *o);
static void net_create(ctrd_op_t *o);

// net_resources is what a start records before and after each step: the
// sandbox files and the network as they are now.
static char *
net_resources(const ctrd_op_t *o)
{
	json_t *res = json_object();
	json_t *net = ctrd_net_json(&o->net);
	char   *text;

	json_object_set_new(res, "sandboxFiles", ctrd_files_json(&o->files));
	if (net != NULL) {
		json_object_set_new(res, PSB_RT_NETWORK, net);
	}
	text = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(res);
	return (text);
}

// net_record records o's resources; then(o) runs once they are committed.
static void net_recorded_cb(void *arg, int rc);

static void
net_record(ctrd_op_t *o, void (*then)(ctrd_op_t *o))
{
	_cleanup_free_ char *res = net_resources(o);
	psb_rt_record_t      rec = {
	             .sandbox_id = o->id,
	             .generation = o->generation,
	             .resources  = res,
	             .done       = net_recorded_cb,
	             .done_arg   = o,
        };
	int rv;

	o->net_then = then;
	o->recorded = true;
	if ((rv = psb_runtime_record(o->c->rt, &rec)) != 0) {
		ctrd_start_fail(o, PSB_EINTERNAL,
		        "start: pod network: recording its plan failed (%s)",
		        psb_strerror(rv));
	}
}

static void
net_recorded_cb(void *arg, int rc)
{
	ctrd_op_t *o = arg;

	if (o->c->closing) {
		return; // ctrd_fini frees o
	}
	if (rc != 0) {
		ctrd_start_fail(o, rc == PSB_ESTALE ? PSB_ECANCELED : rc,
		        "start: pod network: the sandbox's record could not "
		        "be written (%s)",
		        psb_strerror(rc));
		return;
	}
	// Test only (base/failpoint.h): a crash with the plan, or the
	// result, committed and nothing done after it.
	psb_failpoint_check(o->net_then == net_create
	                            ? "/podsandboxd.net/Plan"
	                            : "/podsandboxd.net/Result");
	o->net_then(o);
}

static void
net_added(void *arg, int rc, const char *result, const psb_error_t *err)
{
	ctrd_op_t *o = arg;

	o->net.cniop = NULL;
	if (rc != 0) {
		ctrd_start_fail(o, PSB_ERUNTIME,
		        "start: CNI ADD (network %s): %s", o->net.name,
		        psb_error_message(err));
		return;
	}
	psb_failpoint_check("/podsandboxd.net/CniAdd");
	net_set_result(&o->net, result);
	if (o->net.nips == 0) {
		ctrd_start_fail(o, PSB_ERUNTIME,
		        "start: CNI ADD (network %s) returned no IP address "
		        "on "
		        "%s",
		        o->net.name,
		        o->net.ifname != NULL ? o->net.ifname
		                              : PSB_CNI_IFNAME);
		return;
	}
	psb_log_sb(PSB_LOG_INFO, o->id, "pod network %s: %s in %s",
	        o->net.name, o->net.ips[0], o->net.netns);
	// The result (IPs, interfaces) is recorded before the container
	// is made, so that a crash from here on still releases the IPs.
	net_record(o, o->net_next);
}

static void
net_add(ctrd_op_t *o)
{
	ctrd_t              *c = o->c;
	psb_cni_opts_t       opts;
	psb_cni_args_t       args = {0};
	psb_cni_net_t       *net  = NULL;
	psb_error_t          err  = PSB_ERROR_INIT;
	json_t              *cfg  = json_loads(o->config_json, 0, NULL);
	const json_t        *md   = json_object_get(cfg, "metadata");
	_cleanup_free_ char *rc   = net_runtime_config(cfg);
	int                  rv;

	net_opts(c, &opts);
	args.container_id   = o->id;
	args.netns          = o->net.netns;
	args.ifname         = o->net.ifname;
	args.pod_namespace  = cfg_str(md, "namespace");
	args.pod_name       = cfg_str(md, "name");
	args.pod_uid        = cfg_str(md, "uid");
	args.runtime_config = rc;
	o->made |= CTRD_MADE_CNI; // a failed ADD may have allocated: DEL
	if ((rv = psb_cni_parse(o->net.conflist, o->net.name, &net, &err)) ==
	                0 &&
	        (rv = psb_cni_add(c->loop, &opts, net, &args, net_added, o,
	                 &o->net.cniop, &err)) == 0) {
		psb_cni_net_free(net);
		json_decref(cfg);
		return;
	}
	psb_cni_net_free(net);
	json_decref(cfg);
	ctrd_start_fail(o, rv, "start: CNI ADD (network %s): %s", o->net.name,
	        psb_error_message(&err));
	psb_error_release(&err);
}

static void
net_created(void *arg, int rc, const psb_error_t *err)
{
	ctrd_op_t *o = arg;

	o->net.nsop = NULL;
	if (rc != 0) {
		ctrd_start_fail(o, rc,
		        "start: creating the network namespace: %s",
		        psb_error_message(err));
		return;
	}
	psb_failpoint_check("/podsandboxd.net/NetnsCreate");
	net_add(o);
}

static void
net_create(ctrd_op_t *o)
{
	psb_error_t err = PSB_ERROR_INIT;
	int         rv;

	o->made |= CTRD_MADE_NETNS;
	if ((rv = psb_netns_create(o->c->workers, o->net.netns, net_created, o,
	             &o->net.nsop, &err)) != 0) {
		ctrd_start_fail(o, rv,
		        "start: creating the network namespace: %s",
		        psb_error_message(&err));
		psb_error_release(&err);
	}
}

// net_plan loads the network config and records the plan (the pin's path
// and the list) before anything is made.
static void
net_plan(ctrd_op_t *o)
{
	ctrd_t        *c   = o->c;
	psb_cni_net_t *net = NULL;
	psb_error_t    err = PSB_ERROR_INIT;
	int            rv;

	// The pin directory is a private mount point, so that a pin does not
	// spread into containers that bind its parent (containerd#6143).
	if (!c->netns_dir_ready) {
		if ((rv = psb_netns_prepare_dir(c->netns_dir, &err)) != 0) {
			ctrd_start_fail(o, rv, "start: pod network: %s",
			        psb_error_message(&err));
			psb_error_release(&err);
			return;
		}
		c->netns_dir_ready = true;
	}
	if ((rv = psb_cni_load(c->cni_conf_dir, c->cni_network, &net, &err)) !=
	        0) {
		ctrd_start_fail(o, rv == PSB_ENOENT ? PSB_ESTATE : rv,
		        "start: pod network: %s", psb_error_message(&err));
		psb_error_release(&err);
		return;
	}
	ctrd_net_release(&o->net);
	o->net_del_done = false; // the old network's steps are over
	o->net_ns_done  = false;
	o->net.name     = xstrdup(psb_cni_net_name(net));
	o->net.conflist = psb_cni_net_json(net);
	o->net.ifname   = xstrdup(PSB_CNI_IFNAME);
	o->net.netns    = psb_netns_path(c->netns_dir);
	psb_cni_net_free(net);
	net_record(o, net_create);
}

static void net_walk(ctrd_op_t *o);

void
ctrd_net_start(ctrd_op_t *o, void (*next)(ctrd_op_t *o))
{
	json_t *cfg = json_loads(o->config_json, 0, NULL);

	// NODE keeps the host's network; with the caller's netns the caller
	// runs CNI on it (the split containerd's CRI uses with a sandbox
	// controller): the daemon makes a network only for the rest.
	o->net_wanted = ctrd_net_pod(cfg) && o->caller_netns == NULL;
	json_decref(cfg);
	o->net_next = next;
	if (o->net.netns != NULL || o->net.conflist != NULL) {
		psb_log_sb(PSB_LOG_INFO, o->id,
		        "pod network of an earlier attempt: removing it "
		        "first");
	}
	net_walk(o);
}

// ---- the teardown ----------------------------------------------------------

bool
ctrd_net_needs_del(const ctrd_op_t *o)
{
	return (o->net.conflist != NULL && !o->net_del_done);
}

bool
ctrd_net_needs_netns(const ctrd_op_t *o)
{
	return (o->net.netns != NULL && !o->net_ns_done);
}

static void
net_step_done(ctrd_op_t *o, int status, const char *message)
{
	psb_grpc_unary_cb cb = o->net_cb;

	o->net_cb = NULL;
	cb(o, status, message, NULL);
}

static void
net_deleted(void *arg, int rc, const char *result, const psb_error_t *err)
{
	ctrd_op_t *o = arg;

	(void)result;
	o->net.cniop = NULL;
	if (rc != 0 && o->net.result == NULL) {
		// The ADD never produced a result (it failed, or a crash cut
		// it short): the DEL was the best effort for what it may have
		// allocated, and a plugin that cannot even DEL (missing, hung,
		// broken) must not keep the sandbox from going (containerd
		// #10770, #12132).
		psb_log_sb(PSB_LOG_WARN, o->id,
		        "CNI DEL (network %s) after an ADD without a result: "
		        "%s "
		        "(tolerated)",
		        o->net.name, psb_error_message(err));
		rc = 0;
	}
	if (rc != 0) {
		char *msg = xasprintf("CNI DEL (network %s): %s", o->net.name,
		        psb_error_message(err));

		psb_log_sb(PSB_LOG_WARN, o->id, "%s", msg);
		net_step_done(o, PSB_GRPC_INTERNAL, msg);
		free(msg);
		return;
	}
	psb_failpoint_check("/podsandboxd.net/CniDel");
	o->net_del_done = true;
	psb_log_sb(PSB_LOG_DEBUG, o->id, "CNI DEL (network %s) done",
	        o->net.name);
	net_step_done(o, PSB_GRPC_OK, "");
}

int
ctrd_net_call_del(ctrd_op_t *o, psb_grpc_unary_cb cb)
{
	ctrd_t              *c = o->c;
	psb_cni_opts_t       opts;
	psb_cni_args_t       args = {0};
	psb_cni_net_t       *net  = NULL;
	psb_error_t          err  = PSB_ERROR_INIT;
	json_t              *cfg  = o->config_json != NULL
	                                    ? json_loads(o->config_json, 0, NULL)
	                                    : NULL;
	const json_t        *md   = json_object_get(cfg, "metadata");
	_cleanup_free_ char *rc   = NULL;
	int                  rv;

	net_opts(c, &opts);
	args.container_id = o->id;
	// A pin that is gone (a reboot) is an empty path: the plugins must
	// still release what they hold (IPs, rules).
	args.netns  = o->net.netns != NULL && psb_netns_pinned(o->net.netns)
	                      ? o->net.netns
	                      : "";
	args.ifname = o->net.ifname;
	args.pod_namespace = cfg_str(md, "namespace");
	args.pod_name      = cfg_str(md, "name");
	args.pod_uid       = cfg_str(md, "uid");
	args.prev_result   = o->net.result;
	// The same capabilities as the ADD: portmap finds the rules it
	// must remove from its portMappings.
	rc                  = cfg != NULL ? net_runtime_config(cfg) : NULL;
	args.runtime_config = rc;
	o->net_cb           = cb;
	if ((rv = psb_cni_parse(o->net.conflist, o->net.name, &net, &err)) ==
	                0 &&
	        (rv = psb_cni_del(c->loop, &opts, net, &args, net_deleted, o,
	                 &o->net.cniop, &err)) == 0) {
		psb_cni_net_free(net);
		json_decref(cfg);
		return (0);
	}
	psb_cni_net_free(net);
	json_decref(cfg);
	// Not a call that can be retried: a list that does not parse (or
	// a DEL that cannot begin) fails the step with its reason, later.
	psb_log_sb(PSB_LOG_WARN, o->id, "CNI DEL (network %s): %s",
	        o->net.name, psb_error_message(&err));
	o->net_cb = NULL;
	psb_error_release(&err);
	return (rv);
}

static void
net_removed(void *arg, int rc, const psb_error_t *err)
{
	ctrd_op_t *o = arg;

	o->net.nsop = NULL;
	if (rc != 0) {
		char *msg = xasprintf("removing the network namespace: %s",
		        psb_error_message(err));

		net_step_done(o, PSB_GRPC_INTERNAL, msg);
		free(msg);
		return;
	}
	psb_failpoint_check("/podsandboxd.net/NetnsRemove");
	o->net_ns_done = true;
	net_step_done(o, PSB_GRPC_OK, "");
}

int
ctrd_net_call_remove(ctrd_op_t *o, psb_grpc_unary_cb cb)
{
	psb_error_t err = PSB_ERROR_INIT;
	int         rv;

	o->net_cb = cb;
	if ((rv = psb_netns_remove(o->c->workers, o->net.netns, net_removed, o,
	             &o->net.nsop, &err)) != 0) {
		psb_log_sb(PSB_LOG_WARN, o->id, "%s", psb_error_message(&err));
		o->net_cb = NULL;
		psb_error_release(&err);
	}
	return (rv);
}

// ---- the walk: the teardown's network steps, then what follows ----------

// Two operations walk the teardown's network steps outside the teardown
// table: a start, for a network an earlier attempt left (a crash
// mid-start, recovered as CREATED), before it makes its own; and
// net_down (Stop). net_walk_failed and net_walk_over say what each does
// at the end.

static void
net_walk_failed(ctrd_op_t *o, int code, const char *message)
{
	psb_rt_event_t ev = {
	        .event      = PSB_EV_NET_DOWN_FAILED,
	        .sandbox_id = o->id,
	        .generation = o->generation,
	        .code       = PSB_ERUNTIME,
	        .message    = message,
	};

	if (o->kind == CTRD_OP_START) {
		ctrd_start_fail(o, code,
		        "start: removing the pod network of an earlier "
		        "attempt: %s",
		        message);
		return;
	}
	psb_log_sb(PSB_LOG_WARN, o->id, "stop: %s", message);
	ctrd_emit(o->c, &ev);
	ctrd_op_free(o);
}

// net_down_ok ends a net_down: NET_DOWN_OK with what was recorded,
// without the network.
static void
net_down_ok(ctrd_op_t *o)
{
	json_t *res = json_loads(
	        o->resources != NULL ? o->resources : "{}", 0, NULL);
	char          *text;
	psb_rt_event_t ev = {
	        .event      = PSB_EV_NET_DOWN_OK,
	        .sandbox_id = o->id,
	        .generation = o->generation,
	};

	if (res == NULL) {
		res = json_object();
	}
	json_object_del(res, PSB_RT_NETWORK);
	if (o->net.netns != NULL) {
		// Status' netNamespaceClosed (core/reply.c).
		json_object_set_new(
		        res, "closedNetns", json_string(o->net.netns));
	}
	text         = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER);
	ev.resources = text;
	json_decref(res);
	psb_log_sb(PSB_LOG_INFO, o->id, "pod network %s torn down",
	        o->net.name != NULL ? o->net.name : "");
	ctrd_emit(o->c, &ev);
	free(text);
	ctrd_op_free(o);
}

static void
net_walk_over(ctrd_op_t *o)
{
	if (o->kind != CTRD_OP_START) {
		net_down_ok(o);
	} else if (o->net_wanted) {
		net_plan(o);
	} else {
		ctrd_net_release(&o->net);
		o->net_next(o);
	}
}

static void
net_walk_done(
        void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	ctrd_op_t *o = arg;

	(void)resp;
	if (o->c->closing) {
		return;
	}
	if (status != PSB_GRPC_OK) {
		net_walk_failed(o, PSB_ERUNTIME, message);
		return;
	}
	net_walk(o);
}

static void
net_walk(ctrd_op_t *o)
{
	int rv;

	if (ctrd_net_needs_del(o)) {
		rv = ctrd_net_call_del(o, net_walk_done);
	} else if (ctrd_net_needs_netns(o)) {
		rv = ctrd_net_call_remove(o, net_walk_done);
	} else {
		net_walk_over(o);
		return;
	}
	if (rv != 0) {
		net_walk_failed(o, rv,
		        "tearing the pod network down could not "
		        "begin");
	}
}

int
ctrd_net_down(void *impl, const psb_rt_sandbox_t *sb, psb_error_t *err)
{
	ctrd_t    *c = impl;
	ctrd_op_t *o;
	int        rv;

	if ((rv = ctrd_id_check(sb != NULL ? sb->id : NULL, err)) != 0) {
		return (rv);
	}
	o = ctrd_op_new(c, CTRD_OP_NET_DOWN, sb->id, sb->generation);
	o->resources = sb->resources != NULL ? xstrdup(sb->resources) : NULL;
	o->config_json =
	        sb->config_json != NULL ? xstrdup(sb->config_json) : NULL;
	(void)ctrd_net_recorded(&o->net, sb->resources);
	// An empty network would end (and emit) inside this call: defer.
	ctrd_defer(o, net_walk);
	return (0);
}
