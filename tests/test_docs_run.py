"""Every command block in the README and docs/ runs as written: each page's shell
blocks in order in one empty folder, with a fresh $HOME and $ZOO_HOME and the repo's
venv on PATH, then its python blocks as one script. One test per page, so xdist
spreads them; the pages use the same small data and few epochs as examples/*.sh."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from docs_pages import blocks, copied_elsewhere, page_name, pages

BIN = Path(sys.executable).parent


def page_params():
    for page in pages():
        copies = copied_elsewhere(page)
        runnable = [block for block in blocks(page) if block.runs and block not in copies]
        if runnable:
            yield pytest.param(page, id=page_name(page))


def fresh_env(tmp_path: Path) -> dict[str, str]:
    """The user's environment without anything that points the zoo elsewhere."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ZOO_", "HF_", "XDG_", "TF_CONFIG"))}
    home = tmp_path / "home"
    home.mkdir()
    return {**env, "HOME": str(home), "ZOO_HOME": str(home / "zoo"),
            "ZOO_CACHE": str(home / "zoo-cache"), "HF_HUB_OFFLINE": "1",
            "PATH": f"{BIN}{os.pathsep}{env['PATH']}"}


def run(argv: list[str], where: str, work: Path, env: dict[str, str]) -> None:
    done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True,
                          timeout=1200)
    assert done.returncode == 0, (f"{where} failed (exit {done.returncode}):\n"
                                  f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


@pytest.mark.slow
@pytest.mark.parametrize("page", page_params())
def test_the_page_runs_as_written(page, tmp_path):
    env, work = fresh_env(tmp_path), tmp_path / "work"
    work.mkdir()
    runnable = [block for block in blocks(page) if block.runs]
    for block in runnable:
        if block.lang != "python":
            run(["bash", "-euo", "pipefail", "-c", block.shell_script()],
                f"{page_name(page)}:{block.line} ({block.lang})", work, env)
    python = [block for block in runnable if block.lang == "python"]
    if python:
        script = tmp_path / "blocks.py"
        script.write_text("\n".join(f"# {page_name(page)}:{b.line}\n{b.code}" for b in python))
        run([str(BIN / "python"), str(script)],
            f"{page_name(page)}'s python blocks (from line {python[0].line})", work, env)
