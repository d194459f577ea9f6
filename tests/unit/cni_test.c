//
// podsandboxd - CNI (runtime/net/cni.h): config lists, ADD and DEL chains
// against fake plugins (small /bin/sh scripts, test doubles of the real
// plugins, which the e2e test runs), and result parsing. A real loop.
//

#include "tests/harness/testing.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "runtime/net/cni.h"

#define WAIT_MS 10000 // for an operation (scaled for sanitizer runs)

typedef struct fx {
	struct ev_loop *loop;
	char            dir[512];
	char            bin[600];
	char            conf[600];
} fx_t;

// What an operation's callback got.
typedef struct done {
	bool  called;
	int   calls;
	int   rc;
	int   code;
	char *result;
	char *msg;
} done_t;

// ---- helpers ---------------------------------------------------------------

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t len = strlen(text);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

// slurp returns the file's text (malloc'd), or NULL if it is missing.
static char *
slurp(const char *path)
{
	FILE  *f = fopen(path, "re");
	char  *buf;
	size_t n;
	long   len;

	if (f == NULL) {
		return (NULL);
	}
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)len + 1);
	assert_non_null(buf);
	n      = fread(buf, 1, (size_t)len, f);
	buf[n] = '\0';
	fclose(f);
	return (buf);
}

static char *
fx_path(const fx_t *f, const char *file)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/%s", f->dir, file) > 0);
	return (p);
}

static char *
fx_slurp(const fx_t *f, const char *file)
{
	char *p = fx_path(f, file);
	char *s = slurp(p);

	free(p);
	return (s);
}

static json_t *
fx_json(const fx_t *f, const char *file)
{
	char   *s = fx_slurp(f, file);
	json_t *j;

	assert_non_null(s);
	j = json_loads(s, 0, NULL);
	free(s);
	assert_non_null(j);
	return (j);
}

// plugin writes bin/<name>: a shell script that knows the test's
// directory as $D (the plugin's environment does not have it).
static void
plugin(const fx_t *f, const char *name, const char *body)
{
	char path[700];
	char text[8192];

	snprintf(path, sizeof(path), "%s/%s", f->bin, name);
	snprintf(text, sizeof(text), "#!/bin/sh\nD='%s'\n%s\n", f->dir, body);
	write_file(path, text, 0755);
}

// A plugin that records its stdin, environment and command, then prints
// a result naming itself with one IP.
static void
recording_plugin(const fx_t *f, const char *name, const char *ip)
{
	char body[2048];

	snprintf(body, sizeof(body),
	        "cat > \"$D/%s.$CNI_COMMAND.in\"\n"
	        "env > \"$D/%s.$CNI_COMMAND.env\"\n"
	        "echo \"%s $CNI_COMMAND\" >> \"$D/log\"\n"
	        "[ \"$CNI_COMMAND\" = DEL ] && exit 0\n"
	        "printf '{\"cniVersion\": \"1.0.0\", \"interfaces\": "
	        "[{\"name\": \"eth0\", \"sandbox\": \"%%s\"}], \"ips\": "
	        "[{\"address\": \"%s/24\", \"interface\": 0}], "
	        "\"by\": \"%s\"}' \"$CNI_NETNS\"\n",
	        name, name, name, ip, name);
	plugin(f, name, body);
}

static psb_cni_net_t *
net_of(const char *text)
{
	psb_cni_net_t *net = NULL;
	psb_error_t    err = PSB_ERROR_INIT;

	if (psb_cni_parse(text, "test", &net, &err) != 0) {
		fail_msg("parse: %s", psb_error_message(&err));
	}
	return (net);
}

static void
done_cb(void *arg, int rc, const char *result, const psb_error_t *err)
{
	done_t *d = arg;

	d->called = true;
	d->calls++;
	d->rc     = rc;
	d->result = result != NULL ? strdup(result) : NULL;
	d->code   = rc != 0 ? err->code : 0;
	d->msg    = rc != 0 ? strdup(psb_error_message(err)) : NULL;
}

static bool
done_pred(void *arg)
{
	return (((done_t *)arg)->called);
}

static void
done_release(done_t *d)
{
	free(d->result);
	free(d->msg);
	memset(d, 0, sizeof(*d));
}

static psb_cni_opts_t
opts_of(const fx_t *f)
{
	psb_cni_opts_t o = {0};

	o.bin_dirs = f->bin;
	return (o);
}

static psb_cni_args_t
args_of(void)
{
	psb_cni_args_t a = {0};

	a.container_id  = "c0ffee";
	a.netns         = "/var/run/netns/cni-test";
	a.pod_namespace = "default";
	a.pod_name      = "web-0";
	a.pod_uid       = "uid-1";
	return (a);
}

// run starts ADD (add) or DEL and runs the loop until its callback.
static void
run(fx_t *f, bool add, const psb_cni_opts_t *o, const char *list,
        const psb_cni_args_t *a, done_t *d)
{
	psb_cni_net_t *net = net_of(list);
	psb_error_t    err = PSB_ERROR_INIT;
	psb_cni_op_t  *op  = NULL;
	int            rc;

	rc = add ? psb_cni_add(f->loop, o, net, a, done_cb, d, &op, &err)
	         : psb_cni_del(f->loop, o, net, a, done_cb, d, &op, &err);
	if (rc != 0) {
		fail_msg("start: %s", psb_error_message(&err));
	}
	assert_non_null(op);
	// The net may go at once: the operation keeps what it needs.
	psb_cni_net_free(net);
	// Never from inside the call.
	assert_false(d->called);
	assert_true(psb_test_run_until(f->loop, done_pred, d, WAIT_MS));
	assert_int_equal(d->calls, 1);
}

// pid_gone: reaped (by us) or never was; a zombie still counts as there.
static bool
pid_gone(pid_t pid)
{
	return (kill(pid, 0) != 0 && errno == ESRCH);
}

// pid_dead: gone, or a zombie of someone else (an orphan whose reaper is
// slow, in a container without a reaping init).
static bool
pid_dead(pid_t pid)
{
	char  path[64];
	char  st[512] = "";
	FILE *f;

	if (pid_gone(pid)) {
		return (true);
	}
	// /proc files have no size: read, not slurp.
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re")) == NULL) {
		return (true);
	}
	if (fgets(st, sizeof(st), f) == NULL) {
		st[0] = '\0';
	}
	fclose(f);
	return (strstr(st, ") Z ") != NULL || strstr(st, ") X ") != NULL);
}

static pid_t
read_pid(const fx_t *f, const char *file)
{
	char *s = fx_slurp(f, file);
	pid_t pid;

	assert_non_null(s);
	pid = (pid_t)atoi(s);
	free(s);
	assert_true(pid > 1);
	return (pid);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6);
}

// ---- fixture ---------------------------------------------------------------

static int
setup(void **state)
{
	fx_t *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s", psb_test_tmpdir("cni"));
	snprintf(f->bin, sizeof(f->bin), "%s/bin", f->dir);
	snprintf(f->conf, sizeof(f->conf), "%s/net.d", f->dir);
	assert_int_equal(mkdir(f->bin, 0755), 0);
	assert_int_equal(mkdir(f->conf, 0755), 0);
	f->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(f->loop);
	*state = f;
	return (0);
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return (0);
}

static int
teardown(void **state)
{
	fx_t *f = *state;

	// Every operation is over and freed its watchers.
	assert_true(psb_test_loop_is_clean(f->loop));
	ev_loop_destroy(f->loop);
	nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return (0);
}

// ---- config lists ----------------------------------------------------------

#define LIST_ALPHA                                                       \
	"{\"cniVersion\": \"1.0.0\", \"name\": \"alpha\", \"plugins\": " \
	"[{\"type\": \"bridge\", \"bridge\": \"cni0\"}, {\"type\": "     \
	"\"portmap\", \"capabilities\": {\"portMappings\": true}}]}"

// The first valid file by name wins; an invalid one before it is skipped
// with a warning that names it and says why.
static void
test_load_first_valid(void **state)
{
	fx_t          *f   = *state;
	psb_cni_net_t *net = NULL;
	psb_error_t    err = PSB_ERROR_INIT;
	char           p[700];
	char          *log;
	char          *logpath = fx_path(f, "warn.log");
	int            fd;

	snprintf(p, sizeof(p), "%s/10-broken.conflist", f->conf);
	write_file(p, "{\"cniVersion\": \"1.0.0\", \"name\": ", 0644);
	snprintf(p, sizeof(p), "%s/15-evil.conflist", f->conf);
	write_file(p,
	        "{\"cniVersion\": \"1.0.0\", \"name\": \"evil\", \"plugins\": "
	        "[{\"type\": \"../../bin/sh\"}]}",
	        0644);
	snprintf(p, sizeof(p), "%s/20-alpha.conflist", f->conf);
	write_file(p, LIST_ALPHA, 0644);
	snprintf(p, sizeof(p), "%s/30-beta.conf", f->conf);
	write_file(p,
	        "{\"cniVersion\": \"0.4.0\", \"name\": \"beta\", \"type\": "
	        "\"ptp\", \"ipam\": {\"type\": \"host-local\"}}",
	        0644);
	snprintf(p, sizeof(p), "%s/00-readme.txt", f->conf);
	write_file(p,
	        "{\"cniVersion\": \"1.0.0\", \"name\": \"txt\", "
	        "\"plugins\": [{\"type\": \"x\"}]}",
	        0644);
	snprintf(p, sizeof(p), "%s/05-dir.conf", f->conf);
	assert_int_equal(mkdir(p, 0755), 0);

	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	psb_log_setup(PSB_LOG_WARN, PSB_LOG_TEXT, fd);
	assert_int_equal(psb_cni_load(f->conf, NULL, &net, &err), 0);
	psb_log_setup(PSB_LOG_WARN, PSB_LOG_TEXT, STDERR_FILENO);
	close(fd);
	assert_string_equal(psb_cni_net_name(net), "alpha");
	assert_string_equal(psb_cni_net_version(net), "1.0.0");
	assert_int_equal(psb_cni_net_plugins(net), 2);
	psb_cni_net_free(net);

	log = slurp(logpath);
	assert_non_null(log);
	assert_non_null(strstr(log, "05-dir.conf"));
	assert_non_null(strstr(log, "not a regular file"));
	assert_non_null(strstr(log, "10-broken.conflist"));
	assert_non_null(strstr(log, "not JSON"));
	assert_non_null(strstr(log, "15-evil.conflist"));
	assert_non_null(strstr(log, "not a plain file name"));
	// Never looked at: not a config file name.
	assert_null(strstr(log, "readme"));
	// Not tried: an earlier file won.
	assert_null(strstr(log, "30-beta"));
	free(log);
	free(logpath);
}

// By name, a single .conf becomes a list of one; its JSON parses back.
static void
test_load_by_name_conf(void **state)
{
	fx_t          *f    = *state;
	psb_cni_net_t *net  = NULL;
	psb_cni_net_t *back = NULL;
	psb_error_t    err  = PSB_ERROR_INIT;
	char           p[700];
	char          *js;
	json_t        *j;

	snprintf(p, sizeof(p), "%s/20-alpha.conflist", f->conf);
	write_file(p, LIST_ALPHA, 0644);
	snprintf(p, sizeof(p), "%s/30-beta.conf", f->conf);
	write_file(p,
	        "{\"cniVersion\": \"0.4.0\", \"name\": \"beta\", \"type\": "
	        "\"ptp\", \"ipam\": {\"type\": \"host-local\"}}",
	        0644);
	assert_int_equal(psb_cni_load(f->conf, "beta", &net, &err), 0);
	assert_string_equal(psb_cni_net_name(net), "beta");
	assert_string_equal(psb_cni_net_version(net), "0.4.0");
	assert_int_equal(psb_cni_net_plugins(net), 1);
	js = psb_cni_net_json(net);
	assert_null(strchr(js, '\n')); // compact
	j = json_loads(js, 0, NULL);
	assert_non_null(j);
	assert_string_equal(
	        json_string_value(json_object_get(j, "name")), "beta");
	assert_string_equal(
	        json_string_value(json_object_get(
	                json_array_get(json_object_get(j, "plugins"), 0),
	                "type")),
	        "ptp");
	json_decref(j);
	assert_int_equal(psb_cni_parse(js, "stored", &back, &err), 0);
	assert_string_equal(psb_cni_net_name(back), "beta");
	assert_string_equal(psb_cni_net_version(back), "0.4.0");
	assert_int_equal(psb_cni_net_plugins(back), 1);
	psb_cni_net_free(back);
	free(js);
	psb_cni_net_free(net);

	// A name nobody has, and a directory with nothing valid.
	assert_int_equal(
	        psb_cni_load(f->conf, "gamma", &net, &err), PSB_ENOENT);
	assert_non_null(strstr(psb_error_message(&err), "\"gamma\""));
	assert_non_null(strstr(psb_error_message(&err), f->conf));
	psb_error_release(&err);
	assert_int_equal(psb_cni_load(f->bin, NULL, &net, &err), PSB_ENOENT);
	assert_non_null(strstr(psb_error_message(&err), f->bin));
	psb_error_release(&err);
	snprintf(p, sizeof(p), "%s/nowhere", f->dir);
	assert_int_equal(psb_cni_load(p, NULL, &net, &err), PSB_ENOENT);
	assert_non_null(strstr(psb_error_message(&err), "nowhere"));
	psb_error_release(&err);
}

static void
parse_fails(const char *text, const char *why)
{
	psb_cni_net_t *net = NULL;
	psb_error_t    err = PSB_ERROR_INIT;

	assert_int_equal(
	        psb_cni_parse(text, "f.conflist", &net, &err), PSB_EINVAL);
	assert_null(net);
	if (strstr(psb_error_message(&err), why) == NULL ||
	        strstr(psb_error_message(&err), "f.conflist") == NULL) {
		fail_msg("%s: got \"%s\", want \"%s\"", text,
		        psb_error_message(&err), why);
	}
	psb_error_release(&err);
}

#define L(plugins)                                                   \
	"{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"plugins\": " \
	"[" plugins "]}"

static void
test_parse_rejects(void **state)
{
	psb_cni_net_t *net = NULL;
	psb_error_t    err = PSB_ERROR_INIT;

	(void)state;
	parse_fails(L("{\"type\": \"\"}"), "no \"type\"");
	parse_fails(L("{\"type\": \"a/b\"}"), "not a plain file name");
	parse_fails(L("{\"type\": \"/bin/sh\"}"), "not a plain file name");
	parse_fails(L("{\"type\": \".\"}"), "not a plain file name");
	parse_fails(L("{\"type\": \"..\"}"), "not a plain file name");
	parse_fails(L("{\"type\": \"ok\"}, {\"type\": 7}"), "plugin 1");
	parse_fails(L("{\"bridge\": \"x\"}"), "no \"type\"");
	parse_fails(L("\"bridge\""), "not an object");
	parse_fails(L(""), "non-empty array");
	parse_fails("{\"cniVersion\": \"1.0.0\", \"name\": \"n\", "
	            "\"plugins\": {}}",
	        "non-empty array");
	parse_fails(
	        "{\"cniVersion\": \"1.0.0\", \"name\": \"n\"}", "no \"type\"");
	parse_fails("{\"cniVersion\": \"0.2.0\", \"name\": \"n\", "
	            "\"type\": \"x\"}",
	        "unsupported cniVersion \"0.2.0\"");
	parse_fails("{\"name\": \"n\", \"type\": \"x\"}", "cniVersion");
	parse_fails("{\"cniVersion\": \"1.0.0\", \"type\": \"x\"}", "name");
	parse_fails("{\"cniVersion\": \"1.0.0\", \"name\": \"a/b\", "
	            "\"type\": \"x\"}",
	        "name");
	parse_fails("[1]", "not a JSON object");
	parse_fails("{", "not JSON");

	// Every version we run; and cniVersions alone picks the highest
	// one we know.
	static const char *const ok[] = {
	        "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char text[256];

		snprintf(text, sizeof(text),
		        "{\"cniVersion\": \"%s\", \"name\": \"n-%zu.x_y\", "
		        "\"type\": \"plain-name_1.2\"}",
		        ok[i], i);
		assert_int_equal(psb_cni_parse(text, NULL, &net, &err), 0);
		assert_string_equal(psb_cni_net_version(net), ok[i]);
		psb_cni_net_free(net);
	}
	assert_int_equal(
	        psb_cni_parse("{\"cniVersions\": [\"0.4.0\", \"9.9.9\", "
	                      "\"1.0.0\", \"0.3.1\"], \"name\": \"n\", "
	                      "\"plugins\": [{\"type\": \"x\"}]}",
	                NULL, &net, &err),
	        0);
	assert_string_equal(psb_cni_net_version(net), "1.0.0");
	psb_cni_net_free(net);
}

// ---- ADD -------------------------------------------------------------------

#define LIST_ABC                                                          \
	"{\"cniVersion\": \"1.0.0\", \"name\": \"chain\", \"plugins\": [" \
	"{\"type\": \"pa\", \"mine\": 1, \"capabilities\": "              \
	"{\"portMappings\": true, \"bandwidth\": false}},"                \
	"{\"type\": \"pb\", \"capabilities\": {\"dns\": true, "           \
	"\"cgroupPath\": "                                                \
	"true, \"ips\": true}, \"runtimeConfig\": {\"kept\": true}},"     \
	"{\"type\": \"pc\"}]}"

#define RTCONF                                                               \
	"{\"portMappings\": [{\"hostPort\": 8080, \"containerPort\": 80, "   \
	"\"protocol\": \"tcp\", \"hostIP\": \"\"}], \"bandwidth\": "         \
	"{\"ingressRate\": 1000}, \"dns\": {\"servers\": [\"10.0.0.10\"]}, " \
	"\"cgroupPath\": \"/kubepods/x\"}"

static void
check_env(const fx_t *f, const char *file, const char *cmd)
{
	char *env = fx_slurp(f, file);
	char  want[1024];

	assert_non_null(env);
	snprintf(want, sizeof(want), "CNI_COMMAND=%s\n", cmd);
	assert_non_null(strstr(env, want));
	assert_non_null(strstr(env, "CNI_CONTAINERID=c0ffee\n"));
	assert_non_null(strstr(env, "CNI_IFNAME=eth0\n"));
	assert_non_null(strstr(env,
	        "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=default;"
	        "K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=c0ffee;"
	        "K8S_POD_UID=uid-1\n"));
	snprintf(want, sizeof(want), "CNI_PATH=%s\n", f->bin);
	assert_non_null(strstr(env, want));
	assert_non_null(strstr(env, "PATH=/usr/local/sbin:/usr/local/bin:"
	                            "/usr/sbin:/usr/bin:/sbin:/bin\n"));
	// Nothing of the daemon's own environment.
	assert_null(strstr(env, "PSB_CNI_TEST_SECRET"));
	assert_null(strstr(env, "HOME="));
	free(env);
}

// ADD chains each result into the next plugin's prevResult, with the
// list's name and cniVersion, the right environment, and only the
// capabilities each plugin enabled.
static void
test_add_chain(void **state)
{
	fx_t          *f = *state;
	psb_cni_opts_t o = opts_of(f);
	psb_cni_args_t a = args_of();
	done_t         d = {0};
	json_t        *in, *prev, *rc, *res;
	char          *log;

	recording_plugin(f, "pa", "10.0.0.1");
	recording_plugin(f, "pb", "10.0.0.2");
	recording_plugin(f, "pc", "10.0.0.3");
	a.runtime_config = RTCONF;
	setenv("PSB_CNI_TEST_SECRET", "1", 1);
	run(f, true, &o, LIST_ABC, &a, &d);
	unsetenv("PSB_CNI_TEST_SECRET");
	if (d.rc != 0) {
		fail_msg("ADD: %s", d.msg);
	}
	log = fx_slurp(f, "log");
	assert_string_equal(log, "pa ADD\npb ADD\npc ADD\n");
	free(log);
	check_env(f, "pa.ADD.env", "ADD");
	check_env(f, "pc.ADD.env", "ADD");

	// The first plugin: its own config, no prevResult, only
	// portMappings (bandwidth is offered but not enabled).
	in = fx_json(f, "pa.ADD.in");
	assert_string_equal(
	        json_string_value(json_object_get(in, "name")), "chain");
	assert_string_equal(
	        json_string_value(json_object_get(in, "cniVersion")), "1.0.0");
	assert_int_equal(json_integer_value(json_object_get(in, "mine")), 1);
	assert_null(json_object_get(in, "prevResult"));
	rc = json_object_get(in, "runtimeConfig");
	assert_int_equal(json_object_size(rc), 1);
	assert_int_equal(
	        json_integer_value(json_object_get(
	                json_array_get(json_object_get(rc, "portMappings"), 0),
	                "hostPort")),
	        8080);
	json_decref(in);

	// The second: pa's result as prevResult; dns and cgroupPath, not
	// "ips" (enabled but not offered), replacing its own runtimeConfig.
	in   = fx_json(f, "pb.ADD.in");
	prev = json_object_get(in, "prevResult");
	assert_string_equal(
	        json_string_value(json_object_get(prev, "by")), "pa");
	assert_string_equal(
	        json_string_value(json_object_get(
	                json_array_get(json_object_get(prev, "interfaces"), 0),
	                "sandbox")),
	        "/var/run/netns/cni-test");
	rc = json_object_get(in, "runtimeConfig");
	assert_int_equal(json_object_size(rc), 2);
	assert_non_null(json_object_get(rc, "dns"));
	assert_string_equal(
	        json_string_value(json_object_get(rc, "cgroupPath")),
	        "/kubepods/x");
	json_decref(in);

	// The third: pb's result, no capabilities, no runtimeConfig.
	in = fx_json(f, "pc.ADD.in");
	assert_string_equal(json_string_value(json_object_get(
	                            json_object_get(in, "prevResult"), "by")),
	        "pb");
	assert_null(json_object_get(in, "runtimeConfig"));
	json_decref(in);

	// The final result is pc's, compact.
	assert_non_null(d.result);
	assert_null(strchr(d.result, '\n'));
	assert_null(strstr(d.result, ", "));
	res = json_loads(d.result, 0, NULL);
	assert_string_equal(
	        json_string_value(json_object_get(res, "by")), "pc");
	json_decref(res);
	done_release(&d);
}

// An ifname of our own, and a stdin larger than a pipe's buffer that the
// plugin reads slowly; and an output larger than a pipe's buffer.
static void
test_add_big_io(void **state)
{
	fx_t          *f   = *state;
	psb_cni_opts_t o   = opts_of(f);
	psb_cni_args_t a   = args_of();
	done_t         d   = {0};
	size_t         big = 300000;
	char          *rt  = malloc(big + 64);
	char          *env, *in;
	json_t        *j;

	assert_non_null(rt);
	memcpy(rt, "{\"cgroupPath\": \"", 16);
	memset(rt + 16, 'x', big);
	memcpy(rt + 16 + big, "\"}", 3);
	plugin(f, "big",
	        "sleep 0.1\n"
	        "cat > \"$D/big.in\"\n"
	        "env > \"$D/big.env\"\n"
	        "printf '{\"cniVersion\": \"1.0.0\", \"pad\": \"'\n"
	        "head -c 200000 /dev/zero | tr '\\0' y\n"
	        "printf '\"}'\n");
	a.ifname         = "net1";
	a.runtime_config = rt;
	run(f, true, &o,
	        "{\"cniVersion\": \"1.0.0\", \"name\": \"b\", \"plugins\": "
	        "[{\"type\": \"big\", \"capabilities\": {\"cgroupPath\": "
	        "true}}]}",
	        &a, &d);
	if (d.rc != 0) {
		fail_msg("ADD: %s", d.msg);
	}
	env = fx_slurp(f, "big.env");
	assert_non_null(strstr(env, "CNI_IFNAME=net1\n"));
	free(env);
	in = fx_slurp(f, "big.in");
	assert_true(strlen(in) > big);
	j = json_loads(in, 0, NULL);
	assert_int_equal(
	        strlen(json_string_value(json_object_get(
	                json_object_get(j, "runtimeConfig"), "cgroupPath"))),
	        big);
	json_decref(j);
	free(in);
	j = json_loads(d.result, 0, NULL);
	assert_int_equal(
	        strlen(json_string_value(json_object_get(j, "pad"))), 200000);
	json_decref(j);
	done_release(&d);
	free(rt);
}

// A plugin that never reads its (large) stdin still succeeds (EPIPE on
// our side is not its failure).
static void
test_add_ignores_stdin(void **state)
{
	fx_t          *f   = *state;
	psb_cni_opts_t o   = opts_of(f);
	psb_cni_args_t a   = args_of();
	done_t         d   = {0};
	size_t         big = 200000;
	char          *rt  = malloc(big + 64);

	assert_non_null(rt);
	memcpy(rt, "{\"dns\": \"", 9);
	memset(rt + 9, 'x', big);
	memcpy(rt + 9 + big, "\"}", 3);
	plugin(f, "deaf", "printf '{\"cniVersion\": \"1.0.0\"}'\n");
	a.runtime_config = rt;
	run(f, true, &o,
	        "{\"cniVersion\": \"1.0.0\", \"name\": \"b\", \"plugins\": "
	        "[{\"type\": \"deaf\", \"capabilities\": {\"dns\": true}}]}",
	        &a, &d);
	if (d.rc != 0) {
		fail_msg("ADD: %s", d.msg);
	}
	assert_string_equal(d.result, "{\"cniVersion\":\"1.0.0\"}");
	done_release(&d);
	free(rt);
}

// A missing plugin stops the ADD after the plugins before it ran, and
// the error names it and the directories.
static void
test_add_missing(void **state)
{
	fx_t          *f = *state;
	psb_cni_opts_t o = opts_of(f);
	psb_cni_args_t a = args_of();
	done_t         d = {0};
	char           want[800];
	char          *log;
	char          *dirs = NULL;

	recording_plugin(f, "pa", "10.0.0.1");
	recording_plugin(f, "pc", "10.0.0.3");
	// Not executable: not a plugin.
	plugin(f, "noexec", "exit 0");
	assert_int_equal(chmod(psb_test_path("bin/noexec"), 0644), 0);
	assert_true(asprintf(&dirs, "%s/none::%s", f->dir, f->bin) > 0);
	o.bin_dirs = dirs;
	run(f, true, &o,
	        "{\"cniVersion\": \"1.0.0\", \"name\": \"m\", \"plugins\": "
	        "[{\"type\": \"pa\"}, {\"type\": \"noexec\"}, {\"type\": "
	        "\"pc\"}]}",
	        &a, &d);
	assert_int_equal(d.rc, PSB_ENOENT);
	snprintf(
	        want, sizeof(want), "plugin \"noexec\" not found in %s", dirs);
	if (strstr(d.msg, want) == NULL || strstr(d.msg, "ADD") == NULL) {
		fail_msg("got \"%s\", want \"%s\"", d.msg, want);
	}
	log = fx_slurp(f, "log");
	assert_string_equal(log, "pa ADD\n");
	free(log);
	done_release(&d);
	free(dirs);
}

// An executable whose interpreter is missing cannot be spawned: the
// error says so, with the path.
static void
test_add_spawn_fails(void **state)
{
	fx_t          *f = *state;
	psb_cni_opts_t o = opts_of(f);
	psb_cni_args_t a = args_of();
	done_t         d = {0};
	char           path[700];

	snprintf(path, sizeof(path), "%s/noshell", f->bin);
	write_file(path, "#!/nonexistent/sh\nexit 0\n", 0755);
	run(f, true, &o,
	        "{\"cniVersion\": \"1.0.0\", \"name\": \"s\", \"plugins\": "
	        "[{\"type\": \"noshell\"}]}",
	        &a, &d);
	assert_int_equal(d.rc, PSB_ERUNTIME);
	if (strstr(d.msg, "plugin \"noshell\" (ADD): spawning ") == NULL ||
	        strstr(d.msg, path) == NULL) {
		fail_msg("got \"%s\"", d.msg);
	}
	done_release(&d);
}

// The first bin dir holding the type wins.
static void
test_add_bin_dir_order(void **state)
{
	fx_t          *f = *state;
	psb_cni_opts_t o = opts_of(f);
	psb_cni_args_t a = args_of();
	done_t         d = {0};
	char           second[700];
	char           path[800];
	char          *dirs = NULL;

	snprintf(second, sizeof(second), "%s/bin2", f->dir);
	assert_int_equal(mkdir(second, 0755), 0);
	snprintf(path, sizeof(path), "%s/which", second);
	write_file(path, "#!/bin/sh\nprintf '{\"from\": 2}'\n", 0755);
	plugin(f, "which", "printf '{\"from\": 1}'");
	assert_true(asprintf(&dirs, "%s:%s", second, f->bin) > 0);
	o.bin_dirs = dirs;
	run(f, true, &o,
	        "{\"cniVersion\": \"1.0.0\", \"name\": \"w\", \"plugins\": "
	        "[{\"type\": \"which\"}]}",
	        &a, &d);
	assert_int_equal(d.rc, 0);
	assert_string_equal(d.result, "{\"from\":2}");
	done_release(&d);
	free(dirs);
}

static void
add_one_fails(fx_t *f, const psb_cni_opts_t *o, const char *body, int code,
        const char *want)
{
	psb_cni_args_t a = args_of();
	done_t         d = {0};

	plugin(f, "bad", body);
	run(f, true, o,
	        "{\"cniVersion\": \"1.0.0\", \"name\": \"x\", \"plugins\": "
	        "[{\"type\": \"bad\"}]}",
	        &a, &d);
	assert_int_equal(d.rc, code);
	assert_int_equal(d.code, code);
	assert_null(d.result);
	if (strstr(d.msg, want) == NULL) {
		fail_msg("got \"%s\", want \"%s\"", d.msg, want);
	}
	done_release(&d);
}

// The ways a plugin fails, each named with the plugin, the command and
// the reason.
static void
test_add_failures(void **state)
{
	fx_t          *f = *state;
	psb_cni_opts_t o = opts_of(f);

	add_one_fails(f, &o,
	        "cat >/dev/null\n"
	        "printf '{\"cniVersion\": \"1.0.0\", \"code\": 11, \"msg\": "
	        "\"no IP\", \"details\": \"pool 10.0.0.0/30 is full\"}'\n"
	        "exit 1",
	        PSB_ERUNTIME,
	        "plugin \"bad\" (ADD) failed: code 11: no IP: pool "
	        "10.0.0.0/30 is full");
	add_one_fails(f, &o,
	        "printf '{\"code\": 7, \"msg\": \"bad config\"}'\nexit 1",
	        PSB_ERUNTIME,
	        "plugin \"bad\" (ADD) failed: code 7: bad config");
	add_one_fails(f, &o, "echo 'iptables: No chain' >&2\nexit 3",
	        PSB_ERUNTIME,
	        "plugin \"bad\" (ADD) failed: exit status 3: iptables: No "
	        "chain\\n");
	add_one_fails(f, &o, "exit 4", PSB_ERUNTIME,
	        "plugin \"bad\" (ADD) failed: exit status 4 (no output)");
	add_one_fails(f, &o, "printf 'hello\\001\\nworld'", PSB_ERUNTIME,
	        "plugin \"bad\" (ADD) printed output that is not JSON: "
	        "hello\\x01\\nworld");
	add_one_fails(f, &o, "printf '[1, 2]'", PSB_ERUNTIME,
	        "plugin \"bad\" (ADD) printed output that is not JSON: [1, "
	        "2]");
	add_one_fails(f, &o, "exit 0", PSB_ERUNTIME,
	        "plugin \"bad\" (ADD) printed no result");
	add_one_fails(f, &o, "kill -USR1 $$\nsleep 5", PSB_ERUNTIME,
	        "plugin \"bad\" (ADD) killed by signal 10 (SIGUSR1)");
	// Only the first 100 bytes of output that is not JSON.
	{
		psb_cni_args_t a = args_of();
		done_t         d = {0};

		plugin(f, "bad", "head -c 5000 /dev/zero | tr '\\0' z");
		run(f, true, &o,
		        "{\"cniVersion\": \"1.0.0\", \"name\": \"x\", "
		        "\"plugins\": [{\"type\": \"bad\"}]}",
		        &a, &d);
		assert_non_null(strstr(d.msg, "zzz..."));
		assert_true(strlen(d.msg) < 250);
		done_release(&d);
	}
}

// Output past the cap kills the plugin at once (not at the deadline).
static void
test_add_output_cap(void **state)
{
	fx_t          *f = *state;
	psb_cni_opts_t o = opts_of(f);
	double         t0;

	o.output_cap = 1000;
	t0           = now_ms();
	add_one_fails(f, &o, "head -c 1001 /dev/zero | tr '\\0' a\nsleep 20",
	        PSB_ERUNTIME,
	        "plugin \"bad\" (ADD) output exceeds 1000 bytes (stdout)");
	add_one_fails(f, &o,
	        "head -c 5000 /dev/zero | tr '\\0' a >&2\nsleep 20",
	        PSB_ERUNTIME,
	        "plugin \"bad\" (ADD) output exceeds 1000 bytes (stderr)");
	assert_true(now_ms() - t0 < 10000);
	// Exactly the cap is fine.
	add_one_fails(f, &o,
	        "printf '{\"p\": \"'\nhead -c 991 /dev/zero | tr '\\0' a\n"
	        "printf '\"}'\nexit 9",
	        PSB_ERUNTIME, "exit status 9");
}

// A plugin that hangs is killed at its deadline with what it spawned, and
// reaped; the error says so.
static void
test_add_timeout(void **state)
{
	fx_t          *f = *state;
	psb_cni_opts_t o = opts_of(f);
	double         t0, took;
	pid_t          sh, child;

	o.timeout_ms = 300;
	t0           = now_ms();
	add_one_fails(f, &o,
	        "echo $$ > \"$D/hang.pid\"\n"
	        "sleep 30 &\n"
	        "echo $! > \"$D/child.pid\"\n"
	        "wait",
	        PSB_ETIMEDOUT, "plugin \"bad\" (ADD) timed out after 300 ms");
	took = now_ms() - t0;
	assert_true(took >= 290);
	assert_true(took < 5000.0 * psb_test_timeout_multiplier());
	sh    = read_pid(f, "hang.pid");
	child = read_pid(f, "child.pid");
	assert_true(pid_gone(sh)); // reaped by us
	// Its child was in its process group: killed too (someone else's
	// to reap).
	for (int i = 0; i < 100 && !pid_dead(child); i++) {
		usleep(10000);
	}
	assert_true(pid_dead(child));
}

// ---- DEL -------------------------------------------------------------------

// DEL runs the plugins in reverse, each with the stored result as
// prevResult, goes on past a failing one, and reports the first failure.
static void
test_del_reverse(void **state)
{
	fx_t          *f = *state;
	psb_cni_opts_t o = opts_of(f);
	psb_cni_args_t a = args_of();
	done_t         d = {0};
	char          *log;
	json_t        *in;
	const char *prev = "{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":"
	                   "\"10.0.0.9/24\"}],\"by\":\"stored\"}";

	recording_plugin(f, "pa", "10.0.0.1");
	recording_plugin(f, "pc", "10.0.0.3");
	a.netns       = ""; // gone already
	a.prev_result = prev;
	// All succeed.
	recording_plugin(f, "pb", "10.0.0.2");
	run(f, false, &o, LIST_ABC, &a, &d);
	if (d.rc != 0) {
		fail_msg("DEL: %s", d.msg);
	}
	assert_null(d.result);
	log = fx_slurp(f, "log");
	assert_string_equal(log, "pc DEL\npb DEL\npa DEL\n");
	free(log);
	check_env(f, "pb.DEL.env", "DEL");
	log = fx_slurp(f, "pb.DEL.env");
	assert_non_null(strstr(log, "CNI_NETNS=\n"));
	free(log);
	for (int i = 0; i < 3; i++) {
		char file[32];

		snprintf(file, sizeof(file), "p%c.DEL.in", "abc"[i]);
		in = fx_json(f, file);
		assert_string_equal(
		        json_string_value(json_object_get(
		                json_object_get(in, "prevResult"), "by")),
		        "stored");
		json_decref(in);
	}
	done_release(&d);

	// pb fails, pa and pc still run; a missing plugin (pz) too.
	assert_int_equal(unlink(psb_test_path("log")), 0);
	plugin(f, "pb",
	        "echo \"pb $CNI_COMMAND\" >> \"$D/log\"\n"
	        "echo 'cannot remove veth' >&2\nexit 2");
	run(f, false, &o,
	        "{\"cniVersion\": \"1.0.0\", \"name\": \"chain\", "
	        "\"plugins\": "
	        "[{\"type\": \"pa\"}, {\"type\": \"pz\"}, {\"type\": \"pb\"}, "
	        "{\"type\": \"pc\"}]}",
	        &a, &d);
	assert_int_equal(d.rc, PSB_ERUNTIME);
	assert_non_null(strstr(d.msg, "plugin \"pb\" (DEL) failed: exit "
	                              "status 2: cannot remove veth"));
	log = fx_slurp(f, "log");
	assert_string_equal(log, "pc DEL\npb DEL\npa DEL\n");
	free(log);
	done_release(&d);

	// Only the missing one fails: it is reported, the others ran.
	assert_int_equal(unlink(psb_test_path("log")), 0);
	run(f, false, &o,
	        "{\"cniVersion\": \"1.0.0\", \"name\": \"chain\", "
	        "\"plugins\": "
	        "[{\"type\": \"pa\"}, {\"type\": \"pz\"}, {\"type\": "
	        "\"pc\"}]}",
	        &a, &d);
	assert_int_equal(d.rc, PSB_ENOENT);
	assert_non_null(strstr(d.msg, "plugin \"pz\" not found in"));
	assert_non_null(strstr(d.msg, "DEL"));
	log = fx_slurp(f, "log");
	assert_string_equal(log, "pc DEL\npa DEL\n");
	free(log);
	done_release(&d);
}

// A 0.3.x list has no prevResult on DEL; a stored result that is not JSON
// is left out rather than stopping the DEL.
static void
test_del_prev_result_rules(void **state)
{
	fx_t          *f = *state;
	psb_cni_opts_t o = opts_of(f);
	psb_cni_args_t a = args_of();
	done_t         d = {0};
	json_t        *in;

	recording_plugin(f, "pa", "10.0.0.1");
	a.prev_result = "{\"cniVersion\": \"0.3.1\"}";
	run(f, false, &o,
	        "{\"cniVersion\": \"0.3.1\", \"name\": \"old\", \"plugins\": "
	        "[{\"type\": \"pa\"}]}",
	        &a, &d);
	assert_int_equal(d.rc, 0);
	in = fx_json(f, "pa.DEL.in");
	assert_null(json_object_get(in, "prevResult"));
	assert_string_equal(
	        json_string_value(json_object_get(in, "cniVersion")), "0.3.1");
	json_decref(in);
	done_release(&d);

	a.prev_result = "not json";
	run(f, false, &o,
	        "{\"cniVersion\": \"0.4.0\", \"name\": \"new\", \"plugins\": "
	        "[{\"type\": \"pa\"}]}",
	        &a, &d);
	assert_int_equal(d.rc, 0);
	in = fx_json(f, "pa.DEL.in");
	assert_null(json_object_get(in, "prevResult"));
	assert_string_equal(
	        json_string_value(json_object_get(in, "name")), "new");
	json_decref(in);
	done_release(&d);
}

// ---- refusals and cancel ---------------------------------------------------

static void
test_refused(void **state)
{
	fx_t          *f   = *state;
	psb_cni_opts_t o   = opts_of(f);
	psb_cni_net_t *net = net_of(LIST_ALPHA);
	psb_cni_args_t a;
	psb_error_t    err = PSB_ERROR_INIT;
	done_t         d   = {0};
	psb_cni_op_t  *op  = NULL;

	a       = args_of();
	a.netns = "";
	assert_int_equal(
	        psb_cni_add(f->loop, &o, net, &a, done_cb, &d, &op, &err),
	        PSB_EINVAL);
	assert_non_null(strstr(psb_error_message(&err), "namespace"));
	psb_error_release(&err);
	a                = args_of();
	a.runtime_config = "[1]";
	assert_int_equal(
	        psb_cni_add(f->loop, &o, net, &a, done_cb, &d, &op, &err),
	        PSB_EINVAL);
	assert_non_null(strstr(psb_error_message(&err), "runtime_config"));
	psb_error_release(&err);
	a          = args_of();
	a.pod_name = "web;K8S_POD_NAMESPACE=kube-system";
	assert_int_equal(
	        psb_cni_del(f->loop, &o, net, &a, done_cb, &d, &op, &err),
	        PSB_EINVAL);
	assert_non_null(strstr(psb_error_message(&err), "CNI_ARGS"));
	psb_error_release(&err);
	a              = args_of();
	a.container_id = NULL;
	assert_int_equal(
	        psb_cni_del(f->loop, &o, net, &a, done_cb, &d, &op, &err),
	        PSB_EINVAL);
	psb_error_release(&err);
	a          = args_of();
	o.bin_dirs = "";
	assert_int_equal(
	        psb_cni_add(f->loop, &o, net, &a, done_cb, &d, &op, &err),
	        PSB_EINVAL);
	psb_error_release(&err);
	assert_null(op);
	psb_test_run_for(f->loop, 50);
	assert_false(d.called);
	psb_cni_net_free(net);
}

static bool
file_exists(void *arg)
{
	return (access(arg, F_OK) == 0);
}

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

// run_until_file runs the loop until path exists: a ticking timer wakes
// it up to look (a file appearing is no event of the loop's).
static bool
run_until_file(struct ev_loop *loop, const char *path)
{
	ev_timer tick;
	bool     ok;

	ev_timer_init(&tick, tick_cb, 0.01, 0.01);
	ev_timer_start(loop, &tick);
	ok = psb_test_run_until(loop, file_exists, (void *)path, WAIT_MS);
	ev_timer_stop(loop, &tick);
	return (ok);
}

// A cancel mid-exec kills and reaps the plugin; no callback, no leak.
static void
test_cancel(void **state)
{
	fx_t          *f       = *state;
	psb_cni_opts_t o       = opts_of(f);
	psb_cni_args_t a       = args_of();
	psb_cni_net_t *net     = NULL;
	psb_error_t    err     = PSB_ERROR_INIT;
	done_t         d       = {0};
	psb_cni_op_t  *op      = NULL;
	char          *pidfile = fx_path(f, "slow.pid");
	pid_t          pid;

	recording_plugin(f, "pa", "10.0.0.1");
	plugin(f, "slow",
	        "cat > /dev/null\n"
	        "echo $$ > \"$D/slow.pid.tmp\"\n"
	        "mv \"$D/slow.pid.tmp\" \"$D/slow.pid\"\n"
	        "sleep 30\n");
	net = net_of("{\"cniVersion\": \"1.0.0\", \"name\": \"c\", "
	             "\"plugins\": [{\"type\": \"pa\"}, {\"type\": \"slow\"}, "
	             "{\"type\": \"pa\"}]}");
	assert_int_equal(
	        psb_cni_add(f->loop, &o, net, &a, done_cb, &d, &op, &err), 0);
	psb_cni_net_free(net);
	assert_true(run_until_file(f->loop, pidfile));
	pid = read_pid(f, "slow.pid");
	assert_false(pid_gone(pid));
	psb_cni_cancel(op);
	assert_false(d.called);
	// The loop reaps it (teardown checks the loop is clean too).
	assert_true(psb_test_loop_is_clean(f->loop));
	assert_true(pid_gone(pid));
	assert_false(d.called);
	free(pidfile);

	// Cancelled before the first plugin started: nothing runs.
	net = net_of("{\"cniVersion\": \"1.0.0\", \"name\": \"c\", "
	             "\"plugins\": [{\"type\": \"pa\"}]}");
	assert_int_equal(
	        psb_cni_del(f->loop, &o, net, &a, done_cb, &d, &op, &err), 0);
	psb_cni_net_free(net);
	psb_cni_cancel(op);
	psb_test_run_for(f->loop, 50);
	assert_false(d.called);
	assert_int_equal(access(psb_test_path("pa.DEL.in"), F_OK), -1);
	psb_cni_cancel(NULL);
}

// ---- results ---------------------------------------------------------------

static void
test_result_ips(void **state)
{
	// 1.0.0: the host bridge and the host veth have no sandbox; eth1 is
	// a second pod interface.
	const char *r100 =
	        "{\"cniVersion\": \"1.0.0\", \"interfaces\": ["
	        "{\"name\": \"cni0\", \"mac\": \"aa:bb:cc:dd:ee:01\"},"
	        "{\"name\": \"veth1\", \"mac\": \"aa:bb:cc:dd:ee:02\"},"
	        "{\"name\": \"eth0\", \"sandbox\": \"/var/run/netns/p\"},"
	        "{\"name\": \"eth1\", \"sandbox\": \"/var/run/netns/p\"},"
	        "{\"name\": \"eth0\", \"sandbox\": \"\"}],"
	        "\"ips\": ["
	        "{\"address\": \"fd00:10::5/64\", \"interface\": 2},"
	        "{\"address\": \"10.88.0.5/16\", \"gateway\": \"10.88.0.1\", "
	        "\"interface\": 2},"
	        "{\"address\": \"10.88.0.1/16\", \"interface\": 0},"
	        "{\"address\": \"10.99.0.5/16\", \"interface\": 3},"
	        "{\"address\": \"10.77.0.5/16\", \"interface\": 4},"
	        "{\"address\": \"10.66.0.5/16\", \"interface\": 9},"
	        "{\"address\": \"10.88.0.6/16\", \"interface\": 2}]}";
	// 0.4.0: versions, no interfaces at all.
	const char *r040 = "{\"cniVersion\": \"0.4.0\", \"ips\": ["
	                   "{\"version\": \"6\", \"address\": "
	                   "\"2001:db8::2/64\"},"
	                   "{\"version\": \"4\", \"address\": "
	                   "\"192.168.1.2/24\", \"gateway\": \"192.168.1.1\"},"
	                   "{\"version\": \"4\", \"address\": \"bogus/24\"}]}";
	char      **ips  = NULL;
	int         n;

	(void)state;
	n = psb_cni_result_ips(r100, NULL, &ips);
	assert_int_equal(n, 3);
	assert_string_equal(ips[0], "10.88.0.5");
	assert_string_equal(ips[1], "10.88.0.6");
	assert_string_equal(ips[2], "fd00:10::5");
	psb_cni_ips_free(ips, n);
	n = psb_cni_result_ips(r100, "eth1", &ips);
	assert_int_equal(n, 1);
	assert_string_equal(ips[0], "10.99.0.5");
	psb_cni_ips_free(ips, n);
	n = psb_cni_result_ips(r100, "cni0", &ips);
	assert_int_equal(n, 0); // no sandbox: the host's
	assert_null(ips);

	n = psb_cni_result_ips(r040, "eth0", &ips);
	assert_int_equal(n, 2);
	assert_string_equal(ips[0], "192.168.1.2");
	assert_string_equal(ips[1], "2001:db8::2");
	psb_cni_ips_free(ips, n);

	assert_int_equal(psb_cni_result_ips("{}", NULL, &ips), 0);
	assert_null(ips);
	assert_int_equal(psb_cni_result_ips("{\"ips\": [", NULL, &ips), -1);
	assert_null(ips);
	assert_int_equal(psb_cni_result_ips("[]", NULL, &ips), -1);
	assert_int_equal(psb_cni_result_ips(NULL, NULL, &ips), -1);
	psb_cni_ips_free(NULL, 0);
}

// An ADD's own result feeds psb_cni_result_ips: the sandbox is the netns.
static void
test_add_result_ips(void **state)
{
	fx_t          *f = *state;
	psb_cni_opts_t o = opts_of(f);
	psb_cni_args_t a = args_of();
	done_t         d = {0};
	char         **ips;

	recording_plugin(f, "pa", "10.1.2.3");
	run(f, true, &o,
	        "{\"cniVersion\": \"1.0.0\", \"name\": \"r\", \"plugins\": "
	        "[{\"type\": \"pa\"}]}",
	        &a, &d);
	assert_int_equal(d.rc, 0);
	assert_int_equal(psb_cni_result_ips(d.result, "eth0", &ips), 1);
	assert_string_equal(ips[0], "10.1.2.3");
	psb_cni_ips_free(ips, 1);
	done_release(&d);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	        T(test_load_first_valid),
	        T(test_load_by_name_conf),
	        cmocka_unit_test(test_parse_rejects),
	        T(test_add_chain),
	        T(test_add_big_io),
	        T(test_add_ignores_stdin),
	        T(test_add_missing),
	        T(test_add_spawn_fails),
	        T(test_add_bin_dir_order),
	        T(test_add_failures),
	        T(test_add_output_cap),
	        T(test_add_timeout),
	        T(test_del_reverse),
	        T(test_del_prev_result_rules),
	        T(test_refused),
	        T(test_cancel),
	        cmocka_unit_test(test_result_ips),
	        T(test_add_result_ips),
	};
#undef T

	// As the daemon (core/main.c): a plugin that does not read its
	// stdin must not kill us.
	signal(SIGPIPE, SIG_IGN);
	return (psb_test_run_group(tests, NULL, NULL));
}
