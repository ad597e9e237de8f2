"""The docs as the tests read them: the pages, their fenced code blocks, the
`<!-- not run: REASON -->` markers, links and `zoo` commands.

A page's shell blocks (`sh`, `bash`, `console`) run in order in one scratch folder;
its `python` blocks run after them, joined into one script. A block that cannot run
here (a download from the internet, several hosts, a GPU) carries a marker with a
reason on the line right before it; a marker without a reason, or with no block after
it, is refused, so nothing is left out silently.
"""

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parent.parent
SHELL = {"sh", "bash", "console"}
RUNNABLE = SHELL | {"python"}
# languages of blocks that are shown, never run (a policy file, a grammar)
SHOWN = {"toml", "text", "json", "yaml"}
MARKER = re.compile(r"<!--\s*not run(?P<colon>:)?(?P<reason>.*?)-->", re.S)


class DocsError(Exception):
    """A page the harness refuses: a marker without a reason, a block without a language."""


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    skip_reason: str | None  # the marker's reason, None for a block that runs

    @property
    def runs(self) -> bool:
        return self.skip_reason is None and self.lang in RUNNABLE

    def shell_script(self) -> str:
        """The commands of the block: a console block's `$ ` lines, or all of it."""
        if self.lang != "console":
            return self.code
        return "\n".join(line[2:] for line in self.code.splitlines() if line.startswith("$ "))


def pages() -> list[Path]:
    """README.md and every docs page."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def page_name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def tokens(text: str):
    return MarkdownIt("commonmark").parse(text)


def blocks(page: Path, text: str | None = None) -> list[Block]:
    """Every fenced block of a page, with the marker that precedes it, if any."""
    text = page.read_text() if text is None else text
    found, pending = [], None
    for token in tokens(text):
        if token.type == "html_block" and (marker := MARKER.search(token.content)):
            reason = marker["reason"].strip()
            if not marker["colon"] or not reason:
                raise DocsError(f"{page.name}:{token.map[0] + 1}: a 'not run' marker needs a "
                                "reason: <!-- not run: downloads ImageNet weights -->")
            if pending is not None:
                raise DocsError(f"{page.name}:{pending[1]}: a 'not run' marker with no code "
                                "block right after it")
            pending = (reason, token.map[0] + 1)
            continue
        if token.type == "fence":
            lang = token.info.split()[0] if token.info.strip() else ""
            if lang not in RUNNABLE | SHOWN:
                raise DocsError(f"{page.name}:{token.map[0] + 1}: a code block needs a language "
                                f"({', '.join(sorted(RUNNABLE | SHOWN))}), not {lang!r}")
            found.append(Block(page.name, token.map[0] + 1, lang, token.content,
                               pending[0] if pending else None))
            pending = None
        elif token.type == "code_block":
            raise DocsError(f"{page.name}:{token.map[0] + 1}: an indented code block; fence it "
                            "with its language so the tests can run it")
        elif pending is not None:
            raise DocsError(f"{page.name}:{pending[1]}: a 'not run' marker with no code block "
                            "right after it")
    if pending is not None:
        raise DocsError(f"{page.name}:{pending[1]}: a 'not run' marker with no code block "
                        "right after it")
    return found


def links(page: Path) -> list[str]:
    """Every link target of a page."""
    found = []
    for token in tokens(page.read_text()):
        for child in token.children or ():
            if child.type == "link_open":
                found.append(child.attrs["href"])
    return found


def inline_code(page: Path) -> list[str]:
    """Every inline code span of a page."""
    return [child.content for token in tokens(page.read_text())
            for child in token.children or () if child.type == "code_inline"]


def zoo_commands(script: str) -> list[list[str]]:
    """The argument lists of the `zoo` commands in a shell snippet (comments,
    continuations, `&&`, `|` and environment assignments understood)."""
    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        try:
            words = list(lexer)
        except ValueError:  # an unbalanced quote in prose: not a command
            continue
        current: list[str] = []
        for word in words + [";"]:
            if word.strip(";&|()") == "":
                commands.append(current)
                current = []
            elif current or not re.fullmatch(r"\w+=.*", word):
                current.append(word)
    return [words[1:] for words in commands if len(words) > 1 and words[0] == "zoo"]


def copied_elsewhere(page: Path) -> list[Block]:
    """The runnable blocks of `page` that another page runs too, verbatim, as one of
    its own blocks: the README's examples are the first steps of docs/cli.md and
    docs/python.md, run there once rather than twice."""
    others = {block.code for other in pages() if other != page
              for block in blocks(other) if block.runs}
    return [block for block in blocks(page) if block.runs and block.code in others]
