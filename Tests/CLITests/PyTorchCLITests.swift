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

    func testMaliciousCheckpointExitsTwoNamingTheGlobalAndWritesNothing() throws {
        let pwned = "/tmp/modelsmith_pytorch_pwned"
        try? FileManager.default.removeItem(atPath: pwned)
        let dir = try makeTemporaryDirectory()
        let out = dir.appendingPathComponent("weights.npz")
        let evil = fixture("pytorch/evil_os_system.pt")
        let run = runModelSmith(["convert", evil, "-o", out.path])
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.stderr, "modelsmith: error: \(evil): entry 'evil_os_system/data.pkl': pickle refused at byte 187: GLOBAL 'posix.system' is not on the allow-list (nothing was executed)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: pwned), "the payload ran")
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
        XCTAssertEqual(misuse.stderr, "modelsmith: error: \(npz): --key applies only to PyTorch checkpoints (.pt, .pth, zip .bin)\n")
    }
}
