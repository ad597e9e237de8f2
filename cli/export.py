"""Export command: SavedModel / ONNX / TFLite, checked against Keras; deploy bundles."""

from collections.abc import Callable

import click
from zoo.cli.options import progress
from zoo.deploy.settings import (
    CALIBRATION_METHODS,
    DEFAULT_MIN_AGREEMENT,
    DEFAULT_TOLERANCE,
    FORMATS,
    QUANTIZE_MODES,
    check_min_agreement,
    check_tolerance,
    export_key,
)
from zoo.errors import ZooError


class Threshold(click.ParamType):
    """A number checked by one of the deploy settings' rules: click.FloatRange
    lets 'nan' through, and a NaN threshold makes the parity check meaningless."""

    name = "float"

    def __init__(self, check: Callable[[object], float]) -> None:
        self.check = check

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            number = value  # the check refuses it by name
        try:
            return self.check(number)
        except ZooError as exc:
            self.fail(str(exc), param, ctx)


@click.command()
@click.argument("package_dir", type=click.Path(file_okay=False))
@click.option("--format", "fmt", required=True,
              type=click.Choice(FORMATS))
@click.option("--quantize", type=click.Choice(QUANTIZE_MODES),
              help="onnx: int8 (static QDQ, calibrated) or int8-dynamic (dense-only nets); "
                   "tflite: float16 or int8.")
@click.option("--data", type=click.Path(), help="Held-out CSV/NPZ/image folder: parity rows and "
              "top-1 agreement (required with --quantize; default: seeded random inputs).")
@click.option("--calibration", type=click.Path(),
              help="Real data to calibrate int8 on (default: --data).")
@click.option("--tolerance", default=DEFAULT_TOLERANCE, show_default=True,
              type=Threshold(check_tolerance),
              help="Largest max abs difference from Keras accepted (float exports; >= 0).")
@click.option("--min-agreement", default=DEFAULT_MIN_AGREEMENT, show_default=True,
              type=Threshold(check_min_agreement), help="Lowest top-1 agreement with Keras "
              "accepted (quantized exports; 0 to 1).")
@click.option("--out", type=click.Path(), help="Also copy the exported file or folder here.")
@click.option("--bundle", type=click.Path(file_okay=False), help="Also write a deploy bundle "
              "here: model, labels.json, preprocessing.json, card, LICENSE.")
@click.option("--calibration-method", type=click.Choice(CALIBRATION_METHODS),
              default="minmax", show_default=True,
              help="How static int8 ONNX sets activation ranges (onnxruntime's calibrators).")
@click.option("--force", is_flag=True, help="Replace --bundle if it exists.")
def export(package_dir: str, fmt: str, quantize: str | None, data: str | None,
           calibration: str | None, tolerance: float, min_agreement: float, out: str | None,
           bundle: str | None, calibration_method: str, force: bool) -> None:
    """Export a package into its exports/ folder, checked against Keras.

    \b
    Examples:  zoo export tuned --format onnx
               zoo export tuned --format onnx --quantize int8 --data test.npz \\
                   --calibration train.npz --bundle edge-bundle
               zoo export tuned --format tflite --quantize float16 --data test.npz
               zoo export tuned --format savedmodel --out serving/tuned
    """
    import zoo

    progress(f"exporting {package_dir} to {fmt}{' ' + quantize if quantize else ''}…")
    entry = zoo.export(package_dir, fmt, quantize=quantize, tolerance=tolerance, data=data,
                       calibration=calibration, min_agreement=min_agreement,
                       calibration_method=calibration_method, out=out, bundle=bundle,
                       force=force)
    line = (f"{export_key(fmt, quantize)}: {entry.path} ({entry.size_bytes:,} bytes), "
            f"max abs diff vs Keras {entry.max_abs_diff:.2e} on {entry.parity_inputs}")
    if entry.top1_agreement is not None:
        line += (f", top-1 agreement {entry.top1_agreement:.2%}, accuracy "
                 f"{entry.accuracy:.4f} (Keras {entry.keras_accuracy:.4f})")
    click.echo(line + (f"; copied to {out}" if out else ""))
    if quantize:
        lat, base = entry.latency_ms, entry.float_latency_ms
        click.echo(f"  size {entry.size_bytes / entry.float_size_bytes:.0%} of float; "
                   f"latency batch 1 {lat['1']:.2f} ms (float {base['1']:.2f}), batch 32 "
                   f"{lat['32']:.2f} ms (float {base['32']:.2f})")
        if entry.int8_steps:
            held_out = f", {entry.held_out_agreement:.2%} agreement on " \
                f"{entry.held_out_samples} held-out calibration rows" \
                if entry.held_out_samples else ""
            click.echo(f"  int8 recipe: {' + '.join(entry.int8_steps)}{held_out}")
        if entry.float_nodes:
            click.echo(f"  kept in float (most sensitive first): {', '.join(entry.float_nodes)}")
        for batch, faster in entry.faster_than_float.items():
            if not faster:
                click.echo(f"zoo: warning: {quantize} is slower than float at batch {batch} "
                           "here; it is smaller, not faster", err=True)
    if bundle:
        click.echo(f"bundle -> {bundle}")


COMMANDS = [export]
