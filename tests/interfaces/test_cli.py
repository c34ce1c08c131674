"""The CLI end to end: the core demo's numbers, ledger summary/export, --help everywhere, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tokenomy.interfaces.cli import build_parser, main


def test_core_demo_prints_and_writes_the_worked_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo.json"
    assert main(["demo", "--only", "core", "--out", str(tmp_path), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "crossover V* = 20" in text and "V* = 10" in text
    core = json.loads(out.read_text())["sections"]["core"]
    rows = core["worked_example"]["table"]
    assert [(r["V"], r["surplus_cheap"], r["surplus_frontier"], r["choice"]) for r in rows] == [
        (10.0, 6.0, 4.0, "cheap"),
        (100.0, 69.0, 85.0, "frontier"),
    ]
    assert core["worked_example"]["v_star"] == 20.0 and core["worked_example"]["v_star_with_risk"] == 10.0
    assert core["allocation"]["kkt_max_residual"] < 1e-6
    assert core["discovery"]["lam_path_usd_per_s"][-1] == 0.0
    assert {v["request_id"] for v in core["request_vectors"]} == {"r-low", "r-mid", "r-high"}
    # running twice gives the same ledger, not an accumulating one
    assert main(["demo", "--only", "core", "--out", str(tmp_path)]) == 0
    summary = tmp_path / "summary.json"
    assert main(["ledger", "summary", str(tmp_path / "ledger.duckdb"), "--json", str(summary)]) == 0
    s = json.loads(summary.read_text())
    assert s["decisions"] == 3 and s["outcomes"] == 6
    assert s["worst_requests"][0]["request_id"] == "r-low"
    assert main(["ledger", "export", str(tmp_path / "ledger.duckdb"), "--out", str(tmp_path / "pq")]) == 0
    assert (tmp_path / "pq" / "decisions.parquet").is_file()


def test_missing_ledger_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ledger", "summary", str(tmp_path / "nope.duckdb")]) == 2
    assert "nope.duckdb" in capsys.readouterr().err


def _leaves(parser: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    subs = getattr(parser, "_subparsers", None)
    if subs is None:
        return [prefix]
    out: list[tuple[str, ...]] = [prefix] if prefix else []
    for action in subs._group_actions:
        for name, child in getattr(action, "choices", {}).items():
            out += _leaves(child, (*prefix, name))
    return out


def test_every_command_has_help_and_takes_json() -> None:
    commands = _leaves(build_parser())
    assert ("demo",) in commands and ("ledger", "summary") in commands
    groups = {cmd[:k] for cmd in commands for k in range(1, len(cmd))}
    for cmd in [(), *commands]:
        res = subprocess.run(
            [sys.executable, "-m", "tokenomy.interfaces.cli", *cmd, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == 0, (cmd, res.stderr)
        assert "usage:" in res.stdout
        # every command that runs takes --json; a group (it only names its sub-commands) does not
        usage = res.stdout.split("\n\n", 1)[0]
        assert ("--json PATH" in usage) == (cmd != () and cmd not in groups), cmd


def test_demo_index_links_every_report_it_wrote(tmp_path: Path) -> None:
    (tmp_path / "older.html").write_text("<html></html>")
    assert main(["demo", "--only", "serve", "--out", str(tmp_path), "--json", str(tmp_path / "d.json")]) == 0
    index = (tmp_path / "index.html").read_text()
    reports = sorted(p.name for p in tmp_path.glob("*.html") if p.name != "index.html")
    assert "serve.html" in reports
    for name in reports:
        assert f'href="{name}"' in index
    assert json.loads((tmp_path / "d.json").read_text())["index_html"].endswith("index.html")
