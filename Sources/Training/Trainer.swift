import Foundation
import Kernels
import ModelGraph
import TensorCore

/// One epoch's measurements, emitted as a JSON line with `--json`.
public struct EpochMetrics: Codable, Equatable, Sendable {
    public var epoch: Int
    public var loss: Double
    public var trainAccuracy: Double?
    public var evalAccuracy: Double?
    public var learningRate: Double
    public var seconds: Double
    public var samplesPerSecond: Double
    public var isBest: Bool

    enum CodingKeys: String, CodingKey {
        case epoch, loss, trainAccuracy = "train_accuracy", evalAccuracy = "eval_accuracy", learningRate = "lr",
             seconds, samplesPerSecond = "samples_per_s", isBest = "best"
    }
}

/// Where a run is within an epoch, for a progress line.
public struct StepProgress: Sendable {
    public var epoch: Int, epochs: Int, step: Int, stepsPerEpoch: Int
    public var loss: Double
    public var samplesPerSecond: Double
    public var secondsRemaining: Double
    public var lastEvalAccuracy: Double?
}

/// The options of a training run.
public struct TrainerConfiguration: Sendable {
    public var epochs: Int
    public var batchSize: Int
    public var seed: UInt64
    public var objective: TrainingObjective
    public var optimizer: any Optimizer
    public var learningRate: LearningRatePlan
    /// Stop when eval accuracy has not improved for this many epochs (nil: never).
    public var earlyStoppingPatience: Int?
    /// Written atomically after every epoch (nil: no checkpoints).
    public var checkpointPath: String?

    public init(epochs: Int, batchSize: Int, seed: UInt64, objective: TrainingObjective, optimizer: any Optimizer,
                learningRate: LearningRatePlan, earlyStoppingPatience: Int? = nil, checkpointPath: String? = nil) throws {
        guard epochs >= 1 else { throw TrainingError.badHyperparameter(name: "--epochs", reason: "must be ≥ 1, got \(epochs)") }
        guard batchSize >= 1 else { throw TrainingError.badHyperparameter(name: "--batch", reason: "must be ≥ 1, got \(batchSize)") }
        if let p = earlyStoppingPatience, p < 1 { throw TrainingError.badHyperparameter(name: "--early-stop", reason: "must be ≥ 1, got \(p)") }
        if case .distillation(let t, let a) = objective {
            guard t > 0, t.isFinite else { throw TrainingError.badHyperparameter(name: "--temperature", reason: "must be > 0, got \(t)") }
            guard a >= 0, a <= 1 else { throw TrainingError.badHyperparameter(name: "--alpha", reason: "must be in [0, 1], got \(a)") }
        }
        self.epochs = epochs
        self.batchSize = batchSize
        self.seed = seed
        self.objective = objective
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.earlyStoppingPatience = earlyStoppingPatience
        self.checkpointPath = checkpointPath
    }

    /// Hyperparameters for provenance and for refusing to resume a different run.
    public var summary: [String: JSONValue] {
        var out: [String: JSONValue] = ["epochs": .number(Double(epochs)), "batch": .number(Double(batchSize)),
                                        "seed": .number(Double(seed)), "optimizer": .object(optimizer.summary)]
        for (k, v) in learningRate.summary { out[k] = v }
        switch objective {
        case .crossEntropy: out["loss"] = "cross_entropy"
        case .distillation(let t, let a):
            out["loss"] = "kd"; out["temperature"] = .float(t); out["alpha"] = .float(a)
        case .mse: out["loss"] = "mse"
        }
        if let p = earlyStoppingPatience { out["early_stopping_patience"] = .number(Double(p)) }
        return out
    }
}

/// The outcome of a run: the final model, the best one on the eval set, and the history.
public struct TrainingResult: Sendable {
    public var finalModel: TrainableModel
    /// The weights with the best eval accuracy (the final ones without an eval set).
    public var bestModel: TrainableModel
    public var finalAccuracy: Double?
    public var bestAccuracy: Double?
    public var bestEpoch: Int?
    public var history: [EpochMetrics]
    public var stoppedEarly: Bool
}

/// Runs epochs of seeded shuffling, batching, forward, loss, backward and optimizer steps; evaluates
/// each epoch, keeps the best weights, checkpoints atomically, and resumes exactly.
///
/// Determinism: epoch `e`'s sample order and step `s`'s dropout masks are functions of (seed, e, s),
/// so a run resumed from the checkpoint after epoch `e` repeats the uninterrupted run bit for bit
/// (for the same thread count).
public struct Trainer {
    public var configuration: TrainerConfiguration

    public init(configuration: TrainerConfiguration) { self.configuration = configuration }

    /// Sample order of epoch `epoch` (Fisher–Yates on a generator seeded by (seed, epoch)).
    public static func permutation(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var rng = SeededRNG(seed: seed &+ 0x5851_F42D_4C95_7F2D &* UInt64(epoch + 1))
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return order
    }

    /// Top-1 accuracy of `model` on labelled data, in inference mode.
    public static func accuracy(_ model: TrainableModel, on data: TrainingData, batchSize: Int = 256) throws -> Double? {
        guard let labels = data.labels, data.count > 0, let inputName = model.graph.inputs.first?.name,
              let outputName = model.graph.outputs.first else { return nil }
        var correct = 0
        for start in stride(from: 0, to: data.count, by: batchSize) {
            let indices = Array(start..<min(start + batchSize, data.count))[...]
            let logits = try model.infer([inputName: TrainingData.gather(data.x, indices)])[outputName]!
            let classes = logits.shape.last ?? 1
            for (k, i) in indices.enumerated() {
                let row = logits.values[(k * classes)..<((k + 1) * classes)]
                if let best = row.indices.max(by: { row[$0] < row[$1] }), best - k * classes == labels[i] { correct += 1 }
            }
        }
        return Double(correct) / Double(data.count)
    }

    private func fingerprint(_ model: TrainableModel, _ data: TrainingData) -> String {
        let shapes = model.parameterNames.map { "\($0)\(model.parameters[$0]!.shape)" }.joined(separator: ",")
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let kept = configuration.summary.filter { $0.key != "epochs" && $0.key != "early_stopping_patience" }
        let options = (try? encoder.encode(JSONValue.object(kept))).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return "\(shapes)|\(options)|samples=\(data.count)"
    }

    /// Trains `model` on `data`, evaluating on `eval` after every epoch.
    /// - Parameters:
    ///   - resumeFrom: a checkpoint written by an earlier run with the same options; training continues after its last epoch.
    ///   - progress: called after every step (for a progress line).
    ///   - epochEnd: called after every epoch (for JSON lines).
    public func run(model initial: TrainableModel, data: TrainingData, eval: TrainingData? = nil, resumeFrom: String? = nil,
                    progress: (StepProgress) throws -> Void = { _ in }, epochEnd: (EpochMetrics) throws -> Void = { _ in }) throws -> TrainingResult {
        let config = configuration
        guard let inputName = initial.graph.inputs.first?.name, let outputName = initial.graph.outputs.first else {
            throw TrainingError.badInput(name: "graph", reason: "needs one input and one output")
        }
        try checkData(initial, data, inputName: inputName, outputName: outputName)
        if let eval { try checkData(initial, eval, inputName: inputName, outputName: outputName, needsTeacher: false) }
        var model = initial
        try Trainer.admitTrainingState(model, optimizer: config.optimizer)
        var states = Dictionary(uniqueKeysWithValues: model.parameterNames.map { ($0, config.optimizer.newState(count: model.parameters[$0]!.count)) })
        let stepsPerEpoch = (data.count + config.batchSize - 1) / config.batchSize
        let totalSteps = stepsPerEpoch * config.epochs
        let print = fingerprint(model, data)
        var book = Checkpoint.State(fingerprint: print, epochsDone: 0, stepsDone: 0, optimizerSteps: [:], bestAccuracy: nil,
                                    bestEpoch: nil, epochsWithoutImprovement: 0, history: [])
        var best = model
        if let resumeFrom {
            let checkpoint = try Checkpoint.read(from: resumeFrom)
            guard checkpoint.state.fingerprint == print else {
                throw TrainingError.badCheckpoint(path: resumeFrom, reason: "was written by a run with other options, model or data")
            }
            book = checkpoint.state
            for name in model.parameterNames {
                guard let p = checkpoint.parameters[name], p.shape == model.parameters[name]!.shape else {
                    throw TrainingError.badCheckpoint(path: resumeFrom, reason: "lacks parameter '\(name)'")
                }
                model.parameters[name] = p
                best.parameters[name] = checkpoint.best[name] ?? p
                states[name] = checkpoint.optimizer[name] ?? states[name]
            }
            for (name, b) in checkpoint.buffers where model.buffers[name] != nil { model.buffers[name] = b }
            for name in model.buffers.keys { best.buffers[name] = checkpoint.best[name] ?? model.buffers[name] }
        }
        // More than one thread: each step's batch is split between `workers` threads (data parallel,
        // oneDNN single-threaded on each), unless an op mixes samples (batchnorm statistics).
        // A step too small to split runs on one thread too: an OpenMP team per tiny product costs more than it saves.
        let threads = DNNL.maxThreads
        let workers = Trainer.dataParallelWorkers(model, threads: threads, batchSize: config.batchSize)
        let oneThread = workers > 1 || model.multiplyAddsPerSample * config.batchSize < Trainer.minimumSplitMultiplyAdds
        if oneThread { DNNL.setThreads(1) }  // what is not split (optimizer, eval) runs on this thread alone
        defer { if oneThread { DNNL.setThreads(threads) } }
        var stoppedEarly = false
        var lastGoodCheckpoint = resumeFrom.flatMap { _ in config.checkpointPath }
        var lastEval = book.history.last?.evalAccuracy
        let runStart = Date()
        var samplesThisRun = 0
        epochs: for epoch in book.epochsDone..<config.epochs {
            if let patience = config.earlyStoppingPatience, book.epochsWithoutImprovement >= patience { stoppedEarly = true; break epochs }
            let started = Date()
            let order = Trainer.permutation(count: data.count, seed: config.seed, epoch: epoch)
            var lossSum = 0.0, correct = 0, seen = 0
            var rate: Float = config.learningRate.base
            for step in 0..<stepsPerEpoch {
                let globalStep = epoch * stepsPerEpoch + step
                rate = config.learningRate.rate(step: globalStep, epoch: epoch, totalSteps: totalSteps)
                let indices = order[(step * config.batchSize)..<min((step + 1) * config.batchSize, data.count)]
                let dropoutSeed = config.seed ^ (UInt64(globalStep + 1) &* 0xD1B5_4A32_D192_ED03)
                let outcome = try (workers > 1
                    ? Trainer.splitStep(model, data: data, indices: indices, workers: workers, seed: dropoutSeed, objective: config.objective,
                                        inputName: inputName, outputName: outputName)
                    : Trainer.step(&model, data: data, indices: indices, batchRows: nil, seed: dropoutSeed, objective: config.objective,
                                   inputName: inputName, outputName: outputName))
                guard outcome.loss.isFinite else {
                    throw TrainingError.nonFiniteLoss(epoch: epoch + 1, step: step + 1, lastCheckpoint: lastGoodCheckpoint)
                }
                for name in model.parameterNames {
                    guard let g = outcome.gradients[name] else { continue }
                    var p = model.parameters[name]!.values
                    model.parameters[name]!.values = []  // keep p uniquely referenced during the update
                    config.optimizer.step(parameter: &p, gradient: g.values, state: &states[name]!, learningRate: rate)
                    model.parameters[name]!.values = p
                }
                model.applyMasks()
                lossSum += outcome.loss * Double(indices.count)
                seen += indices.count
                samplesThisRun += indices.count
                correct += outcome.correct
                let elapsed = Date().timeIntervalSince(runStart)
                let rateNow = Double(samplesThisRun) / max(elapsed, 1e-9)
                let remainingSamples = Double(totalSteps - globalStep - 1) * Double(config.batchSize)
                try progress(StepProgress(epoch: epoch + 1, epochs: config.epochs, step: step + 1, stepsPerEpoch: stepsPerEpoch,
                                      loss: lossSum / Double(seen), samplesPerSecond: rateNow,
                                      secondsRemaining: remainingSamples / max(rateNow, 1e-9), lastEvalAccuracy: lastEval))
            }
            let seconds = Date().timeIntervalSince(started)
            let evalAccuracy = try eval.flatMap { try Trainer.accuracy(model, on: $0) }
            lastEval = evalAccuracy
            var isBest = false
            if let acc = evalAccuracy {
                if book.bestAccuracy == nil || acc > book.bestAccuracy! {
                    book.bestAccuracy = acc; book.bestEpoch = epoch + 1; book.epochsWithoutImprovement = 0
                    best = model; isBest = true
                } else {
                    book.epochsWithoutImprovement += 1
                }
            } else {
                best = model
            }
            let metrics = EpochMetrics(epoch: epoch + 1, loss: lossSum / Double(max(seen, 1)),
                                       trainAccuracy: data.labels == nil ? nil : Double(correct) / Double(max(seen, 1)),
                                       evalAccuracy: evalAccuracy, learningRate: Double(rate), seconds: seconds,
                                       samplesPerSecond: Double(seen) / max(seconds, 1e-9), isBest: isBest)
            book.history.append(metrics)
            book.epochsDone = epoch + 1
            book.stepsDone = (epoch + 1) * stepsPerEpoch
            if let path = config.checkpointPath {
                book.optimizerSteps = states.mapValues(\.step)
                var bestTensors = best.parameters
                for (k, v) in best.buffers { bestTensors[k] = v }
                try Checkpoint(state: book, parameters: model.parameters, buffers: model.buffers, optimizer: states, best: bestTensors)
                    .write(to: path)
                lastGoodCheckpoint = path
            }
            try epochEnd(metrics)
        }
        if let patience = config.earlyStoppingPatience, book.epochsDone < config.epochs, book.epochsWithoutImprovement >= patience {
            stoppedEarly = true
        }
        return TrainingResult(finalModel: model, bestModel: best, finalAccuracy: book.history.last?.evalAccuracy,
                              bestAccuracy: book.bestAccuracy, bestEpoch: book.bestEpoch, history: book.history, stoppedEarly: stoppedEarly)
    }

    /// What one step's forward, loss and backward produce.
    struct StepOutcome {
        /// The loss of the batch (of the share, scaled to the whole batch, for one worker's share).
        var loss: Double
        var correct: Int
        var gradients: [String: FloatArray]
    }

    /// A step with fewer multiply-adds than this (about 50 µs of products) runs on one thread: the
    /// hand-over would cost more than it saves.
    static let minimumSplitMultiplyAdds = 1 << 22

    /// Training holds, besides the parameters, their gradients, the best epoch's copy and the
    /// optimizer's moment buffers, each as large as the parameters: checked against the memory
    /// budget before the first step allocates them (docs/robustness.md, "Memory budget").
    static func admitTrainingState(_ model: TrainableModel, optimizer: any Optimizer) throws {
        let elements = model.parameters.values.reduce(0) { $0 + $1.count }  // already in memory: no overflow
        let copies = optimizer.stateBuffersPerParameter + 2
        let name = optimizer.summary["name"]?.stringValue ?? "optimizer"
        try MemoryBudget.admit(checkedMultiply(elements, copies * MemoryLayout<Float>.size),
                               for: "the training state (\(name): \(optimizer.stateBuffersPerParameter) moment buffers + gradients + the best copy of \(elements) parameters)")
    }

    /// Threads that split each batch: `threads` when no op mixes samples, the batch has a sample per
    /// thread and a step has enough work (`minimumSplitMultiplyAdds`), else 1.
    static func dataParallelWorkers(_ model: TrainableModel, threads: Int, batchSize: Int) -> Int {
        guard threads > 1, batchSize >= threads, model.multiplyAddsPerSample * batchSize >= minimumSplitMultiplyAdds,
              !mixesSamples(model.graph) else { return 1 }
        return threads
    }

    /// Whether an op's result for one sample depends on other samples of the batch (batchnorm's batch statistics).
    static func mixesSamples(_ graph: Graph) -> Bool {
        graph.nodes.contains { $0.op.spec.mixesSamplesInTraining }
    }

    /// Forward, loss and backward on the samples `indices` (the whole batch, or one share of a batch of `batchRows`).
    static func step(_ model: inout TrainableModel, data: TrainingData, indices: ArraySlice<Int>, batchRows: Int?, seed: UInt64,
                     objective: TrainingObjective, inputName: String, outputName: String) throws -> StepOutcome {
        let batch = data.batch(indices)
        let tape = try model.forward([inputName: batch.x], mode: .training(seed: seed))
        let logits = tape.outputs[outputName]!
        let loss = try objective.evaluate(student: logits, teacher: batch.teacher, labels: batch.labels, batchRows: batchRows)
        guard loss.value.isFinite else { return StepOutcome(loss: loss.value, correct: 0, gradients: [:]) }
        let grads = try model.backward(tape, outputGradients: [outputName: loss.gradient], inputGradients: false)
        return StepOutcome(loss: loss.value, correct: batch.labels.map { correctCount(logits, $0) } ?? 0, gradients: grads.parameters)
    }

    /// `step` with the batch split into `workers` contiguous shares run concurrently (each share's
    /// dropout seeded by (seed, share)); the gradients are summed in share order, so a run is
    /// reproducible for a given thread count.
    static func splitStep(_ model: TrainableModel, data: TrainingData, indices: ArraySlice<Int>, workers: Int, seed: UInt64,
                          objective: TrainingObjective, inputName: String, outputName: String) throws -> StepOutcome {
        let shares = (0..<workers).map { w in
            let lower = indices.startIndex + w * indices.count / workers, upper = indices.startIndex + (w + 1) * indices.count / workers
            return indices[lower..<upper]
        }
        let slots = ShareSlots(count: workers)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            DNNL.setThreads(1)  // per calling thread: no OpenMP team inside a share
            var local = model
            slots.results[w] = Result {
                try step(&local, data: data, indices: shares[w], batchRows: indices.count, seed: seed ^ (UInt64(w) &* 0x9E37_79B9_7F4A_7C15),
                         objective: objective, inputName: inputName, outputName: outputName)
            }
        }
        var total = try slots.results[0]!.get()
        for w in 1..<workers {
            let share = try slots.results[w]!.get()
            total.loss += share.loss
            total.correct += share.correct
            for (name, g) in share.gradients {
                guard var sum = total.gradients.removeValue(forKey: name) else { total.gradients[name] = g; continue }
                sum.values.withUnsafeMutableBufferPointer { s in
                    g.values.withUnsafeBufferPointer { Elementwise.add(s.baseAddress!, $0.baseAddress!, s.baseAddress!, count: s.count) }
                }
                total.gradients[name] = sum
            }
        }
        return total
    }

    /// One result slot per worker; each worker writes only its own slot, the caller reads them after the join.
    private final class ShareSlots: @unchecked Sendable {
        let results: UnsafeMutablePointer<Result<StepOutcome, any Error>?>
        let count: Int
        init(count: Int) {
            self.count = count
            results = .allocate(capacity: count)
            results.initialize(repeating: nil, count: count)
        }
        deinit { results.deinitialize(count: count); results.deallocate() }
    }

    static func correctCount(_ logits: FloatArray, _ labels: [Int]) -> Int {
        let classes = logits.shape.last ?? 1
        var correct = 0
        for (r, label) in labels.enumerated() {
            var best = 0
            for c in 1..<max(classes, 1) where logits.values[r * classes + c] > logits.values[r * classes + best] { best = c }
            if best == label { correct += 1 }
        }
        return correct
    }

    /// Bad input named before any work: x shape vs the graph input, labels vs output size, teacher size.
    private func checkData(_ model: TrainableModel, _ data: TrainingData, inputName: String, outputName: String,
                           needsTeacher: Bool = true) throws {
        let info = model.graph.inputs[0]
        guard data.x.shape.count == info.shape.count,
              zip(data.x.shape.dropFirst(), info.shape.dropFirst()).allSatisfy({ $1 < 0 || $0 == $1 }) else {
            throw TrainingError.badInput(name: inputName, reason: "data has shape \(data.x.shape) but the graph input is \(info.shape)")
        }
        guard data.count > 0 else { throw TrainingError.badInput(name: inputName, reason: "the dataset is empty") }
        let probe = try model.infer([inputName: TrainingData.gather(data.x, [0])])[outputName]!
        let classes = probe.shape.last ?? 1
        if let labels = data.labels {
            for (i, y) in labels.enumerated() where y < 0 || y >= classes {
                throw TrainingError.labelOutOfRange(index: i, label: y, classes: classes)
            }
        }
        if needsTeacher {
            if let t = data.teacherLogits, t.shape.last != classes {
                throw TrainingError.outputSizeMismatch(teacher: t.shape.last ?? 0, student: classes)
            }
            if configuration.objective.needsTeacher, data.teacherLogits == nil {
                throw TrainingError.badInput(name: "teacher", reason: "\(configuration.summary["loss"]?.stringValue ?? "this loss") needs teacher logits")
            }
            if configuration.objective == .crossEntropy, data.labels == nil {
                throw TrainingError.missingLabels(reason: "training on labels needs the 'y' key")
            }
        }
    }
}
