import Foundation
import XCTest
import ModelFormats
import ModelGraph
import ModelRuntime
import ONNXProto
import SwiftProtobuf
import TensorCore
import TestSupport

/// ONNX's backend node tests (Debian's libonnx-testdata: one model and input/expected-output
/// TensorProto files per test) run through the importer and the runtime (docs/onnx.md,
/// "Conformance"). A test whose op the vocabulary lacks is not run; one whose attributes or dtypes
/// the importer or runtime refuses is listed with the reason; every other test must match
/// ONNX's expected outputs within ONNX's runner tolerances (rtol 1e-3, atol 1e-7).
final class ConformanceTests: XCTestCase {
    static let root = "/usr/share/libonnx-testdata/data/node"
    static let rtol: Float = 1e-3, atol: Float = 1e-7

    enum Outcome {
        case passed, notInVocabulary, refused(String), mismatch(String)
    }

    struct Result {
        var test: String
        var ops: [String]
        var outcome: Outcome
    }

    func testNodeTestsOfTheVocabulary() throws {
        let tests = try FileManager.default.contentsOfDirectory(atPath: Self.root).sorted()
        XCTAssertGreaterThan(tests.count, 900, "libonnx-testdata is incomplete at \(Self.root) (make deps installs it)")
        let results = try tests.map(Self.run)
        let mismatches = results.compactMap { r -> String? in
            if case .mismatch(let detail) = r.outcome { return "\(r.test): \(detail)" }
            return nil
        }
        XCTAssertEqual(mismatches, [], "node tests whose outputs differ from ONNX's")
        let ran = results.filter { if case .notInVocabulary = $0.outcome { return false } else { return true } }
        XCTAssertGreaterThan(ran.count, 100, "fewer node tests than expected are in the vocabulary")
        let report = Self.report(results)
        print(report)
        if let path = ProcessInfo.processInfo.environment["ONNX_CONFORMANCE_REPORT"] {
            try report.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    /// One test directory: the model with every graph input but the first turned into an
    /// initializer (the vocabulary takes weights, shapes and second operands as constants), run
    /// on each of its data sets. Missing data fails the test.
    static func run(_ test: String) throws -> Result {
        let directory = "\(root)/\(test)"
        let modelData = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/model.onnx"))
        let model = try Onnx_ModelProto(serializedBytes: modelData)
        let ops = Array(Set(model.graph.node.map(\.opType))).sorted()
        let dataSets = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("test_data_set_") }.sorted()
        guard !dataSets.isEmpty else {
            return Result(test: test, ops: ops, outcome: .mismatch("no test_data_set_* (the package's data is missing)"))
        }
        let declaredInputs = model.graph.input.filter { input in !model.graph.initializer.contains { $0.name == input.name } }
        for dataSet in dataSets {
            let path = "\(directory)/\(dataSet)"
            let inputFiles = (0..<declaredInputs.count).map { "\(path)/input_\($0).pb" }
            let outputFiles = (0..<model.graph.output.count).map { "\(path)/output_\($0).pb" }
            for file in inputFiles + outputFiles where !FileManager.default.fileExists(atPath: file) {
                return Result(test: test, ops: ops, outcome: .mismatch("\(file) is missing"))
            }
            var candidate = model
            let outcome: Outcome? = {
                do {
                    for (i, input) in declaredInputs.enumerated() where i > 0 {
                        var proto = try Onnx_TensorProto(serializedBytes: Data(contentsOf: URL(fileURLWithPath: inputFiles[i])))
                        proto.name = input.name
                        candidate.graph.initializer.append(proto)
                        candidate.graph.input.removeAll { $0.name == input.name }
                    }
                    return nil
                } catch {
                    return .refused("test data: \(error)")
                }
            }()
            if let outcome { return Result(test: test, ops: ops, outcome: outcome) }
            guard let inputName = declaredInputs.first?.name else {
                return Result(test: test, ops: ops, outcome: .refused("the model has no graph input"))
            }
            let package: ModelPackage
            do {
                package = try ONNXImport.load(data: try candidate.serializedBytes())
            } catch GraphError.unsupportedONNXOp {
                return Result(test: test, ops: ops, outcome: .notInVocabulary)
            } catch {
                return Result(test: test, ops: ops, outcome: .refused("\(error)"))
            }
            do {
                let inputTensor = try ONNXImport.readTensor(path: inputFiles[0]).tensor
                let batch = max(inputTensor.shape.dims.first ?? 1, 1)
                let session = try Session(package: package, options: SessionOptions(maxBatch: batch))
                let outputs = try session.run([inputName: inputTensor])
                for (i, name) in package.graph.outputs.enumerated() {
                    let expected = try ONNXImport.readTensor(path: outputFiles[i]).tensor
                    guard let actual = outputs[name] else { return Result(test: test, ops: ops, outcome: .mismatch("no output '\(name)'")) }
                    guard actual.shape == expected.shape else {
                        return Result(test: test, ops: ops, outcome: .mismatch("output '\(name)' has shape \(actual.shape), expected \(expected.shape)"))
                    }
                    if let failure = closenessFailure(actual.floats, expected.floats, rtol: rtol, atol: atol) {
                        return Result(test: test, ops: ops, outcome: .mismatch("\(dataSet) output '\(name)': \(failure)"))
                    }
                }
            } catch {
                return Result(test: test, ops: ops, outcome: .refused("runtime: \(error)"))
            }
        }
        return Result(test: test, ops: ops, outcome: .passed)
    }

    /// A refusal without the file, node and value names, so equal reasons group.
    static func shortReason(_ reason: String) -> String {
        var text = reason
        for prefix in ["test data: ", "runtime: ", "<memory>: "] where text.hasPrefix(prefix) { text.removeFirst(prefix.count) }
        if let range = text.range(of: "^/[^ ]*\\.pb: ", options: .regularExpression) { text = String(text[range.upperBound...]) }
        if let range = text.range(of: "node '[^']*': ", options: [.regularExpression, .backwards]) { text = String(text[range.upperBound...]) }
        text = text.replacingOccurrences(of: "unsupported ONNX: ", with: "").replacingOccurrences(of: "malformed ONNX: ", with: "")
        text = text.replacingOccurrences(of: "'[^']*'", with: "'…'", options: .regularExpression)
        text = text.replacingOccurrences(of: "\\[[-0-9, \\[\\]]*\\]", with: "[…]", options: .regularExpression)
        return text.replacingOccurrences(of: "|", with: "/")
    }

    /// A markdown table per op: tests run, passed, and the reasons for the refused ones (with counts).
    static func report(_ results: [Result]) -> String {
        var byOp: [String: [Result]] = [:]
        for result in results where result.ops.count == 1 { byOp[result.ops[0], default: []].append(result) }
        var lines = ["| ONNX op | tests run | passed | refused: reason (tests) |", "|---|---|---|---|"]
        for op in byOp.keys.sorted() {
            let all = byOp[op]!
            let ran = all.filter { if case .notInVocabulary = $0.outcome { return false } else { return true } }
            guard !ran.isEmpty else { continue }
            let passed = ran.filter { if case .passed = $0.outcome { return true } else { return false } }
            var reasons: [String: Int] = [:]
            for case .refused(let reason) in ran.map(\.outcome) { reasons[shortReason(reason), default: 0] += 1 }
            let refused = reasons.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }
            lines.append("| \(op) | \(ran.count) | \(passed.count) | \(refused.joined(separator: "; ")) |")
        }
        let multi = results.filter { $0.ops.count > 1 }
        let multiRan = multi.filter { if case .notInVocabulary = $0.outcome { return false } else { return true } }
        let multiPassed = multiRan.filter { if case .passed = $0.outcome { return true } else { return false } }
        lines.append("| (tests of several ops, e.g. `_expanded`) | \(multiRan.count) | \(multiPassed.count) | |")
        return lines.joined(separator: "\n")
    }
}
