//
// podsandboxd - sandbox image resolution against containerd (image.h).
//
// The resolve is a chain of calls on the loop thread, one at a time:
//
//   Images.Get(name) -> target
//   Content.Read(target)      index -> Content.Read(manifest for platform)
//                             manifest -> Content.Read(config)
//   config -> chain id + process defaults -> callback
//
// Each blob is read whole (bounded by PSB_IMAGE_MAX_BLOB and by its
// descriptor's size, which the request also passes so that containerd
// never sends more) and verified against its digest before jansson sees
// it. Only sha256 digests are accepted: containerd itself writes nothing
// else, and the chain id is defined over sha256.
//

#include "runtime/containerd/image.h"

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/goarch.h"
#include "base/sha256.h"

#include "github.com/containerd/containerd/api/services/content/v1/content.pb-c.h"
#include "github.com/containerd/containerd/api/services/images/v1/images.pb-c.h"

#define IMG_DEFAULT_DEADLINE_MS 10000
#define IMG_DEFAULT_NS          "default"
#define IMG_DEFAULT_ADDRESS     "/run/containerd/containerd.sock"
#define IMG_DEFAULT_IMPORT      "<path to pause-image.tar>"
// An index may point at an index; real images nest at most once.
#define IMG_MAX_DEPTH 4

// ---- pure helpers -----------------------------------------------------

psb_image_kind
psb_image_kind_of(const char *mt)
{
	if (mt == NULL) {
		return (PSB_IMAGE_KIND_UNKNOWN);
	}
	if (strcmp(mt, PSB_MT_OCI_INDEX) == 0 ||
	        strcmp(mt, PSB_MT_DOCKER_LIST) == 0) {
		return (PSB_IMAGE_KIND_INDEX);
	}
	if (strcmp(mt, PSB_MT_OCI_MANIFEST) == 0 ||
	        strcmp(mt, PSB_MT_DOCKER_MANIFEST) == 0) {
		return (PSB_IMAGE_KIND_MANIFEST);
	}
	if (strcmp(mt, PSB_MT_OCI_CONFIG) == 0 ||
	        strcmp(mt, PSB_MT_DOCKER_CONFIG) == 0) {
		return (PSB_IMAGE_KIND_CONFIG);
	}
	return (PSB_IMAGE_KIND_UNKNOWN);
}

static bool
img_digest_valid(const char *d)
{
	if (d == NULL || strlen(d) != PSB_IMAGE_DIGEST_LEN ||
	        strncmp(d, "sha256:", 7) != 0) {
		return (false);
	}
	for (const char *p = d + 7; *p != '\0'; p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
			return (false);
		}
	}
	return (true);
}

int
psb_image_verify(
        const char *digest, const void *data, size_t len, psb_error_t *err)
{
	char hex[PSB_SHA256_HEX_LEN + 1];

	if (!img_digest_valid(digest)) {
		return (psb_error_make(err, PSB_ERUNTIME,
		        "blob %s: not a sha256 digest (the only one "
		        "supported)",
		        digest != NULL ? digest : "(null)"));
	}
	psb_sha256_hex(data, len, hex);
	if (strcmp(hex, digest + 7) != 0) {
		return (psb_error_make(err, PSB_ERUNTIME,
		        "blob %s: content does not match its digest (%zu "
		        "bytes "
		        "hash to sha256:%s)",
		        digest, len, hex));
	}
	return (PSB_OK);
}

int
psb_image_chain_id(const char *const *diff_ids, size_t n,
        char out[PSB_IMAGE_DIGEST_LEN + 1], psb_error_t *err)
{
	char chain[PSB_IMAGE_DIGEST_LEN + 1];

	if (n == 0) {
		return (psb_error_make(err, PSB_ERUNTIME,
		        "the image has no layers (diff_ids)"));
	}
	for (size_t i = 0; i < n; i++) {
		if (!img_digest_valid(diff_ids[i])) {
			return (psb_error_make(err, PSB_ERUNTIME,
			        "diff id %zu \"%s\" is not a sha256 digest",
			        i + 1,
			        diff_ids[i] != NULL ? diff_ids[i] : "(null)"));
		}
	}
	memcpy(chain, diff_ids[0], sizeof(chain));
	for (size_t i = 1; i < n; i++) {
		psb_sha256_t ctx;
		uint8_t      md[PSB_SHA256_LEN];

		psb_sha256_init(&ctx);
		psb_sha256_update(&ctx, chain, PSB_IMAGE_DIGEST_LEN);
		psb_sha256_update(&ctx, " ", 1);
		psb_sha256_update(&ctx, diff_ids[i], PSB_IMAGE_DIGEST_LEN);
		psb_sha256_final(&ctx, md);
		memcpy(chain, "sha256:", 7);
		for (size_t j = 0; j < PSB_SHA256_LEN; j++) {
			static const char xd[] = "0123456789abcdef";
			chain[7 + 2 * j]       = xd[md[j] >> 4];
			chain[7 + 2 * j + 1]   = xd[md[j] & 0xf];
		}
		chain[PSB_IMAGE_DIGEST_LEN] = '\0';
	}
	memcpy(out, chain, sizeof(chain));
	return (PSB_OK);
}

// img_load parses a blob as a JSON object and checks that its own
// mediaType, when it has one, is of the kind its descriptor promised (a
// manifest served in place of a config, say, is refused).
static json_t *
img_load(const void *data, size_t len, const char *digest, psb_image_kind want,
        psb_error_t *err)
{
	json_error_t je;
	json_t      *doc, *mt;

	doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (doc == NULL) {
		psb_error_make(err, PSB_ERUNTIME,
		        "blob %s: malformed JSON at line %d column %d: %s",
		        digest, je.line, je.column, je.text);
		return (NULL);
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		psb_error_make(err, PSB_ERUNTIME, "blob %s: not a JSON object",
		        digest);
		return (NULL);
	}
	mt = json_object_get(doc, "mediaType");
	if (want != PSB_IMAGE_KIND_CONFIG && mt != NULL &&
	        psb_image_kind_of(json_string_value(mt)) != want) {
		psb_error_make(err, PSB_ERUNTIME,
		        "blob %s: its mediaType \"%s\" is not what its "
		        "descriptor says",
		        digest,
		        json_is_string(mt) ? json_string_value(mt) : "?");
		json_decref(doc);
		return (NULL);
	}
	return (doc);
}

// img_desc reads a descriptor object {mediaType, digest, size}.
static int
img_desc(json_t *o, const char *what, const char *parent,
        psb_image_desc_t *out, psb_error_t *err)
{
	const char *mt = json_string_value(json_object_get(o, "mediaType"));
	const char *digest = json_string_value(json_object_get(o, "digest"));
	json_t     *size   = json_object_get(o, "size");

	if (mt == NULL || strlen(mt) >= sizeof(out->media_type)) {
		return (psb_error_make(err, PSB_ERUNTIME,
		        "blob %s: %s has no usable mediaType", parent, what));
	}
	if (!img_digest_valid(digest)) {
		return (psb_error_make(err, PSB_ERUNTIME,
		        "blob %s: %s digest \"%s\" is not a sha256 digest",
		        parent, what, digest != NULL ? digest : ""));
	}
	if (!json_is_integer(size) || json_integer_value(size) < 0) {
		return (psb_error_make(err, PSB_ERUNTIME,
		        "blob %s: %s %s has no valid size", parent, what,
		        digest));
	}
	snprintf(out->media_type, sizeof(out->media_type), "%s", mt);
	memcpy(out->digest, digest, sizeof(out->digest));
	out->size = (int64_t)json_integer_value(size);
	return (PSB_OK);
}

int
psb_image_parse_index(const void *data, size_t len, const char *digest,
        const char *arch, psb_image_desc_t *out, psb_error_t *err)
{
	json_t     *doc, *mans, *m;
	size_t      i, alen;
	const char *variant = NULL;
	int         rv;

	if (arch == NULL) {
		arch = psb_image_host_arch();
	}
	alen = strcspn(arch, "/");
	if (arch[alen] == '/') {
		variant = arch + alen + 1;
	}
	doc = img_load(data, len, digest, PSB_IMAGE_KIND_INDEX, err);
	if (doc == NULL) {
		return (PSB_ERUNTIME);
	}
	mans = json_object_get(doc, "manifests");
	if (!json_is_array(mans)) {
		json_decref(doc);
		return (psb_error_make(err, PSB_ERUNTIME,
		        "blob %s: index has no manifests array", digest));
	}
	json_array_foreach(mans, i, m)
	{
		json_t     *p  = json_object_get(m, "platform");
		const char *os = json_string_value(json_object_get(p, "os"));
		const char *a =
		        json_string_value(json_object_get(p, "architecture"));
		const char *v =
		        json_string_value(json_object_get(p, "variant"));
		const char *mt =
		        json_string_value(json_object_get(m, "mediaType"));

		// Attestations and unknown kinds carry no (or an
		// "unknown/unknown") platform; they never match.
		if (os == NULL || a == NULL || strcmp(os, "linux") != 0 ||
		        strlen(a) != alen || strncmp(a, arch, alen) != 0 ||
		        (variant != NULL &&
		                (v == NULL || strcmp(v, variant) != 0))) {
			continue;
		}
		psb_image_kind k = psb_image_kind_of(mt);
		if (k != PSB_IMAGE_KIND_INDEX &&
		        k != PSB_IMAGE_KIND_MANIFEST) {
			continue;
		}
		rv = img_desc(m, "manifest", digest, out, err);
		json_decref(doc);
		return (rv);
	}
	json_decref(doc);
	return (psb_error_make(err, PSB_ERUNTIME,
	        "blob %s: index has no manifest for platform linux/%s", digest,
	        arch));
}

int
psb_image_parse_manifest(const void *data, size_t len, const char *digest,
        psb_image_desc_t *out, psb_error_t *err)
{
	json_t *doc, *layers;
	int     rv;

	doc = img_load(data, len, digest, PSB_IMAGE_KIND_MANIFEST, err);
	if (doc == NULL) {
		return (PSB_ERUNTIME);
	}
	rv = img_desc(
	        json_object_get(doc, "config"), "config", digest, out, err);
	if (rv == PSB_OK &&
	        psb_image_kind_of(out->media_type) != PSB_IMAGE_KIND_CONFIG) {
		rv = psb_error_make(err, PSB_ERUNTIME,
		        "blob %s: config %s has media type \"%s\", not an "
		        "image "
		        "config",
		        digest, out->digest, out->media_type);
	}
	layers = json_object_get(doc, "layers");
	if (rv == PSB_OK &&
	        (!json_is_array(layers) || json_array_size(layers) == 0)) {
		rv = psb_error_make(err, PSB_ERUNTIME,
		        "blob %s: manifest has no layers", digest);
	}
	json_decref(doc);
	return (rv);
}

static void
img_strv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
		free(v[i]);
	}
	free(v);
}

// img_strv copies a JSON array of strings (absent or null: empty) into
// *out, a NULL-terminated vector.
static int
img_strv(json_t *a, const char *field, const char *digest, char ***out,
        psb_error_t *err)
{
	size_t  i;
	json_t *s;
	char  **v;

	if (a != NULL && !json_is_null(a) && !json_is_array(a)) {
		return (psb_error_make(err, PSB_ERUNTIME,
		        "blob %s: config.%s is not an array", digest, field));
	}
	v = xcalloc(json_array_size(a) + 1, sizeof(*v));
	json_array_foreach(a, i, s)
	{
		if (!json_is_string(s)) {
			img_strv_free(v);
			return (psb_error_make(err, PSB_ERUNTIME,
			        "blob %s: config.%s[%zu] is not a string",
			        digest, field, i));
		}
		v[i] = xstrdup(json_string_value(s));
	}
	img_strv_free(*out);
	*out = v;
	return (PSB_OK);
}

// img_str copies an optional JSON string (absent or null: "").
static int
img_str(json_t *s, const char *field, const char *digest, char **out,
        psb_error_t *err)
{
	if (s != NULL && !json_is_null(s) && !json_is_string(s)) {
		return (psb_error_make(err, PSB_ERUNTIME,
		        "blob %s: %s is not a string", digest, field));
	}
	free(*out);
	*out = xstrdup(json_is_string(s) ? json_string_value(s) : "");
	return (PSB_OK);
}

static int
img_config_rootfs(
        json_t *doc, const char *digest, psb_image_t *img, psb_error_t *err)
{
	json_t *ids =
	        json_object_get(json_object_get(doc, "rootfs"), "diff_ids");
	const char *idv[256];
	char        chain[PSB_IMAGE_DIGEST_LEN + 1];
	size_t      n = json_array_size(ids);
	int         rv;

	// containerd's overlay snapshotter stacks at most ~128 layers;
	// anything near this bound is not a sandbox image.
	if (!json_is_array(ids) || n == 0 || n > PSB_NELEM(idv)) {
		return (psb_error_make(err, PSB_ERUNTIME,
		        "blob %s: config has no usable rootfs.diff_ids (%zu "
		        "entries)",
		        digest, n));
	}
	for (size_t i = 0; i < n; i++) {
		idv[i] = json_string_value(json_array_get(ids, i));
	}
	rv = psb_image_chain_id(idv, n, chain, err);
	if (rv != PSB_OK) {
		return (psb_error_wrap(err, "blob %s", digest));
	}
	free(img->chain_id);
	img->chain_id = xstrdup(chain);
	return (PSB_OK);
}

int
psb_image_parse_config(const void *data, size_t len, const char *digest,
        psb_image_t *img, psb_error_t *err)
{
	json_t *doc, *c, *labels;
	int     rv;

	doc = img_load(data, len, digest, PSB_IMAGE_KIND_CONFIG, err);
	if (doc == NULL) {
		return (PSB_ERUNTIME);
	}
	c = json_object_get(doc, "config");
	if (c != NULL && !json_is_null(c) && !json_is_object(c)) {
		json_decref(doc);
		return (psb_error_make(err, PSB_ERUNTIME,
		        "blob %s: config is not an object", digest));
	}
	labels = json_object_get(c, "Labels");
	if ((rv = img_config_rootfs(doc, digest, img, err)) != PSB_OK ||
	        (rv = img_strv(json_object_get(c, "Entrypoint"), "Entrypoint",
	                 digest, &img->entrypoint, err)) != PSB_OK ||
	        (rv = img_strv(json_object_get(c, "Cmd"), "Cmd", digest,
	                 &img->cmd, err)) != PSB_OK ||
	        (rv = img_strv(json_object_get(c, "Env"), "Env", digest,
	                 &img->env, err)) != PSB_OK ||
	        (rv = img_str(json_object_get(c, "WorkingDir"),
	                 "config.WorkingDir", digest, &img->working_dir,
	                 err)) != PSB_OK ||
	        (rv = img_str(json_object_get(c, "User"), "config.User",
	                 digest, &img->user, err)) != PSB_OK ||
	        (rv = img_str(json_object_get(doc, "os"), "os", digest,
	                 &img->os, err)) != PSB_OK ||
	        (rv = img_str(json_object_get(doc, "architecture"),
	                 "architecture", digest, &img->arch, err)) != PSB_OK) {
		json_decref(doc);
		return (rv);
	}
	if (labels != NULL && !json_is_null(labels) &&
	        !json_is_object(labels)) {
		json_decref(doc);
		return (psb_error_make(err, PSB_ERUNTIME,
		        "blob %s: config.Labels is not an object", digest));
	}
	free(img->labels);
	img->labels =
	        json_is_object(labels)
	                ? json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS)
	                : xstrdup("{}");
	json_decref(doc);
	if (img->labels == NULL) {
		psb_oom(); // jansson fails here only when out of memory
	}
	return (PSB_OK);
}

void
psb_image_free(psb_image_t *img)
{
	if (img == NULL) {
		return;
	}
	free(img->name);
	free(img->target_digest);
	free(img->manifest_digest);
	free(img->config_digest);
	free(img->chain_id);
	img_strv_free(img->entrypoint);
	img_strv_free(img->cmd);
	img_strv_free(img->env);
	free(img->working_dir);
	free(img->user);
	free(img->labels);
	free(img->os);
	free(img->arch);
	free(img);
}

const char *
psb_image_host_arch(void)
{
	// "arch" or "arch/variant", as platform matching compares them.
	static char buf[64];
	const char *arch;
	const char *variant;

	if (buf[0] == '\0') {
		psb_host_goarch(&arch, &variant);
		snprintf(buf, sizeof(buf), "%s%s%s",
		        arch[0] != '\0' ? arch : "unknown",
		        variant[0] != '\0' ? "/" : "", variant);
	}
	return (buf);
}

// ---- the resolve ------------------------------------------------------

typedef struct img_req {
	psb_grpc_t        *g;
	psb_image_cb       cb;
	void              *arg;
	char              *ns, *address, *import_path, *arch;
	uint32_t           deadline_ms;
	struct ev_loop    *loop;
	ev_timer           timer;
	psb_image_t       *img;
	int                depth;
	psb_image_desc_t   cur; // the blob being read
	uint8_t           *buf;
	size_t             len;
	psb_grpc_stream_t *stream; // the Content.Read in flight, if any
	bool               unary;  // Images.Get in flight
	bool               done;   // cb has been (or is being) called
	bool               in_cb;
} img_req_t;

static void
img_req_free(img_req_t *r)
{
	psb_image_free(r->img);
	free(r->buf);
	free(r->ns);
	free(r->address);
	free(r->import_path);
	free(r->arch);
	free(r);
}

// img_finish reports the outcome (img taken, or err) once. The request is
// freed now, or, if Images.Get is still in flight (a timeout), when its
// callback arrives: grpc.h has no way to cancel a unary call.
static void
img_finish(img_req_t *r, psb_image_t *img, const psb_error_t *err)
{
	r->done = true;
	if (r->loop != NULL) {
		ev_timer_stop(r->loop, &r->timer);
	}
	r->in_cb = true;
	r->cb(r->arg, img, err);
	r->in_cb = false;
	if (!r->unary) {
		img_req_free(r);
	}
}

static void
img_fail(img_req_t *r, psb_error_t *err)
{
	img_finish(r, NULL, err);
	psb_error_release(err);
}

// img_status turns a failed call's status into an error; what names the
// call ("reading blob sha256:...").
static int
img_status(psb_error_t *err, int status, const char *msg, const char *what)
{
	int code = psb_grpc_status_to_err(status);

	// Only these say something about containerd rather than the
	// content; anything else is a problem with the image.
	if (code != PSB_EUNAVAIL && code != PSB_ETIMEDOUT &&
	        code != PSB_ECANCELED) {
		code = PSB_ERUNTIME;
	}
	return (psb_error_make(err, code, "%s: containerd: %s: %s", what,
	        psb_grpc_status_name(status), msg));
}

static void img_read_msg_cb(void *arg, ProtobufCMessage *msg);
static void img_read_end_cb(void *arg, int status, const char *message);

// img_read starts Content.Read of desc, which must be of a kind in want
// (a bit set of psb_image_kind).
static int
img_read(img_req_t *r, const psb_image_desc_t *desc, unsigned want,
        psb_error_t *err)
{
	Containerd__Services__Content__V1__ReadContentRequest req =
	        CONTAINERD__SERVICES__CONTENT__V1__READ_CONTENT_REQUEST__INIT;
	psb_image_kind k = psb_image_kind_of(desc->media_type);
	int            rv;

	if ((want & (1u << k)) == 0 || k == PSB_IMAGE_KIND_UNKNOWN) {
		return (psb_error_make(err, PSB_ERUNTIME,
		        "blob %s: unsupported media type \"%s\"", desc->digest,
		        desc->media_type));
	}
	if (desc->size <= 0 || desc->size > (int64_t)PSB_IMAGE_MAX_BLOB) {
		return (psb_error_make(err, PSB_ERUNTIME,
		        "blob %s: size %lld is out of bounds (1 to %u bytes)",
		        desc->digest, (long long)desc->size,
		        PSB_IMAGE_MAX_BLOB));
	}
	if (++r->depth > IMG_MAX_DEPTH) {
		return (psb_error_make(err, PSB_ERUNTIME,
		        "blob %s: indexes nested too deep", desc->digest));
	}
	r->cur = *desc;
	free(r->buf);
	r->buf     = xmalloc((size_t)desc->size);
	r->len     = 0;
	req.digest = r->cur.digest;
	req.size   = desc->size;
	rv         = psb_grpc_stream(r->g,
	                "/containerd.services.content.v1.Content/Read", &req.base,
	                &containerd__services__content__v1__read_content_response__descriptor,
	                img_read_msg_cb, img_read_end_cb, r, &r->stream);
	if (rv != PSB_OK) {
		return (psb_error_make(
		        err, rv, "blob %s: cannot start Read", desc->digest));
	}
	return (PSB_OK);
}

static void
img_read_msg_cb(void *arg, ProtobufCMessage *msg)
{
	img_req_t                                              *r = arg;
	Containerd__Services__Content__V1__ReadContentResponse *resp =
	        (Containerd__Services__Content__V1__ReadContentResponse *)msg;
	psb_error_t err = PSB_ERROR_INIT;
	size_t      n   = resp->data.len;

	if (resp->offset != (int64_t)r->len ||
	        n > (size_t)r->cur.size - r->len) {
		psb_error_make(&err, PSB_ERUNTIME,
		        "blob %s: containerd sent bytes %lld..%lld of a %lld "
		        "byte blob (expected offset %zu)",
		        r->cur.digest, (long long)resp->offset,
		        (long long)(resp->offset + (int64_t)n),
		        (long long)r->cur.size, r->len);
		protobuf_c_message_free_unpacked(msg, NULL);
		psb_grpc_stream_cancel(r->stream);
		r->stream = NULL;
		img_fail(r, &err);
		return;
	}
	if (n > 0) {
		memcpy(r->buf + r->len, resp->data.data, n);
		r->len += n;
	}
	protobuf_c_message_free_unpacked(msg, NULL);
}

// img_blob handles a complete, verified blob: the next read, or the end.
static int
img_blob(img_req_t *r, psb_error_t *err)
{
	psb_image_desc_t next;
	int              rv;
	const unsigned   image =
	        (1u << PSB_IMAGE_KIND_INDEX) | (1u << PSB_IMAGE_KIND_MANIFEST);

	switch (psb_image_kind_of(r->cur.media_type)) {
	case PSB_IMAGE_KIND_INDEX:
		rv = psb_image_parse_index(
		        r->buf, r->len, r->cur.digest, r->arch, &next, err);
		return (rv != PSB_OK ? rv : img_read(r, &next, image, err));
	case PSB_IMAGE_KIND_MANIFEST:
		free(r->img->manifest_digest);
		r->img->manifest_digest = xstrdup(r->cur.digest);
		rv                      = psb_image_parse_manifest(
		                             r->buf, r->len, r->cur.digest, &next, err);
		return (rv != PSB_OK
		                ? rv
		                : img_read(r, &next,
		                          1u << PSB_IMAGE_KIND_CONFIG, err));
	case PSB_IMAGE_KIND_CONFIG:
		r->img->config_digest = xstrdup(r->cur.digest);
		rv                    = psb_image_parse_config(
		                           r->buf, r->len, r->cur.digest, r->img, err);
		if (rv == PSB_OK) {
			img_finish(r, TAKE_PTR(r->img), NULL);
		}
		return (rv);
	default: // img_read let only known kinds through
		return (psb_error_make(
		        err, PSB_EINTERNAL, "blob %s: kind?", r->cur.digest));
	}
}

static void
img_read_end_cb(void *arg, int status, const char *message)
{
	img_req_t  *r   = arg;
	psb_error_t err = PSB_ERROR_INIT;
	char        what[128];

	r->stream = NULL;
	if (status != PSB_GRPC_OK) {
		snprintf(what, sizeof(what), "reading blob %s", r->cur.digest);
		img_status(&err, status, message, what);
		if (status == PSB_GRPC_NOT_FOUND) {
			psb_error_wrap(&err,
			        "image %s is incomplete in "
			        "containerd's content store",
			        r->img->name);
		}
		img_fail(r, &err);
		return;
	}
	if (r->len != (size_t)r->cur.size) {
		psb_error_make(&err, PSB_ERUNTIME,
		        "blob %s: containerd sent %zu of its %lld bytes",
		        r->cur.digest, r->len, (long long)r->cur.size);
		img_fail(r, &err);
		return;
	}
	if (psb_image_verify(r->cur.digest, r->buf, r->len, &err) != PSB_OK ||
	        img_blob(r, &err) != PSB_OK) {
		img_fail(r, &err);
	}
}

static void
img_get_cb(void *arg, int status, const char *message, ProtobufCMessage *msg)
{
	img_req_t  *r   = arg;
	psb_error_t err = PSB_ERROR_INIT;
	Containerd__Services__Images__V1__GetImageResponse *resp =
	        (Containerd__Services__Images__V1__GetImageResponse *)msg;
	const Containerd__Types__Descriptor *t;
	psb_image_desc_t                     d = {0};

	r->unary = false;
	if (r->done) { // timed out meanwhile
		protobuf_c_message_free_unpacked(msg, NULL);
		if (!r->in_cb) {
			img_req_free(r);
		}
		return;
	}
	if (status == PSB_GRPC_NOT_FOUND) {
		psb_error_make(&err, PSB_ESTATE,
		        "sandbox image \"%s\" is not in containerd namespace "
		        "\"%s\": import it with: ctr --address %s -n %s "
		        "images "
		        "import %s",
		        r->img->name, r->ns, r->address, r->ns,
		        r->import_path);
		img_fail(r, &err);
		return;
	}
	if (status != PSB_GRPC_OK) {
		img_status(&err, status, message, "Images.Get");
		psb_error_wrap(&err, "sandbox image \"%s\"", r->img->name);
		img_fail(r, &err);
		return;
	}
	// gogo's nullable=false does not make the field present on the wire.
	t = resp->image != NULL ? resp->image->target : NULL;
	if (t == NULL || t->media_type == NULL ||
	        strlen(t->media_type) >= sizeof(d.media_type) ||
	        !img_digest_valid(t->digest)) {
		psb_error_make(&err, PSB_ERUNTIME,
		        "sandbox image \"%s\": containerd returned no usable "
		        "target descriptor (digest \"%s\")",
		        r->img->name,
		        t != NULL && t->digest != NULL ? t->digest : "");
	} else {
		snprintf(d.media_type, sizeof(d.media_type), "%s",
		        t->media_type);
		memcpy(d.digest, t->digest, sizeof(d.digest));
		d.size                = t->size;
		r->img->target_digest = xstrdup(d.digest);
		img_read(r, &d,
		        (1u << PSB_IMAGE_KIND_INDEX) |
		                (1u << PSB_IMAGE_KIND_MANIFEST),
		        &err);
	}
	protobuf_c_message_free_unpacked(msg, NULL);
	if (err.code != PSB_OK) {
		img_fail(r, &err);
	}
}

static void
img_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	img_req_t  *r   = w->data;
	psb_error_t err = PSB_ERROR_INIT;

	(void)loop;
	(void)revents;
	if (r->stream != NULL) {
		psb_grpc_stream_cancel(r->stream);
		r->stream = NULL;
	}
	psb_error_make(&err, PSB_ETIMEDOUT,
	        "sandbox image \"%s\": not resolved within %u ms",
	        r->img->name, r->deadline_ms);
	img_fail(r, &err);
}

int
psb_image_resolve(psb_grpc_t *g, const char *name,
        const psb_image_opts_t *opts, psb_image_cb cb, void *arg)
{
	static const psb_image_opts_t                     none = {0};
	Containerd__Services__Images__V1__GetImageRequest req =
	        CONTAINERD__SERVICES__IMAGES__V1__GET_IMAGE_REQUEST__INIT;
	img_req_t *r;
	int        rv;

	if (g == NULL || name == NULL || name[0] == '\0' || cb == NULL) {
		return (PSB_EINVAL);
	}
	if (opts == NULL) {
		opts = &none;
	}
	r              = xcalloc(1, sizeof(*r));
	r->g           = g;
	r->cb          = cb;
	r->arg         = arg;
	r->loop        = opts->loop;
	r->deadline_ms = opts->deadline_ms != 0 ? opts->deadline_ms
	                                        : IMG_DEFAULT_DEADLINE_MS;
	r->arch        = xstrdup(
	               opts->arch != NULL ? opts->arch : psb_image_host_arch());
	r->ns      = xstrdup(opts->ns != NULL && opts->ns[0] != '\0'
	                             ? opts->ns
	                             : IMG_DEFAULT_NS);
	r->address = xstrdup(
	        opts->address != NULL ? opts->address : IMG_DEFAULT_ADDRESS);
	r->import_path =
	        xstrdup(opts->import_path != NULL ? opts->import_path
	                                          : IMG_DEFAULT_IMPORT);
	r->img       = xcalloc(1, sizeof(*r->img));
	r->img->name = xstrdup(name);

	req.name = r->img->name;
	rv = psb_grpc_call(g, "/containerd.services.images.v1.Images/Get",
	        &req.base,
	        &containerd__services__images__v1__get_image_response__descriptor,
	        r->deadline_ms, img_get_cb, r);
	if (rv != PSB_OK) {
		img_req_free(r);
		return (rv);
	}
	r->unary = true;
	if (r->loop != NULL) {
		ev_timer_init(&r->timer, img_timer_cb,
		        (double)r->deadline_ms / 1000.0, 0.0);
		r->timer.data = r;
		ev_timer_start(r->loop, &r->timer);
	}
	return (PSB_OK);
}
