/// A value built by the restricted `Unpickler`: only plain data and tensor descriptions, never an
/// object of an arbitrary class.
public indirect enum PickleValue: Hashable, Sendable {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer wider than 64 bits: little-endian two's complement bytes, as pickle stores it.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case list([PickleValue])
    case tuple([PickleValue])
    /// A Python `set` / `frozenset`, in stream order.
    case set([PickleValue])
    /// A `dict` or `collections.OrderedDict`, in insertion order (keys are unique).
    case dict([PickleDictEntry])
    /// A tensor rebuilt by `torch._utils._rebuild_tensor_v2` (its data still lives in the archive).
    case tensor(TorchTensorRecord)
    /// A storage referenced by persistent id outside of any tensor.
    case storage(TorchStorageRef)
    /// An allow-listed constant global that is not a function: a storage type, a dtype, a NumPy
    /// dtype (`torch.FloatStorage`, `torch.float32`, `numpy.dtype('<f8')`), by qualified name.
    case global(String)
    /// An inert instance of an allow-listed class (`argparse.Namespace`) with its attributes.
    case object(type: String, attributes: [PickleDictEntry])
    /// Where the pickle named a global outside the allow-list, when the unpickler defers refusals:
    /// nothing was built; reading it is refused, and a value no one reads is skipped.
    case refused(PickleRefusal)

    /// The entries when this is a dict.
    public var dictEntries: [PickleDictEntry]? {
        if case .dict(let entries) = self { return entries }
        return nil
    }

    /// The value under a string key when this is a dict.
    public subscript(key: String) -> PickleValue? {
        dictEntries?.first { $0.key == .string(key) }?.value
    }

    /// A short Python-like rendering for messages (keys, candidates).
    public var shortDescription: String { describe(depth: 0) }

    /// Bounded for messages: a hostile pickle can share one tuple many times over, and its full
    /// text would be gigabytes (found by Fuzz/fuzz-pytorch). Tuples show their first six items and
    /// two levels; strings and names their first 80 characters.
    private func describe(depth: Int) -> String {
        func clip(_ s: String) -> String { s.count > 80 ? String(s.prefix(80)) + "…" : s }
        switch self {
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .bigInt: return "<big int>"
        case .float(let d): return String(d)
        case .string(let s): return clip(s)
        case .bytes(let b): return "<\(b.count) bytes>"
        case .list(let items): return "<list of \(items.count)>"
        case .tuple(let items):
            guard depth < 2 else { return "<tuple of \(items.count)>" }
            let shown = items.prefix(6).map { $0.describe(depth: depth + 1) }
            return "(" + shown.joined(separator: ", ") + (items.count > 6 ? ", … \(items.count) items" : "") + ")"
        case .set(let items): return "<set of \(items.count)>"
        case .dict(let entries): return "<dict of \(entries.count)>"
        case .tensor(let t): return "<tensor \(t.shape)>"
        case .storage(let s): return "<storage \(clip(s.key))>"
        case .global(let name): return clip(name)
        case .object(let type, _): return "<\(clip(type))>"
        case .refused(let r): return "<\(clip(r.global))>"
        }
    }
}

/// A global outside the allow-list that a pickle used (`Unpickler.defersRefusals`): the opcode
/// that named it, its byte offset, and whether it is a `torch.nn.Module` (what `torch.save(model)` pickles).
public struct PickleRefusal: Hashable, Sendable {
    public var global: String
    public var offset: Int
    public var opcode: String
    public var isModule: Bool

    public init(global: String, offset: Int, opcode: String, isModule: Bool) {
        self.global = global
        self.offset = offset
        self.opcode = opcode
        self.isModule = isModule
    }

    /// The refusal, as the unpickler words it when it refuses at once.
    public var reason: String {
        if isModule {
            return "pickle refused at byte \(offset): '\(global)' is a whole pickled module (what torch.save(model) writes), not a state_dict (nothing was executed); where the model's code is, save its weights with torch.save(model.state_dict(), PATH)"
        }
        return "pickle refused at byte \(offset): \(opcode) '\(global)' is not on the allow-list (nothing was executed)"
    }
}

/// One key/value pair of a pickled dict.
public struct PickleDictEntry: Hashable, Sendable {
    public var key: PickleValue
    public var value: PickleValue

    public init(key: PickleValue, value: PickleValue) {
        self.key = key
        self.value = value
    }
}

/// A storage named by a checkpoint's persistent id `('storage', torch.<T>Storage, key, location, numel)`;
/// its bytes are the archive entry `<name>/data/<key>`.
public struct TorchStorageRef: Hashable, Sendable {
    public var key: String
    public var scalarType: TorchScalarType
    /// Device tag as saved (`cpu`, `cuda:0`); the bytes are the same either way.
    public var location: String
    /// Number of elements of `scalarType` the storage holds.
    public var elementCount: Int

    public init(key: String, scalarType: TorchScalarType, location: String, elementCount: Int) {
        self.key = key
        self.scalarType = scalarType
        self.location = location
        self.elementCount = elementCount
    }
}

/// A tensor as pickled by `torch.save`: a strided view into a storage. Elements are
/// `storage[storageOffset + Σ index[i]·stride[i]]`.
public struct TorchTensorRecord: Hashable, Sendable {
    public var storage: TorchStorageRef
    /// In elements, not bytes.
    public var storageOffset: Int
    public var shape: [Int]
    /// In elements, one per dimension.
    public var stride: [Int]
    public var requiresGrad: Bool

    public init(storage: TorchStorageRef, storageOffset: Int, shape: [Int], stride: [Int], requiresGrad: Bool) {
        self.storage = storage
        self.storageOffset = storageOffset
        self.shape = shape
        self.stride = stride
        self.requiresGrad = requiresGrad
    }
}
