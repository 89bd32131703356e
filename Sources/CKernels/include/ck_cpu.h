#ifndef CK_CPU_H
#define CK_CPU_H

/// CPU features the C kernels dispatch on (docs/runtime.md, "CPU dispatch"). Every variant choice
/// in this target asks `ck_cpu_has`, so one mask makes the whole target behave as on a smaller CPU.
enum {
    CK_CPU_AVX2 = 1 << 0,        // AVX2 + FMA + BMI2
    CK_CPU_AVX512 = 1 << 1,      // AVX-512 F + BW + VL
    CK_CPU_AVX512VBMI = 1 << 2,
    CK_CPU_VNNI = 1 << 3,        // AVX-512 VNNI (with BW) or AVX-VNNI: u8×s8 dot products into s32
};

/// The detected features, masked by the environment variable MODELSMITH_CPU_FEATURES (read once):
/// `native` or unset = as detected; `avx512` = without VNNI; `avx2` = AVX2 only; `scalar` = none.
unsigned ck_cpu_features(void);

/// 1 when every feature in `features` is available (after the mask).
int ck_cpu_has(unsigned features);

/// The mask's name ("native", "avx512", "avx2", "scalar"), or "invalid" when
/// MODELSMITH_CPU_FEATURES holds anything else (then the detected features are used).
const char *ck_cpu_mask(void);

#endif
