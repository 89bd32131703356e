// `modelsmith-bench quant`: INT8 against FP32 through `Session` end to end on the 1024-4096-4096-4096-1024
// MLP (batch 64 and 1) and on the digits teacher (batch 1 and 64), 1 thread, calls interleaved so machine
// noise hits both alike; and the cost of quantizing the MLP (512 calibration samples): wall time and peak
// RSS of a fresh process (`--calibrate-only`, which this benchmark starts as a child).
//
// Both weight widths (`--weight-bits 8|7`, default both), each layer on the product this CPU picks
// for it (printed: oneDNN's implementation or the library's own). To measure a CPU without VNNI on
// one that has it: MODELSMITH_CPU_FEATURES=avx2 ONEDNN_MAX_CPU_ISA=AVX2 (docs/runtime.md, "CPU dispatch").
//
// Options: --iterations N (default 30), --export DIR (write the MLP weights, calibration samples and
// teacher inputs as .npy for Benchmarks/peers/quant_ort.py, so ONNX Runtime runs the same weights),
// --teacher DIR (teacher.weights.npz, teacher.model.json, digits.npz; default the quantization test fixtures).
import Foundation
import Kernels
import ModelFormats
import ModelGraph
import ModelRuntime
import Quantization
import TensorCore

private let mlpWidths = [1024, 4096, 4096, 4096, 1024]
private let calibrationSamples = 512

func quantBenchmark(_ args: [String]) throws {
    func option(_ name: String) -> String? { args.firstIndex(of: name).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil } }
    if args.contains("--calibrate-only") { return try calibrateOnly(exportTo: option("--output")) }
    let iterations = Int(option("--iterations") ?? "") ?? 30
    let teacherDirectory = option("--teacher") ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../Tests/QuantizationTests/Fixtures").standardized.path
    let widths = option("--weight-bits").map { [Int($0) ?? 8] } ?? [8, 7]
    print("modelsmith-bench quant: 1 thread, \(iterations) timed calls per model after warm-up, medians; \(CPUFeatures.summary); load average \(loadAverage())")

    let fp32 = mlpPackage(widths: mlpWidths)
    let calibration = try calibrationData()
    if let directory = option("--export") { try export(fp32, calibration: calibration, to: directory) }

    // 1. Quantizing the MLP, in a fresh process (so its peak RSS is that job's alone), artifact written.
    let artifact = NSTemporaryDirectory() + "modelsmith-bench-quant-\(getpid()).msa"
    defer { try? FileManager.default.removeItem(atPath: artifact) }
    let child = try runChild(["quant", "--calibrate-only", "--output", artifact])
    print("mlp quantize (fresh process, \(calibrationSamples) samples, min/max): \(child)")

    // 2. INT8 vs FP32 on the MLP, via Session end to end.
    let flopsPerSample = zip(mlpWidths, mlpWidths.dropFirst()).map { 2.0 * Double($0 * $1) }.reduce(0, +)
    for weightBits in widths {
        let int8 = try quantize(fp32, data: calibration, samples: calibrationSamples, method: .minmax, weightBits: weightBits).package
        for batch in [64, 1] {
            let a = try Session(package: fp32, options: SessionOptions(maxBatch: batch, threads: 1))
            let b = try Session(package: int8, options: SessionOptions(maxBatch: batch, threads: 1))
            let x = randomUniform([batch, mlpWidths[0]], seed: 3)
            let (fp32Seconds, int8Seconds) = try interleavedMedianSeconds(iterations, { _ = try a.run(["x": x]) }, { _ = try b.run(["x": x]) })
            let ops = flopsPerSample * Double(batch)
            let implementation = Set(try b.int8Kernels(batch: batch).map(\.kernel)).sorted().joined(separator: ", ")
            // The executor's share: the same four u8×s8→s32 products alone (no quantize/requantize, no Session).
            let products = try (0..<(mlpWidths.count - 1)).map { i in
                try Int8Matmul(weights: int8.tensors["fc\(i).weight"]!.withUnsafeBufferPointer(of: Int8.self) { Array($0) },
                               n: mlpWidths[i + 1], k: mlpWidths[i])
            }
            let context = try ExecutionContext()
            let source = [UInt8](repeating: 77, count: batch * 4096)
            var accumulators = [Int32](repeating: 0, count: batch * 4096)
            let (sessionSeconds, rawSeconds) = try interleavedMedianSeconds(iterations, { _ = try b.run(["x": x]) }) {
                for product in products { try product.run(a: source, m: batch, c: &accumulators, context: context) }
            }
            print(String(format: "mlp %d-bit batch %2d: int8 session %.3f ms, the raw int8 products alone %.3f ms (%.0f GOP/s): products are %.0f%% of the session's time",
                         weightBits, batch, sessionSeconds * 1e3, rawSeconds * 1e3, ops / rawSeconds / 1e9, 100 * rawSeconds / sessionSeconds))
            print(String(format: "mlp %d-bit batch %2d: fp32 %.3f ms (%.0f GFLOP/s)  int8 %.3f ms (%.0f GOP/s)  int8 speed-up %.2fx  [int8 matmul %@]",
                         weightBits, batch, fp32Seconds * 1e3, ops / fp32Seconds / 1e9, int8Seconds * 1e3, ops / int8Seconds / 1e9, fp32Seconds / int8Seconds,
                         implementation))
        }
    }

    // 2b. Where the products cross over: oneDNN vs the s16 product on one 4096×4096 7-bit layer, by row count.
    let sevenBit = (0..<(4096 * 4096)).map { Int8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) / 2 }
    let candidates = Int8Product.available(maxAbsWeight: 64).filter { $0 != .reference }
    if candidates.count > 1 {
        let matmuls = try candidates.map { try Int8Matmul(weights: sevenBit, n: 4096, k: 4096, product: $0) }
        let context = try ExecutionContext()
        for m in [1, 4, 16, 32, 64] {
            let source = [UInt8](repeating: 77, count: m * 4096)
            var accumulators = [Int32](repeating: 0, count: m * 4096)
            let (first, second) = try interleavedMedianSeconds(iterations, { try matmuls[0].run(a: source, m: m, c: &accumulators, context: context) },
                                                               { try matmuls[1].run(a: source, m: m, c: &accumulators, context: context) })
            print(String(format: "4096x4096 7-bit, %2d rows: %@ %.3f ms  %@ %.3f ms", m, try matmuls[0].implementation(m: m), first * 1e3,
                         try matmuls[1].implementation(m: m), second * 1e3))
        }
    }

    // 3. The digits teacher, calibrated on the first 256 training samples (as the accuracy tests).
    let teacher = try ModelPackage.load(path: teacherDirectory + "/teacher.weights.npz", graphPath: teacherDirectory + "/teacher.model.json")
    let digits = try Dataset.load(path: teacherDirectory + "/digits.npz", xKey: "x_train", yKey: "y_train")
    let test = try Dataset.load(path: teacherDirectory + "/digits.npz", xKey: "x_test", yKey: "y_test")
    for weightBits in widths {
        let teacherInt8 = try quantize(teacher, data: digits, samples: 256, method: .default, weightBits: weightBits).package
        for batch in [1, 64] {
            let a = try Session(package: teacher, options: SessionOptions(maxBatch: batch, threads: 1))
            let b = try Session(package: teacherInt8, options: SessionOptions(maxBatch: batch, threads: 1))
            let x = test.batch(0..<batch)
            let (fp32Seconds, int8Seconds) = try interleavedMedianSeconds(max(iterations, 500), { _ = try a.run(["x": x]) }, { _ = try b.run(["x": x]) })
            let implementation = Set(try b.int8Kernels(batch: batch).map(\.kernel)).sorted().joined(separator: ", ")
            print(String(format: "teacher %d-bit batch %2d: fp32 %.4f ms  int8 %.4f ms  int8 speed-up %.2fx  [int8 matmul %@]",
                         weightBits, batch, fp32Seconds * 1e3, int8Seconds * 1e3, fp32Seconds / int8Seconds, implementation))
        }
        let accuracy = try (Evaluation.accuracy(session: Session(package: teacher), dataset: test),
                            Evaluation.accuracy(session: Session(package: teacherInt8), dataset: test))
        print(String(format: "teacher test accuracy: fp32 %.4f  int8 %d-bit (%@) %.4f", accuracy.0, weightBits, CalibrationMethod.default.description, accuracy.1))
    }
    print("load average after: \(loadAverage())")
}

/// The child job: build the FP32 MLP, calibrate on 512 samples, quantize (min/max, per channel, u8
/// activations, as ONNX Runtime's defaults), optionally write the artifact; one JSON line with times and VmHWM.
private func calibrateOnly(exportTo path: String?) throws {
    let fp32 = mlpPackage(widths: mlpWidths)
    let data = try calibrationData()
    let rssBefore = peakRSSBytes()
    var times: [String: Double] = [:]
    let (_, stepTimes) = try quantize(fp32, data: data, samples: calibrationSamples, method: .minmax, writeTo: path)
    for (k, v) in stepTimes { times[k] = v }
    let json: [String: Any] = ["calibrate_s": times["calibrate"]!, "quantize_s": times["quantize"]!,
                               "write_s": times["write"] ?? 0, "peak_rss_mib": Double(peakRSSBytes()) / 1048576,
                               "peak_rss_before_mib": Double(rssBefore) / 1048576]
    print(String(data: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), encoding: .utf8)!)
}

/// Calibrates `package` on `samples` rows of `data` (Session + Calibrator, batches of 64) and quantizes it;
/// returns the INT8 package and the seconds each step took.
private func quantize(_ package: ModelPackage, data: Dataset, samples: Int, method: CalibrationMethod, weightBits: Int = 8,
                      writeTo path: String? = nil) throws -> (package: ModelPackage, seconds: [String: Double]) {
    var seconds: [String: Double] = [:]
    var start = DispatchTime.now().uptimeNanoseconds
    func lap(_ name: String) {
        let now = DispatchTime.now().uptimeNanoseconds
        seconds[name] = Double(now - start) / 1e9
        start = now
    }
    // The calibration session (and its packed FP32 weights) is released before the weights are quantized.
    let statistics = try Calibrator.collect(session: Session(package: package, options: SessionOptions(maxBatch: 64, threads: 1)),
                                            values: Quantizer.calibratedValues(package.graph), data: data, samples: samples)
    lap("calibrate")
    let (q, _) = try Quantizer.quantize(package, statistics: statistics, method: method, scheme: QuantScheme(weightBits: weightBits))
    lap("quantize")
    if let path {
        _ = try Artifact.write(q.contents, to: path, options: ArtifactWriteOptions(force: true, threads: 1))
        lap("write")
    }
    return (q, seconds)
}

/// 512 calibration samples, standard normal (seeded).
private func calibrationData() throws -> Dataset {
    var rng = SeededRNG(seed: 7)
    let x = Tensor((0..<(calibrationSamples * mlpWidths[0])).map { _ in rng.normal() }, shape: [calibrationSamples, mlpWidths[0]])
    return try Dataset(x: x)
}

/// `.npy` files for the ONNX Runtime script: the MLP's weights and calibration samples.
private func export(_ mlp: ModelPackage, calibration: Dataset, to directory: String) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    func write(_ name: String, _ tensor: Tensor) throws {
        try Data(Npy.encode(tensor)).write(to: URL(fileURLWithPath: directory).appendingPathComponent("\(name).npy"))
    }
    for (name, tensor) in mlp.tensors { try write("mlp.\(name)", tensor) }
    try write("mlp.x_calib", calibration.x)
    print("exported the MLP weights and calibration samples to \(directory)")
}


/// VmHWM of this process (peak resident set), in bytes.
private func peakRSSBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kib = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kib * 1024
}

private func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}

/// Runs this executable with `arguments` and returns its last output line.
private func runChild(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: output, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
}
