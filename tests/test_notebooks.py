"""The seed workflows as notebooks (examples/notebooks/): the Python API and the user's
own Keras code, executed top to bottom so they cannot rot.

Each notebook runs in a fresh kernel on this Python, in a folder of its own with a
fresh ZOO_HOME, ZOO_CACHE and HOME, at the small sizes its shell example's test uses
(tests/test_examples.py), and on the same base network: the `seed_base` fixture makes
each base once per run and both get a copy of its hub. The notebooks assert what they
claim (frozen weights bit-identical, lineage, license, parity), so a failing cell fails
the test, with its source and error in the message.
"""

import ast
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from called import first_arguments

NOTEBOOKS = Path(__file__).resolve().parent.parent / "examples" / "notebooks"
KERNEL = "backbone-zoo-test"
CELL_TIMEOUT = 600  # seconds for one cell; the longest trains a small model for an epoch
ALLOWED_IMPORTS = {"zoo", "keras", "numpy", "pathlib"}  # the API, Keras, NumPy and paths
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def kernel_home(tmp_path: Path) -> Path:
    """A JUPYTER_PATH holding one kernelspec: ipykernel on the Python running the tests."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "backbone-zoo tests", "language": "python"}))
    return tmp_path / "jupyter"


def with_parameters(notebook: Any, parameters: dict[str, Any]) -> None:
    """Insert the test's settings after the cell tagged `parameters` (papermill's
    convention), so the notebook keeps its own defaults for readers."""
    index = next(i for i, cell in enumerate(notebook.cells)
                 if "parameters" in cell.metadata.get("tags", []))
    source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(index + 1, cell)


def failure(name: str, notebook: Any) -> str:
    """The failing cell's source and its error, for the assertion message."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                trace = ANSI.sub("", "\n".join(output.get("traceback", [])))
                return (f"{name}, In [{cell.execution_count}]:\n{cell.source}\n\n"
                        f"{trace[-3000:]}")
    return f"{name}: failed outside a cell"


def run_notebook(name: str, work: Path, **parameters: Any) -> Any:
    """Execute examples/notebooks/NAME in `work` (its own zoo home, cache and HOME) with
    these parameters; the executed notebook, or a failure naming the cell."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    with_parameters(notebook, parameters)
    (work / "home").mkdir(exist_ok=True)
    jupyter = {"JUPYTER_PATH": str(kernel_home(work)),  # read here, to find the kernelspec
               "JUPYTER_RUNTIME_DIR": str(work / "jupyter-runtime")}
    env = {**os.environ, **jupyter, "HOME": str(work / "home"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "ZOO_HOME": str(work / "zoo-home"), "ZOO_CACHE": str(work / "zoo-cache"),
           "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1", "MPLBACKEND": "Agg"}
    client = NotebookClient(notebook, kernel_name=KERNEL, timeout=CELL_TIMEOUT,
                            resources={"metadata": {"path": str(work)}})
    failed = None
    with pytest.MonkeyPatch.context() as patch:
        for key, value in jupyter.items():
            patch.setenv(key, value)
        try:
            client.execute(env=env)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
            failed = f"{failure(name, notebook)}\n({type(exc).__name__})"
    if failed:  # outside the except: the message alone, not nbclient's copy of it too
        pytest.fail(failed, pytrace=False)
    return notebook


@pytest.mark.slow
def test_iris_notebook_trains_saves_publishes_pulls_and_exports(tmp_path, seed_base):
    base = seed_base("iris", tmp_path / "zoo-home")
    run_notebook("iris.ipynb", tmp_path, BASE=base.name)
    assert (tmp_path / "iris4-tuned" / "card.json").is_file()


@pytest.mark.slow
def test_vgg16_notebook_freezes_the_later_layers_of_the_first_ten(tmp_path, seed_base):
    base = seed_base("vgg16", tmp_path / "zoo-home")
    run_notebook("vgg16_first_layers.ipynb", tmp_path, EPOCHS=1, PER_CLASS=4, BASE=base.name)
    assert (tmp_path / "vgg16-tuned" / "card.json").is_file()


@pytest.mark.slow
def test_efficientnet_notebook_runs_two_phases(tmp_path, seed_base):
    base = seed_base("effnetb0", tmp_path / "zoo-home")
    run_notebook("efficientnet_two_phase.ipynb", tmp_path, EPOCHS=1, PER_CLASS=4,
                 BASE=base.name)
    assert (tmp_path / "effnet-tuned" / "training_curves.png").is_file()


@pytest.mark.slow
def test_inception_notebook_cuts_at_mixed7(tmp_path, seed_base):
    base = seed_base("inceptionv3", tmp_path / "zoo-home")
    run_notebook("inception_mixed7.ipynb", tmp_path, EPOCHS=1, PER_CLASS=4, BASE=base.name)
    assert (tmp_path / "inception-tuned" / "card.json").is_file()


@pytest.mark.slow
def test_mobilenetv2_notebook_compares_transfer_and_scratch(tmp_path, seed_base):
    base = seed_base("mobilenetv2", tmp_path / "zoo-home")
    run_notebook("mobilenetv2_small_images.ipynb", tmp_path, EPOCHS=1, PER_CLASS=4,
                 BASE=base.name)
    assert (tmp_path / "mobilenet-head" / "card.json").is_file()


@pytest.mark.slow
def test_fer_notebook_transfers_a_real_pretrained_backbone(tmp_path, seed_base):
    # The shell example's test settings: digits 0-4, 5 labels each, 15 epochs.
    base = seed_base("fer-emotion", tmp_path / "zoo-home")
    run_notebook("fer_transfer.ipynb", tmp_path, CLASSES="0-4", PER_CLASS=5, EPOCHS=15,
                 BASE=base.name)
    assert (tmp_path / "fer-digits-tuned" / "exports").is_dir()


# --- the fast tier: the notebooks as files -------------------------------------------

def notebook_names() -> list[str]:
    return sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))


def notebooks_run_by_tests() -> set[str]:
    return first_arguments(Path(__file__), "run_notebook")


def imported_modules(source: str) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add((node.module or "").split(".")[0])
    return modules


def test_there_are_the_six_seed_notebooks():
    assert notebook_names() == sorted([
        "iris.ipynb", "vgg16_first_layers.ipynb", "efficientnet_two_phase.ipynb",
        "inception_mixed7.ipynb", "mobilenetv2_small_images.ipynb", "fer_transfer.ipynb"])


@pytest.mark.parametrize("name", notebook_names())
def test_every_notebook_is_run_by_a_test(name):
    assert name in notebooks_run_by_tests()


@pytest.mark.parametrize("name", notebook_names())
def test_notebook_is_committed_without_outputs(name):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    stored = [index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"
              and (cell.outputs or cell.execution_count is not None)]
    assert not stored, f"{name}: cells {stored} hold outputs; clear them before committing"


@pytest.mark.parametrize("name", notebook_names())
def test_notebook_uses_the_python_api_and_no_shell(name):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    shell = [line for source in code for line in source.splitlines()
             if line.lstrip().startswith(("!", "%"))]
    assert not shell, f"{name}: shell escapes or magics {shell}"
    imported = set().union(*(imported_modules(source) for source in code))
    assert imported <= ALLOWED_IMPORTS, f"{name} imports {sorted(imported - ALLOWED_IMPORTS)}"
    assert "zoo" in imported
    calls = {node.func.attr for source in code for node in ast.walk(ast.parse(source))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    assert not calls & {"system", "popen", "spawnl", "execv"}, f"{name} runs a command"


@pytest.mark.parametrize("name", notebook_names())
def test_notebook_has_one_parameters_cell_and_explains_each_step(name):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    tagged = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: one cell tagged 'parameters', for the tests' settings"
    assert "BASE = None" in tagged[0].source  # the producer step runs unless told otherwise
    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds[0] == "markdown" and kinds.count("markdown") >= 4, name
