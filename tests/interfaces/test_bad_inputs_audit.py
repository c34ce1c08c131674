"""Bad input to the audit's loaders and the ``audit`` command: one line naming the file, the line (where
there is one), the field and the expected form; never a silent guess, a traceback or an empty report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tokenomy.core.errors import SchemaError
from tokenomy.interfaces.cli import main
from tokenomy.interfaces.loaders.langfuse import load_langfuse
from tokenomy.interfaces.loaders.litellm import load_litellm
from tokenomy.interfaces.loaders.otlp import load_otlp
from tokenomy.interfaces.loaders.pricefiles import load_labels, load_price_file

_HEAD = "request_id,spend,prompt_tokens,completion_tokens,startTime,endTime,model\n"
_ROW = "r1,0.0055,1000,300,2024-06-01T10:00:00Z,2024-06-01T10:00:02Z,gpt-4o\n"
_TRACE = "0af7651916cd43dd8448eb211c80319c"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _audit_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``tokenomy audit ...``; assert exit 2 with one line on stderr, and return that line."""
    assert main(["audit", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


# labels file -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "field", "form"),
    [
        ("r1,5,7,0", "quality", "[0, 1]"),
        ("r1,5,-3,0", "quality", "[0, 1]"),
        ("r1,-5,1,0", "v_usd", "in [0, 1e+09]"),
        ("r1,5,1,-100", "harm", "in [0, 1e+09]"),
        ("r1,inf,1,0", "v_usd", "finite"),
    ],
)
def test_a_label_outside_its_domain_names_file_line_field_and_form(
    row: str, field: str, form: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = _write(tmp_path / "lab.csv", f"request_id,v_usd,quality,harm\n{row}\n")
    with pytest.raises(SchemaError) as exc:
        load_labels(lab)
    msg = str(exc.value)
    assert str(lab) in msg and "2" in msg and repr(field) in msg and form in msg, msg
    log = _write(tmp_path / "ll.csv", _HEAD + _ROW)
    out = tmp_path / "out.json"
    err = _audit_error([str(log), "--format", "litellm", "--labels", str(lab), "--json", str(out)], capsys)
    assert field in err and not out.exists()


@pytest.mark.parametrize("field", ["lam_usd_per_s", "rho_usd", "rho_irr_usd", "harm_irr"])
def test_a_negative_price_or_harm_label_is_refused(field: str, tmp_path: Path) -> None:
    lab = _write(tmp_path / "lab.jsonl", json.dumps({"request_id": "r1", field: -1}) + "\n")
    with pytest.raises(SchemaError, match=rf"lab.jsonl:1: field '{field}'.*in \[0, 1e\+09\]"):
        load_labels(lab)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("lab.csv", "request_id,quality\nr1,1\nr1,0\n"),
        ("lab.jsonl", '{"request_id": "r1", "quality": 1}\n{"request_id": "r1", "quality": 0}\n'),
        ("lab.json", '[{"request_id": "r1", "quality": 1}, {"request_id": "r1", "quality": 0}]'),
    ],
)
def test_a_request_id_labelled_twice_is_an_error_not_last_wins(name: str, text: str, tmp_path: Path) -> None:
    lab = _write(tmp_path / name, text)
    with pytest.raises(SchemaError, match=r"duplicate request_id 'r1'") as exc:
        load_labels(lab)
    assert str(lab) in str(exc.value)


def test_valid_labels_still_load(tmp_path: Path) -> None:
    lab = _write(tmp_path / "lab.csv", "request_id,v_usd,quality,harm\nr1,5,0.5,0\nr2,0,1,2\n")
    got = load_labels(lab)
    assert got["r1"]["quality"] == 0.5 and got["r2"]["harm"] == 2.0


# LiteLLM / Langfuse records --------------------------------------------------------------------


def test_litellm_end_before_start_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    row = "r1,0.0055,1000,300,2024-06-01T10:00:00Z,2024-06-01T09:00:00Z,gpt-4o\n"
    log = _write(tmp_path / "neg.csv", _HEAD + row)
    with pytest.raises(SchemaError, match=r"neg.csv:2: .*endTime.*before.*startTime"):
        load_litellm([log])
    err = _audit_error([str(log), "--format", "litellm", "--lam", "1"], capsys)
    assert "neg.csv:2" in err


@pytest.mark.parametrize("spend", ["1e999", "nan", "-1", "inf"])
def test_litellm_spend_must_be_a_finite_number_at_least_zero(spend: str, tmp_path: Path) -> None:
    log = _write(tmp_path / "ll.csv", _HEAD + _ROW.replace("0.0055", spend))
    with pytest.raises(SchemaError, match=r"ll.csv:2: field 'spend.*must be a finite number ≥ 0"):
        load_litellm([log])


def _obs(**kw: Any) -> dict[str, Any]:
    rec = {
        "id": "o1",
        "traceId": "t1",
        "type": "GENERATION",
        "startTime": "2024-06-01T10:00:00Z",
        "endTime": "2024-06-01T10:00:01Z",
        "model": "gpt-4o",
        "usageDetails": {"input": 10, "output": 5},
    }
    rec.update(kw)
    return rec


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"costDetails": {"total": float("nan")}}, "costDetails.total"),
        ({"costDetails": {"total": -3}}, "costDetails.total"),
        ({"usageDetails": "lots"}, "usageDetails"),
        ({"usageDetails": 5}, "usageDetails"),
        ({"costDetails": "x"}, "costDetails"),
        ({"endTime": "2024-06-01T09:00:00Z"}, "endTime"),
    ],
)
def test_langfuse_bad_cost_usage_or_times_name_the_field(
    change: dict[str, Any], field: str, tmp_path: Path
) -> None:
    path = tmp_path / "obs.jsonl"
    path.write_text(json.dumps(_obs(**change)) + "\n")  # NaN is written as the JSON extension NaN
    with pytest.raises(SchemaError, match=rf"obs.jsonl:1: .*{field}") as exc:
        load_langfuse([path])
    assert "TypeError" not in str(exc.value)


def test_langfuse_usage_as_json_text_still_reads(tmp_path: Path) -> None:
    path = _write(tmp_path / "obs.jsonl", json.dumps(_obs(usageDetails='{"input": 10, "output": 5}')) + "\n")
    log, _ = load_langfuse([path])
    assert int(log.steps.input_tokens[0]) == 10


@pytest.mark.parametrize("loader", [load_litellm, load_otlp, load_langfuse])
def test_a_bare_str_path_is_read_as_one_path(loader: Any, tmp_path: Path) -> None:
    if loader is load_litellm:
        path = _write(tmp_path / "ll.csv", _HEAD + _ROW)
    elif loader is load_langfuse:
        path = _write(tmp_path / "obs.jsonl", json.dumps(_obs()) + "\n")
    else:
        path = _write(tmp_path / "ot.jsonl", json.dumps(_otlp(_span())) + "\n")
    for arg in (str(path), path):
        log, _ = loader(arg)
        assert len(log.steps) == 1


# OTLP ------------------------------------------------------------------------------------------


def _span(**kw: Any) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": _TRACE,
        "spanId": "b7ad6b7169203331",
        "name": "chat gpt-4o",
        "startTimeUnixNano": "1717236000000000000",
        "endTimeUnixNano": "1717236001000000000",
        "attributes": [
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "100"}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "10"}},
        ],
    }
    span.update(kw)
    return span


def _otlp(*spans: Any) -> dict[str, Any]:
    return {"resourceSpans": [{"scopeSpans": [{"spans": list(spans)}]}]}


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"startTimeUnixNano": "-5"}, "startTimeUnixNano"),
        ({"endTimeUnixNano": "1717235999000000000"}, "endTimeUnixNano"),
    ],
)
def test_otlp_negative_or_backwards_times_are_refused(
    change: dict[str, Any], field: str, fast: bool, tmp_path: Path
) -> None:
    path = _write(tmp_path / "ot.jsonl", json.dumps(_otlp(_span(**change))) + "\n")
    with pytest.raises(SchemaError, match=rf"ot.jsonl:1: .*{field}"):
        load_otlp([path], fast=fast)


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"resourceSpans": None}, "resourceSpans"),
        ({"resourceSpans": "x"}, "resourceSpans"),
        ({"resourceSpans": [5]}, "resourceSpans[0]"),
        ({"resourceSpans": [{"scopeSpans": "x"}]}, "scopeSpans"),
        ({"resourceSpans": [{"scopeSpans": [{"spans": "x"}]}]}, "spans"),
        (_otlp(None), "spans[0]"),
        (_otlp(_span(attributes="x")), "attributes"),
        (_otlp(_span(attributes=[5])), "attributes[0]"),
        (_otlp(_span(attributes=[{"key": "gen_ai.usage.input_tokens", "value": "x"}])), "value"),
    ],
)
def test_malformed_otlp_structure_names_the_field_and_form(
    doc: dict[str, Any], field: str, tmp_path: Path
) -> None:
    path = _write(tmp_path / "ot.jsonl", json.dumps(doc) + "\n")
    for fast in (True, False):
        with pytest.raises(SchemaError) as exc:
            load_otlp([path], fast=fast)
        msg = str(exc.value)
        assert "ot.jsonl:1" in msg and field in msg and "expected" in msg, msg
        assert "TypeError" not in msg and "AttributeError" not in msg and "indices" not in msg, msg


# the audit command -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "fmt"),
    [
        ("e.log", "", None),
        ("e.jsonl", "\n\n", "otlp"),
        ("h.csv", _HEAD, "litellm"),
        ("h.csv", _HEAD, None),
        ("o.json", "[]", "langfuse"),
    ],
)
def test_an_input_with_no_records_is_an_error(
    name: str, text: str, fmt: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / name, text)
    out = tmp_path / "out.json"
    err = _audit_error([str(path), "--json", str(out), *(["--format", fmt] if fmt else [])], capsys)
    assert f"no records in {path}" in err and not out.exists()


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("d.yaml", "[" * 10000 + "]" * 10000 + "\n"),
        ("d.yml", "a: " + "[" * 5000 + "]" * 5000 + "\n"),
    ],
)
def test_a_deeply_nested_price_file_is_one_line(
    name: str, text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prices = _write(tmp_path / name, text)
    with pytest.raises(SchemaError, match=rf"{name}: nested too deeply"):
        load_price_file(prices)
    log = _write(tmp_path / "ll.csv", _HEAD + _ROW)
    err = _audit_error([str(log), "--prices", str(prices)], capsys)
    assert "nested too deeply" in err
