import CKernels
import Kernels
import TensorCore

/// INT8 `conv2d` (groups = 1): the input as u8 (quantized here, or already u8 from a preceding
/// INT8 layer), im2col per sample (padding reads the zero point, i.e. real 0), one u8×s8→s32
/// product over the patches of a chunk of samples, the epilogue (f32 or u8, bias, fused ReLU),
/// and a transpose from [position, channel] to NCHW. A pruned weight (`sparse`) runs on the sparse
/// INT8 product where `SparseBreakEven.prefersSparseInt8` says so for the chunk's row count.
/// Working memory comes from the run's `ExecutionContext`.
final class Int8Conv2dKernel: NodeKernel {
    let layer: Int8Linear
    let geometry: Conv2dGeometry
    let inputIsU8: Bool
    let epilogue: Int8Linear.Epilogue
    /// Samples per matrix product: enough rows to keep the library efficient, bounded so the
    /// patch buffer stays small for large images.
    let samplesPerChunk: Int
    let sparse: SparseInt8Matrix?
    /// Run `sparse` at every batch size (`KernelRegistry.SparsePolicy.always`).
    let alwaysSparse: Bool

    init(layer: Int8Linear, geometry: Conv2dGeometry, inputIsU8: Bool, output: Int8Output, rowsPerChunk: Int = 4096,
         sparse: SparseInt8Matrix? = nil, alwaysSparse: Bool = false) {
        self.alwaysSparse = alwaysSparse
        self.sparse = sparse
        self.layer = layer
        self.geometry = geometry
        self.inputIsU8 = inputIsU8
        epilogue = layer.epilogue(output)
        samplesPerChunk = max(1, rowsPerChunk / (geometry.outHeight * geometry.outWidth))
    }

    private var positions: Int { geometry.outHeight * geometry.outWidth }

    /// Whether a chunk of `samples` samples takes the sparse product.
    func usesSparse(samples: Int) -> Bool { Int8Workspace.usesSparse(sparse, m: samples * positions, always: alwaysSparse) }

    func prepare(batch: Int) throws {
        guard !usesSparse(samples: min(batch, samplesPerChunk)) else { return }
        try layer.matmul.prepare(m: min(batch, samplesPerChunk) * positions)
        if batch > samplesPerChunk, batch % samplesPerChunk != 0 { try layer.matmul.prepare(m: batch % samplesPerChunk * positions) }
    }

    /// What multiplies a chunk of a run of `batch` samples (`Session.int8Kernels`).
    func implementation(batch: Int) throws -> String {
        let samples = min(batch, samplesPerChunk)
        return usesSparse(samples: samples) ? Int8Workspace.sparseName : try layer.matmul.implementation(m: samples * positions)
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        let g = geometry
        let inCount = g.inChannels * g.inHeight * g.inWidth
        let positions = self.positions
        let x = inputIsU8 ? buffers.u8Input(0) : Int8Workspace.quantizedInput(buffers.input(0), count: batch * inCount, layer.input, context)
        let chunk = min(batch, samplesPerChunk)
        let patches = context.workspace(Int8Workspace.patches, byteCount: chunk * positions * layer.k).assumingMemoryBound(to: UInt8.self)
        let acc = context.workspace(Int8Workspace.accumulators, byteCount: chunk * positions * layer.n * 4).assumingMemoryBound(to: Int32.self)
        let u8Output: Bool
        if case .u8 = epilogue.mode { u8Output = true } else { u8Output = false }
        let staging = context.workspace(Int8Workspace.staging, byteCount: chunk * positions * layer.n * (u8Output ? 1 : 4))
        let output = buffers.base + buffers.outputOffset
        var first = 0
        while first < batch {
            let count = min(chunk, batch - first)
            for s in 0..<count {
                ck_im2col_u8(x + (first + s) * inCount, g.inChannels, g.inHeight, g.inWidth, g.kernel.h, g.kernel.w,
                             g.stride.h, g.stride.w, g.padding.h, g.padding.w, g.dilation.h, g.dilation.w, g.outHeight, g.outWidth,
                             UInt8(layer.input.zeroPoint), patches + s * positions * layer.k)
            }
            try layer.forward(patches, m: count * positions, accumulators: acc, output: staging, epilogue: epilogue,
                              context: context,
                              sparse: usesSparse(samples: count) ? Int8Workspace.sparseProduct(sparse, context) : nil)
            if u8Output {
                toNCHW(staging.assumingMemoryBound(to: UInt8.self), output.assumingMemoryBound(to: UInt8.self), first: first, count: count)
            } else {
                toNCHW(staging.assumingMemoryBound(to: Float.self), output.assumingMemoryBound(to: Float.self), first: first, count: count)
            }
            first += count
        }
    }

    /// [sample, position, channel] rows → NCHW samples `first ..< first + count` of `out`.
    private func toNCHW<T>(_ rows: UnsafeMutablePointer<T>, _ out: UnsafeMutablePointer<T>, first: Int, count: Int) {
        let n = layer.n, positions = self.positions
        for s in 0..<count {
            let src = rows + s * positions * n
            let dst = out + (first + s) * n * positions
            for p in 0..<positions {
                for o in 0..<n { dst[o * positions + p] = src[p * n + o] }
            }
        }
    }
}
