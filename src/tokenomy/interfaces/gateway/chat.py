"""``POST /v1/chat/completions``: price the request, route it (Eq. 4), admit it (Eq. 1), serve, record.

Steps: read and check the body (413, 400); the API key (401); the request's prices (400 for a bad
one); the candidates (every upstream for ``tokenomy-auto``, the named one when the request pins a
model, 404 for an unknown model), each with its estimated ΔC, ΔL and congestion price λ_m; the
policy's ranking. Admission walks the ranking: a candidate is tried when its Eq. 1 surplus (with
λ + λ_m on its expected latency) is positive and its queue has room; a full queue downgrades to the
next one. None left: 429 with ``Retry-After`` and ``X-Tokenomy-Required-V`` (the smallest V at which a
candidate's surplus is positive: ``rule.crossover_value`` against spending nothing). The key's
budget must hold the attempt's maximum cost: a model whose maximum cost does not fit is skipped for
the next one, and 402 when none fits. A refused connection, a timeout, a 5xx
or a malformed answer is recorded and the next candidate of the ranking is re-priced (its surplus at
its queue's λ_m and wait now) and tried when still positive (fallback); the failed call's time counts
as latency in its upstream's p95, so a timing-out upstream grows dearer; a stream
cut after its first byte cannot be retried: the client gets an SSE error event. A client that
disconnects cancels the upstream call. Exactly one ``RequestRecord`` per request that reached the
policy, whatever happened.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import TYPE_CHECKING, Any

from tokenomy.core.rule import crossover_value
from tokenomy.core.uses import TokenUse
from tokenomy.interfaces.gateway.budget import Reservation
from tokenomy.interfaces.gateway.config import KeyConfig
from tokenomy.interfaces.gateway.errors import GatewayHTTPError
from tokenomy.interfaces.gateway.guards import (
    Deadline,
    api_key,
    check_chat,
    parse_json,
    read_body,
    single_headers,
)
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
from tokenomy.interfaces.gateway.relay import ChatRequest, cost_usd, relay_stream, relay_whole, stream_error
from tokenomy.interfaces.gateway.upstream import UpstreamError

if TYPE_CHECKING:
    from tokenomy.interfaces.gateway.app import Gateway, Receive, Scope, Send, Upstream

__all__ = ["handle_chat"]


def _auth(gw: Gateway, headers: dict[bytes, bytes]) -> tuple[str, KeyConfig | None]:
    if not gw.config.keys:
        return "", None
    key = api_key(headers, gw.config.keys)
    return key, gw.config.keys[key]


def _allowed(gw: Gateway, model: str, account: KeyConfig | None) -> list[Upstream]:
    """The upstreams this request may reach: 404 for an unknown model, 403 outside the key's ``models``."""
    from tokenomy.interfaces.gateway.app import AUTO_MODEL

    if model != AUTO_MODEL and model not in gw.by_model:
        raise GatewayHTTPError(
            404,
            f"unknown model {model[:100]!r}; valid: {AUTO_MODEL}, {', '.join(gw.upstreams)}",
            param="model",
            code="model_not_found",
        )
    ups = list(gw.upstreams.values()) if model == AUTO_MODEL else [gw.by_model[model]]
    if account is not None and account.models is not None:
        ups = [u for u in ups if u.config.name in account.models]
        if not ups:
            raise GatewayHTTPError(
                403,
                f"model {model!r} is not allowed for this key; allowed: {', '.join(account.models)}",
                type_="permission_error",
                param="model",
                code="model_not_allowed",
            )
    return ups


def _q_hat(gw: Gateway, name: str) -> float:
    q = getattr(gw.policy, "q_hat", None)
    return float(q(name)) if callable(q) else gw.upstreams[name].config.quality_prior


async def handle_chat(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one chat completion (see the module docstring)."""
    from tokenomy.interfaces.gateway.app import AUTO_MODEL

    headers = single_headers(scope["headers"])
    key, account = _auth(gw, headers)
    raw = await read_body(receive, scope, gw.config.server.max_body_bytes, gw.config.server.body_timeout_s)
    body = parse_json(raw)
    model, stream, max_out, n = check_chat(body)
    ups = _allowed(gw, model, account)
    base = account.prices if account else gw.config.defaults
    prices = request_prices(headers, body, base, gw.config.server.max_price_usd)
    text = prompt_text(body["messages"])
    r = ChatRequest(
        gw.next_request_id(),
        body,
        key,
        account,
        prices,
        estimate_prompt_tokens(text, len(body["messages"])),
        # every body byte may be a prompt token (tools, schemas, content parts): the bound for the hold
        max(max_prompt_tokens(text, len(body["messages"])), len(raw) + 16),
        max_out,
        stream,
        time.perf_counter(),
        time.time(),
        n=n,
    )
    session = headers.get(b"x-tokenomy-session")
    r.session = session.decode("latin-1")[:256] if session else None
    exp_out = min(max_out or gw.config.server.expected_output_tokens, gw.config.server.expected_output_tokens)
    r.cands = tuple(
        Candidate(
            u.config.name,
            cost_usd(u, r.prompt_tokens, exp_out * n),
            u.queue.expected_latency_s(),
            u.queue.lam_usd_per_s,
        )
        for u in ups
    )
    if model == AUTO_MODEL and len(ups) > 1:
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
        r.cost_usd = r.cost_usd or r.max_cost_usd  # unknown how much the upstream made: its maximum
        if not watcher.done():
            raise  # not the client leaving: the server is stopping this task
    except GatewayHTTPError as exc:
        r.status = exc.status
        raise
    finally:
        done = True
        watcher.cancel()
        _record(gw, r)


async def _serve(gw: Gateway, r: ChatRequest, send: Send, *, pinned: bool) -> None:
    choice = r.choice
    assert choice is not None
    surplus = dict(zip(choice.ranking, choice.est_surplus_usd, strict=True))
    worth = [n for n in choice.ranking if pinned or surplus[n] > 0.0]
    full, short = False, ""
    for i, name in enumerate(worth):
        up = gw.upstreams[name]
        if r.attempts and not pinned and _repriced(gw, r, name) <= 0.0:
            continue  # after a failure the fallback is re-priced at the queue's λ_m and wait now
        if not up.queue.has_room():
            full = True
            continue
        out_cap = r.max_out or gw.config.server.max_output_tokens
        hold: Reservation | None = None
        if r.account is not None and math.isfinite(r.account.budget_usd):
            hold = await gw.budget.reserve(
                r.account.tenant, cost_usd(up, r.max_prompt_tokens, out_cap * r.n), r.account.budget_usd
            )
            if hold is None:  # its maximum cost does not fit the budget: a cheaper model may
                short = name
                continue
        t_queue = time.perf_counter()
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
        wait_s = t_att - t_queue
        r.max_cost_usd = cost_usd(up, r.max_prompt_tokens, out_cap * r.n)
        try:
            with Deadline(gw.config.server.max_request_s):
                cost = await (relay_stream if r.stream else relay_whole)(gw, r, up, send, hold, out_cap)
            ok = True
            r.served, r.cost_usd = name, cost
            gw.remember(r.rid, name, r.key)
            return
        except asyncio.CancelledError:  # the client left: the upstream may have made every token
            r.served, cost = name, r.max_cost_usd
            raise
        except TimeoutError:  # past the whole-request deadline (each read has its own timeout)
            limit = gw.config.server.max_request_s
            r.attempts.append(
                Attempt(name, f"timeout: over max_request_s = {limit:g}", time.perf_counter() - t_att)
            )
            if r.status:  # started: end the stream; the upstream may have made every token
                r.served, r.reason, cost = name, "error", r.max_cost_usd
                r.cost_usd = cost
                await stream_error(send, f"upstream {name!r} passed the request deadline of {limit:g} s")
                return
        except UpstreamError as exc:
            r.attempts.append(Attempt(name, f"{exc.kind}: {exc.detail}", time.perf_counter() - t_att))
            if r.status:  # the stream had started: no retry is possible
                r.served, r.reason, cost = name, "error", r.cost_usd
                return
        finally:
            if hold is not None:  # never more than was reserved: the cap holds whatever usage says
                await gw.budget.settle(hold, min(cost, hold.amount_usd))
            up.queue.release(time.perf_counter() - t_att, wait_s, failed=not ok)
    if r.attempts:
        r.reason, r.status = "error", 502
        raise GatewayHTTPError(
            502,
            "every upstream failed: " + "; ".join(f"{a.upstream}: {a.error}" for a in r.attempts),
            type_="server_error",
            code="upstream_failed",
        )
    if short and r.account is not None:
        left = await gw.budget.remaining(r.account.tenant, r.account.budget_usd)
        r.reason, r.status = "budget", 402
        raise GatewayHTTPError(
            402,
            f"the budget of key tenant {r.account.tenant!r} has {left:.6f} USD left, less than this "
            f"request's maximum cost on {short!r} (the cheapest model worth serving it); lower max_tokens "
            "or raise the cap",
            type_="insufficient_quota",
            code="budget_exceeded",
            headers=((b"x-tokenomy-budget-remaining", b"%.6f" % max(0.0, left)),),
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


def _repriced(gw: Gateway, r: ChatRequest, name: str) -> float:
    """The Eq. 1 surplus of ``name`` at its queue's expected latency and congestion price now."""
    c = next(c for c in r.cands if c.name == name)
    q = gw.upstreams[name].queue
    now = Candidate(name, c.est_cost_usd, q.expected_latency_s(), q.lam_usd_per_s)
    return candidate_surplus(now, _q_hat(gw, name), r.prices)


def _required_v(gw: Gateway, r: ChatRequest) -> float:
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


def _record(gw: Gateway, r: ChatRequest) -> None:
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
