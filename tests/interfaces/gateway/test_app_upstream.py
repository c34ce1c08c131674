"""The gateway's upstream client: keep-alive reuse, body framings, a pooled connection the server closed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tokenomy.interfaces.gateway.upstream import UpstreamClient, UpstreamError


async def _server(
    reply: Callable[[int], bytes], close_after: bool = False
) -> tuple[asyncio.Server, list[int]]:
    conns = [0]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conns[0] += 1
        n = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(h.split(b":")[1])
                        for h in head.split(b"\r\n")
                        if h.lower().startswith(b"content-length")
                    ),
                    0,
                )
                await reader.readexactly(length)
                writer.write(reply(n))
                await writer.drain()
                n += 1
                if close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, conns


def _url(server: asyncio.Server) -> str:
    return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


def test_sequential_requests_reuse_one_keep_alive_connection() -> None:
    async def go() -> tuple[list[bytes], int]:
        server, conns = await _server(lambda n: b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        c = UpstreamClient("u", _url(server))
        bodies = [(await c.request("POST", "/v1/x", b"{}")).body for _ in range(5)]
        server.close()
        return bodies, conns[0]

    assert asyncio.run(go()) == ([b"ok"] * 5, 1)


def test_chunked_bodies_are_decoded_and_streamed_chunk_by_chunk() -> None:
    chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"

    async def go() -> tuple[list[bytes], bytes]:
        server, _ = await _server(lambda n: chunked)
        c = UpstreamClient("u", _url(server))
        async with c.stream("POST", "/v1/x", b"{}") as (_status, _, chunks):
            parts = [p async for p in chunks]
        whole = (await c.request("POST", "/v1/x", b"{}")).body
        server.close()
        return parts, whole

    assert asyncio.run(go()) == ([b"hello", b" world"], b"hello world")


def test_a_pooled_connection_closed_by_the_server_is_replaced_once() -> None:
    async def go() -> tuple[list[int], int]:
        server, conns = await _server(
            lambda n: b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", close_after=True
        )
        c = UpstreamClient("u", _url(server))
        out = []
        for _ in range(3):
            out.append((await c.request("POST", "/v1/x", b"{}")).status)
            await asyncio.sleep(0.01)  # the server has closed the idle connection meanwhile
        server.close()
        return out, conns[0]

    assert asyncio.run(go()) == ([200, 200, 200], 3)


def test_a_refused_connection_and_a_bad_status_line_are_upstream_errors() -> None:
    async def go() -> list[str]:
        kinds = []
        with pytest.raises(UpstreamError) as e1:
            await UpstreamClient("u", "http://127.0.0.1:9").request("GET", "/")
        kinds.append(e1.value.kind)
        server, _ = await _server(lambda n: b"garbage\r\n\r\n")
        with pytest.raises(UpstreamError) as e2:
            await UpstreamClient("u", _url(server)).request("GET", "/")
        kinds.append(e2.value.kind)
        server.close()
        return kinds

    assert asyncio.run(go()) == ["refused", "protocol"]


def test_the_api_key_header_is_sent_and_a_v1_base_url_is_not_doubled() -> None:
    seen: list[bytes] = []

    async def go() -> int:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        c = UpstreamClient("u", _url(server) + "/v1", headers={"authorization": "Bearer sk-x"})
        status = (await c.request("POST", "/v1/chat/completions", b"{}")).status
        server.close()
        return status

    assert asyncio.run(go()) == 200
    head = seen[0].decode()
    assert head.startswith("POST /v1/chat/completions HTTP/1.1") and "authorization: Bearer sk-x" in head
