"""Serving decisions as ledger rows: admission verdicts as one columnar ``DecisionBatch``.

Each admission is a decision over one candidate ("serve", ΔQ = 1) with the Null option (reject);
ΔC = GPU cost + the Pigouvian external charge, ΔL = the request's own predicted latency, prices
(V, λ) are the request's synthetic ones. ``sample_every`` keeps every k-th decision so ledger writes
never dominate a long run. Speculation switches and evictions are counted in ``RunResult``, not logged.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceSource
from tokenomy.ledger import DecisionBatch, Layer
from tokenomy.serving.result import RunResult

__all__ = ["admission_batch"]


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
