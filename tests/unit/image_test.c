//
// podsandboxd - tests for the pure parts of the image resolver
// (runtime/containerd/image.c): chain ids, digest checks, and index,
// manifest and config parsing with platform selection. The resolve over
// gRPC is covered by tests/e2e/image_test.c against a real containerd.
//
// Expected chain ids were computed independently with python3:
//   d = ["sha256:" + sha256(x).hexdigest() for x in "layer1".."layer3"]
//   c = d[0]; c = "sha256:" + sha256(c + " " + d[i]).hexdigest() ...
//

#include "tests/harness/testing.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "runtime/containerd/image.h"

#define L1        \
	"sha256:" \
	"77ea7eee3d80b1a38f83906dd3048e2689457eb90e18a7d12f839c5ae37106a2"
#define L2        \
	"sha256:" \
	"95cf1a2e1698fe3ca1fcc3f653119146b271d0b62e487ec264441e886a11bd06"
#define L3        \
	"sha256:" \
	"a0e70458d19e37e14d6388030a017c587283e2fb6ef10c0744cad0294c47e8f8"
#define C12       \
	"sha256:" \
	"9c7a0b8937394482a0afcc4bef0ca0aba0d74084bd9f60198ec7fac434e5436d"
#define C123      \
	"sha256:" \
	"1512378f2edc09c9e21c7511cc1aaf7c6d42d3b6ff301027b8527b8b23c3ce70"
// sha256("hello\n")
#define HELLO     \
	"sha256:" \
	"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"

#define DA        \
	"sha256:" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DB        \
	"sha256:" \
	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DC        \
	"sha256:" \
	"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define DD        \
	"sha256:" \
	"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define DE        \
	"sha256:" \
	"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"

// assert_err checks code and that the message contains want.
static void
assert_err(psb_error_t *err, int rv, int code, const char *want)
{
	assert_int_equal(rv, code);
	assert_int_equal(err->code, code);
	if (strstr(psb_error_message(err), want) == NULL) {
		fail_msg("message \"%s\" lacks \"%s\"", psb_error_message(err),
		        want);
	}
	psb_error_release(err);
}

static int
parse(const char *json, psb_image_kind kind, const char *arch,
        psb_image_desc_t *d, psb_error_t *err)
{
	if (kind == PSB_IMAGE_KIND_INDEX) {
		return (psb_image_parse_index(
		        json, strlen(json), DA, arch, d, err));
	}
	return (psb_image_parse_manifest(json, strlen(json), DA, d, err));
}

// ---- chain id and digests ----------------------------------------------

static void
test_chain_id_single(void **state)
{
	const char *ids[] = {L1};
	char        out[PSB_IMAGE_DIGEST_LEN + 1];
	psb_error_t err = PSB_ERROR_INIT;

	(void)state;
	assert_int_equal(psb_image_chain_id(ids, 1, out, &err), PSB_OK);
	assert_string_equal(out, L1);
	assert_null(err.msg);
}

static void
test_chain_id_layers(void **state)
{
	const char *ids[] = {L1, L2, L3};
	char        out[PSB_IMAGE_DIGEST_LEN + 1];
	psb_error_t err = PSB_ERROR_INIT;

	(void)state;
	assert_int_equal(psb_image_chain_id(ids, 2, out, &err), PSB_OK);
	assert_string_equal(out, C12);
	assert_int_equal(psb_image_chain_id(ids, 3, out, &err), PSB_OK);
	assert_string_equal(out, C123);
}

static void
test_chain_id_bad(void **state)
{
	const char *bad[]   = {L1, "sha256:77ea"};
	const char *upper[] = {
	        "sha256:77EA7EEE3D80B1A38F83906DD3048E2689457EB9"
	        "0E18A7D12F839C5AE37106A2"};
	const char *algo[] = {"sha512:77ea7eee3d80b1a38f83906dd3048e268945"
	                      "7eb90e18a7d12f839c5ae37106a2"};
	char        out[PSB_IMAGE_DIGEST_LEN + 1];
	psb_error_t err = PSB_ERROR_INIT;

	(void)state;
	assert_err(&err, psb_image_chain_id(bad, 0, out, &err), PSB_ERUNTIME,
	        "no layers");
	assert_err(&err, psb_image_chain_id(bad, 2, out, &err), PSB_ERUNTIME,
	        "diff id 2 \"sha256:77ea\"");
	assert_err(&err, psb_image_chain_id(upper, 1, out, &err), PSB_ERUNTIME,
	        "not a sha256 digest");
	assert_err(&err, psb_image_chain_id(algo, 1, out, &err), PSB_ERUNTIME,
	        "not a sha256 digest");
}

static void
test_verify(void **state)
{
	psb_error_t err = PSB_ERROR_INIT;

	(void)state;
	assert_int_equal(psb_image_verify(HELLO, "hello\n", 6, &err), PSB_OK);
	assert_null(err.msg);
	// One byte less: the digest no longer matches, and both are named.
	assert_err(&err, psb_image_verify(HELLO, "hello", 5, &err),
	        PSB_ERUNTIME, "blob " HELLO ": content does not match");
	assert_err(&err, psb_image_verify(DA, "hello\n", 6, &err),
	        PSB_ERUNTIME, "hash to " HELLO);
	assert_err(&err, psb_image_verify("md5:abc", "x", 1, &err),
	        PSB_ERUNTIME, "md5:abc: not a sha256 digest");
	assert_err(&err, psb_image_verify(NULL, "x", 1, &err), PSB_ERUNTIME,
	        "not a sha256 digest");
}

static void
test_kind_of(void **state)
{
	(void)state;
	assert_int_equal(
	        psb_image_kind_of(PSB_MT_OCI_INDEX), PSB_IMAGE_KIND_INDEX);
	assert_int_equal(
	        psb_image_kind_of(PSB_MT_DOCKER_LIST), PSB_IMAGE_KIND_INDEX);
	assert_int_equal(psb_image_kind_of(PSB_MT_OCI_MANIFEST),
	        PSB_IMAGE_KIND_MANIFEST);
	assert_int_equal(psb_image_kind_of(PSB_MT_DOCKER_MANIFEST),
	        PSB_IMAGE_KIND_MANIFEST);
	assert_int_equal(
	        psb_image_kind_of(PSB_MT_OCI_CONFIG), PSB_IMAGE_KIND_CONFIG);
	assert_int_equal(psb_image_kind_of(PSB_MT_DOCKER_CONFIG),
	        PSB_IMAGE_KIND_CONFIG);
	assert_int_equal(psb_image_kind_of("application/vnd.oci.image.layer."
	                                   "v1.tar"),
	        PSB_IMAGE_KIND_UNKNOWN);
	assert_int_equal(psb_image_kind_of(NULL), PSB_IMAGE_KIND_UNKNOWN);
}

// ---- index -------------------------------------------------------------

// An index as registries serve it: an attestation manifest first (no
// real platform), a Windows entry, then linux ones.
static const char index_json[] =
        "{\"schemaVersion\":2,\"mediaType\":\"" PSB_MT_OCI_INDEX "\","
        "\"manifests\":["
        "{\"mediaType\":\"" PSB_MT_OCI_MANIFEST "\",\"digest\":\"" DE "\","
        "\"size\":10,\"platform\":{\"architecture\":\"unknown\","
        "\"os\":\"unknown\"}},"
        "{\"mediaType\":\"" PSB_MT_OCI_MANIFEST "\",\"digest\":\"" DD "\","
        "\"size\":11,\"platform\":{\"architecture\":\"amd64\","
        "\"os\":\"windows\"}},"
        "{\"mediaType\":\"" PSB_MT_OCI_MANIFEST "\",\"digest\":\"" DB "\","
        "\"size\":12,\"platform\":{\"architecture\":\"amd64\","
        "\"os\":\"linux\"}},"
        "{\"mediaType\":\"" PSB_MT_OCI_MANIFEST "\",\"digest\":\"" DC "\","
        "\"size\":13,\"platform\":{\"architecture\":\"arm\","
        "\"os\":\"linux\",\"variant\":\"v7\"}},"
        "{\"mediaType\":\"" PSB_MT_OCI_MANIFEST "\",\"digest\":\"" DA "\","
        "\"size\":14,\"platform\":{\"architecture\":\"arm64\","
        "\"os\":\"linux\",\"variant\":\"v8\"}}]}";

static void
test_index_platform(void **state)
{
	psb_image_desc_t d;
	psb_error_t      err = PSB_ERROR_INIT;

	(void)state;
	assert_int_equal(
	        parse(index_json, PSB_IMAGE_KIND_INDEX, "amd64", &d, &err),
	        PSB_OK);
	assert_string_equal(d.digest, DB); // not the windows one
	assert_string_equal(d.media_type, PSB_MT_OCI_MANIFEST);
	assert_int_equal(d.size, 12);
	// No variant asked: any variant matches.
	assert_int_equal(
	        parse(index_json, PSB_IMAGE_KIND_INDEX, "arm64", &d, &err),
	        PSB_OK);
	assert_string_equal(d.digest, DA);
	assert_int_equal(
	        parse(index_json, PSB_IMAGE_KIND_INDEX, "arm/v7", &d, &err),
	        PSB_OK);
	assert_string_equal(d.digest, DC);
	assert_int_equal(d.size, 13);
	// "arm" must not match "arm64", nor a variant another one.
	assert_err(&err,
	        parse(index_json, PSB_IMAGE_KIND_INDEX, "arm/v6", &d, &err),
	        PSB_ERUNTIME,
	        "blob " DA ": index has no manifest for "
	        "platform linux/arm/v6");
	assert_err(&err,
	        parse(index_json, PSB_IMAGE_KIND_INDEX, "s390x", &d, &err),
	        PSB_ERUNTIME, "linux/s390x");
}

static void
test_index_docker_list(void **state)
{
	static const char list[] =
	        "{\"schemaVersion\":2,\"mediaType\":\"" PSB_MT_DOCKER_LIST
	        "\","
	        "\"manifests\":[{\"mediaType\":\"" PSB_MT_DOCKER_MANIFEST "\","
	        "\"digest\":\"" DB "\",\"size\":527,\"platform\":{"
	        "\"architecture\":\"amd64\",\"os\":\"linux\"}}]}";
	psb_image_desc_t d;
	psb_error_t      err = PSB_ERROR_INIT;

	(void)state;
	assert_int_equal(
	        parse(list, PSB_IMAGE_KIND_INDEX, "amd64", &d, &err), PSB_OK);
	assert_string_equal(d.digest, DB);
	assert_string_equal(d.media_type, PSB_MT_DOCKER_MANIFEST);
	assert_int_equal(d.size, 527);
}

static void
test_index_bad(void **state)
{
	psb_image_desc_t d;
	psb_error_t      err = PSB_ERROR_INIT;

	(void)state;
	assert_err(&err,
	        parse("{\"manifests\":", PSB_IMAGE_KIND_INDEX, "amd64", &d,
	                &err),
	        PSB_ERUNTIME, "blob " DA ": malformed JSON");
	assert_err(&err, parse("[]", PSB_IMAGE_KIND_INDEX, "amd64", &d, &err),
	        PSB_ERUNTIME, "not a JSON object");
	assert_err(&err, parse("{}", PSB_IMAGE_KIND_INDEX, "amd64", &d, &err),
	        PSB_ERUNTIME, "no manifests array");
	// A manifest where an index was promised.
	assert_err(&err,
	        parse("{\"mediaType\":\"" PSB_MT_OCI_MANIFEST
	              "\",\"manifests\":[]}",
	                PSB_IMAGE_KIND_INDEX, "amd64", &d, &err),
	        PSB_ERUNTIME, "is not what its descriptor says");
	// The matching entry has a digest of another algorithm.
	assert_err(&err,
	        parse("{\"manifests\":[{\"mediaType\":\"" PSB_MT_OCI_MANIFEST
	              "\",\"digest\":\"sha512:00\",\"size\":1,\"platform\":{"
	              "\"architecture\":\"amd64\",\"os\":\"linux\"}}]}",
	                PSB_IMAGE_KIND_INDEX, "amd64", &d, &err),
	        PSB_ERUNTIME, "manifest digest \"sha512:00\"");
	// Duplicate keys are refused (two parsers could disagree).
	assert_err(&err,
	        parse("{\"manifests\":[],\"manifests\":[]}",
	                PSB_IMAGE_KIND_INDEX, "amd64", &d, &err),
	        PSB_ERUNTIME, "malformed JSON");
}

// ---- manifest -----------------------------------------------------------

static void
test_manifest(void **state)
{
	static const char oci[] =
	        "{\"schemaVersion\":2,\"mediaType\":\"" PSB_MT_OCI_MANIFEST
	        "\",\"config\":{\"mediaType\":\"" PSB_MT_OCI_CONFIG
	        "\",\"digest\":\"" DB "\",\"size\":321},\"layers\":[{"
	        "\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
	        "\"digest\":\"" DC "\",\"size\":4096}]}";
	// Docker's schema 2 always names its media type.
	static const char docker[] =
	        "{\"schemaVersion\":2,\"mediaType\":\"" PSB_MT_DOCKER_MANIFEST
	        "\",\"config\":{\"mediaType\":\"" PSB_MT_DOCKER_CONFIG
	        "\",\"digest\":\"" DD "\",\"size\":1469},\"layers\":[{"
	        "\"mediaType\":\"application/vnd.docker.image.rootfs.diff."
	        "tar.gzip\",\"digest\":\"" DC "\",\"size\":772}]}";
	psb_image_desc_t d;
	psb_error_t      err = PSB_ERROR_INIT;

	(void)state;
	assert_int_equal(
	        parse(oci, PSB_IMAGE_KIND_MANIFEST, NULL, &d, &err), PSB_OK);
	assert_string_equal(d.digest, DB);
	assert_string_equal(d.media_type, PSB_MT_OCI_CONFIG);
	assert_int_equal(d.size, 321);
	assert_int_equal(
	        parse(docker, PSB_IMAGE_KIND_MANIFEST, NULL, &d, &err),
	        PSB_OK);
	assert_string_equal(d.digest, DD);
	assert_string_equal(d.media_type, PSB_MT_DOCKER_CONFIG);
}

static void
test_manifest_bad(void **state)
{
	psb_image_desc_t d;
	psb_error_t      err = PSB_ERROR_INIT;

	(void)state;
	assert_err(&err, parse("{}", PSB_IMAGE_KIND_MANIFEST, NULL, &d, &err),
	        PSB_ERUNTIME, "blob " DA ": config has no usable mediaType");
	// A config descriptor pointing at something that is not a config.
	assert_err(&err,
	        parse("{\"config\":{\"mediaType\":\"" PSB_MT_OCI_MANIFEST
	              "\",\"digest\":\"" DB "\",\"size\":3},\"layers\":[1]}",
	                PSB_IMAGE_KIND_MANIFEST, NULL, &d, &err),
	        PSB_ERUNTIME, "config " DB " has media type");
	assert_err(&err,
	        parse("{\"config\":{\"mediaType\":\"" PSB_MT_OCI_CONFIG
	              "\",\"digest\":\"" DB "\",\"size\":-1},\"layers\":[1]}",
	                PSB_IMAGE_KIND_MANIFEST, NULL, &d, &err),
	        PSB_ERUNTIME, "has no valid size");
	assert_err(&err,
	        parse("{\"config\":{\"mediaType\":\"" PSB_MT_OCI_CONFIG
	              "\",\"digest\":\"" DB "\",\"size\":3},\"layers\":[]}",
	                PSB_IMAGE_KIND_MANIFEST, NULL, &d, &err),
	        PSB_ERUNTIME, "manifest has no layers");
	// An index where a manifest was promised.
	assert_err(&err,
	        parse("{\"mediaType\":\"" PSB_MT_OCI_INDEX "\"}",
	                PSB_IMAGE_KIND_MANIFEST, NULL, &d, &err),
	        PSB_ERUNTIME, "is not what its descriptor says");
}

// ---- config -------------------------------------------------------------

static void
test_config(void **state)
{
	static const char cfg[] =
	        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
	        "\"Entrypoint\":[\"/pause\",\"-v\"],\"Cmd\":[\"x\"],"
	        "\"Env\":[\"PATH=/bin\",\"A=b c\"],\"WorkingDir\":\"/w\","
	        "\"User\":\"65535:65535\",\"Labels\":{\"z\":\"1\",\"a\":\"2\"}"
	        "},"
	        "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" L1
	        "\",\"" L2 "\",\"" L3 "\"]}}";
	psb_image_t *img = calloc(1, sizeof(*img));
	psb_error_t  err = PSB_ERROR_INIT;

	(void)state;
	assert_int_equal(
	        psb_image_parse_config(cfg, strlen(cfg), DA, img, &err),
	        PSB_OK);
	assert_string_equal(img->chain_id, C123);
	assert_string_equal(img->entrypoint[0], "/pause");
	assert_string_equal(img->entrypoint[1], "-v");
	assert_null(img->entrypoint[2]);
	assert_string_equal(img->cmd[0], "x");
	assert_null(img->cmd[1]);
	assert_string_equal(img->env[1], "A=b c");
	assert_null(img->env[2]);
	assert_string_equal(img->working_dir, "/w");
	assert_string_equal(img->user, "65535:65535");
	assert_string_equal(img->labels, "{\"a\":\"2\",\"z\":\"1\"}");
	assert_string_equal(img->os, "linux");
	assert_string_equal(img->arch, "amd64");
	psb_image_free(img);
}

// The pause image's own config (tools/pause/oci-pack.c): no Cmd, Env,
// Labels; one layer, so the chain id is that layer's diff id.
static void
test_config_minimal(void **state)
{
	static const char cfg[] =
	        "{\"architecture\":\"amd64\",\"config\":{\"Entrypoint\":["
	        "\"/pause\"],\"Cmd\":null},\"os\":\"linux\",\"rootfs\":{"
	        "\"diff_ids\":[\"" L1 "\"],\"type\":\"layers\"}}";
	psb_image_t *img = calloc(1, sizeof(*img));
	psb_error_t  err = PSB_ERROR_INIT;

	(void)state;
	assert_int_equal(
	        psb_image_parse_config(cfg, strlen(cfg), DA, img, &err),
	        PSB_OK);
	assert_string_equal(img->chain_id, L1);
	assert_string_equal(img->entrypoint[0], "/pause");
	assert_null(img->entrypoint[1]);
	assert_null(img->cmd[0]);
	assert_null(img->env[0]);
	assert_string_equal(img->working_dir, "");
	assert_string_equal(img->user, "");
	assert_string_equal(img->labels, "{}");
	// Parsing again over a filled image replaces, not leaks.
	assert_int_equal(
	        psb_image_parse_config(cfg, strlen(cfg), DA, img, &err),
	        PSB_OK);
	psb_image_free(img);
}

static void
test_config_bad(void **state)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
	        {"{}", "no usable rootfs.diff_ids (0 entries)"},
	        {"{\"rootfs\":{\"diff_ids\":[]}}",
	                "no usable rootfs.diff_ids"},
	        {"{\"rootfs\":{\"diff_ids\":[\"sha256:1\"]}}",
	                "diff id 1 \"sha256:1\""},
	        {"{\"rootfs\":{\"diff_ids\":[\"" L1 "\"]},\"config\":{\"Env\":"
	         "[\"A=1\",2]}}",
	                "config.Env[1] is not a string"},
	        {"{\"rootfs\":{\"diff_ids\":[\"" L1 "\"]},\"config\":{"
	         "\"Entrypoint\":\"/pause\"}}",
	                "config.Entrypoint is not an array"},
	        {"{\"rootfs\":{\"diff_ids\":[\"" L1
	         "\"]},\"config\":{\"User\":"
	         "0}}",
	                "config.User is not a string"},
	        {"{\"rootfs\":{\"diff_ids\":[\"" L1 "\"]},\"config\":{"
	         "\"Labels\":[]}}",
	                "config.Labels is not an object"},
	        {"{\"rootfs\":{\"diff_ids\":[\"" L1 "\"]},\"config\":7}",
	                "config is not an object"},
	        {"{\"rootfs\":", "malformed JSON"},
	};
	psb_error_t err = PSB_ERROR_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		psb_image_t *img = calloc(1, sizeof(*img));
		int          rv  = psb_image_parse_config(
		                  cases[i].json, strlen(cases[i].json), DB, img, &err);

		// Every message names the blob.
		assert_err(&err, rv, PSB_ERUNTIME, "blob " DB);
		assert_int_equal(psb_image_parse_config(cases[i].json,
		                         strlen(cases[i].json), DB, img, &err),
		        PSB_ERUNTIME);
		assert_err(&err, PSB_ERUNTIME, PSB_ERUNTIME, cases[i].want);
		psb_image_free(img);
	}
}

static void
test_host_arch(void **state)
{
	const char *a = psb_image_host_arch();

	(void)state;
	assert_non_null(a);
	assert_true(strcmp(a, "x86_64") != 0 && strcmp(a, "aarch64") != 0);
	psb_image_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_chain_id_single),
	        cmocka_unit_test(test_chain_id_layers),
	        cmocka_unit_test(test_chain_id_bad),
	        cmocka_unit_test(test_verify),
	        cmocka_unit_test(test_kind_of),
	        cmocka_unit_test(test_index_platform),
	        cmocka_unit_test(test_index_docker_list),
	        cmocka_unit_test(test_index_bad),
	        cmocka_unit_test(test_manifest),
	        cmocka_unit_test(test_manifest_bad),
	        cmocka_unit_test(test_config),
	        cmocka_unit_test(test_config_minimal),
	        cmocka_unit_test(test_config_bad),
	        cmocka_unit_test(test_host_arch),
	};

	return (psb_test_run_group(tests, NULL, NULL));
}
