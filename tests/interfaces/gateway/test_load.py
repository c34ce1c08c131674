"""Bounded load and an upstream killed mid-run: no lost ledger rows, no gateway 5xx, one decision per request.

The fake upstreams run as separate processes (so one can be killed); the gateway runs in this process
and is driven through ASGI. The large run (10,000 requests, 200 concurrent, over real sockets) is
benchmarks/bench_gateway.py; this one stays small enough for the suite.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from gateway_helpers import call, gateway_config

from tokenomy.interfaces.gateway.app import Gateway
from tokenomy.interfaces.gateway.records import RecordSink
from tokenomy.ledger import Ledger

CHAT = {"model": "tokenomy-auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}


@pytest.fixture
def fakes() -> Iterator[list[tuple[subprocess.Popen[str], str]]]:
    procs = []
    for _ in range(2):
        p = subprocess.Popen(
            [sys.executable, "-m", "tokenomy.interfaces.gateway.fakeupstream"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert p.stdout is not None
        procs.append((p, f"http://127.0.0.1:{p.stdout.readline().split()[1]}"))
    yield procs
    for p, _ in procs:
        p.kill()
        p.wait()


def _drive(
    gw: Gateway, n: int, conc: int, kill_after: int | None = None, victim: Any = None
) -> list[tuple[int, dict[str, Any]]]:
    async def go() -> list[tuple[int, dict[str, Any]]]:
        it, out = iter(range(n)), []

        async def worker() -> None:
            for _ in it:
                s, _, b = await call(gw, "POST", "/v1/chat/completions", CHAT, {"X-Tokenomy-V": "100"})
                out.append((s, json.loads(b)))
                if kill_after is not None and len(out) == kill_after:
                    victim.kill()

        await asyncio.gather(*(worker() for _ in range(conc)))
        gw.sink.flush()  # (shutdown would close the in-memory ledger)
        return out

    return asyncio.run(go())


@pytest.mark.slow
def test_bounded_load_loses_no_ledger_rows_and_gives_no_5xx(fakes: Any) -> None:
    ledger = Ledger(":memory:")
    gw = Gateway(gateway_config([u for _, u in fakes]), sink=RecordSink(ledger, flush_ms=20, flush_rows=100))
    out = _drive(gw, 1500, 200)
    assert Counter(s for s, _ in out) == {200: 1500}
    assert ledger.count("decisions") == 1500 and ledger.count("outcomes") == 1500
    assert ledger._scalar("SELECT count(DISTINCT request_id) FROM decisions") == 1500


@pytest.mark.slow
def test_killing_an_upstream_mid_run_falls_back_cleanly_with_one_decision_per_request(fakes: Any) -> None:
    ledger = Ledger(":memory:")
    gw = Gateway(gateway_config([u for _, u in fakes]), sink=RecordSink(ledger, flush_ms=20, flush_rows=100))
    out = _drive(gw, 900, 100, kill_after=300, victim=fakes[1][0])  # kills "strong", the first choice
    statuses = Counter(s for s, _ in out)
    assert set(statuses) <= {200, 502} and statuses[200] >= 850
    assert all(set(b["error"]) == {"message", "type", "param", "code"} for s, b in out if s != 200)
    served = Counter(b["tokenomy"]["model"] for s, b in out if s == 200)
    assert served["strong"] >= 300 and served["cheap"] > 0
    assert ledger.count("decisions") == 900
    assert ledger._scalar("SELECT count(DISTINCT request_id) FROM decisions") == 900
    fallbacks = ledger._scalar(
        "SELECT count(*) FROM decisions WHERE json_extract_string(metadata, '$.reason') = 'fallback'"
    )
    assert fallbacks > 0
