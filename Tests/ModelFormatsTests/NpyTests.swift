import Foundation
import XCTest
import TensorCore
@testable import ModelFormats

final class NpyTests: XCTestCase {
    private func decodeFixture(_ name: String) throws -> Tensor {
        let url = fixtureURL("readers/\(name)")
        return try Npy.decode([UInt8](Data(contentsOf: url)), path: url.path)
    }

    private func check(_ file: String) throws {
        let stem = String(file.dropLast(4))
        assertMatches(try decodeFixture(file), ExpectedTensor.all[file]?[stem], file)
    }

    func testEveryDTypeMatchesNumPy() throws {
        for dtype in ["f32", "f16", "i8", "u8", "i32", "i64", "bool"] { try check("dtype_\(dtype).npy") }
    }

    func testFormatVersions1To3() throws {
        for v in 1...3 { try check("version\(v).npy") }
    }

    func testBigEndianIsConvertedToLittle() throws {
        for tag in ["f32", "f16", "i32", "i64"] { try check("bigendian_\(tag).npy") }
    }

    func testFortranOrderIsTransposedToC() throws {
        try check("fortran_2d.npy")
        try check("fortran_3d.npy")
    }

    func testScalarAndEmpty() throws {
        try check("scalar.npy")
        try check("empty.npy")
    }

    /// Random bit patterns (NaN payloads, subnormals, extremes) of every dtype survive encode → decode.
    func testEveryDTypeRoundTripsBitExact() throws {
        var rng = SeededRNG(seed: 7)
        for dtype in DType.allCases {
            for shape: Shape in [[], [0], [7], [3, 5], [2, 3, 4]] {
                var t = Tensor(zeros: dtype, shape)
                t.withUnsafeMutableBytes { bytes in
                    for i in bytes.indices { bytes[i] = dtype == .bool ? UInt8(rng.next() & 1) : UInt8(truncatingIfNeeded: rng.next()) }
                }
                let encoded = Npy.encode(t)
                XCTAssertEqual((encoded.count - t.byteCount) % 64, 0, "data starts on a 64-byte boundary")
                let back = try Npy.decode(encoded, path: "mem.npy")
                XCTAssertTrue(back.bitwiseEqual(t), "\(dtype) \(shape)")
            }
        }
    }

    /// Re-encoding what NumPy wrote gives NumPy's bytes back (same header text, padding and data).
    func testEncodeIsByteIdenticalToNumPy() throws {
        for file in ["dtype_f32.npy", "dtype_f16.npy", "dtype_i8.npy", "dtype_u8.npy", "dtype_i32.npy", "dtype_i64.npy",
                     "dtype_bool.npy", "version1.npy", "scalar.npy", "empty.npy"] {
            let original = [UInt8](try Data(contentsOf: fixtureURL("readers/\(file)")))
            XCTAssertEqual(Npy.encode(try decodeFixture(file)), original, file)
        }
    }

    func testHeaderLiteralDialects() throws {
        let python = try HeaderLiteral.parse(ArraySlice("{'a': (1, 2L,), \"b\": True, 'c': None, }".utf8), dialect: .python, maxDepth: 8)
        XCTAssertEqual(python, .object([("a", .array([.integer(1), .integer(2)])), ("b", .bool(true)), ("c", .null)]))
        let json = try HeaderLiteral.parse(ArraySlice(#"{"k\u00e9": [1.5, -2, "x\"y"], "k": {}}"#.utf8), dialect: .json, maxDepth: 8)
        XCTAssertEqual(json, .object([("ké", .array([.number(1.5), .integer(-2), .string("x\"y")])), ("k", .object([]))]))
        XCTAssertThrowsError(try HeaderLiteral.parse(ArraySlice("[1, 2,]".utf8), dialect: .json, maxDepth: 8))
        XCTAssertThrowsError(try HeaderLiteral.parse(ArraySlice("[[[[1]]]]".utf8), dialect: .json, maxDepth: 2))
        XCTAssertThrowsError(try HeaderLiteral.parse(ArraySlice("99999999999999999999".utf8), dialect: .json, maxDepth: 2))
    }
}
