"""The conformance sweep's table: the rows tests/test_conformance.py wrote (one JSON
per architecture) as Markdown, architecture × pack / cut points / train / ONNX /
TFLite with the parity figures, then each architecture's cut points and every
failure in one line.

    .venv/bin/python bench/conformance_table.py [ROWS_DIR] [--out FILE]

ROWS_DIR defaults to $ZOO_CONFORMANCE_RESULTS or bench/results/conformance/; the
table is printed and written to bench/results/conformance.md (or --out).
"""

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from conformance import ARCHITECTURES, results_dir  # noqa: E402

STEPS = ("classifier", "pack", "publish", "pull", "finetune")


def read_rows(directory: Path) -> list[dict]:
    order = {a.name: i for i, a in enumerate(ARCHITECTURES)}
    rows = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.json"))]
    return sorted(rows, key=lambda r: (order.get(r["architecture"], len(order)),
                                       r["architecture"]))


def _mark(done: bool, row: dict, step: str) -> str:
    if done:
        return "ok"
    return "**fail**" if step in row["errors"] else "–"


def _cut_summary(row: dict) -> str:
    maps = [c["reduction"] for c in row["cuts"] if c["kind"] == "feature_map"]
    others = len(row["cuts"]) - len(maps)
    text = f"{len(maps)} maps: {', '.join(str(r) for r in maps)}" if maps else "no maps"
    return text + (f" + {others} vector" if others else "")


def _export(row: dict, fmt: str) -> str:
    if fmt in row.get("refusals", {}):
        return "refused"
    if fmt in row.get("expected_failures", {}):
        return "xfail"
    if fmt in row["errors"]:
        return "**fail**"
    diff = row.get(f"{fmt}_max_abs_diff")
    return "–" if diff is None else f"{diff:.1e}"


def _finetune(row: dict) -> str:
    if row["finetune"]:
        return "ok"
    return "**fail**" if "finetune" in row["errors"] or "pull" in row["errors"] else "–"


def _figure(value: float | None) -> str:
    return "–" if value is None else f"{value:.1e}"


def table(rows: list[dict]) -> str:
    header = ["architecture", "input", "statistics", "params", "pack + publish", "cut points (reductions)",
              "cuts rebuilt + 1 step", "pull + finetune", "ONNX max abs diff",
              "TFLite max abs diff", "tolerance", "Keras f32 vs f64", "output spread",
              "seconds"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        cuts_ok = sum(c["ok"] for c in row["cuts"])
        packed = _mark(row["pack"] and "publish" not in row["errors"], row,
                       "publish" if row["pack"] else "pack")
        if "cut_points" in row["errors"]:
            packed += ", **cut points off**"
        lines.append("| " + " | ".join([
            row["architecture"], f"{row['size']}×{row['size']}", row.get("calibration") or "–",
            f"{row['params']:,}" if row.get("params") else "–", packed,
            _cut_summary(row), f"{cuts_ok}/{len(row['cuts'])}", _finetune(row),
            _export(row, "onnx"), _export(row, "tflite"), _figure(row.get("tolerance")),
            _figure(row.get("keras_float32_error")), _figure(row.get("output_spread")),
            f"{row['seconds'].get('total', 0):.0f}",
        ]) + " |")
    return "\n".join(lines)


def cut_table(rows: list[dict]) -> str:
    lines = ["| architecture | cut points (name /reduction, vector: after pooling) |",
             "|---|---|"]
    for row in rows:
        cuts = ", ".join(f"`{c['name']}` /{c['reduction']}" if c["kind"] == "feature_map"
                         else f"`{c['name']}` ({c['kind']})" for c in row["cuts"])
        lines.append(f"| {row['architecture']} | {cuts or '–'} |")
    return "\n".join(lines)


def failures(rows: list[dict]) -> str:
    lines = []
    for row in rows:
        for step, message in row["errors"].items():
            if step == "cuts" and any(k.startswith("cut ") for k in row["errors"]):
                continue  # the failing cuts are listed one by one
            known = " (expected, xfail)" if step in row.get("expected_failures", {}) else ""
            lines.append(f"- {row['architecture']}, {step}{known}: {message}")
    return "\n".join(lines) or "none"


def report(rows: list[dict]) -> str:
    total = sum(r["seconds"].get("total", 0) for r in rows)
    passed = sum(1 for r in rows if not set(r["errors"]) - set(r.get("expected_failures", {})))
    machine = rows[0]["machine"] if rows else "?"
    tiers = sorted({r.get("tier", "?") for r in rows})
    return "\n\n".join([
        table(rows),
        f"{passed} of {len(rows)} architectures pass (tier: {', '.join(tiers)}); "
        f"{total / 60:.1f} min of tests on {machine}. \"–\": not run in this tier, or "
        "after a failed step. Statistics: how the user's classifier got its BatchNorm "
        "statistics (BN passes x images, precise BN) or, without BatchNorm, its "
        "convolutions' scale (LSUV, images).",
        "Cut points:", cut_table(rows), "Failures:", failures(rows)]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="?", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "conformance.md")
    args = parser.parse_args()
    directory = args.rows or Path(os.environ.get("ZOO_CONFORMANCE_RESULTS") or results_dir())
    rows = read_rows(directory)
    if not rows:
        sys.exit(f"no conformance rows in {directory}: run `make conformance` first")
    text = report(rows)
    print(text, end="")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
