import Foundation
import XCTest
import TensorCore
@testable import ModelFormats

final class SafetensorsTests: XCTestCase {
    func testAllDTypesFixtureMatchesNumPy() throws {
        let url = fixtureURL("readers/all_dtypes.safetensors")
        let (tensors, metadata) = try Safetensors.decodeWithMetadata([UInt8](Data(contentsOf: url)), path: url.path)
        XCTAssertEqual(metadata, ["format": "pt", "source": "numpy"])
        let expected = try XCTUnwrap(ExpectedTensor.all["all_dtypes.safetensors"])
        XCTAssertEqual(Set(tensors.names), Set(expected.keys))
        for (name, tensor) in tensors { assertMatches(tensor, expected[name], name) }
        // File order is data-section order, which the generator wrote in insertion order.
        XCTAssertEqual(tensors.names, ["w_f32", "w_f16", "w_i8", "w_u8", "w_i32", "w_i64", "w_bool", "w_bf16"])
    }

    func testEveryDTypeRoundTripsBitExact() throws {
        var rng = SeededRNG(seed: 11)
        var map = TensorMap()
        for (i, dtype) in DType.allCases.enumerated() {
            for (j, shape) in ([[], [0], [5], [3, 4], [2, 1, 3]] as [Shape]).enumerated() {
                var t = Tensor(zeros: dtype, shape)
                t.withUnsafeMutableBytes { bytes in
                    for k in bytes.indices { bytes[k] = dtype == .bool ? UInt8(rng.next() & 1) : UInt8(truncatingIfNeeded: rng.next()) }
                }
                map["layer\(i).t\(j) \"quoted\"\\"] = t
            }
        }
        let metadata = ["format": "pt", "note": "line\nbreak \u{1}"]
        let encoded = try Safetensors.encode(map, metadata: metadata)
        XCTAssertEqual(Int(encoded[0]) % 8, 0, "header padded to 8 bytes")
        let (back, backMetadata) = try Safetensors.decodeWithMetadata(encoded, path: "mem.safetensors")
        XCTAssertEqual(backMetadata, metadata)
        XCTAssertEqual(back.names, map.names)
        for (name, t) in map { XCTAssertTrue(back[name]?.bitwiseEqual(t) == true, name) }
    }

    func testReencodingTheFixtureKeepsItsTensors() throws {
        let url = fixtureURL("readers/all_dtypes.safetensors")
        let original = try Safetensors.decode([UInt8](Data(contentsOf: url)), path: url.path)
        let again = try Safetensors.decode(Safetensors.encode(original, metadata: [:]), path: "mem")
        XCTAssertEqual(again.names, original.names)
        for (name, t) in original { XCTAssertTrue(again[name]?.bitwiseEqual(t) == true, name) }
    }

    func testReservedNameIsRefusedOnWrite() {
        var map = TensorMap()
        map["__metadata__"] = Tensor([1], shape: [1])
        XCTAssertThrowsError(try Safetensors.encode(map, metadata: [:]))
    }

    func testHeaderCap() {
        var limits = ReadLimits()
        limits.maxHeaderBytes = 16
        let bytes = try! Safetensors.encode({ var m = TensorMap(); m["a"] = Tensor([1, 2], shape: [2]); return m }(), metadata: [:])
        assertFormatError("x.safetensors: exceeds the header cap of 16 bytes (header length \(bytes.count - 8 - 8))") {
            try Safetensors.decode(bytes, path: "x.safetensors", limits: limits)
        }
    }
}
