"""`zoo inspect` shows a derived package's fine-tune phases from the typed records.

Depends on the CLI reading `Lineage.finetune` by attribute (cli/hub.py's
`format_card`); no Keras: the package is built by hand."""

import json

from conftest import ok
from packages import make_package

SHA = "a" * 64


def test_inspect_lists_each_finetune_phase_with_its_distribution(tmp_path):
    package = make_package(tmp_path / "tuned")
    data = json.loads((package / "card.json").read_text())
    mirrored = {"strategy": "mirrored", "replicas": 2, "workers": 1, "global_batch": 8,
                "local_devices": ["/cpu:0", "/cpu:1"], "worker_timeout": None}
    data["lineage"] = {
        "base_ref": "zoo/iris", "base_revision": "b" * 40, "base_card_sha256": SHA,
        "base_license": "MIT", "cut_layer": "hidden2", "frozen_layers": [], "head": None,
        "finetune": [{"data_sha256": SHA, "phases": [
            {"phase": 1, "epochs_run": 3, "trainable_params": 1234, "epochs": 3,
             "learning_rate": 0.01, "feature_cache": None, "distribution": mirrored},
            {"phase": 2, "epochs_run": 2, "trainable_params": 5678, "epochs": 2,
             "learning_rate": 1e-05, "unfreeze_from": "hidden1", "distribution": None}]}]}
    (package / "card.json").write_text(json.dumps(data))
    lines = [line for line in ok("inspect", package).stdout.splitlines()
             if line.startswith("finetuned:")]
    assert lines == [
        "finetuned: phase 1, 3 epochs, lr 0.01, 1,234 trainable, mirrored on 2 replica(s), "
        "1 worker(s), global batch 8",
        "finetuned: phase 2, 2 epochs, lr 1e-05, 5,678 trainable, unfrozen from hidden1"]
