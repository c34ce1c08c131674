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


def _table_rows(text: str) -> list[dict[str, str]]:
    """The printed runs table as dicts (header line → values), skipping the title and rule lines."""
    lines = text.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.startswith("trace "))
    cols = lines[head].split()
    rows = []
    for ln in lines[head + 2 :]:
        vals = ln.split()
        if len(vals) != len(cols):
            break
        rows.append(dict(zip(cols, vals, strict=True)))
    return rows


def test_simulate_shows_too_large_requests_in_the_terminal_and_plots_the_kv_price(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(3)
    lines = ["arrival_s,prompt_tokens,output_tokens"]
    big = 0
    for i in range(60):  # KV of 100 blocks × 16 tokens = 1,600 tokens: every third request is too large
        p = 2500 if i % 3 == 0 else int(rng.integers(50, 600))
        big += p == 2500
        lines.append(f"{i * 0.5:.2f},{p},{rng.integers(1, 40)}")
    trace = tmp_path / "big.csv"
    trace.write_text("\n".join(lines) + "\n")
    out, html = tmp_path / "o.json", tmp_path / "r.html"
    argv = ["serve", "simulate", "--trace", str(trace), "--scheduler", "fcfs,priced", "--kv-blocks", "100"]
    assert main([*argv, "--report", str(html), "--json", str(out)]) == 0
    printed = _table_rows(capsys.readouterr().out)
    runs = json.loads(out.read_text())["runs"]
    assert len(printed) == len(runs) == 2
    for shown, r in zip(printed, runs, strict=True):
        assert r["rejected_too_large"] == big == 20
        assert int(shown["rejected_too_large"]) == r["rejected_too_large"]
        assert int(shown["completed"]) + int(shown["rejected"]) + int(shown["rejected_too_large"]) == 60
    page = html.read_text()
    assert "shadow price of a KV block-second" in page


def test_simulate_plots_the_kv_price_even_when_kv_never_binds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = tmp_path / "r.html"
    argv = ["serve", "simulate", "--trace", str(_trace(tmp_path, 100)), "--scheduler", "fcfs"]
    assert main([*argv, "--kv-blocks", "29205", "--report", str(html)]) == 0
    capsys.readouterr()
    page = html.read_text()
    assert "shadow price of a KV block-second" in page
    assert "KV never bound in these runs, so the price is 0 throughout" in page


def test_prediction3_labels_the_long_tenant_synthetic_and_its_report_describes_its_own_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, html = tmp_path / "p3.json", tmp_path / "p3.html"
    argv = ["serve", "prediction3", "--trace", str(_trace(tmp_path, 300)), "--window-s", "30"]
    argv += ["--long-rates", "0.5", "--long-prompt-median", "8000", "--scheduler", "fcfs,priced"]
    assert main([*argv, "--report", str(html), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    res = json.loads(out.read_text())
    tenant = res["long_tenant"]
    assert tenant["synthetic"] is True and "LogNormal(median 8,000" in tenant["prompt_tokens"]
    assert "Gamma" in tenant["arrivals"]
    assert "synthetic: the long-context tenant is synthetic" in text and "median 8,000 tokens" in text
    assert [r["long_tenant"] for r in res["rows"]] == ["none", "none", "synthetic", "synthetic"]
    assert text.count(" synthetic ") >= 2  # the table column
    h = res["headline"]
    assert h["runs"] == 4 and h["simulated_requests"] == sum(r["requests"] for r in res["rows"]) > 0
    assert h["min_sim_requests_per_wall_s"] > 0 and h["reference_scheduler"] == "fcfs"
    page = html.read_text()
    assert "no rows" not in page and 'data-value="nan"' not in page
    assert f'data-key="headline.runs" data-value="{h["runs"]}"' in page
    assert f'data-key="headline.simulated_requests" data-value="{h["simulated_requests"]}"' in page
    assert tenant["note"] in page.replace("&#x27;", "'")
    assert "highest-welfare scheduler" not in page


@pytest.mark.data
def test_like_splitwise_sim_sets_the_peers_whole_configuration(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs.json"
    argv = [
        "serve",
        "simulate",
        "--like",
        "splitwise-sim",
        "--trace",
        str(_trace(tmp_path)),
        "--scheduler",
        "fcfs",
    ]
    assert main([*argv, "--data", str(data_dir), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    run = doc["runs"][0]
    assert run["kv_blocks"] == 13165 and "SplitwiseSim's configuration" in doc["step_model"]
    with pytest.raises(SystemExit) as bad:
        main(["serve", "simulate", "--like", "nope", "--trace", str(_trace(tmp_path))])
    assert bad.value.code == 2 and "splitwise-sim" in capsys.readouterr().err


def test_simulate_takes_the_handoff_limit_and_the_speculation_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = _trace(tmp_path, 120)
    base = ["serve", "simulate", "--trace", str(trace), "--scheduler", "fcfs", "--kv-blocks", "3000"]
    out = tmp_path / "d.json"
    assert main([*base, "--disaggregate", "--handoff-limit", "0", "--json", str(out)]) == 0
    assert "(131,072 B/token)" in capsys.readouterr().out  # the model's KV footprint is shipped
    (run,) = json.loads(out.read_text())["runs"]
    assert all(k in run for k in REQUIRED) and run["completed"] == 120
    spec = tmp_path / "s.json"
    argv = [*base, "--spec-k", "4", "--spec-alpha", "0.8", "--spec-rule", "request", "--json", str(spec)]
    assert main([*argv, "--spec-alpha-halving-tokens", "2000"]) == 0
    assert json.loads(spec.read_text())["runs"][0]["completed"] == 120
    with pytest.raises(SystemExit) as e:
        main([*base, "--spec-rule", "sometimes"])
    assert e.value.code == 2 and "--spec-rule" in capsys.readouterr().err
