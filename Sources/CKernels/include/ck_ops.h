#ifndef CK_OPS_H
#define CK_OPS_H

#include <stddef.h>
#include <stdint.h>

/* Small f32 kernels the matrix library does not cover: element-wise activations and arithmetic,
 * softmax, pooling, normalisation. Layout is row-major NCHW.
 *
 * Every function `ck_<op>_f32` dispatches (once, at load time) to the best variant for this CPU
 * (AVX-512, AVX2 or portable C); `ck_<op>_f32_ref` is the plain scalar reference the tests
 * compare it with. Variants differ from the reference by at most a few ulps (see ck_ops.c). */

/* The variant the dispatched functions use: "avx512", "avx2" or "portable". */
const char *ck_ops_isa(void);
/* Forces the portable variants (1) or restores CPU dispatch (0); for tests and benchmarks. */
void ck_ops_force_portable(int portable);

/* ---- element-wise, y may alias x ---- */
/* relu: max(0, x) with NaN passed through (PyTorch semantics) */
void ck_relu_f32(const float *x, float *y, size_t n);
void ck_relu_f32_ref(const float *x, float *y, size_t n);
void ck_sigmoid_f32(const float *x, float *y, size_t n);
void ck_sigmoid_f32_ref(const float *x, float *y, size_t n);
void ck_silu_f32(const float *x, float *y, size_t n);
void ck_silu_f32_ref(const float *x, float *y, size_t n);
void ck_tanh_f32(const float *x, float *y, size_t n);
void ck_tanh_f32_ref(const float *x, float *y, size_t n);
/* gelu with the exact erf form (PyTorch approximate="none") */
void ck_gelu_f32(const float *x, float *y, size_t n);
void ck_gelu_f32_ref(const float *x, float *y, size_t n);
/* gelu with the tanh approximation (PyTorch approximate="tanh") */
void ck_gelu_tanh_f32(const float *x, float *y, size_t n);
void ck_gelu_tanh_f32_ref(const float *x, float *y, size_t n);

/* ---- binary, same shapes, y may alias a or b ---- */
void ck_add_f32(const float *a, const float *b, float *y, size_t n);
void ck_add_f32_ref(const float *a, const float *b, float *y, size_t n);
void ck_mul_f32(const float *a, const float *b, float *y, size_t n);
void ck_mul_f32_ref(const float *a, const float *b, float *y, size_t n);

/* y[c-plane] = x * scale[c] + shift[c] over `planes` = batch*channels planes of `plane_size`
 * (inference batchnorm with folded statistics). */
void ck_channel_affine_f32(const float *x, float *y, size_t batch, size_t channels, size_t plane_size,
                           const float *scale, const float *shift);
void ck_channel_affine_f32_ref(const float *x, float *y, size_t batch, size_t channels, size_t plane_size,
                               const float *scale, const float *shift);

/* ---- reductions ---- */
/* softmax (log_softmax when `take_log` != 0) over the middle axis of an [outer, axis_len, inner] view. */
void ck_softmax_f32(const float *x, float *y, size_t outer, size_t axis_len, size_t inner, int take_log);
/* layer norm over each row of `cols` values; weight/bias may be NULL. */
void ck_layernorm_f32(const float *x, float *y, size_t rows, size_t cols,
                      const float *weight, const float *bias, float eps);

/* ---- pooling on NCHW, planes = batch*channels ---- */
typedef struct {
    int64_t in_h, in_w, out_h, out_w;
    int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w; /* pad_h, pad_w: before (top, left) */
    int64_t pad_b, pad_r;                                          /* after (bottom, right) */
    int64_t count_include_pad; /* avgpool: 1 divides by the window clipped to the padded input, 0 by the real elements */
} ck_pool2d_geometry;

/* Padding counts as -inf (PyTorch semantics). */
void ck_maxpool2d_f32(const float *x, float *y, size_t planes, const ck_pool2d_geometry *g);
/* Average over each window; see count_include_pad. */
void ck_avgpool2d_f32(const float *x, float *y, size_t planes, const ck_pool2d_geometry *g);
void ck_global_avgpool_f32(const float *x, float *y, size_t planes, size_t plane_size);

#endif
