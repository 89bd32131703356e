import ArgumentParser
import Foundation
import Kernels
import ModelFormats
import ModelGraph
import ModelRuntime
import TensorCore
import Training

/// `modelsmith train`: the training engine on labels (cross-entropy), from a graph with or without weights.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model on labelled data (cross-entropy) and write an artifact.",
        discussion: """
        The model is a package or artifact, or a bare model.json: parameters it lacks are \
        initialised as PyTorch initialises nn.Linear / nn.Conv2d (linear nodes need an \
        "out_features" attribute, conv2d nodes "out_channels" and "kernel"). Pruning masks are \
        honoured: pruned weights stay exactly zero. With --eval, the best epoch's weights are written.

        Example:
          modelsmith train Examples/digits/teacher.json --data train.npz --epochs 30 --optimizer adam \\
              --lr 1e-3 --batch 64 --seed 0 --eval test.npz -o teacher.msa
        """)

    @Argument(help: "The model to train: model.json, a package or an .msa artifact.")
    var model: String

    @Option(name: .long, help: ArgumentHelp("A model.json replacing the model's graph (or adding one to bare weights).", valueName: "model.json"))
    var graph: String?

    @OptionGroup var training: TrainingOptions
    @OptionGroup var common: CommonOptions

    func validate() throws { try training.check() }

    func run() throws {
        let console = Console(common)
        let student = try TrainingOptions.loadTrainable(model, graph: graph, seed: training.seed, strictDTypes: training.strictDTypes, console: console)
        let data = try training.loadData(training.data, console: console)
        guard data.labels != nil else {
            throw TrainingError.missingLabels(reason: "\(training.data) has no '\(training.yKey)' array; train needs labels")
        }
        let result = try training.train(student, data: data, objective: .crossEntropy, console: console, common: common)
        try training.write(result, student: student, step: "train", extraOptions: [:], source: model, console: console, common: common)
    }
}

/// Options shared by `train` and `distill`: data, optimizer, schedule, run control and output.
struct TrainingOptions: ParsableArguments {
    @Flag(name: .customLong("strict-dtypes"), help: "Refuse models and data whose dtype would be converted (float64, int16, uint16; integer or float64 data) instead of converting them with a note.")
    var strictDTypes = false

    @Option(name: .long, help: ArgumentHelp("Training data (.npz with inputs and labels).", valueName: "train.npz"))
    var data: String

    @Option(name: .long, help: ArgumentHelp("Evaluation data; accuracy each epoch, best epoch kept.", valueName: "test.npz"))
    var eval: String?

    @Option(name: .customLong("x-key"), help: "Array holding the inputs.")
    var xKey = "x"

    @Option(name: .customLong("y-key"), help: "Array holding the labels.")
    var yKey = "y"

    @Option(name: .long, help: "Passes over the training data.")
    var epochs = 30

    @Option(name: .long, help: "Samples per optimizer step.")
    var batch = 64

    @Option(name: .long, help: "sgd, adam or adamw.")
    var optimizer: OptimizerChoice = .adam

    @Option(name: .long, help: "Base learning rate.")
    var lr: Float = 1e-3

    @Option(name: .long, help: "SGD momentum.")
    var momentum: Float = 0

    @Flag(name: .long, help: "Nesterov momentum (SGD).")
    var nesterov = false

    @Option(name: .customLong("weight-decay"), help: "L2 (sgd, adam) or decoupled (adamw; default 0.01) weight decay.")
    var weightDecay: Float?

    @Option(name: .long, help: "constant, step, or cosine.")
    var schedule: ScheduleChoice = .constant

    @Option(name: .customLong("lr-step"), help: "step schedule: epochs between decays.")
    var lrStep = 10

    @Option(name: .long, help: "step schedule: decay factor.")
    var gamma: Float = 0.1

    @Option(name: .customLong("min-lr"), help: "cosine schedule: final learning rate.")
    var minLR: Float = 0

    @Option(name: .long, help: "Linear warm-up over this many optimizer steps.")
    var warmup = 0

    @Option(name: .long, help: "Seed for initialisation, shuffling and dropout.")
    var seed: UInt64 = 0

    @Option(name: .long, help: ArgumentHelp("Which weights to write: 'last' (the final epoch's) or 'best' (the best eval accuracy; choose it on a validation set, not the test set you report).", valueName: "last|best"))
    var keep: KeptWeights = .last

    @Option(name: .customLong("early-stop"), help: ArgumentHelp("Stop after this many epochs without eval improvement.", valueName: "epochs"))
    var earlyStop: Int?

    @Option(name: .long, help: ArgumentHelp("Checkpoint written atomically after every epoch.", valueName: "file.ckpt"))
    var checkpoint: String?

    @Option(name: .long, help: ArgumentHelp("Continue a run from its checkpoint (same options).", valueName: "file.ckpt"))
    var resume: String?

    @Option(name: .long, help: "Threads for the matrix products.")
    var threads = 1

    @Option(name: [.customShort("o"), .long], help: "The artifact to write (.msa).")
    var output: String

    @Flag(name: .long, help: "Overwrite the output if it exists.")
    var force = false

    @Option(name: .long, help: "zstd level of the artifact.")
    var level: Int = Zstd.defaultLevel

    enum OptimizerChoice: String, ExpressibleByArgument, CaseIterable { case sgd, adam, adamw }
    enum ScheduleChoice: String, ExpressibleByArgument, CaseIterable { case constant, step, cosine }

    func check() throws {
        guard output.hasSuffix(".msa") else { throw ValidationError("-o must name an .msa artifact, got '\(output)'") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    /// The checkpoint path: --checkpoint, else the one being resumed, else `<output>.ckpt`.
    var checkpointPath: String { checkpoint ?? resume ?? output + ".ckpt" }

    func makeOptimizer() throws -> any Optimizer {
        switch optimizer {
        case .sgd: return try SGD(momentum: momentum, nesterov: nesterov, weightDecay: weightDecay ?? 0)
        case .adam: return try Adam(weightDecay: weightDecay ?? 0)
        case .adamw: return try AdamW(weightDecay: weightDecay ?? 0.01)
        }
    }

    func makePlan() throws -> LearningRatePlan {
        let kind: LearningRateSchedule
        switch schedule {
        case .constant: kind = .constant
        case .step: kind = .step(everyEpochs: lrStep, gamma: gamma)
        case .cosine: kind = .cosine(minimum: minLR)
        }
        return try LearningRatePlan(base: lr, schedule: kind, warmupSteps: warmup)
    }

    /// A model.json alone (parameters initialised), or any package/artifact (weights, masks kept).
    static func loadTrainable(_ path: String, graph: String?, seed: UInt64, strictDTypes: Bool, console: Console) throws -> TrainableModel {
        if path.lowercased().hasSuffix(".json") && graph == nil {
            guard let bytes = FileManager.default.contents(atPath: path) else { throw FormatError.fileNotFound(path: path) }
            return try TrainableModel(graph: try Graph(json: bytes), tensors: TensorMap(), initSeed: seed)
        }
        let package = try ModelInputOptions.loadPackage(path: path, graph: graph, strictDTypes: strictDTypes, console: console)
        return try TrainableModel(graph: package.graph, tensors: package.tensors, masks: package.masks, initSeed: seed)
    }

    func loadData(_ path: String, teacherLogits: FloatArray? = nil, console: Console) throws -> TrainingData {
        let dataset = try ModelInputOptions.loadDataset(path, xKey: xKey, yKey: yKey, strictDTypes: strictDTypes, console: console)
        return try TrainingData(x: FloatArray(dataset.x), labels: dataset.labels, teacherLogits: teacherLogits)
    }

    func train(_ student: TrainableModel, data: TrainingData, objective: TrainingObjective,
               console: Console, common: CommonOptions) throws -> TrainingResult {
        DNNL.setThreads(threads)
        if !force && FileManager.default.fileExists(atPath: output) { throw FormatError.outputExists(path: output) }
        let evalData = try eval.map { try loadData($0, console: console) }
        let config = try TrainerConfiguration(epochs: epochs, batchSize: batch, seed: seed, objective: objective,
                                              optimizer: try makeOptimizer(), learningRate: try makePlan(),
                                              earlyStoppingPatience: earlyStop, checkpointPath: checkpointPath)
        var line = ProgressLine(enabled: !common.quiet && !common.json)
        let result = try Trainer(configuration: config).run(
            model: student, data: data, eval: evalData, resumeFrom: resume,
            progress: { line.update($0) },
            epochEnd: { metrics in
                line.finishEpoch(metrics)
                if common.json { try printJSONLine(metrics) }
                else if !line.isTerminal && !common.quiet { console.note(ProgressLine.epochSummary(metrics)) }
            })
        line.clear()
        return result
    }

    /// Writes the final (or, with `--keep best`, the best-on-eval) weights as an artifact with provenance,
    /// then removes the checkpoint.
    func write(_ result: TrainingResult, student: TrainableModel, step: String, extraOptions: [String: JSONValue],
               source: String, console: Console, common: CommonOptions) throws {
        let model = keep == .best ? result.bestModel : result.finalModel
        var provenance = Provenance()
        var options = try TrainerConfiguration(epochs: epochs, batchSize: batch, seed: seed, objective: .crossEntropy,
                                               optimizer: try makeOptimizer(), learningRate: try makePlan()).summary
        options.removeValue(forKey: "loss")
        for (k, v) in extraOptions { options[k] = v }
        options["data"] = .string(data)
        options["keep"] = .string(keep.rawValue)
        if let eval { options["eval"] = .string(eval) }
        var results: [String: JSONValue] = ["epochs_run": .number(Double(result.history.count)), "stopped_early": .bool(result.stoppedEarly)]
        if let a = result.finalAccuracy { results["final_accuracy"] = .number(a) }
        if let a = result.bestAccuracy { results["best_accuracy"] = .number(a) }
        if let e = result.bestEpoch { results["best_epoch"] = .number(Double(e)) }
        if let loss = result.history.last?.loss { results["final_loss"] = .number(loss) }
        if !student.initialized.isEmpty { results["initialized"] = .array(student.initialized.map { .string($0) }) }
        provenance.steps.append(ProvenanceStep(step: step, options: options, results: results))
        if let data = FileManager.default.contents(atPath: source) {
            provenance.sourceDigest = data.withUnsafeBytes { SHA256.hex($0) }
        }
        let package = ModelPackage(graph: model.graph, tensors: model.tensors, masks: model.maskTensors, provenance: provenance, source: source)
        let written = try Artifact.write(package.contents, to: output, options: ArtifactWriteOptions(level: level, force: force))
        try? FileManager.default.removeItem(atPath: checkpointPath)
        if common.json {
            struct Summary: Encodable { var output: String; var bytes: Int; var finalAccuracy: Double?; var bestAccuracy: Double?; var bestEpoch: Int?; var epochs: Int }
            try printJSONLine(Summary(output: output, bytes: written.fileBytes, finalAccuracy: result.finalAccuracy,
                                             bestAccuracy: result.bestAccuracy, bestEpoch: result.bestEpoch, epochs: result.history.count))
        } else if !common.quiet {
            var text = "wrote \(output) (\(Formatting.bytes(written.fileBytes))) after \(result.history.count) epochs"
            if let best = result.bestAccuracy, let epoch = result.bestEpoch, let final = result.finalAccuracy {
                text += String(format: "; eval accuracy %.4f final%@, %.4f best (epoch %d%@)", final, keep == .last ? " (written)" : "",
                               best, epoch, keep == .best ? ", written" : "")
            }
            console.output(text)
        }
    }
}

/// One line on stderr, rewritten in place, when stderr is a terminal: epoch, step, loss, accuracy, samples/s, ETA.
struct ProgressLine {
    let isTerminal: Bool
    private var lastDraw = Date.distantPast

    init(enabled: Bool) { isTerminal = enabled && isatty(STDERR_FILENO) == 1 }

    mutating func update(_ p: StepProgress) {
        guard isTerminal, Date().timeIntervalSince(lastDraw) > 0.1 || p.step == p.stepsPerEpoch else { return }
        lastDraw = Date()
        var text = "epoch \(p.epoch)/\(p.epochs)  step \(p.step)/\(p.stepsPerEpoch)  loss " + String(format: "%.4f", p.loss)
        if let acc = p.lastEvalAccuracy { text += String(format: "  eval %.4f", acc) }
        text += String(format: "  %.0f samples/s  ETA %.0fs", p.samplesPerSecond, p.secondsRemaining)
        FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
    }

    func finishEpoch(_ m: EpochMetrics) {
        guard isTerminal else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(Self.epochSummary(m))\n".utf8))
    }

    func clear() {
        guard isTerminal else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    static func epochSummary(_ m: EpochMetrics) -> String {
        var text = "epoch \(m.epoch)  loss " + String(format: "%.4f", m.loss)
        if let a = m.trainAccuracy { text += String(format: "  train %.4f", a) }
        if let a = m.evalAccuracy { text += String(format: "  eval %.4f", a) + (m.isBest ? " *" : "") }
        return text + String(format: "  %.0f samples/s", m.samplesPerSecond)
    }
}

/// One compact JSON object per line on stdout (JSON lines, for `--json` metrics).
func printJSONLine(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    FileHandle.standardOutput.write(try encoder.encode(value) + Data("\n".utf8))
}

/// Which weights `train`/`distill` write.
enum KeptWeights: String, ExpressibleByArgument, CaseIterable {
    case last, best
}
