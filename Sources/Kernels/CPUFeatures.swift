import CKernels
import TensorCore

/// The CPU features the kernels dispatch on, after the MODELSMITH_CPU_FEATURES mask, and the ISA
/// oneDNN dispatches to (docs/runtime.md, "CPU dispatch"): what `inspect`, `bench --json` and
/// `--verbose` report next to the kernel names.
public enum CPUFeatures {
    /// The mask applied: "native", "avx512", "avx2", "scalar", or "invalid" (an unknown
    /// MODELSMITH_CPU_FEATURES value, ignored).
    public static var mask: String { String(cString: ck_cpu_mask()) }

    /// The features in use, e.g. ["avx2", "avx512", "avx512vbmi", "vnni"].
    public static var names: [String] {
        [(CK_CPU_AVX2, "avx2"), (CK_CPU_AVX512, "avx512"), (CK_CPU_AVX512VBMI, "avx512vbmi"), (CK_CPU_VNNI, "vnni")]
            .filter { ck_cpu_has(UInt32($0.0)) != 0 }.map(\.1)
    }

    public static var json: JSONValue {
        .object(["features": .array(names.map { .string($0) }), "mask": .string(mask), "onednn_isa": .string(DNNL.effectiveISA)])
    }

    /// One line, e.g. "CPU features avx2 avx512 vnni (mask native), oneDNN avx512_core_vnni".
    public static var summary: String {
        "CPU features \(names.isEmpty ? "none" : names.joined(separator: " ")) (mask \(mask)), oneDNN \(DNNL.effectiveISA)"
    }
}
