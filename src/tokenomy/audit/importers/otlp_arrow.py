"""The vectorised OTLP importer: a whole JSON Lines file parsed by Arrow, spans mapped column by column.

Same mapping as ``tokenomy.audit.importers.otlp`` (the one semconv table, the same ranks, kinds, tool
classes, labels and id checks), but with no Python object per span: ``pyarrow.json`` parses the file
(multi-threaded) into nested lists, the attribute lists are flattened once, and each step column is
filled by masks over the attribute keys. It handles the common, clean case; anything it cannot map
exactly (a line that is not an export request, an id that is not hex, a value of an unexpected type,
legacy ``instrumentationLibrarySpans``, an array value on an attribute it reads) raises ``UnsupportedError`` and the caller
re-reads the file with the row-by-row importer, which is the reference and names ``file:line``
for every error. ``tests/audit/test_otlp_arrow.py`` checks that both give identical logs.
No I/O: the loader hands in the parsed ``pyarrow.Table``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from tokenomy.audit.importers.common import LABEL_BOUNDS, label_number
from tokenomy.audit.importers.otlp import (
    MAX_SPAN_NS,
    NO_CACHE_OPERATIONS,
    TOKEN_COLUMNS,
    tool_from_span_name,
)
from tokenomy.audit.log import MAX_TOKENS_PER_CALL, StepTable
from tokenomy.audit.semconv import ATTRIBUTES, LABEL_ATTRIBUTES, OPERATION_KIND, SPAN_KIND_KIND
from tokenomy.core.errors import TokenomyError

__all__ = ["UnsupportedError", "steps_from_table"]

_STR_COLUMNS = ("operation", "span_kind", "model", "provider", "tool", "action_class", "autonomy_class")
_BOOL_COLUMNS = ("confirmed", "correct", "malformed")
_VALUE_FIELDS = ("stringValue", "intValue", "doubleValue", "boolValue")


class UnsupportedError(TokenomyError):
    """The table holds something only the row-by-row importer maps exactly (or reports)."""


def _field(arr: pa.Array, name: str) -> pa.Array | None:
    t = arr.type
    if not pa.types.is_struct(t) or t.get_field_index(name) < 0:
        return None
    return pc.struct_field(arr, name)


def _flatten(arr: pa.Array) -> tuple[pa.Array, NDArray[np.int64]]:
    """Children of a list array and, for each, the index of its parent."""
    if pa.types.is_null(arr.type):
        return pa.array([], pa.null()), np.zeros(0, np.int64)
    if not pa.types.is_list(arr.type):
        raise UnsupportedError(f"expected a list, got {arr.type}")
    return pc.list_flatten(arr), np.asarray(pc.list_parent_indices(arr), dtype=np.int64)


def _obj(values: Any) -> NDArray[np.object_]:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def _strings(arr: pa.Array | None, n: int, default: str = "") -> NDArray[np.object_]:
    if arr is None or pa.types.is_null(arr.type):
        return _obj([default] * n)
    if not pa.types.is_string(arr.type):
        raise UnsupportedError(f"expected strings, got {arr.type}")
    return _obj(pc.fill_null(arr, default).to_pylist())


def _nanos(arr: pa.Array | None, n: int) -> NDArray[np.int64] | None:
    if arr is None or pa.types.is_null(arr.type):
        return None
    try:
        return np.asarray(pc.cast(arr, pa.int64()).fill_null(-1), dtype=np.int64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise UnsupportedError(f"timestamps: {exc}") from None


def _ids_ok(ids: NDArray[np.object_], length: int, allow_empty: bool = False) -> bool:
    arr = pa.array(ids.tolist(), pa.string())
    ok = pc.match_substring_regex(arr, f"^[0-9a-fA-F]{{{length}}}$")
    if allow_empty:
        ok = pc.or_(ok, pc.equal(arr, ""))
    return bool(pc.all(ok).as_py())


def _spans(table: pa.Table) -> tuple[pa.Array, NDArray[np.int64]]:
    """Every span, and for each the record (line) it came from."""
    if "resourceSpans" not in table.column_names:
        raise UnsupportedError("no resourceSpans")
    rs_col = table["resourceSpans"].combine_chunks()
    if rs_col.null_count:
        raise UnsupportedError("a record without resourceSpans")
    rs, rs_line = _flatten(rs_col)
    if not pa.types.is_struct(rs.type):
        raise UnsupportedError("a resourceSpans item that is not an object")
    if _field(rs, "instrumentationLibrarySpans") is not None:
        raise UnsupportedError("legacy instrumentationLibrarySpans")
    ss_list = _field(rs, "scopeSpans")
    if ss_list is None:
        return pa.array([], pa.null()), np.zeros(0, np.int64)
    ss, ss_rs = _flatten(ss_list)
    if not pa.types.is_struct(ss.type):
        raise UnsupportedError("a scopeSpans item that is not an object")
    sp_list = _field(ss, "spans")
    if sp_list is None:
        return pa.array([], pa.null()), np.zeros(0, np.int64)
    spans, sp_ss = _flatten(sp_list)
    if not pa.types.is_struct(spans.type):
        raise UnsupportedError("a span that is not an object")
    return spans, rs_line[ss_rs[sp_ss]] if len(sp_ss) else np.zeros(0, np.int64)


def _resolve(
    codes: NDArray[np.int64],
    code_of: dict[str, int],
    owner: NDArray[np.int64],
    names: tuple[str, ...],
    n: int,
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Per span, the attribute row of the best-ranked name present (first occurrence), and a found mask.

    ``codes`` are the attribute keys dictionary-encoded (``code_of``: key -> code)."""
    pick = np.full(n, -1, np.int64)
    for name in names:
        if name not in code_of:
            continue
        rows = np.flatnonzero(codes == code_of[name])
        if not rows.size:
            continue
        spans, first = np.unique(owner[rows], return_index=True)
        free = pick[spans] < 0
        pick[spans[free]] = rows[first[free]]
    return pick, pick >= 0


def steps_from_table(
    table: pa.Table,
) -> tuple[StepTable, NDArray[np.int64], list[tuple[int, str, dict[str, Any]]]]:
    """Map a parsed OTLP JSON Lines table to steps.

    Returns:
        The steps in file order, their start times (ns), and the label updates in file order as
        (line index, trace id, {label: value, "_root": True when from a root span}).

    Raises:
        UnsupportedError: the table needs the row-by-row importer.
    """
    spans, line = _spans(table)
    n = len(spans)
    if n == 0:
        return StepTable.empty(), np.zeros(0, np.int64), []
    trace = _strings(_field(spans, "traceId"), n)
    span_id = _strings(_field(spans, "spanId"), n)
    parent = _strings(_field(spans, "parentSpanId"), n)
    if not (_ids_ok(trace, 32) and _ids_ok(span_id, 16) and _ids_ok(parent, 16, allow_empty=True)):
        raise UnsupportedError("an id that is not hex")
    start = _nanos(_field(spans, "startTimeUnixNano"), n)
    start = np.zeros(n, np.int64) if start is None else start
    if (start < 0).any():
        raise UnsupportedError("a span without a start time among spans with one")
    end = _nanos(_field(spans, "endTimeUnixNano"), n)
    if end is not None and ((end < -1) | ((end >= 0) & (end < start))).any():
        raise UnsupportedError("a span that ends before it starts (the row importer names it)")
    end = start if end is None else np.where(end < 0, start, end)  # no end: the row importer's rule
    if (end - start > MAX_SPAN_NS).any():
        raise UnsupportedError("a span longer than 7 days (the row importer names it)")

    attrs = _field(spans, "attributes")
    cols: dict[str, Any] = {}
    found: dict[str, NDArray[np.bool_]] = {}
    labels: list[tuple[int, str, dict[str, Any]]] = []
    if attrs is not None and not pa.types.is_null(attrs.type):
        flat, owner = _flatten(attrs)
        keys_arr = _field(flat, "key")
        values = _field(flat, "value")
        if keys_arr is None or values is None or keys_arr.null_count:
            raise UnsupportedError("an attribute without key or value")
        # array / kvlist / bytes values (gen_ai.response.finish_reasons, ...) are fine on attributes
        # nobody reads; on a resolved one they leave no scalar value and the check below hands over
        enc = pc.dictionary_encode(keys_arr)
        codes = np.asarray(enc.indices, dtype=np.int64)
        code_of = {k: i for i, k in enumerate(enc.dictionary.to_pylist())}
        vf = {name: _field(values, name) for name in _VALUE_FIELDS}
        # every column the row importer reads
        # ("tool_args" is resolved below, on tool spans only: ``input.value`` is also an LLM span's prompt)
        skip = ("tool_args",)
        wanted = [c for c in ATTRIBUTES if c not in skip] + ["label:" + k for k in LABEL_ATTRIBUTES]
        for col in wanted:
            names = ATTRIBUTES[col] if col in ATTRIBUTES else LABEL_ATTRIBUTES[col[6:]]
            pick, has = _resolve(codes, code_of, owner, names, n)
            if not has.any():
                continue
            rows = pick[has]
            kinds = {
                k: np.asarray(pc.is_valid(a.take(pa.array(rows))), dtype=bool)
                for k, a in vf.items()
                if a is not None and not pa.types.is_null(a.type)
            }
            if not kinds or not np.logical_or.reduce(list(kinds.values())).all():
                raise UnsupportedError(f"{col}: an attribute with no value")
            found[col] = has
            cols[col] = (rows, kinds)
        cols = {c: _typed(c, rows, kinds, vf, n, found[c]) for c, (rows, kinds) in cols.items()}
        labels = _labels(cols, found, line, trace, parent)

    def s(col: str) -> NDArray[np.object_]:
        out: NDArray[np.object_] = cols[col] if col in cols else _obj([""] * n)
        return out

    op, sk = s("operation"), s("span_kind")
    kind = _obj(
        [OPERATION_KIND.get(o) or SPAN_KIND_KIND.get(k.upper(), "") for o, k in zip(op, sk, strict=True)]
    )
    tok_found = found.get("input_tokens", np.zeros(n, bool)) | found.get("output_tokens", np.zeros(n, bool))
    blank = kind == ""
    kind[blank & tok_found] = "llm"
    kind[blank & ~tok_found] = "group"
    operation = _obj([o or k.lower() for o, k in zip(op, sk, strict=True)])
    is_tool = kind == "tool"
    tool = _obj([""] * n)
    action = _obj([""] * n)
    autonomy = _obj([""] * n)  # "" on an unlabelled tool span: the audit classes it under the schedule
    tool_args = _obj([""] * n)
    if is_tool.any():
        span_names = _strings(_field(spans, "name"), n)
        t_attr = s("tool")
        tool[is_tool] = [
            a or tool_from_span_name(b) for a, b in zip(t_attr[is_tool], span_names[is_tool], strict=True)
        ]
        has_action = found.get("action_class", np.zeros(n, bool))
        action[is_tool] = np.where(has_action[is_tool], s("action_class")[is_tool], tool[is_tool])
        autonomy[is_tool] = s("autonomy_class")[is_tool]
        if attrs is not None and not pa.types.is_null(attrs.type):
            tool_args = _tool_args(codes, code_of, owner, vf, is_tool, n)
    status = _field(spans, "status")
    code = _field(status, "code") if status is not None else None
    if code is None or pa.types.is_null(code.type):
        error = np.zeros(n, bool)
    elif pa.types.is_integer(code.type):
        error = np.asarray(pc.equal(code, 2).fill_null(False), dtype=bool)
    elif pa.types.is_string(code.type):
        error = np.asarray(pc.equal(code, "STATUS_CODE_ERROR").fill_null(False), dtype=bool)
    else:
        raise UnsupportedError(f"status.code of type {code.type}")

    def tri(col: str) -> NDArray[np.int64]:
        return np.asarray(cols[col], np.int64) if col in cols else np.full(n, -1, np.int64)

    zeros = np.zeros(n, np.int64)
    no_flag = np.zeros(n, bool)
    cached = (kind == "llm") & ~np.isin(operation, list(NO_CACHE_OPERATIONS))

    def ints(col: str) -> NDArray[np.int64]:
        return np.asarray(cols.get(col, zeros), np.int64)

    steps = StepTable(
        request_id=trace,
        step_id=span_id,
        parent_id=parent,
        index=zeros.copy(),
        time_s=start / 1e9,
        latency_s=(end - start) / 1e9,
        kind=kind,
        operation=operation,
        model=s("model"),
        provider=s("provider"),
        input_tokens=ints("input_tokens"),
        output_tokens=ints("output_tokens"),
        cache_read_tokens=ints("cache_read_tokens"),
        cache_write_tokens=ints("cache_write_tokens"),
        reasoning_tokens=ints("reasoning_tokens"),
        reported_cost_usd=_reported_cost(cols, n),
        tool=tool,
        action_class=action,
        autonomy_class=autonomy,
        confirmed=tri("confirmed"),
        correct=tri("correct"),
        malformed=np.asarray(cols["malformed"] == 1, bool) if "malformed" in cols else np.zeros(n, bool),
        error=error,
        tool_args=tool_args,
        cache_hit=no_flag,
        cache_read_unknown=cached & ~found.get("cache_read_tokens", no_flag),
        cache_write_unknown=cached & ~found.get("cache_write_tokens", no_flag),
    )
    return steps, start, labels


def _tool_args(
    codes: NDArray[np.int64],
    code_of: dict[str, int],
    owner: NDArray[np.int64],
    vf: dict[str, pa.Array | None],
    is_tool: NDArray[np.bool_],
    n: int,
) -> NDArray[np.object_]:
    """Per span, the arguments text of a tool span (best-ranked name, as the row importer picks it)."""
    out = _obj([""] * n)
    names = ATTRIBUTES["tool_args"]
    keep = np.isin(codes, [code_of[x] for x in names if x in code_of]) & is_tool[owner]
    if not keep.any():
        return out
    rows_all = np.flatnonzero(keep)
    pick, has = _resolve(codes[rows_all], code_of, owner[rows_all], names, n)
    rows = rows_all[pick[has]]
    sv = vf.get("stringValue")
    strings = sv.take(pa.array(rows)) if sv is not None and not pa.types.is_null(sv.type) else None
    if strings is None or strings.null_count:
        raise UnsupportedError("tool_args: a tool call's arguments not given as a string")
    out[has] = strings.to_pylist()
    return out


def _typed(
    col: str,
    rows: NDArray[np.int64],
    kinds: dict[str, NDArray[np.bool_]],
    vf: dict[str, pa.Array | None],
    n: int,
    has: NDArray[np.bool_],
) -> Any:
    """One column's values per span, typed as the row importer types them (else ``UnsupportedError``)."""
    only = [k for k, m in kinds.items() if m.any()]

    def take(name: str) -> pa.Array:
        a = vf[name]
        assert a is not None
        return a.take(pa.array(rows))

    if col in _STR_COLUMNS:
        if only != ["stringValue"]:
            raise UnsupportedError(f"{col}: non-string values {only}")
        out = _obj([""] * n)
        out[has] = take("stringValue").to_pylist()
        return out
    if col in TOKEN_COLUMNS:
        if only != ["intValue"]:
            raise UnsupportedError(f"{col}: token counts given as {only}")
        try:
            vals = np.asarray(pc.cast(take("intValue"), pa.int64()), dtype=np.int64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise UnsupportedError(f"{col}: {exc}") from None
        if (vals < 0).any() or (vals > MAX_TOKENS_PER_CALL).any():
            raise UnsupportedError(f"{col}: a token count out of range")  # the row importer names it
        out_i = np.zeros(n, np.int64)
        out_i[has] = vals
        return out_i
    if col.startswith("reported_cost"):
        out_f = np.full(n, np.nan)
        for k in only:
            if k not in ("doubleValue", "intValue"):
                raise UnsupportedError(f"cost given as {k}")
            m = kinds[k]
            try:
                vals_f = np.asarray(pc.cast(take(k), pa.float64()), dtype=np.float64)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise UnsupportedError(f"cost: {exc}") from None
            idx = np.flatnonzero(has)
            out_f[idx[m]] = vals_f[m]
        return out_f
    if col in _BOOL_COLUMNS:
        if only != ["boolValue"]:
            raise UnsupportedError(f"{col}: non-boolean values {only}")
        out_b = np.full(n, -1, np.int64)
        out_b[has] = np.asarray(take("boolValue"), dtype=bool).astype(np.int64)
        return out_b
    # request labels: kept as Python values (few spans carry them), merged like the row importer
    out_o = np.empty(n, dtype=object)
    idx = np.flatnonzero(has)
    for k in only:
        m = kinds[k]
        arr = take(k)
        if k == "intValue":
            try:
                arr = pc.cast(arr, pa.int64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise UnsupportedError(f"{col}: {exc}") from None
        vals_o = arr.to_pylist()
        for j in np.flatnonzero(m):
            out_o[idx[j]] = vals_o[j]
    return out_o


def _reported_cost(cols: dict[str, Any], n: int) -> NDArray[np.float64]:
    """The reported cost per span: the total, else the sum of OpenInference's prompt + completion parts."""
    total = np.asarray(cols.get("reported_cost_usd", np.full(n, np.nan)), np.float64)
    parts = [cols[c] for c in ("reported_cost_prompt_usd", "reported_cost_completion_usd") if c in cols]
    if parts:
        given = np.logical_or.reduce([~np.isnan(p) for p in parts])
        summed = np.sum([np.nan_to_num(p) for p in parts], axis=0)
        total = np.where(np.isnan(total) & given, summed, total)
    return total


def _labels(
    cols: dict[str, Any],
    found: dict[str, NDArray[np.bool_]],
    line: NDArray[np.int64],
    trace: NDArray[np.object_],
    parent: NDArray[np.object_],
) -> list[tuple[int, str, dict[str, Any]]]:
    lab_cols = [c for c in cols if c.startswith("label:")]
    if not lab_cols:
        return []
    any_lab = np.logical_or.reduce([found[c] for c in lab_cols])
    out = []
    for i in np.flatnonzero(any_lab):
        lab = {c[6:]: cols[c][i] for c in lab_cols if found[c][i]}
        if any(label_number(k, lab[k]) is None for k in LABEL_BOUNDS.keys() & lab.keys()):
            raise UnsupportedError("a numeric label out of range (the row importer names it)")
        if not parent[i]:
            lab["_root"] = True
        out.append((int(line[i]), str(trace[i]), lab))
    return out
