"""Tool calls of chat-completion responses through the gate: attacks first, then the ordinary paths."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

import pytest

from tokenomy.autonomy.gate import Gate
from tokenomy.interfaces.gateway.actions import (
    ActionFilter,
    ApprovalTokenError,
    ApprovalTokens,
    session_id_for,
)
from tokenomy.interfaces.loaders.agent_data import load_schedule
from tokenomy.ledger.records import Decision

SECRET = b"s" * 32


class Sink:
    def __init__(self) -> None:
        self.rows: list[Decision] = []

    def append(self, decisions: Iterable[Decision]) -> None:
        self.rows.extend(decisions)


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def env() -> tuple[ActionFilter, Sink, Clock]:
    sink, clock = Sink(), Clock()
    gate = Gate(load_schedule(), ledger=sink)
    return ActionFilter(gate, ApprovalTokens(SECRET, ttl_s=60, clock=clock), clock=clock), sink, clock


def _call(name: str, args: Any, cid: str = "c1") -> dict[str, Any]:
    text = args if isinstance(args, str) else json.dumps(args)
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": text}}


def _body(*calls: dict[str, Any], content: str | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": content, "tool_calls": list(calls)}
    return {
        "id": "r1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": msg, "finish_reason": "tool_calls"}],
    }


def _actions(body: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = body["tokenomy"]["actions"]
    return out


S = session_id_for("sk-alice")


# -- attacks -----------------------------------------------------------------------------------------
def test_denied_call_is_removed_and_explained(env: Any) -> None:
    f, sink, _ = env
    out = f.filter_response(_body(_call("bash", {"command": "rm -rf /"})), session_id=S, request_id="r1")
    msg = out["choices"][0]["message"]
    assert "tool_calls" not in msg
    assert out["choices"][0]["finish_reason"] == "stop"
    assert "rm -rf /" in msg["content"] or "bash" in msg["content"]
    assert _actions(out)[0]["decision"] == "deny" and "approval_token" not in _actions(out)[0]
    assert [d.metadata["verdict"] for d in sink.rows] == ["deny"]
    assert sink.rows[0].request_id == "r1"


def test_deny_keeps_other_calls_and_existing_content(env: Any) -> None:
    f, _, _ = env
    body = _body(
        _call("bash", {"command": "rm -rf /"}, "a"), _call("bash", {"command": "ls"}, "b"), content="hi"
    )
    out = f.filter_response(body, session_id=S)
    msg = out["choices"][0]["message"]
    assert [c["id"] for c in msg["tool_calls"]] == ["b"]
    assert msg["content"] == "hi"
    assert out["choices"][0]["finish_reason"] == "tool_calls"
    assert body["choices"][0]["message"]["tool_calls"][0]["id"] == "a"  # input not changed


@pytest.mark.parametrize(
    "raw",
    [
        _call("bash", "{not json"),
        _call("bash", "[1, 2]"),
        _call("get_user_details", '"rm -rf /"'),
        {"id": "x", "type": "function", "function": {"arguments": "{}"}},
        {"id": "x", "type": "function", "function": {"name": "", "arguments": "{}"}},
        {"id": "x", "type": "function", "function": "bash"},
        "rm -rf /",
        None,
    ],
)
def test_malformed_call_is_never_allowed(env: Any, raw: Any) -> None:
    f, sink, _ = env
    out = f.filter_response(_body(raw), session_id=S)
    note = _actions(out)[0]
    assert note["decision"] in ("ask", "deny")
    assert note["action_class"] == "unknown"
    assert len(sink.rows) == 1 and sink.rows[0].metadata["verdict"] == note["decision"]


def test_malformed_read_tool_is_not_read(env: Any) -> None:
    f, _, _ = env  # get_* reads are free; broken arguments must not inherit that
    out = f.filter_response(_body(_call("get_user_details", "{oops")), session_id=S)
    assert _actions(out)[0]["decision"] == "ask"


def test_unknown_tool_fails_closed(env: Any) -> None:
    f, _, _ = env
    out = f.filter_response(_body(_call("frobnicate", {})), session_id=S)
    assert _actions(out)[0]["decision"] == "ask" and _actions(out)[0]["action_class"] == "unknown"


def test_legacy_function_call_is_gated(env: Any) -> None:
    f, sink, _ = env
    body = {
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "function_call": {"name": "bash", "arguments": json.dumps({"command": "rm -rf /"})},
                },
                "finish_reason": "function_call",
            }
        ]
    }
    out = f.filter_response(body, session_id=S)
    msg = out["choices"][0]["message"]
    assert "function_call" not in msg and msg["content"]
    assert _actions(out)[0]["decision"] == "deny" and len(sink.rows) == 1


def test_every_choice_is_gated(env: Any) -> None:
    f, _, _ = env
    body = _body(_call("bash", {"command": "ls"}))
    body["choices"].append(
        {
            "index": 1,
            "message": {"role": "assistant", "tool_calls": [_call("bash", {"command": "rm -rf /"})]},
            "finish_reason": "tool_calls",
        }
    )
    out = f.filter_response(body, session_id=S)
    assert [(a["choice_index"], a["decision"]) for a in _actions(out)] == [(0, "allow"), (1, "deny")]
    assert "tool_calls" not in out["choices"][1]["message"]


def test_case_changed_shell_tool_is_still_a_shell(env: Any) -> None:
    f, _, _ = env
    out = f.filter_response(_body(_call("BASH", {"command": "rm -rf /"})), session_id=S)
    assert _actions(out)[0]["decision"] == "deny"


def _ask(f: ActionFilter, session: str = S, cmd: str = "cat ~/.ssh/id_rsa") -> str:
    out = f.filter_response(_body(_call("bash", {"command": cmd})), session_id=session)
    note = _actions(out)[0]
    assert note["decision"] == "ask"
    token: str = note["approval_token"]
    return token


def test_forged_and_altered_tokens_are_refused(env: Any) -> None:
    f, _, clock = env
    token = _ask(f)
    other = ApprovalTokens(b"x" * 32, clock=clock)
    forged, _ = other.issue(S, f.tokens.verify(token, S).call)
    v, body, mac = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["a"] = {"command": "rm -rf ~"}
    altered = ".".join([v, base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode(), mac])
    for bad in (forged, altered, token[:-2], "v1..", "v2." + body + "." + mac, "", "x" * 70_000):
        with pytest.raises(ApprovalTokenError):
            f.approve(bad, session_id=S, approver="a")
    with pytest.raises(ApprovalTokenError):
        f.approve(12, session_id=S, approver="a")


def test_token_of_another_session_expired_or_replayed_is_refused(env: Any) -> None:
    f, _, clock = env
    token = _ask(f)
    with pytest.raises(ApprovalTokenError, match="another session"):
        f.approve(token, session_id=session_id_for("sk-mallory"), approver="m")
    assert f.approve(token, session_id=S, approver="a").approved
    with pytest.raises(ApprovalTokenError, match="already used"):
        f.approve(token, session_id=S, approver="a")
    late = _ask(f, cmd="cat ~/.aws/credentials")
    clock.t += 61
    with pytest.raises(ApprovalTokenError, match="expired"):
        f.approve(late, session_id=S, approver="a")


def test_session_header_cannot_reach_another_keys_session() -> None:
    assert session_id_for("sk-a", "s1") != session_id_for("sk-b", "s1")
    assert "sk-a" not in session_id_for("sk-a", "s1")


def test_multi_party_needs_distinct_approvers(env: Any) -> None:
    f, _, _ = env
    out = f.filter_response(_body(_call("send_certificate", {"user_id": "u"})), session_id=S)
    token = _actions(out)[0]["approval_token"]
    first = f.approve(token, session_id=S, approver="alice")
    assert not first.approved and first.approvals == 1 and first.approvers_needed == 2
    with pytest.raises(ApprovalTokenError):
        f.approve(token, session_id=S, approver="alice")
    assert f.approve(token, session_id=S, approver="bob").approved


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        ApprovalTokens(b"short")


# -- ordinary paths ----------------------------------------------------------------------------------
def test_allowed_call_passes_unchanged(env: Any) -> None:
    f, sink, _ = env
    body = _body(_call("bash", {"command": "ls -la"}))
    out = f.filter_response(body, session_id=S)
    assert out["choices"] == body["choices"]
    assert _actions(out)[0]["decision"] == "allow" and sink.rows[0].metadata["verdict"] == "allow"


def test_response_without_tool_calls_is_untouched(env: Any) -> None:
    f, sink, _ = env
    body = {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "4"}, "finish_reason": "stop"}]
    }
    assert f.filter_response(body, session_id=S) == body and sink.rows == []


def test_ask_then_approve_records_ask_approve_allow(env: Any) -> None:
    f, sink, _ = env
    token = _ask(f)
    status, res = f.approval_endpoint(json.dumps({"token": token}).encode(), session_id=S, approver="alice")
    assert status == 200 and res["approved"] and res["decision"] == "allow"
    assert [(d.decision_point, d.metadata["verdict"]) for d in sink.rows] == [
        ("gate-check", "ask"),
        ("gate-check", "ask"),
        ("gate-approve", "allow"),
        ("gate-check", "allow"),
    ]
    # a once approval is used by the recorded allow: the same call asks again next time
    _ask(f)


def test_approval_endpoint_bad_bodies(env: Any) -> None:
    f, _, _ = env
    assert f.approval_endpoint(b"{", session_id=S, approver="a")[0] == 400
    assert f.approval_endpoint(b'{"tok": 1}', session_id=S, approver="a")[0] == 400
    status, body = f.approval_endpoint(b'{"token": "v1.a.b"}', session_id=S, approver="a")
    assert status == 403 and body["error"]["code"] == "invalid_approval_token"


def test_stream_tool_calls_filtered_at_end(env: Any) -> None:
    f, _, _ = env
    res = f.filter_tool_calls(
        [_call("bash", {"command": "ls"}, "a"), _call("bash", {"command": "rm -rf /"}, "b")], session_id=S
    )
    assert [c["id"] for c in res.kept] == ["a"]
    assert [n.decision for n in res.notes] == ["allow", "deny"]
    assert "not passed on" in res.denial_text


def test_verdict_buffer_collects_every_verdict_without_io() -> None:
    from tokenomy.interfaces.gateway.actions import VerdictBuffer

    buf = VerdictBuffer(max_rows=3)
    f = ActionFilter(Gate(load_schedule(), ledger=buf), ApprovalTokens(SECRET))
    f.filter_response(
        _body(_call("bash", {"command": "ls"}), _call("bash", {"command": "rm -rf /"})), session_id=S
    )
    assert len(buf) == 2
    rows = buf.drain()
    assert [d.metadata["verdict"] for d in rows] == ["allow", "deny"] and len(buf) == 0
    f.filter_response(_body(*(_call("bash", {"command": "ls"}, f"c{i}") for i in range(5))), session_id=S)
    assert len(buf.drain()) == 3 and buf.dropped == 2


def _chunk(delta: dict[str, Any] | None = None, finish: str | None = None, index: int = 0) -> dict[str, Any]:
    return {
        "id": "s1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": index, "delta": delta or {}, "finish_reason": finish}],
    }


def _tc(i: int, cid: str | None = None, name: str | None = None, args: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"index": i}
    if cid:
        part["id"], part["type"] = cid, "function"
    fn: dict[str, Any] = {}
    if name is not None:
        fn["name"] = name
    if args is not None:
        fn["arguments"] = args
    part["function"] = fn
    return part


def _stream(
    f: ActionFilter, chunks: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from tokenomy.interfaces.gateway.actions_stream import StreamGate

    g = StreamGate(f)
    sent = [c for c in (g.feed(x) for x in chunks) if c is not None]
    return sent, g.finish(session_id=S, request_id="r9")


def test_stream_never_leaks_an_unjudged_tool_call(env: Any) -> None:
    f, sink, _ = env
    chunks = [
        _chunk({"role": "assistant", "content": None}),
        _chunk({"tool_calls": [_tc(0, "a", "bash", '{"comm')]}),
        _chunk({"tool_calls": [_tc(0, args='and": "rm -rf /"}')]}),
        _chunk({"tool_calls": [_tc(1, "b", "bash", '{"command": "ls"}')]}),
        _chunk(finish="tool_calls"),
    ]
    sent, final = _stream(f, chunks)
    assert not any("tool_calls" in c["choices"][0]["delta"] for c in sent)
    assert all(c["choices"][0]["finish_reason"] is None for c in sent)
    (last,) = final
    ch = last["choices"][0]
    assert [c["id"] for c in ch["delta"]["tool_calls"]] == ["b"] and ch["delta"]["tool_calls"][0][
        "index"
    ] == 0
    assert ch["finish_reason"] == "tool_calls" and last["id"] == "s1" and last["model"] == "m"
    assert [a["decision"] for a in last["tokenomy"]["actions"]] == ["deny", "allow"]
    assert [d.request_id for d in sink.rows] == ["r9", "r9"]


def test_stream_all_denied_says_why_and_stops(env: Any) -> None:
    f, _, _ = env
    sent, final = _stream(
        f,
        [
            _chunk({"tool_calls": [_tc(0, "a", "bash", '{"command": "rm -rf /"}')]}),
            _chunk(finish="tool_calls"),
        ],
    )
    assert sent == []
    ch = final[0]["choices"][0]
    assert "tool_calls" not in ch["delta"] and "not passed on" in ch["delta"]["content"]
    assert ch["finish_reason"] == "stop"


def test_stream_legacy_function_call_and_broken_arguments(env: Any) -> None:
    f, _, _ = env
    _, final = _stream(
        f,
        [
            _chunk({"function_call": {"name": "bash", "arguments": '{"command": '}}),
            _chunk({"function_call": {"arguments": '"rm -rf /"}'}}),
            _chunk(finish="function_call"),
        ],
    )
    assert final[0]["tokenomy"]["actions"][0]["decision"] == "deny"
    _, final = _stream(
        f,
        [
            _chunk({"tool_calls": [_tc(0, "a", "get_user_details", '{"user_id": ')]}),
            _chunk(finish="tool_calls"),
        ],
    )
    note = final[0]["tokenomy"]["actions"][0]
    assert note["decision"] == "ask" and note["action_class"] == "unknown"


def test_stream_without_tool_calls_passes_unchanged(env: Any) -> None:
    f, sink, _ = env
    chunks = [_chunk({"role": "assistant", "content": ""}), _chunk({"content": "4"}), _chunk(finish="stop")]
    want = json.loads(json.dumps(chunks))
    sent, final = _stream(f, chunks)
    assert sent == want and final == [] and sink.rows == []
