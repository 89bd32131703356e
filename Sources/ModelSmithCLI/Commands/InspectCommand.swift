import ArgumentParser
import Foundation
import ModelFormats
import ModelGraph
import ModelRuntime

/// `modelsmith inspect`: the graph with shapes and sizes, unused tensors, an artifact's
/// encodings and provenance, and totals.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a model's graph, shapes, parameter sizes, sparsity and storage.",
        discussion: """
        Lists every node with its op, input and output shapes (the batch dimension as N), \
        parameter count, dtype, bytes and sparsity (the fraction of zeros in its weight); tensors \
        that no node uses; for an .msa artifact, how each tensor is stored and the provenance \
        steps; for an .onnx model, its IR version, opsets, producer and declared inputs and \
        outputs with symbolic dimensions named; and totals (parameters, bytes in memory, bytes \
        on disk, compression ratio). \
        Bare weights without a graph are listed tensor by tensor.

        Examples:
          modelsmith inspect Examples/digits/teacher.tar.zst
          modelsmith inspect resnet18.onnx
          modelsmith inspect weights.npz --graph model.json --json
        """)

    @OptionGroup var input: ModelInputOptions
    @OptionGroup var common: CommonOptions

    func run() throws {
        let read = try input.readContents(console: Console(common))
        // The graph is parsed and validated once (the package), bare weights only have their masks checked.
        let package = read.graphJSON != nil || input.graph != nil ? try ModelPackage(contents: read, graphPath: input.graph, limits: try input.readLimits()) : nil
        let bare = package == nil ? try ModelPackage.validatedContents(read, graphPath: nil) : nil
        // NaN/Inf weights are worth knowing before anything else (docs/robustness.md, "Numerics").
        for (name, count) in NonFiniteScan.scan(package?.tensors ?? bare!.tensors) {
            Console(common).warning("tensor '\(name)' holds \(count.summary)")
        }
        var summary: ModelSummary
        if let package {
            summary = try ModelSummary(package: package, path: input.model)
            // The products this CPU would run (docs/runtime.md, "CPU dispatch"). A package that does
            // not plan is still shown; `run`/`verify` report why it does not.
            if package.tensors.contains(where: { $0.tensor.dtype == .i8 }) {
                let session = try? Session(package: package, options: SessionOptions(maxBatch: 1))
                summary.int8Kernels = (try? session?.int8Kernels(batch: 1)) ?? []
                summary.int8Placement = (try? session?.int8Placement(batch: 1)) ?? []
            }
        } else {
            summary = ModelSummary(contents: bare!, graph: nil, path: input.model)
        }
        summary.stored = try storedTensors()
        if ONNXImport.canRead(input.model) { summary.onnx = try ONNXImport.summary(path: input.model, limits: input.readLimits()) }
        if common.json {
            try JSONOutput.print(summary.json)
        } else {
            Console(common).table(summary.table)
        }
    }

    /// How an artifact stores its tensors (empty for other inputs).
    private func storedTensors() throws -> [ModelSummary.StoredTensor] {
        guard ArtifactReader().canRead(URL(fileURLWithPath: input.model)) else { return [] }
        return try Artifact.index(at: input.model, limits: input.readLimits()).tensors.map { entry in
            let encoding = entry.transform == .none ? entry.encoding.rawValue : "\(entry.encoding.rawValue)+\(entry.transform.rawValue)"
            return ModelSummary.StoredTensor(name: entry.name, role: entry.role.rawValue, encoding: encoding,
                                             storedBytes: entry.storedBytes, decodedBytes: entry.decodedBytes)
        }
    }
}
