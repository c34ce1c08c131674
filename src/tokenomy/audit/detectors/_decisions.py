"""Shared reading of ledger decisions for the routing, serving and capital detectors (no I/O).

Per decision: each candidate's utility — realised (V·quality − cost − λ·latency − ρ·harm − ρ_irr·harm_irr)
where the ledger holds its outcome, else its ex-ante Eq. 1 surplus — and the chosen index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

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
    out = []
    for d in decisions:
        if d.layer != layer or not d.candidates:
            continue
        p = d.prices
        util = np.array([c.surplus_usd for c in d.candidates], dtype=np.float64)
        obs = np.zeros(len(d.candidates), bool)
        names = {c.name: i for i, c in enumerate(d.candidates)}
        for o in by_req.get(d.request_id, ()):
            if o.decision_id and o.decision_id != d.decision_id:
                continue
            name = o.candidate or d.chosen_name
            if name is None or name not in names:
                continue
            i = names[name]
            u = (
                p.v_usd * o.quality
                - o.cost_usd
                - p.lam_usd_per_s * o.latency_s
                - p.rho_usd * o.harm
                - p.rho_irr * o.harm_irr
            )
            util[i] = u if not obs[i] else util[i] + u
            obs[i] = True
        out.append(Scored(d, util, obs))
    return out
