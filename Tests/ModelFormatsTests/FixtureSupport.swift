import Foundation
import XCTest
@testable import ModelFormats
import TensorCore

/// The URL of a committed fixture, e.g. `fixtureURL("readers/pkg.tar.zst")`.
func fixtureURL(_ relative: String) -> URL {
    Bundle.module.resourceURL!.appendingPathComponent("Fixtures/\(relative)")
}

/// Asserts that `body` throws exactly `FormatError` with the given one-line description.
func assertFormatError<T>(_ expected: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T) {
    do {
        _ = try body()
        XCTFail("expected an error: \(expected)", file: file, line: line)
    } catch let error as FormatError {
        XCTAssertEqual(error.description, expected, file: file, line: line)
    } catch {
        XCTFail("expected a FormatError, got \(type(of: error)): \(error)", file: file, line: line)
    }
}

/// What NumPy says a fixture tensor is (written by make_reader_fixtures.py into readers/expected.json).
struct ExpectedTensor: Decodable {
    /// A JSON number kept exact: i64 extremes do not survive a trip through Double.
    enum Number: Decodable {
        case integer(Int64)
        case real(Double)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let i = try? c.decode(Int64.self) { self = .integer(i) } else { self = .real(try c.decode(Double.self)) }
        }
        var double: Double { switch self { case .integer(let i): return Double(i); case .real(let d): return d } }
        var int: Int? { switch self { case .integer(let i): return Int(i); case .real(let d): return d.rounded() == d ? Int(d) : nil } }
    }

    var dtype: String
    var shape: [Int]
    var values: [Number]

    /// Every fixture file → tensor name → expectation.
    static let all: [String: [String: ExpectedTensor]] = {
        let data = try! Data(contentsOf: fixtureURL("readers/expected.json"))
        return try! JSONDecoder().decode([String: [String: ExpectedTensor]].self, from: data)
    }()
}

/// Asserts that a decoded tensor has NumPy's dtype, shape and values exactly.
func assertMatches(_ tensor: Tensor?, _ expected: ExpectedTensor?, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
    guard let tensor, let expected else { return XCTFail("\(label): missing tensor or expectation", file: file, line: line) }
    XCTAssertEqual(tensor.dtype.rawValue, expected.dtype, label, file: file, line: line)
    XCTAssertEqual(tensor.shape.dims, expected.shape, label, file: file, line: line)
    if tensor.dtype.isFloatingPoint {
        // f16/bf16 widen exactly to f32, and NumPy wrote the f32 values exactly as doubles.
        XCTAssertEqual(tensor.floats, expected.values.map { Float($0.double) }, label, file: file, line: line)
    } else {
        XCTAssertEqual(tensor.integers, expected.values.map { $0.int ?? .min }, label, file: file, line: line)
    }
}
