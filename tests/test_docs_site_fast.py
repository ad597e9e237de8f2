"""The docs site builds with `mkdocs build --strict` (a broken link fails it), and its
API reference documents every public name of `import zoo` from the docstrings. The
build reads the code statically (griffe): no TensorFlow is imported."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MKDOCS = Path(sys.executable).parent / "mkdocs"


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(MKDOCS), "build", "--strict", "--config-file", str(config),
                           "--site-dir", str(site)], capture_output=True, text=True,
                          env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"})


def api_members() -> list[str]:
    """The names docs/api.md asks mkdocstrings to document."""
    return re.findall(r"^\s+- (\w+)$", (ROOT / "docs" / "api.md").read_text(), re.M)


def test_the_docs_site_builds_strict_with_every_public_name(tmp_path):
    done = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    reference = (tmp_path / "site" / "api" / "index.html").read_text()
    for name in api_members():
        assert f'id="zoo.{name}"' in reference, f"the API reference has no zoo.{name}"


def test_the_api_reference_names_the_whole_public_api():
    import zoo

    assert api_members() == [name for name in zoo.__all__ if name != "__version__"]


def test_every_public_name_has_a_docstring_the_reference_can_read():
    """What mkdocstrings reads: `zoo`'s names, resolved statically to their modules."""
    import griffe

    package = griffe.load("zoo", search_paths=[str(ROOT)], resolve_aliases=True)
    for name in api_members():
        assert name in package.members, f"zoo.{name} is not statically importable"
        member = package.members[name]
        assert member.docstring and member.docstring.value.strip(), f"zoo.{name}: no docstring"


def test_a_broken_link_fails_the_strict_build(tmp_path):
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    config = (ROOT / "mkdocs.yml").read_text()
    assert "paths: [.]" in config
    (tmp_path / "mkdocs.yml").write_text(config.replace("paths: [.]", f"paths: [{ROOT}]"))
    cli = tmp_path / "docs" / "cli.md"
    cli.write_text(cli.read_text() + "\nSee [the gone page](no-such-page.md).\n")
    done = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    assert "no-such-page.md" in done.stdout + done.stderr
