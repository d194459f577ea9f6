/*
 * sha256.h - SHA-256 (FIPS 180-4).
 *
 * A small, self-contained implementation, without a crypto library
 * dependency: the OCI image packer (tools/pause/oci-pack) computes every
 * digest of the pause image with it, and the containerd backend
 * (runtime/containerd/image.c) verifies image blobs and computes chain ids
 * with it. Pure functions: callable from any thread on separate contexts.
 */
#ifndef PSB_BASE_SHA256_H
#define PSB_BASE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define PSB_SHA256_LEN     32
#define PSB_SHA256_HEX_LEN 64

typedef struct psb_sha256 {
	uint32_t state[8];
	uint64_t nbytes;
	uint8_t  block[64];
	size_t   used;
} psb_sha256_t;

/* psb_sha256_init resets ctx to the FIPS 180-4 initial hash value. */
void psb_sha256_init(psb_sha256_t *ctx);

/* psb_sha256_update hashes len bytes of data (borrowed) into ctx. */
void psb_sha256_update(psb_sha256_t *ctx, const void *data, size_t len);

/*
 * psb_sha256_final pads, writes the 32-byte digest to out and leaves ctx
 * unusable until the next psb_sha256_init.
 */
void psb_sha256_final(psb_sha256_t *ctx, uint8_t out[PSB_SHA256_LEN]);

/*
 * psb_sha256_hex hashes len bytes of data in one go and writes the digest
 * as 64 lower-case hex digits plus a NUL to hex.
 */
void psb_sha256_hex(
        const void *data, size_t len, char hex[PSB_SHA256_HEX_LEN + 1]);

#endif
