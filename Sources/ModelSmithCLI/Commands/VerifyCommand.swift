import ArgumentParser
import Foundation
import ModelFormats
import ModelGraph
import ModelRuntime
import TensorCore

/// `modelsmith verify`: integrity, then agreement with a reference model on the same data.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a model's integrity and that it agrees with a reference model.",
        discussion: """
        Loading an .msa artifact verifies every tensor's SHA-256. Then both models run on the \
        same inputs; the report gives, per output, the max and mean absolute error, the cosine \
        similarity of the whole output and per sample (worst and mean), plus — when the first \
        output is class scores [N, classes] — top-1 agreement and, when the data has labels, both \
        accuracies. A model with several inputs reads one array per input from --data, keyed by \
        the input's name. Exit status 1 when a threshold is broken: --atol (max abs error, off \
        unless given), --min-cosine (0.99), --min-sample-cosine (off unless given), \
        --min-agreement (0.98, class scores only), --max-accuracy-drop (1.0 percentage point).

        Examples:
          modelsmith verify teacher.msa --reference teacher.tar.zst --data test.npz
          modelsmith verify teacher-int8.msa --reference teacher.msa --data test.npz --min-agreement 0.99 --json
          modelsmith verify encoder.msa --reference encoder.onnx --data tokens.npz --min-sample-cosine 0.9999
        """)

    @OptionGroup var model: ModelInputOptions
    @Option(name: .long, help: "The reference model (any input format).") var reference: String
    @Option(name: .long, help: ArgumentHelp("A graph for the reference, if it is bare weights.", valueName: "model.json")) var referenceGraph: String?
    @Option(name: .long, help: ArgumentHelp("The .npz with inputs (and labels).", valueName: "npz")) var data: String
    @Option(name: .long, help: "The array of --data holding the inputs.") var inputKey = "x"
    @Option(name: .long, help: "The array of --data holding integer labels.") var labelKey = "y"
    @Option(name: .long, help: "Largest allowed max absolute error of the outputs (off unless given).") var atol: Double?
    @Option(name: .long, help: "Smallest allowed cosine similarity of each output.") var minCosine = 0.99
    @Option(name: .long, help: "Smallest allowed cosine similarity of any one sample's output (off unless given).") var minSampleCosine: Double?
    @Option(name: .long, help: "Smallest allowed top-1 agreement.") var minAgreement = 0.98
    @Option(name: .long, help: "Largest allowed accuracy drop versus the reference, in percentage points (labels needed).") var maxAccuracyDrop = 1.0
    @Option(name: .long, help: "Samples per run.") var batch = 64
    @Option(name: .long, help: "Kernel threads.") var threads = 1
    @OptionGroup var common: CommonOptions

    struct Check { let name: String; let value: Double; let threshold: Double; let passed: Bool }

    func run() throws {
        let console = Console(common)
        let package = try model.loadPackage(console: console)
        let integrity = model.model.lowercased().hasSuffix(".msa")
            ? "ok: \(package.tensors.count + package.masks.count) tensors match their SHA-256" : "not an artifact (no checksums)"
        let referencePackage = try ModelInputOptions.loadPackage(path: reference, graph: referenceGraph, limits: model.readLimits(),
                                                                 strictDTypes: model.strictDTypes, onnx: model.onnxOptions(), console: console)
        let dataset = try RuntimeSupport.loadDataset(data, xKey: inputKey, yKey: labelKey, for: package.graph,
                                                     strictDTypes: model.strictDTypes, console: console)
        try dataset.checkShapes(against: referencePackage.graph, source: data)
        let options = SessionOptions(maxBatch: batch, threads: threads)
        let session = try Session(package: package, options: options)
        let referenceSession = try Session(package: referencePackage, options: options)
        guard session.outputNames.count == referenceSession.outputNames.count else {
            throw RuntimeError.badOption("the model has \(session.outputNames.count) outputs, the reference \(referenceSession.outputNames.count)")
        }
        let outputs = try Evaluation.outputs(session: session, dataset: dataset, batch: batch)
        let referenceOutputs = try Evaluation.outputs(session: referenceSession, dataset: dataset, batch: batch)

        var perOutput: [(String, Evaluation.Comparison)] = []
        for (name, referenceName) in zip(session.outputNames, referenceSession.outputNames) {
            let a = outputs[name]!, b = referenceOutputs[referenceName]!
            guard a.shape == b.shape else {
                throw RuntimeError.badOption("output '\(name)' has shape \(a.shape), the reference's '\(referenceName)' has \(b.shape)")
            }
            perOutput.append((name, Evaluation.compare(a, b)))
        }
        let first = perOutput[0].1
        var checks: [Check] = []
        if let atol {
            let worst = perOutput.map(\.1.maxAbsError).max()!
            checks.append(Check(name: "max_abs_error", value: worst, threshold: atol, passed: worst <= atol))
        }
        let cosine = perOutput.map(\.1.cosine).min()!
        checks.append(Check(name: "cosine", value: cosine, threshold: minCosine, passed: cosine >= minCosine))
        if let minSampleCosine {
            let worst = perOutput.map(\.1.minSampleCosine).min()!
            checks.append(Check(name: "sample_cosine", value: worst, threshold: minSampleCosine, passed: worst >= minSampleCosine))
        }
        // Top-1 agreement and accuracy mean something only for class scores.
        let classScores = outputs[session.outputNames[0]]!.shape.rank == 2
        if classScores {
            checks.append(Check(name: "top1_agreement", value: first.top1Agreement, threshold: minAgreement, passed: first.top1Agreement >= minAgreement))
        }
        var accuracy: (model: Double, reference: Double)?
        if classScores, let labels = dataset.labels {
            let a = Evaluation.accuracy(logits: outputs[session.outputNames[0]]!, labels: labels)
            let r = Evaluation.accuracy(logits: referenceOutputs[referenceSession.outputNames[0]]!, labels: labels)
            accuracy = (a, r)
            let dropPoints = (r - a) * 100  // percentage points, as every --max-accuracy-drop
            checks.append(Check(name: "accuracy_drop_points", value: dropPoints, threshold: maxAccuracyDrop, passed: dropPoints <= maxAccuracyDrop))
        }
        let passed = checks.allSatisfy(\.passed)

        if common.json {
            var object: [String: JSONValue] = [
                "model": .string(model.model), "reference": .string(reference), "data": .string(data),
                "samples": .int(dataset.count), "integrity": .string(integrity), "passed": .bool(passed),
                "top1_agreement": classScores ? .number(first.top1Agreement) : .null,
                "outputs": .array(perOutput.map { name, c in
                    .object(["name": .string(name), "max_abs_error": .number(c.maxAbsError),
                             "mean_abs_error": .number(c.meanAbsError), "cosine": .number(c.cosine),
                             "min_sample_cosine": .number(c.minSampleCosine), "mean_sample_cosine": .number(c.meanSampleCosine)])
                }),
                "checks": .array(checks.map { .object(["name": .string($0.name), "value": .number($0.value),
                                                       "threshold": .number($0.threshold), "passed": .bool($0.passed)]) }),
            ]
            if let accuracy { object["accuracy"] = .object(["model": .number(accuracy.model), "reference": .number(accuracy.reference)]) }
            try JSONOutput.print(JSONValue.object(object))
        } else {
            console.output("integrity: \(integrity)")
            var table = TextTable([.init("output"), .init("max abs error", .right), .init("mean abs error", .right), .init("cosine", .right),
                                   .init("sample cosine (min / mean)", .right)])
            for (name, c) in perOutput {
                table.add([name, String(format: "%.6g", c.maxAbsError), String(format: "%.6g", c.meanAbsError), String(format: "%.6f", c.cosine),
                           String(format: "%.6f / %.6f", c.minSampleCosine, c.meanSampleCosine)])
            }
            console.table(table.render())
            if classScores {
                console.output("top-1 agreement \(String(format: "%.4f", first.top1Agreement)) over \(dataset.count) samples")
            } else {
                console.output("\(dataset.count) samples; top-1 agreement not applicable (the first output is not [N, classes])")
            }
            if let accuracy {
                console.output("accuracy \(String(format: "%.4f", accuracy.model)) (reference \(String(format: "%.4f", accuracy.reference)))")
            }
            for check in checks where !check.passed {
                console.output("FAILED \(check.name): \(String(format: "%.6g", check.value)) vs threshold \(String(format: "%.6g", check.threshold))")
            }
            if passed { console.output("verify: passed") }
        }
        if !passed {
            let failed = checks.filter { !$0.passed }.map { "\($0.name) \(String(format: "%.6g", $0.value)) (threshold \(String(format: "%.6g", $0.threshold)))" }
            throw CheckFailure("verify: " + failed.joined(separator: ", "))
        }
    }
}
