/*
 * oci-pack - pack one static binary as a single-layer OCI image archive.
 *
 *   oci-pack --binary FILE --name REF --arch MACHINE --output OUT.tar
 *   oci-pack --self-test
 *
 * OUT.tar is an OCI image layout (image-spec v1.0: oci-layout, index.json,
 * blobs/sha256/<digest>) that `ctr images import` reads. The layer is an
 * uncompressed tar holding FILE as /pause (mode 0755), so its digest is
 * also its diff id. MACHINE is a uname -m style name (CMake's
 * CMAKE_SYSTEM_PROCESSOR) mapped to Go's GOARCH like containerd does.
 *
 * The output is reproducible: every tar entry has mtime 0, uid/gid 0 and
 * no user/group names, entries are sorted, and the JSON documents are
 * compact with sorted keys. The same binary always gives the same digests.
 *
 * Why a C tool rather than sha256sum + tar from CMake or a Python script:
 * all three digests (layer, config, manifest) are computed here, over the
 * exact bytes written, so nothing can drift between a digest and its blob;
 * GNU tar's output depends on its version and flags; and the JSON goes
 * through jansson like the rest of the project. The ustar writer and
 * SHA-256 (base/sha256.c) are small; `--self-test` checks the
 * latter against known answers.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/goarch.h"
#include "base/sha256.h"

#define OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MT_CONFIG   "application/vnd.oci.image.config.v1+json"
#define OCI_MT_LAYER    "application/vnd.oci.image.layer.v1.tar"
#define TAR_BLOCK       512

typedef struct pack_buf {
	uint8_t *data;
	size_t   len;
	size_t   cap;
} pack_buf_t;

typedef struct pack_blob {
	char        digest[PSB_SHA256_HEX_LEN + 1];
	const void *data;
	size_t      len;
} pack_blob_t;

static void *
pack_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (q == NULL) {
		fprintf(stderr, "oci-pack: out of memory\n");
		abort();
	}
	return q;
}

static void
pack_buf_append(pack_buf_t *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len) {
			cap *= 2;
		}
		b->data = pack_xrealloc(b->data, cap);
		b->cap  = cap;
	}
	if (len > 0) {
		memcpy(b->data + b->len, data, len);
	}
	b->len += len;
}

static void
pack_buf_zero(pack_buf_t *b, size_t len)
{
	static const uint8_t zeros[TAR_BLOCK];

	while (len > 0) {
		size_t n = len < sizeof(zeros) ? len : sizeof(zeros);
		pack_buf_append(b, zeros, n);
		len -= n;
	}
}

/* Write v as a NUL-terminated octal number filling a width-byte field. */
static int
tar_octal(char *field, size_t width, uint64_t v)
{
	char tmp[32];
	int  n = snprintf(tmp, sizeof(tmp), "%0*llo", (int)width - 1,
	         (unsigned long long)v);
	if (n < 0 || (size_t)n != width - 1) {
		return -1;
	}
	memcpy(field, tmp, width); /* includes the NUL */
	return 0;
}

/*
 * Append one ustar entry (type '0' file or '5' directory) with fixed
 * owner and time, followed by its data padded to the block size.
 */
static int
tar_add(pack_buf_t *b, const char *name, char type, unsigned mode,
        const void *data, size_t len)
{
	char     h[TAR_BLOCK];
	unsigned sum = 0;

	if (strlen(name) >= 100) {
		fprintf(stderr, "oci-pack: tar name too long: %s\n", name);
		return -1;
	}
	memset(h, 0, sizeof(h));
	memcpy(h, name, strlen(name));
	if (tar_octal(h + 100, 8, mode) < 0 || tar_octal(h + 108, 8, 0) < 0 ||
	        tar_octal(h + 116, 8, 0) < 0 ||
	        tar_octal(h + 124, 12, len) < 0 ||
	        tar_octal(h + 136, 12, 0) < 0) {
		fprintf(stderr, "oci-pack: %s: field overflow\n", name);
		return -1;
	}
	h[156] = type;
	memcpy(h + 257, "ustar", 6); /* magic "ustar\0", version "00" */
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8); /* checksum counts its own field as spaces */
	for (size_t i = 0; i < sizeof(h); i++) {
		sum += (unsigned char)h[i];
	}
	snprintf(h + 148, 8, "%06o", sum); /* six digits, NUL, space */
	h[155] = ' ';
	pack_buf_append(b, h, sizeof(h));
	pack_buf_append(b, data, len);
	pack_buf_zero(b, (TAR_BLOCK - len % TAR_BLOCK) % TAR_BLOCK);
	return 0;
}

/* Two zero blocks end an archive. */
static void
tar_finish(pack_buf_t *b)
{
	pack_buf_zero(b, 2 * TAR_BLOCK);
}

static int
pack_read_file(const char *path, pack_buf_t *out)
{
	FILE   *f = fopen(path, "rb");
	uint8_t chunk[65536];
	size_t  n;
	int     err;

	if (f == NULL) {
		fprintf(stderr, "oci-pack: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		pack_buf_append(out, chunk, n);
	}
	err = ferror(f);
	fclose(f);
	if (err) {
		fprintf(stderr, "oci-pack: %s: read error\n", path);
		return -1;
	}
	return 0;
}

/* Map a uname -m machine name to Go's GOARCH (and GOARM variant). */
static int
pack_goarch(const char *machine, const char **arch, const char **variant)
{
	if (!psb_goarch(machine, arch, variant)) {
		fprintf(stderr, "oci-pack: unknown machine \"%s\"\n", machine);
		return -1;
	}
	if ((*variant)[0] == '\0') {
		*variant = NULL; /* no "variant" key in the config */
	}
	return 0;
}

/* Compact, key-sorted JSON: the same document always has the same bytes. */
static char *
pack_json(json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (s == NULL) {
		fprintf(stderr, "oci-pack: cannot serialise JSON\n");
		abort();
	}
	return s;
}

static json_t *
pack_descriptor(const char *media_type, const pack_blob_t *blob)
{
	char digest[8 + PSB_SHA256_HEX_LEN + 1];

	snprintf(digest, sizeof(digest), "sha256:%s", blob->digest);
	return json_pack("{s:s, s:s, s:I}", "mediaType", media_type, "digest",
	        digest, "size", (json_int_t)blob->len);
}

static json_t *
pack_platform(const char *arch, const char *variant)
{
	json_t *p =
	        json_pack("{s:s, s:s}", "architecture", arch, "os", "linux");
	if (variant != NULL) {
		json_object_set_new(p, "variant", json_string(variant));
	}
	return p;
}

static void
pack_blob_set(pack_blob_t *blob, const void *data, size_t len)
{
	blob->data = data;
	blob->len  = len;
	psb_sha256_hex(data, len, blob->digest);
}

static int
pack_blob_cmp(const void *a, const void *b)
{
	return strcmp(((const pack_blob_t *)a)->digest,
	        ((const pack_blob_t *)b)->digest);
}

static int
pack_write(const char *path, const pack_buf_t *b)
{
	char  tmp[4096];
	FILE *f;
	int   bad;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		fprintf(stderr, "oci-pack: output path too long\n");
		return -1;
	}
	f = fopen(tmp, "wb");
	if (f == NULL) {
		fprintf(stderr, "oci-pack: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	bad = fwrite(b->data, 1, b->len, f) != b->len;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) < 0) {
		fprintf(stderr, "oci-pack: cannot write %s\n", path);
		remove(tmp);
		return -1;
	}
	return 0;
}

static int
pack_image(const char *binary, const char *name, const char *machine,
        const char *output)
{
	pack_buf_t  bin = {0}, layer = {0}, out = {0};
	pack_blob_t blobs[3];
	const char *arch, *variant;
	char        diff_id[8 + PSB_SHA256_HEX_LEN + 1];
	char       *config = NULL, *manifest = NULL, *index = NULL;
	json_t     *doc, *mdesc;
	int         rc = -1;

	if (pack_goarch(machine, &arch, &variant) < 0 ||
	        pack_read_file(binary, &bin) < 0) {
		goto out;
	}

	/* The layer: one file, /pause, executable by everyone. */
	if (tar_add(&layer, "pause", '0', 0755, bin.data, bin.len) < 0) {
		goto out;
	}
	tar_finish(&layer);
	pack_blob_set(&blobs[0], layer.data, layer.len);
	snprintf(diff_id, sizeof(diff_id), "sha256:%s", blobs[0].digest);

	/* No "created" field and no history: they would only carry time. */
	doc = json_pack("{s:s, s:s, s:{s:[s]}, s:{s:s, s:[s]}}",
	        "architecture", arch, "os", "linux", "config", "Entrypoint",
	        "/pause", "rootfs", "type", "layers", "diff_ids", diff_id);
	if (variant != NULL) {
		json_object_set_new(doc, "variant", json_string(variant));
	}
	config = pack_json(doc);
	pack_blob_set(&blobs[1], config, strlen(config));

	doc      = json_pack("{s:i, s:s, s:o, s:[o]}", "schemaVersion", 2,
	             "mediaType", OCI_MT_MANIFEST, "config",
	             pack_descriptor(OCI_MT_CONFIG, &blobs[1]), "layers",
	             pack_descriptor(OCI_MT_LAYER, &blobs[0]));
	manifest = pack_json(doc);
	pack_blob_set(&blobs[2], manifest, strlen(manifest));

	/*
	 * org.opencontainers.image.ref.name carries the full reference, and
	 * io.containerd.image.name too: `ctr images import` uses the latter
	 * as-is, while it would drop a full ref.name that does not start with
	 * its --base-name (default "import-<date>").
	 */
	mdesc = pack_descriptor(OCI_MT_MANIFEST, &blobs[2]);
	json_object_set_new(mdesc, "platform", pack_platform(arch, variant));
	json_object_set_new(mdesc, "annotations",
	        json_pack("{s:s, s:s}", "org.opencontainers.image.ref.name",
	                name, "io.containerd.image.name", name));
	doc   = json_pack("{s:i, s:s, s:[o]}", "schemaVersion", 2, "mediaType",
	          "application/vnd.oci.image.index.v1+json", "manifests", mdesc);
	index = pack_json(doc);

	/* Entries in byte order of their names: blobs/..., index.json,
	 * oci-layout. */
	qsort(blobs, 3, sizeof(blobs[0]), pack_blob_cmp);
	if (tar_add(&out, "blobs/", '5', 0755, NULL, 0) < 0 ||
	        tar_add(&out, "blobs/sha256/", '5', 0755, NULL, 0) < 0) {
		goto out;
	}
	for (size_t i = 0; i < 3; i++) {
		char path[100];
		snprintf(path, sizeof(path), "blobs/sha256/%.64s",
		        blobs[i].digest);
		if (tar_add(&out, path, '0', 0644, blobs[i].data,
		            blobs[i].len) < 0) {
			goto out;
		}
	}
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	if (tar_add(&out, "index.json", '0', 0644, index, strlen(index)) < 0 ||
	        tar_add(&out, "oci-layout", '0', 0644, layout,
	                strlen(layout)) < 0) {
		goto out;
	}
	tar_finish(&out);
	rc = pack_write(output, &out);

out:
	free(bin.data);
	free(layer.data);
	free(out.data);
	free(config);
	free(manifest);
	free(index);
	return rc;
}

/* Known answers: FIPS 180-4 examples, plus lengths around the padding
 * boundaries (55, 56, 63, 64, 65, 119, 120 bytes of 'a'). */
static int
pack_self_test(void)
{
	static const struct {
		const char *msg;
		size_t      repeat_a;
		const char *hex;
	} vec[] = {
	        {"", 0,
	                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca4959"
	                "91b7852b855"},
	        {"abc", 0,
	                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410f"
	                "f61f20015ad"},
	        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 0,
	                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ece"
	                "dd419db06c1"},
	        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijk"
	         "lmn"
	         "oijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	                0,
	                "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac4"
	                "5037afee9d1"},
	        {NULL, 55,
	                "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1"
	                "e910f734318"},
	        {NULL, 56,
	                "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef797"
	                "0686ec6738a"},
	        {NULL, 63,
	                "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2d"
	                "a457ddc2f34"},
	        {NULL, 64,
	                "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba599733"
	                "7df154668eb"},
	        {NULL, 65,
	                "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301"
	                "d4f17eb0ae0"},
	        {NULL, 119,
	                "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f"
	                "7ea6584dcfb"},
	        {NULL, 120,
	                "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc"
	                "55af904c21c"},
	        {NULL, 1000000,
	                "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d3"
	                "9ccc7112cd0"},
	};
	static const char hexd[] = "0123456789abcdef";
	int               bad    = 0;

	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		char   hex[PSB_SHA256_HEX_LEN + 1];
		char  *msg = (char *)vec[i].msg;
		size_t len = vec[i].repeat_a;

		if (msg == NULL) {
			msg = pack_xrealloc(NULL, len);
			memset(msg, 'a', len);
		} else {
			len = strlen(msg);
		}
		psb_sha256_hex(msg, len, hex);
		if (strcmp(hex, vec[i].hex) != 0) {
			fprintf(stderr, "FAIL - sha256 vector %zu: %s\n", i,
			        hex);
			bad++;
		}

		/* The same message fed in uneven pieces (1, 2, 3, ... bytes).
		 */
		psb_sha256_t ctx;
		uint8_t      md[PSB_SHA256_LEN];
		size_t       off = 0, step = 1;
		psb_sha256_init(&ctx);
		while (off < len) {
			size_t n = len - off < step ? len - off : step;
			psb_sha256_update(&ctx, msg + off, n);
			off += n;
			step = step % 97 + 1;
		}
		psb_sha256_final(&ctx, md);
		for (int j = 0; j < PSB_SHA256_LEN; j++) {
			hex[2 * j]     = hexd[md[j] >> 4];
			hex[2 * j + 1] = hexd[md[j] & 0xf];
		}
		if (strcmp(hex, vec[i].hex) != 0) {
			fprintf(stderr, "FAIL - sha256 vector %zu in pieces\n",
			        i);
			bad++;
		}
		if (vec[i].msg == NULL) {
			free(msg);
		}
	}
	printf("%s - sha256 known answers\n", bad ? "FAIL" : "ok");
	return bad ? 1 : 0;
}

static void
pack_usage(FILE *f)
{
	fprintf(f, "usage: oci-pack --binary FILE --name REF --arch MACHINE "
	           "--output OUT.tar\n"
	           "       oci-pack --self-test\n");
}

int
main(int argc, char **argv)
{
	const char *binary = NULL, *name = NULL, *arch = NULL, *output = NULL;

	if (argc == 2 && strcmp(argv[1], "--self-test") == 0) {
		return pack_self_test();
	}
	for (int i = 1; i < argc; i++) {
		const char **slot = NULL;
		if (strcmp(argv[i], "--binary") == 0) {
			slot = &binary;
		} else if (strcmp(argv[i], "--name") == 0) {
			slot = &name;
		} else if (strcmp(argv[i], "--arch") == 0) {
			slot = &arch;
		} else if (strcmp(argv[i], "--output") == 0) {
			slot = &output;
		} else if (strcmp(argv[i], "--help") == 0) {
			pack_usage(stdout);
			return 0;
		}
		if (slot == NULL || i + 1 >= argc) {
			pack_usage(stderr);
			return 2;
		}
		*slot = argv[++i];
	}
	if (!binary || !name || !arch || !output || name[0] == '\0') {
		pack_usage(stderr);
		return 2;
	}
	return pack_image(binary, name, arch, output) < 0 ? 1 : 0;
}
