import Kernels
import ModelGraph

extension Session {
    /// The product each INT8 node multiplies with at `batch`, in plan order: oneDNN's
    /// implementation (e.g. "brg:avx512_core_vnni") or the library's own ("modelsmith:s16_avx2",
    /// "modelsmith:sparse_avx512", …). Empty for a model without INT8 nodes. `inspect` and
    /// `bench --json` show it (docs/runtime.md, "CPU dispatch").
    public func int8Kernels(batch: Int) throws -> [(node: String, kernel: String)] {
        try plan.steps.compactMap { step in
            if let kernel = step.kernel as? Int8LinearKernel { return (step.node, try kernel.implementation(batch: batch)) }
            if let kernel = step.kernel as? Int8Conv2dKernel { return (step.node, try kernel.implementation(batch: batch)) }
            return nil
        }
    }

    /// What each quantized node (an `i8` weight with `input_quant`) actually runs as on this CPU
    /// at `batch`, in graph order: `int8 (product)`, or `fp32 (reason)` when the runtime runs it on
    /// dequantized weights. `quantize` and `inspect` report this (docs/quantization.md, "Runtime").
    public func int8Placement(batch: Int) throws -> [(node: String, runsAs: String)] {
        let kernels = Dictionary(try int8Kernels(batch: batch).map { ($0.node, $0.kernel) }, uniquingKeysWith: { first, _ in first })
        return try graph.nodes.compactMap { node in
            guard node.op.hasWeightMatrix, node.attrs["input_quant"] != nil,
                  let weight = node.params["weight"].flatMap({ tensors[$0] }), weight.dtype == .i8 else { return nil }
            if let kernel = kernels[node.name] { return (node.name, "int8 (\(kernel))") }
            return (node.name, "fp32 (\(try KernelRegistry.int8Refusal(of: node) ?? "no INT8 kernel for this node"))")
        }
    }
}
