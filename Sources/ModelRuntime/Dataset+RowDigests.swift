import Foundation
import ModelFormats

extension Dataset {
    /// SHA-256 (hex) of each sample in `range` (its per-sample shape, then its f32 bytes): the key that
    /// calibration caches and teacher outputs record per input row (docs/scale-out.md), so shards
    /// can be checked for overlap and outputs matched to rows without trusting file order.
    public func rowDigests(_ range: Range<Int>? = nil) -> [String] {
        let rows = range ?? 0..<count
        let perSample = x.elementCount / count
        let prefix = Array("f32|\(Array(x.shape.dims.dropFirst()))|".utf8)
        return x.withUnsafeBytes { bytes in
            rows.map { row in
                var hasher = SHA256.Hasher()
                prefix.withUnsafeBytes { hasher.update($0) }
                hasher.update(UnsafeRawBufferPointer(rebasing: bytes[(row * perSample * 4)..<((row + 1) * perSample * 4)]))
                return hasher.finalizeHex()
            }
        }
    }

    /// SHA-256 of the sorted row digests: a digest of the *multiset* of samples, so shards of the
    /// same rows, merged in any order, have the digest of one pass over the concatenated data.
    public static func multisetDigest(ofRows digests: [String]) -> String {
        var hasher = SHA256.Hasher()
        Data("rows|\(digests.count)|\(digests.sorted().joined(separator: ","))".utf8).withUnsafeBytes { hasher.update($0) }
        return hasher.finalizeHex()
    }
}
