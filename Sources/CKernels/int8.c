/* INT8 helpers (see include/ck_int8.h). The `_ref` variants are plain C loops; the AVX-512
 * and AVX2 variants perform the same IEEE operations in the same order (int→float conversion, one multiply or
 * divide, round to nearest even, add, clamp), so they match the reference bit for bit. */
#pragma STDC FP_CONTRACT OFF

#include "ck_cpu.h"
#include "ck_int8.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

int ck_has_vnni(void) { return ck_cpu_has(CK_CPU_VNNI); }

void ck_gemm_u8s8s32_ref(const uint8_t *a, const int8_t *w, int32_t *c, size_t m, size_t n, size_t k) {
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            int32_t sum = 0;
            for (size_t p = 0; p < k; p++) sum += (int32_t)a[i * k + p] * (int32_t)w[j * k + p];
            c[i * n + j] = sum;
        }
    }
}

static inline uint8_t clamp_u8(float v, int32_t lo) {
    if (v < (float)lo) return (uint8_t)lo;
    if (v > 255.0f) return 255;
    return (uint8_t)v;
}

/* One element of each helper; the vector variants finish their tails with these. */
static inline uint8_t quantize_one(float x, float scale, int32_t zero_point) {
    return clamp_u8(nearbyintf(x / scale) + (float)zero_point, 0);
}
static inline uint8_t requantize_one(int32_t acc, int32_t offset, float multiplier, int32_t out_zero, int32_t lo) {
    return clamp_u8(nearbyintf((float)(acc + offset) * multiplier) + (float)out_zero, lo);
}
static inline float dequantize_one(int32_t acc, int32_t offset, float scale, int relu) {
    float y = (float)(acc + offset) * scale;
    return (relu && y < 0.0f) ? 0.0f : y;
}

void ck_quantize_f32_u8_ref(const float *x, size_t count, float scale, int32_t zero_point, uint8_t *out) {
    for (size_t i = 0; i < count; i++) out[i] = quantize_one(x[i], scale, zero_point);
}

void ck_requantize_s32_u8_ref(const int32_t *acc, size_t m, size_t n, const int32_t *offset,
                          const float *multiplier, int32_t out_zero, int relu, uint8_t *out) {
    int32_t lo = relu ? out_zero : 0;
    for (size_t i = 0; i < m; i++) {
        const int32_t *row = acc + i * n;
        uint8_t *dst = out + i * n;
        for (size_t j = 0; j < n; j++) dst[j] = requantize_one(row[j], offset[j], multiplier[j], out_zero, lo);
    }
}

void ck_dequantize_s32_f32_ref(const int32_t *acc, size_t m, size_t n, const int32_t *offset,
                           const float *scale, int relu, float *out) {
    for (size_t i = 0; i < m; i++) {
        const int32_t *row = acc + i * n;
        float *dst = out + i * n;
        for (size_t j = 0; j < n; j++) dst[j] = dequantize_one(row[j], offset[j], scale[j], relu);
    }
}

/* ---------------------------------------------------------------- AVX-512 */

#define CK_RNE (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* 16 floats already integral → clamp to [lo, 255] → 16 bytes (vpmovusdb). */
__attribute__((target("avx512f,avx512bw,avx512vl")))
static inline void store_u8_avx512(uint8_t *dst, __m512 v, __m512 lo, __mmask16 m) {
    v = _mm512_min_ps(_mm512_max_ps(v, lo), _mm512_set1_ps(255.0f));
    _mm_mask_storeu_epi8(dst, m, _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(v)));
}

__attribute__((target("avx512f,avx512bw,avx512vl")))
static void quantize_avx512(const float *x, size_t count, float scale, int32_t zero_point, uint8_t *out) {
    const __m512 s = _mm512_set1_ps(scale), z = _mm512_set1_ps((float)zero_point), lo = _mm512_setzero_ps();
    for (size_t i = 0; i < count; i += 16) {
        __mmask16 m = count - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - i)) - 1);
        __m512 v = _mm512_roundscale_ps(_mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), s), CK_RNE);
        store_u8_avx512(out + i, _mm512_add_ps(v, z), lo, m);
    }
}

__attribute__((target("avx512f,avx512bw,avx512vl")))
static void requantize_avx512(const int32_t *acc, size_t m, size_t n, const int32_t *offset,
                              const float *multiplier, int32_t out_zero, int relu, uint8_t *out) {
    const __m512 z = _mm512_set1_ps((float)out_zero), lo = _mm512_set1_ps(relu ? (float)out_zero : 0.0f);
    for (size_t i = 0; i < m; i++) {
        const int32_t *row = acc + i * n;
        uint8_t *dst = out + i * n;
        for (size_t j = 0; j < n; j += 16) {
            __mmask16 k = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
            __m512i a = _mm512_add_epi32(_mm512_maskz_loadu_epi32(k, row + j), _mm512_maskz_loadu_epi32(k, offset + j));
            __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(a), _mm512_maskz_loadu_ps(k, multiplier + j));
            store_u8_avx512(dst + j, _mm512_add_ps(_mm512_roundscale_ps(v, CK_RNE), z), lo, k);
        }
    }
}

__attribute__((target("avx512f")))
static void dequantize_avx512(const int32_t *acc, size_t m, size_t n, const int32_t *offset,
                              const float *scale, int relu, float *out) {
    const __m512 zero = _mm512_setzero_ps();
    for (size_t i = 0; i < m; i++) {
        const int32_t *row = acc + i * n;
        float *dst = out + i * n;
        for (size_t j = 0; j < n; j += 16) {
            __mmask16 k = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
            __m512i a = _mm512_add_epi32(_mm512_maskz_loadu_epi32(k, row + j), _mm512_maskz_loadu_epi32(k, offset + j));
            __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(a), _mm512_maskz_loadu_ps(k, scale + j));
            /* ReLU as the reference writes it: y < 0 → 0 (keeps −0.0, unlike max). */
            if (relu) y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(y, zero, _CMP_LT_OQ), zero);
            _mm512_mask_storeu_ps(dst + j, k, y);
        }
    }
}

/* ---------------------------------------------------------------- AVX2 (8 lanes, scalar tails) */

/* 8 floats already integral → clamp to [lo, 255] → 8 bytes. */
__attribute__((target("avx2")))
static inline void store_u8_avx2(uint8_t *dst, __m256 v, __m256 lo) {
    __m256i q = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), _mm256_set1_ps(255.0f)));
    __m128i words = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64((__m128i *)dst, _mm_packus_epi16(words, words));
}

__attribute__((target("avx2")))
static void quantize_avx2(const float *x, size_t count, float scale, int32_t zero_point, uint8_t *out) {
    const __m256 s = _mm256_set1_ps(scale), z = _mm256_set1_ps((float)zero_point), lo = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 v = _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(x + i), s), CK_RNE);
        store_u8_avx2(out + i, _mm256_add_ps(v, z), lo);
    }
    for (; i < count; i++) out[i] = quantize_one(x[i], scale, zero_point);
}

__attribute__((target("avx2")))
static void requantize_avx2(const int32_t *acc, size_t m, size_t n, const int32_t *offset,
                            const float *multiplier, int32_t out_zero, int relu, uint8_t *out) {
    const int32_t lo_code = relu ? out_zero : 0;
    const __m256 z = _mm256_set1_ps((float)out_zero), lo = _mm256_set1_ps((float)lo_code);
    for (size_t i = 0; i < m; i++) {
        const int32_t *row = acc + i * n;
        uint8_t *dst = out + i * n;
        size_t j = 0;
        for (; j + 8 <= n; j += 8) {
            __m256i a = _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(row + j)), _mm256_loadu_si256((const __m256i *)(offset + j)));
            __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(a), _mm256_loadu_ps(multiplier + j));
            store_u8_avx2(dst + j, _mm256_add_ps(_mm256_round_ps(v, CK_RNE), z), lo);
        }
        for (; j < n; j++) dst[j] = requantize_one(row[j], offset[j], multiplier[j], out_zero, lo_code);
    }
}

__attribute__((target("avx2")))
static void dequantize_avx2(const int32_t *acc, size_t m, size_t n, const int32_t *offset,
                            const float *scale, int relu, float *out) {
    const __m256 zero = _mm256_setzero_ps();
    for (size_t i = 0; i < m; i++) {
        const int32_t *row = acc + i * n;
        float *dst = out + i * n;
        size_t j = 0;
        for (; j + 8 <= n; j += 8) {
            __m256i a = _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(row + j)), _mm256_loadu_si256((const __m256i *)(offset + j)));
            __m256 y = _mm256_mul_ps(_mm256_cvtepi32_ps(a), _mm256_loadu_ps(scale + j));
            if (relu) y = _mm256_blendv_ps(y, zero, _mm256_cmp_ps(y, zero, _CMP_LT_OQ));  /* y < 0 → 0, as the reference */
            _mm256_storeu_ps(dst + j, y);
        }
        for (; j < n; j++) dst[j] = dequantize_one(row[j], offset[j], scale[j], relu);
    }
}

/* ---------------------------------------------------------------- dispatch (resolved once before main) */

typedef struct {
    const char *isa;
    void (*quantize)(const float *, size_t, float, int32_t, uint8_t *);
    void (*requantize)(const int32_t *, size_t, size_t, const int32_t *, const float *, int32_t, int, uint8_t *);
    void (*dequantize)(const int32_t *, size_t, size_t, const int32_t *, const float *, int, float *);
} ck_int8_table;

static const ck_int8_table int8_portable = {"portable", ck_quantize_f32_u8_ref, ck_requantize_s32_u8_ref, ck_dequantize_s32_f32_ref};
static const ck_int8_table int8_avx2 = {"avx2", quantize_avx2, requantize_avx2, dequantize_avx2};
static const ck_int8_table int8_avx512 = {"avx512", quantize_avx512, requantize_avx512, dequantize_avx512};

static const ck_int8_table *int8_best(void) {
    if (ck_cpu_has(CK_CPU_AVX512)) return &int8_avx512;
    if (ck_cpu_has(CK_CPU_AVX2)) return &int8_avx2;
    return &int8_portable;
}

static const ck_int8_table *int8_ops = &int8_portable;
__attribute__((constructor)) static void ck_int8_resolve(void) { int8_ops = int8_best(); }

const char *ck_int8_isa(void) { return int8_ops->isa; }
void ck_int8_force_portable(int portable) { int8_ops = portable ? &int8_portable : int8_best(); }
int ck_int8_force_isa(const char *isa) {
    const ck_int8_table *tables[] = {&int8_portable, &int8_avx2, &int8_avx512};
    const unsigned needs[] = {0, CK_CPU_AVX2, CK_CPU_AVX512};
    for (int i = 0; i < 3; i++)
        if (strcmp(isa, tables[i]->isa) == 0 && ck_cpu_has(needs[i])) { int8_ops = tables[i]; return 1; }
    return 0;
}

void ck_quantize_f32_u8(const float *x, size_t count, float scale, int32_t zero_point, uint8_t *out) {
    int8_ops->quantize(x, count, scale, zero_point, out);
}
void ck_requantize_s32_u8(const int32_t *acc, size_t m, size_t n, const int32_t *offset,
                          const float *multiplier, int32_t out_zero, int relu, uint8_t *out) {
    int8_ops->requantize(acc, m, n, offset, multiplier, out_zero, relu, out);
}
void ck_dequantize_s32_f32(const int32_t *acc, size_t m, size_t n, const int32_t *offset,
                           const float *scale, int relu, float *out) {
    int8_ops->dequantize(acc, m, n, offset, scale, relu, out);
}

void ck_im2col_u8(const uint8_t *x, size_t c, size_t h, size_t w, size_t kh, size_t kw,
                  size_t stride_h, size_t stride_w, size_t pad_h, size_t pad_w,
                  size_t dil_h, size_t dil_w, size_t oh, size_t ow, uint8_t pad_value, uint8_t *rows) {
    size_t patch = c * kh * kw;
    for (size_t oy = 0; oy < oh; oy++) {
        for (size_t ox = 0; ox < ow; ox++) {
            uint8_t *row = rows + (oy * ow + ox) * patch;
            size_t idx = 0;
            for (size_t ci = 0; ci < c; ci++) {
                for (size_t ky = 0; ky < kh; ky++) {
                    long iy = (long)(oy * stride_h + ky * dil_h) - (long)pad_h;
                    for (size_t kx = 0; kx < kw; kx++, idx++) {
                        long ix = (long)(ox * stride_w + kx * dil_w) - (long)pad_w;
                        row[idx] = (iy < 0 || ix < 0 || iy >= (long)h || ix >= (long)w)
                            ? pad_value : x[(ci * h + (size_t)iy) * w + (size_t)ix];
                    }
                }
            }
        }
    }
}
