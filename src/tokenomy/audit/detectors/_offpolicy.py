"""Off-policy routing gaps: what serving another model would have earned, from logged propensities.

A gateway grades only the model it served, so the utility of an alternative model on a logged request is
never observed. Where the router logged the propensity of each served model (an ε-greedy or otherwise
randomised router, some propensity < 1), the alternative's mean realised utility is estimated off-policy
with ``routing.offpolicy.estimate`` (IPS, SNIPS, DR; CLT intervals), over groups of decisions defined by
their context only (never by the model served, which would bias the weights): the candidate set, the
model the recorded Eq. 1 surplus favoured, and the decade of V. For a group G of N decisions and an
alternative M (cheaper than the favoured model for over-routing, dearer for under-routing):

    gain(G, M) = N · V̂(serve M on G) − Σ_{i∈G} u_i

where u_i is the realised utility V·Q − C − λ·L − ρ·ΔR of what was served (exact: it was observed) and
V̂ the DR estimate (the reward model is each candidate's recorded Eq. 1 surplus), so the interval of the
gain is N times V̂'s interval, shifted. A group is a violation when its interval lies above 0; a group
whose interval holds 0 is a tie, listed as one, not counted. Among several alternatives the best
estimated one is named (a selection on the estimates, slightly optimistic; the interval is that
model's). A group where fewer than ``MIN_SUPPORT`` logged decisions served the alternative, or where
every propensity is 1 (a deterministic router there), is not estimated (no support). Only graded decisions enter (the grade is the reward); a decision whose served model is not the
one its propensity was logged for (``metadata["policy_pick"]`` differs: a downgrade or a fallback) is left
out. No I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from tokenomy.audit.detectors._decisions import Scored
from tokenomy.routing.offpolicy import ESTIMATORS, OffPolicyEstimate, estimate

__all__ = ["GroupGain", "OffPolicyRouting", "offpolicy_routing", "usable"]

HEADLINE = "dr"
"""The estimator whose figure a finding reports (the others are shown beside it)."""

MIN_SUPPORT = 5
"""Logged decisions of a group that served the alternative, at least, before it is estimated: with fewer,
the normal interval of an importance-weighted mean is not to be trusted (the group counts as without
support)."""


@dataclass(frozen=True, slots=True)
class GroupGain:
    """The estimated gain of serving ``better`` on one context group.

    Attributes:
        favoured: the model the recorded surplus favoured in this group.
        v_decade: the group's V lies in [10^v_decade, 10^(v_decade+1)) USD.
        better: the alternative model M.
        decisions: N, decisions in the group; served_better: how many of them served M already.
        realised_usd: Σ realised utility of what was served, USD.
        gain_usd, ci_low_usd, ci_high_usd: N·V̂ − realised and its 95% interval (headline estimator), USD.
        estimates: estimator name -> the per-decision estimate of V̂ (mean utility of serving M).
        touched: (request id, decision id, served model, V) of the decisions that did not serve M.
    """

    favoured: str
    v_decade: int
    better: str
    decisions: int
    served_better: int
    realised_usd: float
    gain_usd: float
    ci_low_usd: float
    ci_high_usd: float
    estimates: dict[str, OffPolicyEstimate]
    touched: tuple[tuple[str, str, str, float], ...]

    @property
    def verdict(self) -> str:
        """``gain`` (interval above 0), ``loss`` (below 0) or ``tie`` (holds 0)."""
        return "gain" if self.ci_low_usd > 0 else ("loss" if self.ci_high_usd < 0 else "tie")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "favoured": self.favoured,
            "v_range_usd": [10.0**self.v_decade, 10.0 ** (self.v_decade + 1)],
            "better": self.better,
            "decisions": self.decisions,
            "served_better": self.served_better,
            "realised_usd": self.realised_usd,
            "gain_usd": self.gain_usd,
            "gain_ci95": [self.ci_low_usd, self.ci_high_usd],
            "verdict": self.verdict,
            "estimates_per_decision": {
                k: {"value": e.value, "ci95": [e.ci_low, e.ci_high], "ess": e.ess}
                for k, e in self.estimates.items()
            },
        }


@dataclass(frozen=True, slots=True)
class OffPolicyRouting:
    """Every group's best alternative in one direction, and the decisions that fed them."""

    groups: tuple[GroupGain, ...]
    logged: int
    skipped_no_support: int

    def significant(self) -> list[GroupGain]:
        """Groups whose gain interval lies above 0."""
        return [g for g in self.groups if g.verdict == "gain"]

    def total(self) -> tuple[float, float, float]:
        """Summed gain of the significant groups and its 95% interval (groups are disjoint: variances add)."""
        sig = self.significant()
        if not sig:
            return 0.0, 0.0, 0.0
        z = NormalDist().inv_cdf(0.975)
        value = sum(g.gain_usd for g in sig)
        se = math.sqrt(sum(((g.ci_high_usd - g.ci_low_usd) / (2 * z)) ** 2 for g in sig))
        return value, value - z * se, value + z * se


def usable(s: Scored) -> bool:
    """A decision whose served model was graded, whose alternatives were not, and whose propensity is
    that of the served model."""
    d = s.decision
    if d.chosen is None or len(d.candidates) < 2 or not s.observed[d.chosen]:
        return False
    if int(s.observed.sum()) > 1:
        return False  # the alternatives were observed: the ex-post comparison needs no estimate
    pick = d.metadata.get("policy_pick")
    return pick is None or pick == d.chosen_name


def _key(s: Scored) -> tuple[tuple[str, ...], str, int]:
    d = s.decision
    names = tuple(c.name for c in d.candidates)
    fav = names[int(np.argmax([c.surplus_usd for c in d.candidates]))]
    v = d.prices.v_usd
    return names, fav, (math.floor(math.log10(v)) if v > 0 else -99)


def offpolicy_routing(scored: Sequence[Scored], *, dearer: bool) -> OffPolicyRouting | None:
    """Off-policy gains of routing each context group down (``dearer=False``) or up (``dearer=True``).

    Returns ``None`` when no usable decision has a propensity below 1 (a deterministic router: nothing
    can be estimated off-policy; the caller falls back to the ex-ante comparison).
    """
    rows = [s for s in scored if usable(s)]
    if not any(s.decision.propensity < 1.0 for s in rows):
        return None
    groups: dict[tuple[tuple[str, ...], str, int], list[Scored]] = {}
    for s in rows:
        groups.setdefault(_key(s), []).append(s)
    out: list[GroupGain] = []
    no_support = 0
    for (names, fav, decade), members in groups.items():
        k = names.index(fav)
        dc = np.array([[c.dc_usd for c in s.decision.candidates] for s in members]).mean(axis=0)
        alts = [j for j in range(len(names)) if (dc[j] > dc[k] if dearer else dc[j] < dc[k])]
        if not alts:
            continue
        best = _best_alternative(names, fav, decade, members, alts)
        if best is None:
            no_support += 1
        else:
            out.append(best)
    return OffPolicyRouting(tuple(out), len(rows), no_support)


def _best_alternative(
    names: tuple[str, ...], fav: str, decade: int, members: list[Scored], alts: list[int]
) -> GroupGain | None:
    """The group's alternative (of ``alts``) with the highest estimated gain; None when none was served."""
    chosen = np.array([s.decision.chosen for s in members], dtype=np.int64)
    reward = np.array([s.utility_usd[s.decision.chosen] for s in members], dtype=np.float64)
    mu = np.array([s.decision.propensity for s in members], dtype=np.float64)
    r_hat = np.array([[c.surplus_usd for c in s.decision.candidates] for s in members], dtype=np.float64)
    n = len(members)
    realised = float(reward.sum())
    if (mu >= 1.0).all():
        return None  # a deterministic router here: an action it never took has probability 0, no support
    best: GroupGain | None = None
    for j in alts:
        served = int((chosen == j).sum())
        if served < MIN_SUPPORT:
            continue  # too few logged decisions served it to weight
        onehot = np.zeros((n, len(names)))
        onehot[:, j] = 1.0
        ests = {
            e: estimate(
                e,
                rewards=reward,
                logged_propensity=mu,
                target_prob=(chosen == j).astype(np.float64),
                actions=chosen,
                target_probs_all=onehot,
                reward_model=r_hat,
            )
            for e in ESTIMATORS
        }
        h = ests[HEADLINE]
        g = GroupGain(
            fav,
            decade,
            names[j],
            n,
            served,
            realised,
            n * h.value - realised,
            n * h.ci_low - realised,
            n * h.ci_high - realised,
            ests,
            tuple(
                (s.decision.request_id, s.decision.decision_id, names[int(a)], s.decision.prices.v_usd)
                for s, a in zip(members, chosen.tolist(), strict=True)
                if a != j
            ),
        )
        if best is None or g.gain_usd > best.gain_usd:
            best = g
    return best
