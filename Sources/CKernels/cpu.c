/* CPU feature detection with an optional mask (include/ck_cpu.h). */
#include "ck_cpu.h"

#include <stdlib.h>
#include <string.h>

static unsigned detected(void) {
    unsigned f = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2")) f |= CK_CPU_AVX2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        f |= CK_CPU_AVX512;
    if (__builtin_cpu_supports("avx512vbmi")) f |= CK_CPU_AVX512VBMI;
    if ((__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")) || __builtin_cpu_supports("avxvnni"))
        f |= CK_CPU_VNNI;
#endif
    return f;
}

static const struct { const char *name; unsigned keep; } masks[] = {
    {"native", ~0u},
    {"avx512", CK_CPU_AVX2 | CK_CPU_AVX512 | CK_CPU_AVX512VBMI},
    {"avx2", CK_CPU_AVX2},
    {"scalar", 0},
};

static unsigned features;
static const char *mask_name = "native";

/* Resolved before main and before the other files' dispatch constructors (priority 101). */
__attribute__((constructor(101))) static void ck_cpu_resolve(void) {
    unsigned keep = ~0u;
    const char *value = getenv("MODELSMITH_CPU_FEATURES");
    if (value && *value) {
        mask_name = "invalid";
        for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++)
            if (strcmp(value, masks[i].name) == 0) { keep = masks[i].keep; mask_name = masks[i].name; }
    }
    features = detected() & keep;
}

unsigned ck_cpu_features(void) { return features; }
int ck_cpu_has(unsigned wanted) { return (features & wanted) == wanted; }
const char *ck_cpu_mask(void) { return mask_name; }
