import Kernels
import ModelGraph
import TensorCore

/// The compiled form of a graph: kernels in order and every value's place in one arena.
///
/// Buffers are sized for `maxBatch` samples (a run with a smaller batch uses a prefix of each) and
/// placed by value liveness: two values share bytes only when their lifetimes do not overlap.
/// Views (flatten, reshape, dropout, identity) reuse their input's bytes. Values are f32, except
/// those an INT8 chain passes between consecutive INT8 layers as u8 codes (`Slot.u8`).
final class ExecutionPlan: @unchecked Sendable {
    struct Step {
        let node: String
        let kernel: NodeKernel
        let inputs: [String]
        let output: String
        let inputOffsets: [Int]
        let outputOffset: Int
        /// Values (the output and views of it) that become readable after this step.
        let produces: [String]
    }

    /// Where one value lives and what shape one sample of it has.
    struct Slot {
        let offset: Int
        let sampleShape: [Int]
        /// Set when the value is held as u8 codes with these parameters (an INT8 chain), not f32.
        let u8: ActivationQuantization?
        /// A `constant`'s value: `sampleShape` is its whole shape, there is no batch dimension.
        var isConstant = false
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

    init(graph: Graph, tensors: TensorMap, options: SessionOptions) throws {
        guard options.maxBatch >= 1 else { throw RuntimeError.badOption("maxBatch must be at least 1, got \(options.maxBatch)") }
        maxBatch = options.maxBatch
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
            bufferOf[input.name] = buffers.count
            buffers.append(try Buffer(elementsPerSample: shape, elementBytes: 4, defined: -1, maxBatch: maxBatch, owner: "input '\(input.name)'"))
            produced[0].append(input.name)
        }
        var kernels: [(PlannedNode, NodeKernel)] = []

        // Layouts (docs/runtime.md, "Layouts"): with fusion on, f32 convolutions write channel-blocked
        // values, which convolutions and layout-free element-wise ops read as they are; any other
        // reader gets one plain copy per value, made by a reorder step placed before its first reader.
        let block: ActivationLayout? = options.fuse ? .blocked(ActivationLayout.preferredBlock) : nil
        let graphOutputs = Set(graph.outputs)
        var layoutOf: [String: ActivationLayout] = [:]
        var toPlain: [String: LayoutReorder] = [:]
        var plainCopies: [String: String] = [:]
        let maxBatch = options.maxBatch  // not self's: a nested function may not capture self before init
        func plainCopy(of value: String) throws -> String {
            if let copy = plainCopies[value] { return copy }
            let copy = "\(value)#nchw"
            sampleShape[copy] = sampleShape[value]
            bufferOf[copy] = buffers.count
            buffers.append(try Buffer(elementsPerSample: sampleShape[value]!, elementBytes: 4, defined: kernels.count, maxBatch: maxBatch,
                                      owner: "the NCHW copy of '\(value)'"))
            buffers[bufferOf[value]!].lastUse = max(buffers[bufferOf[value]!].lastUse, kernels.count)
            kernels.append((PlannedNode(node: Node(name: "\(value) to NCHW", op: .identity, inputs: [value], output: copy)), ReorderKernel(toPlain[value]!)))
            produced.append([copy])
            plainCopies[value] = copy
            return copy
        }

        for var item in planned {
            let inputShapes = try item.node.inputs.map { name -> [Int] in
                guard let shape = sampleShape[name] else { throw GraphError.danglingInput(node: item.node.name, input: name) }
                return shape
            }
            let inputLayouts = item.node.inputs.map { layoutOf[$0] }
            let layoutFree = block != nil && !graphOutputs.contains(item.node.output) && Self.isLayoutFree(item.node, inputShapes: inputShapes)
                && inputLayouts.allSatisfy { $0 != nil && $0 == inputLayouts[0] }
            // A layout-free op runs over the stored (padded) channels; its value keeps the logical shape.
            let boundShapes = layoutFree ? inputShapes.map { [inputLayouts[0]!.storedChannels($0[0])] + $0.dropFirst() } : inputShapes
            let binding = try KernelRegistry.bind(item, inputShapes: boundShapes, constantInputs: item.node.inputs.map(constants.contains), tensors: tensors)
            var outputLayout: ActivationLayout?
            if layoutFree {
                outputLayout = inputLayouts[0]
            } else if case .kernel(let kernel as Conv2dKernel, _) = binding, let block,
                      try kernel.conv.useLayouts(source: inputLayouts[0] ?? .plain,
                                                 destination: graphOutputs.contains(item.node.output) ? .plain : block) {
                if kernel.conv.destinationLayout != .plain { outputLayout = kernel.conv.destinationLayout }
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
                produced.append([node.output])
            case .view(let shape):
                sampleShape[node.output] = shape
                let buffer = bufferOf[node.inputs[0]]!
                bufferOf[node.output] = buffer
                // Readable as soon as its source is.
                let sourceStep = buffers[buffer].defined + 1
                produced[sourceStep].append(node.output)
            case .kernel(let kernel, let shape):
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
                bufferOf[node.output] = buffers.count
                u8Values[node.output] = item.u8Output
                buffers.append(try Buffer(elementsPerSample: stored, elementBytes: item.u8Output == nil ? 4 : 1,
                                          defined: kernels.count, maxBatch: maxBatch, owner: "node '\(node.name)'"))
                kernels.append((item, kernel))
                produced.append([node.output])
            }
            // Every input stays live until this step.
            for input in node.inputs { buffers[bufferOf[input]!].lastUse = max(buffers[bufferOf[input]!].lastUse, kernels.count - 1) }
        }
        for output in graph.outputs {
            guard let buffer = bufferOf[output] else { throw GraphError.unknownOutput(output) }
            buffers[buffer].lastUse = kernels.count
        }

        // 2. Offsets: largest first, lowest offset that overlaps no buffer alive at the same time.
        var offsets = [Int](repeating: 0, count: buffers.count)
        var placed: [Int] = []
        var total = 0
        for b in buffers.indices.sorted(by: { buffers[$0].bytes > buffers[$1].bytes }) {
            let conflicts = placed.filter { buffers[$0].overlaps(buffers[b]) }
                .map { (offsets[$0], offsets[$0] + buffers[$0].bytes) }.sorted { $0.0 < $1.0 }
            var candidate = 0
            for (start, end) in conflicts where candidate + buffers[b].bytes > start {
                candidate = max(candidate, end)
            }
            offsets[b] = candidate
            placed.append(b)
            total = max(total, candidate + buffers[b].bytes)
            try MemoryBudget.admit(total, for: "\(buffers[b].owner) (the activation arena at batch \(maxBatch))")
        }
        arenaBytes = total

        var slotTable: [String: Slot] = [:]
        for (name, shape) in sampleShape {
            slotTable[name] = Slot(offset: offsets[bufferOf[name]!], sampleShape: shape, u8: u8Values[name], isConstant: constants.contains(name),
                                   blocked: toPlain[name])
        }
        slots = slotTable
        steps = kernels.enumerated().map { i, item in
            Step(node: item.0.node.name, kernel: item.1, inputs: item.0.node.inputs, output: item.0.node.output,
                 inputOffsets: item.0.node.inputs.map { slotTable[$0]!.offset },
                 outputOffset: slotTable[item.0.node.output]!.offset,
                 produces: produced[i + 1])
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

        /// Lifetimes overlap: written at `defined`, read until `lastUse` (inclusive).
        func overlaps(_ other: Buffer) -> Bool { defined <= other.lastUse && other.defined <= lastUse }
    }
}
