"""The docs cannot rot quietly: every code block either runs (tests/test_docs_run.py)
or says why not, every relative link resolves, and every `zoo` command and option the
docs name exists. No TensorFlow: the commands are checked against `zoo … --help`."""

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from docs_pages import (
    ROOT,
    DocsError,
    blocks,
    copied_elsewhere,
    inline_code,
    links,
    page_name,
    pages,
    zoo_commands,
)

ZOO = Path(sys.executable).parent / "zoo"
PAGES = [pytest.param(page, id=page_name(page)) for page in pages()]
# the words of a command that name it: `zoo hub serve` is the group `hub`, command `serve`
GROUPS = {"hub", "cache"}


@cache
def help_text(*command: str) -> str | None:
    """`zoo COMMAND --help`, or None when there is no such command."""
    done = subprocess.run([str(ZOO), *command, "--help"], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def commands_named(page: Path) -> list[list[str]]:
    named = [cmd for block in blocks(page) if block.lang in {"sh", "bash", "console"}
             for cmd in zoo_commands(block.shell_script())]
    return named + [cmd for span in inline_code(page) if span.startswith("zoo ")
                    for cmd in zoo_commands(span)]


@pytest.mark.parametrize("page", PAGES)
def test_every_code_block_runs_or_says_why_not(page):
    for block in blocks(page):
        assert block.runs or block.skip_reason or block.lang in {"toml", "text", "json", "yaml"}


@pytest.mark.parametrize("page", PAGES)
def test_every_relative_link_resolves(page):
    missing = [href for href in links(page)
               if not re.match(r"[a-z][a-z0-9+.-]*:", href) and not href.startswith("#")
               and not (page.parent / href.split("#")[0]).exists()]
    assert missing == [], f"{page_name(page)} links to missing {missing}"


@pytest.mark.parametrize("page", PAGES)
def test_every_zoo_command_and_option_the_docs_name_exists(page):
    for words in commands_named(page):
        path = [w for w in words[:2] if not w.startswith("-")]
        path = path[:2] if path and path[0] in GROUPS else path[:1]
        if not path or path[0].isupper():  # `zoo COMMAND --help`: a placeholder
            continue
        text = help_text(*path)
        assert text is not None, f"{page_name(page)}: `zoo {' '.join(path)}` is no command"
        for word in words:
            option = word.strip("[]").split("=")[0]
            if option.startswith("--"):
                assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), \
                    f"{page_name(page)}: `zoo {' '.join(path)}` has no option {option}"


@pytest.mark.parametrize("page", PAGES)
def test_the_docs_speak_of_the_product_not_its_history(page):
    text = page.read_text()
    for history in (r"\bstops? \d+", r"closing note", r"\bissue \d+", r"previous harness"):
        assert not re.search(history, text, re.I), f"{page_name(page)}: {history}"


def test_the_readme_stays_a_page_a_newcomer_reads():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 180


def test_the_quick_start_commands_are_make_targets():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("demo", "test"):
        assert re.search(rf"^{target}:", makefile, re.M)
        assert f"make {target} " in (ROOT / "README.md").read_text()


def page_with(tmp_path: Path, text: str) -> Path:
    page = tmp_path / "page.md"
    page.write_text(text)
    return page


def test_a_marker_without_a_reason_is_refused(tmp_path):
    for marker in ("<!-- not run -->", "<!-- not run: -->", "<!-- not run:   -->"):
        page = page_with(tmp_path, f"intro\n\n{marker}\n```sh\nzoo list\n```\n")
        with pytest.raises(DocsError, match="needs a reason"):
            blocks(page)


def test_a_marker_must_stand_right_before_its_block(tmp_path):
    page = page_with(tmp_path, "<!-- not run: several hosts -->\n\nprose between\n\n"
                               "```sh\nzoo list\n```\n")
    with pytest.raises(DocsError, match="no code block right after it"):
        blocks(page)
    with pytest.raises(DocsError, match="no code block right after it"):
        blocks(page_with(tmp_path, "text\n\n<!-- not run: a GPU -->\n"))


def test_a_marked_block_is_not_run_and_keeps_its_reason(tmp_path):
    page = page_with(tmp_path, "<!-- not run: downloads ImageNet weights -->\n```sh\n"
                               "zoo pack keras:VGG16 --weights imagenet --out v\n```\n\n"
                               "```bash\nzoo list\n```\n")
    marked, plain = blocks(page)
    assert (marked.runs, marked.skip_reason) == (False, "downloads ImageNet weights")
    assert (plain.runs, plain.skip_reason, plain.line) == (True, None, 6)


def test_blocks_without_a_language_or_indented_are_refused(tmp_path):
    with pytest.raises(DocsError, match="needs a language"):
        blocks(page_with(tmp_path, "```\nzoo list\n```\n"))
    with pytest.raises(DocsError, match="indented code block"):
        blocks(page_with(tmp_path, "text\n\n    zoo list\n"))


def test_a_console_block_runs_its_prompt_lines_only(tmp_path):
    (block,) = blocks(page_with(tmp_path, "```console\n$ zoo list\niris  v1\n$ zoo inspect iris\n"
                                          "```\n"))
    assert block.shell_script() == "zoo list\nzoo inspect iris"


def test_zoo_commands_are_found_through_continuations_and_chains():
    script = ("HF_ENDPOINT=http://h zoo pull hf://a/b@v1 --out b   # a comment --no\n"
              "zoo publish r r --tag v1 && zoo pull r@v1 \\\n    --cut-at x --out m\n"
              "ls | zoo predict bundle -\n")
    assert zoo_commands(script) == [["pull", "hf://a/b@v1", "--out", "b"],
                                    ["publish", "r", "r", "--tag", "v1"],
                                    ["pull", "r@v1", "--cut-at", "x", "--out", "m"],
                                    ["predict", "bundle", "-"]]


def test_an_unknown_command_or_option_is_caught():
    assert help_text("pull") is not None and help_text("no-such-command") is None
    assert not re.search(r"(?<![\w-])--no-such-option(?![\w-])", help_text("pull"))


def test_the_readme_examples_run_as_first_steps_of_the_docs_pages():
    """The README's examples are run by the pages that hold them verbatim (each once)."""
    readme = next(page for page in pages() if page_name(page) == "README.md")
    runnable = [block for block in blocks(readme) if block.runs]
    assert {block.lang for block in runnable} == {"sh", "python"}
    assert copied_elsewhere(readme) == runnable
