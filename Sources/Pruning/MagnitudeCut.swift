import TensorCore

/// Which entries L1 magnitude pruning removes from one tensor, found without sorting or copying
/// (docs/pruning.md, "Large models"): of the entries still kept, those whose magnitude is below
/// `threshold`, and the first `tiesToPrune` at it in flat order. A magnitude is |x| as its f32 bit
/// pattern (monotone for non-negative floats, −0.0 as +0.0, NaN above +∞) — with the flat index as
/// the tie-break this is exactly `L1Unstructured`'s ranking by (|importance|, flat index).
public struct MagnitudeCut: Hashable, Sendable {
    public var threshold: UInt32
    public var tiesToPrune: Int

    /// Prunes nothing more.
    public static let none = MagnitudeCut(threshold: 0, tiesToPrune: 0)

    /// The mask after this cut: `existing` (or all kept) with the cut's entries cleared.
    public func mask(importance: Tensor, existing: Tensor?) -> Tensor {
        var mask = existing ?? MaskSet.allKept(importance.shape)
        let scores = importance.toF32()
        var ties = tiesToPrune
        let threshold = threshold
        mask.withUnsafeMutableBufferPointer(of: UInt8.self) { keep in
            scores.withUnsafeBufferPointer(of: UInt32.self) { bits in
                for i in 0..<keep.count where keep[i] != 0 {
                    let magnitude = bits[i] & 0x7FFF_FFFF
                    if magnitude < threshold {
                        keep[i] = 0
                    } else if magnitude == threshold && ties > 0 {
                        keep[i] = 0
                        ties -= 1
                    }
                }
            }
        }
        return mask
    }

    /// The cuts pruning the `k` smallest magnitudes among the kept entries of all `tensors` taken
    /// as one flat sequence in order (one tensor: per layer; several: PyTorch's global ranking).
    /// Two counting passes over the data (high 16 bits of the magnitude, then the low 15 within the
    /// bucket that holds the k-th), and a third counting the ties per tensor when only some of
    /// them are pruned; memory is two fixed histograms whatever the sizes.
    static func cuts(pruning k: Int, of tensors: [(importance: Tensor, existing: Tensor?)]) -> [MagnitudeCut] {
        guard k > 0 else { return Array(repeating: .none, count: tensors.count) }
        var high = [Int](repeating: 0, count: 1 << 16)
        for (importance, existing) in tensors {
            forEachKept(importance, existing) { high[Int($0 >> 15)] += 1 }
        }
        let (bucket, belowBucket) = position(of: k, in: high, startingAt: 0)
        var low = [Int](repeating: 0, count: 1 << 15)
        for (importance, existing) in tensors {
            forEachKept(importance, existing) { if Int($0 >> 15) == bucket { low[Int($0 & 0x7FFF)] += 1 } }
        }
        let (offset, below) = position(of: k, in: low, startingAt: belowBucket)
        let threshold = UInt32(bucket << 15 | offset)
        let ties = k - below
        guard tensors.count > 1, ties < low[offset] else {
            return Array(repeating: MagnitudeCut(threshold: threshold, tiesToPrune: tensors.count > 1 ? Int.max : ties), count: tensors.count)
        }
        var remaining = ties
        return tensors.map { importance, existing in
            var atThreshold = 0
            forEachKept(importance, existing) { if $0 == threshold { atThreshold += 1 } }
            let quota = min(atThreshold, remaining)
            remaining -= quota
            return MagnitudeCut(threshold: threshold, tiesToPrune: quota)
        }
    }

    /// The bin holding the k-th counted entry (1-based, counting from `before`) and the count below it.
    private static func position(of k: Int, in counts: [Int], startingAt before: Int) -> (bin: Int, below: Int) {
        var below = before
        for (bin, count) in counts.enumerated() {
            if below + count >= k { return (bin, below) }
            below += count
        }
        preconditionFailure("k exceeds the kept entries")
    }

    /// Calls `body` with the magnitude bits of every kept entry, in flat order.
    private static func forEachKept(_ importance: Tensor, _ existing: Tensor?, _ body: (UInt32) -> Void) {
        let scores = importance.toF32()
        scores.withUnsafeBufferPointer(of: UInt32.self) { bits in
            guard let existing else {
                for value in bits { body(value & 0x7FFF_FFFF) }
                return
            }
            existing.withUnsafeBufferPointer(of: UInt8.self) { keep in
                for i in 0..<bits.count where keep[i] != 0 { body(bits[i] & 0x7FFF_FFFF) }
            }
        }
    }
}
