import ONNXProto
import TensorCore

/// QuantizeLinear / DequantizeLinear on import (docs/onnx.md, "QDQ models"), the reading of what
/// `ONNXExport` writes (and of ONNX Runtime's `quantize_static` QDQ output):
/// - DequantizeLinear of a constant int8 tensor with zero points 0 is that tensor with its
///   `QuantParams` (the INT8 weight of the layer reading it); of any other constant, its f32 values.
/// - QuantizeLinear → DequantizeLinear on a run-time value is that value; the pair's per-tensor
///   parameters become the `input_quant` of the INT8 layer (linear, conv2d) that reads it.
extension ONNXGraphBuilder {
    struct ActivationQDQ {
        var value: String
        var scale: Float
        var zeroPoint: Int32
        var dtype: DType
        var perTensor: Bool
    }

    func quantizeDequantize(_ proto: Onnx_NodeProto, name: String, _ attributes: inout ONNXAttributes) throws {
        let op = proto.opType
        func refuse(_ reason: String) -> GraphError { .unsupportedONNX("node '\(name)': \(op) \(reason)") }
        let inputs = proto.input
        guard inputs.count >= 2, !inputs[0].isEmpty, !inputs[1].isEmpty, let output = proto.output.first else {
            throw GraphError.malformedONNX("node '\(name)': \(op) needs an input and a scale")
        }
        attributes.ignore("saturate")
        let axisAttribute = try attributes.int("axis", default: 1)
        guard let scale = try knownTensor(inputs[1]), scale.dtype == .f32 else { throw refuse("needs an f32 scale known at import") }
        var zero: Tensor?
        if inputs.count > 2, !inputs[2].isEmpty {
            guard let z = try knownTensor(inputs[2]) else { throw refuse("needs a zero point known at import") }
            zero = z
        }
        let scales = scale.floats
        let zeroPoints = zero.map { z in z.withUnsafeBytes { raw in (0..<z.elementCount).map { i -> Int32 in
            switch z.dtype {
            case .i8: return Int32(raw.load(fromByteOffset: i, as: Int8.self))
            case .u8: return Int32(raw.load(fromByteOffset: i, as: UInt8.self))
            default: return Int32(raw.load(fromByteOffset: i * 4, as: Int32.self))
            }
        } } } ?? [Int32](repeating: 0, count: scales.count)
        guard zeroPoints.count == scales.count else { throw GraphError.malformedONNX("node '\(name)': \(op) has \(scales.count) scales and \(zeroPoints.count) zero points") }

        if op == "DequantizeLinear", let integers = try knownTensor(inputs[0]) {
            // One scale is per tensor whatever its shape; several are along `axis`.
            let axis = scales.count > 1 ? (axisAttribute < 0 ? axisAttribute + integers.shape.rank : axisAttribute) : nil
            var quantized = integers
            quantized.quant = QuantParams(scales: scales, zeroPoints: zeroPoints, axis: axis)
            if let reason = quantized.quant!.invalidity(dtype: integers.dtype, dims: integers.shape.dims) {
                throw GraphError.malformedONNX("node '\(name)': \(op) parameters do not fit '\(inputs[0])': \(reason)")
            }
            // Only symmetric int8 stays integer (what the INT8 layers take); the rest is real values.
            converted[output] = integers.dtype == .i8 && quantized.quant!.isSymmetric ? quantized : quantized.toF32()
            return
        }
        guard scales.count == 1 else { throw refuse("of a run-time value per axis (only per-tensor activations are read)") }
        if op == "QuantizeLinear" {
            let dtype = zero?.dtype ?? .u8
            guard dtype == .u8 || dtype == .i8 else { throw refuse("to \(dtype.rawValue) (u8 or i8 activations are read)") }
            quantizedActivations[output] = ActivationQDQ(value: try input(inputs[0], node: name), scale: scales[0],
                                                         zeroPoint: zeroPoints[0], dtype: dtype, perTensor: true)
            return
        }
        guard let pair = quantizedActivations[inputs[0]] else {
            throw refuse("of a run-time value that is not a QuantizeLinear's output")
        }
        aliases[output] = pair.value
        // The INT8 kernels take u8 with any zero point, i8 with zero point 0 (docs/quantization.md).
        if pair.scale == scales[0], pair.zeroPoint == zeroPoints[0], pair.dtype == .u8 || pair.zeroPoint == 0,
           QuantParams(scales: [pair.scale], zeroPoints: [pair.zeroPoint], axis: nil).invalidity(dtype: pair.dtype, dims: []) == nil {
            activationQuant[output] = [
                "scale": .float(pair.scale), "zero_point": .number(Double(pair.zeroPoint)), "dtype": .string(pair.dtype.rawValue),
            ]
        }
    }
}

extension NodeTranslation {
    /// Input `i` as the weight of an INT8-capable layer: kept int8 when it is symmetric per tensor
    /// or per output channel (axis 0, as the INT8 kernels take it), else as f32.
    func layerWeight(_ weight: Tensor) -> Tensor {
        guard let q = weight.quant else { return weight }
        return weight.dtype == .i8 && q.isSymmetric && (q.axis ?? 0) == 0 ? weight : weight.toF32()
    }

    /// `input_quant` of a layer whose input came through QuantizeLinear/DequantizeLinear and whose
    /// weight stayed int8; nothing otherwise (the layer runs FP32).
    func inputQuant(weight: Tensor) -> [String: JSONValue] {
        guard weight.dtype == .i8, weight.quant != nil, let input = inputName(0), let q = builder.activationQuant[input] else { return [:] }
        return ["input_quant": q]
    }
}
