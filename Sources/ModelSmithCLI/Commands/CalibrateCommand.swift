import ArgumentParser
import Foundation
import ModelFormats
import ModelRuntime
import Quantization

/// `modelsmith calibrate`: one shard's calibration cache, for `quantize --calib-cache` to merge (docs/scale-out.md).
struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Collect activation histograms over calibration data (or one shard of it) into a calibration cache.",
        discussion: """
        Runs the FP32 model over the samples and writes the calibration cache that \
        `quantize --calib-cache` reads (docs/quantization.md): per activation a fixed-size \
        histogram, exact min/max and one digest per sample. Caches of disjoint shards merge \
        exactly: quantizing from all of them gives the artifact of one pass over the whole data.
        --shard K/N takes rows ⌊K·n/N⌋..<⌊(K+1)·n/N⌋ and records K/N, so a merge with a shard \
        missing is refused.

        Examples:
          modelsmith calibrate teacher.msa --calib shard-3.npz -o stats/part-3.calib.json
          modelsmith calibrate teacher.msa --calib train.npz --shard 3/8 -o stats/part-3.calib.json
          modelsmith quantize teacher.msa --calib-cache 'stats/part-*.calib.json' --method entropy -o q.msa
        """)

    @OptionGroup var input: ModelInputOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("Calibration data (.npz with inputs under --x-key).", valueName: "data.npz")) var calib: String
    @Option(help: "Key of the inputs in the calibration .npz.") var xKey = "x"
    @Option(help: ArgumentHelp("Only shard K of N equal slices of the data (0 ≤ K < N).", valueName: "K/N")) var shard: DatasetShard?
    @Option(help: "Method recorded in the cache (minmax | percentile | entropy | mse); quantize may apply another.") var method = "percentile"
    @Option(help: "Percentile of |x| for --method percentile.") var percentile = PercentileObserver.defaultPercentile
    @Option(help: "Histogram bins per activation (caches merge only with equal bins).") var bins = Histogram.defaultCapacity

    func run() throws {
        let console = Console(common)
        let method = try CalibrationMethod(name: self.method, percentile: percentile)
        let package = try input.loadPackage(console: console)
        try Quantizer.checkNotQuantized(package)
        let data = try input.loadDataset(calib, xKey: xKey, yKey: nil, console: console)
        let cache = try Calibrator.calibrate(package, data: data, shard: shard, method: method, bins: bins)
        try AtomicFile.write(Array(cache.jsonData()), to: output.output, force: output.force)
        if common.json {
            try JSONOutput.print(Summary(output: output.output, samples: cache.samples, shard: cache.shard?.description,
                                         tensors: cache.tensors.keys.sorted(), dataDigest: cache.dataDigest))
        } else {
            console.output("calibrated \(cache.samples) samples\(shard.map { " (shard \($0))" } ?? "") over \(cache.tensors.count) activations → \(output.output)\n")
        }
    }

    private struct Summary: Encodable {
        let output: String, samples: Int, shard: String?, tensors: [String], dataDigest: String
        enum CodingKeys: String, CodingKey { case output, samples, shard, tensors, dataDigest = "data_digest" }
    }
}
