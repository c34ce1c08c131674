"""A multi-tenant workload generator driven by ServeGen per-client statistics (Xiang et al., 2025).

ServeGen (Alibaba Bailian) publishes, per client (tenant) and 600-s window, the request rate, the
inter-arrival coefficient of variation and a fitted inter-arrival distribution (``Gamma`` with shape
p1 and scale p2, or ``Weibull`` with shape p1 and scale p2; empty when the window had too few
requests to fit), and per 6-hour window the empirical distributions (PMFs) of input and output
tokens. ``servegen_workload`` samples a request stream from them:

* arrivals, per client and window: gaps drawn from the fitted family, then rescaled so their mean
  is 1/rate (the measured rate, which the fit alone does not reproduce for heavy-tailed windows);
  a window with a rate but no fit uses exponential gaps; each window restarts at its start;
* lengths: input and output tokens drawn independently from the PMFs of the 6-h window holding
  the arrival (the nearest window with data when that one is empty), clipped to ``max_tokens``;
* V, λ and predicted lengths: ``ValueModel`` (synthetic, as for every trace).

The arrivals and lengths are therefore *synthetic draws from real statistics* and are labelled so
(``Workload.synthetic`` holds "arrivals" and "lengths"). Parsing the archive is the loader's job
(``tokenomy.interfaces.loaders.servegen.load_servegen``); no I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError
from tokenomy.serving.entities import Workload
from tokenomy.serving.workloads import ValueModel

__all__ = ["WINDOW_S", "LengthPMF", "ServeGenClient", "servegen_workload"]

WINDOW_S = 600.0


@dataclass(frozen=True, slots=True)
class LengthPMF:
    """An empirical token-count distribution: values (tokens) and their probabilities (sum 1)."""

    tokens: NDArray[np.int64]
    prob: NDArray[np.float64]

    def __post_init__(self) -> None:
        if self.tokens.shape != self.prob.shape or self.tokens.size == 0:
            raise ValidationError("LengthPMF needs equal-length, non-empty tokens and prob")
        if np.any(self.prob < 0) or not np.isfinite(self.prob).all() or self.prob.sum() <= 0:
            raise ValidationError("LengthPMF probabilities must be finite, ≥ 0 and not all 0")
        if np.any(self.tokens < 1):
            raise ValidationError("LengthPMF token values must be ≥ 1")


@dataclass(frozen=True, slots=True)
class ServeGenClient:
    """One client's statistics.

    Attributes:
        name: client label (``chunk-<id>``).
        window_start_s: shape (W,), starts of the 600-s arrival windows, seconds.
        rate_rps, cv: per window, requests per second and inter-arrival CV.
        pattern: per window ``"Gamma"``, ``"Weibull"`` or ``""`` (no fit).
        p1, p2: per window, the fitted shape and scale.
        length_window_s: shape (L,), starts of the 6-h length windows, seconds.
        input_pmf, output_pmf: per length window, the PMF, or ``None`` when it has no data.
    """

    name: str
    window_start_s: NDArray[np.float64]
    rate_rps: NDArray[np.float64]
    cv: NDArray[np.float64]
    pattern: tuple[str, ...]
    p1: NDArray[np.float64]
    p2: NDArray[np.float64]
    length_window_s: NDArray[np.float64]
    input_pmf: tuple[LengthPMF | None, ...]
    output_pmf: tuple[LengthPMF | None, ...]

    @property
    def expected_requests(self) -> float:
        """Σ rate × window length over all windows."""
        return float(self.rate_rps.sum() * WINDOW_S)

    def _pmf_at(self, pmfs: tuple[LengthPMF | None, ...], t: float) -> LengthPMF:
        have = [k for k, p in enumerate(pmfs) if p is not None]
        if not have:
            raise ValidationError(f"ServeGen client {self.name}: no length distribution")
        k = int(np.searchsorted(self.length_window_s, t, side="right")) - 1
        best = min(have, key=lambda j: (abs(j - k), j))
        p = pmfs[best]
        assert p is not None
        return p


def _gaps(pattern: str, p1: float, p2: float, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    if pattern == "Gamma" and p1 > 0 and p2 > 0:
        g = rng.gamma(p1, p2, n)
    elif pattern == "Weibull" and p1 > 0 and p2 > 0:
        g = p2 * rng.weibull(p1, n)
    else:
        g = rng.exponential(1.0, n)
    return np.asarray(g, dtype=np.float64)


def _arrivals(
    c: ServeGenClient, t0: float, t1: float, factor: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    out: list[NDArray[np.float64]] = []
    for w in np.flatnonzero((c.window_start_s + WINDOW_S > t0) & (c.window_start_s < t1)):
        rate = float(c.rate_rps[w]) * factor
        if rate <= 0:
            continue
        start = float(c.window_start_s[w])
        n = int(rate * WINDOW_S * 1.5 + 10)
        g = _gaps(c.pattern[w], float(c.p1[w]), float(c.p2[w]), n, rng)
        g = g / max(g.mean(), 1e-300) / rate
        t = start + np.cumsum(g)
        t = t[(t < start + WINDOW_S) & (t >= t0) & (t < t1)]
        out.append(t)
    return np.concatenate(out) if out else np.zeros(0)


def _lengths(
    c: ServeGenClient, pmfs: tuple[LengthPMF | None, ...], t: NDArray[np.float64], rng: np.random.Generator
) -> NDArray[np.int64]:
    res = np.zeros(t.size, np.int64)
    k = np.searchsorted(c.length_window_s, t, side="right") - 1
    for w in np.unique(k):
        sel = k == w
        p = c._pmf_at(pmfs, float(c.length_window_s[max(int(w), 0)]))
        res[sel] = rng.choice(p.tokens, size=int(sel.sum()), p=p.prob / p.prob.sum())
    return res


def servegen_workload(
    clients: Sequence[ServeGenClient],
    *,
    start_s: float = 0.0,
    duration_s: float = 3600.0,
    rate_factor: float = 1.0,
    seed: int = 0,
    values: ValueModel | None = None,
    max_tokens: int = 32768,
    name: str = "servegen",
) -> Workload:
    """Sample ``duration_s`` seconds of traffic from ``start_s`` on; each client is one tenant.

    Args:
        clients: the clients (tenants).
        start_s, duration_s: the time span to sample (seconds of the 14-day ServeGen calendar).
        rate_factor: multiplies every client's rate (ServeGen's rates are a whole region's).
        seed: seed of all draws.
        values: the synthetic value model.
        max_tokens: clip for sampled lengths.

    Raises:
        ValidationError: no clients, a non-positive duration or factor, or nothing sampled.
    """
    if not clients or duration_s <= 0 or rate_factor <= 0:
        raise ValidationError("servegen_workload needs clients, duration_s > 0 and rate_factor > 0")
    rng = np.random.default_rng(seed)
    t0, t1 = float(start_s), float(start_s + duration_s)
    arr, pr, out, ten = [], [], [], []
    for k, c in enumerate(clients):
        t = _arrivals(c, t0, t1, rate_factor, rng)
        if t.size == 0:
            continue
        arr.append(t - t0)
        pr.append(np.clip(_lengths(c, c.input_pmf, t, rng), 1, max_tokens))
        out.append(np.clip(_lengths(c, c.output_pmf, t, rng), 1, max_tokens))
        ten.append(np.full(t.size, k, np.int64))
    if not arr:
        raise ValidationError(
            f"servegen_workload: no requests in [{t0:g}, {t1:g}) s for {len(clients)} clients"
        )
    a = np.concatenate(arr)
    order = np.argsort(a, kind="stable")
    o = np.concatenate(out)[order]
    v, lam, pred = (values or ValueModel()).draw(o, np.random.default_rng(seed + 1))
    return Workload(
        name,
        a[order],
        np.concatenate(pr)[order],
        o,
        np.concatenate(ten)[order],
        tuple(c.name for c in clients),
        v,
        lam,
        pred,
        synthetic=("v_usd", "lam_usd_per_s", "predicted_output_tokens", "arrivals", "lengths"),
    ).validate()
