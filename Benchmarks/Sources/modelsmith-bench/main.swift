// modelsmith-bench: one subcommand per benchmark, each in its own file as `<name>Benchmark(arguments)`.
// Add a benchmark: write `Foo.swift` with `func fooBenchmark(_ args: [String]) throws`, add one row below.
import Foundation

let benchmarks: [(name: String, summary: String, run: ([String]) throws -> Void)] = [
    ("artifact", "write/read a 40M-parameter .msa: MB/s, peak RSS, bits per weight vs entropy", artifactBenchmark),
    ("train", "training samples/s of the 64-512-512-10 MLP and the small CNN at 1 and 2 threads", trainBenchmark),
    ("runtime", "Session vs raw oneDNN on a 1024-4096-4096-4096-1024 MLP; digits teacher latency", runtimeBenchmark),
    ("prune", "sparse vs dense FP32/INT8 linear and FP32 conv: headlines, break-even sparsity per batch", pruneBenchmark),
    ("graph", "inspect / inspect -q / convert / run (the CLI) on 100,000-node chains in both listing orders", graphScaleBenchmark),
    ("quant", "INT8 vs FP32 (Session) on the 1024-4096-4096-4096-1024 MLP and the teacher; quantize time and peak RSS", quantBenchmark),
]

let arguments = Array(CommandLine.arguments.dropFirst())
guard let name = arguments.first, let benchmark = benchmarks.first(where: { $0.name == name }) else {
    print("usage: modelsmith-bench <benchmark> [options]\n\nbenchmarks:")
    for b in benchmarks { print("  \(b.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(b.summary)") }
    exit(arguments.isEmpty ? 0 : 2)
}
do {
    try benchmark.run(Array(arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("modelsmith-bench: error: \(error)\n".utf8))
    exit(2)
}
