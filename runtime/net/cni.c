//
// podsandboxd - CNI: network config lists and results (see cni.h).
//

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/json.h"
#include "base/log.h"
#include "runtime/net/cni_int.h"

// The spec versions we run, oldest first (cniVersions picks the last
// known one a list names).
static const char *const cni_versions[] = {
        "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};

#define CNI_VERSIONS_TEXT "0.3.0 0.3.1 0.4.0 1.0.0 1.1.0"

static const char *const cni_conf_exts[] = {".conflist", ".conf", ".json"};

// ---- messages --------------------------------------------------------------

char *
cni_excerpt(const char *p, size_t len, size_t max)
{
	size_t n   = len < max ? len : max;
	char  *buf = xmalloc(n * 4 + 4); // "\xNN" per byte, "..." and NUL
	size_t o   = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\n' || c == '\t' || c == '\r' || c == '"' ||
		        c == '\\') {
			buf[o++] = '\\';
			buf[o++] = c == '\n'   ? 'n'
			           : c == '\t' ? 't'
			           : c == '\r' ? 'r'
			                       : (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(buf + o, 5, "\\x%02x", c);
		} else {
			buf[o++] = (char)c;
		}
	}
	if (len > max) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return (buf);
}

// ---- parsing ---------------------------------------------------------------

// cni_version_index is v's place in cni_versions, -1 if unknown or NULL.
static int
cni_version_index(const char *v)
{
	for (size_t i = 0; v != NULL && i < PSB_NELEM(cni_versions); i++) {
		if (strcmp(v, cni_versions[i]) == 0) {
			return ((int)i);
		}
	}
	return (-1);
}

// cni_name_valid: the spec's network name, [a-zA-Z0-9][a-zA-Z0-9_.-]*.
// Callers use it in file names (a result cache), so nothing else passes.
static bool
cni_name_valid(const char *s)
{
	if (s == NULL || s[0] == '\0' || s[0] == '.' || s[0] == '_' ||
	        s[0] == '-') {
		return (false);
	}
	return (strspn(s, "abcdefghijklmnopqrstuvwxyz"
	                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
	        strlen(s));
}

// cni_string is v's string if it is one without an embedded NUL.
static const char *
cni_string(const json_t *v)
{
	const char *s = json_string_value(v);

	if (s == NULL || strlen(s) != json_string_length(v)) {
		return (NULL);
	}
	return (s);
}

// cni_pick_version reads the list's cniVersion, or else the highest known
// entry of its cniVersions (spec 1.1.0).
static const char *
cni_pick_version(const json_t *root, const char *origin, psb_error_t *err)
{
	const json_t *v    = json_object_get(root, "cniVersion");
	const json_t *vs   = json_object_get(root, "cniVersions");
	int           best = -1;
	size_t        i;
	json_t       *e;

	if (v == NULL && json_is_array(vs)) {
		json_array_foreach(vs, i, e)
		{
			int k = cni_version_index(cni_string(e));

			best = k > best ? k : best;
		}
		if (best < 0) {
			psb_error_make(err, PSB_EINVAL,
			        "%s: no supported version in \"cniVersions\" "
			        "(supported: " CNI_VERSIONS_TEXT ")",
			        origin);
			return (NULL);
		}
		return (cni_versions[best]);
	}
	if (cni_string(v) == NULL) {
		psb_error_make(err, PSB_EINVAL,
		        "%s: \"cniVersion\" is missing or not a string",
		        origin);
		return (NULL);
	}
	if (cni_version_index(cni_string(v)) < 0) {
		_cleanup_free_ char *t =
		        cni_excerpt(cni_string(v), strlen(cni_string(v)), 40);

		psb_error_make(err, PSB_EINVAL,
		        "%s: unsupported cniVersion \"%s\" "
		        "(supported: " CNI_VERSIONS_TEXT ")",
		        origin, t);
		return (NULL);
	}
	return (cni_string(v));
}

// cni_check_plugin checks plugin number i of the list.
static int
cni_check_plugin(
        const json_t *p, size_t i, const char *origin, psb_error_t *err)
{
	const char *type = cni_string(json_object_get(p, "type"));

	if (!json_is_object(p)) {
		return (psb_error_make(err, PSB_EINVAL,
		        "%s: plugin %zu is not an object", origin, i));
	}
	if (type == NULL || type[0] == '\0') {
		return (psb_error_make(err, PSB_EINVAL,
		        "%s: plugin %zu has no \"type\" string", origin, i));
	}
	// The type is looked up as a file in the bin dirs: never a path.
	if (strchr(type, '/') != NULL || strcmp(type, ".") == 0 ||
	        strcmp(type, "..") == 0) {
		_cleanup_free_ char *t = cni_excerpt(type, strlen(type), 100);

		return (psb_error_make(err, PSB_EINVAL,
		        "%s: plugin %zu: type \"%s\" is not a plain file name",
		        origin, i, t));
	}
	return (0);
}

int
psb_cni_parse(const char *text, const char *origin, psb_cni_net_t **out,
        psb_error_t *err)
{
	json_error_t   jerr;
	json_t        *root = json_loads(text, 0, &jerr);
	json_t        *list = NULL;
	const json_t  *plugins;
	const char    *name;
	const char    *version;
	size_t         i;
	json_t        *p;
	psb_cni_net_t *net;

	if (origin == NULL) {
		origin = "network config";
	}
	if (root == NULL) {
		return (psb_error_make(err, PSB_EINVAL,
		        "%s: not JSON: line %d: %s", origin, jerr.line,
		        jerr.text));
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return (psb_error_make(
		        err, PSB_EINVAL, "%s: not a JSON object", origin));
	}
	name = cni_string(json_object_get(root, "name"));
	if (!cni_name_valid(name)) {
		json_decref(root);
		return (psb_error_make(err, PSB_EINVAL,
		        "%s: \"name\" is missing or not of the form "
		        "[a-zA-Z0-9][a-zA-Z0-9_.-]*",
		        origin));
	}
	if ((version = cni_pick_version(root, origin, err)) == NULL) {
		json_decref(root);
		return (PSB_EINVAL);
	}
	if (json_object_get(root, "plugins") != NULL) {
		list = json_incref(root);
	} else {
		// A single plugin config: the list of one that libcni's
		// ConfListFromConf makes of it.
		list = json_object();
		psb_json_set(list, "cniVersion", json_string(version));
		psb_json_set(list, "name", json_string(name));
		p = json_array();
		psb_json_append(p, json_incref(root));
		psb_json_set(list, "plugins", p);
	}
	plugins = json_object_get(list, "plugins");
	if (!json_is_array(plugins) || json_array_size(plugins) == 0) {
		json_decref(list);
		json_decref(root);
		return (psb_error_make(err, PSB_EINVAL,
		        "%s: \"plugins\" is not a non-empty array", origin));
	}
	json_array_foreach(plugins, i, p)
	{
		if (cni_check_plugin(p, i, origin, err) != 0) {
			json_decref(list);
			json_decref(root);
			return (PSB_EINVAL);
		}
	}
	net          = xcalloc(1, sizeof(*net));
	net->list    = list;
	net->name    = xstrdup(name);
	net->version = xstrdup(version);
	json_decref(root);
	*out = net;
	return (0);
}

const char *
psb_cni_net_name(const psb_cni_net_t *net)
{
	return (net->name);
}

const char *
psb_cni_net_version(const psb_cni_net_t *net)
{
	return (net->version);
}

size_t
psb_cni_net_plugins(const psb_cni_net_t *net)
{
	return (json_array_size(json_object_get(net->list, "plugins")));
}

char *
psb_cni_net_json(const psb_cni_net_t *net)
{
	// jansson allocates with malloc, or with what the daemon gave it
	// (xmalloc/free): free() releases it either way.
	char *s = json_dumps(net->list, JSON_COMPACT);

	if (s == NULL) {
		psb_oom(); // a checked list dumps unless memory runs out
	}
	return (s);
}

void
psb_cni_net_free(psb_cni_net_t *net)
{
	if (net == NULL) {
		return;
	}
	json_decref(net->list);
	free(net->name);
	free(net->version);
	free(net);
}

// ---- loading a directory ---------------------------------------------------

static bool
cni_conf_file(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < PSB_NELEM(cni_conf_exts); i++) {
		size_t e = strlen(cni_conf_exts[i]);

		if (n > e && strcmp(name + n - e, cni_conf_exts[i]) == 0) {
			return (true);
		}
	}
	return (false);
}

static int
cni_strcmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

// cni_read_file reads path (at most PSB_CNI_CONF_MAX bytes) into a
// malloc'd NUL-terminated string.
static int
cni_read_file(const char *path, char **text, psb_error_t *err)
{
	_cleanup_close_ int  fd  = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t               len = 0;
	struct stat          st;

	if (fd < 0) {
		return (psb_error_sys(err, PSB_EINVAL, errno, "reading"));
	}
	if (fstat(fd, &st) != 0) {
		return (psb_error_sys(err, PSB_EINVAL, errno, "reading"));
	}
	if (!S_ISREG(st.st_mode)) {
		return (psb_error_make(err, PSB_EINVAL, "not a regular file"));
	}
	buf = xmalloc(PSB_CNI_CONF_MAX + 1);
	for (;;) {
		ssize_t n = read(fd, buf + len, PSB_CNI_CONF_MAX + 1 - len);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return (psb_error_sys(
			        err, PSB_EINVAL, errno, "reading"));
		}
		if (n == 0) {
			break;
		}
		len += (size_t)n;
		if (len > PSB_CNI_CONF_MAX) {
			return (psb_error_make(err, PSB_EINVAL,
			        "larger than %u bytes", PSB_CNI_CONF_MAX));
		}
	}
	buf[len] = '\0';
	if (strlen(buf) != len) {
		return (psb_error_make(err, PSB_EINVAL, "holds a NUL byte"));
	}
	*text = TAKE_PTR(buf);
	return (0);
}

// cni_try_file loads dir/file as a network; NULL with a warning if it is
// not a valid one (the first such reason kept in *why, for the error when
// no file is valid), or (quietly) not the one called name.
static psb_cni_net_t *
cni_try_file(const char *dir, const char *file, const char *name, char **why)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, file);
	_cleanup_free_ char *text = NULL;
	psb_error_t          e    = PSB_ERROR_INIT;
	psb_cni_net_t       *net  = NULL;

	if (cni_read_file(path, &text, &e) != 0) {
		psb_error_wrap(&e, "%s", path);
	} else {
		psb_cni_parse(text, path, &net, &e);
	}
	if (net == NULL) {
		psb_log(PSB_LOG_WARN, "cni: skipping %s: %s", path,
		        psb_error_message(&e));
		if (*why == NULL) {
			*why = xstrdup(psb_error_message(&e));
		}
		psb_error_release(&e);
		return (NULL);
	}
	if (name != NULL && strcmp(net->name, name) != 0) {
		psb_cni_net_free(net);
		return (NULL);
	}
	return (net);
}

int
psb_cni_load(const char *conf_dir, const char *name, psb_cni_net_t **out,
        psb_error_t *err)
{
	DIR                 *d = opendir(conf_dir);
	struct dirent       *de;
	char               **files = NULL;
	size_t               n = 0, cap = 0;
	psb_cni_net_t       *net = NULL;
	_cleanup_free_ char *why = NULL;

	if (d == NULL) {
		return (psb_error_sys(err, PSB_ENOENT, errno,
		        "no CNI network: reading %s", conf_dir));
	}
	while ((de = readdir(d)) != NULL) {
		if (!cni_conf_file(de->d_name)) {
			continue;
		}
		if (n == cap) {
			cap   = cap == 0 ? 8 : cap * 2;
			files = xrealloc(files, cap * sizeof(*files));
		}
		files[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 0) {
		qsort(files, n, sizeof(*files), cni_strcmp);
	}
	for (size_t i = 0; i < n; i++) {
		if (net == NULL) {
			net = cni_try_file(conf_dir, files[i], name, &why);
		}
		free(files[i]);
	}
	free(files);
	if (net == NULL) {
		if (name != NULL) {
			return (psb_error_make(err, PSB_ENOENT,
			        "no valid CNI network named \"%s\" in %s%s%s",
			        name, conf_dir, why ? "; skipped " : "",
			        why ? why : ""));
		}
		return (psb_error_make(err, PSB_ENOENT,
		        "no valid CNI network config (*.conflist, *.conf, "
		        "*.json) in %s%s%s",
		        conf_dir, why ? "; skipped " : "", why ? why : ""));
	}
	psb_log(PSB_LOG_DEBUG, "cni: network \"%s\" (cniVersion %s) from %s",
	        net->name, net->version, conf_dir);
	*out = net;
	return (0);
}

// ---- results ---------------------------------------------------------------

// cni_ip_is_pods tells whether the "ips" entry ip belongs to the pod's
// interface ifname.
static bool
cni_ip_is_pods(const json_t *ip, const json_t *ifaces, const char *ifname)
{
	const json_t *idx = json_object_get(ip, "interface");
	const json_t *iface;
	const char   *sandbox;
	const char   *name;

	if (json_array_size(ifaces) == 0 || idx == NULL) {
		return (true);
	}
	if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
	        (size_t)json_integer_value(idx) >= json_array_size(ifaces)) {
		return (false);
	}
	iface   = json_array_get(ifaces, (size_t)json_integer_value(idx));
	name    = json_string_value(json_object_get(iface, "name"));
	sandbox = json_string_value(json_object_get(iface, "sandbox"));
	return (name != NULL && strcmp(name, ifname) == 0 && sandbox != NULL &&
	        sandbox[0] != '\0');
}

int
psb_cni_result_ips(const char *result, const char *ifname, char ***ips)
{
	json_t       *root = json_loads(result != NULL ? result : "", 0, NULL);
	const json_t *ifaces;
	json_t       *ip;
	size_t        i;
	char        **v4 = NULL, **v6 = NULL;
	int           n4 = 0, n6 = 0;

	*ips = NULL;
	if (!json_is_object(root)) {
		json_decref(root);
		return (-1);
	}
	if (ifname == NULL) {
		ifname = PSB_CNI_IFNAME;
	}
	ifaces = json_object_get(root, "interfaces");
	v4     = xcalloc(json_array_size(json_object_get(root, "ips")) + 1,
	            sizeof(*v4));
	v6     = xcalloc(json_array_size(json_object_get(root, "ips")) + 1,
	            sizeof(*v6));
	json_array_foreach(json_object_get(root, "ips"), i, ip)
	{
		const char *a =
		        json_string_value(json_object_get(ip, "address"));
		char         *addr;
		unsigned char bin[sizeof(struct in6_addr)];

		if (a == NULL || !cni_ip_is_pods(ip, ifaces, ifname)) {
			continue;
		}
		addr = xstrndup(a, strcspn(a, "/"));
		if (inet_pton(AF_INET, addr, bin) == 1) {
			v4[n4++] = addr;
		} else if (inet_pton(AF_INET6, addr, bin) == 1) {
			v6[n6++] = addr;
		} else {
			free(addr); // not an address: not a pod IP either
		}
	}
	json_decref(root);
	if (n4 + n6 > 0) {
		memcpy(v4 + n4, v6, (size_t)n6 * sizeof(*v6));
		*ips = v4;
	} else {
		free(v4);
	}
	free(v6);
	return (n4 + n6);
}

void
psb_cni_ips_free(char **ips, int n)
{
	if (ips == NULL) {
		return;
	}
	for (int i = 0; i < n; i++) {
		free(ips[i]);
	}
	free(ips);
}
