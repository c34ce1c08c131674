"""Bad input to the gate and the autonomy API gets one ValidationError naming the argument, never a
raw error, a silent guess or a weaker level (third bad-input hunt: A4, B3, B5, C2, C9)."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from tokenomy.autonomy import (
    Gate,
    GateContext,
    autonomy_level,
    classify_call,
    classify_shell,
    parse_schedule,
    split_folds,
)
from tokenomy.autonomy.schedule import Schedule
from tokenomy.autonomy.verdict import Call
from tokenomy.core.errors import SchemaError, ValidationError
from tokenomy.interfaces.loaders.agent_data import load_schedule

S: Schedule = load_schedule()


def _deep_json(depth: int) -> str:
    return '{"command":' + "[" * depth + "]" * depth + "}"


def _deep_list(depth: int) -> list[Any]:
    out: list[Any] = []
    for _ in range(depth):
        out = [out]
    return out


BAD: dict[str, tuple[Callable[[], Any], str]] = {
    # A4: deep JSON arguments
    "deep_json_5000": (
        lambda: Gate(S).check({"name": "bash", "arguments": _deep_json(5000)}),
        "nested too deeply",
    ),
    "deep_json_500": (
        lambda: Gate(S).check({"name": "bash", "arguments": _deep_json(500)}),
        "nested too deeply",
    ),
    "deep_mapping_5000": (
        lambda: Gate(S).check({"name": "bash", "arguments": {"command": _deep_list(5000)}}),
        "nested too deeply",
    ),
    "deep_call_of": (lambda: Call.of({"name": "x", "arguments": _deep_json(5000)}), "nested too deeply"),
    # B3
    "classify_shell_none": (lambda: classify_shell(None, S), "command"),
    "classify_shell_bytes": (lambda: classify_shell(b"rm -rf /", S), "command"),
    "classify_shell_dict": (lambda: classify_shell({"name": "bash"}, S), "command"),
    "classify_call_tool_none": (lambda: classify_call(None, {}, S), "tool"),
    "classify_call_args_none": (lambda: classify_call("bash", None, S), "arguments"),
    "classify_call_schedule_none": (lambda: classify_call("bash", {}, None), "schedule"),
    "gate_schedule_none": (lambda: Gate(None), "schedule"),
    "gate_grants_none": (lambda: Gate(S, grants=None), "grants"),
    "gate_grants_str": (lambda: Gate(S, grants="ab"), "grants"),
    "gate_ledger_path": (lambda: Gate(S, ledger="x.duckdb"), "ledger"),
    "check_context_dict": (lambda: Gate(S).check("ls", {"session_id": "x"}), "context"),
    "check_context_empty_dict": (lambda: Gate(S).check("ls", {}), "context"),
    "require_context_dict": (lambda: Gate(S).require("ls", context={"session_id": "x"}), "context"),
    # C2: GateContext types
    "ctx_sandboxed_no": (lambda: GateContext(sandboxed="no"), "sandboxed"),
    "ctx_sandboxed_false_str": (lambda: GateContext(sandboxed="false"), "sandboxed"),
    "ctx_sandboxed_int": (lambda: GateContext(sandboxed=1), "sandboxed"),
    "ctx_tenant_none": (lambda: GateContext(tenant=None), "tenant"),
    "ctx_request_id_none": (lambda: GateContext(request_id=None), "request_id"),
    "ctx_time_str": (lambda: GateContext(time_s="x"), "time_s"),
    "ctx_time_nan": (lambda: GateContext(time_s=math.nan), "time_s"),
    "ctx_time_bool": (lambda: GateContext(time_s=True), "time_s"),
    "ctx_p_harm_str": (lambda: GateContext(p_harm="0.5"), "p_harm"),
    "ctx_p_harm_nan": (lambda: GateContext(p_harm=math.nan), "p_harm"),
    "ctx_session_int": (lambda: GateContext(session_id=5), "session_id"),
    # B5
    "parse_schedule_none": (lambda: parse_schedule(None), "text"),
    "parse_schedule_bytes": (lambda: parse_schedule(b"[classes.read]\n"), "text"),
    "autonomy_level_mix_none": (lambda: autonomy_level(S, None), "mix"),
    "autonomy_level_schedule_none": (lambda: autonomy_level(None, {"read": 1.0}), "schedule"),
    "split_folds_seed_negative": (lambda: split_folds(5, 2, -1), "seed"),
    # C9
    "autonomy_level_mix_nan": (lambda: autonomy_level(S, {"read": math.nan}), "mix"),
    "autonomy_level_mix_inf": (lambda: autonomy_level(S, {"read": math.inf}), "mix"),
    "autonomy_level_mix_str": (lambda: autonomy_level(S, {"read": "3"}), "mix"),
    "autonomy_level_unknown_class": (lambda: autonomy_level(S, {"bogus": 1.0}), "bogus"),
    "autonomy_level_v_nan": (lambda: autonomy_level(S, {"read": 1.0}, v_usd=math.nan), "v_usd"),
    "autonomy_level_v_negative": (lambda: autonomy_level(S, {"read": 1.0}, v_usd=-1.0), "v_usd"),
    "autonomy_level_dp_wait_5": (lambda: autonomy_level(S, {"read": 1.0}, dp_wait=5.0), "dp_wait"),
    "autonomy_level_ask_cost_negative": (
        lambda: autonomy_level(S, {"read": 1.0}, ask_cost_usd=-1.0),
        "ask_cost_usd",
    ),
    "split_folds_zero_folds": (lambda: split_folds(5, 0, 0), "folds"),
    "split_folds_more_folds_than_n": (lambda: split_folds(5, 10, 0), "folds"),
    "split_folds_float_folds": (lambda: split_folds(5, 2.5, 0), "folds"),
    "split_folds_negative_n": (lambda: split_folds(-1, 2, 0), "n"),
    "split_folds_train_frac_2": (lambda: split_folds(5, 1, 0, train_frac=2.0), "train_frac"),
    "split_folds_train_frac_nan": (lambda: split_folds(5, 2, 0, train_frac=math.nan), "train_frac"),
    "split_folds_train_frac_str": (lambda: split_folds(5, 1, 0, train_frac="0.5"), "train_frac"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_autonomy_input_is_one_validation_error(case: str) -> None:
    fn, needle = BAD[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValidationError) as err:
            fn()
    assert needle in str(err.value)


def test_parse_schedule_bytes_is_a_schema_error_naming_the_source() -> None:
    with pytest.raises(SchemaError, match="decode"):
        parse_schedule(b"[classes.read]\n", "s.toml")


@pytest.mark.parametrize("sandboxed", [True, False, None])
def test_real_bools_still_set_the_sandbox(sandboxed: bool | None) -> None:
    v = Gate(S).check("rm -rf /tmp/x", GateContext(sandboxed=sandboxed, session_id=f"s{sandboxed}"))
    assert v.level == ("free" if sandboxed else "confirm")


def test_string_sandbox_never_weakens_the_level() -> None:
    gate = Gate(S)
    for text in ("no", "false", "yes", ""):
        with pytest.raises(ValidationError, match="sandboxed"):
            gate.check("rm -rf /tmp/x", GateContext(sandboxed=text))  # type: ignore[arg-type]


def test_moderately_nested_arguments_still_judged() -> None:
    v = Gate(S).check({"name": "bash", "arguments": json.dumps({"command": "ls", "x": [[[1]]]})})
    assert v.decision == "allow"


def test_good_autonomy_inputs_still_work() -> None:
    lvl = autonomy_level(S, {"read": 3, "unknown": 1}, v_usd=1.0, dp_wait=0.1, ask_cost_usd=0.5)
    assert 0.0 <= lvl.a <= 1.0
    assert split_folds(5, 5, 0).tolist() == sorted(split_folds(5, 5, 0).tolist(), key=lambda _: 0)
    assert sorted(split_folds(5, 5, 0).tolist()) == [0, 1, 2, 3, 4]
    assert split_folds(0, 2, 0).tolist() == []
    assert sorted(split_folds(4, 1, 0, train_frac=0.5).tolist()) == [-1, -1, 0, 0]
    assert GateContext(time_s=3, p_harm=1).time_s == 3.0


def test_empty_tool_name_is_unknown_and_never_allowed() -> None:
    assert classify_call("", {}, S).action_class == "unknown"
    assert Gate(S).check(Call("", {})).decision != "allow"


@pytest.mark.parametrize(
    "fn",
    [
        lambda: Gate(S, flush_every=True),
        lambda: Gate(S, memo_entries=False),
        lambda: autonomy_level(S, {"read": True}),
        lambda: autonomy_level(S, {1: 2.0}),
    ],
)
def test_bools_are_not_counts(fn: Callable[[], Any]) -> None:
    with pytest.raises(ValidationError):
        fn()
