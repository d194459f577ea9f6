//
// podsandboxd - runtime/containerd/bundle.c: which leftover task bundles
// the daemon removes, and how.
//

#include "tests/harness/testing.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/containerd/bundle.h"
#include "runtime/net/worker.h"

static void
test_which_message(void **state)
{
	char *p;

	(void)state;
	p = ctrd_stale_bundle(
	        "failed to start shim: mkdir /run/containerd/io.containerd."
	        "runtime.v2.task/podsandbox/sb-1: file exists",
	        "podsandbox", "sb-1");
	assert_non_null(p);
	assert_string_equal(p, "/run/containerd/io.containerd.runtime.v2.task/"
	                       "podsandbox/sb-1");
	free(p);
	// Another id, another namespace, another error, another directory,
	// a relative or dotted path: not ours to touch.
	assert_null(ctrd_stale_bundle(
	        "mkdir /s/io.containerd.runtime.v2.task/podsandbox/sb-2: file "
	        "exists",
	        "podsandbox", "sb-1"));
	assert_null(ctrd_stale_bundle(
	        "mkdir /s/io.containerd.runtime.v2.task/k8s.io/sb-1: file "
	        "exists",
	        "podsandbox", "sb-1"));
	assert_null(ctrd_stale_bundle(
	        "mkdir /s/io.containerd.runtime.v2.task/podsandbox/sb-1: "
	        "permission denied",
	        "podsandbox", "sb-1"));
	assert_null(ctrd_stale_bundle("mkdir /s/other/podsandbox/sb-1: file "
	                              "exists",
	        "podsandbox", "sb-1"));
	assert_null(ctrd_stale_bundle(
	        "mkdir s/io.containerd.runtime.v2.task/podsandbox/sb-1: file "
	        "exists",
	        "podsandbox", "sb-1"));
	assert_null(ctrd_stale_bundle(
	        "mkdir /s/../io.containerd.runtime.v2.task/podsandbox/sb-1: "
	        "file exists",
	        "podsandbox", "sb-1"));
	assert_null(ctrd_stale_bundle(
	        "mkdir /io.containerd.runtime.v2.task/podsandbox/x/sb-1: file "
	        "exists",
	        "podsandbox", "x/sb-1"));
	assert_null(ctrd_stale_bundle(NULL, "podsandbox", "sb-1"));
}

typedef struct outcome {
	bool done;
	int  rc;
	char why[600];
} outcome_t;

static void
removed(void *arg, int rc, const char *why)
{
	outcome_t *o = arg;

	o->done = true;
	o->rc   = rc;
	snprintf(o->why, sizeof(o->why), "%s", why != NULL ? why : "");
}

static bool
is_done(void *arg)
{
	return (((outcome_t *)arg)->done);
}

static outcome_t
remove_it(struct ev_loop *loop, psb_worker_pool_t *pool, const char *path)
{
	outcome_t o = {0};

	assert_int_equal(ctrd_bundle_remove(pool, path, removed, &o, NULL), 0);
	assert_true(psb_test_run_until(loop, is_done, &o, 5000));
	return (o);
}

static void
touch(const char *dir, const char *name)
{
	char  p[1024];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_non_null(f = fopen(p, "w"));
	fclose(f);
}

static void
test_removal(void **state)
{
	struct ev_loop    *loop = ev_loop_new(EVFLAG_AUTO);
	psb_worker_pool_t *pool = NULL;
	const char        *tmp  = psb_test_tmpdir("bundle");
	char               b[700], sub[800], link[800];
	outcome_t          o;
	psb_error_t        err = PSB_ERROR_INIT;
	struct stat        st;

	(void)state;
	assert_int_equal(psb_worker_pool_new(loop, 1, &pool, &err), 0);
	// A leftover: removed with everything in it.
	snprintf(b, sizeof(b), "%s/left", tmp);
	snprintf(sub, sizeof(sub), "%s/rootfs", b);
	assert_int_equal(mkdir(b, 0700), 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	touch(b, "config.json");
	touch(sub, "f");
	o = remove_it(loop, pool, b);
	assert_int_equal(o.rc, 0);
	assert_int_equal(stat(b, &st), -1);
	// Already gone: success.
	o = remove_it(loop, pool, b);
	assert_int_equal(o.rc, 0);
	// A shim's address: refused and left alone.
	assert_int_equal(mkdir(b, 0700), 0);
	touch(b, "address");
	o = remove_it(loop, pool, b);
	assert_int_equal(o.rc, PSB_EBUSY);
	assert_non_null(strstr(o.why, "address"));
	assert_int_equal(stat(b, &st), 0);
	// A symlink in its place: refused, and its target untouched.
	snprintf(link, sizeof(link), "%s/link", tmp);
	assert_int_equal(symlink(b, link), 0);
	o = remove_it(loop, pool, link);
	assert_int_equal(o.rc, PSB_ERUNTIME);
	assert_non_null(strstr(o.why, "not a directory"));
	assert_int_equal(stat(b, &st), 0);
	psb_worker_pool_free(pool);
	ev_loop_destroy(loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_which_message),
	        cmocka_unit_test(test_removal),
	};

	return (psb_test_run_group(tests, NULL, NULL));
}
