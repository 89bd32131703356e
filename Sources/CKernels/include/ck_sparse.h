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

// ---------------------------------------------------------------- INT8 (u8 activations × s8 weights → s32)

/// Columns per chunk of the INT8 sparse format: a 128-byte slice of an activation row fits two
/// zmm registers, and `vpermi2b` picks up to 64 of its bytes by 7-bit index in one instruction.
#define CK_SPARSE_S8_CHUNK 128

/// An s8 matrix [rows, cols] in chunked CSR: row r's non-zeros are entries
/// row_start[r] ..< row_start[r + 1] of `index` / `values`, ordered by column; they are grouped by
/// column chunk (columns [128·k, 128·k + 128)), chunk_count[r · chunks + k] of them in chunk k, and
/// `index` holds the column within its chunk (0…127), so a non-zero costs 2 bytes.
/// `index` and `values` must be readable 64 bytes past row_start[rows] (the SIMD variants load
/// whole vectors and mask or zero the surplus).
typedef struct {
    int64_t rows;
    int64_t cols;
    int64_t chunks;               // ceil(cols / 128)
    const int64_t *row_start;     // rows + 1 entries, row_start[0] == 0
    const uint8_t *chunk_count;   // rows · chunks entries, each ≤ 128
    const uint8_t *index;         // column − 128·chunk
    const int8_t *values;         // the non-zero weights
} ck_csr_s8;

/// Whether this CPU can run the INT8 sparse variant `isa` (AVX512: AVX-512 BW + VBMI + VNNI;
/// AVX2: AVX2 gathers).
int ck_spmm_u8s8_isa_supported(ck_sparse_isa isa);

/// The best INT8 sparse variant this CPU runs.
ck_sparse_isa ck_spmm_u8s8_best_isa(void);

/// Bytes of scratch one call needs for `cols` input features.
size_t ck_spmm_u8s8_scratch_bytes(int64_t cols);

/// Sparse INT8 product: acc[i, r] = Σ_c x[i, c] · W[r, c] (u8 × s8, exact 32-bit integer sums) for
/// i < batch, x [batch, cols] u8 and acc [batch, rows] s32 row-major: the same integers as the
/// dense `ck_gemm_u8s8s32_ref`. `isa` must be supported; CK_SPARSE_SCALAR is the reference
/// (plain loops). `scratch` holds ck_spmm_u8s8_scratch_bytes(cols) bytes.
void ck_spmm_u8s8s32_variant(ck_sparse_isa isa, const ck_csr_s8 *w, const uint8_t *x, int64_t batch,
                             int32_t *acc, uint8_t *scratch);

// ---------------------------------------------------------------- FP32, dense operand in columns (conv)

/// y[r, j] = bias[r] + Σ_c W[r, c] · b[c · ldb + j] for j < n: a sparse weight times a dense
/// [cols, n] matrix (a conv's im2col columns, one sample: n = output positions), written to
/// y [rows, n] row-major (the sample's NCHW output); bias may be NULL; `relu` then clamps y < 0 to 0.
/// CK_SPARSE_SCALAR is the reference; the SIMD variants differ only in summation order.
void ck_spmm_f32_columns_variant(ck_sparse_isa isa, const ck_csr_f32 *w, const float *b, int64_t ldb, int64_t n,
                                 const float *bias, int relu, float *y);

#endif
