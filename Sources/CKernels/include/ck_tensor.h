#ifndef CK_TENSOR_H
#define CK_TENSOR_H

#include <stddef.h>
#include <stdint.h>

/* Shape-general f32 kernels for the ONNX vocabulary (docs/ops.md): parameterised element-wise
 * functions, broadcasting binary arithmetic, reductions over a contiguous run of axes and strided
 * copies (transpose, pad). Plain C loops written so the compiler vectorises the inner loop; each
 * is its own reference (the tests compare with PyTorch). Ranks are at most CK_MAX_RANK. */

#define CK_MAX_RANK 8

typedef enum {
    CK_UNARY_CLIP = 0,        /* min(max(x, a), b); NaN passes */
    CK_UNARY_HARDSIGMOID = 1, /* max(0, min(1, a*x + b)) */
    CK_UNARY_HARDSWISH = 2,   /* x * max(0, min(1, x/6 + 1/2)) */
    CK_UNARY_LEAKY_RELU = 3,  /* x >= 0 ? x : a*x */
    CK_UNARY_ERF = 4,
    CK_UNARY_SQRT = 5,
    CK_UNARY_RECIPROCAL = 6,
    CK_UNARY_EXP = 7,
    CK_UNARY_LOG = 8,
    CK_UNARY_NEG = 9,
    CK_UNARY_ABS = 10,
    CK_UNARY_SOFTPLUS = 11,   /* log(1 + exp(x)) */
    CK_UNARY_MISH = 12,       /* x * tanh(softplus(x)) */
    CK_UNARY_NOT = 13,        /* masks held as f32 0/1: x == 0 ? 1 : 0 */
    CK_UNARY_TRUNC = 14,      /* cast to an integer type: toward zero */
    CK_UNARY_NONZERO = 15     /* cast to bool: x != 0 ? 1 : 0 */
} ck_unary_op;

void ck_unary_f32(int op, const float *x, float *y, size_t n, float a, float b);

typedef enum {
    CK_BINARY_ADD = 0, CK_BINARY_SUB = 1, CK_BINARY_MUL = 2, CK_BINARY_DIV = 3, CK_BINARY_POW = 4,
    CK_BINARY_MIN = 5, CK_BINARY_MAX = 6, /* NaN propagates */
    CK_BINARY_EQUAL = 7, CK_BINARY_LESS = 8, CK_BINARY_GREATER = 9 /* masks as f32 0/1 */
} ck_binary_op;

/* y[i] = a[i·a_strides] op b[i·b_strides] over the row-major index space `dims` (y contiguous);
 * a stride 0 broadcasts that operand along the dimension. */
void ck_binary_strided_f32(int op, size_t rank, const int64_t *dims, const int64_t *a_strides,
                           const int64_t *b_strides, const float *a, const float *b, float *y);

/* y[i] = cond[i] != 0 ? a[i] : b[i] through strides, as ck_binary_strided_f32. */
void ck_where_strided_f32(size_t rank, const int64_t *dims, const int64_t *c_strides, const int64_t *a_strides,
                          const int64_t *b_strides, const float *cond, const float *a, const float *b, float *y);

/* Gather along the middle axis of an [outer, axis_len, inner] view: y[o, j, :] = x[o, idx[j], :] for
 * j < count (indices held as f32 integers; negative ones count from the end). Returns the position
 * of the first index out of range (its output block is zeros), or -1 when all are in range. */
int64_t ck_gather_f32(const float *x, const float *indices, float *y, size_t outer, size_t axis_len, size_t inner,
                      size_t count);

typedef enum { CK_REDUCE_MEAN = 0, CK_REDUCE_SUM = 1, CK_REDUCE_MAX = 2, CK_REDUCE_MIN = 3 } ck_reduce_op;

/* Reduces the middle axis of an [outer, length, inner] view (double accumulation for sum/mean;
 * max/min propagate NaN). */
void ck_reduce_f32(int op, const float *x, float *y, size_t outer, size_t length, size_t inner);

/* dst[i·dst_strides] = src[i·src_strides] over the index space `dims`. */
void ck_copy_strided_f32(size_t rank, const int64_t *dims, const int64_t *src_strides, const int64_t *dst_strides,
                         const float *src, float *dst);

void ck_fill_f32(float *y, size_t n, float value);

#endif
