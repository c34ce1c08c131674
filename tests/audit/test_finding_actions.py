"""Findings as actions: the change to make, the requests it touches and the dollars with a CI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from importer_files import otlp_file, span

from tokenomy.audit.detectors.base import impact_interval
from tokenomy.interfaces.cli import main


def test_impact_interval_brackets_the_total_and_needs_two_violations() -> None:
    assert impact_interval(np.array([3.0]), 3.0) is None
    lo, hi = impact_interval(np.full(50, 2.0), 100.0) or (0, 0)
    assert lo == hi == 100.0  # identical violations: no sampling spread
    rng = np.random.default_rng(1)
    x = rng.exponential(1.0, 400)
    lo, hi = impact_interval(x, float(x.sum())) or (0, 0)
    assert lo < x.sum() < hi and (hi - lo) / x.sum() < 0.3
    big = rng.exponential(1.0, 5000)  # the normal approximation past 2,000 violations
    lo, hi = impact_interval(big, float(big.sum())) or (0, 0)
    assert lo < big.sum() < hi


def test_waste_in_an_otlp_log_names_the_change_the_requests_and_a_ci(tmp_path: Path) -> None:
    spans = []
    for i in range(10):
        extra = {"tokenomy.malformed": "true"} if i < 4 else {}
        tokens = {"gen_ai.usage.input_tokens": 1000 * (i + 1), "gen_ai.usage.output_tokens": 100}
        spans.append(span(f"{i + 1:016x}", trace=f"{i + 1:032x}", tokens=tokens, extra=extra))
    out = tmp_path / "a.json"
    assert main(["audit", str(otlp_file(tmp_path / "t.jsonl", [spans])), "--json", str(out)]) == 0
    f = json.loads(out.read_text())["failure_modes"]["waste"]
    assert f["applicable"] and f["count"] == 4
    assert "4" in f["action"] and f["action"].startswith("Stop paying")
    assert sorted(f["request_ids"]) == sorted(f"{i + 1:032x}" for i in range(4))
    lo, hi = f["impact_ci95"]
    assert lo <= f["impact_usd"] <= hi and hi > lo
    assert f["request_ids"][0] == f["examples"][0]["request_id"]  # worst first
