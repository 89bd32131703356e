/* Element-wise, softmax, normalisation and pooling kernels (see include/ck_ops.h).
 *
 * The reference variants are plain C loops. The AVX-512 and AVX2 variants of the arithmetic kernels
 * (relu, add, mul, channel affine) compute exactly the same IEEE operations in the same order, so
 * they match the reference bit for bit; the transcendental kernels (sigmoid, silu, tanh, gelu,
 * softmax) use libm and have one variant. */
#pragma STDC FP_CONTRACT OFF

#include "ck_cpu.h"
#include "ck_ops.h"

#include <immintrin.h>
#include <math.h>

/* ---------------------------------------------------------------- reference (portable) */

/* NaN passes through (as PyTorch's relu); -0 stays -0. */
void ck_relu_f32_ref(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void ck_sigmoid_f32_ref(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}

void ck_silu_f32_ref(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + expf(-x[i]));
}

void ck_tanh_f32_ref(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
}

void ck_gelu_f32_ref(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

void ck_gelu_tanh_f32_ref(const float *x, float *y, size_t n) {
    const float k = 0.79788456080286536f; /* sqrt(2/pi) */
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
}

void ck_add_f32_ref(const float *a, const float *b, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void ck_mul_f32_ref(const float *a, const float *b, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = a[i] * b[i];
}

void ck_channel_affine_f32_ref(const float *x, float *y, size_t batch, size_t channels, size_t plane_size,
                               const float *scale, const float *shift) {
    for (size_t b = 0; b < batch; b++)
        for (size_t c = 0; c < channels; c++) {
            size_t base = (b * channels + c) * plane_size;
            for (size_t i = 0; i < plane_size; i++) {
                float product = x[base + i] * scale[c];
                y[base + i] = product + shift[c];
            }
        }
}

/* ---------------------------------------------------------------- AVX-512 */

__attribute__((target("avx512f")))
static void relu_avx512(const float *x, float *y, size_t n) {
    /* max(0, x) returns its second operand when either is NaN: NaN passes, as in the reference. */
    const __m512 zero = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_max_ps(zero, _mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, _mm512_max_ps(zero, _mm512_maskz_loadu_ps(m, x + i)));
    }
}

__attribute__((target("avx512f")))
static void add_avx512(const float *a, const float *b, float *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
    }
}

__attribute__((target("avx512f")))
static void mul_avx512(const float *a, const float *b, float *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
    }
}

__attribute__((target("avx512f")))
static void channel_affine_avx512(const float *x, float *y, size_t batch, size_t channels, size_t plane_size,
                                  const float *scale, const float *shift) {
    for (size_t b = 0; b < batch; b++)
        for (size_t c = 0; c < channels; c++) {
            size_t base = (b * channels + c) * plane_size, i = 0;
            const __m512 s = _mm512_set1_ps(scale[c]), t = _mm512_set1_ps(shift[c]);
            for (; i + 16 <= plane_size; i += 16)
                _mm512_storeu_ps(y + base + i, _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(x + base + i), s), t));
            if (i < plane_size) {
                __mmask16 m = (__mmask16)((1u << (plane_size - i)) - 1);
                _mm512_mask_storeu_ps(y + base + i, m, _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + base + i), s), t));
            }
        }
}

/* ---------------------------------------------------------------- AVX2 (tails use the scalar loop) */

__attribute__((target("avx2")))
static void relu_avx2(const float *x, float *y, size_t n) {
    const __m256 zero = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_max_ps(zero, _mm256_loadu_ps(x + i)));
    ck_relu_f32_ref(x + i, y + i, n - i);
}

__attribute__((target("avx2")))
static void add_avx2(const float *a, const float *b, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    ck_add_f32_ref(a + i, b + i, y + i, n - i);
}

__attribute__((target("avx2")))
static void mul_avx2(const float *a, const float *b, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    ck_mul_f32_ref(a + i, b + i, y + i, n - i);
}

__attribute__((target("avx2")))
static void channel_affine_avx2(const float *x, float *y, size_t batch, size_t channels, size_t plane_size,
                                const float *scale, const float *shift) {
    for (size_t b = 0; b < batch; b++)
        for (size_t c = 0; c < channels; c++) {
            size_t base = (b * channels + c) * plane_size, i = 0;
            const __m256 s = _mm256_set1_ps(scale[c]), t = _mm256_set1_ps(shift[c]);
            for (; i + 8 <= plane_size; i += 8)
                _mm256_storeu_ps(y + base + i, _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + base + i), s), t));
            for (; i < plane_size; i++) {
                float product = x[base + i] * scale[c];
                y[base + i] = product + shift[c];
            }
        }
}

/* ---------------------------------------------------------------- dispatch table */

typedef struct {
    const char *isa;
    void (*relu)(const float *, float *, size_t);
    void (*add)(const float *, const float *, float *, size_t);
    void (*mul)(const float *, const float *, float *, size_t);
    void (*channel_affine)(const float *, float *, size_t, size_t, size_t, const float *, const float *);
} ck_ops_table;

static const ck_ops_table table_portable = {"portable", ck_relu_f32_ref, ck_add_f32_ref, ck_mul_f32_ref, ck_channel_affine_f32_ref};
static const ck_ops_table table_avx2 = {"avx2", relu_avx2, add_avx2, mul_avx2, channel_affine_avx2};
static const ck_ops_table table_avx512 = {"avx512", relu_avx512, add_avx512, mul_avx512, channel_affine_avx512};

static const ck_ops_table *best_table(void) {
    if (ck_cpu_has(CK_CPU_AVX512)) return &table_avx512;
    if (ck_cpu_has(CK_CPU_AVX2)) return &table_avx2;
    return &table_portable;
}

/* Resolved once before main (no lazy first-call race). */
static const ck_ops_table *ops = &table_portable;
__attribute__((constructor)) static void ck_ops_resolve(void) { ops = best_table(); }

const char *ck_ops_isa(void) { return ops->isa; }
void ck_ops_force_portable(int portable) { ops = portable ? &table_portable : best_table(); }

void ck_relu_f32(const float *x, float *y, size_t n) { ops->relu(x, y, n); }
void ck_add_f32(const float *a, const float *b, float *y, size_t n) { ops->add(a, b, y, n); }
void ck_mul_f32(const float *a, const float *b, float *y, size_t n) { ops->mul(a, b, y, n); }
void ck_channel_affine_f32(const float *x, float *y, size_t batch, size_t channels, size_t plane_size,
                           const float *scale, const float *shift) {
    ops->channel_affine(x, y, batch, channels, plane_size, scale, shift);
}
void ck_sigmoid_f32(const float *x, float *y, size_t n) { ck_sigmoid_f32_ref(x, y, n); }
void ck_silu_f32(const float *x, float *y, size_t n) { ck_silu_f32_ref(x, y, n); }
void ck_tanh_f32(const float *x, float *y, size_t n) { ck_tanh_f32_ref(x, y, n); }
void ck_gelu_f32(const float *x, float *y, size_t n) { ck_gelu_f32_ref(x, y, n); }
void ck_gelu_tanh_f32(const float *x, float *y, size_t n) { ck_gelu_tanh_f32_ref(x, y, n); }

/* ---------------------------------------------------------------- softmax, layernorm */

void ck_softmax_f32(const float *x, float *y, size_t outer, size_t axis_len, size_t inner, int take_log) {
    for (size_t o = 0; o < outer; o++)
        for (size_t in = 0; in < inner; in++) {
            const float *xs = x + o * axis_len * inner + in;
            float *ys = y + o * axis_len * inner + in;
            float max = -INFINITY;
            for (size_t k = 0; k < axis_len; k++) max = xs[k * inner] > max ? xs[k * inner] : max;
            double sum = 0;
            for (size_t k = 0; k < axis_len; k++) sum += exp((double)xs[k * inner] - max);
            if (take_log) {
                float lse = (float)log(sum);
                for (size_t k = 0; k < axis_len; k++) ys[k * inner] = (xs[k * inner] - max) - lse;
            } else {
                for (size_t k = 0; k < axis_len; k++) ys[k * inner] = (float)(exp((double)xs[k * inner] - max) / sum);
            }
        }
}

void ck_layernorm_f32(const float *x, float *y, size_t rows, size_t cols,
                      const float *weight, const float *bias, float eps) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        double mean = 0, var = 0;
        for (size_t i = 0; i < cols; i++) mean += xr[i];
        mean /= (double)cols;
        for (size_t i = 0; i < cols; i++) var += (xr[i] - mean) * (xr[i] - mean);
        var /= (double)cols; /* biased, as PyTorch */
        float inv = (float)(1.0 / sqrt(var + eps));
        for (size_t i = 0; i < cols; i++) {
            float v = (float)(xr[i] - mean) * inv;
            if (weight) v *= weight[i];
            if (bias) v += bias[i];
            yr[i] = v;
        }
    }
}

/* ---------------------------------------------------------------- pooling */

void ck_maxpool2d_f32(const float *x, float *y, size_t planes, const ck_pool2d_geometry *g) {
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + p * (size_t)(g->in_h * g->in_w);
        float *yp = y + p * (size_t)(g->out_h * g->out_w);
        for (int64_t oh = 0; oh < g->out_h; oh++)
            for (int64_t ow = 0; ow < g->out_w; ow++) {
                float best = -INFINITY;
                for (int64_t kh = 0; kh < g->kernel_h; kh++) {
                    int64_t ih = oh * g->stride_h - g->pad_h + kh;
                    if (ih < 0 || ih >= g->in_h) continue;
                    for (int64_t kw = 0; kw < g->kernel_w; kw++) {
                        int64_t iw = ow * g->stride_w - g->pad_w + kw;
                        if (iw < 0 || iw >= g->in_w) continue;
                        float v = xp[ih * g->in_w + iw];
                        if (v > best || isnan(v)) best = v;
                    }
                }
                yp[oh * g->out_w + ow] = best;
            }
    }
}

void ck_avgpool2d_f32(const float *x, float *y, size_t planes, const ck_pool2d_geometry *g) {
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + p * (size_t)(g->in_h * g->in_w);
        float *yp = y + p * (size_t)(g->out_h * g->out_w);
        for (int64_t oh = 0; oh < g->out_h; oh++)
            for (int64_t ow = 0; ow < g->out_w; ow++) {
                int64_t h0 = oh * g->stride_h - g->pad_h, w0 = ow * g->stride_w - g->pad_w;
                int64_t h1 = h0 + g->kernel_h, w1 = w0 + g->kernel_w;
                /* the divisor counts padding but not the part of the window beyond it */
                int64_t ph1 = h1 < g->in_h + g->pad_b ? h1 : g->in_h + g->pad_b;
                int64_t pw1 = w1 < g->in_w + g->pad_r ? w1 : g->in_w + g->pad_r;
                int64_t hs = h0 < 0 ? 0 : h0, he = h1 < g->in_h ? h1 : g->in_h;
                int64_t ws = w0 < 0 ? 0 : w0, we = w1 < g->in_w ? w1 : g->in_w;
                int64_t divisor = g->count_include_pad ? (ph1 - h0) * (pw1 - w0) : (he - hs) * (we - ws);
                float sum = 0;
                for (int64_t ih = hs; ih < he; ih++)
                    for (int64_t iw = ws; iw < we; iw++)
                        sum += xp[ih * g->in_w + iw];
                yp[oh * g->out_w + ow] = sum / (float)divisor;
            }
    }
}

void ck_global_avgpool_f32(const float *x, float *y, size_t planes, size_t plane_size) {
    for (size_t p = 0; p < planes; p++) {
        float sum = 0;
        for (size_t i = 0; i < plane_size; i++) sum += x[p * plane_size + i];
        y[p] = sum / (float)plane_size;
    }
}
