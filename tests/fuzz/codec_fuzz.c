//
// podsandboxd - arbitrary bytes against the wire codec (STYLE.md
// practice 21; DESIGN.md §8: malformed messages get INVALID_ARGUMENT and
// the daemon keeps serving).
//
// Each input is tried two ways:
//
//   1. as a podsandbox.v1.Request: psb_codec_decode_request must either
//      fail with PSB_EINVAL and a message, or succeed with a request that
//      keeps the codec's promises (a valid sandbox id where one is
//      required, a re-encoded config that decodes again with its metadata,
//      labels that are a JSON object). A decoded Create is then shown
//      back through a verbose Status reply, as the daemon would.
//   2. if it parses as JSON: as a crictl pod config. A config that is
//      accepted must survive to_json -> from_json unchanged.
//
// A broken promise calls abort(), which libFuzzer reports; fuzz_main.c
// replays inputs without libFuzzer.
//

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podsandbox.pb-c.h"
#include "transport/codec.h"
#include "transport/config_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CHECK(cond)                                                       \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "codec_fuzz: %s:%d: %s\n", __FILE__, \
			        __LINE__, #cond);                            \
			abort();                                             \
		}                                                            \
	} while (0)

// fz_id_ok restates containerd's identifier rule independently of the
// codec's implementation.
static bool
fz_id_ok(const char *id)
{
	size_t n    = id != NULL ? strlen(id) : 0;
	char   prev = '.';

	if (n == 0 || n > PSB_ID_MAX) {
		return (false);
	}
	for (size_t i = 0; i < n; i++) {
		char c     = id[i];
		bool alnum = (c >= 'a' && c <= 'z') ||
		             (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		bool sep = c == '.' || c == '_' || c == '-';

		if (!alnum &&
		        !(sep && prev != '.' && prev != '_' && prev != '-')) {
			return (false);
		}
		prev = c;
	}
	return (prev != '.' && prev != '_' && prev != '-');
}

// fz_status encodes a verbose Status of the decoded config, the path
// that decodes stored config bytes and renders them as JSON.
static void
fz_status(const psb_request_t *req)
{
	psb_reply_t reply;
	void       *buf = NULL;
	size_t      len = 0;

	memset(&reply, 0, sizeof(reply));
	reply.method             = PSB_M_STATUS;
	reply.sandbox.id         = req->sandbox_id;
	reply.sandbox.labels     = req->labels;
	reply.sandbox.config     = req->config;
	reply.sandbox.config_len = req->config_len;
	reply.sandbox.info       = "{\"pid\":1,\"config\":null}";
	FZ_CHECK(psb_codec_encode_reply(&reply, &buf, &len) == 0);
	FZ_CHECK(buf != NULL);
	free(buf);
}

// fz_create_again sends the stored config back in a new Create: it must
// be accepted and stored as the very same bytes (the canonical form is a
// fixed point, so a client's retry is always "the same config").
static void
fz_create_again(const psb_request_t *req)
{
	Podsandbox__V1__Request       r = PODSANDBOX__V1__REQUEST__INIT;
	Podsandbox__V1__CreateRequest cr =
	        PODSANDBOX__V1__CREATE_REQUEST__INIT;
	psb_codec_request_t *h = NULL;
	psb_request_t        again;
	psb_error_t          err = PSB_ERROR_INIT;
	uint8_t             *buf;
	size_t               len;

	cr.sandbox_id = (char *)req->sandbox_id;
	cr.runtime_handler =
	        (char *)(req->runtime_handler ? req->runtime_handler : "");
	cr.config = podsandbox__v1__pod_sandbox_config__unpack(
	        NULL, req->config_len, req->config);
	FZ_CHECK(cr.config != NULL);
	r.method_case = PODSANDBOX__V1__REQUEST__METHOD_CREATE;
	r.create      = &cr;
	len           = podsandbox__v1__request__get_packed_size(&r);
	buf           = malloc(len ? len : 1);
	FZ_CHECK(buf != NULL);
	podsandbox__v1__request__pack(&r, buf);
	if (psb_codec_decode_request(buf, len, &again, &h, &err) != 0) {
		fprintf(stderr, "codec_fuzz: stored config refused: %s\n",
		        err.msg);
		abort();
	}
	FZ_CHECK(again.config_len == req->config_len &&
	         memcmp(again.config, req->config, req->config_len) == 0);
	FZ_CHECK(strcmp(again.labels, req->labels) == 0);
	psb_codec_request_free(h);
	free(buf);
	podsandbox__v1__pod_sandbox_config__free_unpacked(cr.config, NULL);
}

static void
fz_create(const psb_request_t *req)
{
	Podsandbox__V1__PodSandboxConfig *cfg;
	json_t                           *labels;
	json_t                           *shown;
	char                             *errmsg = NULL;

	FZ_CHECK(req->config != NULL && req->config_len > 0);
	cfg = podsandbox__v1__pod_sandbox_config__unpack(
	        NULL, req->config_len, req->config);
	FZ_CHECK(cfg != NULL);
	FZ_CHECK(cfg->metadata != NULL && cfg->metadata->name[0] != '\0' &&
	         cfg->metadata->namespace_[0] != '\0' &&
	         cfg->metadata->uid[0] != '\0');
	labels = json_loads(req->labels, 0, NULL);
	FZ_CHECK(json_is_object(labels));
	json_decref(labels);
	// What the codec accepted, config_json can show and read back.
	shown = psb_pbjson_config_to_json(cfg);
	FZ_CHECK(shown != NULL);
	psb_pbjson_config_free(cfg);
	cfg = psb_pbjson_config_from_json(shown, &errmsg);
	if (cfg == NULL) {
		fprintf(stderr, "codec_fuzz: to_json output refused: %s\n",
		        errmsg);
		abort();
	}
	psb_pbjson_config_free(cfg);
	json_decref(shown);
	fz_status(req);
	fz_create_again(req);
}

static void
fz_request(const uint8_t *data, size_t size)
{
	psb_codec_request_t *h = NULL;
	psb_request_t        req;
	psb_error_t          err = PSB_ERROR_INIT;
	int                  rv;

	rv = psb_codec_decode_request(data, size, &req, &h, &err);
	if (rv != 0) {
		FZ_CHECK(rv == PSB_EINVAL && err.code == PSB_EINVAL);
		FZ_CHECK(err.msg != NULL && h == NULL);
		psb_error_release(&err);
		return;
	}
	FZ_CHECK(h != NULL && req.method < PSB_M_COUNT);
	switch (req.method) {
	case PSB_M_PLATFORM:
	case PSB_M_LIST:
	case PSB_M_EVENTS:
	case PSB_M_VERSION:
		FZ_CHECK(req.sandbox_id == NULL || fz_id_ok(req.sandbox_id));
		break;
	default: FZ_CHECK(fz_id_ok(req.sandbox_id)); break;
	}
	if (req.method == PSB_M_CREATE) {
		fz_create(&req);
	}
	if (req.method == PSB_M_EVENTS) {
		FZ_CHECK(req.limit >= 1 && req.limit <= PSB_EVENTS_MAX);
	}
	if (req.label_selector != NULL) {
		json_t *sel = json_loads(req.label_selector, 0, NULL);

		FZ_CHECK(json_is_object(sel));
		json_decref(sel);
	}
	psb_codec_request_free(h);
}

static void
fz_json(const uint8_t *data, size_t size)
{
	json_t *in =
	        json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	Podsandbox__V1__PodSandboxConfig *cfg, *again;
	json_t                           *out, *out2;
	char                             *errmsg = NULL;

	if (in == NULL) {
		return;
	}
	cfg = psb_pbjson_config_from_json(in, &errmsg);
	json_decref(in);
	if (cfg == NULL) {
		FZ_CHECK(errmsg != NULL);
		free(errmsg);
		return;
	}
	out   = psb_pbjson_config_to_json(cfg);
	again = psb_pbjson_config_from_json(out, &errmsg);
	if (again == NULL) {
		fprintf(stderr, "codec_fuzz: own output refused: %s\n",
		        errmsg);
		abort();
	}
	out2 = psb_pbjson_config_to_json(again);
	FZ_CHECK(json_equal(out, out2));
	json_decref(out);
	json_decref(out2);
	psb_pbjson_config_free(again);
	psb_pbjson_config_free(cfg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_request(data, size);
	fz_json(data, size);
	return (0);
}
