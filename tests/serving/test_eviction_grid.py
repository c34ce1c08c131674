"""``serve simulate --eviction a,b --kv-blocks A,B``: the grid's rows, the train/test split, the
synthetic-prefix label, cache decisions in the ledger, and bad lists as one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pytest

from tokenomy.interfaces.cli import main


def _chains(tmp_path: Path, n: int = 240, seed: int = 0) -> Path:
    """A JSONL trace of conversations whose turns extend their prefix chain (generic format)."""
    rng = np.random.default_rng(seed)
    depth: dict[int, int] = {}
    lines = []
    for i in range(n):
        c = int(rng.integers(0, 25))
        d = depth[c] = depth.get(c, 0) + 1
        hs = [c * 100 + j for j in range(min(d, 5))]
        lines.append(json.dumps({"arrival_s": i * 0.7, "prompt_tokens": 512 * len(hs) + 50, "output_tokens": 8,
                                 "hash_ids": hs}))  # fmt: skip
    p = tmp_path / "chains.jsonl"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_grid_runs_every_policy_and_size_on_the_test_part(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, ledger = tmp_path / "o.json", tmp_path / "l.duckdb"
    argv = ["serve", "simulate", "--trace", str(_chains(tmp_path)), "--scheduler", "fcfs",
            "--eviction", "lru,lfu,fifo,value,belady", "--kv-blocks", "300,600",
            "--json", str(out), "--ledger", str(ledger), "--ledger-sample", "1"]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    res = json.loads(out.read_text())
    runs = res["runs"]
    assert [(r["eviction"], r["kv_blocks"]) for r in runs] == [
        (e, k) for e in ("lru", "lfu", "fifo", "value", "belady") for k in (300, 600)
    ]
    assert all(r["requests"] == 120 for r in runs)  # the test half only
    for r in runs:
        assert len(r["hit_rate_by_v_decile"]) == 10 and 0 <= r["prefix_hit_rate"] <= 1
        assert {"welfare", "ttft_p50_s", "ttft_p99_s"} <= set(r)
    fit = res["cache"]["fits"]
    assert list(fit) and next(iter(fit.values()))["train_requests"] == 120
    by = {(r["eviction"], r["kv_blocks"]): r["prefix_hit_rate"] for r in runs}
    assert by[("belady", 300)] >= by[("lru", 300)]
    con = duckdb.connect(str(ledger), read_only=True)
    points = dict(con.execute("select decision_point, count(*) from decisions group by 1").fetchall())
    assert points.get("cache-run") == 4  # one summary per value/belady run
    assert points.get("cache-admit", 0) > 0


def test_synthetic_prefixes_are_labelled_and_give_hits_on_a_trace_without_hashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ["arrival_s,prompt_tokens,output_tokens"] + [
        f"{i * 0.5:.2f},{1200 + 37 * (i % 9)},5" for i in range(200)
    ]
    trace = tmp_path / "plain.csv"
    trace.write_text("\n".join(lines) + "\n")
    out = tmp_path / "o.json"
    argv = ["serve", "simulate", "--trace", str(trace), "--scheduler", "fcfs", "--eviction", "lru,value",
            "--prefixes", "synthetic", "--json", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    res = json.loads(out.read_text())
    assert all("synthetic-prefixes" in r["trace"] for r in res["runs"])
    assert all("hash_ids" in r["synthetic"] for r in res["runs"])
    assert "SYNTHETIC" in printed
    assert max(r["prefix_hit_rate"] for r in res["runs"]) > 0


def test_value_policy_on_a_trace_without_hashes_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "plain.csv"
    trace.write_text("arrival_s,prompt_tokens,output_tokens\n" + "".join(f"{i},600,5\n" for i in range(20)))
    code = main(["serve", "simulate", "--trace", str(trace), "--eviction", "value"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and "--prefixes synthetic" in err


@pytest.mark.parametrize(("flag", "value"), [("--eviction", "lru,nope"), ("--eviction", ""), ("--kv-blocks", "10,0"),
                                             ("--kv-blocks", "5,x")])  # fmt: skip
def test_bad_lists_are_one_line_errors(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["serve", "simulate", "--trace", "x.csv", flag, value])
    err = capsys.readouterr().err
    assert e.value.code != 0 and "Traceback" not in err
    assert [line for line in err.splitlines() if "error:" in line and flag in line]


def test_serve_reuse_measures_depreciation_by_depth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    assert main(["serve", "reuse", "--trace", str(_chains(tmp_path)), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    res = json.loads(out.read_text())["traces"][0]
    assert res["delta_per_s"] >= 0 and res["demands"] > 240
    depths = [r["depth"] for r in res["by_depth"]]
    assert depths[:3] == ["0", "1", "2-3"]
    assert 0 < res["by_depth"][0]["share_reused"] <= 1
    assert [g["group"] for g in res["by_lambda_tercile"]] == ["low λ", "mid λ", "high λ"]
    assert "δ_S" in printed and "synthetic" in printed


def test_serve_reuse_without_hashes_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "plain.csv"
    trace.write_text("arrival_s,prompt_tokens,output_tokens\n" + "".join(f"{i},600,5\n" for i in range(20)))
    assert main(["serve", "reuse", "--trace", str(trace)]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--prefixes synthetic" in err
