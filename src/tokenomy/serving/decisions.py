"""Serving decisions as ledger rows: admissions, speculation switches, evictions and orderings.

Admissions and speculation switches are ``DecisionBatch``es (the same candidates every row).
Evictions and ordering steps have different candidates in every row (cache entries, requests) and
carry metadata, so they are ``Decision`` records, built after the run from the columns a
recording run kept (``recording``; ``eviction_decisions``, ``order_decisions``).

Every row's ``v_usd`` is V, USD per unit of quality (docs/ledger.md, Units); prices of resources
(GPU-second, KV block-second, prefill token) travel as ``ResourcePrice`` entries of the row's price
vector, never in V. Each row names its kind (``admit``, ``speculate``, ``evict``, ``order``).

Each admission is a decision over one candidate ("serve", ΔQ = 1) with the Null option (reject);
ΔC = GPU cost + the Pigouvian external charge, ΔL = the request's own predicted latency, prices
(V, λ) are the request's synthetic ones. ``sample_every`` keeps every k-th decision so ledger writes
never dominate a long run.

Speculation: each change of the engine's make-or-buy verdict is one decision between "plain" and
"speculate", per emitted token. V = the workload's mean V_i (USD per quality unit) and ΔQ = the
quality one output token carries, Σ_i V_i/output_i ÷ Σ_i V_i (the same for both options: speculation
changes how fast tokens come, not which), so V·ΔQ is the mean value per output token, mean V_i/output_i
(kept in metadata ``v_usd_per_token``); ΔC = GPU price × seconds per token, ΔL = seconds per token,
λ = Λ_run of the batch at that time (from the price feed). Both options share V·ΔQ, so Eq. 1 picks
the one with fewer seconds per token, which is the engine's test.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import (
    GPU_SECOND,
    KV_BLOCK_SECOND,
    PREFILL_TOKEN,
    PriceSource,
    PriceVector,
    ResourcePrice,
)
from tokenomy.core.uses import TokenUse
from tokenomy.ledger import Decision, DecisionBatch, Layer
from tokenomy.serving.result import RunResult

__all__ = ["admission_batch", "eviction_decisions", "order_decisions", "speculation_batch"]


def _gpu_price(r: RunResult) -> ResourcePrice:
    """The operator's GPU-second price, the one the rows' ΔC (GPU cost) is computed at."""
    return ResourcePrice(GPU_SECOND, float(r.config.gpu_usd_per_s), "s", PriceSource.OPERATOR)


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
        kind="admit",
        resources=(_gpu_price(r),),
    )


def speculation_batch(r: RunResult) -> DecisionBatch | None:
    """The run's speculation verdicts as decisions ("plain" vs "speculate"), or ``None`` if none: the
    batch switches, or with per-request speculation one decision per request (``_request_batch``)."""
    if r.spec_requests.shape[0]:
        return _request_batch(r)
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
    wl = r.workload
    v_tok = wl.v_usd / wl.output_tokens  # USD per output token of each request
    v_mean, v_sum = float(np.mean(wl.v_usd)), float(np.sum(wl.v_usd))
    dq_tok = float(np.sum(v_tok) / v_sum) if v_sum > 0 else float(np.mean(1.0 / wl.output_tokens))
    return DecisionBatch(
        request_ids=np.array([f"{r.workload.name}/{r.scheduler}/engine"] * n, dtype=object),
        layer=Layer.SUPPLY,
        decision_point="speculate",
        names=("plain", "speculate"),
        dq=np.full((n, 2), dq_tok),
        dc_usd=per_tok * r.config.gpu_usd_per_s,
        dl_s=per_tok,
        dr=np.zeros((n, 2)),
        dr_irr=np.zeros((n, 2)),
        chosen=sw[:, 1].astype(np.int64),
        v_usd=np.full(n, v_mean),
        lam_usd_per_s=lam,
        rho_usd=np.zeros(n),
        rho_irr_usd=np.zeros(n),
        time_s=sw[:, 0],
        tenants=np.array([""] * n, dtype=object),
        sources={"v_source": PriceSource.USER, "lam_source": PriceSource.DISCOVERED},
        kind="speculate",
        resources=(_gpu_price(r),),
        metadata={
            "v_usd_per_token": float(np.mean(v_tok)),
            "dq": "quality per output token: sum(V_i/output_i) / sum(V_i); V = mean V_i",
            "per_token": "dc_usd and dl_s are per emitted token",
        },
    )


def _request_batch(r: RunResult) -> DecisionBatch:
    """Per-request speculation verdicts (``speculation``): request i's own V and λ, ΔQ its value per
    output token over V (speculation is lossless, so the same for both options), ΔC the GPU cost and
    the delay charge per token, ΔL its own seconds per token; the chosen option has the larger
    surplus V·ΔQ − ΔC − λ·ΔL under the ``request`` rule (a fixed rule's rows show what it gave up)."""
    rows = r.spec_requests
    n = rows.shape[0]
    wl = r.workload
    i = rows[:, 1].astype(np.int64)
    v = wl.v_usd[i]
    dq = np.where(v > 0, 1.0 / wl.output_tokens[i], 0.0)
    return DecisionBatch(
        request_ids=np.array([f"{wl.name}/{r.scheduler}/{j}" for j in i], dtype=object),
        layer=Layer.SUPPLY,
        decision_point="speculate",
        names=("plain", "speculate"),
        dq=np.repeat(dq[:, None], 2, axis=1),
        dc_usd=rows[:, 3:5].copy(),
        dl_s=rows[:, 5:7].copy(),
        dr=np.zeros((n, 2)),
        dr_irr=np.zeros((n, 2)),
        chosen=rows[:, 2].astype(np.int64),
        v_usd=v.astype(np.float64),
        lam_usd_per_s=wl.lam_usd_per_s[i].astype(np.float64),
        rho_usd=np.zeros(n),
        rho_irr_usd=np.zeros(n),
        time_s=rows[:, 0].copy(),
        tenants=np.array([wl.tenant_names[t] for t in wl.tenant[i]], dtype=object),
        sources={"v_source": PriceSource.USER, "lam_source": PriceSource.USER},
        kind="speculate",
        resources=(_gpu_price(r),),
        metadata={
            "rule": r.config.spec_rule,
            "dq": "quality per output token (1/output): the same for both options (lossless)",
            "per_token": "dc_usd (GPU cost + delay charge on the others) and dl_s are per emitted token",
        },
    )


def eviction_decisions(r: RunResult) -> list[Decision]:
    """The run's recorded evictions (``recording``) as decisions at point ``evict``; [] if none.

    One decision per sampled eviction over the policy's next victims (candidate 0 is the one it
    evicted, ``chosen`` = 0). The surplus of evicting entry b is s_b = p_kv·E·τ_b − p_pre·H: the
    KV block-seconds freed until its expected reuse at the KV block-second price, less the prefill it
    will cost to recompute (``recording`` module docstring). No quality is at stake, so V = 0 and
    ΔQ = 0; p_kv and p_pre are the row's ``kv_block_second`` and ``prefill_token`` resource prices.
    An eviction is forced (the pool is full), so the candidates are priced against the best of them:
    ΔC_b = max_j s_j − s_b ≥ 0, the USD the row gives up by evicting b instead of the best candidate,
    and surplus = −ΔC_b (0 for the best; the chosen row's −surplus is what the policy left on the
    table). Metadata: the policy, entry size, prices, each candidate's age, reuses and τ, and the
    terms ``hold_cost_usd`` (p_kv·E·τ_b), ``reuse_value_usd`` (p_pre·H) and ``evict_surplus_usd`` (s_b).
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
        t_e = float(log.time_s[e])
        tau = log.age_s[a:b] / (log.reuses[a:b] + 1)
        hold = p_kv * e_blk * tau
        reuse = np.full(tau.size, p_pre * h_tok)
        s_evict = hold - reuse
        prices = PriceVector(
            resources=(
                ResourcePrice(KV_BLOCK_SECOND, p_kv, "block·s", PriceSource.DISCOVERED, t_e),
                ResourcePrice(PREFILL_TOKEN, p_pre, "token", PriceSource.DISCOVERED, t_e),
            ),
            time_s=t_e,
        )
        uses = [
            TokenUse(f"block:{h}", 0.0, gap)
            for h, gap in zip(log.hash[a:b].tolist(), (s_evict.max() - s_evict).tolist(), strict=True)
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
            "hold_cost_usd": hold.tolist(),
            "reuse_value_usd": reuse.tolist(),
            "evict_surplus_usd": s_evict.tolist(),
        }
        out.append(
            Decision.from_uses(
                rid, Layer.SUPPLY, "evict", uses, prices, chosen=0, time_s=t_e, metadata=meta, kind="evict"
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
    serving-congestion audit reads it). ``v_usd`` is V̄, USD per quality unit, as in every row; ΔQ_i is
    request i's one unit of quality expressed at V̄. Metadata: the scheduler, each candidate's
    priority, V, λ, S_i and external charge, the reference prices and ratios (``v_ratio`` =
    V_i/V̄ = ΔQ_i, ``lam_ratio`` = λ_i/λ̄), and which were admitted or rejected; the GPU-second price
    is a resource price.
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
            v_usd=v_ref,
            lam_usd_per_s=lam_ref,
            v_source=PriceSource.USER,
            lam_source=PriceSource.SLA,
            resources=(_gpu_price(r),),
        )
        adm = np.flatnonzero(log.admitted[a:b])
        meta = {
            "scheduler": r.scheduler,
            "surplus_rule": log.rule,
            "priority": log.priority[a:b].tolist(),
            "priority_order": "lower is served first (order key; VTC: the tenant's virtual counter)",
            "v_usd": v.tolist(),
            "lam_usd_per_s": lam.tolist(),
            "reference_v_usd": v_ref,
            "reference_lam_usd_per_s": lam_ref,
            "v_ratio": dq.tolist(),
            "lam_ratio": (lam / lam_ref if lam_ref > 0 else np.ones_like(lam)).tolist(),
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
                kind="order",
            )
        )
    return out
