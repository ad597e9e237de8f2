"""Write the benchmarks' latest tables into the README, from bench/results/.

Each table in README.md sits between `<!-- bench: NAME -->` and `<!-- /bench -->`,
and is replaced by the header and rows of bench/results/NAME.json; a marker with no
results file is an error, so a table cannot silently go stale.

    .venv/bin/python bench/readme_tables.py          # rewrites README.md
    .venv/bin/python bench/readme_tables.py --check  # exit 1 if README.md is out of date
"""

import json
import re
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parent.parent / "README.md"
OPENING = "<!-- bench: "
# a block's body never holds another block's opening: a lost closing marker is an error,
# not a reason to swallow the text up to the next block's
BLOCK = re.compile(r"(<!-- bench: (?P<name>[\w-]+) -->\n)(?:(?!<!-- bench: ).)*?"
                   r"(<!-- /bench -->)", re.S)


def markdown(header: list[str], rows: list[list]) -> str:
    line = lambda cells: "| " + " | ".join(map(str, cells)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "---|" * len(header), *map(line, rows)]) + "\n"


def table(match: re.Match) -> str:
    path = RESULTS / f"{match['name']}.json"
    if not path.is_file():
        sys.exit(f"README.md has a table for {match['name']}, but {path} does not exist")
    result = json.loads(path.read_text())
    return match[1] + markdown(result["header"], result["rows"]) + match[3]


def main() -> None:
    text = README.read_text()
    if text.count(OPENING) != len(BLOCK.findall(text)):
        sys.exit(f"{README.name}: a `{OPENING}NAME -->` has no `<!-- /bench -->` after it")
    updated = BLOCK.sub(table, text)
    if "--check" in sys.argv[1:]:
        sys.exit("README.md's bench tables are out of date: run bench/readme_tables.py"
                 if updated != text else 0)
    README.write_text(updated)
    print(f"{len(BLOCK.findall(text))} tables written into {README.name}")


if __name__ == "__main__":
    main()
