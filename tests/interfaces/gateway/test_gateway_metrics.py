"""Prometheus text exposition of the gateway's metrics: format, cumulative buckets, threads, bounded series."""

from __future__ import annotations

import re
import threading

import pytest

from tokenomy.core.errors import ValidationError
from tokenomy.interfaces.gateway.metrics import CONTENT_TYPE, Counter, GatewayMetrics, Histogram, Registry

_SAMPLE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_]\w*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)$'
)
_LABEL = re.compile(r'([a-zA-Z_]\w*)="((?:[^"\\\n]|\\[\\"n])*)"')


def _unescape(v: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", '"': '"'}[m.group(1)], v)


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition (fails on any line that is not a comment or a valid sample)."""
    assert text.endswith("\n")
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram") and name not in types
            types[name] = kind
            continue
        if line.startswith("# HELP "):
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a valid sample line: {line!r}"
        labels = frozenset((k, _unescape(v)) for k, v in _LABEL.findall(m.group(3) or ""))
        key = (m.group(1), labels)
        assert key not in out, f"duplicate series {line!r}"
        out[key] = float(m.group(4))
    return out


def test_request_events_render_as_valid_exposition() -> None:
    m = GatewayMetrics()
    m.request_done(
        "gemma",
        200,
        latency_s=0.004,
        upstream="gemma",
        upstream_latency_s=0.003,
        input_tokens=12,
        output_tokens=7,
        cost_usd=2e-6,
    )
    m.request_done("gemma", 200, latency_s=0.05, input_tokens=3)
    m.request_done("smol", 429, latency_s=0.0001)
    m.retry("smol", "timeout")
    m.refusal("price")
    m.set_lambda("gemma", 0.25)
    m.set_queue_depth("gemma", 3)
    m.enter()
    m.enter()
    m.leave()
    m.set_budget("tenant-a", 9.5)
    s = parse(m.render())
    p = "tokenomy_gateway"
    assert s[(f"{p}_requests_total", frozenset({("model", "gemma"), ("status", "200")}))] == 2
    assert s[(f"{p}_requests_total", frozenset({("model", "smol"), ("status", "429")}))] == 1
    assert s[(f"{p}_tokens_total", frozenset({("model", "gemma"), ("direction", "input")}))] == 15
    assert s[(f"{p}_tokens_total", frozenset({("model", "gemma"), ("direction", "output")}))] == 7
    assert s[(f"{p}_cost_usd_total", frozenset({("model", "gemma")}))] == 2e-6
    assert s[(f"{p}_retries_total", frozenset({("upstream", "smol"), ("reason", "timeout")}))] == 1
    assert s[(f"{p}_refusals_total", frozenset({("reason", "price")}))] == 1
    assert s[(f"{p}_lambda_usd_per_second", frozenset({("upstream", "gemma")}))] == 0.25
    assert s[(f"{p}_queue_depth", frozenset({("upstream", "gemma")}))] == 3
    assert s[(f"{p}_in_flight", frozenset())] == 1
    assert s[(f"{p}_budget_remaining_usd", frozenset({("budget", "tenant-a")}))] == 9.5
    g = frozenset({("model", "gemma")})
    assert s[(f"{p}_request_duration_seconds_count", g)] == 2
    assert s[(f"{p}_request_duration_seconds_sum", g)] == pytest.approx(0.054)
    assert s[(f"{p}_request_duration_seconds_bucket", g | {("le", "0.0025")})] == 0
    assert s[(f"{p}_request_duration_seconds_bucket", g | {("le", "0.005")})] == 1
    assert s[(f"{p}_request_duration_seconds_bucket", g | {("le", "0.05")})] == 2  # le: value == bound counts
    assert s[(f"{p}_request_duration_seconds_bucket", g | {("le", "+Inf")})] == 2
    assert CONTENT_TYPE.startswith("text/plain; version=0.0.4")


def test_buckets_are_cumulative_and_end_at_count() -> None:
    h = Histogram("h", "x", ("k",), buckets=(1, 2, 3))
    for v in (0.5, 1.0, 1.5, 2.5, 3.0, 7.0, float("nan")):
        h.observe(v, ("a",))
    lines = h.render()
    buckets = [float(line.rsplit(" ", 1)[1]) for line in lines if "_bucket" in line]
    assert buckets == [2, 3, 5, 6]
    assert h.count(("a",)) == 6


def test_label_values_are_escaped() -> None:
    reg = Registry()
    c = reg.add(Counter("c_total", 'doc with "quotes" and \\', ("model",)))
    nasty = 'a"b\\c\nd} x="1'
    c.inc((nasty,), 2)
    s = parse(reg.render())
    assert s[("c_total", frozenset({("model", nasty)}))] == 2


def test_counters_never_go_down() -> None:
    c = Counter("c_total", "x")
    c.inc((), 3)
    c.inc((), -5)
    c.inc((), float("nan"))
    assert c.value() == 3


def test_concurrent_observations_are_all_counted() -> None:
    m = GatewayMetrics()
    n, threads = 20_000, 8

    def work() -> None:
        for i in range(n):
            m.request_done("x", 200, latency_s=(i % 100) / 1000, input_tokens=1)
            m.enter()
            m.leave()

    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert m.requests.value(("x", "200")) == n * threads
    assert m.tokens.value(("x", "input")) == n * threads
    assert m.latency.count(("x",)) == n * threads
    assert m.in_flight.value() == 0


def test_series_are_bounded() -> None:
    m = GatewayMetrics(max_series=3)
    for i in range(50):
        m.request_done(f"model-{i}", 200, latency_s=0.001)
    s = parse(m.render())
    req = {dict(k[1])["model"]: v for k, v in s.items() if k[0] == "tokenomy_gateway_requests_total"}
    assert len(req) == 4 and req["other"] == 47
    assert sum(req.values()) == 50


def test_bad_names_and_buckets_are_refused() -> None:
    with pytest.raises(ValidationError):
        Counter("1bad", "x")
    with pytest.raises(ValidationError):
        Histogram("h", "x", buckets=(2, 1))
    reg = Registry()
    reg.add(Counter("a_total", "x"))
    with pytest.raises(ValidationError, match="already"):
        reg.add(Counter("a_total", "x"))
