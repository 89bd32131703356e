import XCTest
import ModelGraph
import ModelRuntime
import TensorCore
@testable import Quantization

/// Sharded calibration (docs/scale-out.md): caches of disjoint shards, merged in any order, are
/// field for field the cache of one pass over all rows, so every method quantizes to the same model.
final class ShardedCalibrationTests: XCTestCase {
    private func fixture(_ name: String) -> String { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/\(name)").path }

    private func load(_ model: String) throws -> ModelPackage {
        try ModelPackage.load(path: fixture("\(model).weights.npz"), graphPath: fixture("\(model).model.json"))
    }

    private func digits(_ key: String) throws -> Dataset { try Dataset.load(path: fixture("digits.npz"), xKey: key, yKey: nil) }

    /// Rows `indices` of `data` as a data set of their own, as a shard file would hold them.
    private func subset(_ data: Dataset, _ indices: ArraySlice<Int>) throws -> Dataset {
        let row = data.x.elementCount / data.count
        let all = data.x.floats
        return try Dataset(x: Tensor(indices.flatMap { all[($0 * row)..<(($0 + 1) * row)] },
                                     shape: Shape([indices.count] + data.x.shape.dims.dropFirst())))
    }

    /// Three uneven shards of a random permutation of the rows (so neither the split points nor the
    /// row order match the single pass), merged in several orders (all six for entropy).
    func testThreeShardsMergeToTheSinglePassForEveryMethodInAnyOrder() throws {
        for (model, key, methods) in [("teacher", "x_train", [CalibrationMethod.minmax, .percentile(99.99), .entropy, .mse]),
                                      ("cnn", "x_train_img", [CalibrationMethod.entropy])] {
            let package = try load(model)
            let data = try digits(key)
            var rng = SeededRNG(seed: 16)
            let order = Array(0..<data.count).shuffled(using: &rng)
            let cuts = [0, 97, 700, data.count]
            let shards = try (0..<3).map { try subset(data, order[cuts[$0]..<cuts[$0 + 1]]) }
            for method in methods {
                let single = try Calibrator.calibrate(package, data: data, method: method)
                let parts = try shards.enumerated().map { (path: "part-\($0.offset)", cache: try Calibrator.calibrate(package, data: $0.element, method: method)) }
                let orders = method == .entropy ? [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] : [[1, 2, 0], [2, 1, 0]]
                for permutation in orders {
                    let merged = try CalibrationCache.merge(permutation.map { parts[$0] })
                    XCTAssertEqual(merged.jsonData(), single.jsonData(), "\(model) \(method) order \(permutation)")
                }
                let merged = try CalibrationCache.merge(parts)
                XCTAssertEqual(merged.samples, data.count)
                let one = try Quantizer.quantize(package, statistics: single.histograms(), method: method, scheme: QuantScheme()).package
                let many = try Quantizer.quantize(package, statistics: merged.histograms(), method: method, scheme: QuantScheme()).package
                XCTAssertEqual(many.contents.graphJSON, one.contents.graphJSON, "\(model) \(method)")
                for (name, tensor) in one.tensors {
                    XCTAssertEqual(many.tensors[name]?.withUnsafeBytes { Array($0) }, tensor.withUnsafeBytes { Array($0) }, "\(model) \(method) \(name)")
                }
            }
        }
    }

    /// `--shard K/N` slices cover every row once; their caches record K/N and merge to the single pass.
    func testRecordedShardsMergeAndAMissingOrRepeatedShardIsRefused() throws {
        let package = try load("teacher")
        let data = try digits("x_train")
        let single = try Calibrator.calibrate(package, data: data, method: .entropy)
        let parts = try (0..<4).map { k in
            (path: "part-\(k).json", cache: try Calibrator.calibrate(package, data: data, shard: DatasetShard(index: k, count: 4)!, method: .entropy))
        }
        XCTAssertEqual(parts.map(\.cache.samples).reduce(0, +), data.count)
        XCTAssertEqual(parts[2].cache.shard, DatasetShard(index: 2, count: 4))
        XCTAssertEqual(try CalibrationCache.merge(parts.reversed()).jsonData(), single.jsonData())

        XCTAssertThrowsError(try CalibrationCache.merge([parts[0], parts[1], parts[3]])) {
            XCTAssertEqual("\($0)", "shard(s) 2 of 0..<4 missing among the calibration caches")
        }
        XCTAssertThrowsError(try CalibrationCache.merge([parts[0], parts[1], parts[2], (path: "again.json", cache: parts[1].cache), parts[3]])) {
            XCTAssertEqual("\($0)", "again.json and part-1.json are both shard 1/4")
        }
        let whole = (path: "whole.json", cache: single)
        XCTAssertThrowsError(try CalibrationCache.merge([parts[0], whole])) {
            XCTAssertEqual("\($0)", "whole.json: shard none differs from part-0.json's 0/4; only caches made alike merge")
        }
        let halves = try (0..<2).map { k in
            (path: "half-\(k).json", cache: try Calibrator.calibrate(package, data: data, shard: DatasetShard(index: k, count: 2)!, method: .entropy))
        }
        XCTAssertThrowsError(try CalibrationCache.merge([parts[0], halves[1]])) {
            XCTAssertEqual("\($0)", "half-1.json: shard count 2 differs from part-0.json's 4; only caches made alike merge")
        }
    }

    func testCachesMadeDifferentlyOrSharingRowsAreRefused() throws {
        let package = try load("teacher")
        let data = try digits("x_train")
        let a = (path: "a.json", cache: try Calibrator.calibrate(package, data: data, rows: 0..<500, method: .percentile(99.99)))
        let b = try Calibrator.calibrate(package, data: data, rows: 500..<900, method: .percentile(99.99))
        XCTAssertNoThrow(try CalibrationCache.merge([a, (path: "b.json", cache: b)]))

        let overlapping = try Calibrator.calibrate(package, data: data, rows: 400..<900, method: .percentile(99.99))
        XCTAssertThrowsError(try CalibrationCache.merge([a, (path: "b.json", cache: overlapping)])) {
            XCTAssertTrue("\($0)".hasPrefix("b.json and a.json share 100 sample(s) (e.g. row digest "), "\($0)")
        }
        let otherPercentile = try Calibrator.calibrate(package, data: data, rows: 500..<900, method: .percentile(99.9))
        XCTAssertThrowsError(try CalibrationCache.merge([a, (path: "b.json", cache: otherPercentile)])) {
            XCTAssertEqual("\($0)", "b.json: method parameters percentile=99.9 differs from a.json's percentile=99.99; only caches made alike merge")
        }
        let otherMethod = try Calibrator.calibrate(package, data: data, rows: 500..<900, method: .mse)
        XCTAssertThrowsError(try CalibrationCache.merge([a, (path: "b.json", cache: otherMethod)])) {
            XCTAssertEqual("\($0)", "b.json: method mse differs from a.json's percentile; only caches made alike merge")
        }
        let otherBins = try Calibrator.calibrate(package, data: data, rows: 500..<900, method: .percentile(99.99), bins: 1024)
        XCTAssertThrowsError(try CalibrationCache.merge([a, (path: "b.json", cache: otherBins)])) {
            XCTAssertEqual("\($0)", "b.json: bin count of 'a1' 1024 differs from a.json's 2048; only caches made alike merge")
        }
        XCTAssertThrowsError(try Calibrator.calibrate(package, data: data, method: .minmax, bins: 8)) {
            XCTAssertEqual("\($0)", "--bins 8: a histogram needs at least 16 bins")
        }
    }

    /// The data digest is that of the multiset of rows: the order of the samples does not change it.
    func testDataDigestIsOrderFree() throws {
        let data = try digits("x_train")
        let rows = data.rowDigests(0..<50)
        XCTAssertEqual(Dataset.multisetDigest(ofRows: rows), Dataset.multisetDigest(ofRows: rows.reversed()))
        XCTAssertNotEqual(Dataset.multisetDigest(ofRows: rows), Dataset.multisetDigest(ofRows: Array(rows.dropLast())))
        XCTAssertEqual(Set(rows).count, 50, "distinct samples have distinct digests")
        XCTAssertEqual(rows[7], try subset(data, [7]).rowDigests()[0], "a row's digest does not depend on its position")
    }
}
