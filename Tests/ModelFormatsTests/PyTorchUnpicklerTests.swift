import Foundation
import TensorCore
import XCTest
@testable import ModelFormats

/// The restricted unpickler on its own: values from Python's pickler, refusals, malformed streams,
/// resource bounds and random mutations.
final class PyTorchUnpicklerTests: XCTestCase {
    private func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: fixtureURL("pytorch/\(relative)")))
    }

    private func unpickle(_ stream: [UInt8], limits: Unpickler.Limits = Unpickler.Limits()) throws -> PickleValue {
        try Unpickler(limits: limits).unpickle(stream, path: "t.pkl")
    }

    /// Every allow-listed global as Python's pickler writes it (`allow_listed_values` in
    /// Fixtures/inputs/make_input_fixtures.py), read as the inert value it stands for.
    func testAllowListedGlobalsBecomePlainValues() throws {
        let value = try unpickle([UInt8](try Data(contentsOf: fixtureURL("inputs/allow_listed.pkl"))))
        XCTAssertEqual(value.dictEntries?.map(\.key), ["f64", "f32", "f16", "i8", "i64", "u16", "bool", "dtype_be", "set", "frozen",
                                                        "device", "cpu", "size", "namespace", "deque_free"].map { .string($0) })
        XCTAssertEqual(value["f64"], .float(-2.5))
        XCTAssertEqual(value["f32"], .float(1.5))
        XCTAssertEqual(value["f16"], .float(0.5))
        XCTAssertEqual(value["i8"], .int(-3))
        XCTAssertEqual(value["i64"], .int(-(1 << 40)))
        XCTAssertEqual(value["u16"], .int(65535))
        XCTAssertEqual(value["bool"], .bool(true))
        XCTAssertEqual(value["dtype_be"], .global("numpy.dtype('>f8')"))
        XCTAssertEqual(value["set"], .set([.int(3)]))
        XCTAssertEqual(value["frozen"], .set([.int(4)]))
        XCTAssertEqual(value["device"], .string("cuda:1"))
        XCTAssertEqual(value["cpu"], .string("cpu"))
        XCTAssertEqual(value["size"], .tuple([]))
        XCTAssertEqual(value["namespace"], .object(type: "argparse.Namespace", attributes: []))
        XCTAssertEqual(value["deque_free"], .dict([PickleDictEntry(key: .string("a"), value: .int(1))]))
    }

    /// With deferred refusals a disallowed global, and anything called, built or filled from it,
    /// stays an inert placeholder recording where it was named; the strict default refuses at once.
    func testDeferredRefusalBuildsNothing() throws {
        // {"w": 1, "evil": os.system("ls"), "obj": <Unknown with state {'_parameters': {}}>}
        func text(_ s: String) -> [UInt8] { Array(s.utf8) }
        func unicode(_ s: String) -> [UInt8] { [0x58, UInt8(s.utf8.count), 0, 0, 0] + text(s) }
        var stream: [UInt8] = [0x80, 0x02, 0x7D, 0x28] + unicode("w") + [0x4B, 1]
        stream += unicode("evil") + text("cos\nsystem\n") + unicode("ls") + [0x85, 0x52]                 // TUPLE1, REDUCE
        stream += unicode("obj") + text("c__main__\nNet\n") + [0x29, 0x81, 0x7D] + unicode("_parameters") // EMPTY_TUPLE, NEWOBJ, {}, key
        stream += [0x7D, 0x73, 0x62, 0x75, 0x2E]                                                         // {}, SETITEM, BUILD, SETITEMS, STOP
        let value = try Unpickler(defersRefusals: true).unpickle(stream, path: "t.pkl")
        XCTAssertEqual(value["w"], .int(1))
        XCTAssertEqual(value["evil"], .refused(PickleRefusal(global: "os.system", offset: 21, opcode: "GLOBAL", isModule: false)))
        XCTAssertEqual(value["obj"], .refused(PickleRefusal(global: "__main__.Net", offset: 49, opcode: "GLOBAL", isModule: true)))
        XCTAssertThrowsError(try unpickle(stream)) { error in
            XCTAssertEqual("\(error)", "t.pkl: pickle refused at byte 21: GLOBAL 'os.system' is not on the allow-list (nothing was executed)")
        }
    }

    /// `pickle.dump(obj, protocol=p)` for p in 2…5 (see `plain_values` in make_pytorch_fixtures.py).
    func testPlainValuesFromPythonsPicklerInEveryProtocol() throws {
        for protocolVersion in 2...5 {
            let value = try unpickle(try bytes("plain_p\(protocolVersion).pkl"))
            var expected: [PickleDictEntry] = [
                .init(key: .string("int1"), value: .int(7)),
                .init(key: .string("int2"), value: .int(300)),
                .init(key: .string("int4"), value: .int(-70000)),
                .init(key: .string("long"), value: .int(1 << 40)),
                .init(key: .string("neg_long"), value: .int(-(1 << 40))),
                .init(key: .string("big"), value: .bigInt([0, 0, 0, 0, 0, 0, 0, 0, 0x40])),
                .init(key: .string("float"), value: .float(0.1)),
                .init(key: .string("true"), value: .bool(true)),
                .init(key: .string("false"), value: .bool(false)),
                .init(key: .string("none"), value: .none),
                .init(key: .string("str"), value: .string("h\u{e9}llo \u{2713}")),
                .init(key: .string("bytes"), value: .bytes([0x00, 0xFF])),
                .init(key: .string("list"), value: .list([.int(1), .string("a"), .list([.float(2.5)])])),
                .init(key: .string("tuple0"), value: .tuple([])),
                .init(key: .string("tuple1"), value: .tuple([.int(1)])),
                .init(key: .string("tuple2"), value: .tuple([.int(1), .int(2)])),
                .init(key: .string("tuple3"), value: .tuple([.int(1), .int(2), .int(3)])),
                .init(key: .string("tuple5"), value: .tuple((1...5).map { .int($0) })),
                .init(key: .string("shared1"), value: .list([.int(1)])),
                .init(key: .string("shared2"), value: .list([.int(1)])),
                .init(key: .string("ordered"), value: .dict([.init(key: .string("a"), value: .int(1))])),
                .init(key: .string("nested"), value: .dict([.init(key: .string("x"), value: .dict([
                    .init(key: .string("y"), value: .list([.none]))]))])),
                .init(key: .int(5), value: .string("int key")),
            ]
            if protocolVersion >= 4 {
                expected.append(.init(key: .string("set"), value: .set([.int(3)])))
                expected.append(.init(key: .string("frozen"), value: .set([.int(4)])))
            }
            XCTAssertEqual(value, .dict(expected), "protocol \(protocolVersion)")
        }
    }

    // MARK: Refusals

    func testRefusesGlobalsOffTheAllowListNamingThem() {
        let stream = [0x80, 0x02] + Array("cos\nsystem\nX\u{2}\0\0\0ls\u{85}R.".utf8)
        assertFormatError("t.pkl: pickle refused at byte 2: GLOBAL 'os.system' is not on the allow-list (nothing was executed)") {
            try unpickle(stream)
        }
        let stackGlobal: [UInt8] = [0x80, 0x04, 0x8C, 0x08] + Array("builtins".utf8) + [0x8C, 0x04] + Array("eval".utf8) + [0x93, 0x2E]
        assertFormatError("t.pkl: pickle refused at byte 18: STACK_GLOBAL 'builtins.eval' is not on the allow-list (nothing was executed)") {
            try unpickle(stackGlobal)
        }
    }

    func testRefusesOpcodesOutsideTheSubset() {
        assertFormatError("t.pkl: pickle refused at byte 1: INST 'os.system' (opcode 0x69 is outside the supported subset) (nothing was executed)") {
            try unpickle(Array("(ios\nsystem\n.".utf8))
        }
        assertFormatError("t.pkl: pickle refused at byte 2: opcode OBJ (0x6F) is outside the supported subset (nothing was executed)") {
            try unpickle([0x80, 0x02, 0x6F, 0x2E])
        }
        assertFormatError("t.pkl: pickle refused at byte 2: opcode EXT1 (0x82) is outside the supported subset (nothing was executed)") {
            try unpickle([0x80, 0x02, 0x82, 0x01, 0x2E])
        }
        assertFormatError("t.pkl: pickle refused at byte 0: unknown opcode 0xFF (nothing was executed)") {
            try unpickle([0xFF])
        }
    }

    func testRefusesReduceBuildAndNewobjOnAnythingButAllowedConstructors() {
        // REDUCE on a storage type (allowed only inside persistent ids).
        assertFormatError("t.pkl: pickle refused at byte 23: REDUCE on 'torch.FloatStorage' (nothing was executed)") {
            try unpickle([0x80, 0x02] + Array("ctorch\nFloatStorage\n)R.".utf8))
        }
        // BUILD on a list.
        assertFormatError("t.pkl: pickle refused at byte 4: BUILD on a list (nothing was executed)") {
            try unpickle([0x80, 0x02, 0x5D, 0x7D, 0x62, 0x2E])
        }
        // REDUCE on a string.
        assertFormatError("t.pkl: pickle refused at byte 9: REDUCE on the value x (nothing was executed)") {
            try unpickle([0x80, 0x02, 0x58, 1, 0, 0, 0, 0x78, 0x29, 0x52, 0x2E])
        }
        // NEWOBJ on OrderedDict with arguments.
        assertFormatError("t.pkl: pickle refused at byte 30: NEWOBJ on 'collections.OrderedDict' with arguments (nothing was executed)") {
            try unpickle([0x80, 0x02] + Array("ccollections\nOrderedDict\n".utf8) + [0x4B, 0x01, 0x85, 0x81, 0x2E])
        }
        // A torch-looking name that is not on the list.
        assertFormatError("t.pkl: pickle refused at byte 2: GLOBAL 'torch._utils._rebuild_tensor_v3' is not on the allow-list (nothing was executed)") {
            try unpickle([0x80, 0x02] + Array("ctorch._utils\n_rebuild_tensor_v3\n.".utf8))
        }
    }

    // MARK: Malformed streams

    func testMalformedStreamsNameTheOffsetAndOpcode() {
        assertFormatError("t.pkl: malformed pickle at byte 2 (BINUNICODE): length 100 exceeds the 1 bytes left") {
            try unpickle([0x80, 0x02, 0x58, 100, 0, 0, 0, 0x41])
        }
        assertFormatError("t.pkl: malformed pickle at byte 3 (end of data): ends without STOP") {
            try unpickle([0x80, 0x02, 0x4E])
        }
        assertFormatError("t.pkl: malformed pickle at byte 2 (APPEND): stack underflow") {
            try unpickle([0x80, 0x02, 0x61, 0x2E])
        }
        assertFormatError("t.pkl: malformed pickle at byte 2 (BINGET): memo entry 7 is not defined") {
            try unpickle([0x80, 0x02, 0x68, 7, 0x2E])
        }
        assertFormatError("t.pkl: malformed pickle at byte 0 (PROTO): unsupported protocol 9") {
            try unpickle([0x80, 0x09, 0x4E, 0x2E])
        }
        // Values above the innermost MARK are not reachable by pop.
        assertFormatError("t.pkl: malformed pickle at byte 4 (TUPLE1): stack underflow") {
            try unpickle([0x80, 0x02, 0x4E, 0x28, 0x85, 0x2E])
        }
    }

    // MARK: Bounds

    func testDeeplyNestedTuplesAreRefusedNotRecursedInto() {
        let stream: [UInt8] = [0x80, 0x02, 0x4E] + [UInt8](repeating: 0x85, count: 100_000) + [0x2E]
        assertFormatError("t.pkl: malformed pickle at byte 131 (TUPLE1): tuples nested deeper than 128") { try unpickle(stream) }
    }

    /// A chain of 100 000 lists, each appended into the previous through the memo: must be refused
    /// at materialization and torn down without recursing (no stack overflow).
    func testDeepListChainThroughTheMemoIsRefusedAndReleased() {
        var stream: [UInt8] = [0x80, 0x02, 0x5D, 0x72, 0, 0, 0, 0]  // EMPTY_LIST, LONG_BINPUT 0
        for i in 1..<100_000 {
            let previous = UInt32(i - 1), current = UInt32(i)
            stream += [0x6A] + withUnsafeBytes(of: previous.littleEndian, Array.init)  // LONG_BINGET prev
            stream += [0x5D, 0x72] + withUnsafeBytes(of: current.littleEndian, Array.init)  // EMPTY_LIST, LONG_BINPUT
            stream += [0x61, 0x30]  // APPEND (into prev), POP
        }
        stream += [0x2E]
        XCTAssertThrowsError(try unpickle(stream)) { error in
            XCTAssertTrue("\(error)".hasSuffix("containers nested deeper than 128"), "\(error)")
        }
    }

    /// Each level is a list holding the previous level twice: 2^depth values once expanded.
    func testSharedReferenceExpansionIsBounded() {
        var stream: [UInt8] = [0x80, 0x02, 0x5D, 0x71, 0]  // EMPTY_LIST, BINPUT 0
        for level in 1...40 {
            stream += [0x5D, 0x28, 0x68, UInt8(level - 1), 0x68, UInt8(level - 1), 0x65, 0x71, UInt8(level)]
        }
        stream += [0x2E]
        var limits = Unpickler.Limits()
        limits.maxValues = 100_000
        XCTAssertThrowsError(try unpickle(stream, limits: limits)) { error in
            XCTAssertTrue("\(error)".hasSuffix("expands to more than 100000 values"), "\(error)")
        }
    }

    func testStackAndMemoAreBounded() {
        var limits = Unpickler.Limits()
        limits.maxStackDepth = 10
        limits.maxMemoEntries = 3
        assertFormatError("t.pkl: malformed pickle at byte 12 (NONE): stack exceeds 10 items") {
            try unpickle([0x80, 0x02] + [UInt8](repeating: 0x4E, count: 11) + [0x2E], limits: limits)
        }
        assertFormatError("t.pkl: malformed pickle at byte 9 (MEMOIZE): memo exceeds 3 entries") {
            try unpickle([0x80, 0x04, 0x4E, 0x94, 0x4E, 0x94, 0x4E, 0x94, 0x4E, 0x94, 0x2E], limits: limits)
        }
    }

    // MARK: Fuzz

    /// Random mutations (flips, overwrites, insertions, truncations) of real `torch.save` pickles:
    /// each either decodes or throws `FormatError`; nothing traps.
    func testRandomMutationsOfRealPicklesNeverCrash() throws {
        var rng = SeededRNG(seed: 0x70_69_63_6B)
        var outcomes = (decoded: 0, refused: 0)
        for fixture in ["plain_p2.pkl", "plain_p5.pkl"] {
            let original = try bytes(fixture)
            for _ in 0..<1500 {
                let mutated = mutate(original, rng: &rng)
                do {
                    _ = try unpickle(mutated)
                    outcomes.decoded += 1
                } catch is FormatError {
                    outcomes.refused += 1
                }
            }
        }
        XCTAssertEqual(outcomes.decoded + outcomes.refused, 3000)
        XCTAssertGreaterThan(outcomes.refused, 0)
    }
}

/// One to four random edits of `bytes`.
func mutate(_ bytes: [UInt8], rng: inout SeededRNG) -> [UInt8] {
    var out = bytes
    for _ in 0..<Int.random(in: 1...4, using: &rng) {
        guard !out.isEmpty else { break }
        let i = Int.random(in: 0..<out.count, using: &rng)
        switch Int.random(in: 0..<5, using: &rng) {
        case 0: out[i] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
        case 1: out[i] = UInt8.random(in: 0...255, using: &rng)
        case 2: out.insert(UInt8.random(in: 0...255, using: &rng), at: i)
        case 3: out.removeSubrange(i...)
        default: out[i] = [0x28, 0x2E, 0x30, 0x52, 0x62, 0x71, 0x68, 0x93, 0x51, 0xFF].randomElement(using: &rng)!
        }
    }
    return out
}
