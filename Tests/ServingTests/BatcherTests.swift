import Foundation
import ModelRuntime
@testable import Serving
import TensorCore
import XCTest

/// Dynamic batching returns exactly what each request computes alone, bounds its queue, and the
/// response cache is an LRU bounded in bytes.
final class BatcherTests: XCTestCase {
    /// Records the batch sizes a batcher ran.
    final class BatchLog: @unchecked Sendable {
        private let lock = NSLock()
        private var sizes: [Int] = []
        func add(_ size: Int) { lock.withLock { sizes.append(size) } }
        var all: [Int] { lock.withLock { sizes } }
    }

    func testBatchedResultsAreBitIdenticalToRunningEachRequestAlone() async throws {
        let session = try Session(package: ServingFixtures.package("teacher"), options: SessionOptions(maxBatch: 16, threads: 1))
        let x = try ServingFixtures.inputs("teacher")
        let log = BatchLog()
        let batcher = Batcher(sessions: [session], maxBatch: 16, maxDelay: .milliseconds(20), maxQueue: 256,
                              pool: InferencePool(threads: 1)) { if case .batch(let size) = $0 { log.add(size) } }
        defer { batcher.stop() }
        // 48 requests of 1–3 samples each, sent at once so that they share batches.
        let sizes = (0..<48).map { 1 + $0 % 3 }
        let starts = sizes.indices.map { i in sizes[..<i].reduce(0, +) }
        let results = try await withThrowingTaskGroup(of: (Int, Tensor).self) { group in
            for i in sizes.indices {
                let input = x.rows(starts[i], sizes[i])
                group.addTask { (i, try await batcher.submit(["x": input], batch: sizes[i]).outputs["logits"]!) }
            }
            return try await group.reduce(into: [Int: Tensor]()) { $0[$1.0] = $1.1 }
        }
        for i in sizes.indices {
            let alone = try session.run(["x": x.rows(starts[i], sizes[i])])["logits"]!
            XCTAssertTrue(results[i]!.bitwiseEqual(alone), "request \(i) (batch \(sizes[i])) differs from running it alone")
        }
        XCTAssertEqual(log.all.reduce(0, +), sizes.reduce(0, +))
        XCTAssertTrue(log.all.contains { $0 > 3 }, "no request was batched with another: \(log.all)")
        XCTAssertTrue(log.all.allSatisfy { $0 <= 16 })
    }

    func testAFullQueueAnswers429AtOnceAndTheRestStillComplete() async throws {
        let session = try Session(package: ServingFixtures.package("student"), options: SessionOptions(maxBatch: 4, threads: 1))
        let pool = InferencePool(threads: 1)
        let x = try ServingFixtures.inputs("student")
        let log = BatchLog()
        let batcher = Batcher(sessions: [session], maxBatch: 1, maxDelay: .zero, maxQueue: 1, pool: pool) { if case .batch(let size) = $0 { log.add(size) } }
        defer { batcher.stop() }
        let release = hold(pool)
        let first = Task { try await batcher.submit(["x": x.rows(0, 1)], batch: 1) }
        try await waitUntil { log.all.count == 1 }  // taken by the batching thread, blocked on the pool
        let second = Task { try await batcher.submit(["x": x.rows(1, 1)], batch: 1) }
        try await waitUntil { batcher.queueDepth == 1 }
        do {
            _ = try await batcher.submit(["x": x.rows(2, 1)], batch: 1)
            XCTFail("a third request was queued past --max-queue 1")
        } catch let error as ServingError {
            XCTAssertEqual(error.status, 429)
        }
        release.signal()
        let a = try await first.value.outputs["logits"]!, b = try await second.value.outputs["logits"]!
        XCTAssertTrue(a.bitwiseEqual(try session.run(["x": x.rows(0, 1)])["logits"]!))
        XCTAssertTrue(b.bitwiseEqual(try session.run(["x": x.rows(1, 1)])["logits"]!))
    }

    func testACancelledRequestLeavesTheQueue() async throws {
        let session = try Session(package: ServingFixtures.package("student"), options: SessionOptions(maxBatch: 4, threads: 1))
        let pool = InferencePool(threads: 1)
        let x = try ServingFixtures.inputs("student")
        let log = BatchLog()
        let batcher = Batcher(sessions: [session], maxBatch: 1, maxDelay: .zero, maxQueue: 4, pool: pool) { if case .batch(let size) = $0 { log.add(size) } }
        defer { batcher.stop() }
        let release = hold(pool)
        let first = Task { try await batcher.submit(["x": x.rows(0, 1)], batch: 1) }
        try await waitUntil { log.all.count == 1 }
        let abandoned = Task { try await batcher.submit(["x": x.rows(1, 1)], batch: 1) }
        try await waitUntil { batcher.queueDepth == 1 }
        abandoned.cancel()
        try await waitUntil { batcher.queueDepth == 0 }
        release.signal()
        _ = try await first.value
        let outcome = await abandoned.result
        XCTAssertThrowsError(try outcome.get()) { XCTAssertTrue($0 is CancellationError) }
    }

    func testTheCacheEvictsTheLeastRecentlyUsedEntriesPastItsBound() {
        let entry: [String: Tensor] = ["logits": Tensor([Float](repeating: 1, count: 10), shape: [1, 10])]
        let keys = (0..<4).map { ResponseCache.key(modelDigest: "d", inputs: ["x": Tensor([Float($0)], shape: [1, 1])]) }
        let entryBytes = 40 + keys[0].utf8.count
        let cache = ResponseCache(capacityBytes: 3 * entryBytes)
        for key in keys.prefix(3) { cache.store(key, entry) }
        XCTAssertNotNil(cache.lookup(keys[0]))  // 0 is now the most recently used; 1 the least
        cache.store(keys[3], entry)
        XCTAssertNil(cache.lookup(keys[1]))
        XCTAssertNotNil(cache.lookup(keys[0]))
        XCTAssertNotNil(cache.lookup(keys[2]))
        XCTAssertNotNil(cache.lookup(keys[3]))
        XCTAssertEqual(cache.storedBytes, 3 * entryBytes)
        // Another digest (a reloaded model) or other values give another key.
        XCTAssertNotEqual(keys[0], ResponseCache.key(modelDigest: "e", inputs: ["x": Tensor([0], shape: [1, 1])]))
        XCTAssertEqual(keys[0], ResponseCache.key(modelDigest: "d", inputs: ["x": Tensor([0], shape: [1, 1])]))
    }
}

/// Polls `condition` every millisecond for at most 5 s.
func waitUntil(_ condition: () -> Bool, file: StaticString = #filePath, line: UInt = #line) async throws {
    for _ in 0..<5000 {
        if condition() { return }
        try await Task.sleep(nanoseconds: 1_000_000)
    }
    XCTFail("condition not met within 5 s", file: file, line: line)
}

/// The same for a condition that awaits (an HTTP request), every 10 ms for at most 5 s.
func waitUntil(_ condition: () async -> Bool, file: StaticString = #filePath, line: UInt = #line) async throws {
    for _ in 0..<500 {
        if await condition() { return }
        try await Task.sleep(nanoseconds: 10_000_000)
    }
    XCTFail("condition not met within 5 s", file: file, line: line)
}

/// Takes one permit of `pool` on another thread until the returned semaphore is signalled, so
/// (with one permit) batches cannot run and requests stay queued or in flight.
func hold(_ pool: InferencePool) -> DispatchSemaphore {
    let release = DispatchSemaphore(value: 0)
    let holding = DispatchSemaphore(value: 0)
    Thread { pool.run { holding.signal(); release.wait() } }.start()
    holding.wait()
    return release
}
