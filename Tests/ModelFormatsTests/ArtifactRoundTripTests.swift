import Foundation
import TensorCore
import XCTest
@testable import ModelFormats

/// Writing and reading `.msa` artifacts: bit-exact round trips and the choice of encoding.
final class ArtifactRoundTripTests: XCTestCase {
    private var dir: URL!
    override func setUp() { dir = ArtifactFixtures.temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    private func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func testEveryDTypeQuantParamsMasksAndProvenanceRoundTripBitExact() throws {
        var contents = PackageContents(graphJSON: ArtifactFixtures.graph)
        for (i, dtype) in DType.allCases.enumerated() {
            contents.tensors["t.\(dtype)"] = ArtifactFixtures.tensor(dtype, [3, 5, 7], seed: UInt64(i))
            contents.tensors["sparse.\(dtype)"] = ArtifactFixtures.tensor(dtype, [1000], seed: UInt64(i + 100), zeroFraction: 0.9)
        }
        contents.tensors["scalar"] = Tensor([2.5], shape: [])
        contents.tensors["empty"] = Tensor(zeros: .f32, [0, 4])
        var q = ArtifactFixtures.tensor(.i8, [4, 6], seed: 42)
        q.quant = QuantParams(scales: [0.5, 0.25, 0.125, 1e-7], zeroPoints: [0, 0, 0, 0], axis: 0)
        contents.tensors["fc.weight"] = q
        var u = ArtifactFixtures.tensor(.u8, [10], seed: 43)
        u.quant = QuantParams(scales: [0.0417], zeroPoints: [128], axis: nil)
        contents.tensors["act"] = u
        // One mask equal to "weight != 0" (stored by reference), one that is not.
        let pruned = ArtifactFixtures.tensor(.f32, [50], seed: 5, zeroFraction: 0.5)
        contents.tensors["pruned"] = pruned
        contents.masks["pruned"] = ElementBits.nonzeroMask(of: pruned)
        // Not "weight != 0": it also keeps zero weights (as when quantization rounds kept weights to 0).
        var keeps = ArtifactFixtures.tensor(.bool, [1000], seed: 6)
        let nonzero = ElementBits.nonzeroMask(of: contents.tensors["sparse.f32"]!)
        keeps.withUnsafeMutableBytes { k in nonzero.withUnsafeBytes { n in for i in k.indices { k[i] |= n[i] } } }
        contents.masks["sparse.f32"] = keeps
        contents.provenance = Provenance(sourceDigest: String(repeating: "ab", count: 32),
                                         steps: [ProvenanceStep(step: "prune", options: ["amount": 0.5], results: ["sparsity": 0.49])])

        let summary = try Artifact.write(contents, to: path("m.msa"))
        XCTAssertEqual(summary.index.masks.first { $0.name == "pruned" }?.encoding, .paramNonzero)
        XCTAssertNil(summary.index.masks.first { $0.name == "pruned" }?.member)
        XCTAssertEqual(summary.index.masks.first { $0.name == "sparse.f32" }?.encoding == .paramNonzero, false)

        let back = try WeightReaders.read(path("m.msa"))
        XCTAssertEqual(back.tensors.names, contents.tensors.names)
        for (name, tensor) in contents.tensors {
            XCTAssertTrue(back.tensors[name]!.bitwiseEqual(tensor), "tensor \(name) (incl. quant params)")
        }
        XCTAssertEqual(back.masks.names, contents.masks.names)
        for (name, mask) in contents.masks { XCTAssertTrue(back.masks[name]!.bitwiseEqual(mask), "mask \(name)") }
        XCTAssertEqual(back.provenance, contents.provenance)
        let graph = try JSONSerialization.jsonObject(with: back.graphJSON!) as? NSDictionary
        XCTAssertEqual(graph, try JSONSerialization.jsonObject(with: ArtifactFixtures.graph) as? NSDictionary)
    }

    /// A pruned, quantized weight: a few kept weights rounded to 0, so the mask is not "weight != 0".
    /// It is stored as its (nearly all-zero) difference from that, and rebuilt exactly.
    func testMaskThatDiffersFromNonzeroInAFewPlacesIsStoredAsADifference() throws {
        var contents = PackageContents(graphJSON: ArtifactFixtures.graph)
        var weight = ArtifactFixtures.tensor(.i8, [512, 512], seed: 9, zeroFraction: 0.9)
        weight.quant = QuantParams(scales: [0.01], zeroPoints: [0], axis: nil)
        var mask = ElementBits.nonzeroMask(of: weight)
        var kept = 0
        weight.withUnsafeBytes { w in
            mask.withUnsafeMutableBytes { m in
                for i in stride(from: 0, to: m.count, by: 997) where w[i] == 0 { m[i] = 1; kept += 1 }  // kept, yet zero
            }
        }
        XCTAssertGreaterThan(kept, 100)
        contents.tensors["fc.weight"] = weight
        contents.masks["fc.weight"] = mask

        let entry = try Artifact.write(contents, to: path("x.msa")).index.masks.first!
        XCTAssertEqual(entry.encoding, .paramNonzeroXor)
        let plain = PayloadEncoder.smallest(mask, level: Zstd.defaultLevel).member.count
        XCTAssertLessThan(entry.storedBytes * 4, plain, "the difference should cost far less than the mask itself")
        let back = try WeightReaders.read(path("x.msa"))
        XCTAssertTrue(back.masks["fc.weight"]!.bitwiseEqual(mask))

        XCTAssertTrue(back.tensors["fc.weight"]!.bitwiseEqual(weight))
    }

    func testEncodingChoice() throws {
        var contents = PackageContents(graphJSON: ArtifactFixtures.graph)
        contents.tensors["normal"] = ArtifactFixtures.tensor(.f32, [256, 256], seed: 1)
        contents.tensors["ninety.zero"] = ArtifactFixtures.tensor(.f32, [256, 256], seed: 2, zeroFraction: 0.9)
        var q = ArtifactFixtures.tensor(.i8, [256, 64], seed: 3)
        q.quant = QuantParams(scales: [0.01], zeroPoints: [0], axis: nil)
        contents.tensors["quantized"] = q
        let index = try Artifact.write(contents, to: path("e.msa")).index
        func entry(_ name: String) -> ArtifactTensorEntry { index.tensors.first { $0.name == name }! }
        XCTAssertEqual(entry("normal").encoding, .dense)
        XCTAssertEqual(entry("normal").transform, .shuffle, "byte planes of normal floats compress better")
        XCTAssertEqual(entry("ninety.zero").encoding, .sparse)
        XCTAssertEqual(entry("quantized").encoding, .int8)
        XCTAssertEqual(entry("quantized").quant, q.quant)
        // The chosen encoding is the smallest of all candidates.
        for name in ["normal", "ninety.zero", "quantized"] {
            let t = contents.tensors[name]!
            let sizes = PayloadEncoder.candidates(for: t).map { PayloadEncoder.encode(t, encoding: $0.0, transform: $0.1, level: 3).member.count }
            XCTAssertEqual(entry(name).storedBytes, sizes.min(), name)
        }
        XCTAssertEqual(try Artifact.index(at: path("e.msa")).tensors, index.tensors)
    }

    func testEveryEncodingAndTransformDecodesBitExact() throws {
        // Sizes around the shuffle block boundary, for each element width.
        for dtype in [DType.f32, .f16, .i64, .u8] {
            for count in [1, 7, ByteShuffle.blockElements + 3] {
                let t = ArtifactFixtures.tensor(dtype, [count], seed: UInt64(count), zeroFraction: 0.6)
                for encoding in [TensorEncoding.dense, .sparse] {
                    for transform in ByteTransform.allCases {
                        let payload = PayloadEncoder.encode(t, encoding: encoding, transform: transform, level: 1)
                        var out = Tensor(zeros: dtype, t.shape)
                        try out.withUnsafeMutableBytes { dst in
                            let decoder = PayloadDecoder(destination: dst.baseAddress!, count: count, width: dtype.byteSize,
                                                         encoding: encoding, transform: transform, encodedBytes: payload.encodedBytes)
                            let decoded = try Zstd.decompress(payload.member, expectedSize: payload.encodedBytes)
                            // Feed in uneven pieces, as the tar stream does.
                            var start = 0
                            while start < decoded.count {
                                let end = min(decoded.count, start + 1 + start % 9_999)
                                try decoded[start..<end].withUnsafeBytes { try decoder.consume($0) }
                                start = end
                            }
                            try decoder.finish()
                        }
                        XCTAssertTrue(out.bitwiseEqual(t), "\(dtype) ×\(count) \(encoding)/\(transform)")
                    }
                }
            }
        }
    }

    func testTarToolsCanListTheArtifact() throws {
        var contents = PackageContents(graphJSON: ArtifactFixtures.graph)
        contents.tensors["fc.weight"] = ArtifactFixtures.tensor(.f32, [4, 4], seed: 1)
        _ = try Artifact.write(contents, to: path("l.msa"))
        var names: [String] = []
        try ArchiveEntries.forEach(url: URL(fileURLWithPath: path("l.msa"))) { names.append($0.path) }
        XCTAssertEqual(names, ["model.json", "model.json.sha256", "tensors/00000-fc.weight.zst"])
    }

    func testWriteWithoutGraphIsRefusedAndOverwriteNeedsForce() throws {
        let contents = PackageContents(tensors: { var m = TensorMap(); m["a"] = Tensor([1], shape: [1]); return m }(), source: "w.npz")
        XCTAssertThrowsError(try Artifact.write(contents, to: path("g.msa"))) { error in
            XCTAssertEqual("\(error)", "w.npz: no model.json inside; pass the graph with --graph model.json")
        }
        var withGraph = contents
        withGraph.graphJSON = ArtifactFixtures.graph
        _ = try Artifact.write(withGraph, to: path("g.msa"))
        XCTAssertThrowsError(try Artifact.write(withGraph, to: path("g.msa"))) { error in
            XCTAssertEqual(error as? FormatError, .outputExists(path: path("g.msa")))
        }
        _ = try Artifact.write(withGraph, to: path("g.msa"), options: ArtifactWriteOptions(force: true))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["g.msa"])
    }
}
