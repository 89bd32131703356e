import XCTest
import CKernels
import Foundation
import TensorCore
@testable import Kernels

/// oneDNN's INT8 product on a CPU without VNNI, checked on any host: the test runs itself again in
/// a child process with oneDNN capped to AVX2 (the cap must be set before oneDNN's first call).
final class Int8OneDNNISATests: XCTestCase {
    private static let childMarker = "MODELSMITH_INT8_ISA_CHILD"

    /// Under AVX2, oneDNN saturates 8-bit weights (so they run on the s16 product instead) and is
    /// exact for 7-bit weights; both the project's mask and oneDNN's own variable are honoured.
    func testOneDNNOnAVX2SaturatesEightBitWeightsAndIsExactForSevenBit() throws {
        guard ProcessInfo.processInfo.environment[Self.childMarker] != nil else {
            guard ck_cpu_has(UInt32(CK_CPU_AVX2)) != 0 else { throw XCTSkip("this CPU has no AVX2: nothing to cap") }
            for cap in [["MODELSMITH_CPU_FEATURES": "avx2"], ["MODELSMITH_CPU_FEATURES": "native", "ONEDNN_MAX_CPU_ISA": "AVX2"]] {
                let (status, log) = try runSelf(environment: cap)
                XCTAssertEqual(status, 0, "child with \(cap) failed:\n\(log)")
                XCTAssertTrue(log.contains("Executed 1 test"), "the child ran the test:\n\(log)")
                print(log.split(separator: "\n").filter { $0.hasPrefix("oneDNN") }.joined(separator: "\n"))
            }
            return
        }
        XCTAssertEqual(DNNL.effectiveISA, "avx2")
        XCTAssertFalse(DNNL.u8s8ExactForAnyWeights)
        XCTAssertFalse(Int8Product.available(maxAbsWeight: 127).contains(.oneDNN))
        XCTAssertEqual(Int8Product.available(maxAbsWeight: 63).first, .oneDNN)
        let (m, n, k) = (4, 8, 64)
        let a = [UInt8](repeating: 255, count: m * k)
        let context = try ExecutionContext()
        for weightMax in [Int8(127), 63] {
            let w = (0..<(n * k)).map { $0 % 2 == 0 ? weightMax : weightMax - 1 }
            let oneDNN = try Int8Matmul(weights: w, n: n, k: k, product: .oneDNN, requireExact: false)
            var fast = [Int32](repeating: 0, count: m * n), exact = fast
            try oneDNN.run(a: a, m: m, c: &fast, context: context)
            oneDNN.reference(a: a, m: m, c: &exact)
            print("oneDNN \(try oneDNN.implementation(m: m)) on \(DNNL.effectiveISA), |w| ≤ \(weightMax): \(fast[0]) (exact \(exact[0]))")
            if weightMax == 127 { XCTAssertNotEqual(fast, exact, "8-bit weights saturate vpmaddubsw") } else { XCTAssertEqual(fast, exact) }
        }
    }

    /// Runs this test in a child process (the same test binary) with `environment` added.
    private func runSelf(environment: [String: String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0])
        process.arguments = ["KernelsTests.Int8OneDNNISATests/testOneDNNOnAVX2SaturatesEightBitWeightsAndIsExactForSevenBit"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment.merging([Self.childMarker: "1"]) { $1 }) { $1 }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("int8-isa-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        defer { try? FileManager.default.removeItem(at: log) }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        return (process.terminationStatus, try String(contentsOf: log, encoding: .utf8))
    }
}
