"""Trace and step-time loaders: facts from the data README, and clear errors on bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tokenomy.core.errors import SchemaError, ValidationError
from tokenomy.interfaces.loaders.traces import (
    BLIS_FILE,
    NAMED_TRACES,
    SPLITWISE_FILE,
    load_blis,
    load_splitwise,
    load_trace,
    resolve_trace,
)
from tokenomy.serving.steptime import BLIS_LLAMA31_8B_H100_TP1


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_missing_column_names_the_file_and_the_expected_columns(tmp_path: Path) -> None:
    p = _write(tmp_path, "t.csv", "arrival_s,prompt_tokens\n0,10\n")
    with pytest.raises(SchemaError, match=r"t\.csv: missing columns.*output_tokens"):
        load_trace(p)


def test_negative_length_names_the_line_and_field(tmp_path: Path) -> None:
    p = _write(tmp_path, "t.csv", "arrival_s,prompt_tokens,output_tokens\n0,10,5\n1,-3,5\n")
    with pytest.raises(SchemaError, match=r"line 3: field 'prompt_tokens' must be a whole number ≥ 1"):
        load_trace(p)


def test_a_length_past_any_context_names_the_line_and_field(tmp_path: Path) -> None:
    # a 40-digit length used to overflow int64 on the way into the workload, an error naming no file
    body = "arrival_s,prompt_tokens,output_tokens\n0,10,5\n1,10," + "9" * 40 + "\n"
    p = _write(tmp_path, "t.csv", body)
    with pytest.raises(
        SchemaError,
        match=r"t.csv: line 3: field 'output_tokens' must be a whole number ≥ 1 and ≤ 2,147,483,647",
    ):
        load_trace(p)
    mooncake = _write(tmp_path, "m.jsonl", '{"timestamp": 0, "input_length": 10, "output_length": 1e40}\n')
    with pytest.raises(SchemaError, match=r"m.jsonl: line 1: field 'output_length'"):
        load_trace(mooncake)


def test_non_number_is_reported_in_jsonl(tmp_path: Path) -> None:
    p = _write(tmp_path, "t.jsonl", '{"timestamp": 0, "input_length": 5, "output_length": "x"}\n')
    with pytest.raises(SchemaError, match=r"line 1: field 'output_length' must be a number"):
        load_trace(p)


def test_unsorted_times_are_sorted_and_reported(tmp_path: Path) -> None:
    p = _write(
        tmp_path, "t.csv", "arrival_s,prompt_tokens,output_tokens,tenant\n5,10,5,a\n1,20,6,b\n3,30,7,a\n"
    )
    lt = load_trace(p)
    assert lt.workload.prompt_tokens.tolist() == [20, 30, 10]
    assert lt.workload.tenant_names == ("a", "b")
    assert any("not sorted" in n for n in lt.notes)


def test_unknown_trace_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="azure-conv"):
        resolve_trace("nope", tmp_path)


@pytest.mark.data
@pytest.mark.parametrize(
    ("name", "n", "span", "pmean", "omean"),
    [
        ("azure-conv", 19366, 3502, 1155, 211),
        ("azure-code", 8819, 3436, 2048, 28),
        ("mooncake", 12031, 3537, 12035, 343),
    ],
)
def test_traces_match_the_readme_facts(
    need_data: Any, name: str, n: int, span: float, pmean: float, omean: float
) -> None:
    wl = load_trace(need_data(*NAMED_TRACES[name].split("/"))).workload
    assert len(wl) == n
    assert wl.duration_s == pytest.approx(span, abs=1.0)
    assert wl.prompt_tokens.mean() == pytest.approx(pmean, abs=1.0)
    assert wl.output_tokens.mean() == pytest.approx(omean, abs=1.0)


@pytest.mark.data
def test_step_models_match_the_readme_facts(need_data: Any) -> None:
    step, blocks = load_blis(need_data(*BLIS_FILE.split("/")))
    assert blocks == 29205
    assert step.beta0_s == pytest.approx(BLIS_LLAMA31_8B_H100_TP1.beta0_s)
    assert step.beta1_s_per_prefill_token == pytest.approx(17.25e-6, rel=1e-3)
    table = load_splitwise(need_data(*SPLITWISE_FILE.split("/")))
    assert table.step_s(2048, 0) == pytest.approx(0.137, rel=0.05)
    assert table.step_s(0, 1) == pytest.approx(0.031, rel=0.05)
    # SplitwiseSim's reading: decode looked up on the tokens-in-batch grid, 28–31 ms up to 512 sequences
    assert [table.step_s(0, d) for d in (64, 256, 512)] == pytest.approx([0.0307, 0.0283, 0.0306], rel=0.02)
    # a mixed step costs 1.1 × prompt_time(P + D), not prefill + decode
    assert table.step_s(1000, 24) == pytest.approx(1.1 * table.step_s(1024, 0))
    assert 0 < table.attn_s_per_token_pair < 1e-8
    with pytest.raises(SchemaError, match="no entry"):
        load_blis(need_data(*BLIS_FILE.split("/")), model="nope")


def test_trace_values_replace_the_synthetic_draws(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "t.csv",
        "arrival_s,prompt_tokens,output_tokens,v_usd,lam_usd_per_s\n2,10,5,0.5,0.01\n1,20,6,0.25,0.02\n",
    )
    lt = load_trace(p)
    wl = lt.workload
    assert wl.v_usd.tolist() == [0.25, 0.5] and wl.lam_usd_per_s.tolist() == [0.02, 0.01]  # sorted by time
    assert "v_usd" not in wl.synthetic and "lam_usd_per_s" not in wl.synthetic
    assert "predicted_output_tokens" in wl.synthetic
    assert any("not synthetic" in n for n in lt.notes)
    bad = _write(tmp_path, "b.csv", "arrival_s,prompt_tokens,output_tokens,v_usd\n0,10,5,0.5\n1,10,5,-1\n")
    with pytest.raises(SchemaError, match=r"line 3: field 'v_usd' must be ≥ 0"):
        load_trace(bad)
