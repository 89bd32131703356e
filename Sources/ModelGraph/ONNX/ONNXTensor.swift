import Foundation
import ModelFormats
import ONNXProto
import TensorCore

/// ONNX `TensorProto` → `Tensor` (docs/onnx.md, "Tensors"): the element type mapped to a `DType`,
/// the data taken from exactly one of `raw_data`, the typed field or an external file, and every
/// size checked against the dims before any byte is copied.
enum ONNXTensor {
    /// The `DType` of an ONNX `TensorProto.DataType`, or nil for types the runtime does not hold.
    static func dtype(_ dataType: Int32) -> DType? {
        switch Onnx_TensorProto.DataType(rawValue: Int(dataType)) {
        case .float: return .f32
        case .float16: return .f16
        case .bfloat16: return .bf16
        case .int8: return .i8
        case .uint8: return .u8
        case .int32: return .i32
        case .int64: return .i64
        case .bool: return .bool
        default: return nil
        }
    }

    /// ONNX's name for a data type, for messages ("DOUBLE", "STRING", or the number).
    static func typeName(_ dataType: Int32) -> String {
        Onnx_TensorProto.DataType(rawValue: Int(dataType)).map { "\($0)".uppercased() } ?? "\(dataType)"
    }

    /// Converts `proto`; `what` names it in errors (`initializer 'fc.weight'`). External data is
    /// read through `external` (nil: refused, as for a lone tensor file).
    static func tensor(_ proto: Onnx_TensorProto, what: String, limits: ReadLimits,
                       external: ONNXExternalData?) throws -> Tensor {
        guard let dtype = dtype(proto.dataType) else {
            throw GraphError.unsupportedONNX("\(what) has element type \(typeName(proto.dataType)), which ModelSmith does not hold (f32, f16, bf16, i8, u8, i32, i64, bool)")
        }
        guard proto.dims.count <= limits.maxRank else {
            throw GraphError.malformedONNX("\(what) has rank \(proto.dims.count), more than the limit \(limits.maxRank)")
        }
        let dims = try proto.dims.map { dim -> Int in
            guard dim >= 0, let size = Int(exactly: dim) else { throw GraphError.malformedONNX("\(what) has a negative dimension \(dim)") }
            return size
        }
        let shape = Shape(dims)
        guard let count = shape.checkedElementCount, let byteCount = checkedMultiply(count, dtype.byteSize),
              byteCount <= limits.maxDecodedBytes else {
            throw GraphError.malformedONNX("\(what): dims \(dims) overflow or exceed the decoded-bytes limit")
        }
        if proto.hasSegment { throw GraphError.unsupportedONNX("\(what) is a segment of a larger tensor") }

        if proto.dataLocation == .external {
            guard let external else { throw GraphError.malformedONNX("\(what) refers to external data, which a lone tensor file cannot have") }
            let bytes = try external.read(proto.externalData, byteCount: byteCount, what: what)
            return try bytes.withUnsafeBytes { try Tensor(dtype: dtype, shape: shape, bytes: $0) }
        }
        let sources = [!proto.rawData.isEmpty, !proto.floatData.isEmpty, !proto.int32Data.isEmpty,
                       !proto.int64Data.isEmpty, !proto.doubleData.isEmpty, !proto.uint64Data.isEmpty]
        guard sources.filter({ $0 }).count <= 1 else { throw GraphError.malformedONNX("\(what) has data in more than one field") }
        if !proto.rawData.isEmpty || count == 0 {
            guard proto.rawData.count == byteCount else {
                throw GraphError.malformedONNX("\(what) has \(proto.rawData.count) bytes of raw_data; dims \(dims) of \(dtype.rawValue) need \(byteCount)")
            }
            return try proto.rawData.withUnsafeBytes { try Tensor(dtype: dtype, shape: shape, bytes: $0) }
        }
        return try typedData(proto, dtype: dtype, shape: shape, count: count, what: what)
    }

    /// The typed-field encodings: FLOAT in `float_data`, INT64 in `int64_data`, every narrower
    /// integer, BOOL and the 16-bit floats (as bit patterns) in `int32_data`.
    private static func typedData(_ proto: Onnx_TensorProto, dtype: DType, shape: Shape, count: Int, what: String) throws -> Tensor {
        func checkCount(_ actual: Int, _ field: String) throws {
            guard actual == count else {
                throw GraphError.malformedONNX("\(what) has \(actual) values in \(field); dims \(shape.dims) need \(count)")
            }
        }
        var tensor = Tensor(zeros: dtype, shape)
        switch dtype {
        case .f32:
            try checkCount(proto.floatData.count, "float_data")
            tensor.withUnsafeMutableBufferPointer(of: Float.self) { _ = $0.initialize(from: proto.floatData) }
        case .i64:
            try checkCount(proto.int64Data.count, "int64_data")
            tensor.withUnsafeMutableBufferPointer(of: Int64.self) { _ = $0.initialize(from: proto.int64Data) }
        case .i32:
            try checkCount(proto.int32Data.count, "int32_data")
            tensor.withUnsafeMutableBufferPointer(of: Int32.self) { _ = $0.initialize(from: proto.int32Data) }
        case .f16, .bf16:
            try checkCount(proto.int32Data.count, "int32_data")
            tensor.withUnsafeMutableBufferPointer(of: UInt16.self) { out in
                for (i, bits) in proto.int32Data.enumerated() { out[i] = UInt16(truncatingIfNeeded: bits) }
            }
        case .i8, .u8, .bool:
            try checkCount(proto.int32Data.count, "int32_data")
            tensor.withUnsafeMutableBufferPointer(of: UInt8.self) { out in
                for (i, value) in proto.int32Data.enumerated() {
                    out[i] = dtype == .bool ? (value != 0 ? 1 : 0) : UInt8(truncatingIfNeeded: value)
                }
            }
        }
        return tensor
    }
}
