"""Attack kit: a raw ASGI driver, hostile upstreams and the invariants every attack must keep.

``drive`` sends a request to the ASGI app the way a hostile client could: body in any number of
chunks, any headers (bytes, duplicates, no Content-Length), a client that leaves after a delay.
``hostile_upstream`` serves one fixed byte string (or a coroutine writing to the socket) to every
request, so a test can play an upstream that answers garbage, a gigantic body, broken SSE. ``check``
asserts what must hold after any attack: no status 0 / traceback, an OpenAI-style error body on
every error, no CR/LF in a response header, every admitted request once in the ledger, no slot or
budget held.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from tokenomy.interfaces.gateway.app import Gateway
from tokenomy.interfaces.gateway.budget import InMemoryBudgetStore
from tokenomy.ledger import Ledger

Writer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
Reply = tuple[int, list[tuple[bytes, bytes]], bytes]

CHAT: dict[str, Any] = {
    "model": "tokenomy-auto",
    "messages": [{"role": "user", "content": "What is 2+2?"}],
    "max_tokens": 16,
}


async def drive(
    app: Any,
    method: str,
    path: str,
    chunks: list[bytes] | bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    content_length: bool = True,
    leave_after_s: float | None = None,
    chunk_gap_s: float = 0.0,
    raw_path: bytes | None = None,
    query: bytes = b"",
) -> Reply:
    """One request; returns status (0 when nothing was sent), raw header pairs and the body."""
    parts = [chunks] if isinstance(chunks, bytes) else list(chunks)
    hdrs = list(headers or [])
    if content_length:
        hdrs.append((b"content-length", str(sum(len(p) for p in parts)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": raw_path if raw_path is not None else path.encode("utf-8", "surrogateescape"),
        "query_string": query,
        "root_path": "",
        "headers": hdrs,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    sent: list[dict[str, Any]] = []
    queue = list(parts)
    consumed = [0]

    async def receive() -> dict[str, Any]:
        if queue:
            if chunk_gap_s and consumed[0]:
                await asyncio.sleep(chunk_gap_s)
            consumed[0] += 1
            body = queue.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(queue)}
        if leave_after_s is None:
            await asyncio.Event().wait()
        await asyncio.sleep(leave_after_s or 0.0)
        return {"type": "http.disconnect"}

    async def send(msg: dict[str, Any]) -> None:
        sent.append(msg)

    await app(scope, receive, send)
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    if start is None:
        return 0, [], b""
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(start["status"]), list(start.get("headers", [])), body


def jbody(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def hmap(reply: Reply) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in reply[1]}


def error_of(reply: Reply) -> dict[str, Any]:
    """The OpenAI-style error object of an error reply (asserts its shape)."""
    status, _, body = reply
    assert 400 <= status < 600, (status, body[:300])
    err = json.loads(body)["error"]
    assert set(err) >= {"message", "type", "param", "code"}, err
    assert "Traceback" not in err["message"]
    return dict(err)


def assert_clean(reply: Reply, allowed: set[int]) -> None:
    """Status in ``allowed``; errors OpenAI-shaped; no header value carries CR, LF or NUL."""
    status, headers, body = reply
    assert status in allowed, (status, body[:300])
    for k, v in headers:
        assert not any(c in k + v for c in (b"\r", b"\n", b"\x00")), (k, v)
    if status >= 400:
        error_of(reply)
    for k, v in headers:
        if k.lower().startswith(b"x-tokenomy-") and k.lower() in (b"x-tokenomy-surplus",):
            assert math.isfinite(float(v))


@contextlib.asynccontextmanager
async def hostile_upstream(answer: bytes | Writer) -> AsyncIterator[str]:
    """A server on loopback that reads one request head (and its body) and answers ``answer``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v)
                await reader.readexactly(length)
                if isinstance(answer, bytes):
                    writer.write(answer)
                    await writer.drain()
                    writer.close()
                    return
                await answer(reader, writer)
                return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


def http_response(
    body: bytes, status: int = 200, ctype: bytes = b"application/json", extra: bytes = b""
) -> bytes:
    return (
        b"HTTP/1.1 %d X\r\ncontent-type: %s\r\ncontent-length: %d\r\n%s\r\n"
        % (status, ctype, len(body), extra)
        + body
    )


def completion(content: str = "ok", usage: Any = None, **message: Any) -> bytes:
    usage = usage if usage is not None else {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    return json.dumps(
        {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, **message},
                    "finish_reason": "stop",
                }
            ],
            "usage": usage,
        }
    ).encode()


def sse(*events: bytes) -> bytes:
    body = b"".join(b"data: " + e + b"\n\n" for e in events)
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n\r\n" % len(body) + body
    )


async def settle_down(gw: Gateway) -> None:
    """Let cancelled tasks finish their clean-up."""
    for _ in range(20):
        await asyncio.sleep(0.01)
        if all(u.queue.in_flight == 0 for u in gw.upstreams.values()):
            return


def check_invariants(gw: Gateway, ledger: Ledger | None, replies: list[Reply]) -> None:
    """No slot held, no budget held, every answered request exactly once in the ledger."""
    for name, up in gw.upstreams.items():
        assert up.queue.in_flight == 0, f"{name} slot leaked"
    if isinstance(gw.budget, InMemoryBudgetStore):
        for acct, held in gw.budget.held_usd.items():
            assert abs(held) < 1e-12, f"budget of {acct} still holds {held}"
    if ledger is None:
        return
    gw.sink.flush()
    decisions = list(ledger.decisions())
    ids = [d.request_id for d in decisions]
    assert len(ids) == len(set(ids)), "a request was recorded twice"
    for reply in replies:
        rid = hmap(reply).get("x-tokenomy-request-id")
        if reply[0] == 200 and rid:
            assert ids.count(rid) == 1, f"answered request {rid} not in the ledger once"
    for o in ledger.outcomes():
        assert math.isfinite(o.cost_usd) and o.cost_usd >= 0, o
