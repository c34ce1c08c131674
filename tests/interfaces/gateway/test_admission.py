"""Admission: bounded slots and queue, λ_m discovered from latency against the SLA, downgrade, 429."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from gateway_helpers import call, fake_upstreams, gateway_config

from tokenomy.core.bus import PriceBus
from tokenomy.interfaces.gateway.admission import AdmissionQueue
from tokenomy.interfaces.gateway.app import Gateway

CHAT = {"model": "tokenomy-auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}


def test_slots_queue_and_refusal_hand_over_in_fifo_order() -> None:
    async def go() -> list[Any]:
        q = AdmissionQueue("u", max_concurrency=1, max_queue=1, sla_s=1.0, eta_lam=0.1)
        assert await q.acquire()
        waiter = asyncio.create_task(q.acquire())
        await asyncio.sleep(0)
        refused = await q.acquire()  # one in flight, one queued: full
        seen = [q.in_flight, q.queued, refused, q.has_room()]
        q.release(0.1)  # the slot passes to the waiter
        seen += [await waiter, q.in_flight, q.queued]
        q.release(0.1)
        return [*seen, q.in_flight]

    assert asyncio.run(go()) == [1, 1, False, False, True, 1, 0, 0]


def test_congestion_price_rises_over_the_sla_falls_to_zero_under_it_and_is_published() -> None:
    async def go() -> tuple[float, float, Any]:
        bus = PriceBus()
        q = AdmissionQueue(
            "u", max_concurrency=4, max_queue=4, sla_s=0.5, eta_lam=0.1, bus=bus, update_every=8
        )
        for _ in range(64):
            assert await q.acquire()
            q.release(2.5)  # p95 2 s over the SLA
        high = q.lam_usd_per_s
        for _ in range(4096):
            assert await q.acquire()
            q.release(0.01)
        return high, q.lam_usd_per_s, bus.latest("upstream/u")

    high, low, quote = asyncio.run(go())
    assert high == pytest.approx(8 * 0.1 * 2.0)  # 8 controller steps of η·(p95 − SLA)
    assert low == 0.0 and quote is not None and quote.prices.lam_usd_per_s == 0.0


def test_a_full_upstream_downgrades_to_the_next_model_then_refuses_with_retry_after() -> None:
    cfg_kw = {
        "upstream_strong": {"max_concurrency": 1, "max_queue": 0},
        "upstream_cheap": {"max_concurrency": 1, "max_queue": 0},
    }

    async def go() -> list[Any]:
        async with fake_upstreams("delay", "delay", delay_s=0.3) as urls:
            gw = Gateway(gateway_config(urls, **cfg_kw))
            hdr = {"X-Tokenomy-V": "100"}
            return list(
                await asyncio.gather(*(call(gw, "POST", "/v1/chat/completions", CHAT, hdr) for _ in range(3)))
            )

    outs = asyncio.run(go())
    models = sorted(h.get("x-tokenomy-model", "") for s, h, _ in outs if s == 200)
    assert models == ["cheap", "strong"]
    (refused,) = [(s, h, b) for s, h, b in outs if s != 200]
    assert refused[0] == 429 and int(refused[1]["retry-after"]) >= 1
    assert json.loads(refused[2])["error"]["type"] == "rate_limit_error"


def test_a_value_below_every_cost_is_refused_with_the_value_it_would_need() -> None:
    async def go() -> tuple[Any, Any, Any]:
        async with fake_upstreams("ok", "ok") as urls:
            gw = Gateway(gateway_config(urls))
            low = await call(gw, "POST", "/v1/chat/completions", CHAT, {"X-Tokenomy-V": "0"})
            need = float(low[1]["x-tokenomy-required-v"])
            below = await call(gw, "POST", "/v1/chat/completions", CHAT, {"X-Tokenomy-V": repr(need * 0.99)})
            above = await call(gw, "POST", "/v1/chat/completions", CHAT, {"X-Tokenomy-V": repr(need * 1.01)})
            return low, below, above

    low, below, above = asyncio.run(go())
    assert low[0] == 429 and "would need V ≥" in json.loads(low[2])["error"]["message"]
    assert below[0] == 429 and above[0] == 200 and above[1]["x-tokenomy-model"] == "cheap"


def test_queue_wait_counts_against_the_sla_even_when_service_is_fast() -> None:
    async def go() -> tuple[float, float]:
        q = AdmissionQueue("u", max_concurrency=1, max_queue=100, sla_s=0.05, eta_lam=0.1, update_every=8)

        async def one() -> None:
            t0 = asyncio.get_running_loop().time()
            assert await q.acquire()
            wait = asyncio.get_running_loop().time() - t0
            await asyncio.sleep(0.01)
            q.release(0.01, wait)

        await asyncio.gather(*(one() for _ in range(40)))
        return q.service_s, q.lam_usd_per_s

    service, lam = asyncio.run(go())
    assert service < 0.05 and lam > 0.0  # served within the SLA, but the queue made the p95 miss it


def test_failed_calls_count_as_latency_but_not_as_service_time() -> None:
    async def go() -> tuple[float, float, float]:
        q = AdmissionQueue("u", max_concurrency=2, max_queue=0, sla_s=0.5, eta_lam=0.1, update_every=8)
        before = q.service_s
        for _ in range(16):
            assert await q.acquire()
            q.release(3.0, failed=True)  # timed out after 3 s
        return before, q.service_s, q.lam_usd_per_s

    before, after, lam = asyncio.run(go())
    assert after == before and lam == pytest.approx(2 * 0.1 * 2.5)
