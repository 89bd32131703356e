import XCTest
import TensorCore
@testable import ModelFormats

/// Deriving parameters while writing (the streaming form pruning uses) writes the same file as
/// writing the derived package, and the scratch files leave nothing behind.
final class ArtifactDerivationTests: XCTestCase {
    /// Zeroes every entry below `limit` in magnitude, with the matching mask (kept = 1).
    private static func zeroSmall(_ tensor: Tensor, limit: Float) -> (tensor: Tensor, mask: Tensor) {
        let values = tensor.floats
        let keep = values.map { UInt8(abs($0) >= limit ? 1 : 0) }
        let mask = try! Tensor(dtype: .bool, shape: tensor.shape, bytes: keep)
        return (Tensor(zip(values, keep).map { $1 == 0 ? 0 : $0 }, shape: tensor.shape), mask)
    }

    func testDerivedWriteEqualsWritingTheDerivedPackage() throws {
        let directory = ArtifactFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var tensors = TensorMap()
        tensors["fc.weight"] = ArtifactFixtures.tensor(.f32, [64, 4], seed: 1)
        tensors["fc.bias"] = ArtifactFixtures.tensor(.f32, [64], seed: 2)
        let contents = PackageContents(graphJSON: ArtifactFixtures.graph, tensors: tensors)

        var derived = contents
        let (weight, mask) = Self.zeroSmall(tensors["fc.weight"]!, limit: 0.7)
        derived.tensors["fc.weight"] = weight
        derived.masks["fc.weight"] = mask
        let direct = directory.appendingPathComponent("direct.msa").path
        let streamed = directory.appendingPathComponent("streamed.msa").path
        let options = ArtifactWriteOptions(threads: 2)
        _ = try Artifact.write(derived, to: direct, options: options)
        let derivation = ArtifactDerivation(names: ["fc.weight"], derive: { _, tensor in Self.zeroSmall(tensor, limit: 0.7) })
        _ = try Artifact.write(contents, to: streamed, options: options, deriving: derivation)

        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: direct)), try Data(contentsOf: URL(fileURLWithPath: streamed)))
        let back = try Artifact.read(streamed)
        XCTAssertEqual(back.masks["fc.weight"]?.floats, mask.floats)
        XCTAssertEqual(back.tensors["fc.weight"]?.floats, weight.floats)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted(), ["direct.msa", "streamed.msa"])
    }

    func testADerivationThatChangesTheShapeIsRefusedAndWritesNothing() throws {
        let directory = ArtifactFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var tensors = TensorMap()
        tensors["fc.weight"] = ArtifactFixtures.tensor(.f32, [8, 4], seed: 3)
        let output = directory.appendingPathComponent("bad.msa").path
        let derivation = ArtifactDerivation(names: ["fc.weight"], derive: { _, _ in
            (Tensor(zeros: .f32, [4, 8]), Tensor(zeros: .bool, [4, 8]))
        })
        XCTAssertThrowsError(try Artifact.write(PackageContents(graphJSON: ArtifactFixtures.graph, tensors: tensors), to: output,
                                                deriving: derivation)) { error in
            XCTAssertTrue("\(error)".contains("fc.weight"), "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
    }
}
