"""The docs' benchmark tables are the ones in bench/results/, not copies that drift."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "docs_tables.py"


@pytest.fixture
def docs_tables(tmp_path, monkeypatch):
    """bench/docs_tables.py pointed at a scratch repository with a results folder."""
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    import docs_tables

    (tmp_path / "results").mkdir()
    (tmp_path / "docs").mkdir()
    monkeypatch.setattr(docs_tables, "ROOT", tmp_path)
    monkeypatch.setattr(docs_tables, "RESULTS", tmp_path / "results")
    return docs_tables


def test_docs_bench_tables_match_bench_results():
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_speed_page_holds_the_benchmark_tables():
    """The tables moved with their section: a page that lost its markers is caught."""
    speed = (ROOT / "docs" / "speed.md").read_text()
    for name in ("finetune_speed", "prefix_onnx", "inference_latency", "int8_real",
                 "int8_ablation", "int8_profile", "cli_startup"):
        assert f"<!-- bench: {name} -->" in speed, name
    assert "<!-- bench: distribute_wall -->" in (ROOT / "docs" / "distribute.md").read_text()


def test_a_stale_table_in_a_docs_page_is_caught_and_rewritten(docs_tables, tmp_path,
                                                              monkeypatch):
    (tmp_path / "results" / "demo.json").write_text(json.dumps(
        {"header": ["way", "s"], "rows": [["plain", "2.0"], ["zoo", "0.5"]]}))
    page = tmp_path / "docs" / "speed.md"
    page.write_text("intro\n<!-- bench: demo -->\n| way | s |\n|---|---|\n| old | 9 |\n"
                    "<!-- /bench -->\nafter\n")
    monkeypatch.setattr(sys, "argv", ["docs_tables.py", "--check"])
    with pytest.raises(SystemExit, match="out of date in speed.md"):
        docs_tables.main()
    monkeypatch.setattr(sys, "argv", ["docs_tables.py"])
    docs_tables.main()
    assert page.read_text() == ("intro\n<!-- bench: demo -->\n| way | s |\n|---|---|\n"
                                "| plain | 2.0 |\n| zoo | 0.5 |\n<!-- /bench -->\nafter\n")


def test_a_table_in_the_readme_is_kept_in_sync_too(docs_tables, tmp_path, monkeypatch):
    (tmp_path / "results" / "demo.json").write_text(json.dumps(
        {"header": ["a"], "rows": [["new"]]}))
    readme = tmp_path / "README.md"
    readme.write_text("<!-- bench: demo -->\n| a |\n|---|\n| old |\n<!-- /bench -->\n")
    monkeypatch.setattr(sys, "argv", ["docs_tables.py"])
    docs_tables.main()
    assert "| new |" in readme.read_text()


def test_a_table_without_results_is_refused(docs_tables, tmp_path, monkeypatch):
    page = tmp_path / "docs" / "edge.md"
    page.write_text("<!-- bench: gone -->\n| old |\n<!-- /bench -->\n")
    monkeypatch.setattr(sys, "argv", ["docs_tables.py"])
    with pytest.raises(SystemExit, match="edge.md has a table for gone"):
        docs_tables.main()


def test_a_block_without_its_closing_marker_is_refused_not_swallowed(docs_tables, tmp_path,
                                                                     monkeypatch):
    page = tmp_path / "docs" / "speed.md"
    text = ("<!-- bench: a -->\n| old |\n<!-- /bnech -->\nprose kept\n"
            "<!-- bench: b -->\n| old |\n<!-- /bench -->\n")
    page.write_text(text)
    monkeypatch.setattr(sys, "argv", ["docs_tables.py"])
    with pytest.raises(SystemExit, match="has no"):
        docs_tables.main()
    assert page.read_text() == text
