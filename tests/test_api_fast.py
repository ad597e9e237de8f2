"""The public API's face, without TensorFlow: what `import zoo` loads, that every
public name is documented, and that the API refuses what the CLI refuses, with the
same exception class and the same message. Packages are hand-built (no Keras)."""

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import refused
from forge import commit, files_of
from packages import keras_zip, make_package
from test_hostile_hub import HOSTILE_CONFIGS, resealed

import zoo
from zoo.hub import FolderHub


def same_line(exc: BaseException) -> str:
    """The line the CLI prints for an exception (whitespace folded as it does)."""
    return "zoo: error: " + " ".join(str(exc).split())


def test_import_zoo_loads_no_tensorflow_keras_numpy_or_the_card_schema():
    """`zoo predict` runs on a device with only the runtime extra: importing the API
    must not need what the card schema or training need."""
    probe = ("import sys, zoo; heavy = sorted({m.split('.')[0] for m in sys.modules} & "
             "{'tensorflow', 'keras', 'numpy', 'onnx', 'onnxruntime', 'huggingface_hub', "
             "'jsonschema'}); "
             "print(heavy)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_every_public_name_is_exported_and_documented():
    missing = [name for name in zoo.__all__ if not hasattr(zoo, name)]
    assert missing == []
    undocumented = [name for name in zoo.__all__ if name != "__version__"
                    and not inspect.getdoc(getattr(zoo, name))]
    assert undocumented == []


def test_no_submodule_shadows_a_public_name():
    """Importing `zoo.X` sets the attribute `zoo.X` to the module: a public function
    named like a sub-package or module (`zoo.train`, `zoo.pull`) would be replaced."""
    import importlib
    import pkgutil

    public = {name: getattr(zoo, name) for name in zoo.__all__}
    modules = {info.name.rsplit(".", 1)[-1] for info in pkgutil.iter_modules(zoo.__path__)}
    assert sorted(modules & set(public)) == []
    for name in sorted(modules - {"cli"}):
        importlib.import_module(f"zoo.{name}")
    assert [name for name, value in public.items() if getattr(zoo, name) is not value] == []


def test_every_public_function_shows_an_example_in_its_help():
    functions = [name for name in zoo.__all__ if inspect.isfunction(getattr(zoo, name))]
    assert {"pack", "publish", "pull", "backbone", "save", "finetune", "export", "list",
            "inspect"} <= set(functions)
    assert [name for name in functions if lacks_example(getattr(zoo, name))] == []


def lacks_example(function) -> bool:
    """True when the docstring lacks an `Example:` block with a `>>>` line."""
    doc = inspect.getdoc(function) or ""
    return "Example:" not in doc or ">>>" not in doc.split("Example:", 1)[1]


def test_every_error_class_is_exported():
    import zoo.errors as errors

    classes = {name for name, value in vars(errors).items()
               if isinstance(value, type) and issubclass(value, errors.ZooError)}
    assert classes <= set(zoo.__all__)
    assert all(getattr(zoo, name) is getattr(errors, name) for name in classes)


@pytest.fixture
def hub(tmp_path) -> FolderHub:
    return FolderHub(tmp_path / "hub")


def test_list_and_pull_through_the_api_on_a_real_folder_hub(hub, tmp_path):
    package = make_package(tmp_path / "pkg", name="toy")
    commit_sha = hub.publish(package, "zoo", "toy", tag="v1").revision
    (row,) = zoo.list(hub=hub.root)
    assert (row.owner, row.name, row.revision, row.tags) == ("zoo", "toy", commit_sha, ["v1"])
    pulled = zoo.pull(f"file://{hub.root}/toy@v1")
    assert pulled.revision == commit_sha and pulled.ref == f"file://{hub.root}/zoo/toy"
    assert pulled.card.name == "toy" and (pulled.path / "model.keras").is_file()
    copy = zoo.pull(f"file://{hub.root}/toy@v1", out=tmp_path / "copy")
    assert copy.path == tmp_path / "copy" and copy.card.files == pulled.card.files


def test_a_bad_reference_is_the_same_refusal_as_the_cli(tmp_path):
    with pytest.raises(zoo.RefError) as caught:
        zoo.pull("acme/iris/extra@v1")
    assert same_line(caught.value) == refused("pull", "acme/iris/extra@v1", "--out",
                                              tmp_path / "out")
    with pytest.raises(zoo.RefError):
        zoo.backbone("acme/iris/extra@v1", drop_top=1)


def test_bad_rebuild_options_are_refused_before_anything_is_fetched():
    with pytest.raises(zoo.ZooError, match="--cut-at or --drop-top, not both"):
        zoo.backbone("nowhere/none", cut_at="a", drop_top=1)
    with pytest.raises(zoo.ZooError, match="bad size"):
        zoo.backbone("nowhere/none", input_size=(0, 32))
    with pytest.raises(zoo.ZooError, match="expected \\(H, W\\)"):
        zoo.backbone("nowhere/none", input_size=[32.5, 32])


def test_a_refused_license_is_the_same_refusal_as_the_cli(hub, tmp_path):
    hub.publish(make_package(tmp_path / "pkg", name="nc", license="CC-BY-NC-4.0"), "zoo", "nc")
    policy = tmp_path / "policy.toml"
    policy.write_text('noncommercial = "refuse"\n')
    ref = f"file://{hub.root}/nc"
    for call in (lambda: zoo.pull(ref, policy=policy),
                 lambda: zoo.backbone(ref, drop_top=1, policy=policy)):
        with pytest.raises(zoo.LicenseRefused) as caught:
            call()
        assert same_line(caught.value) == refused("pull", ref, "--policy", policy, "--out",
                                                  tmp_path / "out")
    with pytest.warns(zoo.ZooWarning, match="non-commercial"):  # the default policy warns
        (warning,) = zoo.pull(ref).warnings
    assert "non-commercial" in warning


@pytest.mark.parametrize("why", sorted(HOSTILE_CONFIGS)[:3])
def test_a_hostile_model_under_a_resealed_card_is_refused_by_the_api_as_by_the_cli(
        hub, tmp_path, why):
    revision = hub.publish(make_package(tmp_path / "pkg", name="toy"), "zoo", "toy").revision
    repo = hub.repo_dir("zoo", "toy")
    hostile = keras_zip("toy", b"w" * 100, HOSTILE_CONFIGS[why])
    commit(repo, resealed(files_of(repo, revision), **{"model.keras": hostile}))
    ref = f"file://{hub.root}/toy"
    for call in (lambda: zoo.pull(ref), lambda: zoo.backbone(ref, drop_top=1),
                 lambda: zoo.inspect(ref)):
        with pytest.raises(zoo.UnsafeModelError) as caught:
            call()
        assert same_line(caught.value) == refused("pull", ref, "--out", tmp_path / "out")


def test_a_package_with_a_tampered_file_is_refused_when_opened(tmp_path):
    package = make_package(tmp_path / "pkg")
    (package / "README.md").write_text("changed")
    with pytest.raises(zoo.IntegrityError, match="README.md"):
        zoo.Package(package)


def test_arguments_of_the_wrong_type_get_a_zoo_error_not_a_traceback(tmp_path):
    with pytest.raises(zoo.ZooError, match="must be a path"):
        zoo.export(42, "onnx")
    with pytest.raises(zoo.ZooError, match="folder hub's path or 'hf://'"):
        zoo.publish(tmp_path, "toy", hub="s3://bucket")


def test_the_package_card_is_the_typed_card(tmp_path):
    package = zoo.Package(make_package(tmp_path / "pkg", name="typed"))
    from zoo.cards.card import Card

    assert isinstance(package.card, Card) and package.card.name == "typed"
    assert json.loads((package.path / "card.json").read_text())["name"] == "typed"
    assert package.ref is None and package.revision is None
    assert isinstance(package.path, Path)
