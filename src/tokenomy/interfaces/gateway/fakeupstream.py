"""A fake OpenAI-compatible upstream for tests and benchmarks: answers chat completions at once.

A bare asyncio protocol (no framework) so it costs little beside the gateway it is measured against:
HTTP/1.1 keep-alive, ``POST …/chat/completions`` answered with a fixed completion (``stream: true``:
three SSE chunks, then a usage chunk, then ``[DONE]``, chunked transfer), ``GET …/models``. Its
``mode`` injects faults: ``ok``, ``400`` (every completion is refused with status 400), ``500`` (every completion fails with
status 500), ``hang`` (never
answers), ``cut`` (streams one chunk then closes the connection), ``delay`` (answers after
``delay_s``). Usage counts are synthetic: prompt tokens = body bytes // 4, completion tokens = 8.
Run as ``python -m tokenomy.interfaces.gateway.fakeupstream --port N [--mode M]``; it prints
``ready <port>`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass, field

__all__ = ["FakeUpstream", "main"]

_HEAD = b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n"
_CHUNKED = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def _completion(model: str, prompt_tokens: int) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "fake answer"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": 8,
                "total_tokens": prompt_tokens + 8,
            },
        }
    ).encode()


def _sse(obj: object) -> bytes:
    data = b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(data), data)


@dataclass(slots=True)
class FakeUpstream(asyncio.Protocol):
    """One connection of the fake server (``mode`` and ``delay_s`` as in the module docstring)."""

    mode: str = "ok"
    delay_s: float = 0.0
    served: list[int] = field(default_factory=lambda: [0])  # shared counter of completions answered
    _buf: bytes = b""
    _tr: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._tr = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._buf[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v)
            if len(self._buf) < end + 4 + length:
                return
            body = self._buf[end + 4 : end + 4 + length]
            self._buf = self._buf[end + 4 + length :]
            self._answer(head.split(" ", 2)[:2], body)

    def _write(self, data: bytes) -> None:
        if self._tr is not None and not self._tr.is_closing():
            self._tr.write(data)

    def _answer(self, line: list[str], body: bytes) -> None:
        method, path = [*line, "", ""][:2]
        if method == "GET" and path.endswith("/models"):
            out = json.dumps({"object": "list", "data": [{"id": "fake", "object": "model"}]}).encode()
            self._write(_HEAD % (200, b"OK", b"application/json", len(out)) + out)
            return
        if not path.endswith("/chat/completions"):
            self._write(_HEAD % (404, b"Not Found", b"text/plain", 0))
            return
        if self.mode == "hang":
            return
        if self.mode == "400":
            out = b'{"error": {"message": "fake refusal", "type": "invalid_request_error"}}'
            self._write(_HEAD % (400, b"Bad Request", b"application/json", len(out)) + out)
            return
        if self.mode == "500":
            out = b'{"error": {"message": "fake failure", "type": "server_error"}}'
            self._write(_HEAD % (500, b"Internal Server Error", b"application/json", len(out)) + out)
            return
        if self.mode == "drip":
            self._drip(body)
            return
        if self.mode == "delay" and self.delay_s > 0:
            asyncio.get_running_loop().call_later(self.delay_s, self._complete, body)
        else:
            self._complete(body)

    def _complete(self, body: bytes) -> None:
        try:
            req = json.loads(body)
        except ValueError:
            req = {}
        model, ptok = str(req.get("model", "fake")), len(body) // 4
        self.served[0] += 1
        if not req.get("stream"):
            out = _completion(model, ptok)
            self._write(_HEAD % (200, b"OK", b"application/json", len(out)) + out)
            return
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model}
        parts = [_CHUNKED]
        for i, word in enumerate(("fake", " streamed", " answer")):
            delta = {"role": "assistant", "content": word} if i == 0 else {"content": word}
            parts.append(_sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}))
            if self.mode == "cut":
                self._write(b"".join(parts))
                assert self._tr is not None
                self._tr.close()
                return
        parts.append(_sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
        usage = {"prompt_tokens": ptok, "completion_tokens": 3, "total_tokens": ptok + 3}
        parts.append(_sse({**base, "choices": [], "usage": usage}))
        parts += [_sse(b"[DONE]"), b"0\r\n\r\n"]
        self._write(b"".join(parts))

    def _drip(self, body: bytes) -> None:
        loop = asyncio.get_running_loop()
        n = max(1, int(self.delay_s / 0.1))
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": "drip"}
        self._write(_CHUNKED)
        for i in range(n):
            delta = {"choices": [{"index": 0, "delta": {"content": "."}, "finish_reason": None}]}
            loop.call_later(0.1 * i, self._write, _sse({**base, **delta}))
        loop.call_later(0.1 * n, self._write, _sse(b"[DONE]") + b"0\r\n\r\n")
        self.served[0] += 1


async def start(host: str, port: int, mode: str = "ok", delay_s: float = 0.0) -> asyncio.Server:
    """Start a fake upstream on the running loop; the server's sockets give the bound port."""
    served = [0]
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: FakeUpstream(mode, delay_s, served), host, port, backlog=4096)


def main(argv: list[str] | None = None) -> None:
    """Serve until killed (uvloop when installed)."""
    p = argparse.ArgumentParser(description="A fake OpenAI-compatible upstream (tests, benchmarks).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--mode", default="ok", choices=("ok", "400", "500", "hang", "cut", "delay", "drip"))
    p.add_argument("--delay-s", type=float, default=0.0)
    a = p.parse_args(argv)

    async def run() -> None:
        server = await start(a.host, a.port, a.mode, a.delay_s)
        print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
        await server.serve_forever()

    try:
        import uvloop

        uvloop.run(run())
    except ImportError:
        asyncio.run(run())


if __name__ == "__main__":
    main()
