import CKernels

/// The exact u8×s8→s32 products an INT8 layer can run on (docs/runtime.md, "CPU dispatch"). All
/// give the same integers, so the same artifact gives the same bytes on every CPU; which ones are
/// available depends on the CPU and, for oneDNN without VNNI, on the weights' range.
public enum Int8Product: Hashable, Sendable, CustomStringConvertible {
    /// oneDNN's int8 matmul: exact with VNNI, or for weights within ±`sevenBitLimit` without it.
    case oneDNN
    /// The C target's widening product (`ck_gemm_u8s8s32_s16`), AVX-512 BW or AVX2.
    case s16(avx512: Bool)
    /// The plain C loop (`ck_gemm_u8s8s32_ref`): the test oracle, and the product of last resort
    /// on a CPU without AVX2.
    case reference

    /// The largest |w| for which `vpmaddubsw` cannot saturate: 2·255·64 = 32640 < 2^15.
    /// 7-bit weights (|q| ≤ 63) are within it.
    public static let sevenBitLimit = 64

    /// Every exact product this CPU can run for weights whose largest magnitude is `maxAbsWeight`,
    /// fastest first: the first is the one a layer runs by default.
    public static func available(maxAbsWeight: Int) -> [Int8Product] {
        var products: [Int8Product] = []
        if DNNL.u8s8ExactForAnyWeights || maxAbsWeight <= sevenBitLimit { products.append(.oneDNN) }
        if ck_gemm_s16_supported(CK_INT8_GEMM_AVX512) != 0 { products.append(.s16(avx512: true)) }
        if ck_gemm_s16_supported(CK_INT8_GEMM_AVX2) != 0 { products.append(.s16(avx512: false)) }
        products.append(.reference)
        return products
    }

    /// The name `inspect` and `bench` show for the library's own products (oneDNN's name its
    /// implementation instead, see `Int8Matmul.implementation`).
    public var description: String {
        switch self {
        case .oneDNN: return "onednn"
        case .s16(let avx512): return avx512 ? "modelsmith:s16_avx512" : "modelsmith:s16_avx2"
        case .reference: return "modelsmith:reference"
        }
    }

    var gemmISA: ck_int8_gemm_isa? {
        if case .s16(let avx512) = self { return avx512 ? CK_INT8_GEMM_AVX512 : CK_INT8_GEMM_AVX2 }
        return nil
    }
}
