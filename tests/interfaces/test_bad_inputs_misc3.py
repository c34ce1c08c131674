"""Bad inputs of route, agent, rl and economy: ignored flags, undefined figures, unbounded prices.

A flag that only acts with another one (or that another one overrides) is refused with one line
naming both, before any data is read; an undefined figure (gap recovered when the best fixed model
already matches the oracle) is "-" in the table with a note and null in JSON; USD price flags are
bounded so no figure overflows; tokens to target are shown as censored at the budget, never with a
negative CI bound; each range error states the range that is enforced.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tokenomy.capital.rl.experiment import summarise
from tokenomy.core.errors import ValidationError
from tokenomy.interfaces.cli import main

NOPE = "/nonexistent/tokenomy-data"


def _err_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("tokenomy")]
    assert len(lines) == 1, err
    return lines[0]


def _exit_code(argv: list[str]) -> int:
    """``main``'s code, also when argparse refuses a flag (SystemExit)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(str(exc.code))


# -- a flag that has no effect is refused, naming it and the flag it depends on ---------------------


@pytest.mark.parametrize(
    ("argv", "flag", "other"),
    [
        (["route", "eval", "--router", NOPE, "--estimator", "knn"], "--estimator", "--router"),
        (["route", "eval", "--router", NOPE, "--estimator", "neighbours"], "--estimator", "--router"),
        (["route", "eval", "--router", NOPE, "--prices", "none"], "--prices", "--router"),
        (["route", "eval", "--router", NOPE, "--encoder", "all-MiniLM-L6-v2"], "--encoder", "--router"),
        (["route", "eval", "--router", NOPE, "--encoder-backend", "numpy"], "--encoder-backend", "--router"),
        (["route", "eval", "--encoder-backend", "numpy"], "--encoder-backend", "--encoder"),
        (["route", "eval", "--cross-data", NOPE], "--cross-data", "--split cross"),
        (["route", "eval", "--split", "lobo", "--cross-data", NOPE], "--cross-data", "--split cross"),
        (["route", "eval", "--split", "lobo", "--no-longtail"], "--no-longtail", "--split"),
        (["route", "eval", "--split", "lobo", "--compare-estimators", "all"], "--compare-estimators", "--split"),
        (["route", "eval", "--split", "cross", "--cross-data", NOPE, "--prices", "packaged"], "--prices", "--split cross"),
        (["route", "eval", "--split", "cross", "--cross-data", NOPE, "--test-share", "0.5"], "--test-share", "--split cross"),
        (["route", "save", "--out", NOPE, "--encoder-backend", "numpy"], "--encoder-backend", "--encoder"),
        (["route", "eval", "--cache-dir", NOPE + "-c"], "--cache-dir", "--encoder"),
        (["route", "save", "--out", NOPE, "--cache-dir", NOPE + "-c"], "--cache-dir", "--encoder"),
        (["route", "menu", "--V-dist", "v.csv", "--samples", "10"], "--samples", "--V-dist"),
        (["route", "menu", "--V-dist", "v.csv", "--seed", "3"], "--seed", "--V-dist"),
    ],
)  # fmt: skip
def test_a_flag_without_effect_is_refused_before_the_data_is_read(
    capsys: pytest.CaptureFixture[str], argv: list[str], flag: str, other: str
) -> None:
    assert main([*argv, "--data", NOPE]) == 2
    line = _err_line(capsys)
    assert flag in line and other in line, line
    assert NOPE not in line, line  # refused before the data path was looked at
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["route", "eval", "--router", NOPE],
        ["route", "eval", "--router", NOPE, "--cache-dir", NOPE + "-c"],
        ["route", "eval", "--encoder", "all-MiniLM-L6-v2", "--encoder-backend", "numpy"],
        ["route", "eval", "--split", "cross", "--cross-data", NOPE],
        ["route", "menu", "--samples", "10", "--types", "10", "--seed", "3"],
    ],
)
def test_flags_that_act_together_pass_the_check(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main([*argv, "--data", NOPE]) == 2  # the data is missing: the flags themselves were accepted
    line = _err_line(capsys)
    assert "has no effect" not in line and "needs" not in line, line


def test_refuse_ignored_passes_flags_that_were_not_given() -> None:
    from tokenomy.interfaces.args import refuse_ignored

    refuse_ignored(("--a", None, "needs --b"), ("--c", False, "needs --d"))
    with pytest.raises(ValidationError, match=r"^--c needs --d$"):
        refuse_ignored(("--a", None, "needs --b"), ("--c", 0.0, "needs --d"))


# -- an undefined gap recovered is "-" with a note, null in JSON -------------------------------------


def test_gap_recovered_without_a_gap_is_a_dash_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], need_data: object
) -> None:
    data = need_data("routing", "routerbench_slice")  # type: ignore[operator]
    out = tmp_path / "r.json"
    argv = [
        "route", "eval", "--data", str(data), "--policies", "tokenomy", "--no-longtail", "--boot", "40",
        "--estimator", "prior", "--V", "1e-30", "--json", str(out),
    ]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "nan" not in text.lower().replace("nanos", ""), text
    row = next(line for line in text.splitlines() if line.lstrip().startswith("1e-30"))
    assert row.split()[-1] == "-", row
    notes = [line for line in text.splitlines() if "gap_recovered" in line and line.startswith("note")]
    assert len(notes) == 1 and "oracle" in notes[0], text
    result = json.loads(out.read_text())["results"][0]
    assert result["gap_recovered"] is None


# -- USD prices are bounded: one line stating the range, no overflow at the bound ---------------------


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["agent", "tau", "--folds", "2", "--rho", "1e308"], "--rho"),
        (["agent", "tau", "--folds", "2", "--rho", "1", "--V", "1e308"], "--V"),
        (["agent", "eval", "--folds", "2", "--V", "1e308"], "--V"),
        (["agent", "eval", "--folds", "2", "--rho", "1e308"], "--rho"),
        (["route", "eval", "--V", "1e308"], "--V"),
        (["route", "eval", "--lam", "1e308"], "--lam"),
        (["route", "eval", "--rho", "1e10"], "--rho"),
    ],
)
def test_a_usd_price_above_the_bound_is_one_line_stating_the_range(
    capsys: pytest.CaptureFixture[str], argv: list[str], flag: str
) -> None:
    assert _exit_code([*argv, "--data", NOPE]) == 2
    line = _err_line(capsys)
    assert flag in line and "1e+09" in line, line
    assert NOPE not in line, line


def test_agent_tau_at_the_price_bound_gives_finite_figures_without_warnings(
    capsys: pytest.CaptureFixture[str], need_data: object
) -> None:
    data = need_data("agent")  # type: ignore[operator]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy overflow warning fails the test
        argv = ["agent", "tau", "--data", str(data.parent), "--folds", "2", "--rho", "1e9", "--V", "1e9"]
        assert main(argv) == 0
    text = capsys.readouterr().out
    words = text.lower().replace(",", " ").split()
    assert "nan" not in words and "inf" not in words and "-inf" not in words, text


# -- tokens to target are censored at the budget -----------------------------------------------------


CENSORED_RUNS = [
    ("uniform", 0, 22_000, False),
    ("uniform", 1, 22_400, False),
    ("tokenomy", 0, 2_000, True),
    ("tokenomy", 1, 20_000, True),
    ("dapo", 0, 5_000, True),
    ("dapo", 1, 22_000, False),
]
"""(policy, seed, tokens to target, reached): uniform never reaches the 20,000 budget, dapo once."""


def test_tokens_to_target_rows_say_how_many_seeds_were_censored_and_ci_is_never_negative(
    run_summary: Callable[..., Any],
) -> None:
    runs = [run_summary(p, seed, tokens, reached=r) for p, seed, tokens, r in CENSORED_RUNS]
    rows = {str(r["policy"]): r for r in summarise(runs)}
    for r in rows.values():
        for key, value in r.items():
            if "ci_low" in key and "gain" not in key:  # a gain can be negative
                assert float(str(value)) >= 0.0, (r["policy"], key, value)
    assert (rows["uniform"]["reached"], rows["uniform"]["censored"]) == (0, 2)
    assert (rows["dapo"]["reached"], rows["dapo"]["censored"]) == (1, 1)
    assert (rows["tokenomy"]["reached"], rows["tokenomy"]["censored"]) == (2, 0)
    assert rows["uniform"]["tokens_to_target_lower_bound"] is True
    assert rows["tokenomy"]["tokens_to_target_lower_bound"] is False


def test_rl_table_shows_censored_tokens_as_a_bound_of_the_budget(run_summary: Callable[..., Any]) -> None:
    from tokenomy.interfaces.cmd_rl import shown_rows

    runs = [run_summary(p, seed, tokens, reached=r) for p, seed, tokens, r in CENSORED_RUNS]
    shown, notes = shown_rows(summarise(runs), max_tokens=20_000)
    by = {r["policy"]: r for r in shown}
    assert by["uniform"]["tokens_to_target"] == "> 20,000 (reached in 0 of 2 seeds)"
    assert str(by["dapo"]["tokens_to_target"]).startswith("≥ 13,500 (reached in 1 of 2 seeds)")
    assert by["uniform"]["ci_low"] is None and by["dapo"]["ci_high"] is None
    assert isinstance(by["tokenomy"]["tokens_to_target"], float)
    assert len(notes) == 1 and "budget" in notes[0]


def test_rl_run_prints_censored_rows_as_bounds_and_json_counts_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rl.json"
    argv = ["rl", "run", "--seeds", "2", "--max-tokens", "20000", "--staleness", "0", "--json", str(out)]
    assert main([*argv, "--policy", "uniform,tokenomy"]) == 0
    text = capsys.readouterr().out
    rows = json.loads(out.read_text())["results"]
    for r in rows:
        assert r["censored"] == r["seeds"] - r["reached"]
        assert r["ci_low"] >= 0.0 and r["tokens_to_target_lower_bound"] == (r["censored"] > 0)
        line = next(x for x in text.splitlines() if x.startswith(r["policy"] + " "))
        assert ("reached in" in line) == (r["censored"] > 0), line
    assert ("censored at the budget" in text) == any(r["censored"] for r in rows)


# -- each range error states the range that is enforced ---------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["economy", "run", "--seed", "-1"], "--seed"),
        (["rl", "run", "--staleness", "1e9"], "[0, 64]"),
        (["rl", "run", "--staleness", "-1"], "[0, 64]"),
        (["rl", "run", "--staleness", "65"], "[0, 64]"),
    ],
)
def test_a_range_error_names_the_flag_and_its_real_range(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    assert _exit_code([*argv, "--data", NOPE] if argv[0] == "economy" else argv) == 2
    assert expected in _err_line(capsys)


@pytest.mark.parametrize(
    ("command", "values"),
    [
        (["route", "eval"], ["-1", "0", "1e308", "nan"]),
        (["agent", "eval"], ["-1", "0", "1e308", "inf"]),
        (["agent", "tau"], ["-1", "1e308", "nan"]),
    ],
)
def test_every_out_of_range_v_gets_the_same_stated_range(
    capsys: pytest.CaptureFixture[str], command: list[str], values: list[str]
) -> None:
    ranges = set()
    for v in values:
        assert main([*command, "--V", v, "--data", NOPE]) == 2
        line = _err_line(capsys)
        ranges.add(line.split(";")[0].split(", got")[0])
    assert len(ranges) == 1, ranges
    (stated,) = ranges
    assert "1e+09" in stated, stated


def test_the_usd_bound_keeps_products_finite() -> None:
    from tokenomy.interfaces.args import MAX_USD

    # price × a billion tokens × a million bootstrap resamples × a billion requests stays finite
    assert math.isfinite(MAX_USD * MAX_USD * 1e9 * 1e6 * 1e9)


# -- other flags of these commands are checked before any work ---------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["economy", "run", "--configs", "local,local"], "--configs: 'local' appears twice"),
        (["economy", "run", "--configs", "local,,shared"], "--configs: item 2"),
        (["economy", "run", "--requests", "5"], "--requests must be an integer ≥ 10"),
        (["route", "menu", "--high-v-quantile", "nan"], "--high-v-quantile must be a number in [0, 1)"),
        (["route", "menu", "--high-v-quantile", "1"], "--high-v-quantile must be a number in [0, 1)"),
        (["route", "menu", "--types", "0"], "--types: expected a whole number ≥ 1"),
        (["route", "menu", "--samples", "1", "--types", "2"], "--samples 1 is fewer than --types 2"),
        (["route", "menu", "--samples", "999"], "--samples 999 is fewer than --types 1,000"),
    ],
)
def test_a_bad_flag_is_refused_before_the_data_is_read(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    assert _exit_code([*argv, "--data", NOPE]) == 2
    line = _err_line(capsys)
    assert expected in line and NOPE not in line, line
