import Foundation
import TensorCore
import XCTest
@testable import ModelFormats

/// Exports read back (with the readers' decoders) equal the input.
final class ExportRoundTripTests: XCTestCase {
    private var dir: URL!
    override func setUp() { dir = ArtifactFixtures.temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    private func contents() -> PackageContents {
        var c = PackageContents(graphJSON: ArtifactFixtures.graph)
        for (i, dtype) in DType.allCases.enumerated() { c.tensors["t_\(dtype)"] = ArtifactFixtures.tensor(dtype, [3, 4], seed: UInt64(i)) }
        var q = ArtifactFixtures.tensor(.i8, [3, 2], seed: 9)
        q.quant = QuantParams(scales: [0.5, 0.25, 2], zeroPoints: [0, 1, -1], axis: 0)
        c.tensors["fc.weight"] = q
        return c
    }

    /// Reads `.npy` members of an archive back into a map (model.json returned separately).
    private func readArchive(_ path: String) throws -> (TensorMap, Data?) {
        var map = TensorMap()
        var graph: Data?
        try ArchiveEntries.forEach(url: URL(fileURLWithPath: path)) { entry in
            if entry.path == "model.json" { graph = Data(entry.data); return }
            XCTAssertTrue(entry.path.hasSuffix(".npy"), entry.path)
            map[String(entry.path.dropLast(4))] = try Npy.decode(entry.data, path: path, entry: entry.path)
        }
        return (map, graph)
    }

    private func assertEqualExported(_ actual: TensorMap, _ input: TensorMap, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.names, input.names, file: file, line: line)
        for (name, t) in input {
            let expected = t.quant == nil ? t : t.toF32()
            XCTAssertTrue(actual[name]?.bitwiseEqual(expected) ?? false, "tensor \(name)", file: file, line: line)
        }
    }

    func testArchiveExportsReadBackEqual() throws {
        let c = contents()
        for ext in ["npz", "tar", "tar.zst", "tar.gz", "zip"] {
            let path = dir.appendingPathComponent("out.\(ext)").path
            try PackageExporter.export(c, to: path)
            let (map, graph) = try readArchive(path)
            assertEqualExported(map, c.tensors)
            XCTAssertEqual(graph, ext == "npz" ? nil : ArtifactFixtures.graph, ext)
        }
    }

    func testSafetensorsAndMsaExportsReadBackEqual() throws {
        let c = contents()
        let st = dir.appendingPathComponent("out.safetensors").path
        try PackageExporter.export(c, to: st)
        assertEqualExported(try Safetensors.decode(Array(try Data(contentsOf: URL(fileURLWithPath: st))), path: st), c.tensors)
        let msa = dir.appendingPathComponent("out.msa").path
        try PackageExporter.export(c, to: msa)
        let back = try Artifact.read(msa)
        for (name, t) in c.tensors { XCTAssertTrue(back.tensors[name]!.bitwiseEqual(t), "msa keeps \(name) as is") }
    }

    func testKeepInt8WritesIntegersWithBroadcastableScaleAndZeroPoint() throws {
        let c = contents()
        let path = dir.appendingPathComponent("q.npz").path
        try PackageExporter.export(c, to: path, keepInt8: true)
        let (map, _) = try readArchive(path)
        let q = c.tensors["fc.weight"]!
        var raw = q
        raw.quant = nil
        XCTAssertTrue(map["fc.weight"]!.bitwiseEqual(raw))
        XCTAssertEqual(map["fc.weight.scale"]!.shape, [3, 1])
        XCTAssertEqual(map["fc.weight.scale"]!.floats, [0.5, 0.25, 2])
        XCTAssertEqual(map["fc.weight.zero_point"]!.integers, [0, 1, -1])
        // (q - zp) * scale reproduces the dequantized values.
        let ints = map["fc.weight"]!.integers
        let recon = ints.indices.map { Float(ints[$0] - [0, 1, -1][$0 / 2]) * [0.5, 0.25, 2][$0 / 2] }
        XCTAssertEqual(recon, q.toF32().floats)
    }

    func testExportRefusesOverwriteAndUnknownExtension() throws {
        let c = contents()
        let path = dir.appendingPathComponent("x.npz").path
        try PackageExporter.export(c, to: path)
        XCTAssertThrowsError(try PackageExporter.export(c, to: path)) { XCTAssertEqual($0 as? FormatError, .outputExists(path: path)) }
        try PackageExporter.export(c, to: path, force: true)
        XCTAssertThrowsError(try PackageExporter.export(c, to: dir.appendingPathComponent("x.onnx").path)) { error in
            XCTAssertTrue("\(error)".contains("unknown output format"))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["x.npz"])
    }
}

/// Exports read back through the registered readers (`WeightReaders.read`) equal the input.
final class ExportThroughReadersTests: XCTestCase {
    func testEveryExportFormatReadsBackThroughTheReaderRegistry() throws {
        let dir = ArtifactFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = PackageContents(graphJSON: ArtifactFixtures.graph)
        for (i, dtype) in DType.allCases.enumerated() { c.tensors["t_\(dtype)"] = ArtifactFixtures.tensor(dtype, [2, 3], seed: UInt64(i)) }
        var q = ArtifactFixtures.tensor(.i8, [3, 2], seed: 9)
        q.quant = QuantParams(scales: [0.5, 0.25, 2], zeroPoints: [0, 1, -1], axis: 0)
        c.tensors["fc.weight"] = q
        for ext in ["msa", "npz", "safetensors", "tar", "tar.zst", "tar.gz", "zip"] {
            let path = dir.appendingPathComponent("out.\(ext)").path
            try PackageExporter.export(c, to: path)
            let back = try WeightReaders.read(path)
            XCTAssertEqual(Set(back.tensors.names), Set(c.tensors.names), ext)
            for (name, t) in c.tensors {
                let expected = ext == "msa" || t.quant == nil ? t : t.toF32()
                XCTAssertTrue(back.tensors[name]?.bitwiseEqual(expected) ?? false, "\(ext): \(name)")
            }
            if ["msa", "tar", "tar.zst", "tar.gz", "zip"].contains(ext) {
                let graph = try JSONSerialization.jsonObject(with: try XCTUnwrap(back.graphJSON, ext)) as? NSDictionary
                XCTAssertEqual(graph, try JSONSerialization.jsonObject(with: ArtifactFixtures.graph) as? NSDictionary, ext)
            }
        }
    }
}
