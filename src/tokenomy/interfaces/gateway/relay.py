"""Serve one priced request on one upstream and relay the answer: whole JSON, or SSE chunk by chunk.

``relay_whole`` sends the request, checks the answer (a 5xx or a body that is not a JSON object is an
``UpstreamError`` the caller retries elsewhere; an upstream's own 4xx is relayed as is), runs the
response filters (the tool-call gate), adds the ``tokenomy`` extension field (chosen model, its
estimated Eq. 1 surplus, the prices, propensity, exploration, cost) and the decision headers.
``relay_stream`` waits for the first bytes before answering (so a failure before them can still fall
back), then relays each chunk as it arrives (the first event gains the ``tokenomy`` field); a cut
after that ends the stream with an SSE error event. Both return the request's cost from the upstream's ``usage`` (estimated when absent).
``ChatRequest`` is the state one request carries through ``chat``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tokenomy.core.prices import PriceVector
from tokenomy.interfaces.gateway.budget import WARN_SHARE, Reservation
from tokenomy.interfaces.gateway.config import KeyConfig
from tokenomy.interfaces.gateway.policy import Candidate, Choice
from tokenomy.interfaces.gateway.records import Attempt
from tokenomy.interfaces.gateway.upstream import UpstreamError

if TYPE_CHECKING:
    from tokenomy.interfaces.gateway.app import Gateway, Send, Upstream

__all__ = ["ChatRequest", "cost_usd", "relay_stream", "relay_whole", "stream_error"]

_PATH = "/v1/chat/completions"
_SSE = (b"content-type", b"text/event-stream")


@dataclass(slots=True)
class ChatRequest:
    """The state of one chat request as it goes through the steps."""

    rid: str
    body: dict[str, Any]
    key: str
    account: KeyConfig | None
    prices: PriceVector
    prompt_tokens: int
    max_prompt_tokens: int
    max_out: int | None
    stream: bool
    t0: float
    time_s: float
    cands: tuple[Candidate, ...] = ()
    choice: Choice | None = None
    served: str | None = None
    reason: str = "refused"
    status: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    usage: tuple[int, int] = (0, 0)
    attempts: list[Attempt] = field(default_factory=list)
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    n: int = 1  # choices asked for: the reservation covers n answers
    max_cost_usd: float = 0.0  # the attempt's maximum cost (charged when the client leaves mid-call)
    session: str | None = None  # the client's X-Tokenomy-Session (the gate's session), when given


def cost_usd(up: Upstream, prompt_tokens: int, out_tokens: int) -> float:
    c = up.config
    return (prompt_tokens * c.input_usd_per_mtok + out_tokens * c.output_usd_per_mtok) / 1e6


def _payload(gw: Gateway, r: ChatRequest, up: Upstream, out_cap: int) -> bytes:
    body = dict(r.body)
    body["model"] = up.config.model
    body.pop("metadata", None)
    if r.account is not None and math.isfinite(r.account.budget_usd):
        body["max_tokens"] = out_cap  # the reservation's bound must hold at the upstream
        if "max_completion_tokens" in body:
            body["max_completion_tokens"] = out_cap
    if r.stream:  # usage is what the request is charged from: always ask for it
        body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    return json.dumps(body).encode()


def _wants_usage(r: ChatRequest) -> bool:
    opts = r.body.get("stream_options")
    return isinstance(opts, dict) and opts.get("include_usage") is True


def _tokens(usage: dict[str, Any], key: str, default: int) -> int:
    v = usage.get(key)
    if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 2**40:
        return v
    return default  # absent, negative, absurd or not an integer: the estimate stands


def _decision_headers(gw: Gateway, r: ChatRequest, name: str) -> list[tuple[bytes, bytes]]:
    choice = r.choice
    assert choice is not None
    s = dict(zip(choice.ranking, choice.est_surplus_usd, strict=True))[name]
    p = r.prices
    lam_m = gw.upstreams[name].queue.lam_usd_per_s
    return [
        (b"x-tokenomy-model", name.encode()),
        (b"x-tokenomy-surplus", repr(s).encode()),
        (b"x-tokenomy-request-id", r.rid.encode()),
        (
            b"x-tokenomy-prices",
            b"v=%.6g;lambda=%.6g;rho=%.6g;lambda_m=%.6g" % (p.v_usd, p.lam_usd_per_s, p.rho_usd, lam_m),
        ),
        (b"x-tokenomy-propensity", b"%.6g" % choice.propensity),
    ]


async def _budget_headers(
    gw: Gateway, r: ChatRequest, cost: float, hold: Reservation | None
) -> list[tuple[bytes, bytes]]:
    a = r.account
    if a is None or not math.isfinite(a.budget_usd):
        return []
    held = 0.0 if hold is None else hold.amount_usd  # this request's hold is settled just after
    left = await gw.budget.remaining(a.tenant, a.budget_usd) + held - cost
    out = [(b"x-tokenomy-budget-remaining", b"%.6f" % max(0.0, left))]
    if left < max(WARN_SHARE * a.budget_usd, r.max_cost_usd):  # near the cap, or the next may not fit
        out.append(
            (b"x-tokenomy-budget-warning", b"less than %d%% of the budget is left" % (WARN_SHARE * 100))
        )
    return out


def _usage_cost(up: Upstream, r: ChatRequest, usage: Any, fallback_out: int) -> float:
    pt, ct = r.prompt_tokens, fallback_out
    if isinstance(usage, dict):
        pt = _tokens(usage, "prompt_tokens", pt)
        ct = _tokens(usage, "completion_tokens", ct)
    r.usage = (pt, ct)
    return cost_usd(up, pt, ct)


async def relay_whole(
    gw: Gateway, r: ChatRequest, up: Upstream, send: Send, hold: Reservation | None, out_cap: int
) -> float:
    from tokenomy.interfaces.gateway.app import send_json

    resp = await up.client.request("POST", _PATH, _payload(gw, r, up, out_cap))
    if resp.status != 200:
        _check_status(up, resp.status)
        r.status = resp.status  # the upstream refused the request itself: relay, no retry
        await send_json(
            send,
            resp.status,
            _refusal(resp.status, resp.body),
            tuple(_decision_headers(gw, r, up.config.name)),
        )
        return 0.0
    try:
        data = json.loads(resp.body)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise UpstreamError(up.config.name, "protocol", "the answer is not a JSON object")
    data.pop("tokenomy", None)  # only the gateway writes its extension field
    choices = data.get("choices")
    text = "".join(
        str(c["message"].get("content") or "")
        for c in (choices if isinstance(choices, list) else [])
        if isinstance(c, dict) and isinstance(c.get("message"), dict)
    )
    cost = _usage_cost(up, r, data.get("usage"), len(text) // 4 + 1)
    for f in gw.response_filters:
        data = f(data, r.rid, r.key, r.session)
    name = up.config.name
    ext = data.get("tokenomy")
    data["tokenomy"] = (ext if isinstance(ext, dict) else {}) | {  # keeps what a filter added (actions)
        **_extension(gw, r, up),
        "cost_usd": cost,
    }
    r.status = 200
    hdrs = _decision_headers(gw, r, name) + await _budget_headers(gw, r, cost, hold)
    await send_json(send, 200, json.dumps(data).encode(), tuple(hdrs))
    return cost


async def relay_stream(
    gw: Gateway, r: ChatRequest, up: Upstream, send: Send, hold: Reservation | None, out_cap: int
) -> float:
    name = up.config.name
    async with up.client.stream("POST", _PATH, _payload(gw, r, up, out_cap)) as (status, _, chunks):
        if status != 200:  # the upstream refused the request itself: relay its error, no retry
            from tokenomy.interfaces.gateway.app import send_json

            _check_status(up, status)
            err = b"".join([c async for c in chunks])
            r.status = status
            await send_json(send, status, _refusal(status, err), tuple(_decision_headers(gw, r, name)))
            return 0.0
        first = await anext(chunks, b"")  # before answering: a failure here can still fall back
        if not first:
            raise UpstreamError(name, "cut", "the stream ended before its first byte")
        hdrs = _decision_headers(gw, r, name) + await _budget_headers(gw, r, 0.0, None)
        r.status = status
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [_SSE, (b"cache-control", b"no-cache"), *hdrs],
            }
        )
        usage: Any = None
        n_chunks, wants_usage = 0, _wants_usage(r)
        gate = gw.stream_gate(r) if gw.stream_gate is not None else None
        chunk = _scrub(first)
        if gate is not None:
            chunk = gate.feed(chunk)
        if chunk.startswith(b"data: {"):  # the first event carries the extension field
            ext = json.dumps({"tokenomy": _extension(gw, r, up)}).encode()
            chunk = b"data: " + ext[:-1] + b", " + chunk[7:]
        try:
            while True:
                n_chunks += 1
                if usage is None and b'"usage"' in chunk:
                    usage = _find_usage(chunk)
                    if usage is not None and not wants_usage:
                        chunk = _drop_usage_events(chunk)
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                chunk = await chunks.__anext__()
                if b'"tokenomy"' in chunk:
                    chunk = _scrub(chunk)
                if gate is not None:
                    chunk = gate.feed(chunk)
        except StopAsyncIteration:
            if gate is not None:  # the calls held back, judged, before the stream ends
                tail = gate.close()
                if tail:
                    await send({"type": "http.response.body", "body": tail, "more_body": True})
        except UpstreamError as exc:
            await stream_error(send, f"upstream stream failed: {exc}")
            r.cost_usd = _usage_cost(up, r, usage, n_chunks)
            raise
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    return _usage_cost(up, r, usage, n_chunks)


async def stream_error(send: Send, message: str) -> None:
    """End a started SSE stream with one OpenAI-style error event."""
    err = {"message": message, "type": "server_error", "param": None, "code": "upstream_stream_cut"}
    data = b"data: " + json.dumps({"error": err}).encode() + b"\n\n"
    await send({"type": "http.response.body", "body": data, "more_body": False})


def _extension(gw: Gateway, r: ChatRequest, up: Upstream) -> dict[str, Any]:
    """The decision as the ``tokenomy`` extension field shows it (the cost is added once known)."""
    choice = r.choice
    assert choice is not None
    name = up.config.name
    return {
        "request_id": r.rid,
        "model": name,
        "est_surplus_usd": dict(zip(choice.ranking, choice.est_surplus_usd, strict=True))[name],
        "prices": r.prices.as_dict(),
        "lam_m_usd_per_s": up.queue.lam_usd_per_s,
        "propensity": choice.propensity,
        "explored": choice.explored,
        "policy": gw.policy.name,
    }


def _check_status(up: Upstream, status: int) -> None:
    """Only an upstream's own 4xx (not its 401/403/407: the gateway's credentials) is relayed."""
    if status >= 500 or not 400 <= status < 500 or status in (401, 403, 407):
        raise UpstreamError(up.config.name, "status", f"HTTP {status}", status)


def _refusal(status: int, body: bytes) -> bytes:
    """An upstream's 4xx body when it is a short OpenAI-style error, else one written here."""
    if len(body) <= 65536:
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
            return body
    err = {
        "message": f"the upstream refused the request (HTTP {status})",
        "type": "invalid_request_error",
        "param": None,
        "code": "upstream_refused",
    }
    return json.dumps({"error": err}).encode()


def _scrub(chunk: bytes) -> bytes:
    """``chunk`` with any ``tokenomy`` field an upstream put in its events removed."""
    if b'"tokenomy"' not in chunk:
        return chunk
    out = []
    for event in chunk.split(b"\n\n"):
        if event.startswith(b"data: {") and b'"tokenomy"' in event:
            try:
                doc = json.loads(event[6:])
            except (ValueError, RecursionError):
                doc = None
            if not isinstance(doc, dict):
                continue  # an event that names the field but cannot be cleaned is dropped
            doc.pop("tokenomy", None)
            event = b"data: " + json.dumps(doc).encode()
        out.append(event)
    return b"\n\n".join(out)


def _drop_usage_events(chunk: bytes) -> bytes:
    """``chunk`` without the usage-only events the client did not ask for (``include_usage``)."""
    keep = []
    for event in chunk.split(b"\n\n"):
        if event.startswith(b"data: {") and b'"usage"' in event:
            try:
                doc = json.loads(event[6:])
            except (ValueError, RecursionError):
                doc = None
            if isinstance(doc, dict) and doc.get("usage") and not doc.get("choices"):
                continue
        keep.append(event)
    return b"\n\n".join(keep)


def _find_usage(chunk: bytes) -> Any:
    for line in chunk.split(b"\n"):
        if line.startswith(b"data: {") and b'"usage"' in line:
            try:
                doc = json.loads(line[6:])
            except (ValueError, RecursionError):
                continue
            usage = doc.get("usage") if isinstance(doc, dict) else None
            if isinstance(usage, dict):
                return usage
    return None
