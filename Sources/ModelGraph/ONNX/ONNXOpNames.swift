/// The one table between ONNX op types and the op vocabulary (docs/ops.md), read by the importer
/// (`NodeTranslation`) and the exporter (`ONNXExport`); docs/onnx.md lists both directions.
enum ONNXOpNames {
    /// The op of the vocabulary each ONNX op translates into (MatMul: when B is a 2-D constant; the
    /// folded ops: when they cannot be folded). `NodeTranslation.translate()` handles exactly these keys.
    static let imported: [String: String] = [
        "Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Erf": "erf", "Sqrt": "sqrt", "Reciprocal": "reciprocal",
        "Exp": "exp", "Log": "log", "Neg": "neg", "Abs": "abs", "Not": "not", "Softplus": "softplus", "Mish": "mish",
        "HardSwish": "hardswish", "HardSigmoid": "hardsigmoid", "LeakyRelu": "leaky_relu", "Gelu": "gelu", "Clip": "clip",
        "Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow", "Min": "min", "Max": "max",
        "Equal": "equal", "Less": "less", "Greater": "greater", "Where": "where", "Identity": "identity", "Dropout": "dropout",
        "Conv": "conv2d", "BatchNormalization": "batchnorm2d", "LayerNormalization": "layernorm", "Gemm": "linear",
        "MatMul": "linear", "MaxPool": "maxpool2d", "AveragePool": "avgpool2d", "GlobalAveragePool": "global_avgpool",
        "GlobalMaxPool": "global_maxpool", "ReduceMean": "reduce_mean", "ReduceSum": "reduce_sum", "ReduceMax": "reduce_max",
        "ReduceMin": "reduce_min", "Softmax": "softmax", "LogSoftmax": "log_softmax", "Flatten": "flatten",
        "Reshape": "reshape", "Squeeze": "squeeze", "Unsqueeze": "unsqueeze", "Transpose": "transpose", "Concat": "concat",
        "Pad": "pad", "Cast": "cast", "Gather": "gather", "Slice": "slice", "Expand": "expand", "Split": "slice",
        "Tile": "tile", "Resize": "resize", "TopK": "topk", "InstanceNormalization": "instancenorm", "GroupNormalization": "groupnorm",
    ]

    /// Where several ONNX ops import as one op, the one the exporter writes (a `linear` whose input is
    /// not 2-D is written as MatMul + Add instead, see `ONNXGraphWriter`); `matmul` is MatMul between
    /// two values (MatMul imports as `linear` when B is a constant).
    private static let exportedChoice: [OpKind: String] = [.linear: "Gemm", .slice: "Slice", .matmul: "MatMul"]

    /// The ONNX op each op of the vocabulary is exported as, when one op says it.
    static let exported: [OpKind: String] = {
        var table = exportedChoice
        for (onnx, name) in imported {
            guard let op = OpKind(rawValue: name) else { continue }
            table[op] = exportedChoice[op] ?? onnx
        }
        return table
    }()
}
