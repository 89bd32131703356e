import Foundation
@testable import ModelSmithCLI
import Serving
import XCTest

/// `modelsmith serve --config FILE`: the file's keys are the long option names, options on the
/// command line override them, an unknown key is refused naming it (docs/serving.md).
final class ServeConfigTests: XCTestCase {
    private func configuration(_ arguments: [String]) throws -> ServingConfiguration {
        try ServeCommand.configuration(ServeCommand.parse(arguments).settings())
    }

    private func write(_ yaml: String) throws -> String {
        let path = try makeTemporaryDirectory().appendingPathComponent("serve.yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The sample in deploy/ reads as the flags it stands for would.
    func testSampleConfigMatchesItsFlags() throws {
        let sample = packageRoot.appendingPathComponent("deploy/serve.yaml").path
        let fromFile = try configuration(["--config", sample])
        let fromFlags = try configuration([
            "--model", "digits=/models/digits-int8.msa", "--ab", "digits-fp32=/models/digits.msa:0.1",
            "--host", "0.0.0.0", "--port", "8080", "--threads", "2", "--max-batch", "32", "--max-queue-delay", "2ms",
            "--max-queue", "256", "--cache-bytes", "64M", "--max-body", "16M", "--read-timeout", "30s", "--max-memory", "2G",
        ])
        XCTAssertEqual(fromFile.models, fromFlags.models)
        XCTAssertEqual(fromFile.variants, fromFlags.variants)
        XCTAssertEqual(fromFile.host, "0.0.0.0")
        XCTAssertEqual(fromFile.threads, 2)
        XCTAssertEqual(fromFile.cacheBytes, 64 << 20)
        XCTAssertEqual(fromFile.maxBodyBytes, 16 << 20)
        XCTAssertEqual(fromFile.maxQueueDelay, .milliseconds(2))
        XCTAssertEqual(fromFile.idleTimeout, .seconds(30))
        XCTAssertEqual(fromFile.variants.first?.fraction, 0.1)
    }

    /// A flag replaces the file's value; what the flags leave out keeps the file's.
    func testFlagsOverrideTheFile() throws {
        let path = try write("""
            paths: [a.msa]
            port: 9000
            max-batch: 8
            dim: [sequence=16]
            strict-dtypes: true
            """)
        let merged = try configuration(["--config", path, "--port", "9100", "--dim", "sequence=32", "b.msa"])
        XCTAssertEqual(merged.port, 9100)
        XCTAssertEqual(merged.maxBatch, 8)
        XCTAssertEqual(merged.models.map(\.path), ["b.msa"])
        XCTAssertEqual(merged.onnx.dims, ["sequence": 32])
        XCTAssertTrue(merged.strictDTypes)
    }

    func testUnknownKeyIsRefusedNamingIt() throws {
        let path = try write("port: 8080\nmax_batch: 4\n")
        let result = runModelSmith(["serve", "--config", path])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.hasPrefix("modelsmith: error: \(path): unknown key 'max_batch'"), result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1)
    }

    func testBadValueNamesItsOption() throws {
        let path = try write("model: {digits: q.msa}\nport: eighty\n")
        let result = runModelSmith(["serve", "--config", path])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("--port expects an integer, got 'eighty'"), result.stderr)
        let list = try write("threads: [1, 2]\n")
        XCTAssertTrue(runModelSmith(["serve", "--config", list]).stderr.contains("'threads' expects a single value"))
    }
}
