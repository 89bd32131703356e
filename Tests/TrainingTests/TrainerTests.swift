import Foundation
import ModelFormats
import ModelGraph
import TensorCore
import TestSupport
import XCTest
@testable import Training

/// The trainer on the digits data: learning, exact resume, masks, NaN handling and bad input.
final class TrainerTests: XCTestCase {
    static let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    static let digits: TensorMap = try! WeightReaders.read(fixtures.appendingPathComponent("digits.npz").path).tensors
    static let studentGraph = try! Graph(json: Data(contentsOf: fixtures.appendingPathComponent("student.model.json")))

    func data(_ split: String, first n: Int) throws -> TrainingData {
        let x = FloatArray(Self.digits["x_\(split)"]!)
        let labels = Self.digits["y_\(split)"]!.integers
        return try TrainingData(x: TrainingData.gather(x, Array(0..<n)[...]), labels: Array(labels[..<n]))
    }

    /// The student graph with no weights: linear layers initialised as PyTorch does (needs out_features).
    func freshStudent(seed: UInt64 = 0) throws -> TrainableModel {
        var graph = Self.studentGraph
        graph.nodes = graph.nodes.map { node in
            var n = node
            if n.name == "fc1" { n.attrs["out_features"] = 64 }
            if n.name == "fc2" { n.attrs["out_features"] = 10 }
            return n
        }
        return try TrainableModel(graph: graph, tensors: TensorMap(), initSeed: seed)
    }

    func config(epochs: Int, checkpoint: String? = nil, lr: Float = 1e-3) throws -> TrainerConfiguration {
        try TrainerConfiguration(epochs: epochs, batchSize: 64, seed: 0, objective: .crossEntropy, optimizer: try Adam(),
                                 learningRate: try LearningRatePlan(base: lr), checkpointPath: checkpoint)
    }

    func temporaryPath(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ms-train-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    /// A batch split between threads gives the whole batch's loss and gradients (sums in another
    /// order: close, not equal), for cross-entropy and KD; graphs with batchnorm are never split.
    func testSplitStepEqualsWholeBatchStep() throws {
        var model = try freshStudent(seed: 3)
        let train = try data("train", first: 70)
        let teacher = FloatArray(shape: [70, 10], values: randomValues(700, seed: 9))
        let kd = try TrainingData(x: train.x, labels: train.labels, teacherLogits: teacher)
        let indices = Array((0..<70).reversed())[3..<68]  // 65 rows: shares of 32 and 33
        for objective in [TrainingObjective.crossEntropy, .distillation(temperature: 4, alpha: 0.9), .mse] {
            let whole = try Trainer.step(&model, data: kd, indices: indices, batchRows: nil, seed: 1, objective: objective,
                                         inputName: "x", outputName: "logits")
            let split = try Trainer.splitStep(model, data: kd, indices: indices, workers: 2, seed: 1, objective: objective,
                                              inputName: "x", outputName: "logits")
            XCTAssertEqual(split.loss, whole.loss, accuracy: Double(Self.splitTolerance) * abs(whole.loss), "\(objective)")
            XCTAssertEqual(split.correct, whole.correct)
            XCTAssertEqual(Set(split.gradients.keys), Set(model.parameterNames))
            for (name, g) in whole.gradients {
                XCTAssertNil(closenessFailure(split.gradients[name]!.values, g.values, rtol: Self.splitTolerance, atol: Self.splitTolerance),
                             "\(objective) \(name)")
            }
        }
        // 64·64 + 64·10 multiply-adds per sample: split from 4·2²⁰ per step, i.e. batches of 886 and more
        XCTAssertEqual(model.multiplyAddsPerSample, 64 * 64 + 64 * 10)
        XCTAssertEqual(Trainer.dataParallelWorkers(model, threads: 2, batchSize: 886), 2)
        XCTAssertEqual(Trainer.dataParallelWorkers(model, threads: 2, batchSize: 885), 1)
        XCTAssertEqual(Trainer.dataParallelWorkers(model, threads: 1, batchSize: 886), 1)
        var withNorm = model.graph
        withNorm.nodes.append(Node(name: "bn", op: .batchnorm2d, inputs: ["logits"], output: "y"))
        XCTAssertFalse(Trainer.mixesSamples(model.graph))
        XCTAssertTrue(Trainer.mixesSamples(withNorm))
    }

    /// f32 sums of 32 + 33 rows vs 65 rows in one product.
    static let splitTolerance: Float = 1e-5

    func randomValues(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SeededRNG(seed: seed)
        return (0..<count).map { _ in rng.uniform(-3, 3) }
    }

    func testInitialisationWithoutWeights() throws {
        let model = try freshStudent()
        XCTAssertEqual(model.parameters["fc1.weight"]?.shape, [64, 64])
        XCTAssertEqual(model.parameters["fc2.bias"]?.shape, [10])
        XCTAssertEqual(model.initialized, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
        XCTAssertTrue(model.parameters["fc1.weight"]!.values.allSatisfy { abs($0) <= 0.125 })  // 1/√64
        XCTAssertThrowsError(try TrainableModel(graph: Self.studentGraph, tensors: TensorMap())) {
            XCTAssertEqual("\($0)", "node 'fc1': param 'weight' (fc1.weight) is absent and its shape cannot be inferred (give the weights or the 'out_features'/'out_channels' attribute)")
        }
    }

    func testLearnsDigits() throws {
        let result = try Trainer(configuration: try config(epochs: 5, lr: 3e-3))
            .run(model: try freshStudent(), data: try data("train", first: 600), eval: try data("test", first: 200))
        XCTAssertGreaterThan(result.bestAccuracy ?? 0, 0.85)
        XCTAssertEqual(result.history.count, 5)
        XCTAssertLessThan(result.history.last!.loss, result.history.first!.loss)
    }

    struct Interrupted: Error {}

    /// Killed mid-epoch 2 (after epoch 1's checkpoint), resumed: the final weights equal an uninterrupted run's, bit for bit.
    func testResumeAfterInterruptionEqualsUninterruptedRun() throws {
        let train = try data("train", first: 300), eval = try data("test", first: 100)
        let reference = try Trainer(configuration: try config(epochs: 3)).run(model: try freshStudent(), data: train, eval: eval)

        let checkpoint = temporaryPath("run.ckpt")
        XCTAssertThrowsError(try Trainer(configuration: try config(epochs: 3, checkpoint: checkpoint))
            .run(model: try freshStudent(), data: train, eval: eval, progress: { p in if p.epoch == 2 && p.step == 3 { throw Interrupted() } }))
        XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint))
        var epochsSeen: [Int] = []
        let resumed = try Trainer(configuration: try config(epochs: 3, checkpoint: checkpoint))
            .run(model: try freshStudent(), data: train, eval: eval, resumeFrom: checkpoint, epochEnd: { epochsSeen.append($0.epoch) })
        XCTAssertEqual(epochsSeen, [2, 3])
        for name in reference.finalModel.parameterNames {
            XCTAssertEqual(resumed.finalModel.parameters[name], reference.finalModel.parameters[name], name)
            XCTAssertEqual(resumed.bestModel.parameters[name], reference.bestModel.parameters[name], name)
        }
        XCTAssertEqual(resumed.history.map(\.loss), reference.history.map(\.loss))
        XCTAssertEqual(resumed.bestAccuracy, reference.bestAccuracy)
    }

    func throwing(_ body: () throws -> Void) -> Error? {
        do { try body(); return nil } catch { return error }
    }

    func testResumeRefusesAnotherRunsCheckpoint() throws {
        let checkpoint = temporaryPath("a.ckpt")
        let train = try data("train", first: 100)
        _ = try Trainer(configuration: try config(epochs: 1, checkpoint: checkpoint)).run(model: try freshStudent(), data: train)
        let error = throwing { _ = try Trainer(configuration: try self.config(epochs: 2, lr: 0.01)).run(model: try self.freshStudent(), data: train, resumeFrom: checkpoint) }
        XCTAssertEqual(error.map { "\($0)" }, "checkpoint \(checkpoint): was written by a run with other options, model or data")
    }

    /// One flipped bit anywhere in the tensor data (here: the last byte of the file) makes `--resume` refuse the checkpoint.
    func testResumeRefusesADamagedCheckpoint() throws {
        let checkpoint = temporaryPath("d.ckpt")
        let train = try data("train", first: 100)
        let configuration = try config(epochs: 2, checkpoint: checkpoint)
        XCTAssertThrowsError(try Trainer(configuration: configuration).run(model: try freshStudent(), data: train,
                                                                           progress: { p in if p.epoch == 2 { throw Interrupted() } }))
        var bytes = try XCTUnwrap(FileManager.default.contents(atPath: checkpoint))
        bytes[bytes.count - 1] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: checkpoint))
        let error = throwing { _ = try Trainer(configuration: configuration).run(model: try self.freshStudent(), data: train, resumeFrom: checkpoint) }
        XCTAssertEqual(error.map { "\($0)" }, "checkpoint \(checkpoint): is damaged (checksum mismatch)")
    }

    func testPrunedWeightsStayExactlyZero() throws {
        var base = try freshStudent()
        var mask = Tensor(zeros: .bool, [64, 64])
        mask.withUnsafeMutableBufferPointer(of: UInt8.self) { m in for i in m.indices where i % 3 != 0 { m[i] = 1 } }
        var masks = TensorMap()
        masks["fc1.weight"] = mask
        base = try TrainableModel(graph: base.graph, tensors: base.tensors, masks: masks)
        let result = try Trainer(configuration: try config(epochs: 2)).run(model: base, data: try data("train", first: 200))
        let w = result.finalModel.parameters["fc1.weight"]!.values
        XCTAssertEqual(w.indices.filter { $0 % 3 == 0 }.filter { w[$0] != 0 }.count, 0, "pruned weights must stay exactly zero")
        XCTAssertGreaterThan(w.indices.filter { $0 % 3 != 0 && w[$0] != base.parameters["fc1.weight"]!.values[$0] }.count, 1000)
        XCTAssertEqual(result.finalModel.maskTensors["fc1.weight"]?.bitwiseEqual(mask), true)
    }

    func testNaNLossStopsAndKeepsLastGoodCheckpoint() throws {
        let checkpoint = temporaryPath("nan.ckpt")
        let clean = try data("train", first: 128)
        _ = try Trainer(configuration: try config(epochs: 1, checkpoint: checkpoint)).run(model: try freshStudent(), data: clean)
        var poisoned = clean
        for i in 0..<poisoned.count { poisoned.x.values[i * 64 + 5] = .nan }
        let error = throwing { _ = try Trainer(configuration: try self.config(epochs: 2, checkpoint: checkpoint))
            .run(model: try self.freshStudent(), data: poisoned, resumeFrom: checkpoint) }
        XCTAssertEqual(error.map { "\($0)" }, "loss became NaN or infinite at epoch 2, step 1 (try a lower learning rate); last good checkpoint kept at \(checkpoint)")
        XCTAssertEqual(try Checkpoint.read(from: checkpoint).state.epochsDone, 1)
    }

    func testBadInput() throws {
        let trainer = Trainer(configuration: try config(epochs: 1))
        let student = try freshStudent()
        let wrongShape = try TrainingData(x: FloatArray(zeros: [4, 65]), labels: [0, 1, 2, 3])
        XCTAssertEqual(throwing { _ = try trainer.run(model: student, data: wrongShape) }.map { "\($0)" },
                       "input 'x': data has shape [4, 65] but the graph input is [-1, 64]")
        let badLabel = try TrainingData(x: FloatArray(zeros: [3, 64]), labels: [0, 10, 2])
        XCTAssertEqual(throwing { _ = try trainer.run(model: student, data: badLabel) }.map { "\($0)" },
                       "label 10 at sample 1 is outside 0..<10 (the model has 10 outputs)")
        let kd = Trainer(configuration: try TrainerConfiguration(epochs: 1, batchSize: 2, seed: 0, objective: .distillation(temperature: 4, alpha: 0.9),
                                                                 optimizer: try Adam(), learningRate: try LearningRatePlan(base: 1e-3)))
        let mismatched = try TrainingData(x: FloatArray(zeros: [3, 64]), teacherLogits: FloatArray(zeros: [3, 12]))
        XCTAssertEqual(throwing { _ = try kd.run(model: student, data: mismatched) }.map { "\($0)" },
                       "teacher has 12 outputs per sample but the student has 10")
        XCTAssertThrowsError(try TrainerConfiguration(epochs: 1, batchSize: 2, seed: 0, objective: .distillation(temperature: 4, alpha: 1.5),
                                                      optimizer: try Adam(), learningRate: try LearningRatePlan(base: 1e-3))) {
            XCTAssertEqual("\($0)", "--alpha must be in [0, 1], got 1.5")
        }
    }
}
