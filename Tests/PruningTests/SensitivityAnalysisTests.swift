import XCTest
import ModelGraph
import TensorCore
@testable import Pruning

final class SensitivityAnalysisTests: XCTestCase {
    /// With a stand-in evaluator ("fraction of fc1 and fc2 weights kept"), the curves are exactly
    /// what per-layer and global pruning at each step leave: fc1 has 32768 weights, fc2 262144, fc3 5120.
    func testCurvesPruneEachLayerAloneAndAllGlobally() throws {
        let teacher = GoldenFixtures.teacher
        let names = ["fc1.weight", "fc2.weight", "fc3.weight"]
        let total = 32768 + 262_144 + 5120
        let report = try SensitivityAnalysis.run(teacher, parameters: names, steps: [0.25, 0.5]) { package in
            Double(SparsitySummary(package, parameters: names).zeros) / Double(total)
        }
        XCTAssertEqual(report.baseline, 0)
        XCTAssertEqual(report.curves.map(\.target), names + ["per-layer", "global"])
        XCTAssertEqual(report.curves[0].points.map(\.accuracy), [8192.0 / Double(total), 16384.0 / Double(total)])
        XCTAssertEqual(report.curves[1].points.map(\.accuracy), [65536.0 / Double(total), 131_072.0 / Double(total)])
        XCTAssertEqual(report.curves[2].points.map(\.accuracy), [1280.0 / Double(total), 2560.0 / Double(total)])
        XCTAssertEqual(report.curves[3].points.map(\.accuracy), [75008.0 / Double(total), 150_016.0 / Double(total)])
        XCTAssertEqual(report.curves[4].points.map(\.accuracy), [75008.0 / Double(total), 150_016.0 / Double(total)])
        let lines = report.table.split(separator: "\n")
        XCTAssertEqual(lines.first, "target        0.25    0.50")
        XCTAssertEqual(lines.last, "global      \(String(format: "%.4f", 75008.0 / Double(total)))  \(String(format: "%.4f", 150_016.0 / Double(total)))")
    }

    func testStepsAreValidatedAsFractions() {
        XCTAssertThrowsError(try SensitivityAnalysis.run(GoldenFixtures.teacher, parameters: ["fc1.weight"], steps: [0.5, 1.2]) { _ in 1 }) {
            XCTAssertEqual($0 as? PruningError, .invalidFraction(1.2))
        }
    }
}

final class StorageEntropyTests: XCTestCase {
    /// Hand-computed: 8 entries, 2 non-zero (1.0 twice: bytes 00 00 80 3F each, one value) →
    /// mask 8·H₂(1/4) = 8·0.811278… bits, values 0 bits (every byte plane constant).
    func testMaskAndValueEntropy() {
        let t = Tensor([0, 1, 0, 0, 1, 0, 0, 0], shape: [8])
        XCTAssertEqual(StorageEntropy.bits(of: t), 8 * (-(0.25 * log2(0.25) + 0.75 * log2(0.75))), accuracy: 1e-9)
        // Dense, two distinct values differing in one byte plane (1.0 = 3F800000, 2.0 = 40000000):
        // the top two planes each split 2/2 → 4 bits each, the low planes are constant.
        XCTAssertEqual(StorageEntropy.bits(of: Tensor([1, 2, 1, 2], shape: [4])), 8, accuracy: 1e-9)
        XCTAssertEqual(StorageEntropy.bits(of: Tensor([0, 0], shape: [2])), 0)
    }
}
