import Foundation
import XCTest
import TensorCore
@testable import ModelFormats

final class WeightReadersTests: XCTestCase {
    private func read(_ relative: String, limits: ReadLimits = .default) throws -> PackageContents {
        try WeightReaders.read(fixtureURL(relative).path, limits: limits)
    }

    private func assertPackageMatchesNumPy(_ file: String, stripping prefix: String = "", line: UInt = #line) throws {
        let contents = try read("readers/\(file)")
        let expected = try XCTUnwrap(ExpectedTensor.all[file], file)
        XCTAssertEqual(Set(contents.tensors.names), Set(expected.keys.map { String($0.dropFirst(prefix.count)) }), file, line: line)
        for (name, want) in expected { assertMatches(contents.tensors[String(name.dropFirst(prefix.count))], want, "\(file): \(name)", line: line) }
    }

    func testSingleNpyIsNamedByItsStem() throws {
        let contents = try read("readers/dtype_i64.npy")
        XCTAssertEqual(contents.tensors.names, ["dtype_i64"])
        XCTAssertNil(contents.graphJSON)
        try assertPackageMatchesNumPy("dtype_i64.npy")
    }

    func testNpzStoredAndDeflated() throws {
        try assertPackageMatchesNumPy("stored.npz")
        try assertPackageMatchesNumPy("compressed.npz")
        // Nested keys keep their folder; npz names are not re-rooted.
        XCTAssertTrue(try read("readers/stored.npz").tensors.contains("layer1/conv.weight"))
    }

    func testDigitsSliceMatchesNumPy() throws {
        try assertPackageMatchesNumPy("digits_slice.npz")
        let contents = try read("readers/digits_slice.npz")
        XCTAssertEqual(contents.tensors["x"]?.shape, [6, 64])
        XCTAssertEqual(contents.tensors["y"]?.dtype, .i64)
    }

    func testSafetensorsFile() throws {
        try assertPackageMatchesNumPy("all_dtypes.safetensors")
    }

    /// Every container holds the same tiny MLP package, at the root or under `tiny/`.
    func testEveryPackageContainer() throws {
        let graph = try Data(contentsOf: fixtureURL("readers/tiny_model.json"))
        for file in ["pkg.tar", "pkg.tar.gz", "pkg.tar.xz", "pkg.tar.zst", "pkg.zip", "pkg_safetensors.tgz", "pkg_dir"] {
            let contents = try read("readers/\(file)")
            XCTAssertEqual(contents.graphJSON, graph, file)
            XCTAssertEqual(Set(contents.tensors.names), ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"], file)
            XCTAssertEqual(contents.source, fixtureURL("readers/\(file)").path)
            try assertPackageMatchesNumPy(file)
        }
    }

    private let ourReaders: [any WeightArchiveReader] = [NpyReader(), NpzReader(), SafetensorsReader(), ArchivePackageReader(), DirectoryPackageReader()]

    func testReadersAreChosenByExtension() {
        let names: [String: String] = ["a.npy": "npy", "a.NPZ": "npz", "a.safetensors": "safetensors", "a.tar.zst": "archive",
                                       "a.tgz": "archive", "a.zip": "archive", "a.tar.xz": "archive", "a.tar": "archive"]
        for (file, format) in names {
            let reader = WeightReaders.all.first { $0.canRead(URL(fileURLWithPath: "/nonexistent/\(file)")) }
            XCTAssertEqual(reader?.formatName, format, file)
        }
        XCTAssertEqual(WeightReaders.all.first { $0.canRead(fixtureURL("readers/pkg_dir")) }?.formatName, "directory")
        // .msa (artifact) and .pt/.pth (PyTorch) belong to other readers.
        for file in ["a.msa", "a.pt", "a.pth", "a.json"] {
            XCTAssertNil(ourReaders.first { $0.canRead(URL(fileURLWithPath: "/nonexistent/\(file)")) }, file)
        }
        for reader in ourReaders { XCTAssertTrue(WeightReaders.all.contains { $0.formatName == reader.formatName }, reader.formatName) }
    }

    func testRelativePathsAppearAsTyped() throws {
        let directory = fixtureURL("readers")
        let previous = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(directory.path))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        XCTAssertEqual(try WeightReaders.read("pkg.zip").source, "pkg.zip")
        assertFormatError("../malformed/lying_shape.npy: shape (4, 3) of '<f4' needs 48 bytes of data, found 24") {
            try WeightReaders.read("../malformed/lying_shape.npy")
        }
        assertFormatError("missing.npz: no such file or directory") { try WeightReaders.read("missing.npz") }
        assertFormatError("tiny_model.json: unrecognised format (expected .onnx, .npz, .npy, .safetensors, .pt, .msa, .tar[.gz|.xz|.zst], .zip or a directory)") {
            try WeightReaders.read("tiny_model.json")
        }
    }
}
