import XCTest
import ModelGraph
import TensorCore
@testable import Pruning

/// Masks identical to `torch.nn.utils.prune` (torch 1.13, CPU) on the digits teacher, and the tie rule
/// on tensors with tied magnitudes.
final class GoldenMaskTests: XCTestCase {
    /// `l1_unstructured(fc2, 0.5 | 0.9)` and `global_unstructured([fc1, fc2, fc3], 0.5 | 0.9)`: bit for bit.
    func testTeacherMasksMatchPyTorch() throws {
        let teacher = GoldenFixtures.teacher
        XCTAssertEqual(GoldenFixtures.index.cases.count, 4)
        for golden in GoldenFixtures.index.cases {
            let scope = try XCTUnwrap(PruningScope(rawValue: golden.scope))
            let pruned = try teacher.pruned(golden.tensors, by: L1Unstructured(amount: .fraction(golden.amount)), scope: scope)
            let ours = golden.tensors.flatMap { pruned.masks[$0]!.bytes }
            let theirs = GoldenFixtures.mask(golden.case, count: ours.count)
            let differing = zip(ours, theirs).filter { $0 != $1 }.count
            XCTAssertEqual(differing, 0, "\(golden.case): \(differing) mask entries differ from PyTorch")
            // Pruned weights are exactly +0.0 and kept ones untouched.
            for name in golden.tensors {
                let before = teacher.tensors[name]!.floats, after = pruned.tensors[name]!.floats
                let keep = pruned.masks[name]!.bytes
                for i in before.indices {
                    let expected = keep[i] == 1 ? before[i].bitPattern : Float(0).bitPattern
                    if after[i].bitPattern != expected { return XCTFail("\(golden.case) \(name)[\(i)]: \(after[i]), keep \(keep[i])") }
                }
            }
        }
    }

    /// Tied magnitudes: PyTorch's choice among ties is arbitrary (`topk` is unstable), ours is
    /// "lowest flat index first". The test proves that the count is PyTorch's and that the two masks
    /// differ only at entries whose magnitude equals the cut (the largest pruned magnitude), where
    /// PyTorch and we prune the same number of tied entries.
    func testTiesDifferOnlyAmongValuesTiedAtTheCut() throws {
        XCTAssertEqual(GoldenFixtures.index.ties.count, 7)
        for golden in GoldenFixtures.index.ties {
            let weight = Tensor(golden.weight, shape: Shape(golden.shape))
            let amount = golden.amount_is_count ? try PruningAmount.count(Int(golden.amount)) : try PruningAmount.fraction(golden.amount)
            let ours = try L1Unstructured(amount: amount).mask(importance: weight, existing: nil).bytes
            let theirs = golden.mask
            let magnitude = golden.weight.map(abs)

            let prunedCount = theirs.filter { $0 == 0 }.count
            XCTAssertEqual(ours.filter { $0 == 0 }.count, prunedCount, "\(golden.case): count")
            guard prunedCount > 0 else { continue }
            let cut = magnitude.indices.filter { theirs[$0] == 0 }.map { magnitude[$0] }.max()!
            for i in magnitude.indices {
                if magnitude[i] < cut { XCTAssertEqual(ours[i], 0, "\(golden.case)[\(i)] below the cut must be pruned") }
                if magnitude[i] > cut { XCTAssertEqual(ours[i], 1, "\(golden.case)[\(i)] above the cut must be kept") }
                if ours[i] != theirs[i] { XCTAssertEqual(magnitude[i], cut, "\(golden.case)[\(i)] differs but is not tied at the cut") }
            }
            // Our rule among the tied: the lowest flat indices are the pruned ones.
            let tied = magnitude.indices.filter { magnitude[$0] == cut }
            let prunedTied = tied.filter { ours[$0] == 0 }
            XCTAssertEqual(prunedTied, Array(tied.prefix(prunedTied.count)), "\(golden.case): tie rule")
        }
    }

    /// Where the golden masks have no tie at the cut they are matched exactly (len5, int amount).
    func testTiesCasesWithoutTieAtTheCutMatchExactly() throws {
        for name in ["len5_amount0.5_round_half_even", "int_amount3_len6"] {
            let golden = try XCTUnwrap(GoldenFixtures.index.ties.first { $0.case == name })
            let amount = golden.amount_is_count ? try PruningAmount.count(Int(golden.amount)) : try PruningAmount.fraction(golden.amount)
            let ours = try L1Unstructured(amount: amount).mask(importance: Tensor(golden.weight, shape: Shape(golden.shape)), existing: nil)
            XCTAssertEqual(ours.bytes, golden.mask, name)
        }
    }
}
