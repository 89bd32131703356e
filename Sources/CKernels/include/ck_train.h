#ifndef CK_TRAIN_H
#define CK_TRAIN_H

#include <stddef.h>
#include <stdint.h>

/* Kernels of the training engine's hot loops: the Adam/AdamW update, element-wise gradients, im2col/col2im
 * and max pooling.
 *
 * Every `ck_<op>` dispatches (once, at load time) to the AVX-512, AVX2 or portable variant;
 * `ck_<op>_ref` is the plain scalar reference. The variants compute the same IEEE operations in the
 * same order without contraction (no FMA), so they match the reference bit for bit — training
 * results do not depend on the CPU's vector width. */

/* The variant in use: "avx512", "avx2" or "portable". */
const char *ck_train_isa(void);
/* Forces the portable variants (1) or restores CPU dispatch (0); for tests. */
void ck_train_force_portable(int portable);

/* One torch.optim.Adam/AdamW step over n elements, in place (p: parameters, m/v: moments):
 *   p ← p·decay;  g ← grad + l2·p;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g·g;
 *   p ← p − (step_size·m) / (√v / bias2_sqrt + eps)
 * with step_size = lr/(1−β₁ᵗ) and bias2_sqrt = √(1−β₂ᵗ). decay = 1 skips the first line (Adam);
 * AdamW passes decay = 1 − lr·λ and l2 = 0. */
typedef struct {
    float beta1, beta2, step_size, bias2_sqrt, eps, l2, decay;
} ck_adam_params;
void ck_adam_f32(float *p, const float *grad, float *m, float *v, size_t n, const ck_adam_params *h);
void ck_adam_f32_ref(float *p, const float *grad, float *m, float *v, size_t n, const ck_adam_params *h);

/* ReLU gradient from the ReLU's output: dx = y > 0 ? dy : 0 (NaN outputs pass no gradient). dx may alias dy. */
void ck_relu_backward_f32(const float *dy, const float *y, float *dx, size_t n);
void ck_relu_backward_f32_ref(const float *dy, const float *y, float *dx, size_t n);

/* Row broadcast: y[r, :] = b for r < rows (a linear layer's bias before the matrix product adds x·Wᵀ). */
void ck_broadcast_rows_f32(const float *b, float *y, size_t rows, size_t cols);

/* im2col / col2im for one sample of an NCHW convolution group (`channels` input planes of height×width).
 * Column matrix row r = (c·kernel_h + ki)·kernel_w + kj holds out_h·out_w values starting at
 * cols + r·ld, so several samples can sit side by side in one [patch, samples·out_h·out_w] matrix. */
typedef struct {
    int64_t channels, height, width;
    int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
    int64_t out_h, out_w;
} ck_im2col_geometry;
void ck_im2col_f32(const float *x, float *cols, size_t ld, const ck_im2col_geometry *g);
void ck_im2col_f32_ref(const float *x, float *cols, size_t ld, const ck_im2col_geometry *g);
/* The adjoint: adds the columns back into dx (overlapping windows accumulate). */
void ck_col2im_add_f32(const float *cols, float *dx, size_t ld, const ck_im2col_geometry *g);
void ck_col2im_add_f32_ref(const float *cols, float *dx, size_t ld, const ck_im2col_geometry *g);

/* Max pooling over `planes` NCHW planes (implicit -inf padding, floor mode) that also records, per
 * output, the flat input index of its maximum (first wins; a NaN wins and stays). */
void ck_maxpool2d_argmax_f32(const float *x, float *y, int32_t *argmax, size_t planes, int64_t height, int64_t width,
                             int64_t kernel_h, int64_t kernel_w, int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                             int64_t out_h, int64_t out_w);
void ck_maxpool2d_argmax_f32_ref(const float *x, float *y, int32_t *argmax, size_t planes, int64_t height, int64_t width,
                                 int64_t kernel_h, int64_t kernel_w, int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                 int64_t out_h, int64_t out_w);
/* Max pooling's gradient: dx[argmax[i]] += dy[i] for i < n (dx holds the input's gradient so far). */
void ck_maxpool2d_backward_f32(const float *dy, const int32_t *argmax, float *dx, size_t n);

#endif
