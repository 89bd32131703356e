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
        try cut(importance: importance, existing: existing).mask(importance: importance, existing: existing)
    }

    /// The cut that `mask(importance:existing:)` applies (no mask is made: for large models).
    public func cut(importance: Tensor, existing: Tensor?) throws -> MagnitudeCut {
        try cuts(of: [(importance, existing)])[0]
    }

    /// One ranking across `tensors` in order, as `globalMasks` makes it, as one cut per tensor:
    /// counting passes over the data, no concatenated copy (docs/pruning.md, "Large models").
    public func globalCuts(importance: [Tensor], existing: [Tensor?]) throws -> [MagnitudeCut] {
        precondition(importance.count == existing.count, "one existing mask (or nil) per tensor")
        return try cuts(of: Array(zip(importance, existing)))
    }

    private func cuts(of tensors: [(importance: Tensor, existing: Tensor?)]) throws -> [MagnitudeCut] {
        var kept = 0
        for (importance, existing) in tensors {
            if let existing {
                try MaskSet.check(existing, fits: importance.shape, name: "tensor")
                kept += MaskSet.keptCount(existing)
            } else {
                kept += importance.elementCount
            }
        }
        return MagnitudeCut.cuts(pruning: try amount.count(of: kept), of: tensors)
    }
}
