import ArgumentParser
import Foundation
import ModelFormats
import ModelGraph
import ModelRuntime
import TensorCore
import Training

/// `modelsmith distill`: train a student on a teacher's outputs (Hinton KD or MSE on logits).
struct DistillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distill",
        abstract: "Train a student from a teacher's logits (knowledge distillation) and write an artifact.",
        discussion: """
        Loss (kd): alpha·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1−alpha)·CE(s, y), KL averaged over \
        the batch (PyTorch's batchmean); without labels alpha is 1. The teacher is any package or \
        artifact the runtime runs (INT8 or pruned too); its logits are computed once and cached; \
        or --teacher-outputs gives logits written by teacher-outputs (shards, matched by row digest). \
        The student is a model.json (initialised as PyTorch does) or a package/artifact; pruning \
        masks stay: pruned weights remain exactly zero.

        Examples:
          modelsmith distill --teacher teacher.msa --student Examples/digits/student.json --data train.npz \\
              --temperature 4 --alpha 0.9 --epochs 30 --optimizer adam --lr 1e-3 --batch 64 --eval test.npz --seed 0 -o student.msa
          modelsmith distill --teacher teacher.msa --student teacher-p90.msa --data train.npz --eval test.npz -o recovered.msa
          modelsmith distill --teacher-outputs 'logits/part-*.npz' --student Examples/digits/student.json --data train.npz -o student.msa
          modelsmith distill ... --resume student.msa.ckpt
        """)

    @Option(name: .long, help: ArgumentHelp("The teacher: package or .msa artifact.", valueName: "model"))
    var teacher: String?

    @Option(name: .customLong("teacher-outputs"), parsing: .upToNextOption,
            help: ArgumentHelp("Instead of --teacher: its outputs written by teacher-outputs (quoted globs expand).", valueName: "part.npz"))
    var teacherOutputs: [String] = []

    @Option(name: .customLong("teacher-graph"), help: ArgumentHelp("A model.json for a teacher given as bare weights.", valueName: "model.json"))
    var teacherGraph: String?

    @Option(name: .long, help: ArgumentHelp("The student: model.json, package or .msa artifact.", valueName: "model"))
    var student: String

    @Option(name: .customLong("student-graph"), help: ArgumentHelp("A model.json for a student given as bare weights.", valueName: "model.json"))
    var studentGraph: String?

    @Option(name: .long, help: "kd (Hinton) or mse (on logits).")
    var loss: LossChoice = .kd

    @Option(name: .long, help: "Softmax temperature T of the kd loss.")
    var temperature: Float = 4

    @Option(name: .long, help: "Weight of the soft (teacher) term; 1 − alpha weighs the label term.")
    var alpha: Float = 0.9

    @Flag(name: .customLong("no-labels"), help: "Ignore labels in the data (pure distillation, alpha = 1).")
    var noLabels = false

    @OptionGroup var training: TrainingOptions
    @OptionGroup var common: CommonOptions

    enum LossChoice: String, ExpressibleByArgument, CaseIterable { case kd, mse }

    func validate() throws { try training.check() }

    func run() throws {
        let console = Console(common)
        let studentModel = try TrainingOptions.loadTrainable(student, graph: studentGraph, seed: training.seed, strictDTypes: training.strictDTypes, console: console)
        let dataset = try ModelInputOptions.loadDataset(training.data, xKey: training.xKey, yKey: noLabels ? nil : training.yKey,
                                                        strictDTypes: training.strictDTypes, console: console)
        var options: [String: JSONValue] = [:]
        let logits: FloatArray
        if let teacher {
            guard teacherOutputs.isEmpty else { throw ValidationError("give --teacher or --teacher-outputs, not both") }
            let teacherPackage = try ModelInputOptions.loadPackage(path: teacher, graph: teacherGraph, strictDTypes: training.strictDTypes, console: console)
            console.detail("computing teacher logits once for \(dataset.count) samples")
            logits = FloatArray(try TeacherOutputs.compute(teacher: teacherPackage, data: dataset,
                                                           options: SessionOptions(maxBatch: 256, threads: training.threads)).logits)
            options["teacher"] = .string(teacher)
            if let bytes = FileManager.default.contents(atPath: teacher) {
                options["teacher_digest"] = .string(bytes.withUnsafeBytes { SHA256.hex($0) })
            }
        } else {
            guard !teacherOutputs.isEmpty else { throw ValidationError("give the teacher with --teacher, or its outputs with --teacher-outputs") }
            let paths = try PathPatterns.expand(teacherOutputs)
            let recorded = try TeacherOutputs.load(paths: paths)
            logits = try recorded.logits(forRows: dataset.rowDigests(), source: teacherOutputs.joined(separator: " "))
            options["teacher_outputs"] = .array(paths.map { .string($0) })
            options["teacher_model_digest"] = .string(recorded.teacherDigest)
        }
        let data = try TrainingData(x: FloatArray(dataset.x), labels: dataset.labels, teacherLogits: logits)
        let objective: TrainingObjective = loss == .kd ? .distillation(temperature: temperature, alpha: alpha) : .mse
        let result = try training.train(studentModel, data: data, objective: objective, console: console, common: common)
        options["loss"] = .string(loss.rawValue)
        options["labels"] = .bool(dataset.labels != nil)
        if loss == .kd { options["temperature"] = .number(Double(temperature)); options["alpha"] = .number(Double(alpha)) }
        try training.write(result, student: studentModel, step: "distill", extraOptions: options, source: student,
                           console: console, common: common)
    }
}
