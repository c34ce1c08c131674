"""The audit's in-memory view of a log: one columnar table of steps, one of requests (tasks, traces).

Every importer (OTLP spans, LiteLLM spend logs, Langfuse observations, agent trajectories, a tokenomy
ledger) produces an ``AuditLog``; pricing fills ``cost_usd``; the detectors and the report read it.
A step is one LLM call (``kind="llm"``: a priced token use) or one tool action (``kind="tool"``:
classed for risk). Columns are numpy arrays (no Python object per row) so 20,000 agent steps or a
million OTLP spans are audited in seconds. Per-request prices (V, λ, ρ, ρ_irr) and outcome labels sit
in ``RequestTable`` with the source of each price (SPEC.md §2). This module does no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError

__all__ = ["STEP_COLUMNS", "AuditLog", "RequestTable", "StepBuilder", "StepTable"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
OBJ = NDArray[np.object_]

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
}


@dataclass(frozen=True, slots=True)
class StepTable:
    """Columnar steps; every array has the same length N. See ``STEP_COLUMNS`` for meaning and units.

    ``cost_usd`` is the cost recomputed from a price table (NaN until priced, or for an unknown model).
    ``tool_args`` may be left out (all ""); ``autonomy_class`` is "" for a tool step the log did not
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
    cost_usd: F64 = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        n = len(self.request_id)
        for name in (*STEP_COLUMNS, "cost_usd"):
            arr = getattr(self, name)
            if name == "cost_usd" and len(arr) == 0 and n:
                object.__setattr__(self, name, np.full(n, np.nan))
                continue
            if name == "tool_args" and len(arr) == 0 and n:  # importers without arguments leave it out
                object.__setattr__(self, name, np.full(n, "", dtype=object))
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
class RequestTable:
    """One row per request: its prices (with sources) and its outcome labels.

    Attributes:
        request_id: shape (R,), unique.
        v_usd, lam_usd_per_s, rho_usd, rho_irr_usd: the Eq. 1 prices of each request.
        quality: realised quality in [0, 1] (resolved, reward); NaN when the log carries no label.
        harm, harm_irr: realised harm units, total and its irreversible part, priced by core's rule
            (ρ·(harm − harm_irr) + ρ_irr·harm_irr); NaN when unknown.
        sources: per price name -> per-row source ("user", "default", ...), shape (R,) each.
        group: free label per request (repo, tenant, trial); "" when none.
    """

    request_id: OBJ
    v_usd: F64
    lam_usd_per_s: F64
    rho_usd: F64
    rho_irr_usd: F64
    quality: F64
    harm: F64
    harm_irr: F64
    sources: dict[str, OBJ]  # price name -> array of source labels
    group: OBJ

    def __len__(self) -> int:
        return len(self.request_id)

    def __post_init__(self) -> None:
        n = len(self.request_id)
        for name in (
            "v_usd",
            "lam_usd_per_s",
            "rho_usd",
            "rho_irr_usd",
            "quality",
            "harm",
            "harm_irr",
            "group",
        ):
            if len(getattr(self, name)) != n:
                raise ValidationError(
                    f"RequestTable.{name} has {len(getattr(self, name))} rows; expected {n}"
                )
        if len(set(self.request_id.tolist())) != n:
            raise ValidationError("RequestTable.request_id must be unique")

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, Any]]) -> RequestTable:
        """Build from dicts with ``request_id`` and optional prices, ``*_source``, labels and ``group``."""

        def col(name: str, default: float) -> F64:
            return np.array(
                [float(r.get(name, default)) if r.get(name) is not None else default for r in rows],
                dtype=np.float64,
            )

        def obj(values: list[Any]) -> OBJ:
            arr = np.empty(len(values), dtype=object)
            arr[:] = values
            return arr

        rho = col("rho_usd", 0.0)
        rho_irr = np.maximum(col("rho_irr_usd", np.nan), rho)
        rho_irr = np.where(np.isnan(rho_irr), rho, rho_irr)
        return cls(
            request_id=obj([str(r["request_id"]) for r in rows]),
            v_usd=col("v_usd", 0.0),
            lam_usd_per_s=col("lam_usd_per_s", 0.0),
            rho_usd=rho,
            rho_irr_usd=rho_irr,
            quality=col("quality", np.nan),
            harm=col("harm", np.nan),
            harm_irr=col("harm_irr", np.nan),
            sources={
                p: obj([str(r.get(f"{p}_source", "default")) for r in rows])
                for p in ("v", "lam", "rho", "rho_irr")
            },
            group=obj([str(r.get("group", "")) for r in rows]),
        )


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
        ids, inverse = np.unique(self.steps.request_id.astype(str), return_inverse=True)
        order = {rid: i for i, rid in enumerate(self.requests.request_id.tolist())}
        lookup = np.array([order.get(r, -1) for r in ids.tolist()], dtype=np.int64)
        return lookup[inverse] if len(ids) else np.zeros(0, dtype=np.int64)
