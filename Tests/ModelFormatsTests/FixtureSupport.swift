import Foundation
import XCTest
@testable import ModelFormats

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
