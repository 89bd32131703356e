import Kernels

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
}
