import Foundation
import XCTest
@testable import ModelFormats

final class ArchiveEntriesTests: XCTestCase {
    private func entries(_ relative: String, limits: ReadLimits = .default) throws -> [ArchiveEntry] {
        var out: [ArchiveEntry] = []
        try ArchiveEntries.forEach(url: fixtureURL(relative), limits: limits) { out.append($0) }
        return out
    }

    func testEveryContainerListsTheSameEntriesAndBytes() throws {
        let reference = try entries("readers/pkg.tar")
        XCTAssertEqual(reference.map(\.path), ["model.json", "fc1.weight.npy", "fc1.bias.npy", "fc2.weight.npy", "fc2.bias.npy"])
        let modelJSON = try Data(contentsOf: fixtureURL("readers/tiny_model.json"))
        XCTAssertEqual(reference.first?.data, [UInt8](modelJSON))
        for name in ["pkg.tar.zst", "pkg.tar.xz"] {
            let got = try entries("readers/\(name)")
            XCTAssertEqual(got.map(\.path), reference.map(\.path), name)  // "./" prefixes are dropped
            XCTAssertEqual(got.map(\.data), reference.map(\.data), name)
        }
        for name in ["pkg.tar.gz", "pkg.zip"] {
            let got = try entries("readers/\(name)")
            XCTAssertEqual(got.map(\.path), reference.map { "tiny/\($0.path)" }, name)
            XCTAssertEqual(got.map(\.data), reference.map(\.data), name)
        }
    }

    func testNonASCIINamesSurviveTheCLocale() throws {
        XCTAssertEqual(try entries("readers/unicode_names.zip").map(\.path), ["wëight.npy"])
    }

    func testUnsafePathsAreRefused() {
        let dotdot = fixtureURL("malformed/dotdot.tar")
        assertFormatError("\(dotdot.path): entry '../evil.npy' has an absolute or '..' path; refused") {
            try ArchiveEntries.forEach(url: dotdot) { _ in }
        }
        let absolute = fixtureURL("malformed/absolute.tar")
        assertFormatError("\(absolute.path): entry '/abs.npy' has an absolute or '..' path; refused") {
            try ArchiveEntries.forEach(url: absolute) { _ in }
        }
    }

    func testEntryPathNormalisation() {
        XCTAssertEqual(EntryPath.normalised("./a/./b.npy"), "a/b.npy")
        XCTAssertEqual(EntryPath.normalised("a//b.npy"), "a/b.npy")
        XCTAssertNil(EntryPath.normalised("a/../../b.npy"))
        XCTAssertNil(EntryPath.normalised("..\\evil.npy"))
        XCTAssertNil(EntryPath.normalised("/etc/passwd"))
    }

    func testBadCRCIsAnError() {
        let url = fixtureURL("malformed/bad_crc.zip")
        XCTAssertThrowsError(try ArchiveEntries.forEach(url: url) { _ in }) { error in
            guard case .malformed(_, let entry, let reason)? = error as? FormatError else { return XCTFail("\(error)") }
            XCTAssertEqual(entry, "w.npy")
            XCTAssertTrue(reason.contains("CRC"), reason)
        }
    }

    func testDecodedBytesAreCapped() {
        let url = fixtureURL("malformed/bomb.npz")
        var limits = ReadLimits()
        limits.maxDecodedBytes = 1 << 20
        assertFormatError("\(url.path): entry 'zeros.npy': exceeds the decoded-size cap of 1048576 bytes") {
            try ArchiveEntries.forEach(url: url, limits: limits) { _ in }
        }
    }

    func testExpansionRatioIsBounded() throws {
        let url = fixtureURL("malformed/bomb.npz")
        let onDisk = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as! Int
        var limits = ReadLimits()
        limits.maxExpansionRatio = 100
        limits.expansionRatioFloorBytes = 1 << 20
        assertFormatError("\(url.path): entry 'zeros.npy': exceeds 100× the archive's \(onDisk) bytes on disk (decompression bomb?)") {
            try ArchiveEntries.forEach(url: url, limits: limits) { _ in }
        }
        // With the default limits the same 32 MiB decodes (it is under the ratio floor).
        XCTAssertEqual(try entries("malformed/bomb.npz").first?.data.count, (8 << 20) * 4 + 128)
    }

    func testEntryCountIsCapped() {
        let url = fixtureURL("readers/pkg.tar")
        var limits = ReadLimits()
        limits.maxEntries = 2
        assertFormatError("\(url.path): exceeds the limit of 2 archive entries") {
            try ArchiveEntries.forEach(url: url, limits: limits) { _ in }
        }
    }

    func testNotAnArchive() {
        let url = fixtureURL("malformed/not_an_archive.tar.gz")
        XCTAssertThrowsError(try ArchiveEntries.forEach(url: url) { _ in }) { error in
            guard case .malformed(let path, nil, _)? = error as? FormatError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, url.path)
        }
    }
}
