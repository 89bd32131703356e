#ifndef CK_SPARSE_H
#define CK_SPARSE_H

#include <stddef.h>
#include <stdint.h>

/// A float matrix [rows, cols] in compressed sparse row form: row r's non-zeros are
/// values[row_start[r] ..< row_start[r + 1]] at columns col_index[same range], columns ascending.
/// For a linear layer it is the weight [out_features, in_features]. Column indices are int32_t
/// when index_bits == 32 (the default: fastest) or uint16_t when index_bits == 16 (cols <= 65536;
/// 6 bytes per non-zero instead of 8, about 10% slower at batch 1 on Zen 5).
typedef struct {
    int64_t rows;
    int64_t cols;
    const int64_t *row_start; // rows + 1 entries, row_start[0] == 0
    const void *col_index;    // row_start[rows] entries, each in [0, cols)
    int32_t index_bits;       // 16 or 32
    const float *values;      // row_start[rows] entries
} ck_csr_f32;

/// The instruction sets a sparse kernel variant uses.
typedef enum { CK_SPARSE_SCALAR = 0, CK_SPARSE_AVX2 = 1, CK_SPARSE_AVX512 = 2 } ck_sparse_isa;

/// The best variant this CPU runs (AVX-512F > AVX2+FMA > scalar).
ck_sparse_isa ck_sparse_best_isa(void);

/// Whether this CPU can run `isa`.
int ck_sparse_isa_supported(ck_sparse_isa isa);

/// Floats of scratch space a call with `cols` input features needs (64-byte alignment helps, is not required).
size_t ck_spmm_f32_scratch_floats(int64_t cols);

/// Sparse linear layer: y[i, r] = bias[r] + Σ_c x[i, c] · W[r, c] for i < batch, with
/// x [batch, cols] and y [batch, rows] row-major; bias may be NULL. `scratch` holds
/// ck_spmm_f32_scratch_floats(cols) floats. Runs the best variant for this CPU.
void ck_spmm_f32(const ck_csr_f32 *w, const float *x, int64_t batch, const float *bias, float *y, float *scratch);

/// The same with an explicit variant (which must be supported); CK_SPARSE_SCALAR is the reference:
/// plain loops, one float accumulator per output in column order.
void ck_spmm_f32_variant(ck_sparse_isa isa, const ck_csr_f32 *w, const float *x, int64_t batch,
                         const float *bias, float *y, float *scratch);

#endif
