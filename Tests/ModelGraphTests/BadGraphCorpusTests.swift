import Foundation
import ModelGraph
import TensorCore
import XCTest

/// Each file of `Fixtures/bad_graphs/` breaks one invariant; `expected.json` holds its exact
/// message (null: the graph is valid).
final class BadGraphCorpusTests: XCTestCase {
    func testEveryBrokenGraphGivesItsMessage() throws {
        let expected = try JSONDecoder().decode([String: String?].self, from: Data(contentsOf: fixtureURL("bad_graphs/expected.json")))
        XCTAssertGreaterThan(expected.count, 10)
        let weights = tensors([("fc.weight", [3, 4]), ("fc.bias", [3])])
        for (file, message) in expected.sorted(by: { $0.key < $1.key }) {
            let data = try Data(contentsOf: fixtureURL("bad_graphs/\(file)"))
            do {
                try Graph(json: data).validate(tensors: weights)
                XCTAssertNil(message, "\(file) should have failed")
            } catch {
                XCTAssertEqual(String(describing: error), message, file)
            }
        }
    }
}
