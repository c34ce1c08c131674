"""Budgets: the maximum cost is reserved before the call and settled after; spend never passes the cap."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from gateway_helpers import call, fake_upstreams, gateway_config

from tokenomy.interfaces.gateway.app import Gateway
from tokenomy.interfaces.gateway.budget import InMemoryBudgetStore

CHAT = {"model": "cheap", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}


def test_reserve_refuses_what_does_not_fit_and_settle_charges_the_real_cost() -> None:
    async def go() -> list[Any]:
        s = InMemoryBudgetStore()
        a = await s.reserve("t", 0.6, 1.0)
        b = await s.reserve("t", 0.6, 1.0)  # 0.6 held: another 0.6 does not fit
        assert a is not None
        left = await s.settle(a, 0.25)
        c = await s.reserve("t", 0.6, 1.0)
        return [b, left, c is not None, await s.remaining("t", 1.0)]

    assert asyncio.run(go()) == [None, 0.75, True, 0.15000000000000002]


def test_spend_stays_under_the_cap_with_a_warning_near_it_then_402() -> None:
    # cheap: $1 / $2 per Mtok; max cost of one request ≈ (prompt + 16 × 2) / 1e6 ≈ 3.7e-5 USD
    keys = {"k": {"tenant": "acme", "budget_usd": 0.0006, "v_usd": 1.0}}

    async def go() -> tuple[list[Any], float]:
        async with fake_upstreams("ok", "ok") as urls:
            gw = Gateway(gateway_config(urls, keys=keys))
            outs = [
                await call(gw, "POST", "/v1/chat/completions", CHAT, {"Authorization": "Bearer k"})
                for _ in range(40)
            ]
            store = gw.budget
            assert isinstance(store, InMemoryBudgetStore)
            return outs, store.spent_usd["acme"]

    outs, spent = asyncio.run(go())
    statuses = [s for s, _, _ in outs]
    assert 200 in statuses and statuses[-1] == 402
    assert statuses == sorted(statuses)  # once refused, refused
    assert spent <= 0.0006
    ok = [h for s, h, _ in outs if s == 200]
    remaining = [float(h["x-tokenomy-budget-remaining"]) for h in ok]
    assert remaining == sorted(remaining, reverse=True)
    assert "x-tokenomy-budget-warning" in ok[-1] and "x-tokenomy-budget-warning" not in ok[0]
    err = json.loads(outs[-1][2])["error"]
    assert err["code"] == "budget_exceeded" and err["type"] == "insufficient_quota"


def test_concurrent_requests_never_push_spend_past_the_cap() -> None:
    keys = {"k": {"tenant": "acme", "budget_usd": 0.0004, "v_usd": 1.0}}

    async def go() -> tuple[list[int], float]:
        async with fake_upstreams("ok", "ok") as urls:
            gw = Gateway(gateway_config(urls, keys=keys))
            outs = await asyncio.gather(
                *(
                    call(gw, "POST", "/v1/chat/completions", CHAT, {"Authorization": "Bearer k"})
                    for _ in range(60)
                )
            )
            store = gw.budget
            assert isinstance(store, InMemoryBudgetStore)
            return [s for s, _, _ in outs], store.spent_usd["acme"]

    statuses, spent = asyncio.run(go())
    assert set(statuses) == {200, 402} and 0 < spent <= 0.0004


def test_a_model_over_the_budget_is_skipped_for_a_cheaper_one_that_fits() -> None:
    # strong: max cost ≈ (26 + 16 × 30 ...) ≈ 7e-4 USD does not fit 2e-4; cheap (≈ 6e-5) does
    keys = {"k": {"tenant": "acme", "budget_usd": 0.0002, "v_usd": 100.0}}
    chat = {**CHAT, "model": "tokenomy-auto"}

    async def go() -> tuple[int, dict[str, str]]:
        async with fake_upstreams("ok", "ok") as urls:
            gw = Gateway(gateway_config(urls, keys=keys))
            s, h, _ = await call(gw, "POST", "/v1/chat/completions", chat, {"Authorization": "Bearer k"})
            return s, h

    status, headers = asyncio.run(go())
    assert status == 200 and headers["x-tokenomy-model"] == "cheap"
