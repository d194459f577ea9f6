//
// podsandboxd - pinned network namespaces and their worker pool
// (runtime/net/netns.h, runtime/net/worker.h).
//
// Most of it needs root (CAP_SYS_ADMIN: unshare, setns, mount): without
// it those tests skip, and the binary exits 77. The whole binary runs in
// a mount namespace of its own whose mounts do not propagate back to the
// host (see main), so even a crash leaves no mount behind; each test
// still unmounts and removes what it made (fx_teardown).
//

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/capability.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "runtime/net/netns.h"
#include "runtime/net/worker.h"
#include "tests/harness/testing.h"

#define WAIT_MS 10000
#define NS_SELF "/proc/thread-self/ns/net"
#define NMANY   20

// Set by main: root, in a mount namespace of the test's own.
static bool privileged;

typedef struct result {
	int   calls;
	int   rc;
	char  msg[512];
	pid_t tid;
} result_t;

// A job that records where its thread is; the rendezvous (if any) holds
// it until `want` probes are running at once, so that each runs on a
// thread of its own.
typedef struct rendezvous {
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	int             arrived;
	int             want;
} rendezvous_t;

typedef struct probe {
	rendezvous_t *rv;
	bool          met;
	bool          unshare; // leave the thread in a new netns
	bool          drop;    // and drop CAP_SYS_ADMIN: it cannot return
	bool          ok;      // what it was asked to do worked
	ino_t         ino;     // netns inode the job started in
	pid_t         tid;
	int           done;
} probe_t;

typedef struct late {
	result_t   r;
	struct fx *f;
	int        again; // what submitting from the callback gave
} late_t;

// What jobs and callbacks write to lives in the fixture, not on a test's
// stack: after a failed assertion, fx_teardown's psb_worker_pool_free
// still runs them.
typedef struct fx {
	struct ev_loop    *loop;
	psb_worker_pool_t *pool;
	char               base[PATH_MAX];     // a shared mount, like /run
	char               dir[PATH_MAX + 16]; // base/run/netns: the pin dir
	ino_t              home;               // the test's own netns
	result_t           sync;               // create_sync, remove_sync
	result_t           r[NMANY];
	probe_t            p[4];
	rendezvous_t       rv;
	late_t             late[3];
} fx_t;

// ino_of is the inode of path, 0 if it cannot be read: for other
// threads, where a cmocka assertion must not fail.
static ino_t
ino_of(const char *path)
{
	struct stat st;

	return (stat(path, &st) == 0 ? st.st_ino : 0);
}

static ino_t
ns_ino(const char *path)
{
	ino_t ino = ino_of(path);

	assert_int_not_equal(ino, 0);
	return (ino);
}

static void
need_root(void)
{
	if (!privileged) {
		skip();
	}
}

// ---- mounts ----------------------------------------------------------------

// mounts_at counts the mounts at path in /proc/self/mountinfo and copies
// the optional fields ("shared:N master:M") of the last one into opt.
static int
mounts_at(const char *path, char *opt, size_t n)
{
	FILE  *f     = fopen("/proc/self/mountinfo", "re");
	char  *line  = NULL;
	size_t cap   = 0;
	int    count = 0;

	assert_non_null(f);
	if (opt != NULL) {
		opt[0] = '\0';
	}
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL;
		char *fld[6];
		char *rest;

		fld[0] = strtok_r(line, " ", &save);
		for (int i = 1; i < 6; i++) {
			fld[i] = strtok_r(NULL, " ", &save);
		}
		if (fld[5] == NULL || strcmp(fld[4], path) != 0) {
			continue;
		}
		count++;
		rest = save != NULL ? save : "";
		if (opt != NULL) {
			const char *dash = strstr(rest, " - ");

			snprintf(opt, n, "%.*s",
			        (int)(dash != NULL ? dash - rest : 0), rest);
		}
	}
	free(line);
	fclose(f);
	return (count);
}

// umount_under detaches every mount at or below dir, stacked ones too.
static void
umount_under(const char *dir)
{
	size_t len = strlen(dir);

	for (int pass = 0; pass < 64; pass++) {
		FILE  *f    = fopen("/proc/self/mountinfo", "re");
		char  *line = NULL;
		size_t cap  = 0;
		bool   any  = false;

		if (f == NULL) {
			return;
		}
		while (getline(&line, &cap, f) > 0) {
			char *save = NULL;
			char *mp   = strtok_r(line, " ", &save);

			for (int i = 0; i < 4 && mp != NULL; i++) {
				mp = strtok_r(NULL, " ", &save);
			}
			if (mp != NULL && strncmp(mp, dir, len) == 0 &&
			        (mp[len] == '\0' || mp[len] == '/') &&
			        umount2(mp, MNT_DETACH) == 0) {
				any = true;
			}
		}
		free(line);
		fclose(f);
		if (!any) {
			return;
		}
	}
}

static int
rm_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return (0);
}

// ---- the fixture -----------------------------------------------------------

static int
fx_setup(void **state)
{
	fx_t       *f   = calloc(1, sizeof(*f));
	psb_error_t err = PSB_ERROR_INIT;

	assert_non_null(f);
	*state  = f;
	f->home = ns_ino(NS_SELF);
	pthread_mutex_init(&f->rv.mtx, NULL);
	pthread_cond_init(&f->rv.cv, NULL);
	f->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(f->loop);
	assert_int_equal(psb_worker_pool_new(f->loop, 0, &f->pool, &err), 0);
	if (!privileged) {
		return (0);
	}
	// A shared mount standing in for the host's /run, so that the pin
	// dir would be shared too if psb_netns_prepare_dir did not make it
	// private.
	assert_non_null(realpath(psb_test_tmpdir("netns"), f->base));
	assert_int_equal(mount(f->base, f->base, NULL, MS_BIND, NULL), 0);
	assert_int_equal(mount(NULL, f->base, NULL, MS_SHARED, NULL), 0);
	snprintf(f->dir, sizeof(f->dir), "%s/run/netns", f->base);
	return (0);
}

static int
fx_teardown(void **state)
{
	fx_t *f     = *state;
	bool  clean = false;
	int   left  = 0;
	bool  gone  = true;
	bool  home  = false;

	// Everything is released before anything is asserted, so that a
	// failure here still cleans up.
	psb_worker_pool_free(f->pool);
	clean = psb_test_loop_is_clean(f->loop);
	ev_loop_destroy(f->loop);
	if (f->base[0] != '\0') {
		umount_under(f->base);
		left = mounts_at(f->base, NULL, 0);
		nftw(f->base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
		gone = access(f->base, F_OK) != 0;
	}
	// No test leaves the test's (the loop's) thread elsewhere.
	home = ino_of(NS_SELF) == f->home;
	pthread_cond_destroy(&f->rv.cv);
	pthread_mutex_destroy(&f->rv.mtx);
	free(f);
	assert_true(clean);
	assert_int_equal(left, 0);
	assert_true(gone);
	assert_true(home);
	return (0);
}

static void
fx_prepare(fx_t *f)
{
	psb_error_t err = PSB_ERROR_INIT;

	assert_int_equal(psb_netns_prepare_dir(f->dir, &err), 0);
}

// ---- running operations ----------------------------------------------------

static void
record_cb(void *arg, int rc, const psb_error_t *err)
{
	result_t *r = arg;

	r->calls++;
	r->rc  = rc;
	r->tid = gettid();
	snprintf(r->msg, sizeof(r->msg), "%s",
	        err != NULL ? psb_error_message(err) : "");
	// err is given exactly when rc says failure.
	assert_int_equal(err != NULL, rc != 0);
}

static bool
called(void *arg)
{
	return (((result_t *)arg)->calls > 0);
}

// run_op waits for r's callback and returns its rc.
static int
run_op(fx_t *f, result_t *r)
{
	assert_true(psb_test_run_until(f->loop, called, r, WAIT_MS));
	assert_int_equal(r->calls, 1);
	// On the loop thread (this one).
	assert_int_equal(r->tid, gettid());
	return (r->rc);
}

static int
create_sync(fx_t *f, const char *path)
{
	result_t   *r   = &f->sync;
	psb_error_t err = PSB_ERROR_INIT;

	memset(r, 0, sizeof(*r));
	assert_int_equal(
	        psb_netns_create(f->pool, path, record_cb, r, NULL, &err), 0);
	// Never from inside the call.
	assert_int_equal(r->calls, 0);
	return (run_op(f, r));
}

static int
remove_sync(fx_t *f, const char *path)
{
	result_t   *r   = &f->sync;
	psb_error_t err = PSB_ERROR_INIT;

	memset(r, 0, sizeof(*r));
	assert_int_equal(
	        psb_netns_remove(f->pool, path, record_cb, r, NULL, &err), 0);
	// Never from inside the call.
	assert_int_equal(r->calls, 0);
	return (run_op(f, r));
}

// ---- probing the workers ---------------------------------------------------

static void
probe_drop_sys_admin(probe_t *p)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct   d[2];

	// Capabilities are per thread: this one only.
	p->ok = syscall(SYS_capget, &h, d) == 0;
	d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
	p->ok = p->ok && syscall(SYS_capset, &h, d) == 0;
}

static void
probe_work(void *arg)
{
	probe_t *p = arg;

	p->tid = gettid();
	p->ino = ino_of(NS_SELF);
	p->ok  = true;
	if (p->unshare) {
		p->ok = unshare(CLONE_NEWNET) == 0;
	}
	if (p->ok && p->drop) {
		probe_drop_sys_admin(p);
	}
	if (p->rv != NULL) {
		struct timespec dl;

		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 5;
		pthread_mutex_lock(&p->rv->mtx);
		p->rv->arrived++;
		pthread_cond_broadcast(&p->rv->cv);
		while (p->rv->arrived < p->rv->want &&
		        pthread_cond_timedwait(&p->rv->cv, &p->rv->mtx, &dl) ==
		                0) { }
		p->met = p->rv->arrived >= p->rv->want;
		pthread_mutex_unlock(&p->rv->mtx);
	}
}

static void
probe_done(void *arg)
{
	((probe_t *)arg)->done++;
}

static bool
probes_done(void *arg)
{
	probe_t *p = arg;

	return (p[0].done > 0 && p[1].done > 0);
}

// ---- entering a pin --------------------------------------------------------

typedef struct enter {
	const char *path;
	bool        entered;
	ino_t       ino;
	int         nlinks;
	char        link[IF_NAMESIZE];
	bool        lo_read; // its flags could be read
	bool        lo_up;
} enter_t;

// enter_main joins the pinned namespace (this thread only), then lists
// its interfaces. It exits in there, which harms no one.
static void *
enter_main(void *arg)
{
	enter_t             *e  = arg;
	int                  fd = open(e->path, O_RDONLY | O_CLOEXEC);
	struct if_nameindex *ifs;
	struct ifreq         ifr;
	int                  s;

	if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
		return (NULL);
	}
	close(fd);
	e->entered = true;
	e->ino     = ino_of(NS_SELF);
	if ((ifs = if_nameindex()) != NULL) {
		for (struct if_nameindex *i = ifs; i->if_index != 0; i++) {
			e->nlinks++;
			snprintf(e->link, sizeof(e->link), "%s", i->if_name);
		}
		if_freenameindex(ifs);
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		e->lo_read = true;
		e->lo_up   = (ifr.ifr_flags & IFF_UP) != 0;
	}
	if (s >= 0) {
		close(s);
	}
	return (NULL);
}

// ---- tests -----------------------------------------------------------------

static void
test_path(void **state)
{
	char *a = psb_netns_path("/run/x");
	char *b = psb_netns_path("/run/x");

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(strlen(a), strlen("/run/x/psb-") + 16);
	assert_memory_equal(a, "/run/x/psb-", strlen("/run/x/psb-"));
	for (const char *s = a + strlen("/run/x/psb-"); *s != '\0'; s++) {
		assert_non_null(strchr("0123456789abcdef", *s));
	}
	assert_string_not_equal(a, b);
	free(a);
	free(b);
}

static void
test_bad_arguments(void **state)
{
	fx_t       *f   = *state;
	result_t   *r   = &f->r[0];
	psb_error_t err = PSB_ERROR_INIT;

	assert_int_equal(
	        psb_netns_create(f->pool, "rel/pin", record_cb, r, NULL, &err),
	        PSB_EINVAL);
	assert_non_null(strstr(psb_error_message(&err), "rel/pin"));
	psb_error_release(&err);
	assert_int_equal(
	        psb_netns_remove(f->pool, "", record_cb, r, NULL, &err),
	        PSB_EINVAL);
	psb_error_release(&err);
	assert_int_equal(psb_netns_prepare_dir("run/netns", &err), PSB_EINVAL);
	psb_error_release(&err);
	psb_test_run_for(f->loop, 50);
	assert_int_equal(r->calls, 0);
	assert_false(psb_netns_pinned("/nonexistent/psb-0"));
}

static void
test_prepare_dir(void **state)
{
	fx_t       *f   = *state;
	psb_error_t err = PSB_ERROR_INIT;
	char        opt[256];
	char        path[2 * PATH_MAX];
	char       *pin;
	struct stat st;

	need_root();
	// The stand-in for /run is shared, as on a systemd host.
	assert_int_equal(mounts_at(f->base, opt, sizeof(opt)), 1);
	assert_non_null(strstr(opt, "shared:"));

	assert_int_equal(psb_netns_prepare_dir(f->dir, &err), 0);
	assert_int_equal(stat(f->dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(mounts_at(f->dir, opt, sizeof(opt)), 1);
	assert_null(strstr(opt, "shared:"));
	assert_null(strstr(opt, "master:"));

	// Again (a daemon restart): no second mount, still private.
	assert_int_equal(psb_netns_prepare_dir(f->dir, &err), 0);
	assert_int_equal(mounts_at(f->dir, opt, sizeof(opt)), 1);
	assert_null(strstr(opt, "shared:"));

	// A pin made in it is private too: it cannot propagate.
	pin = psb_netns_path(f->dir);
	assert_int_equal(create_sync(f, pin), 0);
	assert_int_equal(mounts_at(pin, opt, sizeof(opt)), 1);
	assert_null(strstr(opt, "shared:"));
	assert_int_equal(remove_sync(f, pin), 0);
	free(pin);

	// Already a mount point, but shared (made by someone else): made
	// private, not mounted again.
	snprintf(path, sizeof(path), "%s/shared", f->base);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(mount(path, path, NULL, MS_BIND, NULL), 0);
	assert_int_equal(mount(NULL, path, NULL, MS_SHARED, NULL), 0);
	assert_int_equal(mounts_at(path, opt, sizeof(opt)), 1);
	assert_non_null(strstr(opt, "shared:"));
	assert_int_equal(psb_netns_prepare_dir(path, &err), 0);
	assert_int_equal(mounts_at(path, opt, sizeof(opt)), 1);
	assert_null(strstr(opt, "shared:"));

	// A plain file in the way of the directory.
	snprintf(path, sizeof(path), "%s/file", f->base);
	assert_int_equal(close(open(path, O_CREAT | O_WRONLY, 0644)), 0);
	snprintf(path, sizeof(path), "%s/file/netns", f->base);
	assert_int_equal(psb_netns_prepare_dir(path, &err), PSB_ERUNTIME);
	assert_non_null(strstr(psb_error_message(&err), "file"));
	psb_error_release(&err);
}

static void
test_prepare_dir_keeps_pins(void **state)
{
	fx_t       *f   = *state;
	psb_error_t err = PSB_ERROR_INIT;
	char        dir[2 * PATH_MAX];
	char       *pin[3];
	ino_t       ino[3];

	need_root();
	// Pins made before their directory was a mount point of its own
	// (the second with the third stacked on it) stay pinned, in the
	// same order, and removable, once it is.
	snprintf(dir, sizeof(dir), "%s/old", f->base);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(mounts_at(dir, NULL, 0), 0);
	for (int i = 0; i < 3; i++) {
		pin[i] = psb_netns_path(dir);
		assert_int_equal(create_sync(f, pin[i]), 0);
		ino[i] = ns_ino(pin[i]);
	}
	assert_int_equal(mount(pin[2], pin[1], NULL, MS_BIND, NULL), 0);
	assert_int_equal(ns_ino(pin[1]), ino[2]);

	assert_int_equal(psb_netns_prepare_dir(dir, &err), 0);
	assert_int_equal(mounts_at(dir, NULL, 0), 1);
	// The same namespaces, each mount once (not also hidden underneath,
	// where it would make its file EBUSY for good).
	assert_int_equal(mounts_at(pin[0], NULL, 0), 1);
	assert_int_equal(mounts_at(pin[1], NULL, 0), 2);
	assert_int_equal(mounts_at(pin[2], NULL, 0), 1);
	assert_int_equal(ns_ino(pin[0]), ino[0]);
	assert_int_equal(ns_ino(pin[1]), ino[2]); // still on top
	assert_int_equal(ns_ino(pin[2]), ino[2]);
	assert_int_equal(umount2(pin[1], MNT_DETACH), 0);
	assert_int_equal(ns_ino(pin[1]), ino[1]);

	for (int i = 0; i < 3; i++) {
		assert_int_equal(remove_sync(f, pin[i]), 0);
		assert_false(psb_netns_pinned(pin[i]));
		assert_int_equal(access(pin[i], F_OK), -1);
		free(pin[i]);
	}
}

static void
test_create(void **state)
{
	fx_t     *f = *state;
	char     *pin;
	ino_t     ino;
	enter_t   e = {0};
	pthread_t t;

	need_root();
	fx_prepare(f);
	pin = psb_netns_path(f->dir);
	assert_false(psb_netns_pinned(pin));
	assert_int_equal(create_sync(f, pin), 0);
	assert_true(psb_netns_pinned(pin));
	ino = ns_ino(pin);
	assert_int_not_equal(ino, f->home);
	assert_int_equal(ns_ino("/proc/self/ns/net"), f->home);
	assert_int_equal(ns_ino(NS_SELF), f->home);

	// Entered from a thread: it is the pinned one, with only lo, down.
	e.path = pin;
	assert_int_equal(pthread_create(&t, NULL, enter_main, &e), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(e.entered);
	assert_int_equal(e.ino, ino);
	assert_int_equal(e.nlinks, 1);
	assert_string_equal(e.link, "lo");
	assert_true(e.lo_read);
	assert_false(e.lo_up);

	assert_int_equal(remove_sync(f, pin), 0);
	assert_int_equal(access(pin, F_OK), -1);
	assert_false(psb_netns_pinned(pin));
	free(pin);
}

static void
test_create_idempotent(void **state)
{
	fx_t       *f = *state;
	char       *pin;
	char       *plain;
	char        dir[2 * PATH_MAX];
	ino_t       ino;
	struct stat st;
	result_t   *r   = &f->r[0];
	psb_error_t err = PSB_ERROR_INIT;

	need_root();
	fx_prepare(f);
	// An existing pin: success, the same namespace, no second mount.
	pin = psb_netns_path(f->dir);
	assert_int_equal(create_sync(f, pin), 0);
	ino = ns_ino(pin);
	assert_int_equal(create_sync(f, pin), 0);
	assert_int_equal(ns_ino(pin), ino);
	assert_int_equal(mounts_at(pin, NULL, 0), 1);

	// A plain file left by a crash before the mount: reused.
	plain = psb_netns_path(f->dir);
	assert_int_equal(close(open(plain, O_CREAT | O_WRONLY, 0444)), 0);
	assert_false(psb_netns_pinned(plain));
	assert_int_equal(create_sync(f, plain), 0);
	assert_true(psb_netns_pinned(plain));
	assert_int_not_equal(ns_ino(plain), ino);
	assert_int_not_equal(ns_ino(plain), f->home);

	// Not a file: refused, and left alone.
	snprintf(dir, sizeof(dir), "%s/adir", f->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(
	        psb_netns_create(f->pool, dir, record_cb, r, NULL, &err), 0);
	assert_int_equal(run_op(f, r), PSB_EEXIST);
	assert_non_null(strstr(r->msg, dir));
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));

	assert_int_equal(remove_sync(f, pin), 0);
	assert_int_equal(remove_sync(f, plain), 0);
	assert_int_equal(access(pin, F_OK), -1);
	assert_int_equal(access(plain, F_OK), -1);
	free(pin);
	free(plain);
}

static void
test_create_fails_cleanly(void **state)
{
	fx_t       *f    = *state;
	result_t   *r    = f->r;
	probe_t    *drop = &f->p[0];
	psb_error_t err  = PSB_ERROR_INIT;
	char        pin[2 * PATH_MAX];
	char       *plain;

	need_root();
	// No directory: nothing made, the error names the pin.
	snprintf(pin, sizeof(pin), "%s/missing/psb-0", f->base);
	assert_int_equal(
	        psb_netns_create(f->pool, pin, record_cb, &r[0], NULL, &err),
	        0);
	assert_int_equal(run_op(f, &r[0]), PSB_ERUNTIME);
	assert_non_null(strstr(r[0].msg, pin));
	assert_int_equal(access(pin, F_OK), -1);

	// The pool's one thread loses CAP_SYS_ADMIN (it can still create
	// files): unshare fails after the pin file was made, and the file
	// it made is removed again...
	fx_prepare(f);
	psb_worker_pool_free(f->pool);
	assert_int_equal(psb_worker_pool_new(f->loop, 1, &f->pool, &err), 0);
	drop->drop = true;
	assert_int_equal(
	        psb_worker_submit(f->pool, probe_work, probe_done, drop), 0);
	snprintf(pin, sizeof(pin), "%s/psb-1", f->dir);
	assert_int_equal(
	        psb_netns_create(f->pool, pin, record_cb, &r[1], NULL, &err),
	        0);
	assert_int_equal(run_op(f, &r[1]), PSB_ERUNTIME);
	assert_true(drop->ok);
	assert_non_null(strstr(r[1].msg, pin));
	assert_int_equal(access(pin, F_OK), -1);

	// ...but a file it found there stays.
	plain = psb_netns_path(f->dir);
	assert_int_equal(close(open(plain, O_CREAT | O_WRONLY, 0444)), 0);
	assert_int_equal(
	        psb_netns_create(f->pool, plain, record_cb, &r[2], NULL, &err),
	        0);
	assert_int_equal(run_op(f, &r[2]), PSB_ERUNTIME);
	assert_int_equal(access(plain, F_OK), 0);
	assert_false(psb_netns_pinned(plain));
	free(plain);
	assert_int_equal(ns_ino(NS_SELF), f->home);
}

static void
test_remove(void **state)
{
	fx_t *f = *state;
	char *pin;

	need_root();
	fx_prepare(f);
	pin = psb_netns_path(f->dir);
	// Missing: success.
	assert_int_equal(remove_sync(f, pin), 0);

	assert_int_equal(create_sync(f, pin), 0);
	assert_int_equal(remove_sync(f, pin), 0);
	assert_false(psb_netns_pinned(pin));
	assert_int_equal(access(pin, F_OK), -1);
	assert_int_equal(mounts_at(pin, NULL, 0), 0);
	// Twice: still success.
	assert_int_equal(remove_sync(f, pin), 0);

	// A plain file (a pin whose mount is gone) is just removed.
	assert_int_equal(close(open(pin, O_CREAT | O_WRONLY, 0444)), 0);
	assert_int_equal(remove_sync(f, pin), 0);
	assert_int_equal(access(pin, F_OK), -1);
	free(pin);
}

static void
test_remove_busy_retries(void **state)
{
	fx_t *f = *state;
	char *pin;

	need_root();
	fx_prepare(f);
	// Three mounts stacked on the pin: each umount takes one off and
	// unlink is EBUSY until the last is gone, so this only succeeds
	// by retrying.
	pin = psb_netns_path(f->dir);
	assert_int_equal(create_sync(f, pin), 0);
	assert_int_equal(mount(pin, pin, NULL, MS_BIND, NULL), 0);
	assert_int_equal(mount(pin, pin, NULL, MS_BIND, NULL), 0);
	assert_int_equal(mounts_at(pin, NULL, 0), 3);
	assert_int_equal(remove_sync(f, pin), 0);
	assert_int_equal(mounts_at(pin, NULL, 0), 0);
	assert_int_equal(access(pin, F_OK), -1);
	free(pin);
}

static void
test_pinned(void **state)
{
	fx_t *f = *state;
	char *pin;
	char  plain[2 * PATH_MAX];

	need_root();
	fx_prepare(f);
	pin = psb_netns_path(f->dir);
	assert_false(psb_netns_pinned(pin)); // missing
	assert_int_equal(create_sync(f, pin), 0);
	assert_true(psb_netns_pinned(pin));
	snprintf(plain, sizeof(plain), "%s/plain", f->dir);
	assert_int_equal(close(open(plain, O_CREAT | O_WRONLY, 0644)), 0);
	assert_false(psb_netns_pinned(plain));
	assert_false(psb_netns_pinned(f->dir));
	// Unmounted behind our back: the file remains, the pin does not.
	assert_int_equal(umount2(pin, MNT_DETACH), 0);
	assert_false(psb_netns_pinned(pin));
	assert_int_equal(access(pin, F_OK), 0);
	assert_int_equal(remove_sync(f, pin), 0);
	free(pin);
}

static void
test_workers_return_home(void **state)
{
	fx_t       *f = *state;
	char       *pins[4];
	result_t   *r   = f->r;
	probe_t    *p   = f->p;
	psb_error_t err = PSB_ERROR_INIT;

	need_root();
	fx_prepare(f);
	// Creates on both threads at once, then a probe on each thread
	// (held together, so neither takes both): each starts at home.
	for (int i = 0; i < 4; i++) {
		pins[i] = psb_netns_path(f->dir);
		assert_int_equal(psb_netns_create(f->pool, pins[i], record_cb,
		                         &r[i], NULL, &err),
		        0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(run_op(f, &r[i]), 0);
	}
	f->rv.want = 2;
	for (int i = 0; i < 2; i++) {
		p[i].rv = &f->rv;
		assert_int_equal(psb_worker_submit(f->pool, probe_work,
		                         probe_done, &p[i]),
		        0);
	}
	assert_true(psb_test_run_until(f->loop, probes_done, p, WAIT_MS));
	assert_true(p[0].met);
	assert_true(p[1].met);
	assert_int_not_equal(p[0].tid, p[1].tid);
	assert_int_equal(p[0].ino, f->home);
	assert_int_equal(p[1].ino, f->home);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(remove_sync(f, pins[i]), 0);
		free(pins[i]);
	}
}

static void
test_pool_puts_thread_back(void **state)
{
	fx_t       *f   = *state;
	probe_t    *p   = f->p;
	psb_error_t err = PSB_ERROR_INIT;

	need_root();
	// One thread; the first job leaves it in a new namespace and does
	// not return: the pool puts it back before the next job.
	psb_worker_pool_free(f->pool);
	assert_int_equal(psb_worker_pool_new(f->loop, 1, &f->pool, &err), 0);
	p[0].unshare = true;
	assert_int_equal(
	        psb_worker_submit(f->pool, probe_work, probe_done, &p[0]), 0);
	assert_int_equal(
	        psb_worker_submit(f->pool, probe_work, probe_done, &p[1]), 0);
	assert_true(psb_test_run_until(f->loop, probes_done, p, WAIT_MS));
	assert_true(p[0].ok);
	assert_int_equal(p[1].tid, p[0].tid); // the same thread, not retired
	assert_int_equal(p[1].ino, f->home);
}

static void
test_pool_retires_stranded_thread(void **state)
{
	fx_t       *f   = *state;
	probe_t    *p   = f->p;
	psb_error_t err = PSB_ERROR_INIT;

	need_root();
	// The first job strands its thread: a new namespace, and without
	// CAP_SYS_ADMIN it cannot setns back. The thread retires and a new
	// one, started by the loop at home, runs the next job.
	psb_worker_pool_free(f->pool);
	assert_int_equal(psb_worker_pool_new(f->loop, 1, &f->pool, &err), 0);
	p[0].unshare = true;
	p[0].drop    = true;
	assert_int_equal(
	        psb_worker_submit(f->pool, probe_work, probe_done, &p[0]), 0);
	assert_int_equal(
	        psb_worker_submit(f->pool, probe_work, probe_done, &p[1]), 0);
	assert_true(psb_test_run_until(f->loop, probes_done, p, WAIT_MS));
	assert_true(p[0].ok);
	assert_int_not_equal(p[1].tid, p[0].tid);
	assert_int_equal(p[1].ino, f->home);
	assert_int_equal(p[0].done, 1);
	assert_int_equal(p[1].done, 1);
}

static void
test_cancel(void **state)
{
	fx_t           *f = *state;
	char           *pin;
	result_t       *r    = f->r;
	probe_t        *mark = f->p;
	psb_netns_op_t *op   = NULL;
	psb_error_t     err  = PSB_ERROR_INIT;

	need_root();
	fx_prepare(f);
	// One thread, so the marker job completes after the canceled one.
	psb_worker_pool_free(f->pool);
	assert_int_equal(psb_worker_pool_new(f->loop, 1, &f->pool, &err), 0);

	pin = psb_netns_path(f->dir);
	assert_int_equal(
	        psb_netns_create(f->pool, pin, record_cb, &r[0], &op, &err),
	        0);
	assert_non_null(op);
	psb_netns_cancel(op);
	mark[1].done = 1; // probes_done waits for mark[0] only
	assert_int_equal(
	        psb_worker_submit(f->pool, probe_work, probe_done, &mark[0]),
	        0);
	assert_true(psb_test_run_until(f->loop, probes_done, mark, WAIT_MS));
	assert_int_equal(r[0].calls, 0);
	// The work itself was done.
	assert_true(psb_netns_pinned(pin));

	op = NULL;
	assert_int_equal(
	        psb_netns_remove(f->pool, pin, record_cb, &r[1], &op, &err),
	        0);
	psb_netns_cancel(op);
	mark[0].done = 0;
	assert_int_equal(
	        psb_worker_submit(f->pool, probe_work, probe_done, &mark[0]),
	        0);
	assert_true(psb_test_run_until(f->loop, probes_done, mark, WAIT_MS));
	assert_int_equal(r[1].calls, 0);
	assert_int_equal(access(pin, F_OK), -1);
	free(pin);
}

static void
test_many_in_flight(void **state)
{
	fx_t       *f = *state;
	char       *pins[NMANY];
	result_t   *r = f->r;
	ino_t       ino[NMANY];
	psb_error_t err = PSB_ERROR_INIT;

	need_root();
	fx_prepare(f);
	for (int i = 0; i < NMANY; i++) {
		pins[i] = psb_netns_path(f->dir);
		assert_int_equal(psb_netns_create(f->pool, pins[i], record_cb,
		                         &r[i], NULL, &err),
		        0);
	}
	for (int i = 0; i < NMANY; i++) {
		assert_int_equal(run_op(f, &r[i]), 0);
		assert_true(psb_netns_pinned(pins[i]));
		ino[i] = ns_ino(pins[i]);
		assert_int_not_equal(ino[i], f->home);
		for (int j = 0; j < i; j++) {
			assert_int_not_equal(ino[i], ino[j]);
		}
	}
	assert_int_equal(ns_ino(NS_SELF), f->home);
	memset(f->r, 0, sizeof(f->r));
	for (int i = 0; i < NMANY; i++) {
		assert_int_equal(psb_netns_remove(f->pool, pins[i], record_cb,
		                         &r[i], NULL, &err),
		        0);
	}
	for (int i = 0; i < NMANY; i++) {
		assert_int_equal(run_op(f, &r[i]), 0);
		assert_int_equal(access(pins[i], F_OK), -1);
		free(pins[i]);
	}
}

static void
late_cb(void *arg, int rc, const psb_error_t *err)
{
	late_t     *l = arg;
	psb_error_t e = PSB_ERROR_INIT;

	record_cb(&l->r, rc, err);
	l->again = psb_netns_remove(
	        l->f->pool, "/x/psb-0", record_cb, &l->r, NULL, &e);
	psb_error_release(&e);
}

static void
test_pool_free_finishes(void **state)
{
	fx_t       *f = *state;
	char       *pins[3];
	late_t     *l   = f->late;
	psb_error_t err = PSB_ERROR_INIT;

	need_root();
	fx_prepare(f);
	// Freed with three creates queued or running: each is finished,
	// and its callback runs inside psb_worker_pool_free, where no new
	// work is taken.
	for (int i = 0; i < 3; i++) {
		pins[i] = psb_netns_path(f->dir);
		l[i].f  = f;
		assert_int_equal(psb_netns_create(f->pool, pins[i], late_cb,
		                         &l[i], NULL, &err),
		        0);
	}
	psb_worker_pool_free(f->pool);
	f->pool = NULL;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(l[i].r.calls, 1);
		assert_int_equal(l[i].r.rc, 0);
		assert_int_equal(l[i].again, PSB_ESTATE);
		assert_true(psb_netns_pinned(pins[i]));
	}
	assert_true(psb_test_loop_is_clean(f->loop));

	assert_int_equal(psb_worker_pool_new(f->loop, 0, &f->pool, &err), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(remove_sync(f, pins[i]), 0);
		free(pins[i]);
	}
}

static void
test_pool_plain(void **state)
{
	fx_t    *f = *state;
	probe_t *p = f->p;

	// Any user: work runs off the loop thread, at home, and done on
	// the loop thread, never inside submit.
	assert_int_equal(
	        psb_worker_submit(f->pool, probe_work, probe_done, &p[0]), 0);
	assert_int_equal(
	        psb_worker_submit(f->pool, probe_work, NULL, &p[1]), 0);
	assert_int_equal(p[0].done, 0);
	p[1].done = 1; // it has no done callback: wait for p[0] only
	assert_true(psb_test_run_until(f->loop, probes_done, p, WAIT_MS));
	assert_int_equal(p[0].done, 1);
	assert_int_not_equal(p[0].tid, gettid());
	assert_int_equal(p[0].ino, f->home);
	// p[1] is borrowed until its work has run; free waits for that.
	psb_worker_pool_free(f->pool);
	f->pool = NULL;
	assert_int_not_equal(p[1].tid, 0);
	assert_int_not_equal(p[1].tid, gettid());
	assert_int_equal(p[1].ino, f->home);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_path),
	        cmocka_unit_test_setup_teardown(
	                test_bad_arguments, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_pool_plain, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_prepare_dir, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_prepare_dir_keeps_pins, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_create, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_create_idempotent, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_create_fails_cleanly, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_remove, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_remove_busy_retries, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_pinned, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_workers_return_home, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_pool_puts_thread_back, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_pool_retires_stranded_thread, fx_setup,
	                fx_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_cancel, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_many_in_flight, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_pool_free_finishes, fx_setup, fx_teardown),
	};

	umask(022); // the modes asserted are those asked for
	// Root, and a mount namespace of our own whose mounts never reach
	// the host (slave: the host's still reach us), or the tests that
	// need them skip.
	if (geteuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
	        mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) == 0) {
		privileged = true;
	} else {
		fprintf(stderr, "netns_test: not root (or no CAP_SYS_ADMIN): "
		                "the namespace tests skip\n");
	}
	return (psb_test_run_group(tests, NULL, NULL));
}
