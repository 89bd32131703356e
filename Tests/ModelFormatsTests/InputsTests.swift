import Foundation
import TensorCore
import XCTest
@testable import ModelFormats

/// Files as users have them (fixtures written by NumPy and torch 1.13, see
/// Fixtures/inputs/make_input_fixtures.py), each compared with what NumPy/torch wrote.
final class InputsTests: XCTestCase {
    private func path(_ name: String) -> String { fixtureURL("inputs/\(name)").path }

    private func read(_ name: String, limits: ReadLimits = .default) throws -> PackageContents {
        try WeightReaders.read(path(name), limits: limits)
    }

    /// Names in order and every tensor bit for bit equal to the NumPy file's.
    private func assertBitExact(_ actual: TensorMap, _ expectedNpz: String, names: [String]? = nil,
                                file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try read(expectedNpz).tensors
        XCTAssertEqual(actual.names, names ?? expected.names, file: file, line: line)
        for (name, tensor) in expected {
            guard let got = actual[name] else { XCTFail("missing \(name)", file: file, line: line); continue }
            XCTAssertTrue(got.bitwiseEqual(tensor), "\(name): \(got.dtype)\(got.shape) \(got.floats) differs from \(tensor.dtype)\(tensor.shape) \(tensor.floats)",
                          file: file, line: line)
        }
    }

    private struct Expected: Decodable {
        var max_error: Double
        var converted: Int?
    }

    private static let expected: [String: Expected] = {
        try! JSONDecoder().decode([String: Expected].self, from: Data(contentsOf: fixtureURL("inputs/expected.json")))
    }()

    private func conversions(_ notes: [ReadNote]) -> [DTypeConversion] {
        notes.compactMap { if case .converted(let c) = $0 { return c } else { return nil } }
    }

    /// The conversions: as many as NumPy/torch wrote foreign arrays, the largest error as NumPy computed it.
    private func assertConversions(_ contents: PackageContents, _ fixture: String, file: StaticString = #filePath, line: UInt = #line) {
        let found = conversions(contents.notes)
        let want = Self.expected[fixture]!
        XCTAssertEqual(found.count, want.converted, file: file, line: line)
        XCTAssertEqual(found.map(\.maxError).max(), want.max_error, file: file, line: line)
    }

    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("modelsmith-inputs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    // MARK: 1. Symbolic links

    func testSymlinkedArchiveIsMeasuredByTheFileItLeadsTo() throws {
        let dir = try temporaryDirectory()
        let link = dir.appendingPathComponent("weights.npz")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: path("linked.npz"))
        // A tight bomb guard: the 1.2 KB of decoded entries are < 2× the target's size, but far more
        // than 2× the link's own few dozen bytes.
        var limits = ReadLimits()
        limits.maxExpansionRatio = 2
        limits.expansionRatioFloorBytes = 0
        let viaLink = try WeightReaders.read(link.path, limits: limits)
        XCTAssertEqual(inputFileSize(link), inputFileSize(fixtureURL("inputs/linked.npz")))
        try assertBitExact(viaLink.tensors, "linked.npz")
        XCTAssertEqual(viaLink.tensors["fc.weight"]?.floats.first, -1)
    }

    func testSymlinkedFilesInADirectoryAreRead() throws {
        // A Hugging Face cache snapshot: every file is a link into blobs/.
        let dir = try temporaryDirectory()
        for name in ["model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"] {
            try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent(name).path,
                                                       withDestinationPath: path("sharded_safetensors/\(name)"))
        }
        try assertBitExact(try WeightReaders.read(dir.path).tensors, "sharded.expected.npz")

        let plain = try temporaryDirectory()
        try FileManager.default.createSymbolicLink(atPath: plain.appendingPathComponent("fc.weight.npy").path,
                                                   withDestinationPath: path("no-such-file.npy"))
        try FileManager.default.createSymbolicLink(atPath: plain.appendingPathComponent("weights.safetensors").path,
                                                   withDestinationPath: path("float64.safetensors"))
        // The dangling link is no file; the live one is read.
        try assertBitExact(try WeightReaders.read(plain.path).tensors, "float64_safetensors.expected.npz")
    }

    func testSymlinkEntryOfAnArchiveIsSkippedWithANote() throws {
        let contents = try read("symlink_entry.tar")
        try assertBitExact(contents.tensors, "symlink_entry.expected.npz")
        XCTAssertEqual(contents.notes, [.skippedEntry(entry: "fc.bias.npy", reason: "a symbolic link (to '/etc/passwd'); archives are read for regular files only")])
        XCTAssertEqual(ReadNote.summary(contents.notes, source: "pkg.tar"),
                       ["pkg.tar: skipped entry 'fc.bias.npy': a symbolic link (to '/etc/passwd'); archives are read for regular files only"])
    }

    // MARK: 2. float64 and other numeric dtypes

    func testFloat64NpzIsRoundedToF32AsNumPyRoundsIt() throws {
        let contents = try read("float64.npz")
        try assertBitExact(contents.tensors, "float64.expected.npz")
        assertConversions(contents, "float64.npz")
        let worst = String(format: "%.3g", Self.expected["float64.npz"]!.max_error)
        let tensor = conversions(contents.notes).max { $0.maxError < $1.maxError }!.tensor
        XCTAssertEqual(ReadNote.summary(contents.notes, source: "coefs.npz"),
                       ["coefs.npz: converted 2 float64 → f32; largest rounding error \(worst) (in '\(tensor)'); --strict-dtypes refuses instead"])
    }

    func testBigEndianFortranFloat64AndSixteenBitIntegers() throws {
        let contents = try read("dtypes_mixed.npz")
        try assertBitExact(contents.tensors, "dtypes_mixed.expected.npz")
        XCTAssertEqual(contents.tensors.names.map { contents.tensors[$0]!.dtype }, [.f32, .i32, .i32, .f16])
        XCTAssertEqual(contents.tensors["i16"]?.integers, [-32768, -1, 0, 7, 32767])
        XCTAssertEqual(contents.tensors["u16"]?.integers, [0, 1, 40000, 65535])
        assertConversions(contents, "dtypes_mixed.npz")
        XCTAssertEqual(conversions(contents.notes).map(\.from), ["float64", "int16", "uint16"])
        XCTAssertEqual(conversions(contents.notes).filter { $0.from != "float64" }.map(\.maxError), [0, 0])
    }

    func testSafetensorsF64I16U16() throws {
        let contents = try read("float64.safetensors")
        try assertBitExact(contents.tensors, "float64_safetensors.expected.npz")
        assertConversions(contents, "float64.safetensors")
    }

    func testTorchDoubleAndShortStoragesIncludingAView() throws {
        let contents = try read("float64.pt")
        try assertBitExact(contents.tensors, "float64_pt.expected.npz")
        assertConversions(contents, "float64.pt")
        XCTAssertEqual(contents.tensors["i16"]?.integers, [-300, 2, 32767])
    }

    func testFloat64BeyondF32IsRefusedAndStrictRefusesAnyConversion() throws {
        assertFormatError("\(path("float64_overflow.npy")): tensor 'float64_overflow': float64 value 1e+300 at index 1 is outside the range of f32") {
            try read("float64_overflow.npy")
        }
        let notes = try read("float64.pt").notes
        assertFormatError("w.pt: tensor 'w64' is float64, not a compute dtype; refused by --strict-dtypes (without it, it is converted to f32)") {
            try ReadNote.refuseConversions(notes, source: "w.pt")
        }
        XCTAssertNoThrow(try ReadNote.refuseConversions(try read("linked.npz").notes, source: "f32.npz"))
    }

    // MARK: 3. Legacy PyTorch checkpoints

    static let legacyNames = ["fc.weight", "fc.bias", "transposed", "shared_a", "shared_b", "flag"]

    func testLegacyRawPickleStreamIsBitExact() throws {
        let contents = try read("legacy_raw.pt")
        try assertBitExact(contents.tensors, "legacy.expected.npz", names: Self.legacyNames)
        XCTAssertEqual(contents.tensors["shared_b"]?.integers, [5, 6, 7, 8, 9])
        XCTAssertEqual(contents.tensors["transposed"]?.floats, [0, 3, 1, 4, 2, 5])
    }

    func testLegacyTarIsBitExact() throws {
        try assertBitExact(try read("legacy_tar.pt").tensors, "legacy.expected.npz", names: Self.legacyNames)
    }

    func testTruncatedLegacyStreamIsRefusedNamingTheStorage() throws {
        let dir = try temporaryDirectory()
        let bytes = try Data(contentsOf: fixtureURL("inputs/legacy_raw.pt"))
        let cut = dir.appendingPathComponent("cut.pt")
        try bytes.prefix(bytes.count - 3).write(to: cut)
        XCTAssertThrowsError(try WeightReaders.read(cut.path)) { error in
            let message = (error as? FormatError)?.description ?? "\(error)"
            XCTAssertTrue(message.hasPrefix("\(cut.path): storage ") && message.hasSuffix(" is truncated (at byte \(bytes.count - 10))"), message)
        }
    }

    // MARK: 4. Non-tensor objects

    func testTrainingScriptObjectsAreInertValues() throws {
        for key in [nil, "model"] {
            let contents = try PyTorchCheckpointReader(options: PyTorchLoadOptions(key: key)).read(fixtureURL("inputs/timm_style.pt"), limits: .default)
            try assertBitExact(contents.tensors, "timm_style.expected.npz")
        }
        let root = try PyTorchCheckpoint.load(fixtureURL("inputs/timm_style.pt")).root
        XCTAssertEqual(root["args"], .object(type: "argparse.Namespace", attributes: [
            PickleDictEntry(key: .string("lr"), value: .float(0.1)), PickleDictEntry(key: .string("model"), value: .string("mlp")),
            PickleDictEntry(key: .string("layers"), value: .list([.int(4), .int(3), .int(2)])),
            PickleDictEntry(key: .string("amp"), value: .bool(true)), PickleDictEntry(key: .string("dtype"), value: .global("torch.float16")),
        ]))
        XCTAssertEqual(root["epoch"], .int(5))
        XCTAssertEqual(root["metric"], .float(0.8125))
        XCTAssertEqual(root["best_epoch"], .int(4))
        XCTAssertEqual(root["np_dtype"], .global("numpy.dtype('<f4')"))
        XCTAssertEqual(root["torch_dtype"], .global("torch.bfloat16"))
        XCTAssertEqual(root["size"], .tuple([.int(2), .int(3)]))
        XCTAssertEqual(root["history"], .dict([PickleDictEntry(key: .string("loss"), value: .list([.float(0.5)]))]))
        XCTAssertEqual(root["counter"], .dict([PickleDictEntry(key: .string("a"), value: .int(2))]))
        XCTAssertEqual(root["optimizer"]?["param_groups"].map { if case .list(let groups) = $0 { groups.count } else { 0 } }, 1)
    }

    func testUnknownClassOutsideTheStateDictIsSkippedInsideItRefused() throws {
        for key in [nil, "model"] {
            let contents = try PyTorchCheckpointReader(options: PyTorchLoadOptions(key: key)).read(fixtureURL("inputs/unknown_outside.pt"), limits: .default)
            try assertBitExact(contents.tensors, "timm_style.expected.npz")
        }
        guard case .refused(let refusal)? = try PyTorchCheckpoint.load(fixtureURL("inputs/unknown_outside.pt")).root["extra"] else {
            return XCTFail("expected a refused placeholder")
        }
        XCTAssertEqual(refusal.global, "__main__.Unknown")
        for key in [nil, "model"] {
            assertFormatError("\(path("unknown_inside.pt")): entry 'unknown_inside/data.pkl': pickle refused at byte 391: GLOBAL '__main__.Unknown' is not on the allow-list (nothing was executed)") {
                try PyTorchCheckpointReader(options: PyTorchLoadOptions(key: key)).read(fixtureURL("inputs/unknown_inside.pt"), limits: .default)
            }
        }
    }

    // MARK: 5. Files that are not state_dicts

    func testPickledModuleAndTorchScriptSayWhatToDo() {
        assertFormatError("\(path("whole_module.pt")): entry 'whole_module/data.pkl': pickle refused at byte 2: 'torch.nn.modules.container.Sequential' is a whole pickled module (what torch.save(model) writes), not a state_dict (nothing was executed); where the model's code is, save its weights with torch.save(model.state_dict(), PATH)") {
            try read("whole_module.pt")
        }
        assertFormatError("\(path("torchscript.pt")): a TorchScript archive (torch.jit.save): a compiled program, not a state_dict, and it is not read; in Python, save its weights with torch.save(torch.jit.load(PATH).state_dict(), 'weights.pt')") {
            try read("torchscript.pt")
        }
    }

    // MARK: 6. Sharded Hugging Face checkpoints

    func testShardedSafetensorsAndBinReadAsOneSet() throws {
        for folder in ["sharded_safetensors", "sharded_bin"] {
            let contents = try read(folder)
            try assertBitExact(contents.tensors, "sharded.expected.npz", names: ["embed.weight", "layer.0.weight", "layer.0.bias", "head.weight"])
            XCTAssertNil(contents.graphJSON, folder)
        }
    }

    func testShardIndexThatDisagreesWithItsShardsIsRefused() throws {
        let source = fixtureURL("inputs/sharded_safetensors")
        func folder(weightMap: String) throws -> URL {
            let dir = try temporaryDirectory()
            for shard in ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"] {
                try FileManager.default.copyItem(at: source.appendingPathComponent(shard), to: dir.appendingPathComponent(shard))
            }
            try Data(#"{"metadata": {}, "weight_map": {\#(weightMap)}}"#.utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
            return dir
        }
        let one = "\"model-00001-of-00002.safetensors\"", two = "\"model-00002-of-00002.safetensors\""
        let moved = try folder(weightMap: "\"embed.weight\": \(two), \"layer.0.weight\": \(one), \"layer.0.bias\": \(two), \"head.weight\": \(two)")
        assertFormatError("\(moved.path): entry 'model-00001-of-00002.safetensors': holds tensor 'embed.weight', but the index puts it in 'model-00002-of-00002.safetensors'") {
            try WeightReaders.read(moved.path)
        }
        let missing = try folder(weightMap: "\"embed.weight\": \"model-00003-of-00003.safetensors\"")
        assertFormatError("\(missing.path): entry 'model.safetensors.index.json': names shard 'model-00003-of-00003.safetensors', which is missing") {
            try WeightReaders.read(missing.path)
        }
        let escaping = try folder(weightMap: "\"embed.weight\": \"../secret.safetensors\"")
        assertFormatError("\(escaping.path): entry 'model.safetensors.index.json': tensor 'embed.weight' names a shard that is not a relative file path") {
            try WeightReaders.read(escaping.path)
        }
    }
}
