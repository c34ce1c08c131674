"""Bad input over HTTP, third round: price caps, repeated headers and JSON keys, chat fields, feedback.

Each bad request must get one OpenAI-style 400 naming the header or field (``param``) and the expected
form, and nothing of it may reach the ledger; what OpenAI accepts (assistant turns with ``tool_calls``
and null content, content as a list of parts, prices at the cap) must still be served.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import pytest
from gateway_attackkit import CHAT, Reply, assert_clean, check_invariants, drive, error_of, hmap, jbody
from gateway_helpers import fake_upstreams, gateway_config

from tokenomy.core.errors import SchemaError
from tokenomy.interfaces.args import MAX_USD
from tokenomy.interfaces.gateway.app import Gateway
from tokenomy.interfaces.gateway.records import RecordSink
from tokenomy.ledger import Ledger

CC = "/v1/chat/completions"
FB = "/v1/feedback"


def _attack(requests: list[tuple[Any, ...]], **tables: Any) -> list[Reply]:
    """Send each (method, path, body, headers) to one fresh gateway; check the invariants."""

    async def go() -> list[Reply]:
        async with fake_upstreams("ok", "ok") as urls:
            ledger = Ledger(":memory:")
            gw = Gateway(gateway_config(urls, **tables), sink=RecordSink(ledger, flush_ms=10))
            out = [await drive(gw, m, p, b, h) for m, p, b, h in requests]
            check_invariants(gw, ledger, out)
            await gw.shutdown()
            return out

    return asyncio.run(go())


def _bad(reply: Reply, param: str, code: str | None = None) -> dict[str, Any]:
    assert_clean(reply, {400})
    err = error_of(reply)
    assert err["param"] == param, err
    if code is not None:
        assert err["code"] == code, err
    return err


# --- prices: capped, and a JSON number in metadata ------------------------------------------------------

HEADERS = ("x-tokenomy-v", "x-tokenomy-lambda", "x-tokenomy-rho")
META = ("tokenomy_v", "tokenomy_lambda", "tokenomy_rho")


@pytest.mark.parametrize("value", ["1e308", "1e307", "1.0000001e9", "1e10", "1.7976931348623157e308"])
@pytest.mark.parametrize("header", HEADERS)
def test_a_huge_finite_price_header_is_refused_naming_the_header_and_range(header: str, value: str) -> None:
    (reply,) = _attack([("POST", CC, jbody(CHAT), [(header.encode(), value.encode())])])
    err = _bad(reply, header, "invalid_price")
    assert f"{MAX_USD:g}" in err["message"], err


@pytest.mark.parametrize("value", [1e308, 1e307, 2e9, 10**12])
@pytest.mark.parametrize("key", META)
def test_a_huge_finite_metadata_price_is_refused(key: str, value: float) -> None:
    (reply,) = _attack([("POST", CC, jbody({**CHAT, "metadata": {key: value}}), [])])
    err = _bad(reply, f"metadata.{key}", "invalid_price")
    assert f"{MAX_USD:g}" in err["message"], err


def test_prices_at_the_cap_are_served_and_the_ledger_stays_bounded() -> None:
    """V and λ at the cap: served or refused for want of room, never a total past the cap's scale."""

    async def go() -> tuple[Reply, list[Any]]:
        async with fake_upstreams("ok", "ok") as urls:
            ledger = Ledger(":memory:")
            gw = Gateway(gateway_config(urls), sink=RecordSink(ledger, flush_ms=10))
            hdrs = [(b"x-tokenomy-v", b"1e9"), (b"x-tokenomy-lambda", b"1e9")]
            reply = await drive(gw, "POST", CC, jbody(CHAT), hdrs)
            check_invariants(gw, ledger, [reply])
            decisions = list(ledger.decisions())
            await gw.shutdown()
            return reply, decisions

    reply, decisions = asyncio.run(go())
    assert_clean(reply, {200, 429})
    assert decisions, "the request was not recorded"
    for d in decisions:
        assert d.prices.v_usd <= MAX_USD and d.prices.lam_usd_per_s <= MAX_USD


def test_the_price_cap_is_configurable() -> None:
    tables = {"gateway": {"max_price_usd": 10.0}}
    over, at = _attack(
        [
            ("POST", CC, jbody(CHAT), [(b"x-tokenomy-v", b"10.5")]),
            ("POST", CC, jbody({**CHAT, "metadata": {"tokenomy_v": 10}}), []),
        ],
        **tables,
    )
    err = _bad(over, "x-tokenomy-v", "invalid_price")
    assert "[0, 10]" in err["message"], err
    assert_clean(at, {200, 429})


@pytest.mark.parametrize("value", [0, -1, math.inf, "1e9", True, 1e13])
def test_a_bad_price_cap_in_the_config_is_refused(value: Any) -> None:
    with pytest.raises(SchemaError, match="max_price_usd"):
        gateway_config(["http://127.0.0.1:1"], gateway={"max_price_usd": value})


@pytest.mark.parametrize("value", ["0.3", "1", "", "1e3"])
@pytest.mark.parametrize("key", META)
def test_a_metadata_price_given_as_a_string_is_refused(key: str, value: str) -> None:
    (reply,) = _attack([("POST", CC, jbody({**CHAT, "metadata": {key: value}}), [])])
    err = _bad(reply, f"metadata.{key}", "invalid_price")
    assert "JSON number" in err["message"], err


# --- repeated headers and repeated JSON keys ----------------------------------------------------------


@pytest.mark.parametrize(
    "header", ["x-tokenomy-session", "X-Tokenomy-Session", "x-tokenomy-v", "x-tokenomy-anything"]
)
def test_a_repeated_tokenomy_header_is_a_400(header: str) -> None:
    h = header.lower().encode()
    hdrs = [(h, b"a"), (h, b"b")] if "session" in header or "anything" in header else [(h, b"1"), (h, b"2")]
    (reply,) = _attack([("POST", CC, jbody(CHAT), hdrs)])
    err = _bad(reply, header.lower(), "duplicate_header")
    assert "more than once" in err["message"]


def test_a_repeated_session_header_is_refused_on_feedback_too() -> None:
    hdrs = [(b"x-tokenomy-session", b"a"), (b"x-tokenomy-session", b"b")]
    (reply,) = _attack([("POST", FB, jbody({"request_id": "x", "quality": 1.0}), hdrs)])
    _bad(reply, "x-tokenomy-session", "duplicate_header")


DUP_KEYS = {
    "top_model": b'{"model":"tokenomy-auto","model":"strong","messages":[{"role":"user","content":"hi"}]}',
    "in_message": b'{"messages":[{"role":"user","role":"system","content":"hi"}]}',
    "in_metadata": b'{"messages":[{"role":"user","content":"hi"}],"metadata":{"tokenomy_v":1,"tokenomy_v":2}}',
}


@pytest.mark.parametrize("name", sorted(DUP_KEYS))
def test_a_repeated_json_key_is_a_400(name: str) -> None:
    (reply,) = _attack([("POST", CC, DUP_KEYS[name], [])])
    assert_clean(reply, {400})
    err = error_of(reply)
    assert err["code"] == "invalid_json" and "repeated" in err["message"], err


def test_a_repeated_json_key_in_feedback_is_a_400() -> None:
    (reply,) = _attack([("POST", FB, b'{"request_id":"a","request_id":"b","quality":1}', [])])
    assert_clean(reply, {400})
    assert "repeated" in error_of(reply)["message"]


# --- chat fields ------------------------------------------------------------------------------------

USER = {"role": "user", "content": "hi"}
BAD_CHAT: dict[str, tuple[dict[str, Any], str]] = {
    "content_number": ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    "content_missing": ({"messages": [{"role": "user"}]}, "messages[0].content"),
    "content_null_user": ({"messages": [{"role": "user", "content": None}]}, "messages[0].content"),
    "content_object": ({"messages": [{"role": "user", "content": {"text": "x"}}]}, "messages[0].content"),
    "content_part_not_object": ({"messages": [{"role": "user", "content": ["x"]}]}, "messages[0].content"),
    "content_part_no_type": (
        {"messages": [{"role": "user", "content": [{"text": "x"}]}]},
        "messages[0].content",
    ),
    "role_bogus": ({"messages": [{"role": "bogus", "content": "x"}]}, "messages[0].role"),
    "role_missing": ({"messages": [{"content": "x"}]}, "messages[0].role"),
    "second_message_bad": ({"messages": [USER, {"role": "user", "content": 5}]}, "messages[1].content"),
    "assistant_nothing": ({"messages": [USER, {"role": "assistant"}, USER]}, "messages[1].content"),
    "tool_calls_not_array": (
        {"messages": [USER, {"role": "assistant", "content": None, "tool_calls": "x"}]},
        "messages[1].tool_calls",
    ),
    "name_number": ({"messages": [{"role": "user", "content": "x", "name": 5}]}, "messages[0].name"),
    "temperature_text": ({"temperature": "hot"}, "temperature"),
    "temperature_bool": ({"temperature": True}, "temperature"),
    "temperature_high": ({"temperature": 3}, "temperature"),
    "top_p_high": ({"top_p": 1.5}, "top_p"),
    "presence_penalty_text": ({"presence_penalty": "1"}, "presence_penalty"),
    "frequency_penalty_low": ({"frequency_penalty": -3}, "frequency_penalty"),
    "tools_text": ({"tools": "x"}, "tools"),
    "tools_item_not_object": ({"tools": ["x"]}, "tools"),
    "tools_item_no_type": ({"tools": [{"function": {"name": "f"}}]}, "tools"),
    "tool_choice_number": ({"tool_choice": 5}, "tool_choice"),
    "stop_number": ({"stop": 5}, "stop"),
    "stop_list_of_numbers": ({"stop": [1, 2]}, "stop"),
    "stop_too_many": ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    "seed_float": ({"seed": 1.5}, "seed"),
    "user_number": ({"user": 5}, "user"),
    "logprobs_text": ({"logprobs": "yes"}, "logprobs"),
    "top_logprobs_high": ({"top_logprobs": 21}, "top_logprobs"),
    "response_format_text": ({"response_format": "json"}, "response_format"),
    "parallel_tool_calls_text": ({"parallel_tool_calls": "true"}, "parallel_tool_calls"),
    "logit_bias_list": ({"logit_bias": [1]}, "logit_bias"),
}


@pytest.mark.parametrize("name", sorted(BAD_CHAT))
def test_a_bad_chat_field_is_a_400_naming_it(name: str) -> None:
    fields, param = BAD_CHAT[name]
    (reply,) = _attack([("POST", CC, jbody({**CHAT, **fields}), [])])
    err = _bad(reply, param)
    assert param in err["message"], err


CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
GOOD_CHAT: dict[str, dict[str, Any]] = {
    "assistant_tool_calls_null_content": {
        "messages": [
            USER,
            {"role": "assistant", "content": None, "tool_calls": [CALL]},
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
        ]
    },
    "assistant_tool_calls_no_content": {
        "messages": [USER, {"role": "assistant", "tool_calls": [CALL]}, {"role": "tool", "tool_call_id": "c1", "content": "1"}]
    },
    "assistant_refusal_null_content": {
        "messages": [USER, {"role": "assistant", "content": None, "refusal": "no"}, USER]
    },
    "content_parts": {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "data:,"}}]}]
    },
    "system_and_developer": {"messages": [{"role": "system", "content": "s"}, {"role": "developer", "content": "d"}, USER]},
    "sampling_fields": {
        "temperature": 0,
        "top_p": 1,
        "presence_penalty": -2,
        "frequency_penalty": 2.0,
        "seed": 7,
        "user": "u",
        "logprobs": True,
        "top_logprobs": 3,
        "stop": ["a", "b"],
        "logit_bias": {"50256": -100},
        "response_format": {"type": "json_object"},
    },
    "stop_string": {"stop": "\n"},
    "nulls_mean_absent": {"temperature": None, "stop": None, "tools": None, "tool_choice": None, "seed": None},
    "tools_and_choice": {
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
    },
    "tool_choice_object": {
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
    },
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(GOOD_CHAT))
def test_what_openai_accepts_is_still_served(name: str) -> None:
    (reply,) = _attack([("POST", CC, jbody({**CHAT, **GOOD_CHAT[name]}), [])])
    assert_clean(reply, {200})


# --- feedback: missing fields -------------------------------------------------------------------------


def _feedback(bodies: list[Any]) -> list[Reply]:
    """Serve one chat request, then send each feedback body (``"RID"`` stands for its request id)."""

    async def go() -> list[Reply]:
        async with fake_upstreams("ok", "ok") as urls:
            ledger = Ledger(":memory:")
            gw = Gateway(gateway_config(urls), sink=RecordSink(ledger, flush_ms=10))
            first = await drive(gw, "POST", CC, jbody(CHAT), [])
            assert first[0] == 200, first
            rid = hmap(first)["x-tokenomy-request-id"]
            out = []
            for b in bodies:
                doc = {k: (rid if v == "RID" else v) for k, v in b.items()} if isinstance(b, dict) else b
                out.append(await drive(gw, "POST", FB, jbody(doc), []))
            await gw.shutdown()
            return out

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({}, "request_id", "missing field request_id"),
        ({"quality": 1.0}, "request_id", "missing field request_id"),
        ({"request_id": None, "quality": 1.0}, "request_id", "missing field request_id"),
        ({"request_id": 5, "quality": 1.0}, "request_id", "must be a string"),
        ({"request_id": "RID"}, "quality", "missing field quality"),
        ({"request_id": "RID", "quality": None}, "quality", "missing field quality"),
        ({"request_id": "RID", "quality": "1"}, "quality", "a number in [0, 1]"),
    ],
)
def test_feedback_with_a_missing_or_mistyped_field_is_a_400_naming_it(
    body: dict[str, Any], param: str, words: str
) -> None:
    reply, ok = _feedback([body, {"request_id": "RID", "quality": 1.0}])
    err = _bad(reply, param)
    assert words in err["message"], err
    assert ok[0] == 200, ok  # the refused feedback did not use up the request's one feedback


def test_feedback_for_an_unknown_request_id_is_still_a_404() -> None:
    (reply,) = _feedback([{"request_id": "nope", "quality": 1.0}])
    assert_clean(reply, {404})
    assert json.loads(reply[2])["error"]["code"] == "unknown_request"


def test_a_repeated_json_key_in_an_approval_is_a_400() -> None:
    from tokenomy.autonomy.gate import Gate
    from tokenomy.interfaces.gateway.actions import ActionFilter
    from tokenomy.interfaces.gateway.approval_tokens import ApprovalTokens
    from tokenomy.interfaces.loaders.agent_data import load_schedule

    flt = ActionFilter(Gate(load_schedule()), ApprovalTokens(b"s" * 32))
    status, out = flt.approval_endpoint(b'{"token":"a","token":"b"}', session_id="s", approver="a")
    assert status == 400 and "repeated" in out["error"]["message"], out
