import TensorCore

/// A value the importer knows before run time: an initializer, a `Constant`, or the result of a
/// shape subgraph (`Shape → Gather → Unsqueeze → Concat → …`). Elements are held as `Double`
/// (exact for the sizes and indices shape subgraphs compute and for every f32); `nil` stands for
/// the batch size, which is known only per run (docs/onnx.md, "Folding").
struct Folded: Equatable {
    var dtype: DType
    var shape: [Int]
    var values: [Double?]

    init(dtype: DType, shape: [Int], values: [Double?]) {
        self.dtype = dtype
        self.shape = shape
        self.values = values
    }

    init(ints: [Int64], shape: [Int]? = nil) {
        self.init(dtype: .i64, shape: shape ?? [ints.count], values: ints.map { Double($0) })
    }

    /// Only small tensors are folded (shape vectors, scalars, masks, position tables).
    static let maxElements = 1 << 20

    init?(_ tensor: Tensor) {
        guard tensor.elementCount <= Self.maxElements, tensor.quant == nil else { return nil }
        dtype = tensor.dtype
        shape = tensor.shape.dims
        switch tensor.dtype {
        case .i64: values = tensor.withUnsafeBufferPointer(of: Int64.self) { $0.map { Double($0) } }
        case .i32: values = tensor.withUnsafeBufferPointer(of: Int32.self) { $0.map { Double($0) } }
        case .i8: values = tensor.withUnsafeBufferPointer(of: Int8.self) { $0.map { Double($0) } }
        case .u8, .bool: values = tensor.withUnsafeBufferPointer(of: UInt8.self) { $0.map { Double($0) } }
        case .f32, .f16, .bf16: values = tensor.toF32().floats.map { Double($0) }
        }
    }

    var count: Int { values.count }
    var isComplete: Bool { !values.contains(nil) }
    var integers: [Int]? { isComplete ? values.map { Self.int($0!) } : nil }

    static func int(_ value: Double) -> Int {
        value >= 9.2e18 ? Int.max : value <= -9.2e18 ? Int.min : Int(value)
    }

    /// The tensor, or nil while an element is the batch size.
    var tensor: Tensor? {
        guard isComplete else { return nil }
        let shape = Shape(self.shape)
        switch dtype {
        case .f32, .f16, .bf16: return Tensor(values.map { Float($0!) }, shape: shape)
        case .i64: return Self.tensor(values.map { Int64(Self.int($0!)) }, .i64, shape)
        case .i32: return Self.tensor(values.map { Int32(truncatingIfNeeded: Self.int($0!)) }, .i32, shape)
        case .i8: return Self.tensor(values.map { Int8(truncatingIfNeeded: Self.int($0!)) }, .i8, shape)
        case .u8, .bool: return Self.tensor(values.map { UInt8(truncatingIfNeeded: Self.int($0!)) }, dtype, shape)
        }
    }

    private static func tensor<T>(_ values: [T], _ dtype: DType, _ shape: Shape) -> Tensor {
        values.withUnsafeBytes { try! Tensor(dtype: dtype, shape: shape, bytes: $0) }
    }
}

/// Evaluates the ops of shape subgraphs on `Folded` values. Returns nil when an op cannot be
/// evaluated here (then it is translated into a runtime node, or refused).
enum ConstantFolding {
    static let foldable: Set<String> = [
        "Identity", "Cast", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Reshape", "Flatten",
        "Add", "Sub", "Mul", "Div", "Equal", "Less", "Greater", "Where", "Not", "ConstantOfShape", "Range",
        "Expand", "Sqrt", "Neg", "Transpose",
    ]

    struct Inputs {
        var values: [Folded?]
        var attributes: ONNXAttributes
        subscript(i: Int) -> Folded? { i < values.count ? values[i] : nil }
    }

    static func evaluate(_ op: String, _ inputs: inout Inputs) throws -> Folded? {
        let a = inputs[0]
        switch op {
        case "Identity": return a
        case "Cast":
            guard let a, let to = try inputs.attributes.int("to"), let dtype = ONNXTensor.dtype(Int32(truncatingIfNeeded: to)) else { return nil }
            inputs.attributes.ignore("saturate")
            let values = a.values.map { v -> Double? in
                guard let v else { return nil }
                if dtype == .bool { return v != 0 ? 1 : 0 }
                return dtype.isFloatingPoint ? Double(Float(v)) : v.rounded(.towardZero)
            }
            return Folded(dtype: dtype, shape: a.shape, values: values)
        case "Gather":
            guard let a, let indices = inputs[1]?.integers, let indexShape = inputs[1]?.shape else { return nil }
            var axis = try inputs.attributes.int("axis", default: 0)
            if axis < 0 { axis += a.shape.count }
            guard a.shape.indices.contains(axis) else { return nil }
            let outer = a.shape[..<axis].reduce(1, *), size = a.shape[axis], inner = a.shape[(axis + 1)...].reduce(1, *)
            guard outer * indices.count * inner <= Folded.maxElements else { return nil }
            var out: [Double?] = []
            out.reserveCapacity(outer * indices.count * inner)
            for o in 0..<outer {
                for index in indices {
                    let i = index < 0 ? index + size : index
                    guard i >= 0, i < size else { return nil }
                    out.append(contentsOf: a.values[((o * size + i) * inner)..<((o * size + i + 1) * inner)])
                }
            }
            return Folded(dtype: a.dtype, shape: Array(a.shape[..<axis]) + indexShape + Array(a.shape[(axis + 1)...]), values: out)
        case "Unsqueeze", "Squeeze":
            guard let a else { return nil }
            let axes = try inputs.attributes.ints("axes") ?? inputs[1]?.integers
            var shape = a.shape
            if op == "Unsqueeze" {
                guard let axes else { return nil }
                let rank = shape.count + axes.count
                for axis in axes.map({ $0 < 0 ? $0 + rank : $0 }).sorted() {
                    guard axis >= 0, axis <= shape.count else { return nil }
                    shape.insert(1, at: axis)
                }
            } else {
                let drop = Set((axes ?? shape.indices.filter { shape[$0] == 1 }).map { $0 < 0 ? $0 + shape.count : $0 })
                guard drop.allSatisfy({ shape.indices.contains($0) && shape[$0] == 1 }) else { return nil }
                shape = shape.indices.filter { !drop.contains($0) }.map { shape[$0] }
            }
            return Folded(dtype: a.dtype, shape: shape, values: a.values)
        case "Concat":
            let parts = inputs.values.compactMap { $0 }
            guard parts.count == inputs.values.count, let first = parts.first,
                  parts.allSatisfy({ $0.shape.count == 1 && $0.dtype == first.dtype }),
                  [0, -1].contains(try inputs.attributes.int("axis", default: 0)) else { return nil }
            let values = parts.flatMap(\.values)
            return Folded(dtype: first.dtype, shape: [values.count], values: values)
        case "Slice":
            guard let a, let starts = inputs[1]?.integers, let ends = inputs[2]?.integers, starts.count == ends.count else { return nil }
            let rank = a.shape.count
            let axes = (inputs[3]?.integers ?? Array(0..<starts.count)).map { $0 < 0 ? $0 + rank : $0 }
            let steps = inputs[4]?.integers ?? Array(repeating: 1, count: starts.count)
            guard axes.count == starts.count, steps.count == starts.count, axes.allSatisfy({ (0..<rank).contains($0) }),
                  !steps.contains(0) else { return nil }
            // The indices kept along each axis, clamped as ONNX's Slice does.
            var kept = a.shape.map { Array(0..<$0) }
            for (k, axis) in axes.enumerated() {
                let n = a.shape[axis], step = steps[k]
                func bound(_ i: Int, low: Int, high: Int) -> Int { Swift.max(low, Swift.min(high, i < 0 ? i + n : i)) }
                if step > 0 {
                    kept[axis] = Array(stride(from: bound(starts[k], low: 0, high: n), to: bound(ends[k], low: 0, high: n), by: step))
                } else {
                    kept[axis] = Array(stride(from: bound(starts[k], low: -1, high: n - 1), to: bound(ends[k], low: -1, high: n - 1), by: step))
                }
            }
            let shape = kept.map(\.count)
            let inStrides = strides(a.shape)
            let count = shape.reduce(1, *)
            var out: [Double?] = []
            out.reserveCapacity(count)
            for flat in 0..<count {
                var rest = flat, source = 0
                for d in shape.indices.reversed() {
                    source += kept[d][rest % shape[d]] * inStrides[d]
                    rest /= shape[d]
                }
                out.append(a.values[source])
            }
            return Folded(dtype: a.dtype, shape: shape, values: out)
        case "Reshape", "Flatten":
            guard let a else { return nil }
            var shape: [Int]
            if op == "Flatten" {
                let axis = try inputs.attributes.int("axis", default: 1)
                let k = axis < 0 ? axis + a.shape.count : axis
                guard (0...a.shape.count).contains(k) else { return nil }
                shape = [a.shape[..<k].reduce(1, *), a.shape[k...].reduce(1, *)]
            } else {
                guard let target = inputs[1]?.integers else { return nil }
                guard try inputs.attributes.int("allowzero", default: 0) == 0 else { return nil }
                shape = target.enumerated().map { $1 == 0 && $0 < a.shape.count ? a.shape[$0] : $1 }
                if let hole = shape.firstIndex(of: -1) {
                    guard let rest = checkedProduct(shape.enumerated().filter { $0.offset != hole }.map(\.element)),
                          rest > 0, a.count % rest == 0 else { return nil }
                    shape[hole] = a.count / rest
                }
            }
            guard checkedProduct(shape) == a.count else { return nil }
            return Folded(dtype: a.dtype, shape: shape, values: a.values)
        case "Transpose":
            guard let a else { return nil }
            let perm = try inputs.attributes.ints("perm") ?? Array(a.shape.indices.reversed())
            guard perm.sorted() == Array(a.shape.indices) else { return nil }
            let shape = perm.map { a.shape[$0] }
            let inStrides = strides(a.shape)
            var out = [Double?](repeating: 0, count: a.count)
            for flat in 0..<a.count {
                var rest = flat, source = 0
                for (d, size) in shape.enumerated().reversed() {
                    source += (rest % size) * inStrides[perm[d]]
                    rest /= size
                }
                out[flat] = a.values[source]
            }
            return Folded(dtype: a.dtype, shape: shape, values: out)
        case "Add", "Sub", "Mul", "Div":
            guard let a, let b = inputs[1], a.dtype == b.dtype else { return nil }
            let integer = !a.dtype.isFloatingPoint
            return broadcast(a, b, dtype: a.dtype) { x, y in
                switch op {
                case "Add": return x + y
                case "Sub": return x - y
                case "Mul": return x * y
                default:
                    if integer { return y == 0 ? nil : (x / y).rounded(.towardZero) }
                    return Double(Float(x) / Float(y))
                }
            }
        case "Equal", "Less", "Greater":
            guard let a, let b = inputs[1] else { return nil }
            return broadcast(a, b, dtype: .bool, batchAware: true) { x, y in
                switch op {
                case "Equal": return x == y ? 1 : 0
                case "Less": return x < y ? 1 : 0
                default: return x > y ? 1 : 0
                }
            }
        case "Not":
            guard let a, a.isComplete else { return nil }
            return Folded(dtype: .bool, shape: a.shape, values: a.values.map { $0! == 0 ? 1 : 0 })
        case "Where":
            guard let condition = a, condition.isComplete, let x = inputs[1], let y = inputs[2],
                  x.dtype == y.dtype else { return nil }
            guard let inner = broadcastShape(condition.shape, x.shape), let shape = broadcastShape(inner, y.shape),
                  let count = checkedProduct(shape), count <= Folded.maxElements else { return nil }
            let c = expand(condition, to: shape), xs = expand(x, to: shape), ys = expand(y, to: shape)
            return Folded(dtype: x.dtype, shape: shape, values: c.indices.map { c[$0]! != 0 ? xs[$0] : ys[$0] })
        case "ConstantOfShape":
            guard let dims = a?.integers, dims.allSatisfy({ $0 >= 0 }), let count = checkedProduct(dims),
                  count <= Folded.maxElements else { return nil }
            let fill = try inputs.attributes.tensor("value").map { try ONNXTensor.tensor($0, what: "ConstantOfShape value", limits: .default, external: nil) }
            let filler = fill.flatMap { Folded($0) } ?? Folded(dtype: .f32, shape: [1], values: [0])
            guard filler.count == 1 else { return nil }
            return Folded(dtype: filler.dtype, shape: dims, values: Array(repeating: filler.values[0], count: count))
        case "Range":
            guard let start = a?.values.first ?? nil, let limit = inputs[1]?.values.first ?? nil,
                  let delta = inputs[2]?.values.first ?? nil, delta != 0 else { return nil }
            let steps = ((limit - start) / delta).rounded(.up)
            guard steps.isFinite, steps <= Double(Folded.maxElements) else { return nil }
            let count = Swift.max(0, Int(steps))
            return Folded(dtype: a!.dtype, shape: [count], values: (0..<count).map { start + Double($0) * delta })
        case "Expand":
            guard let a, a.isComplete, let dims = inputs[1]?.integers, let shape = broadcastShape(a.shape, dims),
                  let count = checkedProduct(shape), count <= Folded.maxElements else { return nil }
            return Folded(dtype: a.dtype, shape: shape, values: expand(a, to: shape))
        case "Sqrt", "Neg":
            guard let a, a.isComplete else { return nil }
            return Folded(dtype: a.dtype, shape: a.shape, values: a.values.map { op == "Neg" ? -$0! : Double(Float($0!).squareRoot()) })
        default:
            return nil
        }
    }

    static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        for d in shape.indices.reversed().dropFirst() { strides[d] = strides[d + 1] * shape[d + 1] }
        return strides
    }

    /// NumPy's broadcast of two shapes, nil when they do not broadcast (or a size is negative).
    static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
        guard !a.contains(where: { $0 < 0 }), !b.contains(where: { $0 < 0 }) else { return nil }
        let rank = Swift.max(a.count, b.count)
        var out: [Int] = []
        for d in 0..<rank {
            let x = d < rank - a.count ? 1 : a[d - (rank - a.count)]
            let y = d < rank - b.count ? 1 : b[d - (rank - b.count)]
            guard x == y || x == 1 || y == 1 else { return nil }
            out.append(x == 1 ? y : x)
        }
        return out
    }

    /// `a`'s elements laid out over the broadcast shape `shape`.
    static func expand(_ a: Folded, to shape: [Int]) -> [Double?] {
        let count = shape.reduce(1, *)
        let padded = Array(repeating: 1, count: shape.count - a.shape.count) + a.shape
        let inStrides = strides(padded)
        return (0..<count).map { flat in
            var rest = flat, source = 0
            for d in shape.indices.reversed() {
                let i = rest % shape[d]
                rest /= shape[d]
                if padded[d] != 1 { source += i * inStrides[d] }
            }
            return a.values[source]
        }
    }

    /// Element-wise over the broadcast shape. With `batchAware`, the batch size (nil) compares as
    /// equal to itself and as greater than any number below 1 (it is at least 1).
    static func broadcast(_ a: Folded, _ b: Folded, dtype: DType, batchAware: Bool = false,
                          _ f: (Double, Double) -> Double?) -> Folded? {
        guard let shape = broadcastShape(a.shape, b.shape), let count = checkedProduct(shape), count <= Folded.maxElements else { return nil }
        let xs = expand(a, to: shape), ys = expand(b, to: shape)
        var out: [Double?] = []
        for (x, y) in zip(xs, ys) {
            switch (x, y) {
            case let (x?, y?):
                guard let value = f(x, y) else { return nil }
                out.append(value)
            case (nil, nil) where batchAware: out.append(f(1, 1))
            case (nil, let y?) where batchAware && y < 1: out.append(f(1, y))
            case (let x?, nil) where batchAware && x < 1: out.append(f(x, 1))
            default: return nil
            }
        }
        return Folded(dtype: dtype, shape: shape, values: out)
    }
}
