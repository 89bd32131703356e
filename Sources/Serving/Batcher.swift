import Benchmarking
import Foundation
import ModelRuntime
import TensorCore

/// Dynamic batching for one model variant (docs/serving.md, "Batching"): requests wait in a
/// bounded queue; each instance thread takes the oldest, then gathers more requests whose
/// per-sample shapes match until the batch holds `maxBatch` samples or `maxDelay` has passed
/// since the oldest arrived, runs the batch once and hands each request its own rows. It waits
/// only while `arrivals` says more requests for the model are on their way (received, still
/// being decoded): a lone request runs at once.
final class Batcher: @unchecked Sendable {
    struct Result: Sendable {
        var outputs: [String: Tensor]
        var queueNanoseconds: UInt64
        var inferenceNanoseconds: UInt64
        var batchSize: Int
    }

    private struct Pending {
        var id: UInt64
        var inputs: [String: Tensor]
        var batch: Int
        var shapeKey: [[Int]]
        var enqueued: UInt64
        var continuation: CheckedContinuation<Result, any Error>
    }

    private let sessions: [Session]
    private let inputNames: [String]
    private let maxBatch: Int
    private let maxDelayNanoseconds: UInt64
    private let maxQueue: Int
    private let pool: InferencePool
    private let arrivals: ArrivalCounter
    private let observe: @Sendable (_ event: Event) -> Void
    private let condition = NSCondition()
    private var queue: [Pending] = []
    private var nextID: UInt64 = 0
    private var stopping = false
    private var running = 0

    /// What the batcher reports to the metrics.
    enum Event: Sendable {
        case queueDepth(Int)
        case batch(size: Int)
    }

    /// One thread per session (`--instances`); runs are bounded by `pool`.
    init(sessions: [Session], maxBatch: Int, maxDelay: Duration, maxQueue: Int, pool: InferencePool,
         arrivals: ArrivalCounter = ArrivalCounter(), observe: @escaping @Sendable (Event) -> Void = { _ in }) {
        self.sessions = sessions
        inputNames = sessions[0].inputNames
        self.maxBatch = maxBatch
        maxDelayNanoseconds = UInt64(max(0, maxDelay.nanoseconds))
        self.maxQueue = maxQueue
        self.pool = pool
        self.arrivals = arrivals
        self.observe = observe
        running = sessions.count
        for (index, session) in sessions.enumerated() {
            let thread = Thread { [self] in work(session) }
            thread.name = "modelsmith-batcher-\(index)"
            thread.start()
        }
        arrivals.register(self)
    }

    /// Queues one request and waits for its rows of the batch it ran in. Throws 429 at once when
    /// the queue holds `maxQueue` requests; a cancelled request leaves the queue (its slot is freed).
    /// `settlingArrival`: the request was counted by `arrivals.arrive()`, settled here once queued or refused.
    func submit(_ inputs: [String: Tensor], batch: Int, settlingArrival: Bool = false) async throws -> Result {
        let shapeKey = inputNames.map { Array(inputs[$0]!.shape.dims.dropFirst()) }
        let box = IDBox()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Result, any Error>) in
                let refusal = enqueue(Pending(id: 0, inputs: inputs, batch: batch, shapeKey: shapeKey,
                                              enqueued: ProcessStatistics.now(), continuation: continuation), box: box)
                if settlingArrival { arrivals.settle() }
                if let refusal { continuation.resume(throwing: refusal) }
            }
        } onCancel: {
            cancel(box)
        }
    }

    /// Appends `pending` (numbering it in `box`), or returns why it cannot wait.
    private func enqueue(_ pending: Pending, box: IDBox) -> ServingError? {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return .shuttingDown }
        guard queue.count < maxQueue else { return .queueFull }
        nextID += 1
        box.id = nextID
        var pending = pending
        pending.id = nextID
        queue.append(pending)
        observe(.queueDepth(queue.count))
        condition.signal()
        return nil
    }

    /// Requests still waiting for a batch.
    var queueDepth: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count
    }

    /// Lets the queue drain, then ends the instance threads; new submissions are refused (503).
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until every instance thread has ended (after `stop`).
    func waitUntilStopped() {
        condition.lock()
        while running > 0 { condition.wait() }
        condition.unlock()
    }

    /// Lets a thread waiting for more requests re-check (an expected arrival settled).
    fileprivate func wake() {
        condition.lock()
        condition.broadcast()
        condition.unlock()
    }

    private func cancel(_ box: IDBox) {
        condition.lock()
        let index = queue.firstIndex { $0.id == box.id }
        let pending = index.map { queue.remove(at: $0) }
        observe(.queueDepth(queue.count))
        condition.unlock()
        pending?.continuation.resume(throwing: CancellationError())
    }

    private func work(_ session: Session) {
        while let batch = nextBatch() {
            run(batch, on: session)
        }
        condition.lock()
        running -= 1
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch: the oldest request, then whatever matching requests arrive before the batch
    /// is full or the oldest has waited `maxDelay`. Nil once stopping with an empty queue.
    private func nextBatch() -> [Pending]? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty {
            if stopping { return nil }
            condition.wait()
        }
        let first = queue.removeFirst()
        var batch = [first]
        var samples = first.batch
        let deadline = first.enqueued + maxDelayNanoseconds
        while samples < maxBatch {
            if let index = queue.firstIndex(where: { $0.shapeKey == first.shapeKey && samples + $0.batch <= maxBatch }) {
                let next = queue.remove(at: index)
                batch.append(next)
                samples += next.batch
                continue
            }
            let now = ProcessStatistics.now()
            guard now < deadline, !stopping, arrivals.count > 0 else { break }
            // Wait for more requests (a signal) or until the oldest one's delay has passed.
            let before = queue.count
            _ = condition.wait(until: Date(timeIntervalSinceNow: Double(deadline - now) / 1e9))
            if queue.count == before, ProcessStatistics.now() >= deadline { break }
        }
        observe(.queueDepth(queue.count))
        return batch
    }

    private func run(_ batch: [Pending], on session: Session) {
        let start = ProcessStatistics.now()
        let samples = batch.reduce(0) { $0 + $1.batch }
        observe(.batch(size: samples))
        do {
            let outputs = try pool.run {
                try session.run(batch.count == 1 ? batch[0].inputs : Self.concatenate(batch.map(\.inputs), names: inputNames))
            }
            let end = ProcessStatistics.now()
            var row = 0
            for pending in batch {
                let mine = batch.count == 1 ? outputs : outputs.mapValues { Self.rows($0, from: row, count: pending.batch) }
                row += pending.batch
                pending.continuation.resume(returning: Result(outputs: mine, queueNanoseconds: start - pending.enqueued,
                                                              inferenceNanoseconds: end - start, batchSize: samples))
            }
        } catch {
            for pending in batch { pending.continuation.resume(throwing: error) }
        }
    }

    /// The requests' inputs stacked along the batch dimension, per input name.
    static func concatenate(_ requests: [[String: Tensor]], names: [String]) -> [String: Tensor] {
        var stacked: [String: Tensor] = [:]
        for name in names {
            let parts = requests.map { $0[name]! }
            let batch = parts.reduce(0) { $0 + $1.shape[0] }
            var tensor = Tensor(zeros: .f32, Shape([batch] + parts[0].shape.dims.dropFirst()))
            tensor.withUnsafeMutableBytes { destination in
                var offset = 0
                for part in parts {
                    part.withUnsafeBytes { source in
                        (destination.baseAddress! + offset).copyMemory(from: source.baseAddress!, byteCount: source.count)
                        offset += source.count
                    }
                }
            }
            stacked[name] = tensor
        }
        return stacked
    }

    /// Rows `from ..< from + count` of a batch-major tensor.
    static func rows(_ tensor: Tensor, from: Int, count: Int) -> Tensor {
        let rowBytes = tensor.byteCount / tensor.shape[0]
        var slice = Tensor(zeros: tensor.dtype, Shape([count] + tensor.shape.dims.dropFirst()))
        slice.withUnsafeMutableBytes { destination in
            tensor.withUnsafeBytes { source in
                destination.baseAddress!.copyMemory(from: source.baseAddress! + from * rowBytes, byteCount: count * rowBytes)
            }
        }
        return slice
    }
}

/// Requests for one model received but not yet queued (decoding), shared by its variants'
/// batchers so that a batch waits for more only when more are coming.
final class ArrivalCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    private var batchers: [WeakBatcher] = []

    var count: Int { lock.withLock { value } }

    fileprivate func register(_ batcher: Batcher) { lock.withLock { batchers.append(WeakBatcher(batcher)) } }

    /// A request has been received.
    func arrive() { lock.withLock { value += 1 } }

    /// The request was queued, or refused: a batch waiting for it can stop waiting.
    func settle() {
        let waiting = lock.withLock {
            value -= 1
            return batchers.compactMap(\.batcher)
        }
        for batcher in waiting { batcher.wake() }
    }
}

fileprivate struct WeakBatcher {
    weak var batcher: Batcher?
    init(_ batcher: Batcher) { self.batcher = batcher }
}

/// The queue id of a request, set when it is queued and read if its task is cancelled (both under
/// the batcher's lock).
private final class IDBox: @unchecked Sendable {
    var id: UInt64 = 0
}
