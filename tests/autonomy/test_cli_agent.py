"""``tokenomy agent eval`` on the real data: JSON contract, report, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokenomy.interfaces.cli import main


def test_agent_eval_on_real_data_writes_json_and_report(
    need_data: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data: Path = need_data("agent")  # type: ignore[operator]
    out, rep = tmp_path / "out.json", tmp_path / "out.html"
    argv = ["agent", "eval", "--data", str(data.parent), "--V", "1,10", "--folds", "2"]
    assert main([*argv, "--json", str(out), "--report", str(rep)]) == 0
    payload = json.loads(out.read_text())
    rows = payload["results"]
    printed = capsys.readouterr().out
    _check_printed_tables(printed, rows)
    mini = [r for r in rows if r["dataset"] == "miniswe-gemini3pro-swebv"]
    assert {r["V"] for r in mini} == {1.0, 10.0}
    assert len(mini) == 2 * 20
    for key in ("dataset", "V", "policy", "welfare_per_task", "success_rate", "cost_per_task_usd"):
        assert all(key in r for r in rows)
    tok = {r["V"]: r for r in mini if r["policy"] == "tokenomy"}
    no_cap = {r["V"]: r for r in mini if r["policy"] == "no_cap"}
    # no cap replays the recorded run: 371/500 resolved at $229.98
    assert no_cap[1.0]["success_rate"] == pytest.approx(371 / 500)
    assert no_cap[1.0]["cost_per_task_usd"] == pytest.approx(229.98 / 500, abs=1e-4)
    for v, r in tok.items():
        assert r["welfare_per_task"] == pytest.approx(v * r["success_rate"] - r["cost_per_task_usd"])
        assert r["welfare_ci_low"] <= r["welfare_per_task"] <= r["welfare_ci_high"]
    assert payload["quality_check"]["per_V"][0]["V"] == 1.0
    assert "ci_above_zero_at" in payload["quality_check"]
    room = {h["v_usd"]: h for h in payload["headroom"]}
    assert set(room) == {1.0, 10.0}
    for h in room.values():  # the bounds are ordered: clairvoyant ≥ best p̂ threshold ≥ never start / no cap
        assert h["clairvoyant_gain"] >= h["threshold_gain"] >= h["trivial_gain"] - 1e-12
    split = payload["token_split"]
    assert split["phases"] == ["read", "plan", "edit", "verify"]
    assert sum(split["optimal_shares"]) == pytest.approx(1.0) and sum(
        split["observed_shares"]
    ) == pytest.approx(1.0)
    auto = payload["autonomy_level"]  # Eq. 7 at each V (Δp_wait assumed 0: V then changes nothing)
    assert {(r["dataset"], r["V"]) for r in auto} == {
        (d, v) for d in ("miniswe-gemini3pro-swebv", "taubench-airline") for v in (1.0, 10.0)
    }
    assert all(r["dp_wait"] == 0.0 and 0.0 <= r["a_implied"] <= 1.0 for r in auto)
    assert "Eq. 7 autonomy level per dataset and V (Δp_wait = 0, ASSUMED" in printed
    assert payload["tokenomy_rule"]["z_se"] == 1.0 and payload["tokenomy_rule"]["budget_share"] == 1.0
    # the budget: no task costs more than V under tokenomy, and the ablation is reported next to it
    assert all(r["cost_per_task_usd"] <= r["V"] for r in tok.values())
    assert {r["policy"] for r in mini} >= {"tokenomy", "tokenomy_plain"}
    html = rep.read_text()
    assert "<svg" in html and "welfare" in html and "http://" not in html.replace("http://www.w3.org", "")
    # the evaluation is cross-fitted; only the three illustrations use one half/half split, and say so
    assert "fitted on the train half" not in html
    assert "K-fold cross-fitting over instances" in html and "one seeded half/half split" in html
    assert "headroom of stopping over no cap" in html and "Eq. 8: the token split" in html
    assert "MODELLED" in html  # the split's predicted gain is labelled as modelled


def _check_printed_tables(printed: str, rows: list[dict[str, object]]) -> None:
    """Every policy of every dataset is printed, with its CI columns; tau-bench rows carry ρ."""
    mini_part, _, tau_part = printed.partition("taubench-airline:")
    header = next(line for line in mini_part.splitlines() if line.lstrip().startswith("V "))
    for col in ("welfare_ci_low", "welfare_ci_high", "diff_ci_low", "diff_ci_high"):
        assert col in header.split()
    mini = [r for r in rows if r["dataset"] == "miniswe-gemini3pro-swebv"]
    printed_rows = [line.split() for line in mini_part.splitlines()]
    for r in mini:  # one printed line per (V, policy)
        assert sum(w[:2] == [f"{r['V']:.4f}", r["policy"]] for w in printed_rows) == 1, r["policy"]
    tau = [r for r in rows if r["dataset"] == "taubench-airline"]
    assert tau and len({r["policy"] for r in tau}) >= 5
    tau_header = next(line for line in tau_part.splitlines() if line.lstrip().startswith("V "))
    assert tau_header.split()[:3] == ["V", "rho", "policy"] and "welfare_ci_low" in tau_header
    tau_lines = [line.split() for line in tau_part.splitlines()]
    for r in tau:
        key = [f"{r['V']:.4f}", f"{r['rho']:.4f}", r["policy"]]
        assert sum(w[:3] == key for w in tau_lines) == 1, key


@pytest.mark.parametrize(
    ("flag", "value", "match"),
    [
        ("--V", "1,abc", "--V must be comma-separated"),
        ("--V", "-1", "--V: V must be > 0 USD"),
        ("--folds", "0", "--folds"),
        ("--dp-wait", "2", "--dp-wait must be a probability"),
    ],
)
def test_agent_eval_bad_input_names_the_option(
    flag: str, value: str, match: str, capsys: pytest.CaptureFixture[str], need_data: object
) -> None:
    data: Path = need_data("agent")  # type: ignore[operator]
    assert main(["agent", "eval", "--data", str(data.parent), flag, value]) == 2
    assert match in capsys.readouterr().err


def test_agent_eval_missing_data_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agent", "eval", "--data", str(tmp_path / "nope")]) == 2
    assert "data folder not found" in capsys.readouterr().err
