import Foundation
import Kernels
import TensorCore
#if canImport(Glibc)
import Glibc
#endif

/// `modelsmith-bench prune [--quick] [--json]`: sparse vs dense FP32 linear layers (DESIGN §5, issue 5).
func pruneBenchmark(_ args: [String]) throws {
    for arg in args where arg != "--quick" && arg != "--json" {
        throw PruneBenchmarkError("unknown option \(arg); usage: prune [--quick] [--json]")
    }
    let report = args.contains("--quick")
        ? PruneBenchmark.Report(isa: "\(SparseISA.best)", headline: try PruneBenchmark.measure(rows: 4096, cols: 4096, batch: 1, sparsity: 0.9), breakEven: [])
        : try PruneBenchmark.run()
    if args.contains("--json") {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
    } else {
        print(PruneBenchmark.table(report))
    }
}

/// 1. The headline: a 4096×4096 linear at 90% sparsity, batch 1, one thread — sparse CSR kernel
///    (best ISA) vs the session's dense kernel (oneDNN matmul, `DenseLinear`) and oneDNN `sgemm`,
///    on the same dense pruned weight.
/// 2. Break-even: for each batch size, the sparsity above which the sparse kernel wins (the
///    numbers `SparseBreakEven` in Kernels records for the session's kernel choice).
///
/// Run single-threaded (`OMP_NUM_THREADS=1`, which `run` sets before oneDNN starts).
public enum PruneBenchmark {
    public struct Timing: Codable, Sendable {
        public var rows: Int, cols: Int, batch: Int
        public var sparsity: Double
        /// The session's dense kernel (oneDNN matmul with a packed weight) and plain oneDNN sgemm.
        public var denseMs: Double, sgemmMs: Double, sparseMs: Double
        /// Over the session's dense kernel, the one the sparse kernel replaces.
        public var speedup: Double { denseMs / sparseMs }
    }

    public struct BreakEven: Codable, Sendable {
        public var rows: Int, cols: Int, batch: Int
        /// The lowest measured sparsity at which sparse beats dense (nil: never in the sweep).
        public var sparsity: Double?
        public var sweep: [Timing]
    }

    public struct Report: Codable, Sendable {
        public var isa: String
        public var headline: Timing
        public var breakEven: [BreakEven]
    }

    public static let sweep: [Double] = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.98]

    public static func run(shapes: [(Int, Int)] = [(4096, 4096), (512, 512)], batches: [Int] = [1, 16, 64]) throws -> Report {
        let headline = try measure(rows: 4096, cols: 4096, batch: 1, sparsity: 0.9)
        var breakEven: [BreakEven] = []
        for (rows, cols) in shapes {
            for batch in batches {
                var timings: [Timing] = []
                for s in sweep {
                    let t = try measure(rows: rows, cols: cols, batch: batch, sparsity: s)
                    timings.append(t)
                    if t.speedup > 1 && timings.count >= 2 && timings[timings.count - 2].speedup > 1 { break }
                }
                let first = timings.firstIndex { $0.speedup > 1 && timings.last!.speedup > 1 }
                breakEven.append(BreakEven(rows: rows, cols: cols, batch: batch, sparsity: first.map { timings[$0].sparsity }, sweep: timings))
            }
        }
        return Report(isa: "\(SparseISA.best)", headline: headline, breakEven: breakEven)
    }

    /// Fastest wall time of dense and sparse on one random weight pruned by magnitude to `sparsity`.
    public static func measure(rows: Int, cols: Int, batch: Int, sparsity: Double) throws -> Timing {
        setenv("OMP_NUM_THREADS", "1", 1)  // before oneDNN's first use: one thread
        var rng = SeededRNG(seed: UInt64(rows * 31 + cols))
        var weight = (0..<rows * cols).map { _ in rng.uniform(-1, 1) }
        let cut = weight.map(abs).sorted()[min(Int(sparsity * Double(weight.count)), weight.count - 1)]
        for i in weight.indices where abs(weight[i]) < cut { weight[i] = 0 }
        let x = (0..<batch * cols).map { _ in rng.uniform(-1, 1) }
        let bias = (0..<rows).map { _ in rng.uniform(-1, 1) }
        var y = [Float](repeating: 0, count: batch * rows)
        let csr = SparseMatrix(dense: weight.withUnsafeBufferPointer { $0 }, rows: rows, cols: cols)
        var scratch = [Float](repeating: 0, count: SparseLinear.scratchCount(inFeatures: cols))
        let work = Double(rows * cols * batch)
        let reps = max(5, min(200, Int(2e9 / work)))

        let layer = try DenseLinear(weight: Tensor(weight, shape: [rows, cols]), bias: Tensor(bias, shape: [rows]))
        let context = try ExecutionContext()
        // The three kernels take turns (so load from other processes hits them alike) and each keeps
        // its fastest time: the least disturbed estimate on a shared machine.
        let kernels: [() throws -> Void] = [
            { try layer.run(batch: batch, input: x, output: &y, context: context) },
            {
                for i in 0..<batch { for r in 0..<rows { y[i * rows + r] = bias[r] } }
                Gemm.sgemm(transA: false, transB: true, m: batch, n: rows, k: cols, a: x, lda: cols, b: weight, ldb: cols,
                           beta: 1, c: &y, ldc: rows)
            },
            { SparseLinear.forward(weight: csr, x: x, batch: batch, bias: bias, y: &y, scratch: &scratch) },
        ]
        let best = try fastestMs(reps, kernels)
        let (dense, sgemm, sparse) = (best[0], best[1], best[2])
        return Timing(rows: rows, cols: cols, batch: batch, sparsity: 1 - Double(csr.nonZeroCount) / Double(rows * cols),
                      denseMs: dense, sgemmMs: sgemm, sparseMs: sparse)
    }

    private static func fastestMs(_ reps: Int, _ kernels: [() throws -> Void]) throws -> [Double] {
        for kernel in kernels { try kernel() }  // warm up caches and oneDNN's primitive creation
        var best = [Double](repeating: .infinity, count: kernels.count)
        for _ in 0..<reps {
            for (k, kernel) in kernels.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                try kernel()
                best[k] = min(best[k], Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
        }
        return best
    }

    /// The human table for docs/benchmarks.md.
    public static func table(_ report: Report) -> String {
        func f(_ v: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", v) }
        let h = report.headline
        var out = "Sparse kernel: \(report.isa), 1 thread\n\n"
        out += "| layer | batch | sparsity | dense FP32 matmul (ms) | sgemm (ms) | sparse (ms) | speedup vs matmul |\n|---|---|---|---|---|---|---|\n"
        out += "| \(h.rows)×\(h.cols) | \(h.batch) | \(f(h.sparsity, 2)) | \(f(h.denseMs)) | \(f(h.sgemmMs)) | \(f(h.sparseMs)) | \(f(h.speedup, 2))× |\n\n"
        out += "| layer | batch | break-even sparsity | speedup per sparsity |\n|---|---|---|---|\n"
        for b in report.breakEven {
            let sweep = b.sweep.map { "\(f($0.sparsity, 2)): \(f($0.speedup, 2))×" }.joined(separator: ", ")
            out += "| \(b.rows)×\(b.cols) | \(b.batch) | \(b.sparsity.map { f($0, 2) } ?? "> \(sweep.isEmpty ? "-" : f(PruneBenchmark.sweep.last!, 2))") | \(sweep) |\n"
        }
        return out
    }
}

private struct PruneBenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
