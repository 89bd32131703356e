import Kernels

/// `maxpool2d` / `avgpool2d` / `global_avgpool` on NCHW.
final class PoolKernel: NodeKernel {
    enum Kind { case max(Pool2dGeometry), average(Pool2dGeometry), globalAverage(planeSize: Int) }
    let kind: Kind
    let channels: Int
    init(_ kind: Kind, channels: Int) {
        self.kind = kind
        self.channels = channels
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        let planes = batch * channels
        switch kind {
        case .max(let g): Pooling.max(buffers.input(0), buffers.output, planes: planes, geometry: g)
        case .average(let g): Pooling.average(buffers.input(0), buffers.output, planes: planes, geometry: g)
        case .globalAverage(let planeSize): Pooling.globalAverage(buffers.input(0), buffers.output, planes: planes, planeSize: planeSize)
        }
    }
}
