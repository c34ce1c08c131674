"""The gateway's ASGI application: OpenAI-compatible endpoints in front of priced, routed upstreams.

A raw ASGI callable (no web framework: every microsecond is added latency). Endpoints:
``POST /v1/chat/completions`` (``chat``), ``GET /v1/models`` (every upstream plus ``tokenomy-auto``,
the routed model), ``GET /v1/prices`` (each upstream's congestion price λ_m and queue, the default
prices, the latest quotes on the price bus), ``POST /v1/feedback`` ``{request_id, quality, harm?}``
(the policy learns; the ledger gets the graded outcome), ``GET /healthz``, and ``GET /metrics`` /
``POST /v1/approvals`` when those handlers are attached (``extra_routes``). Errors are OpenAI-style
bodies (``errors``). ``lifespan`` shutdown waits for in-flight requests (up to ``drain_s``), then
flushes the ledger. This module wires the parts; decisions live in ``policy`` and ``admission``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from tokenomy.core.bus import PriceBus
from tokenomy.interfaces.gateway.admission import AdmissionQueue
from tokenomy.interfaces.gateway.budget import BudgetStore, InMemoryBudgetStore
from tokenomy.interfaces.gateway.config import GatewayConfig, UpstreamConfig
from tokenomy.interfaces.gateway.errors import GatewayHTTPError
from tokenomy.interfaces.gateway.guards import api_key, check_head, parse_json, read_body, single_headers
from tokenomy.interfaces.gateway.policy import GatewayPolicy, PolicySpec, make_policy
from tokenomy.interfaces.gateway.records import FeedbackRecord, RecordSink
from tokenomy.interfaces.gateway.upstream import UpstreamClient
from tokenomy.ledger.records import MAX_HARM

__all__ = ["AUTO_MODEL", "Gateway", "Upstream"]

AUTO_MODEL = "tokenomy-auto"
"""The model name that asks the gateway to route."""

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Route = Callable[["Gateway", Scope, Receive, Send], Awaitable[None]]
ResponseFilter = Callable[[dict[str, Any], str, str, str | None], dict[str, Any]]
"""(response body, request id, API key, the client's session header or None) -> body: the tool-call gate."""


class StreamFilter(Protocol):
    """Rewrites one streamed answer's SSE bytes as they pass (the tool-call gate for streams)."""

    def feed(self, data: bytes) -> bytes:
        """The bytes to forward now for ``data`` (b"" while an event is incomplete or held back)."""
        ...

    def close(self) -> bytes:
        """The bytes to send before the stream ends (held-back events, judged)."""
        ...


_JSON = (b"content-type", b"application/json")
_log = logging.getLogger(__name__)


@dataclass(slots=True)
class Upstream:
    """One upstream: its config, HTTP client and admission queue."""

    config: UpstreamConfig
    client: UpstreamClient
    queue: AdmissionQueue


class Gateway:
    """The ASGI application (see the module docstring).

    Args:
        config: the parsed configuration.
        sink: where decisions and outcomes go (``RecordSink(None)`` keeps none).
        policy: the routing policy (default: built from ``[routing] policy``).
        budget: the budget store (default: in process).
        bus: the price bus λ_m is published on (default: a new one).
        drain_s: how long shutdown waits for in-flight requests.
    """

    def __init__(
        self,
        config: GatewayConfig,
        *,
        sink: RecordSink | None = None,
        policy: GatewayPolicy | None = None,
        budget: BudgetStore | None = None,
        bus: PriceBus | None = None,
        drain_s: float = 30.0,
    ) -> None:
        self.config = config
        self.bus = bus or PriceBus(history=1000)
        self.sink = sink or RecordSink(None)
        spec = PolicySpec(
            quality_prior={u.name: u.quality_prior for u in config.upstreams},
            epsilon=config.routing.epsilon,
            options=config.routing.options,
        )
        self.policy = policy or make_policy(config.routing.policy, spec)
        self.budget = budget or InMemoryBudgetStore()
        self.rng = np.random.default_rng(config.routing.seed)
        self.upstreams = {
            u.name: Upstream(
                u,
                UpstreamClient(
                    u.name,
                    u.base_url,
                    timeout_s=u.timeout_s,
                    max_idle=max(256, u.max_concurrency),
                    headers={"authorization": f"Bearer {u.api_key}"} if u.api_key else None,
                    max_body_bytes=config.server.max_response_bytes,
                ),
                AdmissionQueue(
                    u.name,
                    max_concurrency=u.max_concurrency,
                    max_queue=u.max_queue,
                    sla_s=u.sla_s,
                    eta_lam=u.eta_lam,
                    bus=self.bus,
                ),
            )
            for u in config.upstreams
        }
        self.by_model = {k: u for u in self.upstreams.values() for k in (u.config.name, u.config.model)}
        # request id -> (model, key, feedback given), for feedback (bounded)
        self.served: OrderedDict[str, tuple[str, str, bool]] = OrderedDict()
        self.max_served = 200_000  # feedback for older requests gets 404 (bounded memory, ~30 MB)
        self.response_filters: list[ResponseFilter] = []
        self.stream_gate: Callable[[Any], StreamFilter] | None = None  # per streamed request
        self.extra_routes: dict[tuple[str, str], Route] = {}  # (method, path) -> handler
        self.on_request: list[Callable[[Any], None]] = []  # called with each RequestRecord (spans, metrics)
        self.on_close: list[Callable[[], None]] = []  # called at shutdown after the drain (exporters)
        self.drain_s, self.draining, self.in_flight = drain_s, False, 0
        self.counts = {"requests": 0, "errors_5xx": 0, "errors_4xx": 0}
        self._seq = 0
        self._boot = f"{int(time.time() * 1000):x}"

    def next_request_id(self) -> str:
        """A fresh request id (process start time and a counter: unique across restarts)."""
        self._seq += 1
        return f"gw-{self._boot}-{self._seq}"

    def remember(self, request_id: str, model: str, key: str = "") -> None:
        """Keep which model served ``request_id`` for whose key (oldest forgotten past ``max_served``)."""
        self.served[request_id] = (model, key, False)
        if len(self.served) > self.max_served:
            self.served.popitem(last=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":  # not served: refuse the handshake
            await send({"type": "websocket.close", "code": 1008})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        from tokenomy.interfaces.gateway.chat import handle_chat

        method, path = scope["method"], scope["path"]
        self.counts["requests"] += 1
        self.in_flight += 1
        try:
            if self.draining:
                raise GatewayHTTPError(503, "the gateway is shutting down", type_="server_error")
            check_head(scope)
            if path == "/v1/chat/completions":
                _method(method, "POST")
                await handle_chat(self, scope, receive, send)
            elif (method, path) in self.extra_routes:
                await self.extra_routes[(method, path)](self, scope, receive, send)
            elif path in _ROUTES:
                want, handler = _ROUTES[path]
                _method(method, want)
                await handler(self, scope, receive, send)
            else:
                raise GatewayHTTPError(404, f"unknown path {path!r}", code="not_found")
        except GatewayHTTPError as exc:
            await self.send_error(send, exc)
        except Exception:  # a bug must not leave the client without an answer, nor show it internals
            ref = f"{self._boot}-{self.counts['requests']}"
            _log.exception("internal error %s on %s %s", ref, method, path[:200])
            await self.send_error(
                send,
                GatewayHTTPError(
                    500, f"internal error (ref {ref}; details in the gateway's log)", type_="server_error"
                ),
            )
        finally:
            self.in_flight -= 1

    async def send_error(self, send: Send, exc: GatewayHTTPError) -> None:
        """Answer with an OpenAI-style error body (a response already started cannot be changed)."""
        self.counts["errors_5xx" if exc.status >= 500 else "errors_4xx"] += 1
        with contextlib.suppress(RuntimeError, OSError):  # the response had started, or the client is gone
            await send_json(send, exc.status, exc.body(), exc.headers)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def shutdown(self) -> None:
        """Refuse new requests, wait for in-flight ones (≤ ``drain_s``), close clients, flush the ledger."""
        self.draining = True
        deadline = time.monotonic() + self.drain_s
        while self.in_flight > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for u in self.upstreams.values():
            await u.client.aclose()
        for close in self.on_close:
            await asyncio.to_thread(close)
        await asyncio.to_thread(self.sink.close)


def _method(got: str, want: str) -> None:
    if got != want:
        raise GatewayHTTPError(405, f"method {got} not allowed here; use {want}", code="method_not_allowed")


async def send_json(
    send: Send, status: int, body: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """One whole JSON response."""
    await send({"type": "http.response.start", "status": status, "headers": [_JSON, *headers]})
    await send({"type": "http.response.body", "body": body})


async def _models(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    data = [{"id": AUTO_MODEL, "object": "model", "owned_by": "tokenomy"}]
    data += [
        {"id": u.config.name, "object": "model", "owned_by": "upstream", "upstream_model": u.config.model}
        for u in gw.upstreams.values()
    ]
    await send_json(send, 200, json.dumps({"object": "list", "data": data}).encode())


async def _prices(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    ups = {
        name: {
            "lam_usd_per_s": u.queue.lam_usd_per_s,
            "lam_source": "discovered",
            "expected_latency_s": u.queue.expected_latency_s(),
            "in_flight": u.queue.in_flight,
            "queued": u.queue.queued,
            "sla_s": u.config.sla_s,
            "input_usd_per_mtok": u.config.input_usd_per_mtok,
            "output_usd_per_mtok": u.config.output_usd_per_mtok,
            "price_source": u.config.price_source,
        }
        for name, u in gw.upstreams.items()
    }
    quotes = {}
    for topic in gw.bus.topics:
        q = gw.bus.latest(topic)
        if q is not None:
            quotes[topic] = {"time_s": q.time_s, "seq": q.seq, **q.prices.as_dict()}
    body = {"defaults": gw.config.defaults.as_dict(), "upstreams": ups, "bus": quotes}
    await send_json(send, 200, json.dumps(body).encode())


async def _feedback(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    headers = single_headers(scope["headers"])
    key = api_key(headers, gw.config.keys) if gw.config.keys else ""
    data = parse_json(
        await read_body(receive, scope, gw.config.server.max_body_bytes, gw.config.server.body_timeout_s)
    )
    rid = data.get("request_id")
    if rid is None:
        raise GatewayHTTPError(
            400, "missing field request_id (the X-Tokenomy-Request-Id of the answer)", param="request_id"
        )
    if not isinstance(rid, str):
        raise GatewayHTTPError(400, f"request_id must be a string; got {rid!r}"[:200], param="request_id")
    seen = gw.served.get(rid)
    if seen is None or seen[1] != key:  # another key's request reads as unknown (ids are not secrets)
        shown = repr(rid)[:80]
        raise GatewayHTTPError(
            404,
            f"unknown request_id {shown} (not served by this gateway for this key)",
            param="request_id",
            code="unknown_request",
        )
    if data.get("quality") is None:
        raise GatewayHTTPError(400, "missing field quality (a number in [0, 1])", param="quality")
    vals = {}
    for name, default, hi in (("quality", math.nan, 1.0), ("harm", 0.0, MAX_HARM)):
        v = data.get(name)
        v = default if v is None else v  # an explicit null reads as not given
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        if not ok or not 0.0 <= v <= hi:  # harm ≤ MAX_HARM keeps ρ·harm and the ledger's sums finite
            form = (
                "a number in [0, 1]" if name == "quality" else f"a number in [0, {MAX_HARM:g}] (harm units)"
            )
            raise GatewayHTTPError(400, f"{name} must be {form}; got {v!r}"[:200], param=name)
        vals[name] = float(v)
    model, _, given = seen
    assert isinstance(rid, str)
    if given:
        raise GatewayHTTPError(
            409, f"feedback for {rid!r} was already recorded", param="request_id", code="duplicate_feedback"
        )
    gw.served[rid] = (model, key, True)
    gw.policy.feedback(rid, model, vals["quality"], vals["harm"])
    gw.sink.add_feedback(FeedbackRecord(rid, model, vals["quality"], vals["harm"], time.time()))
    await send_json(send, 200, json.dumps({"ok": True, "request_id": rid, "model": model}).encode())


async def _healthz(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    body = {
        "status": "draining" if gw.draining else "ok",
        "in_flight": gw.in_flight - 1,
        "policy": gw.policy.name,
        "counts": gw.counts,
        "ledger": gw.sink.stats(),
    }
    await send_json(send, 200, json.dumps(body).encode())


_ROUTES: dict[str, tuple[str, Route]] = {
    "/v1/models": ("GET", _models),
    "/v1/prices": ("GET", _prices),
    "/v1/feedback": ("POST", _feedback),
    "/healthz": ("GET", _healthz),
}
