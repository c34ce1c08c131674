"""Every rollout, verification and update of an RL run as ledger decisions (capital layer), in batches.

One row per sampled group, three decision points, request id ``<run>/v<version>/s<step>/g<k>`` (the
policy version that generated it, the step that used it, the group's index in the step):

* ``rollout-sample`` (kind ``rollout``): candidate "sample", ΔQ = the allocator's expected signal
  signal(p̂, n), ΔC = its answer tokens at the rollout price; chosen.
* ``verify`` (kind ``verify``): candidate "check", ΔQ = the same expected signal, ΔC = the verifier's
  tokens at the verification price; chosen.
* ``rollout-use`` (kind ``update``): candidate "train", ΔQ = the realised signal p̂_g(1 − p̂_g) of the
  verified group, ΔC = its backward-pass tokens at the update price; chosen when the group was trained
  on, the null option when it was dropped.

V is the value of a unit of signal (``RLPrices.v_usd``); every row carries metadata
``staleness_versions`` (s: how many policy versions behind the training step its group was
generated, step − 1 − version, so 0 in a run's first steps before its lag fills), ``run_staleness``
(the run's configured lag), ``drift_per_version`` (δ), ``drift_source``, the policy and seed, and
``tokens`` (the row's own tokens: rows are batched by that count). These are the rows the
stale_rollouts audit reads: a trained group with V·ΔQ·(1 − δ)^s < ΔC. δ is the prices' fitted drift
for a group used stale and uncorrected; for a group whose samples were importance-weighted it is the
loss measured on that group's own weights, (1 − δ)^s = its ESS / n (``capital.rl.staleness``), which
is what the rule decided it by.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.capital.rl.allocators.base import RLPrices, signal
from tokenomy.capital.rl.loop import GroupLog
from tokenomy.core.prices import PriceSource
from tokenomy.core.rule import NULL
from tokenomy.ledger import DecisionBatch, Layer

__all__ = ["group_ids", "run_batches"]


def group_ids(run: str, groups: GroupLog) -> list[str]:
    """The ledger request id of every group of a run."""
    k = np.zeros(groups.step.size, dtype=np.int64)
    if groups.step.size:
        first = np.r_[0, np.flatnonzero(np.diff(groups.step)) + 1]
        k = np.arange(groups.step.size) - np.repeat(first, np.diff(np.r_[first, groups.step.size]))
    return [
        f"{run}/v{v}/s{s}/g{j}"
        for v, s, j in zip(groups.version.tolist(), groups.step.tolist(), k.tolist(), strict=True)
    ]


def _batches(
    ids: NDArray[np.object_],
    point: str,
    kind: str,
    name: str,
    dq: NDArray[np.float64],
    tokens: NDArray[np.int64],
    usd_per_token: float,
    chosen: NDArray[np.int64],
    time_s: NDArray[np.float64],
    prices: RLPrices,
    meta: dict[str, object],
    per_row: dict[str, NDArray[Any]],
) -> list[DecisionBatch]:
    out = []
    for count in np.unique(tokens).tolist():
        at = tokens == count
        n = int(at.sum())
        out.append(
            DecisionBatch(
                request_ids=ids[at],
                layer=Layer.CAPITAL,
                decision_point=point,
                names=(name,),
                dq=dq[at][:, None],
                dc_usd=np.full((n, 1), usd_per_token * count),
                dl_s=np.zeros((n, 1)),
                dr=np.zeros((n, 1)),
                dr_irr=np.zeros((n, 1)),
                chosen=chosen[at],
                v_usd=np.full(n, prices.v_usd),
                lam_usd_per_s=np.zeros(n),
                rho_usd=np.zeros(n),
                rho_irr_usd=np.zeros(n),
                time_s=time_s[at],
                sources={"v_source": PriceSource.OPERATOR},
                kind=kind,
                metadata={**meta, "tokens": int(count)},
                row_metadata={k: v[at] for k, v in per_row.items()},
            )
        )
    return out


def run_batches(
    run: str, groups: GroupLog, prices: RLPrices, *, policy: str, seed: int, staleness_versions: int
) -> list[DecisionBatch]:
    """The decision batches of one run (module docstring), ready for ``Ledger.append_batch``."""
    ids = np.asarray(group_ids(run, groups), dtype=object)
    expected = signal(groups.p_hat, groups.group_size.astype(np.float64))
    realised = groups.pass_rate * (1.0 - groups.pass_rate)
    t = groups.step.astype(np.float64)
    always = np.zeros(ids.size, dtype=np.int64)
    behind = np.maximum(groups.step - 1 - groups.version, 0).astype(np.int64)
    measured = groups.corrected & (behind > 0)
    delta = np.full(ids.size, prices.drift_per_version)
    kept = np.clip(groups.ess_share[measured], 1e-12, 1.0)
    delta[measured] = 1.0 - kept ** (1.0 / behind[measured])
    source = np.where(
        measured,
        "measured: 1 − (ESS/n)^(1/s) of the group's importance weights",
        "fitted: share of a fresh gradient a stale rollout delivers",
    )
    rows = {"staleness_versions": behind, "drift_per_version": delta, "drift_source": source}
    meta: dict[str, object] = {
        "policy": policy,
        "seed": seed,
        "run_staleness": staleness_versions,
        "synthetic": "token prices and V are assumed (RLPrices); tasks, rollouts and rewards are real",
    }
    return [
        *_batches(
            ids,
            "rollout-sample",
            "rollout",
            "sample",
            expected,
            groups.rollout_tokens,
            prices.rollout_usd_per_token,
            always,
            t,
            prices,
            meta,
            rows,
        ),
        *_batches(
            ids,
            "verify",
            "verify",
            "check",
            expected,
            groups.verify_tokens,
            prices.verify_usd_per_token,
            always,
            t,
            prices,
            meta,
            rows,
        ),
        *_batches(
            ids,
            "rollout-use",
            "update",
            "train",
            realised,
            groups.update_tokens,
            prices.update_usd_per_token,
            np.where(groups.trained, 0, NULL).astype(np.int64),
            t,
            prices,
            meta,
            rows,
        ),
    ]
