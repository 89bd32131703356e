import Foundation

/// The A/B page `bench --report` and `optimize` write: both models side by side, latency per
/// configuration, and per layer the stored size, sparsity and output error.
public struct ABReport {
    public struct ModelRow: Sendable {
        public var label: String, path: String
        public var sizeBytes: Int, loadMilliseconds: Double, peakRSS: Int
        public var accuracy: Double?
        public init(label: String, path: String, sizeBytes: Int, loadMilliseconds: Double, peakRSS: Int, accuracy: Double?) {
            self.label = label
            self.path = path
            self.sizeBytes = sizeBytes
            self.loadMilliseconds = loadMilliseconds
            self.peakRSS = peakRSS
            self.accuracy = accuracy
        }
    }

    public struct LatencyRow: Sendable {
        public var label: String, batch: Int, threads: Int
        public var p50: Double, p90: Double, p99: Double, mean: Double
        public init(label: String, batch: Int, threads: Int, p50: Double, p90: Double, p99: Double, mean: Double) {
            self.label = label
            self.batch = batch
            self.threads = threads
            self.p50 = p50
            self.p90 = p90
            self.p99 = p99
            self.mean = mean
        }
    }

    public var models: [ModelRow]
    public var latency: [LatencyRow]
    public var layers: [LayerComparison]
    public var agreement: Double?

    public init(models: [ModelRow], latency: [LatencyRow], layers: [LayerComparison], agreement: Double?) {
        self.models = models
        self.latency = latency
        self.layers = layers
        self.agreement = agreement
    }

    public func render() -> String {
        let subtitle = models.map { "\($0.label): \($0.path)" }.joined(separator: " · ")
        var page = HTMLReport(title: "ModelSmith A/B report", subtitle: subtitle)
        page.add("Models", [.table(header: ["model", "path", "size", "load ms", "peak RSS", "accuracy"], rows: models.map { m in
            [m.label, m.path, Self.bytes(m.sizeBytes), String(format: "%.1f", m.loadMilliseconds), Self.bytes(m.peakRSS),
             m.accuracy.map { String(format: "%.4f", $0) } ?? "-"]
        })] + (summary.map { [.paragraph($0)] } ?? []))
        page.add("Latency", [
            .chart(svg: SVGChart.spreads(title: "Latency per call (ms)", unit: "ms", rows: latency.map {
                .init(label: "\($0.label) · batch \($0.batch) · \($0.threads)t", p50: $0.p50, p90: $0.p90, p99: $0.p99,
                      series: $0.label == "model" ? 1 : 0)  // the colours of the per-layer charts: baseline blue, model red
            })),
            .table(header: ["model", "batch", "threads", "p50 ms", "p90 ms", "p99 ms", "mean ms", "samples/s"], rows: latency.map { r in
                [r.label, "\(r.batch)", "\(r.threads)"] + [r.p50, r.p90, r.p99, r.mean].map { String(format: "%.4f", $0) }
                    + [String(format: "%.0f", Double(r.batch) / (r.mean / 1000))]
            }),
        ])
        guard !layers.isEmpty else { return page.render() }
        let names = layers.map(\.node)
        page.add("Size per layer", [.chart(svg: SVGChart.bars(title: "Stored bytes per layer (KiB)", unit: "KiB", categories: names, groups: [
            ("baseline", layers.map { Double($0.baselineStoredBytes) / 1024 }),
            ("model", layers.map { Double($0.modelStoredBytes) / 1024 }),
        ]))])
        var blocks: [HTMLReport.Block] = [.chart(svg: SVGChart.bars(title: "Weight sparsity per layer (%)", unit: "%", categories: names, groups: [
            ("baseline", layers.map { $0.baselineSparsity * 100 }), ("model", layers.map { $0.modelSparsity * 100 }),
        ]))]
        let finite = layers.compactMap { l in l.outputSQNR.flatMap { $0.isFinite ? (l.node, $0) : nil } }
        if !finite.isEmpty {
            blocks.append(.chart(svg: SVGChart.bars(title: "Layer output SQNR vs baseline (dB, higher is closer)", unit: "dB",
                                                    categories: finite.map(\.0), groups: [("model", finite.map(\.1))])))
        }
        blocks.append(.table(header: ["layer", "weights", "stored (baseline → model)", "sparsity", "output SQNR"], rows: layers.map { l in
            [l.node, l.modelWeightDType.rawValue, "\(Self.bytes(l.baselineStoredBytes)) → \(Self.bytes(l.modelStoredBytes))",
             String(format: "%.1f%%", l.modelSparsity * 100), l.outputSQNR.map { $0.isFinite ? String(format: "%.1f dB", $0) : "identical" } ?? "-"]
        }))
        page.add("Per layer", blocks)
        return page.render()
    }

    private var summary: String? {
        guard models.count == 2 else { return nil }
        let (m, b) = (models[0], models[1])
        var parts = [String(format: "%.1f× smaller on disk", Double(b.sizeBytes) / Double(max(m.sizeBytes, 1)))]
        if let ma = m.accuracy, let ba = b.accuracy { parts.append(String(format: "accuracy %.4f vs %.4f (%+.2f points)", ma, ba, (ma - ba) * 100)) }
        if let agreement { parts.append(String(format: "top-1 agreement %.4f", agreement)) }
        return parts.joined(separator: "; ")
    }

    static func bytes(_ n: Int) -> String {
        n >= 1 << 20 ? String(format: "%.2f MiB", Double(n) / 1_048_576) : (n >= 1024 ? String(format: "%.1f KiB", Double(n) / 1024) : "\(n) B")
    }
}
