"""Write the benchmarks' latest tables into the docs pages, from bench/results/.

Each table in README.md or docs/*.md sits between `<!-- bench: NAME -->` and
`<!-- /bench -->`, and is replaced by the header and rows of bench/results/NAME.json;
a marker with no results file is an error, so a table cannot silently go stale.

    .venv/bin/python bench/docs_tables.py          # rewrites the pages that have tables
    .venv/bin/python bench/docs_tables.py --check  # exit 1 if a page is out of date
"""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
OPENING = "<!-- bench: "
# a block's body never holds another block's opening: a lost closing marker is an error,
# not a reason to swallow the text up to the next block's
BLOCK = re.compile(r"(<!-- bench: (?P<name>[\w-]+) -->\n)(?:(?!<!-- bench: ).)*?"
                   r"(<!-- /bench -->)", re.S)


def pages() -> list[Path]:
    """The pages a table may live in: the README and every docs page."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def markdown(header: list[str], rows: list[list]) -> str:
    line = lambda cells: "| " + " | ".join(map(str, cells)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "---|" * len(header), *map(line, rows)]) + "\n"


def updated(page: Path) -> str:
    """The page's text with every table rewritten from its results file."""
    text = page.read_text()
    if text.count(OPENING) != len(BLOCK.findall(text)):
        sys.exit(f"{page.name}: a `{OPENING}NAME -->` has no `<!-- /bench -->` after it")

    def table(match: re.Match) -> str:
        path = RESULTS / f"{match['name']}.json"
        if not path.is_file():
            sys.exit(f"{page.name} has a table for {match['name']}, but {path} does not exist")
        result = json.loads(path.read_text())
        return match[1] + markdown(result["header"], result["rows"]) + match[3]

    return BLOCK.sub(table, text)


def main() -> None:
    # every page is checked before any is written: one bad page leaves them all as they were
    texts = {page: updated(page) for page in pages() if page.is_file()}
    stale = [page for page, text in texts.items() if text != page.read_text()]
    if "--check" in sys.argv[1:]:
        names = ", ".join(page.name for page in stale)
        sys.exit(f"bench tables out of date in {names}: run bench/docs_tables.py"
                 if stale else 0)
    for page in stale:
        page.write_text(texts[page])
    count = sum(len(BLOCK.findall(text)) for text in texts.values())
    print(f"{count} tables checked, {len(stale)} page(s) rewritten")


if __name__ == "__main__":
    main()
