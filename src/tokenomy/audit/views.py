"""Cost views of an audited log: where the money went, by model, session, user, tag and day.

The views users know from LLM observability tools (cost and calls by model, user, feature and over
time; the most expensive sessions; cache savings), computed from the priced steps, plus what those
tools lack: each group's welfare, given only where its requests carry quality labels and otherwise
shown as unknown (``None``), never as zero value. Cache savings come from the pricing step
(``Pricing.cache_savings_usd``: what cache reads saved at the card that priced each call).

Groups come from what the log carries (``RequestTable.session`` / ``user`` / ``tags``, filled by the
importers from GenAI, OpenInference, Langfuse and LiteLLM fields); ``grouping`` picks the unit a reader
should see first: sessions when requests share them, else users, else requests. A request with several
tags counts in each of its tags, so the tag view's shares may sum past 1 (said in its note).
Vectorised over steps (``np.bincount``); no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.audit.log import AuditLog
from tokenomy.audit.pricing import Pricing

__all__ = ["DIMENSIONS", "CostView", "ViewRow", "cost_views", "grouping"]

DIMENSIONS = ("model", "session", "user", "tag", "day", "request")
"""The views, in the order a report shows them."""

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class ViewRow:
    """One group of a view (USD and token totals over its LLM calls).

    ``welfare_usd`` is the sum over its labelled requests, ``None`` when none is labelled (value unknown);
    ``labelled_requests`` says how many carried a label.
    """

    key: str
    requests: int
    llm_calls: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cost_usd: float
    cost_share: float
    cache_savings_usd: float
    labelled_requests: int
    welfare_usd: float | None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class CostView:
    """One view: its rows by cost, highest first (the first ``top``), and how many groups there were."""

    by: str
    rows: tuple[ViewRow, ...]
    groups: int
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "groups": self.groups,
            "note": self.note,
            "rows": [r.as_dict() for r in self.rows],
        }


def grouping(log: AuditLog) -> str:
    """The unit a reader should see first: ``session`` when some requests share a session, else
    ``user`` when some share a user, else ``request``."""
    rq = log.requests
    for name in ("session", "user"):
        col = getattr(rq, name).astype(str)
        named = col[col != ""]
        if named.size and np.unique(named).size < len(rq):
            return name
    return "request"


@dataclass(frozen=True, slots=True)
class _Totals:
    """Per unit (step or request) the summed quantities a view adds up."""

    cost: F64
    calls: F64
    tin: F64
    tout: F64
    tread: F64
    savings: F64

    def take(self, rows: I64) -> _Totals:
        return _Totals(*(getattr(self, f)[rows] for f in self.__slots__))


def _view(
    by: str,
    keys: Any,
    unit: _Totals,
    unit_req: I64,
    labelled: NDArray[np.bool_],
    welfare_usd: F64,
    total: float,
    top: int,
) -> CostView:
    """Group units (steps or requests) by ``keys``; ``unit_req`` is each unit's request row (−1: none)."""
    names, inv = _factorize(keys)
    g = len(names)
    names_arr = np.array(names, dtype=object)

    def add(values: F64) -> F64:
        return np.asarray(np.bincount(inv, weights=values, minlength=g), dtype=np.float64)

    c, calls, tin, tout, tread, sav = (add(getattr(unit, f)) for f in _Totals.__slots__)
    ok = unit_req >= 0
    r = int(unit_req.max()) + 1 if ok.any() else 1
    joint = np.unique(inv[ok] * r + unit_req[ok])  # each (group, request) pair once: one integer sort
    pair = np.stack([joint // r, joint % r])
    nreq = np.bincount(pair[0], minlength=g)
    lab = labelled[pair[1]]
    nlab = np.bincount(pair[0], weights=lab.astype(np.float64), minlength=g)
    wel = np.bincount(pair[0][lab], weights=welfare_usd[pair[1][lab]], minlength=g)
    order = np.argsort(-c, kind="stable")[:top]
    rows = tuple(
        ViewRow(
            key=str(names_arr[i]),
            requests=int(nreq[i]),
            llm_calls=int(calls[i]),
            input_tokens=int(tin[i]),
            output_tokens=int(tout[i]),
            cache_read_tokens=int(tread[i]),
            cost_usd=float(c[i]),
            cost_share=float(c[i] / total) if total > 0 else 0.0,
            cache_savings_usd=float(sav[i]),
            labelled_requests=int(nlab[i]),
            welfare_usd=float(wel[i]) if nlab[i] > 0 else None,
        )
        for i in order.tolist()
    )
    note = "a request with several tags counts in each: shares may sum past 1" if by == "tag" else ""
    return CostView(by, rows, g, note)


class _Days:
    """Calendar days (UTC) of start times as integer day numbers, named once per distinct day."""

    def __init__(self, t: F64) -> None:
        self.day = np.where(np.isfinite(t), np.floor(np.nan_to_num(t) / 86400), -(2**62)).astype(np.int64)


def _factorize(keys: Any) -> tuple[list[str], I64]:
    """Distinct keys (as text) and each unit's index into them: a dict pass over strings (faster than
    sorting a million of them), an integer sort for day numbers."""
    if isinstance(keys, _Days):
        uniq, inv = np.unique(keys.day, return_inverse=True)
        named = np.datetime_as_string(np.maximum(uniq, 0).astype("datetime64[D]"))
        return [
            str(n) if u >= 0 else "unknown" for u, n in zip(uniq.tolist(), named.tolist(), strict=True)
        ], inv
    codes: dict[str, int] = {}
    inv = np.fromiter(
        (codes.setdefault(str(k), len(codes)) for k in keys.tolist()), np.int64, count=len(keys)
    )
    return list(codes), inv


def cost_views(
    log: AuditLog,
    pricing: Pricing,
    req: I64,
    welfare_usd: F64,
    *,
    dimensions: tuple[str, ...] = DIMENSIONS,
    top: int = 20,
) -> dict[str, CostView]:
    """The cost views of a priced log.

    Args:
        log: the audited log.
        pricing: its pricing (per-step cost and rate cards).
        req: per step, the row of its request in ``log.requests`` (−1 when none).
        welfare_usd: per request, realised welfare (used where the request is labelled).
        dimensions: which views (a subset of ``DIMENSIONS``); a view whose column the log never fills
            (no session, user or tag anywhere) is left out.
        top: rows kept per view, highest cost first.

    Returns:
        Dimension -> view.
    """
    st, rq = log.steps, log.requests
    llm = st.is_llm.astype(np.float64)
    steps = _Totals(
        cost=np.nan_to_num(pricing.cost_usd) * llm,
        calls=llm,
        tin=st.input_tokens * llm,
        tout=st.output_tokens * llm,
        tread=st.cache_read_tokens * llm,
        savings=pricing.cache_savings_usd if len(pricing.cache_savings_usd) else np.zeros(len(st)),
    )
    total = float(steps.cost.sum())
    labelled = ~np.isnan(rq.quality)
    r = len(rq)
    ok = req >= 0
    per_req = _Totals(
        *(
            np.asarray(np.bincount(req[ok], weights=getattr(steps, f)[ok], minlength=r), dtype=np.float64)
            for f in _Totals.__slots__
        )
    )
    req_rows = np.arange(r, dtype=np.int64)
    out: dict[str, CostView] = {}
    for by in dimensions:
        keys: Any
        if by == "model":
            keys, unit, unit_req = st.model, steps, req
        elif by == "day":
            keys, unit, unit_req = _Days(st.time_s), steps, req
        elif by == "request":
            keys, unit, unit_req = rq.request_id, per_req, req_rows
        else:
            col = {"session": rq.session, "user": rq.user, "tag": rq.tags}[by].astype(str)
            if not (col != "").any():
                continue
            if by == "tag":
                parts = [t.split(",") if t else ["(untagged)"] for t in col.tolist()]
                rows = np.repeat(req_rows, [len(p) for p in parts])
                keys = np.array([t for p in parts for t in p], dtype=object)
                unit, unit_req = per_req.take(rows), rows
            else:
                keys = np.where(col == "", f"(no {by})", col)
                unit, unit_req = per_req, req_rows
        if not len(unit_req):
            continue
        out[by] = _view(by, keys, unit, unit_req, labelled, welfare_usd, total, top)
    return out
