import Kernels
import TensorCore

/// INT8 `linear` (quantized graph convention): the input — f32, quantized here with the node's
/// `input_quant`, or u8 already, from a preceding INT8 layer — is multiplied u8×s8→s32
/// and finished by the epilogue: dequantized to f32, or requantized to u8 for the next INT8
/// layer, with bias and a fused ReLU. The product is the layer's `Int8Product` (same integers on each).
/// A pruned weight (`sparse`) runs on the sparse INT8 product (the same integers) at the row
/// counts where `SparseBreakEven.prefersSparseInt8` says it beats the dense one.
/// Working memory comes from the run's `ExecutionContext` (no allocation, no lock per run).
final class Int8LinearKernel: NodeKernel {
    let layer: Int8Linear
    let rowsPerSample: Int
    let inputIsU8: Bool
    let epilogue: Int8Linear.Epilogue
    let sparse: SparseInt8Matrix?
    /// Run `sparse` at every batch size (`KernelRegistry.SparsePolicy.always`).
    let alwaysSparse: Bool

    init(layer: Int8Linear, rowsPerSample: Int, inputIsU8: Bool, output: Int8Output,
         sparse: SparseInt8Matrix? = nil, alwaysSparse: Bool = false) {
        self.alwaysSparse = alwaysSparse
        self.layer = layer
        self.rowsPerSample = rowsPerSample
        self.inputIsU8 = inputIsU8
        epilogue = layer.epilogue(output)
        self.sparse = sparse
    }

    /// Whether a run of `batch` samples takes the sparse product.
    func usesSparse(batch: Int) -> Bool { Int8Workspace.usesSparse(sparse, m: batch * rowsPerSample, always: alwaysSparse) }

    func prepare(batch: Int) throws {
        if !usesSparse(batch: batch) { try layer.matmul.prepare(m: batch * rowsPerSample) }
    }

    /// What multiplies a run of `batch` samples (`Session.int8Kernels`).
    func implementation(batch: Int) throws -> String {
        usesSparse(batch: batch) ? Int8Workspace.sparseName : try layer.matmul.implementation(m: batch * rowsPerSample)
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        let rows = batch * rowsPerSample
        let x = inputIsU8 ? buffers.u8Input(0) : Int8Workspace.quantizedInput(buffers.input(0), count: rows * layer.k, layer.input, context)
        let acc = context.workspace(Int8Workspace.accumulators, byteCount: rows * layer.n * 4).assumingMemoryBound(to: Int32.self)
        try layer.forward(x, m: rows, accumulators: acc, output: buffers.base + buffers.outputOffset, epilogue: epilogue,
                          context: context,
                          sparse: usesSparse(batch: batch) ? Int8Workspace.sparseProduct(sparse, context) : nil)
    }
}

/// The `ExecutionContext.workspace` slots the INT8 kernels use (one per buffer needed at once).
enum Int8Workspace {
    static let input = 0
    static let patches = 1
    static let accumulators = 2
    static let staging = 3
    static let sparseScratch = 4

    /// The name the sparse INT8 product goes by in `Session.int8Kernels`.
    static var sparseName: String { "modelsmith:sparse_\(SparseInt8.bestISA)" }

    /// Whether the sparse product (if the layer has one) beats the dense one for `m` input rows.
    static func usesSparse(_ sparse: SparseInt8Matrix?, m: Int, always: Bool) -> Bool {
        guard let sparse else { return false }
        return always || SparseBreakEven.prefersSparseInt8(sparsity: sparse.sparsity, rows: sparse.rows, cols: sparse.cols, m: m)
    }

    /// The sparse weight with its scratch from the context.
    static func sparseProduct(_ sparse: SparseInt8Matrix?, _ context: ExecutionContext) -> (matrix: SparseInt8Matrix, scratch: UnsafeMutableRawPointer)? {
        sparse.map { ($0, context.workspace(sparseScratch, byteCount: SparseInt8.scratchBytes(inFeatures: $0.cols))) }
    }

    /// `count` f32 values quantized to u8 into the input slot.
    static func quantizedInput(_ x: UnsafePointer<Float>, count: Int, _ q: ActivationQuantization,
                               _ context: ExecutionContext) -> UnsafePointer<UInt8> {
        let out = context.workspace(input, byteCount: count).assumingMemoryBound(to: UInt8.self)
        q.quantize(x, count: count, into: out)
        return UnsafePointer(out)
    }
}

extension KernelBuffers {
    /// Input `i` as u8 codes (a value an INT8 chain holds as u8).
    @inline(__always) func u8Input(_ i: Int) -> UnsafePointer<UInt8> {
        UnsafePointer((base + inputOffsets[i]).assumingMemoryBound(to: UInt8.self))
    }
}
