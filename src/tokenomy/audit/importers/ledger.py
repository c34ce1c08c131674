"""Ledger records (``Decision`` / ``Outcome``) into an audit log, and an audit log back into records.

``from_records``: every decision becomes a step (its chosen candidate's ΔC as cost; metadata keys that
name step columns — ``action_class``, ``autonomy_class``, ``confirmed``, ``correct``, token counts,
``model`` — fill them), every request a row whose prices are its decisions' (the largest V) and whose
quality and harm sum its realised outcomes; the decisions themselves go to the routing, serving and
capital detectors. ``to_records``: one decision per request (the whole run as one token use) and its
realised outcome, so a ledger's ``request_vectors()`` reproduces the audit's per-request vector.
No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tokenomy.audit.log import STEP_COLUMNS, AuditLog, RequestTable, StepBuilder, StepTable
from tokenomy.core.prices import PriceVector
from tokenomy.core.uses import TokenUse
from tokenomy.ledger import Decision, Layer, Outcome

__all__ = ["SET_BY_DECISION", "STEP_KIND", "capabilities", "from_records", "to_records"]

STEP_KIND = {Layer.DEMAND: "llm", Layer.ACTION: "tool", Layer.SUPPLY: "group", Layer.CAPITAL: "group"}
SET_BY_DECISION = (
    "request_id",
    "step_id",
    "index",
    "time_s",
    "kind",
    "operation",
    "model",
    "reported_cost_usd",
)
"""Step columns every decision sets itself; the other columns may come from its metadata."""


def from_records(decisions: Sequence[Decision], outcomes: Sequence[Outcome]) -> AuditLog:
    """Audit log of ledger records (decisions in order; outcomes of the chosen candidates summed).

    The realised outcome of a request is its outcome without a candidate name or, where the ledger
    holds one outcome per candidate (observed counterfactuals), the chosen candidate's."""
    n = len(decisions)
    index = np.zeros(n, dtype=np.int64)
    counters: dict[str, int] = {}
    prices: dict[str, PriceVector] = {}
    for i, d in enumerate(decisions):
        k = counters.get(d.request_id, 0)
        counters[d.request_id] = k + 1
        index[i] = k
        p = prices.get(d.request_id)
        if p is None or d.prices.v_usd > p.v_usd:
            prices[d.request_id] = d.prices
    cols: dict[str, Any] = {
        name: [default] * n for name, (_, default) in STEP_COLUMNS.items() if name not in SET_BY_DECISION
    }
    # metadata keys that name step columns fill them; the same (shared) metadata is read once
    extra_of: dict[int, dict[str, Any]] = {}
    for i, d in enumerate(decisions):
        extra = extra_of.get(id(d.metadata))
        if extra is None:
            extra = extra_of[id(d.metadata)] = {c: d.metadata[c] for c in cols if c in d.metadata}
        for c, v in extra.items():
            cols[c][i] = v
    rids = [d.request_id for d in decisions]
    cols.update(
        request_id=rids,
        step_id=[
            d.decision_id or f"{r}:{k}" for d, r, k in zip(decisions, rids, index.tolist(), strict=True)
        ],
        index=index,
        time_s=[d.time_s for d in decisions],
        kind=[d.metadata.get("kind", STEP_KIND[d.layer]) for d in decisions],
        operation=[d.decision_point for d in decisions],
        model=[d.chosen_name or "" for d in decisions],
        reported_cost_usd=[0.0 if d.chosen is None else d.candidates[d.chosen].dc_usd for d in decisions],
    )
    b = StepBuilder()
    b.extend_columns([cols[name] for name in STEP_COLUMNS])
    chosen_names: dict[str, set[str]] = {}
    for d in decisions:
        if d.chosen_name:
            chosen_names.setdefault(d.request_id, set()).add(d.chosen_name)
    has_plain = {o.request_id for o in outcomes if not o.candidate}
    labels: dict[str, dict[str, float]] = {}
    for o in outcomes:
        if o.candidate and (
            o.request_id in has_plain or o.candidate not in chosen_names.get(o.request_id, ())
        ):
            continue  # a counterfactual: seen by the routing detectors, not realised
        lab = labels.setdefault(o.request_id, {"quality": 0.0, "harm": 0.0, "harm_irr": 0.0})
        lab["quality"] += o.quality
        lab["harm"] += o.harm
        lab["harm_irr"] += o.harm_irr
    rows = []
    fields = ("v_usd", "lam_usd_per_s", "rho_usd", "rho_irr_usd", "v_source", "lam_source", "rho_source")
    price_rows: dict[int, dict[str, Any]] = {}  # a price vector shared by many requests is read once
    for rid in counters:
        p = prices[rid]
        row = price_rows.get(id(p))
        if row is None:
            pd = p.as_dict()
            row = price_rows[id(p)] = {k: pd[k] for k in (*fields, "rho_irr_source")}
        rows.append({"request_id": rid, **row, **labels.get(rid, {})})
    steps = b.build()
    caps = capabilities(steps)
    return AuditLog(
        "ledger", steps, RequestTable.from_rows(rows), ("ledger input",), {"capabilities": tuple(caps)}
    )


def to_records(
    log: AuditLog,
    cost_usd: np.ndarray[Any, np.dtype[np.float64]],
    latency_s: np.ndarray[Any, np.dtype[np.float64]] | None = None,
    layer: Layer = Layer.ACTION,
) -> tuple[list[Decision], list[Outcome]]:
    """One decision (the run) and one outcome per request of ``log``, with per-request ``cost_usd``."""
    rq = log.requests
    decisions, outcomes = [], []
    for i, rid in enumerate(rq.request_id.tolist()):
        p = PriceVector(
            float(rq.v_usd[i]),
            float(rq.lam_usd_per_s[i]),
            float(rq.rho_usd[i]),
            float(rq.rho_irr_usd[i]),
            rq.sources["v"][i],
            rq.sources["lam"][i],
            rq.sources["rho"][i],
            rq.sources["rho_irr"][i],
        )
        q = 0.0 if np.isnan(rq.quality[i]) else float(rq.quality[i])
        use = TokenUse("run", q, float(cost_usd[i]))
        decisions.append(
            Decision.from_uses(str(rid), layer, "run", [use], p, chosen=0, decision_id=f"audit-{i}")
        )
        harm = 0.0 if np.isnan(rq.harm[i]) else float(rq.harm[i])
        harm_irr = 0.0 if np.isnan(rq.harm_irr[i]) else float(rq.harm_irr[i])
        lat = 0.0 if latency_s is None else float(latency_s[i])
        outcomes.append(
            Outcome(
                str(rid),
                q,
                float(cost_usd[i]),
                latency_s=lat,
                harm=max(harm, harm_irr),
                harm_irr=harm_irr,
                observed=not np.isnan(rq.quality[i]),
            )
        )
    return decisions, outcomes


def capabilities(steps: StepTable) -> list[str]:
    """What a ledger's steps let the detectors read: outcomes always, and confirmations, action
    classes and malformed replies where any step carries them."""
    caps = ["outcomes"]
    if (steps.confirmed >= 0).any():
        caps.append("confirmations")
    if (steps.action_class != "").any():
        caps.append("action_classes")
    if steps.malformed.any():
        caps.append("malformed")
    return caps
