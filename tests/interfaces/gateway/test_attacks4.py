"""Gateway feedback: a harm beyond the ledger's bound is a 400 naming the field and the range."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from gateway_attackkit import CHAT, Reply, assert_clean, drive, error_of, hmap, jbody, settle_down
from gateway_helpers import fake_upstreams, gateway_config

from tokenomy.interfaces.gateway.app import Gateway
from tokenomy.interfaces.gateway.records import RecordSink
from tokenomy.ledger import Ledger
from tokenomy.ledger.records import MAX_HARM

KEYS = {"k1": {"tenant": "t1", "v_usd": 1.0}}
K1 = [(b"authorization", b"Bearer k1")]


def _feedback(harm: Any, rho: str = "1e9") -> tuple[Reply, Ledger]:
    async def go() -> tuple[Reply, Ledger]:
        async with fake_upstreams("ok", "ok") as urls:
            ledger = Ledger(":memory:")
            gw = Gateway(gateway_config(urls, keys=KEYS), sink=RecordSink(ledger, flush_ms=10))
            first = await drive(
                gw, "POST", "/v1/chat/completions", jbody(CHAT), [*K1, (b"x-tokenomy-rho", rho.encode())]
            )
            rid = hmap(first)["x-tokenomy-request-id"]
            reply = await drive(
                gw, "POST", "/v1/feedback", jbody({"request_id": rid, "quality": 0.5, "harm": harm}), K1
            )
            await settle_down(gw)
            gw.sink.flush()
            return reply, ledger

    return asyncio.run(go())


@pytest.mark.parametrize("harm", [1e308, MAX_HARM * 1.000001, 1e10])
def test_a_harm_above_the_ledger_bound_is_a_400_naming_harm_and_the_range(harm: float) -> None:
    reply, ledger = _feedback(harm)
    assert_clean(reply, {400})
    err = error_of(reply)
    assert err.get("param") == "harm" and f"[0, {MAX_HARM:g}]" in err["message"], err
    assert ledger.count("outcomes") == 1  # only the request's own outcome


@pytest.mark.parametrize("harm", [0.0, 3.0, MAX_HARM])
def test_a_harm_within_the_bound_is_recorded_and_the_ledger_stays_finite(harm: float) -> None:
    reply, ledger = _feedback(harm)
    assert reply[0] == 200, reply[2][:300]
    totals = ledger.summary()["totals"]
    assert totals["risk_cost_usd"] == pytest.approx(1e9 * harm)  # ρ = 1e9 USD per harm unit
    for key, value in totals.items():
        assert math.isfinite(value), (key, value)
