import Foundation
import ModelFormats
import TensorCore
import XCTest

/// Every file of Fixtures/malformed (copies of the readers' corpus plus make_malformed.py's
/// artifacts, graphs and bombs) through the real binary: `inspect` and `convert` both exit 2 with
/// exactly one line on stderr, no stack trace, nothing on stdout, and `convert` leaves no file.
final class MalformedInputTests: XCTestCase {
    /// file → the message after "modelsmith: error: " (files are passed by bare name from the
    /// corpus folder, so the message names them that way).
    static let expected: [String: String] = [
        // .npy
        "truncated_header.npy": "truncated_header.npy: truncated .npy: header length 118 runs past the end of the file (30 bytes)",
        "lying_shape.npy": "lying_shape.npy: shape (4, 3) of '<f4' needs 48 bytes of data, found 24",
        "overflowing_dims.npy": "overflowing_dims.npy: shape (4294967296, 4294967296, 8) overflows the addressable size",
        "unknown_dtype.npy": "unknown_dtype.npy: unsupported dtype '<c8'",
        // .safetensors
        "st_header_past_eof.safetensors": "st_header_past_eof.safetensors: header length 1048576 runs past the end of the file (144 bytes)",
        "st_overlapping.safetensors": "st_overlapping.safetensors: tensors 'a' and 'b' overlap",
        "st_out_of_range.safetensors": "st_out_of_range.safetensors: tensor 'b' data_offsets [24, 32] exceed the 24-byte data section",
        // archives
        "bad_crc.zip": "bad_crc.zip: entry 'w.npy': ZIP bad CRC: 0xc4befa9 should be 0x2a00e94f",
        "dotdot.tar": "dotdot.tar: entry '../evil.npy' has an absolute or '..' path; refused",
        "absolute.tar": "absolute.tar: entry '/abs.npy' has an absolute or '..' path; refused",
        "duplicate_tensor.npz": "duplicate_tensor.npz: tensor 'w' appears twice",
        "not_an_archive.tar.gz": "not_an_archive.tar.gz: not a tar or zip archive (Unrecognized archive format)",
        "lying_entry.tar.gz": "lying_entry.tar.gz: entry 'tiny/fc1.weight.npy': shape (4, 3) of '<f4' needs 48 bytes of data, found 24",
        "truncated.tar": "truncated.tar: entry 'w.npy': Truncated tar archive",
        "lying_size.npz": "lying_size.npz: entry 'w.npy': ZIP uncompressed data is wrong size (read 67108864, expected 16)",
        "bomb.tar.zst": "bomb.tar.zst: entry 'zeros.npy': exceeds 256× the archive's 33145 bytes on disk (decompression bomb?)",
        // graphs
        "missing_param.tar": "missing_param.tar: node 'fc2': param 'bias' refers to tensor 'fc2.bias', which is absent",
        "wrong_param_shape.tar": "wrong_param_shape.tar: node 'fc2': param 'weight' (fc2.weight) has shape [3, 4], expected [out_features, 5]",
        "unknown_op.tar": "unknown_op.tar: node 'act1': unknown op 'swish2'",
        "not_json_graph.tar": "not_json_graph.tar: model.json is malformed: The given data was not valid JSON.",
        "dilation_overflow.tar": "dilation_overflow.tar: node 'c': the kernel (2305843009213693952, dilation 999999999999999) or padding (0) along the height is out of range",
        "negative_variance.tar": "negative_variance.tar: node 'bn': param 'running_var' (v) holds -0.5 at index 1; a variance must be ≥ 0",
        // PyTorch (the malicious-global fixtures are in PyTorchCLITests)
        "pickle_dag.pt": "pickle_dag.pt: entry 'archive/data.pkl': malformed pickle at byte 1126 (BINPERSID): expands to more than 2000000 values",
        // artifacts
        "flipped_payload.msa": "flipped_payload.msa: entry 'tensors/00002-fc2.weight.zst': tensor 'fc2.weight' is corrupted: zstd: Restored data doesn't match checksum",
        "flipped_manifest.msa": "flipped_manifest.msa: entry 'model.json': manifest checksum mismatch (the manifest is corrupted)",
        "truncated.msa": "truncated.msa: entry 'tensors/00002-fc2.weight.zst': damaged or truncated member: Truncated tar archive",
        "empty.msa": "empty.msa: cannot read: Unrecognized archive format",
        // artifacts whose manifest was rewritten with a recomputed digest
        "crafted_provenance.msa": "crafted_provenance.msa: entry 'model.json': provenance must be an object",
        "crafted_no_outputs.msa": "crafted_no_outputs.msa: model.json declares no graph outputs (\"outputs\" must name at least one value)",
        "crafted_quant.msa": "crafted_quant.msa: entry 'model.json': tensor 'fc1.weight': quant: a f32 tensor cannot be quantized",
    ]

    private var corpus: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/malformed") }

    /// Runs `args` in the corpus folder and checks the refusal: exit 2, exactly `message` on one
    /// line of stderr, nothing on stdout.
    private func assertRefused(_ args: [String], _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        let run = runModelSmith(args, in: corpus)
        XCTAssertEqual(run.status, 2, "\(args): \(run.stderr)", file: file, line: line)
        XCTAssertEqual(run.stderr, "modelsmith: error: \(message)\n", "\(args)", file: file, line: line)
        XCTAssertEqual(run.stdout, "", "\(args)", file: file, line: line)
        for trace in ["Fatal error", "Stack dump", "backtrace", "SIGSEGV", "SIGILL", "0x0000"] {
            XCTAssertFalse(run.stderr.contains(trace), "\(args): \(trace) in stderr", file: file, line: line)
        }
    }

    func testTheTableCoversTheCorpus() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: corpus.path)
        XCTAssertEqual(Set(files), Set(Self.expected.keys))
    }

    func testInspectRefusesEveryFileWithItsMessage() {
        for (file, message) in Self.expected.sorted(by: { $0.key < $1.key }) {
            assertRefused(["inspect", file], message)
        }
    }

    func testConvertRefusesEveryFileAndWritesNothing() throws {
        let out = try makeTemporaryDirectory()
        for (file, message) in Self.expected.sorted(by: { $0.key < $1.key }) {
            for format in ["msa", "npz"] {
                let target = out.appendingPathComponent("out.\(format)").path
                assertRefused(["convert", file, "-o", target], message)
                XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path), [], "\(file) → .\(format) left a file")
            }
        }
    }

    /// A failed convert over an existing target leaves it byte for byte as it was.
    func testFailedConvertLeavesAnExistingTargetAlone() throws {
        let out = try makeTemporaryDirectory()
        let target = out.appendingPathComponent("keep.msa")
        let original = Data("an existing artifact".utf8)
        try original.write(to: target)
        assertRefused(["convert", "flipped_payload.msa", "-o", target.path, "--force"], Self.expected["flipped_payload.msa"]!)
        XCTAssertEqual(try Data(contentsOf: target), original)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path), ["keep.msa"])
    }

    // MARK: resource bounds

    /// The deflate stream of lying_size.npz holds 64 MiB while its headers say 16 bytes, so only
    /// the metered read can stop it: it stops at the cap, whatever the cap is.
    func testDecodedBytesCapStopsAStreamWithALyingSize() {
        for cap in ["1M", "8M"] {
            let bytes = cap == "1M" ? 1 << 20 : 8 << 20
            assertRefused(["inspect", "lying_size.npz", "--limit", "decoded-bytes=\(cap)"],
                          "lying_size.npz: entry 'w.npy': exceeds the decoded-size cap of \(bytes) bytes")
        }
    }

    /// bomb.tar.zst (33 KB) declares 1 GiB of zeros: refused from the tar header, before decoding,
    /// by the expansion ratio by default and by the absolute cap once the ratio is lifted.
    func testBombIsRefusedByRatioOrByCap() {
        assertRefused(["inspect", "bomb.tar.zst", "--limit", "expansion-ratio=1000000", "--limit", "decoded-bytes=16M"],
                      "bomb.tar.zst: entry 'zeros.npy': exceeds the decoded-size cap of 16777216 bytes")
    }

    /// A conv padded by 20,000 on each side asks for a 64 × 40,001 × 40,001 activation (over 400 GB at
    /// batch 1): `run` refuses it from the plan, naming the node and the bytes, before allocating.
    func testRunRefusesAnArenaPastTheMemoryBudget() throws {
        let out = try makeTemporaryDirectory()
        let graph = out.appendingPathComponent("padded.json")
        try Data(#"""
        {"modelsmith": 1, "name": "padded", "inputs": [{"name": "x", "shape": [-1, 1, 1, 1]}], "outputs": ["y"],
         "nodes": [{"name": "wide", "op": "conv2d", "inputs": ["x"], "output": "y", "params": {"weight": "w"}, "attrs": {"padding": 20000}}]}
        """#.utf8).write(to: graph)
        var weights = PackageContents()
        weights.tensors["w"] = Tensor(zeros: .f32, [64, 1, 1, 1])
        let npz = out.appendingPathComponent("w.npz")
        try PackageExporter.export(weights, to: npz.path)
        var samples = PackageContents()
        samples.tensors["x"] = Tensor([1], shape: [1, 1, 1, 1])
        let input = out.appendingPathComponent("x.npz")
        try PackageExporter.export(samples, to: input.path)
        let run = runModelSmith(["run", npz.path, "--graph", graph.path, "--input", input.path, "--batch", "1", "--max-memory", "1G"])
        XCTAssertEqual(run.status, 2, run.stderr)
        XCTAssertEqual(run.stderr, "modelsmith: error: node 'wide' (a value of per-sample shape [64, 40001, 40001] at batch 1) needs 409620480256 bytes, over the memory budget of 1073741824 bytes (raise it with --max-memory)\n")
        let bad = runModelSmith(["inspect", npz.path, "--graph", graph.path, "--max-memory", "lots"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("--max-memory must be a positive size such as 512M or 8G, got 'lots'"), bad.stderr)
    }

    func testLimitOptionIsValidated() {
        let unknown = runModelSmith(["inspect", "bomb.tar.zst", "--limit", "bytes=1"], in: corpus)
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.stderr.contains("--limit expects NAME=VALUE with NAME one of decoded-bytes, expansion-ratio,"), unknown.stderr)
        let bad = runModelSmith(["inspect", "bomb.tar.zst", "--limit", "entries=-3"], in: corpus)
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("--limit entries: '-3' is not a positive integer (K/M/G/T suffixes allowed)"), bad.stderr)
    }

    func testTightLimitsApplyToEveryReader() {
        let fixtures = corpus.deletingLastPathComponent()
        let run = runModelSmith(["inspect", "student.npz", "--limit", "tensors=2"], in: fixtures)
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.stderr, "modelsmith: error: student.npz: exceeds the limit of 2 tensors\n")
    }

    /// The bit-flip test calls a flip harmless when the export is byte-identical to the undamaged
    /// one, so exports must not vary between processes (provenance JSON keys are sorted).
    func testExportsAreByteIdenticalAcrossProcesses() throws {
        let out = try makeTemporaryDirectory()
        for format in ["safetensors", "npz", "msa"] {
            var outputs: [Data] = []
            for run in 0..<2 {
                let path = out.appendingPathComponent("\(run).\(format)").path
                let convert = runModelSmith(["convert", fixture("sources/valid.msa"), "-o", path, "-q"])
                XCTAssertEqual(convert.status, 0, convert.stderr)
                outputs.append(try Data(contentsOf: URL(fileURLWithPath: path)))
            }
            XCTAssertEqual(outputs[0], outputs[1], ".\(format) export differs between two runs")
        }
    }
}
