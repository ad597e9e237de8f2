"""The score at each cut point of each backbone, as a PNG (matplotlib, Agg backend)."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zoo.files import atomic_writer


def plot_ranking(rows: Sequence[Any], path: Path) -> Path:
    """One line per backbone: its score at each cut point, in layer order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = [row for row in rows if row.score is not None]
    figure, axes = plt.subplots(figsize=(7, 4))
    for ref in dict.fromkeys(row.ref for row in scored):
        mine = [row for row in scored if row.ref == ref]
        mine.sort(key=lambda row: row.order)
        axes.plot([row.cut_at for row in mine], [row.score for row in mine], marker="o",
                  label=ref)
    axes.set_xlabel("cut point")
    axes.set_ylabel(scored[0].metric if scored else "score")
    axes.tick_params(axis="x", labelrotation=30)
    axes.legend(fontsize="small")
    figure.tight_layout()
    with atomic_writer(Path(path)) as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)
    return Path(path)
