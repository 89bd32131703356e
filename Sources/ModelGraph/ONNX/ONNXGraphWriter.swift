import Foundation
import ONNXProto
import TensorCore

/// Builds the ONNX graph of one package for `ONNXExport` (docs/onnx.md, "Export"): names kept where
/// they are free (ONNX has one namespace for values and initializers, the package two), each
/// tensor written once, each quantized activation quantized once per set of parameters.
///
/// Values between nodes are f32, as the runtime holds them (docs/ops.md, "Values"): integer and
/// bool graph inputs are cast to f32 on entry, and casts to int64/bool are written only where an
/// ONNX op needs them (Gather's indices, Where's condition, Not) and back after comparisons.
final class ONNXGraphWriter {
    let package: ModelPackage
    /// Every value's shape at batch 1 (ranks and per-sample dims for the ops that need them).
    let shapes: [String: Shape]
    private var used = Set<String>()
    private var nodes: [Onnx_NodeProto] = []
    private var initializers: [Onnx_TensorProto] = []
    /// Package tensor name → the ONNX value holding it as f32 (dequantized when quantized).
    private var params: [String: String] = [:]
    /// (value, activation parameters) → the dequantized value the INT8 readers take.
    private var quantizedActivations: [String: String] = [:]
    /// Integer and bool graph inputs → their f32 cast, which the nodes read.
    private var castInputs: [String: String] = [:]

    init(_ package: ModelPackage) throws {
        self.package = package
        shapes = try package.inferShapes(batch: 1)
        for input in package.graph.inputs { used.insert(input.name) }
        for node in package.graph.nodes { used.insert(node.output) }
    }

    func build() throws -> Onnx_GraphProto {
        for input in package.graph.inputs where input.dtype != .f32 {
            castInputs[input.name] = cast(input.name, to: .f32, name: input.name)
        }
        for node in package.graph.nodes { try export(node) }
        var graph = Onnx_GraphProto()
        graph.node = nodes
        graph.initializer = initializers
        graph.input = package.graph.inputs.map { input in
            valueInfo(input.name, dtype: input.dtype, dims: input.shape.map { $0 == -1 ? nil : $0 })
        }
        // A dim that follows the batch size is the symbolic `batch`.
        let batchOf2 = package.graph.inputs.contains { $0.shape.first == -1 } ? try? package.inferShapes(batch: 2) : nil
        graph.output = package.graph.outputs.map { output in
            let one = shapes[output]?.dims ?? []
            let two = batchOf2?[output]?.dims ?? one
            let dims: [Int?] = zip(one, two.count == one.count ? two : one).map { $0 == $1 ? $0 : nil }
            return valueInfo(output, dtype: .f32, dims: dims)
        }
        return graph
    }

    // MARK: names, initializers, nodes

    /// The ONNX value a node input reads (an integer graph input's f32 cast).
    func value(_ name: String) -> String { castInputs[name] ?? name }

    /// `Cast(value, to)`; returns its output.
    func cast(_ value: String, to dtype: DType, name: String, output: String? = nil) -> String {
        add("Cast", [value], name: name, output: output, [.int("to", Int(ONNXTensor.elementType(dtype)))])
    }

    /// `base` if no value has it yet, else `base_1`, `base_2`, …
    func fresh(_ base: String) -> String {
        var name = base, n = 0
        while used.contains(name) { n += 1; name = "\(base)_\(n)" }
        used.insert(name)
        return name
    }

    @discardableResult
    func initializer(_ tensor: Tensor, name: String, exact: Bool = false) -> String {
        let onnxName = exact ? name : fresh(name)
        initializers.append(ONNXTensor.proto(tensor, name: onnxName))
        return onnxName
    }

    func int64s(_ values: [Int], _ base: String) -> String {
        var t = Tensor(zeros: .i64, Shape([values.count]))
        t.withUnsafeMutableBufferPointer(of: Int64.self) { for i in values.indices { $0[i] = Int64(values[i]) } }
        return initializer(t, name: base)
    }

    func scalar(_ value: Float, _ base: String) -> String { initializer(Tensor([value], shape: []), name: base) }

    /// Appends a node; returns its output (`output`, or a fresh name from the node's).
    @discardableResult
    func add(_ opType: String, _ inputs: [String], name: String, output: String? = nil,
             _ attributes: [Onnx_AttributeProto] = []) -> String {
        let out = output ?? fresh(name + "_" + opType)
        var node = Onnx_NodeProto()
        node.opType = opType
        node.name = fresh(name)
        node.input = inputs
        node.output = [out]
        node.attribute = attributes
        nodes.append(node)
        return out
    }

    /// A tensor value's type; a nil dim is the symbolic `batch`.
    func valueInfo(_ name: String, dtype: DType, dims: [Int?]) -> Onnx_ValueInfoProto {
        var type = Onnx_TypeProto.Tensor()
        type.elemType = ONNXTensor.elementType(dtype)
        type.shape = Onnx_TensorShapeProto()
        type.shape.dim = dims.map { dim in
            var d = Onnx_TensorShapeProto.Dimension()
            if let dim { d.dimValue = Int64(dim) } else { d.dimParam = "batch" }
            return d
        }
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type.tensorType = type
        return info
    }

    // MARK: parameters and QDQ

    /// The f32 value of package tensor `name`: an initializer (16-bit floats widened), or for a
    /// quantized tensor its integers, scales and zero points through a DequantizeLinear.
    func param(_ name: String, node: Node) throws -> String {
        if let done = params[name] { return done }
        guard let tensor = package.tensors[name] else { throw GraphError.missingTensor(node: node.name, role: "?", tensor: name) }
        let value: String
        if let quant = tensor.quant {
            value = dequantized(tensor, quant: quant, name: name, axis: quant.axis)
        } else {
            value = initializer(tensor.dtype == .f16 || tensor.dtype == .bf16 ? tensor.toF32() : tensor, name: used.contains(name) ? name + ".tensor" : name)
        }
        params[name] = value
        return value
    }

    /// `DequantizeLinear(q, scales, zero points)` of an integer tensor (per axis or per tensor).
    func dequantized(_ tensor: Tensor, quant: QuantParams, name: String, axis: Int?) -> String {
        var integers = tensor
        integers.quant = nil
        let q = initializer(integers, name: name + "_quantized")
        let scaleShape: Shape = axis == nil ? [] : [quant.scales.count]
        let scales = initializer(Tensor(quant.scales, shape: scaleShape), name: name + "_scale")
        var zeros = Tensor(zeros: tensor.dtype, scaleShape)
        zeros.withUnsafeMutableBytes { raw in
            for (i, z) in quant.zeroPoints.enumerated() {
                switch tensor.dtype {
                case .i32: raw.storeBytes(of: z, toByteOffset: i * 4, as: Int32.self)
                default: raw.storeBytes(of: UInt8(truncatingIfNeeded: z), toByteOffset: i, as: UInt8.self)
                }
            }
        }
        let zeroPoints = initializer(zeros, name: name + "_zero_point")
        var attributes: [Onnx_AttributeProto] = []
        if let axis { attributes.append(.int("axis", axis)) }
        return add("DequantizeLinear", [q, scales, zeroPoints], name: name + "_DequantizeLinear", output: fresh(name), attributes)
    }

    /// How an INT8 node's input is quantized (`attrs["input_quant"]`, checked by validation), or nil
    /// for a node that runs FP32.
    func inputQuant(_ node: Node) -> (scale: Float, zeroPoint: Int32, dtype: DType)? {
        guard node.op.hasWeightMatrix, let weight = node.params["weight"].flatMap({ package.tensors[$0] }),
              weight.dtype == .i8, weight.quant != nil, let attrs = node.attrs["input_quant"],
              let scale = attrs["scale"]?.doubleValue, let zero = attrs["zero_point"]?.intValue,
              let dtype = attrs["dtype"]?.stringValue.flatMap(DType.init(rawValue:)) else { return nil }
        return (Float(scale), Int32(zero), dtype)
    }

    /// `DequantizeLinear(QuantizeLinear(value))` with the node's activation parameters, shared by
    /// every reader with the same parameters.
    func quantizedActivation(_ value: String, _ q: (scale: Float, zeroPoint: Int32, dtype: DType)) -> String {
        let key = "\(value)\u{0}\(q.scale.bitPattern)\u{0}\(q.zeroPoint)\u{0}\(q.dtype.rawValue)"
        if let done = quantizedActivations[key] { return done }
        let scale = scalar(q.scale, value + "_scale")
        var zero = Tensor(zeros: q.dtype, [])
        zero.withUnsafeMutableBytes { $0.storeBytes(of: UInt8(truncatingIfNeeded: q.zeroPoint), as: UInt8.self) }
        let zeroPoint = initializer(zero, name: value + "_zero_point")
        let codes = add("QuantizeLinear", [value, scale, zeroPoint], name: value + "_QuantizeLinear", output: fresh(value + "_quantized"))
        let real = add("DequantizeLinear", [codes, scale, zeroPoint], name: value + "_DequantizeLinear", output: fresh(value + "_dequantized"))
        quantizedActivations[key] = real
        return real
    }

    /// An INT8 node's bias as the runtime adds it: int32 `round(b / (s_x·s_w[c]))` (clamped as the
    /// kernels clamp) through a DequantizeLinear at scale `s_x·s_w[c]`.
    func quantizedBias(_ name: String, weight: QuantParams, channels: Int, inputScale: Float, node: Node) throws -> String {
        guard let bias = package.tensors[name] else { throw GraphError.missingTensor(node: node.name, role: "bias", tensor: name) }
        let b = bias.floats
        let scales = (0..<channels).map { inputScale * (weight.axis == nil ? weight.scales[0] : weight.scales[$0]) }
        var integers = Tensor(zeros: .i32, [channels])
        integers.withUnsafeMutableBufferPointer(of: Int32.self) { out in
            for c in 0..<channels {
                let scaled = (Double(b[c]) / Double(scales[c])).rounded(.toNearestOrEven)
                out[c] = Int32(max(min(scaled, Double(Int32.max / 2)), Double(Int32.min / 2)))
            }
        }
        integers.quant = QuantParams(scales: scales, zeroPoints: [Int32](repeating: 0, count: channels), axis: 0)
        return dequantized(integers, quant: integers.quant!, name: name, axis: 0)
    }
}

extension Onnx_AttributeProto {
    static func int(_ name: String, _ value: Int) -> Self {
        .with { $0.name = name; $0.type = .int; $0.i = Int64(value) }
    }
    static func ints(_ name: String, _ values: [Int]) -> Self {
        .with { $0.name = name; $0.type = .ints; $0.ints = values.map { Int64($0) } }
    }
    static func float(_ name: String, _ value: Double) -> Self {
        .with { $0.name = name; $0.type = .float; $0.f = Float(value) }
    }
    static func string(_ name: String, _ value: String) -> Self {
        .with { $0.name = name; $0.type = .string; $0.s = Data(value.utf8) }
    }
}
