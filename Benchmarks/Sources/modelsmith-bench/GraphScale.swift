// `modelsmith-bench graph`: the real CLI (`inspect`, `inspect -q`, `convert`, `run`) on graphs of
// 100,000 nodes listed in topological order and in reverse, to show the graph algorithms are
// linear (docs/robustness.md; goal: `inspect` under 1 s). Each command is a child process,
// alternating the two orders; the table gives the best wall time and its CPU time.
import Foundation
import ModelFormats
import TensorCore
#if canImport(Glibc)
import Glibc
#endif

func graphScaleBenchmark(_ args: [String]) throws {
    var nodes = 100_000
    var binary = "../.build/release/modelsmith"
    var repeats = 3
    var i = 0
    while i < args.count {
        switch args[i] {
        case "--nodes" where i + 1 < args.count: nodes = Int(args[i + 1]) ?? nodes; i += 2
        case "--modelsmith" where i + 1 < args.count: binary = args[i + 1]; i += 2
        case "--repeats" where i + 1 < args.count: repeats = Int(args[i + 1]) ?? repeats; i += 2
        default: throw BenchmarkError("unknown option \(args[i]); usage: graph [--nodes N] [--modelsmith PATH] [--repeats N]")
        }
    }
    guard FileManager.default.isExecutableFile(atPath: binary) else {
        throw BenchmarkError("\(binary) is not built: swift build -c release --product modelsmith (or pass --modelsmith PATH)")
    }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("modelsmith-bench-graph-\(getpid())").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }

    var rng = SeededRNG(seed: 18)
    var input = PackageContents()
    input.tensors["x"] = normalTensor([64, 16], &rng)
    let inputPath = directory + "/input.npz"
    try PackageExporter.export(input, to: inputPath, force: true)

    let orders = ["forward", "reverse"]
    for order in orders {
        var contents = PackageContents(graphJSON: chainGraph(nodes: nodes, reversed: order == "reverse"))
        contents.tensors["fc.weight"] = normalTensor([16, 16], &rng)
        contents.tensors["fc.bias"] = normalTensor([16], &rng)
        try PackageExporter.export(contents, to: "\(directory)/\(order).tar", force: true)
    }
    let commands: [(name: String, arguments: (String) -> [String])] = [
        ("inspect", { ["inspect", "\(directory)/\($0).tar"] }),
        ("inspect -q", { ["inspect", "-q", "\(directory)/\($0).tar"] }),
        ("convert", { ["convert", "\(directory)/\($0).tar", "-o", "\(directory)/\($0).msa", "--force", "-q"] }),
        ("run", { ["run", "\(directory)/\($0).msa", "--input", inputPath, "-q"] }),
    ]
    print("## Graph scale: \(nodes + 1)-node chains (one linear, then ReLUs), best of \(repeats)\n")
    print("| command | order | best wall s | CPU s of that run | package (.tar) bytes |")
    print("| --- | --- | --- | --- | --- |")
    for command in commands {
        var best: [String: (wall: Double, cpu: Double)] = [:]
        for _ in 0..<repeats {
            for order in orders {  // alternate the orders within each repeat
                let run = try timeChild(binary, command.arguments(order))
                if best[order].map({ run.wall < $0.wall }) ?? true { best[order] = run }
            }
        }
        for order in orders {
            let size = (try? FileManager.default.attributesOfItem(atPath: "\(directory)/\(order).tar")[.size] as? Int) ?? 0
            print("| `\(command.name)` | \(order) | \(f3(best[order]!.wall)) | \(f3(best[order]!.cpu)) | \(size) |")
        }
    }
    print("\nload average at the end: " + ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"))
}

/// `x[-1, 16] → fc (linear 16→16) → relu_0 → … → relu_{nodes−1}`, nodes listed in order or reversed.
private func chainGraph(nodes: Int, reversed: Bool) -> Data {
    var list = ["{\"name\": \"fc\", \"op\": \"linear\", \"inputs\": [\"x\"], \"output\": \"v0\", \"params\": {\"weight\": \"fc.weight\", \"bias\": \"fc.bias\"}}"]
    for i in 0..<nodes {
        list.append("{\"name\": \"relu_\(i)\", \"op\": \"relu\", \"inputs\": [\"v\(i)\"], \"output\": \"v\(i + 1)\"}")
    }
    if reversed { list.reverse() }
    let json = "{\"modelsmith\": 1, \"name\": \"chain\", \"inputs\": [{\"name\": \"x\", \"shape\": [-1, 16]}], \"outputs\": [\"v\(nodes)\"], \"nodes\": [\n"
        + list.joined(separator: ",\n") + "\n]}\n"
    return Data(json.utf8)
}

/// Runs the binary to completion (exit 0 required); wall seconds and the child's CPU seconds.
private func timeChild(_ binary: String, _ arguments: [String]) throws -> (wall: Double, cpu: Double) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    let errors = Pipe()
    process.standardError = errors
    var before = rusage()
    getrusage(RUSAGE_CHILDREN.rawValue, &before)
    let start = Date()
    try process.run()
    let stderr = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let wall = Date().timeIntervalSince(start)
    var after = rusage()
    getrusage(RUSAGE_CHILDREN.rawValue, &after)
    guard process.terminationStatus == 0 else {
        throw BenchmarkError("modelsmith \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(String(decoding: stderr, as: UTF8.self))")
    }
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    let cpu = seconds(after.ru_utime) - seconds(before.ru_utime) + seconds(after.ru_stime) - seconds(before.ru_stime)
    return (wall, cpu)
}
