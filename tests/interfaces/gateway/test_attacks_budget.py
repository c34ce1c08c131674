"""Attacks on money and learning: bypass a key's USD cap, leave mid-stream, forge or repeat feedback.

A key's spend may pass its cap by at most one request's maximum cost, whatever the client does
(huge max_tokens, n > 1, streams without a usage chunk, many requests racing, leaving mid-stream);
feedback is accepted once, only from the key that made the request, only with quality and harm in [0, 1].
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from gateway_attackkit import CHAT, Reply, assert_clean, check_invariants, drive, hmap, jbody, settle_down
from gateway_helpers import fake_upstreams, gateway_config

from tokenomy.interfaces.gateway.app import Gateway
from tokenomy.interfaces.gateway.budget import InMemoryBudgetStore
from tokenomy.interfaces.gateway.records import RecordSink
from tokenomy.ledger import Ledger

CC = "/v1/chat/completions"
CAP = 0.01
# strong: $10 / $30 per Mtok; 16 output tokens ≈ 5e-4 USD at most per request with a short prompt
ONE_MAX_USD = (200 * 10.0 + 4096 * 30.0) / 1e6  # a generous bound of one request's maximum cost
KEYS = {"k1": {"tenant": "t1", "budget_usd": CAP, "v_usd": 100.0}, "k2": {"tenant": "t2", "v_usd": 1.0}}
K1 = [(b"authorization", b"Bearer k1")]
K2 = [(b"authorization", b"Bearer k2")]


def _spent(gw: Gateway) -> float:
    assert isinstance(gw.budget, InMemoryBudgetStore)
    return gw.budget.spent_usd.get("t1", 0.0)


def _scenario(
    body: dict[str, Any], n: int, modes: tuple[str, str] = ("ok", "ok"), concurrent: bool = False, **kw: Any
) -> tuple[list[Reply], float, Ledger]:
    async def go() -> tuple[list[Reply], float, Ledger]:
        async with fake_upstreams(*modes, delay_s=0.05) as urls:
            ledger = Ledger(":memory:")
            gw = Gateway(gateway_config(urls, keys=KEYS), sink=RecordSink(ledger, flush_ms=10))
            if concurrent:
                outs = list(
                    await asyncio.gather(*(drive(gw, "POST", CC, jbody(body), K1, **kw) for _ in range(n)))
                )
            else:
                outs = [await drive(gw, "POST", CC, jbody(body), K1, **kw) for _ in range(n)]
            await settle_down(gw)
            check_invariants(gw, ledger, outs)
            spent = _spent(gw)
            return outs, spent, ledger

    return asyncio.run(go())


def test_huge_max_tokens_cannot_pass_the_cap() -> None:
    outs, spent, _ = _scenario({**CHAT, "model": "strong", "max_tokens": 10**9}, 20)
    for r in outs:
        assert_clean(r, {200, 400, 402})
    assert spent <= CAP + ONE_MAX_USD


def test_max_completion_tokens_is_bounded_like_max_tokens() -> None:
    body = {k: v for k, v in CHAT.items() if k != "max_tokens"} | {
        "max_completion_tokens": 10**9,
        "model": "strong",
    }
    outs, spent, _ = _scenario(body, 20)
    for r in outs:
        assert_clean(r, {200, 400, 402})
    assert spent <= CAP + ONE_MAX_USD


def test_n_choices_are_reserved_and_charged() -> None:
    outs, spent, _ledger = _scenario({**CHAT, "model": "strong", "n": 128}, 30)
    for r in outs:
        assert_clean(r, {200, 400, 402})
    assert spent <= CAP + ONE_MAX_USD
    assert 402 in [r[0] for r in outs] or 400 in [r[0] for r in outs]


def test_many_concurrent_requests_race_the_cap_and_lose() -> None:
    outs, spent, ledger = _scenario(
        {**CHAT, "model": "strong"}, 300, modes=("delay", "delay"), concurrent=True
    )
    statuses = {r[0] for r in outs}
    assert statuses <= {200, 402, 429} and 402 in statuses and 200 in statuses
    assert spent <= CAP + ONE_MAX_USD
    ok = [r for r in outs if r[0] == 200]
    assert ledger.count("decisions") >= len(ok)


def test_streams_without_a_usage_chunk_are_still_charged() -> None:
    body = {**CHAT, "model": "strong", "stream": True, "stream_options": {"include_usage": False}}
    outs, spent, ledger = _scenario(body, 3)
    assert all(r[0] == 200 for r in outs)
    assert spent > 0
    assert all(o.cost_usd > 0 for o in ledger.outcomes())


def test_a_client_that_leaves_mid_stream_frees_its_slot_and_budget_and_is_recorded_once() -> None:
    async def go() -> tuple[list[Reply], Ledger, float]:
        async with fake_upstreams("drip", "drip", delay_s=5.0) as urls:
            ledger = Ledger(":memory:")
            gw = Gateway(gateway_config(urls, keys=KEYS), sink=RecordSink(ledger, flush_ms=10))
            body = jbody({**CHAT, "model": "strong", "stream": True})
            outs = list(
                await asyncio.gather(*(drive(gw, "POST", CC, body, K1, leave_after_s=0.3) for _ in range(10)))
            )
            await settle_down(gw)
            check_invariants(gw, ledger, outs)
            return outs, ledger, _spent(gw)

    outs, ledger, spent = asyncio.run(go())
    assert ledger.count("decisions") == len(outs) and spent > 0
    assert all(o.metadata.get("status") != "ok" or o.metadata for o in ledger.outcomes())


def test_negative_or_absurd_usage_from_a_client_chosen_field_changes_nothing() -> None:
    body = {**CHAT, "model": "strong", "usage": {"prompt_tokens": -(10**9), "completion_tokens": -(10**9)}}
    outs, spent, ledger = _scenario(body, 3)
    for r in outs:
        assert_clean(r, {200, 400, 402})
    assert spent >= 0 and all(o.cost_usd >= 0 for o in ledger.outcomes())


# --- feedback ------------------------------------------------------------------------------------------


def _feedback_attack(bodies: list[tuple[Any, list[tuple[bytes, bytes]]]]) -> tuple[list[Reply], Ledger, str]:
    async def go() -> tuple[list[Reply], Ledger, str]:
        async with fake_upstreams("ok", "ok") as urls:
            ledger = Ledger(":memory:")
            gw = Gateway(gateway_config(urls, keys=KEYS), sink=RecordSink(ledger, flush_ms=10))
            first = await drive(gw, "POST", CC, jbody(CHAT), K1)
            rid = hmap(first)["x-tokenomy-request-id"]
            outs = []
            for b, h in bodies:
                doc = b if isinstance(b, bytes) else json.dumps(b, allow_nan=True).encode()
                outs.append(await drive(gw, "POST", "/v1/feedback", doc.replace(b"@RID", rid.encode()), h))
            check_invariants(gw, ledger, [first])
            return outs, ledger, rid

    return asyncio.run(go())


def test_feedback_for_another_keys_request_is_refused() -> None:
    outs, ledger, _ = _feedback_attack([({"request_id": "@RID", "quality": 0.0}, K2)])
    assert_clean(outs[0], {403, 404})
    assert ledger.count("outcomes") == 1  # only the request's own outcome


def test_feedback_outside_the_unit_interval_or_not_a_number_is_refused() -> None:
    bad: list[Any] = [1.5, -0.1, float("nan"), float("inf"), "1", True, None, [1], 1e308 * 10]
    bodies: list[tuple[Any, list[tuple[bytes, bytes]]]] = [
        ({"request_id": "@RID", "quality": q}, K1) for q in bad
    ]
    bodies += [
        ({"request_id": "@RID", "quality": 1.0, "harm": h}, K1)
        for h in (-1.0, float("nan"), float("inf"), "x")
    ]
    bodies += [({"request_id": r, "quality": 1.0}, K1) for r in (["@RID"], {"a": 1}, 7, None, "x" * 100_000)]
    bodies += [(b"[1]", K1), (b'{"request_id": "@RID"}', K1), (b"\xff", K1), (b"[" * 100_000, K1)]
    outs, ledger, _ = _feedback_attack(bodies)
    for reply in outs:
        assert_clean(reply, {400, 404, 413})
    assert ledger.count("outcomes") == 1


def test_repeated_feedback_cannot_poison_the_learner() -> None:
    body = ({"request_id": "@RID", "quality": 0.0}, K1)
    outs, ledger, _rid = _feedback_attack([body] * 5)
    assert outs[0][0] == 200
    for reply in outs[1:]:
        assert_clean(reply, {409})
    assert ledger.count("outcomes") == 2


def test_prompt_tokens_hidden_outside_the_message_text_cannot_pass_the_cap() -> None:
    # tools, response_format and non-text content parts are prompt tokens too (the fake upstream
    # counts every body byte / 4): the reservation must bound them, the real cost stays under the cap
    tools = [
        {"type": "function", "function": {"name": f"f{i}", "description": "d" * 2000}} for i in range(40)
    ]
    body = {**CHAT, "model": "strong", "tools": tools}
    outs, _, ledger = _scenario(body, 20)
    for r in outs:
        assert_clean(r, {200, 402})
    real = sum(o.cost_usd for o in ledger.outcomes())
    assert real <= CAP + ONE_MAX_USD, real


def test_a_whole_request_whose_client_leaves_is_charged_and_frees_its_slot() -> None:
    async def go() -> tuple[list[Reply], Ledger, float]:
        async with fake_upstreams("delay", "delay", delay_s=2.0) as urls:
            ledger = Ledger(":memory:")
            gw = Gateway(gateway_config(urls, keys=KEYS), sink=RecordSink(ledger, flush_ms=10))
            body = jbody({**CHAT, "model": "strong"})
            outs = [await drive(gw, "POST", CC, body, K1, leave_after_s=0.2) for _ in range(2)]
            await settle_down(gw)
            check_invariants(gw, ledger, outs)
            return outs, ledger, _spent(gw)

    _outs, ledger, spent = asyncio.run(go())
    assert ledger.count("decisions") == 2 and spent > 0
    reasons = [d.metadata["reason"] for d in ledger.decisions()]
    assert reasons[0] == "disconnected" and reasons[1] in ("disconnected", "budget")


def test_an_upstream_that_drips_forever_is_cut_at_the_request_deadline() -> None:
    async def go() -> tuple[Reply, Ledger, float]:
        async with fake_upstreams("drip", "drip", delay_s=60.0) as urls:
            ledger = Ledger(":memory:")
            cfg = gateway_config(urls, keys=KEYS, gateway={"max_request_s": 1.0})
            gw = Gateway(cfg, sink=RecordSink(ledger, flush_ms=10))
            t0 = time.monotonic()
            body = jbody({**CHAT, "model": "strong", "stream": True})
            out = await asyncio.wait_for(drive(gw, "POST", CC, body, K1, leave_after_s=120.0), 50)
            wall = time.monotonic() - t0
            await settle_down(gw)
            check_invariants(gw, ledger, [out])
            return out, ledger, wall

    out, ledger, wall = asyncio.run(go())
    assert out[0] == 200 and wall < 30.0  # a liveness bound (the upstream drips for 60 s), not a speed figure
    assert b"upstream_stream_cut" in out[2] or b"timeout" in out[2]
    assert ledger.count("decisions") == 1


def test_the_api_key_never_appears_in_a_response_or_the_ledger() -> None:
    secret = "sk-very-secret-key-0123456789"
    keys = {secret: {"tenant": "t9", "budget_usd": CAP, "v_usd": 1.0}}

    async def go() -> tuple[list[Reply], str]:
        async with fake_upstreams("ok", "ok") as urls:
            ledger = Ledger(":memory:")
            gw = Gateway(gateway_config(urls, keys=keys), sink=RecordSink(ledger, flush_ms=10))
            auth = [(b"authorization", b"Bearer " + secret.encode())]
            outs = [await drive(gw, "POST", CC, jbody(CHAT), auth)]
            outs.append(await drive(gw, "POST", CC, jbody({**CHAT, "model": "nope"}), auth))
            outs.append(await drive(gw, "POST", CC, jbody({**CHAT, "stream": True}), auth))
            rid = hmap(outs[0])["x-tokenomy-request-id"]
            outs.append(
                await drive(gw, "POST", "/v1/feedback", jbody({"request_id": rid, "quality": 1}), auth)
            )
            for path in ("/v1/prices", "/healthz", "/metrics", "/v1/models"):
                outs.append(await drive(gw, "GET", path, b"", auth))
            gw.sink.flush()
            dump = repr(list(ledger.decisions())) + repr(list(ledger.outcomes()))
            return outs, dump

    outs, dump = asyncio.run(go())
    assert outs[0][0] == 200 and outs[3][0] == 200
    for status, headers, body in outs:
        assert secret.encode() not in body and all(secret.encode() not in v for _, v in headers), status
    assert secret not in dump
