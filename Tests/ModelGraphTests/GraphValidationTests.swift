import Foundation
import ModelGraph
import TensorCore
import XCTest

/// One test per broken invariant, each with the exact one-line message.
final class GraphValidationTests: XCTestCase {
    private let mlp = """
    {"modelsmith": 1, "name": "mlp", "inputs": [{"name": "x", "shape": [-1, 64]}], "outputs": ["y"],
     "nodes": [{"name": "fc1", "op": "linear", "inputs": ["x"], "output": "y",
                "params": {"weight": "fc1.weight", "bias": "fc1.bias"}}]}
    """

    private func graph(_ json: String) throws -> Graph { try Graph(json: Data(json.utf8)) }

    private func linearGraph(params: [String: String]) -> Graph {
        singleNodeGraph(.linear, inputs: [[-1, 64]], params: params, name: "fc1")
    }

    func testValidMLP() throws {
        try graph(mlp).validate(tensors: tensors([("fc1.weight", [10, 64]), ("fc1.bias", [10])]))
    }

    func testUnknownOp() {
        assertThrowsMessage("node 'c': unknown op 'conv3d'") {
            _ = try graph("""
            {"inputs": [{"name": "x", "shape": [-1, 3]}], "outputs": ["y"],
             "nodes": [{"name": "c", "op": "conv3d", "inputs": ["x"], "output": "y"}]}
            """)
        }
    }

    func testMissingParam() {
        assertThrowsMessage("node 'fc1': missing param 'weight'") {
            try linearGraph(params: ["bias": "b"]).validate(tensors: tensors([("b", [10])]))
        }
    }

    func testUnknownParamRole() {
        assertThrowsMessage("node 'fc1': unknown param 'scale'") {
            try linearGraph(params: ["weight": "w", "scale": "s"]).validate(tensors: tensors([("w", [10, 64]), ("s", [10])]))
        }
    }

    func testMissingTensor() {
        assertThrowsMessage("node 'fc1': param 'weight' refers to tensor 'fc1.weight', which is absent") {
            try graph(mlp).validate(tensors: tensors([("fc1.bias", [10])]))
        }
    }

    func testWrongWeightShape() {
        assertThrowsMessage("node 'fc1': param 'weight' (fc1.weight) has shape [10, 63], expected [out_features, 64]") {
            try graph(mlp).validate(tensors: tensors([("fc1.weight", [10, 63]), ("fc1.bias", [10])]))
        }
    }

    func testWrongBiasShape() {
        assertThrowsMessage("node 'fc1': param 'bias' (fc1.bias) has shape [9], expected [10]") {
            try graph(mlp).validate(tensors: tensors([("fc1.weight", [10, 64]), ("fc1.bias", [9])]))
        }
    }

    func testWrongConvWeightShape() {
        let g = singleNodeGraph(.conv2d, inputs: [[-1, 4, 8, 8]], params: ["weight": "w"], attrs: ["groups": 2], name: "conv1")
        assertThrowsMessage("node 'conv1': param 'weight' (w) has shape [6, 4, 3, 3], expected [6, 2, 3, 3]") {
            try g.validate(tensors: tensors([("w", [6, 4, 3, 3])]))
        }
    }

    func testBatchnormParamShape() {
        let g = singleNodeGraph(.batchnorm2d, inputs: [[-1, 4, 3, 3]],
                                params: ["weight": "g", "bias": "b", "running_mean": "m", "running_var": "v"], name: "bn")
        assertThrowsMessage("node 'bn': param 'running_var' (v) has shape [3], expected [4]") {
            try g.validate(tensors: tensors([("g", [4]), ("b", [4]), ("m", [4]), ("v", [3])]))
        }
    }

    func testCycle() {
        assertThrowsMessage("node 'a' is part of a cycle") {
            _ = try graph("""
            {"inputs": [{"name": "x", "shape": [-1, 3]}], "outputs": ["y"],
             "nodes": [{"name": "a", "op": "add", "inputs": ["x", "b_out"], "output": "a_out"},
                       {"name": "b", "op": "relu", "inputs": ["a_out"], "output": "b_out"},
                       {"name": "c", "op": "relu", "inputs": ["x"], "output": "y"}]}
            """)
        }
    }

    func testDanglingInput() {
        assertThrowsMessage("node 'r': input 'z' is neither a graph input nor any node's output") {
            _ = try graph("""
            {"inputs": [{"name": "x", "shape": [-1, 3]}], "outputs": ["y"],
             "nodes": [{"name": "r", "op": "relu", "inputs": ["z"], "output": "y"}]}
            """)
        }
    }

    func testBadAttributes() {
        let w = tensors([("w", [4, 1, 3, 3])])
        let cases: [([String: JSONValue], String)] = [
            (["stride": 0], "attribute 'stride' must be an integer ≥ 1 or a list of 2 such integers, got 0"),
            (["stride": [1, 2, 3]], "attribute 'stride' must be an integer ≥ 1 or a list of 2 such integers, got [1,2,3]"),
            (["padding": "same"], "attribute 'padding' must be an integer ≥ 0 or a list of 2 such integers ('same'/'valid' are not supported), got \"same\""),
            (["groups": 0], "attribute 'groups' must be at least 1, got 0"),
            (["dilation": 1.5], "attribute 'dilation' must be an integer ≥ 1 or a list of 2 such integers, got 1.5"),
            (["pads": [1, 1]], "attribute 'pads' must be 4 integers ≥ 0 [top, left, bottom, right], got [1,1]"),
            (["pads": [1, 1, 1, 1], "padding": 1], "attribute 'pads' and 'padding' cannot both be given"),
        ]
        for (attrs, reason) in cases {
            let g = singleNodeGraph(.conv2d, inputs: [[-1, 1, 8, 8]], params: ["weight": "w"], attrs: attrs, name: "conv1")
            assertThrowsMessage("node 'conv1': \(reason)") { try g.validate(tensors: w) }
        }
        let others: [(OpKind, [[Int]], [String: JSONValue], String)] = [
            (.maxpool2d, [[-1, 1, 8, 8]], [:], "attribute 'kernel' is required"),
            (.maxpool2d, [[-1, 1, 8, 8]], ["kernel": 2, "padding": 2], "attribute 'padding' must be at most half the kernel [2, 2], got [2, 2]"),
            (.maxpool2d, [[-1, 1, 8, 8]], ["kernel": 2, "ceil_mode": 2], "attribute 'ceil_mode' must be true or false, got 2"),
            (.maxpool2d, [[-1, 1, 8, 8]], ["kernel": 2, "pads": [0, 0, 2, 0]], "attribute 'pads' must each be smaller than the kernel [2, 2]"),
            (.clip, [[-1, 4]], ["min": 2, "max": 1], "attribute 'max' (1.0) is below min (2.0)"),
            (.transpose, [[-1, 4, 3]], ["perm": [0, 0, 2]], "attribute 'perm' must be a permutation of 0..<3, got [0, 0, 2]"),
            (.reduceMean, [[-1, 4, 3]], ["axes": [0]], "attribute 'axes' names the batch axis, which cannot be changed"),
            (.pad, [[-1, 4]], ["pads": [1, 0, 0, 0]], "attribute 'pads' must not pad the batch axis, got [1, 0, 0, 0]"),
            (.squeeze, [[-1, 4, 3]], ["axes": [1]], "attribute 'axes' names axis 1 of size 4, not 1, in [1, 4, 3]"),
            (.gelu, [[-1, 4]], ["approximate": "fast"], "attribute 'approximate' must be 'none' or 'tanh', got \"fast\""),
            (.softmax, [[-1, 4]], ["axis": 2], "attribute 'axis' is 2, out of range for an input of rank 2"),
            (.flatten, [[-1, 4]], ["start_dim": 0], "attribute 'start_dim' must not be 0: the batch dimension cannot be merged"),
            (.reshape, [[-1, 4]], ["shape": [3, -1]], "cannot reshape [1, 4] to [3, -1]: 4 elements are not a multiple of 3"),
            (.reshape, [[-1, 4]], ["shape": [2, -1, -1]], "attribute 'shape' has more than one -1: [2, -1, -1]"),
            (.reshape, [[-1, 4]], ["shape": [-1, -1, -1]], "attribute 'shape' has more than one -1 after the batch dimension: [-1, -1, -1]"),
            (.concat, [[-1, 4], [-1, 4]], [:], "attribute 'axis' is required"),
            (.concat, [[-1, 4], [-1, 4]], ["axis": 0], "attribute 'axis' is the batch dimension, which cannot be concatenated"),
            (.layernorm, [[-1, 4]], ["eps": -1], "attribute 'eps' must be positive, got -1.0"),
        ]
        for (op, inputs, attrs, reason) in others {
            let g = singleNodeGraph(op, inputs: inputs, attrs: attrs)
            assertThrowsMessage("node 'n': \(reason)") { try g.validate(tensors: TensorMap()) }
        }
    }

    func testInputShapesThatDoNotFit() {
        let cases: [(OpKind, [[Int]], [String: JSONValue], String)] = [
            (.add, [[-1, 4], [-1, 5]], [:], "add cannot broadcast [1, 4] with [1, 5]"),
            (.maxpool2d, [[-1, 8]], ["kernel": 2], "maxpool2d needs an input of shape [N, C, H, W], got [1, 8]"),
            (.maxpool2d, [[-1, 1, 3, 3]], ["kernel": 4], "the kernel spans 4 along the height but the padded input has only 3"),
            (.reshape, [[-1, 3, 8]], ["shape": [-1, 5, -1]], "cannot reshape [1, 3, 8] to [-1, 5, -1]: 24 elements per sample are not a multiple of 5"),
            (.reshape, [[-1, 3, 8]], ["shape": [-1, 5, 5]], "cannot reshape [1, 3, 8] to [-1, 5, 5]: 24 elements per sample, the new shape holds 25"),
            (.concat, [[-1, 3, 4], [-1, 4, 4]], ["axis": 2], "concat along axis 2 needs the other dimensions equal, got [1, 3, 4] and [1, 4, 4]"),
        ]
        for (op, inputs, attrs, reason) in cases {
            let g = singleNodeGraph(op, inputs: inputs, attrs: attrs)
            assertThrowsMessage("node 'n': \(reason)") { try g.validate(tensors: TensorMap()) }
        }
    }

    func testWrongInputCount() {
        assertThrowsMessage("node 'n': add takes 2 input(s), got 1") {
            try singleNodeGraph(.add, inputs: [[-1, 4]]).validate(tensors: TensorMap())
        }
    }

    func testBadGraphInputShape() {
        assertThrowsMessage("graph input 'x0' has shape [4, -1]: sizes must be positive; -1 (the batch) is allowed only first") {
            try singleNodeGraph(.relu, inputs: [[4, -1]]).validate(tensors: TensorMap())
        }
    }

    func testIntegerWeightNeedsQuantParams() throws {
        var map = tensors([("b", [10])])
        map["w"] = Tensor(zeros: .i8, [10, 64])
        let g = linearGraph(params: ["weight": "w", "bias": "b"])
        assertThrowsMessage("node 'fc1': param 'weight' (w) has dtype i8, which this op cannot use") { try g.validate(tensors: map) }

        var quantized = Tensor(zeros: .i8, [10, 64])
        quantized.quant = QuantParams(scales: Array(repeating: 0.1, count: 10), zeroPoints: Array(repeating: 0, count: 10), axis: 0)
        map["w"] = quantized
        try g.validate(tensors: map)
    }

    func testUnreferencedTensorsAreAllowed() throws {
        var map = tensors([("fc1.weight", [10, 64]), ("fc1.bias", [10])])
        map["bn.num_batches_tracked"] = Tensor(zeros: .i64, [])
        try graph(mlp).validate(tensors: map)
    }
}
