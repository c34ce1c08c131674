"""Gateway spans: GenAI attributes, OTLP/JSON lines that ``tokenomy audit`` imports back, OTLP/HTTP export."""

from __future__ import annotations

import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from tokenomy.core.errors import ValidationError
from tokenomy.interfaces.gateway.telemetry import RequestSpan, Telemetry
from tokenomy.interfaces.loaders.otlp import load_otlp

T0 = 1_760_000_000_000_000_000


def _spans(n: int, seed: int = 0) -> list[RequestSpan]:
    rng = np.random.default_rng(seed)
    models = ("smollm2-135m", "gemma3-270m")
    out = []
    for i in range(n):
        m = models[int(rng.integers(2))]
        start = T0 + i * 1_000_000
        out.append(
            RequestSpan(
                request_id=f"req-{i}",
                request_model="auto",
                response_model=m,
                start_ns=start,
                end_ns=start + int(rng.integers(1_000, 5_000_000)),
                input_tokens=int(rng.integers(0, 4000)),
                output_tokens=int(rng.integers(0, 800)),
                upstream=m,
                v_usd=float(rng.uniform(0, 1)),
                lam_usd_per_s=0.01,
                rho_usd=1.0,
                surplus_usd=float(rng.normal()),
                propensity=0.9,
                explored=bool(rng.integers(2)),
                cost_usd=float(rng.uniform(0, 1e-3)),
                finish_reasons=("stop",),
                error_type="timeout" if i % 17 == 5 else "",
            )
        )
    return out


@pytest.mark.parametrize("fast", [True, False])
def test_exported_file_reads_back_through_the_audit_importer(tmp_path: Path, fast: bool) -> None:
    path = tmp_path / "spans.jsonl"
    tel = Telemetry(json_path=path, schedule_delay_ms=5)
    spans = _spans(300)
    traces = [tel.record(s) for s in spans]
    tel.close()
    assert len(set(traces)) == len(spans)
    lines = path.read_text().splitlines()
    assert lines and all("resourceSpans" in json.loads(line) for line in lines)
    log, bad = load_otlp([path], fast=fast)
    assert bad.count == 0
    st = log.steps
    got = {
        str(r): (str(m), int(i), int(o), float(c), bool(e))
        for r, m, i, o, c, e in zip(
            st.request_id,
            st.model,
            st.input_tokens,
            st.output_tokens,
            st.reported_cost_usd,
            st.error,
            strict=True,
        )
    }
    want = {
        t: (s.response_model, s.input_tokens, s.output_tokens, s.cost_usd, bool(s.error_type))
        for t, s in zip(traces, spans, strict=True)
    }
    assert got == want
    assert len(log.requests) == len(spans)
    assert set(st.kind) == {"llm"} and set(st.operation) == {"chat"}


def test_span_carries_genai_and_tokenomy_attributes(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    tel = Telemetry(json_path=path)
    s = _spans(1)[0]
    trace = tel.record(s)
    tel.close()
    (span,) = json.loads(path.read_text())["resourceSpans"][0]["scopeSpans"][0]["spans"]
    attrs = {a["key"]: a["value"] for a in span["attributes"]}
    assert span["traceId"] == trace and len(span["spanId"]) == 16 and "parentSpanId" not in span
    assert span["name"] == "chat auto" and span["kind"] == 3  # SPAN_KIND_CLIENT
    assert attrs["gen_ai.operation.name"] == {"stringValue": "chat"}
    assert attrs["gen_ai.request.model"] == {"stringValue": "auto"}
    assert attrs["gen_ai.response.model"] == {"stringValue": s.response_model}
    assert attrs["gen_ai.usage.input_tokens"] == {"intValue": str(s.input_tokens)}
    assert attrs["gen_ai.usage.output_tokens"] == {"intValue": str(s.output_tokens)}
    assert attrs["tokenomy.v_usd"] == {"doubleValue": s.v_usd}
    assert attrs["tokenomy.surplus_usd"] == {"doubleValue": s.surplus_usd}
    assert attrs["tokenomy.propensity"] == {"doubleValue": 0.9}
    assert attrs["gen_ai.response.finish_reasons"] == {"arrayValue": {"values": [{"stringValue": "stop"}]}}
    assert span["startTimeUnixNano"] == str(s.start_ns) and span["endTimeUnixNano"] == str(s.end_ns)


def test_needs_a_destination() -> None:
    with pytest.raises(ValidationError, match="otlp_endpoint"):
        Telemetry()


class _Collector(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length", "0"))
        type(self).bodies.append(self.rfile.read(n))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[bytes]]]:
    _Collector.bodies = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1/traces", _Collector.bodies
    srv.shutdown()
    srv.server_close()


def test_otlp_http_export_reaches_a_collector(collector: tuple[str, list[bytes]], tmp_path: Path) -> None:
    try:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    except ImportError:
        reason = "opentelemetry-exporter-otlp-proto-http not installed (the gateway extra)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " — CI=true requires it")
        pytest.skip(reason)
    url, bodies = collector
    tel = Telemetry(otlp_endpoint=url, json_path=tmp_path / "both.jsonl", schedule_delay_ms=5)
    spans = _spans(20)
    traces = {tel.record(s) for s in spans}
    assert tel.flush(10_000)
    tel.close()
    got: dict[str, dict[str, Any]] = {}
    for body in bodies:
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    attrs = {a.key: a.value for a in sp.attributes}
                    got[sp.trace_id.hex()] = {
                        "model": attrs["gen_ai.response.model"].string_value,
                        "out": attrs["gen_ai.usage.output_tokens"].int_value,
                    }
    assert set(got) == traces
    assert sorted(g["out"] for g in got.values()) == sorted(s.output_tokens for s in spans)
    assert len((tmp_path / "both.jsonl").read_text().splitlines()) >= 1


def test_full_queue_drops_spans_instead_of_blocking(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    tel = Telemetry(json_path=path, max_queue_size=5, schedule_delay_ms=60_000, max_batch=1000)
    for s in _spans(10):
        tel.record(s)
    assert tel.dropped == 5
    tel.close()
    tel.record(_spans(1)[0])
    assert tel.dropped == 6 and tel.exported == 5
    log, _ = load_otlp([path])
    assert len(log.steps) == 5


def test_error_request_is_an_error_span(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    tel = Telemetry(json_path=path)
    s = _spans(6)[5]
    assert s.error_type
    tel.record(s)
    tel.close()
    (span,) = json.loads(path.read_text())["resourceSpans"][0]["scopeSpans"][0]["spans"]
    attrs = {a["key"]: a["value"] for a in span["attributes"]}
    assert span["status"] == {"code": 2, "message": "timeout"}
    assert attrs["error.type"] == {"stringValue": "timeout"}


def test_direct_json_equals_the_sdk_span_encoding(tmp_path: Path) -> None:
    from tokenomy.interfaces.gateway.telemetry import otlp_json_request, request_span_json

    tel = Telemetry(json_path=tmp_path / "x.jsonl")
    batch = [(s, 0xABC + i, 0xDEF + i) for i, s in enumerate(_spans(20))]
    sdk = otlp_json_request(tel._spans(batch))
    tel.close()
    (rs,) = sdk["resourceSpans"]
    assert rs["scopeSpans"][0]["spans"] == [request_span_json(*b) for b in batch]


def test_tokenomy_audit_command_reads_the_exported_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tokenomy.interfaces import cli

    path = tmp_path / "spans.jsonl"
    tel = Telemetry(json_path=path)
    spans = _spans(40, seed=3)
    traces = [tel.record(s) for s in spans]
    tel.close()
    out = tmp_path / "audit.json"
    assert cli.main(["audit", str(path), "--format", "otlp", "--json", str(out)]) == 0
    capsys.readouterr()
    doc = json.loads(out.read_text())
    assert doc["totals"]["requests"] == 40 and doc["totals"]["llm_calls"] == 40
    assert doc["totals"]["reported_cost_usd"] == pytest.approx(sum(s.cost_usd or 0.0 for s in spans))
    v_by_trace = {r["request_id"]: r["v_usd"] for r in doc["requests"]}
    assert v_by_trace == {t: s.v_usd for t, s in zip(traces, spans, strict=True)}


def test_non_finite_prices_are_left_out_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    tel = Telemetry(json_path=path)
    s = RequestSpan("r", "auto", "m", T0, T0 + 5, surplus_usd=float("nan"), v_usd=float("inf"), cost_usd=1e-4)
    tel.record(s)
    tel.close()
    assert tel.export_failures == 0
    (span,) = json.loads(path.read_text())["resourceSpans"][0]["scopeSpans"][0]["spans"]
    keys = {a["key"] for a in span["attributes"]}
    assert "tokenomy.cost_usd" in keys and "tokenomy.surplus_usd" not in keys and "tokenomy.v_usd" not in keys
