"""Per-request facts of agent trajectories that several detectors share (vectorised, no I/O).

Steps are grouped by request in ``AuditContext.req`` order; these helpers reduce per-step masks to
per-request counts with ``np.add.at`` / ``np.maximum.at`` (O(N), no Python loop per step).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tokenomy.audit.detectors.base import AuditContext

__all__ = ["EDIT", "VERIFY", "verification_stats"]

EDIT = frozenset({"edit"})
VERIFY = frozenset({"test", "run"})


def verification_stats(ctx: AuditContext) -> dict[str, NDArray[np.float64] | NDArray[np.int64]]:
    """Per request: edits, position of the last edit, verify steps after it, their summed cost.

    Returns:
        ``n_edit``, ``last_edit`` (−1 when none), ``n_verify_after``, ``verify_cost_usd`` (all verify
        steps), ``n_verify``; each shape (R,).
    """
    s = ctx.log.steps
    r = len(ctx.log.requests)
    req = ctx.req
    ok = req >= 0
    cls = s.action_class
    is_edit = np.isin(cls, list(EDIT)) & ok
    is_verify = np.isin(cls, list(VERIFY)) & ok
    n_edit = np.zeros(r, np.int64)
    np.add.at(n_edit, req[is_edit], 1)
    last = np.full(r, -1, np.int64)
    np.maximum.at(last, req[is_edit], s.index[is_edit])
    after = is_verify & (s.index > last[np.where(ok, req, 0)])
    n_after = np.zeros(r, np.int64)
    np.add.at(n_after, req[after], 1)
    n_verify = np.zeros(r, np.int64)
    np.add.at(n_verify, req[is_verify], 1)
    vcost = np.zeros(r)
    np.add.at(vcost, req[is_verify], np.nan_to_num(s.cost_usd[is_verify]))
    return {
        "n_edit": n_edit,
        "last_edit": last,
        "n_verify_after": n_after,
        "n_verify": n_verify,
        "verify_cost_usd": vcost,
    }
