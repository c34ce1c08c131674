"""The token-aware audit (SPEC.md §5): price a log, compute per-request realised vectors, run detectors.

Per request, by core's realised-utility rule (``tokenomy.core.rule.utility_terms``): value V·Q, cost
ΔC (recomputed from tokens at the model's price on the log's date, the provider-reported cost kept
beside it so billing drift shows), latency cost λ·L, risk cost ρ·(harm − harm_irr) + ρ_irr·harm_irr
(harm_irr is the irreversible part of harm, ρ_irr its whole price), welfare = value − cost − latency
cost − risk cost, and regret against the ex-post best allocation. A log observes only the run it
took, so the ex-post alternatives are that run and the null option (spend nothing, utility 0):
regret = max(0, −welfare), the ledger's rule with one observed candidate. For a ledger input the
per-request terms come from the ledger's own query. Totals are sums; "not tokens per dollar".
No I/O: importers and loaders hand the log in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.audit.actions import canonical_actions, classify_steps
from tokenomy.audit.curves import stopping_margin, verification_curve
from tokenomy.audit.detectors import AuditContext, Finding, detect_all
from tokenomy.audit.log import AuditLog
from tokenomy.audit.pricing import PriceTable, Pricing, cost_bound, price_steps
from tokenomy.audit.views import CostView, cost_views, grouping
from tokenomy.autonomy.schedule import Schedule
from tokenomy.core.rule import UtilityTerms, utility_terms
from tokenomy.ledger import Decision, Outcome

__all__ = ["AuditResult", "run_audit"]

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class AuditResult:
    """Everything the report and the JSON show.

    Attributes:
        log: the priced log.
        context: per-request vectors and what detectors saw.
        pricing: per-step recomputed cost, unknown models, rate cards.
        findings: one per failure mode.
        verification: prediction-1 curve (None when the log has no action classes).
        stopping: stopping-margin curve (None when the log has no outcomes).
        regret_usd: per request.
        notes: what was assumed or not available.
    """

    log: AuditLog
    context: AuditContext
    pricing: Pricing
    findings: list[Finding]
    verification: dict[str, Any] | None
    stopping: dict[str, Any] | None
    regret_usd: F64
    notes: tuple[str, ...] = field(default_factory=tuple)

    def totals(self) -> dict[str, Any]:
        """Summed realised vector and welfare, USD."""
        c = self.context
        rq = self.log.requests
        reported = self.log.steps.reported_cost_usd
        lab = ~np.isnan(rq.quality)
        solved = float(rq.quality[lab].sum())
        return {
            "value_usd": float(c.value_usd.sum()),
            "cost_usd": float(c.cost_usd.sum()),
            "latency_cost_usd": float(c.latency_cost_usd.sum()),
            "risk_cost_usd": float(c.risk_cost_usd.sum()),
            "welfare_usd": float(c.welfare_usd.sum()),
            "regret_usd": float(self.regret_usd.sum()),
            "reported_cost_usd": float(np.nansum(reported)) if np.isfinite(reported).any() else None,
            "requests": len(rq),
            "steps": len(self.log.steps),
            "llm_calls": int(self.log.steps.is_llm.sum()),
            "resolved_or_quality_sum": float(np.nansum(rq.quality)),
            "labelled_requests": int((~np.isnan(rq.quality)).sum()),
            "unpriced_llm_calls": int((self.log.steps.is_llm & np.isnan(self.pricing.cost_usd)).sum()),
            "unknown_model_calls": int(sum(self.pricing.unknown_models.values())),
            **_bound_dict(*self.pricing.bound()),
            # None when nothing was priced (a log without the agent's token costs): not "free"
            "cost_per_resolved_usd": float(c.cost_usd[lab].sum() / solved)
            if solved > 0 and (self.log.steps.is_llm.any() or np.isfinite(reported).any())
            else None,
        }

    def requests(self) -> list[dict[str, Any]]:
        """Per-request realised vector (V, ΔC, λΔL, ρΔR), welfare and regret."""
        c, rq = self.context, self.log.requests
        reported = np.zeros(len(rq))
        ok = c.req >= 0
        np.add.at(reported, c.req[ok], np.nan_to_num(self.log.steps.reported_cost_usd[ok]))
        unpriced = np.zeros(len(rq), np.int64)  # LLM calls no price table knew and nobody reported
        miss = ok & self.log.steps.is_llm & np.isnan(self.pricing.cost_usd)
        np.add.at(unpriced, c.req[miss], 1)
        n_up = np.zeros(len(rq), np.int64)  # per request, calls whose cost may be too high / too low
        n_lo = np.zeros(len(rq), np.int64)
        np.add.at(n_up, c.req[ok & self.pricing.upper_bound], 1)
        np.add.at(n_lo, c.req[ok & self.pricing.lower_bound], 1)
        bounds = {(int(u), int(v)) for u, v in zip(n_up, n_lo, strict=True)}
        bound_of = {k: _bound_dict(*cost_bound(*k)) for k in bounds}
        return [
            {
                "request_id": str(rq.request_id[i]),
                "group": str(rq.group[i]),
                "session": str(rq.session[i]),
                "user": str(rq.user[i]),
                "tags": str(rq.tags[i]),
                "v_usd": float(rq.v_usd[i]),
                "v_source": str(rq.sources["v"][i]),
                "quality": None if np.isnan(rq.quality[i]) else float(rq.quality[i]),
                "value_usd": float(c.value_usd[i]),
                "cost_usd": float(c.cost_usd[i]),
                "reported_cost_usd": float(reported[i]),
                "latency_cost_usd": float(c.latency_cost_usd[i]),
                "risk_cost_usd": float(c.risk_cost_usd[i]),
                "welfare_usd": float(c.welfare_usd[i]),
                "regret_usd": float(self.regret_usd[i]),
                "unpriced_llm_calls": int(unpriced[i]),
                **bound_of[int(n_up[i]), int(n_lo[i])],
            }
            for i in range(len(rq))
        ]

    def prices_seen(self) -> dict[str, Any]:
        """The price vectors the requests carried, with their sources (the explicit defaults included)."""
        rq = self.log.requests
        return {
            name: _price_summary(getattr(rq, name), rq.sources[key].astype(str))
            for name, key in (
                ("v_usd", "v"),
                ("lam_usd_per_s", "lam"),
                ("rho_usd", "rho"),
                ("rho_irr_usd", "rho_irr"),
            )
        }

    def prices_by_layer(self) -> dict[str, Any] | None:
        """For a ledger input, the prices each layer's decisions saw (SPEC.md §5), with their sources."""
        bulk = self.log.extra.get("prices_by_layer")  # a bulk ledger reader's arrays, every decision
        if bulk is not None:
            return {
                layer: {
                    "decisions": len(cols["v_usd"][0]),
                    **{k: _price_summary(*a) for k, a in cols.items()},
                }
                for layer, cols in bulk.items()
            }
        if not self.context.decisions:
            return None
        by: dict[str, list[Any]] = {}
        for d in self.context.decisions:
            by.setdefault(str(d.layer), []).append(d.prices)
        out: dict[str, Any] = {}
        for layer, ps in by.items():
            row: dict[str, Any] = {"decisions": len(ps)}
            for name, short in (("v_usd", "v"), ("lam_usd_per_s", "lam"), ("rho_usd", "rho")):
                row[name] = _price_summary(
                    np.array([getattr(p, name) for p in ps], np.float64),
                    np.array([str(getattr(p, f"{short}_source")) for p in ps]),
                )
            out[layer] = row
        return out

    def views(self, top: int = 20) -> dict[str, CostView]:
        """Cost views by model, session, user, tag, day and request (``tokenomy.audit.views``)."""
        return cost_views(self.log, self.pricing, self.context.req, self.context.welfare_usd, top=top)

    def grouping(self) -> dict[str, Any]:
        """How requests group: the unit shown first, and how many sessions, users and tags the log names."""
        rq = self.log.requests

        def distinct(col: Any) -> int:
            vals = col.astype(str)
            return int(np.unique(vals[vals != ""]).size)

        tags = {t for ts in rq.tags.astype(str).tolist() if ts for t in ts.split(",")}
        return {
            "unit": grouping(self.log),
            "requests": len(rq),
            "sessions": distinct(rq.session),
            "users": distinct(rq.user),
            "tags": len(tags),
        }

    def as_dict(self, *, max_requests: int | None = None) -> dict[str, Any]:
        """JSON-ready: ``requests``, ``totals``, ``failure_modes``, ``views`` and the rest."""
        reqs = self.requests()
        return {
            "source": self.log.source,
            "totals": self.totals(),
            "grouping": self.grouping(),
            "views": {k: v.as_dict() for k, v in self.views().items()},
            "prices": self.prices_seen(),
            "prices_by_layer": self.prices_by_layer(),
            "pricing": {
                "unknown_models": self.pricing.unknown_models,
                "unknown_priced_zero": self.pricing.unknown_zero,
                "rate_cards": {
                    k: {
                        "source": v.source,
                        "input_usd_per_mtok": v.input_usd_per_mtok,
                        "output_usd_per_mtok": v.output_usd_per_mtok,
                        "cache_read_usd_per_mtok": v.cache_read_usd_per_mtok,
                        "cache_write_usd_per_mtok": v.cache_write_usd_per_mtok,
                        "tiers": [list(t) for t in v.tiers],
                    }
                    for k, v in self.pricing.cards.items()
                },
            },
            "failure_modes": {f.mode: f.as_dict() for f in self.findings},
            "verification_curve": self.verification,
            "stopping_margin": self.stopping,
            "notes": list(self.notes),
            "requests": reqs if max_requests is None else reqs[:max_requests],
        }


def _per_request(log: AuditLog, req: NDArray[np.int64], cost: F64) -> tuple[F64, F64, F64, F64, F64]:
    rq = log.requests
    r = len(rq)
    ok = req >= 0
    c = np.zeros(r)
    np.add.at(c, req[ok], np.nan_to_num(cost[ok]))
    lat = np.zeros(r)
    llm = ok & log.steps.is_llm
    np.add.at(lat, req[llm], np.nan_to_num(log.steps.latency_s[llm]))
    # Unknown quality and harm (NaN) count as 0 here: an unlabelled request earns no value and no harm.
    t = utility_terms(
        rq.v_usd,
        np.nan_to_num(rq.quality),
        c,
        lat,
        np.nan_to_num(rq.harm),
        np.nan_to_num(rq.harm_irr),
        lam_usd_per_s=rq.lam_usd_per_s,
        rho_usd=rq.rho_usd,
        rho_irr_usd=rq.rho_irr_usd,
    )
    return c, t.value_usd, t.latency_cost_usd, t.risk_cost_usd, t.utility_usd


def run_audit(
    log: AuditLog,
    table: PriceTable,
    *,
    unknown_zero: bool = False,
    decisions: Sequence[Decision] = (),
    outcomes: Sequence[Outcome] = (),
    modes: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
    schedule: Schedule | None = None,
    schedule_source: str = "",
    ledger_vectors: Sequence[Mapping[str, Any]] | None = None,
) -> AuditResult:
    """Audit one log.

    Args:
        log: the imported log.
        table: the price table (``GenaiPricesTable``, overrides chained before it, ...).
        unknown_zero: price models no table knows at 0 (only when the user says so).
        decisions, outcomes: ledger records (a ledger input); enable the routing, serving, capital modes.
        modes: the detectors to run (default: all, in the paper's order).
        progress: called with a short stage name as the audit proceeds.
        schedule: the autonomy schedule: tool steps the log did not class are classed by the action
            layer's classifier under it (tool name + arguments), and over-delegation checks its
            confirmation levels; ``schedule_source`` names it in the threshold. None: unlabelled tool
            steps stay unclassed and over-delegation is not applicable (``tokenomy audit`` always
            passes one, the packaged default unless ``--schedule``).
        ledger_vectors: the per-request vectors of ``decisions`` and ``outcomes`` as their own ledger
            computed them (``Ledger.request_vectors`` rows); None computes them in memory.

    Returns:
        The audit result.
    """
    say = progress or (lambda _msg: None)
    say("pricing")
    pricing = price_steps(log.steps, table, unknown_zero=unknown_zero)
    steps = log.steps.with_cost(pricing.cost_usd)
    steps = replace(
        steps,
        action_class=canonical_actions(steps.tool, steps.tool_args, steps.action_class, steps.kind == "tool"),
    )
    if schedule is not None:
        steps = steps.with_classes(
            classify_steps(steps.tool, steps.tool_args, steps.autonomy_class, steps.kind == "tool", schedule)
        )
    extra = dict(log.extra)
    extra.update(price_table=table, unknown_zero=unknown_zero)
    if schedule is not None:
        extra.update(schedule=schedule, schedule_source=schedule_source or "the given schedule")
    log = AuditLog(log.source, steps, log.requests, log.notes, extra)
    req = log.request_index()
    cost, value, lat_cost, risk, welfare = _per_request(log, req, pricing.cost_usd)
    regret = np.maximum(0.0, -welfare)
    notes = list(log.notes)
    if decisions:
        vec = _ledger_vectors(decisions, outcomes) if ledger_vectors is None else ledger_vectors
        order = {rid: i for i, rid in enumerate(log.requests.request_id.tolist())}
        for row in vec:
            i = order.get(row["request_id"])
            if i is None:
                continue
            value[i], cost[i] = row["value_usd"] or 0.0, row["cost_usd"] or 0.0
            lat_cost[i], risk[i] = row["latency_cost_usd"] or 0.0, row["risk_cost_usd"] or 0.0
            regret[i] = row["regret_usd"] or 0.0
        welfare = UtilityTerms(value, cost, lat_cost, risk).utility_usd
        notes.append("ledger input: per-request vectors and regret from the ledger's query (SPEC.md §2)")
    else:
        notes.append(
            "regret is measured against the null option (spend nothing), the only alternative a log observes"
        )
    ctx = AuditContext(log, req, cost, value, lat_cost, risk, welfare, tuple(decisions), tuple(outcomes))
    say("detectors")
    findings = detect_all(ctx, modes)
    say("curves")
    return AuditResult(
        log, ctx, pricing, findings, verification_curve(ctx), stopping_margin(ctx), regret, tuple(notes)
    )


def _ledger_vectors(decisions: Sequence[Decision], outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    from tokenomy.ledger import Ledger

    with Ledger(":memory:") as ledger:
        ledger.append(decisions)
        ledger.append_outcomes(outcomes)
        return list(ledger.request_vectors().to_pylist())


def _bound_dict(upper: bool, lower: bool, why: str) -> dict[str, Any]:
    return {"cost_is_upper_bound": upper, "cost_is_lower_bound": lower, "cost_bound_reason": why}


def _price_summary(vals: NDArray[np.float64], sources: NDArray[np.str_]) -> dict[str, Any]:
    """min / median / max of one price over the records that carried it, and how often each source set it."""
    srcs, counts = np.unique(sources, return_counts=True)
    return {
        "min": float(vals.min()) if len(vals) else None,
        "median": float(np.median(vals)) if len(vals) else None,
        "max": float(vals.max()) if len(vals) else None,
        "sources": {str(src): int(n) for src, n in zip(srcs, counts, strict=True)},
    }
