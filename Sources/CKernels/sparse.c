// Sparse (CSR) × dense products for linear layers: a scalar reference and AVX2 / AVX-512 variants,
// chosen at run time by CPU feature. Variants sum in a different order than the reference, so they
// agree with it within float rounding (tests name the tolerance), not bit for bit.
#include "ck_cpu.h"
#include "ck_sparse.h"

#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CK_X86 1
#endif

// Batch tile of the SIMD variants: x is transposed to [cols, TILE] so each non-zero weight
// multiplies one contiguous vector of TILE batch rows. 16 floats = one zmm / two ymm.
#define TILE 16

size_t ck_spmm_f32_scratch_floats(int64_t cols) { return (size_t)cols * TILE; }

// Column of entry p; `narrow` is a compile-time constant after inlining, so each variant is
// specialised for 16- and 32-bit indices.
static inline __attribute__((always_inline)) int64_t column(const ck_csr_f32 *w, int64_t p, int narrow) {
    return narrow ? (int64_t)((const uint16_t *)w->col_index)[p] : (int64_t)((const int32_t *)w->col_index)[p];
}

// ---------------------------------------------------------------- scalar reference

static void spmm_scalar(const ck_csr_f32 *w, const float *x, int64_t batch, const float *bias, float *y) {
    int narrow = w->index_bits == 16;
    for (int64_t i = 0; i < batch; i++) {
        const float *xi = x + i * w->cols;
        for (int64_t r = 0; r < w->rows; r++) {
            float sum = bias ? bias[r] : 0.0f;
            for (int64_t p = w->row_start[r]; p < w->row_start[r + 1]; p++) sum += w->values[p] * xi[column(w, p, narrow)];
            y[i * w->rows + r] = sum;
        }
    }
}

// Copies batch rows [i0, i0 + n) of x into xt [cols, TILE], zero-padding lanes n..TILE-1.
static void transpose_tile(const float *x, int64_t cols, int64_t i0, int64_t n, float *xt) {
    for (int64_t c = 0; c < cols; c++) {
        float *dst = xt + c * TILE;
        for (int64_t j = 0; j < n; j++) dst[j] = x[(i0 + j) * cols + c];
        for (int64_t j = n; j < TILE; j++) dst[j] = 0.0f;
    }
}

#ifdef CK_X86
// ---------------------------------------------------------------- AVX2 + FMA

__attribute__((target("avx2,fma"))) static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// 8 column indices from entry p on, as 32-bit lanes.
__attribute__((target("avx2,fma"))) static inline __m256i columns8(const ck_csr_f32 *w, int64_t p, int narrow) {
    return narrow ? _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)w->col_index + p)))
                  : _mm256_loadu_si256((const __m256i *)((const int32_t *)w->col_index + p));
}

// One batch row: per output, a gathered dot product over its non-zeros, 16 at a time.
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) void
gemv_avx2_body(const ck_csr_f32 *w, const float *x, const float *bias, float *y, int narrow) {
    for (int64_t r = 0; r < w->rows; r++) {
        int64_t p = w->row_start[r], end = w->row_start[r + 1];
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (; p + 32 <= end; p += 32) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w->values + p), _mm256_i32gather_ps(x, columns8(w, p, narrow), 4), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w->values + p + 8), _mm256_i32gather_ps(x, columns8(w, p + 8, narrow), 4), a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w->values + p + 16), _mm256_i32gather_ps(x, columns8(w, p + 16, narrow), 4), a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w->values + p + 24), _mm256_i32gather_ps(x, columns8(w, p + 24, narrow), 4), a3);
        }
        for (; p + 8 <= end; p += 8) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w->values + p), _mm256_i32gather_ps(x, columns8(w, p, narrow), 4), a0);
        }
        float sum = hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        for (; p < end; p++) sum += w->values[p] * x[column(w, p, narrow)];
        y[r] = sum + (bias ? bias[r] : 0.0f);
    }
}

__attribute__((target("avx2,fma"))) static void gemv_avx2(const ck_csr_f32 *w, const float *x, const float *bias, float *y) {
    if (w->index_bits == 16) gemv_avx2_body(w, x, bias, y, 1); else gemv_avx2_body(w, x, bias, y, 0);
}

// A tile of up to 16 batch rows: each non-zero adds value · xt[col] (16 lanes) to its output.
__attribute__((target("avx2,fma"))) static void tile_avx2(const ck_csr_f32 *w, const float *xt, int64_t i0, int64_t n,
                                                         const float *bias, float *y) {
    float out[TILE];
    int narrow = w->index_bits == 16;
    for (int64_t r = 0; r < w->rows; r++) {
        __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
        for (int64_t p = w->row_start[r]; p < w->row_start[r + 1]; p++) {
            __m256 v = _mm256_broadcast_ss(w->values + p);
            const float *src = xt + column(w, p, narrow) * TILE;
            lo = _mm256_fmadd_ps(v, _mm256_loadu_ps(src), lo);
            hi = _mm256_fmadd_ps(v, _mm256_loadu_ps(src + 8), hi);
        }
        _mm256_storeu_ps(out, lo);
        _mm256_storeu_ps(out + 8, hi);
        float b = bias ? bias[r] : 0.0f;
        for (int64_t j = 0; j < n; j++) y[(i0 + j) * w->rows + r] = out[j] + b;
    }
}

// ---------------------------------------------------------------- AVX-512F

// Batch 1 on AVX-512 machines runs `gemv_avx2`: on Zen 5, 8-lane gathers sustain more elements
// per cycle than 16-lane ones (measured 0.41 vs 0.47 ms for 4096² at 90%; docs/benchmarks.md).
#define AVX512 "avx512f"

__attribute__((target(AVX512))) static void tile_avx512(const ck_csr_f32 *w, const float *xt, int64_t i0, int64_t n,
                                                           const float *bias, float *y) {
    float out[TILE];
    int narrow = w->index_bits == 16;
    for (int64_t r = 0; r < w->rows; r++) {
        int64_t p = w->row_start[r], end = w->row_start[r + 1];
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        for (; p + 2 <= end; p += 2) {  // two chains hide the FMA latency
            a0 = _mm512_fmadd_ps(_mm512_set1_ps(w->values[p]), _mm512_loadu_ps(xt + column(w, p, narrow) * TILE), a0);
            a1 = _mm512_fmadd_ps(_mm512_set1_ps(w->values[p + 1]), _mm512_loadu_ps(xt + column(w, p + 1, narrow) * TILE), a1);
        }
        if (p < end) a0 = _mm512_fmadd_ps(_mm512_set1_ps(w->values[p]), _mm512_loadu_ps(xt + column(w, p, narrow) * TILE), a0);
        _mm512_storeu_ps(out, _mm512_add_ps(a0, a1));
        float b = bias ? bias[r] : 0.0f;
        for (int64_t j = 0; j < n; j++) y[(i0 + j) * w->rows + r] = out[j] + b;
    }
}
#endif

// ---------------------------------------------------------------- dispatch

typedef void (*gemv_fn)(const ck_csr_f32 *, const float *, const float *, float *);
typedef void (*tile_fn)(const ck_csr_f32 *, const float *, int64_t, int64_t, const float *, float *);

int ck_sparse_isa_supported(ck_sparse_isa isa) {
    switch (isa) {
    case CK_SPARSE_SCALAR: return 1;
#ifdef CK_X86
    case CK_SPARSE_AVX2: return ck_cpu_has(CK_CPU_AVX2);
    case CK_SPARSE_AVX512:  // its batch-1 path is the AVX2 one
        return ck_cpu_has(CK_CPU_AVX512 | CK_CPU_AVX2);
#else
    case CK_SPARSE_AVX2: case CK_SPARSE_AVX512: return 0;
#endif
    }
    return 0;
}

ck_sparse_isa ck_sparse_best_isa(void) {
    if (ck_sparse_isa_supported(CK_SPARSE_AVX512)) return CK_SPARSE_AVX512;
    if (ck_sparse_isa_supported(CK_SPARSE_AVX2)) return CK_SPARSE_AVX2;
    return CK_SPARSE_SCALAR;
}

void ck_spmm_f32_variant(ck_sparse_isa isa, const ck_csr_f32 *w, const float *x, int64_t batch,
                         const float *bias, float *y, float *scratch) {
    gemv_fn gemv = 0;
    tile_fn tile = 0;
#ifdef CK_X86
    if (isa == CK_SPARSE_AVX512) { gemv = gemv_avx2; tile = tile_avx512; }
    if (isa == CK_SPARSE_AVX2) { gemv = gemv_avx2; tile = tile_avx2; }
#endif
    if (!gemv || !ck_sparse_isa_supported(isa)) { spmm_scalar(w, x, batch, bias, y); return; }
    for (int64_t i0 = 0; i0 < batch; i0 += TILE) {
        int64_t n = batch - i0 < TILE ? batch - i0 : TILE;
        if (n == 1) {
            gemv(w, x + i0 * w->cols, bias, y + i0 * w->rows);
        } else {
            transpose_tile(x, w->cols, i0, n, scratch);
            tile(w, scratch, i0, n, bias, y);
        }
    }
}

void ck_spmm_f32(const ck_csr_f32 *w, const float *x, int64_t batch, const float *bias, float *y, float *scratch) {
    ck_spmm_f32_variant(ck_sparse_best_isa(), w, x, batch, bias, y, scratch);
}

// ---------------------------------------------------------------- sparse weight × dense columns (conv)

static inline float relu_if(float v, int relu) { return relu && v < 0.0f ? 0.0f : v; }  // NaN passes

static void columns_scalar(const ck_csr_f32 *w, const float *b, int64_t ldb, int64_t n, const float *bias, int relu, float *y) {
    int narrow = w->index_bits == 16;
    for (int64_t r = 0; r < w->rows; r++) {
        for (int64_t j = 0; j < n; j++) {
            float sum = bias ? bias[r] : 0.0f;
            for (int64_t p = w->row_start[r]; p < w->row_start[r + 1]; p++) sum += w->values[p] * b[column(w, p, narrow) * ldb + j];
            y[r * n + j] = relu_if(sum, relu);
        }
    }
}

#ifdef CK_X86
// Each non-zero adds value · (a row segment of b) to the output row: 32 (AVX2) or 64 (AVX-512)
// outputs per pass in four accumulators; masked loads and stores cover the tail of n.
__attribute__((target("avx2,fma"))) static void columns_avx2(const ck_csr_f32 *w, const float *b, int64_t ldb, int64_t n,
                                                            const float *bias, int relu, float *y) {
    int narrow = w->index_bits == 16;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int64_t r = 0; r < w->rows; r++) {
        __m256 init = _mm256_set1_ps(bias ? bias[r] : 0.0f);
        for (int64_t j0 = 0; j0 < n; j0 += 32) {
            __m256i m[4];
            for (int t = 0; t < 4; t++) m[t] = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - j0 - 8 * t)), lane);
            __m256 a0 = init, a1 = init, a2 = init, a3 = init;
            for (int64_t p = w->row_start[r]; p < w->row_start[r + 1]; p++) {
                __m256 v = _mm256_broadcast_ss(w->values + p);
                const float *src = b + column(w, p, narrow) * ldb + j0;
                a0 = _mm256_fmadd_ps(v, _mm256_maskload_ps(src, m[0]), a0);
                a1 = _mm256_fmadd_ps(v, _mm256_maskload_ps(src + 8, m[1]), a1);
                a2 = _mm256_fmadd_ps(v, _mm256_maskload_ps(src + 16, m[2]), a2);
                a3 = _mm256_fmadd_ps(v, _mm256_maskload_ps(src + 24, m[3]), a3);
            }
            __m256 acc[4] = {a0, a1, a2, a3};
            for (int t = 0; t < 4; t++) {
                __m256 v = acc[t];
                if (relu) v = _mm256_blendv_ps(v, _mm256_setzero_ps(), _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
                _mm256_maskstore_ps(y + r * n + j0 + 8 * t, m[t], v);
            }
        }
    }
}

__attribute__((target(AVX512))) static void columns_avx512(const ck_csr_f32 *w, const float *b, int64_t ldb, int64_t n,
                                                          const float *bias, int relu, float *y) {
    int narrow = w->index_bits == 16;
    for (int64_t r = 0; r < w->rows; r++) {
        __m512 init = _mm512_set1_ps(bias ? bias[r] : 0.0f);
        for (int64_t j0 = 0; j0 < n; j0 += 64) {
            __mmask16 m[4];
            for (int t = 0; t < 4; t++) {
                int64_t left = n - j0 - 16 * t;
                m[t] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
            }
            __m512 a0 = init, a1 = init, a2 = init, a3 = init;
            for (int64_t p = w->row_start[r]; p < w->row_start[r + 1]; p++) {
                __m512 v = _mm512_set1_ps(w->values[p]);
                const float *src = b + column(w, p, narrow) * ldb + j0;
                a0 = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(m[0], src), a0);
                a1 = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(m[1], src + 16), a1);
                a2 = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(m[2], src + 32), a2);
                a3 = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(m[3], src + 48), a3);
            }
            __m512 acc[4] = {a0, a1, a2, a3};
            for (int t = 0; t < 4; t++) {
                __m512 v = acc[t];
                if (relu) v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), _mm512_setzero_ps());
                _mm512_mask_storeu_ps(y + r * n + j0 + 16 * t, m[t], v);
            }
        }
    }
}
#endif

void ck_spmm_f32_columns_variant(ck_sparse_isa isa, const ck_csr_f32 *w, const float *b, int64_t ldb, int64_t n,
                                 const float *bias, int relu, float *y) {
#ifdef CK_X86
    if (isa == CK_SPARSE_AVX512 && ck_sparse_isa_supported(isa)) { columns_avx512(w, b, ldb, n, bias, relu, y); return; }
    if (isa == CK_SPARSE_AVX2 && ck_sparse_isa_supported(isa)) { columns_avx2(w, b, ldb, n, bias, relu, y); return; }
#endif
    columns_scalar(w, b, ldb, n, bias, relu, y);
}
