import Foundation
import TensorCore
import XCTest
@testable import ModelFormats

/// Damaged artifacts are detected, named, and never crash the reader.
final class ArtifactCorruptionTests: XCTestCase {
    private var dir: URL!
    override func setUp() { dir = ArtifactFixtures.temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    private func writeSmallArtifact() throws -> (path: String, bytes: [UInt8], index: ArtifactIndex) {
        var contents = PackageContents(graphJSON: ArtifactFixtures.graph)
        contents.tensors["fc.weight"] = ArtifactFixtures.tensor(.f32, [8, 4], seed: 1)
        contents.tensors["fc.bias"] = ArtifactFixtures.tensor(.f32, [40], seed: 2, zeroFraction: 0.9)
        let path = dir.appendingPathComponent("c.msa").path
        let index = try Artifact.write(contents, to: path).index
        return (path, Array(try Data(contentsOf: URL(fileURLWithPath: path))), index)
    }

    private func readError(_ bytes: [UInt8]) -> String? {
        let path = dir.appendingPathComponent("damaged.msa").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        do { _ = try Artifact.read(path); return nil } catch { return "\(error)" }
    }

    func testEveryFlippedPayloadByteIsDetectedAndNamesTheTensor() throws {
        let (_, bytes, index) = try writeSmallArtifact()
        for entry in index.tensors {
            let start = try XCTUnwrap(ArtifactFixtures.memberDataOffset(bytes, member: entry.member!))
            for offset in start..<start + entry.storedBytes {
                var damaged = bytes
                damaged[offset] ^= 0x10
                let message = readError(damaged)
                XCTAssertNotNil(message, "flip at \(offset) in \(entry.name) went unnoticed")
                XCTAssertTrue(message?.contains("'\(entry.name)'") ?? false, "\(message ?? "")")
            }
        }
    }

    func testFlipsAnywhereAreDetectedOrHarmless() throws {
        let (path, bytes, _) = try writeSmallArtifact()
        let original = try Artifact.read(path)
        var harmless = 0
        for offset in stride(from: 0, to: bytes.count, by: 3) {  // every third byte keeps the debug run short
            var damaged = bytes
            damaged[offset] ^= 0x01
            if let message = readError(damaged) {
                XCTAssertFalse(message.isEmpty)
                continue
            }
            // Undetected: the content must be unchanged (a flip in tar padding or unused header bytes).
            harmless += 1
            let back = try Artifact.read(dir.appendingPathComponent("damaged.msa").path)
            for (name, t) in original.tensors { XCTAssertTrue(back.tensors[name]!.bitwiseEqual(t), "flip at \(offset) changed \(name)") }
            XCTAssertEqual(back.graphJSON, original.graphJSON, "flip at \(offset) changed the graph")
        }
        print("flips: \((bytes.count + 2) / 3) tried, \((bytes.count + 2) / 3 - harmless) detected, \(harmless) harmless")
    }

    func testFlippedManifestByteIsReported() throws {
        let (_, bytes, _) = try writeSmallArtifact()
        let start = try XCTUnwrap(ArtifactFixtures.memberDataOffset(bytes, member: "model.json"))
        var damaged = bytes
        damaged[start + 40] ^= 0x02
        XCTAssertTrue(readError(damaged)?.hasSuffix("entry 'model.json': manifest checksum mismatch (the manifest is corrupted)") ?? false)
    }

    func testTruncatedArtifactGivesAClearError() throws {
        let (_, bytes, _) = try writeSmallArtifact()
        let weight = try XCTUnwrap(ArtifactFixtures.memberDataOffset(bytes, member: "tensors/00000-fc.weight.zst"))
        let message = try XCTUnwrap(readError(Array(bytes.prefix(weight + 20))))
        XCTAssertTrue(message.contains("tensors/00000-fc.weight.zst"), message)
        XCTAssertTrue(message.contains("truncated"), message)
        // Cut right after a complete member: the next member is missing.
        let bias = try XCTUnwrap(ArtifactFixtures.memberDataOffset(bytes, member: "tensors/00001-fc.bias.zst"))
        let missing = try XCTUnwrap(readError(Array(bytes.prefix(bias - 512))))
        XCTAssertTrue(missing.contains("tensor 'fc.bias': member is missing"), missing)
    }

    /// Rewrites the manifest (and its checksum, so only the lie is left) and keeps the members.
    private func rewriteManifest(_ path: String, _ edit: (inout [[String: Any]]) -> Void) throws -> String? {
        let tar = try TarStream(path: path)
        var members: [(String, [UInt8])] = []
        while let m = try tar.nextMember() { members.append((m.path, try tar.readAll(expected: m.size))) }
        var document = try JSONSerialization.jsonObject(with: Data(members[0].1)) as! [String: Any]
        var tensors = document["tensors"] as! [[String: Any]]
        edit(&tensors)
        document["tensors"] = tensors
        let manifest = Array(try JSONSerialization.data(withJSONObject: document))
        let out = dir.appendingPathComponent("lying.msa")
        let writer = try ArchiveWriter(url: out, format: .tar, reportPath: out.path)
        try writer.add(path: "model.json", bytes: manifest)
        try writer.add(path: "model.json.sha256", bytes: Array("\(SHA256.hex(manifest))  model.json\n".utf8))
        for (name, data) in members.dropFirst(2) { try writer.add(path: name, bytes: data) }
        try writer.close()
        do { _ = try Artifact.read(out.path); return nil } catch { return "\(error)" }
    }

    func testManifestThatLiesAboutLengthsOrShapesIsRefused() throws {
        let (path, _, _) = try writeSmallArtifact()
        let lyingStored = try rewriteManifest(path) { $0[0]["stored_bytes"] = ($0[0]["stored_bytes"] as! Int) + 1 }
        XCTAssertTrue(lyingStored?.contains("tensor 'fc.weight': member holds") ?? false, lyingStored ?? "nil")
        let lyingShape = try rewriteManifest(path) { $0[0]["shape"] = [8, 5] }
        XCTAssertEqual(lyingShape, "\(dir.path)/lying.msa: entry 'model.json': tensor 'fc.weight': encoded_bytes 128 != 160 (shape × itemsize)")
        let lyingBoth = try rewriteManifest(path) { $0[0]["shape"] = [8, 5]; $0[0]["encoded_bytes"] = 160 }
        XCTAssertTrue(lyingBoth?.contains("tensor 'fc.weight' is corrupted: decodes to 128 bytes, declared 160") ?? false, lyingBoth ?? "nil")
        let overflow = try rewriteManifest(path) { $0[0]["shape"] = [Int.max, 4] }
        XCTAssertTrue(overflow?.contains("has a negative dimension or too many elements") ?? false, overflow ?? "nil")
        let badDType = try rewriteManifest(path) { $0[0]["dtype"] = "f64" }
        XCTAssertTrue(badDType?.hasSuffix("unsupported dtype 'f64'") ?? false, badDType ?? "nil")
        let extra = try rewriteManifest(path) { $0.removeLast() }
        XCTAssertTrue(extra?.contains("member is not listed in model.json") ?? false, extra ?? "nil")
        let wrongDigest = try rewriteManifest(path) { $0[1]["sha256"] = String(repeating: "0", count: 64) }
        XCTAssertEqual(wrongDigest, "\(dir.path)/lying.msa: tensor 'fc.bias' is corrupted (checksum mismatch)")
    }

    func testRandomBytesNeverCrashTheReader() {
        var rng = SeededRNG(seed: 11)
        for length in [0, 1, 511, 512, 1024, 4096] {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            XCTAssertNotNil(readError(bytes))
        }
    }
}
