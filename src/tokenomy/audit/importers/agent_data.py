"""The real agent datasets (already loaded into the action layer's records) into audit logs.

* mini-swe-agent + Gemini 3 Pro on SWE-bench Verified (``AgentTrajectory``): every assistant turn is one
  billed LLM call and the bash action it issued (dataset labels: edit / test / run / submit ...; the
  derived autonomy class). Quality = resolved. The provider-reported cost of each call is kept beside
  the cost recomputed from its tokens. For the tasks whose calls carry no cost in the data (16 of 500)
  only the harness's task total is reported: their per-call reported costs are the loader's fitted
  split of that total (so per task, and in sum, the reported figure is the harness's own).
  The derived CSV has no per-call timestamps: calls are priced at the run date (``RUN_DATE_S``).
* tau-bench airline, gpt-4o (``Episode``): every JSON tool call is one action with its autonomy class,
  whether the user said an explicit "yes" before it (commits) and whether it matched a ground-truth
  action. Quality = reward. Realised harm = commits that matched no ground-truth action (a proxy, so
  labelled). The agent's own token costs are not in the dataset.

The file reading is ``tokenomy.interfaces.loaders.agent_data`` (the action layer's loaders); no I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tokenomy.audit.importers.common import DEFAULT_PRICES, build_requests
from tokenomy.audit.log import MAX_TOKENS_PER_CALL, AuditLog, StepTable, latest_steps
from tokenomy.autonomy.trajectory import AgentTrajectory, Episode
from tokenomy.core.errors import SchemaError
from tokenomy.core.prices import PriceVector

__all__ = ["MINISWE_MODEL", "RUN_DATE_S", "from_miniswe", "from_taubench"]

MINISWE_MODEL = ("gemini-3-pro-preview", "google")
RUN_DATE_S = 1763424000.0  # 2025-11-18 00:00 UTC, the date of the 20251118_gemini-3-pro-74pct run


def _obj(values: Sequence[Any]) -> np.ndarray[Any, np.dtype[np.object_]]:
    arr = np.empty(len(values), dtype=object)
    arr[:] = list(values)
    return arr


def from_miniswe(
    trajectories: Sequence[AgentTrajectory],
    *,
    side: Mapping[str, Mapping[str, Any]] | None = None,
    defaults: PriceVector = DEFAULT_PRICES,
) -> AuditLog:
    """Audit log of mini-swe-agent trajectories (columns built directly, no per-step dicts)."""
    steps = [s for t in trajectories for s in t.steps]
    n = len(steps)
    rid = _obj([s.instance_id for s in steps])
    idx = np.fromiter((s.step for s in steps), np.int64, n)

    def ints(attr: str) -> np.ndarray[Any, np.dtype[np.int64]]:
        return np.fromiter((getattr(s, attr) for s in steps), np.int64, n)

    reported = np.fromiter((s.cost_usd for s in steps), np.float64, n)
    imputed_tasks = sum(1 for t in trajectories if any(s.cost_imputed for s in t.steps))
    imputed_calls = sum(1 for s in steps if s.cost_imputed)
    table = StepTable(
        request_id=rid,
        step_id=_obj([f"{s.instance_id}:{s.step}" for s in steps]),
        parent_id=_obj([""] * n),
        index=idx,
        time_s=np.full(n, RUN_DATE_S),
        latency_s=np.full(n, np.nan),
        kind=_obj(["llm"] * n),
        operation=_obj(["chat"] * n),
        model=_obj([MINISWE_MODEL[0]] * n),
        provider=_obj([MINISWE_MODEL[1]] * n),
        input_tokens=ints("num_prompt_tokens"),
        output_tokens=ints("num_completion_tokens"),
        cache_read_tokens=ints("num_cached_tokens"),
        cache_write_tokens=np.zeros(n, np.int64),
        reasoning_tokens=ints("num_reasoning_tokens"),
        reported_cost_usd=reported,
        tool=_obj(["bash"] * n),
        action_class=_obj([s.action_class for s in steps]),
        autonomy_class=_obj([s.autonomy_class or "none" for s in steps]),
        confirmed=np.full(n, -1, np.int64),
        correct=np.full(n, -1, np.int64),
        malformed=np.fromiter((s.format_error for s in steps), bool, n),
        error=np.zeros(n, bool),
    )
    _check_counts(table)
    # a step row repeated in the data (same instance and step): the later row wins, counted in a note
    keep, dups = latest_steps(table)
    if keep.size < n:
        table = table.select(keep)
    known = {t.instance_id: {"quality": 1.0 if t.resolved else 0.0, "group": t.repo} for t in trajectories}
    requests = build_requests([t.instance_id for t in trajectories], known, side, defaults)
    notes = (
        "mini-swe-agent: per-call timestamps are not in the derived data; calls priced at the run date 2025-11-18",
        *(
            (
                f"mini-swe-agent: {imputed_tasks} tasks ({imputed_calls} calls) report only their total cost; "
                "their per-call reported costs are a fitted split of it",
            )
            if imputed_calls
            else ()
        ),
        "mini-swe-agent: action classes are the dataset's regex labels (heuristic)",
        "mini-swe-agent: no latency in the data; λ·L is 0",
        "mini-swe-agent: a sandboxed benchmark, no human confirmation is observable",
        *dups.note("mini-swe-agent", "step row"),
    )
    extra = {
        "capabilities": ("action_classes", "malformed", "cache_tokens", "outcomes"),
        "harness_cost_usd": float(sum(t.instance_cost_usd for t in trajectories)),
        "imputed_cost_calls": imputed_calls,
        "duplicates_dropped": dups.dropped,
        "duplicate_conflicts": dups.conflicts,
    }
    return AuditLog("miniswe", table, requests, notes, extra)


def _check_counts(table: StepTable) -> None:
    """Token counts must lie in [0, ``MAX_TOKENS_PER_CALL``] (records built in code, not by the loader,
    included): a negative count would lower the bill."""
    for name in ("input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens"):
        col = getattr(table, name)
        bad = np.flatnonzero((col < 0) | (col > MAX_TOKENS_PER_CALL))
        if bad.size:
            i = int(bad[0])
            raise SchemaError(
                f"mini-swe-agent step {table.step_id[i]}: field {name!r}={int(col[i])}; expected a whole "
                f"token count in [0, {MAX_TOKENS_PER_CALL:.0e}] ({bad.size} step(s) out of range)"
            )


def episode_id(e: Episode) -> str:
    """Request id of a tau-bench episode."""
    return f"task{e.task_id:02d}-trial{e.trial}"


def from_taubench(
    episodes: Sequence[Episode],
    *,
    side: Mapping[str, Mapping[str, Any]] | None = None,
    defaults: PriceVector = DEFAULT_PRICES,
) -> AuditLog:
    """Audit log of tau-bench episodes: one tool step per function call."""
    rows = [(episode_id(e), k, c) for e in episodes for k, c in enumerate(e.calls)]
    n = len(rows)
    tri = {True: 1, False: 0, None: -1}
    table = StepTable(
        request_id=_obj([r for r, _, _ in rows]),
        step_id=_obj([f"{r}:{c.step}" for r, _, c in rows]),
        parent_id=_obj([""] * n),
        index=np.fromiter((k for _, k, _ in rows), np.int64, n),
        time_s=np.full(n, np.nan),
        latency_s=np.full(n, np.nan),
        kind=_obj(["tool"] * n),
        operation=_obj(["execute_tool"] * n),
        model=_obj(["gpt-4o"] * n),
        provider=_obj(["openai"] * n),
        input_tokens=np.zeros(n, np.int64),
        output_tokens=np.zeros(n, np.int64),
        cache_read_tokens=np.zeros(n, np.int64),
        cache_write_tokens=np.zeros(n, np.int64),
        reasoning_tokens=np.zeros(n, np.int64),
        reported_cost_usd=np.full(n, np.nan),
        tool=_obj([c.tool for _, _, c in rows]),
        action_class=_obj([c.tool for _, _, c in rows]),
        autonomy_class=_obj([c.autonomy_class for _, _, c in rows]),
        confirmed=np.fromiter(
            (tri[c.confirmed_by_user] if c.autonomy_class == "commit" else -1 for _, _, c in rows),
            np.int64,
            n,
        ),
        correct=np.fromiter(
            (tri[c.matches_gt_action] if c.autonomy_class == "commit" else -1 for _, _, c in rows),
            np.int64,
            n,
        ),
        malformed=np.zeros(n, bool),
        error=np.zeros(n, bool),
    )
    known = {
        episode_id(e): {
            "quality": float(e.reward),
            "group": f"task{e.task_id:02d}",
            "harm": float(sum(1 for c in e.commits if c.matches_gt_action is False)),
        }
        for e in episodes
    }
    requests = build_requests([episode_id(e) for e in episodes], known, side, defaults)
    notes = (
        "tau-bench: the agent's token costs are not in the dataset (only the simulated user's); ΔC is 0",
        "tau-bench: realised harm = commits that matched no ground-truth action (a proxy)",
        "tau-bench: confirmation = an explicit user 'yes' before the commit (the dataset's regex label)",
    )
    extra = {
        "capabilities": ("confirmations", "outcomes"),
        "user_sim_cost_usd": float(sum(e.user_sim_cost_usd for e in episodes)),
    }
    return AuditLog("taubench", table, requests, notes, extra)
