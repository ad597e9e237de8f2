"""backbone-zoo: package, publish, pull and adapt transferable backbones.

The public API, for notebooks and scripts; the `zoo` command is a shell over it.

    >>> import keras, zoo
    >>> base = zoo.backbone("iris@v1", drop_top=1, freeze_until="hidden2")
    >>> model = keras.Model(base.input, keras.layers.Dense(4, activation="softmax")(base.output))
    >>> model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> model.fit(x, y, epochs=50)
    >>> pkg = zoo.save(model, "iris4-pkg", license="MIT")   # lineage and license kept
    >>> zoo.publish(pkg, "iris4", tag="v1")

`import zoo` loads no TensorFlow: the calls that need it import it. The
environment defaults below keep it quiet whichever module loads it first.
Errors are `zoo.ZooError` and its subclasses, with the messages the CLI prints.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__version__ = "0.1.0"

from zoo.api.consume import backbone, derive, pull  # noqa: E402
from zoo.api.deploy import export, predict  # noqa: E402
from zoo.api.hub import (  # noqa: E402
    clean_cache,
    inspect,
    mirror,
    progress_bars,
    serve,
    stop_serving,
    verify_cache,
    write_site,
)
from zoo.api.hub import list_packages as list  # noqa: E402,A001
from zoo.api.package import Package  # noqa: E402
from zoo.api.rank import Ranked, rank  # noqa: E402
from zoo.api.produce import (  # noqa: E402
    Published,
    dataset,
    import_backbone,
    pack,
    publish,
    save,
    train_recipe,
)
from zoo.api.tuning import Finetuned, compare, evaluate, finetune  # noqa: E402
from zoo.errors import (  # noqa: E402
    CardError,
    DataError,
    ExportError,
    IntegrityError,
    LayerNotFound,
    LicenseRefused,
    ModelError,
    RefError,
    SignatureError,
    UnsafeModelError,
    UnsafePathError,
    ZooError,
    ZooWarning,
)

__all__ = [
    "__version__",
    # producing
    "train_recipe", "dataset", "pack", "import_backbone", "save", "publish",
    # consuming
    "rank", "pull", "backbone", "derive", "finetune", "evaluate", "compare", "export",
    "predict",
    # hubs
    "list", "inspect", "progress_bars", "serve", "stop_serving", "write_site", "mirror",
    "verify_cache", "clean_cache",
    # values
    "Package", "Finetuned", "Published", "Ranked",
    # errors
    "ZooError", "ZooWarning", "RefError", "IntegrityError", "UnsafePathError", "UnsafeModelError",
    "SignatureError", "CardError", "LicenseRefused", "LayerNotFound", "DataError",
    "ModelError", "ExportError",
]
