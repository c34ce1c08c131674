"""Shared reading of ledger decisions for the routing, serving and capital detectors (no I/O).

Per decision: each candidate's utility — realised (core's ``realised_utility``: V·quality − cost −
λ·latency − ρ·(harm − harm_irr) − ρ_irr·harm_irr) where the ledger holds its outcome, else its ex-ante
Eq. 1 surplus as recorded — and the chosen index. An outcome row marked ``metadata["graded"] = False``
(a gateway's serve-time row before the grade came) holds cost and latency but no quality: a candidate
whose rows are all ungraded keeps its ex-ante surplus and counts as unobserved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.rule import realised_utility
from tokenomy.ledger import Decision, Layer, Outcome

__all__ = ["Scored", "score_decisions"]


@dataclass(frozen=True, slots=True)
class Scored:
    """One decision with one utility per candidate (USD) and whether each came from an outcome."""

    decision: Decision
    utility_usd: NDArray[np.float64]
    observed: NDArray[np.bool_]


def score_decisions(decisions: Sequence[Decision], outcomes: Sequence[Outcome], layer: Layer) -> list[Scored]:
    """Utilities of every candidate of every decision of ``layer`` (ex post where observed)."""
    by_req: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_req.setdefault(o.request_id, []).append(o)
    scored: list[tuple[Decision, NDArray[np.float64], NDArray[np.bool_]]] = []
    hits: list[tuple[int, int]] = []  # (scored row, candidate index) of each matched outcome
    graded: set[tuple[int, int]] = set()  # (scored row, candidate index) with a graded outcome row
    terms: list[tuple[float, ...]] = []  # V, λ, ρ, ρ_irr, quality, cost, latency, harm, harm_irr
    for d in decisions:
        if d.layer != layer or not d.candidates:
            continue
        p = d.prices
        util = np.array([c.surplus_usd for c in d.candidates], dtype=np.float64)
        names = {c.name: i for i, c in enumerate(d.candidates)}
        for o in by_req.get(d.request_id, ()):
            if o.decision_id and o.decision_id != d.decision_id:
                continue
            name = o.candidate or d.chosen_name
            if name is None or name not in names:
                continue
            hits.append((len(scored), names[name]))
            if o.metadata.get("graded", True) is not False:
                graded.add(hits[-1])
            prices = (p.v_usd, p.lam_usd_per_s, p.rho_usd, p.rho_irr)
            terms.append((*prices, o.quality, o.cost_usd, o.latency_s, o.harm, o.harm_irr))
        scored.append((d, util, np.zeros(len(d.candidates), bool)))
    if terms:
        v, lam, rho, rho_irr, q, c, lat, h, h_irr = np.array(terms, dtype=np.float64).T
        u = realised_utility(v, q, c, lat, h, h_irr, lam_usd_per_s=lam, rho_usd=rho, rho_irr_usd=rho_irr)
        for (k, i), u_k in zip(hits, u.tolist(), strict=True):
            _, util, obs = scored[k]
            # The first outcome replaces the ex-ante surplus; more outcomes of one candidate add up.
            util[i] = u_k if not obs[i] else util[i] + u_k
            obs[i] = True
        for k, i in set(hits) - graded:  # cost and latency arrived, the grade never did
            d, util, obs = scored[k]
            util[i] = d.candidates[i].surplus_usd
            obs[i] = False
    return [Scored(d, util, obs) for d, util, obs in scored]
