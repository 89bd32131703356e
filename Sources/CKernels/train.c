/* Training-engine kernels (see include/ck_train.h). The SIMD variants perform exactly the
 * reference's operations in the reference's order, so results are bit-identical. */
#pragma STDC FP_CONTRACT OFF

#include "ck_cpu.h"
#include "ck_train.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- reference (portable) */

void ck_adam_f32_ref(float *p, const float *grad, float *m, float *v, size_t n, const ck_adam_params *h) {
    const float one_minus_b1 = 1.0f - h->beta1, one_minus_b2 = 1.0f - h->beta2;
    for (size_t i = 0; i < n; i++) {
        float w = p[i];
        if (h->decay != 1.0f) w = w * h->decay;
        float g = grad[i] + h->l2 * w;
        float mi = h->beta1 * m[i] + one_minus_b1 * g;
        float vi = h->beta2 * v[i] + one_minus_b2 * g * g;
        m[i] = mi;
        v[i] = vi;
        p[i] = w - (h->step_size * mi) / (sqrtf(vi) / h->bias2_sqrt + h->eps);
    }
}

void ck_relu_backward_f32_ref(const float *dy, const float *y, float *dx, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void ck_broadcast_rows_f32(const float *b, float *y, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) memcpy(y + r * cols, b, cols * sizeof(float));
}

/* The output columns o in [lo, hi) whose input coordinate o·stride + offset lies in [0, in). */
static void valid_range(int64_t offset, int64_t stride, int64_t in, int64_t out, int64_t *lo, int64_t *hi) {
    int64_t l = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    int64_t h = in - offset <= 0 ? 0 : (in - offset - 1) / stride + 1;
    if (h > out) h = out;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

void ck_im2col_f32_ref(const float *x, float *cols, size_t ld, const ck_im2col_geometry *g) {
    const int64_t plane = g->height * g->width;
    for (int64_t c = 0; c < g->channels; c++)
        for (int64_t ki = 0; ki < g->kernel_h; ki++)
            for (int64_t kj = 0; kj < g->kernel_w; kj++) {
                float *dst = cols + (size_t)((c * g->kernel_h + ki) * g->kernel_w + kj) * ld;
                int64_t lo, hi;
                valid_range(kj * g->dilation_w - g->pad_w, g->stride_w, g->width, g->out_w, &lo, &hi);
                for (int64_t oy = 0; oy < g->out_h; oy++) {
                    float *row = dst + oy * g->out_w;
                    int64_t iy = oy * g->stride_h - g->pad_h + ki * g->dilation_h;
                    if (iy < 0 || iy >= g->height) {
                        memset(row, 0, (size_t)g->out_w * sizeof(float));
                        continue;
                    }
                    /* input index of output column ox: base + ox·stride (valid for ox in [lo, hi)) */
                    const int64_t base = c * plane + iy * g->width + kj * g->dilation_w - g->pad_w;
                    for (int64_t ox = 0; ox < lo; ox++) row[ox] = 0.0f;
                    if (g->stride_w == 1) {
                        for (int64_t ox = lo; ox < hi; ox++) row[ox] = x[base + ox]; /* short rows: a loop beats memcpy */
                    } else {
                        for (int64_t ox = lo; ox < hi; ox++) row[ox] = x[base + ox * g->stride_w];
                    }
                    for (int64_t ox = hi; ox < g->out_w; ox++) row[ox] = 0.0f;
                }
            }
}

void ck_col2im_add_f32_ref(const float *cols, float *dx, size_t ld, const ck_im2col_geometry *g) {
    const int64_t plane = g->height * g->width;
    for (int64_t c = 0; c < g->channels; c++)
        for (int64_t ki = 0; ki < g->kernel_h; ki++)
            for (int64_t kj = 0; kj < g->kernel_w; kj++) {
                const float *src = cols + (size_t)((c * g->kernel_h + ki) * g->kernel_w + kj) * ld;
                int64_t lo, hi;
                valid_range(kj * g->dilation_w - g->pad_w, g->stride_w, g->width, g->out_w, &lo, &hi);
                for (int64_t oy = 0; oy < g->out_h; oy++) {
                    int64_t iy = oy * g->stride_h - g->pad_h + ki * g->dilation_h;
                    if (iy < 0 || iy >= g->height) continue;
                    const float *row = src + oy * g->out_w;
                    const int64_t base = c * plane + iy * g->width + kj * g->dilation_w - g->pad_w;
                    for (int64_t ox = lo; ox < hi; ox++) dx[base + ox * g->stride_w] += row[ox];
                }
            }
}

void ck_maxpool2d_argmax_f32_ref(const float *x, float *y, int32_t *argmax, size_t planes, int64_t height, int64_t width,
                             int64_t kernel_h, int64_t kernel_w, int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                             int64_t out_h, int64_t out_w) {
    size_t o = 0;
    for (size_t p = 0; p < planes; p++) {
        const int64_t base = (int64_t)p * height * width;
        for (int64_t oy = 0; oy < out_h; oy++) {
            int64_t y0 = oy * stride_h - pad_h, y1 = y0 + kernel_h;
            if (y0 < 0) y0 = 0;
            if (y1 > height) y1 = height;
            for (int64_t ox = 0; ox < out_w; ox++, o++) {
                int64_t x0 = ox * stride_w - pad_w, x1 = x0 + kernel_w;
                if (x0 < 0) x0 = 0;
                if (x1 > width) x1 = width;
                float best = -INFINITY;
                int64_t best_index = -1;
                for (int64_t iy = y0; iy < y1; iy++)
                    for (int64_t ix = x0; ix < x1; ix++) {
                        const int64_t i = base + iy * width + ix;
                        const float v = x[i];
                        if (v > best || best_index < 0 || isnan(v)) { best = v; best_index = i; }
                    }
                y[o] = best;
                argmax[o] = (int32_t)best_index;
            }
        }
    }
}

/* ---------------------------------------------------------------- AVX-512 */

__attribute__((target("avx512f")))
static inline __m512 adam_lane512(__m512 w, __m512 g, __m512 *m, __m512 *v, const ck_adam_params *h, int decay) {
    if (decay) w = _mm512_mul_ps(w, _mm512_set1_ps(h->decay));
    g = _mm512_add_ps(g, _mm512_mul_ps(_mm512_set1_ps(h->l2), w));
    *m = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(h->beta1), *m), _mm512_mul_ps(_mm512_set1_ps(1.0f - h->beta1), g));
    *v = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(h->beta2), *v),
                       _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(1.0f - h->beta2), g), g));
    __m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(*v), _mm512_set1_ps(h->bias2_sqrt)), _mm512_set1_ps(h->eps));
    return _mm512_sub_ps(w, _mm512_div_ps(_mm512_mul_ps(_mm512_set1_ps(h->step_size), *m), denom));
}

__attribute__((target("avx512f")))
static void adam_avx512(float *p, const float *grad, float *m, float *v, size_t n, const ck_adam_params *h) {
    const int decay = h->decay != 1.0f;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 mi = _mm512_loadu_ps(m + i), vi = _mm512_loadu_ps(v + i);
        __m512 w = adam_lane512(_mm512_loadu_ps(p + i), _mm512_loadu_ps(grad + i), &mi, &vi, h, decay);
        _mm512_storeu_ps(m + i, mi);
        _mm512_storeu_ps(v + i, vi);
        _mm512_storeu_ps(p + i, w);
    }
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        __m512 mi = _mm512_maskz_loadu_ps(k, m + i), vi = _mm512_maskz_loadu_ps(k, v + i);
        __m512 w = adam_lane512(_mm512_maskz_loadu_ps(k, p + i), _mm512_maskz_loadu_ps(k, grad + i), &mi, &vi, h, decay);
        _mm512_mask_storeu_ps(m + i, k, mi);
        _mm512_mask_storeu_ps(v + i, k, vi);
        _mm512_mask_storeu_ps(p + i, k, w);
    }
}

__attribute__((target("avx512f")))
static void relu_backward_avx512(const float *dy, const float *y, float *dx, size_t n) {
    const __m512 zero = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __mmask16 positive = _mm512_cmp_ps_mask(_mm512_loadu_ps(y + i), zero, _CMP_GT_OQ);
        _mm512_storeu_ps(dx + i, _mm512_maskz_mov_ps(positive, _mm512_loadu_ps(dy + i)));
    }
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        __mmask16 positive = _mm512_mask_cmp_ps_mask(k, _mm512_maskz_loadu_ps(k, y + i), zero, _CMP_GT_OQ);
        _mm512_mask_storeu_ps(dx + i, k, _mm512_maskz_mov_ps(positive, _mm512_maskz_loadu_ps(k, dy + i)));
    }
}

/* Lanes j of a 16-wide chunk starting at output column o0 whose column o0 + j lies in [lo, hi). */
static inline uint32_t lane_mask(int64_t o0, int64_t lo, int64_t hi) {
    int64_t a = lo - o0, b = hi - o0;
    if (a < 0) a = 0;
    if (b > 16) b = 16;
    if (b <= a) return 0;
    return (uint32_t)(((1ull << b) - 1) & ~((1ull << a) - 1));
}

/* x + offset as an address for a masked load: lanes outside the mask are never read, so the address of
 * lane 0 may lie before the array (the padding columns). */
static inline const float *shifted(const float *x, int64_t offset) {
    return (const float *)((uintptr_t)x + (uintptr_t)(offset * (int64_t)sizeof(float)));
}

/* Exact copy / add of n floats with unmasked vector operations (masked loads and stores are much
 * slower on the machines we measured); the tail below 8 is scalar. */
__attribute__((target("avx512f")))
static inline void copy_floats(float *dst, const float *src, int64_t n) {
    int64_t t = 0;
    for (; t + 16 <= n; t += 16) _mm512_storeu_ps(dst + t, _mm512_loadu_ps(src + t));
    if (t + 8 <= n) { _mm256_storeu_ps(dst + t, _mm256_loadu_ps(src + t)); t += 8; }
    for (; t < n; t++) dst[t] = src[t];
}
__attribute__((target("avx512f")))
static inline void add_floats(float *dst, const float *src, int64_t n) {
    int64_t t = 0;
    for (; t + 16 <= n; t += 16) _mm512_storeu_ps(dst + t, _mm512_add_ps(_mm512_loadu_ps(dst + t), _mm512_loadu_ps(src + t)));
    if (t + 8 <= n) { _mm256_storeu_ps(dst + t, _mm256_add_ps(_mm256_loadu_ps(dst + t), _mm256_loadu_ps(src + t))); t += 8; }
    for (; t < n; t++) dst[t] = dst[t] + src[t];
}

/* Planes up to this many floats (with their padding) go through a zero-padded copy on the stack. */
enum { padded_plane_max = 8192, padded_slack = 16 };

/* `rows` rows of n floats, src rows `src_stride` apart, dst rows contiguous (n apart). A row is copied
 * in whole vectors that may run past its end into the following rows' place (which those rows then
 * overwrite), so there are no tails, as long as the copy stays inside the rows×n segment; the rows
 * after that are copied exactly. src must be readable 16 floats past each row. */
__attribute__((target("avx512f")))
static inline void copy_rows_spilling(float *dst, const float *src, int64_t src_stride, int64_t rows, int64_t n) {
    const int64_t width = n <= 8 ? 8 : (n + 15) / 16 * 16; /* floats each spilling copy writes */
    /* rows that may spill: their copy ends inside the rows×n segment (short rows spill over several) */
    int64_t spilling = rows * n >= width ? (rows * n - width) / n + 1 : 0;
    if (spilling > rows - 1) spilling = rows - 1;
    int64_t r = 0;
    if (n <= 8) {
        for (; r < spilling; r++, dst += n, src += src_stride) _mm256_storeu_ps(dst, _mm256_loadu_ps(src));
    } else {
        for (; r < spilling; r++, dst += n, src += src_stride)
            for (int64_t t = 0; t < n; t += 16) _mm512_storeu_ps(dst + t, _mm512_loadu_ps(src + t));
    }
    for (; r < rows; r++, dst += n, src += src_stride) copy_floats(dst, src, n);
}

/* dst rows (`dst_stride` apart) += src rows (contiguous, n apart), exactly n floats per row. */
__attribute__((target("avx512f")))
static inline void add_rows(float *dst, int64_t dst_stride, const float *src, int64_t rows, int64_t n) {
    if (n % 16 == 0) {
        for (int64_t r = 0; r < rows; r++, dst += dst_stride, src += n)
            for (int64_t t = 0; t < n; t += 16) _mm512_storeu_ps(dst + t, _mm512_add_ps(_mm512_loadu_ps(dst + t), _mm512_loadu_ps(src + t)));
    } else if (n % 8 == 0) {
        for (int64_t r = 0; r < rows; r++, dst += dst_stride, src += n)
            for (int64_t t = 0; t < n; t += 8) _mm256_storeu_ps(dst + t, _mm256_add_ps(_mm256_loadu_ps(dst + t), _mm256_loadu_ps(src + t)));
    } else {
        for (int64_t r = 0; r < rows; r++, dst += dst_stride, src += n) add_floats(dst, src, n);
    }
}

/* im2col with unit column stride: each input plane is copied into a zero-padded plane once, then
 * every column-matrix row segment is a plain copy from it (no bounds checks, no masks). */
__attribute__((target("avx512f")))
static void im2col_avx512(const float *x, float *cols, size_t ld, const ck_im2col_geometry *g) {
    const int64_t H = g->height, W = g->width, C = g->channels, kh = g->kernel_h, kw = g->kernel_w;
    const int64_t oh = g->out_h, ow = g->out_w, sh = g->stride_h, dh = g->dilation_h, dw = g->dilation_w;
    const int64_t hp = H + 2 * g->pad_h, wp = W + 2 * g->pad_w, plane = H * W;
    if (g->stride_w != 1 || hp * wp + padded_slack > padded_plane_max) { ck_im2col_f32_ref(x, cols, ld, g); return; }
    float padded[padded_plane_max];
    memset(padded, 0, (size_t)(hp * wp + padded_slack) * sizeof(float));
    float *interior = padded + g->pad_h * wp + g->pad_w;
    for (int64_t c = 0; c < C; c++) {
        const float *xc = x + c * plane;
        for (int64_t iy = 0; iy < H; iy++) copy_floats(interior + iy * wp, xc + iy * W, W);
        float *dst = cols + (size_t)(c * kh * kw) * ld;
        for (int64_t ki = 0; ki < kh; ki++)
            for (int64_t kj = 0; kj < kw; kj++, dst += ld) copy_rows_spilling(dst, padded + ki * dh * wp + kj * dw, sh * wp, oh, ow);
    }
}

/* col2im with unit column stride: each plane of dx is accumulated in a zero-padded copy (the same
 * additions in the reference's order per element; what lands in the padding is dropped), then copied back. */
__attribute__((target("avx512f")))
static void col2im_avx512(const float *cols, float *dx, size_t ld, const ck_im2col_geometry *g) {
    const int64_t H = g->height, W = g->width, C = g->channels, kh = g->kernel_h, kw = g->kernel_w;
    const int64_t oh = g->out_h, ow = g->out_w, sh = g->stride_h, dh = g->dilation_h, dw = g->dilation_w;
    const int64_t hp = H + 2 * g->pad_h, wp = W + 2 * g->pad_w, plane = H * W;
    if (g->stride_w != 1 || hp * wp > padded_plane_max) { ck_col2im_add_f32_ref(cols, dx, ld, g); return; }
    float padded[padded_plane_max];
    float *interior = padded + g->pad_h * wp + g->pad_w;
    for (int64_t c = 0; c < C; c++) {
        float *dxc = dx + c * plane;
        memset(padded, 0, (size_t)(hp * wp) * sizeof(float));
        for (int64_t iy = 0; iy < H; iy++) copy_floats(interior + iy * wp, dxc + iy * W, W);
        const float *src = cols + (size_t)(c * kh * kw) * ld;
        for (int64_t ki = 0; ki < kh; ki++)
            for (int64_t kj = 0; kj < kw; kj++, src += ld) add_rows(padded + ki * dh * wp + kj * dw, sh * wp, src, oh, ow);
        for (int64_t iy = 0; iy < H; iy++) copy_floats(dxc + iy * W, interior + iy * wp, W);
    }
}

/* Max pooling without padding: 16 outputs of a plane at a time, each window element gathered and
 * compared in the reference's order (v > best or v is NaN replaces). Padded pooling uses the reference. */
__attribute__((target("avx512f")))
static void maxpool_argmax_avx512(const float *x, float *y, int32_t *argmax, size_t planes, int64_t height, int64_t width,
                                  int64_t kernel_h, int64_t kernel_w, int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                  int64_t out_h, int64_t out_w) {
    const int64_t per = out_h * out_w, in_plane = height * width;
    enum { table_max = 4096 };
    if (pad_h != 0 || pad_w != 0 || per > table_max || kernel_h * kernel_w < 1 || (int64_t)planes * in_plane > INT32_MAX) {
        ck_maxpool2d_argmax_f32_ref(x, y, argmax, planes, height, width, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                                    out_h, out_w);
        return;
    }
    int32_t corner[table_max]; /* offset of each window's top-left element within its plane */
    for (int64_t oy = 0; oy < out_h; oy++)
        for (int64_t ox = 0; ox < out_w; ox++) corner[oy * out_w + ox] = (int32_t)(oy * stride_h * width + ox * stride_w);
    const __m512 neg_inf = _mm512_set1_ps(-INFINITY);
    for (size_t p = 0; p < planes; p++) {
        const float *base = x + p * (size_t)in_plane;
        const __m512i plane_start = _mm512_set1_epi32((int32_t)(p * (size_t)in_plane));
        for (int64_t o0 = 0; o0 < per; o0 += 16) {
            const __mmask16 k = (__mmask16)lane_mask(o0, 0, per);
            const __m512i first = _mm512_maskz_loadu_epi32(k, corner + o0);
            __m512 best = _mm512_mask_i32gather_ps(neg_inf, k, first, base, 4);
            __m512i index = first;
            for (int64_t ki = 0; ki < kernel_h; ki++)
                for (int64_t kj = 0; kj < kernel_w; kj++) {
                    if (ki == 0 && kj == 0) continue;
                    const __m512i at = _mm512_add_epi32(first, _mm512_set1_epi32((int32_t)(ki * width + kj)));
                    const __m512 v = _mm512_mask_i32gather_ps(neg_inf, k, at, base, 4);
                    const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
                    best = _mm512_mask_mov_ps(best, take, v);
                    index = _mm512_mask_mov_epi32(index, take, at);
                }
            _mm512_mask_storeu_ps(y + p * (size_t)per + o0, k, best);
            _mm512_mask_storeu_epi32(argmax + p * (size_t)per + o0, k, _mm512_add_epi32(index, plane_start));
        }
    }
}

/* ---------------------------------------------------------------- AVX2 (tails use the reference) */

__attribute__((target("avx2")))
static void adam_avx2(float *p, const float *grad, float *m, float *v, size_t n, const ck_adam_params *h) {
    const int decay = h->decay != 1.0f;
    const __m256 b1 = _mm256_set1_ps(h->beta1), b2 = _mm256_set1_ps(h->beta2);
    const __m256 c1 = _mm256_set1_ps(1.0f - h->beta1), c2 = _mm256_set1_ps(1.0f - h->beta2);
    const __m256 l2 = _mm256_set1_ps(h->l2), dk = _mm256_set1_ps(h->decay), step = _mm256_set1_ps(h->step_size);
    const __m256 bias2 = _mm256_set1_ps(h->bias2_sqrt), eps = _mm256_set1_ps(h->eps);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 w = _mm256_loadu_ps(p + i);
        if (decay) w = _mm256_mul_ps(w, dk);
        __m256 g = _mm256_add_ps(_mm256_loadu_ps(grad + i), _mm256_mul_ps(l2, w));
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(c1, g));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(_mm256_mul_ps(c2, g), g));
        __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), bias2), eps);
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        _mm256_storeu_ps(p + i, _mm256_sub_ps(w, _mm256_div_ps(_mm256_mul_ps(step, mi), denom)));
    }
    ck_adam_f32_ref(p + i, grad + i, m + i, v + i, n - i, h);
}

__attribute__((target("avx2")))
static void relu_backward_avx2(const float *dy, const float *y, float *dx, size_t n) {
    const __m256 zero = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 positive = _mm256_cmp_ps(_mm256_loadu_ps(y + i), zero, _CMP_GT_OQ);
        _mm256_storeu_ps(dx + i, _mm256_and_ps(positive, _mm256_loadu_ps(dy + i)));
    }
    ck_relu_backward_f32_ref(dy + i, y + i, dx + i, n - i);
}

/* ---------------------------------------------------------------- dispatch table */

typedef struct {
    const char *isa;
    void (*adam)(float *, const float *, float *, float *, size_t, const ck_adam_params *);
    void (*relu_backward)(const float *, const float *, float *, size_t);
    void (*im2col)(const float *, float *, size_t, const ck_im2col_geometry *);
    void (*col2im_add)(const float *, float *, size_t, const ck_im2col_geometry *);
    void (*maxpool_argmax)(const float *, float *, int32_t *, size_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                           int64_t, int64_t, int64_t, int64_t);
} ck_train_table;

static const ck_train_table train_portable = {"portable", ck_adam_f32_ref, ck_relu_backward_f32_ref, ck_im2col_f32_ref,
                                              ck_col2im_add_f32_ref, ck_maxpool2d_argmax_f32_ref};
static const ck_train_table train_avx2 = {"avx2", adam_avx2, relu_backward_avx2, ck_im2col_f32_ref, ck_col2im_add_f32_ref,
                                          ck_maxpool2d_argmax_f32_ref};
static const ck_train_table train_avx512 = {"avx512", adam_avx512, relu_backward_avx512, im2col_avx512, col2im_avx512,
                                            maxpool_argmax_avx512};

static const ck_train_table *best_train_table(void) {
    if (ck_cpu_has(CK_CPU_AVX512)) return &train_avx512;
    if (ck_cpu_has(CK_CPU_AVX2)) return &train_avx2;
    return &train_portable;
}

/* Resolved once before main (no lazy first-call race). */
static const ck_train_table *train_ops = &train_portable;
__attribute__((constructor)) static void ck_train_resolve(void) { train_ops = best_train_table(); }

const char *ck_train_isa(void) { return train_ops->isa; }
void ck_train_force_portable(int portable) { train_ops = portable ? &train_portable : best_train_table(); }

void ck_adam_f32(float *p, const float *grad, float *m, float *v, size_t n, const ck_adam_params *h) {
    train_ops->adam(p, grad, m, v, n, h);
}
void ck_relu_backward_f32(const float *dy, const float *y, float *dx, size_t n) { train_ops->relu_backward(dy, y, dx, n); }
void ck_im2col_f32(const float *x, float *cols, size_t ld, const ck_im2col_geometry *g) { train_ops->im2col(x, cols, ld, g); }
void ck_col2im_add_f32(const float *cols, float *dx, size_t ld, const ck_im2col_geometry *g) { train_ops->col2im_add(cols, dx, ld, g); }
void ck_maxpool2d_argmax_f32(const float *x, float *y, int32_t *argmax, size_t planes, int64_t height, int64_t width,
                             int64_t kernel_h, int64_t kernel_w, int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                             int64_t out_h, int64_t out_w) {
    train_ops->maxpool_argmax(x, y, argmax, planes, height, width, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, out_h, out_w);
}

void ck_maxpool2d_backward_f32(const float *dy, const int32_t *argmax, float *dx, size_t n) {
    for (size_t i = 0; i < n; i++) dx[argmax[i]] += dy[i];
}
