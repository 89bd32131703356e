import Foundation
import ModelFormats
import ModelGraph
import ModelRuntime
import TensorCore

/// How one weighted layer (linear or conv2d) of an optimized model compares with the same layer of
/// its baseline: bytes stored, weight sparsity, weight dtype, and how far its output moved.
public struct LayerComparison: Sendable, Equatable {
    public var node: String
    public var modelStoredBytes: Int
    public var baselineStoredBytes: Int
    public var modelSparsity: Double
    public var baselineSparsity: Double
    public var modelWeightDType: DType
    /// Signal-to-quantization-noise ratio of the layer's output against the baseline's, in dB
    /// (`10·log10(Σ b² / Σ (m − b)²)`; infinite when identical). Nil without input data.
    public var outputSQNR: Double?

    /// Compares every weighted layer present (by node name) in both packages. With `inputs`, both
    /// models run unfused on the same batch and each layer's output is compared.
    public static func compare(model: ModelPackage, modelPath: String, baseline: ModelPackage, baselinePath: String,
                               inputs: [String: Tensor]?) throws -> [LayerComparison] {
        let modelBytes = storedBytes(model, path: modelPath), baselineBytes = storedBytes(baseline, path: baselinePath)
        let baselineNodes = baseline.graph.index
        let layers = model.graph.nodes.filter { $0.op.hasWeightMatrix && baselineNodes.node(named: $0.name)?.op == $0.op }
        var sqnr: [String: Double] = [:]
        if let inputs, !layers.isEmpty {
            let taps = Set(layers.map(\.output))
            let a = try tappedOutputs(model, taps: taps, inputs: inputs)
            let b = try tappedOutputs(baseline, taps: taps, inputs: inputs)
            for layer in layers {
                if let x = a[layer.output], let y = b[layer.output], x.count == y.count { sqnr[layer.name] = signalToNoise(x, reference: y) }
            }
        }
        return layers.compactMap { layer in
            guard let name = layer.params["weight"], let weight = model.tensors[name],
                  let baseName = baselineNodes.node(named: layer.name)?.params["weight"], let baseWeight = baseline.tensors[baseName] else { return nil }
            let params = { (node: Node?, bytes: [String: Int]) in node?.params.values.reduce(0) { $0 + (bytes[$1] ?? 0) } ?? 0 }
            return LayerComparison(node: layer.name, modelStoredBytes: params(layer, modelBytes),
                                   baselineStoredBytes: params(baselineNodes.node(named: layer.name), baselineBytes),
                                   modelSparsity: sparsity(weight), baselineSparsity: sparsity(baseWeight),
                                   modelWeightDType: weight.dtype, outputSQNR: sqnr[layer.name])
        }
    }

    /// Bytes each tensor occupies on disk: the artifact's stored (compressed) size for `.msa`,
    /// the decoded size otherwise.
    static func storedBytes(_ package: ModelPackage, path: String) -> [String: Int] {
        if let index = try? Artifact.index(at: path) {
            var bytes: [String: Int] = [:]
            for entry in index.params { bytes[entry.name] = entry.storedBytes }
            return bytes
        }
        var bytes: [String: Int] = [:]
        for (name, tensor) in package.tensors { bytes[name] = tensor.byteCount }
        return bytes
    }

    static func sparsity(_ tensor: Tensor) -> Double {
        tensor.elementCount == 0 ? 0 : Double(tensor.zeroCount) / Double(tensor.elementCount)
    }

    static func tappedOutputs(_ package: ModelPackage, taps: Set<String>, inputs: [String: Tensor]) throws -> [String: [Float]] {
        let batch = inputs.values.first?.shape[0] ?? 1
        let session = try Session(package: package, options: SessionOptions(maxBatch: batch, threads: 1, fuse: false))
        var values: [String: [Float]] = [:]
        _ = try session.run(inputs, taps: taps.intersection(Set(package.graph.nodes.map(\.output)))) { name, tensor in values[name] = tensor.floats }
        return values
    }

    static func signalToNoise(_ x: [Float], reference y: [Float]) -> Double {
        var signal = 0.0, noise = 0.0
        for i in y.indices {
            signal += Double(y[i]) * Double(y[i])
            let d = Double(x[i]) - Double(y[i])
            noise += d * d
        }
        return noise == 0 ? .infinity : 10 * log10(max(signal, .leastNonzeroMagnitude) / noise)
    }
}
