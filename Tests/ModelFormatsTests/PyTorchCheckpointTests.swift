import Foundation
import TensorCore
import XCTest
@testable import ModelFormats

/// `torch.save` checkpoints (fixtures written by real PyTorch, see make_pytorch_fixtures.py)
/// compared bit for bit with `.npz` files of the same state_dicts written by NumPy.
final class PyTorchCheckpointTests: XCTestCase {
    private func path(_ name: String) -> String { fixtureURL("pytorch/\(name)").path }

    private func read(_ name: String, _ options: PyTorchLoadOptions = PyTorchLoadOptions()) throws -> TensorMap {
        try PyTorchCheckpointReader(options: options).read(fixtureURL("pytorch/\(name)"), limits: .default).tensors
    }

    private func assertBitExact(_ actual: TensorMap, _ npz: String, names: [String]? = nil,
                                file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try WeightReaders.read(path(npz)).tensors
        XCTAssertEqual(actual.names, names ?? expected.names, file: file, line: line)
        for (name, tensor) in expected {
            guard let got = actual[name] else { XCTFail("missing \(name)", file: file, line: line); continue }
            XCTAssertTrue(got.bitwiseEqual(tensor), "\(name): \(got.dtype)\(got.shape) differs from \(tensor.dtype)\(tensor.shape)",
                          file: file, line: line)
        }
    }

    static let dtypeNames = ["f32", "f16", "bf16", "i8", "u8", "i32", "i64", "bool", "scalar", "empty", "special"]

    // MARK: Values

    func testEveryDTypeIsBitExactWithNumpyInEveryProtocolAndByteOrder() throws {
        for fixture in ["dtypes.pt", "dtypes_proto4.pt", "dtypes_proto5.pt", "dtypes_bigendian.pt", "pytorch_model.bin"] {
            let tensors = try WeightReaders.read(path(fixture)).tensors  // through the registry
            try assertBitExact(tensors, "dtypes.npz", names: Self.dtypeNames)
            XCTAssertEqual(Self.dtypeNames.map { tensors[$0]?.dtype }, [.f32, .f16, .bf16, .i8, .u8, .i32, .i64, .bool, .f32, .f32, .f32], fixture)
            // Values written literally in the generator, independent of both files.
            XCTAssertEqual(tensors["i64"]?.integers, [Int.min, -1, 0, 1, Int.max, 123_456_789_012_345], fixture)
            XCTAssertEqual(tensors["bool"]?.integers, [1, 0, 1, 0, 0, 1], fixture)
            XCTAssertEqual(tensors["scalar"]?.shape, Shape([]), fixture)
            XCTAssertEqual(tensors["scalar"]?.floats, [3.25], fixture)
            XCTAssertEqual(tensors["empty"]?.shape, Shape([0, 3]), fixture)
        }
    }

    func testStridedViewsAndSharedStoragesAreMaterialized() throws {
        let checkpoint = try PyTorchCheckpoint.load(fixtureURL("pytorch/views.pt"))
        guard case .tensor(let transposed)? = checkpoint.root["transposed"], case .tensor(let a)? = checkpoint.root["shared_a"],
              case .tensor(let b)? = checkpoint.root["shared_b"], case .tensor(let expanded)? = checkpoint.root["expanded"] else {
            return XCTFail("expected tensors, got \(checkpoint.root)")
        }
        XCTAssertEqual(transposed.stride, [1, 6])
        XCTAssertEqual(a.storage, b.storage, "one storage shared by two views")
        XCTAssertEqual(b.storageOffset, 4)
        XCTAssertEqual(expanded.stride, [0, 1])

        let tensors = try checkpoint.stateDict()
        try assertBitExact(tensors, "views.npz", names: ["transposed", "sliced", "shared_a", "shared_b", "expanded", "permuted"])
        // arange(24).reshape(4, 6).t(): row i is i, i+6, i+12, i+18.
        XCTAssertEqual(Array(tensors["transposed"]!.floats.prefix(8)), [0, 6, 12, 18, 1, 7, 13, 19])
        XCTAssertEqual(tensors["shared_b"]?.integers, [4, 5, 6, 7, 8, 9])
        XCTAssertEqual(tensors["expanded"]?.floats, [1.5, -2, 7, 1.5, -2, 7])
    }

    // MARK: Nesting and names

    func testBareStateDictWithMetadata() throws {
        try assertBitExact(try read("mlp_state_dict.pth"), "mlp.npz", names: Self.mlpNames)
    }

    static let mlpNames = ["fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
                           "bn.num_batches_tracked", "fc2.weight", "fc2.bias"]

    func testTrainingCheckpointPicksModelStateDictAndKeepsPlainValues() throws {
        try assertBitExact(try read("training_checkpoint.pt"), "training_checkpoint.npz", names: Self.mlpNames)
        let root = try PyTorchCheckpoint.load(fixtureURL("pytorch/training_checkpoint.pt")).root
        XCTAssertEqual(root["epoch"], .int(7))
        let config = root["config"]
        XCTAssertEqual(config?["layers"], .list([.int(4), .int(3), .int(2)]))
        XCTAssertEqual(config?["big"], .bigInt([0, 0, 0, 0, 0, 0, 0, 0, 0x40]))
        XCTAssertEqual(config?["blob"], .bytes([0, 1]))
        XCTAssertEqual(config?["tags"], .tuple([.string("a"), .string("b")]))
        XCTAssertEqual(config?["none"], PickleValue.none)
        // Choosing the optimizer's state explicitly (a nested path) gives Adam's moments by parameter index.
        let optimizer = try read("training_checkpoint.pt", PyTorchLoadOptions(key: "optimizer_state_dict/state"))
        XCTAssertEqual(optimizer.names.prefix(3), ["0.step", "0.exp_avg", "0.exp_avg_sq"])
    }

    func testDataParallelPrefixIsStrippedOnRequest() throws {
        let prefixed = try read("dataparallel.pt")
        XCTAssertEqual(prefixed.names, Self.mlpNames.map { "module." + $0 })
        let stripped = try read("dataparallel.pt", PyTorchLoadOptions(key: "state_dict", stripPrefix: "module."))
        try assertBitExact(stripped, "training_checkpoint.npz", names: Self.mlpNames)
    }

    func testNestedDictsAreJoinedWithDots() throws {
        try assertBitExact(try read("nested.pt"), "nested.npz", names: ["encoder.fc.weight", "encoder.fc.bias", "head.weight"])
    }

    func testAmbiguousStateDictsAskForAKey() throws {
        assertFormatError("\(path("ambiguous.pt")): several state_dicts (state_dict, model); choose one with --key") {
            try read("ambiguous.pt")
        }
        try assertBitExact(try read("ambiguous.pt", PyTorchLoadOptions(key: "model")), "training_checkpoint.npz", names: Self.mlpNames)
        assertFormatError("\(path("ambiguous.pt")): no key 'weights' in the checkpoint (keys: model, state_dict)") {
            try read("ambiguous.pt", PyTorchLoadOptions(key: "weights"))
        }
    }

    func testStrippingIntoADuplicateNameIsAnError() throws {
        XCTAssertEqual(try read("nested.pt", PyTorchLoadOptions(stripPrefix: "encoder.fc.")).names, ["weight", "bias", "head.weight"])
        // {"a.weight": t, "weight": t} with prefix "a." maps both to "weight".
        let entries = [ArchiveEntry(path: "archive/data.pkl", data: PicklePayload.twoTensors(names: ["a.weight", "weight"])),
                       ArchiveEntry(path: "archive/data/0", data: [UInt8](repeating: 0, count: 4))]
        assertFormatError("x.pt: tensor 'weight' appears twice") {
            try PyTorchCheckpoint(entries: entries, path: "x.pt").stateDict(PyTorchLoadOptions(stripPrefix: "a."))
        }
    }

    func testParameterIsRebuiltAsItsData() throws {
        XCTAssertEqual(try read("parameter.pt")["p"]?.floats, [1, 2])
    }

    func testFloat64IsConvertedAndTheLegacyFormatRead() throws {
        let float64 = try PyTorchCheckpointReader().read(fixtureURL("pytorch/float64.pt"), limits: .default)
        XCTAssertEqual(float64.tensors["w"]?.dtype, .f32)
        XCTAssertEqual(float64.tensors["w"]?.floats, [1, 1])
        XCTAssertEqual(float64.notes, [.converted(DTypeConversion(tensor: "w", from: "float64", to: .f32, maxError: 0))])
        // Saved after the optimizer step the training checkpoint records (the generator's state_dict is live).
        try assertBitExact(try read("legacy.pt"), "training_checkpoint.npz", names: Self.mlpNames)
    }

    // MARK: Refusals

    static let pwned = "/tmp/modelsmith_pytorch_pwned"

    /// Each hostile checkpoint is refused naming the global it asked for, and its payload never ran.
    func testMaliciousCheckpointsAreRefusedNamingTheGlobalAndNothingRuns() throws {
        try? FileManager.default.removeItem(atPath: Self.pwned)
        let refusals: [(String, String)] = [
            ("evil_os_system.pt", "evil_os_system/data.pkl': pickle refused at byte 187: GLOBAL 'posix.system' is not on the allow-list"),
            ("evil_os_global.pt", "archive/data.pkl': pickle refused at byte 2: GLOBAL 'os.system' is not on the allow-list"),
            ("evil_builtins_eval.pt", "evil_builtins_eval/data.pkl': pickle refused at byte 187: GLOBAL 'builtins.eval' is not on the allow-list"),
            ("evil_builtin_eval_p2.pt", "evil_builtin_eval_p2/data.pkl': pickle refused at byte 187: GLOBAL '__builtin__.eval' is not on the allow-list"),
            ("evil_subprocess_popen.pt", "evil_subprocess_popen/data.pkl': pickle refused at byte 187: GLOBAL 'subprocess.Popen' is not on the allow-list"),
            ("evil_arbitrary_reduce.pt", "evil_arbitrary_reduce/data.pkl': pickle refused at byte 187: GLOBAL '__main__.create_pwned_file' is not on the allow-list"),
            ("evil_plain_object.pt", "evil_plain_object/data.pkl': pickle refused at byte 187: GLOBAL '__main__.PlainObject' is not on the allow-list"),
            ("evil_torch_lookalike.pt", "archive/data.pkl': pickle refused at byte 11: GLOBAL 'torch.storage._load_from_bytes' is not on the allow-list"),
            ("evil_stack_global.pt", "archive/data.pkl': pickle refused at byte 14: STACK_GLOBAL 'os.system' is not on the allow-list"),
            ("evil_inst.pt", "archive/data.pkl': pickle refused at byte 1: INST 'os.system' (opcode 0x69 is outside the supported subset)"),
            ("evil_reduce_storage.pt", "archive/data.pkl': pickle refused at byte 23: REDUCE on 'torch.FloatStorage'"),
        ]
        for (fixture, reason) in refusals {
            assertFormatError("\(path(fixture)): entry '\(reason) (nothing was executed)") { try read(fixture) }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.pwned), "a payload ran")
    }

    func testMalformedStoragesAreNamed() throws {
        let shortStorage = [ArchiveEntry(path: "archive/data.pkl", data: PicklePayload.twoTensors(names: ["w", "v"])),
                            ArchiveEntry(path: "archive/data/0", data: [0, 0])]
        assertFormatError("x.pt: entry 'archive/data/0': tensor 'w' (offset 0, size [1], stride [1]) reaches past the storage's 0 elements") {
            try PyTorchCheckpoint(entries: shortStorage, path: "x.pt").stateDict()
        }
        let missing = [ArchiveEntry(path: "archive/data.pkl", data: PicklePayload.twoTensors(names: ["w", "v"]))]
        assertFormatError("x.pt: entry 'archive/data/0': missing (storage of tensor 'w')") {
            try PyTorchCheckpoint(entries: missing, path: "x.pt").stateDict()
        }
        assertFormatError("x.pt: not a PyTorch checkpoint: no '<name>/data.pkl' entry") {
            try PyTorchCheckpoint(entries: [ArchiveEntry(path: "data.pkl", data: [])], path: "x.pt")
        }
    }

    /// A 1-element storage viewed with zero strides as 2^20 × 2^20 elements: refused before allocating.
    func testZeroStrideExpansionIsBoundedBeforeAllocating() {
        let entries = [ArchiveEntry(path: "archive/data.pkl", data: PicklePayload.tensor(shape: [1 << 20, 1 << 20], stride: [0, 0])),
                       ArchiveEntry(path: "archive/data/0", data: [0, 0, 0, 0])]
        assertFormatError("x.pt: entry 'w': exceeds the decoded-size cap of \(ReadLimits.default.maxDecodedBytes) bytes") {
            try PyTorchCheckpoint(entries: entries, path: "x.pt").stateDict()
        }
    }

    func testClaimsCheckpointsByExtensionAndZipSignature() throws {
        let reader = PyTorchCheckpointReader()
        XCTAssertTrue(reader.canRead(fixtureURL("pytorch/dtypes.pt")))
        XCTAssertTrue(reader.canRead(fixtureURL("pytorch/mlp_state_dict.pth")))
        XCTAssertTrue(reader.canRead(fixtureURL("pytorch/pytorch_model.bin")))
        XCTAssertFalse(reader.canRead(fixtureURL("pytorch/dtypes.npz")))
        let notZip = FileManager.default.temporaryDirectory.appendingPathComponent("modelsmith-\(UUID().uuidString).bin")
        try Data([1, 2, 3, 4, 5]).write(to: notZip)
        defer { try? FileManager.default.removeItem(at: notZip) }
        XCTAssertFalse(reader.canRead(notZip))
    }

    // MARK: Fuzz

    /// Random mutations of a real checkpoint's pickle and storages never crash the reader.
    func testRandomMutationsOfACheckpointNeverCrash() throws {
        var entries: [ArchiveEntry] = []
        try ArchiveEntries.forEach(url: fixtureURL("pytorch/views.pt")) { entries.append($0) }
        var rng = SeededRNG(seed: 0x5EED)
        var failures = 0
        for _ in 0..<1000 {
            var mutated = entries
            let i = Int.random(in: 0..<mutated.count, using: &rng)
            mutated[i].data = mutate(mutated[i].data, rng: &rng)
            do {
                _ = try PyTorchCheckpoint(entries: mutated, path: "fuzz.pt").stateDict()
            } catch is FormatError {
                failures += 1
            }
        }
        XCTAssertGreaterThan(failures, 0)
    }
}

/// Hand-assembled protocol 2 pickles of small state_dicts over storage "0" (FloatStorage).
enum PicklePayload {
    /// `_rebuild_tensor_v2(('storage', torch.FloatStorage, '0', 'cpu', 1), 0, shape, stride, False, OrderedDict())`.
    static func tensorCall(shape: [Int], stride: [Int]) -> [UInt8] {
        var out: [UInt8] = Array("ctorch._utils\n_rebuild_tensor_v2\n(".utf8)
        out += [0x28] + unicode("storage") + Array("ctorch\nFloatStorage\n".utf8) + unicode("0") + unicode("cpu") + [0x4B, 1, 0x74, 0x51]
        out += [0x4B, 0]  // storage offset
        out += [0x28] + shape.flatMap(int) + [0x74]
        out += [0x28] + stride.flatMap(int) + [0x74]
        out += [0x89] + Array("ccollections\nOrderedDict\n".utf8) + [0x29, 0x52, 0x74, 0x52]
        return out
    }

    static func tensor(shape: [Int], stride: [Int]) -> [UInt8] {
        [0x80, 0x02, 0x7D] + unicode("w") + tensorCall(shape: shape, stride: stride) + [0x73, 0x2E]
    }

    /// A dict of 1-element tensors named `names`, all viewing element 0 of storage "0".
    static func twoTensors(names: [String]) -> [UInt8] {
        var out: [UInt8] = [0x80, 0x02, 0x7D, 0x28]
        for name in names { out += unicode(name) + tensorCall(shape: [1], stride: [1]) }
        return out + [0x75, 0x2E]
    }

    static func unicode(_ s: String) -> [UInt8] {
        let utf8 = Array(s.utf8)
        return [0x58] + withUnsafeBytes(of: UInt32(utf8.count).littleEndian, Array.init) + utf8
    }

    static func int(_ v: Int) -> [UInt8] {
        [0x4A] + withUnsafeBytes(of: Int32(truncatingIfNeeded: v).littleEndian, Array.init)
    }
}
