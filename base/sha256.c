/*
 * sha256.c - SHA-256 written from FIPS 180-4 §4.1.2, §4.2.2, §5.1.1,
 * §5.3.3 and §6.2. Checked against the FIPS/NIST vectors by
 * `oci-pack --self-test` (ctest unit.oci_pack_selftest).
 */
#include "base/sha256.h"

#include <string.h>

/* §4.2.2: the first 32 bits of the fractional parts of the cube roots of
 * the first 64 primes. */
static const uint32_t sha_k[64] = {0x428a2f98, 0x71374491, 0xb5c0fbcf,
        0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
        0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7,
        0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
        0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
        0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e,
        0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c,
        0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee,
        0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};

static uint32_t
sha_rotr(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

/* §6.2.2: one 512-bit block. */
static void
sha_block(psb_sha256_t *ctx, const uint8_t *p)
{
	uint32_t w[64];
	uint32_t a, b, c, d, e, f, g, h;

	for (int t = 0; t < 16; t++) {
		w[t] = (uint32_t)p[4 * t] << 24 |
		       (uint32_t)p[4 * t + 1] << 16 |
		       (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];
	}
	for (int t = 16; t < 64; t++) {
		uint32_t s0 = sha_rotr(w[t - 15], 7) ^
		              sha_rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
		uint32_t s1 = sha_rotr(w[t - 2], 17) ^ sha_rotr(w[t - 2], 19) ^
		              (w[t - 2] >> 10);
		w[t] = w[t - 16] + s0 + w[t - 7] + s1;
	}
	a = ctx->state[0];
	b = ctx->state[1];
	c = ctx->state[2];
	d = ctx->state[3];
	e = ctx->state[4];
	f = ctx->state[5];
	g = ctx->state[6];
	h = ctx->state[7];
	for (int t = 0; t < 64; t++) {
		uint32_t s1 =
		        sha_rotr(e, 6) ^ sha_rotr(e, 11) ^ sha_rotr(e, 25);
		uint32_t ch = (e & f) ^ (~e & g);
		uint32_t t1 = h + s1 + ch + sha_k[t] + w[t];
		uint32_t s0 =
		        sha_rotr(a, 2) ^ sha_rotr(a, 13) ^ sha_rotr(a, 22);
		uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
		uint32_t t2  = s0 + maj;
		h            = g;
		g            = f;
		f            = e;
		e            = d + t1;
		d            = c;
		c            = b;
		b            = a;
		a            = t1 + t2;
	}
	ctx->state[0] += a;
	ctx->state[1] += b;
	ctx->state[2] += c;
	ctx->state[3] += d;
	ctx->state[4] += e;
	ctx->state[5] += f;
	ctx->state[6] += g;
	ctx->state[7] += h;
}

void
psb_sha256_init(psb_sha256_t *ctx)
{
	/* §5.3.3 */
	static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
	        0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

	memcpy(ctx->state, h0, sizeof(h0));
	ctx->nbytes = 0;
	ctx->used   = 0;
}

void
psb_sha256_update(psb_sha256_t *ctx, const void *data, size_t len)
{
	const uint8_t *p = data;

	ctx->nbytes += len;
	if (ctx->used > 0) {
		size_t n = 64 - ctx->used;
		if (n > len) {
			n = len;
		}
		memcpy(ctx->block + ctx->used, p, n);
		ctx->used += n;
		p += n;
		len -= n;
		if (ctx->used < 64) {
			return;
		}
		sha_block(ctx, ctx->block);
		ctx->used = 0;
	}
	for (; len >= 64; p += 64, len -= 64) {
		sha_block(ctx, p);
	}
	memcpy(ctx->block, p, len);
	ctx->used = len;
}

void
psb_sha256_final(psb_sha256_t *ctx, uint8_t out[PSB_SHA256_LEN])
{
	/* §5.1.1: a 1 bit, zeros up to 448 mod 512, the 64-bit bit length. */
	uint64_t bits = ctx->nbytes * 8;

	ctx->block[ctx->used++] = 0x80;
	if (ctx->used > 56) {
		memset(ctx->block + ctx->used, 0, 64 - ctx->used);
		sha_block(ctx, ctx->block);
		ctx->used = 0;
	}
	memset(ctx->block + ctx->used, 0, 56 - ctx->used);
	for (int i = 0; i < 8; i++) {
		ctx->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	}
	sha_block(ctx, ctx->block);
	for (int i = 0; i < 8; i++) {
		out[4 * i]     = (uint8_t)(ctx->state[i] >> 24);
		out[4 * i + 1] = (uint8_t)(ctx->state[i] >> 16);
		out[4 * i + 2] = (uint8_t)(ctx->state[i] >> 8);
		out[4 * i + 3] = (uint8_t)ctx->state[i];
	}
}

void
psb_sha256_hex(const void *data, size_t len, char hex[PSB_SHA256_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	psb_sha256_t      ctx;
	uint8_t           md[PSB_SHA256_LEN];

	psb_sha256_init(&ctx);
	psb_sha256_update(&ctx, data, len);
	psb_sha256_final(&ctx, md);
	for (int i = 0; i < PSB_SHA256_LEN; i++) {
		hex[2 * i]     = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0xf];
	}
	hex[PSB_SHA256_HEX_LEN] = '\0';
}
