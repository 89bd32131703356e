#ifndef CK_INT8_H
#define CK_INT8_H

#include <stddef.h>
#include <stdint.h>

/// 1 when the CPU has a u8×s8 dot product that accumulates in 32 bits without 16-bit saturation
/// (AVX-512 VNNI or AVX-VNNI, after the MODELSMITH_CPU_FEATURES mask of ck_cpu.h); 0 otherwise
/// (there, 8-bit weights can saturate `vpmaddubsw`, and `ck_gemm_u8s8s32_s16` is exact instead).
int ck_has_vnni(void);

/// Reference u8×s8→s32 matrix product: c[i][j] = Σ_p a[i][p] · w[j][p] (w is [n, k], a linear
/// layer's weight layout). Plain loops; the ground truth for the oneDNN path.
void ck_gemm_u8s8s32_ref(const uint8_t *a, const int8_t *w, int32_t *c, size_t m, size_t n, size_t k);

/// The quantize / requantize / dequantize helpers below dispatch once, at load, to an AVX-512 or
/// AVX2 variant or the portable `_ref` loop; all give identical bytes. The ISA in use ("avx512",
/// "avx2" or "portable"); `ck_int8_force_portable(1)` selects the portable loops (tests), 0 the
/// best again; `ck_int8_force_isa(name)` selects one by name (0 if this CPU cannot run it).
const char *ck_int8_isa(void);
void ck_int8_force_portable(int portable);
int ck_int8_force_isa(const char *isa);

/// The non-saturating u8×s8→s32 product for CPUs without VNNI: activations and weights widened
/// to s16 and multiplied in pairs with `vpmaddwd` (each pair sum ≤ 2·255·128, exact in s32), so
/// it gives exactly `ck_gemm_u8s8s32_ref`'s integers. Variants: CK_INT8_GEMM_AVX2 (8 columns per
/// panel) and CK_INT8_GEMM_AVX512 (16, AVX-512 BW); the weights are packed once per variant.
typedef enum { CK_INT8_GEMM_AVX2 = 1, CK_INT8_GEMM_AVX512 = 2 } ck_int8_gemm_isa;

/// Whether this CPU can run `isa` (after the mask).
int ck_gemm_s16_supported(ck_int8_gemm_isa isa);

/// int16 elements of `w` [n, k] packed for `isa`: panels of 8 or 16 output channels, k rounded up
/// to even, each pair of k interleaved per channel (zeros pad both).
size_t ck_gemm_s16_packed_count(ck_int8_gemm_isa isa, size_t n, size_t k);
void ck_gemm_s16_pack(ck_int8_gemm_isa isa, const int8_t *w, size_t n, size_t k, int16_t *packed);

/// int16 elements of scratch a product of `m` rows needs (the activations widened).
size_t ck_gemm_s16_scratch_count(size_t m, size_t k);

/// c[i][j] = Σ_p a[i][p] · w[j][p] for a [m, k] u8 and the packed weights; `isa` must be supported
/// and the one the weights were packed for.
void ck_gemm_u8s8s32_s16(ck_int8_gemm_isa isa, const int16_t *packed, const uint8_t *a, int32_t *c,
                         size_t m, size_t n, size_t k, int16_t *scratch);

/// The same in two steps, for callers that split the columns over threads: widen `a` once into
/// `widened` (ck_gemm_s16_scratch_count elements), then compute the columns of groups
/// [first_group, end_group) of ck_gemm_s16_column_groups (each group one register tile wide).
size_t ck_gemm_s16_column_groups(ck_int8_gemm_isa isa, size_t n);
void ck_gemm_s16_widen(const uint8_t *a, size_t m, size_t k, int16_t *widened);
void ck_gemm_s16_columns(ck_int8_gemm_isa isa, const int16_t *packed, const int16_t *widened, int32_t *c,
                         size_t m, size_t n, size_t k, size_t first_group, size_t end_group);

/// q = clamp(nearbyintf(x[i] / scale) + zero_point, 0, 255), ties to even.
void ck_quantize_f32_u8(const float *x, size_t count, float scale, int32_t zero_point, uint8_t *out);
void ck_quantize_f32_u8_ref(const float *x, size_t count, float scale, int32_t zero_point, uint8_t *out);

/// Requantizes accumulators to u8 for the next INT8 layer: with a = acc[i][j] + offset[j],
/// q = clamp(nearbyintf((float)a · multiplier[j]) + out_zero, lo, 255), lo = out_zero when
/// `relu` (ReLU fused: real value ≥ 0), else 0.
void ck_requantize_s32_u8(const int32_t *acc, size_t m, size_t n, const int32_t *offset,
                          const float *multiplier, int32_t out_zero, int relu, uint8_t *out);
void ck_requantize_s32_u8_ref(const int32_t *acc, size_t m, size_t n, const int32_t *offset,
                              const float *multiplier, int32_t out_zero, int relu, uint8_t *out);

/// Dequantizes accumulators to f32: y = (float)(acc[i][j] + offset[j]) · scale[j], then max(y, 0) when `relu`.
void ck_dequantize_s32_f32(const int32_t *acc, size_t m, size_t n, const int32_t *offset,
                           const float *scale, int relu, float *out);
void ck_dequantize_s32_f32_ref(const int32_t *acc, size_t m, size_t n, const int32_t *offset,
                               const float *scale, int relu, float *out);

/// im2col for u8 NCHW input (one image, c×h×w) into rows [oh·ow, c·kh·kw] (a patch per row, in
/// the weight's (c, kh, kw) order); padding reads as `pad_value` (the input's zero point, so a
/// padded position means real 0).
void ck_im2col_u8(const uint8_t *x, size_t c, size_t h, size_t w, size_t kh, size_t kw,
                  size_t stride_h, size_t stride_w, size_t pad_h, size_t pad_w,
                  size_t dil_h, size_t dil_w, size_t oh, size_t ow, uint8_t pad_value, uint8_t *rows);

#endif
