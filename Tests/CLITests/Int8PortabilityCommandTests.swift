import XCTest
import Foundation
import ModelFormats
import TensorCore

/// One artifact, one answer, from the command line: `quantize` writes the same bytes whatever CPU
/// it runs on (the weight width is a flag, recorded in provenance), and `run` gives the same output
/// bytes on each CPU path (MODELSMITH_CPU_FEATURES masks the detected features, docs/runtime.md),
/// while `inspect` names the product each path multiplies with.
final class Int8PortabilityCommandTests: XCTestCase {
    var student: [String] { [fixture("runtime/student.weights.npz"), "--graph", fixture("runtime/student.model.json")] }
    var data: String { fixture("runtime/student.forward.npz") }
    private let masks = ["native", "avx512", "avx2", "scalar"]

    private func quantize(bits: Int, mask: String, to path: String) throws {
        let result = runModelSmith(["quantize"] + student + ["--calib", data, "--samples", "128", "--weight-bits", "\(bits)", "-o", path],
                                   environment: ["MODELSMITH_CPU_FEATURES": mask])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stderr, "", "no CPU-dependent line on stderr (mask \(mask))")
    }

    func testQuantizeWritesTheSameArtifactOnEveryCPUAndRecordsTheWidth() throws {
        let dir = try makeTemporaryDirectory()
        for bits in [8, 7] {
            var artifacts: [Data] = []
            for mask in masks {
                let path = dir.appendingPathComponent("q\(bits)-\(mask).msa").path
                try quantize(bits: bits, mask: mask, to: path)
                artifacts.append(try Data(contentsOf: URL(fileURLWithPath: path)))
            }
            XCTAssertEqual(Set(artifacts).count, 1, "\(bits)-bit artifacts are identical under every mask")
            let inspect = runModelSmith(["inspect", dir.appendingPathComponent("q\(bits)-native.msa").path, "--json"])
            XCTAssertEqual(inspect.status, 0, inspect.stderr)
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
            let steps = try XCTUnwrap((json["provenance"] as? [String: Any])?["steps"] as? [[String: Any]])
            XCTAssertEqual((steps.last?["options"] as? [String: Any])?["weight_bits"] as? Int, bits)
        }
        let bad = runModelSmith(["quantize"] + student + ["--calib", data, "--weight-bits", "6", "-o", dir.appendingPathComponent("bad.msa").path])
        XCTAssertEqual(bad.status, 2)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("--weight-bits must be 8 or 7, got 6"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad.msa").path))
    }

    /// The kernel `inspect` names (batch 1) under a mask, from the features that mask leaves: VNNI →
    /// oneDNN; otherwise the s16 product of the widest ISA (at one row it beats oneDNN for 7-bit
    /// weights too); neither → oneDNN for 7-bit weights, the reference for 8-bit ones.
    private func expectedKernel(bits: Int, features: [String]) -> (oneDNN: Bool, name: String?) {
        if features.contains("vnni") { return (true, nil) }
        if features.contains("avx512") { return (false, "modelsmith:s16_avx512") }
        if features.contains("avx2") { return (false, "modelsmith:s16_avx2") }
        return (bits == 7, bits == 7 ? nil : "modelsmith:reference")
    }

    func testRunGivesTheSameBytesOnEveryCPUPathAndInspectNamesTheKernel() throws {
        let dir = try makeTemporaryDirectory()
        for bits in [8, 7] {
            let artifact = dir.appendingPathComponent("q\(bits).msa").path
            try quantize(bits: bits, mask: "native", to: artifact)
            var outputs: [Data] = []
            for mask in masks {
                let out = dir.appendingPathComponent("out\(bits)-\(mask).npz").path
                let run = runModelSmith(["run", artifact, "--input", data, "-o", out], environment: ["MODELSMITH_CPU_FEATURES": mask])
                XCTAssertEqual(run.status, 0, run.stderr)
                outputs.append(try Data(contentsOf: URL(fileURLWithPath: out)))

                let inspect = runModelSmith(["inspect", artifact, "--json"], environment: ["MODELSMITH_CPU_FEATURES": mask])
                XCTAssertEqual(inspect.status, 0, inspect.stderr)
                let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
                let kernels = try XCTUnwrap(json["int8_kernels"] as? [String: Any])
                let cpu = try XCTUnwrap(kernels["cpu"] as? [String: Any])
                XCTAssertEqual(cpu["mask"] as? String, mask)
                let nodes = try XCTUnwrap(kernels["nodes"] as? [String: String])
                XCTAssertEqual(Set(nodes.keys), ["fc1", "fc2"])
                let expected = expectedKernel(bits: bits, features: cpu["features"] as? [String] ?? [])
                for (node, kernel) in nodes {
                    if expected.oneDNN {
                        XCTAssertFalse(kernel.hasPrefix("modelsmith:"), "\(bits)-bit \(node) under \(mask): \(kernel) is oneDNN's")
                    } else {
                        XCTAssertEqual(kernel, expected.name, "\(bits)-bit \(node) under \(mask)")
                    }
                }
            }
            XCTAssertEqual(Set(outputs).count, 1, "\(bits)-bit outputs are byte-identical under every mask")
        }
    }
}
