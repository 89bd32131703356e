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
///
/// A graph with symbolic dims beyond the batch (`sequence`) is planned per concrete signature:
/// the sizes its inputs give those dims (and, for a graph that moves the batch, the batch) pick a
/// plan, made on first use from `Graph.specialized` and kept with its arenas; the
/// `SessionOptions.cachedPlans` most recently used are kept (docs/runtime.md, "Symbolic dimensions").
public final class Session: @unchecked Sendable {
    public let graph: Graph
    public let options: SessionOptions
    /// The first plan: for every batch size, or — for a graph that moves elements across the batch
    /// (`ExecutionPlan.needsConcreteBatch`) — for `maxBatch` (or the graph's fixed batch); for a
    /// graph with symbolic dims, at the sizes `init` was given (1 for the others).
    let plan: ExecutionPlan
    let tensors: TensorMap
    private let movesBatch: Bool
    private let lock = NSLock()
    /// Idle arenas by plan.
    private var idleArenas: [PlanKey: [Arena]] = [:]
    /// Plans for other signatures, made on first use, most recently used last (at most
    /// `options.cachedPlans`).
    private var otherPlans: [PlanKey: ExecutionPlan] = [:]
    private var recentlyUsed: [PlanKey] = []

    /// Plans `package` for batches up to `options.maxBatch`; a graph with symbolic dims first for
    /// the sizes in `dims` (1 where not given).
    public init(package: ModelPackage, options: SessionOptions = SessionOptions(), dims: [String: Int] = [:]) throws {
        guard options.threads >= 1 else { throw RuntimeError.badOption("threads must be at least 1, got \(options.threads)") }
        guard options.cachedPlans >= 1 else { throw RuntimeError.badOption("cachedPlans must be at least 1, got \(options.cachedPlans)") }
        try package.graph.validate(tensors: package.tensors)
        graph = package.graph
        self.options = options
        tensors = package.tensors
        movesBatch = ExecutionPlan.needsConcreteBatch(package.graph)
        var first = PlanKey(dims: Dictionary(uniqueKeysWithValues: package.graph.symbolicDims.map { ($0, dims[$0] ?? 1) }), batch: nil)
        if movesBatch {
            let fixed = package.graph.inputs.map { $0.shape.first ?? -1 }.filter { $0 > 0 }.first
            first.batch = Swift.min(fixed ?? options.maxBatch, options.maxBatch)
        }
        plan = try Self.makePlan(first, graph: package.graph, tensors: package.tensors, options: options)
        try prepare(batches: [plan.concreteBatch ?? options.maxBatch])
    }

    /// The symbolic dims' sizes and, for a graph that moves the batch, the batch a plan is made for.
    struct PlanKey: Hashable {
        var dims: [String: Int]
        var batch: Int?
    }

    private var firstKey: PlanKey { PlanKey(dims: plan.dims, batch: plan.concreteBatch) }

    private static func makePlan(_ key: PlanKey, graph: Graph, tensors: TensorMap, options: SessionOptions) throws -> ExecutionPlan {
        let (concrete, concreteTensors) = try graph.specialized(dims: key.dims, tensors: tensors)
        return try ExecutionPlan(graph: concrete, tensors: concreteTensors, options: options, concreteBatch: key.batch, dims: key.dims)
    }

    /// How many plans the session holds now (the first one included).
    public var planCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return 1 + otherPlans.count
    }

    /// Names of the graph inputs, in graph order.
    public var inputNames: [String] { graph.inputs.map(\.name) }
    /// Names of the graph outputs, in graph order.
    public var outputNames: [String] { graph.outputs }
    /// Bytes of one arena (one per concurrent run) of the first plan.
    public var arenaBytes: Int { plan.arenaBytes }

    /// The shape of one sample of `value` (batch dimension removed) in the first plan, or nil if
    /// the value does not exist in the plan (unknown, or fused away).
    public func sampleShape(of value: String) -> [Int]? { plan.slots[value]?.sampleShape }

    /// Creates the library primitives for these batch sizes now rather than at their first run
    /// (for a graph with symbolic dims: at the first plan's sizes).
    public func prepare(batches: [Int]) throws {
        // oneDNN fixes a primitive's thread split when it is created: create it under this session's count.
        DNNL.setThreads(options.threads)
        for batch in batches where batch >= 1 && batch <= options.maxBatch {
            let plan = try self.plan(for: batch, dims: plan.dims)
            for step in plan.steps { try step.kernel.prepare(batch: step.fixedBatch ?? batch) }
        }
    }

    /// The plan that runs `batch` samples with these symbolic dim sizes (made once per signature).
    private func plan(for batch: Int, dims: [String: Int]) throws -> ExecutionPlan {
        let key = PlanKey(dims: dims, batch: movesBatch ? batch : nil)
        guard key != firstKey else { return plan }
        lock.lock()
        defer { lock.unlock() }
        if let made = otherPlans[key] {
            recentlyUsed.removeAll { $0 == key }
            recentlyUsed.append(key)
            return made
        }
        let made = try Self.makePlan(key, graph: graph, tensors: tensors, options: options)
        DNNL.setThreads(options.threads)
        for step in made.steps { try step.kernel.prepare(batch: step.fixedBatch ?? batch) }
        otherPlans[key] = made
        recentlyUsed.append(key)
        // The first plan always stays; beyond it, the least recently used go with their arenas.
        while otherPlans.count >= options.cachedPlans, let oldest = recentlyUsed.first, oldest != key {
            recentlyUsed.removeFirst()
            otherPlans[oldest] = nil
            idleArenas[oldest] = nil
        }
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
        let (batch, dims) = try checkInputs(inputs)
        let plan = try self.plan(for: batch, dims: dims)
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
            let buffers = KernelBuffers(base: arena.base, inputOffsets: step.inputOffsets, outputOffset: step.outputOffset,
                                        laterOutputOffsets: step.laterOutputOffsets)
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

    /// Validates names, dtypes, shapes, batch size and values; returns the batch size and the
    /// sizes the inputs give the symbolic dims (which all inputs must agree on).
    private func checkInputs(_ inputs: [String: Tensor]) throws -> (batch: Int, dims: [String: Int]) {
        for name in inputs.keys.sorted() where !graph.inputs.contains(where: { $0.name == name }) {
            throw RuntimeError.unexpectedInput(name)
        }
        var batch: Int?
        var dims: [String: (size: Int, input: String)] = [:]
        for info in graph.inputs {
            guard let tensor = inputs[info.name] else { throw RuntimeError.missingInput(info.name) }
            guard tensor.dtype == info.dtype, tensor.quant == nil else {
                throw RuntimeError.wrongInputDType(input: info.name, dtype: tensor.dtype, expected: info.dtype)
            }
            let shape = tensor.shape.dims
            guard shape.count == info.shape.count else { throw RuntimeError.wrongInputRank(input: info.name, expected: info.shape, actual: shape) }
            for d in 1..<max(shape.count, 1) {
                if let symbol = info.symbol(at: d) {
                    if let seen = dims[symbol], seen.size != shape[d] {
                        throw RuntimeError.inconsistentDim(name: symbol, input: info.name, size: shape[d], other: seen.input, otherSize: seen.size)
                    }
                    if dims[symbol] == nil { dims[symbol] = (shape[d], info.name) }
                } else if shape[d] != info.shape[d] {
                    throw RuntimeError.wrongInputDim(input: info.name, dim: d, expected: info.shape[d], actual: shape)
                }
            }
            if info.shape[0] > 0, shape[0] != info.shape[0] {
                throw RuntimeError.wrongInputDim(input: info.name, dim: 0, expected: info.shape[0], actual: shape)
            }
            let n = shape[0]
            guard n > 0 else { throw RuntimeError.emptyBatch(input: info.name) }
            guard n <= options.maxBatch else { throw RuntimeError.batchTooLarge(input: info.name, batch: n, maxBatch: options.maxBatch) }
            if let b = batch, b != n { throw RuntimeError.inconsistentBatch(input: info.name, batch: n, expected: b) }
            batch = n
            if info.dtype == .f32, options.rejectNonFinite { try checkFinite(tensor, name: info.name) }
            if info.dtype == .i64 || info.dtype == .i32 { try checkExactlyRepresentable(tensor, name: info.name) }
        }
        guard let batch else { throw RuntimeError.badOption("the graph has no inputs") }
        return (batch, dims.mapValues(\.size))
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
        let idle = idleArenas[PlanKey(dims: plan.dims, batch: plan.concreteBatch)]?.popLast()
        lock.unlock()
        return try idle ?? Arena(byteCount: plan.arenaBytes)
    }

    private func returnArena(_ arena: Arena, _ plan: ExecutionPlan) {
        let key = PlanKey(dims: plan.dims, batch: plan.concreteBatch)
        lock.lock()
        // A plan evicted while this run used it takes its arena along.
        if key == firstKey || otherPlans[key] != nil { idleArenas[key, default: []].append(arena) }
        lock.unlock()
    }
}
