/* Shape-general f32 kernels (see include/ck_tensor.h). */
#include "ck_tensor.h"

#include <math.h>
#include <string.h>

void ck_unary_f32(int op, const float *x, float *y, size_t n, float a, float b) {
    switch (op) {
    case CK_UNARY_CLIP:
        for (size_t i = 0; i < n; i++) { float v = x[i]; y[i] = v < a ? a : (v > b ? b : v); }
        break;
    case CK_UNARY_HARDSIGMOID:
        for (size_t i = 0; i < n; i++) { float v = a * x[i] + b; y[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }
        break;
    case CK_UNARY_HARDSWISH:
        for (size_t i = 0; i < n; i++) {
            float v = x[i] / 6.0f + 0.5f;
            y[i] = x[i] * (v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v));
        }
        break;
    case CK_UNARY_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) y[i] = x[i] < 0.0f ? a * x[i] : x[i];
        break;
    case CK_UNARY_ERF: for (size_t i = 0; i < n; i++) y[i] = erff(x[i]); break;
    case CK_UNARY_SQRT: for (size_t i = 0; i < n; i++) y[i] = sqrtf(x[i]); break;
    case CK_UNARY_RECIPROCAL: for (size_t i = 0; i < n; i++) y[i] = 1.0f / x[i]; break;
    case CK_UNARY_EXP: for (size_t i = 0; i < n; i++) y[i] = expf(x[i]); break;
    case CK_UNARY_LOG: for (size_t i = 0; i < n; i++) y[i] = logf(x[i]); break;
    case CK_UNARY_NEG: for (size_t i = 0; i < n; i++) y[i] = -x[i]; break;
    case CK_UNARY_ABS: for (size_t i = 0; i < n; i++) y[i] = fabsf(x[i]); break;
    case CK_UNARY_SOFTPLUS:  /* log1p(exp(x)), written so large x does not overflow */
        for (size_t i = 0; i < n; i++) { float v = x[i]; y[i] = v > 0 ? v + log1pf(expf(-v)) : log1pf(expf(v)); }
        break;
    case CK_UNARY_MISH:
        for (size_t i = 0; i < n; i++) {
            float v = x[i], sp = v > 0 ? v + log1pf(expf(-v)) : log1pf(expf(v));
            y[i] = v * tanhf(sp);
        }
        break;
    case CK_UNARY_NOT: for (size_t i = 0; i < n; i++) y[i] = x[i] == 0.0f ? 1.0f : 0.0f; break;
    case CK_UNARY_TRUNC: for (size_t i = 0; i < n; i++) y[i] = truncf(x[i]); break;
    case CK_UNARY_NONZERO: for (size_t i = 0; i < n; i++) y[i] = x[i] != 0.0f ? 1.0f : 0.0f; break;
    default: break;
    }
}

/* The innermost dimension: four loops by which operand is broadcast, so each vectorises. */
#define CK_BINARY_ROW(EXPR)                                                                   \
    if (sa == 1 && sb == 1) { for (int64_t i = 0; i < n; i++) { float p = a[i], q = b[i]; y[i] = EXPR; } } \
    else if (sa == 1 && sb == 0) { float q = b[0]; for (int64_t i = 0; i < n; i++) { float p = a[i]; y[i] = EXPR; } } \
    else if (sa == 0 && sb == 1) { float p = a[0]; for (int64_t i = 0; i < n; i++) { float q = b[i]; y[i] = EXPR; } } \
    else { for (int64_t i = 0; i < n; i++) { float p = a[i * sa], q = b[i * sb]; y[i] = EXPR; } }

static void binary_row(int op, int64_t n, const float *a, int64_t sa, const float *b, int64_t sb, float *y) {
    switch (op) {
    case CK_BINARY_ADD: CK_BINARY_ROW(p + q) break;
    case CK_BINARY_SUB: CK_BINARY_ROW(p - q) break;
    case CK_BINARY_MUL: CK_BINARY_ROW(p * q) break;
    case CK_BINARY_DIV: CK_BINARY_ROW(p / q) break;
    case CK_BINARY_POW: CK_BINARY_ROW(powf(p, q)) break;
    case CK_BINARY_MIN: CK_BINARY_ROW(isnan(p) || p < q ? p : q) break;
    case CK_BINARY_MAX: CK_BINARY_ROW(isnan(p) || p > q ? p : q) break;
    case CK_BINARY_EQUAL: CK_BINARY_ROW(p == q ? 1.0f : 0.0f) break;
    case CK_BINARY_LESS: CK_BINARY_ROW(p < q ? 1.0f : 0.0f) break;
    case CK_BINARY_GREATER: CK_BINARY_ROW(p > q ? 1.0f : 0.0f) break;
    default: break;
    }
}

/* Advances `index` over every dimension but the last, last-but-one fastest; 0 after the last row. */
static int next_row(int64_t *index, const int64_t *dims, size_t rank) {
    for (size_t d = rank - 1; d-- > 0;) {
        if (++index[d] < dims[d]) return 1;
        index[d] = 0;
    }
    return 0;
}

void ck_binary_strided_f32(int op, size_t rank, const int64_t *dims, const int64_t *a_strides,
                           const int64_t *b_strides, const float *a, const float *b, float *y) {
    if (rank == 0) { binary_row(op, 1, a, 0, b, 0, y); return; }
    for (size_t d = 0; d < rank; d++) if (dims[d] == 0) return;
    int64_t index[CK_MAX_RANK] = {0};
    const int64_t n = dims[rank - 1];
    for (;;) {
        int64_t ao = 0, bo = 0;
        for (size_t d = 0; d + 1 < rank; d++) { ao += index[d] * a_strides[d]; bo += index[d] * b_strides[d]; }
        binary_row(op, n, a + ao, a_strides[rank - 1], b + bo, b_strides[rank - 1], y);
        y += n;
        if (!next_row(index, dims, rank)) return;
    }
}

void ck_where_strided_f32(size_t rank, const int64_t *dims, const int64_t *c_strides, const int64_t *a_strides,
                          const int64_t *b_strides, const float *cond, const float *a, const float *b, float *y) {
    if (rank == 0) { y[0] = cond[0] != 0.0f ? a[0] : b[0]; return; }
    for (size_t d = 0; d < rank; d++) if (dims[d] == 0) return;
    int64_t index[CK_MAX_RANK] = {0};
    const int64_t n = dims[rank - 1], sc = c_strides[rank - 1], sa = a_strides[rank - 1], sb = b_strides[rank - 1];
    for (;;) {
        int64_t co = 0, ao = 0, bo = 0;
        for (size_t d = 0; d + 1 < rank; d++) {
            co += index[d] * c_strides[d]; ao += index[d] * a_strides[d]; bo += index[d] * b_strides[d];
        }
        for (int64_t i = 0; i < n; i++) y[i] = cond[co + i * sc] != 0.0f ? a[ao + i * sa] : b[bo + i * sb];
        y += n;
        if (!next_row(index, dims, rank)) return;
    }
}

int64_t ck_gather_f32(const float *x, const float *indices, float *y, size_t outer, size_t axis_len, size_t inner,
                      size_t count) {
    int64_t bad = -1;
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < count; j++) {
            float raw = indices[j];
            int64_t k = (int64_t)raw;
            if (k < 0) k += (int64_t)axis_len;
            float *dst = y + (o * count + j) * inner;
            if (raw != (float)(int64_t)raw || k < 0 || k >= (int64_t)axis_len) {
                if (bad < 0) bad = (int64_t)j;
                memset(dst, 0, inner * sizeof(float));
                continue;
            }
            memcpy(dst, x + (o * axis_len + (size_t)k) * inner, inner * sizeof(float));
        }
    return bad;
}

void ck_reduce_f32(int op, const float *x, float *y, size_t outer, size_t length, size_t inner) {
    for (size_t o = 0; o < outer; o++) {
        const float *xo = x + o * length * inner;
        float *yo = y + o * inner;
        for (size_t i = 0; i < inner; i++) {
            if (op == CK_REDUCE_SUM || op == CK_REDUCE_MEAN) {
                double sum = 0;
                for (size_t r = 0; r < length; r++) sum += xo[r * inner + i];
                yo[i] = (float)(op == CK_REDUCE_MEAN ? sum / (double)length : sum);
            } else {
                float best = xo[i];
                for (size_t r = 1; r < length && !isnan(best); r++) {
                    float v = xo[r * inner + i];
                    if (isnan(v) || (op == CK_REDUCE_MAX ? v > best : v < best)) best = v;
                }
                yo[i] = best;
            }
        }
    }
}

void ck_copy_strided_f32(size_t rank, const int64_t *dims, const int64_t *src_strides, const int64_t *dst_strides,
                         const float *src, float *dst) {
    if (rank == 0) { dst[0] = src[0]; return; }
    for (size_t d = 0; d < rank; d++) if (dims[d] == 0) return;
    int64_t index[CK_MAX_RANK] = {0};
    const int64_t n = dims[rank - 1], ss = src_strides[rank - 1], ds = dst_strides[rank - 1];
    for (;;) {
        int64_t so = 0, doff = 0;
        for (size_t d = 0; d + 1 < rank; d++) { so += index[d] * src_strides[d]; doff += index[d] * dst_strides[d]; }
        if (ss == 1 && ds == 1) memcpy(dst + doff, src + so, (size_t)n * sizeof(float));
        else for (int64_t i = 0; i < n; i++) dst[doff + i * ds] = src[so + i * ss];
        if (!next_row(index, dims, rank)) return;
    }
}

void ck_fill_f32(float *y, size_t n, float value) {
    for (size_t i = 0; i < n; i++) y[i] = value;
}
