import Dispatch
import Foundation
import XCTest
@testable import ModelFormats

/// One named temporary per write, and no overwrite without `force` even when writers race.
final class AtomicFileTests: XCTestCase {
    private var dir: URL!
    override func setUp() { dir = ArtifactFixtures.temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    private func listing() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() }

    func testAWriteMakesOnlyItsOneNamedTemporary() throws {
        let target = dir.appendingPathComponent("out.bin").path
        var seen: [String] = []
        try AtomicFile.write(to: target, force: false) { url in
            seen = try listing()
            XCTAssertTrue(url.lastPathComponent.hasPrefix(".out.bin.tmp-\(getpid())-"), url.lastPathComponent)
            try Data("abc".utf8).write(to: url)
        }
        XCTAssertEqual(seen.count, 1, "the temporary exists (created exclusively) before the body runs")
        XCTAssertEqual(try listing(), ["out.bin"])
        try AtomicFile.write(Array("xyz".utf8), to: target, force: true)
        XCTAssertEqual(try listing(), ["out.bin"], "writing bytes leaves no second temporary")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: target)), Data("xyz".utf8))
    }

    func testRacingWritersWithoutForceLeaveExactlyOneWinner() throws {
        for round in 0..<20 {
            let target = dir.appendingPathComponent("race-\(round).bin").path
            let writers = 8
            let outcomes = LockedArray<Bool?>(repeating: nil, count: writers)
            DispatchQueue.concurrentPerform(iterations: writers) { i in
                do {
                    try AtomicFile.write(to: target, force: false) { url in
                        try Data("writer \(i)".utf8).write(to: url)
                    }
                    outcomes.set(i, true)
                } catch FormatError.outputExists {
                    outcomes.set(i, false)
                } catch {
                    XCTFail("writer \(i): \(error)")
                }
            }
            let winners = outcomes.values.indices.filter { outcomes.values[$0] == true }
            XCTAssertEqual(winners.count, 1, "round \(round): \(outcomes.values)")
            if let winner = winners.first {
                XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: target)), Data("writer \(winner)".utf8))
            }
        }
        XCTAssertEqual(try listing().filter { $0.hasPrefix(".") }, [], "no temporary is left behind")
    }
}
