"""``tokenomy economy run``: bad input fails cleanly with nothing written; the real-data slice end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tokenomy.interfaces.cli import main


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--configs", "local,global"], "--configs: unknown configuration 'global'"),
        (["--configs", "shared-no-refuse,local-refused"], "--configs: unknown configuration 'local-refused'"),
        (["--load", "1,0"], "--load"),
        (["--load", "-2"], "--load"),
        (["--requests", "3"], "--requests"),
        (["--trace", "nosuch"], "--trace"),
        (["--utilisation", "0"], "--utilisation"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], needle: str, data_dir: Path
) -> None:
    out = tmp_path / "r.json"
    rep, led = tmp_path / "r.html", tmp_path / "l.duckdb"
    argv = [
        "economy",
        "run",
        "--data",
        str(data_dir),
        "--json",
        str(out),
        "--report",
        str(rep),
        "--ledger",
        str(led),
    ]
    assert main([*argv, *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not out.exists() and not rep.exists() and not led.exists()
    assert list(tmp_path.iterdir()) == []


def test_missing_data_folder_names_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    assert main(["economy", "run", "--data", str(tmp_path / "absent"), "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--data" in err and "absent" in err
    assert not out.exists()


def test_real_slice_json_report_and_ledger(
    tmp_path: Path, need_data: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data = need_data()
    need_data("routing", "routerbench_slice")
    need_data("agent", "miniswe_gemini3pro_swebv")
    need_data("serving", "azure_llm_2023")
    out, rep, led = tmp_path / "r.json", tmp_path / "r.html", tmp_path / "l.duckdb"
    argv = [
        "economy",
        "run",
        "--data",
        str(data),
        "--requests",
        "80",
        "--load",
        "1,4",
        "--configs",
        "local,shared,stale,shared-no-refuse,local-refuse",
    ]
    argv += ["--agent-share", "0.05", "--json", str(out), "--report", str(rep), "--ledger", str(led)]
    assert main(argv) == 0
    payload = json.loads(out.read_text())
    assert {(r["config"], r["load"]) for r in payload["results"]} == {
        (c, x) for c in ("local", "shared", "stale", "shared-no-refuse", "local-refuse") for x in (1.0, 4.0)
    }
    assert {(a["config"], a["load"]) for a in payload["against_local"]} == {
        (c, x) for c in ("stale", "shared-no-refuse", "local-refuse") for x in (1.0, 4.0)
    }
    assert {a["config"] for a in payload["ablations"]} == {"stale", "shared-no-refuse", "local-refuse"}
    for r in payload["results"]:
        assert set(r) >= {
            "config",
            "load",
            "welfare_per_request",
            "ci_low",
            "ci_high",
            "cost_per_request_usd",
            "latency_p99_s",
        }
        assert r["ci_low"] <= r["welfare_per_request"] <= r["ci_high"]
    assert [d["load"] for d in payload["diff"]] == [1.0, 4.0]
    for d in payload["diff"]:
        assert d["ci_low"] <= d["shared_minus_local"] <= d["ci_high"]
    assert any("synthetic" in s for s in payload["synthetic"])
    html = rep.read_text()
    assert "declining low-value requests (shared − shared-no-refuse)" in html
    assert "value-blind refusal (local-refuse − local)" in html and "95% bootstrap CI of welfare" in html
    assert (
        "shared − local" in html and "synthetic" in html and "<svg" in html and "through the ledger" in html
    )
    from tokenomy.ledger import Ledger

    with Ledger(led, read_only=True) as ledger:
        summary = ledger.summary()
        assert ledger.count("decisions") > 80 and ledger.count("outcomes") > 0
    assert summary
    assert "shared − local" in capsys.readouterr().out
