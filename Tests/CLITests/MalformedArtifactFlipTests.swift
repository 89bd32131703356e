import Foundation
import ModelFormats
import TensorCore
import XCTest

/// 200 random single-byte corruptions of a real artifact (Fixtures/sources/valid.msa, the tiny
/// MLP package converted by `modelsmith convert`), read in-process: each is detected (a flip in a
/// tensor's member names the tensor) or provably harmless (every tensor, the graph and the
/// provenance decode identically). scripts/bitflip-test.sh runs 1,000 through the CLI.
final class MalformedArtifactFlipTests: XCTestCase {
    /// A tar member's data range.
    struct Member { var name: String; var data: Range<Int> }

    /// Walks ustar headers (name at 0..<100, octal size at 124..<136) up to the end-of-archive block.
    static func members(_ bytes: [UInt8]) -> [Member] {
        var members: [Member] = [], offset = 0
        while offset + 512 <= bytes.count, bytes[offset] != 0 {
            let name = String(decoding: bytes[offset..<offset + 100].prefix { $0 != 0 }, as: UTF8.self)
            let octal = String(decoding: bytes[offset + 124..<offset + 136].prefix { $0 != 0 && $0 != 0x20 }, as: UTF8.self)
            guard let size = Int(octal, radix: 8) else { break }
            members.append(Member(name: name, data: offset + 512..<offset + 512 + size))
            offset += 512 + (size + 511) / 512 * 512
        }
        return members
    }

    func testTwoHundredRandomFlipsAreDetectedOrHarmless() throws {
        let source = fixture("sources/valid.msa")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: source)))
        let original = try Artifact.read(source)
        let members = Self.members(bytes)
        XCTAssertEqual(members.map(\.name).first, "model.json")
        let tensorOf: (Int) -> String? = { offset in
            members.first { $0.data.contains(offset) && $0.name.hasPrefix("tensors/") }
                .map { String($0.name.dropFirst("tensors/00000-".count).dropLast(".zst".count)) }
        }
        let damaged = try makeTemporaryDirectory().appendingPathComponent("damaged.msa").path
        var rng = SeededRNG(seed: 2024)
        var detected = 0, harmless = 0, named = 0
        for flip in 0..<200 {
            // This artifact is mostly tar headers and padding: even flips are redrawn until they land
            // in a tensor's zstd frame, odd flips until they land anywhere else.
            var offset = Int(rng.next() % UInt64(bytes.count))
            while (tensorOf(offset) != nil) != (flip % 2 == 0) { offset = Int(rng.next() % UInt64(bytes.count)) }
            var copy = bytes
            copy[offset] ^= UInt8(rng.next() % 255 + 1)
            XCTAssertTrue(FileManager.default.createFile(atPath: damaged, contents: Data(copy)))
            do {
                let back = try Artifact.read(damaged)
                harmless += 1
                XCTAssertEqual(back.graphJSON, original.graphJSON, "flip at \(offset) changed the graph")
                XCTAssertEqual(back.provenance, original.provenance, "flip at \(offset) changed the provenance")
                XCTAssertEqual(back.tensors.names, original.tensors.names, "flip at \(offset)")
                for (name, tensor) in original.tensors {
                    XCTAssertTrue(back.tensors[name]?.bitwiseEqual(tensor) ?? false, "flip at \(offset) changed \(name)")
                }
            } catch {
                detected += 1
                let message = "\(error)"
                XCTAssertFalse(message.contains("\n"), message)
                if let tensor = tensorOf(offset) {
                    XCTAssertTrue(message.contains("'\(tensor)'"), "flip at \(offset) in \(tensor): \(message)")
                    named += 1
                }
            }
        }
        XCTAssertEqual(detected + harmless, 200)
        XCTAssertEqual(named, 100, "every payload flip is detected and names its tensor")
        print("bit flips: 200 (100 in tensor payloads): \(detected) detected, \(harmless) harmless")
    }
}
