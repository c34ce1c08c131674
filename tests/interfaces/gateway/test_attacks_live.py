"""Attacks on a real socket: the gateway under uvicorn on loopback, raw bytes from a hostile client.

HTTP framing (conflicting lengths, smuggling, huge heads, chunked bodies past the limit), slow
clients (slowloris heads, dripped bodies), header injection seen in the raw response, path
traversal in the request line, a client that drops the socket mid-stream. Every answer is a parsed
HTTP response with a 4xx/5xx status where the request was bad, and the gateway keeps serving.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from gateway_attackkit import CHAT
from gateway_helpers import gateway_config

from tokenomy.interfaces.gateway.app import Gateway

CC = b"/v1/chat/completions"
BODY = json.dumps(CHAT).encode()


def _addr(base: str) -> tuple[str, int]:
    host, port = base.removeprefix("http://").split(":")
    return host, int(port)


def _raw(base: str, data: bytes, timeout_s: float = 5.0) -> bytes:
    """Send ``data`` on a fresh connection; read until the server closes or ``timeout_s``."""
    with socket.create_connection(_addr(base), timeout=timeout_s) as s:
        s.sendall(data)
        out = b""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                more = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not more:
                break
            out += more
            if _complete(out):
                break
        return out


def _complete(out: bytes) -> bool:
    head, sep, body = out.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return len(body) >= int(v)
    return body.endswith(b"0\r\n\r\n")


def _status(resp: bytes) -> int:
    return int(resp.split(b" ", 2)[1]) if resp.startswith(b"HTTP/1.1 ") else 0


def _post(body: bytes = BODY, extra: bytes = b"", path: bytes = CC) -> bytes:
    return (
        b"POST %s HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n"
        % (path, len(body), extra)
        + body
    )


def _make(holder: list[Gateway], **tables: Any) -> Any:
    def make(urls: list[str]) -> Gateway:
        gw = Gateway(gateway_config(urls, **tables))
        holder.append(gw)
        return gw

    return make


def test_framing_attacks_get_a_4xx_and_the_server_keeps_serving(live_gateway: Any) -> None:
    base = live_gateway(_make([], gateway={"max_body_bytes": 2000}))
    attacks = {
        "two_lengths": b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ncontent-length: 7\r\n\r\n12345",
        "length_and_chunked": b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n"
        b"transfer-encoding: chunked\r\n\r\n0\r\n\r\nGET /v1/prices HTTP/1.1\r\nhost: x\r\n\r\n",
        "negative_length": b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: -1\r\n\r\n",
        "bad_chunk_size": b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        "chunked_past_limit": b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
        + b"3e8\r\n"
        + b"x" * 1000
        + b"\r\n"
        + (b"3e8\r\n" + b"x" * 1000 + b"\r\n") * 5
        + b"0\r\n\r\n",
        "length_past_limit": _post(b"x" * 5000),
        "huge_header": b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-a: " + b"a" * 200_000 + b"\r\n\r\n",
        "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 tls hello to a plain port\r\n\r\n",
        "bad_version": b"GET /healthz HTTP/9.9\r\nhost: x\r\n\r\n",
        "nul_in_path": b"GET /v1/models\x00 HTTP/1.1\r\nhost: x\r\n\r\n",
        "traversal": b"GET /v1/../../../../etc/passwd HTTP/1.1\r\nhost: x\r\n\r\n",
        "encoded_traversal": b"GET /v1/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nhost: x\r\n\r\n",
        "absolute_form": b"GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\nhost: x\r\n\r\n",
        "crlf_in_model": _post(json.dumps({**CHAT, "model": "x\r\nX-Evil: 1"}).encode()),
        "nan_price": _post(extra=b"x-tokenomy-v: nan\r\n"),
    }
    for name, data in attacks.items():
        resp = _raw(base, data)
        status = _status(resp)
        assert 400 <= status < 500 or (name == "absolute_form" and status in (404, 200)), (name, resp[:300])
        head = resp.partition(b"\r\n\r\n")[0]
        assert b"x-evil" not in head.lower() and b"root:" not in resp, name
        if name == "length_and_chunked":
            assert resp.count(b"HTTP/1.1 ") <= 1 or b'"bus"' not in resp  # no smuggled second request
    ok = _raw(base, _post())
    assert _status(ok) == 200, ok[:300]


def test_slowloris_heads_do_not_starve_a_real_client(live_gateway: Any) -> None:
    base = live_gateway(_make([]))
    slow = []
    try:
        for _ in range(200):
            s = socket.create_connection(_addr(base), timeout=5)
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-a: ")  # never finished
            slow.append(s)
        resp = _raw(base, _post(), timeout_s=30.0)  # a liveness bound, not a speed figure
        assert _status(resp) == 200
    finally:
        for s in slow:
            s.close()


def test_a_dripped_body_gets_a_408_and_frees_its_connection(live_gateway: Any) -> None:
    base = live_gateway(_make([], gateway={"body_timeout_s": 0.5}))
    with socket.create_connection(_addr(base), timeout=10) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n{")
        t0 = time.monotonic()
        resp = b""
        while not _complete(resp) and time.monotonic() - t0 < 30:
            time.sleep(0.1)
            try:
                s.sendall(b" ")  # one byte at a time, never the whole body in time
                s.settimeout(0.05)
                resp += s.recv(65536)
            except (TimeoutError, BlockingIOError):
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
    assert _status(resp) == 408, resp[:300]
    assert b'"code": "body_timeout"' in resp


def test_a_client_that_drops_the_socket_mid_stream_frees_the_upstream_slot(live_gateway: Any) -> None:
    gws: list[Gateway] = []
    base = live_gateway(_make(gws), modes=("drip", "drip"))
    body = json.dumps({**CHAT, "stream": True}).encode()
    for _ in range(5):
        with socket.create_connection(_addr(base), timeout=5) as s:
            s.sendall(_post(body))
            assert s.recv(65536).startswith(b"HTTP/1.1 200")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(u.queue.in_flight for u in gws[0].upstreams.values()):
        time.sleep(0.05)
    assert all(u.queue.in_flight == 0 for u in gws[0].upstreams.values())
    assert _status(_raw(base, b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")) == 200


def test_pipelined_requests_are_answered_in_order(live_gateway: Any) -> None:
    base = live_gateway(_make([]))
    two = _post() + b"GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n"
    with socket.create_connection(_addr(base), timeout=5) as s:
        s.sendall(two)
        s.settimeout(1.0)
        out = b""
        deadline = time.monotonic() + 5
        while out.count(b"\r\n0\r\n\r\n") < 2 and time.monotonic() < deadline:
            try:
                out += s.recv(65536)
            except TimeoutError:
                continue
    parts = out.split(b"HTTP/1.1 ")[1:]
    assert [p[:3] for p in parts] == [b"200", b"200"] and b"tokenomy-auto" in parts[1]
