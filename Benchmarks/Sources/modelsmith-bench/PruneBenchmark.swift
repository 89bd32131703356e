import Foundation
import Kernels
import TensorCore
#if canImport(Glibc)
import Glibc
#endif

/// `modelsmith-bench prune [--quick] [--json] [--only fp32|int8|conv]`: sparse vs dense FP32 and
/// INT8 linear layers and FP32 conv layers (DESIGN §5, issue 5).
func pruneBenchmark(_ args: [String]) throws {
    var only: String?
    var rest = args[...]
    while let arg = rest.popFirst() {
        switch arg {
        case "--quick", "--json": continue
        case "--only":
            guard let part = rest.popFirst(), ["fp32", "int8", "conv"].contains(part) else {
                throw PruneBenchmarkError("--only takes fp32, int8 or conv")
            }
            only = part
        default: throw PruneBenchmarkError("unknown option \(arg); usage: prune [--quick] [--json] [--only fp32|int8|conv]")
        }
    }
    setenv("OMP_NUM_THREADS", "1", 1)  // before oneDNN's first use: one thread
    let quick = args.contains("--quick")
    var report = PruneBenchmark.Report(isa: "\(SparseISA.best)", int8ISA: "\(SparseInt8.bestISA)")
    if only == nil || only == "fp32" {
        report.headline = try PruneBenchmark.measure(rows: 4096, cols: 4096, batch: 1, sparsity: 0.9)
        if !quick { report.breakEven = try PruneBenchmark.run() }
    }
    if only == nil || only == "int8" {
        report.int8Headline = try PruneBenchmark.int8Variants(rows: 4096, cols: 4096, batch: 1, sparsity: 0.9)
        if !quick { report.int8BreakEven = try PruneBenchmark.runInt8() }
    }
    if (only == nil || only == "conv") && !quick { report.convBreakEven = try PruneBenchmark.runConv() }
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
        public var int8ISA: String
        public var headline: Timing?
        public var breakEven: [BreakEven] = []
        public var int8Headline: Int8Variants?
        public var int8BreakEven: [Sweep] = []
        public var convBreakEven: [Sweep] = []
    }

    /// One sparse-vs-dense timing in a sweep (INT8 products, conv layers).
    public struct Point: Codable, Sendable {
        public var sparsity: Double
        public var denseMs: Double, sparseMs: Double
        public var speedup: Double { denseMs / sparseMs }
    }

    /// A sparsity sweep for one layer shape and batch: `breakEven` is the lowest measured sparsity
    /// from which sparse wins at every further point (nil: never in the sweep).
    public struct Sweep: Codable, Sendable {
        public var layer: String
        public var batch: Int
        public var breakEven: Double?
        public var points: [Point]
    }

    /// The INT8 headline: dense oneDNN u8×s8 product vs each sparse variant.
    public struct Int8Variants: Codable, Sendable {
        public var rows: Int, cols: Int, batch: Int
        public var sparsity: Double
        public var denseMs: Double
        public var sparseMs: [String: Double]
    }

    public static let sweep: [Double] = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.98]

    public static func run(shapes: [(Int, Int)] = [(4096, 4096), (512, 512)], batches: [Int] = [1, 16, 64]) throws -> [BreakEven] {
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
        return breakEven
    }

    /// Fastest wall time of dense and sparse on one random weight pruned by magnitude to `sparsity`.
    public static func measure(rows: Int, cols: Int, batch: Int, sparsity: Double) throws -> Timing {
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

    /// The human tables for docs/benchmarks.md.
    public static func table(_ report: Report) -> String {
        func f(_ v: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", v) }
        var out = "Sparse kernels: FP32 \(report.isa), INT8 \(report.int8ISA); 1 thread\n\n"
        if let h = report.headline {
            out += "| layer | batch | sparsity | dense FP32 matmul (ms) | sgemm (ms) | sparse (ms) | speedup vs matmul |\n|---|---|---|---|---|---|---|\n"
            out += "| \(h.rows)×\(h.cols) | \(h.batch) | \(f(h.sparsity, 2)) | \(f(h.denseMs)) | \(f(h.sgemmMs)) | \(f(h.sparseMs)) | \(f(h.speedup, 2))× |\n\n"
        }
        if !report.breakEven.isEmpty {
            out += "| layer | batch | break-even sparsity | speedup per sparsity |\n|---|---|---|---|\n"
            for b in report.breakEven {
                let sweep = b.sweep.map { "\(f($0.sparsity, 2)): \(f($0.speedup, 2))×" }.joined(separator: ", ")
                out += "| \(b.rows)×\(b.cols) | \(b.batch) | \(b.sparsity.map { f($0, 2) } ?? "> \(sweep.isEmpty ? "-" : f(PruneBenchmark.sweep.last!, 2))") | \(sweep) |\n"
            }
            out += "\n"
        }
        if let h = report.int8Headline {
            out += "INT8 \(h.rows)×\(h.cols), batch \(h.batch), sparsity \(f(h.sparsity, 2)): dense oneDNN u8×s8 \(f(h.denseMs)) ms; sparse "
            out += h.sparseMs.sorted { $0.value < $1.value }.map { "\($0.key) \(f($0.value)) ms (\(f(h.denseMs / $0.value, 2))×)" }.joined(separator: ", ")
            out += "\n\n"
        }
        for (title, sweeps) in [("INT8 linear (u8×s8→s32 product)", report.int8BreakEven), ("FP32 conv2d", report.convBreakEven)] where !sweeps.isEmpty {
            out += "\(title)\n\n| layer | batch | break-even sparsity | speedup per sparsity |\n|---|---|---|---|\n"
            for b in sweeps {
                let points = b.points.map { "\(f($0.sparsity, 2)): \(f($0.speedup, 2))×" }.joined(separator: ", ")
                out += "| \(b.layer) | \(b.batch) | \(b.breakEven.map { f($0, 2) } ?? "> \(f(b.points.last?.sparsity ?? 0, 2))") | \(points) |\n"
            }
            out += "\n"
        }
        return out
    }

    // MARK: INT8 and conv sweeps

    /// Sparsities swept for INT8 and conv (from dense-ish to very sparse).
    public static let wideSweep: [Double] = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98]

    /// Runs `measure` over `wideSweep`, stopping after two consecutive wins.
    static func sweep(layer: String, batch: Int, _ measure: (Double) throws -> Point) rethrows -> Sweep {
        var points: [Point] = []
        for s in wideSweep {
            points.append(try measure(s))
            if points.count >= 2, points.suffix(2).allSatisfy({ $0.speedup > 1 }) { break }
        }
        var first: Double?
        for p in points.reversed() { if p.speedup > 1 { first = p.sparsity } else { break } }
        return Sweep(layer: layer, batch: batch, breakEven: first, points: points)
    }

    /// A random weight of `count` values pruned by magnitude to `sparsity` (exact zeros).
    static func prunedValues(_ count: Int, sparsity: Double, seed: UInt64) -> [Float] {
        var rng = SeededRNG(seed: seed)
        var weight = (0..<count).map { _ in rng.uniform(-1, 1) }
        let cut = weight.map(abs).sorted()[min(Int(sparsity * Double(count)), count - 1)]
        for i in weight.indices where abs(weight[i]) < cut { weight[i] = 0 }
        return weight
    }

    /// An s8 weight: the pruned floats quantized symmetrically (±127), zeros stay zero.
    static func prunedInt8(rows: Int, cols: Int, sparsity: Double) -> [Int8] {
        prunedValues(rows * cols, sparsity: sparsity, seed: UInt64(rows * 31 + cols)).map { Int8(($0 * 127).rounded()) }
    }

    /// INT8 products `[m, cols] × [rows, cols]ᵀ`: oneDNN (packed weight, as the session runs it)
    /// vs the sparse product (best variant). The epilogue is the same for both and not timed.
    public static func measureInt8(rows: Int, cols: Int, m: Int, sparsity: Double, isas: [SparseISA] = [SparseInt8.bestISA]) throws -> (Point, [Double]) {
        let weight = prunedInt8(rows: rows, cols: cols, sparsity: sparsity)
        let csr = weight.withUnsafeBufferPointer { SparseInt8Matrix(dense: $0, rows: rows, cols: cols) }
        var rng = SeededRNG(seed: 5)
        let x = (0..<m * cols).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        var acc = [Int32](repeating: 0, count: m * rows)
        let matmul = try Int8Matmul(weights: weight, n: rows, k: cols)
        let context = try ExecutionContext()
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: SparseInt8.scratchBytes(inFeatures: cols), alignment: 64)
        defer { scratch.deallocate() }
        let reps = max(5, min(200, Int(4e9 / Double(rows * cols * m))))
        var kernels: [() throws -> Void] = [{ try matmul.run(a: x, m: m, c: &acc, context: context) }]
        for isa in isas {
            kernels.append { SparseInt8.product(weight: csr, x: x, m: m, accumulators: &acc, scratch: scratch, isa: isa) }
        }
        let best = try fastestMs(reps, kernels)
        return (Point(sparsity: csr.sparsity, denseMs: best[0], sparseMs: best[1]), Array(best.dropFirst()))
    }

    public static func int8Variants(rows: Int, cols: Int, batch: Int, sparsity: Double) throws -> Int8Variants {
        let isas = SparseISA.allCases.filter { SparseInt8.isSupported($0) }
        let (point, times) = try measureInt8(rows: rows, cols: cols, m: batch, sparsity: sparsity, isas: isas)
        return Int8Variants(rows: rows, cols: cols, batch: batch, sparsity: point.sparsity, denseMs: point.denseMs,
                            sparseMs: Dictionary(uniqueKeysWithValues: zip(isas.map(\.description), times)))
    }

    /// INT8 linear break-even, and the products of the INT8 conv layers below (rows = batch · positions).
    public static func runInt8() throws -> [Sweep] {
        var out: [Sweep] = []
        for (rows, cols) in [(4096, 4096), (512, 512)] {
            for batch in [1, 16, 64] {
                out.append(try sweep(layer: "\(rows)×\(cols)", batch: batch) { try measureInt8(rows: rows, cols: cols, m: batch, sparsity: $0).0 })
            }
        }
        for conv in convShapes {
            let g = conv.geometry
            let positions = g.outHeight * g.outWidth
            for batch in [1, 64] {
                let m = min(batch, max(1, 4096 / positions)) * positions  // Int8Conv2dKernel's chunk of samples
                out.append(try sweep(layer: "conv \(conv.name) (\(g.outChannels)×\(g.inChannels * g.kernel.h * g.kernel.w), \(m) rows)", batch: batch) {
                    try measureInt8(rows: g.outChannels, cols: g.inChannels * g.kernel.h * g.kernel.w, m: m, sparsity: $0).0
                })
            }
        }
        return out
    }

    /// Conv layers measured: the digits CNN's conv2, and two ResNet-like 3×3 layers.
    public static let convShapes: [(name: String, geometry: Conv2dGeometry)] = [
        ("16→32 3×3 on 8×8", Conv2dGeometry(inChannels: 16, inHeight: 8, inWidth: 8, outChannels: 32, kernel: (3, 3), padding: (1, 1))),
        ("64→64 3×3 on 28×28", Conv2dGeometry(inChannels: 64, inHeight: 28, inWidth: 28, outChannels: 64, kernel: (3, 3), padding: (1, 1))),
        ("256→256 3×3 on 7×7", Conv2dGeometry(inChannels: 256, inHeight: 7, inWidth: 7, outChannels: 256, kernel: (3, 3), padding: (1, 1))),
    ]

    /// FP32 conv: oneDNN (the session's `Conv2d`) vs `SparseConv2d`, bias and ReLU fused in both.
    public static func measureConv(_ g: Conv2dGeometry, batch: Int, sparsity: Double) throws -> Point {
        let wCount = g.outChannels * g.inChannels * g.kernel.h * g.kernel.w
        let weight = Tensor(prunedValues(wCount, sparsity: sparsity, seed: UInt64(wCount)), shape: [g.outChannels, g.inChannels, g.kernel.h, g.kernel.w])
        var rng = SeededRNG(seed: 9)
        let bias = Tensor((0..<g.outChannels).map { _ in rng.uniform(-1, 1) }, shape: [g.outChannels])
        let x = (0..<batch * g.inChannels * g.inHeight * g.inWidth).map { _ in rng.uniform(-1, 1) }
        var y = [Float](repeating: 0, count: batch * g.outChannels * g.outHeight * g.outWidth)
        let dense = try Conv2d(geometry: g, weight: weight, bias: bias, postOp: .relu)
        let sparse = try SparseConv2d(geometry: g, weight: weight, bias: bias, postOp: .relu)
        var scratch = [Float](repeating: 0, count: max(sparse.scratchCount, 1))
        let context = try ExecutionContext()
        let work = Double(wCount * g.outHeight * g.outWidth * batch)
        let reps = max(5, min(200, Int(2e9 / work)))
        let best = try fastestMs(reps, [
            { try dense.run(batch: batch, input: x, output: &y, context: context) },
            { sparse.run(batch: batch, input: x, output: &y, scratch: &scratch) },
        ])
        return Point(sparsity: sparse.matrix.sparsity, denseMs: best[0], sparseMs: best[1])
    }

    public static func runConv() throws -> [Sweep] {
        var out: [Sweep] = []
        for conv in convShapes {
            for batch in [1, 64] {
                out.append(try sweep(layer: conv.name, batch: batch) { try measureConv(conv.geometry, batch: batch, sparsity: $0) })
            }
        }
        return out
    }
}

private struct PruneBenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
