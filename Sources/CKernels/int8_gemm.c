/* The non-saturating u8×s8→s32 product for CPUs without VNNI (include/ck_int8.h). Both operands
 * are widened to s16; `vpmaddwd` multiplies 16-bit pairs and adds each pair into one s32 lane
 * (|a·w + a'·w'| ≤ 2·255·128 < 2^31: exact), so the sums are the reference's integers.
 * Layout: the weights in panels of P output channels (P = 8 for AVX2, 16 for AVX-512), each
 * k-pair of a channel as one 32-bit lane; a row's pair (a[2p], a[2p+1]) is broadcast and
 * multiplied with the panel's lanes. A register tile of MR rows × NR panels accumulates over all
 * of k; column panels are the outer loop so a panel group is read from cache once per row tile. */
#include "ck_cpu.h"
#include "ck_int8.h"

#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CK_X86 1
#endif

/* Register tiles: rows × panels (AVX2: 4 × 3 panels of 8 columns; AVX-512: 6 × 4 panels of 16). */
#define AVX2_MR 4
#define AVX2_NR 3
#define AVX512_MR 6
#define AVX512_NR 4

static size_t panel_width(ck_int8_gemm_isa isa) { return isa == CK_INT8_GEMM_AVX512 ? 16 : 8; }
static size_t pair_count(size_t k) { return (k + 1) / 2; }

int ck_gemm_s16_supported(ck_int8_gemm_isa isa) {
    switch (isa) {
    case CK_INT8_GEMM_AVX2: return ck_cpu_has(CK_CPU_AVX2);
    case CK_INT8_GEMM_AVX512: return ck_cpu_has(CK_CPU_AVX2 | CK_CPU_AVX512);
    }
    return 0;
}

size_t ck_gemm_s16_packed_count(ck_int8_gemm_isa isa, size_t n, size_t k) {
    size_t p = panel_width(isa);
    return (n + p - 1) / p * pair_count(k) * 2 * p;
}

void ck_gemm_s16_pack(ck_int8_gemm_isa isa, const int8_t *w, size_t n, size_t k, int16_t *packed) {
    size_t width = panel_width(isa), pairs = pair_count(k), panels = (n + width - 1) / width;
    for (size_t panel = 0; panel < panels; panel++)
        for (size_t p = 0; p < pairs; p++)
            for (size_t c = 0; c < width; c++)
                for (size_t e = 0; e < 2; e++) {
                    size_t j = panel * width + c, q = 2 * p + e;
                    packed[((panel * pairs + p) * width + c) * 2 + e] = (j < n && q < k) ? w[j * k + q] : 0;
                }
}

size_t ck_gemm_s16_scratch_count(size_t m, size_t k) { return m * pair_count(k) * 2; }

#ifdef CK_X86
/* ---------------------------------------------------------------- AVX2: 4 rows × 3 panels of 8 */

__attribute__((target("avx2"))) static void widen_avx2(const uint8_t *a, size_t m, size_t k, int16_t *out) {
    size_t kp = pair_count(k) * 2;
    for (size_t i = 0; i < m; i++) {
        const uint8_t *src = a + i * k;
        int16_t *dst = out + i * kp;
        size_t p = 0;
        for (; p + 16 <= k; p += 16)
            _mm256_storeu_si256((__m256i *)(dst + p), _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(src + p))));
        for (; p < kp; p++) dst[p] = p < k ? src[p] : 0;
    }
}

__attribute__((target("avx2"))) static inline __attribute__((always_inline)) void
tile_avx2(const int16_t *a, size_t kp, const int16_t *b, size_t panel_stride, size_t pairs, int mr, int nr,
          int32_t *c, size_t n, size_t col) {
    __m256i acc[AVX2_MR][AVX2_NR];
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nr; j++) acc[r][j] = _mm256_setzero_si256();
    for (size_t p = 0; p < pairs; p++) {
        __m256i bv[AVX2_NR];
        for (int j = 0; j < nr; j++) bv[j] = _mm256_loadu_si256((const __m256i *)(b + j * panel_stride + p * 16));
        for (int r = 0; r < mr; r++) {
            int32_t pair;
            memcpy(&pair, a + r * kp + 2 * p, sizeof pair);
            __m256i av = _mm256_set1_epi32(pair);
            for (int j = 0; j < nr; j++) acc[r][j] = _mm256_add_epi32(acc[r][j], _mm256_madd_epi16(av, bv[j]));
        }
    }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nr; j++) {
            size_t first = col + (size_t)j * 8;
            if (first >= n) break;
            int32_t *dst = c + r * n + first;
            if (n - first >= 8) _mm256_storeu_si256((__m256i *)dst, acc[r][j]);
            else _mm256_maskstore_epi32(dst, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - first)), lane), acc[r][j]);
        }
}

#define AVX2_CASE(MR, NR) case (MR) * 8 + (NR): tile_avx2(a, kp, b, stride, pairs, MR, NR, c, n, col); break;

/* One register tile of `mr` ≤ 4 rows × `nr` ≤ 3 panels (constants inside each case). */
__attribute__((target("avx2"))) static void tiles_avx2(const int16_t *a, size_t kp, const int16_t *b, size_t stride, size_t pairs,
                                                      int mr, int nr, int32_t *c, size_t n, size_t col) {
    switch (mr * 8 + nr) {
        AVX2_CASE(1, 1) AVX2_CASE(1, 2) AVX2_CASE(1, 3) AVX2_CASE(2, 1) AVX2_CASE(2, 2) AVX2_CASE(2, 3)
        AVX2_CASE(3, 1) AVX2_CASE(3, 2) AVX2_CASE(3, 3) AVX2_CASE(4, 1) AVX2_CASE(4, 2) AVX2_CASE(4, 3)
    }
}

/* ---------------------------------------------------------------- AVX-512 BW: 6 rows × 4 panels of 16 */

#define AVX512_S16 "avx512f,avx512bw,avx512vl"

__attribute__((target(AVX512_S16))) static inline __attribute__((always_inline)) void
tile_avx512(const int16_t *a, size_t kp, const int16_t *b, size_t panel_stride, size_t pairs, int mr, int nr,
            int32_t *c, size_t n, size_t col) {
    __m512i acc[AVX512_MR][AVX512_NR];
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nr; j++) acc[r][j] = _mm512_setzero_si512();
    for (size_t p = 0; p < pairs; p++) {
        __m512i bv[AVX512_NR];
        for (int j = 0; j < nr; j++) bv[j] = _mm512_loadu_si512(b + j * panel_stride + p * 32);
        for (int r = 0; r < mr; r++) {
            int32_t pair;
            memcpy(&pair, a + r * kp + 2 * p, sizeof pair);
            __m512i av = _mm512_set1_epi32(pair);
            for (int j = 0; j < nr; j++) acc[r][j] = _mm512_add_epi32(acc[r][j], _mm512_madd_epi16(av, bv[j]));
        }
    }
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nr; j++) {
            size_t first = col + (size_t)j * 16;
            if (first >= n) break;
            size_t left = n - first;
            __mmask16 keep = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
            _mm512_mask_storeu_epi32(c + r * n + first, keep, acc[r][j]);
        }
}

#define AVX512_CASE(MR, NR) case (MR) * 8 + (NR): tile_avx512(a, kp, b, stride, pairs, MR, NR, c, n, col); break;
#define AVX512_ROW(MR) AVX512_CASE(MR, 1) AVX512_CASE(MR, 2) AVX512_CASE(MR, 3) AVX512_CASE(MR, 4)

/* One register tile of `mr` ≤ 6 rows × `nr` ≤ 4 panels (constants inside each case). */
__attribute__((target(AVX512_S16))) static void tiles_avx512(const int16_t *a, size_t kp, const int16_t *b, size_t stride,
                                                            size_t pairs, int mr, int nr, int32_t *c, size_t n, size_t col) {
    switch (mr * 8 + nr) {
        AVX512_ROW(1) AVX512_ROW(2) AVX512_ROW(3) AVX512_ROW(4) AVX512_ROW(5) AVX512_ROW(6)
    }
}

/* ---------------------------------------------------------------- the loops around the tiles */

typedef void (*tile_fn)(const int16_t *, size_t, const int16_t *, size_t, size_t, int, int, int32_t *, size_t, size_t);

/* Column panel groups outside, row tiles inside: a group of `max_nr` panels is read from cache
 * once per row tile (one call per tile: the call is negligible next to a tile's k steps). */
static void gemm_tiles(const int16_t *packed, const int16_t *a16, int32_t *c0, size_t m, size_t n, size_t k,
                       size_t width, int max_mr, int max_nr, tile_fn tiles, size_t first_group, size_t end_group) {
    size_t pairs = pair_count(k), kp = pairs * 2, stride = pairs * 2 * width, panels = (n + width - 1) / width;
    size_t end = end_group * (size_t)max_nr < panels ? end_group * (size_t)max_nr : panels;
    for (size_t panel = first_group * (size_t)max_nr; panel < end; panel += (size_t)max_nr) {
        int nr = panels - panel < (size_t)max_nr ? (int)(panels - panel) : max_nr;
        for (size_t i = 0; i < m; i += (size_t)max_mr) {
            int mr = m - i < (size_t)max_mr ? (int)(m - i) : max_mr;
            tiles(a16 + i * kp, kp, packed + panel * stride, stride, pairs, mr, nr, c0 + i * n, n, panel * width);
        }
    }
}
#endif

size_t ck_gemm_s16_column_groups(ck_int8_gemm_isa isa, size_t n) {
    size_t group = isa == CK_INT8_GEMM_AVX512 ? 16 * AVX512_NR : 8 * AVX2_NR;
    return (n + group - 1) / group;
}

void ck_gemm_s16_widen(const uint8_t *a, size_t m, size_t k, int16_t *widened) {
#ifdef CK_X86
    if (ck_cpu_has(CK_CPU_AVX2)) { widen_avx2(a, m, k, widened); return; }
#endif
    size_t kp = pair_count(k) * 2;
    for (size_t i = 0; i < m; i++)
        for (size_t p = 0; p < kp; p++) widened[i * kp + p] = p < k ? a[i * k + p] : 0;
}

void ck_gemm_s16_columns(ck_int8_gemm_isa isa, const int16_t *packed, const int16_t *widened, int32_t *c,
                         size_t m, size_t n, size_t k, size_t first_group, size_t end_group) {
#ifdef CK_X86
    if (ck_gemm_s16_supported(isa)) {
        if (isa == CK_INT8_GEMM_AVX512)
            gemm_tiles(packed, widened, c, m, n, k, 16, AVX512_MR, AVX512_NR, tiles_avx512, first_group, end_group);
        else
            gemm_tiles(packed, widened, c, m, n, k, 8, AVX2_MR, AVX2_NR, tiles_avx2, first_group, end_group);
        return;
    }
#endif
    (void)isa; (void)packed; (void)widened; (void)c; (void)m; (void)n; (void)k; (void)first_group; (void)end_group;
    __builtin_trap();  /* callers check ck_gemm_s16_supported first */
}

void ck_gemm_u8s8s32_s16(ck_int8_gemm_isa isa, const int16_t *packed, const uint8_t *a, int32_t *c,
                         size_t m, size_t n, size_t k, int16_t *scratch) {
    ck_gemm_s16_widen(a, m, k, scratch);
    ck_gemm_s16_columns(isa, packed, scratch, c, m, n, k, 0, ck_gemm_s16_column_groups(isa, n));
}
