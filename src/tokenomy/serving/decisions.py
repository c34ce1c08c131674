"""Serving decisions as ledger rows: admission verdicts and speculation switches as ``DecisionBatch``es.

Each admission is a decision over one candidate ("serve", ΔQ = 1) with the Null option (reject);
ΔC = GPU cost + the Pigouvian external charge, ΔL = the request's own predicted latency, prices
(V, λ) are the request's synthetic ones. ``sample_every`` keeps every k-th decision so ledger writes
never dominate a long run.

Speculation: each change of the engine's make-or-buy verdict is one decision between "plain" and
"speculate", per emitted token: ΔQ = 1 token each, ΔC = GPU price × seconds per token, ΔL = seconds
per token, λ = Λ_run of the batch at that time (from the price feed), V = the workload's mean
V_i / output_i (USD per token, synthetic). Both options share V, so Eq. 1 picks the one with fewer
seconds per token, which is the engine's test. Evictions are counted in ``RunResult``
(``evictions``), not logged one by one.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceSource
from tokenomy.ledger import DecisionBatch, Layer
from tokenomy.serving.result import RunResult

__all__ = ["admission_batch", "speculation_batch"]


def admission_batch(r: RunResult, *, sample_every: int = 1) -> DecisionBatch | None:
    """The run's admission decisions (every ``sample_every``-th), or ``None`` when none were taken.

    Raises:
        ValidationError: sample_every < 1.
    """
    if sample_every < 1:
        raise ValidationError(f"sample_every must be ≥ 1, got {sample_every!r}")
    log = r.admissions
    if log is None or log.request.size == 0:
        return None
    k = np.arange(0, log.request.size, sample_every)
    wl = r.workload
    req = log.request[k]
    n = k.size

    def col(a: NDArray[np.float64]) -> NDArray[np.float64]:
        return a[k][:, None]

    return DecisionBatch(
        request_ids=np.char.add(f"{wl.name}/{r.scheduler}/", req.astype(str)).astype(object),
        layer=Layer.SUPPLY,
        decision_point="admit",
        names=("serve",),
        dq=np.ones((n, 1)),
        dc_usd=col(log.dc_usd) + col(log.external_usd),
        dl_s=col(log.dl_s),
        dr=np.zeros((n, 1)),
        dr_irr=np.zeros((n, 1)),
        chosen=np.where(log.admit[k], 0, -1).astype(np.int64),
        v_usd=wl.v_usd[req],
        lam_usd_per_s=wl.lam_usd_per_s[req],
        rho_usd=np.zeros(n),
        rho_irr_usd=np.zeros(n),
        time_s=log.time_s[k],
        tenants=np.array(wl.tenant_names, dtype=object)[wl.tenant[req]],
        sources={"v_source": PriceSource.USER, "lam_source": PriceSource.SLA},
    )


def speculation_batch(r: RunResult) -> DecisionBatch | None:
    """The run's speculation switches as decisions ("plain" vs "speculate"), or ``None`` if none."""
    sw = r.spec_switches
    if sw.shape[0] == 0:
        return None
    n = sw.shape[0]
    feed_t = np.array([s.time_s for s in r.prices]) if r.prices else np.zeros(0)
    lam = np.zeros(n)
    if feed_t.size:
        k = np.maximum(np.searchsorted(feed_t, sw[:, 0], side="right") - 1, 0)
        lam = np.array([r.prices[int(j)].lam_running_usd_per_s for j in k])
    per_tok = sw[:, 3:5]
    return DecisionBatch(
        request_ids=np.array([f"{r.workload.name}/{r.scheduler}/engine"] * n, dtype=object),
        layer=Layer.SUPPLY,
        decision_point="speculate",
        names=("plain", "speculate"),
        dq=np.ones((n, 2)),
        dc_usd=per_tok * r.config.gpu_usd_per_s,
        dl_s=per_tok,
        dr=np.zeros((n, 2)),
        dr_irr=np.zeros((n, 2)),
        chosen=sw[:, 1].astype(np.int64),
        v_usd=np.full(n, float(np.mean(r.workload.v_usd / r.workload.output_tokens))),
        lam_usd_per_s=lam,
        rho_usd=np.zeros(n),
        rho_irr_usd=np.zeros(n),
        time_s=sw[:, 0],
        tenants=np.array([""] * n, dtype=object),
        sources={"v_source": PriceSource.USER, "lam_source": PriceSource.DISCOVERED},
    )
