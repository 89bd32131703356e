import Foundation
import ModelFormats
import ONNXProto
import SwiftProtobuf
import TensorCore

/// A `ModelPackage` → an `.onnx` file (docs/onnx.md, "Export"), the importer's counterpart: one ONNX
/// node (or a short fixed pattern) per node, the op names from `ONNXOpNames`, every tensor an
/// initializer. INT8 layers become QDQ: the integer weight with its scales and a DequantizeLinear
/// (per channel on the weight's output axis), the input activation through a QuantizeLinear /
/// DequantizeLinear pair with its `input_quant`, and the bias as int32 at scale `s_x·s_w[c]` — the
/// integers the runtime adds (docs/quantization.md). Pruned weights are their dense zeros; the
/// provenance goes into `metadata_props`.
public enum ONNXExport {
    /// The opset of the default domain written (within what `ONNXImport` reads back).
    public static let opset = 17
    static let irVersion: Int64 = 8
    /// Protobuf caps one message at 2 GiB; the exporter writes no external data.
    static let maxBytes = Int(Int32.max) - (1 << 20)

    /// Writes `package` to `path` atomically (nothing on error; an existing file only with `force`).
    /// An op with no ONNX equivalent is refused, naming the node and the op, located at the package's source.
    public static func write(_ package: ModelPackage, to path: String, force: Bool) throws {
        if !force && FileManager.default.fileExists(atPath: path) { throw FormatError.outputExists(path: path) }
        let model: Onnx_ModelProto
        do { model = try proto(package) } catch let error as GraphError {
            throw GraphError.located(path: package.source.isEmpty ? path : package.source, error: error)
        }
        let tensorBytes = model.graph.initializer.reduce(0) { $0 + $1.rawData.count }
        guard tensorBytes <= maxBytes else {
            throw FormatError.writeFailed(path: path, reason: "\(tensorBytes) bytes of tensors exceed protobuf's 2 GiB limit for one ONNX file")
        }
        let bytes: [UInt8] = try model.serializedBytes()
        try AtomicFile.write(bytes, to: path, force: force)
    }

    /// The ONNX model of `package` (no file written).
    public static func serialized(_ package: ModelPackage) throws -> Data {
        try proto(package).serializedBytes()
    }

    static func proto(_ package: ModelPackage) throws -> Onnx_ModelProto {
        let writer = try ONNXGraphWriter(package)
        var graph = try writer.build()
        graph.name = package.graph.name
        var model = Onnx_ModelProto()
        model.irVersion = irVersion
        model.producerName = "modelsmith"
        model.producerVersion = ModelSmithVersion.current
        model.opsetImport = [Onnx_OperatorSetIdProto.with { $0.domain = ""; $0.version = Int64(opset) }]
        model.graph = graph
        model.metadataProps = metadata(package)
        return model
    }

    /// `modelsmith.provenance`: the package's provenance plus this conversion (step `convert`,
    /// format, opset, source file name) as JSON with sorted keys, so one package gives one file.
    static func metadata(_ package: ModelPackage) -> [Onnx_StringStringEntryProto] {
        var provenance = package.provenance
        var step = ProvenanceStep(step: "convert", options: ["format": .string("onnx"), "opset": .number(Double(opset))])
        let source = URL(fileURLWithPath: package.source).lastPathComponent
        if !package.source.isEmpty { step.options["from"] = .string(source) }
        provenance.steps.append(step)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = (try? encoder.encode(provenance)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        var entries = [("modelsmith.provenance", json), ("modelsmith.version", ModelSmithVersion.current)]
        if !package.source.isEmpty { entries.append(("modelsmith.source", source)) }
        return entries.map { entry in Onnx_StringStringEntryProto.with { $0.key = entry.0; $0.value = entry.1 } }
    }
}
