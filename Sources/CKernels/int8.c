#include "ck_int8.h"

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

void ck_quantize_f32_u8(const float *x, size_t count, float scale, int32_t zero_point, uint8_t *out) {
    for (size_t i = 0; i < count; i++) out[i] = clamp_u8(nearbyintf(x[i] / scale) + (float)zero_point, 0);
}

void ck_requantize_s32_u8(const int32_t *acc, size_t m, size_t n, const int32_t *offset,
                          const float *multiplier, int32_t out_zero, int relu, uint8_t *out) {
    int32_t lo = relu ? out_zero : 0;
    for (size_t i = 0; i < m; i++) {
        const int32_t *row = acc + i * n;
        uint8_t *dst = out + i * n;
        for (size_t j = 0; j < n; j++)
            dst[j] = clamp_u8(nearbyintf((float)(row[j] + offset[j]) * multiplier[j]) + (float)out_zero, lo);
    }
}

void ck_dequantize_s32_f32(const int32_t *acc, size_t m, size_t n, const int32_t *offset,
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
