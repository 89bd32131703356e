import Foundation
import FuzzSupport
import ModelFormats
import ModelGraph
import ModelRuntime
import TensorCore

/// The tensors of the seeds' graphs (the digits MLP and CNN), so mutated graphs get as far as
/// parameter validation and shape inference.
let tensors: TensorMap = {
    var map = TensorMap()
    let shapes: [(String, Shape)] = [
        ("fc1.weight", [32, 64]), ("fc1.bias", [32]), ("fc2.weight", [10, 32]), ("fc2.bias", [10]),
        ("fc3.weight", [10, 10]), ("fc3.bias", [10]),
        ("conv1.weight", [8, 1, 3, 3]), ("conv1.bias", [8]), ("conv2.weight", [16, 8, 3, 3]), ("conv2.bias", [16]),
        ("bn1.weight", [8]), ("bn1.bias", [8]), ("bn1.running_mean", [8]), ("bn1.running_var", [8]),
        ("ln.weight", [32]), ("ln.bias", [32]), ("fc.weight", [10, 16]), ("fc.bias", [10]),
    ]
    for (name, shape) in shapes { map[name] = Tensor(zeros: .f32, shape) }
    return map
}()

// model.json: JSON decoding, topological sort, attribute parsing, validation against tensors,
// shape inference for a concrete batch, and the runtime's plan (kernel binding, fusion, arena
// placement within the memory budget).
MemoryBudget.limit = fuzzMemoryBudget
runFuzzer { bytes in
    var contents = PackageContents(graphJSON: Data(bytes), source: "fuzz/model.json")
    contents.tensors = tensors
    guard let package = try? ModelPackage(contents: contents) else { return }
    _ = try? package.inferShapes(batch: 3)
    _ = try? Session(package: package, options: SessionOptions(maxBatch: 3))
    _ = package.graph.jsonData()
}
