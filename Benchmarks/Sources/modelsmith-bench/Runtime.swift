// `modelsmith-bench runtime`: the Session's executor overhead against raw oneDNN matmuls on a large
// MLP, and the digits teacher's latency. Options: --iterations N (default 30), --teacher DIR
// (a directory with teacher.weights.npz + teacher.model.json; default the runtime test fixtures).
import Foundation
import Kernels
import ModelGraph
import ModelRuntime
import TensorCore

func runtimeBenchmark(_ args: [String]) throws {
    func option(_ name: String) -> String? { args.firstIndex(of: name).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil } }
    let iterations = Int(option("--iterations") ?? "") ?? 30
    let teacherDirectory = option("--teacher") ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../Tests/ModelRuntimeTests/Fixtures/models").standardized.path
    print("modelsmith-bench runtime: 1 thread, \(iterations) timed calls after warm-up, medians (elementwise ISA \(Elementwise.isa))")

    // 1. MLP 1024-4096-4096-4096-1024 with ReLU between layers.
    let widths = [1024, 4096, 4096, 4096, 1024]
    let package = mlpPackage(widths: widths)
    let flopsPerSample = zip(widths, widths.dropFirst()).map { 2.0 * Double($0 * $1) }.reduce(0, +)
    for batch in [64, 1] {
        let session = try Session(package: package, options: SessionOptions(maxBatch: batch, threads: 1))
        let x = randomUniform([batch, widths[0]], seed: 1)

        // The same matmuls (bias + fused ReLU) straight on oneDNN primitives, buffers preallocated.
        let layers = try (0..<(widths.count - 1)).map { i in
            try DenseLinear(weight: package.tensors["fc\(i).weight"]!, bias: package.tensors["fc\(i).bias"]!,
                            postOp: i < widths.count - 2 ? .relu : .none)
        }
        let context = try ExecutionContext()
        DNNL.setThreads(1)
        var buffers = widths.map { [Float](repeating: 0, count: batch * $0) }
        buffers[0] = x.floats
        // Calls alternate (session, raw, session, …) so machine noise hits both alike.
        let (sessionSeconds, rawSeconds) = try interleavedMedianSeconds(iterations, { _ = try session.run(["x": x]) }) {
            for (i, layer) in layers.enumerated() {
                let input = buffers[i]
                try input.withUnsafeBufferPointer { src in
                    try buffers[i + 1].withUnsafeMutableBufferPointer { dst in
                        try layer.run(batch: batch, input: src.baseAddress!, output: dst.baseAddress!, context: context)
                    }
                }
            }
        }
        let flops = flopsPerSample * Double(batch)
        print(String(format: "mlp %@ batch %2d: session %.3f ms (%.1f GFLOP/s)  raw oneDNN %.3f ms (%.1f GFLOP/s)  session/raw rate %.1f%%  [%@]",
                     widths.map(String.init).joined(separator: "-"), batch, sessionSeconds * 1e3, flops / sessionSeconds / 1e9,
                     rawSeconds * 1e3, flops / rawSeconds / 1e9, 100 * rawSeconds / sessionSeconds, try layers[1].implementation(batch: batch)))
    }

    // 2. The digits teacher (64-512-512-10).
    let teacher = try ModelPackage.load(path: teacherDirectory + "/teacher.weights.npz", graphPath: teacherDirectory + "/teacher.model.json")
    for batch in [1, 8, 64] {
        let session = try Session(package: teacher, options: SessionOptions(maxBatch: batch, threads: 1))
        let x = randomUniform([batch, 64], seed: 2)
        let seconds = try medianSeconds(max(iterations, 200)) { _ = try session.run(["x": x]) }
        print(String(format: "teacher batch %2d: %.4f ms per call, %.0f samples/s", batch, seconds * 1e3, Double(batch) / seconds))
    }
}


/// Median wall time of `iterations` calls (monotonic clock) after max(3, iterations/10) warm-up calls.
private func medianSeconds(_ iterations: Int, _ body: () throws -> Void) rethrows -> Double {
    for _ in 0..<max(3, iterations / 10) { try body() }
    var samples: [Double] = []
    for _ in 0..<iterations {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return samples.sorted()[samples.count / 2]
}
