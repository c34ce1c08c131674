"""The engine's running set: decoding requests as numpy columns, prefills as a short list.

Decode set: columns ``d_*`` over the first ``nd`` slots. Decoding requests share one virtual token
counter ``g``: slot p holds ``d_c[p] + g`` tokens in KV and finishes when ``g`` reaches
``d_fin[p]``, so advancing k decode steps touches no per-request state. With per-request
speculation (``rated``) ``g`` counts steps and slot p advances at its own rate ``d_r[p]`` tokens per
step (its expected accepted tokens, ``speculation``): it holds ``d_c[p] + d_r[p]·g`` tokens and
``d_fin`` is in steps; ``n_spec``, ``r_sum`` and ``spec_ctx_s`` (the speculating slots' context
seconds per step) are kept as slots come and go. ``u_dec`` is the number of
KV blocks held by the decode set, always exactly Σ ceil((d_c + g)/block) (no over-reservation, so
the pool's used blocks and its peak are exact). Without speculation every count is a whole number
and a slot takes a new block on the step where d_c + g is a multiple of the block size, so the
blocks k steps add come from ``res``, the number of slots per residue (−d_c) mod block:
``grow_blocks`` is O(block) whatever the batch; with speculation (fractional tokens per step) it
is the numpy sum. Prefill set: ``pf``, a list of ``Prefill``
records (request, tokens in KV, tokens shared from the prefix cache, tokens still to prefill,
private blocks, prefix hash blocks held, this step's chunk).

``RunningSet`` also exposes the read-only ``EngineState`` view that deciding schedulers read
(``n_running``, ``slot_lam``, ``slot_rem``, ``kv_available_blocks``, ``now_s``,
``lam_waiting_usd_per_s``, ``waiting_tokens_ahead``, ``step_model``, ``config``). It decides
nothing: the engine mutates it. ``slot_rem`` is an estimate, never the true remaining output: a
running request that has generated a tokens is expected to have ô − a left while its predicted
length ô exceeds a, else the mean residual length E[L − a | L > a] of the requests completed so far
(``observe_output``; their lengths are known once they finish), or ô when none is longer than a.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from tokenomy.serving.entities import EngineConfig, Workload
from tokenomy.serving.kv import KVCache
from tokenomy.serving.requests import RequestTable
from tokenomy.serving.steptime import StepTimeModel

if TYPE_CHECKING:
    from tokenomy.serving.schedulers.base import Admission, Scheduler

__all__ = ["Prefill", "RunningSet"]


@dataclass(slots=True)
class Prefill:
    """A request in prefill (mutable: the engine advances it chunk by chunk).

    Attributes:
        req: the request's index.
        tokens: tokens in KV so far (reused prefix included).
        shared: tokens reused from the prefix cache.
        todo: tokens still to prefill.
        blocks: private KV blocks it holds.
        hits: prefix hash blocks it references.
        chunk: tokens it prefills in the current step.
    """

    req: int
    tokens: float
    shared: float
    todo: float
    blocks: int
    hits: int
    chunk: float


class RunningSet:
    """The requests on the GPU, their KV blocks, and the ``EngineState`` view (module docstring).

    Args:
        model: the step-time model (read by schedulers).
        cfg: the engine configuration.
        kv: the KV pool the running requests hold blocks in.
        requests: the session's requests (λ, output lengths and decode slots per request, shared lists).
    """

    __slots__ = (
        "config", "d_age0", "d_c", "d_ctx", "d_ctxc", "d_ecand", "d_fin", "d_hits", "d_key", "d_lam",
        "d_pfin", "d_r", "d_req", "g", "gen", "integral", "kv", "lam", "lam_waiting_usd_per_s", "lens",
        "lens_new", "mrl_n", "mrl_s", "n_spec", "nd", "now_s", "out", "pf", "pfin_next", "pos", "r_sum",
        "rated", "requests", "res", "spec_ctx_s", "step_model", "u_dec", "waiting_tokens",
        "waiting_tokens_ahead",
    )  # fmt: skip

    def __init__(self, model: StepTimeModel, cfg: EngineConfig, kv: KVCache, requests: RequestTable) -> None:
        self.step_model, self.config, self.kv = model, cfg, kv
        m = cfg.max_num_seqs
        # numpy where read as a whole (decode KV every step, the EngineState view), lists where only
        # read one slot at a time (a list item costs a fraction of a numpy scalar access)
        self.d_c = np.zeros(m)
        self.d_fin = np.zeros(m)
        self.d_lam = np.zeros(m)
        self.d_req = [0] * m
        self.d_key = [0.0] * m
        self.d_hits = [0] * m
        self.d_r = np.ones(m)  # tokens per step of each slot (per-request speculation)
        self.d_ctx = [0.0] * m  # its context seconds per step while it speculates
        self.d_pfin = np.zeros(m)  # its predicted finish in steps (per-request speculation)
        self.pfin_next = 0.0  # the predicted finish of the slot pushed next
        self.d_ecand = np.ones(m)  # its rate were it to speculate (its acceptance at its context)
        self.d_ctxc = np.zeros(m)  # its context seconds per step were it to speculate
        self.rated = bool(cfg.spec_k) and cfg.spec_rule != "batch"
        self.n_spec, self.r_sum, self.spec_ctx_s = 0, 0.0, 0.0
        self.nd = 0
        self.pf: list[Prefill] = []
        self.g = 0.0
        self.u_dec = 0  # blocks held by the decode set (= Σ ceil((d_c + G)/B), exact)
        self.integral = cfg.spec_k == 0  # every token count whole: ``grow_blocks`` by residues
        self.res = [0] * cfg.block_tokens  # decode slots by (−d_c) mod block (when ``integral``)
        self.now_s = 0.0  # the engine's clock, read by deciding schedulers and the recorder
        self.lam_waiting_usd_per_s = 0.0
        self.waiting_tokens = 0  # prompt (+ recompute) tokens of the waiting queue
        self.waiting_tokens_ahead = 0.0  # of those, the ones served before the request being decided
        self.pos, self.lam, self.out = requests.pos, requests.lam, requests.out
        self.requests, self.gen = requests, requests.gen
        self.d_age0 = np.zeros(m)  # slot p has generated g + d_age0[p] tokens
        self.lens = np.zeros(1, np.int64)  # completed requests by output length (``observe_output``)
        self.lens_new = 0  # completions since mrl_n, mrl_s were summed
        self.mrl_n = np.zeros(1)  # completed with output > a, by a
        self.mrl_s = np.zeros(1)  # Σ of their outputs

    # --- EngineState view -------------------------------------------------------------------------
    @property
    def n_running(self) -> int:
        return self.nd + len(self.pf)

    @property
    def slot_lam(self) -> NDArray[np.float64]:
        extra = [self.lam[p.req] for p in self.pf]
        return np.concatenate([self.d_lam[: self.nd], extra]) if extra else self.d_lam[: self.nd]

    @property
    def slot_rem(self) -> NDArray[np.float64]:
        """Estimated remaining output tokens of each running request (module docstring)."""
        nd = self.nd
        reqs = [*self.d_req[:nd], *(p.req for p in self.pf)]
        if not reqs:
            return np.zeros(0)
        idx = np.array(reqs, np.int64)
        pred: NDArray[np.float64] = np.maximum(self.requests.workload.predicted_output_tokens[idx], 1.0)
        g = self.d_r[:nd] * self.g if self.rated else self.g
        age = np.concatenate([g + self.d_age0[:nd], [float(self.gen[p.req]) for p in self.pf]])
        rem: NDArray[np.float64] = pred - age
        late = rem < 1.0
        if late.any():
            rem[late] = self._residual(age[late], pred[late])
        return rem

    @property
    def slot_rem_true(self) -> NDArray[np.float64]:
        """The true remaining output tokens (oracle schedulers only, ``knows_true_lengths``)."""
        extra = [float(self.out[p.req] - self.gen[p.req]) for p in self.pf]
        rem = self.d_fin[: self.nd] - self.g
        if self.rated:
            rem = rem * self.d_r[: self.nd]
        return np.concatenate([rem, extra]) if extra else rem

    def observe_output(self, tokens: int) -> None:
        """A request completed with ``tokens`` output tokens (for the residual-length estimate)."""
        if tokens >= self.lens.size:
            self.lens = np.concatenate(
                [self.lens, np.zeros(max(tokens + 1, 2 * self.lens.size) - self.lens.size, np.int64)]
            )
        self.lens[tokens] += 1
        self.lens_new += 1

    def _residual(self, age: NDArray[np.float64], fallback: NDArray[np.float64]) -> NDArray[np.float64]:
        """E[L − a | L > a] over the completed lengths L, ``fallback`` where none exceeds a."""
        if self.lens_new and (self.lens_new >= 64 or self.mrl_n.size != self.lens.size + 1):
            x = np.arange(self.lens.size, dtype=np.float64)
            # mrl_n[a] = #{L > a}, mrl_s[a] = Σ_{L > a} L
            self.mrl_n = np.concatenate([np.cumsum(self.lens[::-1])[::-1][1:], [0, 0]]).astype(np.float64)
            self.mrl_s = np.concatenate([np.cumsum((x * self.lens)[::-1])[::-1][1:], [0.0, 0.0]])
            self.lens_new = 0
        a = np.minimum(age.astype(np.int64), self.mrl_n.size - 1)
        n = self.mrl_n[a]
        out = fallback.astype(np.float64).copy()
        ok = n > 0
        out[ok] = self.mrl_s[a[ok]] / n[ok] - age[ok]
        return np.maximum(out, 1.0)

    @property
    def kv_available_blocks(self) -> int:
        return self.kv.available

    def decide_behind(self, rule: Scheduler, i: int, wl: Workload, waited_s: float) -> Admission:
        """``rule.decide`` for waiting request ``i`` on the queue behind it: its own λ is not a delay it
        imposes on itself, so it leaves the waiting λ total for the call (the engine and the ledger's
        order rows both decide this way)."""
        lam_queue = self.lam_waiting_usd_per_s
        self.lam_waiting_usd_per_s = lam_queue - self.lam[i]
        self.waiting_tokens_ahead = 0.0  # at the head nothing waits ahead of it
        try:
            return rule.decide(i, wl, self, waited_s=waited_s)
        finally:
            self.lam_waiting_usd_per_s = lam_queue

    # --- decode-set bookkeeping -------------------------------------------------------------------
    def _decode_blocks(self, g: float) -> int:
        nd = self.nd
        if not nd:
            return 0
        if self.rated:
            return int(np.ceil((self.d_c[:nd] + self.d_r[:nd] * g) / self.config.block_tokens).sum())
        return int(np.ceil((self.d_c[:nd] + g) / self.config.block_tokens).sum())

    def grow_blocks(self, steps: float) -> int:
        """Exact blocks the decode set adds over ``steps`` more tokens per slot (module docstring)."""
        if not self.integral:
            return self._decode_blocks(self.g + steps) - self.u_dec
        res, k = self.res, int(steps)
        B = len(res)
        r0 = int(self.g) % B
        if k == 1:
            return res[r0]
        full, rest = divmod(k, B)
        add = full * self.nd
        if rest:
            end = r0 + rest
            add += sum(res[r0:end]) if end <= B else sum(res[r0:]) + sum(res[: end - B])
        return add

    def _drop_decode(self, p: int) -> int:
        """Remove decode entry ``p``; return the private blocks it held."""
        c = float(self.d_c[p])
        r = float(self.d_r[p]) if self.rated else 1.0
        blk = math.ceil((c + r * self.g) / self.config.block_tokens)
        if self.rated:
            self.r_sum -= r
            if r != 1.0:
                self.n_spec -= 1
                self.spec_ctx_s -= self.d_ctx[p]
                if not self.n_spec:
                    self.spec_ctx_s = 0.0  # no rounding left over
        if self.integral:
            self.res[int(-c) % self.config.block_tokens] -= 1
        self.u_dec -= blk
        last = self.nd - 1
        d_req = self.d_req
        self.pos[d_req[p]] = -1
        if p != last:
            i = d_req[p] = d_req[last]
            self.d_c[p] = self.d_c[last]
            self.d_fin[p] = self.d_fin[last]
            self.d_lam[p] = self.d_lam[last]
            self.d_age0[p] = self.d_age0[last]
            self.d_key[p] = self.d_key[last]
            self.d_hits[p] = self.d_hits[last]
            if self.rated:
                self.d_r[p] = self.d_r[last]
                self.d_ctx[p] = self.d_ctx[last]
                self.d_pfin[p] = self.d_pfin[last]
                self.d_ecand[p] = self.d_ecand[last]
                self.d_ctxc[p] = self.d_ctxc[last]
            self.pos[i] = p
        self.nd = last
        return blk

    def _push_decode(
        self,
        i: int,
        c: float,
        fin: float,
        key: float,
        hits: int,
        blk: int,
        rate: float = 1.0,
        ctx_s: float = 0.0,
    ) -> None:
        """Request ``i`` enters decode: ``c + rate·g`` tokens in KV, finishing at ``g = fin``
        (``ctx_s``: its context seconds per step while it speculates)."""
        p = self.nd
        self.nd += 1
        if self.integral:
            self.res[int(-c) % self.config.block_tokens] += 1
        self.d_req[p] = i
        self.d_c[p] = c
        self.d_fin[p] = fin
        self.d_lam[p] = self.lam[i]
        self.d_age0[p] = self.gen[i] - rate * self.g
        if self.rated:
            self.d_r[p] = rate
            self.d_ctx[p] = ctx_s
            self.d_pfin[p] = self.pfin_next
            self.r_sum += rate
            if rate != 1.0:
                self.n_spec += 1
                self.spec_ctx_s += ctx_s
        self.d_key[p] = key
        self.d_hits[p] = hits
        self.pos[i] = p
        self.u_dec += blk

    def _pop_lowest(self, keys: list[float]) -> tuple[int, int, int, int, bool]:
        """Remove the lowest-priority running request (largest order key; decode first on ties).

        Returns:
            (request, prefix hash blocks it referenced, private blocks it held, tokens it had
            generated or -1 when it was still in prefill, whether it had computed any token since
            its admission).
        """
        best_key, where = -math.inf, -1
        m = self.config.max_num_seqs
        if self.nd:
            p = int(np.argmax(np.array(self.d_key[: self.nd], np.float64)))
            best_key, where = self.d_key[p], p
        for j, e in enumerate(self.pf):
            if keys[e.req] > best_key:
                best_key, where = keys[e.req], m + j
        if where >= m:
            e = self.pf.pop(where - m)
            return e.req, e.hits, e.blocks, -1, e.tokens > e.shared
        i, h = self.d_req[where], self.d_hits[where]
        gen = self.out[i] - math.ceil((self.d_fin[where] - self.g) * self.d_r[where] - 1e-9)
        return i, h, self._drop_decode(where), gen, True

    def _resync(self, need: int) -> None:
        """Set the decode reservation to exact usage plus ``need`` (which may be negative)."""
        if need >= 0:
            ok = self.kv.allocate(need)
            assert ok
        else:
            self.kv.release(-need)
        self.u_dec += need

    def set_rate(self, p: int, rate: float, ctx_s: float) -> float:
        """Slot ``p`` speculates (``rate`` tokens a step, ``ctx_s`` context seconds a step) or stops
        (rate 1) from now on, with the tokens it holds unchanged; returns its new finish mark."""
        r, g = float(self.d_r[p]), self.g
        if rate == r:
            return float(self.d_fin[p])
        self.d_c[p] += (r - rate) * g
        self.d_age0[p] += (r - rate) * g
        self.d_fin[p] = g + (self.d_fin[p] - g) * r / rate
        self.d_pfin[p] = g + (self.d_pfin[p] - g) * r / rate
        self.r_sum += rate - r
        if r != 1.0:
            self.n_spec -= 1
            self.spec_ctx_s -= self.d_ctx[p]
        if rate != 1.0:
            self.n_spec += 1
            self.spec_ctx_s += ctx_s
        if not self.n_spec:
            self.spec_ctx_s = 0.0
        self.d_r[p] = rate
        self.d_ctx[p] = ctx_s if rate != 1.0 else 0.0
        return float(self.d_fin[p])

    def spec_group_left(self) -> float:
        """Steps until the last speculating slot is predicted to finish (0 when none speculates)."""
        nd = self.nd
        if not self.n_spec:
            return 0.0
        spec = self.d_r[:nd] != 1.0
        return max(float(self.d_pfin[:nd][spec].max()) - self.g, 0.0)

    def _fit_k(self, k: int, e: float) -> int:
        """Largest k' ≤ k whose decode blocks fit in the pool (0 when not even one step fits)."""
        lo, hi = 0, k
        avail = self.kv.available
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.grow_blocks(mid * e) <= avail:
                lo = mid
            else:
                hi = mid - 1
        return lo
