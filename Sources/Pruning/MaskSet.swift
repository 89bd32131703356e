import TensorCore

/// Pruning masks by parameter tensor name: `bool` tensors of the parameter's shape, 1 keeps.
/// Stored in `ModelPackage.masks` (and so in the artifact), so training keeps pruned entries at zero.
public struct MaskSet: Sendable {
    public private(set) var masks: TensorMap

    /// Wraps masks read from a package, checking each is `bool` and shaped like its tensor.
    public init(_ masks: TensorMap, tensors: TensorMap) throws {
        for (name, mask) in masks {
            guard let tensor = tensors[name] else { throw PruningError.missingTensor(name) }
            try MaskSet.check(mask, fits: tensor.shape, name: name)
        }
        self.masks = masks
    }

    public init() { masks = TensorMap() }

    public subscript(name: String) -> Tensor? { masks[name] }

    public mutating func set(_ mask: Tensor, for name: String) { masks[name] = mask }

    /// Entries a mask keeps.
    public static func keptCount(_ mask: Tensor) -> Int {
        mask.withUnsafeBufferPointer(of: UInt8.self) { $0.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }
    }

    /// A mask keeping everything.
    public static func allKept(_ shape: Shape) -> Tensor {
        var mask = Tensor(zeros: .bool, shape)
        mask.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 1) }
        return mask
    }

    static func check(_ mask: Tensor, fits shape: Shape, name: String) throws {
        guard mask.dtype == .bool else { throw PruningError.maskNotBool(tensor: name, dtype: mask.dtype) }
        guard mask.shape == shape else {
            throw PruningError.maskShapeMismatch(tensor: name, mask: mask.shape.dims, expected: shape.dims)
        }
    }
}

extension Tensor {
    /// This tensor with every entry the mask prunes set to zero: +0.0 for floats (never −0.0), the
    /// channel's zero point for quantized integers, 0 otherwise.
    public func masked(by mask: Tensor, name: String) throws -> Tensor {
        try MaskSet.check(mask, fits: shape, name: name)
        guard dtype != .bool else { throw PruningError.unsupportedDType(tensor: name, dtype: dtype) }
        var out = self
        let size = dtype.byteSize
        let (channels, inner) = quantChannels
        mask.withUnsafeBufferPointer(of: UInt8.self) { keep in
            out.withUnsafeMutableBytes { bytes in
                for i in 0..<keep.count where keep[i] == 0 {
                    let zero = quant.map { q in q.zeroPoints.indices.contains((i / inner) % channels) ? q.zeroPoints[(i / inner) % channels] : 0 } ?? 0
                    switch dtype {
                    case .i8: bytes.storeBytes(of: Int8(truncatingIfNeeded: zero), toByteOffset: i, as: Int8.self)
                    case .u8: bytes.storeBytes(of: UInt8(truncatingIfNeeded: zero), toByteOffset: i, as: UInt8.self)
                    case .i32: bytes.storeBytes(of: Int32(truncatingIfNeeded: zero), toByteOffset: 4 * i, as: Int32.self)
                    case .f32, .f16, .bf16, .i64, .bool:
                        for b in 0..<size { bytes[size * i + b] = 0 }
                    }
                }
            }
        }
        return out
    }

    /// (channels, elements per channel) of per-axis quantization; (1, count) otherwise.
    private var quantChannels: (Int, Int) {
        guard let axis = quant?.axis, axis < shape.rank else { return (1, elementCount) }
        return (shape[axis], shape.dims[(axis + 1)...].reduce(1, *))
    }
}
