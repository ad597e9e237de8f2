"""Choosing the backbone and the cut: `zoo.rank`, like `zoo rank`.

Each candidate is fetched and checked like a pull (hashes, signature, license
policy: one the policy refuses is listed as refused, not scored), rebuilt up to
its deepest candidate cut with the input adapted to the data (size, gray→RGB,
the package's own preprocessing inside the model), run once over the data, and
every cut point's pooled features are scored against the labels.
"""

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.api.arguments import PathLike, Size, as_path, as_ref, optional_path, output_path, \
    size_tuple, texts
from zoo.errors import DataError, LayerNotFound, LicenseRefused, SignatureError, ZooError
from zoo.train.settings import RANK_METRICS

if TYPE_CHECKING:
    from zoo.cards.card import Card
    from zoo.data.datasets import Table

CUT_CHOICES = ("stages", "last")  # or a comma-separated list of layer names
DEFAULT_METRIC = next(iter(RANK_METRICS))  # logme: see zoo.train.settings


@dataclass(frozen=True)
class Ranked:
    """One (backbone, cut point) and its score, or a backbone the checks refused."""

    ref: str
    revision: str | None
    cut_at: str | None
    reduction: int | None
    channels: int | None
    score: float | None
    metric: str
    seconds: float  # scoring this cut's features
    pass_seconds: float  # the backbone's one pass (shared by its cuts; 0 when cached)
    refused: str | None = None  # why it was not scored
    order: int = 0  # the cut's place in its backbone, shallowest first

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def rank(refs: str | Iterable[str], data: PathLike, *, cut_points: str = "stages",
         metric: str = DEFAULT_METRIC, input_size: Size | None = None,
         limit_rows: int | None = None, allow_license: tuple[str, ...] | str = (),
         policy: PathLike | None = None, trust_keys: tuple[PathLike, ...] | PathLike = (),
         require_signature: bool = False, record: PathLike | None = None,
         plot: PathLike | None = None) -> list[Ranked]:
    """Score every candidate backbone at its cut points on your labelled data, best
    first, like `zoo rank`: no fine-tuning, one forward pass per backbone.

    `cut_points` is "stages" (every recommended cut of each card), "last" (the deepest)
    or layer names "a,b"; `metric` is "logme" (LogME on standardised, PCA-reduced
    features), "linear" (a cross-validated logistic-regression probe on standardised
    features) or "knn"; `limit_rows` keeps about that many rows, the same number per
    class. `record` appends the ranking, with the data's sha256, to a JSON report file
    (never to a card); `plot` writes a PNG of the score at each cut point of each
    backbone.

    Example:
        >>> rows = zoo.rank(["fer@v1", "cnn8@v1"], "faces.npz")
        >>> best = rows[0]; best.ref, best.cut_at, best.score
        >>> zoo.derive(f"{best.ref}@{best.revision}", "mine", cut_at=best.cut_at,
        ...            head="dense:7:softmax", license="MIT")
    """
    if metric not in RANK_METRICS:
        raise ZooError(f"unknown metric {metric!r} (one of {', '.join(RANK_METRICS)})")
    candidates = list(texts(refs, "refs"))
    if not candidates:
        raise ZooError("rank needs at least one backbone reference")
    data_path = as_path(data, "data")
    table = _table(data_path, limit_rows)
    rows: list[Ranked] = []
    for ref in candidates:
        rows += _rank_one(as_ref(ref), table, cut_points, metric, size_tuple(input_size),
                          allow_license, policy, trust_keys, require_signature)
    rows.sort(key=lambda r: (r.refused is not None, -(r.score if r.score is not None else 0)))
    if record is not None:
        write_record(optional_path(record, "record"), rows, table, data_path)
    if plot is not None:
        from zoo.train.rank_plot import plot_ranking

        plot_ranking(rows, output_path(plot, "plot"))
    return rows


def _table(path: Path, limit_rows: int | None) -> "Table":
    from zoo.data.datasets import load_table, select

    table = load_table(path)
    classes = len(set(table.y.tolist()))
    if classes < 2:
        raise DataError(f"{path}: one class only; ranking needs labels of at least two")
    if limit_rows is not None:
        if limit_rows < 2 * classes:
            raise DataError(f"--limit-rows {limit_rows} is too few for {classes} classes "
                            f"(at least {2 * classes})")
        table = select(table, per_class=max(2, limit_rows // classes))
    return table


@dataclass(frozen=True)
class CutFeatures:
    """One backbone's pooled features at each chosen cut point, from one pass."""

    card: "Card"
    revision: str
    cuts: list[str]
    features: dict[str, Any]  # cut -> (rows, channels) float32
    pass_seconds: float  # 0 when they came from the cache


def cut_point_features(checked: Any, table: "Table", cut_points: str = "stages",
                       input_size: tuple[int, ...] | None = None) -> CutFeatures:
    """The pooled features of a checked snapshot's backbone on `table` at its cut
    points, rebuilt up to the deepest one with the input adapted to the data."""
    from zoo.api.consume import rebuild_spec
    from zoo.build.rebuild import rebuild
    from zoo.package import load_model
    from zoo.train.rank_features import cut_features

    snapshot = checked.snapshot
    card = snapshot.card
    cuts = chosen_cuts(card, cut_points)
    size = input_size or _data_size(card, table)
    deepest = max(cuts, key=card.layer_map.names().index)
    model = rebuild(load_model(snapshot.path), card.layer_map,
                    rebuild_spec(cut_at=deepest, input_size=size)).model
    started = time.perf_counter()
    features, cached = cut_features(model, cuts, table.x, snapshot.revision, table.sha256)
    return CutFeatures(card, snapshot.revision, cuts, features,
                       0.0 if cached else time.perf_counter() - started)


def _rank_one(ref: str, table: "Table", cut_points: str, metric: str,
              input_size: tuple[int, ...] | None, allow_license: Any, policy: Any,
              trust_keys: Any, require_signature: bool) -> list[Ranked]:
    from zoo.api.consume import checked_fetch
    from zoo.train.transfer_scores import score

    try:
        checked = checked_fetch(ref, allow_license=allow_license, policy=policy,
                                 trust_keys=trust_keys, require_signature=require_signature,
                                 lock=None, locked=False)
    except (LicenseRefused, SignatureError) as exc:
        return [Ranked(ref, None, None, None, None, None, metric, 0.0, 0.0, str(exc))]
    found = cut_point_features(checked, table, cut_points, input_size)
    points = {point.name: point for point in found.card.layer_map.cut_points}
    ranked = []
    for order, cut in enumerate(found.cuts):
        started = time.perf_counter()
        value = score(found.features[cut], table.y, metric)
        point = points.get(cut)
        ranked.append(Ranked(ref.split("@", 1)[0], found.revision, cut,
                             point.reduction if point else None,
                             int(found.features[cut].shape[1]), value, metric,
                             time.perf_counter() - started, found.pass_seconds, order=order))
    return ranked


def chosen_cuts(card: "Card", cut_points: str) -> list[str]:
    """The cut layers to score, in layer order: the card's recommended ones
    ("stages"), the deepest of them ("last"), or layer names "a,b"."""
    names = card.layer_map.names()
    recommended = sorted((p.name for p in card.layer_map.cut_points), key=names.index)
    if cut_points in CUT_CHOICES:
        if not recommended:
            raise LayerNotFound(f"{card.name} recommends no cut points; name layers to "
                                f"score with --cut-points A,B (layers: "
                                f"{', '.join(names[:12])}{'…' if len(names) > 12 else ''})")
        return recommended if cut_points == "stages" else recommended[-1:]
    asked = [name.strip() for name in cut_points.split(",") if name.strip()]
    unknown = [name for name in asked if name not in names]
    if not asked or unknown:
        raise LayerNotFound(f"{card.name} has no layer {unknown[0] if unknown else '(none)'!r} "
                            f"to cut at; its recommended cut points: "
                            f"{', '.join(recommended) or 'none'}")
    return sorted(dict.fromkeys(asked), key=names.index)


def _data_size(card: "Card", table: "Table") -> tuple[int, ...] | None:
    """The data's own input shape where it differs from the package's (images of
    another size or channel count), so the rebuilt input adapts to it."""
    wanted, given = tuple(card.preprocessing.input_shape), tuple(table.x.shape[1:])
    images = len(given) == len(wanted) == 3
    if not images and (len(given) != len(wanted) or
                       any(w is not None and w != g for w, g in zip(wanted, given))):
        raise DataError(f"the data's rows have shape {given}, but {card.name} takes "
                        f"{wanted}")
    return given if images and given != wanted else None


def write_record(path: Path, rows: Sequence[Ranked], table: "Table", data: Path) -> Path:
    """Append this ranking, with the data's fingerprint, to the JSON report at `path`."""
    from zoo.files import atomic_write_text

    report: Any = {"rankings": []}
    if path.exists():
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            report = None
        if not isinstance(report, dict) or not isinstance(report.get("rankings"), list):
            raise ZooError(f"{path} is not a rank report this can add to; name a new file "
                           "with --record")
    report["rankings"].append({
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data": str(data), "data_sha256": table.sha256, "rows": int(len(table.y)),
        "classes": table.label_names, "results": [row.to_json() for row in rows]})
    return atomic_write_text(path, json.dumps(report, indent=2) + "\n")
