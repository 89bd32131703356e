import Foundation
import Kernels

/// `concat` along a per-sample axis: per sample, copies each input's contiguous block per outer index.
final class ConcatKernel: NodeKernel {
    /// Per input: elements in one block (its axis length × inner size).
    let blockSizes: [Int]
    /// Blocks per sample (product of the dims before the axis).
    let outerPerSample: Int
    let outputBlock: Int

    init(inputShapes: [[Int]], axis: Int) {
        let inner = inputShapes[0][(axis + 1)...].reduce(1, *)
        blockSizes = inputShapes.map { $0[axis] * inner }
        outerPerSample = inputShapes[0][..<axis].reduce(1, *)
        outputBlock = blockSizes.reduce(0, +)
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        let output = buffers.output
        for outer in 0..<(batch * outerPerSample) {
            var column = 0
            for (i, block) in blockSizes.enumerated() {
                (output + outer * outputBlock + column).update(from: buffers.input(i) + outer * block, count: block)
                column += block
            }
        }
    }
}
