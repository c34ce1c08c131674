"""``tokenomy serve simulate`` and the serving demo end to end on small inputs (no real data needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tokenomy.interfaces.cli import main
from tokenomy.interfaces.cmd_demo import DemoContext
from tokenomy.interfaces.demo_serve import section
from tokenomy.ledger import Ledger

REQUIRED = (
    "trace",
    "scheduler",
    "rate_scale",
    "requests",
    "wall_s",
    "sim_requests_per_wall_s",
    "ttft_p50_s",
    "ttft_p99_s",
    "tpot_mean_s",
    "welfare",
)


def _trace(tmp_path: Path, n: int = 400) -> Path:
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.exponential(0.1, n))
    lines = ["arrival_s,prompt_tokens,output_tokens,tenant"]
    lines += [f"{t[i]:.4f},{rng.integers(50, 3000)},{rng.integers(1, 300)},{'ab'[i % 2]}" for i in range(n)]
    lines.append(f"{t[-1] + 1:.4f},{30_000 * 16},5,a")  # larger than the whole KV below: rejected
    p = tmp_path / "t.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_simulate_writes_the_runs_json_report_and_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, html, led = tmp_path / "o.json", tmp_path / "r.html", tmp_path / "l.duckdb"
    argv = ["serve", "simulate", "--trace", str(_trace(tmp_path)), "--scheduler", "fcfs,priced,vtc"]
    argv += ["--rate-scale", "1,4", "--kv-blocks", "29205", "--report", str(html), "--json", str(out)]
    argv += ["--ledger", str(led), "--ledger-sample", "1"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "welfare is synthetic" in text
    runs = json.loads(out.read_text())["runs"]
    assert [(r["rate_scale"], r["scheduler"]) for r in runs] == [
        (k, s) for k in (1.0, 4.0) for s in ("fcfs", "priced", "vtc")
    ]
    for r in runs:
        assert all(k in r for k in REQUIRED)
        assert r["requests"] == 401 and r["rejected_too_large"] == 1
        assert r["completed"] + r["rejected"] + r["rejected_too_large"] == 401
        assert len(r["prefix_hit_rate_by_v_decile"]) == 10 and "goodput_rps" in r
    page = html.read_text()
    for part in ("time to first token", "shadow price of a prefill token", "waiting queue", "synthetic"):
        assert part in page
    written = json.loads(out.read_text())["ledger_rows"]
    with Ledger(str(led)) as lg:
        n_admit = sum(r["completed"] + r["rejected"] for r in runs if r["scheduler"] == "priced")
        assert 0 < written["admit"] <= n_admit and written["order"] > 0
        assert lg.summary()["decisions"] == sum(written.values())
        assert written["evict"] == 0  # the trace has no prefix hashes: nothing is cached


def test_simulate_bad_trace_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("arrival_s,prompt_tokens\n0,5\n")
    assert main(["serve", "simulate", "--trace", str(p)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "output_tokens" in err


def test_demo_section_runs_without_data_and_pricing_beats_fcfs(tmp_path: Path) -> None:
    res = section(DemoContext(None, tmp_path, lambda _s: None, quick=True))
    assert res["origin"].startswith("synthetic")
    fcfs, priced = res["runs"]
    assert (fcfs["scheduler"], priced["scheduler"]) == ("fcfs", "priced")
    assert priced["welfare"] > fcfs["welfare"] and res["welfare_gain_usd"] > 0
    assert Path(res["report"]).is_file()
