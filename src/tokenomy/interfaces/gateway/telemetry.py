"""One OpenTelemetry GenAI span per gateway request, exported by OTLP to an endpoint and/or a JSON file.

:class:`Telemetry` turns a finished request (:class:`RequestSpan`) into one ``CLIENT`` span named
``"{operation} {request model}"`` with the GenAI semantic conventions' attributes
(``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model``,
``gen_ai.response.model``, ``gen_ai.response.id``, ``gen_ai.response.finish_reasons``,
``gen_ai.usage.input_tokens`` / ``output_tokens``, ``server.address`` / ``server.port``, ``error.type``)
and the gateway's decision in ``tokenomy.*`` attributes (V, λ, ρ, the Eq. 1 surplus of the chosen model,
its propensity, whether it was explored, the cost, the request id, retries). Each request is its own
trace, which is how ``tokenomy audit`` reads OTLP (one trace = one request).

:meth:`Telemetry.record` only draws the ids and appends the request to a queue; a background thread
builds the OpenTelemetry SDK spans and exports them in batches (a full queue drops spans, counted,
rather than blocking a request). Two exporters, either or both:

* OTLP/HTTP (protobuf) to ``otlp_endpoint`` (``opentelemetry-exporter-otlp-proto-http``, the
  ``gateway`` extra), imported only when an endpoint is configured;
* :class:`OtlpJsonFileExporter`: one ``ExportTraceServiceRequest`` JSON object per line (the OTLP/JSON
  mapping, hex trace and span ids, 64-bit integers as strings) appended to a file that
  ``tokenomy audit`` imports (``tokenomy.interfaces.loaders.otlp.load_otlp``).

Span contents are not prompts or completions: no message text is exported.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tokenomy.core.errors import ValidationError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExportResult

__all__ = ["OtlpJsonFileExporter", "RequestSpan", "Telemetry", "otlp_json_request"]

_EXTRA = "install the gateway extra: pip install 'tokenomy[gateway]'"


@dataclass(frozen=True, slots=True)
class RequestSpan:
    """One finished gateway request as telemetry sees it (times in ns since the epoch).

    ``v_usd``, ``lam_usd_per_s``, ``rho_usd``, ``surplus_usd``, ``propensity`` and ``cost_usd`` are
    left out of the span when None or not finite.
    """

    request_id: str
    request_model: str
    response_model: str
    start_ns: int
    end_ns: int
    input_tokens: int = 0
    output_tokens: int = 0
    operation: str = "chat"
    provider: str = "openai"
    upstream: str = ""
    server_address: str = ""
    server_port: int = 0
    response_id: str = ""
    finish_reasons: tuple[str, ...] = ()
    error_type: str = ""
    v_usd: float | None = None
    lam_usd_per_s: float | None = None
    rho_usd: float | None = None
    surplus_usd: float | None = None
    propensity: float | None = None
    explored: bool | None = None
    cost_usd: float | None = None
    retries: int = 0
    tenant: str = ""
    stream: bool = False

    def attributes(self) -> dict[str, Any]:
        """The span's attributes. # attribute name -> str | int | float | bool | tuple[str, ...]"""
        a: dict[str, Any] = {
            "gen_ai.operation.name": self.operation,
            "gen_ai.provider.name": self.provider,
            "gen_ai.request.model": self.request_model,
            "gen_ai.response.model": self.response_model,
            "gen_ai.usage.input_tokens": int(self.input_tokens),
            "gen_ai.usage.output_tokens": int(self.output_tokens),
            "tokenomy.request_id": self.request_id,
            "tokenomy.retries": int(self.retries),
            "tokenomy.stream": bool(self.stream),
        }
        for key, value in (
            ("gen_ai.response.id", self.response_id),
            ("server.address", self.server_address),
            ("error.type", self.error_type),
            ("tokenomy.upstream", self.upstream),
            ("tokenomy.tenant", self.tenant),
        ):
            if value:
                a[key] = value
        if self.server_port:
            a["server.port"] = int(self.server_port)
        if self.finish_reasons:
            a["gen_ai.response.finish_reasons"] = tuple(self.finish_reasons)
        for key, num in (
            ("tokenomy.v_usd", self.v_usd),
            ("tokenomy.lam_usd_per_s", self.lam_usd_per_s),
            ("tokenomy.rho_usd", self.rho_usd),
            ("tokenomy.surplus_usd", self.surplus_usd),
            ("tokenomy.propensity", self.propensity),
            ("tokenomy.cost_usd", self.cost_usd),
        ):
            if num is not None and math.isfinite(num):  # NaN / inf have no OTLP/JSON form: left out
                a[key] = float(num)
        if self.explored is not None:
            a["tokenomy.explored"] = bool(self.explored)
        return a


def _any_value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, list | tuple):
        return {"arrayValue": {"values": [_any_value(x) for x in v]}}
    return {"stringValue": str(v)}


def _attributes(attrs: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return [{"key": k, "value": _any_value(v)} for k, v in (attrs or {}).items()]


def otlp_json_request(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """The OTLP/JSON ``ExportTraceServiceRequest`` of finished SDK spans (grouped by resource, scope)."""
    groups: dict[int, tuple[Any, dict[tuple[str, str], list[dict[str, Any]]]]] = {}  # id(resource) -> ...
    for s in spans:
        ctx = s.context
        assert ctx is not None
        res = groups.setdefault(id(s.resource), (s.resource, {}))[1]
        scope = s.instrumentation_scope
        key = (scope.name, scope.version or "") if scope is not None else ("", "")
        parent = s.parent
        body: dict[str, Any] = {
            "traceId": f"{ctx.trace_id:032x}",
            "spanId": f"{ctx.span_id:016x}",
            "name": s.name,
            "kind": int(s.kind.value) + 1,  # SDK INTERNAL=0 .. OTLP SPAN_KIND_INTERNAL=1
            "startTimeUnixNano": str(s.start_time or 0),
            "endTimeUnixNano": str(s.end_time or 0),
            "attributes": _attributes(s.attributes),
            "status": {"code": int(s.status.status_code.value)},
        }
        if parent is not None:
            body["parentSpanId"] = f"{parent.span_id:016x}"
        if s.status.description:
            body["status"]["message"] = s.status.description
        res.setdefault(key, []).append(body)
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _attributes(resource.attributes)},
                "scopeSpans": [
                    {"scope": {"name": name, "version": version}, "spans": items}
                    for (name, version), items in scopes.items()
                ],
            }
            for resource, scopes in groups.values()
        ]
    }


def request_span_json(req: RequestSpan, trace_id: int, span_id: int) -> dict[str, Any]:
    """The OTLP/JSON span of one request (what :func:`otlp_json_request` gives for its SDK span)."""
    body: dict[str, Any] = {
        "traceId": f"{trace_id:032x}",
        "spanId": f"{span_id:016x}",
        "name": f"{req.operation} {req.request_model}",
        "kind": 3,  # SPAN_KIND_CLIENT
        "startTimeUnixNano": str(int(req.start_ns)),
        "endTimeUnixNano": str(int(req.end_ns)),
        "attributes": _attributes(req.attributes()),
        "status": {"code": 2, "message": req.error_type} if req.error_type else {"code": 0},
    }
    return body


class OtlpJsonFileExporter:
    """A span exporter (the SDK's ``SpanExporter`` interface) appending one OTLP/JSON
    ``ExportTraceServiceRequest`` per line to ``path``.

    Each batch is one line, written whole and flushed, so a crash loses at most the batch being written.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fh: IO[str] | None = self.path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self.lines_written = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        from opentelemetry.sdk.trace.export import SpanExportResult

        ok = self.write(otlp_json_request(spans))
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def write(self, request: Mapping[str, Any]) -> bool:
        """Append one ``ExportTraceServiceRequest`` object as a line; False once shut down."""
        line = json.dumps(request, separators=(",", ":"), allow_nan=False)
        with self._lock:
            if self._fh is None:
                return False
            self._fh.write(line + "\n")
            self._fh.flush()
            self.lines_written += 1
        return True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        with self._lock:
            if self._fh is not None:
                self._fh.flush()
        return True

    def shutdown(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


class Telemetry:
    """Record one GenAI span per request and export them in batches from a background thread.

    :meth:`record` draws the span's ids and appends the request to a bounded queue (no span object is
    built on the caller's thread); the worker builds the SDK spans and hands each batch to every
    exporter every ``schedule_delay_ms`` or as soon as ``max_batch`` requests wait. A full queue drops
    the new request's span and counts it in ``dropped`` (a request is never blocked by telemetry).

    Args:
        otlp_endpoint: an OTLP/HTTP traces URL (``http://collector:4318/v1/traces``), or None.
        json_path: a file to append OTLP/JSON lines to, or None.
        service_name: the ``service.name`` resource attribute.
        headers: extra HTTP headers for the OTLP endpoint (authentication). # header -> value
        schedule_delay_ms: the longest a span waits before its batch is exported.
        max_queue_size: spans held before new ones are dropped.
        max_batch: spans per export call.

    Raises:
        ValidationError: neither destination given, or the OpenTelemetry packages are missing.
    """

    def __init__(
        self,
        *,
        otlp_endpoint: str | None = None,
        json_path: str | Path | None = None,
        service_name: str = "tokenomy-gateway",
        headers: Mapping[str, str] | None = None,
        schedule_delay_ms: float = 1000.0,
        max_queue_size: int = 65536,
        max_batch: int = 512,
    ) -> None:
        if not otlp_endpoint and json_path is None:
            raise ValidationError("telemetry needs an otlp_endpoint, a json_path, or both")
        if not schedule_delay_ms > 0 or max_queue_size < 1 or max_batch < 1:
            raise ValidationError("schedule_delay_ms must be > 0, max_queue_size and max_batch ≥ 1")
        try:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        except ImportError:
            raise ValidationError(f"OpenTelemetry export needs opentelemetry-sdk; {_EXTRA}") from None
        self.resource = Resource.create({"service.name": service_name})
        self.scope = InstrumentationScope("tokenomy.gateway")
        self._resource_json = _attributes(self.resource.attributes)
        self.exporters: list[Any] = []
        if otlp_endpoint:
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            except ImportError:
                raise ValidationError(
                    f"OTLP/HTTP export needs opentelemetry-exporter-otlp-proto-http; {_EXTRA}"
                ) from None
            self.exporters.append(OTLPSpanExporter(endpoint=otlp_endpoint, headers=dict(headers or {})))
        if json_path is not None:
            self.exporters.append(OtlpJsonFileExporter(json_path))
        self.delay_s = schedule_delay_ms / 1000.0
        self.max_queue_size = max_queue_size
        self.max_batch = max_batch
        self.dropped = 0
        self.exported = 0
        self.export_failures = 0
        self._queue: deque[tuple[RequestSpan, int, int]] = deque()
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._busy = False
        self._closed = False
        self._rand = random.Random()
        self._worker = threading.Thread(target=self._run, name="tokenomy-telemetry", daemon=True)
        self._worker.start()

    def record(self, req: RequestSpan) -> str:
        """Queue the request's span; return its trace id (32 hex characters)."""
        bits = self._rand.getrandbits
        trace_id, span_id = bits(128) or 1, bits(64) or 1
        q = self._queue
        if self._closed or len(q) >= self.max_queue_size:
            self.dropped += 1
        else:
            q.append((req, trace_id, span_id))
            if len(q) >= self.max_batch:
                self._wake.set()
        return f"{trace_id:032x}"

    def _spans(self, batch: Sequence[tuple[RequestSpan, int, int]]) -> list[ReadableSpan]:
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

        flags = TraceFlags(TraceFlags.SAMPLED)
        ok, out = Status(StatusCode.UNSET), []
        for req, trace_id, span_id in batch:
            out.append(
                ReadableSpan(
                    f"{req.operation} {req.request_model}",
                    context=SpanContext(trace_id, span_id, is_remote=False, trace_flags=flags),
                    resource=self.resource,
                    attributes=req.attributes(),
                    kind=SpanKind.CLIENT,
                    status=Status(StatusCode.ERROR, req.error_type) if req.error_type else ok,
                    start_time=int(req.start_ns),
                    end_time=int(req.end_ns),
                    instrumentation_scope=self.scope,
                )
            )
        return out

    def _export_some(self) -> int:
        q, batch = self._queue, list[tuple[RequestSpan, int, int]]()
        while q and len(batch) < self.max_batch:
            batch.append(q.popleft())
        if not batch:
            return 0
        from opentelemetry.sdk.trace.export import SpanExportResult

        spans: list[ReadableSpan] | None = None
        for exp in self.exporters:
            try:
                if isinstance(exp, OtlpJsonFileExporter):  # straight to JSON: no SDK span objects
                    scope = {"name": self.scope.name, "version": ""}
                    spans_json = [request_span_json(*b) for b in batch]
                    resource = {"attributes": self._resource_json}
                    ok = exp.write(
                        {
                            "resourceSpans": [
                                {"resource": resource, "scopeSpans": [{"scope": scope, "spans": spans_json}]}
                            ]
                        }
                    )
                else:
                    spans = self._spans(batch) if spans is None else spans
                    ok = exp.export(spans) == SpanExportResult.SUCCESS
            except Exception:
                ok = False
            if not ok:
                self.export_failures += 1
        self.exported += len(batch)
        return len(batch)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.delay_s)
            self._wake.clear()
            with self._idle:
                self._busy = True
            while self._export_some():
                pass
            with self._idle:
                self._busy = False
                self._idle.notify_all()
            if self._closed and not self._queue:
                return

    def flush(self, timeout_ms: int = 30000) -> bool:
        """Export every span queued so far; True when the queue emptied in time."""
        deadline = time.monotonic() + timeout_ms / 1000.0
        self._wake.set()
        with self._idle:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or not self._worker.is_alive():
                    return False
                self._wake.set()
                self._idle.wait(min(left, 0.05))
        for exp in self.exporters:
            exp.force_flush()
        return True

    def close(self, timeout_ms: int = 30000) -> None:
        """Export what is queued, stop the worker and close the exporters (call on shutdown)."""
        if self._closed:
            return
        self.flush(timeout_ms)
        self._closed = True
        self._wake.set()
        self._worker.join(timeout_ms / 1000.0)
        for exp in self.exporters:
            exp.shutdown()
