//
// podsandboxd - e2e: sandbox image resolution (runtime/containerd/image.c)
// against a private containerd started by scripts/containerd.sh.
//
//   e2e_image_test HARNESS IMAGE_TAR IMAGE_NAME
//
// The group setup starts containerd in a fresh directory and imports the
// bundled pause image into namespace "podsandbox"; the group teardown
// stops it and removes the directory, whatever the tests did. The tests
// run in order: resolve the image (digests and chain id checked against
// the archive itself), resolve a missing name (FAILED_PRECONDITION with
// the exact import hint), then stop containerd and resolve again
// (UNAVAILABLE). Exits 77 (skip) when containerd cannot run here.
//

#include "tests/harness/testing.h"

#include <ev.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "base/alloc.h"
#include "runtime/containerd/image.h"
#include "runtime/grpc.h"

#define NS      "podsandbox"
#define WAIT_MS 10000

static const char *harness, *image_tar, *image_name;
static char        dir[256], sock[300];
static bool        started;

// What the archive says, read with tar + jansson, not with image.c.
static char want_manifest[80], want_config[80], want_layer[80];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	char    cmd[2048];
	va_list ap;
	int     rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return (rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc));
}

// tar_json reads member (a path in the archive) as JSON.
static json_t *
tar_json(const char *member)
{
	char    cmd[1024];
	FILE   *f;
	json_t *doc;

	snprintf(cmd, sizeof(cmd), "tar -xOf '%s' '%s'", image_tar, member);
	f = popen(cmd, "r");
	if (f == NULL) {
		return (NULL);
	}
	doc = json_loadf(f, 0, NULL);
	pclose(f);
	return (doc);
}

static int
read_archive(void)
{
	json_t *idx, *man;
	char    path[128];
	int     rc = -1;

	idx = tar_json("index.json");
	snprintf(want_manifest, sizeof(want_manifest), "%s",
	        json_string_value(json_object_get(
	                json_array_get(json_object_get(idx, "manifests"), 0),
	                "digest")));
	snprintf(path, sizeof(path), "blobs/sha256/%s", want_manifest + 7);
	man = tar_json(path);
	if (idx != NULL && man != NULL) {
		snprintf(want_config, sizeof(want_config), "%s",
		        json_string_value(json_object_get(
		                json_object_get(man, "config"), "digest")));
		// The layer is an uncompressed tar: its diff id is its digest.
		snprintf(want_layer, sizeof(want_layer), "%s",
		        json_string_value(json_object_get(
		                json_array_get(
		                        json_object_get(man, "layers"), 0),
		                "digest")));
		rc = 0;
	}
	json_decref(idx);
	json_decref(man);
	return (rc);
}

static int
group_setup(void **state)
{
	const char *base = getenv("PSB_TEST_TMPDIR");

	(void)state;
	// sun_path is 108 bytes: a deep build tree falls back to /tmp.
	if (base == NULL || strlen(base) > 60) {
		base = "/tmp";
	}
	// A run killed by ctest's timeout could not clean up: sweep what
	// such a run left (older than any timeout).
	sh("find '%s' -maxdepth 1 -name 'psbimg-*' -mmin +15 | while read -r "
	   "d; do bash '%s' stop \"$d\"; rm -rf \"$d\"; done",
	        base, harness);
	snprintf(dir, sizeof(dir), "%s/psbimg-XXXXXX", base);
	if (mkdtemp(dir) == NULL || read_archive() < 0) {
		return (-1);
	}
	snprintf(sock, sizeof(sock), "%s/containerd.sock", dir);
	started = true;
	if (sh("bash '%s' start '%s'", harness, dir) != 0 ||
	        sh("bash '%s' import '%s' '%s' %s '%s' >/dev/null", harness,
	                dir, image_tar, NS, image_name) != 0) {
		return (-1);
	}
	return (0);
}

static int
group_teardown(void **state)
{
	(void)state;
	if (started && sh("bash '%s' stop '%s'", harness, dir) != 0) {
		return (-1);
	}
	started = false;
	if (dir[0] != '\0') {
		sh("rm -rf '%s'", dir);
	}
	return (0);
}

// ---- one resolve on a fresh loop and client ---------------------------

typedef struct res {
	bool         done;
	psb_image_t *img;
	psb_error_t  err;
} res_t;

static void
res_cb(void *arg, psb_image_t *img, const psb_error_t *err)
{
	res_t *r = arg;

	r->done = true;
	r->img  = img;
	if (err != NULL) {
		r->err.code = err->code;
		r->err.msg  = xstrdup(psb_error_message(err));
	}
}

static bool
res_done(void *arg)
{
	return (((res_t *)arg)->done);
}

static void
resolve(const char *name, res_t *r)
{
	struct ev_loop        *loop = ev_loop_new(EVFLAG_AUTO);
	psb_grpc_opts_t        go   = {.ns = NS, .default_deadline_ms = 5000};
	psb_grpc_t            *g    = NULL;
	psb_error_t            err  = PSB_ERROR_INIT;
	const psb_image_opts_t io   = {
	          .loop        = loop,
	          .ns          = NS,
	          .address     = sock,
	          .import_path = image_tar,
        };

	memset(r, 0, sizeof(*r));
	assert_int_equal(psb_grpc_open(loop, sock, &go, &g, &err), PSB_OK);
	assert_int_equal(psb_image_resolve(g, name, &io, res_cb, r), PSB_OK);
	assert_false(r->done); // never inside the call
	assert_true(psb_test_run_until(
	        loop, res_done, r, WAIT_MS * psb_test_timeout_multiplier()));
	psb_grpc_close(g);
	assert_true(psb_test_loop_is_clean(loop));
	ev_loop_destroy(loop);
}

// ---- tests ---------------------------------------------------------------

static void
test_resolve_pause(void **state)
{
	res_t r;

	(void)state;
	resolve(image_name, &r);
	if (r.img == NULL) {
		fail_msg("resolve failed: %s: %s", psb_errname(r.err.code),
		        r.err.msg);
	}
	printf("# %s\n#   target %s\n#   config %s\n#   chain  %s\n",
	        r.img->name, r.img->target_digest, r.img->config_digest,
	        r.img->chain_id);
	assert_string_equal(r.img->name, image_name);
	// ctr import of an archive naming a manifest targets that manifest.
	assert_string_equal(r.img->target_digest, want_manifest);
	assert_string_equal(r.img->manifest_digest, want_manifest);
	// Read and verified against this digest by the resolver.
	assert_string_equal(r.img->config_digest, want_config);
	// One layer: the chain id is its diff id.
	assert_string_equal(r.img->chain_id, want_layer);
	assert_non_null(r.img->entrypoint);
	assert_string_equal(r.img->entrypoint[0], "/pause");
	assert_null(r.img->entrypoint[1]);
	assert_null(r.img->cmd[0]);
	assert_string_equal(r.img->os, "linux");
	assert_string_equal(r.img->arch, psb_image_host_arch());
	assert_string_equal(r.img->labels, "{}");
	psb_image_free(r.img);
}

static void
test_resolve_missing(void **state)
{
	const char *name = "localhost/podsandboxd/no-such-image:0";
	char        want[1024];
	res_t       r;

	(void)state;
	resolve(name, &r);
	assert_null(r.img);
	assert_int_equal(r.err.code, PSB_ESTATE);
	snprintf(want, sizeof(want),
	        "sandbox image \"%s\" is not in containerd namespace \"%s\": "
	        "import it with: ctr --address %s -n %s images import %s",
	        name, NS, sock, NS, image_tar);
	assert_string_equal(r.err.msg, want);
	printf("# %s\n", r.err.msg);
	psb_error_release(&r.err);
}

static void
test_resolve_unavailable(void **state)
{
	res_t r;

	(void)state;
	assert_int_equal(sh("bash '%s' stop '%s'", harness, dir), 0);
	started = false;
	resolve(image_name, &r);
	assert_null(r.img);
	assert_int_equal(r.err.code, PSB_EUNAVAIL);
	printf("# %s\n", r.err.msg);
	psb_error_release(&r.err);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_resolve_pause),
	        cmocka_unit_test(test_resolve_missing),
	        cmocka_unit_test(test_resolve_unavailable),
	};

	if (argc != 4) {
		fprintf(stderr, "usage: %s HARNESS IMAGE_TAR IMAGE_NAME\n",
		        argv[0]);
		return (2);
	}
	harness    = argv[1];
	image_tar  = argv[2];
	image_name = argv[3];
	if (sh("bash '%s' check", harness) != 0) {
		printf("SKIP - containerd cannot run here\n");
		return (77);
	}
	return (psb_test_run_group(tests, group_setup, group_teardown));
}
