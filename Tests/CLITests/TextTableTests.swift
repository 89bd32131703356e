import Foundation
import XCTest
@testable import ModelSmithCLI

/// Tables stay linear in their input, and `--quiet` does not print (or render) them.
final class TextTableTests: XCTestCase {
    func testColumnsAlignUpToTheWidthCap() {
        var table = TextTable([.init("name"), .init("n", .right)])
        table.add(["a", "1"])
        table.add(["bbb", "22"])
        XCTAssertEqual(table.render(), "name   n\n----  --\na      1\nbbb   22\n")
    }

    func testOneLongCellDoesNotPadTheOtherRows() {
        let long = String(repeating: "x", count: 100_000)
        var table = TextTable([.init("name"), .init("op")])
        table.add([long, "relu"])
        for i in 0..<1000 { table.add(["n\(i)", "relu"]) }
        let lines = table.render().split(separator: "\n")
        let cap = TextTable.maxPaddedWidth
        XCTAssertEqual(lines[2], Substring(long + "  relu"), "the long cell is printed whole")
        XCTAssertEqual(lines[3], Substring("n0" + String(repeating: " ", count: cap - 2) + "  relu"))
        XCTAssertEqual(lines[1].count, cap + 2 + 4, "the rule is as wide as the capped columns")
        // Linear: the other 1,000 rows add about cap + 6 characters each, not 100,000.
        XCTAssertLessThan(table.render().utf8.count, long.count + 1001 * (cap + 8))
    }

    func testInspectQuietPrintsNoTable() throws {
        let model = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/student.npz").path
        let graph = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/student.json").path
        let loud = runModelSmith(["inspect", model, "--graph", graph])
        XCTAssertEqual(loud.status, 0, loud.stderr)
        XCTAssertTrue(loud.stdout.contains("totals:"), loud.stdout)
        let quiet = runModelSmith(["inspect", model, "--graph", graph, "-q"])
        XCTAssertEqual(quiet.status, 0, quiet.stderr)
        XCTAssertEqual(quiet.stdout, "")
    }
}
