import Foundation
import Kernels
import ModelFormats
import ModelGraph
import TensorCore
import Training

/// `modelsmith-bench train [--data digits.npz] [--epochs 5] [--models mlp,kd,cnn] [--threads 1,2]`: training
/// throughput (samples/s over whole epochs: batching, forward, loss, backward, Adam step) of the
/// 64-512-512-10 MLP (cross-entropy), the 64-64-10 student distilled from cached teacher logits (T 4,
/// α 0.9) and the small CNN (conv16-relu-conv32-relu-maxpool-fc64-relu-fc10 on [N,1,8,8]), batch 64;
/// the same conditions `Benchmarks/pytorch_train.py` uses to time PyTorch.
func trainBenchmark(_ args: [String]) throws {
    var dataPath = "Examples/digits/digits.npz"
    var epochs = 5
    var models = ["mlp", "kd", "cnn"]
    var threadCounts = [1, 2]
    var i = 0
    while i < args.count {
        if args[i] == "--data", i + 1 < args.count { dataPath = args[i + 1]; i += 1 }
        else if args[i] == "--epochs", i + 1 < args.count, let e = Int(args[i + 1]) { epochs = e; i += 1 }
        else if args[i] == "--models", i + 1 < args.count { models = args[i + 1].split(separator: ",").map(String.init); i += 1 }
        else if args[i] == "--threads", i + 1 < args.count { threadCounts = args[i + 1].split(separator: ",").compactMap { Int($0) }; i += 1 }
        i += 1
    }
    let digits = try WeightReaders.read(dataPath).tensors
    guard let x = digits["x_train"], let y = digits["y_train"], let image = digits["x_train_img"] else {
        throw TrainingError.badInput(name: dataPath, reason: "needs x_train, y_train and x_train_img")
    }
    func linear(_ name: String, _ input: String, _ output: String, _ out: Int) -> Node {
        Node(name: name, op: .linear, inputs: [input], output: output,
             params: ["weight": "\(name).weight", "bias": "\(name).bias"], attrs: ["out_features": .number(Double(out))])
    }
    let mlp = Graph(name: "teacher", inputs: [ValueInfo(name: "x", shape: [-1, 64])], outputs: ["logits"], nodes: [
        linear("fc1", "x", "h1", 512), Node(name: "r1", op: .relu, inputs: ["h1"], output: "a1"),
        linear("fc2", "a1", "h2", 512), Node(name: "r2", op: .relu, inputs: ["h2"], output: "a2"),
        linear("fc3", "a2", "logits", 10),
    ])
    func conv(_ name: String, _ input: String, _ output: String, _ out: Int) -> Node {
        Node(name: name, op: .conv2d, inputs: [input], output: output, params: ["weight": "\(name).weight", "bias": "\(name).bias"],
             attrs: ["out_channels": .number(Double(out)), "kernel": 3, "padding": 1])
    }
    let cnn = Graph(name: "cnn", inputs: [ValueInfo(name: "x", shape: [-1, 1, 8, 8])], outputs: ["logits"], nodes: [
        conv("conv1", "x", "c1", 16), Node(name: "r1", op: .relu, inputs: ["c1"], output: "a1"),
        conv("conv2", "a1", "c2", 32), Node(name: "r2", op: .relu, inputs: ["c2"], output: "a2"),
        Node(name: "pool", op: .maxpool2d, inputs: ["a2"], output: "p", attrs: ["kernel": 2, "stride": 2]),
        Node(name: "flat", op: .flatten, inputs: ["p"], output: "f"),
        linear("fc1", "f", "h", 64), Node(name: "r3", op: .relu, inputs: ["h"], output: "a3"),
        linear("fc2", "a3", "logits", 10),
    ])
    let student = Graph(name: "student", inputs: [ValueInfo(name: "x", shape: [-1, 64])], outputs: ["logits"], nodes: [
        linear("fc1", "x", "h1", 64), Node(name: "r1", op: .relu, inputs: ["h1"], output: "a1"),
        linear("fc2", "a1", "logits", 10),
    ])
    // The KD student learns from the teacher's logits, computed once (as `distill` does) by a
    // 64-512-512-10 model with PyTorch-default random weights: throughput does not depend on them.
    DNNL.setThreads(threadCounts.first ?? 1)  // before oneDNN's first call: no idle OpenMP worker spinning in 1-thread runs
    let teacher = try TrainableModel(graph: mlp, tensors: TensorMap(), initSeed: 1)
    let teacherLogits = try teacher.infer(["x": FloatArray(x)])["logits"]!
    struct Row: Codable { var model: String; var threads: Int; var samplesPerSecond: Double; var finalLoss: Double }
    var rows: [Row] = []
    let all: [(key: String, name: String, graph: Graph, input: Tensor, objective: TrainingObjective)] = [
        ("mlp", "64-512-512-10", mlp, x, .crossEntropy),
        ("kd", "64-64-10 KD", student, x, .distillation(temperature: 4, alpha: 0.9)),
        ("cnn", "small-cnn", cnn, image, .crossEntropy),
    ]
    for (_, name, graph, input, objective) in all.filter({ models.contains($0.key) }) {
        let data = try TrainingData(x: FloatArray(input), labels: y.integers,
                                    teacherLogits: objective == .crossEntropy ? nil : teacherLogits)
        for threads in threadCounts {
            DNNL.setThreads(threads)
            let model = try TrainableModel(graph: graph, tensors: TensorMap(), initSeed: 0)
            let config = try TrainerConfiguration(epochs: epochs, batchSize: 64, seed: 0, objective: objective,
                                                  optimizer: try Adam(), learningRate: try LearningRatePlan(base: 1e-3))
            let start = Date()
            let result = try Trainer(configuration: config).run(model: model, data: data)
            let seconds = Date().timeIntervalSince(start)
            let row = Row(model: name, threads: threads, samplesPerSecond: Double(data.count * epochs) / seconds,
                          finalLoss: result.history.last?.loss ?? .nan)
            rows.append(row)
            print(String(format: "%-14@ threads %d  %8.0f samples/s  (loss %.4f after %d epochs)",
                         name as NSString, threads, row.samplesPerSecond, row.finalLoss, epochs))
        }
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(rows), as: UTF8.self))
}
