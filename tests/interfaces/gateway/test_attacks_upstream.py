"""Attacks from the upstream side: garbage, gigantic or endless bodies, broken SSE, forged fields.

The hostile upstream is ``cheap`` (pinned by the request); ``strong`` is a sane fake upstream the
gateway may fall back to. Whatever the upstream sends, the client gets a 200 it can parse, an SSE
stream that ends, or a clean OpenAI-style 5xx; the ledger holds the request once; no slot or budget
stays held; nothing the upstream sends reaches a response header or the ``tokenomy`` extension.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from gateway_attackkit import (
    CHAT,
    Reply,
    assert_clean,
    check_invariants,
    completion,
    drive,
    hmap,
    hostile_upstream,
    http_response,
    jbody,
    settle_down,
    sse,
)
from gateway_helpers import fake_upstreams, gateway_config

from tokenomy.interfaces.gateway.app import Gateway
from tokenomy.interfaces.gateway.budget import InMemoryBudgetStore
from tokenomy.interfaces.gateway.records import RecordSink
from tokenomy.ledger import Ledger

CC = "/v1/chat/completions"
CAP = 0.01
KEYS = {"k": {"tenant": "t", "budget_usd": CAP, "v_usd": 1.0}}
AUTH = [(b"authorization", b"Bearer k")]


def _against(answer: Any, body: dict[str, Any], **tables: Any) -> tuple[Reply, list[Any], float, float]:
    """One request pinned to the hostile ``cheap``; returns the reply, outcomes, spend, wall time."""

    async def go() -> tuple[Reply, list[Any], float, float]:
        async with hostile_upstream(answer) as bad, fake_upstreams("ok") as (good,):
            ledger = Ledger(":memory:")
            cfg = gateway_config([bad, good], keys=KEYS, upstream_cheap={"timeout_s": 1.0}, **tables)
            gw = Gateway(cfg, sink=RecordSink(ledger, flush_ms=10))
            t0 = time.monotonic()
            reply = await asyncio.wait_for(drive(gw, "POST", CC, jbody(body), AUTH, leave_after_s=300.0), 60)
            wall = time.monotonic() - t0
            await settle_down(gw)
            check_invariants(gw, ledger, [reply])
            assert ledger.count("decisions") == 1
            assert isinstance(gw.budget, InMemoryBudgetStore)
            spent = gw.budget.spent_usd.get("t", 0.0)
            outs = list(ledger.outcomes())
            await gw.shutdown()
            return reply, outs, spent, wall

    return asyncio.run(go())


PINNED = {**CHAT, "model": "cheap"}
STREAM = {**PINNED, "stream": True}


async def _endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000000000\r\n\r\n")
    block = b"x" * 65536
    for _ in range(100_000):  # 6.5 GB if nobody stops reading
        writer.write(block)
        await writer.drain()


async def _endless_sse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
    event = b'data: {"choices": [{"index": 0, "delta": {"content": "x"}}]}\n\n'
    data = event * 1000
    for _ in range(100_000):  # ~70 GB of tokens if nobody stops reading
        writer.write(b"%x\r\n%s\r\n" % (len(data), data))
        await writer.drain()


async def _one_line_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
    data = b"data: " + b"y" * 65536
    for _ in range(100_000):
        writer.write(b"%x\r\n%s\r\n" % (len(data), data))
        await writer.drain()
        data = b"y" * 65536


async def _stall_after_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    event = b'data: {"choices": [{"index": 0, "delta": {"content": "x"}}]}\n\n'
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
    writer.write(b"%x\r\n%s\r\n" % (len(event), event))
    await writer.drain()
    await asyncio.sleep(3600)


async def _stall_head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")  # never ends its head
    await writer.drain()
    await asyncio.sleep(3600)


async def _drip_head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\n")
    for _ in range(10_000):  # slowloris from the upstream side: one header byte every 0.1 s
        writer.write(b"x")
        await writer.drain()
        await asyncio.sleep(0.1)


BAD_WHOLE = {
    "garbage": b"\x00\xff garbage, not HTTP at all\r\n\r\n",
    "empty_close": b"",
    "bad_status_line": b"HTTP/1.1 abc OK\r\ncontent-length: 0\r\n\r\n",
    "not_json": http_response(b"<html>oops</html>"),
    "json_array": http_response(b"[1, 2]"),
    "nan_json": http_response(b'{"choices": [], "usage": {"prompt_tokens": NaN}}'),
    "deep_json": http_response(b"[" * 100_000 + b"]" * 100_000),
    "choices_string": http_response(jbody({"choices": "x", "usage": {}})),
    "message_null": http_response(jbody({"choices": [{"message": None}], "usage": {}})),
    "content_int": http_response(jbody({"choices": [{"message": {"content": 7}}]})),
    "choices_huge_ints": http_response(jbody({"choices": [{"index": 10**400}]})),
    "usage_negative": http_response(
        completion(usage={"prompt_tokens": -(10**9), "completion_tokens": -(10**9)})
    ),
    "usage_strings": http_response(completion(usage={"prompt_tokens": "many", "completion_tokens": "x"})),
    "usage_huge": http_response(completion(usage={"prompt_tokens": 10**400, "completion_tokens": 10**30})),
    "usage_float_inf": http_response(b'{"choices": [], "usage": {"completion_tokens": 1e999}}'),
    "usage_list": http_response(completion(usage=[1, 2])),
    "length_lies_short": b"HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n" + completion(),
    "length_negative": b"HTTP/1.1 200 OK\r\ncontent-length: -5\r\n\r\n" + completion(),
    "two_lengths": b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\ncontent-length: 20\r\n\r\n" + completion(),
    "bad_chunked": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "redirect": http_response(b"", 302, extra=b"location: http://169.254.169.254/latest/meta-data/\r\n"),
    "status_999": http_response(completion(), 999),
    "status_1xx": b"HTTP/1.1 100 Continue\r\n\r\n",
    "error_4xx_not_json": http_response(b"<html>bad request</html>", 400, b"text/html"),
    "error_4xx_huge": http_response(b'{"error": "' + b"e" * 5_000_000 + b'"}', 400),
    "huge_head": b"HTTP/1.1 200 OK\r\nx-a: " + b"a" * 5_000_000 + b"\r\n\r\n",
    "many_headers": b"HTTP/1.1 200 OK\r\n" + b"x-a: b\r\n" * 100_000 + b"content-length: 0\r\n\r\n",
    "endless_body": _endless,  # type: ignore[dict-item]
    "stalled_head": _stall_head,  # type: ignore[dict-item]
    "dripped_head": _drip_head,  # type: ignore[dict-item]
}


@pytest.mark.parametrize("name", sorted(BAD_WHOLE))
def test_a_hostile_upstream_answer_gives_a_clean_reply(name: str) -> None:
    reply, outs, spent, wall = _against(BAD_WHOLE[name], PINNED)
    if name == "error_4xx_not_json" or name == "error_4xx_huge":
        assert_clean(reply, {400, 502})
    else:
        assert_clean(reply, {200, 502, 504})
    if reply[0] == 200:
        json.loads(reply[2])
    assert wall < 45.0  # a liveness bound (the attacks run for minutes or forever unless cut)
    assert 0.0 <= spent <= CAP
    assert all(0.0 <= o.cost_usd < 1.0 for o in outs)


BAD_SSE = {
    "no_data_prefix": sse(b'{"choices": []}')[:-6] + b"event: x\nid: 1\nretry: 1\n: comment\n\n",
    "garbage_events": sse(b"not json", b"{", b"[DONE]"),
    "no_done": sse(b'{"choices": [{"index": 0, "delta": {"content": "a"}}]}'),
    "nul_bytes": sse(b'{"choices": [{"index": 0, "delta": {"content": "\x00\x00"}}]}'),
    "usage_negative": sse(b'{"choices": [], "usage": {"prompt_tokens": -99999999, "completion_tokens": -1}}'),
    "usage_garbage": sse(b'{"choices": [], "usage": "lots"}', b'{"usage": {"completion_tokens": 1e999}}'),
    "cut_in_event": b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 500\r\n\r\ndata: {",
    "endless_stream": _endless_sse,  # type: ignore[dict-item]
    "one_endless_line": _one_line_forever,  # type: ignore[dict-item]
    "stall_mid_stream": _stall_after_one,  # type: ignore[dict-item]
}


@pytest.mark.parametrize("name", sorted(BAD_SSE))
def test_a_hostile_upstream_stream_ends_cleanly(name: str) -> None:
    reply, outs, spent, wall = _against(BAD_SSE[name], STREAM)
    assert_clean(reply, {200, 502, 504})
    assert wall < 45.0  # a liveness bound (the attacks run for minutes or forever unless cut)
    assert 0.0 <= spent <= CAP and all(0.0 <= o.cost_usd < 1.0 for o in outs)
    if reply[0] == 200:
        assert hmap(reply)["content-type"] == "text/event-stream"
        assert len(reply[2]) < 64 * 2**20


def test_usage_far_above_max_tokens_cannot_push_spend_past_the_cap() -> None:
    liar = http_response(completion(usage={"prompt_tokens": 10, "completion_tokens": 10**12}))
    reply, outs, spent, _ = _against(liar, PINNED)
    assert reply[0] == 200 and spent <= CAP
    assert outs[0].cost_usd > 0


def test_upstream_headers_and_forged_extension_fields_are_not_relayed() -> None:
    forged = {"model": "forged", "cost_usd": 0.0, "approval_token": "forged", "request_id": "forged"}
    body = json.loads(completion())
    body["tokenomy"] = forged
    extra = b"set-cookie: session=evil\r\nx-tokenomy-model: forged\r\nlocation: http://evil\r\n"
    reply, _, _, _ = _against(http_response(jbody(body), extra=extra), PINNED)
    assert_clean(reply, {200})
    names = [k.lower() for k, _ in reply[1]]
    assert b"set-cookie" not in names and b"location" not in names
    assert hmap(reply)["x-tokenomy-model"] == "cheap" and names.count(b"x-tokenomy-model") == 1
    ext = json.loads(reply[2])["tokenomy"]
    assert ext["model"] == "cheap" and "approval_token" not in ext and ext["request_id"] != "forged"


def test_a_forged_extension_in_the_first_stream_event_is_not_relayed() -> None:
    first = jbody({"tokenomy": {"model": "forged"}, "choices": [{"index": 0, "delta": {"content": "a"}}]})
    reply, _, _, _ = _against(sse(first, b"[DONE]"), STREAM)
    assert_clean(reply, {200})
    events = [ln[6:] for ln in reply[2].decode().split("\n") if ln.startswith("data: {")]
    assert json.loads(events[0])["tokenomy"]["model"] == "cheap"  # the last duplicate key wins in parsers


def test_a_huge_tool_calls_array_is_relayed_or_refused_in_bounded_time() -> None:
    calls = [
        {"id": f"c{i}", "type": "function", "function": {"name": "rm", "arguments": '{"path": "/"}'}}
        for i in range(50_000)
    ]
    answer = http_response(completion(content="", tool_calls=calls))
    for tables in ({}, {"actions": {"enabled": True, "secret": "s" * 40}}):
        reply, _, _, wall = _against(answer, PINNED, **tables)
        assert_clean(reply, {200, 502})
        assert wall < 45.0  # a liveness bound (the attacks run for minutes or forever unless cut)


def test_the_clients_key_and_headers_never_reach_the_upstream() -> None:
    seen: list[bytes] = []

    async def capture(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(http_response(completion()))
        await writer.drain()

    async def go() -> Reply:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(
                next(
                    v
                    for k, _, v in (ln.partition(b":") for ln in head.split(b"\r\n"))
                    if k.lower() == b"content-length"
                )
            )
            seen.append(head + await reader.readexactly(length))
            await capture(reader, writer)
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        gw = Gateway(gateway_config([url, url], keys=KEYS))
        hdrs = [*AUTH, (b"x-tokenomy-v", b"1"), (b"cookie", b"c=1"), (b"x-forwarded-for", b"1.2.3.4")]
        body = {**PINNED, "metadata": {"tokenomy_v": 1, "secret": "m"}}
        out = await drive(gw, "POST", CC, jbody(body), hdrs)
        server.close()
        return out

    reply = asyncio.run(go())
    assert reply[0] == 200 and len(seen) == 1
    sent = seen[0].lower()
    assert b"bearer k" not in sent and b"cookie" not in sent and b"x-tokenomy" not in sent
    assert b"1.2.3.4" not in sent and b'"metadata"' not in sent


def test_bytes_past_an_upstream_answer_never_become_the_next_requests_answer() -> None:
    forged = http_response(completion(content="FORGED for another client"))

    async def go() -> list[Reply]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            n = 0
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = next(
                    int(v)
                    for k, _, v in (ln.partition(b":") for ln in head.split(b"\r\n"))
                    if k.lower() == b"content-length"
                )
                await reader.readexactly(length)
                n += 1
                extra = forged if n == 1 else b""  # response splitting: a second answer nobody asked for
                writer.write(http_response(completion(content=f"genuine {n}")) + extra)
                await writer.drain()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        gw = Gateway(gateway_config([url, url]))
        outs = [await drive(gw, "POST", CC, jbody(PINNED)) for _ in range(3)]
        server.close()
        return outs

    outs = asyncio.run(go())
    for reply in outs:
        assert_clean(reply, {200, 502})
        assert b"FORGED" not in reply[2]


ODD_TOOL_CALLS: list[Any] = [
    "x",
    [1, None, "y"],
    [{"function": None}],
    [{"id": 7, "type": "function", "function": {"name": ["rm"], "arguments": {"a": 1}}}],
    [{"id": "c", "type": "function", "function": {"name": "rm", "arguments": "{" * 100_000}}],
    [{"id": "c", "type": "function", "function": {"name": "x" * 100_000, "arguments": "{}"}}],
    {"not": "a list"},
]


@pytest.mark.parametrize("i", range(len(ODD_TOOL_CALLS)))
def test_malformed_tool_calls_from_an_upstream_never_crash_the_gate(i: int) -> None:
    answer = http_response(completion(content="", tool_calls=ODD_TOOL_CALLS[i]))
    reply, _, _, _ = _against(answer, PINNED, actions={"enabled": True, "secret": "s" * 40})
    assert_clean(reply, {200, 502})
