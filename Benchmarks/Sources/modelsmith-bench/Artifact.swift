// `modelsmith-bench artifact`: writes and reads a 40M-parameter artifact (random normal f32 layers)
// and measures throughput, peak RSS and compressed bits per weight next to the data's entropy.
import Foundation
import ModelFormats
import TensorCore
#if canImport(Glibc)
import Glibc
#endif

func artifactBenchmark(_ args: [String]) throws {
    if args.first == "--read-child", args.count == 3 { return try artifactReadChild(path: args[1], repeats: Int(args[2]) ?? 3) }
    var level = Zstd.defaultLevel
    var directory = FileManager.default.temporaryDirectory.path
    var keep = false
    var i = 0
    while i < args.count {
        switch args[i] {
        case "--level" where i + 1 < args.count: level = Int(args[i + 1]) ?? level; i += 2
        case "--dir" where i + 1 < args.count: directory = args[i + 1]; i += 2
        case "--keep": keep = true; i += 1
        default: throw BenchmarkError("unknown option \(args[i]); usage: artifact [--level N] [--dir DIR] [--keep]")
        }
    }
    let path = directory + "/modelsmith-bench-\(getpid()).msa"
    let samplePath = directory + "/modelsmith-bench-\(getpid())-sample.msa"
    defer { if !keep { unlink(path) }; unlink(samplePath) }

    // A 40M-parameter MLP: 4096 → 4096 → 4096 → 1536, random N(0, 1) weights.
    let layers: [(String, Int, Int)] = [("fc1", 4096, 4096), ("fc2", 4096, 4096), ("fc3", 1536, 4096)]
    var contents = PackageContents(graphJSON: mlpGraph(layers))
    var rng = SeededRNG(seed: 2024)
    for (name, out, inp) in layers {
        contents.tensors["\(name).weight"] = normalTensor([out, inp], &rng)
        contents.tensors["\(name).bias"] = normalTensor([out], &rng)
    }
    let parameters = contents.tensors.reduce(0) { $0 + $1.tensor.elementCount }
    let decodedBytes = contents.tensors.reduce(0) { $0 + $1.tensor.byteCount }

    let start = Date()
    let writeCPUStart = cpuSeconds()
    let summary = try Artifact.write(contents, to: path, options: ArtifactWriteOptions(level: level, force: true))
    let writeSeconds = Date().timeIntervalSince(start)
    let writeCPU = cpuSeconds() - writeCPUStart
    let writePeak = peakRSSBytes()
    contents = PackageContents()

    let child = try readInChild(path: path)
    print("## Artifact benchmark (zstd level \(level), \(ProcessInfo.processInfo.activeProcessorCount) cores)\n")
    print("model: \(parameters) parameters, \(mb(decodedBytes)) MB decoded, artifact \(mb(summary.fileBytes)) MB (\(String(format: "%.2f", Double(summary.fileBytes) * 8 / Double(parameters))) bits/weight)\n")
    print("| phase | wall s | MB/s (decoded, wall) | CPU s | MB per CPU-second | peak RSS MB | peak RSS / decoded size |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("| write (encode all candidates + write; RSS includes the generated model) | \(f3(writeSeconds)) | \(f0(Double(decodedBytes) / writeSeconds / 1e6)) | \(f3(writeCPU)) | \(f0(Double(decodedBytes) / writeCPU / 1e6)) | \(mb(writePeak)) | \(f2(Double(writePeak) / Double(decodedBytes))) |")
    print("| read (separate process, best of 3, every SHA-256 verified; RSS of the first read) | \(f3(child.seconds)) | \(f0(Double(decodedBytes) / child.seconds / 1e6)) | \(f3(child.cpuSeconds)) | \(f0(Double(decodedBytes) / child.cpuSeconds / 1e6)) | \(mb(child.peakRSS)) | \(f2(Double(child.peakRSS) / Double(decodedBytes))) |")
    print("\nload average at the end: " + ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"))
    if keep { print("artifact kept at \(path)\n") }
    print("\nencodings chosen: " + summary.index.tensors.map { "\($0.name)=\($0.encoding.rawValue)/\($0.transform.rawValue)" }.joined(separator: ", "))

    // Bits per weight for one 4096×4096 tensor of each kind, next to the entropy of the same bytes.
    print("\n| data (4096×4096) | encoding chosen | bits/weight stored | order-0 byte entropy, bits/weight | per-byte-plane entropy, bits/weight | stored / byte entropy |")
    print("| --- | --- | --- | --- | --- | --- |")
    let n = 4096 * 4096
    var kinds: [(String, Tensor)] = []
    kinds.append(("f32 N(0,1)", normalTensor([4096, 4096], &rng)))
    kinds.append(("int8-valued (absmax-quantized N(0,1))", int8Tensor(kinds[0].1)))
    kinds.append(("f32 90 % zeros", zeroed(kinds[0].1, fraction: 0.9, &rng)))
    kinds.append(("int8 90 % zeros", zeroed(kinds[1].1, fraction: 0.9, &rng)))
    for (label, tensor) in kinds {
        var one = PackageContents(graphJSON: Data("{}".utf8))
        one.tensors["w"] = tensor
        let entry = try Artifact.write(one, to: samplePath, options: ArtifactWriteOptions(level: level, force: true)).index.tensors[0]
        let stored = Double(entry.storedBytes) * 8 / Double(n)
        let (byteEntropy, planeEntropy) = entropies(tensor)
        print("| \(label) | \(entry.encoding.rawValue)/\(entry.transform.rawValue) | \(f3(stored)) | \(f3(byteEntropy)) | \(f3(planeEntropy)) | \(f3(stored / byteEntropy)) |")
    }
}

struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Reads the artifact `repeats` times; prints the best time and the peak RSS of the first read
/// (later reads can only add allocator reuse effects, not model data).
private func artifactReadChild(path: String, repeats: Int) throws {
    var best = Double.infinity
    var bestCPU = 0.0
    var firstPeak = 0
    for _ in 0..<repeats {
        defer { if firstPeak == 0 { firstPeak = peakRSSBytes() } }
        let start = Date()
        let cpuStart = cpuSeconds()
        let contents = try Artifact.read(path)
        let wall = Date().timeIntervalSince(start)
        if wall < best { best = wall; bestCPU = cpuSeconds() - cpuStart }
        precondition(!contents.tensors.isEmpty)
    }
    print("\(best) \(firstPeak) \(bestCPU)")
}

private func readInChild(path: String) throws -> (seconds: Double, peakRSS: Int, cpuSeconds: Double) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Bundle.main.executablePath ?? CommandLine.arguments[0])
    process.arguments = ["artifact", "--read-child", path, "3"]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let fields = output.split(whereSeparator: { $0 == " " || $0 == "\n" })
    guard process.terminationStatus == 0, fields.count == 3, let s = Double(fields[0]), let rss = Int(fields[1]),
          let cpu = Double(fields[2]) else {
        throw BenchmarkError("read child failed: \(output)")
    }
    return (s, rss, cpu)
}

/// User + system CPU time of this process so far.
private func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
    return s(usage.ru_utime) + s(usage.ru_stime)
}

/// Peak resident set size of this process: getrusage's ru_maxrss (KiB on Linux), or VmHWM from
/// /proc/self/status when lower — ru_maxrss carries the parent's peak across fork + exec, so the
/// child's own peak is only in VmHWM.
private func peakRSSBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    var peak = usage.ru_maxrss * 1024
    if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
       let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
       let kib = Int(line.split(separator: " ").dropFirst().first ?? "") {
        peak = min(peak, kib * 1024)
    }
    return peak
}

func normalTensor(_ dims: [Int], _ rng: inout SeededRNG) -> Tensor {
    var t = Tensor(zeros: .f32, Shape(dims))
    t.withUnsafeMutableBufferPointer(of: Float.self) { for i in $0.indices { $0[i] = rng.normal() } }
    return t
}

/// Symmetric per-tensor int8 quantization with absmax scaling.
private func int8Tensor(_ t: Tensor) -> Tensor {
    let values = t.floats
    let scale = (values.map { abs($0) }.max() ?? 1) / 127
    var q = Tensor(zeros: .i8, t.shape)
    q.withUnsafeMutableBufferPointer(of: Int8.self) { dst in
        for i in dst.indices { dst[i] = Int8(clamping: Int((values[i] / scale).rounded())) }
    }
    q.quant = QuantParams(scales: [scale], zeroPoints: [0], axis: nil)
    return q
}

private func zeroed(_ t: Tensor, fraction: Float, _ rng: inout SeededRNG) -> Tensor {
    var out = t
    let width = t.dtype.byteSize
    out.withUnsafeMutableBytes { raw in
        for i in 0..<t.elementCount where rng.nextFloat() < fraction {
            for k in 0..<width { raw[i * width + k] = 0 }
        }
    }
    return out
}

/// Order-0 Shannon entropy of the tensor's bytes, and the sum of per-byte-plane entropies
/// (each byte position of an element as its own source), both in bits per element.
private func entropies(_ t: Tensor) -> (bytes: Double, planes: Double) {
    let width = t.dtype.byteSize
    var all = [Int](repeating: 0, count: 256)
    var planes = [[Int]](repeating: [Int](repeating: 0, count: 256), count: width)
    t.withUnsafeBytes { raw in
        for i in 0..<t.elementCount {
            for k in 0..<width {
                let b = Int(raw[i * width + k])
                all[b] += 1
                planes[k][b] += 1
            }
        }
    }
    func h(_ counts: [Int]) -> Double {
        let total = Double(counts.reduce(0, +))
        return counts.reduce(0.0) { $1 == 0 ? $0 : $0 - Double($1) / total * log2(Double($1) / total) }
    }
    return (h(all) * Double(width), planes.reduce(0) { $0 + h($1) })
}

private func mlpGraph(_ layers: [(String, Int, Int)]) -> Data {
    var nodes: [String] = []
    var input = "x"
    for (i, (name, _, _)) in layers.enumerated() {
        let output = i == layers.count - 1 ? "logits" : "\(name).out"
        nodes.append(#"{"name": "\#(name)", "op": "linear", "inputs": ["\#(input)"], "output": "\#(output)", "params": {"weight": "\#(name).weight", "bias": "\#(name).bias"}}"#)
        input = output
        if i < layers.count - 1 {
            nodes.append(#"{"name": "\#(name).act", "op": "relu", "inputs": ["\#(output)"], "output": "\#(name).relu"}"#)
            input = "\(name).relu"
        }
    }
    return Data(#"{"modelsmith": 1, "name": "bench-mlp", "inputs": [{"name": "x", "shape": [-1, 4096]}], "outputs": ["logits"], "nodes": [\#(nodes.joined(separator: ", "))]}"#.utf8)
}

private func mb(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1e6) }
private func f0(_ x: Double) -> String { String(format: "%.0f", x) }
private func f2(_ x: Double) -> String { String(format: "%.2f", x) }
func f3(_ x: Double) -> String { String(format: "%.3f", x) }
