"""Compact int8 ONNX names, on graphs built with onnx.helper and quantized by
onnxruntime (no TensorFlow): shorter files, the same numbers, the float nodes' names kept,
and graphs whose subgraphs refer to tensors by name left as they were."""

import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from zoo.deploy.edge import QUANTIZER_NODES, compact_names

LONG = "model_1/derived_1/block_{}/conv2d_{}/Conv2D:0"


def converter_like_cnn(path: Path) -> None:
    """Conv → Relu → Conv → GlobalAveragePool → Flatten → Gemm, with a converter's long
    tensor and node names."""
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.normal(0, 0.3, shape).astype(np.float32), name)
               for name, shape in ((LONG.format(0, "w"), (8, 1, 3, 3)),
                                   (LONG.format(1, "w"), (8, 8, 3, 3)),
                                   (LONG.format(2, "w"), (8, 4)), (LONG.format(2, "b"), (4,)))]
    t = [LONG.format(i, "out") for i in range(5)]
    nodes = [helper.make_node("Conv", ["input", weights[0].name], [t[0]], "block_0/conv",
                              pads=[1, 1, 1, 1]),
             helper.make_node("Relu", [t[0]], [t[1]], "block_0/relu"),
             helper.make_node("Conv", [t[1], weights[1].name], [t[2]], "block_1/conv",
                              pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", [t[2]], [t[3]], "head/gap"),
             helper.make_node("Flatten", [t[3]], [t[4]], "head/flatten"),
             helper.make_node("Gemm", [t[4], weights[2].name, weights[3].name], ["output"],
                              "head/dense")]
    graph = helper.make_graph(
        nodes, "cnn", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                     ["batch", 1, 8, 8])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 4])], weights)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)


def run(path: Path, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


@pytest.fixture(scope="module")
def quantized(tmp_path_factory) -> Path:
    from onnxruntime.quantization import CalibrationDataReader, QuantType, quantize_static

    folder = tmp_path_factory.mktemp("int8")
    converter_like_cnn(folder / "fp32.onnx")
    rows = np.random.default_rng(1).uniform(0, 1, (32, 1, 1, 8, 8)).astype(np.float32)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.rows = iter(rows)

        def get_next(self) -> dict | None:
            row = next(self.rows, None)
            return None if row is None else {"input": row}

    quantize_static(str(folder / "fp32.onnx"), str(folder / "int8.onnx"), Reader(),
                    per_channel=True, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8)
    return folder / "int8.onnx"


def test_compact_names_shrink_an_int8_graph_and_keep_its_numbers(quantized, tmp_path):
    compacted = tmp_path / "compact.onnx"
    shutil.copy(quantized, compacted)
    compact_names(compacted)
    onnx.checker.check_model(str(compacted))
    assert compacted.stat().st_size < 0.8 * quantized.stat().st_size
    x = np.random.default_rng(2).uniform(0, 1, (16, 1, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(run(compacted, x), run(quantized, x))
    before, after = onnx.load(quantized).graph, onnx.load(compacted).graph
    # inputs, outputs and the nodes of the float graph keep their names: the card's
    # float_nodes name them; only the quantizer's own nodes are renamed
    assert [v.name for v in after.input] == ["input"] and [v.name for v in after.output] == \
        ["output"]
    kept = [n.name for n in before.node if n.op_type not in QUANTIZER_NODES]
    assert [n.name for n in after.node if n.op_type not in QUANTIZER_NODES] == kept
    assert {"block_0/conv", "block_1/conv", "head/dense"} <= set(kept)
    tensors = {name for node in after.node for name in (*node.input, *node.output)}
    assert all(len(name) <= 6 for name in tensors - {"input", "output", ""})
    assert all(not n.name or len(n.name) <= 6 for n in after.node
               if n.op_type in QUANTIZER_NODES)


def test_compact_names_never_reuse_an_input_or_output_name(tmp_path):
    """A graph whose input is called "t0" (the first short name) keeps it, and no inner
    tensor is given it; a float node called "q0" keeps its name, and no quantizer node
    is given it (onnxruntime refuses two nodes of one name)."""
    nodes = [helper.make_node("Relu", ["t0"], ["a_long_inner_name"], "q0"),
             helper.make_node("QuantizeLinear", ["a_long_inner_name", "scale"], ["quantized"],
                              "a_long_quantizer_name"),
             helper.make_node("DequantizeLinear", ["quantized", "scale"], ["dequantized"],
                              "another_long_quantizer_name"),
             helper.make_node("Neg", ["dequantized"], ["t1"], "neg")]
    graph = helper.make_graph(
        nodes, "names", [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("t1", TensorProto.FLOAT, [2])],
        [numpy_helper.from_array(np.array(1.0, np.float32), "scale")])
    path = tmp_path / "names.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=8), path)
    compact_names(path)
    onnx.checker.check_model(str(path))
    graph = onnx.load(path).graph
    assert graph.node[0].output[0] not in ("t0", "t1", "a_long_inner_name")
    names = [node.name for node in graph.node]
    assert names[0] == "q0" and len(set(names)) == len(names) and names[3] == "neg"
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(session.run(None, {"t0": np.array([2, -1], np.float32)})[0],
                                  [-2, 0])


def test_compact_names_leave_a_graph_with_subgraphs_as_it_was(tmp_path):
    """An If's branches refer to the outer graph's tensors by name: renaming the outer
    ones alone would break it, so such a graph is not touched."""
    def branch(name: str, factor: float) -> onnx.GraphProto:
        return helper.make_graph(
            [helper.make_node("Mul", ["outer_long_tensor_name", f"{name}_factor"], [name])],
            name, [], [helper.make_tensor_value_info(name, TensorProto.FLOAT, [2])],
            [numpy_helper.from_array(np.full(2, factor, np.float32), f"{name}_factor")])

    nodes = [helper.make_node("Relu", ["input"], ["outer_long_tensor_name"], "relu"),
             helper.make_node("ReduceSum", ["input"], ["sum"], "sum", keepdims=0),
             helper.make_node("Greater", ["sum", "zero"], ["positive"], "greater"),
             helper.make_node("If", ["positive"], ["output"], "if",
                              then_branch=branch("then_out", 2.0),
                              else_branch=branch("else_out", 3.0))]
    graph = helper.make_graph(
        nodes, "if", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [2])],
        [numpy_helper.from_array(np.zeros((), np.float32), "zero")])
    path = tmp_path / "if.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    before = path.read_bytes()
    compact_names(path)
    assert path.read_bytes() == before
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(
        session.run(None, {"input": np.array([2, -1], np.float32)})[0], [4, 0])
