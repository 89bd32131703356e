import ArgumentParser
import Foundation
import Kernels
import ModelFormats
import ModelGraph
import ModelRuntime
import Quantization
import TensorCore

/// `modelsmith quantize`: post-training static INT8 quantization (DESIGN §6, docs/quantization.md).
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize a model to INT8 with calibration (weights s8 per channel, activations u8).",
        discussion: """
        Runs the FP32 model over calibration samples, derives each activation's range with the \
        chosen method (default: percentile 99.99), rewrites linear/conv2d layers to INT8 and \
        writes an artifact. --calib-cache reuses (or, with --calib, writes) the histograms so \
        another method needs no new run; several caches (shards written by `calibrate`) merge \
        exactly, as one pass over all their rows (docs/scale-out.md). With --eval and --max-accuracy-drop, layers return to \
        FP32, most harmful first, until the drop is within budget (exit 1 if impossible).

        Examples:
          modelsmith quantize teacher.msa --calib train.npz --samples 256 --method entropy -o teacher-int8.msa
          modelsmith quantize teacher.msa --calib-cache teacher.calib.json --method mse -o q.msa
          modelsmith quantize teacher.msa --calib-cache 'stats/part-*.calib.json' --method entropy -o q.msa
          modelsmith quantize teacher.msa --calib train.npz --eval test.npz --max-accuracy-drop 0.5 -o q.msa
        """)

    @OptionGroup var input: ModelInputOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("Calibration data (.npz with inputs under --x-key).", valueName: "data.npz")) var calib: String?
    @Option(help: "Key of the inputs in the calibration .npz.") var xKey = "x"
    @Option(help: "Key of the inputs in the eval .npz.") var evalXKey = "x"
    @Option(help: "Key of the labels in the eval .npz.") var yKey = "y"
    @Option(help: "Calibration samples to use (the first N).") var samples: Int?
    @Option(help: "minmax | percentile | entropy | mse.") var method = "percentile"
    @Option(help: "Percentile of |x| for --method percentile.") var percentile = PercentileObserver.defaultPercentile
    @Flag(help: "One weight scale per tensor instead of per output channel.") var perTensor = false
    @Option(help: "Activation type: u8 (asymmetric) or i8 (symmetric).") var activations = "u8"
    @Option(help: "Weight width: 8 (codes ±127) or 7 (±63: oneDNN's fast path also on CPUs without VNNI). The artifact is the same on every host; see docs/quantization.md.")
    var weightBits = QuantScheme.defaultWeightBits
    @Option(name: .customLong("calib-cache"), parsing: .upToNextOption,
            help: ArgumentHelp("Read histograms from these caches, merged exactly (no --calib; quoted globs expand), or write one (with --calib).", valueName: "cache.json"))
    var calibCache: [String] = []
    @Option(parsing: .upToNextOption, help: "Linear/conv2d nodes that stay FP32 (comma- or space-separated, as prune's --layers).")
    var exclude: [String] = []
    /// `--exclude fc1,fc3` and `--exclude fc1 fc3` name the same nodes.
    private var excluded: Set<String> {
        Set(exclude.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty })
    }
    @Option(help: ArgumentHelp("Evaluation data for accuracy-aware mode.", valueName: "test.npz")) var eval: String?
    @Option(help: "Largest accuracy drop allowed, in percentage points (with --eval).") var maxAccuracyDrop: Double?
    @Option(help: ArgumentHelp("Write the per-layer report (JSON).", valueName: "layers.json")) var report: String?

    func run() throws {
        let console = Console(common)
        let method = try CalibrationMethod(name: self.method, percentile: percentile)
        guard let activationType = QuantScheme.ActivationType(rawValue: activations) else {
            throw ValidationError("--activations must be u8 or i8, got '\(activations)'")
        }
        let scheme = try QuantScheme.checked(perChannelWeights: !perTensor, activationType: activationType, weightBits: weightBits)
        let package = try input.loadPackage(console: console)
        try Quantizer.checkNotQuantized(package)
        try Quantizer.checkExcludes(excluded, in: package.graph)
        let modelDigest = package.contentDigest

        let cache: CalibrationCache
        if let calib {
            guard calibCache.count <= 1 else { throw ValidationError("with --calib, --calib-cache names the one cache to write") }
            let data = try input.loadDataset(calib, xKey: xKey, yKey: nil, console: console)
            cache = try Calibrator.calibrate(package, data: data, rows: 0..<(samples ?? data.count), method: method)
            if let path = calibCache.first { try AtomicFile.write(Array(cache.jsonData()), to: path, force: output.force) }
        } else if !calibCache.isEmpty {
            cache = try CalibrationCache.load(paths: try PathPatterns.expand(calibCache),
                                              modelDigest: modelDigest, graphDigest: package.graphDigest)
        } else {
            throw ValidationError("give calibration data with --calib or a cache with --calib-cache")
        }
        let statistics = try cache.histograms()
        let (sampleCount, dataDigest) = (cache.samples, cache.dataDigest)

        var quantized: ModelPackage, layers: [LayerReport], accuracy: (Double, Double)?
        var withinBudget = true
        if let eval {
            guard let budget = maxAccuracyDrop else { throw ValidationError("--eval needs --max-accuracy-drop") }
            guard budget >= 0, budget.isFinite else { throw ValidationError("--max-accuracy-drop must be ≥ 0 points, got \(budget)") }
            let test = try input.loadDataset(eval, xKey: evalXKey, yKey: yKey, console: console)
            let outcome = try AccuracyAware.quantize(package, statistics: statistics, method: method, scheme: scheme,
                                                     exclude: excluded, eval: test, maxDrop: budget)
            (quantized, layers, accuracy, withinBudget) = (outcome.package, outcome.layers,
                                                           (outcome.accuracyBefore, outcome.accuracyAfter), outcome.withinBudget)
        } else {
            (quantized, layers) = try Quantizer.quantize(package, statistics: statistics, method: method, scheme: scheme,
                                                         exclude: excluded)
        }
        quantized.provenance.steps.append(Quantizer.provenanceStep(method: method, scheme: scheme, samples: sampleCount,
                                                                   dataDigest: dataDigest, layers: layers, accuracy: accuracy))
        if quantized.provenance.sourceDigest == nil { quantized.provenance.sourceDigest = modelDigest }
        if !withinBudget, let (before, after) = accuracy {
            throw CheckFailure(String(format: "accuracy %.4f → %.4f drops more than %.2f points even with one layer quantized",
                                      before, after, maxAccuracyDrop ?? 0))
        }
        _ = try Artifact.write(quantized.contents, to: output.output, options: ArtifactWriteOptions(force: output.force))
        if console.verbose {
            let kernels = try Session(package: quantized, options: SessionOptions(maxBatch: 1)).int8Kernels(batch: 1)
            console.detail("on this CPU (\(CPUFeatures.summary)) the \(weightBits)-bit layers run on: "
                           + kernels.map { "\($0.node) \($0.kernel)" }.joined(separator: ", "))
        }
        if let report {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(Array(try encoder.encode(layers)), to: report, force: output.force)
        }
        if common.json {
            try JSONOutput.print(layers)
        } else {
            var text = "quantized \(layers.filter { $0.status == .int8 }.count)/\(layers.count) layers (\(method)) → \(output.output)\n"
            for l in layers {
                text += String(format: "  %-10@ %-8@ range [%.4g, %.4g] scale %.4g zp %d clipped %.4f%% act SQNR %.1f dB w SQNR %.1f dB%@\n",
                               l.node, l.status.rawValue, l.rangeMin, l.rangeMax, l.scale, l.zeroPoint, l.clippedFraction * 100,
                               l.activationSQNR, l.weightSQNR, l.reason.map { " (\($0))" } ?? "")
            }
            if let (before, after) = accuracy { text += String(format: "accuracy %.4f → %.4f\n", before, after) }
            console.output(text)
        }
    }
}
