"""The gateway app end to end against fake upstreams: routing by V, headers, errors, ledger rows."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from gateway_helpers import call, fake_upstreams, gateway_config

from tokenomy.interfaces.gateway.app import Gateway
from tokenomy.interfaces.gateway.records import RecordSink
from tokenomy.ledger import Ledger

CHAT = {"model": "tokenomy-auto", "messages": [{"role": "user", "content": "What is 2+2?"}], "max_tokens": 16}


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_low_v_routes_to_the_cheap_model_and_high_v_to_the_strong_one() -> None:
    async def go() -> tuple[Any, Any]:
        async with fake_upstreams("ok", "ok") as urls:
            gw = Gateway(gateway_config(urls))
            low = await call(gw, "POST", "/v1/chat/completions", CHAT, {"X-Tokenomy-V": "0.0001"})
            high = await call(gw, "POST", "/v1/chat/completions", CHAT, {"X-Tokenomy-V": "100"})
            await gw.shutdown()
            return low, high

    (s1, h1, _), (s2, h2, b2) = _run(go())
    assert s1 == s2 == 200
    assert h1["x-tokenomy-model"] == "cheap" and h2["x-tokenomy-model"] == "strong"
    body = json.loads(b2)
    assert body["choices"][0]["message"]["content"] == "fake answer"
    ext = body["tokenomy"]
    assert (
        ext["model"] == "strong" and ext["prices"]["v_usd"] == 100.0 and ext["prices"]["v_source"] == "user"
    )
    assert ext["propensity"] == 1.0 and ext["explored"] is False
    assert float(h2["x-tokenomy-surplus"]) == ext["est_surplus_usd"] > 0
    assert "v=100;" in h2["x-tokenomy-prices"] and h2["x-tokenomy-request-id"] == ext["request_id"]


def test_metadata_price_is_used_when_no_header_is_given() -> None:
    async def go() -> Any:
        async with fake_upstreams("ok", "ok") as urls:
            gw = Gateway(gateway_config(urls))
            return await call(gw, "POST", "/v1/chat/completions", {**CHAT, "metadata": {"tokenomy_v": 100}})

    status, headers, _ = _run(go())
    assert status == 200 and headers["x-tokenomy-model"] == "strong"


def test_a_pinned_model_is_served_there_and_an_unknown_model_is_404() -> None:
    async def go() -> tuple[Any, Any]:
        async with fake_upstreams("ok", "ok") as urls:
            gw = Gateway(gateway_config(urls))
            pinned = await call(
                gw, "POST", "/v1/chat/completions", {**CHAT, "model": "strong"}, {"X-Tokenomy-V": "0"}
            )
            unknown = await call(gw, "POST", "/v1/chat/completions", {**CHAT, "model": "gpt-9"})
            return pinned, unknown

    (s1, h1, _), (s2, _, b2) = _run(go())
    assert s1 == 200 and h1["x-tokenomy-model"] == "strong"
    err = json.loads(b2)["error"]
    assert s2 == 404 and err["code"] == "model_not_found" and err["param"] == "model"


def test_bad_requests_get_openai_style_4xx_errors() -> None:
    async def go() -> list[tuple[int, dict[str, Any]]]:
        async with fake_upstreams("ok", "ok") as urls:
            gw = Gateway(gateway_config(urls, gateway={"max_body_bytes": 2000}))
            cases = [
                await call(gw, "POST", "/v1/chat/completions", raw=b"{not json"),
                await call(gw, "POST", "/v1/chat/completions", CHAT, {"X-Tokenomy-V": "-1"}),
                await call(gw, "POST", "/v1/chat/completions", CHAT, {"X-Tokenomy-V": "nan"}),
                await call(gw, "POST", "/v1/chat/completions", raw=b"x" * 5000),
                await call(gw, "POST", "/v1/chat/completions", {"model": "tokenomy-auto"}),
                await call(gw, "GET", "/v1/chat/completions"),
                await call(gw, "GET", "/nowhere"),
            ]
            return [(s, json.loads(b)["error"]) for s, _, b in cases]

    got = _run(go())
    assert [s for s, _ in got] == [400, 400, 400, 413, 400, 405, 404]
    assert all(set(e) == {"message", "type", "param", "code"} for _, e in got)
    assert got[0][1]["code"] == "invalid_json" and got[1][1]["code"] == "invalid_price"


def test_api_keys_are_required_when_configured_and_key_prices_apply() -> None:
    keys = {"k1": {"tenant": "t1", "v_usd": 100.0}}

    async def go() -> tuple[Any, Any]:
        async with fake_upstreams("ok", "ok") as urls:
            gw = Gateway(gateway_config(urls, keys=keys))
            bad = await call(gw, "POST", "/v1/chat/completions", CHAT, {"Authorization": "Bearer nope"})
            good = await call(gw, "POST", "/v1/chat/completions", CHAT, {"Authorization": "Bearer k1"})
            return bad, good

    (s1, _, b1), (s2, h2, _) = _run(go())
    assert s1 == 401 and json.loads(b1)["error"]["type"] == "authentication_error"
    assert s2 == 200 and h2["x-tokenomy-model"] == "strong"


def test_streaming_relays_every_chunk_and_records_usage() -> None:
    async def go() -> tuple[Any, RecordSink]:
        async with fake_upstreams("ok", "ok") as urls:
            sink = RecordSink(Ledger(":memory:"), flush_ms=50)
            gw = Gateway(gateway_config(urls), sink=sink)
            out = await call(gw, "POST", "/v1/chat/completions", {**CHAT, "stream": True})
            sink.flush()
            return out, sink

    (status, headers, body), sink = _run(go())
    assert status == 200 and headers["content-type"] == "text/event-stream"
    events = [line[6:] for line in body.decode().split("\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    assert json.loads(events[0])["tokenomy"]["model"] == headers["x-tokenomy-model"]
    assert (
        "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:3])
        == "fake streamed answer"
    )
    assert sink.written_decisions == 1


def test_every_request_gives_one_decision_and_its_outcomes_in_the_ledger() -> None:
    async def go() -> tuple[Ledger, Gateway]:
        async with fake_upstreams("ok", "ok") as urls:
            ledger = Ledger(":memory:")
            sink = RecordSink(ledger, flush_ms=20, flush_rows=7)
            gw = Gateway(gateway_config(urls), sink=sink)
            outs = await asyncio.gather(*(call(gw, "POST", "/v1/chat/completions", CHAT) for _ in range(30)))
            assert all(s == 200 for s, _, _ in outs)
            rid = json.loads(outs[0][2])["tokenomy"]["request_id"]
            fb = await call(gw, "POST", "/v1/feedback", {"request_id": rid, "quality": 1.0})
            assert fb[0] == 200
            unknown = await call(gw, "POST", "/v1/feedback", {"request_id": "nope", "quality": 1.0})
            assert unknown[0] == 404
            sink.flush()
            return ledger, gw

    ledger, _gw = _run(go())
    decisions = list(ledger.decisions())
    assert len(decisions) == 30 and len({d.request_id for d in decisions}) == 30
    assert all(d.chosen_name == "strong" and d.metadata["reason"] == "policy" for d in decisions)
    outcomes = list(ledger.outcomes())
    assert len(outcomes) == 31 and sum(o.quality for o in outcomes) == 1.0
    assert all(o.cost_usd > 0 for o in outcomes if o.metadata.get("graded") is False)


def test_models_prices_and_health_endpoints() -> None:
    async def go() -> list[Any]:
        async with fake_upstreams("ok", "ok") as urls:
            gw = Gateway(gateway_config(urls))
            return [await call(gw, "GET", p) for p in ("/v1/models", "/v1/prices", "/healthz")]

    (s1, _, b1), (s2, _, b2), (s3, _, b3) = _run(go())
    assert s1 == s2 == s3 == 200
    assert [m["id"] for m in json.loads(b1)["data"]] == ["tokenomy-auto", "cheap", "strong"]
    prices = json.loads(b2)
    assert set(prices["upstreams"]) == {"cheap", "strong"} and "upstream/cheap" in prices["bus"]
    assert json.loads(b3)["status"] == "ok"
