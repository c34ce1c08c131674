"""Trace worth: what a logged group of rollouts is worth as training data, read from the ledger.

Definition. For a logged trace g (one group of n rollouts of one task, its ``rollout-use`` row):

    worth_usd(g) = V · ΔQ_g · (1 − δ)^a − ΔC_g,

where ΔQ_g = p̂_g(1 − p̂_g) is its realised gradient signal (the reward variance of the group: the
squared advantage per sample under a group-mean baseline; 0 for an all-right or all-wrong group), V the
value of a unit of signal to the target skill, δ the drift per policy version, a the policy versions
between the trace's generation and its use (its recorded staleness, or any ``age_versions`` a caller
asks about: re-using an old trace later), and ΔC_g the cost of learning from it (its backward-pass
tokens at the update price). Sampling and verification are sunk: they are not netted. Signal per token
is ΔQ_g · (1 − δ)^a / tokens. A trace is worth learning from iff worth_usd > 0 — the Eq. 1 condition the
stale_rollouts audit checks. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tokenomy.core._checks import whole
from tokenomy.ledger import Decision, Layer

__all__ = ["TraceWorth", "trace_worth"]


@dataclass(frozen=True, slots=True)
class TraceWorth:
    """One logged trace's worth as training data (module docstring)."""

    request_id: str
    signal: float
    age_versions: int
    tokens: int
    value_usd: float
    cost_usd: float
    worth_usd: float
    signal_per_token: float
    trained: bool


def trace_worth(decisions: Iterable[Decision], *, age_versions: int | None = None) -> list[TraceWorth]:
    """The worth of every logged trace among ``decisions`` (capital-layer ``update`` / ``rollout-use`` rows).

    Args:
        decisions: ledger decisions (others are skipped).
        age_versions: price every trace at this age instead of its recorded staleness.

    Raises:
        ValidationError: ``age_versions`` is not ``None`` or a whole number ≥ 0.
    """
    if age_versions is not None:
        age_versions = whole("trace_worth age_versions", age_versions)
    out = []
    for d in decisions:
        if d.layer != Layer.CAPITAL or not (d.kind == "update" or d.decision_point.endswith("-use")):
            continue
        c = d.candidates[0]
        age = int(d.metadata.get("staleness_versions", 0)) if age_versions is None else age_versions
        delta = float(d.metadata.get("drift_per_version", 0.0))
        tokens = int(d.metadata.get("tokens", 0))
        value = d.prices.v_usd * c.dq * (1.0 - delta) ** age
        out.append(
            TraceWorth(
                request_id=d.request_id,
                signal=c.dq,
                age_versions=age,
                tokens=tokens,
                value_usd=value,
                cost_usd=c.dc_usd,
                worth_usd=value - c.dc_usd,
                signal_per_token=c.dq * (1.0 - delta) ** age / tokens if tokens else 0.0,
                trained=d.chosen is not None,
            )
        )
    return out
