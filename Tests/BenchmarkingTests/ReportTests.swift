import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import Benchmarking

final class ReportTests: XCTestCase {
    /// Counts elements by name and fails on malformed XML.
    private func elementCounts(_ svg: String, file: StaticString = #filePath, line: UInt = #line) -> [String: Int] {
        final class Counter: NSObject, XMLParserDelegate {
            var counts: [String: Int] = [:]
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String]) {
                counts[name, default: 0] += 1
            }
        }
        let parser = XMLParser(data: Data(svg.utf8))
        let counter = Counter()
        parser.delegate = counter
        XCTAssertTrue(parser.parse(), "not well-formed: \(parser.parserError.map(String.init(describing:)) ?? "")", file: file, line: line)
        return counter.counts
    }

    func testLineChartHasOnePolylinePerSeriesAndOneMarkerPerPoint() {
        let svg = SVGChart.lines(title: "Accuracy vs sparsity", xLabel: "sparsity", yLabel: "accuracy", series: [
            .init(name: "fc1", points: [(0.1, 0.97), (0.5, 0.96), (0.9, 0.7)]),
            .init(name: "fc2 <global>", points: [(0.1, 0.97), (0.9, 0.74)]),
        ])
        let counts = elementCounts(svg)
        XCTAssertEqual(counts["polyline"], 2)
        XCTAssertEqual(counts["circle"], 5)
        XCTAssertTrue(svg.contains("fc2 &lt;global&gt;"))
    }

    func testBarChartScalesBarsToTheLargestValue() {
        let svg = SVGChart.bars(title: "Size per layer", unit: "KiB", categories: ["fc1", "fc2"],
                                groups: [("before", [100, 50]), ("after", [25, 10])], width: 640)
        XCTAssertEqual(elementCounts(svg)["rect"], 4 + 2)  // bars + legend swatches
        // Plot width is 640 − 140 − 150 = 350 px; the largest value (100) spans it, 25 spans a quarter.
        XCTAssertTrue(svg.contains("width=\"350\""))
        XCTAssertTrue(svg.contains("width=\"87.5\""))
    }

    func testSpreadChartAndPageAreWellFormed() {
        var report = HTMLReport(title: "A/B report", subtitle: "teacher-int8.msa vs teacher.msa")
        report.add("Latency", [
            .table(header: ["config", "p50"], rows: [["batch 1", "0.010"]]),
            .chart(svg: SVGChart.spreads(title: "latency", unit: "ms", rows: [.init(label: "model b1", p50: 1, p90: 2, p99: 3)])),
        ])
        let html = report.render()
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        XCTAssertFalse(html.contains("<script"))
        XCTAssertFalse(html.contains("http://") && !html.contains("http://www.w3.org/2000/svg"))
        _ = elementCounts(String(html.dropFirst("<!DOCTYPE html>".count)))
    }

    func testOneStrayP99DoesNotSetTheLatencyScale() {
        let svg = SVGChart.spreads(title: "latency", unit: "ms", rows: [
            .init(label: "a", p50: 1, p90: 2, p99: 40), .init(label: "b", p50: 2, p90: 4, p99: 5),
        ], width: 640)
        // The axis spans 1.5 × the largest p90 = 6 ms over 640 − 200 − 90 = 350 px: p50 = 2 ms is 116.7 px.
        XCTAssertTrue(svg.contains("width=\"116.7\""), svg)
        XCTAssertEqual(elementCounts(svg)["polygon"], 1)  // only the cut whisker gets an arrow
        XCTAssertTrue(svg.contains("1 / 40 ms"))
    }

    func testNegativeValuesDrawNoBar() {
        let svg = SVGChart.bars(title: "SQNR", unit: "dB", categories: ["a", "b"], groups: [("model", [-3, 6])], width: 640)
        XCTAssertTrue(svg.contains("width=\"0\""))
        XCTAssertTrue(svg.contains("-3 dB"))
    }

    func testEmptyDataGivesAPlaceholderNotACrash() {
        XCTAssertTrue(SVGChart.lines(title: "t", xLabel: "x", yLabel: "y", series: []).contains("no data"))
        XCTAssertTrue(SVGChart.bars(title: "t", unit: "", categories: [], groups: []).contains("no data"))
    }
}
