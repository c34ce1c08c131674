"""The value of information of a verify step, estimated from recorded runs, and the stop rule that uses it.

A verify step (a call whose command runs tests or a script: dataset classes ``test`` / ``run``, the
same ones the audit's canonical action classes call verification) is worth what it adds to the
chance of success. Estimated on train runs only, at the decision points where the run holds an edit
not yet verified (feature ``edited_unverified``):

    logit P(resolved | prefix, call k verifies) = η(prefix) + b·1[call k is a verify],
    VoI_verify(x) = σ(η(x) + b) − σ(η(x))     (0 where nothing is left to verify; clipped at 0),

with η over the prefix features of the stopping rule (standardised as its model does) — a logistic
fit by :func:`~tokenomy.autonomy.success_model.fit_glm`. ``b`` and its standard error come from the
fit; the estimate is observational (the agent chose when to verify), so the rule uses the lower
end b − z·se (``z_se``), not the point estimate.

:class:`VerifyStop` is Eq. 1 with that term, the controller's verify option vectorised: at each
decision point

    continue  = V·p̂ − Ĉ,     verify = V·(p̂ + VoI_verify) − Ĉ − ĉ_next     (verify costs one more call),

and the run goes on iff max(continue, verify) > 0 under the stopping rule's margin and budget. In a
replay, verifying is continuing the recorded run (whose next call may or may not run tests); the
data hold no counterfactual verify. ĉ_next is the next call's cost predicted before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from tokenomy.autonomy.features import FEATURE_NAMES, PHASES, TrajectoryTable
from tokenomy.autonomy.stopping import MarginalStop, _surplus
from tokenomy.autonomy.success_model import PrefixModel, _sigmoid, fit_glm

__all__ = ["VerifyStop", "VerifyValue", "fit_verify_value"]

_UNVERIFIED = FEATURE_NAMES.index("edited_unverified")
_VERIFY = PHASES.index("verify")


@dataclass(frozen=True, slots=True)
class VerifyValue:
    """The fitted VoI model of a verify step.

    Attributes:
        model: the prefix model whose standardisation η uses.
        beta: float[F+1], η's coefficients then b.
        b: log-odds a verify call adds at an unverified edit (point estimate).
        b_se: its standard error (trajectory-weighted information).
        n_rows: train decision points with an unverified edit.
    """

    model: PrefixModel
    beta: NDArray[np.float64]
    b: float
    b_se: float
    n_rows: int

    def voi(self, x: NDArray[np.float64], z_se: float = 0.0) -> NDArray[np.float64]:
        """float[N]: VoI_verify at each row (success probability gained), with b lowered by z·se."""
        z = self.model._z(x)
        eta = z @ self.beta[:-1]
        b = max(self.b - z_se * self.b_se, 0.0)
        gain = _sigmoid(eta + b) - _sigmoid(eta)
        return np.where(x[:, _UNVERIFIED] > 0, np.maximum(gain, 0.0), 0.0)


def fit_verify_value(train: TrajectoryTable, model: PrefixModel, ridge: float = 1e-2) -> VerifyValue:
    """Fit b on the train rows holding an unverified edit (each trajectory weighted once)."""
    rows = train.x[:, _UNVERIFIED] > 0
    if rows.sum() < 10:
        return VerifyValue(model, np.zeros(len(model.cols_) + 1), 0.0, math.inf, int(rows.sum()))
    z = model._z(train.x[rows])
    ind = (train.phase[rows] == _VERIFY).astype(np.float64)
    design = np.column_stack([z, ind])
    w = 1.0 / train.n_calls[train.traj[rows]].astype(np.float64)
    y = train.resolved[train.traj[rows]].astype(np.float64)
    beta = fit_glm(design, y, w, link="logit", ridge=ridge)
    p = _sigmoid(design @ beta)
    pen = np.full(design.shape[1], ridge * float(w.sum()))
    pen[0] = 0.0
    hess = (design * (w * p * (1 - p))[:, None]).T @ design + np.diag(pen)
    se = float(np.sqrt(max(float(np.linalg.pinv(hess)[-1, -1]), 0.0)))
    return VerifyValue(model, beta, float(beta[-1]), se, int(rows.sum()))


@dataclass
class VerifyStop(MarginalStop):
    """The marginal stop rule with the controller's verify option: V·VoI_verify − ĉ_next added where it pays."""

    name: str = "tokenomy_voi"
    z_voi: float = 1.0
    value_: VerifyValue | None = field(default=None, repr=False)

    def fit(self, train: TrajectoryTable, v_usd: float) -> VerifyStop:
        """Fit p̂, Ĉ, ĉ_next (as the stop rule does) and VoI_verify, all on ``train``."""
        super().fit(train, v_usd)
        assert self.model_ is not None
        self.value_ = fit_verify_value(train, self.model_, self.ridge_)
        return self

    def _keep(
        self, model: PrefixModel, table: TrajectoryTable, v_usd: float, z_se: float
    ) -> NDArray[np.bool_]:
        lo, hi = model.success_bounds(table.x, z_se)
        p = np.where(table.step == 0, lo, hi)
        rem = model.remaining_usd(table.x)
        cont = _surplus(v_usd, p, rem)
        if self.value_ is not None and self.value_.model is model:
            voi = self.value_.voi(table.x, self.z_voi)
            p_v = np.minimum(p + voi, 1.0)
            cont = np.maximum(cont, _surplus(v_usd, p_v, rem + model.next_call_usd(table.x)))
        return np.asarray((cont > 0.0) & self.within_budget(model, table, v_usd), dtype=bool)
