"""The README's benchmark tables are the ones in bench/results/, not copies that drift."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "readme_tables.py"


def test_readme_bench_tables_match_bench_results():
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_stale_table_is_caught_and_rewritten(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    import readme_tables

    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "demo.json").write_text(json.dumps(
        {"header": ["way", "s"], "rows": [["plain", "2.0"], ["zoo", "0.5"]]}))
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench: demo -->\n| way | s |\n|---|---|\n| old | 9 |\n"
                      "<!-- /bench -->\nafter\n")
    monkeypatch.setattr(readme_tables, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(readme_tables, "README", readme)
    monkeypatch.setattr(sys, "argv", ["readme_tables.py", "--check"])
    with pytest.raises(SystemExit, match="out of date"):
        readme_tables.main()
    monkeypatch.setattr(sys, "argv", ["readme_tables.py"])
    readme_tables.main()
    assert readme.read_text() == ("intro\n<!-- bench: demo -->\n| way | s |\n|---|---|\n"
                                  "| plain | 2.0 |\n| zoo | 0.5 |\n<!-- /bench -->\nafter\n")


def test_a_block_without_its_closing_marker_is_refused_not_swallowed(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    import readme_tables

    readme = tmp_path / "README.md"
    text = ("<!-- bench: a -->\n| old |\n<!-- /bnech -->\nprose kept\n"
            "<!-- bench: b -->\n| old |\n<!-- /bench -->\n")
    readme.write_text(text)
    monkeypatch.setattr(readme_tables, "README", readme)
    monkeypatch.setattr(sys, "argv", ["readme_tables.py"])
    with pytest.raises(SystemExit, match="has no"):
        readme_tables.main()
    assert readme.read_text() == text
