"""OpenTelemetry spans (OTLP JSON: ``ExportTraceServiceRequest`` objects) into audit steps.

Follows the OTLP/JSON mapping: ``resourceSpans[].scopeSpans[].spans[]``; attributes are
``{key, value: {stringValue | intValue | doubleValue | boolValue | arrayValue}}``; 64-bit integers may be
JSON strings; trace and span ids are hex strings, kept exactly as written (generic protobuf-JSON
parsing would read them as base64 and corrupt them). Attribute names resolve through the one table
in ``tokenomy.audit.semconv``. ``chat``-like spans become priced LLM steps, ``execute_tool`` spans
become actions (classed for risk), agent / workflow spans become ``group`` steps; the trace is the
request. Reading lines from a file (and reporting file:line) is the loader's job
(``tokenomy.interfaces.loaders.otlp``); this module turns decoded objects into rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from tokenomy.audit.actions import classify_tool
from tokenomy.audit.importers.common import DEFAULT_PRICES, build_requests
from tokenomy.audit.log import AuditLog, StepBuilder
from tokenomy.audit.semconv import ATTRIBUTES, LABEL_ATTRIBUTES, OPERATION_KIND, SPAN_KIND_KIND
from tokenomy.core.errors import SchemaError
from tokenomy.core.prices import PriceVector

__all__ = ["OtlpImporter", "attribute_value"]

_HEX = re.compile(r"^[0-9a-fA-F]+$")
_STATUS_ERROR = 2
_INT_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)
_WANTED = {name: col for col, names in ATTRIBUTES.items() for name in names}


def attribute_value(value: Mapping[str, Any]) -> Any:
    """The Python value of one OTLP ``AnyValue`` (intValue strings become ints)."""
    for key, v in value.items():
        if key == "stringValue" or key == "boolValue" or key == "doubleValue":
            return v
        if key == "intValue":
            return int(v)
        if key == "arrayValue":
            return [attribute_value(x) for x in v.get("values", ())]
        if key == "kvlistValue":
            return {x["key"]: attribute_value(x.get("value", {})) for x in v.get("values", ())}
        if key == "bytesValue":
            return v
    return None


def _hex_id(value: Any, name: str, where: str, length: int, *, allow_empty: bool = False) -> str:
    if value in (None, "") and allow_empty:
        return ""
    if not isinstance(value, str) or len(value) != length or not _HEX.match(value):
        raise SchemaError(f"{where}: {name} must be a {length}-character hex string, got {value!r}")
    return value


def _nanos(value: Any, name: str, where: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SchemaError(
            f"{where}: {name} must be an integer of nanoseconds (number or string), got {value!r}"
        ) from None


class OtlpImporter:
    """Accumulates OTLP export requests, then ``finish()`` makes the ``AuditLog``.

    Args:
        defaults: prices for requests whose spans and side file give none.
    """

    def __init__(self, *, defaults: PriceVector = DEFAULT_PRICES) -> None:
        self.defaults = defaults
        self._steps = StepBuilder()
        self._labels: dict[str, dict[str, Any]] = {}
        self._start_ns: list[int] = []

    def __len__(self) -> int:
        return len(self._steps)

    def add(self, request: Mapping[str, Any], where: str) -> int:
        """Add every span of one ``ExportTraceServiceRequest`` (all or none); return how many.

        Raises:
            SchemaError: the object does not follow the OTLP JSON mapping (``where`` names the place).
        """
        if not isinstance(request, Mapping) or "resourceSpans" not in request:
            raise SchemaError(f"{where}: expected an OTLP export request with 'resourceSpans'")
        rows: list[dict[str, Any]] = []
        starts: list[int] = []
        labels: dict[str, dict[str, Any]] = {}
        try:
            for rs in request["resourceSpans"]:
                for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or ():
                    for span in ss.get("spans", ()):
                        row, start = self._span(span, where, labels)
                        rows.append(row)
                        starts.append(start)
        except (TypeError, AttributeError, KeyError) as exc:
            raise SchemaError(f"{where}: malformed OTLP structure ({type(exc).__name__}: {exc})") from None
        self._steps.extend(rows)
        self._start_ns.extend(starts)
        for tid, lab in labels.items():
            merged = self._labels.setdefault(tid, {})
            for k, v in lab.items():
                if k not in merged or lab.get("_root"):
                    merged[k] = v
        return len(rows)

    def _span(
        self, span: Mapping[str, Any], where: str, labels: dict[str, dict[str, Any]]
    ) -> tuple[dict[str, Any], int]:
        trace_id = _hex_id(span.get("traceId"), "traceId", where, 32)
        span_id = _hex_id(span.get("spanId"), "spanId", where, 16)
        parent = _hex_id(span.get("parentSpanId"), "parentSpanId", where, 16, allow_empty=True)
        start = _nanos(span.get("startTimeUnixNano", 0), "startTimeUnixNano", where)
        end = _nanos(span.get("endTimeUnixNano", start), "endTimeUnixNano", where)
        cols: dict[str, Any] = {}
        raw: dict[str, Any] = {}
        for a in span.get("attributes", ()):
            key = a["key"]
            col = _WANTED.get(key)
            if col is not None or key.startswith("tokenomy."):
                val = attribute_value(a.get("value", {}))
                raw[key] = val
                if col is not None and val is not None:
                    rank = ATTRIBUTES[col].index(key)
                    if col not in cols or rank < cols[col][0]:
                        cols[col] = (rank, val)
        values = {c: v for c, (_, v) in cols.items()}
        op = str(values.get("operation", ""))
        kind = OPERATION_KIND.get(op) or SPAN_KIND_KIND.get(str(values.get("span_kind", "")).upper(), "")
        if not kind:
            kind = "llm" if "input_tokens" in values or "output_tokens" in values else "group"
        row: dict[str, Any] = {
            "request_id": trace_id,
            "step_id": span_id,
            "parent_id": parent,
            "time_s": start / 1e9,
            "latency_s": max(end - start, 0) / 1e9,
            "kind": kind,
            "operation": op or str(values.get("span_kind", "")).lower(),
            "model": str(values.get("model", "")),
            "provider": str(values.get("provider", "")),
            "error": (span.get("status") or {}).get("code") in (_STATUS_ERROR, "STATUS_CODE_ERROR"),
        }
        for col in _INT_COLUMNS:
            if col in values:
                try:
                    row[col] = int(values[col])
                except (TypeError, ValueError):
                    raise SchemaError(
                        f"{where}: span {span_id}: {col} must be an integer, got {values[col]!r}"
                    ) from None
        if "reported_cost_usd" in values:
            row["reported_cost_usd"] = float(values["reported_cost_usd"])
        if kind == "tool":
            tool = str(values.get("tool") or span.get("name", ""))
            row["tool"] = tool
            row["action_class"] = str(values.get("action_class", tool))
            row["autonomy_class"] = str(values.get("autonomy_class") or classify_tool(tool))
        for col in ("confirmed", "correct"):
            if col in values:
                row[col] = int(bool(values[col]))
        if "malformed" in values:
            row["malformed"] = bool(values["malformed"])
        lab = {k: raw[name] for k, name in LABEL_ATTRIBUTES.items() if raw.get(name) is not None}
        if lab:
            if not parent:
                lab["_root"] = True
            labels.setdefault(trace_id, {}).update(lab)
        return row, start

    def finish(self, side: Mapping[str, Mapping[str, Any]] | None = None, source: str = "otlp") -> AuditLog:
        """The audit log: steps ordered by (trace, start time), one request per trace."""
        steps = self._steps.build()
        if len(steps):
            order = np.lexsort((np.asarray(self._start_ns, dtype=np.int64), steps.request_id.astype(str)))
            steps = steps.select(order)
            rid = steps.request_id.astype(str)
            first = np.r_[True, rid[1:] != rid[:-1]]
            group_start = np.maximum.accumulate(np.where(first, np.arange(len(rid)), 0))
            object.__setattr__(steps, "index", np.arange(len(rid), dtype=np.int64) - group_start)
        known = {k: {kk: vv for kk, vv in v.items() if kk != "_root"} for k, v in self._labels.items()}
        requests = build_requests(steps.request_id.tolist(), known, side, self.defaults)
        notes = (
            "OTLP: each trace is one request; tool spans are classed by tokenomy.autonomy_class or by "
            "tool-name keywords (heuristic)",
        )
        return AuditLog(source, steps, requests, notes)
