import Foundation
import ModelFormats
import ModelGraph
import ModelRuntime
@testable import Serving
import TensorCore

/// The digits models the runtime's tests check against PyTorch (Tests/ModelRuntimeTests/Fixtures/models).
enum ServingFixtures {
    static let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("ModelRuntimeTests/Fixtures/models")

    static func source(_ model: String, name: String? = nil) -> ServingConfiguration.ModelSource {
        .init(name: name ?? model, path: models.appendingPathComponent("\(model).weights.npz").path,
              graph: models.appendingPathComponent("\(model).model.json").path)
    }

    static func package(_ model: String) throws -> ModelPackage {
        let s = source(model)
        return try ModelPackage.loadForRunning(path: s.path, graphPath: s.graph)
    }

    /// The fixture's input samples (360 × 64 for the MLPs).
    static func inputs(_ model: String) throws -> Tensor {
        let contents = try WeightReaders.read(models.appendingPathComponent("\(model).forward.npz").path)
        return contents.tensors["x"]!
    }

    /// The top-1 class of the first `count` samples by PyTorch's logits (the fixture's `logits`).
    static func pytorchArgmax(_ model: String, _ count: Int) throws -> [Int] {
        let logits = try WeightReaders.read(models.appendingPathComponent("\(model).forward.npz").path).tensors["logits"]!
        let classes = logits.shape[1], values = logits.floats
        return (0..<count).map { s in (0..<classes).max { values[s * classes + $0] < values[s * classes + $1] }! }
    }

    static func signature(maxBatch: Int = 32) -> ModelSignature {
        ModelSignature(inputs: [.init(name: "x", sampleShape: [64])], outputs: [.init(name: "logits", sampleShape: [10])], maxBatch: maxBatch)
    }

    static func configuration(_ models: [ServingConfiguration.ModelSource]) -> ServingConfiguration {
        var c = ServingConfiguration()
        c.host = "127.0.0.1"
        c.port = 0
        c.models = models
        c.maxBatch = 16
        c.threads = 2
        c.instances = 1
        return c
    }
}

extension Tensor {
    /// Rows `start ..< start + count` as a new tensor.
    func rows(_ start: Int, _ count: Int) -> Tensor { Batcher.rows(self, from: start, count: count) }
}
