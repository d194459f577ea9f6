//
// podsandboxd - containerd's image blobs against the image resolver's
// parsers (runtime/containerd/image.h; STYLE.md practice 7: what comes
// from containerd returns an error, never a crash).
//
// Every input is one blob, read the three ways the resolver may read it:
// as an index (for three platforms), as a manifest and as an image
// config, and its digest is checked as psb_image_verify would. Each
// parser either fails with PSB_ERUNTIME and a message, or returns what
// the next step relies on:
//
//   index    -> a descriptor of an index or manifest, with a well-formed
//               sha256 digest and a size >= 0;
//   manifest -> a descriptor of an image config, the same;
//   config   -> a chain id that is a sha256 digest, NULL-terminated
//               vectors, non-NULL strings, labels that are a JSON object;
//               parsing again into the same image (the resolver's "fields
//               already set are released first") gives the same values.
//
// The resolve over gRPC, with these blobs served by a fake containerd,
// is ctrd_fuzz.c.
//

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"
#include "fuzz_util.h"
#include "runtime/containerd/image.h"

static const char fz_blob_digest[] =
        "sha256:0000000000000000000000000000000000000000000000000000000000"
        "000000";

static bool
fz_digest_ok(const char *d)
{
	if (strlen(d) != PSB_IMAGE_DIGEST_LEN ||
	        strncmp(d, "sha256:", 7) != 0) {
		return (false);
	}
	for (d += 7; *d != '\0'; d++) {
		if (!((*d >= '0' && *d <= '9') || (*d >= 'a' && *d <= 'f'))) {
			return (false);
		}
	}
	return (true);
}

static void
fz_failed(int rv, psb_error_t *err)
{
	FZ_CHECK(rv == PSB_ERUNTIME && err->code == PSB_ERUNTIME);
	FZ_CHECK(err->msg != NULL);
	FZ_NOTE("%s\n", err->msg);
	psb_error_release(err);
}

static void
fz_desc_ok(const psb_image_desc_t *d, unsigned kinds)
{
	FZ_CHECK(fz_digest_ok(d->digest));
	FZ_CHECK(d->size >= 0);
	FZ_CHECK(memchr(d->media_type, '\0', sizeof(d->media_type)) != NULL);
	FZ_CHECK((kinds & (1u << psb_image_kind_of(d->media_type))) != 0);
}

static void
fz_index(const uint8_t *data, size_t size, const char *arch)
{
	psb_image_desc_t d;
	psb_error_t      err = PSB_ERROR_INIT;
	int              rv;

	memset(&d, 0, sizeof(d));
	rv = psb_image_parse_index(data, size, fz_blob_digest, arch, &d, &err);
	if (rv != PSB_OK) {
		fz_failed(rv, &err);
		return;
	}
	FZ_NOTE("index (%s): %s %s\n", arch, d.media_type, d.digest);
	FZ_CHECK(err.msg == NULL);
	fz_desc_ok(&d, (1u << PSB_IMAGE_KIND_INDEX) |
	                       (1u << PSB_IMAGE_KIND_MANIFEST));
}

static void
fz_manifest(const uint8_t *data, size_t size)
{
	psb_image_desc_t d;
	psb_error_t      err = PSB_ERROR_INIT;
	int              rv;

	memset(&d, 0, sizeof(d));
	rv = psb_image_parse_manifest(data, size, fz_blob_digest, &d, &err);
	if (rv != PSB_OK) {
		fz_failed(rv, &err);
		return;
	}
	FZ_NOTE("manifest: config %s\n", d.digest);
	FZ_CHECK(err.msg == NULL);
	fz_desc_ok(&d, 1u << PSB_IMAGE_KIND_CONFIG);
}

static void
fz_strv_ok(char **v)
{
	FZ_CHECK(v != NULL);
	for (size_t i = 0; v[i] != NULL; i++) {
		(void)strlen(v[i]); // a string (ASan checks the bytes)
	}
}

static void
fz_config(const uint8_t *data, size_t size)
{
	psb_image_t *img = calloc(1, sizeof(*img));
	psb_error_t  err = PSB_ERROR_INIT;
	json_t      *labels;
	char        *chain, *lab;
	int          rv;

	FZ_CHECK(img != NULL);
	rv = psb_image_parse_config(data, size, fz_blob_digest, img, &err);
	if (rv != PSB_OK) {
		fz_failed(rv, &err);
		psb_image_free(img); // partly filled: must still be freeable
		return;
	}
	FZ_NOTE("config: chain %s\n", img->chain_id);
	FZ_CHECK(err.msg == NULL);
	FZ_CHECK(img->chain_id != NULL && fz_digest_ok(img->chain_id));
	fz_strv_ok(img->entrypoint);
	fz_strv_ok(img->cmd);
	fz_strv_ok(img->env);
	FZ_CHECK(img->working_dir != NULL && img->user != NULL);
	FZ_CHECK(img->os != NULL && img->arch != NULL);
	labels = json_loads(img->labels, 0, NULL);
	FZ_CHECK(json_is_object(labels));
	json_decref(labels);
	// Again into the same image: the same outcome, nothing leaked.
	chain = strdup(img->chain_id);
	lab   = strdup(img->labels);
	FZ_CHECK(chain != NULL && lab != NULL);
	rv = psb_image_parse_config(data, size, fz_blob_digest, img, &err);
	FZ_CHECK(rv == PSB_OK);
	FZ_CHECK(strcmp(chain, img->chain_id) == 0);
	FZ_CHECK(strcmp(lab, img->labels) == 0);
	free(chain);
	free(lab);
	psb_image_free(img);
}

// fz_verify: the blob verifies against its own sha256 and not against
// a digest one hex digit off.
static void
fz_verify(const uint8_t *data, size_t size)
{
	char        digest[PSB_IMAGE_DIGEST_LEN + 1] = "sha256:";
	psb_error_t err                              = PSB_ERROR_INIT;

	psb_sha256_hex(data, size, digest + 7);
	FZ_CHECK(psb_image_verify(digest, data, size, &err) == PSB_OK);
	digest[7] = digest[7] == '0' ? '1' : '0';
	FZ_CHECK(psb_image_verify(digest, data, size, &err) == PSB_ERUNTIME);
	FZ_CHECK(err.msg != NULL);
	psb_error_release(&err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_index(data, size, "amd64");
	fz_index(data, size, "arm/v7");
	fz_index(data, size, "arm64/v8");
	fz_manifest(data, size);
	fz_config(data, size);
	fz_verify(data, size);
	return (0);
}
