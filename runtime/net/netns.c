//
// podsandboxd - pinned network namespaces (see netns.h).
//

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/clock.h"
#include "base/log.h"
#include "runtime/net/netns.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

#define NETNS_DIR_MODE       0755
#define NETNS_PIN_MODE       0444 // as containerd: nothing writes to a pin
#define NETNS_SELF           "/proc/thread-self/ns/net"
#define NETNS_MOUNTINFO      "/proc/thread-self/mountinfo"
#define NETNS_BUSY_MS        2000 // how long a busy pin is retried
#define NETNS_BACKOFF_MS     10   // first pause between tries, doubling
#define NETNS_BACKOFF_MAX_MS 200

struct psb_netns_op {
	char        *path;
	psb_netns_cb cb;
	void        *arg;
	bool         canceled; // loop thread only
	// Written by the worker, read on the loop once done runs (the
	// pool's mutex orders the two).
	int         rc;
	psb_error_t err;
};

// ---- the pin directory -----------------------------------------------------

// netns_mkdir_p makes path and its missing parents.
static int
netns_mkdir_p(const char *path, psb_error_t *err)
{
	_cleanup_free_ char *p = xstrdup(path);

	for (char *s = strchr(p + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, NETNS_DIR_MODE) != 0 && errno != EEXIST) {
			return (psb_error_sys(
			        err, PSB_ERUNTIME, errno, "making %s", p));
		}
		*s = '/';
	}
	if (mkdir(p, NETNS_DIR_MODE) != 0 && errno != EEXIST) {
		return (psb_error_sys(
		        err, PSB_ERUNTIME, errno, "making %s", p));
	}
	return (0);
}

// netns_unescape undoes mountinfo's octal escapes ("\040" for a space) in
// place.
static void
netns_unescape(char *s)
{
	char *out = s;

	while (*s != '\0') {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		        s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		        s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
			                (s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

// netns_scan reads the caller's mount table: *mounted tells whether dir
// (canonical) is a mount point, and *below (a NULL-terminated list owned
// by the caller, free with netns_strv_free) lists the mount points under
// it, in mount order. mountinfo rather than st_dev: a directory bound
// onto itself keeps its device.
static int
netns_scan(const char *dir, bool *mounted, char ***below, psb_error_t *err)
{
	FILE  *f    = fopen(NETNS_MOUNTINFO, "re");
	size_t len  = strlen(dir);
	char  *line = NULL;
	size_t cap  = 0;
	size_t n    = 0;

	if (f == NULL) {
		return (psb_error_sys(err, PSB_ERUNTIME, errno, "opening %s",
		        NETNS_MOUNTINFO));
	}
	*mounted = false;
	*below   = xcalloc(1, sizeof(char *));
	// "id parent major:minor root mount-point options ..."
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL;
		char *mp   = strtok_r(line, " ", &save);

		for (int i = 0; i < 4 && mp != NULL; i++) {
			mp = strtok_r(NULL, " ", &save);
		}
		if (mp == NULL) {
			continue;
		}
		netns_unescape(mp);
		if (strcmp(mp, dir) == 0) {
			*mounted = true;
		} else if (strncmp(mp, dir, len) == 0 && mp[len] == '/') {
			*below = xrealloc(*below, (n + 2) * sizeof(char *));
			(*below)[n++] = xstrdup(mp);
			(*below)[n]   = NULL;
		}
	}
	free(line);
	fclose(f);
	return (0);
}

static void
netns_strv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
		free(v[i]);
	}
	free(v);
}

// netns_make_private stops propagation to and from dir's mount. Under a
// shared /run a new mount joins /run's peer group, and every pin mounted
// in it would propagate into the containers that bind /run (rslave or
// rshared), keeping their namespaces alive and their removal EBUSY
// (containerd#6143).
static int
netns_make_private(const char *dir, psb_error_t *err)
{
	if (mount(NULL, dir, NULL, MS_PRIVATE | MS_REC, NULL) != 0) {
		return (psb_error_sys(err, PSB_ERUNTIME, errno,
		        "making %s a private mount", dir));
	}
	return (0);
}

// netns_bind_self makes dir a mount point by binding it onto itself.
// Pins already in it (below: mounts under dir) need care: a recursive
// bind would copy each, and the original, hidden under the new mount,
// would keep its file a mount point for good (every unlink EBUSY); a
// plain bind would hide the pin itself. So each pin is held by an open
// fd, unmounted, and pinned again in the new mount through that fd.
// (Other kinds of mounts are only copied, by MS_REC.) A crash in between
// loses those pins' namespaces; it is a first start-up over old pins.
static int
netns_bind_self(const char *dir, char **below, psb_error_t *err)
{
	size_t n = 0;
	int   *fds;
	int    rc = 0;

	while (below[n] != NULL) {
		n++;
	}
	fds = xcalloc(n + 1, sizeof(int));
	for (size_t i = 0; i < n; i++) {
		fds[i] = -1;
		if (!psb_netns_pinned(below[i])) {
			continue;
		}
		fds[i] = open(below[i], O_RDONLY | O_CLOEXEC);
		if (fds[i] >= 0 && umount2(below[i], MNT_DETACH) != 0) {
			close(fds[i]);
			fds[i] = -1;
		}
	}
	if (mount(dir, dir, NULL, MS_BIND | MS_REC, NULL) != 0) {
		rc = psb_error_sys(err, PSB_ERUNTIME, errno,
		        "bind-mounting %s onto itself", dir);
	} else {
		// Before the pins go back: pinned in a shared mount, each
		// would propagate to its peers, here the hidden directory
		// underneath too.
		rc = netns_make_private(dir, err);
	}
	// Whether or not that worked: back in place, in the mount now there.
	// Backwards: of pins stacked on one file, the top one came off (and
	// was opened) first, so it goes back last.
	for (size_t i = n; i-- > 0;) {
		char fdpath[64];

		if (fds[i] < 0) {
			continue;
		}
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fds[i]);
		if (mount(fdpath, below[i], NULL, MS_BIND, NULL) != 0) {
			psb_log(PSB_LOG_ERROR,
			        "netns: cannot pin %s again: %s (its "
			        "namespace "
			        "is gone unless a process still uses it)",
			        below[i], strerror(errno));
		}
		close(fds[i]);
	}
	free(fds);
	return (rc);
}

int
psb_netns_prepare_dir(const char *dir, psb_error_t *err)
{
	_cleanup_free_ char *real    = NULL;
	char               **below   = NULL;
	bool                 mounted = false;
	int                  rc;

	if (dir == NULL || dir[0] != '/') {
		return (psb_error_make(err, PSB_EINVAL,
		        "netns directory %s is not an absolute path",
		        dir != NULL ? dir : "(null)"));
	}
	if ((rc = netns_mkdir_p(dir, err)) != 0) {
		return (rc);
	}
	if ((real = realpath(dir, NULL)) == NULL) {
		return (psb_error_sys(
		        err, PSB_ERUNTIME, errno, "resolving %s", dir));
	}
	if ((rc = netns_scan(real, &mounted, &below, err)) != 0) {
		return (rc);
	}
	rc = mounted ? netns_make_private(real, err)
	             : netns_bind_self(real, below, err);
	netns_strv_free(below);
	return (rc);
}

char *
psb_netns_path(const char *dir)
{
	uint8_t b[8];
	size_t  got = 0;

	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

		if (n < 0 && errno != EINTR) {
			return (NULL);
		}
		got += n > 0 ? (size_t)n : 0;
	}
	return (xasprintf("%s/psb-%02x%02x%02x%02x%02x%02x%02x%02x", dir, b[0],
	        b[1], b[2], b[3], b[4], b[5], b[6], b[7]));
}

bool
psb_netns_pinned(const char *path)
{
	struct statfs sf;

	return (statfs(path, &sf) == 0 &&
	        sf.f_type == (__typeof__(sf.f_type))NSFS_MAGIC);
}

// ---- on the worker ---------------------------------------------------------

// netns_pin gives the calling (worker) thread a new network namespace,
// bind-mounts it onto path and puts the thread back where it was. If the
// way back fails, the pin still stands: the pool notices the thread is
// elsewhere and retires it (worker.h).
static int
netns_pin(const char *path, psb_error_t *err)
{
	_cleanup_close_ int home = open(NETNS_SELF, O_RDONLY | O_CLOEXEC);
	int                 rc   = 0;

	if (home < 0) {
		return (psb_error_sys(
		        err, PSB_ERUNTIME, errno, "opening %s", NETNS_SELF));
	}
	// unshare affects this thread only: the loop and the other workers
	// keep the daemon's namespace.
	if (unshare(CLONE_NEWNET) != 0) {
		return (psb_error_sys(err, PSB_ERUNTIME, errno,
		        "unsharing a network namespace for %s", path));
	}
	if (mount(NETNS_SELF, path, NULL, MS_BIND, NULL) != 0) {
		rc = psb_error_sys(err, PSB_ERUNTIME, errno,
		        "bind-mounting a new network namespace onto %s", path);
	}
	// Unpinned (mount failed), the new namespace dies with this setns.
	if (setns(home, CLONE_NEWNET) != 0) {
		psb_log(PSB_LOG_WARN,
		        "netns: cannot leave the namespace made for %s: %s",
		        path, strerror(errno));
	}
	return (rc);
}

static int
netns_do_create(const char *path, psb_error_t *err)
{
	struct stat st;
	bool        made = false;
	int         fd;
	int         rc;

	fd = open(
	        path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, NETNS_PIN_MODE);
	if (fd >= 0) {
		made = true;
		close(fd);
	} else if (errno != EEXIST) {
		return (psb_error_sys(err, PSB_ERUNTIME, errno,
		        "creating netns pin %s", path));
	} else if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		// A pin (nsfs) is a regular file too; a symbolic link, a
		// directory or a device is someone else's.
		return (psb_error_make(err, PSB_EEXIST,
		        "%s exists and is not a netns pin", path));
	} else if (psb_netns_pinned(path)) {
		// A retry after a crash that came after the mount.
		psb_log(PSB_LOG_DEBUG, "netns: %s is already pinned", path);
		return (0);
	}
	// else: an empty file left by a crash before the mount: reused.

	if ((rc = netns_pin(path, err)) != 0 && made && unlink(path) != 0) {
		psb_log(PSB_LOG_WARN, "netns: cannot remove %s again: %s",
		        path, strerror(errno));
	}
	return (rc);
}

static void
netns_sleep_ms(unsigned ms)
{
	struct timespec ts = {
	        .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) { }
}

static int
netns_do_remove(const char *path, psb_error_t *err)
{
	int64_t  deadline = psb_mono_ms() + NETNS_BUSY_MS;
	unsigned backoff  = NETNS_BACKOFF_MS;

	for (;;) {
		const char *what = "unmounting";
		int         e    = 0;

		// Every try unmounts again: a stacked mount comes off one per
		// umount, and unlink is EBUSY while any is left.
		if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) != 0 &&
		        errno != EINVAL) {
			if (errno == ENOENT) {
				return (0);
			}
			e = errno;
		}
		if (e == 0) {
			what = "removing";
			if (unlink(path) == 0 || errno == ENOENT) {
				return (0);
			}
			e = errno;
		}
		if (e != EBUSY) {
			return (psb_error_sys(err, PSB_ERUNTIME, e,
			        "%s netns pin %s", what, path));
		}
		if (psb_mono_ms() >= deadline) {
			return (psb_error_sys(err, PSB_EBUSY, e,
			        "%s netns pin %s: still busy after %d ms",
			        what, path, NETNS_BUSY_MS));
		}
		psb_log(PSB_LOG_DEBUG, "netns: %s %s: busy, retrying", what,
		        path);
		netns_sleep_ms(backoff);
		backoff = backoff * 2 < NETNS_BACKOFF_MAX_MS
		                  ? backoff * 2
		                  : NETNS_BACKOFF_MAX_MS;
	}
}

static void
netns_create_work(void *arg)
{
	psb_netns_op_t *o = arg;

	o->rc = netns_do_create(o->path, &o->err);
}

static void
netns_remove_work(void *arg)
{
	psb_netns_op_t *o = arg;

	o->rc = netns_do_remove(o->path, &o->err);
}

// ---- on the loop -----------------------------------------------------------

static void
netns_op_free(psb_netns_op_t *o)
{
	psb_error_release(&o->err);
	free(o->path);
	free(o);
}

static void
netns_done(void *arg)
{
	psb_netns_op_t *o = arg;

	if (!o->canceled && o->cb != NULL) {
		o->cb(o->arg, o->rc, o->rc != 0 ? &o->err : NULL);
	}
	netns_op_free(o);
}

static int
netns_start(psb_worker_pool_t *pool, const char *verb, psb_worker_fn work,
        const char *path, psb_netns_cb cb, void *arg, psb_netns_op_t **op,
        psb_error_t *err)
{
	psb_netns_op_t *o;
	int             rc;

	if (path == NULL || path[0] != '/') {
		return (psb_error_make(err, PSB_EINVAL,
		        "%s netns: %s is not an absolute path", verb,
		        path != NULL ? path : "(null)"));
	}
	o       = xcalloc(1, sizeof(*o));
	o->path = xstrdup(path);
	o->cb   = cb;
	o->arg  = arg;
	// What done reports if the pool had to complete it without work.
	o->rc       = PSB_ECANCELED;
	o->err.code = PSB_ECANCELED;
	if ((rc = psb_worker_submit(pool, work, netns_done, o)) != 0) {
		netns_op_free(o);
		return (psb_error_make(err, rc, "%s netns %s: %s", verb, path,
		        rc == PSB_ESTATE ? "the worker pool is closing"
		                         : "no worker thread"));
	}
	if (op != NULL) {
		*op = o;
	}
	return (0);
}

int
psb_netns_create(psb_worker_pool_t *pool, const char *path, psb_netns_cb cb,
        void *arg, psb_netns_op_t **op, psb_error_t *err)
{
	return (netns_start(
	        pool, "creating", netns_create_work, path, cb, arg, op, err));
}

int
psb_netns_remove(psb_worker_pool_t *pool, const char *path, psb_netns_cb cb,
        void *arg, psb_netns_op_t **op, psb_error_t *err)
{
	return (netns_start(
	        pool, "removing", netns_remove_work, path, cb, arg, op, err));
}

void
psb_netns_cancel(psb_netns_op_t *op)
{
	if (op != NULL) {
		op->canceled = true;
	}
}
