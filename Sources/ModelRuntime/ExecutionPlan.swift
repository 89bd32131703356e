import Kernels
import ModelGraph
import TensorCore

/// The compiled form of a graph: kernels in order and every value's place in one arena.
///
/// Buffers are sized for `maxBatch` samples (a run with a smaller batch uses a prefix of each) and
/// placed by value liveness: two values share bytes only when their lifetimes do not overlap.
/// Views (flatten, reshape, squeeze, unsqueeze, dropout, identity) reuse their input's bytes. Values
/// are f32, except those an INT8 chain passes between consecutive INT8 layers as u8 codes
/// (`Slot.u8`). A `constant`'s value has no batch dimension; a plan for one concrete batch
/// (`concreteBatch`) knows every value's first dimension (docs/runtime.md).
final class ExecutionPlan: @unchecked Sendable {
    struct Step {
        let node: String
        let kernel: NodeKernel
        let inputs: [String]
        let output: String
        let inputOffsets: [Int]
        let outputOffset: Int
        /// A node with several outputs: where the ones after the first live.
        let laterOutputOffsets: [Int]
        /// Values (the output and views of it) that become readable after this step.
        let produces: [String]
        /// In a plan for one concrete batch: the first dimension the kernel runs with (which a
        /// batch-moving op may have changed); nil: the run's batch.
        let fixedBatch: Int?
    }

    /// Where one value lives and what shape one sample of it has.
    struct Slot {
        let offset: Int
        let sampleShape: [Int]
        /// Set when the value is held as u8 codes with these parameters (an INT8 chain), not f32.
        let u8: ActivationQuantization?
        /// A `constant`'s value: `sampleShape` is its whole shape, there is no batch dimension.
        var isConstant = false
        /// In a plan for one concrete batch: this value's first dimension (nil: the run's batch).
        var fixedFirstDim: Int? = nil
        /// Set when the value is held channel-blocked: the reorder that gives its plain NCHW form.
        var blocked: LayoutReorder?
        var elementsPerSample: Int { sampleShape.reduce(1, *) }
    }

    let steps: [Step]
    let slots: [String: Slot]
    let inputs: [ValueInfo]
    let outputs: [String]
    let arenaBytes: Int
    let maxBatch: Int
    let fusedAway: [String: String]
    /// Values readable before the first step: graph inputs and views of them.
    let producedBeforeSteps: [String]

    /// The batch size this plan was made for, when the graph moves elements across the batch
    /// (`Node.movesBatch`): such a plan knows every value's full shape and runs only that batch.
    let concreteBatch: Int?
    /// The sizes of the graph's symbolic dims this plan was made for (docs/runtime.md,
    /// "Symbolic dimensions"; the graph it plans is `Graph.specialized` for them).
    let dims: [String: Int]

    /// Whether `graph` needs plans per concrete batch size.
    static func needsConcreteBatch(_ graph: Graph) -> Bool { graph.nodes.contains(where: \.movesBatch) }

    init(graph: Graph, tensors: TensorMap, options: SessionOptions, concreteBatch: Int? = nil, dims: [String: Int] = [:]) throws {
        guard options.maxBatch >= 1 else { throw RuntimeError.badOption("maxBatch must be at least 1, got \(options.maxBatch)") }
        maxBatch = concreteBatch ?? options.maxBatch
        self.concreteBatch = concreteBatch
        self.dims = dims
        inputs = graph.inputs
        outputs = graph.outputs
        var (planned, fusedAway) = Fusion.plan(graph, tensors: tensors, enabled: options.fuse)
        if options.fuse { try KernelRegistry.chainInt8(&planned, graphOutputs: Set(graph.outputs), tensors: tensors) }
        self.fusedAway = fusedAway

        // 1. Shapes and kernels; each value belongs to a buffer (views share their input's).
        var buffers: [Buffer] = []
        var bufferOf: [String: Int] = [:]
        var sampleShape: [String: [Int]] = [:]
        var u8Values: [String: ActivationQuantization] = [:]
        var constants = Set<String>()
        // A concrete plan's first dimension of every value that has one (the batch or what replaced it).
        var firstDim: [String: Int] = [:]
        var fixedBatches: [Int?] = []
        var produced: [[String]] = [[]]  // index 0: before the first step
        for input in graph.inputs {
            guard let first = input.shape.first, first == -1 || first > 0,
                  input.shape.dropFirst().allSatisfy({ $0 > 0 }) else {
                throw RuntimeError.unsupported(node: input.name, reason: "graph input shape \(input.shape) must be [batch or -1, fixed dims…]")
            }
            guard input.dtype != .f16, input.dtype != .bf16 else {
                throw RuntimeError.unsupported(node: input.name, reason: "graph input dtype \(input.dtype.rawValue) (f32, integers and bool are supported)")
            }
            let shape = Array(input.shape.dropFirst())
            sampleShape[input.name] = shape
            if let concreteBatch { firstDim[input.name] = first > 0 ? first : concreteBatch }
            bufferOf[input.name] = buffers.count
            buffers.append(try Buffer(elementsPerSample: shape, elementBytes: 4, defined: -1, maxBatch: firstDim[input.name] ?? maxBatch, owner: "input '\(input.name)'"))
            produced[0].append(input.name)
        }
        var kernels: [(PlannedNode, NodeKernel)] = []

        // Layouts (docs/runtime.md, "Layouts"): with fusion on, f32 convolutions write channel-blocked
        // values, which convolutions and layout-free element-wise ops read as they are; any other
        // reader gets one plain copy per value, made by a reorder step placed before its first reader.
        // Concrete plans (graphs that move the batch) keep plain layouts.
        let block: ActivationLayout? = options.fuse && concreteBatch == nil ? .blocked(ActivationLayout.preferredBlock) : nil
        let graphOutputs = Set(graph.outputs)
        var layoutOf: [String: ActivationLayout] = [:]
        var toPlain: [String: LayoutReorder] = [:]
        var plainCopies: [String: String] = [:]
        let maxBatch = concreteBatch ?? options.maxBatch  // not self's: a nested function may not capture self before init
        func plainCopy(of value: String) throws -> String {
            if let copy = plainCopies[value] { return copy }
            let copy = "\(value)#nchw"
            sampleShape[copy] = sampleShape[value]
            bufferOf[copy] = buffers.count
            buffers.append(try Buffer(elementsPerSample: sampleShape[value]!, elementBytes: 4, defined: kernels.count, maxBatch: maxBatch,
                                      owner: "the NCHW copy of '\(value)'"))
            buffers[bufferOf[value]!].lastUse = max(buffers[bufferOf[value]!].lastUse, kernels.count)
            kernels.append((PlannedNode(node: Node(name: "\(value) to NCHW", op: .identity, inputs: [value], output: copy)), ReorderKernel(toPlain[value]!)))
            fixedBatches.append(nil)
            produced.append([copy])
            plainCopies[value] = copy
            return copy
        }
        var blockedCopies: [String: String] = [:]
        /// A channel-blocked copy of the plain value (for a convolution that oneDNN runs fast only blocked).
        func blockedCopy(of value: String, layout: ActivationLayout) throws -> String {
            if let copy = blockedCopies[value] { return copy }
            let copy = "\(value)#blocked", logical = sampleShape[value]!
            sampleShape[copy] = logical
            bufferOf[copy] = buffers.count
            buffers.append(try Buffer(elementsPerSample: [layout.storedChannels(logical[0])] + logical.dropFirst(), elementBytes: 4,
                                      defined: kernels.count, maxBatch: maxBatch, owner: "the blocked copy of '\(value)'"))
            buffers[bufferOf[value]!].lastUse = max(buffers[bufferOf[value]!].lastUse, kernels.count)
            let reorder = LayoutReorder(channels: logical[0], height: logical[1], width: logical[2], from: .plain, to: layout)
            kernels.append((PlannedNode(node: Node(name: "\(value) to blocked", op: .identity, inputs: [value], output: copy)), ReorderKernel(reorder)))
            fixedBatches.append(nil)
            produced.append([copy])
            layoutOf[copy] = layout
            toPlain[copy] = LayoutReorder(channels: logical[0], height: logical[1], width: logical[2], from: layout, to: .plain)
            blockedCopies[value] = copy
            return copy
        }

        for var item in planned {
            let inputShapes = try item.node.inputs.map { name -> [Int] in
                guard let shape = sampleShape[name] else { throw GraphError.danglingInput(node: item.node.name, input: name) }
                return shape
            }
            var inputLayouts = item.node.inputs.map { layoutOf[$0] }
            if let block, !graphOutputs.contains(item.node.output), Self.isLayoutFree(item.node, inputShapes: inputShapes),
               inputLayouts.contains(block), inputLayouts.allSatisfy({ $0 == nil || $0 == block }),
               !item.node.inputs.contains(where: constants.contains), inputShapes.allSatisfy({ $0.count == 3 }) {
                // A residual add of a blocked and a plain value: blocked too (the plain one's copy is often made already).
                for (i, input) in item.node.inputs.enumerated() where inputLayouts[i] == nil {
                    item.node.inputs[i] = try blockedCopy(of: input, layout: block)
                    inputLayouts[i] = block
                }
            }
            let layoutFree = block != nil && !graphOutputs.contains(item.node.output) && Self.isLayoutFree(item.node, inputShapes: inputShapes)
                && inputLayouts.allSatisfy { $0 != nil && $0 == inputLayouts[0] }
            // A layout-free op runs over the stored (padded) channels; its value keeps the logical shape.
            let boundShapes = layoutFree ? inputShapes.map { [inputLayouts[0]!.storedChannels($0[0])] + $0.dropFirst() } : inputShapes
            // In a concrete plan, an input whose first dimension differs from the others' (a size 1
            // that broadcasts) is passed whole, as a constant is; a constant whose first dimension
            // is the others' is passed as a batched value (its bytes are laid out the same way).
            let node0 = item.node
            let reference = node0.inputs.compactMap { firstDim[$0] }.max()
            var constantInputs = node0.inputs.map { constants.contains($0) || (reference != nil && firstDim[$0] != reference) }
            var shapes = boundShapes
            let batchedRanks = Set(node0.inputs.indices.filter { firstDim[node0.inputs[$0]] != nil }.map { inputShapes[$0].count + 1 })
            for (i, input) in node0.inputs.enumerated() {
                if constants.contains(input), let reference, inputShapes[i].first == reference, batchedRanks.contains(inputShapes[i].count) {
                    constantInputs[i] = false
                    shapes[i] = Array(inputShapes[i].dropFirst())
                } else if constantInputs[i] && !constants.contains(input) {
                    shapes[i] = [firstDim[input]!] + inputShapes[i]
                }
            }
            let binding: KernelBinding
            if let reference, node0.movesBatch {
                binding = try KernelRegistry.bindWhole(item, inputShape: [reference] + inputShapes[0])
            } else {
                binding = try KernelRegistry.bind(item, inputShapes: shapes, constantInputs: constantInputs, tensors: tensors)
            }
            // The output's first dimension: what a whole-tensor binding gives, else the inputs'.
            let wholeOutput = node0.movesBatch && reference != nil
            var outputFirstDim = reference
            if wholeOutput {
                switch binding {
                case .kernel(_, let shape), .view(let shape): outputFirstDim = shape[0]
                case .constant, .multiOutput: break
                }
            }
            var outputLayout: ActivationLayout?
            if layoutFree {
                outputLayout = inputLayouts[0]
            } else if case .kernel(let kernel as Conv2dKernel, _) = binding, let block,
                      try kernel.conv.useLayouts(source: inputLayouts[0] ?? .plain,
                                                 destination: graphOutputs.contains(item.node.output) ? .plain : block) {
                if kernel.conv.destinationLayout != .plain { outputLayout = kernel.conv.destinationLayout }
            } else if case .kernel(let kernel as Conv2dKernel, _) = binding, let block, inputLayouts[0] == nil,
                      !graphOutputs.contains(item.node.output), !constants.contains(item.node.inputs[0]),
                      try kernel.conv.useLayouts(source: block, destination: block) {
                // oneDNN's fast convolutions read plain NCHW only for a few input channels (the image):
                // the others read a blocked copy (docs/runtime.md, "Layouts").
                item.node.inputs[0] = try blockedCopy(of: item.node.inputs[0], layout: block)
                outputLayout = block
            } else {
                for (i, input) in item.node.inputs.enumerated() where layoutOf[input] != nil { item.node.inputs[i] = try plainCopy(of: input) }
            }
            let node = item.node
            switch binding {
            case .constant(let kernel, let shape):
                sampleShape[node.output] = shape
                bufferOf[node.output] = buffers.count
                constants.insert(node.output)
                buffers.append(try Buffer(elementsPerSample: shape, elementBytes: 4, defined: kernels.count, maxBatch: 1, owner: "node '\(node.name)'"))
                kernels.append((item, kernel))
                fixedBatches.append(concreteBatch == nil ? nil : 1)
                produced.append([node.output])
            case .view(let full):
                let shape = wholeOutput ? Array(full.dropFirst()) : full
                sampleShape[node.output] = shape
                firstDim[node.output] = outputFirstDim
                let buffer = bufferOf[node.inputs[0]]!
                bufferOf[node.output] = buffer
                // Readable as soon as its source is.
                let sourceStep = buffers[buffer].defined + 1
                produced[sourceStep].append(node.output)
            case .kernel(let kernel, let full):
                let shape = wholeOutput ? Array(full.dropFirst()) : full
                var stored = shape
                if let outputLayout {
                    let logical = layoutFree ? inputShapes[0] : shape
                    sampleShape[node.output] = logical
                    stored = [outputLayout.storedChannels(logical[0])] + logical.dropFirst()
                    layoutOf[node.output] = outputLayout
                    toPlain[node.output] = LayoutReorder(channels: logical[0], height: logical[1], width: logical[2], from: outputLayout, to: .plain)
                } else {
                    sampleShape[node.output] = shape
                }
                firstDim[node.output] = outputFirstDim
                bufferOf[node.output] = buffers.count
                u8Values[node.output] = item.u8Output
                buffers.append(try Buffer(elementsPerSample: stored, elementBytes: item.u8Output == nil ? 4 : 1,
                                          defined: kernels.count, maxBatch: outputFirstDim ?? maxBatch, owner: "node '\(node.name)'"))
                kernels.append((item, kernel))
                fixedBatches.append(outputFirstDim)
                produced.append([node.output])
            case .multiOutput(let kernel, let shapes):
                for (output, shape) in zip(node.outputs, shapes) {
                    sampleShape[output] = shape
                    firstDim[output] = outputFirstDim
                    bufferOf[output] = buffers.count
                    buffers.append(try Buffer(elementsPerSample: shape, elementBytes: 4, defined: kernels.count,
                                              maxBatch: outputFirstDim ?? maxBatch, owner: "node '\(node.name)'"))
                }
                kernels.append((item, kernel))
                fixedBatches.append(outputFirstDim)
                produced.append(node.outputs)
            }
            // Every input stays live until this step.
            for input in node.inputs { buffers[bufferOf[input]!].lastUse = max(buffers[bufferOf[input]!].lastUse, kernels.count - 1) }
        }
        for output in graph.outputs {
            guard let buffer = bufferOf[output] else { throw GraphError.unknownOutput(output) }
            buffers[buffer].lastUse = kernels.count
        }

        // 2. Offsets: largest first, lowest offset that overlaps no buffer alive at the same time.
        let placement = ArenaPlacement(buffers.map { ArenaPlacement.Lifetime(bytes: $0.bytes, defined: $0.defined, lastUse: $0.lastUse) })
        let offsets = placement.offsets
        var total = 0
        for b in placement.order {
            total = max(total, offsets[b] + buffers[b].bytes)
            try MemoryBudget.admit(total, for: "\(buffers[b].owner) (the activation arena at batch \(maxBatch))")
        }
        arenaBytes = total

        var slotTable: [String: Slot] = [:]
        for (name, shape) in sampleShape {
            slotTable[name] = Slot(offset: offsets[bufferOf[name]!], sampleShape: shape, u8: u8Values[name], isConstant: constants.contains(name),
                                   fixedFirstDim: firstDim[name], blocked: toPlain[name])
        }
        slots = slotTable
        steps = kernels.enumerated().map { i, item in
            Step(node: item.0.node.name, kernel: item.1, inputs: item.0.node.inputs, output: item.0.node.output,
                 inputOffsets: item.0.node.inputs.map { slotTable[$0]!.offset },
                 outputOffset: slotTable[item.0.node.output]!.offset,
                 laterOutputOffsets: item.0.node.outputs.dropFirst().map { slotTable[$0]!.offset },
                 produces: produced[i + 1], fixedBatch: fixedBatches[i])
        }
        producedBeforeSteps = produced[0]
    }

    /// Ops whose result per element depends only on the same element of equally shaped inputs and
    /// that keep 0 at 0, so they run on channel-blocked values as they lie (padding stays zero).
    private static func isLayoutFree(_ node: Node, inputShapes: [[Int]]) -> Bool {
        guard let first = inputShapes.first, first.count == 3, inputShapes.allSatisfy({ $0 == first }) else { return false }
        switch node.op {
        case .relu, .hardswish: return node.inputs.count == 1
        case .clip:
            guard node.inputs.count == 1, let a = try? ClipAttributes(node) else { return false }
            return a.min <= 0 && a.max >= 0
        case .add, .sub, .mul: return node.inputs.count == 2
        default: return false
        }
    }

    /// One arena region and the steps during which it must hold its value.
    private struct Buffer {
        let bytes: Int
        let defined: Int
        var lastUse: Int
        /// What writes it ("node 'conv1'", "input 'x'"), for messages.
        let owner: String

        init(elementsPerSample shape: [Int], elementBytes: Int, defined: Int, maxBatch: Int, owner: String) throws {
            let count = checkedProduct(shape + [maxBatch, elementBytes])
            try MemoryBudget.admit(count, for: "\(owner) (a value of per-sample shape \(shape) at batch \(maxBatch))")
            bytes = (count! + 63) / 64 * 64
            self.owner = owner
            self.defined = defined
            lastUse = defined
        }
    }
}
