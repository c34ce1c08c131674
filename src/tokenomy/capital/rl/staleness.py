"""Off-policy correction of stale rollouts: truncated importance ratios and the sample size they leave.

Rollouts used at step t were sampled by the policy of step t − s (asynchronous generation), whose action
probabilities are known exactly; the policy gradient at θ_t wants samples of θ_t. Reweighting each
sample by ρ = π_t(y) / π_{t−s}(y) makes the stale gradient unbiased: E_{y∼π_{t−s}}[ρ·A(y)·∇log π_t(y)] =
E_{y∼π_t}[A(y)·∇log π_t(y)] (``level="sequence"``). The per-token form ρ_j = π_t(y_j | y_<j) / π_{t−s}(y_j | y_<j)
(``level="token"``, the PPO / GRPO surrogate) has lower variance and is biased in general (exact for a
one-token answer). Either is truncated at c: ρ ← min(ρ, c) bounds the variance at the price of a bias
toward the generating policy (c = ∞: no truncation).

Staleness as lost sample size: n weighted tokens carry as much information as Kish's effective sample
size ESS = (Σρ)² / Σρ² unweighted ones, so a stale batch keeps the share ESS / n of its value and the
measured depreciation at that lag is δ_s = 1 − ESS / n. At lag 0 every ρ is 1 and nothing is lost.
This replaces a fixed drift rate (1 − δ)^s with a measurement of the batch at hand. No I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError

__all__ = ["LEVELS", "ImportanceCorrection", "ess_share", "group_ess_share"]

LEVELS = ("token", "sequence")
"""Where the ratio is taken: per answer token, or once per whole answer."""


@dataclass(frozen=True, slots=True)
class ImportanceCorrection:
    """Truncated importance ratios π_t / π_{t−s} of stale samples (module docstring).

    Attributes:
        level: ``"token"`` or ``"sequence"``.
        truncate_at: c ≥ 1, the largest weight (``math.inf``: untruncated).
    """

    level: str = "token"
    truncate_at: float = 2.0

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValidationError(f"importance level must be one of {', '.join(LEVELS)}, got {self.level!r}")
        if not self.truncate_at >= 1.0:
            raise ValidationError(f"importance truncate_at must be ≥ 1 (or inf), got {self.truncate_at!r}")

    @property
    def label(self) -> str:
        """A short name, e.g. ``token,c=2``."""
        c = "inf" if math.isinf(self.truncate_at) else f"{self.truncate_at:g}"
        return f"{self.level},c={c}"

    def weights(self, log_ratio: NDArray[np.float64], valid: NDArray[np.bool_]) -> NDArray[np.float64]:
        """Per-token weights, shape (N, T), from per-token log ratios log π_t − log π_{t−s}, shape (N, T).

        Positions outside ``valid`` get weight 0; a sequence-level weight is repeated on every token.
        """
        lr = np.where(valid, log_ratio, 0.0)
        if self.level == "sequence":
            lr = np.broadcast_to(lr.sum(axis=1, keepdims=True), lr.shape)
        w = np.exp(np.minimum(lr, math.log(self.truncate_at) if math.isfinite(self.truncate_at) else 700.0))
        out: NDArray[np.float64] = np.where(valid, w, 0.0)
        return out


def group_ess_share(
    weights: NDArray[np.float64], valid: NDArray[np.bool_], group_sizes: NDArray[np.int64]
) -> NDArray[np.float64]:
    """ESS / n of each group's tokens (groups are consecutive rows of ``weights``), shape (groups,)."""
    starts = np.r_[0, np.cumsum(group_sizes)[:-1]].astype(np.int64)
    w = np.where(valid, weights, 0.0)
    s1 = np.add.reduceat(w.sum(axis=1), starts)
    s2 = np.add.reduceat((w * w).sum(axis=1), starts)
    n = np.add.reduceat(valid.sum(axis=1), starts).astype(np.float64)
    share: NDArray[np.float64] = np.where(s2 > 0, s1 * s1 / np.where(s2 > 0, s2 * n, 1.0), 1.0)
    return np.clip(share, 0.0, 1.0)


def ess_share(weights: NDArray[np.float64], valid: NDArray[np.bool_]) -> float:
    """ESS / n over all the valid tokens of ``weights`` (1.0 when there are none)."""
    if not valid.any():
        return 1.0
    return float(group_ess_share(weights, valid, np.array([weights.shape[0]], dtype=np.int64))[0])
