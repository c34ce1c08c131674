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
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.audit.actions import arguments_text
from tokenomy.audit.importers.common import DEFAULT_PRICES, LABEL_BOUNDS, build_requests, check_label
from tokenomy.audit.log import MAX_TOKENS_PER_CALL, AuditLog, StepBuilder, StepTable, latest_steps
from tokenomy.audit.semconv import ATTRIBUTES, LABEL_ATTRIBUTES, OPERATION_KIND, SPAN_KIND_KIND
from tokenomy.core.errors import SchemaError
from tokenomy.core.prices import PriceVector

__all__ = ["NO_CACHE_OPERATIONS", "TOKEN_COLUMNS", "OtlpImporter", "attribute_value", "tool_from_span_name"]

_HEX = re.compile(r"^[0-9a-fA-F]+$")
_HEX32 = re.compile(r"[0-9a-fA-F]{32}").fullmatch
_HEX16 = re.compile(r"[0-9a-fA-F]{16}").fullmatch
_STATUS_ERROR = 2
MAX_TIME_NS = 2**63 - 1  # the last nanosecond a signed 64-bit count holds (year 2262)
MAX_SPAN_NS = 7 * 86_400 * 10**9  # a span (one model or tool call) longer than 7 days is a corrupt time
TOKEN_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)
"""The integer token-count columns of a step, read from span attributes (also by ``otlp_arrow``)."""
NO_CACHE_OPERATIONS = frozenset({"embeddings", "embedding", "reranker"})
"""LLM operations no provider bills a cache on: a missing cache count there bounds nothing."""
# attribute name -> (column, rank); rank 0 = the current name, higher = older aliases. Request labels
# (``tokenomy.v_usd`` ...) map to ("label:<name>", 0); any other attribute is skipped unread.
_RANK = {name: (col, rank) for col, names in ATTRIBUTES.items() for rank, name in enumerate(names)}
_KEYS = dict(_RANK)
_KEYS.update(
    {
        attr: ("label:" + lab, rank)
        for lab, attrs in LABEL_ATTRIBUTES.items()
        for rank, attr in enumerate(attrs)
    }
)
_LABEL_COLUMNS = frozenset("label:" + lab for lab in LABEL_ATTRIBUTES)


def tool_from_span_name(name: str) -> str:
    """The tool of an ``execute_tool`` span with no ``gen_ai.tool.name``: its name, less the
    ``"execute_tool "`` prefix the GenAI conventions put in span names."""
    return name.removeprefix("execute_tool ").strip() or name


def _ok_id(value: Any, full: Any) -> bool:
    return isinstance(value, str) and full(value) is not None


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


def _token_count(value: Any, col: str, attr_of: Mapping[str, str], where: str, span_id: Any) -> int:
    """A token count as an int, or a SchemaError naming the attribute and the form expected."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        ok = False
    else:
        try:
            n = int(value)
            ok = 0 <= n <= MAX_TOKENS_PER_CALL
        except (TypeError, ValueError):
            ok = False
    if not ok:
        name = attr_of.get(col, ATTRIBUTES[col][0])
        raise SchemaError(
            f"{where}: span {span_id}: attribute {name!r} must be a non-negative integer token count "
            f'of at most {MAX_TOKENS_PER_CALL:.0e} (intValue, e.g. {{"intValue": "1200"}}), got {value!r}'
        )
    return n


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def structure_error(request: Mapping[str, Any]) -> str | None:
    """The first field of an export request that breaks the OTLP JSON nesting (``resourceSpans[]`` →
    ``scopeSpans[]`` → ``spans[]`` → ``attributes[]`` of ``{key, value: {...}}``), named by its path
    with the form expected; None when the nesting is right (the problem is elsewhere)."""

    def bad(at: str, value: Any, form: str) -> str:
        return f"field {at!r}={_shown(value)}; expected {form}"

    def items(value: Any, at: str, form: str) -> list[Any] | str:
        if not isinstance(value, list):
            return bad(at, value, f"a list of {form}")
        for i, x in enumerate(value):
            if not isinstance(x, Mapping):
                return bad(f"{at}[{i}]", x, form)
        return value

    rss = items(request.get("resourceSpans"), "resourceSpans", "objects with 'scopeSpans'")
    if isinstance(rss, str):
        return rss
    for i, rs in enumerate(rss):
        key = "scopeSpans" if rs.get("scopeSpans") else "instrumentationLibrarySpans"
        at = f"resourceSpans[{i}].{key}"
        sss = items(rs.get(key) or [], at, "objects with 'spans'")
        if isinstance(sss, str):
            return sss
        for j, ss in enumerate(sss):
            spans = items(ss.get("spans", []), f"{at}[{j}].spans", "span objects")
            if isinstance(spans, str):
                return spans
            for k, span in enumerate(spans):
                sat = f"{at}[{j}].spans[{k}]"
                attrs = items(span.get("attributes", []), f"{sat}.attributes", "{'key', 'value'} objects")
                if isinstance(attrs, str):
                    return attrs
                for m, a in enumerate(attrs):
                    if not isinstance(a.get("key"), str):
                        return bad(f"{sat}.attributes[{m}].key", a.get("key"), "a string")
                    v = a.get("value")
                    if v is not None and not isinstance(v, Mapping):
                        return bad(f"{sat}.attributes[{m}].value", v, 'an object like {"intValue": "12"}')
                status = span.get("status")
                if status is not None and not isinstance(status, Mapping):
                    return bad(f"{sat}.status", status, 'an object like {"code": 2}')
    return None


class OtlpImporter:
    """Accumulates OTLP export requests, then ``finish()`` makes the ``AuditLog``.

    Args:
        defaults: prices for requests whose spans and side file give none.
    """

    def __init__(self, *, defaults: PriceVector = DEFAULT_PRICES) -> None:
        self.defaults = defaults
        self._steps = StepBuilder()
        # trace id -> label -> value, from root spans and from the others (a root span's value wins;
        # otherwise the first span in file order that carries the label)
        self._labels: tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]] = ({}, {})
        self._start_ns: list[int] = []
        self._start_chunks: list[NDArray[np.int64]] = []  # start times of batches added as tables
        self._traces_ok: set[Any] = set()  # trace ids already checked to be 32 hex characters

    def __len__(self) -> int:
        return len(self._steps)

    def add(self, request: Mapping[str, Any], where: str) -> int:
        """Add every span of one ``ExportTraceServiceRequest`` (all or none); return how many.

        Raises:
            SchemaError: the object does not follow the OTLP JSON mapping (``where`` names the place).
        """
        if not isinstance(request, Mapping) or "resourceSpans" not in request:
            raise SchemaError(f"{where}: expected an OTLP export request with 'resourceSpans'")
        labels: list[tuple[str, dict[str, Any]]] = []
        rows: list[tuple[Any, ...]] = []
        span_row = self._span
        try:
            for rs in request["resourceSpans"]:
                for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or ():
                    for span in ss.get("spans", ()):
                        rows.append(span_row(span, where, labels))
        except SchemaError:
            raise
        except (TypeError, AttributeError, KeyError, ValueError) as exc:
            found = structure_error(request)
            if found is not None:
                raise SchemaError(f"{where}: {found}") from None
            raise SchemaError(f"{where}: malformed OTLP structure ({type(exc).__name__}: {exc})") from None
        # the whole request parsed: only now does it reach the columns (a bad line adds nothing)
        if rows:
            cols = list(zip(*rows, strict=True))
            self._start_ns.extend(cols.pop())
            self._steps.extend_columns(cols)
        self._merge(labels)
        return len(rows)

    def _merge(self, labels: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Fold label updates in (file order): per trace, root spans' values first, then the first seen."""
        for tid, lab in labels:
            target = self._labels[0 if lab.get("_root") else 1].setdefault(tid, {})
            for k, v in lab.items():
                target.setdefault(k, v)

    def add_steps(
        self,
        steps: StepTable,
        start_ns: NDArray[np.int64],
        labels: Sequence[tuple[int, str, Mapping[str, Any]]],
    ) -> int:
        """Add a columnar batch (the vectorised importer's output): steps in file order, their start
        times (ns), and label updates in file order as (export request index, trace id, labels)."""
        self._start_chunks.append(np.asarray(self._start_ns, dtype=np.int64))
        self._start_ns = []
        self._start_chunks.append(np.asarray(start_ns, dtype=np.int64))
        self._steps.add_table(steps)
        self._merge([(tid, lab) for _, tid, lab in labels])
        return len(steps)

    def _span(
        self, span: Mapping[str, Any], where: str, labels: list[tuple[str, dict[str, Any]]]
    ) -> tuple[Any, ...]:
        """One span as a row in ``STEP_COLUMNS`` order plus its start (ns) as the last element."""
        trace_id = span.get("traceId")
        span_id = span.get("spanId")
        parent = span.get("parentSpanId") or ""
        seen = self._traces_ok
        if trace_id not in seen:
            if not _ok_id(trace_id, _HEX32):
                _hex_id(trace_id, "traceId", where, 32)
            seen.add(trace_id)
        if not _ok_id(span_id, _HEX16) or (parent and not _ok_id(parent, _HEX16)):
            _hex_id(span_id, "spanId", where, 16)
            _hex_id(parent, "parentSpanId", where, 16, allow_empty=True)
        try:
            start = int(span.get("startTimeUnixNano", 0))
        except (TypeError, ValueError):
            start = _nanos(span.get("startTimeUnixNano"), "startTimeUnixNano", where)
        end_raw = span.get("endTimeUnixNano")
        try:
            end = start if end_raw is None else int(end_raw)
        except (TypeError, ValueError):
            end = _nanos(end_raw, "endTimeUnixNano", where)
        for name, value in (("startTimeUnixNano", start), ("endTimeUnixNano", end)):
            if value > MAX_TIME_NS:
                raise SchemaError(
                    f"{where}: span {span_id}: {name}={value} is beyond year 2262 (> {MAX_TIME_NS} ns); "
                    "expected nanoseconds since the epoch"
                )
        if end - start > MAX_SPAN_NS:
            raise SchemaError(
                f"{where}: span {span_id}: endTimeUnixNano={end} is {(end - start) / 86_400e9:.3g} days "
                "after startTimeUnixNano; expected a span of at most 7 days"
            )
        if start < 0 or end < start:
            name, value = ("startTimeUnixNano", start) if start < 0 else ("endTimeUnixNano", end)
            raise SchemaError(
                f"{where}: span {span_id}: {name}={value} is "
                f"{'negative' if start < 0 else 'before startTimeUnixNano'}; expected nanoseconds since "
                "the epoch, 0 ≤ startTimeUnixNano ≤ endTimeUnixNano"
            )
        values: dict[str, Any] = {}
        ranks: dict[str, int] = {}
        attr_of: dict[str, str] = {}  # column -> the attribute name its value came from
        keys = _KEYS
        for a in span.get("attributes", ()):
            hit = keys.get(a["key"])
            if hit is None:
                continue
            v = a.get("value") or {}
            val = v.get("stringValue")
            if val is None:
                iv = v.get("intValue")
                try:
                    val = int(iv) if iv is not None else attribute_value(v)
                except (TypeError, ValueError):
                    raise SchemaError(
                        f"{where}: span {span_id}: attribute {a['key']!r}: intValue must be an integer "
                        f"(a JSON number or a string of digits), got {iv!r}"
                    ) from None
                if val is None:
                    continue
            col, rank = hit
            if col in values and ranks[col] <= rank:
                continue
            ranks[col] = rank
            values[col] = val
            attr_of[col] = a["key"]
        get = values.get
        op = str(get("operation", ""))
        sk = str(get("span_kind", ""))
        kind = OPERATION_KIND.get(op) or SPAN_KIND_KIND.get(sk.upper(), "")
        if not kind:
            kind = "llm" if "input_tokens" in values or "output_tokens" in values else "group"
        toks = [_token_count(get(c, 0), c, attr_of, where, span_id) for c in TOKEN_COLUMNS]
        operation = op or sk.lower()
        cached = kind == "llm" and operation not in NO_CACHE_OPERATIONS  # a call whose input can be cached
        tool = action = autonomy = args = ""
        if kind == "tool":
            tool = str(get("tool") or tool_from_span_name(str(span.get("name", ""))))
            action = str(get("action_class", tool))
            autonomy = str(get("autonomy_class", ""))  # "": classed by the audit under the schedule
            args = arguments_text(get("tool_args"))
        status = (span.get("status") or {}).get("code")
        cost = get("reported_cost_usd")
        if cost is None and (
            "reported_cost_prompt_usd" in values or "reported_cost_completion_usd" in values
        ):
            cost = float(get("reported_cost_prompt_usd", 0.0)) + float(
                get("reported_cost_completion_usd", 0.0)
            )
        conf = get("confirmed")
        corr = get("correct")
        if not _LABEL_COLUMNS.isdisjoint(values):
            lab = {c[6:]: values[c] for c in values if c.startswith("label:")}
            for name in LABEL_BOUNDS.keys() & lab.keys():
                lab[name] = check_label(
                    name, lab[name], f"{where}: span {span_id}: attribute {attr_of['label:' + name]!r}"
                )
            if lab:
                if not parent:
                    lab["_root"] = True
                labels.append((str(trace_id), lab))
        return (
            trace_id,
            span_id,
            parent,
            0,
            start / 1e9,
            (end - start) / 1e9,
            kind,
            operation,
            str(get("model", "")),
            str(get("provider", "")),
            *toks,
            float("nan") if cost is None else float(cost),
            tool,
            action,
            autonomy,
            -1 if conf is None else int(bool(conf)),
            -1 if corr is None else int(bool(corr)),
            bool(get("malformed", False)),
            status in (_STATUS_ERROR, "STATUS_CODE_ERROR"),
            args,
            False,
            cached and "cache_read_tokens" not in values,
            cached and "cache_write_tokens" not in values,
            start,
        )

    def finish(self, side: Mapping[str, Mapping[str, Any]] | None = None, source: str = "otlp") -> AuditLog:
        """The audit log: steps ordered by (trace, start time), one request per trace."""
        steps = self._steps.build()
        notes: tuple[str, ...] = ()
        dups_dropped = dups_conflicts = 0
        if len(steps):
            starts = np.concatenate([*self._start_chunks, np.asarray(self._start_ns, dtype=np.int64)])
            # the same (trace id, span id) exported again (a retry, overlapping exports): the last wins
            keep, dups = latest_steps(steps)
            if keep.size < len(steps):
                steps, starts = steps.select(keep), starts[keep]
            notes = dups.note(source.upper() if source == "otlp" else source, "span")
            dups_dropped, dups_conflicts = dups.dropped, dups.conflicts
            order = np.lexsort((starts, steps.request_id.astype(str)))
            steps = steps.select(order)
            rid = steps.request_id.astype(str)
            first = np.r_[True, rid[1:] != rid[:-1]]
            group_start = np.maximum.accumulate(np.where(first, np.arange(len(rid)), 0))
            object.__setattr__(steps, "index", np.arange(len(rid), dtype=np.int64) - group_start)
        root, other = self._labels
        known = {
            k: {kk: vv for kk, vv in {**other.get(k, {}), **root.get(k, {})}.items() if kk != "_root"}
            for k in {**other, **root}
        }
        requests = build_requests(steps.request_id.tolist(), known, side, self.defaults)
        notes = (
            "OTLP: each trace is one request; tool spans are classed by tokenomy.autonomy_class, else by "
            "the action layer's classifier on the tool name and arguments under the autonomy schedule",
            *notes,
        )
        extra = {"duplicates_dropped": dups_dropped, "duplicate_conflicts": dups_conflicts}
        return AuditLog(source, steps, requests, notes, extra)
