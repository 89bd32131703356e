import Foundation
import TensorCore
import XCTest
@testable import ModelFormats

/// An artifact built from docs/formats.md alone by NumPy + the zstd CLI
/// (Fixtures/artifact/make_fixtures.py) decodes to the tensors NumPy saved beside it.
final class ArtifactFixtureTests: XCTestCase {
    private func fixture(_ name: String) -> URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures/artifact/\(name)")
    }

    private func expected(_ name: String) throws -> Tensor {
        let url = fixture("expected/\(name).npy")
        return try Npy.decode(Array(try Data(contentsOf: url)), path: url.path)
    }

    func testIndependentlyBuiltArtifactDecodesToNumPysTensors() throws {
        let contents = try WeightReaders.read(fixture("independent.msa").path)
        XCTAssertEqual(contents.tensors.names, ["w", "b", "q", "h"])
        for name in ["w", "b", "h"] {
            XCTAssertTrue(contents.tensors[name]!.bitwiseEqual(try expected(name)), name)
        }
        var q = try expected("q")
        q.quant = QuantParams(scales: [0.5, 0.25, 0.125, 2], zeroPoints: [0, 0, 0, 0], axis: 0)
        XCTAssertTrue(contents.tensors["q"]!.bitwiseEqual(q))
        // "w" holds a -0.0: stored as a sparse value, but zero for its param_nonzero mask.
        XCTAssertTrue(contents.masks["w"]!.bitwiseEqual(try expected("w.mask")))
        XCTAssertTrue(contents.masks["b"]!.bitwiseEqual(try expected("b.mask")))
        XCTAssertEqual(contents.provenance.steps.map(\.step), ["handmade"])
        let graph = try JSONSerialization.jsonObject(with: contents.graphJSON!) as! [String: Any]
        XCTAssertEqual(graph["name"] as? String, "independent")
        XCTAssertNil(graph["tensors"], "the index is not part of the returned graph")
    }

    func testIndexListsEncodingsAsWritten() throws {
        let index = try Artifact.index(at: fixture("independent.msa").path)
        XCTAssertEqual(index.tensors.map { "\($0.name):\($0.role.rawValue):\($0.encoding.rawValue)/\($0.transform.rawValue)" },
                       ["w:param:sparse/shuffle", "b:param:dense/none", "q:param:int8/none", "h:param:dense/shuffle",
                        "w:mask:param_nonzero/none", "b:mask:sparse/none"])
    }
}
