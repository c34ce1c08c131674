"""Serving decisions as ledger rows: admissions, speculation switches, evictions and orderings.

Admissions and speculation switches are ``DecisionBatch``es (the same candidates every row).
Evictions and ordering steps have different candidates in every row (cache entries, requests) and
carry metadata, so they are ``Decision`` records, built after the run from the columns a
recording run kept (``recording``; ``eviction_decisions``, ``order_decisions``).

Each admission is a decision over one candidate ("serve", ΔQ = 1) with the Null option (reject);
ΔC = GPU cost + the Pigouvian external charge, ΔL = the request's own predicted latency, prices
(V, λ) are the request's synthetic ones. ``sample_every`` keeps every k-th decision so ledger writes
never dominate a long run.

Speculation: each change of the engine's make-or-buy verdict is one decision between "plain" and
"speculate", per emitted token: ΔQ = 1 token each, ΔC = GPU price × seconds per token, ΔL = seconds
per token, λ = Λ_run of the batch at that time (from the price feed), V = the workload's mean
V_i / output_i (USD per token, synthetic). Both options share V, so Eq. 1 picks the one with fewer
seconds per token, which is the engine's test.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceSource, PriceVector
from tokenomy.core.uses import TokenUse
from tokenomy.ledger import Decision, DecisionBatch, Layer
from tokenomy.serving.result import RunResult

__all__ = ["admission_batch", "eviction_decisions", "order_decisions", "speculation_batch"]


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


def eviction_decisions(r: RunResult) -> list[Decision]:
    """The run's recorded evictions (``recording``) as decisions at point ``evict``; [] if none.

    One decision per sampled eviction over the policy's next victims (candidate 0 is the one it
    evicted, ``chosen`` = 0): V = the KV block-second shadow price p_kv (USD per block-second),
    candidate b: ΔQ = E·τ_b block-seconds freed until its expected reuse, ΔC = p_pre·H the expected
    reuse value given up, ΔL = 0; surplus = p_kv·E·τ_b − p_pre·H (``recording`` module docstring).
    Metadata: the policy, entry size, prices, and each candidate's age, reuses and τ.
    """
    log = r.eviction_log
    if log is None:
        return []
    rid = f"{r.workload.name}/{r.scheduler}/kv"
    e_blk, h_tok = log.blocks_per_entry, log.tokens_per_entry
    out = []
    for e in range(log.time_s.size):
        a, b = int(log.start[e]), int(log.start[e + 1])
        p_kv, p_pre = float(log.kv_usd_per_block_s[e]), float(log.prefill_usd_per_token[e])
        tau = log.age_s[a:b] / (log.reuses[a:b] + 1)
        prices = PriceVector(v_usd=p_kv, v_source=PriceSource.DISCOVERED)
        uses = [
            TokenUse(f"block:{h}", e_blk * float(t), p_pre * h_tok)
            for h, t in zip(log.hash[a:b].tolist(), tau.tolist(), strict=True)
        ]
        meta = {
            "policy": log.policy,
            "candidates": "the policy's next victims in its order; candidate 0 is the one it evicted",
            "blocks_per_entry": e_blk,
            "tokens_per_entry": h_tok,
            "evictable_entries": int(log.evictable[e]),
            "kv_usd_per_block_s": p_kv,
            "prefill_usd_per_token": p_pre,
            "age_s": log.age_s[a:b].tolist(),
            "reuses": log.reuses[a:b].tolist(),
            "expected_reuse_s": tau.tolist(),
        }
        out.append(
            Decision.from_uses(
                rid, Layer.SUPPLY, "evict", uses, prices, chosen=0, time_s=float(log.time_s[e]), metadata=meta
            )
        )
    return out


def order_decisions(r: RunResult) -> list[Decision]:
    """The run's recorded ordering steps (``recording``) as decisions at point ``order``; [] if none.

    One decision per sampled step over the queue's top requests in serve order; ``chosen`` is the
    first one the step admitted (``None`` when it admitted none). The candidates carry their own V_i
    and λ_i and a decision has one price vector, so the row's prices are the candidates' means
    (V̄, λ̄) and candidate i has ΔQ = V_i/V̄, ΔC = GPU cost + external charge, ΔL = S_i·λ_i/λ̄ (its own
    service time S_i in seconds at the reference price λ̄): V̄·ΔQ − ΔC − λ̄·ΔL is then the priced
    rule's surplus V_i − ΔC_i − external_i − λ_i·S_i, and the latency term stays separate (the
    serving-congestion audit reads it). Metadata: the scheduler, each candidate's priority, V, λ,
    S_i and external charge, and which were admitted or rejected.
    """
    log = r.order_log
    if log is None:
        return []
    wl = r.workload
    rid = f"{wl.name}/{r.scheduler}/queue"
    out = []
    for s in range(log.time_s.size):
        a, b = int(log.start[s]), int(log.start[s + 1])
        req = log.request[a:b]
        v, lam, own = wl.v_usd[req], wl.lam_usd_per_s[req], log.dl_s[a:b]
        v_ref, lam_ref = float(v.mean()), float(lam.mean())
        dq = v / v_ref if v_ref > 0 else np.zeros_like(v)
        dl = own * lam / lam_ref if lam_ref > 0 else own
        dc = log.dc_usd[a:b] + log.external_usd[a:b]
        uses = [
            TokenUse(f"req:{i}", q, c, t)
            for i, q, c, t in zip(req.tolist(), dq.tolist(), dc.tolist(), dl.tolist(), strict=True)
        ]
        prices = PriceVector(
            v_usd=v_ref, lam_usd_per_s=lam_ref, v_source=PriceSource.USER, lam_source=PriceSource.SLA
        )
        adm = np.flatnonzero(log.admitted[a:b])
        meta = {
            "scheduler": r.scheduler,
            "surplus_rule": log.rule,
            "priority": log.priority[a:b].tolist(),
            "priority_order": "lower is served first (order key; VTC: the tenant's virtual counter)",
            "v_usd": v.tolist(),
            "lam_usd_per_s": lam.tolist(),
            "own_latency_s": own.tolist(),
            "external_usd": log.external_usd[a:b].tolist(),
            "admitted": req[adm].tolist(),
            "rejected": req[log.rejected[a:b]].tolist(),
            "admitted_total": int(log.admitted_total[s]),
            "queue_len": int(log.queue_len[s]),
        }
        out.append(
            Decision.from_uses(
                rid,
                Layer.SUPPLY,
                "order",
                uses,
                prices,
                chosen=int(adm[0]) if adm.size else None,
                time_s=float(log.time_s[s]),
                metadata=meta,
            )
        )
    return out
