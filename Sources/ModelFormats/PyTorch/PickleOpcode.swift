/// Every opcode of pickle protocols 0–5, by byte value. The `Unpickler` implements a subset and
/// refuses the rest by name.
enum PickleOpcode: UInt8 {
    case mark = 0x28, stop = 0x2E, pop = 0x30, popMark = 0x31, dup = 0x32
    case float = 0x46, int = 0x49, binInt = 0x4A, binInt1 = 0x4B, long = 0x4C, binInt2 = 0x4D, none = 0x4E
    case persID = 0x50, binPersID = 0x51, reduce = 0x52, string = 0x53, binString = 0x54
    case shortBinString = 0x55, unicode = 0x56, binUnicode = 0x58
    case append = 0x61, build = 0x62, global = 0x63, dict = 0x64, emptyDict = 0x7D, appends = 0x65
    case get = 0x67, binGet = 0x68, inst = 0x69, longBinGet = 0x6A, list = 0x6C, emptyList = 0x5D
    case obj = 0x6F, put = 0x70, binPut = 0x71, longBinPut = 0x72, setItem = 0x73, tuple = 0x74
    case emptyTuple = 0x29, setItems = 0x75, binFloat = 0x47
    // Protocol 2
    case proto = 0x80, newObj = 0x81, ext1 = 0x82, ext2 = 0x83, ext4 = 0x84
    case tuple1 = 0x85, tuple2 = 0x86, tuple3 = 0x87, newTrue = 0x88, newFalse = 0x89, long1 = 0x8A, long4 = 0x8B
    // Protocol 3
    case binBytes = 0x42, shortBinBytes = 0x43
    // Protocol 4
    case shortBinUnicode = 0x8C, binUnicode8 = 0x8D, binBytes8 = 0x8E, emptySet = 0x8F, addItems = 0x90
    case frozenSet = 0x91, newObjEx = 0x92, stackGlobal = 0x93, memoize = 0x94, frame = 0x95
    // Protocol 5
    case byteArray8 = 0x96, nextBuffer = 0x97, readonlyBuffer = 0x98

    /// The name `pickletools` uses (`BINUNICODE`, `STACK_GLOBAL`).
    var name: String {
        switch self {
        case .mark: return "MARK"
        case .stop: return "STOP"
        case .pop: return "POP"
        case .popMark: return "POP_MARK"
        case .dup: return "DUP"
        case .float: return "FLOAT"
        case .int: return "INT"
        case .binInt: return "BININT"
        case .binInt1: return "BININT1"
        case .long: return "LONG"
        case .binInt2: return "BININT2"
        case .none: return "NONE"
        case .persID: return "PERSID"
        case .binPersID: return "BINPERSID"
        case .reduce: return "REDUCE"
        case .string: return "STRING"
        case .binString: return "BINSTRING"
        case .shortBinString: return "SHORT_BINSTRING"
        case .unicode: return "UNICODE"
        case .binUnicode: return "BINUNICODE"
        case .append: return "APPEND"
        case .build: return "BUILD"
        case .global: return "GLOBAL"
        case .dict: return "DICT"
        case .emptyDict: return "EMPTY_DICT"
        case .appends: return "APPENDS"
        case .get: return "GET"
        case .binGet: return "BINGET"
        case .inst: return "INST"
        case .longBinGet: return "LONG_BINGET"
        case .list: return "LIST"
        case .emptyList: return "EMPTY_LIST"
        case .obj: return "OBJ"
        case .put: return "PUT"
        case .binPut: return "BINPUT"
        case .longBinPut: return "LONG_BINPUT"
        case .setItem: return "SETITEM"
        case .tuple: return "TUPLE"
        case .emptyTuple: return "EMPTY_TUPLE"
        case .setItems: return "SETITEMS"
        case .binFloat: return "BINFLOAT"
        case .proto: return "PROTO"
        case .newObj: return "NEWOBJ"
        case .ext1: return "EXT1"
        case .ext2: return "EXT2"
        case .ext4: return "EXT4"
        case .tuple1: return "TUPLE1"
        case .tuple2: return "TUPLE2"
        case .tuple3: return "TUPLE3"
        case .newTrue: return "NEWTRUE"
        case .newFalse: return "NEWFALSE"
        case .long1: return "LONG1"
        case .long4: return "LONG4"
        case .binBytes: return "BINBYTES"
        case .shortBinBytes: return "SHORT_BINBYTES"
        case .shortBinUnicode: return "SHORT_BINUNICODE"
        case .binUnicode8: return "BINUNICODE8"
        case .binBytes8: return "BINBYTES8"
        case .emptySet: return "EMPTY_SET"
        case .addItems: return "ADDITEMS"
        case .frozenSet: return "FROZENSET"
        case .newObjEx: return "NEWOBJ_EX"
        case .stackGlobal: return "STACK_GLOBAL"
        case .memoize: return "MEMOIZE"
        case .frame: return "FRAME"
        case .byteArray8: return "BYTEARRAY8"
        case .nextBuffer: return "NEXT_BUFFER"
        case .readonlyBuffer: return "READONLY_BUFFER"
        }
    }
}
