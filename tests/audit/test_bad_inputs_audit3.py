"""Bad input to the ledger records, the audit's price files and ``tokenomy audit`` flags: one clear error.

Times a date cannot name (``time_s`` 1e300) are refused at append, and a file written before that bound
is one line naming the decision, not a traceback; a price file with a NaN, infinite, negative, boolean or
text rate is refused naming the file, the model and the field; an outcome of a candidate the decision
did not consider, a blank id or an impossible harm-event count is refused; an audit flag that changes
nothing for the given format (or without ``--json``) is refused naming the flag and where it applies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from tokenomy.audit.importers.ledger import from_records
from tokenomy.audit.pricing import StaticPriceTable, price_steps
from tokenomy.core import PriceVector
from tokenomy.core.errors import LedgerError, SchemaError, ValidationError
from tokenomy.interfaces.cli import main
from tokenomy.ledger import Candidate, Decision, DecisionBatch, Ledger, Outcome
from tokenomy.ledger.records import MAX_HARM_EVENTS, TIME_S_MAX, TIME_S_MIN

P = PriceVector(v_usd=1.0)
CANDS = (Candidate("gpt-4o", 0.5, 0.01), Candidate("gpt-4o-mini", 0.4, 0.001))
OVERRIDE = {"models": {"gpt-4o": {"input_usd_per_mtok": 2.5, "output_usd_per_mtok": 10.0}}}
LITELLM_CSV = (
    "request_id,spend,prompt_tokens,completion_tokens,startTime,endTime,model\n"
    "r1,0.0055,1000,300,2024-06-01T10:00:00Z,2024-06-01T10:00:02Z,gpt-4o\n"
)


def decision(rid: str = "r1", **kw: Any) -> Decision:
    return Decision(rid, "demand", "route", CANDS, 0, P, **kw)


def ledger_file(path: Path, time_s: float = 1.7e9) -> Path:
    with Ledger(path) as led:
        led.append([decision(time_s=time_s)])
        led.append_outcomes([Outcome("r1", 1.0, 0.01)])
    return path


def one_line_error(capsys: pytest.CaptureFixture[str], rc: int) -> str:
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


# -- A2: times a date cannot name ------------------------------------------------------------------


@pytest.mark.parametrize("t", [1e300, 1e15, -1e15, TIME_S_MAX + 1, TIME_S_MIN - 1])
def test_decision_and_outcome_refuse_time_outside_dates(t: float) -> None:
    with pytest.raises(ValidationError, match=r"time_s in Decision for request 'r1' must be a time in \["):
        decision(time_s=t)
    with pytest.raises(ValidationError, match=r"time_s in Outcome for request 'r1' must be a time in \["):
        Outcome("r1", 1.0, 0.0, time_s=t)


@pytest.mark.parametrize("t", [TIME_S_MIN, TIME_S_MAX, 0.0, -5.0, 1.7e9])
def test_times_a_date_can_name_are_kept(t: float) -> None:
    led = Ledger()
    led.append([decision(time_s=t)])
    assert next(led.decisions()).time_s == t


@pytest.mark.parametrize("t", [1e300, "1", True])
def test_outcome_time_must_be_a_number_in_range(t: Any) -> None:
    with pytest.raises(ValidationError, match="time_s in Outcome"):
        Outcome("r1", 1.0, 0.0, time_s=t)


def test_columnar_appends_refuse_time_outside_dates() -> None:
    led = Ledger()
    led.append([decision()])
    with pytest.raises(ValidationError, match=r"outcome column time_s must be times in .*row 1 is 1e\+300"):
        led.append_outcome_arrays(["r1", "r1"], [1.0, 1.0], [0.0, 0.0], time_s=[0.0, 1e300])
    batch = DecisionBatch(
        request_ids=["a", "b"],
        layer="demand",
        decision_point="route",
        names=("m",),
        dq=np.ones((2, 1)),
        dc_usd=np.zeros((2, 1)),
        dl_s=np.zeros((2, 1)),
        dr=np.zeros((2, 1)),
        dr_irr=np.zeros((2, 1)),
        chosen=np.zeros(2, np.int64),
        v_usd=np.ones(2),
        lam_usd_per_s=np.zeros(2),
        rho_usd=np.zeros(2),
        rho_irr_usd=np.zeros(2),
        time_s=np.array([1e300, 0.0]),
    )
    with pytest.raises(ValidationError, match=r"DecisionBatch.time_s must be times in .*row 0 is 1e\+300"):
        led.append_batch(batch)
    assert led.count() == 1


def _old_file(path: Path, t: float) -> Path:
    """A ledger whose decision time was written before times were bounded (set in the file directly)."""
    ledger_file(path)
    with duckdb.connect(str(path)) as con:
        con.execute(f"UPDATE decisions SET time_s = {t!r}")
    return path


@pytest.mark.parametrize("t", [1e300, 1e15])
def test_audit_of_an_old_file_names_the_decision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], t: float
) -> None:
    path = _old_file(tmp_path / "old.duckdb", t)
    err = one_line_error(capsys, main(["audit", str(path), "--format", "ledger"]))
    assert f"{path}: decision seq 0 (d0): time_s={t!r} is not a usable time" in err
    assert "older tokenomy" in err


def test_audit_of_two_files_one_old_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _old_file(tmp_path / "old.duckdb", 1e300)
    new = tmp_path / "new.duckdb"
    with Ledger(new) as led:
        led.append([decision("r2")])
    err = one_line_error(capsys, main(["audit", str(new), str(old), "--format", "ledger"]))
    assert f"ledger {str(old)!r} holds a record this tokenomy refuses: decision seq 0 (d0): time_s" in err
    assert "request 'r1' must be a time in [" in err


def test_pricing_names_a_step_whose_time_no_date_names() -> None:
    d = decision()
    object.__setattr__(d, "time_s", 1e300)  # a record built around the checks (as from an old file)
    log = from_records([d], [])
    with pytest.raises(SchemaError, match=r"step 'r1:0' of request 'r1': time_s=1e\+300 is not a usable"):
        price_steps(log.steps, StaticPriceTable.from_override(OVERRIDE))


# -- A6: price files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("input_cost_per_token", "nan"),
        ("input_cost_per_token", -1e-5),
        ("input_cost_per_token", "inf"),
        ("input_cost_per_token", float("nan")),
        ("input_cost_per_token", True),
        ("input_cost_per_token", "1e-5"),
        ("input_cost_per_token", None),
        ("output_cost_per_token", -1e-5),
        ("cache_read_input_token_cost", "x"),
        ("input_cost_per_token_above_128k_tokens", -1.0),
        ("input_cost_per_token", 1e305),  # finite per token, infinite per million tokens
    ],
)
def test_litellm_map_refuses_bad_rate(field: str, value: Any) -> None:
    rates: dict[str, Any] = {"input_cost_per_token": 2.5e-6, "output_cost_per_token": 1e-5, field: value}
    with pytest.raises(SchemaError, match=rf"^lit.json: gpt-4o\.{field} must be a finite number ≥ 0, got"):
        StaticPriceTable.from_litellm({"gpt-4o": rates}, where="lit.json")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("input_usd_per_mtok", True),
        ("output_usd_per_mtok", "10"),
        ("input_usd_per_mtok", -1.0),
        ("input_usd_per_mtok", float("inf")),
        ("cache_read_usd_per_mtok", float("nan")),
        ("cache_write_usd_per_mtok", False),
    ],
)
def test_override_refuses_bad_rate(field: str, value: Any) -> None:
    rates: dict[str, Any] = {**OVERRIDE["models"]["gpt-4o"], field: value}
    with pytest.raises(
        SchemaError, match=rf"^p.json: models\.gpt-4o\.{field} must be a finite number ≥ 0, got"
    ):
        StaticPriceTable.from_override({"models": {"gpt-4o": rates}}, where="p.json")


def test_good_rates_are_read_as_before() -> None:
    lit = StaticPriceTable.from_litellm(
        {
            "gpt-4o": {
                "input_cost_per_token": 2.5e-6,
                "output_cost_per_token": 1e-5,
                "input_cost_per_token_above_128k_tokens": 5e-6,
            },
            "sample_spec": {"max_tokens": 1},
        }
    )
    card = lit.cards["gpt-4o"]
    assert (card.input_usd_per_mtok, card.output_usd_per_mtok) == pytest.approx((2.5, 10.0))
    assert card.cache_read_usd_per_mtok == pytest.approx(2.5)
    assert card.tiers[0][:3] == pytest.approx((128_000, 5.0, 10.0))
    over = StaticPriceTable.from_override(
        {"models": {"m": {"input_usd_per_mtok": 1, "output_usd_per_mtok": 0}}}
    )
    assert over.cards["m"].output_usd_per_mtok == 0.0


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({"gpt-4o": {"input_cost_per_token": "nan", "output_cost_per_token": 1e-5}}, "'nan'"),
        ({"gpt-4o": {"input_cost_per_token": -1e-5, "output_cost_per_token": -1e-5}}, "-1e-05"),
        ({"models": {"gpt-4o": {"input_usd_per_mtok": True, "output_usd_per_mtok": 10}}}, "True"),
    ],
)
def test_cli_names_the_price_file_model_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], doc: dict[str, Any], needle: str
) -> None:
    log, prices, out = tmp_path / "ll1.csv", tmp_path / "p.json", tmp_path / "o.json"
    log.write_text(LITELLM_CSV)
    prices.write_text(json.dumps(doc))
    err = one_line_error(capsys, main(["audit", str(log), "--prices", str(prices), "--json", str(out)]))
    assert f"{prices}: " in err and "gpt-4o." in err and f"must be a finite number ≥ 0, got {needle}" in err
    assert not out.exists()


# -- C6: outcomes and ids --------------------------------------------------------------------------


def test_outcome_of_a_candidate_the_decision_lacks_is_refused() -> None:
    led = Ledger()
    led.append([decision(decision_id="a"), Decision("r1", "demand", "route", (CANDS[1],), 0, P)])
    with pytest.raises(
        LedgerError, match="candidate 'no-such-model', which is not a candidate of request 'r1'"
    ):
        led.append_outcomes([Outcome("r1", 1.0, 0.01, candidate="no-such-model")])
    with pytest.raises(LedgerError, match="candidate 'nope', which is not a candidate of request 'r1'"):
        led.append_outcome_arrays(["r1", "r1"], [1.0, 0.0], [0.0, 0.0], candidate=["gpt-4o", "nope"])
    assert led.count("outcomes") == 0
    # a candidate of the request, of the named decision: kept
    assert led.append_outcomes([Outcome("r1", 1.0, 0.01, candidate="gpt-4o-mini", decision_id="a")]) == 1
    led.append([Decision("r1", "demand", "route", (Candidate("other", 0.1),), 0, P, decision_id="b")])
    with pytest.raises(LedgerError, match="candidate 'gpt-4o', which is not a candidate of request 'r1'"):
        led.append_outcomes([Outcome("r1", 1.0, 0.01, candidate="gpt-4o", decision_id="b")])
    assert led.append_outcomes([Outcome("r1", 1.0, 0.01, candidate="other")]) == 1


@pytest.mark.parametrize("rid", ["   ", "\t", " \n "])
def test_blank_ids_are_refused(rid: str) -> None:
    with pytest.raises(ValidationError, match=r"request_id in Decision .* not only spaces"):
        decision(rid)
    with pytest.raises(ValidationError, match=r"request_id in Outcome .* not only spaces"):
        Outcome(rid, 1.0, 0.0)
    with pytest.raises(ValidationError, match=r"decision_id in Decision .* not only spaces"):
        decision(decision_id=rid)
    with pytest.raises(ValidationError, match=r"name in Candidate must be .* not only spaces"):
        Candidate(rid, 0.5)
    led = Ledger()
    led.append([decision()])
    with pytest.raises(ValidationError, match="request_id must hold non-empty ids, not only spaces; row 1"):
        led.append_outcome_arrays(["r1", rid], [1.0, 1.0], [0.0, 0.0])


def test_decision_batch_refuses_blank_request_id() -> None:
    batch = DecisionBatch(
        request_ids=["a", "  "],
        layer="demand",
        decision_point="route",
        names=("m",),
        dq=np.ones((2, 1)),
        dc_usd=np.zeros((2, 1)),
        dl_s=np.zeros((2, 1)),
        dr=np.zeros((2, 1)),
        dr_irr=np.zeros((2, 1)),
        chosen=np.zeros(2, np.int64),
        v_usd=np.ones(2),
        lam_usd_per_s=np.zeros(2),
        rho_usd=np.zeros(2),
        rho_irr_usd=np.zeros(2),
        time_s=np.zeros(2),
    )
    led = Ledger()
    with pytest.raises(ValidationError, match=r"DecisionBatch.request_ids must hold non-empty ids.*row 1"):
        led.append_batch(batch)
    assert led.count() == 0


@pytest.mark.parametrize("events", [10**30, MAX_HARM_EVENTS + 1, -1, True, 1.0, "3"])
def test_harm_events_out_of_range_is_refused(events: Any) -> None:
    with pytest.raises(
        ValidationError, match=rf"harm_events in Outcome .* whole number in \[0, {MAX_HARM_EVENTS}\]"
    ):
        Outcome("r1", 1.0, 0.0, harm_events=events)


def test_harm_events_numpy_integer_is_kept() -> None:
    led = Ledger()
    led.append([decision()])
    led.append_outcomes([Outcome("r1", 1.0, 0.0, harm_events=np.int64(MAX_HARM_EVENTS))])
    assert next(led.outcomes()).harm_events == MAX_HARM_EVENTS


@pytest.mark.parametrize("field", ["quality", "cost_usd", "latency_s", "harm"])
@pytest.mark.parametrize("value", [True, "1"])
def test_outcome_numbers_refuse_bool_and_text(field: str, value: Any) -> None:
    kw: dict[str, Any] = {"quality": 1.0, "cost_usd": 0.0, field: value}
    with pytest.raises(
        ValidationError, match=rf"{field} in Outcome for request 'r1' must be a finite number"
    ):
        Outcome("r1", **kw)


def test_chosen_true_names_chosen() -> None:
    with pytest.raises(
        ValidationError, match=r"chosen in Decision for request 'r1' must be None .* got True"
    ):
        Decision("r1", "demand", "route", CANDS, True, P)  # type: ignore[arg-type]


# -- D3: flags with no effect ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags",
    [["--v", "1000"], ["--lam", "1000"], ["--rho", "5"], ["--skip-bad"], ["--labels", "LABELS"]],
)
def test_ledger_audit_refuses_flags_without_effect(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str]
) -> None:
    path = ledger_file(tmp_path / "L.duckdb")
    labels = tmp_path / "labels.csv"
    labels.write_text("request_id,v_usd\nr1,5\n")
    args = [str(labels) if f == "LABELS" else f for f in flags]
    err = one_line_error(capsys, main(["audit", str(path), "--format", "ledger", *args]))
    assert f"{flags[0]} has no effect with --format ledger" in err
    where = "otlp, litellm, langfuse" + ("" if flags[0] == "--skip-bad" else ", miniswe, taubench")
    assert f"it applies to {where}" in err


def test_max_requests_without_json_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = ledger_file(tmp_path / "L.duckdb")
    log = tmp_path / "ll1.csv"
    log.write_text(LITELLM_CSV)
    for src in (path, log):
        err = one_line_error(capsys, main(["audit", str(src), "--max-requests", "1"]))
        assert "--max-requests has no effect without --json" in err
    out = tmp_path / "o.json"
    assert main(["audit", str(path), "--max-requests", "0", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["requests"] == []


def test_skip_bad_refused_for_agent_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "runs"
    folder.mkdir()
    err = one_line_error(capsys, main(["audit", str(folder), "--format", "miniswe", "--skip-bad"]))
    assert "--skip-bad has no effect with --format miniswe; it applies to otlp, litellm, langfuse" in err


def test_schedule_without_tool_calls_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schedule = (
        Path(__file__).parents[2] / "src" / "tokenomy" / "interfaces" / "resources" / "default_schedule.toml"
    )
    assert schedule.is_file()
    log = tmp_path / "ll1.csv"
    log.write_text(LITELLM_CSV)
    for src, fmt in ((ledger_file(tmp_path / "L.duckdb"), "ledger"), (log, "litellm")):
        err = one_line_error(capsys, main(["audit", str(src), "--format", fmt, "--schedule", str(schedule)]))
        assert f"--schedule {schedule} has no effect: the input holds no tool call" in err


def test_litellm_keeps_v_it_records(tmp_path: Path) -> None:
    log, out = tmp_path / "ll1.csv", tmp_path / "o.json"
    log.write_text(LITELLM_CSV)
    assert main(["audit", str(log), "--v", "1000", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["requests"][0]["v_usd"] == 1000.0
