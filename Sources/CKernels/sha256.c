/* SHA-256 as specified in FIPS 180-4, section 6.2. The portable compression function is the
 * reference; on x86-64 CPUs with the SHA extensions a variant built on SHA256RNDS2/MSG1/MSG2 is
 * chosen once at load time (both are compared in ModelFormatsTests). */
#include "ck_sha256.h"
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void compress_block_portable(uint32_t state[8], const uint8_t *p) {
    uint32_t w[64];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 | (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = ROTR(w[t - 15], 7) ^ ROTR(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = ROTR(w[t - 2], 17) ^ ROTR(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int t = 0; t < 64; t++) {
        uint32_t t1 = h + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t];
        uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = d + t1;
        d = c; c = b; b = a; a = t1 + t2;
    }
    state[0] += a; state[1] += b; state[2] += c; state[3] += d;
    state[4] += e; state[5] += f; state[6] += g; state[7] += h;
}

static void compress_blocks_portable(uint32_t state[8], const uint8_t *p, size_t blocks) {
    for (size_t i = 0; i < blocks; i++) compress_block_portable(state, p + 64 * i);
}

#if defined(__x86_64__)
/* The SHA extensions keep the state as two vectors, ABEF and CDGH; each SHA256RNDS2 does two
 * rounds, and MSG1/MSG2 compute four message-schedule words at a time. */
__attribute__((target("sha,sse4.1,ssse3")))
static void compress_blocks_shani(uint32_t state[8], const uint8_t *p, size_t blocks) {
    const __m128i byteswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i dcba = _mm_loadu_si128((const __m128i *)&state[0]);
    __m128i hgfe = _mm_loadu_si128((const __m128i *)&state[4]);
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
    __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
    for (size_t b = 0; b < blocks; b++, p += 64) {
        const __m128i abefStart = abef, cdghStart = cdgh;
        __m128i w[4];
        for (int g = 0; g < 16; g++) {
            __m128i words;
            if (g < 4) {
                words = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), byteswap);
            } else {
                __m128i x = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);          /* W[t-16] + s0(W[t-15]) */
                x = _mm_add_epi32(x, _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4)); /* + W[t-7] */
                words = _mm_sha256msg2_epu32(x, w[(g + 3) & 3]);                        /* + s1(W[t-2]) */
            }
            w[g & 3] = words;
            __m128i k = _mm_add_epi32(words, _mm_loadu_si128((const __m128i *)&K[4 * g]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, k);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(k, 0x0E));
        }
        abef = _mm_add_epi32(abef, abefStart);
        cdgh = _mm_add_epi32(cdgh, cdghStart);
    }
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(dchg, feba, 8));
}

static int cpu_has_sha_extensions(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19)) || !(c & (1u << 9))) return 0; /* SSE4.1, SSSE3 */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b >> 29) & 1; /* SHA */
}
#endif

typedef void (*compress_fn)(uint32_t state[8], const uint8_t *p, size_t blocks);
static compress_fn compress_blocks = compress_blocks_portable;
static const char *implementation = "portable";

/* Chosen once when the library loads, before any thread can hash. */
__attribute__((constructor)) static void choose_implementation(void) {
#if defined(__x86_64__)
    if (cpu_has_sha_extensions()) { compress_blocks = compress_blocks_shani; implementation = "x86-sha"; }
#endif
}

const char *ck_sha256_implementation(void) { return implementation; }

void ck_sha256_portable(const void *data, size_t length, uint8_t digest[32]) {
    ck_sha256_ctx ctx;
    ck_sha256_init(&ctx);
    ctx.portableOnly = 1;
    ck_sha256_update(&ctx, data, length);
    ck_sha256_final(&ctx, digest);
}

void ck_sha256_init(ck_sha256_ctx *ctx) {
    static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(ctx->state, H0, sizeof H0);
    ctx->length = 0;
    ctx->blockUsed = 0;
    ctx->portableOnly = 0;
}

static void run(ck_sha256_ctx *ctx, const uint8_t *p, size_t blocks) {
    if (blocks == 0) return;
    if (ctx->portableOnly) compress_blocks_portable(ctx->state, p, blocks);
    else compress_blocks(ctx->state, p, blocks);
}

void ck_sha256_update(ck_sha256_ctx *ctx, const void *data, size_t length) {
    const uint8_t *p = (const uint8_t *)data;
    ctx->length += length;
    if (ctx->blockUsed > 0) {
        size_t take = 64 - ctx->blockUsed < length ? 64 - ctx->blockUsed : length;
        memcpy(ctx->block + ctx->blockUsed, p, take);
        ctx->blockUsed += take; p += take; length -= take;
        if (ctx->blockUsed < 64) return;
        run(ctx, ctx->block, 1);
        ctx->blockUsed = 0;
    }
    run(ctx, p, length / 64);
    p += length / 64 * 64;
    length %= 64;
    memcpy(ctx->block, p, length);
    ctx->blockUsed = length;
}

void ck_sha256_final(ck_sha256_ctx *ctx, uint8_t digest[32]) {
    uint64_t bits = ctx->length * 8;
    uint8_t pad[72] = {0x80};
    size_t padLength = (ctx->blockUsed < 56 ? 56 : 120) - ctx->blockUsed;
    for (int i = 0; i < 8; i++) pad[padLength + i] = (uint8_t)(bits >> (56 - 8 * i));
    uint64_t keep = ctx->length;
    ck_sha256_update(ctx, pad, padLength + 8);
    ctx->length = keep;
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(ctx->state[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(ctx->state[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(ctx->state[i] >> 8);
        digest[4 * i + 3] = (uint8_t)ctx->state[i];
    }
}

void ck_sha256(const void *data, size_t length, uint8_t digest[32]) {
    ck_sha256_ctx ctx;
    ck_sha256_init(&ctx);
    ck_sha256_update(&ctx, data, length);
    ck_sha256_final(&ctx, digest);
}
