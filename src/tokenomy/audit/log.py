"""The audit's in-memory view of a log: one columnar table of steps, one of requests (tasks, traces).

Every importer (OTLP spans, LiteLLM spend logs, Langfuse observations, agent trajectories, a tokenomy
ledger) produces an ``AuditLog``; pricing fills ``cost_usd``; the detectors and the report read it.
A step is one LLM call (``kind="llm"``: a priced token use) or one tool action (``kind="tool"``:
classed for risk). Columns are numpy arrays (no Python object per row) so 20,000 agent steps or a
million OTLP spans are audited in seconds. Per-request prices (V, λ, ρ, ρ_irr) and outcome labels sit
in ``RequestTable`` with the source of each price (SPEC.md §2); that table lives in
``tokenomy.audit.request_table`` (re-exported here). This module does no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.audit.request_table import RequestTable
from tokenomy.core.errors import ValidationError

__all__ = [
    "MAX_TOKENS_PER_CALL",
    "STEP_COLUMNS",
    "AuditLog",
    "Duplicates",
    "RequestTable",
    "StepBuilder",
    "StepTable",
    "latest_steps",
]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
OBJ = NDArray[np.object_]

MAX_TOKENS_PER_CALL = 10**9
"""Sanity bound on one call's token count (any column): the largest context windows are ~10^7, so a
count above 10^9 is a corrupt log, rejected by every importer rather than billed."""

# name -> (dtype, default); the order is the order of ``StepBuilder.add`` keyword arguments.
STEP_COLUMNS: dict[str, tuple[str, Any]] = {
    "request_id": ("O", ""),  # task / trace / request the step belongs to
    "step_id": ("O", ""),  # span id, call id or "<request>:<index>"
    "parent_id": ("O", ""),  # parent span ("" at the root)
    "index": ("i8", 0),  # position within the request (0-based, time order)
    "time_s": ("f8", np.nan),  # start, seconds since the Unix epoch (NaN when unknown)
    "latency_s": ("f8", np.nan),  # duration, seconds (NaN when unknown)
    "kind": ("O", "llm"),  # llm | tool | group
    "operation": ("O", ""),  # chat, text_completion, embeddings, execute_tool, invoke_agent ...
    "model": ("O", ""),  # response model (else request model)
    "provider": ("O", ""),  # gen_ai.provider.name / gen_ai.system
    "input_tokens": ("i8", 0),  # all prompt tokens, cached ones included
    "output_tokens": ("i8", 0),  # all completion tokens, reasoning included
    "cache_read_tokens": ("i8", 0),
    "cache_write_tokens": ("i8", 0),
    "reasoning_tokens": ("i8", 0),
    "reported_cost_usd": ("f8", np.nan),  # what the provider or gateway reported (NaN when absent)
    "tool": ("O", ""),  # tool name for kind == "tool"
    "action_class": ("O", ""),  # detailed label: edit, test, run, search, read, submit, book ...
    "autonomy_class": ("O", ""),  # read, draft, execute, commit, defer ... ("" = llm call or not yet classed)
    "confirmed": ("i8", -1),  # 1 confirmed by a human before acting, 0 not, -1 unknown
    "correct": ("i8", -1),  # 1 the action matched the reference, 0 it did not, -1 unknown
    "malformed": ("?", False),  # the reply could not be parsed (format error)
    "error": ("?", False),  # the call failed (status error)
    "tool_args": ("O", ""),  # the tool call's arguments as the log wrote them (JSON text), "" when absent
    # the gateway answered from its own response cache: no provider call; cost = the reported spend
    "cache_hit": ("?", False),
    # the log carries no cache-read (cache-write) count for this call, so pricing cannot split its input
    "cache_read_unknown": ("?", False),
    "cache_write_unknown": ("?", False),
}
_OPTIONAL = ("tool_args", "cache_hit", "cache_read_unknown", "cache_write_unknown")
"""Columns an importer may leave out (empty array): filled with their defaults."""


@dataclass(frozen=True, slots=True)
class StepTable:
    """Columnar steps; every array has the same length N. See ``STEP_COLUMNS`` for meaning and units.

    ``cost_usd`` is the cost recomputed from a price table (NaN until priced, or for an unknown model).
    ``tool_args``, ``cache_hit`` and the ``cache_*_unknown`` flags may be left out (all "" / False);
    ``autonomy_class`` is "" for a tool step the log did not
    label, until the audit classes it with the schedule (``tokenomy.audit.actions.classify_steps``).
    """

    request_id: OBJ
    step_id: OBJ
    parent_id: OBJ
    index: I64
    time_s: F64
    latency_s: F64
    kind: OBJ
    operation: OBJ
    model: OBJ
    provider: OBJ
    input_tokens: I64
    output_tokens: I64
    cache_read_tokens: I64
    cache_write_tokens: I64
    reasoning_tokens: I64
    reported_cost_usd: F64
    tool: OBJ
    action_class: OBJ
    autonomy_class: OBJ
    confirmed: I64
    correct: I64
    malformed: NDArray[np.bool_]
    error: NDArray[np.bool_]
    tool_args: OBJ = field(default_factory=lambda: np.zeros(0, dtype=object))
    cache_hit: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    cache_read_unknown: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    cache_write_unknown: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    cost_usd: F64 = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        n = len(self.request_id)
        for name in (*STEP_COLUMNS, "cost_usd"):
            arr = getattr(self, name)
            if name == "cost_usd" and len(arr) == 0 and n:
                object.__setattr__(self, name, np.full(n, np.nan))
                continue
            if name in _OPTIONAL and len(arr) == 0 and n:  # importers that do not know it leave it out
                dtype, default = STEP_COLUMNS[name]
                object.__setattr__(self, name, np.full(n, default, dtype=dtype))
                continue
            if len(arr) != n:
                raise ValidationError(f"StepTable.{name} has {len(arr)} rows; request_id has {n}")

    def __len__(self) -> int:
        return len(self.request_id)

    @property
    def is_llm(self) -> NDArray[np.bool_]:
        """Mask of LLM calls (priced token uses)."""
        return np.asarray(self.kind == "llm", dtype=bool)

    def select(self, mask: NDArray[np.bool_] | I64) -> StepTable:
        """The rows where ``mask`` is true (or at the given indices)."""
        return StepTable(**{name: getattr(self, name)[mask] for name in (*STEP_COLUMNS, "cost_usd")})

    def with_cost(self, cost_usd: F64) -> StepTable:
        """A copy with ``cost_usd`` replaced."""
        return replace(self, cost_usd=np.asarray(cost_usd, dtype=np.float64))

    def with_classes(self, autonomy_class: OBJ) -> StepTable:
        """A copy with ``autonomy_class`` replaced."""
        return replace(self, autonomy_class=autonomy_class)

    @classmethod
    def empty(cls) -> StepTable:
        """A table with no rows."""
        return StepBuilder().build()


class StepBuilder:
    """Collects steps row by row (Python lists), then ``build()`` makes the numpy columns once."""

    def __init__(self) -> None:
        self._cols: dict[str, list[Any]] = {name: [] for name in STEP_COLUMNS}
        self._chunks: list[StepTable] = []  # built tables, in order (rows added as lists come after)

    def __len__(self) -> int:
        return len(self._cols["request_id"]) + sum(len(c) for c in self._chunks)

    def add_table(self, table: StepTable) -> None:
        """Append an already columnar batch (a vectorised importer's output) after the rows so far."""
        if len(self._cols["request_id"]):
            self._chunks.append(self._build_lists())
            self._cols = {name: [] for name in STEP_COLUMNS}
        self._chunks.append(table)

    def add(self, **values: Any) -> None:
        """Append one step; missing columns take their defaults, unknown names raise."""
        unknown = set(values) - set(STEP_COLUMNS)
        if unknown:
            raise ValidationError(f"unknown step column(s) {sorted(unknown)}; valid: {list(STEP_COLUMNS)}")
        for name, (_, default) in STEP_COLUMNS.items():
            self._cols[name].append(values.get(name, default))

    def extend_columns(self, columns: Sequence[Sequence[Any]]) -> None:
        """Append a batch given as one sequence per column, in ``STEP_COLUMNS`` order (the fast path
        for importers that parse a whole batch first, then hand it over at once)."""
        if len(columns) != len(self._cols):
            raise ValidationError(f"extend_columns got {len(columns)} columns; expected {len(self._cols)}")
        n = {len(c) for c in columns}
        if len(n) > 1:
            raise ValidationError(f"extend_columns got columns of different lengths {sorted(n)}")
        for col, values in zip(self._cols.values(), columns, strict=True):
            col.extend(values)

    def extend(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append several steps (all or, on a bad row, none)."""
        before = len(self)
        try:
            for r in rows:
                self.add(**r)
        except BaseException:
            for col in self._cols.values():
                del col[before:]
            raise

    def build(self) -> StepTable:
        """The columnar table of every step added so far."""
        if not self._chunks:
            return self._build_lists()
        parts = [*self._chunks, self._build_lists()]
        return StepTable(
            **{
                name: np.concatenate([getattr(p, name) for p in parts])
                for name in (*STEP_COLUMNS, "cost_usd")
            }
        )

    def _build_lists(self) -> StepTable:
        arrays: dict[str, Any] = {}
        for name, (dtype, _) in STEP_COLUMNS.items():
            values = self._cols[name]
            if dtype == "O":
                arr = np.empty(len(values), dtype=object)
                arr[:] = values
            else:
                arr = np.asarray(values, dtype=dtype) if values else np.zeros(0, dtype=dtype)
            arrays[name] = arr
        return StepTable(**arrays)


@dataclass(frozen=True, slots=True)
class Duplicates:
    """Records seen more than once (retries, overlapping exports), by id.

    Attributes:
        dropped: earlier copies identical to the kept one (exact repeats), dropped.
        conflicts: earlier copies whose content differs from the kept one: the later export wins.
    """

    dropped: int = 0
    conflicts: int = 0

    def note(self, source: str, noun: str) -> tuple[str, ...]:
        """The notes an importer adds (none when nothing repeated)."""
        out = []
        if self.dropped:
            s = "" if self.dropped == 1 else "s"
            out.append(f"{source}: {self.dropped} duplicate {noun}{s} dropped (same id, same content)")
        if self.conflicts:
            s = "" if self.conflicts == 1 else "s"
            out.append(
                f"{source}: {self.conflicts} conflicting {noun}{s} (same id, other content): the later "
                "export kept, the earlier dropped"
            )
        return tuple(out)


def latest_steps(
    steps: StepTable, *, counted: NDArray[np.bool_] | None = None
) -> tuple[NDArray[np.int64], Duplicates]:
    """The rows to keep when a step id repeats within a request: the last in file order.

    The key is (``request_id``, ``step_id``): a trace and span id, a gateway request id, a task and
    step. A dropped copy equal to the kept one in every column but ``index`` is a duplicate; one that
    differs is a conflict. Vectorised: the keys are hashed by Arrow, never looped over in Python.

    Args:
        steps: the steps in file order.
        counted: rows that count as records in the totals (default all; e.g. not the tool steps a
            LiteLLM record expands into, which repeat with it).

    Returns:
        The kept row indices (ascending, i.e. file order) and the counts.
    """
    n = len(steps)
    every = np.arange(n, dtype=np.int64)
    if n < 2:
        return every, Duplicates()
    import pyarrow as pa
    import pyarrow.compute as pc

    key = pc.binary_join_element_wise(
        pa.array(steps.request_id, pa.string()), pa.array(steps.step_id, pa.string()), "\x1f"
    )
    enc = pc.dictionary_encode(key)
    if len(enc.dictionary) == n:
        return every, Duplicates()
    codes = np.asarray(enc.indices, dtype=np.int64)
    last = np.full(len(enc.dictionary), -1, np.int64)
    np.maximum.at(last, codes, every)
    keep = last[codes] == every
    gone = np.flatnonzero(~keep)
    kept_of = last[codes[gone]]
    same = np.ones(gone.size, bool)
    for name in (*STEP_COLUMNS, "cost_usd"):
        if name == "index":
            continue
        col = getattr(steps, name)
        a, b = col[gone], col[kept_of]
        eq = np.asarray(a == b, dtype=bool)
        if col.dtype.kind == "f":
            eq |= np.isnan(a) & np.isnan(b)
        same &= eq
    weight = np.ones(gone.size, bool) if counted is None else counted[gone]
    return np.flatnonzero(keep), Duplicates(int((same & weight).sum()), int((~same & weight).sum()))


@dataclass(frozen=True, slots=True)
class AuditLog:
    """What an importer hands to the audit.

    Args:
        source: the input format (otlp, litellm, langfuse, miniswe, taubench, ledger).
        steps: every step.
        requests: one row per request id that appears in ``steps`` (prices and outcomes).
        notes: what the importer could not see or had to assume; shown in every output.
        extra: importer-specific per-request facts (e.g. the cost the agent itself reported); key -> value.
    """

    source: str
    steps: StepTable
    requests: RequestTable
    notes: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def request_index(self) -> I64:
        """For each step, the row of its request in ``requests`` (−1 when absent)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        try:  # Arrow hashes the ids (a million in ~0.1 s); numpy would sort them as text
            idx = pc.index_in(
                pa.array(self.steps.request_id, pa.string()),
                value_set=pa.array(self.requests.request_id, pa.string()),
            )
            return np.asarray(idx.fill_null(-1), dtype=np.int64)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):  # ids that are not all text
            pass
        ids, inverse = np.unique(self.steps.request_id.astype(str), return_inverse=True)
        order = {rid: i for i, rid in enumerate(self.requests.request_id.tolist())}
        lookup = np.array([order.get(r, -1) for r in ids.tolist()], dtype=np.int64)
        return lookup[inverse] if len(ids) else np.zeros(0, dtype=np.int64)
