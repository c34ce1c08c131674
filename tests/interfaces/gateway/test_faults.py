"""Faults: failed upstreams fall back down the ranking, a cut stream ends cleanly, a client that leaves
cancels the upstream call, SIGTERM drains in-flight requests and flushes the ledger."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from gateway_helpers import call, fake_upstreams, gateway_config, need_module

from tokenomy.interfaces.gateway.app import Gateway
from tokenomy.interfaces.gateway.records import RecordSink
from tokenomy.ledger import Ledger

CHAT = {"model": "tokenomy-auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
HIGH_V = {"X-Tokenomy-V": "100"}  # strong first, cheap as fallback


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(cheap_mode: str, strong_mode: str, req: dict[str, Any], **kw: Any) -> tuple[Any, list[Any]]:
    async def go() -> tuple[Any, list[Any]]:
        async with fake_upstreams(cheap_mode, strong_mode) as urls:
            if strong_mode == "refused":
                urls[1] = f"http://127.0.0.1:{_free_port()}"
            ledger = Ledger(":memory:")
            sink = RecordSink(ledger, flush_ms=10)
            gw = Gateway(gateway_config(urls, upstream_strong={"timeout_s": 0.3}), sink=sink)
            out = await call(gw, "POST", "/v1/chat/completions", req, HIGH_V, **kw)
            sink.flush()
            assert gw.upstreams["strong"].queue.in_flight == gw.upstreams["cheap"].queue.in_flight == 0
            return out, list(ledger.decisions())

    return asyncio.run(go())


@pytest.mark.parametrize("mode", ["500", "hang", "refused"])
def test_a_failed_upstream_falls_back_to_the_next_model_and_is_recorded(mode: str) -> None:
    (status, headers, _), decisions = _serve("ok", mode if mode != "refused" else "refused", CHAT)
    assert status == 200 and headers["x-tokenomy-model"] == "cheap"
    (d,) = decisions
    assert (
        d.chosen_name == "cheap"
        and d.metadata["reason"] == "fallback"
        and d.metadata["policy_pick"] == "strong"
    )
    assert [a["upstream"] for a in d.metadata["attempts"]] == ["strong"]
    kind = {"500": "status", "hang": "timeout", "refused": "refused"}[mode]
    assert d.metadata["attempts"][0]["error"].startswith(kind)


def test_every_upstream_failing_is_a_clean_502_with_one_decision() -> None:
    (status, _, body), decisions = _serve("500", "500", CHAT)
    assert status == 502 and json.loads(body)["error"]["code"] == "upstream_failed"
    (d,) = decisions
    assert d.chosen_name is None and len(d.metadata["attempts"]) == 2


def test_a_stream_cut_midway_ends_with_an_sse_error_event() -> None:
    (status, _, body), decisions = _serve("ok", "cut", {**CHAT, "stream": True})
    assert status == 200
    last = body.decode().strip().split("\n")[-1]
    assert last.startswith("data: ") and json.loads(last[6:])["error"]["code"] == "upstream_stream_cut"
    (d,) = decisions
    assert d.metadata["reason"] == "error" and d.metadata["attempts"][0]["error"].startswith("cut")


def test_a_client_disconnect_cancels_the_upstream_call() -> None:
    (status, _, _), decisions = _serve("hang", "hang", CHAT, disconnect_after_s=0.05)
    assert status == 0
    (d,) = decisions
    assert d.metadata["reason"] == "disconnected" and d.metadata["status"] == 499
    # had the call gone on, the 0.3 s timeout of the first upstream would be recorded as an attempt
    assert d.metadata["attempts"] == []


@pytest.mark.slow
def test_sigterm_drains_in_flight_requests_then_flushes_the_ledger(tmp_path: Path) -> None:
    need_module("uvicorn", "the 'gateway' extra")
    fake = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tokenomy.interfaces.gateway.fakeupstream",
            "--mode",
            "delay",
            "--delay-s",
            "0.5",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fake.stdout is not None
    up = f"http://127.0.0.1:{fake.stdout.readline().split()[1]}"
    port, ledger = _free_port(), tmp_path / "gw.duckdb"
    cfg = tmp_path / "gw.toml"
    cfg.write_text(
        f'[defaults]\nv_usd = 1.0\n[gateway]\nport = {port}\nledger = "{ledger}"\nflush_ms = 60000\n'
        f'[[upstreams]]\nname = "only"\nbase_url = "{up}"\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 1.0\n'
    )
    gw = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from tokenomy.interfaces.cli import main; raise SystemExit(main())",
            "gateway",
            "serve",
            "--config",
            str(cfg),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)

        def post() -> int:
            req = urllib.request.Request(
                url + "/v1/chat/completions", json.dumps(CHAT).encode(), method="POST"
            )
            with urllib.request.urlopen(req, timeout=10) as r:
                return int(r.status)

        async def many() -> list[int]:
            tasks = [asyncio.to_thread(post) for _ in range(5)]
            await asyncio.sleep(0.2)
            gw.send_signal(signal.SIGTERM)  # while all five wait on the 0.5 s upstream
            return list(await asyncio.gather(*tasks))

        assert asyncio.run(many()) == [200] * 5
        # uvicorn re-raises the SIGTERM it caught once it has shut down: -15 is a clean exit here
        assert gw.wait(20) in (0, -signal.SIGTERM), gw.stderr.read() if gw.stderr else ""
    finally:
        gw.kill()
        fake.kill()
    with Ledger(ledger, read_only=True) as led:  # flush_ms is 60 s: only the shutdown flush wrote these
        assert led.count("decisions") == 5 and led.count("outcomes") == 5


@pytest.mark.parametrize("stream", [False, True])
def test_an_upstream_4xx_is_relayed_not_retried(stream: bool) -> None:
    (status, _, body), decisions = _serve("ok", "400", {**CHAT, "stream": stream})
    assert status == 400 and json.loads(body)["error"]["message"] == "fake refusal"
    (d,) = decisions
    assert d.metadata["attempts"] == [] and d.metadata["status"] == 400
