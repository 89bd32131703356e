import XCTest
import ModelGraph
import TensorCore
@testable import Pruning

/// The counting cuts against a sort by (|x| bits, flat index) written here independently, on data
/// full of ties (few distinct magnitudes spread over both histogram passes), NaN and −0.0.
final class MagnitudeCutTests: XCTestCase {
    /// The reference: sort the kept entries of the concatenation by (magnitude bits, flat index)
    /// and prune the first k.
    private func referenceMasks(_ tensors: [Tensor], existing: [[UInt8]?], k: Int) -> [[UInt8]] {
        var keep = zip(tensors, existing).flatMap { tensor, mask in mask ?? [UInt8](repeating: 1, count: tensor.elementCount) }
        let bits = tensors.flatMap { $0.floats.map { $0.bitPattern & 0x7FFF_FFFF } }
        let order = bits.indices.filter { keep[$0] != 0 }.sorted { (bits[$0], $0) < (bits[$1], $1) }
        for i in order.prefix(k) { keep[i] = 0 }
        var offset = 0
        return tensors.map { tensor in
            defer { offset += tensor.elementCount }
            return Array(keep[offset..<offset + tensor.elementCount])
        }
    }

    private func tieHeavy(_ count: Int, seed: UInt64) -> Tensor {
        var rng = SeededRNG(seed: seed)
        // A handful of magnitudes, both signs, some differing only in the low 15 bits of their pattern.
        let palette: [Float] = [0, -0.0, 0.5, Float(bitPattern: 0x3F00_0001), Float(bitPattern: 0x3F00_8000), 1, 2, .nan, .infinity]
        return Tensor((0..<count).map { _ in
            let v = palette[Int(rng.next() % UInt64(palette.count))]
            return rng.next() % 2 == 0 ? v : -v
        }, shape: [count])
    }

    func testLayerCutsMatchTheSortedRanking() throws {
        for seed in 0..<6 as Range<UInt64> {
            let w = tieHeavy(97, seed: seed)
            let existing: [UInt8]? = seed % 2 == 0 ? nil : (0..<97).map { UInt8($0 % 5 == 0 ? 0 : 1) }
            let existingTensor = try existing.map { try Tensor(dtype: .bool, shape: [97], bytes: $0) }
            let kept = existing.map { $0.reduce(0) { $0 + Int($1) } } ?? 97
            for k in [0, 1, kept / 3, kept / 2, kept - 1, kept] {
                let pruner = L1Unstructured(amount: try .count(k))
                let mask = try pruner.cut(importance: w, existing: existingTensor).mask(importance: w, existing: existingTensor)
                XCTAssertEqual(mask.bytes, referenceMasks([w], existing: [existing], k: k)[0], "seed \(seed), k \(k)")
            }
        }
    }

    func testGlobalCutsShareTiesInTensorOrderLikeTheConcatenation() throws {
        let tensors = [tieHeavy(40, seed: 7), tieHeavy(1, seed: 8), tieHeavy(61, seed: 9)]
        let existing: [[UInt8]?] = [nil, nil, (0..<61).map { UInt8($0 % 3 == 0 ? 0 : 1) }]
        let existingTensors = try existing.enumerated().map { i, m in try m.map { try Tensor(dtype: .bool, shape: tensors[i].shape, bytes: $0) } }
        let kept = 41 + existing[2]!.reduce(0) { $0 + Int($1) }
        for k in [1, 5, kept / 2, kept - 2, kept] {
            let pruner = L1Unstructured(amount: try .count(k))
            let cuts = try pruner.globalCuts(importance: tensors, existing: existingTensors)
            let masks = zip(cuts, zip(tensors, existingTensors)).map { $0.mask(importance: $1.0, existing: $1.1).bytes }
            XCTAssertEqual(masks, referenceMasks(tensors, existing: existing, k: k), "k \(k)")
            let concatenated = try pruner.globalMasks(importance: tensors, existing: existingTensors).map(\.bytes)
            XCTAssertEqual(masks, concatenated, "k \(k)")
        }
    }
}
