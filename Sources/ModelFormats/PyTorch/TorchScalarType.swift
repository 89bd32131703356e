import TensorCore

/// The element types a PyTorch storage can have, named as in `torch.<name>Storage`.
public enum TorchScalarType: String, CaseIterable, Hashable, Sendable {
    case float = "Float", double = "Double", half = "Half", bfloat16 = "BFloat16"
    case char = "Char", byte = "Byte", short = "Short", int = "Int", long = "Long", bool = "Bool"
    case complexFloat = "ComplexFloat", complexDouble = "ComplexDouble"
    case qint8 = "QInt8", quint8 = "QUInt8", qint32 = "QInt32"
    /// `torch.UntypedStorage`: raw bytes.
    case untyped = "Untyped"

    /// The storage type's qualified name as it appears in a pickle (`torch.FloatStorage`).
    public var storageTypeName: String { "torch.\(rawValue)Storage" }

    /// The PyTorch dtype name (`float32`), for messages.
    public var torchDTypeName: String {
        switch self {
        case .float: return "float32"
        case .double: return "float64"
        case .half: return "float16"
        case .bfloat16: return "bfloat16"
        case .char: return "int8"
        case .byte, .untyped: return "uint8"
        case .short: return "int16"
        case .int: return "int32"
        case .long: return "int64"
        case .bool: return "bool"
        case .complexFloat: return "complex64"
        case .complexDouble: return "complex128"
        case .qint8: return "qint8"
        case .quint8: return "quint8"
        case .qint32: return "qint32"
        }
    }

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .char, .byte, .bool, .qint8, .quint8, .untyped: return 1
        case .half, .bfloat16, .short: return 2
        case .float, .int, .qint32: return 4
        case .double, .long, .complexFloat: return 8
        case .complexDouble: return 16
        }
    }

    /// The ModelSmith dtype holding the same values bit for bit, or nil when there is none.
    public var dtype: DType? {
        switch self {
        case .float: return .f32
        case .half: return .f16
        case .bfloat16: return .bf16
        case .char: return .i8
        case .byte, .untyped: return .u8
        case .int: return .i32
        case .long: return .i64
        case .bool: return .bool
        case .double, .short, .complexFloat, .complexDouble, .qint8, .quint8, .qint32: return nil
        }
    }

    /// The element type converted on reading when there is no bit-for-bit dtype (float64 → f32,
    /// int16 → i32; docs/formats.md, "Input dtypes").
    var foreign: ForeignDType? {
        switch self {
        case .double: return .float64
        case .short: return .int16
        default: return nil
        }
    }

    /// Looks up a storage type by its qualified name (`torch.FloatStorage`, `torch.storage.UntypedStorage`).
    public init?(storageTypeName name: String) {
        if name == "torch.UntypedStorage" || name == "torch.storage.UntypedStorage" {
            self = .untyped
            return
        }
        guard let match = Self.allCases.first(where: { $0 != .untyped && $0.storageTypeName == name }) else { return nil }
        self = match
    }
}

/// The globals a checkpoint pickle may name (the allow-list of docs/pytorch-checkpoints.md).
/// Each is evaluated by Swift code that builds an inert value; nothing is imported or called.
enum TorchAllowedGlobal: Equatable {
    /// `collections.OrderedDict`, `collections.defaultdict`, `collections.Counter`: called with no
    /// arguments, a list of pairs (OrderedDict), a default factory (defaultdict) or a dict (Counter)
    /// to make a dict.
    case dict
    /// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])`.
    case rebuildTensorV2
    /// `torch._utils._rebuild_parameter(data, requires_grad, hooks)` and `…_with_state(…, state)`.
    case rebuildParameter
    /// `_codecs.encode(text, "latin1")`: how protocol 2 pickles `bytes`.
    case codecsEncode
    /// `builtins.set` / `builtins.frozenset` called with a list: how protocols 2–3 pickle sets.
    case set
    /// `argparse.Namespace`: made empty by NEWOBJ, its attributes set by BUILD; an inert object.
    case namespace
    /// `numpy.dtype(descr, align, copy)`, its byte order set by BUILD.
    case numpyDType
    /// `numpy.core.multiarray.scalar(dtype, bytes)`: a NumPy number, read as a plain number.
    case numpyScalar
    /// `torch.Size(dims)`: a tuple of integers.
    case torchSize
    /// `torch.device(type[, index])`: its name (`cuda:0`).
    case torchDevice
    /// A storage type; only valid inside a persistent id.
    case storageType(TorchScalarType)
    /// A plain constant: a dtype (`torch.float32`), a tensor type of the legacy format
    /// (`torch.FloatTensor`), a builtin type used as a defaultdict factory (`builtins.list`).
    case constant(String)

    static let dtypeNames: Set<String> = [
        "float32", "float", "float64", "double", "float16", "half", "bfloat16",
        "int8", "uint8", "int16", "short", "int32", "int", "int64", "long", "bool",
        "complex64", "cfloat", "complex128", "cdouble",
    ]
    static let legacyTensorTypes = Set(TorchScalarType.allCases.map { "\($0.rawValue)Tensor" })
    static let builtinTypes: Set<String> = ["list", "dict", "int", "float", "str", "tuple", "bool", "bytes"]

    /// The allow-list: nil for any global not on it.
    init?(module: String, name: String) {
        // Protocol 2 spells `builtins` as Python 2 did; NumPy 2 renamed `numpy.core` to `numpy._core`.
        let module = module == "__builtin__" ? "builtins" : module == "numpy._core.multiarray" ? "numpy.core.multiarray" : module
        switch (module, name) {
        case ("collections", "OrderedDict"), ("collections", "defaultdict"), ("collections", "Counter"): self = .dict
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            self = .rebuildParameter
        case ("_codecs", "encode"): self = .codecsEncode
        case ("builtins", "set"), ("builtins", "frozenset"): self = .set
        case ("argparse", "Namespace"): self = .namespace
        case ("numpy", "dtype"): self = .numpyDType
        case ("numpy.core.multiarray", "scalar"): self = .numpyScalar
        case ("torch", "Size"): self = .torchSize
        case ("torch", "device"): self = .torchDevice
        default:
            if let storage = TorchScalarType(storageTypeName: "\(module).\(name)") {
                self = .storageType(storage)
            } else if module == "torch", Self.dtypeNames.contains(name) || Self.legacyTensorTypes.contains(name) {
                self = .constant("torch.\(name)")
            } else if module == "builtins", Self.builtinTypes.contains(name) {
                self = .constant("builtins.\(name)")
            } else {
                return nil
            }
        }
    }
}
