"""The composed run: one loop in time order, router → served cluster → agent controller, all on one bus.

The served cluster is an online ``serving`` session (``Engine.session``) that publishes its shadow
prices (λ discovered from the live queue, prefill / decode token, KV block-second and GPU-second
prices) on the bus under ``"supply"`` at every price sample; each tenant's SLA λ is on the bus under
``"sla/<tenant>"``. Time advances in decision windows of ``window_s`` seconds. At each window start
the session is advanced to it: chat completions update the router's observed queue wait; a finished
agent call schedules the agent's next decision after the tool time. Then every event of the window
(chat arrival, agent task start, agent call ready) is decided in time order, reading the bus as it
stands (``lag_s`` earlier for a stale reader, ×``price_scale`` for a mispriced one): the router picks
a model or nothing; a chat routed to an API model finishes with the API's latency, one routed to a
self-hosted model is added to the session, whose scheduler admits and orders it; the agent makes its
next call (added to the session) or stops. At the end the session is drained (``finish``).

Realised outcome per request (scored in ``evaluation``): chat: the chosen model's real correctness
and USD cost on the paired prompt, latency from the simulator or the API model; not routed or not
admitted: quality 0, cost 0, latency until dropped. Agent task: resolved (real) only if every call of
its real trajectory was made and served, the real USD of the calls made, latency to its last call
(0 when it never started).
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.bus import PriceBus
from tokenomy.core.prices import KV_BLOCK_SECOND, PREFILL_TOKEN, PriceSource, PriceVector
from tokenomy.economy.configs import LOCAL, Config
from tokenomy.economy.policies import AgentSide, RouterSide, api_latency_s
from tokenomy.economy.requests import ComposedWorkload
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import ServeRequest
from tokenomy.serving.result import COMPLETED, RunResult
from tokenomy.serving.schedulers.base import Scheduler

__all__ = ["Outcomes", "PricePath", "Trace", "run_system"]

NOT_ROUTED = -1


@dataclass(frozen=True, slots=True)
class PricePath:
    """The bus's supply quotes over time (USD/s, USD per token, USD per block·s)."""

    time_s: NDArray[np.float64]
    lam_usd_per_s: NDArray[np.float64]
    prefill_usd_per_token: NDArray[np.float64]
    kv_usd_per_block_s: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Trace:
    """Decisions for the ledger: one row per decision (route, admit, agent call), columnar lists."""

    route: list[
        tuple[int, float, int, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], PriceVector]
    ]
    agent: list[
        tuple[int, int, float, bool, float, float, float, PriceVector]
    ]  # task, call, time, go, ΔQ, ΔC, ΔL, prices
    link_rows: list[tuple[int, int]]  # session index -> (request row, agent call or -1)
    served: RunResult | None = None  # the cluster's whole run (row k = session index k)
    verify: NDArray[np.bool_] | None = None  # session index -> a verification call of an agent


@dataclass(frozen=True, slots=True)
class Outcomes:
    """Realised outcome of every request of one run (chat rows first, then agent tasks).

    Attributes:
        kind: (N,) "chat" or "agent"; v_usd, lam_usd_per_s: (N,) true V and SLA λ.
        quality, cost_usd, latency_s: (N,) realised.
        model: (N,) chosen model index for chat (-1 not routed; -2 for an agent task).
        hosted: (N,) bool, served on the cluster (chat) or agent; admitted: (N,) bool.
        calls: (N,) agent calls made (0 for chat).
        prices: the supply quotes the bus carried.
        trace: the decisions (for the ledger).
        wall_s: seconds the run took.
    """

    kind: NDArray[np.str_]
    v_usd: NDArray[np.float64]
    lam_usd_per_s: NDArray[np.float64]
    quality: NDArray[np.float64]
    cost_usd: NDArray[np.float64]
    latency_s: NDArray[np.float64]
    model: NDArray[np.int64]
    hosted: NDArray[np.bool_]
    admitted: NDArray[np.bool_]
    calls: NDArray[np.int64]
    prices: PricePath
    trace: Trace
    wall_s: float = 0.0


def _scaled(p: PriceVector, k: float) -> PriceVector:
    if k == 1.0:
        return p
    res = tuple(replace(r, usd_per_unit=r.usd_per_unit * k) for r in p.resources)
    return replace(p, lam_usd_per_s=p.lam_usd_per_s * k, resources=res)


_CALL, _CHAT, _TASK = 0, 1, 2  # event kinds, in the order they are decided at one instant


def run_system(
    wl: ComposedWorkload,
    config: Config,
    router: RouterSide,
    agent: AgentSide,
    engine: Engine,
    scheduler: Scheduler,
    *,
    window_s: float = 0.5,
    seed: int = 0,
    bus: PriceBus | None = None,
    clock: Callable[[], float] | None = None,
) -> Outcomes:
    """Run ``wl`` through the three layers under ``config`` (module docstring).

    Args:
        wl: the composed requests.
        config: which layers read the shared prices.
        router, agent: the fitted rules for the split ``wl`` was paired with.
        engine: the simulated cluster; scheduler: a fresh scheduler for its session.
        window_s: decision window, seconds.
        seed: seed of the session's output-length predictions.
        bus: the price bus (a fresh one when ``None``).
        clock: wall clock for ``wall_s`` (``time.perf_counter`` when ``None``).

    Returns:
        Every request's realised outcome, the price path and the decisions.
    """
    tick = clock or time.perf_counter
    t_wall = tick()
    bus = bus or PriceBus()
    session = engine.session(scheduler, bus=bus, topic="supply", seed=seed, name=wl.name)
    spec, ch, ag = wl.spec, wl.chat, wl.agents
    nc, na = len(ch), len(ag)
    for k, name in enumerate(spec.tenant_names):
        sla = PriceVector(lam_usd_per_s=spec.lam_usd_per_s[k], lam_source=PriceSource.SLA)
        bus.publish(f"sla/{name}", sla, time_s=0.0)
    q = np.zeros(nc + na)
    cost = np.zeros(nc + na)
    lat = np.zeros(nc + na)
    model = np.full(nc + na, -2, np.int64)
    model[:nc] = NOT_ROUTED
    hosted = np.zeros(nc + na, bool)
    hosted[nc:] = True
    admitted = np.zeros(nc + na, bool)
    calls = np.zeros(nc + na, np.int64)
    link_rows: list[tuple[int, int]] = []  # session index -> (request row, agent call or -1)
    sent: list[float] = []  # session index -> arrival time
    route_log: list[
        tuple[int, float, int, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], PriceVector]
    ] = []
    agent_log: list[tuple[int, int, float, bool, float, float, float, PriceVector]] = []
    path: list[tuple[float, float, float, float]] = []
    events: list[tuple[float, int, int, int]] = [(float(ch.arrival_s[i]), _CHAT, i, 0) for i in range(nc)]
    events += [(float(ag.arrival_s[a]), _TASK, a, 0) for a in range(na)]
    heapq.heapify(events)
    wait_s = 0.0  # the router's observed queue wait (EWMA of time to first token on the cluster)
    call_s = 2.0 + spec.tool_s  # the agent's observed seconds per call (EWMA), a prior until one is seen
    in_flight = 0
    lag, k_price = config.lag_s, config.price_scale
    zero = PriceVector()
    last_arrival = 0.0

    def read(tenant: int, v: float, now: float) -> tuple[PriceVector, PriceVector]:
        base = PriceVector(v_usd=v, v_source=PriceSource.USER)
        mine = bus.view(base, now_s=now, topics=(f"sla/{spec.tenant_names[tenant]}",), lag_s=lag)
        quote = bus.read("supply", now_s=now, lag_s=lag)
        supply = zero if quote is None else quote.prices
        return mine, _scaled(supply, k_price)

    def send(row: int, step: int, at_s: float, prompt: int, out: int, v: float, lam: float) -> None:
        nonlocal last_arrival
        last_arrival = max(last_arrival, at_s, session.now_s)
        session.add(ServeRequest(last_arrival, prompt, out, v, lam))
        link_rows.append((row, step))
        sent.append(last_arrival)

    def agent_call(a: int, step: int, now: float) -> None:
        nonlocal in_flight
        row = nc + a
        traj = int(ag.traj[a])
        if config.agent == LOCAL:
            go = agent.local(traj, step)
            prices = PriceVector(v_usd=float(ag.v_usd[a]), v_source=PriceSource.USER)
            dq, dc, dl = agent.terms(traj, step, zero, call_s)
        else:
            prices, supply = read(int(ag.tenant[a]), float(ag.v_usd[a]), now)
            prices = prices.with_prices(lam_usd_per_s=prices.lam_usd_per_s * k_price)
            go = agent.shared(traj, step, float(ag.v_usd[a]), prices.lam_usd_per_s, supply, call_s)
            dq, dc, dl = agent.terms(traj, step, supply, call_s)
            prices = prices.with_resources(*supply.resources)
        agent_log.append((a, step, now, go, dq, dc, dl, prices))
        if not go:
            return
        r = agent.row(traj, step)
        lam = float(ag.lam_usd_per_s[a]) * k_price
        send(
            row,
            step,
            now,
            int(agent.prompt_tokens[r]),
            int(agent.output_tokens[r]),
            float(ag.v_usd[a]) * dq,
            lam,
        )
        in_flight += 1

    def route(i: int, now: float) -> None:
        r, p, o = int(ch.prompt_row[i]), int(ch.prompt_tokens[i]), int(ch.output_tokens[i])
        if config.router == LOCAL:
            m = router.local(r, refuse=config.router_refuses)
            prices = PriceVector(v_usd=float(ch.v_usd[i]), v_source=PriceSource.USER)
            dq, dc, dl = router.terms(r, p, o, zero, wait_s)
        else:
            prices, supply = read(int(ch.tenant[i]), float(ch.v_usd[i]), now)
            prices = prices.with_prices(lam_usd_per_s=prices.lam_usd_per_s * k_price)
            m = router.shared(r, p, o, prices, supply, wait_s, refuse=config.router_refuses)
            dq, dc, dl = router.terms(r, p, o, supply, wait_s)
            prices = prices.with_resources(*supply.resources)
        route_log.append((i, now, m, dq, dc, dl, prices))
        model[i] = m
        if m >= 0 and router.hosted[m]:
            hosted[i] = True
            send(
                i,
                -1,
                now,
                p,
                o,
                float(ch.v_usd[i]) * float(router.dq[r, m]),
                float(ch.lam_usd_per_s[i]) * k_price,
            )
        elif m >= 0:
            admitted[i] = True
            q[i], cost[i] = router.quality[r, m], router.cost_usd[r, m]
            lat[i] = float(api_latency_s(o))

    t = 0.0
    while events or in_flight:
        for c in session.run_until(t):
            row, step = link_rows[c.index]
            if step < 0:  # a chat request: the router observes its wait
                if c.status == COMPLETED:
                    wait_s = 0.8 * wait_s + 0.2 * c.ttft_s
                continue
            in_flight -= 1
            a = row - nc
            traj = int(ag.traj[a])
            lat[row] = c.finish_s - float(ag.arrival_s[a])
            if c.status != COMPLETED:
                continue
            cost[row] += float(agent.table.cost_usd[agent.row(traj, step)])
            calls[row] = step + 1
            call_s = 0.8 * call_s + 0.2 * (c.e2e_s + spec.tool_s)
            if step + 1 == agent.n_calls(traj):
                q[row] = float(agent.table.resolved[traj])
                admitted[row] = True
            else:
                heapq.heappush(events, (max(t, c.finish_s + spec.tool_s), _CALL, a, step + 1))
        quote = bus.latest("supply")
        if quote is not None:
            sp = quote.prices
            path.append(
                (t, sp.lam_usd_per_s, sp.resource_usd(PREFILL_TOKEN), sp.resource_usd(KV_BLOCK_SECOND))
            )
        end = t + window_s
        while events and events[0][0] < end:
            at, what, i, step = heapq.heappop(events)
            now = max(at, t)
            if what == _CHAT:
                route(i, now)
            else:
                agent_call(i, step, now)
        t = end
        if not in_flight and events:  # nothing the loop waits on: jump to the next event's window
            t = max(t, math.floor(events[0][0] / window_s) * window_s)
    result = session.finish()
    for k, (row, step) in enumerate(link_rows):
        if step >= 0:
            continue
        lat[row] = float(result.finish_s[k]) - sent[k]
        if int(result.status[k]) == COMPLETED:
            admitted[row] = True
            r, m = int(ch.prompt_row[row]), int(model[row])
            q[row], cost[row] = router.quality[r, m], router.cost_usd[r, m]
    verify = np.zeros(len(link_rows), dtype=bool)
    if agent.verify is not None:
        for k, (row, step) in enumerate(link_rows):
            if step >= 0:
                verify[k] = agent.verify[agent.row(int(ag.traj[row - nc]), step)]
    kind = np.array(["chat"] * nc + ["agent"] * na)
    pp = np.array(path, dtype=np.float64).reshape(-1, 4)
    return Outcomes(
        kind,
        np.concatenate([ch.v_usd, ag.v_usd]),
        np.concatenate([ch.lam_usd_per_s, ag.lam_usd_per_s]),
        q,
        cost,
        lat,
        model,
        hosted,
        admitted,
        calls,
        PricePath(pp[:, 0], pp[:, 1], pp[:, 2], pp[:, 3]),
        Trace(route_log, agent_log, link_rows, result, verify),
        tick() - t_wall,
    )
