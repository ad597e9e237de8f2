"""zoo finetune: train a package's trainable layers, in one or two phases."""


import click
from zoo.cli.options import data_option, force_option, label_column_option, out_option, progress
from zoo.train.settings import (
    STRATEGIES,
    WORKER_TIMEOUT,
    FitSettings,
    Phase2,
)


@click.command()
@click.argument("package_dir", type=click.Path(file_okay=False))
@data_option
@label_column_option
@click.option("--epochs", default=FitSettings.epochs, show_default=True,
              type=click.IntRange(1))
@click.option("--batch-size", default=FitSettings.batch_size, show_default=True,
              type=click.IntRange(1))
@click.option("--lr", "learning_rate", default=FitSettings.learning_rate, show_default=True,
              type=click.FloatRange(0, min_open=True))
@click.option("--validation-split", default=FitSettings.validation_split, show_default=True,
              type=click.FloatRange(0, 1, min_open=True, max_open=True))
@click.option("--patience", type=click.IntRange(1), help="Stop a phase after N epochs "
              "without a better validation loss, keeping the best weights.")
@click.option("--phase2-unfreeze-from", help="Phase 2: also train the layers from this one "
              "on (the base's BatchNorm stays frozen).")
@click.option("--phase2-lr", default=Phase2.learning_rate, show_default=True,
              type=click.FloatRange(0, min_open=True))
@click.option("--phase2-epochs", default=Phase2.epochs, show_default=True,
              type=click.IntRange(1))
@click.option("--seed", default=FitSettings.seed, show_default=True)
@click.option("--no-feature-cache", is_flag=True, help="Train the whole model even when its "
              "frozen prefix could run once and be cached.")
@click.option("--strategy", type=click.Choice(STRATEGIES), default="none", show_default=True,
              help="mirrored: this machine's GPUs (or --devices N CPUs); multi-worker: "
                   "every host in TF_CONFIG runs this same command. Both train in the zoo's "
                   "own loop on tf.distribute; --batch-size and --lr are the global batch's.")
@click.option("--devices", type=click.IntRange(1), help="mirrored: train on this many GPUs, "
              "or split the CPU into this many devices where there is no GPU.")
@click.option("--worker-timeout", default=WORKER_TIMEOUT, show_default=True,
              type=click.FloatRange(0, min_open=True),
              help="multi-worker: seconds to wait for the other workers (at the start, at "
                   "each step, at the end) before giving up with an error.")
@click.option("--listen-all-interfaces", is_flag=True,
              help="multi-worker: accept that TensorFlow's worker server listens on every "
                   "network interface, whatever host TF_CONFIG names (it cannot bind to one); "
                   "only on a trusted network or behind a firewall.")
@out_option
@force_option
def finetune(package_dir: str, data: str, label_column: str | None, epochs: int,
             batch_size: int, learning_rate: float, validation_split: float,
             patience: int | None, phase2_unfreeze_from: str | None, phase2_lr: float,
             phase2_epochs: int, seed: int, no_feature_cache: bool, strategy: str,
             devices: int | None, worker_timeout: float, listen_all_interfaces: bool,
             out: str, force: bool) -> None:
    """Train the trainable layers of a package; frozen layers stay bit-identical.

    With --phase2-unfreeze-from, a second phase unfreezes the top of the
    network at a low learning rate. Curves go to training_curves.png. When the
    frozen layers form a prefix of the graph, phase 1 runs that prefix once
    (in onnxruntime, checked against Keras on a sample), caches its features and
    trains the rest on them (same result, faster).

    With --strategy multi-worker, each worker trains on its replicas' share of every
    global batch and only the chief (TF_CONFIG's chief, else worker 0) writes --out.
    TensorFlow's worker server listens on every interface, whatever host TF_CONFIG
    names, and obeys any peer that reaches it: joining a cluster needs
    --listen-all-interfaces, your word that its port is on a trusted network.

    \b
    Examples:  zoo finetune iris4-model --data iris4-train.csv --epochs 100 --out tuned
               zoo finetune effnet-head --data train.npz --epochs 10 --patience 3 \\
                   --phase2-unfreeze-from block7a_expand_conv --phase2-lr 1e-5 \\
                   --phase2-epochs 5 --out effnet-tuned
               zoo finetune iris4-model --data iris4-train.csv --strategy mirrored \\
                   --devices 2 --out tuned
               TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
                 "task": {"type": "worker", "index": 0}}' \\
                   zoo finetune iris4-model --data iris4-train.csv --strategy multi-worker \\
                   --listen-all-interfaces --out tuned   (the same on host2, "index": 1)
    """
    import zoo

    tuned = zoo.finetune(package_dir, data, epochs=epochs, batch_size=batch_size,
                         lr=learning_rate, validation_split=validation_split, patience=patience,
                         phase2_unfreeze_from=phase2_unfreeze_from, phase2_lr=phase2_lr,
                         phase2_epochs=phase2_epochs, seed=seed,
                         feature_cache=not no_feature_cache, strategy=strategy, devices=devices,
                         worker_timeout=worker_timeout,
                         listen_all_interfaces=listen_all_interfaces, label_column=label_column,
                         out=out, force=force, progress=progress)
    card = tuned.card
    cached = card.lineage.finetune[-1].phases[0].feature_cache if card.lineage else None
    if cached and cached.reason:
        click.echo(f"zoo: warning: the frozen prefix ran in Keras: {cached.reason}", err=True)
    where = out if tuned.package is not None \
        else "nothing written by this worker: the chief writes the package"
    click.echo(f"validation accuracy {card.metrics['accuracy'].value:.4f}, loss "
               f"{card.metrics['loss'].value:.4f} -> {where}")


COMMANDS = [finetune]
