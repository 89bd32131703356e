// Sparse INT8 products (u8 activations × s8 weights → s32) on the chunked CSR of ck_sparse.h:
// a scalar reference, an AVX2 variant (8-lane gathers of widened activations) and an AVX-512
// variant (vpermi2b picks a row's non-zero columns out of a 128-byte activation chunk held in two
// registers, vpdpbusd multiplies and accumulates 64 of them per instruction). Integer sums are
// exact, so every variant gives the reference's integers, which are the dense product's.
#include "ck_cpu.h"
#include "ck_sparse.h"

#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CK_X86 1
#endif

#define CHUNK CK_SPARSE_S8_CHUNK
// Batch rows the AVX-512 variant runs against one pass over the weights (one accumulator each).
#define S8_TILE 8

size_t ck_spmm_u8s8_scratch_bytes(int64_t cols) {
    int64_t padded = (cols + CHUNK - 1) / CHUNK * CHUNK;
    size_t tile = (size_t)padded * S8_TILE;                    // AVX-512: S8_TILE zero-padded u8 rows
    size_t widened = (size_t)padded * sizeof(int32_t);         // AVX2: one row widened to int32
    return tile > widened ? tile : widened;
}

// ---------------------------------------------------------------- scalar reference

static void spmm_s8_scalar(const ck_csr_s8 *w, const uint8_t *x, int64_t batch, int32_t *acc) {
    for (int64_t i = 0; i < batch; i++) {
        const uint8_t *xi = x + i * w->cols;
        for (int64_t r = 0; r < w->rows; r++) {
            int32_t sum = 0;
            int64_t p = w->row_start[r];
            for (int64_t k = 0; k < w->chunks; k++) {
                const uint8_t *xk = xi + k * CHUNK;
                for (int t = 0; t < w->chunk_count[r * w->chunks + k]; t++, p++) sum += (int32_t)xk[w->index[p]] * (int32_t)w->values[p];
            }
            acc[i * w->rows + r] = sum;
        }
    }
}

#ifdef CK_X86
// ---------------------------------------------------------------- AVX2: gathers

// One batch row: x widened to int32 (zero-padded to whole chunks), then per chunk 8 entries at a
// time: gather, multiply by the sign-extended weights, add. Lanes past the chunk's count get weight 0.
__attribute__((target("avx2"))) static void spmm_s8_avx2(const ck_csr_s8 *w, const uint8_t *x, int64_t batch, int32_t *acc,
                                                        uint8_t *scratch) {
    int32_t *xw = (int32_t *)scratch;
    int64_t padded = w->chunks * CHUNK;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int64_t i = 0; i < batch; i++) {
        const uint8_t *xi = x + i * w->cols;
        for (int64_t c = 0; c < padded; c++) xw[c] = c < w->cols ? xi[c] : 0;
        for (int64_t r = 0; r < w->rows; r++) {
            __m256i sum = _mm256_setzero_si256();
            int64_t p = w->row_start[r];
            for (int64_t k = 0; k < w->chunks; k++) {
                int count = w->chunk_count[r * w->chunks + k];
                const int32_t *base = xw + k * CHUNK;
                for (int t = 0; t < count; t += 8, p += 8) {
                    __m256i cols = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(w->index + p)));
                    __m256i vals = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(w->values + p)));
                    vals = _mm256_and_si256(vals, _mm256_cmpgt_epi32(_mm256_set1_epi32(count - t), lane));
                    sum = _mm256_add_epi32(sum, _mm256_mullo_epi32(vals, _mm256_i32gather_epi32(base, cols, 4)));
                }
                p -= (8 - count % 8) % 8;  // the last group stepped past the chunk's entries
            }
            __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
            s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
            s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
            acc[i * w->rows + r] = _mm_cvtsi128_si32(s);
        }
    }
}

// ---------------------------------------------------------------- AVX-512 BW + VBMI + VNNI

#define AVX512_S8 "avx512f,avx512bw,avx512vbmi,avx512vnni,bmi2"

// Independent accumulator chains per batch row: few rows leave the vpdpbusd latency exposed.
#define S8_CHAINS(tile) ((tile) == 1 ? 4 : (tile) == 2 ? 2 : 1)

// Adds chunk k of a row (entries from p, `take` ≤ 64 of them) to each tile row's chain `chain`.
__attribute__((target(AVX512_S8))) static inline __attribute__((always_inline)) void
chunk_s8_avx512(const ck_csr_s8 *w, const uint8_t *xp, int64_t padded, int tile, int64_t k, int64_t p, int take,
                __m512i sum[S8_TILE][4], int chain) {
    __mmask64 m = _cvtu64_mask64(_bzhi_u64(~0ULL, (unsigned)take));
    __m512i idx = _mm512_maskz_loadu_epi8(m, w->index + p);
    __m512i val = _mm512_maskz_loadu_epi8(m, w->values + p);
    for (int s = 0; s < tile; s++) {
        const uint8_t *xk = xp + s * padded + k * CHUNK;
        __m512i picked = _mm512_permutex2var_epi8(_mm512_loadu_si512(xk), idx, _mm512_loadu_si512(xk + 64));
        sum[s][chain] = _mm512_dpbusd_epi32(sum[s][chain], picked, val);
    }
}

// `tile` batch rows (a compile-time constant after inlining) against every weight row. xp holds
// the rows zero-padded to whole chunks, `padded` bytes apart. Every chunk costs one masked step
// (an empty chunk too: no branch to mispredict); a chunk with more than 64 entries takes a second.
__attribute__((target(AVX512_S8))) static inline __attribute__((always_inline)) void
tile_s8_avx512(const ck_csr_s8 *w, const uint8_t *xp, int64_t padded, int tile, int32_t *acc) {
    const int chains = S8_CHAINS(tile);
    for (int64_t r = 0; r < w->rows; r++) {
        __m512i sum[S8_TILE][4];
        for (int s = 0; s < tile; s++)
            for (int c = 0; c < chains; c++) sum[s][c] = _mm512_setzero_si512();
        int64_t p = w->row_start[r];
        const uint8_t *counts = w->chunk_count + r * w->chunks;
        for (int64_t k0 = 0; k0 < w->chunks; k0 += chains) {
            for (int c = 0; c < chains; c++) {
                int64_t k = k0 + c;
                if (c > 0 && k >= w->chunks) break;
                int count = counts[k];
                int take = count < 64 ? count : 64;
                chunk_s8_avx512(w, xp, padded, tile, k, p, take, sum, c);
                if (__builtin_expect(count > 64, 0)) chunk_s8_avx512(w, xp, padded, tile, k, p + 64, count - 64, sum, c);
                p += count;
            }
        }
        for (int s = 0; s < tile; s++) {
            __m512i total = sum[s][0];
            for (int c = 1; c < chains; c++) total = _mm512_add_epi32(total, sum[s][c]);
            acc[s * w->rows + r] = _mm512_reduce_add_epi32(total);
        }
    }
}

__attribute__((target(AVX512_S8))) static void spmm_s8_avx512(const ck_csr_s8 *w, const uint8_t *x, int64_t batch, int32_t *acc,
                                                             uint8_t *scratch) {
    int64_t padded = w->chunks * CHUNK;
    for (int64_t i0 = 0; i0 < batch;) {
        int64_t left = batch - i0;
        int tile = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
        for (int s = 0; s < tile; s++) {
            memcpy(scratch + s * padded, x + (i0 + s) * w->cols, (size_t)w->cols);
            memset(scratch + s * padded + w->cols, 0, (size_t)(padded - w->cols));
        }
        int32_t *out = acc + i0 * w->rows;
        switch (tile) {
        case 8: tile_s8_avx512(w, scratch, padded, 8, out); break;
        case 4: tile_s8_avx512(w, scratch, padded, 4, out); break;
        case 2: tile_s8_avx512(w, scratch, padded, 2, out); break;
        default: tile_s8_avx512(w, scratch, padded, 1, out); break;
        }
        i0 += tile;
    }
}
#endif

// ---------------------------------------------------------------- dispatch

int ck_spmm_u8s8_isa_supported(ck_sparse_isa isa) {
    switch (isa) {
    case CK_SPARSE_SCALAR: return 1;
#ifdef CK_X86
    case CK_SPARSE_AVX2: return ck_cpu_has(CK_CPU_AVX2);
    case CK_SPARSE_AVX512: return ck_cpu_has(CK_CPU_AVX2 | CK_CPU_AVX512 | CK_CPU_AVX512VBMI | CK_CPU_VNNI);
#else
    case CK_SPARSE_AVX2: case CK_SPARSE_AVX512: return 0;
#endif
    }
    return 0;
}

ck_sparse_isa ck_spmm_u8s8_best_isa(void) {
    if (ck_spmm_u8s8_isa_supported(CK_SPARSE_AVX512)) return CK_SPARSE_AVX512;
    if (ck_spmm_u8s8_isa_supported(CK_SPARSE_AVX2)) return CK_SPARSE_AVX2;
    return CK_SPARSE_SCALAR;
}

void ck_spmm_u8s8s32_variant(ck_sparse_isa isa, const ck_csr_s8 *w, const uint8_t *x, int64_t batch,
                             int32_t *acc, uint8_t *scratch) {
#ifdef CK_X86
    if (isa == CK_SPARSE_AVX512 && ck_spmm_u8s8_isa_supported(isa)) { spmm_s8_avx512(w, x, batch, acc, scratch); return; }
    if (isa == CK_SPARSE_AVX2 && ck_spmm_u8s8_isa_supported(isa)) { spmm_s8_avx2(w, x, batch, acc, scratch); return; }
#endif
    spmm_s8_scalar(w, x, batch, acc);
}
