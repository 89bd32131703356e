/* INT8 helpers (see include/ck_int8.h). The `_ref` variants are plain C loops; the AVX-512
 * variants perform the same IEEE operations in the same order (int→float conversion, one multiply or
 * divide, round to nearest even, add, clamp), so they match the reference bit for bit. */
#pragma STDC FP_CONTRACT OFF

#include "ck_int8.h"

#include <immintrin.h>
#include <math.h>

int ck_has_vnni(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")) ||
           __builtin_cpu_supports("avxvnni");
#else
    return 0;
#endif
}

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

void ck_quantize_f32_u8_ref(const float *x, size_t count, float scale, int32_t zero_point, uint8_t *out) {
    for (size_t i = 0; i < count; i++) out[i] = clamp_u8(nearbyintf(x[i] / scale) + (float)zero_point, 0);
}

void ck_requantize_s32_u8_ref(const int32_t *acc, size_t m, size_t n, const int32_t *offset,
                          const float *multiplier, int32_t out_zero, int relu, uint8_t *out) {
    int32_t lo = relu ? out_zero : 0;
    for (size_t i = 0; i < m; i++) {
        const int32_t *row = acc + i * n;
        uint8_t *dst = out + i * n;
        for (size_t j = 0; j < n; j++)
            dst[j] = clamp_u8(nearbyintf((float)(row[j] + offset[j]) * multiplier[j]) + (float)out_zero, lo);
    }
}

void ck_dequantize_s32_f32_ref(const int32_t *acc, size_t m, size_t n, const int32_t *offset,
                           const float *scale, int relu, float *out) {
    for (size_t i = 0; i < m; i++) {
        const int32_t *row = acc + i * n;
        float *dst = out + i * n;
        for (size_t j = 0; j < n; j++) {
            float y = (float)(row[j] + offset[j]) * scale[j];
            dst[j] = (relu && y < 0.0f) ? 0.0f : y;
        }
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

/* ---------------------------------------------------------------- dispatch (resolved once before main) */

typedef struct {
    const char *isa;
    void (*quantize)(const float *, size_t, float, int32_t, uint8_t *);
    void (*requantize)(const int32_t *, size_t, size_t, const int32_t *, const float *, int32_t, int, uint8_t *);
    void (*dequantize)(const int32_t *, size_t, size_t, const int32_t *, const float *, int, float *);
} ck_int8_table;

static const ck_int8_table int8_portable = {"portable", ck_quantize_f32_u8_ref, ck_requantize_s32_u8_ref, ck_dequantize_s32_f32_ref};
static const ck_int8_table int8_avx512 = {"avx512", quantize_avx512, requantize_avx512, dequantize_avx512};

static const ck_int8_table *int8_best(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return &int8_avx512;
#endif
    return &int8_portable;
}

static const ck_int8_table *int8_ops = &int8_portable;
__attribute__((constructor)) static void ck_int8_resolve(void) { int8_ops = int8_best(); }

const char *ck_int8_isa(void) { return int8_ops->isa; }
void ck_int8_force_portable(int portable) { int8_ops = portable ? &int8_portable : int8_best(); }

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
