//
// podsandboxd - sandbox image resolution against containerd (DESIGN.md §6,
// issue 4 items 2 and 3).
//
// psb_image_resolve turns an image name into what Start needs: the chain
// id of its layers (the parent of the sandbox's snapshot) and the process
// defaults of its config (entrypoint, cmd, env, working dir, user). It
// reads only what containerd already holds: Images.Get gives the target
// descriptor, Content.Read gives the blobs. An index (OCI image index or
// Docker manifest list) is resolved to the manifest for linux/<arch>.
// Every blob read is checked against its sha256 digest before it is
// parsed, so what the daemon runs is what the image names.
//
// The JSON helpers below (psb_image_parse_*, psb_image_chain_id,
// psb_image_verify) are pure: no I/O, callable from any thread. They are
// what psb_image_resolve runs on each blob, exposed for the unit tests.
//

#ifndef PSB_RUNTIME_CONTAINERD_IMAGE_H
#define PSB_RUNTIME_CONTAINERD_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "runtime/grpc.h"

struct ev_loop;

// Largest blob (index, manifest or config) read from containerd. An image
// whose descriptor announces more, or whose content turns out bigger,
// fails with PSB_ERUNTIME.
#define PSB_IMAGE_MAX_BLOB (4u * 1024 * 1024)

// "sha256:" + 64 hex digits; the only digest algorithm accepted.
#define PSB_IMAGE_DIGEST_LEN (7 + 64)

// The media types understood (OCI image-spec and Docker's schema 2).
#define PSB_MT_OCI_INDEX    "application/vnd.oci.image.index.v1+json"
#define PSB_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define PSB_MT_OCI_CONFIG   "application/vnd.oci.image.config.v1+json"
#define PSB_MT_DOCKER_LIST \
	"application/vnd.docker.distribution.manifest.list.v2+json"
#define PSB_MT_DOCKER_MANIFEST \
	"application/vnd.docker.distribution.manifest.v2+json"
#define PSB_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

// What a media type is, for the resolver's dispatch.
typedef enum psb_image_kind {
	PSB_IMAGE_KIND_UNKNOWN = 0,
	PSB_IMAGE_KIND_INDEX,    // OCI index or Docker manifest list
	PSB_IMAGE_KIND_MANIFEST, // OCI or Docker schema 2 manifest
	PSB_IMAGE_KIND_CONFIG,   // OCI or Docker image config
} psb_image_kind;

// psb_image_kind_of classifies a media type (NULL gives UNKNOWN).
psb_image_kind psb_image_kind_of(const char *media_type);

// A content descriptor, by value: no allocation, fixed-size strings.
typedef struct psb_image_desc {
	char    media_type[128];
	char    digest[PSB_IMAGE_DIGEST_LEN + 1];
	int64_t size;
} psb_image_desc_t;

// The resolved image. Owned by whoever holds the pointer (the resolve
// callback receives it and must psb_image_free it, or keep it). Every
// string is NUL-terminated and non-NULL unless noted; the string vectors
// are NULL-terminated (possibly empty: vec[0] == NULL), never NULL.
typedef struct psb_image {
	char  *name;            // as passed to psb_image_resolve
	char  *target_digest;   // Images.Get's target (index or manifest)
	char  *manifest_digest; // the manifest used (== target if no index)
	char  *config_digest;   // the image config blob
	char  *chain_id;        // "sha256:..." of rootfs.diff_ids
	char **entrypoint;      // config.Entrypoint
	char **cmd;             // config.Cmd
	char **env;             // config.Env ("KEY=value")
	char  *working_dir;     // config.WorkingDir, "" if unset
	char  *user;            // config.User, "" if unset
	char  *labels;          // config.Labels as compact JSON, "{}" if unset
	char  *os;              // config "os"
	char  *arch;            // config "architecture"
} psb_image_t;

// psb_image_free releases img and everything it points to. NULL is a
// no-op.
void psb_image_free(psb_image_t *img);

// Options of psb_image_resolve. Strings are borrowed for the call (they
// are copied before it returns). Only arch is used to resolve; ns,
// address and import_path only make the "image missing" error message
// exact, so that it can be pasted into a shell.
typedef struct psb_image_opts {
	// The loop g runs on: it arms the resolve's overall deadline. NULL
	// = no overall deadline (each Images.Get still has g's default).
	struct ev_loop *loop;
	// Overall deadline of the resolve in ms; 0 takes 10 s.
	uint32_t deadline_ms;
	// Go-style architecture to pick from an index ("amd64", "arm64",
	// optionally with a variant: "arm/v7"); NULL = the host's.
	const char *arch;
	// The containerd namespace g sends, the socket path g talks to and
	// the archive to import; NULL gives "default", the default
	// containerd socket and "<path to pause-image.tar>".
	const char *ns;
	const char *address;
	const char *import_path;
} psb_image_opts_t;

// psb_image_cb reports the outcome of psb_image_resolve, on the loop
// thread. On success img is non-NULL and owned by the callback
// (psb_image_free) and err is NULL. On failure img is NULL and err
// (borrowed for the callback) says why:
// - PSB_ESTATE: the image is not in the namespace; the message is
//   `sandbox image "<name>" is not in containerd namespace "<ns>": import
//   it with: ctr --address <socket> -n <ns> images import <tar>`. It maps
//   to FAILED_PRECONDITION at the API.
// - PSB_EUNAVAIL: containerd cannot be reached.
// - PSB_ETIMEDOUT: the overall deadline (or a call's) passed.
// - PSB_ERUNTIME: content missing, oversized, not matching its digest,
//   malformed, of an unknown media type, or without a manifest for the
//   platform; the message names the digest concerned.
// - PSB_ECANCELED: g was closed meanwhile.
typedef void (*psb_image_cb)(
        void *arg, psb_image_t *img, const psb_error_t *err);

// psb_image_resolve starts resolving name (see the file comment) with
// calls on g. cb fires exactly once, later, on the loop thread (never
// inside this function). opts may be NULL (all defaults). Returns 0, or
// PSB_EINVAL (g, name or cb NULL, or name empty), in which case cb never
// fires. Must be called on g's loop thread. There is no cancel: closing
// g completes the resolve with PSB_ECANCELED.
int psb_image_resolve(psb_grpc_t *g, const char *name,
        const psb_image_opts_t *opts, psb_image_cb cb, void *arg);

// psb_image_host_arch returns the Go-style name of the host's
// architecture ("amd64" for x86_64, ...), static, or the kernel's machine
// name if it has no mapping.
const char *psb_image_host_arch(void);

// ---- pure helpers (unit-tested) ----------------------------------------

// psb_image_verify checks that data (len bytes, borrowed) hashes to
// digest, which must be "sha256:" + 64 lower-case hex digits. Fails with
// PSB_ERUNTIME naming the digest (unsupported algorithm, malformed,
// mismatch).
int psb_image_verify(
        const char *digest, const void *data, size_t len, psb_error_t *err);

// psb_image_chain_id computes the chain id of n diff ids (each a sha256
// digest) into out: chain(1) = diff(1); chain(i) = "sha256:" +
// hex(sha256(chain(i-1) + " " + diff(i))). Fails with PSB_ERUNTIME if n
// is 0 or a diff id is malformed.
int psb_image_chain_id(const char *const *diff_ids, size_t n,
        char out[PSB_IMAGE_DIGEST_LEN + 1], psb_error_t *err);

// psb_image_parse_index picks, from an index or manifest list (data, len;
// digest only names it in errors), the first manifest for os "linux" and
// arch ("amd64" or "arm/v7": the variant must match when given) into
// *out. Entries without a platform, or of an unknown media type, are
// skipped. Fails with PSB_ERUNTIME (malformed, no match).
int psb_image_parse_index(const void *data, size_t len, const char *digest,
        const char *arch, psb_image_desc_t *out, psb_error_t *err);

// psb_image_parse_manifest extracts the config descriptor of a manifest
// into *out. Fails with PSB_ERUNTIME (malformed, not a config media
// type, no layers).
int psb_image_parse_manifest(const void *data, size_t len, const char *digest,
        psb_image_desc_t *out, psb_error_t *err);

// psb_image_parse_config fills img's config fields (entrypoint, cmd, env,
// working_dir, user, labels, os, arch, chain_id) from an image config;
// fields already set are released first. Fails with PSB_ERUNTIME
// (malformed, no diff ids); img may then be partly filled, and stays
// safe to psb_image_free.
int psb_image_parse_config(const void *data, size_t len, const char *digest,
        psb_image_t *img, psb_error_t *err);

#endif // PSB_RUNTIME_CONTAINERD_IMAGE_H
