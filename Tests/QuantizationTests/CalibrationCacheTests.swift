import XCTest
import TensorCore
@testable import Quantization

final class CalibrationCacheTests: XCTestCase {
    /// Histograms survive the JSON round trip exactly, so every method derives the same range
    /// from the cache as from the live statistics.
    func testRoundTripDerivesSameRangesWithAnyMethod() throws {
        let stats = TestModels.tinyStatistics()
        let cache = CalibrationCache(modelDigest: "m1", dataDigest: "d1", samples: 100, method: .entropy, histograms: stats)
        let loaded = try CalibrationCache.decode(cache.jsonData(), path: "c.json", modelDigest: "m1")
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
        let cache = CalibrationCache(modelDigest: "aaaaaaaaaaaaaaaaaaaa", dataDigest: "d", samples: 1, method: .minmax,
                                     histograms: TestModels.tinyStatistics())
        XCTAssertThrowsError(try CalibrationCache.decode(cache.jsonData(), path: "c.json", modelDigest: "bbbbbbbbbbbbbbbbbbbb")) {
            XCTAssertEqual("\($0)", "c.json: calibration cache belongs to another model (model digest aaaaaaaaaaaaaaaa…, this model is bbbbbbbbbbbbbbbb…); recalibrate with --calib")
        }
    }

    func testMalformedCachesAreRefused() throws {
        let good = CalibrationCache(modelDigest: "m", dataDigest: "d", samples: 1, method: .minmax,
                                    histograms: TestModels.tinyStatistics())
        XCTAssertThrowsError(try CalibrationCache.decode(Data("{}".utf8), path: "c.json", modelDigest: "m")) {
            XCTAssertEqual("\($0)", "c.json: not a valid calibration cache: not the JSON described in docs/quantization.md")
        }
        var wrongCount = good
        wrongCount.tensors["x"]!.count += 1
        XCTAssertThrowsError(try CalibrationCache.decode(wrongCount.jsonData(), path: "c.json", modelDigest: "m")) {
            XCTAssertTrue("\($0)".hasPrefix("c.json: not a valid calibration cache: tensor 'x': counts sum to"), "\($0)")
        }
        var shifted = good
        shifted.tensors["x"]!.firstBin += 3
        XCTAssertThrowsError(try CalibrationCache.decode(shifted.jsonData(), path: "c.json", modelDigest: "m"))
        var future = good
        future.version = 2
        XCTAssertThrowsError(try CalibrationCache.decode(future.jsonData(), path: "c.json", modelDigest: "m")) {
            XCTAssertEqual("\($0)", "c.json: not a valid calibration cache: version 2; this tool reads 1")
        }
    }
}
