import Foundation
import FuzzSupport
import ModelGraph

// .onnx: protobuf decoding (nesting bound), IR checks (names, definitions, cycles), initializer
// decoding (dims × dtype against the bytes), folding of shape subgraphs, translation into the op
// vocabulary and validation of the resulting graph. External data is refused for in-memory bytes.
runFuzzer { bytes in
    guard let package = try? ONNXImport.load(data: Data(bytes), limits: fuzzLimits) else { return }
    _ = try? package.inferShapes(batch: 3)
    _ = package.graph.jsonData()
}
