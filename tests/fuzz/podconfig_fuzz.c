//
// podsandboxd - crictl pod-config JSON, from the client's text to the pause
// container's OCI spec (STYLE.md practice 21).
//
// codec_fuzz.c tries each input as JSON too, but its corpus is protobuf,
// and libFuzzer rarely mutates that into JSON that gets past the first
// keys. This target reads every input as a crictl pod config and follows
// it the whole way a config goes:
//
//   1. psb_pbjson_config_from_json (what psb_config_from_json, the client
//      library's entry point, runs on the text): refused with a message,
//      or a config whose packed bytes unpack to the same JSON;
//   2. those bytes in a Create through psb_codec_decode_request, as the
//      daemon receives them: refused with PSB_EINVAL, or accepted with a
//      canonical config whose crictl JSON (config_json) is what
//      psb_codec_config_json renders from the stored bytes, and reads back
//      to exactly those bytes;
//   3. that config_json through psb_spec_build, the containerd backend's
//      reader of the same JSON: a spec that is a JSON object, or
//      PSB_EINVAL/PSB_ENOTSUP with a message.
//
// Seccomp Localhost profiles are files: every absolute profile path is
// pointed at one small profile this target writes, so that an input can
// never make the spec builder read /dev/stdin or the like.
//

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "podsandbox.pb-c.h"
#include "runtime/containerd/spec.h"
#include "transport/codec.h"
#include "transport/config_json.h"

// A small RuntimeDefault/Localhost profile with the parts the converter
// filters on (archMap, includes/excludes by caps and kernel).
static const char fz_profile[] =
        "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,"
        "\"archMap\":[{\"architecture\":\"SCMP_ARCH_X86_64\","
        "\"subArchitectures\":[\"SCMP_ARCH_X86\"]},{\"architecture\":"
        "\"SCMP_ARCH_AARCH64\",\"subArchitectures\":[\"SCMP_ARCH_ARM\"]}],"
        "\"syscalls\":[{\"names\":[\"read\",\"write\",\"pause\"],"
        "\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":[\"bpf\"],\"action\":"
        "\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SYS_ADMIN\"]}},"
        "{\"names\":[\"clone3\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":"
        "38,\"excludes\":{\"caps\":[\"CAP_SYS_ADMIN\"],\"minKernel\":"
        "\"5.3\"}},{\"names\":[\"personality\"],\"action\":"
        "\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":0,\"op\":"
        "\"SCMP_CMP_EQ\"}],\"includes\":{\"arches\":[\"amd64\"]}}]}";

static json_t *fz_default;           // fz_profile, parsed once
static char    fz_profile_path[256]; // fz_profile, as a file
static char    fz_profile_ref[300];  // "localhost/" + that path

static void
fz_cleanup(void)
{
	if (fz_profile_path[0] != '\0') {
		unlink(fz_profile_path);
		rmdir(fz_scratch("podconfig"));
	}
}

static void
fz_init(void)
{
	FILE *f;

	if (fz_default != NULL) {
		return;
	}
	fz_default = json_loads(fz_profile, 0, NULL);
	FZ_CHECK(fz_default != NULL);
	snprintf(fz_profile_path, sizeof(fz_profile_path), "%s/profile.json",
	        fz_scratch("podconfig"));
	snprintf(fz_profile_ref, sizeof(fz_profile_ref), "localhost/%s",
	        fz_profile_path);
	f = fopen(fz_profile_path, "w");
	FZ_CHECK(f != NULL);
	FZ_CHECK(fputs(fz_profile, f) >= 0 && fclose(f) == 0);
	atexit(fz_cleanup);
}

// fz_pin_profile points an absolute Localhost profile path (with or
// without "localhost/") at the one profile file; other values stay, so
// the builder's own checks of them still run.
static void
fz_pin_profile(json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));

	if (v == NULL) {
		return;
	}
	if (v[0] == '/') {
		json_object_set_new(obj, key, json_string(fz_profile_path));
	} else if (strncmp(v, "localhost/", 10) == 0 && v[10] == '/') {
		json_object_set_new(obj, key, json_string(fz_profile_ref));
	}
}

static void
fz_spec(const char *config_json, const uint8_t *data, size_t size)
{
	psb_spec_input_t in;
	json_t          *cfg = json_loads(config_json, 0, NULL);
	json_t          *sc, *doc;
	psb_error_t      err    = PSB_ERROR_INIT;
	char            *spec   = NULL;
	const char      *env[]  = {"PATH=/usr/bin", "LANG=C"};
	const char      *cmd[]  = {"/pause"};
	const char      *pats[] = {"io.kubernetes.*", "[", "*"};
	uint8_t          k      = size > 0 ? data[size - 1] : 0;
	int              rv;

	FZ_CHECK(json_is_object(cfg));
	sc = json_object_get(
	        json_object_get(cfg, "linux"), "security_context");
	fz_pin_profile(json_object_get(sc, "seccomp"), "localhost_ref");
	fz_pin_profile(sc, "seccomp_profile_path");

	// The daemon's own settings vary with the input's last byte, so the
	// corpus reaches the SELinux, cgroup and user namespace branches.
	psb_spec_input_init(&in);
	in.sandbox_id            = "fz-sandbox";
	in.config                = cfg;
	in.image.cmd             = cmd;
	in.image.n_cmd           = 1;
	in.image.env             = env;
	in.image.n_env           = 2;
	in.image.user            = (k & 1) ? "65535:65535" : NULL;
	in.resolv_conf_path      = (k & 2) ? "/fz/resolv.conf" : NULL;
	in.shm_path              = (k & 4) ? "/fz/shm" : NULL;
	in.netns_path            = (k & 8) ? "/var/run/netns/fz" : NULL;
	in.selinux_enabled       = (k & 16) != 0;
	in.disable_cgroup        = (k & 32) != 0;
	in.in_user_namespace     = (k & 64) != 0;
	in.annotation_patterns   = pats;
	in.n_annotation_patterns = (k & 128) ? 3 : 0;
	in.daemon_oom_score_adj  = (k & 128) ? -500 : -1000;
	in.seccomp_default       = fz_default;
	in.host_machine          = "x86_64";
	in.host_kernel_release   = "6.1.0-18-amd64";
	rv                       = psb_spec_build(&in, &spec, &err);
	json_decref(cfg);
	FZ_NOTE("spec: %s\n", rv == 0 ? "built" : err.msg);
	if (rv != 0) {
		FZ_CHECK(spec == NULL);
		FZ_CHECK(rv == PSB_EINVAL || rv == PSB_ENOTSUP);
		FZ_CHECK(err.code == rv && err.msg != NULL);
		psb_error_release(&err);
		return;
	}
	FZ_CHECK(err.msg == NULL && spec != NULL);
	doc = json_loads(spec, 0, NULL);
	FZ_CHECK(json_is_object(doc));
	FZ_CHECK(json_is_object(json_object_get(doc, "process")));
	json_decref(doc);
	free(spec);
}

// fz_stored checks what the codec stores for an accepted Create: the
// crictl JSON is what the stored bytes render to, and reads back to the
// very same bytes (the canonical form is a fixed point).
static void
fz_stored(const psb_request_t *req)
{
	Podsandbox__V1__PodSandboxConfig *back;
	json_t                           *j;
	char                             *again, *errmsg = NULL;
	uint8_t                          *buf;
	size_t                            len;

	FZ_CHECK(req->config != NULL && req->config_len > 0);
	FZ_CHECK(req->config_json != NULL && req->labels != NULL);
	again = psb_codec_config_json(req->config, req->config_len);
	FZ_CHECK(again != NULL && strcmp(again, req->config_json) == 0);
	free(again);
	j = json_loads(req->config_json, 0, NULL);
	FZ_CHECK(json_is_object(j));
	back = psb_pbjson_config_from_json(j, &errmsg);
	if (back == NULL) {
		fprintf(stderr, "podconfig_fuzz: stored JSON refused: %s\n",
		        errmsg);
		abort();
	}
	json_decref(j);
	len = podsandbox__v1__pod_sandbox_config__get_packed_size(back);
	buf = malloc(len ? len : 1);
	FZ_CHECK(buf != NULL);
	podsandbox__v1__pod_sandbox_config__pack(back, buf);
	FZ_CHECK(len == req->config_len && memcmp(buf, req->config, len) == 0);
	free(buf);
	psb_pbjson_config_free(back);
}

// fz_create sends cfg in a Create, as psb_client_create would.
static void
fz_create(Podsandbox__V1__PodSandboxConfig *cfg, const uint8_t *data,
        size_t size)
{
	Podsandbox__V1__Request       r = PODSANDBOX__V1__REQUEST__INIT;
	Podsandbox__V1__CreateRequest cr =
	        PODSANDBOX__V1__CREATE_REQUEST__INIT;
	psb_codec_request_t *h = NULL;
	psb_request_t        req;
	psb_error_t          err = PSB_ERROR_INIT;
	uint8_t             *buf;
	size_t               len;
	int                  rv;

	cr.sandbox_id = "fz-sandbox";
	cr.config     = cfg;
	r.method_case = PODSANDBOX__V1__REQUEST__METHOD_CREATE;
	r.create      = &cr;
	len           = podsandbox__v1__request__get_packed_size(&r);
	buf           = malloc(len);
	FZ_CHECK(buf != NULL);
	podsandbox__v1__request__pack(&r, buf);
	rv = psb_codec_decode_request(buf, len, &req, &h, &err);
	free(buf);
	FZ_NOTE("create: %s\n", rv == 0 ? "accepted" : err.msg);
	if (rv != 0) {
		FZ_CHECK(rv == PSB_EINVAL && err.code == PSB_EINVAL);
		FZ_CHECK(err.msg != NULL && h == NULL);
		psb_error_release(&err);
		return;
	}
	FZ_CHECK(req.method == PSB_M_CREATE);
	FZ_CHECK(strcmp(req.sandbox_id, "fz-sandbox") == 0);
	fz_stored(&req);
	fz_spec(req.config_json, data, size);
	psb_codec_request_free(h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Podsandbox__V1__PodSandboxConfig *cfg, *back;
	json_t                           *root, *a, *b;
	char                             *errmsg = NULL;
	uint8_t                          *buf;
	size_t                            len;

	fz_init();
	// As psb_config_from_json: the text must be one JSON object.
	root = json_loadb((const char *)data, size, 0, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		return (0);
	}
	cfg = psb_pbjson_config_from_json(root, &errmsg);
	json_decref(root);
	if (cfg == NULL) {
		FZ_CHECK(errmsg != NULL);
		FZ_NOTE("from_json: %s\n", errmsg);
		free(errmsg);
		return (0);
	}
	free(errmsg);
	// The client sends the packed bytes: they must read back the same.
	len = podsandbox__v1__pod_sandbox_config__get_packed_size(cfg);
	buf = malloc(len ? len : 1);
	FZ_CHECK(buf != NULL);
	podsandbox__v1__pod_sandbox_config__pack(cfg, buf);
	back = podsandbox__v1__pod_sandbox_config__unpack(NULL, len, buf);
	FZ_CHECK(back != NULL);
	a = psb_pbjson_config_to_json(cfg);
	b = psb_pbjson_config_to_json(back);
	FZ_CHECK(a != NULL && b != NULL && json_equal(a, b));
	json_decref(a);
	json_decref(b);
	podsandbox__v1__pod_sandbox_config__free_unpacked(back, NULL);
	free(buf);
	fz_create(cfg, data, size);
	psb_pbjson_config_free(cfg);
	return (0);
}
