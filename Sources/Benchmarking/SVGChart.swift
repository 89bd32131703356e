import Foundation

/// Small, dependency-free SVG charts for the HTML reports. Every chart is a complete `<svg>`
/// element with its own axes, labels and legend, so a page needs no script and no network.
public enum SVGChart {
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public init(name: String, points: [(x: Double, y: Double)]) {
            self.name = name
            self.points = points
        }
    }

    /// One row of a latency chart: a bar to the median and a whisker to p90 and p99.
    public struct Spread: Sendable {
        public var label: String
        public var p50: Double, p90: Double, p99: Double
        /// Rows of one series (one model) share a colour.
        public var series: Int
        public init(label: String, p50: Double, p90: Double, p99: Double, series: Int = 0) {
            self.label = label
            self.p50 = p50
            self.p90 = p90
            self.p99 = p99
            self.series = series
        }
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    static func color(_ i: Int) -> String { palette[i % palette.count] }

    /// Lines through (x, y) points, one per series, with a legend.
    public static func lines(title: String, xLabel: String, yLabel: String, series: [Series],
                             yRange: ClosedRange<Double>? = nil, width: Int = 640, height: Int = 360) -> String {
        let all = series.flatMap(\.points)
        guard !all.isEmpty else { return empty(title: title, width: width) }
        let xs = all.map(\.x), ys = all.map(\.y)
        let plot = Plot(width: width, height: height, left: 56, right: 150, top: 32, bottom: 44,
                        xRange: xs.min()!...max(xs.max()!, xs.min()! + 1e-9),
                        yRange: yRange ?? (min(ys.min()!, 0)...max(ys.max()!, 1e-9)))
        var svg = plot.open(title: title) + plot.axes(xLabel: xLabel, yLabel: yLabel)
        for (i, s) in series.enumerated() {
            let path = s.points.map { "\(fmt(plot.x($0.x))),\(fmt(plot.y($0.y)))" }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(color(i))\" stroke-width=\"2\" points=\"\(path)\"/>"
            for p in s.points {
                svg += "<circle cx=\"\(fmt(plot.x(p.x)))\" cy=\"\(fmt(plot.y(p.y)))\" r=\"3\" fill=\"\(color(i))\"><title>\(escape(s.name)): \(fmt(p.x)), \(fmt(p.y))</title></circle>"
            }
        }
        svg += legend(series.map(\.name), x: width - plot.right + 12, y: plot.top)
        return svg + "</svg>"
    }

    /// Horizontal grouped bars: one row per category, one bar per group (e.g. before/after).
    public static func bars(title: String, unit: String, categories: [String],
                            groups: [(name: String, values: [Double])], width: Int = 640) -> String {
        guard !categories.isEmpty, !groups.isEmpty else { return empty(title: title, width: width) }
        let rowHeight = 8 + 14 * groups.count
        let height = 60 + rowHeight * categories.count
        let maxValue = max(groups.flatMap(\.values).max() ?? 1, 1e-12)
        let left = 140, right = 150, barWidth = Double(width - left - right)
        var svg = header(title: title, width: width, height: height)
        for (row, category) in categories.enumerated() {
            let y0 = 36 + row * rowHeight
            svg += "<text x=\"\(left - 6)\" y=\"\(y0 + rowHeight / 2 + 4)\" text-anchor=\"end\">\(escape(category))</text>"
            for (g, group) in groups.enumerated() where row < group.values.count {
                let value = group.values[row]
                let w = barWidth * max(value, 0) / maxValue  // negative values: no bar, the label says it
                let y = y0 + 4 + g * 14
                svg += "<rect x=\"\(left)\" y=\"\(y)\" width=\"\(fmt(w))\" height=\"12\" fill=\"\(color(g))\"><title>\(escape(group.name)) \(escape(category)): \(fmt(value)) \(escape(unit))</title></rect>"
                svg += "<text x=\"\(fmt(Double(left) + w + 4))\" y=\"\(y + 10)\" font-size=\"10\">\(fmt(value)) \(escape(unit))</text>"
            }
        }
        svg += legend(groups.map(\.name), x: width - right + 12, y: 36)
        return svg + "</svg>"
    }

    /// Latency spreads: a bar to p50 and a whisker from p50 through p90 (tick) to p99.
    public static func spreads(title: String, unit: String, rows: [Spread], width: Int = 640) -> String {
        guard !rows.isEmpty else { return empty(title: title, width: width) }
        let height = 60 + 22 * rows.count
        // One stray p99 (a noisy machine) must not flatten every bar: the axis ends at 1.5× the
        // largest p90, and longer whiskers are cut with an arrow (their label keeps the value).
        let maxValue = max(min(rows.map(\.p99).max() ?? 1, 1.5 * (rows.map(\.p90).max() ?? 1)), 1e-12)
        let left = 200, right = 90, span = Double(width - left - right)
        func x(_ v: Double) -> Double { Double(left) + span * min(v, maxValue) / maxValue }
        var svg = header(title: title, width: width, height: height)
        for (i, row) in rows.enumerated() {
            let y = 36 + i * 22
            svg += "<text x=\"\(left - 6)\" y=\"\(y + 12)\" text-anchor=\"end\">\(escape(row.label))</text>"
            svg += "<rect x=\"\(left)\" y=\"\(y + 2)\" width=\"\(fmt(x(row.p50) - Double(left)))\" height=\"14\" fill=\"\(color(row.series))\"><title>p50 \(fmt(row.p50)) \(escape(unit))</title></rect>"
            svg += "<line x1=\"\(fmt(x(row.p50)))\" y1=\"\(y + 9)\" x2=\"\(fmt(x(row.p99)))\" y2=\"\(y + 9)\" stroke=\"#333\"/>"
            svg += "<line x1=\"\(fmt(x(row.p90)))\" y1=\"\(y + 4)\" x2=\"\(fmt(x(row.p90)))\" y2=\"\(y + 14)\" stroke=\"#333\"><title>p90 \(fmt(row.p90)) \(escape(unit))</title></line>"
            svg += "<line x1=\"\(fmt(x(row.p99)))\" y1=\"\(y + 2)\" x2=\"\(fmt(x(row.p99)))\" y2=\"\(y + 16)\" stroke=\"#333\"><title>p99 \(fmt(row.p99)) \(escape(unit))</title></line>"
            if row.p99 > maxValue {
                let tip = x(row.p99)
                svg += "<polygon points=\"\(fmt(tip)),\(y + 9) \(fmt(tip - 6)),\(y + 5) \(fmt(tip - 6)),\(y + 13)\" fill=\"#333\"/>"
            }
            svg += "<text x=\"\(fmt(x(row.p99) + 4))\" y=\"\(y + 13)\" font-size=\"10\">\(fmt(row.p50)) / \(fmt(row.p99)) \(escape(unit))</text>"
        }
        svg += "<text x=\"\(left)\" y=\"\(height - 8)\" font-size=\"10\">bar: p50 · tick: p90 · end: p99</text>"
        return svg + "</svg>"
    }

    // MARK: - pieces

    struct Plot {
        var width, height, left, right, top, bottom: Int
        var xRange: ClosedRange<Double>, yRange: ClosedRange<Double>
        var plotWidth: Double { Double(width - left - right) }
        var plotHeight: Double { Double(height - top - bottom) }
        func x(_ v: Double) -> Double { Double(left) + plotWidth * (v - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound) }
        func y(_ v: Double) -> Double { Double(top) + plotHeight * (1 - (v - yRange.lowerBound) / max(yRange.upperBound - yRange.lowerBound, 1e-12)) }
        func open(title: String) -> String { header(title: title, width: width, height: height) }
        func axes(xLabel: String, yLabel: String) -> String {
            var s = "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" stroke=\"#333\"/>"
            s += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=\"#333\"/>"
            for i in 0...4 {
                let xv = xRange.lowerBound + (xRange.upperBound - xRange.lowerBound) * Double(i) / 4
                let yv = yRange.lowerBound + (yRange.upperBound - yRange.lowerBound) * Double(i) / 4
                s += "<text x=\"\(fmt(x(xv)))\" y=\"\(height - bottom + 14)\" text-anchor=\"middle\" font-size=\"10\">\(fmt(xv))</text>"
                s += "<text x=\"\(left - 4)\" y=\"\(fmt(y(yv) + 3))\" text-anchor=\"end\" font-size=\"10\">\(fmt(yv))</text>"
                s += "<line x1=\"\(left)\" y1=\"\(fmt(y(yv)))\" x2=\"\(width - right)\" y2=\"\(fmt(y(yv)))\" stroke=\"#eee\"/>"
            }
            s += "<text x=\"\(left + Int(plotWidth) / 2)\" y=\"\(height - 8)\" text-anchor=\"middle\">\(escape(xLabel))</text>"
            s += "<text x=\"14\" y=\"\(top + Int(plotHeight) / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(top + Int(plotHeight) / 2))\">\(escape(yLabel))</text>"
            return s
        }
    }

    static func header(title: String, width: Int, height: Int) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" font-family=\"sans-serif\" font-size=\"12\">"
            + "<text x=\"8\" y=\"18\" font-size=\"14\" font-weight=\"bold\">\(escape(title))</text>"
    }

    static func legend(_ names: [String], x: Int, y: Int) -> String {
        names.enumerated().map { i, name in
            "<rect x=\"\(x)\" y=\"\(y + i * 18)\" width=\"12\" height=\"12\" fill=\"\(color(i))\"/><text x=\"\(x + 18)\" y=\"\(y + i * 18 + 10)\">\(escape(name))</text>"
        }.joined()
    }

    static func empty(title: String, width: Int) -> String {
        header(title: title, width: width, height: 50) + "<text x=\"8\" y=\"40\">no data</text></svg>"
    }

    static func fmt(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e9 { return String(Int(v)) }
        return String(format: abs(v) >= 100 ? "%.1f" : "%.3g", v)
    }
}

/// Escapes text for HTML/SVG content and attributes.
public func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
