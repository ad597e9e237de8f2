"""Training curves as a PNG (matplotlib, Agg backend: no display needed)."""

from pathlib import Path

CURVES_FILE = "training_curves.png"


def plot_history(history: dict[str, list[float]], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    phases = history.get("phase", [])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, metric in zip(axes, ("loss", "accuracy")):
        for key, style in ((metric, "-"), (f"val_{metric}", "--")):
            if key in history:
                axis.plot(range(1, len(history[key]) + 1), history[key], style, label=key)
        if 2 in phases:
            axis.axvline(phases.index(2) + 0.5, color="grey", linestyle=":", label="phase 2")
        axis.set_xlabel("epoch")
        axis.set_title(metric)
        axis.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
