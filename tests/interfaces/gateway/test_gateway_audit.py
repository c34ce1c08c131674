"""A gateway's own ledger audited: routing decisions with their candidates, propensities and graded
feedback make the over- and under-routing detectors applicable, estimated off-policy per context group
with an interval (the synthetic ledgers with known truth are in tests/audit/test_routing_offpolicy.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from gateway_helpers import call, fake_upstreams, gateway_config

from tokenomy.interfaces.cli import main
from tokenomy.interfaces.gateway.app import Gateway
from tokenomy.interfaces.gateway.records import RecordSink
from tokenomy.ledger import Ledger

CHAT = {"model": "tokenomy-auto", "messages": [{"role": "user", "content": "What is 2+2?"}], "max_tokens": 8}


def test_a_gateway_ledger_makes_the_routing_modes_applicable_with_intervals(tmp_path: Path) -> None:
    path = tmp_path / "gw.duckdb"

    async def go() -> int:
        async with fake_upstreams("ok", "ok") as urls:
            cfg = gateway_config(urls, routing={"epsilon": 0.5, "seed": 3})
            gw = Gateway(cfg, sink=RecordSink(Ledger(path), flush_ms=10))
            served = 0
            for i in range(120):
                v = ("0.01", "5")[i % 2]  # middle and high values of quality
                status, headers, _ = await call(gw, "POST", "/v1/chat/completions", CHAT, {"X-Tokenomy-V": v})
                if status != 200:
                    continue
                served += 1
                rid, model = headers["x-tokenomy-request-id"], headers["x-tokenomy-model"]
                # graded feedback: the strong model is right, the cheap one right a third of the time
                quality = 1.0 if model == "strong" or i % 6 == 0 else 0.0
                await call(gw, "POST", "/v1/feedback", {"request_id": rid, "quality": quality})
            await gw.shutdown()
            return served

    served = asyncio.run(go())
    assert served >= 100
    out = tmp_path / "a.json"
    assert main(["audit", str(path), "--json", str(out)]) == 0
    payload: dict[str, Any] = json.loads(out.read_text())
    modes = payload["failure_modes"]
    for mode in ("over_routing", "under_routing"):
        f = modes[mode]
        assert f["applicable"], f["reason"]
        # only the served model is graded and the router logged its propensities: off-policy, labelled
        assert f["labels"] == ["off-policy estimate"]
        assert f["details"]["estimate"].startswith("estimated off-policy from ")
        assert f["details"]["offpolicy_decisions"] == served
        for g in f["details"]["groups"]:
            lo, hi = g["gain_ci95"]
            assert lo <= g["gain_usd"] <= hi
            assert g["verdict"] == ("gain" if lo > 0 else "loss" if hi < 0 else "tie")
        if f["count"]:
            assert f["action"] and f["request_ids"]
            lo, hi = f["impact_ci95"]
            assert 0 < lo <= f["impact_usd"] <= hi
    # the strong model is favoured at both served V levels and is right more often: routing down loses
    assert modes["over_routing"]["details"]["groups"], modes["over_routing"]["details"]
    assert all(g["verdict"] != "gain" for g in modes["over_routing"]["details"]["groups"])
