import Foundation
import XCTest
import TestSupport
@testable import TensorCore

final class TensorTests: XCTestCase {
    func testCheckedProductRejectsOverflowAndNegatives() {
        XCTAssertEqual(checkedProduct([2, 3, 4]), 24)
        XCTAssertNil(checkedProduct([Int.max, 2]))
        XCTAssertNil(checkedProduct([3, -1]))
    }

    func testBytesMustMatchShape() {
        XCTAssertThrowsError(try Tensor(dtype: .f32, shape: [2, 2], bytes: [UInt8](repeating: 0, count: 15)))
    }

    func testCopyOnWriteKeepsOriginal() {
        let a = Tensor([1, 2, 3], shape: [3])
        var b = a
        b.withUnsafeMutableBufferPointer(of: Float.self) { $0[0] = 9 }
        XCTAssertEqual(a.floats, [1, 2, 3])
        XCTAssertEqual(b.floats, [9, 2, 3])
    }

    func testHalfConversionMatchesIEEE() {
        XCTAssertEqual(floatFromHalfBits(0x3C00), 1)
        XCTAssertEqual(floatFromHalfBits(0xC000), -2)
        XCTAssertEqual(floatFromHalfBits(0x0001), 0x1p-24)  // smallest subnormal
        XCTAssertEqual(floatFromHalfBits(0x7BFF), 65504)
        XCTAssertTrue(floatFromHalfBits(0x7C00).isInfinite)
        XCTAssertTrue(floatFromHalfBits(0x7E00).isNaN)
    }

    func testPerChannelDequantization() throws {
        let q = QuantParams(scales: [0.5, 2], zeroPoints: [0, 1], axis: 0)
        let t = try Tensor(dtype: .i8, shape: [2, 2], bytes: [2, 4, 1, 3], quant: q)
        XCTAssertEqual(t.floats, [1, 2, 0, 4])
    }

    func testSeededRNGIsReproducible() {
        var a = SeededRNG(seed: 7), b = SeededRNG(seed: 7)
        XCTAssertEqual((0..<5).map { _ in a.next() }, (0..<5).map { _ in b.next() })
        var c = SeededRNG(seed: 1)
        let xs = (0..<10_000).map { _ in c.normal() }
        let mean = xs.reduce(0, +) / Float(xs.count)
        XCTAssertEqual(mean, 0, accuracy: 0.05)
    }

    func testJSONValueRoundTrip() throws {
        let v: JSONValue = ["a": [1, 2.5, "x"], "b": true, "c": .null]
        let data = try JSONEncoder().encode(v)
        XCTAssertEqual(try JSONDecoder().decode(JSONValue.self, from: data), v)
    }
}

final class TensorIntegersTests: XCTestCase {
    func testZeroCountIsByValue() throws {
        XCTAssertEqual(Tensor([0, -0.0, 1, .nan], shape: [4]).zeroCount, 2)  // ±0 count, NaN does not
        let q = try Tensor(dtype: .u8, shape: [4], bytes: [128, 0, 128, 3], quant: QuantParams(scales: [0.5], zeroPoints: [128], axis: nil))
        XCTAssertEqual(q.zeroCount, 2)  // elements equal to the zero point are zero
    }

    func testIntegersWidenIntegerDTypesAndTruncateFloats() throws {
        XCTAssertEqual(try Tensor(dtype: .i8, shape: [3], bytes: [0xFF, 0x00, 0x7F]).integers, [-1, 0, 127])
        XCTAssertEqual(Tensor([2.9, -2.9, 0], shape: [3]).integers, [2, -2, 0])
        var half = Tensor(zeros: .f16, [2])
        half.withUnsafeMutableBufferPointer(of: UInt16.self) { $0[0] = 0x4200; $0[1] = 0xC500 }  // 3.0, −5.0
        XCTAssertEqual(half.integers, [3, -5])
    }
}
