import TensorCore

/// A pruning method: a keep-mask computed from importance scores on top of an existing mask
/// (PyTorch's `BasePruningMethod.compute_mask(t, default_mask)`).
///
/// Composition is PyTorch's `PruningContainer` for unstructured methods: entries that `existing`
/// already prunes stay pruned, and the method's amount applies to the *remaining* entries, so two
/// rounds of 0.5 leave 25% of the weights.
public protocol Pruner: Sendable {
    /// The new mask, a `bool` tensor of `importance`'s shape where 1 keeps the entry.
    /// - Parameters:
    ///   - importance: scores ranking the entries (the weight itself for magnitude pruning), any dtype.
    ///   - existing: the current `bool` mask of the same shape, or nil when nothing is pruned yet.
    func mask(importance: Tensor, existing: Tensor?) throws -> Tensor
}

extension Pruner {
    /// One ranking across several tensors (PyTorch's `global_unstructured`): the scores and
    /// masks are concatenated in the given order, masked once, and split back.
    public func globalMasks(importance: [Tensor], existing: [Tensor?]) throws -> [Tensor] {
        precondition(importance.count == existing.count, "one existing mask (or nil) per tensor")
        let total = importance.reduce(0) { $0 + $1.elementCount }
        var scores = [Float](); scores.reserveCapacity(total)
        var keep = [UInt8](); keep.reserveCapacity(total)
        for (tensor, mask) in zip(importance, existing) {
            scores += tensor.floats
            if let mask {
                try MaskSet.check(mask, fits: tensor.shape, name: "tensor")
                keep += mask.withUnsafeBufferPointer(of: UInt8.self) { Array($0) }
            } else {
                keep += [UInt8](repeating: 1, count: tensor.elementCount)
            }
        }
        let flatMask = try mask(importance: Tensor(scores, shape: [total]),
                                existing: try Tensor(dtype: .bool, shape: [total], bytes: keep))
        var offset = 0
        return try importance.map { tensor in
            let n = tensor.elementCount
            defer { offset += n }
            return try flatMask.withUnsafeBytes { raw in
                try Tensor(dtype: .bool, shape: tensor.shape, bytes: UnsafeRawBufferPointer(rebasing: raw[offset..<offset + n]))
            }
        }
    }
}
