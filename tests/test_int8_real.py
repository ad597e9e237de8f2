"""int8 on a real ImageNet depthwise-separable backbone: EfficientNet-Lite0 with its
published weights (tests/efficientnet_lite.py), cut whole, frozen, with a head
fine-tuned on MNIST digits, exported the way a user would (`zoo export --quantize
int8`). The recipe's steps are checked against what each one reaches on the rows
held out from calibrating."""

from pathlib import Path

import numpy as np
import pytest
from conftest import ok, refused
from packages import card_json
from parity import run_export
from wheels import member_or_skip

import efficientnet_lite

pytestmark = pytest.mark.slow  # converts, trains and exports

SIZE, CUT = 96, "head_conv_relu6"  # as bench/int8_real.py; at 64x64 int8 agrees less
BAR = 0.97  # a bar the recipe reaches here; the default, 0.99, it does not (docs/speed.md)


@pytest.fixture(scope="module")
def lite0_pth() -> Path:
    return member_or_skip(efficientnet_lite.LITE0)


def test_the_converted_weights_name_the_right_imagenet_classes(lite0_pth):
    """The published behaviour: scikit-learn's sample photographs of a Chinese temple
    and of a flower come out as a temple-like class and as a daisy."""
    import keras
    from sklearn.datasets import load_sample_images

    model = efficientnet_lite.converted(lite0_pth)
    china, flower = (keras.ops.image.resize(image[None].astype("float32"), (224, 224))
                     for image in load_sample_images().images)
    top1 = [int(np.argmax(model.predict(efficientnet_lite.preprocess(np.asarray(image)),
                                        verbose=0))) for image in (china, flower)]
    # 442 bell cote, 663 monastery, 832 stupa; 985 daisy
    assert top1[0] in (442, 663, 832) and top1[1] == 985


@pytest.fixture(scope="module")
def lite0_tuned(lite0_pth, tmp_path_factory) -> tuple[Path, Path, Path]:
    """Lite0 at SIZE, packed, published, pulled cut at CUT with a gap,dense:10 head
    behind 28x28x1 digits and fine-tuned on 1,000 of them: the package, its training
    digits (the calibration rows) and 1,500 held-out test digits."""
    work = tmp_path_factory.mktemp("lite0")
    efficientnet_lite.converted(lite0_pth, SIZE).save(work / "lite0.keras")
    ok("pack", work / "lite0.keras", "--name", "efficientnet-lite0", "--license",
       efficientnet_lite.LICENSE, "--preprocess", "tf", "--out", work / "lite0")
    ok("publish", work / "lite0", "efficientnet-lite0")
    ok("pull", "efficientnet-lite0", "--cut-at", CUT, "--freeze-until", CUT, "--input-size",
       "28x28x1", "--head", "gap,dense:10:softmax", "--out", work / "derived")
    ok("data", "mnist5k", "--per-class", "100", "--split", "train", "--out", work / "train.npz")
    ok("data", "mnist5k", "--split", "test", "--out", work / "test.npz")
    ok("finetune", work / "derived", "--data", work / "train.npz", "--epochs", "10",
       "--lr", "0.01", "--out", work / "tuned")
    return work / "tuned", work / "train.npz", work / "test.npz"


def int8(package: Path, train: Path, test: Path, *bar: str):
    return ("export", package, "--format", "onnx", "--quantize", "int8", "--data", test,
            "--calibration", train, *bar)


def test_int8_climbs_the_recipe_until_the_held_out_rows_agree(lite0_tuned, tmp_path):
    """Accepted at BAR, a quarter of the float file's size; per-channel int8 alone
    falls short of it here, so GPTQ ran, and the card says so; the step before the
    last one recorded did not reach the bar on the held-out rows or on --data
    (measured again), the last one did."""
    from zoo.data.datasets import load_for_input
    from zoo.deploy.edge import INT8_STEPS, quantize_onnx

    package, train, test = lite0_tuned
    ok(*int8(package, train, test, "--min-agreement", str(BAR)))
    entry = card_json(package)["exports"]["onnx-int8"]
    steps = entry["int8_steps"]
    assert steps == list(INT8_STEPS[:len(steps)]) and "gptq" in steps
    assert entry["held_out_agreement"] >= BAR and entry["held_out_samples"] == 500
    assert entry["top1_agreement"] >= BAR and entry["agreement_samples"] == 1500
    assert entry["size_bytes"] <= 0.3 * entry["float_size_bytes"]
    ok("export", package, "--format", "onnx", "--data", test)  # the float file
    fp32 = package / "exports" / "model.onnx"
    rows, test_rows = (load_for_input(path, (28, 28, 1)).x for path in (train, test))
    before = quantize_onnx(fp32, tmp_path / "before.onnx", "int8", rows, min_agreement=BAR,
                           last_step=steps[-2], data=test_rows)
    on_test = np.mean(np.argmax(run_export(tmp_path / "before.onnx")(test_rows), -1)
                      == np.argmax(run_export(fp32)(test_rows), -1))
    assert before.steps == steps[:-1] and min(before.held_out_agreement, on_test) < BAR


def test_int8_tflite_rounds_with_gptq_when_the_converter_falls_short(lite0_tuned):
    package, train, test = lite0_tuned
    ok("export", package, "--format", "tflite", "--quantize", "int8", "--data", test,
       "--calibration", train, "--min-agreement", str(BAR))
    entry = card_json(package)["exports"]["tflite-int8"]
    assert entry["int8_steps"] == ["per-channel", "gptq"]
    assert entry["held_out_agreement"] >= BAR and entry["held_out_samples"] == 500
    assert entry["top1_agreement"] >= BAR
    assert entry["size_bytes"] <= 0.3 * entry["float_size_bytes"]


def test_a_bar_the_recipe_cannot_reach_is_refused_naming_the_best_and_the_nodes(
        lite0_tuned, monkeypatch):
    """Every step runs, up to MAX_FLOAT_NODES nodes in float (one here, to keep the
    test short); the refusal gives the best agreement the held-out rows saw and names
    that node, and the package is as it was."""
    monkeypatch.setattr("zoo.deploy.edge.MAX_FLOAT_NODES", 1)
    package, train, test = lite0_tuned
    before = (package / "card.json").read_bytes(), sorted((package / "exports").glob("*")) \
        if (package / "exports").is_dir() else []
    message = refused(*int8(package, train, test, "--min-agreement", "1"))
    assert "after per-channel + gptq + float-nodes (at best " in message
    assert "% on 500 held-out calibration rows, after " in message
    named = message.split("the nodes holding it back, kept in float: ")[1].split(")")[0]
    assert named and ", " not in named  # one node's name
    assert "nothing was written" in message
    after = (package / "card.json").read_bytes(), sorted((package / "exports").glob("*")) \
        if (package / "exports").is_dir() else []
    assert after == before


def test_bad_calibration_data_is_one_line(lite0_tuned, tmp_path):
    package, train, test = lite0_tuned
    digits = np.load(train)
    np.savez(tmp_path / "three.npz", x=digits["x"][:3], y=digits["y"][:3])
    nan = digits["x"][:64].astype(np.float32)
    nan[5, 3, 3] = np.nan
    np.savez(tmp_path / "nan.npz", x=nan, y=digits["y"][:64])
    np.savez(tmp_path / "shape.npz", x=np.zeros((64, 8, 8), np.float32), y=digits["y"][:64])
    for bad, said in (("three.npz", "needs at least 16 calibration rows"),
                      ("nan.npz", "NaN or infinite"),
                      ("shape.npz", "each sample has shape (8, 8)")):
        assert said in refused(*int8(package, tmp_path / bad, test))
