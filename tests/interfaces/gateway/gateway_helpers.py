"""Gateway test helpers: fake OpenAI-compatible upstreams on loopback and an in-process ASGI caller.

``fake_upstreams(*modes)`` (async context manager) starts one fake upstream per mode
(``tokenomy.interfaces.gateway.fakeupstream``: ok, 500, hang, cut, delay) on 127.0.0.1 and yields
their base URLs; ``gateway_config(urls, ...)`` builds a config over them; ``call(app, ...)`` drives
the ASGI app without a server. ``live_gateway`` runs uvicorn in a thread for tests that need a real
socket (the official ``openai`` client). Tests run their scenario with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tokenomy.interfaces.gateway.config import GatewayConfig, parse_config
from tokenomy.interfaces.gateway.fakeupstream import start


def need_module(name: str, what: str) -> Any:
    """Import ``name``; skip (locally) or fail (CI=true) with ``what`` as the reason when it is missing."""
    try:
        return importlib.import_module(name)
    except ImportError:
        reason = f"{name} not installed ({what})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " — CI=true requires it")
        pytest.skip(reason)


@contextlib.asynccontextmanager
async def fake_upstreams(*modes: str, delay_s: float = 0.0) -> AsyncIterator[list[str]]:
    """Start one fake upstream per mode; yield their base URLs."""
    servers = [await start("127.0.0.1", 0, m, delay_s) for m in modes]
    try:
        yield [f"http://127.0.0.1:{s.sockets[0].getsockname()[1]}" for s in servers]
    finally:
        for s in servers:
            s.close()


def gateway_config(urls: list[str], **tables: Any) -> GatewayConfig:
    """Upstreams ``cheap`` (q 0.6, $1/$2 per Mtok) and ``strong`` (q 0.9, $10/$30) over ``urls``; other tables as given."""
    specs = [("cheap", 0.6, 1.0, 2.0), ("strong", 0.9, 10.0, 30.0)]
    ups = [
        {
            "name": n,
            "base_url": u,
            "quality_prior": q,
            "input_usd_per_mtok": i,
            "output_usd_per_mtok": o,
            "timeout_s": 2.0,
            **tables.pop(f"upstream_{n}", {}),
        }
        for (n, q, i, o), u in zip(specs, urls, strict=False)
    ]
    doc = {"upstreams": ups, "defaults": {"v_usd": 1.0}, "routing": {"epsilon": 0.0}, **tables}
    return parse_config(doc, "test.toml")


async def call(
    app: Any,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    *,
    raw: bytes | None = None,
    disconnect_after_s: float | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request through the ASGI app; returns status, headers (lower-case) and the whole body."""
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    hdrs = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    hdrs.append((b"content-length", str(len(data)).encode()))
    scope = {"type": "http", "method": method, "path": path, "headers": hdrs}
    sent: list[dict[str, Any]] = []
    first = True

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": data, "more_body": False}
        if disconnect_after_s is None:
            await asyncio.Event().wait()
        await asyncio.sleep(disconnect_after_s or 0.0)
        return {"type": "http.disconnect"}

    async def send(msg: dict[str, Any]) -> None:
        sent.append(msg)

    await app(scope, receive, send)
    start_msg = next((m for m in sent if m["type"] == "http.response.start"), None)
    if start_msg is None:
        return 0, {}, b""
    out_headers = {k.decode(): v.decode() for k, v in start_msg["headers"]}
    return (
        start_msg["status"],
        out_headers,
        b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"),
    )


@pytest.fixture
def live_gateway() -> Iterator[Any]:
    """A function ``start(make_app) -> base_url`` that serves ``make_app(fake_urls)`` with uvicorn in a thread."""
    uvicorn = need_module("uvicorn", "the 'gateway' extra")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    servers: list[Any] = []

    def run(make_app: Any, modes: tuple[str, ...] = ("ok", "ok")) -> str:
        async def boot() -> str:
            fakes = [await start("127.0.0.1", 0, m) for m in modes]
            servers.extend(fakes)
            urls = [f"http://127.0.0.1:{s.sockets[0].getsockname()[1]}" for s in fakes]
            server = uvicorn.Server(
                uvicorn.Config(make_app(urls), host="127.0.0.1", port=0, log_level="warning", lifespan="on")
            )
            servers.append(server)
            servers.append(loop.create_task(server.serve()))
            while not server.started:
                await asyncio.sleep(0.01)
            port = server.servers[0].sockets[0].getsockname()[1]
            return f"http://127.0.0.1:{port}"

        return asyncio.run_coroutine_threadsafe(boot(), loop).result(10)

    yield run

    async def stop() -> None:
        for s in servers:
            if isinstance(s, asyncio.Task):
                continue
            if hasattr(s, "should_exit"):
                s.should_exit = True
            else:
                s.close()
        await asyncio.sleep(0.3)

    asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
