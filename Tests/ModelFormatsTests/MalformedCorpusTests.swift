import Foundation
import XCTest
import TensorCore
@testable import ModelFormats
import TestSupport

/// Every file under Fixtures/malformed (made by make_reader_fixtures.py) must be refused with
/// exactly this one-line message — the text `modelsmith` prints after "error: " — and never crash.
final class MalformedCorpusTests: XCTestCase {
    /// file → expected `FormatError.description`, with `{path}` standing for the path as passed.
    static let expectedMessages: [String: String] = [
        // .npy headers
        "truncated_header.npy": "{path}: truncated .npy: header length 118 runs past the end of the file (30 bytes)",
        "header_past_eof.npy": "{path}: truncated .npy: header length 60000 runs past the end of the file (152 bytes)",
        "bad_magic.npy": "{path}: not an .npy file (bad magic)",
        "bad_dict.npy": "{path}: header is not a valid dict literal: unexpected end of header at byte 118",
        "missing_key.npy": "{path}: header keys are 'descr', 'shape'; expected exactly 'descr', 'fortran_order', 'shape'",
        "lying_shape.npy": "{path}: shape (4, 3) of '<f4' needs 48 bytes of data, found 24",
        "negative_dim.npy": "{path}: negative dimension -2 in shape (-2, 3)",
        "overflowing_dims.npy": "{path}: shape (4294967296, 4294967296, 8) overflows the addressable size",
        "too_many_dims.npy": "{path}: exceeds the rank limit of 16",
        "unknown_dtype.npy": "{path}: unsupported dtype '<c8'",
        // safetensors headers
        "st_header_past_eof.safetensors": "{path}: header length 1048576 runs past the end of the file (144 bytes)",
        "st_not_json.safetensors": "{path}: header is not valid JSON: unexpected end of header at byte 16",
        "st_overlapping.safetensors": "{path}: tensors 'a' and 'b' overlap",
        "st_out_of_range.safetensors": "{path}: tensor 'b' data_offsets [24, 32] exceed the 24-byte data section",
        "st_hole.safetensors": "{path}: bytes 8..<16 of the data section belong to no tensor",
        "st_shape_mismatch.safetensors": "{path}: tensor 'a': shape [5] of F32 needs 20 bytes but data_offsets span 16",
        "st_negative_dim.safetensors": "{path}: tensor 'a': 'shape' must be a list of non-negative integers",
        "st_overflowing_dims.safetensors": "{path}: tensor 'a': shape [4294967296, 4294967296, 4] overflows the addressable size",
        "st_duplicate_names.safetensors": "{path}: tensor 'a' appears twice",
        "st_unknown_dtype.safetensors": "{path}: unsupported dtype 'C64'",
        // archives
        "bad_crc.zip": "{path}: entry 'w.npy': ZIP bad CRC: 0xc4befa9 should be 0x2a00e94f",
        "dotdot.tar": "{path}: entry '../evil.npy' has an absolute or '..' path; refused",
        "absolute.tar": "{path}: entry '/abs.npy' has an absolute or '..' path; refused",
        "truncated.tar": "{path}: entry 'w.npy': Truncated tar archive",
        "not_an_archive.tar.gz": "{path}: not a tar or zip archive (Unrecognized archive format)",
        "lying_entry.tar.gz": "{path}: entry 'tiny/fc1.weight.npy': shape (4, 3) of '<f4' needs 48 bytes of data, found 24",
        "duplicate_tensor.tar": "{path}: tensor 'w' appears twice",
        "duplicate_tensor.npz": "{path}: tensor 'w' appears twice",
        // 32 MiB of zeros in a 32 KiB npz, read with a 100× expansion bound above 1 MiB (see `limits(for:)`).
        "bomb.npz": "{path}: entry 'zeros.npy': exceeds 100× the archive's 32819 bytes on disk (decompression bomb?)",
    ]

    /// The bomb is read with a low cap; everything else with the defaults.
    static func limits(for file: String) -> ReadLimits {
        var limits = ReadLimits()
        if file == "bomb.npz" {
            limits.maxExpansionRatio = 100
            limits.expansionRatioFloorBytes = 1 << 20
        }
        return limits
    }

    func testEveryMalformedFileGetsItsMessage() throws {
        let directory = fixtureURL("malformed")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        XCTAssertEqual(Set(files), Set(Self.expectedMessages.keys), "the table covers the corpus exactly")
        for file in files {
            let path = directory.appendingPathComponent(file).path
            guard let message = Self.expectedMessages[file] else { continue }
            assertFormatError(message.replacingOccurrences(of: "{path}", with: path)) {
                try WeightReaders.read(path, limits: Self.limits(for: file))
            }
        }
    }

    func testBombDecodesUnderDefaultLimitsButNotUnderATotalCap() throws {
        let path = fixtureURL("malformed/bomb.npz").path
        XCTAssertEqual(try WeightReaders.read(path).tensors["zeros"]?.shape, [8 << 20])
        var limits = ReadLimits()
        limits.maxDecodedBytes = 4 << 20
        assertFormatError("\(path): entry 'zeros.npy': exceeds the decoded-size cap of 4194304 bytes") {
            try WeightReaders.read(path, limits: limits)
        }
    }

    /// Every truncation and many random byte corruptions of valid files throw or decode; none traps.
    func testTruncationsAndCorruptionsNeverCrash() throws {
        let npy = Npy.encode(randomTensor([3, 4], seed: 1))
        var map = TensorMap()
        map["a"] = randomTensor([2, 3], seed: 2)
        map["b"] = Tensor(zeros: .i64, [4])
        let st = try Safetensors.encode(map, metadata: ["k": "v"])
        for n in 0..<npy.count { _ = try? Npy.decode(Array(npy.prefix(n)), path: "t.npy") }
        for n in 0..<st.count { _ = try? Safetensors.decode(Array(st.prefix(n)), path: "t.safetensors") }
        var rng = SeededRNG(seed: 3)
        for _ in 0..<2000 {
            var a = npy, b = st
            for _ in 0..<3 {
                a[Int(rng.next() % UInt64(a.count))] = UInt8(truncatingIfNeeded: rng.next())
                b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            _ = try? Npy.decode(a, path: "t.npy")
            _ = try? Safetensors.decode(b, path: "t.safetensors")
        }
    }
}
