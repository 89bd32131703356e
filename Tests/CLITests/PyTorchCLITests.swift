import Foundation
import ModelFormats
import XCTest

/// PyTorch checkpoints through the CLI: `--key`, `--strip-prefix`, and refusals with exit 2.
/// Fixtures are copies of Tests/ModelFormatsTests/Fixtures/pytorch (see make_pytorch_fixtures.py there).
final class PyTorchCLITests: XCTestCase {
    func testConvertToArtifactWithKeyAndStripPrefixIsBitExact() throws {
        let dir = try makeTemporaryDirectory()
        let out = dir.appendingPathComponent("mlp.msa").path
        let run = runModelSmith(["convert", fixture("pytorch/dataparallel.pt"), "--key", "state_dict",
                                 "--strip-prefix", "module.", "--graph", fixture("pytorch/mlp.model.json"), "-o", out])
        XCTAssertEqual(run.status, 0, run.stderr)
        let expected = try WeightReaders.read(fixture("pytorch/training_checkpoint.npz")).tensors
        let actual = try WeightReaders.read(out).tensors
        XCTAssertEqual(actual.names, expected.names)
        for (name, tensor) in expected {
            XCTAssertTrue(actual[name]?.bitwiseEqual(tensor) ?? false, "\(name) differs")
        }
    }

    /// The example: weights alone need no graph.
    func testConvertToNpzWithoutAGraphIsBitExact() throws {
        let dir = try makeTemporaryDirectory()
        let out = dir.appendingPathComponent("weights.npz").path
        let run = runModelSmith(["convert", fixture("pytorch/dataparallel.pt"), "--key", "state_dict",
                                 "--strip-prefix", "module.", "-o", out])
        XCTAssertEqual(run.status, 0, run.stderr)
        let expected = try WeightReaders.read(fixture("pytorch/training_checkpoint.npz")).tensors
        let actual = try WeightReaders.read(out).tensors
        XCTAssertEqual(actual.names, expected.names)
        for (name, tensor) in expected {
            XCTAssertTrue(actual[name]?.bitwiseEqual(tensor) ?? false, "\(name) differs")
        }
    }

    func testMaliciousCheckpointsExitTwoNamingTheGlobalAndWriteNothing() throws {
        let pwned = "/tmp/modelsmith_pytorch_pwned"
        try? FileManager.default.removeItem(atPath: pwned)
        let dir = try makeTemporaryDirectory()
        let out = dir.appendingPathComponent("weights.msa")
        let cases = [("evil_os_system", "evil_os_system/data.pkl", 187, "posix.system"),
                     ("evil_builtins_eval", "evil_builtins_eval/data.pkl", 187, "builtins.eval"),
                     ("evil_subprocess_popen", "evil_subprocess_popen/data.pkl", 187, "subprocess.Popen"),
                     ("evil_arbitrary_reduce", "evil_arbitrary_reduce/data.pkl", 187, "__main__.create_pwned_file"),
                     ("evil_torch_lookalike", "archive/data.pkl", 11, "torch.storage._load_from_bytes")]
        for (name, entry, offset, global) in cases {
            let evil = fixture("pytorch/\(name).pt")
            let run = runModelSmith(["convert", evil, "--graph", fixture("pytorch/mlp.model.json"), "-o", out.path])
            XCTAssertEqual(run.status, 2, name)
            XCTAssertEqual(run.stderr, "modelsmith: error: \(evil): entry '\(entry)': pickle refused at byte \(offset): GLOBAL '\(global)' is not on the allow-list (nothing was executed)\n")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), name)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: pwned), "a payload ran")
    }

    func testAmbiguousCheckpointAsksForKeyAndKeyNeedsACheckpoint() throws {
        let ambiguous = fixture("pytorch/ambiguous.pt")
        let run = runModelSmith(["inspect", ambiguous])
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.stderr, "modelsmith: error: \(ambiguous): several state_dicts (state_dict, model); choose one with --key\n")
        let chosen = runModelSmith(["inspect", ambiguous, "--key", "model", "--json"])
        XCTAssertEqual(chosen.status, 0, chosen.stderr)
        XCTAssertTrue(chosen.stdout.contains("fc1.weight"), chosen.stdout)

        let npz = fixture("pytorch/training_checkpoint.npz")
        let misuse = runModelSmith(["inspect", npz, "--key", "model"])
        XCTAssertEqual(misuse.status, 2)
        XCTAssertEqual(misuse.stderr, "modelsmith: error: \(npz): --key applies only to PyTorch checkpoints (.pt, .pth, .bin)\n")
    }
}
