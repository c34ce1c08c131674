"""A file SpanExporter for tests: writes each export batch as one OTLP JSON ``ExportTraceServiceRequest``
line (the OTel collector file-exporter format), serialising the SDK's ``ReadableSpan`` by the OTLP JSON
mapping (the SDK has no file exporter and the OTLP proto encoder is not installed)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


def any_value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, list | tuple):
        return {"arrayValue": {"values": [any_value(x) for x in v]}}
    return {"stringValue": str(v)}


def attrs(a: Any) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in (a or {}).items()]


def span_json(s: ReadableSpan) -> dict[str, Any]:
    ctx = s.get_span_context()
    return {
        "traceId": f"{ctx.trace_id:032x}",
        "spanId": f"{ctx.span_id:016x}",
        "parentSpanId": f"{s.parent.span_id:016x}" if s.parent else "",
        "name": s.name,
        "kind": s.kind.value + 1,
        "startTimeUnixNano": str(s.start_time),
        "endTimeUnixNano": str(s.end_time),
        "attributes": attrs(s.attributes),
        "status": {"code": s.status.status_code.value},
    }


class FileSpanExporter(SpanExporter):
    """Appends one JSON line per export call."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        by_scope: dict[str, list[dict[str, Any]]] = {}
        resource = spans[0].resource if spans else None
        for s in spans:
            name = s.instrumentation_scope.name if s.instrumentation_scope else ""
            by_scope.setdefault(name, []).append(span_json(s))
        req = {
            "resourceSpans": [
                {
                    "resource": {"attributes": attrs(resource.attributes if resource else {})},
                    "scopeSpans": [{"scope": {"name": n}, "spans": sp} for n, sp in by_scope.items()],
                }
            ]
        }
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(req) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None
