"""GPTQ weight rounding (zoo.deploy.gptq), without TensorFlow: on synthetic layers its
integers stay on onnxruntime's grid and leave less output error than rounding to
nearest, and on a real graph quantized by onnxruntime it changes only the integers
and brings the quantized outputs closer to float."""

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from test_edge_fast import converter_like_cnn, run

from zoo.deploy import gptq
from zoo.deploy.edge import quantize_static_qdq


def correlated_inputs(rng: np.random.Generator, rows: int, columns: int) -> np.ndarray:
    """Inputs whose columns are correlated, as a layer's windows are."""
    return rng.normal(size=(rows, columns)) @ rng.normal(size=(columns, columns))


def output_error(weight: np.ndarray, ints: np.ndarray, scale: np.ndarray,
                 x: np.ndarray) -> float:
    return float(np.sum(((weight - ints * scale[:, None]) @ x.T) ** 2))


@pytest.mark.parametrize("seed", range(4))
def test_gptq_leaves_less_output_error_than_rounding_to_nearest(seed):
    rng = np.random.default_rng(seed)
    weight, x = rng.normal(size=(16, 27)), correlated_inputs(rng, 400, 27)
    scale = np.abs(weight).max(1) / 63
    ints = gptq.gptq(weight, scale, x.T @ x, -64, 64)
    nearest = np.clip(np.round(weight / scale[:, None]), -64, 64)
    assert np.array_equal(ints, np.round(ints)) and np.abs(ints).max() <= 64
    assert output_error(weight, ints, scale, x) < 0.8 * output_error(weight, nearest, scale, x)


def test_gptq_takes_one_hessian_per_row_for_a_depthwise_layer():
    """Each row is rounded for its own inputs (a depthwise conv's channels see
    different windows): over the rows, less error than rounding to nearest."""
    rng = np.random.default_rng(7)
    weight = rng.normal(size=(32, 25))
    inputs = [correlated_inputs(rng, 200, 25) for _ in range(32)]
    scale = np.abs(weight).max(1) / 127
    ints = gptq.gptq(weight, scale, np.stack([x.T @ x for x in inputs]), -127, 127)
    nearest = np.round(weight / scale[:, None])

    def error(q: np.ndarray) -> float:
        return sum(output_error(weight[r:r + 1], q[r:r + 1], scale[r:r + 1], x)
                   for r, x in enumerate(inputs))

    assert error(ints) < 0.8 * error(nearest)


def test_an_input_the_calibration_never_sets_is_rounded_to_nearest():
    """No error is passed to or from it: other data may set it."""
    rng = np.random.default_rng(3)
    weight, x = rng.normal(size=(4, 5)), correlated_inputs(rng, 100, 5)
    x[:, 2] = 0
    scale = np.abs(weight).max(1) / 127
    ints = gptq.gptq(weight, scale, x.T @ x, -127, 127)
    assert np.array_equal(ints[:, 2], np.round(weight[:, 2] / scale))


def weights_of(path: Path) -> dict[str, np.ndarray]:
    return {i.name: numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}


def test_round_weights_changes_only_the_integers_and_brings_outputs_closer(tmp_path):
    converter_like_cnn(tmp_path / "fp32.onnx")
    rows = np.random.default_rng(1).uniform(0, 1, (64, 1, 8, 8)).astype(np.float32)
    nearest, rounded = tmp_path / "nearest.onnx", tmp_path / "gptq.onnx"
    quantize_static_qdq(tmp_path / "fp32.onnx", nearest, rows, "minmax", [])
    quantize_static_qdq(tmp_path / "fp32.onnx", rounded, rows, "minmax", [])
    hessians = gptq.hessians(tmp_path / "fp32.onnx", rows)
    assert set(hessians) == {"block_0/conv", "block_1/conv"}
    assert hessians["block_1/conv"].shape == (72, 72)  # 8 channels x 3x3 windows
    assert gptq.round_weights(onnx.load(tmp_path / "fp32.onnx"), rounded, hessians) == 2
    before, after = weights_of(nearest), weights_of(rounded)
    changed = [name for name in before if not np.array_equal(before[name], after[name])]
    assert changed and all(before[name].dtype == np.int8 for name in changed)
    assert set(before) == set(after)  # scales, zero points and biases are the same tensors
    float_out = run(tmp_path / "fp32.onnx", rows)
    assert np.mean((run(rounded, rows) - float_out) ** 2) < \
        np.mean((run(nearest, rows) - float_out) ** 2)


def test_convolutions_gptq_cannot_window_keep_onnxruntimes_rounding(tmp_path):
    """A dilated 2-D conv and a 1-D conv are left as onnxruntime rounded them."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(2)
    weights = [numpy_helper.from_array(rng.normal(size=shape).astype(np.float32), name)
               for name, shape in (("w1d", (4, 2, 3)), ("w2d", (4, 4, 3, 3)))]
    nodes = [helper.make_node("Conv", ["x", "w1d"], ["a"], "one_d", pads=[1, 1]),
             helper.make_node("Unsqueeze", ["a", "axis"], ["b"], "to_2d"),
             helper.make_node("Conv", ["b", "w2d"], ["y"], "dilated", dilations=[2, 1],
                              pads=[2, 1, 2, 1])]
    axis = numpy_helper.from_array(np.array([3], np.int64), "axis")
    graph = helper.make_graph(
        nodes, "odd", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [*weights, axis])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=8), tmp_path / "odd.onnx")
    rows = rng.uniform(size=(32, 2, 8)).astype(np.float32)
    assert gptq.hessians(tmp_path / "odd.onnx", rows) == {}
    # given Hessians for them all the same, it leaves the integers alone
    quantize_static_qdq(tmp_path / "odd.onnx", tmp_path / "int8.onnx", rows, "minmax", [])
    before = weights_of(tmp_path / "int8.onnx")
    made_up = {"one_d": np.eye(6), "dilated": np.eye(36)}
    assert gptq.round_weights(onnx.load(tmp_path / "odd.onnx"), tmp_path / "int8.onnx",
                              made_up) == 0
    after = weights_of(tmp_path / "int8.onnx")
    assert all(np.array_equal(before[name], after[name]) for name in before)
