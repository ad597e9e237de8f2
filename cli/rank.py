"""zoo rank: score candidate backbones and cut points on your data, best first."""

import json

import click

from zoo.cli.options import size_option
from zoo.train.settings import RANK_METRICS


@click.command()
@click.argument("refs", nargs=-1, required=True, metavar="REF...")
@click.option("--data", required=True, type=click.Path(),
              help="Your labelled data (.npz, .csv or an image folder).")
@click.option("--cut-points", default="stages", show_default=True,
              help="'stages' (every recommended cut point), 'last', or layer names A,B.")
@click.option("--metric", default=next(iter(RANK_METRICS)), show_default=True,
              type=click.Choice(list(RANK_METRICS)),
              help="logme: LogME evidence on standardised features; linear: a "
                   "cross-validated logistic-regression probe; knn: k-nearest neighbours.")
@size_option
@click.option("--limit-rows", type=click.IntRange(2),
              help="Score on about this many rows (the same number per class).")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON, best first.")
@click.option("--plot", type=click.Path(dir_okay=False),
              help="Write a PNG of the score at each cut point of each backbone.")
@click.option("--record", type=click.Path(dir_okay=False),
              help="Append this ranking, with the data's sha256, to a JSON report file.")
@click.option("--allow-license", multiple=True,
              help="Accept this license expression though the policy does not (repeatable).")
@click.option("--policy", type=click.Path(dir_okay=False),
              help="License policy file (default: policy.toml under $ZOO_HOME).")
def rank(refs: tuple[str, ...], data: str, cut_points: str, metric: str,
         input_size: str | None, limit_rows: int | None, as_json: bool, plot: str | None,
         record: str | None, allow_license: tuple[str, ...], policy: str | None) -> None:
    """Which backbone, cut where? Scores every candidate at its cut points on your
    labelled data from frozen features: one forward pass per backbone, no fine-tuning.

    Each candidate is verified and license-checked like a pull (a refused one is
    listed, not scored); feature maps are average-pooled. The default score is
    LogME (the evidence of a linear model on the standardised features); the
    linear and k-NN probes are cross-validated on your rows. Prints the ranking
    and the command that pulls the winner.

    \b
        zoo rank fer@v1 cnn8@v1 mobilenetv2@v1 --data faces.npz
        zoo rank fer@v1 --data faces.npz --metric linear --json
        zoo pull fer@v1 --cut-at best --rank-data faces.npz --head gap,dense:7:softmax ...
    """
    import zoo

    rows = zoo.rank(refs, data, cut_points=cut_points, metric=metric, input_size=input_size,
                    limit_rows=limit_rows, allow_license=allow_license, policy=policy,
                    record=record, plot=plot)
    if as_json:
        click.echo(json.dumps([row.to_json() for row in rows], indent=2))
        return
    click.echo(f"{'backbone':<28} {'revision':<12} {'cut point':<24} {'reduction':>9} "
               f"{'channels':>8} {metric:>8} {'seconds':>8}")
    for row in rows:
        if row.refused:
            click.echo(f"{row.ref:<28} refused: {row.refused}")
            continue
        reduction = f"/{row.reduction}" if row.reduction else "-"
        click.echo(f"{row.ref:<28} {(row.revision or '')[:12]:<12} {row.cut_at:<24} "
                   f"{reduction:>9} {row.channels:>8} {row.score:>8.4f} "
                   f"{row.seconds + row.pass_seconds:>8.2f}")
    best = next((row for row in rows if not row.refused), None)
    if best is not None:
        click.echo(f"\nbest: {best.ref}@{(best.revision or '')[:12]} cut at {best.cut_at}; "
                   f"pull it with\n  zoo pull {best.ref}@{best.revision} --cut-at "
                   f"{best.cut_at} --head dense:CLASSES:softmax --out MODEL")


COMMANDS = [rank]
