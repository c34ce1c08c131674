"""The tool-call gate as wired into the gateway: streamed calls judged before a client sees them,
one session for responses and approvals, every verdict in the gateway's ledger."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from gateway_attackkit import CHAT, completion, drive, hostile_upstream, http_response, jbody, settle_down
from gateway_helpers import fake_upstreams, gateway_config

from tokenomy.interfaces.gateway.app import Gateway
from tokenomy.interfaces.gateway.extensions import attach_extensions
from tokenomy.interfaces.gateway.records import RecordSink
from tokenomy.ledger import Layer, Ledger

CC = "/v1/chat/completions"
ACTIONS = {"enabled": True, "secret": "s" * 40}


def _call(name: str, command: str, call_id: str = "c1") -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps({"command": command})},
    }


def _stream_answer(call: dict[str, Any]) -> bytes:
    """An SSE answer whose tool call arrives in three deltas, with CRLF line ends in one event."""
    args = call["function"]["arguments"]
    head = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return json.dumps(
            {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        ).encode()

    first = {
        "tool_calls": [
            {
                "index": 0,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
        ]
    }
    parts = [args[: len(args) // 2], args[len(args) // 2 :]]
    events = [
        b"data: " + chunk({"role": "assistant", "content": None}) + b"\n\n",
        b"data: " + chunk(first) + b"\r\n\r\n",
        *(
            b"data: " + chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) + b"\n\n"
            for p in parts
        ),
        b"data: " + chunk({}, "tool_calls") + b"\n\n",
        b"data: [DONE]\n\n",
    ]
    body = b"".join(events)
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n\r\n" % len(body) + body
    )


def _run(
    answer: bytes, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[Any, list[Any]]:
    async def go() -> tuple[Any, list[Any]]:
        async with hostile_upstream(answer) as bad, fake_upstreams("ok") as (good,):
            ledger = Ledger(":memory:")
            gw = Gateway(gateway_config([bad, good], actions=ACTIONS), sink=RecordSink(ledger, flush_ms=10))
            attach_extensions(gw)
            reply = await asyncio.wait_for(drive(gw, "POST", CC, jbody(body), headers or []), 60)
            await settle_down(gw)
            gw.sink.flush()
            decisions = list(ledger.decisions())
            await gw.shutdown()
            return reply, decisions

    return asyncio.run(go())


def test_a_streamed_dangerous_call_never_reaches_the_client_and_its_verdict_is_recorded() -> None:
    reply, decisions = _run(
        _stream_answer(_call("bash", "rm -rf / --no-preserve-root")),
        {**CHAT, "model": "cheap", "stream": True},
    )
    status, _, raw = reply
    assert status == 200
    assert b"rm -rf" not in raw and b"no-preserve-root" not in raw  # not one delta of the call got out
    events = [json.loads(e[6:]) for e in raw.split(b"\n\n") if e.startswith(b"data: {")]
    actions = [a for e in events for a in (e.get("tokenomy") or {}).get("actions", [])]
    assert actions and actions[0]["decision"] == "deny"
    assert raw.rstrip().endswith(b"data: [DONE]")
    verdicts = [d for d in decisions if d.layer == Layer.ACTION]
    assert len(verdicts) == 1


def test_a_streamed_safe_call_is_delivered_whole_after_it_is_judged() -> None:
    reply, _ = _run(_stream_answer(_call("bash", "ls -la")), {**CHAT, "model": "cheap", "stream": True})
    events = [json.loads(e[6:]) for e in reply[2].split(b"\n\n") if e.startswith(b"data: {")]
    calls = [
        c
        for e in events
        for ch in e.get("choices", [])
        for c in (ch.get("delta") or {}).get("tool_calls", [])
    ]
    assert len(calls) == 1 and json.loads(calls[0]["function"]["arguments"]) == {"command": "ls -la"}


def test_a_data_event_the_gate_cannot_read_is_dropped_not_passed() -> None:
    body = b'data:{"choices": [{"delta": {"tool_calls": [{"function": {"name": "bash", "arguments": "{\\"command\\": \\"rm -rf ~\\"}"}}]}}]\n\ndata: not json rm -rf ~\n\ndata: [DONE]\n\n'
    answer = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n\r\n" % len(body) + body
    )
    reply, _ = _run(answer, {**CHAT, "model": "cheap", "stream": True})
    assert b"rm -rf" not in reply[2]


def test_an_ask_token_is_redeemed_with_the_same_session_header() -> None:
    answer = http_response(completion(content="", tool_calls=[_call("bash", "git push origin main")]))
    session = [(b"x-tokenomy-session", b"agent-7")]

    async def go() -> tuple[Any, Any, Any]:
        async with hostile_upstream(answer) as bad, fake_upstreams("ok") as (good,):
            gw = Gateway(gateway_config([bad, good], actions=ACTIONS))
            attach_extensions(gw)
            first = await drive(gw, "POST", CC, jbody({**CHAT, "model": "cheap"}), session)
            token = json.loads(first[2])["tokenomy"]["actions"][0].get("approval_token")
            same = await drive(gw, "POST", "/v1/approvals", jbody({"token": token}), session)
            other = await drive(
                gw, "POST", "/v1/approvals", jbody({"token": token}), [(b"x-tokenomy-session", b"x")]
            )
            await gw.shutdown()
            return token, same, other

    token, same, other = asyncio.run(go())
    assert token
    assert other[0] >= 400  # another session cannot use it
    assert same[0] == 200, same[2]
