import CKernels

/// ONNX `Resize` over the last two axes (nearest or linear), as per-axis tables computed once:
/// for each output coordinate the two source coordinates and the weight of the second
/// (docs/ops.md, `resize`).
public struct Resize2d: Sendable {
    public enum Mode: Sendable { case nearest(NearestRounding), linear }
    public enum NearestRounding: Sendable { case roundPreferFloor, roundPreferCeil, floor, ceil }
    public enum CoordinateTransform: Sendable { case halfPixel, pytorchHalfPixel, asymmetric, alignCorners }

    /// One axis: source indices and the second one's weight, per output coordinate.
    struct Axis: Sendable {
        var first: [Int64] = [], second: [Int64] = [], weight: [Float] = []
    }

    public let inHeight, inWidth, outHeight, outWidth: Int
    let rows, columns: Axis

    /// `scales` (height, width): the model's factors when it gave scales, else nil (out / in).
    public init(inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int, scales: (Double, Double)?,
                mode: Mode, transform: CoordinateTransform) {
        (self.inHeight, self.inWidth, self.outHeight, self.outWidth) = (inHeight, inWidth, outHeight, outWidth)
        rows = Self.axis(in: inHeight, out: outHeight, scale: scales?.0, mode: mode, transform: transform)
        columns = Self.axis(in: inWidth, out: outWidth, scale: scales?.1, mode: mode, transform: transform)
    }

    /// ONNX's reference: the source coordinate of output `i`, then the neighbours (clamped at the edges).
    static func axis(in size: Int, out: Int, scale given: Double?, mode: Mode, transform: CoordinateTransform) -> Axis {
        let scale = given ?? Double(out) / Double(size)
        let scaledLength = scale * Double(size)
        var axis = Axis()
        for i in 0..<out {
            let x = Double(i)
            let source: Double
            switch transform {
            case .halfPixel: source = (x + 0.5) / scale - 0.5
            case .pytorchHalfPixel: source = scaledLength > 1 ? (x + 0.5) / scale - 0.5 : 0
            case .asymmetric: source = x / scale
            case .alignCorners: source = scaledLength == 1 ? 0 : x * Double(size - 1) / (scaledLength - 1)
            }
            let clamp = { (v: Int) in Int64(Swift.max(0, Swift.min(size - 1, v))) }
            switch mode {
            case .linear:
                let floor = source.rounded(.down)
                axis.first.append(clamp(Int(floor)))
                axis.second.append(clamp(Int(floor) + 1))
                axis.weight.append(Float(source - floor))
            case .nearest(let rounding):
                let index: Double
                switch rounding {
                case .roundPreferFloor: index = source == source.rounded(.down) + 0.5 ? source.rounded(.down) : source.rounded()
                case .roundPreferCeil: index = source == source.rounded(.down) + 0.5 ? source.rounded(.up) : source.rounded()
                case .floor: index = source.rounded(.down)
                case .ceil: index = source.rounded(.up)
                }
                axis.first.append(clamp(Int(index)))
                axis.second.append(clamp(Int(index)))
                axis.weight.append(0)
            }
        }
        return axis
    }

    /// Resizes `planes` planes of `[inHeight, inWidth]` into `[outHeight, outWidth]`.
    public func run(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, planes: Int) {
        ck_resize2d_f32(input, output, planes, inHeight, inWidth, outHeight, outWidth,
                        rows.first, rows.second, rows.weight, columns.first, columns.second, columns.weight)
    }
}

/// ONNX `TopK` along the middle axis of an `[outer, length, inner]` view (sorted; ties keep the lower index).
public enum TopK {
    public static func run(_ input: UnsafePointer<Float>, values: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Float>,
                           outer: Int, length: Int, inner: Int, k: Int, largest: Bool) {
        ck_topk_f32(input, values, indices, outer, length, inner, k, largest ? 1 : 0)
    }
}
