import XCTest
@testable import Pruning

final class PruningAmountTests: XCTestCase {
    /// Python's `round(amount * n)`: half to even on the double product (values from anchors §2.4).
    func testFractionRoundsLikePython() throws {
        let cases: [(Double, Int, Int)] = [(0.5, 5, 2), (0.5, 7, 4), (0.25, 10, 2), (0.15, 10, 2), (0.5, 3, 2),
                                           (0.9, 262_144, 235_930), (0, 9, 0), (1, 9, 9)]
        for (fraction, n, expected) in cases {
            XCTAssertEqual(try PruningAmount.fraction(fraction).count(of: n), expected, "\(fraction) × \(n)")
        }
    }

    func testCountIsAbsoluteAndCheckedAgainstTheTensor() throws {
        XCTAssertEqual(try PruningAmount.count(3).count(of: 6), 3)
        XCTAssertThrowsError(try PruningAmount.count(7).count(of: 6, tensor: "fc1.weight")) { error in
            XCTAssertEqual("\(error)", "pruning amount 7 exceeds the 6 unpruned entries of fc1.weight")
        }
    }

    func testOutOfRangeAmountsAreRefusedAtInit() {
        for bad in [Double.nan, -0.1, 1.5, .infinity] {
            XCTAssertThrowsError(try PruningAmount.fraction(bad), "\(bad)") { error in
                guard case .invalidFraction = error as? PruningError else { return XCTFail("\(bad): \(error)") }
            }
        }
        XCTAssertThrowsError(try PruningAmount.fraction(1.5)) {
            XCTAssertEqual("\($0)", "pruning amount 1.5 is not a fraction in [0, 1] (use an integer for a count)")
        }
        XCTAssertThrowsError(try PruningAmount.count(-2)) {
            XCTAssertEqual("\($0)", "pruning amount -2 is negative; a count must be ≥ 0")
        }
    }

    /// The type decides, as in PyTorch: `1` is one entry, `1.0` is all of them.
    func testParsingTellsCountsFromFractions() throws {
        XCTAssertEqual(try PruningAmount(parsing: "1200").kind, .count(1200))
        XCTAssertEqual(try PruningAmount(parsing: "1").kind, .count(1))
        XCTAssertEqual(try PruningAmount(parsing: "1.0").kind, .fraction(1))
        XCTAssertEqual(try PruningAmount(parsing: " 0.8").kind, .fraction(0.8))
        XCTAssertThrowsError(try PruningAmount(parsing: "nan")) { XCTAssertEqual("\($0)", "pruning amount nan is not a fraction in [0, 1] (use an integer for a count)") }
        XCTAssertThrowsError(try PruningAmount(parsing: "-3")) { XCTAssertEqual($0 as? PruningError, .negativeCount(-3)) }
        XCTAssertThrowsError(try PruningAmount(parsing: "half")) {
            XCTAssertEqual("\($0)", "pruning amount 'half' is neither a fraction (0.8) nor a count (1200)")
        }
    }
}
