"""``tokenomy rl run``: JSON, report and ledger written; bad options are one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokenomy.interfaces.cli import main
from tokenomy.ledger import Ledger


def test_rl_run_writes_the_json_the_report_and_the_ledger(tmp_path: Path) -> None:
    out, html, led = tmp_path / "rl.json", tmp_path / "rl.html", tmp_path / "rl.duckdb"
    argv = [
        "rl",
        "run",
        "--policy",
        "uniform,tokenomy,tokenomy-nodiscount",
        "--seeds",
        "2",
        "--staleness",
        "0,2",
    ]
    argv += ["--max-tokens", "15000", "--drift", "0.1", "--target", "0.5"]
    assert main([*argv, "--json", str(out), "--report", str(html), "--ledger", str(led)]) == 0
    payload = json.loads(out.read_text())
    rows = payload["results"]
    assert {(r["policy"], r["staleness"]) for r in rows} == {
        (p, s) for p in ("uniform", "tokenomy", "tokenomy-nodiscount") for s in (0, 2)
    }
    for r in rows:
        assert {"tokens_to_target", "ci_low", "ci_high", "final_accuracy", "wall_s_to_target"} <= set(r)
        assert r["ci_low"] <= r["tokens_to_target"] <= r["ci_high"]
    assert len(payload["runs"]) == 12 and payload["drift_per_version"] == 0.1
    assert any(c["claim"].startswith("tokenomy tokens / tokenomy-nodiscount") for c in payload["checks"])
    assert "Synthetic" in html.read_text()
    with Ledger(led) as ledger:
        kinds = ledger.summary()["decisions_by_kind"]
    assert set(kinds) == {"rollout", "verify", "update"} and len(set(kinds.values())) == 1
    # the same runs again would be counted twice: refused, the ledger unchanged
    assert main([*argv, "--ledger", str(led)]) == 2


def test_rl_run_calibrates_on_training_seeds_when_target_and_drift_are_not_given(tmp_path: Path) -> None:
    out = tmp_path / "rl.json"
    argv = ["rl", "run", "--policy", "uniform", "--seeds", "2", "--staleness", "0", "--max-tokens", "30000"]
    assert main([*argv, "--json", str(out)]) == 0
    cal = json.loads(out.read_text())["calibration"]
    assert 0.0 <= cal["drift_per_version"] <= 0.5 and cal["target_gain"] >= 0
    assert [s for s, _ in cal["drift_ratios"]] == [1, 2, 4, 8]


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [("--policy", "ppo", "--policy"), ("--staleness", "0,x", "--staleness"), ("--drift", "1.5", "--drift")],
)
def test_bad_options_are_one_line_errors(
    flag: str, value: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rl", "run", flag, value, "--seeds", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and "\n" not in err


def test_verdicts_report_ties_as_ties() -> None:
    from tokenomy.capital.rl.experiment import _verdict

    assert _verdict(0.7, 0.6, 0.79, 0.8) == "meets"
    assert _verdict(0.7, 0.5, 0.9, 0.8).startswith("tie")
    assert _verdict(0.9, 0.85, 0.95, 0.8) == "fails"
    assert _verdict(1.0, 1.0, 1.0, 1.0, strict=True).startswith("tie")
    assert _verdict(0.99, 0.95, 1.0, 1.0, strict=True).startswith("tie")
    assert _verdict(0.99, 0.95, 1.0, 1.0) == "meets"
