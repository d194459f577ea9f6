//
// podsandboxd - unit tests of the pause OCI spec builder and its seccomp
// profile (runtime/containerd/spec.h, seccomp.h;
// reference/containerd-podsandbox.md §2.5). Each test builds a spec,
// parses it back with jansson and checks exact fields.
//

#include "tests/harness/testing.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/containerd/seccomp.h"
#include "runtime/containerd/spec.h"

#define ID     "0123456789abcdef"
#define NETNS  "/run/podsandboxd/netns/cni-1"
#define SHM    "/run/podsandboxd/sandboxes/" ID "/shm"
#define RESOLV "/var/lib/podsandboxd/sandboxes/" ID "/resolv.conf"

static const char *const pause_ep[] = {"/pause"};

// input sets up a default pod: pause entrypoint, netns, shm and
// resolv.conf paths, config text (NULL = empty config).
static void
input(psb_spec_input_t *in, const char *config_text)
{
	psb_spec_input_init(in);
	in->sandbox_id            = ID;
	in->config_text           = config_text;
	in->image.entrypoint      = pause_ep;
	in->image.n_entrypoint    = 1;
	in->netns_path            = NETNS;
	in->shm_path              = SHM;
	in->resolv_conf_path      = RESOLV;
	in->default_cgroup_parent = "/podsandbox";
}

static json_t *
build(const psb_spec_input_t *in)
{
	psb_error_t err  = PSB_ERROR_INIT;
	char       *text = NULL;
	json_t     *spec;

	if (psb_spec_build(in, &text, &err) != 0) {
		fail_msg("psb_spec_build: %s", psb_error_message(&err));
	}
	assert_non_null(text);
	spec = json_loads(text, 0, NULL);
	assert_non_null(spec);
	free(text);
	return (spec);
}

static json_t *
build_text(const char *config_text)
{
	psb_spec_input_t in;

	input(&in, config_text);
	return (build(&in));
}

static void
expect_error(const psb_spec_input_t *in, int code, const char *needle)
{
	psb_error_t err  = PSB_ERROR_INIT;
	char       *text = NULL;

	assert_int_equal(psb_spec_build(in, &text, &err), code);
	assert_null(text);
	assert_int_equal(err.code, code);
	assert_non_null(err.msg);
	if (strstr(err.msg, needle) == NULL) {
		fail_msg("message \"%s\" does not name \"%s\"", err.msg,
		        needle);
	}
	psb_error_release(&err);
}

static void
expect_config_error(const char *config_text, int code, const char *needle)
{
	psb_spec_input_t in;

	input(&in, config_text);
	expect_error(&in, code, needle);
}

// at walks a dotted path of object keys; NULL if absent.
static json_t *
at(json_t *root, const char *path)
{
	char    buf[256];
	char   *p   = buf, *dot;
	json_t *cur = root;

	snprintf(buf, sizeof(buf), "%s", path);
	while (cur != NULL && p != NULL) {
		dot = strchr(p, '.');
		if (dot != NULL) {
			*dot = '\0';
		}
		cur = json_object_get(cur, p);
		p   = dot != NULL ? dot + 1 : NULL;
	}
	return (cur);
}

static const char *
str_at(json_t *root, const char *path)
{
	json_t *v = at(root, path);

	if (!json_is_string(v)) {
		fail_msg("%s is not a string", path);
	}
	return (json_string_value(v));
}

static long long
int_at(json_t *root, const char *path)
{
	json_t *v = at(root, path);

	if (!json_is_integer(v)) {
		fail_msg("%s is not an integer", path);
	}
	return ((long long)json_integer_value(v));
}

// assert_strings checks that arr is exactly the n strings in want.
static void
assert_strings(json_t *arr, const char *const *want, size_t n)
{
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(
		        json_string_value(json_array_get(arr, i)), want[i]);
	}
}

// ns_types joins the namespace types ("pid,ipc,uts,mount,network").
static const char *
ns_types(json_t *spec)
{
	static char buf[128];
	size_t      i, len = 0;
	json_t     *ns;

	buf[0] = '\0';
	json_array_foreach(at(spec, "linux.namespaces"), i, ns)
	{
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
		        i > 0 ? "," : "",
		        json_string_value(json_object_get(ns, "type")));
		assert_true(len < sizeof(buf));
	}
	return (buf);
}

static json_t *
find_ns(json_t *spec, const char *type)
{
	size_t  i;
	json_t *ns;

	json_array_foreach(at(spec, "linux.namespaces"), i, ns)
	{
		if (strcmp(json_string_value(json_object_get(ns, "type")),
		            type) == 0) {
			return (ns);
		}
	}
	return (NULL);
}

static json_t *
find_mount(json_t *spec, const char *dest)
{
	size_t  i;
	json_t *m;

	json_array_foreach(at(spec, "mounts"), i, m)
	{
		if (strcmp(json_string_value(
		                   json_object_get(m, "destination")),
		            dest) == 0) {
			return (m);
		}
	}
	return (NULL);
}

static void
test_base_spec(void **state)
{
	static const char *const caps[]     = {"CAP_CHOWN", "CAP_DAC_OVERRIDE",
	            "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	            "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	            "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
	            "CAP_AUDIT_WRITE"};
	static const char *const masked[]   = {"/proc/acpi", "/proc/asound",
	          "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
	          "/sys/firmware", "/proc/scsi"};
	static const char *const readonly[] = {"/proc/bus", "/proc/fs",
	        "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
	json_t                  *spec       = build_text(NULL);
	json_t                  *dev;

	(void)state;
	assert_string_equal(str_at(spec, "ociVersion"), "1.1.0");
	assert_string_equal(str_at(spec, "process.cwd"), "/");
	assert_true(json_is_true(at(spec, "process.noNewPrivileges")));
	assert_int_equal(int_at(spec, "process.user.uid"), 0);
	assert_int_equal(int_at(spec, "process.user.gid"), 0);
	assert_null(at(spec, "process.user.additionalGids"));
	assert_null(at(spec, "process.env"));
	assert_strings(at(spec, "process.capabilities.bounding"), caps, 14);
	assert_strings(at(spec, "process.capabilities.effective"), caps, 14);
	assert_strings(at(spec, "process.capabilities.permitted"), caps, 14);
	assert_strings(at(spec, "linux.maskedPaths"), masked, 10);
	assert_strings(at(spec, "linux.readonlyPaths"), readonly, 5);
	assert_int_equal(
	        json_array_size(at(spec, "linux.resources.devices")), 1);
	dev = json_array_get(at(spec, "linux.resources.devices"), 0);
	assert_true(json_is_false(json_object_get(dev, "allow")));
	assert_string_equal(
	        json_string_value(json_object_get(dev, "access")), "rwm");
	assert_null(at(spec, "linux.seccomp"));
	assert_null(at(spec, "process.selinuxLabel"));
	assert_null(at(spec, "linux.mountLabel"));
	json_decref(spec);
}

// Rule 6, default pod: every namespace, the network one at our netns.
static void
test_namespaces_default(void **state)
{
	psb_spec_input_t in;
	json_t          *spec = build_text(NULL);

	(void)state;
	assert_string_equal(ns_types(spec), "pid,ipc,uts,mount,network");
	assert_string_equal(json_string_value(json_object_get(
	                            find_ns(spec, "network"), "path")),
	        NETNS);
	assert_null(json_object_get(find_ns(spec, "pid"), "path"));
	json_decref(spec);

	input(&in, NULL); // netns not wired yet: a fresh one from runc
	in.netns_path = NULL;
	spec          = build(&in);
	assert_string_equal(ns_types(spec), "pid,ipc,uts,mount,network");
	assert_null(json_object_get(find_ns(spec, "network"), "path"));
	json_decref(spec);
}

// Rule 6: host network removes network AND uts (and the hostname).
static void
test_namespaces_host_network(void **state)
{
	json_t *spec = build_text(
	        "{\"hostname\":\"h\",\"linux\":{\"security_context\":"
	        "{\"namespace_options\":{\"network\":\"NODE\"}}}}");

	(void)state;
	assert_string_equal(ns_types(spec), "pid,ipc,mount");
	assert_null(at(spec, "hostname"));
	json_decref(spec);
}

// Rule 6: host pid / ipc, by name or by number.
static void
test_namespaces_host_pid_ipc(void **state)
{
	json_t *spec = build_text(
	        "{\"linux\":{\"security_context\":{\"namespace_options\":"
	        "{\"pid\":\"NODE\",\"ipc\":\"POD\"}}}}");

	(void)state;
	assert_string_equal(ns_types(spec), "ipc,uts,mount,network");
	json_decref(spec);
	spec = build_text("{\"linux\":{\"security_context\":{"
	                  "\"namespace_options\":{\"ipc\":2,\"pid\":1}}}}");
	assert_string_equal(ns_types(spec), "pid,uts,mount,network");
	json_decref(spec);
	expect_config_error("{\"linux\":{\"security_context\":{"
	                    "\"namespace_options\":{\"ipc\":\"HOST\"}}}}",
	        PSB_EINVAL, "linux.security_context.namespace_options.ipc");
}

// Rule 3: root read-only always, readonly_rootfs ignored; hostname.
static void
test_root_and_hostname(void **state)
{
	psb_spec_input_t in;
	json_t          *spec;

	(void)state;
	input(&in, "{\"hostname\":\"web-1\",\"linux\":{\"security_context\":"
	           "{\"readonly_rootfs\":false}}}");
	spec = build(&in);
	assert_string_equal(str_at(spec, "root.path"), "rootfs");
	assert_true(json_is_true(at(spec, "root.readonly")));
	assert_string_equal(str_at(spec, "hostname"), "web-1");
	json_decref(spec);

	input(&in, NULL);
	in.root_path = "/snap/rootfs";
	spec         = build(&in);
	assert_string_equal(str_at(spec, "root.path"), "/snap/rootfs");
	assert_null(at(spec, "hostname"));
	json_decref(spec);
}

// Rules 3 and 4: args = entrypoint ++ cmd; cwd from the image.
static void
test_args_and_cwd(void **state)
{
	static const char *const ep[]   = {"/bin/sh", "-c"};
	static const char *const cmd[]  = {"sleep inf"};
	static const char *const want[] = {"/bin/sh", "-c", "sleep inf"};
	psb_spec_input_t         in;
	json_t                  *spec;

	(void)state;
	input(&in, NULL);
	in.image.entrypoint   = ep;
	in.image.n_entrypoint = 2;
	in.image.cmd          = cmd;
	in.image.n_cmd        = 1;
	in.image.working_dir  = "/srv";
	spec                  = build(&in);
	assert_strings(at(spec, "process.args"), want, 3);
	assert_string_equal(str_at(spec, "process.cwd"), "/srv");
	json_decref(spec);

	in.image.n_entrypoint = 0; // cmd alone is enough
	spec                  = build(&in);
	assert_strings(at(spec, "process.args"), cmd, 1);
	json_decref(spec);
}

static void
test_args_empty_error(void **state)
{
	psb_spec_input_t in;

	(void)state;
	input(&in, NULL);
	in.image.n_entrypoint = 0;
	expect_error(&in, PSB_EINVAL, "invalid empty entrypoint and cmd");
}

// Rule 3: image env, later KEY=v replaces in place, bare KEY unsets.
static void
test_env_merge(void **state)
{
	static const char *const env[] = {
	        "PATH=/bin", "A=1", "B=2", "A=3", "B", "C=x=y"};
	static const char *const want[] = {"PATH=/bin", "A=3", "C=x=y"};
	psb_spec_input_t         in;
	json_t                  *spec;

	(void)state;
	input(&in, NULL);
	in.image.env   = env;
	in.image.n_env = 6;
	spec           = build(&in);
	assert_strings(at(spec, "process.env"), want, 3);
	json_decref(spec);
}

static void
assert_bind(json_t *spec, const char *dest, const char *source)
{
	static const char *const opts[] = {
	        "rbind", "ro", "nosuid", "nodev", "noexec"};
	json_t *m = find_mount(spec, dest);

	assert_non_null(m);
	assert_string_equal(
	        json_string_value(json_object_get(m, "type")), "bind");
	assert_string_equal(
	        json_string_value(json_object_get(m, "source")), source);
	assert_strings(json_object_get(m, "options"), opts, 5);
}

// Rules 1 and 7: no /run; /dev/shm and resolv.conf bound read-only.
static void
test_mounts(void **state)
{
	static const char *const dests[] = {"/proc", "/dev", "/dev/pts",
	        "/dev/mqueue", "/sys", "/dev/shm", "/etc/resolv.conf"};
	psb_spec_input_t         in;
	json_t                  *spec = build_text(NULL), *m;
	size_t                   i;

	(void)state;
	assert_int_equal(json_array_size(at(spec, "mounts")), 7);
	json_array_foreach(at(spec, "mounts"), i, m)
	{
		assert_string_equal(
		        json_string_value(json_object_get(m, "destination")),
		        dests[i]);
	}
	assert_null(find_mount(spec, "/run"));
	assert_bind(spec, "/dev/shm", SHM);
	assert_bind(spec, "/etc/resolv.conf", RESOLV);
	m = find_mount(spec, "/sys");
	assert_string_equal(
	        json_string_value(json_object_get(m, "type")), "sysfs");
	json_decref(spec);

	// ipc NODE: the host's /dev/shm, whatever shm path is given.
	spec = build_text("{\"linux\":{\"security_context\":{"
	                  "\"namespace_options\":{\"ipc\":\"NODE\"}}}}");
	assert_bind(spec, "/dev/shm", "/dev/shm");
	json_decref(spec);

	// No sandbox files yet: private tmpfs /dev/shm, no resolv.conf.
	input(&in, NULL);
	in.shm_path         = NULL;
	in.resolv_conf_path = NULL;
	spec                = build(&in);
	m                   = find_mount(spec, "/dev/shm");
	assert_string_equal(
	        json_string_value(json_object_get(m, "type")), "tmpfs");
	assert_null(find_mount(spec, "/etc/resolv.conf"));
	assert_int_equal(json_array_size(at(spec, "mounts")), 6);
	json_decref(spec);
}

static const char *
cgroups_path(const char *config_text, const char *default_parent)
{
	static char      buf[256];
	psb_spec_input_t in;
	json_t          *spec;
	json_t          *v;

	input(&in, config_text);
	in.default_cgroup_parent = default_parent;
	spec                     = build(&in);
	v                        = at(spec, "linux.cgroupsPath");
	snprintf(buf, sizeof(buf), "%s",
	        v != NULL ? json_string_value(v) : "(none)");
	json_decref(spec);
	return (buf);
}

// Rule 5.
static void
test_cgroups_path(void **state)
{
	psb_spec_input_t in;
	json_t          *spec;

	(void)state;
	assert_string_equal(
	        cgroups_path(NULL, "/podsandbox"), "/podsandbox/" ID);
	assert_string_equal(cgroups_path(NULL, NULL), "/podsandbox/" ID);
	assert_string_equal(cgroups_path("{\"linux\":{\"cgroup_parent\":"
	                                 "\"/kubepods/burstable/pod1\"}}",
	                            "/podsandbox"),
	        "/kubepods/burstable/pod1/" ID);
	assert_string_equal(
	        cgroups_path("{\"linux\":{\"cgroup_parent\":\"/kubepods/\"}}",
	                NULL),
	        "/kubepods/" ID);
	assert_string_equal(
	        cgroups_path("{\"linux\":{\"cgroup_parent\":\"/kubepods.slice/"
	                     "kubepods-besteffort.slice\"}}",
	                NULL),
	        "kubepods-besteffort.slice:podsandbox:" ID);
	assert_string_equal(cgroups_path("{\"linux\":{\"cgroup_parent\":"
	                                 "\"kubepods.slice\"}}",
	                            NULL),
	        "kubepods.slice:podsandbox:" ID);
	assert_string_equal(cgroups_path(NULL, "system.slice"),
	        "system.slice:podsandbox:" ID);

	input(&in, "{\"linux\":{\"cgroup_parent\":\"/kubepods\"}}");
	in.disable_cgroup = true;
	spec              = build(&in);
	assert_null(at(spec, "linux.cgroupsPath"));
	assert_null(at(spec, "linux.resources.cpu"));
	assert_non_null(at(spec, "linux.resources.devices"));
	json_decref(spec);
}

// Rule 11.
static void
test_cpu_shares(void **state)
{
	json_t *spec = build_text(NULL);

	(void)state;
	assert_int_equal(int_at(spec, "linux.resources.cpu.shares"), 2);
	json_decref(spec);
}

// Rule 12: only when linux.resources is given.
static void
test_resource_annotations(void **state)
{
	json_t *spec =
	        build_text("{\"linux\":{\"resources\":{\"cpu_period\":100000,"
	                   "\"cpu_quota\":50000,\"memory_limit_in_bytes\":"
	                   "8589934592}}}");

	(void)state;
	assert_string_equal(
	        json_string_value(json_object_get(at(spec, "annotations"),
	                "io.kubernetes.cri.sandbox-cpu-period")),
	        "100000");
	assert_string_equal(
	        json_string_value(json_object_get(at(spec, "annotations"),
	                "io.kubernetes.cri.sandbox-cpu-quota")),
	        "50000");
	assert_string_equal(
	        json_string_value(json_object_get(at(spec, "annotations"),
	                "io.kubernetes.cri.sandbox-cpu-shares")),
	        "0");
	assert_string_equal(
	        json_string_value(json_object_get(at(spec, "annotations"),
	                "io.kubernetes.cri.sandbox-memory")),
	        "8589934592");
	json_decref(spec);
	spec = build_text(NULL);
	assert_null(json_object_get(
	        at(spec, "annotations"), "io.kubernetes.cri.sandbox-memory"));
	json_decref(spec);
}

static const char *
sysctl(json_t *spec, const char *key)
{
	json_t *v = json_object_get(at(spec, "linux.sysctl"), key);

	return (v != NULL ? json_string_value(v) : NULL);
}

// Rule 10.
static void
test_sysctls(void **state)
{
	psb_spec_input_t in;
	json_t          *spec = build_text(
	                 "{\"linux\":{\"sysctls\":{\"kernel.shm_rmid_forced\":\"1\","
	                          "\"net.ipv4.ip_unprivileged_port_start\":\"1024\"}}}");

	(void)state;
	assert_string_equal(sysctl(spec, "kernel.shm_rmid_forced"), "1");
	assert_string_equal(
	        sysctl(spec, "net.ipv4.ip_unprivileged_port_start"), "1024");
	assert_string_equal(
	        sysctl(spec, "net.ipv4.ping_group_range"), "0 2147483647");
	json_decref(spec);

	spec = build_text(NULL);
	assert_string_equal(
	        sysctl(spec, "net.ipv4.ip_unprivileged_port_start"), "0");
	assert_string_equal(
	        sysctl(spec, "net.ipv4.ping_group_range"), "0 2147483647");
	json_decref(spec);

	// Host network: only the pod's own sysctls.
	spec = build_text("{\"linux\":{\"sysctls\":{\"net.core.somaxconn\":"
	                  "\"1024\"},\"security_context\":{"
	                  "\"namespace_options\":{\"network\":\"NODE\"}}}}");
	assert_int_equal(json_object_size(at(spec, "linux.sysctl")), 1);
	assert_string_equal(sysctl(spec, "net.core.somaxconn"), "1024");
	json_decref(spec);
	spec = build_text("{\"linux\":{\"security_context\":{"
	                  "\"namespace_options\":{\"network\":\"NODE\"}}}}");
	assert_null(at(spec, "linux.sysctl"));
	json_decref(spec);

	// Daemon in a user namespace: no ping range; both off: none.
	input(&in, NULL);
	in.in_user_namespace = true;
	spec                 = build(&in);
	assert_null(sysctl(spec, "net.ipv4.ping_group_range"));
	assert_non_null(sysctl(spec, "net.ipv4.ip_unprivileged_port_start"));
	json_decref(spec);
	input(&in, NULL);
	in.enable_unprivileged_ports = false;
	in.enable_unprivileged_icmp  = false;
	spec                         = build(&in);
	assert_null(at(spec, "linux.sysctl"));
	json_decref(spec);

	expect_config_error("{\"linux\":{\"sysctls\":{\"a\":1}}}", PSB_EINVAL,
	        "linux.sysctls.a");
}

static long long
oom(int target, int daemon)
{
	psb_spec_input_t in;
	json_t          *spec;
	long long        v;

	input(&in, NULL);
	in.oom_score_adj        = target;
	in.daemon_oom_score_adj = daemon;
	spec                    = build(&in);
	v                       = int_at(spec, "process.oomScoreAdj");
	json_decref(spec);
	return (v);
}

// Rule 13: max(target, the daemon's own value).
static void
test_oom_clamp(void **state)
{
	psb_spec_input_t in;
	json_t          *spec;

	(void)state;
	assert_int_equal(oom(-998, 0), 0);
	assert_int_equal(oom(-998, -999), -998);
	assert_int_equal(oom(-998, -1000), -998);
	assert_int_equal(oom(-998, 500), 500);
	input(&in, NULL); // the defaults: -998, no clamp
	spec = build(&in);
	assert_int_equal(int_at(spec, "process.oomScoreAdj"), -998);
	json_decref(spec);
}

// Rule 8.
static void
test_selinux(void **state)
{
	static const char *const good[] = {"s0", "s0-s9", "s0:c1",
	        "s0:c1.c1023", "s0-s0:c0.c1023", "s1:c1,c2,c3.c9999"};
	static const char *const bad[]  = {"s", "s10", "s0-s15", "s0:c12345",
	         "s0:", "s0:c1,", "x0", "s0-c1", "s0:c1.c2.c3", "s0 "};
	psb_spec_input_t         in;
	char                     text[256];
	json_t                  *spec;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text),
		        "{\"linux\":{\"security_context\":{\"selinux_"
		        "options\":"
		        "{\"level\":\"%s\"}}}}",
		        good[i]);
		spec = build_text(text);
		assert_null(at(spec, "process.selinuxLabel"));
		json_decref(spec);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
		        "{\"linux\":{\"security_context\":{\"selinux_"
		        "options\":"
		        "{\"level\":\"%s\"}}}}",
		        bad[i]);
		expect_config_error(text, PSB_EINVAL,
		        "linux.security_context.selinux_options.level");
	}

	input(&in,
	        "{\"linux\":{\"security_context\":{\"selinux_options\":"
	        "{\"user\":\"u\",\"type\":\"t_t\",\"level\":\"s0:c1,c2\"}}}}");
	in.selinux_enabled = true;
	spec               = build(&in);
	assert_string_equal(str_at(spec, "process.selinuxLabel"),
	        "u:system_r:t_t:s0:c1,c2");
	assert_string_equal(str_at(spec, "linux.mountLabel"),
	        "u:object_r:container_file_t:s0:c1,c2");
	json_decref(spec);

	input(&in, "{\"linux\":{\"security_context\":{\"privileged\":true}}}");
	in.selinux_enabled = true;
	spec               = build(&in);
	assert_null(at(spec, "process.selinuxLabel"));
	json_decref(spec);
}

// The late User option: run_as_user / run_as_group, else the image's.
static void
test_run_as_user_group(void **state)
{
	psb_spec_input_t in;
	json_t          *spec;

	(void)state;
	spec = build_text("{\"linux\":{\"security_context\":{\"run_as_user\":"
	                  "{\"value\":1000},\"run_as_group\":{\"value\":"
	                  "2000}}}}");
	assert_int_equal(int_at(spec, "process.user.uid"), 1000);
	assert_int_equal(int_at(spec, "process.user.gid"), 2000);
	json_decref(spec);

	input(&in, "{\"linux\":{\"security_context\":{\"run_as_user\":"
	           "{\"value\":1000}}}}");
	in.image.user = "65535:65535"; // run_as_user wins over the image
	spec          = build(&in);
	assert_int_equal(int_at(spec, "process.user.uid"), 1000);
	assert_int_equal(int_at(spec, "process.user.gid"), 0);
	json_decref(spec);

	input(&in, NULL);
	in.image.user = "65535:65534";
	spec          = build(&in);
	assert_int_equal(int_at(spec, "process.user.uid"), 65535);
	assert_int_equal(int_at(spec, "process.user.gid"), 65534);
	json_decref(spec);
	in.image.user = "123";
	spec          = build(&in);
	assert_int_equal(int_at(spec, "process.user.uid"), 123);
	assert_int_equal(int_at(spec, "process.user.gid"), 0);
	json_decref(spec);

	in.image.user = "nobody";
	expect_error(&in, PSB_ENOTSUP, "nobody");
	in.image.user = "1:x";
	expect_error(&in, PSB_ENOTSUP, "1:x");
	expect_config_error("{\"linux\":{\"security_context\":{"
	                    "\"run_as_group\":{\"value\":5}}}}",
	        PSB_EINVAL, "linux.security_context.run_as_group");
	expect_config_error("{\"linux\":{\"security_context\":{"
	                    "\"run_as_user\":{\"value\":-1}}}}",
	        PSB_EINVAL, "linux.security_context.run_as_user.value");
}

// Rule 9.
static void
test_supplemental_groups(void **state)
{
	json_t *spec = build_text(
	        "{\"linux\":{\"security_context\":{\"supplemental_groups\":"
	        "[5,3,5,1,3,4294967295]}}}");
	json_t *g = at(spec, "process.user.additionalGids");

	(void)state;
	assert_int_equal(json_array_size(g), 4);
	assert_int_equal(json_integer_value(json_array_get(g, 0)), 1);
	assert_int_equal(json_integer_value(json_array_get(g, 1)), 3);
	assert_int_equal(json_integer_value(json_array_get(g, 2)), 5);
	assert_int_equal(json_integer_value(json_array_get(g, 3)), 4294967295);
	json_decref(spec);
	expect_config_error("{\"linux\":{\"security_context\":{"
	                    "\"supplemental_groups\":[1,-2]}}}",
	        PSB_EINVAL, "supplemental_groups[1]");
}

static const char *
annotation(json_t *spec, const char *key)
{
	json_t *v = json_object_get(at(spec, "annotations"), key);

	return (v != NULL ? json_string_value(v) : NULL);
}

// Rule 15.
static void
test_default_annotations(void **state)
{
	json_t *spec = build_text(
	        "{\"metadata\":{\"name\":\"nginx\",\"namespace\":\"default\","
	        "\"uid\":\"u-1\",\"attempt\":1},\"log_directory\":"
	        "\"/var/log/pods/x\",\"annotations\":{\"owner\":\"me\"}}");

	(void)state;
	assert_string_equal(
	        annotation(spec, "io.kubernetes.cri.sandbox-id"), ID);
	assert_string_equal(
	        annotation(spec, "io.kubernetes.cri.sandbox-name"), "nginx");
	assert_string_equal(
	        annotation(spec, "io.kubernetes.cri.sandbox-namespace"),
	        "default");
	assert_string_equal(
	        annotation(spec, "io.kubernetes.cri.sandbox-uid"), "u-1");
	assert_string_equal(
	        annotation(spec, "io.kubernetes.cri.sandbox-log-directory"),
	        "/var/log/pods/x");
	assert_string_equal(
	        annotation(spec, "io.kubernetes.cri.container-type"),
	        "sandbox");
	assert_null(annotation(spec, "owner")); // no pattern, no passthrough
	assert_int_equal(json_object_size(at(spec, "annotations")), 6);
	json_decref(spec);
}

// Rule 14: glob passthrough; '*' stops at '/'; defaults still win.
static void
test_passthrough_annotations(void **state)
{
	static const char *const pats[] = {
	        "example.com/*", "owner", "io.kubernetes.cri.sandbox-*"};
	psb_spec_input_t in;
	json_t          *spec;

	(void)state;
	input(&in,
	        "{\"annotations\":{\"example.com/a\":\"1\","
	        "\"example.com/a/b\":\"2\",\"owner\":\"me\",\"other\":\"3\","
	        "\"io.kubernetes.cri.sandbox-id\":\"spoofed\"}}");
	in.annotation_patterns   = pats;
	in.n_annotation_patterns = 3;
	spec                     = build(&in);
	assert_string_equal(annotation(spec, "example.com/a"), "1");
	assert_null(annotation(spec, "example.com/a/b"));
	assert_string_equal(annotation(spec, "owner"), "me");
	assert_null(annotation(spec, "other"));
	assert_string_equal(
	        annotation(spec, "io.kubernetes.cri.sandbox-id"), ID);
	json_decref(spec);
}

#define SECCOMP_TEST PSB_TEST_DATA "/seccomp-test.json"
#define SC_CFG(x)    "{\"linux\":{\"security_context\":{" x "}}}"

// seccomp_text builds config_text for the test profile on host machine
// (kernel 6.1) and returns linux.seccomp as compact JSON (malloc'd),
// or NULL when there is none.
static char *
seccomp_text(const char *config_text, const char *machine)
{
	psb_spec_input_t in;
	json_t          *spec;
	char            *text;

	input(&in, config_text);
	in.seccomp_default_path = SECCOMP_TEST;
	in.host_machine         = machine;
	in.host_kernel_release  = "6.1.0-18-amd64";
	spec                    = build(&in);
	text                    = at(spec, "linux.seccomp") != NULL
	                                  ? json_dumps(at(spec, "linux.seccomp"), JSON_COMPACT)
	                                  : NULL;
	json_decref(spec);
	return (text);
}

// The test profile on x86_64: arches, caps (the pause set has
// CAP_SYS_CHROOT and CAP_AUDIT_WRITE, not CAP_SYS_ADMIN), args, errnoRet,
// minKernel, the older "name"; "comment", "includes", "excludes" and
// "errno" are gone.
#define SC_X86_64                                                         \
	"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,"   \
	"\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\","      \
	"\"SCMP_ARCH_X32\"],\"syscalls\":["                               \
	"{\"names\":[\"read\",\"write\"],\"action\":\"SCMP_ACT_ALLOW\"}," \
	"{\"names\":[\"arch_prctl\"],\"action\":\"SCMP_ACT_ALLOW\"},"     \
	"{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\","     \
	"\"args\":[{\"index\":0,\"value\":8,\"valueTwo\":0,"              \
	"\"op\":\"SCMP_CMP_EQ\"}]},"                                      \
	"{\"names\":[\"chroot\"],\"action\":\"SCMP_ACT_ALLOW\"},"         \
	"{\"names\":[\"bpf\"],\"action\":\"SCMP_ACT_ERRNO\","             \
	"\"errnoRet\":1},"                                                \
	"{\"names\":[\"clone3\"],\"action\":\"SCMP_ACT_ERRNO\","          \
	"\"errnoRet\":38},"                                               \
	"{\"names\":[\"io_uring_setup\"],\"action\":\"SCMP_ACT_ALLOW\"}," \
	"{\"names\":[\"old_style\"],\"action\":\"SCMP_ACT_LOG\"}]}"

static void
assert_seccomp(const char *config_text, const char *machine, const char *want)
{
	char *got = seccomp_text(config_text, machine);

	if (want == NULL) {
		if (got != NULL) {
			fail_msg("unexpected linux.seccomp %s", got);
		}
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

// RuntimeDefault with a test profile: the exact conversion.
static void
test_seccomp_runtime_default(void **state)
{
	psb_spec_input_t in;
	json_t          *spec;
	char            *txt;

	(void)state;
	assert_seccomp(SC_CFG("\"seccomp\":{\"profile_type\":"
	                      "\"RuntimeDefault\"}"),
	        "x86_64", SC_X86_64);
	// proto3 drops profile_type 0: an empty seccomp is RuntimeDefault.
	assert_seccomp(SC_CFG("\"seccomp\":{}"), "x86_64", SC_X86_64);
	assert_seccomp(SC_CFG("\"seccomp\":{\"profile_type\":0}"), "x86_64",
	        SC_X86_64);
	assert_seccomp(SC_CFG("\"seccomp_profile_path\":\"runtime/default\""),
	        "x86_64", SC_X86_64);
	assert_seccomp(SC_CFG("\"seccomp_profile_path\":\"docker/default\""),
	        "x86_64", SC_X86_64);

	// Another host: its archMap entry, its arch rules.
	txt = seccomp_text(SC_CFG("\"seccomp\":{}"), "aarch64");
	assert_non_null(txt);
	assert_non_null(strstr(txt, "\"architectures\":[\"SCMP_ARCH_"
	                            "AARCH64\",\"SCMP_ARCH_ARM\"]"));
	assert_null(strstr(txt, "arch_prctl"));
	assert_non_null(strstr(txt, "clone3"));
	free(txt);
	// No archMap entry: no architectures; excludes.arches drops clone3.
	txt = seccomp_text(SC_CFG("\"seccomp\":{}"), "s390x");
	assert_non_null(txt);
	assert_null(strstr(txt, "architectures"));
	assert_null(strstr(txt, "clone3"));
	free(txt);

	// An older kernel: io_uring_setup (minKernel 5.1) goes.
	input(&in, SC_CFG("\"seccomp\":{}"));
	in.seccomp_default_path = SECCOMP_TEST;
	in.host_machine         = "x86_64";
	in.host_kernel_release  = "4.19.0";
	spec                    = build(&in);
	assert_int_equal(
	        json_array_size(at(spec, "linux.seccomp.syscalls")), 7);
	json_decref(spec);
}

// A profile loaded once (psb_seccomp_profile_load, as the backend does at
// start-up) converts exactly like one read per build, and then no file is
// read: the path may be gone.
static void
test_seccomp_preloaded(void **state)
{
	psb_spec_input_t in;
	psb_error_t      err = PSB_ERROR_INIT;
	json_t          *prof, *spec;
	char            *txt;

	(void)state;
	assert_int_equal(
	        psb_seccomp_profile_load(SECCOMP_TEST, &prof, &err), 0);
	assert_non_null(prof);
	for (int i = 0; i < 2; i++) { // the profile is not used up
		input(&in, SC_CFG("\"seccomp\":{}"));
		in.seccomp_default_path = "/nonexistent/default.json";
		in.seccomp_default      = prof;
		in.host_machine         = "x86_64";
		in.host_kernel_release  = "6.1.0-18-amd64";
		spec                    = build(&in);
		txt = json_dumps(at(spec, "linux.seccomp"), JSON_COMPACT);
		assert_string_equal(txt, SC_X86_64);
		free(txt);
		json_decref(spec);
	}
	json_decref(prof);
	// A missing file: PSB_EINVAL naming it.
	assert_int_equal(
	        psb_seccomp_profile_load("/nonexistent/p.json", &prof, &err),
	        PSB_EINVAL);
	assert_null(prof);
	assert_non_null(
	        strstr(psb_error_message(&err), "/nonexistent/p.json"));
	psb_error_release(&err);
}

// RuntimeDefault with the real default profile of this host.
static void
test_seccomp_default_profile(void **state)
{
	json_t     *spec, *calls, *c, *names, *n;
	size_t      i, j;
	bool        read_ok  = false;
	const char *fields[] = {"comment", "includes", "excludes", "errno"};
	FILE       *f        = fopen(PSB_SECCOMP_DEFAULT_PROFILE, "r");

	(void)state;
	if (f == NULL) {
		skip(); // golang-github-containers-common: install-deps.sh
	}
	fclose(f);
	spec = build_text(SC_CFG("\"seccomp\":{}"));
	assert_string_equal(
	        str_at(spec, "linux.seccomp.defaultAction"), "SCMP_ACT_ERRNO");
#if defined(__x86_64__)
	assert_string_equal(
	        json_string_value(json_array_get(
	                at(spec, "linux.seccomp.architectures"), 0)),
	        "SCMP_ARCH_X86_64");
#endif
	calls = at(spec, "linux.seccomp.syscalls");
	assert_true(json_array_size(calls) > 10);
	json_array_foreach(calls, i, c)
	{
		for (j = 0; j < sizeof(fields) / sizeof(fields[0]); j++) {
			assert_null(json_object_get(c, fields[j]));
		}
		names = json_object_get(c, "names");
		json_array_foreach(names, j, n)
		{
			if (strcmp(json_string_value(n), "read") == 0 &&
			        strcmp(json_string_value(
			                       json_object_get(c, "action")),
			                "SCMP_ACT_ALLOW") == 0) {
				read_ok = true;
			}
		}
	}
	assert_true(read_ok);
	json_decref(spec);
}

// Localhost (and the deprecated localhost/<path>) load that file.
static void
test_seccomp_localhost(void **state)
{
	(void)state;
	assert_seccomp(SC_CFG("\"seccomp\":{\"profile_type\":\"Localhost\","
	                      "\"localhost_ref\":\"" SECCOMP_TEST "\"}"),
	        "x86_64", SC_X86_64);
	assert_seccomp(
	        SC_CFG("\"seccomp\":{\"profile_type\":2,"
	               "\"localhost_ref\":\"localhost/" SECCOMP_TEST "\"}"),
	        "x86_64", SC_X86_64);
	assert_seccomp(
	        SC_CFG("\"seccomp_profile_path\":\"localhost/" SECCOMP_TEST
	               "\""),
	        "x86_64", SC_X86_64);

	expect_config_error(SC_CFG("\"seccomp\":{\"profile_type\":"
	                           "\"Localhost\",\"localhost_ref\":"
	                           "\"/nonexistent/p.json\"}"),
	        PSB_EINVAL,
	        "Localhost seccomp profile \"/nonexistent/p.json\"");
	expect_config_error(
	        SC_CFG("\"seccomp_profile_path\":\"localhost//nonexistent/"
	               "q.json\""),
	        PSB_EINVAL, "\"/nonexistent/q.json\"");
	// Valid JSON, but not a profile.
	expect_config_error(
	        SC_CFG("\"seccomp\":{\"profile_type\":"
	               "\"Localhost\",\"localhost_ref\":\"" PSB_TEST_DATA
	               "/pod-config.json\"}"),
	        PSB_EINVAL, "pod-config.json\": expected an object");
	// Not JSON; not a regular file (a FIFO would block the loop).
	expect_config_error(
	        SC_CFG("\"seccomp_profile_path\":\"localhost/" PSB_TEST_DATA
	               "/../unit/spec_test.c\""),
	        PSB_EINVAL, "spec_test.c\": '[' or '{' expected");
	expect_config_error(
	        SC_CFG("\"seccomp_profile_path\":\"localhost//dev/null\""),
	        PSB_EINVAL, "\"/dev/null\": not a regular file");
	expect_config_error(SC_CFG("\"seccomp\":{\"profile_type\":"
	                           "\"Localhost\",\"localhost_ref\":"
	                           "\"p.json\"}"),
	        PSB_EINVAL, "not an absolute path");
	expect_config_error(SC_CFG("\"seccomp\":{\"profile_type\":"
	                           "\"Localhost\"}"),
	        PSB_EINVAL, "not an absolute path");
}

// No profile: absent, Unconfined, privileged; and the errors.
static void
test_seccomp_none(void **state)
{
	psb_spec_input_t in;

	(void)state;
	assert_seccomp(NULL, "x86_64", NULL);
	assert_seccomp(
	        SC_CFG("\"seccomp_profile_path\":\"\""), "x86_64", NULL);
	assert_seccomp(SC_CFG("\"seccomp\":{\"profile_type\":"
	                      "\"Unconfined\"}"),
	        "x86_64", NULL);
	assert_seccomp(SC_CFG("\"seccomp_profile_path\":\"unconfined\""),
	        "x86_64", NULL);
	// Privileged: no seccomp at all, whatever was asked for.
	assert_seccomp(SC_CFG("\"privileged\":true,\"seccomp\":"
	                      "{\"profile_type\":\"Localhost\","
	                      "\"localhost_ref\":\"/nonexistent\"}"),
	        "x86_64", NULL);
	assert_seccomp(
	        SC_CFG("\"privileged\":true,\"seccomp\":{}"), "x86_64", NULL);

	expect_config_error(SC_CFG("\"seccomp_profile_path\":\"bogus\""),
	        PSB_EINVAL, "invalid profile");
	expect_config_error(SC_CFG("\"seccomp\":{\"localhost_ref\":"
	                           "\"/p.json\"}"),
	        PSB_EINVAL, "localhost_ref");
	// A RuntimeDefault profile that is not there.
	input(&in, SC_CFG("\"seccomp\":{}"));
	in.seccomp_default_path = "/nonexistent/default.json";
	expect_error(&in, PSB_EINVAL,
	        "RuntimeDefault seccomp profile "
	        "\"/nonexistent/default.json\"");
}

// Same input, same bytes; map order in the config does not matter.
static void
test_deterministic(void **state)
{
	static const char *const pats[] = {"*"};
	psb_spec_input_t         in;
	psb_error_t              err = PSB_ERROR_INIT;
	char                    *a = NULL, *b = NULL, *c = NULL;

	(void)state;
	input(&in, "{\"annotations\":{\"z\":\"1\",\"a\":\"2\"},\"linux\":"
	           "{\"sysctls\":{\"net.b\":\"1\",\"kernel.a\":\"2\"}}}");
	in.annotation_patterns   = pats;
	in.n_annotation_patterns = 1;
	assert_int_equal(psb_spec_build(&in, &a, &err), 0);
	assert_int_equal(psb_spec_build(&in, &b, &err), 0);
	assert_string_equal(a, b);
	in.config_text = "{\"linux\":{\"sysctls\":{\"kernel.a\":\"2\","
	                 "\"net.b\":\"1\"}},\"annotations\":{\"a\":\"2\","
	                 "\"z\":\"1\"}}";
	assert_int_equal(psb_spec_build(&in, &c, &err), 0);
	assert_string_equal(a, c);
	// Key order follows the runtime-spec structs.
	assert_memory_equal(a, "{\"ociVersion\":\"1.1.0\",\"process\":", 32);
	free(a);
	free(b);
	free(c);
}

// The config may come as a jansson object; bad input names the field.
static void
test_config_input(void **state)
{
	psb_spec_input_t in;
	json_t          *cfg = json_pack("{s:s}", "hostname", "obj");
	json_t          *spec;

	(void)state;
	input(&in, "{\"hostname\":\"text\"}");
	in.config = cfg; // wins over config_text
	spec      = build(&in);
	assert_string_equal(str_at(spec, "hostname"), "obj");
	json_decref(spec);
	json_decref(cfg);

	expect_config_error("{", PSB_EINVAL, "pod config");
	expect_config_error(
	        "[]", PSB_EINVAL, "pod config: expected an object");
	expect_config_error("{\"linux\":{\"security_context\":[]}}",
	        PSB_EINVAL, "linux.security_context: expected an object");
	expect_config_error("{\"hostname\":5}", PSB_EINVAL, "hostname");
	input(&in, NULL);
	in.sandbox_id = "";
	expect_error(&in, PSB_EINVAL, "sandbox id");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_base_spec),
	        cmocka_unit_test(test_namespaces_default),
	        cmocka_unit_test(test_namespaces_host_network),
	        cmocka_unit_test(test_namespaces_host_pid_ipc),
	        cmocka_unit_test(test_root_and_hostname),
	        cmocka_unit_test(test_args_and_cwd),
	        cmocka_unit_test(test_args_empty_error),
	        cmocka_unit_test(test_env_merge),
	        cmocka_unit_test(test_mounts),
	        cmocka_unit_test(test_cgroups_path),
	        cmocka_unit_test(test_cpu_shares),
	        cmocka_unit_test(test_resource_annotations),
	        cmocka_unit_test(test_sysctls),
	        cmocka_unit_test(test_oom_clamp),
	        cmocka_unit_test(test_selinux),
	        cmocka_unit_test(test_run_as_user_group),
	        cmocka_unit_test(test_supplemental_groups),
	        cmocka_unit_test(test_default_annotations),
	        cmocka_unit_test(test_passthrough_annotations),
	        cmocka_unit_test(test_seccomp_runtime_default),
	        cmocka_unit_test(test_seccomp_preloaded),
	        cmocka_unit_test(test_seccomp_default_profile),
	        cmocka_unit_test(test_seccomp_localhost),
	        cmocka_unit_test(test_seccomp_none),
	        cmocka_unit_test(test_deterministic),
	        cmocka_unit_test(test_config_input),
	};

	return (psb_test_run_group(tests, NULL, NULL));
}
