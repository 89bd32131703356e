import Foundation
import TensorCore

/// What a sparse tensor must cost at least, for comparing an artifact's bits per weight with
/// (DESIGN §4 target: within 10%): the empirical order-0 entropy of its mask plus that of its
/// non-zero values, byte plane by byte plane (the byte shuffle the artifact applies to floats).
///
///   bits = n · H₂(nnz / n) + Σ_b nnz · H₀(byte b of the non-zero values)
///
/// An entry is "zero" when all its bytes are (what the sparse encoding leaves out; pruning writes +0.0).
public enum StorageEntropy {
    public static func bits(of tensor: Tensor) -> Double {
        let n = tensor.elementCount, width = tensor.dtype.byteSize
        guard n > 0 else { return 0 }
        // One 256-bin histogram per byte plane, flat; a pointer loop (this runs over whole models).
        var counts = [Int](repeating: 0, count: 256 * width)
        var nonZero = 0
        tensor.withUnsafeBytes { bytes in
            counts.withUnsafeMutableBufferPointer { histogram in
                let base = bytes.baseAddress!
                for i in 0..<n {
                    let element = base + i * width
                    var b = 0
                    while b < width && element.load(fromByteOffset: b, as: UInt8.self) == 0 { b += 1 }
                    guard b < width else { continue }
                    nonZero += 1
                    for b in 0..<width { histogram[b << 8 | Int(element.load(fromByteOffset: b, as: UInt8.self))] += 1 }
                }
            }
        }
        let histograms = (0..<width).map { counts[($0 << 8)..<(($0 + 1) << 8)] }
        let maskBits = Double(n) * binaryEntropy(Double(nonZero) / Double(n))
        let valueBits = histograms.reduce(0.0) { sum, histogram in
            sum + histogram.reduce(0.0) { $0 + ($1 == 0 ? 0 : -Double($1) * log2(Double($1) / Double(nonZero))) }
        }
        return maskBits + valueBits
    }

    static func binaryEntropy(_ p: Double) -> Double {
        p <= 0 || p >= 1 ? 0 : -(p * log2(p) + (1 - p) * log2(1 - p))
    }
}
