import Foundation
import ModelGraph
import TensorCore

/// One numpy-generated case from Fixtures/ops (see Fixtures/generate_op_fixtures.py).
struct OpFixture {
    let name: String
    let package: ModelPackage
    let inputs: [String: Tensor]
    let outputs: [String: Tensor]
    let atol: Float

    private struct Document: Decodable {
        struct Array: Decodable { let shape: [Int]; let data: [Float] }
        let graph: JSONValue
        let tensors: [String: Array]
        let inputs: [String: Array]
        let outputs: [String: Array]
        let atol: Float
    }

    static var all: [OpFixture] {
        get throws {
            let directory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/ops")
            let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
                .filter { $0.pathExtension == "json" }.sorted { $0.lastPathComponent < $1.lastPathComponent }
            return try files.map(load)
        }
    }

    static func named(_ name: String) throws -> OpFixture {
        try load(Bundle.module.resourceURL!.appendingPathComponent("Fixtures/ops/\(name).json"))
    }

    static func load(_ url: URL) throws -> OpFixture {
        let doc = try JSONDecoder().decode(Document.self, from: Data(contentsOf: url))
        let graph = try Graph(json: JSONEncoder().encode(doc.graph))
        func tensor(_ a: Document.Array) -> Tensor { Tensor(a.data, shape: Shape(a.shape)) }
        var tensors = TensorMap()
        for name in doc.tensors.keys.sorted() { tensors[name] = tensor(doc.tensors[name]!) }
        return OpFixture(name: url.deletingPathExtension().lastPathComponent,
                         package: ModelPackage(graph: graph, tensors: tensors),
                         inputs: doc.inputs.mapValues(tensor), outputs: doc.outputs.mapValues(tensor), atol: doc.atol)
    }
}
