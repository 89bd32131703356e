import XCTest
import TensorCore
@testable import Quantization

final class CalibrationCacheTests: XCTestCase {
    /// Histograms survive the JSON round trip exactly, so every method derives the same range
    /// from the cache as from the live statistics.
    func testRoundTripDerivesSameRangesWithAnyMethod() throws {
        let stats = TestModels.tinyStatistics()
        let cache = CalibrationCache(modelDigest: "m1", graphDigest: "g", rowDigests: ["r1", "r2"], method: .entropy, histograms: stats)
        let loaded = try CalibrationCache.decode(cache.jsonData(), path: "c.json", modelDigest: "m1", graphDigest: "g")
        XCTAssertEqual(try loaded.recordedMethod(), .entropy)
        let histograms = try loaded.histograms()
        XCTAssertEqual(histograms, stats)
        for method in [CalibrationMethod.minmax, .percentile(99.9), .entropy, .mse] {
            XCTAssertTrue(method.range(from: histograms["a1"]!) == method.range(from: stats["a1"]!), "\(method)")
        }
        let recorded = CalibrationMethod.entropy.range(from: stats["a1"]!)
        XCTAssertEqual(loaded.tensors["a1"]?.range, [recorded.min, recorded.max])
    }

    func testCacheFromAnotherModelIsRefused() {
        let cache = CalibrationCache(modelDigest: "aaaaaaaaaaaaaaaaaaaa", graphDigest: "g", rowDigests: ["r"], method: .minmax,
                                     histograms: TestModels.tinyStatistics())
        XCTAssertThrowsError(try CalibrationCache.decode(cache.jsonData(), path: "c.json", modelDigest: "bbbbbbbbbbbbbbbbbbbb", graphDigest: "g")) {
            XCTAssertEqual("\($0)", "c.json: calibration cache belongs to another model (model digest aaaaaaaaaaaaaaaa…, this model is bbbbbbbbbbbbbbbb…); recalibrate with --calib")
        }
    }

    func testCacheFromAnotherGraphIsRefusedNamingTheGraph() {
        let cache = CalibrationCache(modelDigest: "m", graphDigest: "1111111111111111aa", rowDigests: ["r"], method: .minmax,
                                     histograms: TestModels.tinyStatistics())
        XCTAssertThrowsError(try CalibrationCache.decode(cache.jsonData(), path: "c.json", modelDigest: "m", graphDigest: "2222222222222222bb")) {
            XCTAssertEqual("\($0)", "c.json: calibration cache was made for another graph (graph digest 1111111111111111…, this model's is 2222222222222222…); recalibrate")
        }
    }

    func testMalformedCachesAreRefused() throws {
        let good = CalibrationCache(modelDigest: "m", graphDigest: "g", rowDigests: ["r"], method: .minmax,
                                    histograms: TestModels.tinyStatistics())
        XCTAssertThrowsError(try CalibrationCache.decode(Data("{}".utf8), path: "c.json", modelDigest: "m", graphDigest: "g")) {
            XCTAssertEqual("\($0)", "c.json: not a valid calibration cache: not the JSON described in docs/quantization.md")
        }
        var wrongCount = good
        wrongCount.tensors["x"]!.count += 1
        XCTAssertThrowsError(try CalibrationCache.decode(wrongCount.jsonData(), path: "c.json", modelDigest: "m", graphDigest: "g")) {
            XCTAssertTrue("\($0)".hasPrefix("c.json: not a valid calibration cache: tensor 'x': counts sum to"), "\($0)")
        }
        var shifted = good
        shifted.tensors["x"]!.firstBin += 3
        XCTAssertThrowsError(try CalibrationCache.decode(shifted.jsonData(), path: "c.json", modelDigest: "m", graphDigest: "g"))
        var old = good
        old.version = 1
        XCTAssertThrowsError(try CalibrationCache.decode(old.jsonData(), path: "c.json", modelDigest: "m", graphDigest: "g")) {
            XCTAssertEqual("\($0)", "c.json: not a valid calibration cache: version 1; this tool reads 2 (recalibrate with `modelsmith calibrate`)")
        }
        var extraRow = good
        extraRow.rowDigests.append("s")
        XCTAssertThrowsError(try CalibrationCache.decode(extraRow.jsonData(), path: "c.json", modelDigest: "m", graphDigest: "g")) {
            XCTAssertEqual("\($0)", "c.json: not a valid calibration cache: 'row_digests' do not match 'samples' and 'data_digest'")
        }
    }
}
