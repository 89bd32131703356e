import ModelGraph
import TensorCore

/// Per layer (each tensor pruned by the amount on its own) or global (one ranking across all).
public enum PruningScope: String, CaseIterable, Sendable {
    case layer, global
}

extension ModelPackage {
    /// This package with `parameters` pruned by `pruner`: new masks composed with the existing ones
    /// in `masks`, and the pruned weights set to +0.0.
    ///
    /// ```swift
    /// let names = try ParameterSelection().resolve(in: package.graph)
    /// let p80 = try package.pruned(names, by: L1Unstructured(amount: .fraction(0.8)), scope: .global)
    /// ```
    public func pruned(_ parameters: [String], by pruner: some Pruner, scope: PruningScope) throws -> ModelPackage {
        let weights = try prunableWeights(parameters)
        let existing = parameters.map { masks[$0] }
        let newMasks: [Tensor]
        switch scope {
        case .layer:
            newMasks = try zip(parameters, zip(weights, existing)).map { name, pair in
                do { return try pruner.mask(importance: pair.0, existing: pair.1) } catch let error as PruningError {
                    throw error.naming(name)
                }
            }
        case .global:
            do { newMasks = try pruner.globalMasks(importance: weights, existing: existing) } catch let error as PruningError {
                throw error.naming(parameters.joined(separator: ", "))
            }
        }
        var result = self
        for (name, (weight, mask)) in zip(parameters, zip(weights, newMasks)) {
            result.tensors[name] = try weight.masked(by: mask, name: name)
            result.masks[name] = mask
        }
        return result
    }

    /// What `pruned(_:by:scope:)` does with `pruner`, as one cut per parameter found by counting
    /// passes over the weights (no mask, no copy): `MagnitudeCut.mask` and `Tensor.masked(by:name:)`
    /// then make each mask and pruned weight when it is written (docs/pruning.md, "Large models").
    public func magnitudeCuts(_ parameters: [String], by pruner: L1Unstructured, scope: PruningScope) throws -> [MagnitudeCut] {
        let weights = try prunableWeights(parameters)
        let existing = parameters.map { masks[$0] }
        switch scope {
        case .layer:
            return try zip(parameters, zip(weights, existing)).map { name, pair in
                do { return try pruner.cut(importance: pair.0, existing: pair.1) } catch let error as PruningError {
                    throw error.naming(name)
                }
            }
        case .global:
            do { return try pruner.globalCuts(importance: weights, existing: existing) } catch let error as PruningError {
                throw error.naming(parameters.joined(separator: ", "))
            }
        }
    }

    private func prunableWeights(_ parameters: [String]) throws -> [Tensor] {
        try parameters.map { name in
            guard let tensor = tensors[name] else { throw PruningError.missingTensor(name) }
            guard tensor.dtype != .bool else { throw PruningError.unsupportedDType(tensor: name, dtype: tensor.dtype) }
            return tensor
        }
    }
}
