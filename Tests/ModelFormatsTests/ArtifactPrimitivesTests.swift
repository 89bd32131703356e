import Foundation
import TensorCore
import CKernels
import XCTest
@testable import ModelFormats

/// SHA-256, zstd, byte shuffle and atomic writes: the building blocks of the artifact.
final class ArtifactPrimitivesTests: XCTestCase {
    func testSHA256MatchesFIPS180Vectors() {
        // FIPS 180-4 / NIST CAVP example messages.
        XCTAssertEqual(SHA256.hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testSHA256IncrementalEqualsOneShotAcrossSplits() {
        var rng = SeededRNG(seed: 7)
        let bytes = (0..<1000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let whole = SHA256.hex(bytes)
        for split in [0, 1, 55, 56, 63, 64, 65, 500, 999, 1000] {
            var h = SHA256.Hasher()
            bytes[..<split].withUnsafeBytes { h.update($0) }
            bytes[split...].withUnsafeBytes { h.update($0) }
            XCTAssertEqual(h.finalizeHex(), whole, "split at \(split)")
        }
    }

    func testZstdRoundTripAndDeclaredSizeIsEnforced() throws {
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 * 7 / 3) }
        let frame = bytes.withUnsafeBytes { Zstd.compress($0, level: 3) }
        XCTAssertLessThan(frame.count, bytes.count)
        XCTAssertEqual(try Zstd.decompress(frame, expectedSize: bytes.count), bytes)
        XCTAssertThrowsError(try Zstd.decompress(frame, expectedSize: bytes.count - 1)) { error in
            XCTAssertEqual("\(error)", "decodes to more than the declared \(bytes.count - 1) bytes")
        }
        XCTAssertThrowsError(try Zstd.decompress(frame, expectedSize: bytes.count + 1)) { error in
            XCTAssertEqual("\(error)", "decodes to \(bytes.count) bytes, declared \(bytes.count + 1)")
        }
        XCTAssertThrowsError(try Zstd.decompress(Array(frame.prefix(frame.count / 2)), expectedSize: bytes.count)) { error in
            XCTAssertEqual("\(error)", "zstd frame is truncated")
        }
    }

    func testShuffleMovesByteKOfEachElementToPlaneK() {
        // Three 4-byte elements: planes are the k-th bytes in element order.
        let bytes: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        XCTAssertEqual(ByteShuffle.shuffle(bytes, width: 4), [1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12])
        XCTAssertEqual(ByteShuffle.shuffle(bytes, width: 2), [1, 3, 5, 7, 9, 11, 2, 4, 6, 8, 10, 12])
    }

    func testShuffleIsBlockwiseAndInvertible() {
        var rng = SeededRNG(seed: 3)
        for width in [2, 4, 8] {
            let count = ByteShuffle.blockElements + 1234  // one full block and a tail
            let bytes = (0..<count * width).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let shuffled = ByteShuffle.shuffle(bytes, width: width)
            // Byte 1 of element blockElements (the first of the tail block) starts plane 1 of the tail.
            XCTAssertEqual(shuffled[ByteShuffle.blockElements * width + 1234], bytes[ByteShuffle.blockElements * width + 1])
            XCTAssertEqual(ByteShuffle.unshuffle(shuffled, width: width), bytes)
        }
    }

    func testAtomicWriteRefusesExistingTargetWithoutForceAndLeavesNoTemporaryOnError() throws {
        let dir = ArtifactFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let target = dir.appendingPathComponent("out.bin").path
        try AtomicFile.write([1, 2, 3], to: target, force: false)
        XCTAssertThrowsError(try AtomicFile.write([4], to: target, force: false)) { error in
            XCTAssertEqual("\(error)", "\(target): already exists; pass --force to overwrite")
        }
        struct Boom: Error {}
        XCTAssertThrowsError(try AtomicFile.write(to: target, force: true) { url in
            try Data([9, 9]).write(to: url)
            throw Boom()
        })
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: target)), Data([1, 2, 3]), "the target is untouched")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["out.bin"], "no temporary file is left")
        try AtomicFile.write([4], to: target, force: true)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: target)), Data([4]))
    }
}

/// The dispatched SHA-256 (x86 SHA extensions where present) against the portable reference.
final class ArtifactSHA256VariantTests: XCTestCase {
    func testDispatchedImplementationMatchesPortableReference() {
        var rng = SeededRNG(seed: 99)
        let bytes = (0..<70_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        for length in Array(0...200) + [1000, 4095, 4096, 65_537, 70_000] {
            var fast = [UInt8](repeating: 0, count: 32), reference = fast
            bytes.withUnsafeBytes { raw in
                ck_sha256(raw.baseAddress, length, &fast)
                ck_sha256_portable(raw.baseAddress, length, &reference)
            }
            XCTAssertEqual(fast, reference, "length \(length) (\(String(cString: ck_sha256_implementation())))")
        }
    }
}
