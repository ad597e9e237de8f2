"""The names a saved Keras model may use: the allow-list of `model_scan`, as data.

`keras_names.json` (next to this file) lists every (module, class_name) pair and every
function name the installed Keras writes into a model config for something the zoo
knows to be inert: layers, operations, activations, initializers, regularizers,
constraints, losses, metrics, optimizers, learning-rate schedules, dtype policies and
quantizers. It is generated, not typed, from Keras' own export registry and class
tree, so it says exactly what Keras itself would resolve those names to:

    python -m zoo.trust.keras_names --write    # after upgrading Keras
    python -m zoo.trust.keras_names --check    # exit 1 if the checked-in list is stale

Names are left out when they are not inert: whole namespaces that fetch, save, load
or configure (keras.applications, keras.utils, keras.saving, keras.config, ...), and
classes that run code or read files the config names (`DENIED_CLASSES`, plus any
class whose constructor takes a callable or a file: `CODE_PARAMETERS`).

`model_scan` reads only the JSON (`allowed_names`), so the fast tier and every scan
stay free of TensorFlow and Keras; this module imports Keras only to generate it.
"""

import argparse
import inspect
import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

NAMES_FILE = Path(__file__).with_name("keras_names.json")

# The public namespaces whose classes are modelling parts (the canonical export name,
# which is what Keras writes as "module"). Not keras.applications, keras.utils,
# keras.saving, keras.config, keras.callbacks, keras.export, keras.datasets,
# keras.backend, keras.distribution, keras.wrappers, keras.preprocessing, ...
CLASS_NAMESPACES = frozenset({
    "keras", "keras.layers", "keras.models", "keras.initializers", "keras.regularizers",
    "keras.constraints", "keras.losses", "keras.metrics", "keras.optimizers",
    "keras.optimizers.schedules", "keras.dtype_policies", "keras.quantizers",
})
# Where Keras keeps classes it writes under their own module path (no public name):
# Functional, the ops a functional graph records (keras.src.ops.numpy.Add), layers
# private to an application (convnext.LayerScale). Never keras.src.saving, utils, ...
SOURCE_PACKAGES = ("keras.src.layers.", "keras.src.ops.", "keras.src.models.",
                   "keras.src.applications.", "keras.src.activations.",
                   "keras.src.losses.", "keras.src.metrics.", "keras.src.optimizers.",
                   "keras.src.quantizers.", "keras.src.dtype_policies.")
SOURCE_EXCLUDED = ("keras.src.layers.preprocessing.feature_space",  # keras.utils.FeatureSpace
                   "keras.src.backend.")
# Functions: only these, by name (Keras writes them as keras.<namespace> or, in compile
# configs, as module "builtins", which Keras resolves by searching BUILTIN_MODULES).
FUNCTION_NAMESPACES = ("keras.activations", "keras.losses", "keras.metrics")
BUILTIN_MODULES = ("activations", "constraints", "initializers", "losses", "metrics",
                   "optimizers", "regularizers")  # keras.src.saving.serialization_lib
NOT_MODELLING_FUNCTIONS = frozenset({"get", "serialize", "deserialize"})
# Classes that run code or read what their config names; refused by name.
DENIED_CLASSES = frozenset({
    "Lambda", "TFSMLayer", "TorchModuleWrapper", "JaxLayer", "FlaxLayer",
    "TFOpLambda", "SlicingOpLambda",
    # control flow ops: each takes Python callables
    "Map", "Scan", "AssociativeScan", "Switch", "WhileLoop", "ForiLoop", "Cond",
    "VectorizedMap",
})
# A constructor parameter with one of these names takes code or a path: its class is
# left out even when it is not in DENIED_CLASSES (a new Keras' new wrapper).
CODE_PARAMETERS = frozenset({
    "function", "fn", "f", "func", "call_fn", "init_fn", "body", "cond", "true_fn",
    "false_fn", "branches", "module", "filepath", "file_path", "call_endpoint",
})


@dataclass(frozen=True)
class KerasNames:
    """The allow-list: what `model_scan` accepts from a Keras model config."""

    classes: frozenset[tuple[str, str]]  # (module, class_name) as Keras writes them
    class_names: frozenset[str]  # bare names, for legacy configs that carry no module
    functions: dict[str, frozenset[str]]  # module -> function names, incl. "builtins"


@cache
def allowed_names() -> KerasNames:
    """The checked-in allow-list (JSON only: no Keras import)."""
    data = json.loads(NAMES_FILE.read_text())
    classes = frozenset((module, name) for module, name in data["classes"])
    return KerasNames(classes, frozenset(name for _, name in classes),
                      {module: frozenset(names) for module, names in data["functions"].items()})


def _takes_code(cls: type) -> bool:
    try:
        parameters = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return False
    return bool(CODE_PARAMETERS & set(parameters))


def _subclasses(root: type) -> set[type]:
    found, stack = set(), [root]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                stack.append(sub)
    return found


def _inert(cls: type) -> bool:
    return (cls.__name__ not in DENIED_CLASSES and not cls.__name__.startswith("_")
            and hasattr(cls, "from_config") and not _takes_code(cls))


def generate() -> dict:
    """The allow-list from the installed Keras (imports it, and so a backend)."""
    import keras
    import keras.applications  # noqa: F401  (their private layers join the class tree)
    from keras.src import api_export
    from keras.src.saving.keras_saveable import KerasSaveable

    classes, functions = set(), {namespace: set() for namespace in FUNCTION_NAMESPACES}
    public = api_export.REGISTERED_OBJS_TO_NAMES
    for symbol, name in public.items():
        module, _, short = name.rpartition(".")
        if isinstance(symbol, type):
            if module in CLASS_NAMESPACES and _inert(symbol):
                classes.add((module, short))
        elif callable(symbol) and module in FUNCTION_NAMESPACES \
                and short not in NOT_MODELLING_FUNCTIONS:
            functions[module].add(short)
    for cls in _subclasses(KerasSaveable):
        module = cls.__module__
        if cls not in public and module.startswith(SOURCE_PACKAGES) \
                and not module.startswith(SOURCE_EXCLUDED) and _inert(cls):
            classes.add((module, cls.__name__))
    # "builtins": Keras tries keras.<m>.<name> for every m in BUILTIN_MODULES, in no set
    # order, so a name is allowed only if every one it may resolve to is allowed.
    allowed = set().union(*functions.values())
    builtins = set()
    for name in allowed:
        hits = [f"keras.{m}.{name}" for m in BUILTIN_MODULES
                if api_export.get_symbol_from_name(f"keras.{m}.{name}") is not None]
        if all(hit.rpartition(".")[0] in functions and name in functions[hit.rpartition(".")[0]]
               for hit in hits):
            builtins.add(name)
    functions["builtins"] = builtins
    return {"keras_version": keras.__version__,
            "classes": sorted(classes),
            "functions": {module: sorted(names) for module, names in sorted(functions.items())}}


def render(data: dict) -> str:
    return json.dumps(data, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zoo.trust.keras_names",
                                     description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help=f"write {NAMES_FILE.name}")
    action.add_argument("--check", action="store_true",
                        help=f"exit 1 if {NAMES_FILE.name} differs from the installed Keras")
    args = parser.parse_args(argv)
    text = render(generate())
    if args.write:
        NAMES_FILE.write_text(text)
        return 0
    if NAMES_FILE.is_file() and NAMES_FILE.read_text() == text:
        return 0
    print(f"{NAMES_FILE} is stale against the installed Keras; run "
          "python -m zoo.trust.keras_names --write", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
