"""Speculative decoding in expectation: one verdict per step for the batch, or one per request (Eq. 1).

With draft length k and per-token acceptance α a speculating sequence emits
E(α) = (1 − α^{k+1})/(1 − α) tokens per step; the target model verifies k + 1 tokens for it and the
draft model runs k small steps (each ``spec_draft_frac`` of a target decode step).

**Batch mode** (``EngineConfig.spec_rule`` ``"batch"``): one α for all; a speculating step costs
``step(P, D·(k+1)) + spec_draft_frac·k·step(0, D)``; draft only when E / t_spec > 1 / t_plain (the
expected accepted tokens per second of step time beat plain decoding). Each change of that verdict
is kept (time, on, decode batch size, seconds per token plain, seconds per token speculating).

**Per-request mode.** Request i has its own acceptance α_i = α_class · 2^(−L̄_i/H) (class =
tenant, ``spec_alpha_by_tenant``; H = ``spec_alpha_halving_tokens``, 0: no decay) at its mean
context over its decode, L̄_i = prompt + generated + predicted remaining/2 (the prediction, never
the true length), so E_i = E(α_i). A speculating request advances E_i tokens per step
(``running``: per-slot rates); the step costs ``step(P, D + k·n_spec) +
spec_draft_frac·k·step(0, n_spec) + Σ_spec c·L̄·k·(1 + spec_draft_frac)`` (c: the step model's
seconds per attention pair: verifying k more tokens, and drafting them, attend the context).

``spec_rule="request"`` decides by Eq. 1 each time a request enters decode, for every decoding
request, since the draft model's step is a cost they share (``regroup``). Per emitted token,
speculating instead of plain gains request j

    net_j = λ_j·t·(1 − 1/E_j) − (GPU price + Λ − λ_j)·(m_spec,j/E_j − m_plain)

(t the step, m the seconds it adds to the step under the step model: a decode token plain; k + 1
verified tokens, the draft model's marginal and its context cost speculating; Λ the λ of everyone
in the system, so GPU price + Λ − λ_j prices a second of step time for the others). Speculation is
lossless, so V·ΔQ is the same for both options. The group S = {j: net_j > 0} (iterated with the
step it implies) speculates when its gains over the predicted tokens left cover the draft model's
fixed step cost F = spec_draft_frac·k·(intercept of the decode step) for as long as any of them
speculates: Σ_S net_j·left_j > (GPU price + Λ)·F·max_S(left_j/E_j); else nobody does. Each
member bears F's cost in proportion to its gain (Lindahl shares), so each verdict is an Eq. 1
choice: the entering request's and every switched one's row is kept (time, request, on, ΔC plain
and speculating in USD per token — GPU cost, the delay charge and its share of F —, ΔL plain and
speculating in seconds per token; ``decisions.speculation_batch``). A long context (low α_i, dear
verification) or a crowded server (high Λ) switches it off; a group that gains enough switches it
on for its members, re-rated from their next step. Groups are chosen again only at decode entries.

``"always"`` / ``"never"``: the same accounting with the verdict fixed at decode entry (the
baselines; ``decide`` keeps their rows). Not modelled: the verified tokens' share of the per-step
token budget. No I/O here.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

import numpy as np

from tokenomy.serving.entities import EngineConfig
from tokenomy.serving.steptime import StepTimeModel

if TYPE_CHECKING:
    from tokenomy.serving.requests import RequestTable
    from tokenomy.serving.running import RunningSet

__all__ = ["SpeculativeStep", "acceptance", "tokens_per_step"]


def tokens_per_step(alpha: float, k: int) -> float:
    """E(α) = (1 − α^{k+1})/(1 − α): expected tokens a speculating sequence emits per step."""
    return (1 - alpha ** (k + 1)) / (1 - alpha) if k else 1.0


def acceptance(cfg: EngineConfig, tenant: int, context_tokens: float) -> float:
    """α_i of a request of class ``tenant`` at mean context ``context_tokens`` (module docstring)."""
    by = cfg.spec_alpha_by_tenant
    a = by[tenant] if tenant < len(by) else cfg.spec_alpha
    h = cfg.spec_alpha_halving_tokens
    return a * 2.0 ** (-context_tokens / h) if h > 0 else a


class SpeculativeStep:
    """The step time of one iteration, with speculation by batch or by request (module docstring).

    Args:
        model: the step-time model.
        cfg: the engine configuration (``spec_k`` = 0 turns speculation off).
    """

    def __init__(self, model: StepTimeModel, cfg: EngineConfig) -> None:
        self.model, self.cfg = model, cfg
        self.tokens_per_seq = tokens_per_step(cfg.spec_alpha, cfg.spec_k)
        self.on = False
        self.switches: list[tuple[float, float, float, float, float]] = []
        self.per_request = bool(cfg.spec_k) and cfg.spec_rule != "batch"
        self.decisions: list[tuple[float, float, float, float, float, float, float]] = []
        self.rs: RunningSet | None = None  # the decode set (per-request mode reads its composition)

    def step(
        self, prefill_tokens: float, decode_seqs: int, now_s: float, context_pairs: float = 0.0
    ) -> tuple[float, float]:
        """(step seconds, tokens emitted per decoding sequence: per unit of its rate in per-request
        mode) for a step at ``now_s`` (``context_pairs``: the prefill chunks' attention to tokens
        already in KV, ``steptime``)."""
        model, cfg = self.model, self.cfg
        if self.per_request:
            rs = self.rs
            assert rs is not None
            ns = rs.n_spec
            if not (ns and decode_seqs):
                return model.step_s(prefill_tokens, decode_seqs, context_pairs), 1.0
            k = cfg.spec_k
            t = model.step_s(prefill_tokens, decode_seqs + k * ns, context_pairs)
            return t + cfg.spec_draft_frac * k * model.step_s(0.0, ns) + rs.spec_ctx_s, 1.0
        t = model.step_s(prefill_tokens, decode_seqs, context_pairs)
        if cfg.spec_k and decode_seqs:
            d = decode_seqs
            e = self.tokens_per_seq
            ts = model.step_s(
                prefill_tokens, d * (cfg.spec_k + 1), context_pairs
            ) + cfg.spec_draft_frac * cfg.spec_k * (model.step_s(0, d))
            on = e / ts > 1.0 / t
            if on != self.on:  # the make-or-buy verdict changed: a decision for the ledger
                self.on = on
                self.switches.append((now_s, float(on), float(d), t, ts / e))
            if on:
                return ts, e
        return t, 1.0

    def decide(
        self,
        i: int,
        now_s: float,
        *,
        tenant: int,
        context_tokens: float,
        lam_usd_per_s: float,
        lam_all: float,
        to_go: float,
    ) -> tuple[float, float]:
        """Request ``i``'s row at decode entry under a fixed rule (``always``/``never``): (its tokens
        per step, its context cost in seconds per step while it speculates); (1, 0) when plain, with
        its own marginal costs (module docstring). ``lam_all``: Σλ of the others in the system;
        ``to_go``: its predicted remaining output tokens."""
        model, cfg, rs = self.model, self.cfg, self.rs
        assert rs is not None
        k, df = cfg.spec_k, cfg.spec_draft_frac
        nd, ns = rs.nd, rs.n_spec
        tok = nd + k * ns  # the others' decode tokens per step
        base = model.step_s(0.0, tok) if tok else 0.0
        draft = df * k * model.step_s(0.0, ns) if ns else 0.0
        t_base = base + draft + rs.spec_ctx_s if tok else 0.0
        m_plain = model.step_s(0.0, tok + 1) - base
        ctx_s = model.attn_s_per_token_pair * context_tokens * k * (1.0 + df)
        m_spec = model.step_s(0.0, tok + k + 1) - base + df * k * model.step_s(0.0, ns + 1) - draft + ctx_s
        e = tokens_per_step(acceptance(cfg, tenant, context_tokens), k)
        price = cfg.gpu_usd_per_s + lam_all  # the GPU-second price (``prices``)
        dc_p, dc_s = price * m_plain, price * m_spec / e
        if ns:  # the draft steps run while anyone speculates: it pays for the steps it adds to them
            ext = max(to_go / e - rs.spec_group_left(), 0.0)
            dc_s += price * draft * ext / max(to_go, 1.0)
        dl_p, dl_s = t_base + m_plain, (t_base + m_spec) / e
        rule = cfg.spec_rule
        on = (
            dc_s + lam_usd_per_s * dl_s < dc_p + lam_usd_per_s * dl_p
            if rule == "request"
            else rule == "always"
        )
        self.decisions.append((now_s, float(i), float(on), dc_p, dc_s, dl_p, dl_s))
        return (e, ctx_s) if on else (1.0, 0.0)

    def enter(self, i: int, now_s: float, t: RequestTable) -> tuple[float, float]:
        """Request ``i``'s verdict as it enters decode (``decide`` on its class, its mean context by
        its predicted length, the λ of the others in the system); records its predicted finish."""
        rs = self.rs
        assert rs is not None
        wl = t.workload
        to_go = max(float(wl.predicted_output_tokens[i]) - t.gen[i], 1.0)  # predicted, never the truth
        ctx = t.prompt[i] + t.gen[i] + to_go / 2.0
        lam_all = float(rs.slot_lam.sum()) - t.lam[i] + max(rs.lam_waiting_usd_per_s, 0.0)
        r, ctx_s = self.decide(
            i,
            now_s,
            tenant=int(wl.tenant[i]),
            context_tokens=ctx,
            lam_usd_per_s=t.lam[i],
            lam_all=lam_all,
            to_go=to_go,
        )
        rs.pfin_next = rs.g + to_go / r  # its predicted finish, in steps (the draft steps' horizon)
        return r, ctx_s

    def tally(self, k: int, t: float, itl_s: list[float], itl_w: list[float]) -> int:
        """k steps of ``t`` seconds with per-request rates: one ITL entry per group, token-weighted
        (plain slots a token a step, speculating ones their rates); returns the speculating steps."""
        rs = self.rs
        assert rs is not None
        n_plain = rs.nd - rs.n_spec
        r_spec = rs.r_sum - n_plain
        if n_plain:
            itl_s.append(t)
            itl_w.append(k * n_plain)
        if rs.n_spec:
            itl_s.append(t * rs.n_spec / r_spec)
            itl_w.append(k * r_spec)
            return k
        return 0

    def join(self, i: int, now_s: float, t: RequestTable, heap: list[tuple[float, int]]) -> None:
        """``request`` rule: decoding request ``i`` (just pushed, plain) brings its candidate rate;
        the group that speculates is chosen again (``regroup``) and slots that change re-rate."""
        rs = self.rs
        assert rs is not None
        wl = t.workload
        to_go = max(float(wl.predicted_output_tokens[i]) - t.gen[i], 1.0)  # predicted, never the truth
        ctx = t.prompt[i] + t.gen[i] + to_go / 2.0
        p = rs.pos[i]
        rs.d_pfin[p] = rs.g + to_go
        rs.d_ecand[p] = tokens_per_step(acceptance(self.cfg, int(wl.tenant[i]), ctx), self.cfg.spec_k)
        rs.d_ctxc[p] = (
            self.model.attn_s_per_token_pair * ctx * self.cfg.spec_k * (1.0 + self.cfg.spec_draft_frac)
        )
        self.regroup(p, now_s, heap)

    def regroup(self, p_new: int, now_s: float, heap: list[tuple[float, int]]) -> None:
        """Choose who speculates among the decoding requests (module docstring, ``request`` rule)."""
        rs, model, cfg = self.rs, self.model, self.cfg
        assert rs is not None
        nd, k, df = rs.nd, cfg.spec_k, cfg.spec_draft_frac
        e, ctx, lam, r = rs.d_ecand[:nd], rs.d_ctxc[:nd], rs.d_lam[:nd], rs.d_r[:nd]
        left = np.maximum((rs.d_pfin[:nd] - rs.g) * r, 1.0)  # predicted tokens to go
        lam_all = float(rs.slot_lam.sum()) + max(rs.lam_waiting_usd_per_s, 0.0)
        price_o = cfg.gpu_usd_per_s + lam_all - lam  # a second of step time, for the others
        cand = e > 1.0
        group = cand.copy()
        for _ in range(4):  # who gains at the margin, given who speculates
            ns = int(group.sum())
            tok = nd + k * ns
            t = (
                model.step_s(0.0, tok)
                + (df * k * model.step_s(0.0, ns) if ns else 0.0)
                + float(ctx[group].sum())
            )
            m_v = model.step_s(0.0, tok + 1) - model.step_s(0.0, tok)
            m_d = df * k * (model.step_s(0.0, max(ns, 1) + 1) - model.step_s(0.0, max(ns, 1)))
            m_s = (k + 1) * m_v + m_d + ctx
            net = lam * t * (1.0 - 1.0 / e) - price_o * (m_s / e - m_v)
            nxt = cand & (net > 0.0)
            if np.array_equal(nxt, group):
                break
            group = nxt
        # the draft model's fixed step cost, paid while anyone speculates: the group's gains must cover it
        fixed_s = df * k * max(2.0 * model.step_s(0.0, 1) - model.step_s(0.0, 2), 0.0)
        gain = float((net * left)[group].sum())
        fixed = (
            (cfg.gpu_usd_per_s + lam_all) * fixed_s * (float((left / e)[group].max()) if group.any() else 0.0)
        )
        on = group & (gain > fixed)
        share = np.where(group, fixed * net * left / max(gain, 1e-300), 0.0) / left  # per token, by gain
        for q in np.flatnonzero(on != (r != 1.0)).tolist() + (
            [p_new] if on[p_new] == (r[p_new] != 1.0) else []
        ):
            if q != p_new and on[q] == (r[q] != 1.0):
                continue
            dc_p, dc_s = price_o[q] * m_v, price_o[q] * m_s[q] / e[q] + share[q]
            self.decisions.append((now_s, float(rs.d_req[q]), float(on[q]), dc_p, dc_s, t, t / e[q]))
            if on[q] != (r[q] != 1.0):
                fin = rs.set_rate(q, float(e[q]) if on[q] else 1.0, float(ctx[q]) if on[q] else 0.0)
                heapq.heappush(heap, (fin, rs.d_req[q]))
