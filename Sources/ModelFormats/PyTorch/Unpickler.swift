import Foundation
import TensorCore

/// A restricted pickle interpreter (protocols 2–5) for `torch.save` checkpoints.
///
/// It builds only plain values (None, bools, ints, floats, strings, bytes, lists, tuples, sets,
/// dicts incl. `collections.OrderedDict`) and tensor descriptions (`_rebuild_tensor_v2` over a
/// persistent-id storage). Globals are looked up in a fixed allow-list and never imported or
/// called: a global not on it, `REDUCE`/`NEWOBJ` on anything that is not an allowed constructor,
/// `BUILD` on anything but a dict, and any opcode outside the subset are refused with the
/// opcode, its byte offset and the global's name. Stack, memo, nesting and the size of the built
/// value are bounded, so hostile input costs bounded time and memory and never crashes.
///
/// With `defersRefusals`, a global outside the allow-list does not stop the stream: it becomes an
/// inert `.refused` value (calling, constructing or filling it builds nothing), so a checkpoint
/// can refuse it only where it is read (`PyTorchCheckpoint`, under the selected key).
public struct Unpickler: Sendable {
    /// Resource bounds for one pickle.
    public struct Limits: Sendable {
        /// Items on the stack at once.
        public var maxStackDepth = 1_000_000
        /// Memo entries.
        public var maxMemoEntries = 1_000_000
        /// Open MARKs at once.
        public var maxOpenMarks = 10_000
        /// Containers nested inside each other in the result (and tuples while building).
        public var maxNesting = 128
        /// Values in the result, counting shared ones each time they are reached.
        /// 2 M is ~15 values for each of `ReadLimits.maxTensors` tensors with room to spare; at
        /// 20 M a 1.2 KB pickle of shared tuples took 5 s and 930 MB under ASan (Fuzz/fuzz-pytorch).
        public var maxValues = 2_000_000
        /// Bytes of an integer wider than 64 bits (LONG1/LONG4).
        public var maxBigIntBytes = 1024
        /// Dimensions of a tensor.
        public var maxRank = 16

        public init() {}
    }

    public var limits: Limits
    public var defersRefusals: Bool

    public init(limits: Limits = Limits(), defersRefusals: Bool = false) {
        self.limits = limits
        self.defersRefusals = defersRefusals
    }

    /// Interprets `bytes` up to its STOP opcode. `path` and `entry` name the pickle in errors,
    /// which are all `FormatError.malformed`.
    public func unpickle(_ bytes: [UInt8], path: String = "<pickle>", entry: String? = nil) throws -> PickleValue {
        try unpickle(bytes, from: 0, path: path, entry: entry).value
    }

    /// One pickle of a stream of several (the legacy formats), starting at byte `start`: its value,
    /// the offset just past its STOP, and every storage its persistent ids named. `tensorIDs`
    /// resolves the plain persistent ids of the pre-0.4 tar format to tensors.
    func unpickle(_ bytes: [UInt8], from start: Int, path: String, entry: String?,
                  tensorIDs: [String: TorchTensorRecord] = [:]) throws -> Unpickled {
        let machine = PickleMachine(bytes: bytes, limits: limits, path: path, entry: entry, defersRefusals: defersRefusals,
                                    tensorIDs: tensorIDs)
        machine.position = start
        defer { machine.tearDown() }
        let value = try machine.run()
        return Unpickled(value: value, end: machine.position, storages: machine.storages)
    }
}

/// What one pickle of a stream yields.
struct Unpickled {
    var value: PickleValue
    /// The offset just past the STOP opcode.
    var end: Int
    /// Storages named by persistent ids, by key, in first-seen order.
    var storages: [TorchStorageRef]
}

/// A list or set under construction (mutable: APPEND after BINPUT must be seen through the memo).
private final class ListBox {
    var items: [Slot] = []
    let isSet: Bool
    init(isSet: Bool) { self.isSet = isSet }
}

/// A dict under construction; keys are plain values, unique, in insertion order. With a
/// `typeName` it is the attributes of an allow-listed object (`argparse.Namespace`).
private final class DictBox {
    var keys: [PickleValue] = []
    var values: [Slot] = []
    var indexOfKey: [PickleValue: Int] = [:]
    var typeName: String?

    func set(_ key: PickleValue, _ value: Slot) {
        if let i = indexOfKey[key] {
            values[i] = value
        } else {
            indexOfKey[key] = keys.count
            keys.append(key)
            values.append(value)
        }
    }
}

/// A `numpy.dtype` under construction: the type string, and the byte order its BUILD state sets.
private final class NumpyDTypeBox {
    let code: String
    var byteOrder = "|"
    init(code: String) { self.code = code }
    var descr: String { byteOrder + code }
}

/// What a global outside the allow-list (and anything made from it) stands for when refusals are deferred.
private final class RefusedBox {
    var refusal: PickleRefusal
    init(_ refusal: PickleRefusal) { self.refusal = refusal }
}

/// A stack or memo item while interpreting.
private enum Slot {
    case value(PickleValue)
    /// Immutable; `depth` counts tuples nested directly inside tuples.
    case tuple([Slot], depth: Int)
    case list(ListBox)
    case dict(DictBox)
    case global(TorchAllowedGlobal, name: String)
    case storage(TorchStorageRef)
    case numpyDType(NumpyDTypeBox)
    case refused(RefusedBox)

    var tupleDepth: Int {
        if case .tuple(_, let depth) = self { return depth }
        return 0
    }

    /// How the item reads in a refusal message.
    var kindName: String {
        switch self {
        case .value(let v): return "the value \(v.shortDescription)"
        case .tuple: return "a tuple"
        case .list(let box): return box.isSet ? "a set" : "a list"
        case .dict: return "a dict"
        case .global(_, let name): return "'\(name)'"
        case .storage(let s): return "storage '\(s.key)'"
        case .numpyDType(let box): return "numpy.dtype('\(box.descr)')"
        case .refused(let box): return "'\(box.refusal.global)'"
        }
    }
}

private final class PickleMachine {
    let bytes: [UInt8]
    let limits: Unpickler.Limits
    let path: String
    let entry: String?
    let defersRefusals: Bool
    let tensorIDs: [String: TorchTensorRecord]
    var storages: [TorchStorageRef] = []
    private var storageKeys = Set<String>()

    var position = 0
    /// Offset of the opcode being executed (for messages).
    var opcodeOffset = 0
    var opcodeName = ""
    var stack: [Slot] = []
    var marks: [Int] = []
    var memo: [Int: Slot] = [:]
    var valuesBuilt = 0
    /// Every box created, so `tearDown` can cut box-to-box links and release deep chains iteratively.
    var lists: [ListBox] = []
    var dicts: [DictBox] = []

    init(bytes: [UInt8], limits: Unpickler.Limits, path: String, entry: String?, defersRefusals: Bool,
         tensorIDs: [String: TorchTensorRecord]) {
        self.bytes = bytes
        self.limits = limits
        self.path = path
        self.entry = entry
        self.defersRefusals = defersRefusals
        self.tensorIDs = tensorIDs
    }

    func tearDown() {
        stack.removeAll()
        memo.removeAll()
        for box in lists { box.items.removeAll() }
        for box in dicts { box.values.removeAll() }
    }

    // MARK: Errors

    /// A security refusal: the stream asks for something outside the allowed subset.
    func refused(_ reason: String) -> FormatError {
        FormatError.malformed(path: path, entry: entry,
                              reason: "pickle refused at byte \(opcodeOffset): \(reason) (nothing was executed)")
    }

    /// A structurally broken stream.
    func malformed(_ reason: String) -> FormatError {
        FormatError.malformed(path: path, entry: entry,
                              reason: "malformed pickle at byte \(opcodeOffset) (\(opcodeName)): \(reason)")
    }

    // MARK: Reading operands

    func readBytes(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - position else {
            throw malformed("needs \(count) bytes, \(bytes.count - position) left")
        }
        defer { position += count }
        return bytes[position..<position + count]
    }

    func readUInt(_ width: Int) throws -> UInt64 {
        var value: UInt64 = 0
        for (i, b) in try readBytes(width).enumerated() { value |= UInt64(b) << (8 * UInt64(i)) }
        return value
    }

    /// A length operand, which must fit in the remaining input.
    func readLength(_ width: Int) throws -> Int {
        let value = try readUInt(width)
        guard value <= UInt64(bytes.count - position) else {
            throw malformed("length \(value) exceeds the \(bytes.count - position) bytes left")
        }
        return Int(value)
    }

    func readLine() throws -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else { throw malformed("unterminated line") }
        defer { position = end + 1 }
        return try utf8(bytes[position..<end])
    }

    func utf8(_ slice: ArraySlice<UInt8>) throws -> String {
        guard let s = String(bytes: slice, encoding: .utf8) else { throw malformed("invalid UTF-8 text") }
        return s
    }

    // MARK: Stack

    func push(_ slot: Slot) throws {
        guard stack.count < limits.maxStackDepth else { throw malformed("stack exceeds \(limits.maxStackDepth) items") }
        stack.append(slot)
    }

    func pop() throws -> Slot {
        guard let top = stack.last, stack.count > (marks.last ?? 0) else { throw malformed("stack underflow") }
        stack.removeLast()
        return top
    }

    func top() throws -> Slot {
        guard let top = stack.last, stack.count > (marks.last ?? 0) else { throw malformed("stack underflow") }
        return top
    }

    /// Items pushed since the last MARK, removing them and the mark.
    func popToMark() throws -> [Slot] {
        guard let mark = marks.popLast() else { throw malformed("no MARK") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    func makeTuple(_ items: [Slot]) throws -> Slot {
        let depth = 1 + (items.map(\.tupleDepth).max() ?? 0)
        guard depth <= limits.maxNesting else { throw malformed("tuples nested deeper than \(limits.maxNesting)") }
        return .tuple(items, depth: depth)
    }

    func newList(isSet: Bool) -> ListBox {
        let box = ListBox(isSet: isSet)
        lists.append(box)
        return box
    }

    func newDict() -> DictBox {
        let box = DictBox()
        dicts.append(box)
        return box
    }

    func setItems(_ pairs: ArraySlice<Slot>, into target: Slot) throws {
        if case .refused = target { return }  // filling a refused object builds nothing
        guard case .dict(let box) = target else { throw refused("\(opcodeName) on \(target.kindName) (only dicts take items)") }
        guard pairs.count % 2 == 0 else { throw malformed("odd number of items for a dict") }
        var i = pairs.startIndex
        while i < pairs.endIndex {
            box.set(try key(pairs[i]), pairs[i + 1])
            i += 2
        }
    }

    func appendItems(_ items: [Slot], to target: Slot, intoSet: Bool) throws {
        if case .refused = target { return }
        guard case .list(let box) = target else { throw refused("\(opcodeName) on \(target.kindName) (only lists and sets take items)") }
        guard box.isSet == intoSet else { throw malformed("\(opcodeName) on a \(box.isSet ? "set" : "list")") }
        box.items.append(contentsOf: items)
    }

    /// A dict key: a plain, hashable value.
    func key(_ slot: Slot) throws -> PickleValue {
        let value = try materialize(slot, depth: 0)
        switch value {
        case .list, .dict, .set: throw malformed("unhashable dict key \(value.shortDescription)")
        default: return value
        }
    }

    // MARK: Materializing

    /// The immutable value of a slot, bounded in nesting and total size (shared boxes count each time).
    func materialize(_ slot: Slot, depth: Int) throws -> PickleValue {
        guard depth <= limits.maxNesting else { throw malformed("containers nested deeper than \(limits.maxNesting)") }
        valuesBuilt += 1
        guard valuesBuilt <= limits.maxValues else { throw malformed("expands to more than \(limits.maxValues) values") }
        switch slot {
        case .value(let v): return v
        case .storage(let s): return .storage(s)
        case .numpyDType(let box): return .global("numpy.dtype('\(box.descr)')")
        case .refused(let box): return .refused(box.refusal)
        case .global(let global, let name):
            switch global {
            case .constant, .storageType: return .global(name)
            case .dict, .rebuildTensorV2, .rebuildParameter, .codecsEncode, .set, .namespace, .numpyDType, .numpyScalar,
                 .torchSize, .torchDevice:
                throw refused("function '\(name)' used as a value")
            }
        case .tuple(let items, _): return .tuple(try items.map { try materialize($0, depth: depth + 1) })
        case .list(let box):
            let items = try box.items.map { try materialize($0, depth: depth + 1) }
            return box.isSet ? .set(items) : .list(items)
        case .dict(let box):
            var entries: [PickleDictEntry] = []
            entries.reserveCapacity(box.keys.count)
            for (k, v) in zip(box.keys, box.values) {
                entries.append(PickleDictEntry(key: k, value: try materialize(v, depth: depth + 1)))
            }
            if let type = box.typeName { return .object(type: type, attributes: entries) }
            return .dict(entries)
        }
    }

    // MARK: Interpreting

    func run() throws -> PickleValue {
        while position < bytes.count {
            opcodeOffset = position
            let byte = bytes[position]
            position += 1
            guard let op = PickleOpcode(rawValue: byte) else {
                opcodeName = String(format: "0x%02X", byte)
                throw refused("unknown opcode 0x\(String(format: "%02X", byte))")
            }
            opcodeName = op.name
            if op == .stop {
                let result = try pop()
                return try materialize(result, depth: 0)
            }
            try execute(op)
        }
        opcodeOffset = position
        opcodeName = "end of data"
        throw malformed("ends without STOP")
    }

    func execute(_ op: PickleOpcode) throws {
        switch op {
        case .proto:
            let version = try readUInt(1)
            guard version <= 5 else { throw malformed("unsupported protocol \(version)") }
        case .frame:
            _ = try readLength(8)  // framing is a buffering hint; opcodes are read linearly anyway
        case .mark:
            guard marks.count < limits.maxOpenMarks else { throw malformed("more than \(limits.maxOpenMarks) open MARKs") }
            marks.append(stack.count)
        case .stop:
            throw malformed("STOP handled by the loop")

        // Constants and numbers
        case .none: try push(.value(.none))
        case .newTrue: try push(.value(.bool(true)))
        case .newFalse: try push(.value(.bool(false)))
        case .binInt: try push(.value(.int(Int(Int32(truncatingIfNeeded: try readUInt(4))))))
        case .binInt1: try push(.value(.int(Int(try readUInt(1)))))
        case .binInt2: try push(.value(.int(Int(try readUInt(2)))))
        case .long1: try push(.value(try long(byteCount: Int(try readUInt(1)))))
        case .long4:
            let count = Int(Int32(truncatingIfNeeded: try readUInt(4)))
            guard count >= 0 else { throw malformed("negative LONG4 length") }
            try push(.value(try long(byteCount: count)))
        case .binFloat:
            let bits = try readBytes(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }  // big-endian
            try push(.value(.float(Double(bitPattern: bits))))

        // Strings and bytes
        case .shortBinUnicode: try push(.value(.string(try utf8(try readBytes(try readLength(1))))))
        case .binUnicode: try push(.value(.string(try utf8(try readBytes(try readLength(4))))))
        case .binUnicode8: try push(.value(.string(try utf8(try readBytes(try readLength(8))))))
        case .shortBinBytes: try push(.value(.bytes(Array(try readBytes(try readLength(1))))))
        case .binBytes: try push(.value(.bytes(Array(try readBytes(try readLength(4))))))
        case .binBytes8, .byteArray8: try push(.value(.bytes(Array(try readBytes(try readLength(8))))))

        // Containers
        case .emptyTuple: try push(.tuple([], depth: 1))
        case .tuple: try push(try makeTuple(try popToMark()))
        case .tuple1, .tuple2, .tuple3:
            let n = op == .tuple1 ? 1 : op == .tuple2 ? 2 : 3
            var items: [Slot] = []
            for _ in 0..<n { items.insert(try pop(), at: 0) }
            try push(try makeTuple(items))
        case .emptyList: try push(.list(newList(isSet: false)))
        case .list:
            let box = newList(isSet: false)
            box.items = try popToMark()
            try push(.list(box))
        case .emptySet: try push(.list(newList(isSet: true)))
        case .frozenSet:
            let box = newList(isSet: true)
            box.items = try popToMark()
            try push(.list(box))
        case .append:
            let item = try pop()
            try appendItems([item], to: try top(), intoSet: false)
        case .appends, .addItems:
            let items = try popToMark()
            try appendItems(items, to: try top(), intoSet: op == .addItems)
        case .emptyDict: try push(.dict(newDict()))
        case .dict:
            let box = newDict()
            let pairs = try popToMark()
            try setItems(pairs[...], into: .dict(box))
            try push(.dict(box))
        case .setItem:
            let value = try pop()
            let key = try pop()
            try setItems([key, value][...], into: try top())
        case .setItems:
            let pairs = try popToMark()
            try setItems(pairs[...], into: try top())

        // Stack and memo
        case .pop:
            if let mark = marks.last, mark == stack.count { marks.removeLast() } else { _ = try pop() }
        case .popMark: _ = try popToMark()
        case .dup: try push(try top())
        case .binPut: try memoize(at: Int(try readUInt(1)))
        case .longBinPut: try memoize(at: Int(try readUInt(4)))
        case .memoize: try memoize(at: memo.count)
        case .binGet: try recall(Int(try readUInt(1)))
        case .longBinGet: try recall(Int(try readUInt(4)))

        // Globals and object construction: allow-listed only, nothing is imported or called
        case .global:
            let module = try readLine()
            let name = try readLine()
            try pushGlobal(module: module, name: name)
        case .stackGlobal:
            let nameSlot = try pop()
            let moduleSlot = try pop()
            guard case .value(.string(let name)) = nameSlot, case .value(.string(let module)) = moduleSlot else {
                throw malformed("module and name must be strings")
            }
            try pushGlobal(module: module, name: name)
        case .reduce:
            let args = try pop()
            let callable = try pop()
            try push(try call(callable, args))
        case .newObj:
            let args = try pop()
            let cls = try pop()
            try push(try construct(cls, args))
        case .newObjEx:
            let kwargs = try pop()
            let args = try pop()
            let cls = try pop()
            if case .refused = cls { try push(cls); break }
            guard case .dict(let box) = kwargs, box.keys.isEmpty else { throw refused("NEWOBJ_EX with keyword arguments") }
            try push(try construct(cls, args))
        case .build:
            try build(state: try pop(), on: try top())
        case .binPersID:
            try push(try persistentLoad(try materialize(try pop(), depth: 0)))

        // Outside the subset: text-protocol opcodes, class instantiation, extension registry, out-of-band buffers
        case .inst:
            // INST names its class inline; say which one was asked for.
            let module = try readLine()
            let name = try readLine()
            throw refused("INST '\(module).\(name)' (opcode 0x69 is outside the supported subset)")
        case .float, .int, .long, .string, .binString, .shortBinString, .unicode, .persID, .get, .put,
             .obj, .ext1, .ext2, .ext4, .nextBuffer, .readonlyBuffer:
            throw refused("opcode \(op.name) (0x\(String(format: "%02X", op.rawValue))) is outside the supported subset")
        }
    }

    func long(byteCount: Int) throws -> PickleValue {
        guard byteCount <= limits.maxBigIntBytes else { throw malformed("integer of \(byteCount) bytes exceeds \(limits.maxBigIntBytes)") }
        let digits = Array(try readBytes(byteCount))
        guard byteCount <= 8 else { return .bigInt(digits) }
        guard let last = digits.last else { return .int(0) }
        var value: UInt64 = last & 0x80 != 0 ? ~0 : 0  // sign extension
        for (i, b) in digits.enumerated() {
            value &= ~(UInt64(0xFF) << (8 * UInt64(i)))
            value |= UInt64(b) << (8 * UInt64(i))
        }
        return .int(Int(Int64(bitPattern: value)))
    }

    func memoize(at index: Int) throws {
        guard memo[index] != nil || memo.count < limits.maxMemoEntries else {
            throw malformed("memo exceeds \(limits.maxMemoEntries) entries")
        }
        memo[index] = try top()
    }

    func recall(_ index: Int) throws {
        guard let slot = memo[index] else { throw malformed("memo entry \(index) is not defined") }
        try push(slot)
    }

    func pushGlobal(module: String, name: String) throws {
        let qualified = "\(module).\(name)"
        guard let allowed = TorchAllowedGlobal(module: module, name: name) else {
            guard defersRefusals else { throw refused("\(opcodeName) '\(qualified)' is not on the allow-list") }
            let isModule = module.hasPrefix("torch.nn.modules.")
            try push(.refused(RefusedBox(PickleRefusal(global: qualified, offset: opcodeOffset, opcode: opcodeName, isModule: isModule))))
            return
        }
        try push(.global(allowed, name: qualified))
    }

    /// BUILD: sets an object's state. An OrderedDict's `_metadata` is read and dropped; a
    /// Namespace takes its attributes; a numpy dtype its byte order; a refused object nothing
    /// (a state with `_parameters` or `_modules` marks it as a pickled `nn.Module`).
    func build(state: Slot, on target: Slot) throws {
        switch target {
        case .dict(let box) where box.typeName != nil:
            guard case .dict(let attributes) = state else { throw malformed("BUILD of '\(box.typeName!)' with \(state.kindName)") }
            for (key, value) in zip(attributes.keys, attributes.values) { box.set(key, value) }
        case .dict:
            _ = try materialize(state, depth: 0)
        case .numpyDType(let box):
            guard case .tuple(let items, _) = state, items.count > 1, case .value(.string(let order)) = items[1],
                  ["<", ">", "|", "="].contains(order) else { throw malformed("BUILD of a numpy dtype with a bad state") }
            box.byteOrder = order == "=" ? "<" : order
        case .refused(let box):
            if case .dict(let attributes) = state,
               attributes.keys.contains(.string("_parameters")) || attributes.keys.contains(.string("_modules")) {
                box.refusal.isModule = true
            }
        default:
            throw refused("BUILD on \(target.kindName)")
        }
    }

    // MARK: Allowed constructors

    func tupleItems(_ args: Slot, for name: String) throws -> [Slot] {
        guard case .tuple(let items, _) = args else { throw malformed("arguments of '\(name)' are not a tuple") }
        return items
    }

    /// REDUCE: `callable(*args)` for the allow-listed constructors, evaluated here without calling anything.
    func call(_ callable: Slot, _ args: Slot) throws -> Slot {
        if case .refused = callable { return callable }  // never called: the result is as refused as the callable
        guard case .global(let global, let name) = callable else { throw refused("REDUCE on \(callable.kindName)") }
        let items = try tupleItems(args, for: name)
        switch global {
        case .dict:
            let box = newDict()
            guard let argument = items.first else { return .dict(box) }
            guard items.count == 1 else { throw malformed("'\(name)' takes at most one argument") }
            switch argument {
            case .list(let list) where !list.isSet:  // OrderedDict([(key, value), …])
                for pair in list.items {
                    guard case .tuple(let kv, _) = pair, kv.count == 2 else { throw malformed("'\(name)' item is not a pair") }
                    box.set(try key(kv[0]), kv[1])
                }
            case .dict(let source):  // Counter({…})
                for (k, v) in zip(source.keys, source.values) { box.set(k, v) }
            case .global(.constant, _), .value(.none):  // defaultdict(list): the factory is never called
                break
            default:
                throw refused("'\(name)' from \(argument.kindName)")
            }
            return .dict(box)
        case .set:
            let box = newList(isSet: true)
            if let argument = items.first {
                guard items.count == 1, case .list(let list) = argument else { throw refused("'\(name)' from \(argument.kindName)") }
                box.items = list.items
            }
            return .list(box)
        case .namespace:
            throw refused("REDUCE on '\(name)'")
        case .numpyDType:
            guard (1...3).contains(items.count), case .value(.string(let code)) = items[0] else {
                throw malformed("'\(name)' expects a type string")
            }
            return .numpyDType(NumpyDTypeBox(code: code))
        case .numpyScalar:
            guard items.count == 2, case .numpyDType(let dtype) = items[0], case .value(.bytes(let raw)) = items[1] else {
                throw malformed("'\(name)' expects (dtype, bytes)")
            }
            return .value(try numpyNumber(raw, descr: dtype.descr, name: name))
        case .torchSize:
            guard items.count == 1, case .tuple(let dims, _) = items[0], dims.allSatisfy({ if case .value(.int) = $0 { true } else { false } }) else {
                throw malformed("'\(name)' expects a tuple of integers")
            }
            return items[0]
        case .torchDevice:
            guard (1...2).contains(items.count), case .value(.string(let type)) = items[0] else { throw malformed("'\(name)' expects a device name") }
            if items.count == 2, case .value(.int(let index)) = items[1] { return .value(.string("\(type):\(index)")) }
            return .value(.string(type))
        case .rebuildTensorV2:
            return .value(.tensor(try tensorRecord(items, name: name)))
        case .rebuildParameter:
            guard (3...4).contains(items.count), case .value(.tensor) = items[0] else {
                throw malformed("'\(name)' expects (tensor, requires_grad, hooks[, state])")
            }
            return items[0]
        case .codecsEncode:
            guard items.count == 2, case .value(.string(let text)) = items[0],
                  case .value(.string(let encoding)) = items[1], ["latin1", "latin-1"].contains(encoding.lowercased()) else {
                throw refused("'\(name)' other than (text, 'latin1')")
            }
            var out: [UInt8] = []
            for scalar in text.unicodeScalars {
                guard scalar.value < 256 else { throw malformed("'\(name)': character outside latin-1") }
                out.append(UInt8(scalar.value))
            }
            return .value(.bytes(out))
        case .storageType, .constant:
            throw refused("REDUCE on '\(name)'")
        }
    }

    /// A NumPy scalar's value from its bytes: floats, integers and bools become plain numbers.
    func numpyNumber(_ raw: [UInt8], descr: String, name: String) throws -> PickleValue {
        let code = String(descr.dropFirst())
        let bytes = descr.first == ">" ? Array(raw.reversed()) : raw
        var bits: UInt64 = 0
        for (i, b) in bytes.prefix(8).enumerated() { bits |= UInt64(b) << (8 * UInt64(i)) }
        let width = bytes.count
        // Sign-extends a `width`-byte integer: shift it to the top, then arithmetically back.
        func signed() -> Int {
            let shift = UInt64(64 - 8 * width)
            return Int(Int64(bitPattern: bits << shift) >> Int64(shift))
        }
        switch (code, width) {
        case ("f8", 8): return .float(Double(bitPattern: bits))
        case ("f4", 4): return .float(Double(Float(bitPattern: UInt32(bits))))
        case ("f2", 2): return .float(Double(floatFromHalfBits(UInt16(bits))))
        case ("i1", 1), ("i2", 2), ("i4", 4), ("i8", 8): return .int(signed())
        case ("u1", 1), ("u2", 2), ("u4", 4): return .int(Int(bits))
        case ("u8", 8) where bits <= UInt64(Int.max): return .int(Int(bits))
        case ("b1", 1): return .bool(bits != 0)
        default: throw refused("'\(name)' of dtype '\(descr)' with \(width) bytes (only numbers and bools)")
        }
    }

    /// NEWOBJ: `cls.__new__(cls, *args)`, allowed only to make an empty dict or Namespace.
    func construct(_ cls: Slot, _ args: Slot) throws -> Slot {
        if case .refused = cls { return cls }  // never constructed
        guard case .global(let global, let name) = cls, global == .dict || global == .namespace else {
            throw refused("\(opcodeName) on \(cls.kindName)")
        }
        guard try tupleItems(args, for: name).isEmpty else { throw refused("\(opcodeName) on '\(name)' with arguments") }
        let box = newDict()
        if global == .namespace { box.typeName = name }
        return .dict(box)
    }

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`.
    func tensorRecord(_ items: [Slot], name: String) throws -> TorchTensorRecord {
        guard (6...7).contains(items.count) else { throw malformed("'\(name)' expects 6 or 7 arguments, got \(items.count)") }
        guard case .storage(let storage) = items[0] else { throw malformed("'\(name)' argument 1 is not a storage") }
        guard case .value(.int(let offset)) = items[1], offset >= 0 else {
            throw malformed("'\(name)' storage offset is not a non-negative integer")
        }
        let shape = try intTuple(items[2], what: "size", name: name)
        let stride = try intTuple(items[3], what: "stride", name: name)
        guard shape.count == stride.count else { throw malformed("'\(name)' size has \(shape.count) dims, stride \(stride.count)") }
        guard shape.count <= limits.maxRank else { throw malformed("'\(name)' rank \(shape.count) exceeds \(limits.maxRank)") }
        guard case .value(.bool(let requiresGrad)) = items[4] else { throw malformed("'\(name)' requires_grad is not a bool") }
        guard case .dict(let hooks) = items[5], hooks.keys.isEmpty else {
            throw refused("'\(name)' with backward hooks")
        }
        let record = TorchTensorRecord(storage: storage, storageOffset: offset, shape: shape, stride: stride,
                                       requiresGrad: requiresGrad)
        guard let needed = record.requiredStorageElements, needed <= storage.elementCount else {
            throw malformed("tensor view (offset \(offset), size \(shape), stride \(stride)) exceeds its storage of \(storage.elementCount) elements")
        }
        return record
    }

    func intTuple(_ slot: Slot, what: String, name: String) throws -> [Int] {
        guard case .tuple(let items, _) = slot else { throw malformed("'\(name)' \(what) is not a tuple") }
        return try items.map {
            guard case .value(.int(let v)) = $0, v >= 0 else { throw malformed("'\(name)' \(what) has a non-integer or negative entry") }
            return v
        }
    }

    /// BINPERSID: a storage, a tensor of the pre-0.4 tar format (a plain key), or — with deferred
    /// refusals — the class of a legacy pickled module (`('module', cls, file, source)`).
    func persistentLoad(_ pid: PickleValue) throws -> Slot {
        if !tensorIDs.isEmpty {
            let key: String?
            switch pid {
            case .string(let s): key = s
            case .int(let i): key = String(i)
            default: key = nil
            }
            guard let key, let record = tensorIDs[key] else { throw malformed("persistent id \(pid.shortDescription) names no tensor") }
            return .value(.tensor(record))
        }
        if defersRefusals, case .tuple(let items) = pid, items.first == .string("module"), items.count > 1,
           case .refused(var refusal) = items[1] {
            refusal.isModule = true
            return .refused(RefusedBox(refusal))
        }
        let storage = try storageRef(pid)
        if storageKeys.insert(storage.key).inserted { storages.append(storage) }
        return .storage(storage)
    }

    /// `('storage', torch.<T>Storage, key, location, numel)`, and the legacy format's
    /// `(…, view_metadata)` with no view.
    func storageRef(_ pid: PickleValue) throws -> TorchStorageRef {
        guard case .tuple(let items) = pid, items.count == 5 || (items.count == 6 && items[5] == .none), items[0] == .string("storage") else {
            throw malformed("persistent id \(pid.shortDescription) is not ('storage', type, key, location, numel)")
        }
        guard case .global(let typeName) = items[1], let type = TorchScalarType(storageTypeName: typeName) else {
            throw malformed("persistent id storage type \(items[1].shortDescription) is not a storage type")
        }
        guard case .string(let key) = items[2], case .string(let location) = items[3],
              case .int(let count) = items[4], count >= 0 else {
            throw malformed("persistent id \(pid.shortDescription) has a bad key, location or size")
        }
        return TorchStorageRef(key: key, scalarType: type, location: location, elementCount: count)
    }
}

extension TorchTensorRecord {
    /// Storage elements the view reaches (`offset + 1 + Σ (size−1)·stride`, or `offset` when empty),
    /// nil on overflow.
    public var requiredStorageElements: Int? {
        guard let count = checkedProduct(shape) else { return nil }
        if count == 0 { return storageOffset }
        var last = storageOffset
        for (size, step) in zip(shape, stride) {
            guard let span = checkedMultiply(size - 1, step) else { return nil }
            let (sum, overflow) = last.addingReportingOverflow(span)
            if overflow { return nil }
            last = sum
        }
        let (end, overflow) = last.addingReportingOverflow(1)
        return overflow ? nil : end
    }
}
