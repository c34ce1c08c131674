"""The demo's routing section: skipped without data; on the RouterBench slice it writes a report and a ledger."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tokenomy.interfaces.cmd_demo import DemoContext
from tokenomy.interfaces.demo_route import section
from tokenomy.ledger import Ledger


def test_without_data_the_section_says_it_is_skipped(tmp_path: Path) -> None:
    said: list[str] = []
    out = section(DemoContext(None, tmp_path, said.append))
    assert "skipped" in out and "routerbench_slice" in said[0]


def test_on_routerbench_it_reports_every_policy_and_writes_report_and_ledger(
    tmp_path: Path, need_data: Callable[..., Path]
) -> None:
    data = need_data("routing", "routerbench_slice").parents[1]
    said: list[str] = []
    out = section(DemoContext(data, tmp_path, said.append, quick=True))
    assert {r["policy"] for r in out["results"]} >= {"tokenomy", "best-fixed", "oracle", "cascade"}
    assert Path(out["report"]).read_text().count("<svg") >= 5
    with Ledger(out["ledger"], read_only=True) as ledger:
        assert ledger.count("decisions") == 945 and ledger.count("outcomes") == 945 * 11
    assert any("SYNTHETIC" in line for line in said)
    assert any("dropped_split_prompts 14, dropped_split_rows 28" in line for line in said)
    assert any("CPT(50%)" in line and "CPT(80%)" in line and "AIQ" in line for line in said)
    assert out["labels"] == {"latency": "synthetic", "risk": "synthetic"}
