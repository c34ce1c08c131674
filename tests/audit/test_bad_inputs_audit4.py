"""Bad inputs of the audit and ledger: huge harm, damaged stored ledgers, OTLP labels, escapes, .csv.gz."""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tokenomy.audit.svg import Series, _nice_ticks, bar_chart, cdf_chart, line_chart
from tokenomy.core.errors import ValidationError
from tokenomy.core.rule import realised_utility
from tokenomy.interfaces.cli import main
from tokenomy.ledger.records import MAX_COST_USD, MAX_HARM, MAX_LATENCY_S, MAX_QUALITY, Outcome


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("harm", 1e308),
        ("harm", MAX_HARM * 1.5),
        ("harm_irr", 1e308),
        ("cost_usd", MAX_COST_USD * 2),
        ("latency_s", MAX_LATENCY_S * 2),
        ("quality", 1e308),
        ("quality", -MAX_QUALITY * 2),
    ],
)
def test_outcome_refuses_numbers_beyond_the_bounds(field: str, value: float) -> None:
    kwargs: dict[str, object] = {"request_id": "r1", "quality": 1.0, "cost_usd": 0.0, field: value}
    if field == "harm_irr":
        kwargs["harm"] = MAX_HARM
    with pytest.raises(ValidationError, match=field):
        Outcome(**kwargs)  # type: ignore[arg-type]


def test_outcome_accepts_the_bounds_themselves() -> None:
    o = Outcome("r1", MAX_QUALITY, MAX_COST_USD, MAX_LATENCY_S, MAX_HARM, MAX_HARM)
    assert o.harm == MAX_HARM


@pytest.mark.parametrize(
    "kwargs",
    [
        {"v_usd": 1e200, "quality": 1e200},
        {"v_usd": 1.0, "quality": 1.0, "harm": 1e308, "rho_usd": 1e9},
        {"v_usd": 1.0, "quality": 1.0, "latency_s": 1e308, "lam_usd_per_s": 1e9},
        {"v_usd": 1e308, "quality": 1.0, "cost_usd": -1e308},
    ],
)
def test_realised_utility_overflow_is_a_validation_error(kwargs: dict[str, float]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValidationError, match="overflows the float range"):
            realised_utility(**kwargs)  # type: ignore[arg-type]


def test_realised_utility_keeps_unknown_values_nan() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = realised_utility([1.0, 2.0], [np.nan, 1.0], [0.5, 0.5])
    assert np.isnan(out[0]) and out[1] == 1.5


@pytest.mark.parametrize(
    ("lo", "hi"),
    [(0.0, math.inf), (-math.inf, 1.0), (math.nan, 1.0), (-1.7e308, 1.7e308), (1e308, 1e308), (0.0, 5e-324)],
)
def test_nice_ticks_never_raise(lo: float, hi: float) -> None:
    ticks = _nice_ticks(lo, hi)
    assert all(math.isfinite(t) for t in ticks) and len(ticks) <= 24


def test_nice_ticks_unchanged_for_ordinary_ranges() -> None:
    assert _nice_ticks(0.0, 10.0) == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]


@pytest.mark.parametrize("values", [[math.inf, -math.inf, 1.0], [1.7e308, 1.7e308, -1.7e308], [math.nan]])
def test_charts_of_non_finite_or_huge_values_say_so(values: list[float]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bars = bar_chart(["a", "b", "c"][: len(values)], values, waterfall=True, total_label="total")
        line = line_chart([Series("s", list(range(len(values))), values)])
        cdf = cdf_chart({"s": values})
    for svg in (bars, line, cdf):
        assert not re.search(r'="[^"]*(nan|inf)', svg, re.IGNORECASE)
    if not all(math.isfinite(v) for v in values):
        assert "not finite" in bars and "not finite" in line and "not finite" in cdf


# -- labels: a harm or price beyond the bounds, from a --labels file or an OTLP span attribute ------


def one_line_error(capsys: pytest.CaptureFixture[str], rc: int) -> str:
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert "Traceback" not in err and "Warning" not in err and len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("r1,1,1e308,1e9", "harm"),
        ("r1,1,1e10,1", "harm"),
        ("r1,1,0,1e10", "v_usd"),
        ("r1,1,0,1e308", "v_usd"),
    ],
)
def test_labels_file_refuses_harm_and_prices_beyond_the_bounds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], row: str, field: str
) -> None:
    log = tmp_path / "ll.csv"
    log.write_text(LITELLM_CSV)
    labels = tmp_path / "l.csv"
    labels.write_text("request_id,quality,harm,v_usd\n" + row + "\n")
    rc = main(["audit", str(log), "--format", "litellm", "--labels", str(labels), "--rho", "1e9"])
    err = one_line_error(capsys, rc)
    assert f"{labels}:2" in err and repr(field) in err


def test_labels_at_the_bounds_give_finite_totals_and_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "ll.csv"
    log.write_text(LITELLM_CSV)
    labels = tmp_path / "l.csv"
    labels.write_text(f"request_id,quality,harm,v_usd\nr1,1,{MAX_HARM:g},1e9\n")
    out, report = tmp_path / "a.json", tmp_path / "a.html"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        args = ["audit", str(log), "--format", "litellm", "--labels", str(labels), "--rho", "1e9"]
        rc = main([*args, "--json", str(out), "--report", str(report)])
    assert rc == 0, capsys.readouterr().err
    text = out.read_text()
    assert "Infinity" not in text and "NaN" not in text
    assert report.stat().st_size > 0


def otlp_line(attrs: list[dict[str, Any]]) -> str:
    span = {
        "traceId": "a" * 32,
        "spanId": "b" * 16,
        "name": "chat",
        "startTimeUnixNano": "1717236000000000000",
        "endTimeUnixNano": "1717236002000000000",
        "attributes": [
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "100"}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "20"}},
            *attrs,
        ],
    }
    return json.dumps(
        {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [span]}]}]}
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("tokenomy.v_usd", {"doubleValue": "Infinity"}),
        ("tokenomy.v_usd", {"doubleValue": "-Infinity"}),
        ("tokenomy.v_usd", {"stringValue": "Infinity"}),
        ("tokenomy.v_usd", {"doubleValue": -5}),
        ("tokenomy.quality", {"doubleValue": 7}),
        ("tokenomy.quality", {"stringValue": "NaN"}),
        ("tokenomy.quality", {"doubleValue": "NaN"}),
        ("tokenomy.harm", {"doubleValue": 1e308}),
        ("tokenomy.rho_usd", {"doubleValue": 1e10}),
        ("tokenomy.quality", {"boolValue": True}),
        ("tokenomy.quality", {"stringValue": "high"}),
    ],
)
def test_otlp_label_attributes_are_checked_like_the_labels_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, value: dict[str, Any]
) -> None:
    path = tmp_path / "o.jsonl"
    path.write_text(otlp_line([{"key": key, "value": value}]) + "\n")
    err = one_line_error(capsys, main(["audit", str(path), "--format", "otlp"]))
    assert f"{path}:1" in err and "span bbbbbbbbbbbbbbbb" in err and repr(key) in err
    assert "must be a finite number in" in err


def test_otlp_label_attributes_in_range_are_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, out = tmp_path / "o.jsonl", tmp_path / "o.json"
    attrs = [
        {"key": "tokenomy.v_usd", "value": {"doubleValue": 2.0}},
        {"key": "tokenomy.quality", "value": {"stringValue": "1"}},
        {"key": "tokenomy.harm", "value": {"intValue": "0"}},
    ]
    path.write_text(otlp_line(attrs) + "\n")
    assert main(["audit", str(path), "--format", "otlp", "--json", str(out)]) == 0, capsys.readouterr().err
    assert 2.0 in list(_values(json.loads(out.read_text()), "value_usd"))


def _values(obj: Any, key: str) -> Any:
    """Every value stored under ``key`` anywhere in a JSON document."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == key:
                yield v
            yield from _values(v, key)
    elif isinstance(obj, list):
        for v in obj:
            yield from _values(v, key)


LITELLM_CSV = (
    "request_id,spend,prompt_tokens,completion_tokens,startTime,endTime,model\n"
    "r1,0.0055,1000,300,2024-06-01T10:00:00Z,2024-06-01T10:00:02Z,gpt-4o\n"
)


# -- a stored ledger edited by hand: NULLs, NaN and infinities are named, never read ------------------


def _ledger(path: Path) -> Path:
    from tokenomy.core import PriceVector
    from tokenomy.ledger import Candidate, Decision, Ledger, Outcome

    cands = (Candidate("gpt-4o", 0.5, 0.01), Candidate("gpt-4o-mini", 0.4, 0.001))
    with Ledger(path) as led:
        led.append(
            [
                Decision(f"r{i}", "demand", "route", cands, 0, PriceVector(v_usd=1.0), time_s=1.7e9)
                for i in range(3)
            ]
        )
        led.append_outcomes([Outcome(f"r{i}", 1.0, 0.01) for i in range(3)])
    return path


DAMAGE = [
    ("update decisions set request_id=NULL where seq<3", "decision seq 0", "request_id is NULL"),
    ("update decisions set layer=NULL where seq=1", "decision seq 1", "layer is NULL"),
    ("update candidates set name=NULL where decision_seq=2", "decision seq 2: candidate 0", "name is NULL"),
    (
        "update candidates set dc_usd='nan'::DOUBLE where decision_seq=0",
        "decision seq 0: candidate 0",
        "dc_usd=nan",
    ),
    ("update outcomes set quality='inf'::DOUBLE where seq<3", "outcome seq 0", "quality=inf"),
    ("update outcomes set harm=1e308 where seq=2", "outcome seq 2", "harm=1e+308"),
    ("update outcomes set candidate=NULL where seq=1", "outcome seq 1", "candidate is NULL"),
]


def _damaged(tmp_path: Path, sql: str) -> Path:
    """A good ledger file, then ``sql`` run on it (a hand edit that damages a row)."""
    import duckdb

    path = _ledger(tmp_path / "l.duckdb")
    with duckdb.connect(str(path)) as con:
        con.execute(sql)
    return path


@pytest.mark.parametrize(("sql", "row", "what"), DAMAGE)
def test_audit_of_a_damaged_ledger_names_the_row_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sql: str, row: str, what: str
) -> None:
    path = _damaged(tmp_path, sql)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        err = one_line_error(
            capsys, main(["audit", str(path), "--format", "ledger", "--report", str(tmp_path / "r.html")])
        )
    assert f"{path}: {row}" in err and what in err and "damaged" in err


@pytest.mark.parametrize(("sql", "row", "what"), DAMAGE)
def test_ledger_summary_of_a_damaged_ledger_names_the_row_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sql: str, row: str, what: str
) -> None:
    path = _damaged(tmp_path, sql)
    err = one_line_error(capsys, main(["ledger", "summary", str(path)]))
    assert row in err and what in err and "damaged" in err


def test_an_undamaged_ledger_still_audits_and_summarises(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _ledger(tmp_path / "l.duckdb")
    assert main(["ledger", "summary", str(path)]) == 0
    assert main(["audit", str(path), "--format", "ledger"]) == 0, capsys.readouterr().err


# -- a model name with terminal escapes is shown escaped in notes and warnings -----------------------

ESC_MODEL = "gpt\x1b[2J\x1b[31mRED"


@pytest.mark.parametrize("fmt", ["litellm", "otlp"])
def test_unknown_model_note_escapes_control_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    if fmt == "litellm":
        path = tmp_path / "esc.csv"
        path.write_text(LITELLM_CSV.replace(",gpt-4o\n", f",{ESC_MODEL}\n"))
    else:
        path = tmp_path / "esc.jsonl"
        path.write_text(otlp_line([]).replace("gpt-4o", ESC_MODEL.replace("\x1b", "\\u001b")) + "\n")
    assert main(["audit", str(path), "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert "Unknown models" in out and "\x1b" not in out
    assert "gpt\\x1b[2J\\x1b[31mRED" in out


# -- a compressed CSV is read as CSV; a name that says no format gets a hint --------------------------


@pytest.mark.parametrize(
    ("suffix", "opener"), [(".csv.gz", "gzip"), (".csv.xz", "lzma"), (".csv.bz2", "bz2")]
)
def test_compressed_litellm_csv_is_read_as_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str, opener: str
) -> None:
    import importlib

    path = tmp_path / f"good{suffix}"
    with importlib.import_module(opener).open(path, "wt") as f:
        f.write(LITELLM_CSV)
    out = tmp_path / "a.json"
    for fmt in (["--format", "litellm"], []):
        assert main(["audit", str(path), *fmt, "--json", str(out)]) == 0, capsys.readouterr().err
        assert json.loads(out.read_text())["totals"]["requests"] == 1
        out.unlink()


def test_csv_under_a_name_without_its_format_gets_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "log.gz"
    path.write_text(LITELLM_CSV)
    err = one_line_error(capsys, main(["audit", str(path), "--format", "litellm"]))
    assert "expected .csv, .json or .jsonl" in err and "log.gz" in err


def test_compressed_labels_csv_is_read_as_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import gzip

    log, labels = tmp_path / "ll.csv", tmp_path / "l.csv.gz"
    log.write_text(LITELLM_CSV)
    with gzip.open(labels, "wt") as f:
        f.write("request_id,quality\nr1,1\n")
    out = tmp_path / "a.json"
    assert main(["audit", str(log), "--labels", str(labels), "--json", str(out)]) == 0, (
        capsys.readouterr().err
    )
