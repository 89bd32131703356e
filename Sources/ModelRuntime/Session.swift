import Foundation
import Kernels
import ModelGraph
import TensorCore

/// A model compiled for inference (DESIGN §5): planned once, run many times.
///
/// ```swift
/// let session = try Session(package: package, options: SessionOptions(maxBatch: 64, threads: 1))
/// let logits = try session.run(["x": batch])["logits"]!
/// ```
///
/// Planning picks a kernel per node, folds batchnorm into the conv before it, fuses ReLU into
/// linear/conv, prepares weights in the library's layout and sizes one arena by value liveness.
/// A run with any batch from 1 to `maxBatch` allocates nothing but its output tensors. Runs may
/// happen concurrently from several threads; each takes its own arena from a pool.
public final class Session: @unchecked Sendable {
    public let graph: Graph
    public let options: SessionOptions
    /// The plan for every batch size, or — for a graph that moves elements across the batch
    /// (`ExecutionPlan.needsConcreteBatch`) — the plan for `maxBatch` (or the graph's fixed batch).
    let plan: ExecutionPlan
    private let tensors: TensorMap
    private let lock = NSLock()
    /// Idle arenas by plan (`concreteBatch`, 0 for the plan of every batch size).
    private var idleArenas: [Int: [Arena]] = [:]
    /// Plans for other concrete batch sizes, made on first use.
    private var concretePlans: [Int: ExecutionPlan] = [:]

    /// Plans `package` for batches up to `options.maxBatch`.
    public init(package: ModelPackage, options: SessionOptions = SessionOptions()) throws {
        guard options.threads >= 1 else { throw RuntimeError.badOption("threads must be at least 1, got \(options.threads)") }
        try package.graph.validate(tensors: package.tensors)
        graph = package.graph
        self.options = options
        tensors = package.tensors
        if ExecutionPlan.needsConcreteBatch(package.graph) {
            let fixed = package.graph.inputs.map { $0.shape.first ?? -1 }.filter { $0 > 0 }.first
            plan = try ExecutionPlan(graph: package.graph, tensors: package.tensors, options: options,
                                     concreteBatch: Swift.min(fixed ?? options.maxBatch, options.maxBatch))
        } else {
            plan = try ExecutionPlan(graph: package.graph, tensors: package.tensors, options: options)
        }
        try prepare(batches: [plan.concreteBatch ?? options.maxBatch])
    }

    /// Names of the graph inputs, in graph order.
    public var inputNames: [String] { graph.inputs.map(\.name) }
    /// Names of the graph outputs, in graph order.
    public var outputNames: [String] { graph.outputs }
    /// Bytes of one arena (one per concurrent run).
    public var arenaBytes: Int { plan.arenaBytes }

    /// The shape of one sample of `value` (batch dimension removed), or nil if the value does not
    /// exist in the plan (unknown, or fused away).
    public func sampleShape(of value: String) -> [Int]? { plan.slots[value]?.sampleShape }

    /// Creates the library primitives for these batch sizes now rather than at their first run.
    public func prepare(batches: [Int]) throws {
        for batch in batches where batch >= 1 && batch <= options.maxBatch {
            let plan = try self.plan(for: batch)
            for step in plan.steps { try step.kernel.prepare(batch: step.fixedBatch ?? batch) }
        }
    }

    /// The plan that runs `batch` samples (a concrete plan is made once per batch size).
    private func plan(for batch: Int) throws -> ExecutionPlan {
        guard let concrete = plan.concreteBatch, concrete != batch else { return plan }
        lock.lock()
        defer { lock.unlock() }
        if let made = concretePlans[batch] { return made }
        let made = try ExecutionPlan(graph: graph, tensors: tensors, options: options, concreteBatch: batch)
        for step in made.steps { try step.kernel.prepare(batch: step.fixedBatch ?? batch) }
        concretePlans[batch] = made
        return made
    }

    /// Runs the graph: graph inputs by name → graph outputs by name.
    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        try run(inputs, taps: [], tap: { _, _ in })
    }

    /// Runs the graph and calls `tap` with a copy of every value named in `taps` as soon as it is
    /// computed (graph inputs included), shaped `[batch] + sampleShape`, always f32: a value that
    /// consecutive INT8 layers pass as u8 is delivered dequantized, `(q − zero point) · scale`.
    public func run(_ inputs: [String: Tensor], taps: Set<String>,
                    tap: (String, Tensor) throws -> Void) throws -> [String: Tensor] {
        for name in taps where plan.slots[name] == nil {
            if let node = plan.fusedAway[name] { throw RuntimeError.fusedAway(value: name, node: node) }
            throw RuntimeError.unknownTap(name)
        }
        let batch = try checkInputs(inputs)
        let plan = try self.plan(for: batch)
        let arena = try takeArena(plan)
        defer { returnArena(arena, plan) }
        DNNL.setThreads(options.threads)

        for info in plan.inputs {
            let slot = plan.slots[info.name]!
            inputs[info.name]!.toF32().withUnsafeBytes { bytes in
                (arena.base + slot.offset).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            }
        }
        if !taps.isEmpty { try deliver(plan.producedBeforeSteps, taps: taps, tap: tap, plan: plan, arena: arena, batch: batch) }
        for step in plan.steps {
            let buffers = KernelBuffers(base: arena.base, inputOffsets: step.inputOffsets, outputOffset: step.outputOffset)
            try step.kernel.run(batch: step.fixedBatch ?? batch, buffers: buffers, context: arena.context)
            if !taps.isEmpty { try deliver(step.produces, taps: taps, tap: tap, plan: plan, arena: arena, batch: batch) }
        }
        var outputs: [String: Tensor] = [:]
        for name in plan.outputs { outputs[name] = try copyOut(name, plan: plan, arena: arena, batch: batch) }
        return outputs
    }

    // MARK: internals

    private func deliver(_ values: [String], taps: Set<String>, tap: (String, Tensor) throws -> Void, plan: ExecutionPlan,
                         arena: Arena, batch: Int) throws {
        for value in values where taps.contains(value) { try tap(value, try copyOut(value, plan: plan, arena: arena, batch: batch)) }
    }

    private func copyOut(_ value: String, plan: ExecutionPlan, arena: Arena, batch: Int) throws -> Tensor {
        let slot = plan.slots[value]!
        let rows = slot.fixedFirstDim ?? batch
        var tensor = Tensor(zeros: .f32, Shape(slot.isConstant ? slot.sampleShape : [rows] + slot.sampleShape))
        if let reorder = slot.blocked {
            try tensor.withUnsafeMutableBytes { try reorder.run(batch: rows, input: arena.base + slot.offset, output: $0.baseAddress!, context: arena.context) }
        } else if let q = slot.u8 {
            tensor.withUnsafeMutableBufferPointer(of: Float.self) {
                q.dequantize((arena.base + slot.offset).assumingMemoryBound(to: UInt8.self), count: $0.count, into: $0.baseAddress!)
            }
        } else {
            tensor.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: arena.base + slot.offset, byteCount: $0.count) }
        }
        return tensor
    }

    /// Validates names, dtypes, shapes, batch size and values; returns the batch size.
    private func checkInputs(_ inputs: [String: Tensor]) throws -> Int {
        for name in inputs.keys.sorted() where !plan.inputs.contains(where: { $0.name == name }) {
            throw RuntimeError.unexpectedInput(name)
        }
        var batch: Int?
        for info in plan.inputs {
            guard let tensor = inputs[info.name] else { throw RuntimeError.missingInput(info.name) }
            guard tensor.dtype == info.dtype, tensor.quant == nil else {
                throw RuntimeError.wrongInputDType(input: info.name, dtype: tensor.dtype, expected: info.dtype)
            }
            let dims = tensor.shape.dims
            guard dims.count == info.shape.count else { throw RuntimeError.wrongInputRank(input: info.name, expected: info.shape, actual: dims) }
            for d in 1..<max(dims.count, 1) where dims[d] != info.shape[d] {
                throw RuntimeError.wrongInputDim(input: info.name, dim: d, expected: info.shape[d], actual: dims)
            }
            if info.shape[0] > 0, dims[0] != info.shape[0] {
                throw RuntimeError.wrongInputDim(input: info.name, dim: 0, expected: info.shape[0], actual: dims)
            }
            let n = dims[0]
            guard n > 0 else { throw RuntimeError.emptyBatch(input: info.name) }
            guard n <= options.maxBatch else { throw RuntimeError.batchTooLarge(input: info.name, batch: n, maxBatch: options.maxBatch) }
            if let b = batch, b != n { throw RuntimeError.inconsistentBatch(input: info.name, batch: n, expected: b) }
            batch = n
            if info.dtype == .f32, options.rejectNonFinite { try checkFinite(tensor, name: info.name) }
            if info.dtype == .i64 || info.dtype == .i32 { try checkExactlyRepresentable(tensor, name: info.name) }
        }
        guard let batch else { throw RuntimeError.badOption("the graph has no inputs") }
        return batch
    }

    /// Integer inputs (token ids) are held as f32 (docs/ops.md, "Values"): exact up to 2²⁴.
    private func checkExactlyRepresentable(_ tensor: Tensor, name: String) throws {
        let limit = 1 << 24
        for (i, v) in tensor.integers.enumerated() where Swift.abs(v) > limit {
            throw RuntimeError.inexactIntegerInput(input: name, index: i, value: v)
        }
    }

    private func checkFinite(_ tensor: Tensor, name: String) throws {
        try tensor.withUnsafeBufferPointer(of: Float.self) { values in
            for i in values.indices where !values[i].isFinite {
                throw RuntimeError.nonFiniteInput(input: name, index: i, value: values[i])
            }
        }
    }

    private func takeArena(_ plan: ExecutionPlan) throws -> Arena {
        lock.lock()
        let idle = idleArenas[plan.concreteBatch ?? 0]?.popLast()
        lock.unlock()
        return try idle ?? Arena(byteCount: plan.arenaBytes)
    }

    private func returnArena(_ arena: Arena, _ plan: ExecutionPlan) {
        lock.lock()
        idleArenas[plan.concreteBatch ?? 0, default: []].append(arena)
        lock.unlock()
    }
}
