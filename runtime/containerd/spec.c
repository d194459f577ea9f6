//
// podsandboxd - the pause container's OCI runtime spec
// (reference/containerd-podsandbox.md §2.5; decisions in spec.h).
//
// The builder's context and its sticky error are described in spec_int.h;
// the security options (seccomp, SELinux) are in spec_security.c.
//

#include "runtime/containerd/spec.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/json.h"
#include "base/parse.h"
#include "runtime/containerd/spec_int.h"

#define SP_NS_NODE 2 // NamespaceMode NODE (CRI runtime/v1)

// Base spec: containerd's default Unix spec (oci/spec.go, oci/mounts.go).
const char *const sp_caps[] = {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID",
        "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
        "CAP_KILL", "CAP_AUDIT_WRITE", NULL};

static const char *const sp_masked[] = {"/proc/acpi", "/proc/asound",
        "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
        "/proc/scsi", NULL};

static const char *const sp_readonly[] = {"/proc/bus", "/proc/fs", "/proc/irq",
        "/proc/sys", "/proc/sysrq-trigger", NULL};

typedef struct sp_mount {
	const char *dest;
	const char *type;
	const char *source;
	const char *opts[8];
} sp_mount_t;

// /run is left out of the table: rule 1 drops it.
static const sp_mount_t sp_base_mounts[] = {
        {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
        {"/dev", "tmpfs", "tmpfs",
                {"nosuid", "strictatime", "mode=755", "size=65536k"}},
        {"/dev/pts", "devpts", "devpts",
                {"nosuid", "noexec", "newinstance", "ptmxmode=0666",
                        "mode=0620", "gid=5"}},
        {"/dev/shm", "tmpfs", "shm",
                {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
        {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
        {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
};

static const char *const sp_ns_modes[] = {
        "POD", "CONTAINER", "NODE", "TARGET"};

// Rule 7's bind-mount options.
static const char *const sp_bind_opts[] = {
        "rbind", "ro", "nosuid", "nodev", "noexec", NULL};

#define SP_CRI          "io.kubernetes.cri."
#define SP_NSO          SP_SC "namespace_options."
#define SP_SYSCTL_PORTS "net.ipv4.ip_unprivileged_port_start"
#define SP_SYSCTL_PING  "net.ipv4.ping_group_range"

int
sp_fail(sp_t *sp, int code, const char *fmt, ...)
{
	char    msg[512];
	va_list ap;

	if (sp->rv != 0) {
		return (sp->rv);
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sp->rv = psb_error_make(sp->err, code, "%s", msg);
	return (sp->rv);
}

// ---- JSON building (jansson fails only on OOM or invalid UTF-8) ----

// sp_str makes a JSON string; text that is not UTF-8 (image config
// strings are not validated by anyone else) fails the build.
static json_t *
sp_str(sp_t *sp, const char *s, const char *what)
{
	json_t *v = json_string(s);

	if (v == NULL) {
		sp_fail(sp, PSB_EINVAL, "%s: not valid UTF-8", what);
		v = json_string("");
	}
	return (v);
}

static json_t *
sp_str_list(sp_t *sp, const char *const *list)
{
	json_t *arr = json_array();

	for (size_t i = 0; list[i] != NULL; i++) {
		psb_json_append(arr, sp_str(sp, list[i], "list"));
	}
	return (arr);
}

static int
sp_keycmp(const void *a, const void *b)
{
	return (strcmp(*(const char *const *)a, *(const char *const *)b));
}

// sp_sorted copies a flat object with its keys in byte order.
static json_t *
sp_sorted(const json_t *obj)
{
	size_t       n = json_object_size(obj), i = 0;
	const char **keys;
	const char  *k;
	json_t      *v, *out = json_object();

	keys = xcalloc(n, sizeof(*keys));
	json_object_foreach((json_t *)obj, k, v)
	{
		keys[i++] = k;
	}
	qsort(keys, n, sizeof(*keys), sp_keycmp);
	for (i = 0; i < n; i++) {
		psb_json_set(out, keys[i],
		        json_incref(json_object_get(obj, keys[i])));
	}
	free(keys);
	return (out);
}

// ---- Reading the pod config (crictl names) ----

// By json_type value (jansson's enum order).
static const char *const sp_type_names[] = {"an object", "an array",
        "a string", "an integer", "a number", "a boolean", "a boolean",
        "null"};

int
sp_get(sp_t *sp, const char *path, json_type want, json_t **out)
{
	json_t     *cur = sp->cfg;
	const char *p   = path;

	*out = NULL;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t      n   = dot != NULL ? (size_t)(dot - p) : strlen(p);

		if (!json_is_object(cur)) {
			return (sp_fail(sp, PSB_EINVAL,
			        "%.*s: expected an object, not %s",
			        (int)(p - path - 1), path,
			        sp_type_names[json_typeof(cur)]));
		}
		cur = json_object_getn(cur, p, n);
		if (cur == NULL || json_is_null(cur)) {
			return (0);
		}
		if (dot == NULL) {
			break;
		}
		p = dot + 1;
	}
	if (want == JSON_TRUE       ? !json_is_boolean(cur)
	        : want == JSON_NULL ? false
	                            : json_typeof(cur) != want) {
		return (sp_fail(sp, PSB_EINVAL, "%s: expected %s, not %s",
		        path, sp_type_names[want],
		        sp_type_names[json_typeof(cur)]));
	}
	*out = cur;
	return (0);
}

const char *
sp_cfg_str(sp_t *sp, const char *path)
{
	json_t *v;

	if (sp_get(sp, path, JSON_STRING, &v) != 0 || v == NULL) {
		return ("");
	}
	return (json_string_value(v));
}

static bool
sp_cfg_bool(sp_t *sp, const char *path)
{
	json_t *v;

	return (sp_get(sp, path, JSON_TRUE, &v) == 0 && json_is_true(v));
}

// sp_cfg_id reads an Int64Value wrapper ({"value": n}) holding a uid or
// gid; false when absent.
static bool
sp_cfg_id(sp_t *sp, const char *path, uint32_t *out)
{
	char    key[96];
	json_t *v;

	snprintf(key, sizeof(key), "%s.value", path);
	if (sp_get(sp, path, JSON_OBJECT, &v) != 0 || v == NULL) {
		return (false);
	}
	if (sp_get(sp, key, JSON_INTEGER, &v) != 0) {
		return (false);
	}
	// proto3 drops a zero value: {"value": 0} may arrive as {}.
	if (v != NULL && (json_integer_value(v) < 0 ||
	                         json_integer_value(v) > UINT32_MAX)) {
		sp_fail(sp, PSB_EINVAL, "%s: %lld is not a valid id", key,
		        (long long)json_integer_value(v));
		return (false);
	}
	*out = v != NULL ? (uint32_t)json_integer_value(v) : 0;
	return (true);
}

int
sp_cfg_enum(sp_t *sp, const char *path, const char *const *names, int n)
{
	json_t *v;

	if (sp_get(sp, path, JSON_NULL, &v) != 0 || v == NULL) {
		return (0);
	}
	for (int i = 0; i < n; i++) {
		if ((json_is_string(v) &&
		            strcmp(json_string_value(v), names[i]) == 0) ||
		        (json_is_integer(v) && json_integer_value(v) == i)) {
			return (i);
		}
	}
	sp_fail(sp, PSB_EINVAL, "%s: expected one of %s, %s, %s%s%s", path,
	        names[0], names[1], names[2], n > 3 ? ", " : "",
	        n > 3 ? names[3] : "");
	return (0);
}

// ---- process ----

// sp_parse_id parses n decimal digits into a uid or gid.
static bool
sp_parse_id(const char *s, size_t n, uint32_t *out)
{
	uint64_t v;

	if (psb_parse_uint(s, n, UINT32_MAX, &v) != 0) {
		return (false);
	}
	*out = (uint32_t)v;
	return (true);
}

static int
sp_gidcmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y ? -1 : x > y);
}

// Rule 9: supplemental_groups, deduplicated and sorted; NULL if none.
static json_t *
sp_groups(sp_t *sp)
{
	const char *path = SP_SC "supplemental_groups";
	json_t     *arr, *v, *out;
	uint32_t   *g;
	size_t      n, i, m = 0;

	if (sp_get(sp, path, JSON_ARRAY, &arr) != 0 || arr == NULL ||
	        json_array_size(arr) == 0) {
		return (NULL);
	}
	n = json_array_size(arr);
	g = xcalloc(n, sizeof(*g));
	json_array_foreach(arr, i, v)
	{
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		        json_integer_value(v) > UINT32_MAX) {
			sp_fail(sp, PSB_EINVAL, "%s[%zu]: not a valid gid",
			        path, i);
			break;
		}
		g[i] = (uint32_t)json_integer_value(v);
	}
	qsort(g, n, sizeof(*g), sp_gidcmp);
	out = json_array();
	for (i = 0; i < n; i++) {
		if (m == 0 || g[i] != g[m - 1]) {
			g[m++] = g[i];
			psb_json_append(out, json_integer(g[i]));
		}
	}
	free(g);
	return (out);
}

// The late User option: run_as_user[/run_as_group], else the image's
// numeric "uid[:gid]" (names need the image's passwd: spec.h).
static json_t *
sp_user(sp_t *sp)
{
	const char *u   = sp->in->image.user;
	uint32_t    uid = 0, gid = 0;
	bool        has_uid, has_gid;
	json_t     *user = json_object(), *groups;

	has_uid = sp_cfg_id(sp, SP_SC "run_as_user", &uid);
	has_gid = sp_cfg_id(sp, SP_SC "run_as_group", &gid);
	if (has_gid && !has_uid) {
		sp_fail(sp, PSB_EINVAL,
		        SP_SC "run_as_group: set without run_as_user");
	} else if (!has_uid && u != NULL && *u != '\0') {
		size_t n = strcspn(u, ":");

		if (!sp_parse_id(u, n, &uid) ||
		        (u[n] == ':' && !sp_parse_id(u + n + 1,
		                                strlen(u + n + 1), &gid))) {
			sp_fail(sp, PSB_ENOTSUP,
			        "image user \"%.64s\": only a numeric "
			        "uid[:gid] "
			        "is supported",
			        u);
		}
	}
	psb_json_set(user, "uid", json_integer(uid));
	psb_json_set(user, "gid", json_integer(gid));
	if ((groups = sp_groups(sp)) != NULL) {
		psb_json_set(user, "additionalGids", groups);
	}
	return (user);
}

// Rule 4: args = entrypoint ++ cmd.
static json_t *
sp_args(sp_t *sp)
{
	const psb_spec_image_t *im   = &sp->in->image;
	json_t                 *args = json_array();

	for (size_t i = 0; i < im->n_entrypoint; i++) {
		psb_json_append(args,
		        sp_str(sp, im->entrypoint[i], "image entrypoint"));
	}
	for (size_t i = 0; i < im->n_cmd; i++) {
		psb_json_append(args, sp_str(sp, im->cmd[i], "image cmd"));
	}
	if (json_array_size(args) == 0) {
		sp_fail(sp, PSB_EINVAL, "invalid empty entrypoint and cmd");
	}
	return (args);
}

// Rule 3: the image env merged into the (empty) base env the way
// containerd's replaceOrAppendEnvValues does it: KEY=v replaces an
// earlier KEY in place or appends; a bare KEY unsets an earlier one.
static json_t *
sp_env(sp_t *sp)
{
	const psb_spec_image_t *im = &sp->in->image;
	struct slot {
		const char *key;
		size_t      klen;
		const char *val; // NULL: unset
	} *slots    = xcalloc(im->n_env, sizeof(*slots));
	size_t  n   = 0;
	json_t *env = json_array();

	for (size_t i = 0; i < im->n_env; i++) {
		const char *e    = im->env[i];
		size_t      klen = strcspn(e, "="), j;

		for (j = 0; j < n; j++) {
			if (slots[j].klen == klen &&
			        memcmp(slots[j].key, e, klen) == 0) {
				break;
			}
		}
		if (e[klen] == '\0') {
			if (j < n) {
				slots[j].val = NULL;
			}
		} else if (j < n) {
			slots[j].val = e;
		} else {
			slots[n++] = (struct slot) {e, klen, e};
		}
	}
	for (size_t j = 0; j < n; j++) {
		if (slots[j].val != NULL) {
			psb_json_append(
			        env, sp_str(sp, slots[j].val, "image env"));
		}
	}
	free(slots);
	return (env);
}

static json_t *
sp_process(sp_t *sp)
{
	const char *cwd  = sp->in->image.working_dir;
	json_t     *proc = json_object(), *caps = json_object(), *env;
	int         oom = sp->in->oom_score_adj;

	psb_json_set(proc, "user", sp_user(sp));
	psb_json_set(proc, "args", sp_args(sp));
	env = sp_env(sp);
	if (json_array_size(env) > 0) {
		psb_json_set(proc, "env", env);
	} else {
		json_decref(env);
	}
	psb_json_set(proc, "cwd",
	        sp_str(sp, cwd != NULL && *cwd != '\0' ? cwd : "/",
	                "image working_dir"));
	psb_json_set(caps, "bounding", sp_str_list(sp, sp_caps));
	psb_json_set(caps, "effective", sp_str_list(sp, sp_caps));
	psb_json_set(caps, "permitted", sp_str_list(sp, sp_caps));
	psb_json_set(proc, "capabilities", caps);
	psb_json_set(proc, "noNewPrivileges", json_true());
	// Rule 13: never ask for less than the daemon itself has, or the
	// runtime's write to oom_score_adj fails with EACCES.
	if (oom < sp->in->daemon_oom_score_adj) {
		oom = sp->in->daemon_oom_score_adj;
	}
	psb_json_set(proc, "oomScoreAdj", json_integer(oom));
	if (sp->process_label != NULL) {
		psb_json_set(proc, "selinuxLabel",
		        sp_str(sp, sp->process_label, "selinuxLabel"));
	}
	return (proc);
}

// ---- root, mounts, annotations ----

static json_t *
sp_mount(sp_t *sp, const char *dest, const char *type, const char *source,
        const char *const *opts)
{
	json_t *m = json_object();

	psb_json_set(m, "destination", sp_str(sp, dest, "mount destination"));
	psb_json_set(m, "type", sp_str(sp, type, "mount type"));
	psb_json_set(m, "source", sp_str(sp, source, "mount source"));
	psb_json_set(m, "options", sp_str_list(sp, opts));
	return (m);
}

// Rules 1 and 7.
static json_t *
sp_mounts(sp_t *sp)
{
	const char *shm =
	        sp->ipc_mode == SP_NS_NODE ? "/dev/shm" : sp->in->shm_path;
	const char *resolv = sp->in->resolv_conf_path;
	json_t     *arr    = json_array();

	for (size_t i = 0; i < PSB_NELEM(sp_base_mounts); i++) {
		const sp_mount_t *m = &sp_base_mounts[i];

		if (shm != NULL && strcmp(m->dest, "/dev/shm") == 0) {
			continue;
		}
		psb_json_append(arr,
		        sp_mount(sp, m->dest, m->type, m->source, m->opts));
	}
	if (shm != NULL) {
		psb_json_append(arr,
		        sp_mount(sp, "/dev/shm", "bind", shm, sp_bind_opts));
	}
	if (resolv != NULL) {
		psb_json_append(arr, sp_mount(sp, "/etc/resolv.conf", "bind",
		                             resolv, sp_bind_opts));
	}
	return (arr);
}

static bool
sp_passthrough(const psb_spec_input_t *in, const char *key)
{
	for (size_t i = 0; i < in->n_annotation_patterns; i++) {
		if (fnmatch(in->annotation_patterns[i], key, FNM_PATHNAME) ==
		        0) {
			return (true);
		}
	}
	return (false);
}

// Rules 12, 14 and 15, in that order (later keys win), sorted by key.
static json_t *
sp_annotations(sp_t *sp)
{
	static const struct {
		const char *key, *field;
	} res_keys[] = {
	        {SP_CRI "sandbox-cpu-period", "linux.resources.cpu_period"},
	        {SP_CRI "sandbox-cpu-quota", "linux.resources.cpu_quota"},
	        {SP_CRI "sandbox-cpu-shares", "linux.resources.cpu_shares"},
	        {SP_CRI "sandbox-memory",
	                "linux.resources.memory_limit_in_bytes"},
	};
	static const struct {
		const char *key, *field;
	} def_keys[] = {
	        {SP_CRI "sandbox-namespace", "metadata.namespace"},
	        {SP_CRI "sandbox-uid", "metadata.uid"},
	        {SP_CRI "sandbox-name", "metadata.name"},
	        {SP_CRI "sandbox-log-directory", "log_directory"},
	};
	json_t     *a = json_object(), *res, *pod, *v, *out;
	const char *k;
	char        num[32];

	if (sp_get(sp, "linux.resources", JSON_OBJECT, &res) == 0 &&
	        res != NULL) {
		for (size_t i = 0; i < PSB_NELEM(res_keys); i++) {
			if (sp_get(sp, res_keys[i].field, JSON_INTEGER, &v) !=
			        0) {
				break;
			}
			snprintf(num, sizeof(num), "%lld",
			        v != NULL ? (long long)json_integer_value(v)
			                  : 0LL);
			psb_json_set(a, res_keys[i].key, json_string(num));
		}
	}
	if (sp_get(sp, "annotations", JSON_OBJECT, &pod) == 0 && pod != NULL) {
		json_object_foreach(pod, k, v)
		{
			if (!json_is_string(v)) {
				sp_fail(sp, PSB_EINVAL,
				        "annotations.%.64s: expected a string",
				        k);
				break;
			}
			if (sp_passthrough(sp->in, k)) {
				psb_json_set(a, k, json_incref(v));
			}
		}
	}
	psb_json_set(a, SP_CRI "sandbox-id",
	        sp_str(sp, sp->in->sandbox_id, "sandbox id"));
	for (size_t i = 0; i < PSB_NELEM(def_keys); i++) {
		psb_json_set(a, def_keys[i].key,
		        json_string(sp_cfg_str(sp, def_keys[i].field)));
	}
	psb_json_set(a, SP_CRI "container-type", json_string("sandbox"));
	out = sp_sorted(a);
	json_decref(a);
	return (out);
}

// ---- linux ----

// Rule 10.
static json_t *
sp_sysctls(sp_t *sp)
{
	json_t     *sys = json_object(), *cs, *v, *out;
	const char *k;

	if (sp_get(sp, "linux.sysctls", JSON_OBJECT, &cs) == 0 && cs != NULL) {
		json_object_foreach(cs, k, v)
		{
			if (!json_is_string(v)) {
				sp_fail(sp, PSB_EINVAL,
				        "linux.sysctls.%.64s: expected a "
				        "string",
				        k);
				break;
			}
			psb_json_set(sys, k, json_incref(v));
		}
	}
	// Both are namespaced sysctls: with the host's network namespace
	// they would change the node, so they are only defaults for pods.
	if (sp->net_mode != SP_NS_NODE) {
		if (sp->in->enable_unprivileged_ports &&
		        json_object_get(sys, SP_SYSCTL_PORTS) == NULL) {
			psb_json_set(sys, SP_SYSCTL_PORTS, json_string("0"));
		}
		// Inside a user namespace the range would name unmapped gids
		// and the kernel rejects the write.
		if (sp->in->enable_unprivileged_icmp &&
		        !sp->in->in_user_namespace &&
		        json_object_get(sys, SP_SYSCTL_PING) == NULL) {
			psb_json_set(sys, SP_SYSCTL_PING,
			        json_string("0 2147483647"));
		}
	}
	out = sp_sorted(sys);
	json_decref(sys);
	return (out);
}

// Rule 5; NULL when cgroups are disabled.
static char *
sp_cgroups_path(sp_t *sp)
{
	const char *parent = sp_cfg_str(sp, "linux.cgroup_parent");
	const char *base;
	size_t      n;

	if (sp->in->disable_cgroup) {
		return (NULL);
	}
	if (*parent == '\0') {
		parent = sp->in->default_cgroup_parent != NULL
		                 ? sp->in->default_cgroup_parent
		                 : "/podsandbox";
	}
	// Go's path.Base and filepath.Join ignore trailing slashes.
	n = strlen(parent);
	while (n > 1 && parent[n - 1] == '/') {
		n--;
	}
	base = parent + n;
	while (base > parent && base[-1] != '/') {
		base--;
	}
	if (parent + n - base >= 6 &&
	        memcmp(parent + n - 6, ".slice", 6) == 0) {
		return (xasprintf("%.*s:podsandbox:%s",
		        (int)(parent + n - base), base, sp->in->sandbox_id));
	}
	if (n == 1 && parent[0] == '/') {
		n = 0;
	}
	return (xasprintf("%.*s/%s", (int)n, parent, sp->in->sandbox_id));
}

// Rule 6: containerd's base order, minus what the pod shares with the
// node. Host network implies the host's UTS namespace too.
static json_t *
sp_namespaces(sp_t *sp)
{
	static const char *const types[] = {
	        "pid", "ipc", "uts", "mount", "network"};
	const char *netns = sp->in->netns_path;
	json_t     *arr   = json_array();

	for (size_t i = 0; i < PSB_NELEM(types); i++) {
		const char *t = types[i];
		json_t     *ns;

		if ((sp->pid_mode == SP_NS_NODE && strcmp(t, "pid") == 0) ||
		        (sp->ipc_mode == SP_NS_NODE &&
		                strcmp(t, "ipc") == 0) ||
		        (sp->net_mode == SP_NS_NODE &&
		                (strcmp(t, "uts") == 0 ||
		                        strcmp(t, "network") == 0))) {
			continue;
		}
		ns = json_object();
		psb_json_set(ns, "type", json_string(t));
		if (strcmp(t, "network") == 0 && netns != NULL &&
		        *netns != '\0') {
			psb_json_set(
			        ns, "path", sp_str(sp, netns, "netns path"));
		}
		psb_json_append(arr, ns);
	}
	return (arr);
}

static json_t *
sp_linux(sp_t *sp)
{
	json_t *lx = json_object(), *res = json_object();
	json_t *sys = sp_sysctls(sp), *dev = json_object(), *devs, *cpu;
	char   *cg = sp_cgroups_path(sp);

	if (json_object_size(sys) > 0) {
		psb_json_set(lx, "sysctl", sys);
	} else {
		json_decref(sys);
	}
	psb_json_set(dev, "allow", json_false());
	psb_json_set(dev, "access", json_string("rwm"));
	devs = json_array();
	psb_json_append(devs, dev);
	psb_json_set(res, "devices", devs);
	if (!sp->in->disable_cgroup) { // rule 11
		cpu = json_object();
		psb_json_set(cpu, "shares", json_integer(2));
		psb_json_set(res, "cpu", cpu);
	}
	psb_json_set(lx, "resources", res);
	if (cg != NULL) {
		psb_json_set(lx, "cgroupsPath", sp_str(sp, cg, "cgroupsPath"));
		free(cg);
	}
	psb_json_set(lx, "namespaces", sp_namespaces(sp));
	if (sp->seccomp != NULL) {
		psb_json_set(lx, "seccomp", TAKE_PTR(sp->seccomp));
	}
	psb_json_set(lx, "maskedPaths", sp_str_list(sp, sp_masked));
	psb_json_set(lx, "readonlyPaths", sp_str_list(sp, sp_readonly));
	if (sp->mount_label != NULL) {
		psb_json_set(lx, "mountLabel",
		        sp_str(sp, sp->mount_label, "mountLabel"));
	}
	return (lx);
}

// ---- the document ----

void
psb_spec_input_init(psb_spec_input_t *in)
{
	memset(in, 0, sizeof(*in));
	in->oom_score_adj             = -998;
	in->daemon_oom_score_adj      = -1000;
	in->enable_unprivileged_ports = true;
	in->enable_unprivileged_icmp  = true;
}

static int
sp_load_config(sp_t *sp)
{
	json_error_t je;

	if (sp->in->config != NULL) {
		sp->cfg = json_incref(sp->in->config);
	} else if (sp->in->config_text != NULL) {
		sp->cfg = json_loads(sp->in->config_text, 0, &je);
		if (sp->cfg == NULL) {
			return (sp_fail(sp, PSB_EINVAL,
			        "pod config: %s (line %d, column %d)", je.text,
			        je.line, je.column));
		}
	} else {
		sp->cfg = json_object();
	}
	if (!json_is_object(sp->cfg)) {
		return (sp_fail(
		        sp, PSB_EINVAL, "pod config: expected an object"));
	}
	return (0);
}

static json_t *
sp_document(sp_t *sp)
{
	const char *host = sp_cfg_str(sp, "hostname");
	const char *root = sp->in->root_path;
	json_t     *spec = json_object(), *r = json_object();

	psb_json_set(spec, "ociVersion", json_string("1.1.0"));
	psb_json_set(spec, "process", sp_process(sp));
	psb_json_set(r, "path",
	        sp_str(sp, root != NULL ? root : "rootfs", "root path"));
	psb_json_set(r, "readonly", json_true()); // readonly_rootfs is ignored
	psb_json_set(spec, "root", r);
	// runc rejects a hostname without a private UTS namespace (spec.h).
	if (*host != '\0' && sp->net_mode != SP_NS_NODE) {
		psb_json_set(spec, "hostname", json_string(host));
	}
	psb_json_set(spec, "mounts", sp_mounts(sp));
	psb_json_set(spec, "annotations", sp_annotations(sp));
	psb_json_set(spec, "linux", sp_linux(sp));
	return (spec);
}

int
psb_spec_build(const psb_spec_input_t *in, char **json_out, psb_error_t *err)
{
	sp_t    sp = {.in = in, .err = err};
	json_t *spec;
	char   *text;

	if (in->sandbox_id == NULL || *in->sandbox_id == '\0') {
		return (psb_error_make(
		        err, PSB_EINVAL, "sandbox id is required"));
	}
	if (sp_load_config(&sp) == 0) {
		sp.net_mode =
		        sp_cfg_enum(&sp, SP_NSO "network", sp_ns_modes, 4);
		sp.pid_mode   = sp_cfg_enum(&sp, SP_NSO "pid", sp_ns_modes, 4);
		sp.ipc_mode   = sp_cfg_enum(&sp, SP_NSO "ipc", sp_ns_modes, 4);
		sp.privileged = sp_cfg_bool(&sp, SP_SC "privileged");
		sp_seccomp(&sp);
		sp_selinux(&sp);
	}
	if (sp.rv == 0) {
		spec = sp_document(&sp);
		if (sp.rv == 0) {
			if ((text = json_dumps(spec, JSON_COMPACT)) == NULL) {
				psb_oom(); // valid UTF-8 throughout: only OOM
			}
			*json_out = text;
		}
		json_decref(spec);
	}
	json_decref(sp.cfg);
	free(sp.process_label);
	free(sp.mount_label);
	json_decref(sp.seccomp);
	return (sp.rv);
}
