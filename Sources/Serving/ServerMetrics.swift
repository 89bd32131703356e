import Benchmarking
import Prometheus

/// The server's metrics in one Prometheus registry, served by `GET /metrics` (names and labels
/// in docs/serving.md, "Metrics"). Each server has its own registry, so servers in one process
/// (tests) do not mix their counts.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    static let latencyBuckets: [Duration] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
        .map { .nanoseconds(Int64($0 * 1e9)) }
    static let batchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256]
    private let resident: Gauge

    public init() {
        resident = registry.makeGauge(name: "modelsmith_process_resident_bytes", labels: [], help: "Resident set size of the server process")
    }

    func request(model: String, variant: String, status: Int) {
        registry.makeCounter(name: "modelsmith_requests_total", labels: [("model", model), ("variant", variant), ("status", String(status))],
                             help: "Inference requests by model, variant and HTTP status").increment()
    }

    /// The parts of a request's latency, each its own histogram.
    enum Stage: String {
        case total = "modelsmith_request_duration_seconds"
        case queue = "modelsmith_queue_duration_seconds"
        case inference = "modelsmith_inference_duration_seconds"
    }

    func latency(_ stage: Stage, model: String, variant: String, nanoseconds: UInt64) {
        registry.makeDurationHistogram(name: stage.rawValue, labels: [("model", model), ("variant", variant)],
                                       buckets: Self.latencyBuckets, help: "Seconds per request: \(stage)")
            .recordNanoseconds(Int64(nanoseconds))
    }

    func batch(model: String, variant: String, size: Int) {
        registry.makeValueHistogram(name: "modelsmith_batch_size", labels: [("model", model), ("variant", variant)],
                                    buckets: Self.batchBuckets, help: "Samples per model run (dynamic batching)").record(Double(size))
    }

    func queueDepth(model: String, variant: String, depth: Int) {
        registry.makeGauge(name: "modelsmith_queue_depth", labels: [("model", model), ("variant", variant)],
                           help: "Requests waiting for a batch").set(Double(depth))
    }

    func cache(model: String, hit: Bool) {
        registry.makeCounter(name: hit ? "modelsmith_cache_hits_total" : "modelsmith_cache_misses_total", labels: [("model", model)],
                             help: hit ? "Responses answered from the cache" : "Cache look-ups that ran the model").increment()
    }

    func loaded(model: String, variant: String, seconds: Double) {
        registry.makeGauge(name: "modelsmith_model_load_seconds", labels: [("model", model), ("variant", variant)],
                           help: "Seconds to read, verify, plan and warm up the model").set(seconds)
    }

    func shadow(model: String, variant: String, agreed: Int, compared: Int, maxAbsDifference: Float) {
        let labels = [("model", model), ("variant", variant)]
        registry.makeCounter(name: "modelsmith_shadow_samples_total", labels: labels, help: "Samples compared with the shadow variant")
            .increment(by: Int64(compared))
        registry.makeCounter(name: "modelsmith_shadow_top1_agreements_total", labels: labels, help: "Samples whose top-1 class the shadow variant agreed on")
            .increment(by: Int64(agreed))
        registry.makeValueHistogram(name: "modelsmith_shadow_max_abs_difference", labels: labels,
                                    buckets: [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1], help: "Largest output difference per request, shadow vs served")
            .record(Double(maxAbsDifference))
    }

    /// The text format, with the resident set read now.
    func render() -> [UInt8] {
        resident.set(Double(ProcessStatistics.residentBytes()))
        return registry.emitToBuffer()
    }
}
