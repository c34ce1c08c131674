"""Optional parts attached from the config: /metrics, tool-call gating with approvals, OTLP/JSON spans."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from gateway_helpers import call, fake_upstreams, gateway_config, need_module

from tokenomy.core.errors import SchemaError
from tokenomy.interfaces.gateway.app import Gateway
from tokenomy.interfaces.gateway.extensions import attach_extensions

CHAT = {"model": "tokenomy-auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}


def test_metrics_count_requests_and_refusals() -> None:
    async def go() -> Any:
        async with fake_upstreams("ok", "ok") as urls:
            gw = Gateway(gateway_config(urls))
            notes = attach_extensions(gw)
            await call(gw, "POST", "/v1/chat/completions", CHAT)
            await call(gw, "POST", "/v1/chat/completions", CHAT, {"X-Tokenomy-V": "0"})
            return notes, await call(gw, "GET", "/metrics")

    notes, (status, headers, body) = asyncio.run(go())
    assert (
        "metrics: GET /metrics" in notes
        and status == 200
        and headers["content-type"].startswith("text/plain")
    )
    text = body.decode()
    assert 'tokenomy_gateway_requests_total{model="strong",status="200"} 1' in text
    assert 'status="429"' in text


def test_tool_calls_are_gated_when_actions_are_configured() -> None:
    async def go() -> Any:
        async with fake_upstreams("ok", "ok") as urls:
            gw = Gateway(gateway_config(urls, actions={"secret": "s" * 32}))
            notes = attach_extensions(gw)
            denied = gw.response_filters[0](
                {
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "tool_calls",
                            "message": {
                                "role": "assistant",
                                "tool_calls": [
                                    {
                                        "id": "c1",
                                        "type": "function",
                                        "function": {
                                            "name": "Bash",
                                            "arguments": json.dumps({"command": "rm -rf /"}),
                                        },
                                    }
                                ],
                            },
                        }
                    ]
                },
                "r1",
                "",
                None,
            )
            plain = await call(gw, "POST", "/v1/chat/completions", CHAT)
            bad = await call(gw, "POST", "/v1/approvals", {"token": "forged"})
            return notes, denied, plain, bad

    notes, denied, plain, bad = asyncio.run(go())
    assert any(n.startswith("actions: tool calls gated") for n in notes)
    msg = denied["choices"][0]["message"]
    assert "tool_calls" not in msg and denied["tokenomy"]["actions"][0]["decision"] == "deny"
    assert plain[0] == 200 and "actions" not in json.loads(plain[2])["tokenomy"]
    assert bad[0] == 403


def test_telemetry_writes_one_span_per_request(tmp_path: Path) -> None:

    need_module("opentelemetry.sdk", "opentelemetry-sdk, the 'gateway' extra")
    spans = tmp_path / "spans.jsonl"

    async def go() -> None:
        async with fake_upstreams("ok", "ok") as urls:
            gw = Gateway(gateway_config(urls, telemetry={"json_path": str(spans)}))
            attach_extensions(gw)
            for _ in range(3):
                await call(gw, "POST", "/v1/chat/completions", CHAT)
            await gw.shutdown()

    asyncio.run(go())
    n = sum(
        len(s["spans"])
        for line in spans.read_text().splitlines()
        for r in json.loads(line)["resourceSpans"]
        for s in r["scopeSpans"]
    )
    assert n == 3


def test_a_bad_extension_field_names_the_table_and_field() -> None:
    import pytest

    cfg = gateway_config(["http://127.0.0.1:9"], actions={"secret": "short"})
    with pytest.raises(SchemaError, match=r"\[actions\]\.secret"):
        attach_extensions(Gateway(cfg))
