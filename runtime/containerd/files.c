//
// podsandboxd - containerd backend: a sandbox's files (see files.h).
//

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "runtime/containerd/files.h"

#define FILES_MODE     0644
#define FILES_DIR_MODE 0755
#define FILES_SHM_MODE 0700
#define FILES_SHM_DATA "mode=1777,size=67108864" // 64 MiB, as containerd
#define FILES_COPY_MAX (1u << 20) // a host /etc file larger is not one

// ---- the texts -------------------------------------------------------------

static json_t *
files_get(const json_t *config, const char *a, const char *b)
{
	json_t *v = json_object_get(config, a);

	return (b != NULL ? json_object_get(v, b) : v);
}

// files_line appends "word v1 v2\n" for the strings of list (none: no
// line) to *text.
static void
files_line(char **text, const char *word, const json_t *list)
{
	size_t  i;
	json_t *v;
	char   *line = NULL;

	json_array_foreach(list, i, v)
	{
		const char *s = json_string_value(v);
		char       *next;

		if (s == NULL) {
			continue;
		}
		next = xasprintf("%s %s", line != NULL ? line : word, s);
		free(line);
		line = next;
	}
	if (line != NULL) {
		char *next = xasprintf("%s%s\n", *text, line);

		free(*text);
		free(line);
		*text = next;
	}
}

char *
ctrd_files_resolv_text(const json_t *config)
{
	const json_t *dns     = files_get(config, "dns_config", NULL);
	const json_t *servers = json_object_get(dns, "servers");
	char         *text    = xstrdup("");
	size_t        i;
	json_t       *v;

	files_line(&text, "search", json_object_get(dns, "searches"));
	json_array_foreach(servers, i, v)
	{
		if (json_string_value(v) != NULL) {
			char *next = xasprintf("%snameserver %s\n", text,
			        json_string_value(v));

			free(text);
			text = next;
		}
	}
	files_line(&text, "options", json_object_get(dns, "options"));
	return (text);
}

char *
ctrd_files_hostname_text(const json_t *config, const char *host)
{
	const char *h = json_string_value(files_get(config, "hostname", NULL));

	if (h == NULL || h[0] == '\0') {
		h = host != NULL ? host : "";
	}
	return (xasprintf("%s\n", h));
}

bool
ctrd_files_ipc_node(const json_t *config)
{
	const json_t *nso =
	        json_object_get(files_get(config, "linux", "security_context"),
	                "namespace_options");
	const json_t *ipc = json_object_get(nso, "ipc");

	return ((json_is_integer(ipc) && json_integer_value(ipc) == 2) ||
	        (json_is_string(ipc) &&
	                strcmp(json_string_value(ipc), "NODE") == 0));
}

// ---- paths -----------------------------------------------------------------

// files_set fills f from the two per-sandbox directories (taken).
static void
files_set(ctrd_files_t *f, char *root, char *state)
{
	ctrd_files_release(f);
	f->root        = root;
	f->state       = state;
	f->hostname    = xasprintf("%s/hostname", f->root);
	f->hosts       = xasprintf("%s/hosts", f->root);
	f->resolv_conf = xasprintf("%s/resolv.conf", f->root);
	f->shm         = xasprintf("%s/shm", f->state);
	f->ipc_node    = false;
}

void
ctrd_files_paths(
        ctrd_files_t *f, const char *root, const char *state, const char *id)
{
	files_set(f, xasprintf("%s/%s", root, id),
	        xasprintf("%s/%s", state, id));
}

bool
ctrd_files_recorded(ctrd_files_t *f, const char *resources)
{
	json_t *res = json_loads(
	        resources != NULL ? resources : "null", JSON_DECODE_ANY, NULL);
	json_t     *sf   = json_object_get(res, "sandboxFiles");
	const char *root = json_string_value(json_object_get(sf, "root"));
	const char *st   = json_string_value(json_object_get(sf, "state"));
	bool ok = root != NULL && root[0] == '/' && st != NULL && st[0] == '/';

	if (ok) {
		// Only the directories: the shm path is derived, so that a
		// pod with IPC NODE ("shm": "/dev/shm") never unmounts the
		// host's.
		files_set(f, xstrdup(root), xstrdup(st));
	}
	json_decref(res);
	return (ok);
}

void
ctrd_files_release(ctrd_files_t *f)
{
	free(f->root);
	free(f->state);
	free(f->hostname);
	free(f->hosts);
	free(f->resolv_conf);
	free(f->shm);
	memset(f, 0, sizeof(*f));
}

json_t *
ctrd_files_json(const ctrd_files_t *f)
{
	return (json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "root", f->root,
	        "state", f->state, "hostname", f->hostname, "hosts", f->hosts,
	        "resolvConf", f->resolv_conf, "shm",
	        f->ipc_node ? "/dev/shm" : f->shm));
}

// ---- the file system -------------------------------------------------------

// files_mkdir_p makes path and its missing parents (mode for the last).
static int
files_mkdir_p(const char *path, mode_t mode, psb_error_t *err)
{
	_cleanup_free_ char *p = xstrdup(path);

	for (char *s = strchr(p + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, FILES_DIR_MODE) != 0 && errno != EEXIST) {
			return (psb_error_sys(
			        err, PSB_ERUNTIME, errno, "making %s", p));
		}
		*s = '/';
	}
	if (mkdir(p, mode) != 0 && errno != EEXIST) {
		return (psb_error_sys(
		        err, PSB_ERUNTIME, errno, "making %s", p));
	}
	// The umask does not narrow what was asked for (shm's 0700 stays).
	if (chmod(p, mode) != 0) {
		return (psb_error_sys(
		        err, PSB_ERUNTIME, errno, "chmod %s", p));
	}
	return (0);
}

static int
files_write(const char *path, const char *data, size_t len, psb_error_t *err)
{
	_cleanup_close_ int fd = open(path,
	        O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	        FILES_MODE);

	if (fd < 0) {
		return (psb_error_sys(
		        err, PSB_ERUNTIME, errno, "writing %s", path));
	}
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return (psb_error_sys(err, PSB_ERUNTIME,
			        n < 0 ? errno : EIO, "writing %s", path));
		}
		data += n;
		len -= (size_t)n;
	}
	if (fchmod(fd, FILES_MODE) != 0) {
		return (psb_error_sys(
		        err, PSB_ERUNTIME, errno, "chmod %s", path));
	}
	return (0);
}

// files_copy copies the host file from to path, byte for byte.
static int
files_copy(const char *from, const char *path, psb_error_t *err)
{
	_cleanup_close_ int  fd  = open(from, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t               len = 0;

	if (fd < 0) {
		return (psb_error_sys(
		        err, PSB_ERUNTIME, errno, "reading %s", from));
	}
	buf = xmalloc(FILES_COPY_MAX);
	while (len < FILES_COPY_MAX) {
		ssize_t n = read(fd, buf + len, FILES_COPY_MAX - len);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return (psb_error_sys(
			        err, PSB_ERUNTIME, errno, "reading %s", from));
		}
		if (n == 0) {
			break;
		}
		len += (size_t)n;
	}
	if (len == FILES_COPY_MAX) {
		return (psb_error_make(err, PSB_ERUNTIME,
		        "reading %s: larger than %u bytes", from,
		        FILES_COPY_MAX));
	}
	return (files_write(path, buf, len, err));
}

// files_umount unmounts path lazily; not mounted (EINVAL) or not there
// (ENOENT) is success, so a second teardown finds nothing to do.
static int
files_umount(const char *path, psb_error_t *err)
{
	if (umount2(path, MNT_DETACH) != 0 && errno != EINVAL &&
	        errno != ENOENT) {
		return (psb_error_sys(
		        err, PSB_ERUNTIME, errno, "unmounting %s", path));
	}
	return (0);
}

static int
files_shm(ctrd_files_t *f, psb_error_t *err)
{
	struct stat st;
	int         rv;

	if (f->ipc_node) {
		if (stat("/dev/shm", &st) != 0) {
			return (psb_error_sys(err, PSB_ERUNTIME, errno,
			        "the host's /dev/shm (IPC NODE)"));
		}
		return (0);
	}
	if ((rv = files_mkdir_p(f->shm, FILES_SHM_MODE, err)) != 0) {
		return (rv);
	}
	// An earlier attempt's mount would be stacked under the new one.
	if ((rv = files_umount(f->shm, err)) != 0) {
		return (rv);
	}
	if (mount("shm", f->shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	            FILES_SHM_DATA) != 0) {
		return (psb_error_sys(err, PSB_ERUNTIME, errno,
		        "mounting the shm tmpfs on %s", f->shm));
	}
	return (0);
}

int
ctrd_files_create(ctrd_files_t *f, const char *config_json, psb_error_t *err)
{
	json_t *cfg =
	        json_loads(config_json != NULL ? config_json : "{}", 0, NULL);
	_cleanup_free_ char *hostname                = NULL;
	_cleanup_free_ char *resolv                  = NULL;
	char                 host[HOST_NAME_MAX + 1] = "";
	int                  rv;

	f->ipc_node = ctrd_files_ipc_node(cfg);
	if (gethostname(host, sizeof(host)) != 0) {
		host[0] = '\0';
	}
	host[sizeof(host) - 1] = '\0';
	hostname               = ctrd_files_hostname_text(cfg, host);
	resolv                 = ctrd_files_resolv_text(cfg);
	json_decref(cfg);
	if ((rv = files_mkdir_p(f->root, FILES_DIR_MODE, err)) != 0 ||
	        (rv = files_mkdir_p(f->state, FILES_DIR_MODE, err)) != 0 ||
	        (rv = files_write(
	                 f->hostname, hostname, strlen(hostname), err)) != 0 ||
	        (rv = files_copy("/etc/hosts", f->hosts, err)) != 0) {
		return (rv);
	}
	if (resolv[0] != '\0') {
		rv = files_write(f->resolv_conf, resolv, strlen(resolv), err);
	} else {
		rv = files_copy("/etc/resolv.conf", f->resolv_conf, err);
	}
	if (rv != 0) {
		return (rv);
	}
	return (files_shm(f, err));
}

static int
files_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *w)
{
	(void)st;
	(void)flag;
	(void)w;
	return (remove(path) != 0 && errno != ENOENT ? -1 : 0);
}

// files_rm removes dir and what it holds, staying on its file system: a
// mount still there (it should not be) makes the removal fail, rather
// than empty what is mounted.
static int
files_rm(const char *dir, psb_error_t *err)
{
	if (nftw(dir, files_rm_cb, 8, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0 &&
	        errno != ENOENT) {
		return (psb_error_sys(
		        err, PSB_ERUNTIME, errno, "removing %s", dir));
	}
	return (0);
}

int
ctrd_files_unmount(const ctrd_files_t *f, psb_error_t *err)
{
	return (files_umount(f->shm, err));
}

int
ctrd_files_remove(const ctrd_files_t *f, psb_error_t *err)
{
	int rv;

	if ((rv = files_umount(f->shm, err)) != 0 ||
	        (rv = files_rm(f->state, err)) != 0 ||
	        (rv = files_rm(f->root, err)) != 0) {
		return (rv);
	}
	return (0);
}
