import Foundation
import ModelGraph
import TensorCore

/// The PyTorch golden data converted by `Fixtures/make_golden_fixtures.py`.
enum GoldenFixtures {
    struct Index: Decodable {
        struct TensorEntry: Decodable { let name: String; let shape: [Int]; let offset: Int }
        struct MaskCase: Decodable { let `case`: String; let scope: String; let amount: Double; let tensors: [String] }
        struct TiesCase: Decodable {
            let `case`: String; let shape: [Int]; let weight: [Float]; let mask: [UInt8]
            let amount: Double; let amount_is_count: Bool
        }
        let tensors: [TensorEntry]
        let cases: [MaskCase]
        let ties: [TiesCase]
    }

    static func url(_ path: String) -> URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures/" + path)
    }

    static let index: Index = try! JSONDecoder().decode(Index.self, from: Data(contentsOf: url("golden.json")))

    /// The digits teacher (64-512-512-10 MLP) as trained by PyTorch.
    static let teacher: ModelPackage = {
        let raw = try! Data(contentsOf: url("teacher.weights.f32"))
        let floats = raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        var tensors = TensorMap()
        for entry in index.tensors {
            let n = entry.shape.reduce(1, *)
            tensors[entry.name] = Tensor(Array(floats[entry.offset..<entry.offset + n]), shape: Shape(entry.shape))
        }
        let graph = try! Graph(json: Data(contentsOf: url("teacher.model.json")))
        return ModelPackage(graph: graph, tensors: tensors)
    }()

    /// A golden mask (the named tensors' masks concatenated), one 0/1 byte per entry.
    static func mask(_ name: String, count: Int) -> [UInt8] {
        let bits = try! Data(contentsOf: url("masks/\(name).bits"))
        return (0..<count).map { i in (bits[i / 8] >> UInt8(i % 8)) & 1 }
    }
}

extension Tensor {
    var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}
