"""``POST /v1/chat/completions``: price the request, route it (Eq. 4), admit it (Eq. 1), serve, record.

Steps: read and check the body (413, 400); the API key (401); the request's prices (400 for a bad
one); the candidates (every upstream for ``tokenomy-auto``, the named one when the request pins a
model, 404 for an unknown model), each with its estimated ΔC, ΔL and congestion price λ_m; the
policy's ranking. Admission walks the ranking: a candidate is tried when its Eq. 1 surplus (with
λ + λ_m on its expected latency) is positive and its queue has room; a full queue downgrades to the
next one. None left: 429 with ``Retry-After`` and ``X-Tokenomy-Required-V`` (the smallest V at which a
candidate's surplus is positive: ``rule.crossover_value`` against spending nothing). The key's
budget must hold the attempt's maximum cost (402 otherwise). A refused connection, a timeout, a 5xx
or a malformed answer is recorded and the next candidate of the ranking is tried (fallback); a stream
cut after its first byte cannot be retried: the client gets an SSE error event. A client that
disconnects cancels the upstream call. Exactly one ``RequestRecord`` per request that reached the
policy, whatever happened.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tokenomy.core.prices import PriceVector
from tokenomy.core.rule import crossover_value
from tokenomy.core.uses import TokenUse
from tokenomy.interfaces.gateway.budget import WARN_SHARE, Reservation
from tokenomy.interfaces.gateway.config import KeyConfig
from tokenomy.interfaces.gateway.errors import GatewayHTTPError
from tokenomy.interfaces.gateway.policy import (
    Candidate,
    Choice,
    RouteContext,
    candidate_surplus,
    with_congestion,
)
from tokenomy.interfaces.gateway.prices import (
    estimate_prompt_tokens,
    max_prompt_tokens,
    prompt_text,
    request_prices,
)
from tokenomy.interfaces.gateway.records import Attempt, RequestRecord
from tokenomy.interfaces.gateway.upstream import UpstreamError

if TYPE_CHECKING:
    from tokenomy.interfaces.gateway.app import Gateway, Receive, Scope, Send, Upstream

__all__ = ["handle_chat"]

_PATH = "/v1/chat/completions"
_SSE = (b"content-type", b"text/event-stream")


@dataclass(slots=True)
class _Request:
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


def _auth(gw: Gateway, headers: dict[bytes, bytes]) -> tuple[str, KeyConfig | None]:
    if not gw.config.keys:
        return "", None
    auth = headers.get(b"authorization", b"").decode("latin-1")
    key = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    if key not in gw.config.keys:
        raise GatewayHTTPError(
            401,
            "missing or unknown API key (Authorization: Bearer <key>)",
            type_="authentication_error",
            code="invalid_api_key",
        )
    return key, gw.config.keys[key]


def _check(body: dict[str, Any]) -> tuple[str, bool, int | None]:
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise GatewayHTTPError(400, "messages must be a non-empty array", param="messages")
    model = body.get("model", "tokenomy-auto")
    if not isinstance(model, str) or not model:
        raise GatewayHTTPError(400, f"model must be a non-empty string; got {model!r}", param="model")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise GatewayHTTPError(400, f"stream must be true or false; got {stream!r}", param="stream")
    max_out = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_out is not None and (not isinstance(max_out, int) or isinstance(max_out, bool) or max_out < 1):
        raise GatewayHTTPError(400, f"max_tokens must be an integer ≥ 1; got {max_out!r}", param="max_tokens")
    return model, stream, max_out


def _cost(up: Upstream, prompt_tokens: int, out_tokens: int) -> float:
    c = up.config
    return (prompt_tokens * c.input_usd_per_mtok + out_tokens * c.output_usd_per_mtok) / 1e6


def _q_hat(gw: Gateway, name: str) -> float:
    q = getattr(gw.policy, "q_hat", None)
    return float(q(name)) if callable(q) else gw.upstreams[name].config.quality_prior


async def handle_chat(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one chat completion (see the module docstring)."""
    from tokenomy.interfaces.gateway.app import AUTO_MODEL, parse_json, read_body

    headers = dict(scope["headers"])
    body = parse_json(await read_body(receive, scope, gw.config.server.max_body_bytes))
    key, account = _auth(gw, headers)
    model, stream, max_out = _check(body)
    if model != AUTO_MODEL and model not in gw.by_model:
        raise GatewayHTTPError(
            404,
            f"unknown model {model!r}; valid: {AUTO_MODEL}, {', '.join(gw.upstreams)}",
            param="model",
            code="model_not_found",
        )
    prices = request_prices(headers, body, account.prices if account else gw.config.defaults)
    text = prompt_text(body["messages"])
    r = _Request(
        gw.next_request_id(),
        body,
        key,
        account,
        prices,
        estimate_prompt_tokens(text, len(body["messages"])),
        max_prompt_tokens(text, len(body["messages"])),
        max_out,
        stream,
        time.perf_counter(),
        time.time(),
    )
    exp_out = min(max_out or gw.config.server.expected_output_tokens, gw.config.server.expected_output_tokens)
    ups = list(gw.upstreams.values()) if model == AUTO_MODEL else [gw.by_model[model]]
    r.cands = tuple(
        Candidate(
            u.config.name,
            _cost(u, r.prompt_tokens, exp_out),
            u.queue.expected_latency_s(),
            u.queue.lam_usd_per_s,
        )
        for u in ups
    )
    if model == AUTO_MODEL:
        r.choice = gw.policy.choose(RouteContext(r.rid, text, prices, r.cands), gw.rng)
    else:
        c = r.cands[0]
        q = _q_hat(gw, c.name)
        r.choice = Choice((c.name,), 1.0, (candidate_surplus(c, q, prices),), (q,), False)
    task = asyncio.current_task()
    done = False

    def on_disconnect(t: asyncio.Task[Any]) -> None:
        if (
            not done
            and not t.cancelled()
            and t.exception() is None
            and t.result()["type"] == "http.disconnect"
        ):
            assert task is not None
            task.cancel()

    watcher = asyncio.ensure_future(receive())
    watcher.add_done_callback(on_disconnect)
    try:
        await _serve(gw, r, send, pinned=model != AUTO_MODEL)
    except asyncio.CancelledError:
        r.reason, r.status = "disconnected", 499
        if not watcher.done():
            raise  # not the client leaving: the server is stopping this task
    except GatewayHTTPError as exc:
        r.status = exc.status
        raise
    finally:
        done = True
        watcher.cancel()
        _record(gw, r)


async def _serve(gw: Gateway, r: _Request, send: Send, *, pinned: bool) -> None:
    choice = r.choice
    assert choice is not None
    surplus = dict(zip(choice.ranking, choice.est_surplus_usd, strict=True))
    worth = [n for n in choice.ranking if pinned or surplus[n] > 0.0]
    full = False
    for i, name in enumerate(worth):
        up = gw.upstreams[name]
        if not up.queue.has_room():
            full = True
            continue
        out_cap = r.max_out or gw.config.server.max_output_tokens
        hold: Reservation | None = None
        if r.account is not None and math.isfinite(r.account.budget_usd):
            hold = await gw.budget.reserve(
                r.account.tenant, _cost(up, r.max_prompt_tokens, out_cap), r.account.budget_usd
            )
            if hold is None:
                left = await gw.budget.remaining(r.account.tenant, r.account.budget_usd)
                r.reason, r.status = "budget", 402
                raise GatewayHTTPError(
                    402,
                    f"the budget of key tenant {r.account.tenant!r} has {left:.6f} USD left, less than this "
                    f"request's maximum cost on {name!r}; lower max_tokens or raise the cap",
                    type_="insufficient_quota",
                    code="budget_exceeded",
                    headers=((b"x-tokenomy-budget-remaining", b"%.6f" % max(0.0, left)),),
                )
        if not await up.queue.acquire():
            if hold is not None:
                await gw.budget.settle(hold, 0.0)
            full = True
            continue
        r.reason = (
            "pinned"
            if pinned
            else (
                "policy"
                if i == 0 and name == choice.ranking[0] and not r.attempts
                else ("fallback" if r.attempts else "downgrade")
            )
        )
        t_att, ok, cost = time.perf_counter(), False, 0.0
        try:
            cost = await (_stream if r.stream else _whole)(gw, r, up, send, hold, out_cap)
            ok = True
            r.served, r.cost_usd = name, cost
            gw.remember(r.rid, name)
            return
        except UpstreamError as exc:
            r.attempts.append(Attempt(name, f"{exc.kind}: {exc.detail}", time.perf_counter() - t_att))
            if r.status:  # the stream had started: no retry is possible
                r.served, r.reason = name, "error"
                return
        finally:
            if hold is not None:
                await gw.budget.settle(hold, cost)
            up.queue.release(time.perf_counter() - t_att if ok else None)
    if r.attempts:
        r.reason, r.status = "error", 502
        raise GatewayHTTPError(
            502,
            "every upstream failed: " + "; ".join(f"{a.upstream}: {a.error}" for a in r.attempts),
            type_="server_error",
            code="upstream_failed",
        )
    need = _required_v(gw, r)
    wait = min((gw.upstreams[n].queue.expected_wait_s() for n in choice.ranking), default=1.0)
    retry = str(max(1, math.ceil(wait))).encode()
    r.reason, r.status = "refused", 429
    why = "no upstream has room" if full else "no upstream has a positive surplus at these prices"
    raise GatewayHTTPError(
        429,
        f"{why}; the request would need V ≥ {need:.6g} USD (X-Tokenomy-V) or a later retry",
        type_="rate_limit_error",
        code="insufficient_value",
        headers=((b"retry-after", retry), (b"x-tokenomy-required-v", b"%.6g" % need)),
    )


def _required_v(gw: Gateway, r: _Request) -> float:
    best = math.inf
    none = TokenUse("none", 0.0)
    for c in r.cands:
        q = _q_hat(gw, c.name)
        if q <= 0:
            continue
        prices = with_congestion(r.prices, c.lam_usd_per_s)
        use = TokenUse(c.name, q, c.est_cost_usd, c.est_latency_s)
        best = min(best, crossover_value(use, none, prices))
    return best


def _payload(gw: Gateway, r: _Request, up: Upstream, out_cap: int) -> bytes:
    body = dict(r.body)
    body["model"] = up.config.model
    body.pop("metadata", None)
    if r.max_out is None and r.account is not None and math.isfinite(r.account.budget_usd):
        body["max_tokens"] = out_cap  # the reservation's bound must hold at the upstream
    return json.dumps(body).encode()


def _decision_headers(gw: Gateway, r: _Request, name: str) -> list[tuple[bytes, bytes]]:
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
    gw: Gateway, r: _Request, cost: float, hold: Reservation | None
) -> list[tuple[bytes, bytes]]:
    a = r.account
    if a is None or not math.isfinite(a.budget_usd):
        return []
    held = 0.0 if hold is None else hold.amount_usd  # this request's hold is settled just after
    left = await gw.budget.remaining(a.tenant, a.budget_usd) + held - cost
    out = [(b"x-tokenomy-budget-remaining", b"%.6f" % max(0.0, left))]
    if left < WARN_SHARE * a.budget_usd:
        out.append(
            (b"x-tokenomy-budget-warning", b"less than %d%% of the budget is left" % (WARN_SHARE * 100))
        )
    return out


def _usage_cost(up: Upstream, r: _Request, usage: Any, fallback_out: int) -> float:
    pt, ct = r.prompt_tokens, fallback_out
    if isinstance(usage, dict):
        pt = int(usage.get("prompt_tokens") or pt)
        ct = int(usage.get("completion_tokens") or ct)
    r.usage = (pt, ct)
    return _cost(up, pt, ct)


async def _whole(
    gw: Gateway, r: _Request, up: Upstream, send: Send, hold: Reservation | None, out_cap: int
) -> float:
    from tokenomy.interfaces.gateway.app import send_json

    resp = await up.client.request("POST", _PATH, _payload(gw, r, up, out_cap))
    if resp.status >= 500:
        raise UpstreamError(up.config.name, "status", f"HTTP {resp.status}", resp.status, resp.body)
    if resp.status != 200:  # the upstream refused the request itself: relay, no retry
        r.status = resp.status
        await send_json(send, resp.status, resp.body, tuple(_decision_headers(gw, r, up.config.name)))
        return 0.0
    try:
        data = json.loads(resp.body)
        assert isinstance(data, dict)
    except (ValueError, AssertionError):
        raise UpstreamError(up.config.name, "protocol", "the answer is not a JSON object") from None
    text = "".join(
        str((c.get("message") or {}).get("content") or "")
        for c in data.get("choices", [])
        if isinstance(c, dict)
    )
    cost = _usage_cost(up, r, data.get("usage"), len(text) // 4 + 1)
    for f in gw.response_filters:
        data = f(data, r.rid, r.key)
    choice = r.choice
    assert choice is not None
    name = up.config.name
    ext = data.get("tokenomy")
    data["tokenomy"] = (ext if isinstance(ext, dict) else {}) | {  # keeps what a filter added (actions)
        "request_id": r.rid,
        "model": name,
        "est_surplus_usd": dict(zip(choice.ranking, choice.est_surplus_usd, strict=True))[name],
        "prices": r.prices.as_dict(),
        "lam_m_usd_per_s": up.queue.lam_usd_per_s,
        "propensity": choice.propensity,
        "explored": choice.explored,
        "policy": gw.policy.name,
        "cost_usd": cost,
    }
    r.status = 200
    hdrs = _decision_headers(gw, r, name) + await _budget_headers(gw, r, cost, hold)
    await send_json(send, 200, json.dumps(data).encode(), tuple(hdrs))
    return cost


async def _stream(
    gw: Gateway, r: _Request, up: Upstream, send: Send, hold: Reservation | None, out_cap: int
) -> float:
    name = up.config.name
    async with up.client.stream("POST", _PATH, _payload(gw, r, up, out_cap)) as (status, _, chunks):
        if status >= 500:
            raise UpstreamError(name, "status", f"HTTP {status}", status)
        if status != 200:  # the upstream refused the request itself: relay its error, no retry
            from tokenomy.interfaces.gateway.app import send_json

            err = b"".join([c async for c in chunks])
            r.status = status
            await send_json(send, status, err, tuple(_decision_headers(gw, r, name)))
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
        n_chunks = 0
        chunk = first
        try:
            while True:
                n_chunks += 1
                if usage is None and b'"usage"' in chunk:
                    usage = _find_usage(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                chunk = await chunks.__anext__()
        except StopAsyncIteration:
            pass
        except UpstreamError as exc:
            err = json.dumps(
                {
                    "error": {
                        "message": f"upstream stream failed: {exc}",
                        "type": "server_error",
                        "param": None,
                        "code": "upstream_stream_cut",
                    }
                }
            ).encode()
            await send({"type": "http.response.body", "body": b"data: " + err + b"\n\n", "more_body": False})
            r.cost_usd = _usage_cost(up, r, usage, n_chunks)
            raise
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    return _usage_cost(up, r, usage, n_chunks)


def _find_usage(chunk: bytes) -> Any:
    for line in chunk.split(b"\n"):
        if line.startswith(b"data: {") and b'"usage"' in line:
            try:
                usage = json.loads(line[6:]).get("usage")
            except ValueError:
                continue
            if isinstance(usage, dict):
                return usage
    return None


def _record(gw: Gateway, r: _Request) -> None:
    choice = r.choice
    assert choice is not None
    order = {n: i for i, n in enumerate(choice.ranking)}
    names = tuple(c.name for c in r.cands)
    est_q = tuple(choice.est_quality[order[n]] for n in names)
    est_s = tuple(choice.est_surplus_usd[order[n]] for n in names)
    rec = RequestRecord(
        request_id=r.rid,
        tenant=r.account.tenant if r.account else "",
        time_s=r.time_s,
        prices=r.prices,
        names=names,
        est_quality=tuple(min(max(q, -1e9), 1e9) for q in est_q),
        est_cost_usd=tuple(c.est_cost_usd for c in r.cands),
        est_latency_s=tuple(c.est_latency_s for c in r.cands),
        est_surplus_usd=est_s,
        lam_usd_per_s=tuple(c.lam_usd_per_s for c in r.cands),
        served=r.served,
        policy="pinned" if r.reason == "pinned" else gw.policy.name,
        policy_pick=choice.ranking[0],
        propensity=choice.propensity,
        explored=choice.explored,
        reason=r.reason,
        status=r.status,
        cost_usd=r.cost_usd,
        latency_s=time.perf_counter() - r.t0,
        prompt_tokens=r.usage[0],
        completion_tokens=r.usage[1],
        stream=r.stream,
        attempts=tuple(r.attempts),
    )
    gw.sink.add(rec)
    for hook in gw.on_request:
        hook(rec)
