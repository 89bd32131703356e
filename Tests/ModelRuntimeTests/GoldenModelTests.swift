import XCTest
import ModelGraph
import TensorCore
import TestSupport
@testable import ModelRuntime

/// The three digits models against PyTorch's eval-mode logits (Fixtures/models, copied from the
/// shared golden data: PyTorch 1.13 CPU).
final class GoldenModelTests: XCTestCase {
    /// Max abs error allowed between our logits and PyTorch's (f32, different summation order).
    static let logitTolerance = 1e-4

    static func fixture(_ name: String) -> String {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures/models/\(name)").path
    }

    static func load(_ model: String) throws -> (ModelPackage, Dataset, Tensor) {
        let package = try ModelPackage.load(path: fixture("\(model).weights.npz"), graphPath: fixture("\(model).model.json"))
        let data = try Dataset.load(path: fixture("\(model).forward.npz"))
        let golden = try Dataset.load(path: fixture("\(model).forward.npz"), xKey: "logits", yKey: nil).x
        return (package, data, golden)
    }

    func check(_ model: String, accuracy expected: Double?, file: StaticString = #filePath, line: UInt = #line) throws {
        let (package, data, golden) = try Self.load(model)
        XCTAssertEqual(data.count, 360, file: file, line: line)
        for batch in [64, 1, 7] {
            let session = try Session(package: package, options: SessionOptions(maxBatch: batch))
            let logits = try Evaluation.logits(session: session, dataset: data, batch: batch)
            XCTAssertEqual(logits.shape, golden.shape, file: file, line: line)
            let comparison = Evaluation.compare(logits, golden)
            XCTAssertLessThanOrEqual(comparison.maxAbsError, Self.logitTolerance, "\(model) batch \(batch)", file: file, line: line)
            XCTAssertEqual(comparison.top1Agreement, 1, "\(model) batch \(batch)", file: file, line: line)
            let accuracy = Evaluation.accuracy(logits: logits, labels: data.labels!)
            let goldenAccuracy = Evaluation.accuracy(logits: golden, labels: data.labels!)
            XCTAssertEqual(accuracy, goldenAccuracy, "\(model) batch \(batch)", file: file, line: line)
            if let expected { XCTAssertEqual(accuracy, expected, accuracy: 0.00005, file: file, line: line) }
        }
    }

    func testTeacherMatchesPyTorch() throws { try check("teacher", accuracy: 0.9750) }
    func testStudentMatchesPyTorch() throws { try check("student", accuracy: 0.9611) }
    func testCNNMatchesPyTorch() throws { try check("cnn", accuracy: 0.9778) }

    func testAccuracyHelperMatches() throws {
        let (package, data, _) = try Self.load("teacher")
        let session = try Session(package: package)
        XCTAssertEqual(try Evaluation.accuracy(session: session, dataset: data, batch: 50), 0.9750, accuracy: 0.00005)
    }
}
