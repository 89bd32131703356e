import TensorCore

/// Magnitude pruning with the semantics of `torch.nn.utils.prune.l1_unstructured`: among the
/// entries still kept, the `amount` with the smallest absolute importance are pruned.
///
/// **Tie rule** (PyTorch leaves it to `torch.topk`, which is unstable): entries are ranked by
/// (|importance|, flat index), so among equal magnitudes at the cut the *lowest flat index is
/// pruned first*. −0.0 ranks as +0.0; NaN ranks above +∞ (pruned last, as `topk` orders it).
/// The count is always PyTorch's, and the kept set is PyTorch's wherever there is no tie at the cut.
public struct L1Unstructured: Pruner {
    public let amount: PruningAmount

    public init(amount: PruningAmount) { self.amount = amount }

    public func mask(importance: Tensor, existing: Tensor?) throws -> Tensor {
        let n = importance.elementCount
        guard n <= Int(UInt32.max) else { throw PruningError.tooManyEntries(n) }
        var mask: Tensor
        if let existing {
            try MaskSet.check(existing, fits: importance.shape, name: "tensor")
            mask = existing
        } else {
            mask = MaskSet.allKept(importance.shape)
        }
        let scores = importance.toF32()
        try mask.withUnsafeMutableBufferPointer(of: UInt8.self) { keep in
            try scores.withUnsafeBufferPointer(of: Float.self) { values in
                // Sort key: |x| as its bit pattern (monotone for non-negative floats, NaN above +inf),
                // then the flat index — this is the tie rule.
                var keys = [UInt64]()
                keys.reserveCapacity(n)
                for i in 0..<n where keep[i] != 0 {
                    let magnitude = UInt64(values[i].bitPattern & 0x7FFF_FFFF)
                    keys.append(magnitude << 32 | UInt64(i))
                }
                let k = try amount.count(of: keys.count)
                guard k > 0 else { return }
                keys.sort()
                for key in keys[..<k] { keep[Int(key & 0xFFFF_FFFF)] = 0 }
            }
        }
        return mask
    }
}
