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
# attribute name -> (column, rank); rank 0 = the current name, higher = older aliases
_RANK = {name: (col, rank) for col, names in ATTRIBUTES.items() for rank, name in enumerate(names)}
_HEXCHARS = frozenset("0123456789abcdefABCDEF")


def _is_hex(value: Any, length: int) -> bool:
    return isinstance(value, str) and len(value) == length and set(value) <= _HEXCHARS


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
        before = len(self._steps)
        labels: dict[str, dict[str, Any]] = {}
        append = self._steps.appenders()
        starts = self._start_ns
        try:
            for rs in request["resourceSpans"]:
                for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or ():
                    for span in ss.get("spans", ()):
                        row, start = self._span(span, where, labels)
                        for ap, v in zip(append, row, strict=True):
                            ap(v)
                        starts.append(start)
        except (TypeError, AttributeError, KeyError, ValueError) as exc:
            self._steps.truncate(before)
            del starts[before:]
            if isinstance(exc, SchemaError):
                raise
            raise SchemaError(f"{where}: malformed OTLP structure ({type(exc).__name__}: {exc})") from None
        for tid, lab in labels.items():
            merged = self._labels.setdefault(tid, {})
            for k, v in lab.items():
                if k not in merged or lab.get("_root"):
                    merged[k] = v
        return len(self._steps) - before

    def _span(
        self, span: Mapping[str, Any], where: str, labels: dict[str, dict[str, Any]]
    ) -> tuple[tuple[Any, ...], int]:
        trace_id = span.get("traceId")
        span_id = span.get("spanId")
        parent = span.get("parentSpanId") or ""
        if not (_is_hex(trace_id, 32) and _is_hex(span_id, 16) and (not parent or _is_hex(parent, 16))):
            _hex_id(trace_id, "traceId", where, 32)
            _hex_id(span_id, "spanId", where, 16)
            _hex_id(parent, "parentSpanId", where, 16, allow_empty=True)
        start = _nanos(span.get("startTimeUnixNano", 0), "startTimeUnixNano", where)
        end = _nanos(span.get("endTimeUnixNano", start), "endTimeUnixNano", where)
        values: dict[str, Any] = {}
        ranks: dict[str, int] = {}
        raw: dict[str, Any] | None = None
        for a in span.get("attributes", ()):
            key = a["key"]
            hit = _RANK.get(key)
            tok = key.startswith("tokenomy.")
            if hit is None and not tok:
                continue
            v = a.get("value") or {}
            if "stringValue" in v:
                val = v["stringValue"]
            elif "intValue" in v:
                val = int(v["intValue"])
            else:
                val = attribute_value(v)
            if tok:
                if raw is None:
                    raw = {}
                raw[key] = val
            if hit is not None and val is not None:
                col, rank = hit
                if rank < ranks.get(col, 99):
                    ranks[col] = rank
                    values[col] = val
        op = str(values.get("operation", ""))
        sk = str(values.get("span_kind", ""))
        kind = OPERATION_KIND.get(op) or SPAN_KIND_KIND.get(sk.upper(), "")
        if not kind:
            kind = "llm" if "input_tokens" in values or "output_tokens" in values else "group"
        try:
            toks = [int(values.get(c, 0)) for c in _INT_COLUMNS]
        except (TypeError, ValueError):
            raise SchemaError(
                f"{where}: span {span_id}: token counts must be integers, got "
                f"{ {c: values[c] for c in _INT_COLUMNS if c in values} }"
            ) from None
        tool = action = autonomy = ""
        if kind == "tool":
            tool = str(values.get("tool") or span.get("name", ""))
            action = str(values.get("action_class", tool))
            autonomy = str(values.get("autonomy_class") or classify_tool(tool))
        status = (span.get("status") or {}).get("code")
        row = (
            trace_id,
            span_id,
            parent,
            0,
            start / 1e9,
            max(end - start, 0) / 1e9,
            kind,
            op or sk.lower(),
            str(values.get("model", "")),
            str(values.get("provider", "")),
            *toks,
            float(values["reported_cost_usd"]) if "reported_cost_usd" in values else float("nan"),
            tool,
            action,
            autonomy,
            int(bool(values["confirmed"])) if "confirmed" in values else -1,
            int(bool(values["correct"])) if "correct" in values else -1,
            bool(values.get("malformed", False)),
            status in (_STATUS_ERROR, "STATUS_CODE_ERROR"),
        )
        if raw:
            lab = {k: raw[name] for k, name in LABEL_ATTRIBUTES.items() if raw.get(name) is not None}
            if lab:
                if not parent:
                    lab["_root"] = True
                labels.setdefault(str(trace_id), {}).update(lab)
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
