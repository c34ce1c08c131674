"""Recording the engine's eviction and ordering decisions for the ledger, only when a run asks.

``Engine.run(wl, sched, record=RecordSpec())`` (or ``Engine.session(sched, record=...)``) swaps in
a ``RecordingKVCache`` and a ``DecisionRecorder``; without ``record`` none of this code runs (the default path is unchanged, and
a recording run gives the same results: the recorder only reads state, and the peeks it makes
into the eviction policy and the waiting queue put back what they take). Both kinds of decision
are sampled, every ``sample_every``-th one, so a 20,000-request run stays cheap; a sampled
eviction costs O(``evict_top`` · log cache) and a sampled ordering step O(``order_top`` · batch).
The rows become ledger decisions in ``decisions.eviction_decisions`` / ``decisions.order_decisions``.

**Eviction** (decision point ``evict``). When an allocation must evict, the candidates are the
policy's next ``evict_top`` victims in its own order (LRU, FIFO, LFU; the first is the one it
evicts). For candidate entry b (E blocks holding H prompt tokens), at time t:

* p_kv = Λ_wait / K, the KV block-second shadow price of ``prices`` with the capacity constraint
  binding (an eviction means the pool is full), USD per block-second;
* p_pre = (GPU price + Λ_run + Λ_wait)·s_pf, the prefill-token shadow price of ``prices`` (s_pf the
  step model's marginal seconds per prompt token), USD per token;
* τ_b = a_b / (n_b + 1), the expected time to b's next reuse: a_b = t − (when b entered the cache),
  n_b = reuses since; a Poisson reuse process with rate (n_b + 1)/a_b (its insertion counted as one
  use), whose expected wait to the next reuse is 1/rate whatever time has passed;
* expected reuse value R_b = p_pre·H (the prefill compute and delay one reuse saves, at today's price);
* cost of keeping b until then C_b = p_kv·E·τ_b.

The surplus of evicting b is C_b − R_b (the negative of the surplus of keeping it). In Eq. 1 terms
the decision's V is p_kv (USD per block-second), candidate b has ΔQ = E·τ_b block-seconds freed,
ΔC = R_b (the reuse value given up), ΔL = 0, so V·ΔQ − ΔC is that surplus. The chosen candidate is
the policy's victim; where it is not the candidate with the largest surplus, the row shows what the
heuristic left on the table.

**Order** (decision point ``order``). At a scheduling step whose admission pass had a choice (at
least two requests waiting and token budget left), the candidates are the queue's top
``order_top`` requests in the scheduler's serve order with its priority (its order key; for VTC
the tenant's virtual counter), the Eq. 1 terms of the congestion-priced rule for each at that
state (``schedulers.priced``: ΔC = GPU cost, ΔL = own service time, the external charge and
surplus = V − ΔC − λ·ΔL − external; the run's own rule when it is a priced scheduler, else
``priced`` with the noisy length prediction), and which of them the step admitted or rejected.
No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tokenomy.core.errors import ValidationError
from tokenomy.serving.entities import EngineConfig
from tokenomy.serving.kv import EvictionPolicy, KVCache
from tokenomy.serving.prices import sample_prices
from tokenomy.serving.requests import RequestTable
from tokenomy.serving.result import REJECTED, EvictionLog, OrderLog
from tokenomy.serving.running import RunningSet
from tokenomy.serving.schedulers.base import Scheduler, WaitQueue
from tokenomy.serving.schedulers.priced import CongestionPriced
from tokenomy.serving.steptime import StepTimeModel

__all__ = ["DecisionRecorder", "RecordSpec", "RecordingKVCache", "kv_cache"]


@dataclass(frozen=True, slots=True)
class RecordSpec:
    """What a run records for the ledger.

    Args:
        sample_every: keep every k-th eviction and every k-th ordering step (1 = all).
        order_top: candidates per ordering decision (the top of the waiting queue).
        evict_top: candidates per eviction decision (the policy's next victims).

    Raises:
        ValidationError: a field below 1.
    """

    sample_every: int = 10
    order_top: int = 8
    evict_top: int = 4

    def __post_init__(self) -> None:
        for name in ("sample_every", "order_top", "evict_top"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 1):
                raise ValidationError(f"RecordSpec.{name} must be an integer ≥ 1, got {v!r}")


class DecisionRecorder:
    """Collects sampled eviction and ordering decisions during one run (module docstring).

    Args:
        spec: what to record.
        requests: the session's requests (read as they join).
        sched: the run's scheduler (its rule gives the Eq. 1 terms when it is a priced one).
        model, cfg: the engine's step model and configuration.
    """

    def __init__(
        self,
        spec: RecordSpec,
        requests: RequestTable,
        sched: Scheduler,
        model: StepTimeModel,
        cfg: EngineConfig,
    ) -> None:
        self.spec, self.requests, self.model, self.cfg = spec, requests, model, cfg
        self.pricer = sched if isinstance(sched, CongestionPriced) else CongestionPriced()
        self.pricer.prepare(model, cfg)
        self.state: RunningSet | None = None
        self.ref_prompt: Callable[[], float] = lambda: float(cfg.block_tokens)  # the run's ū (``prices``)
        self.n_evict = self.n_order = 0
        self.price_cache: tuple[float, float] | None = None
        self.ev: dict[str, list[float]] = {k: [] for k in ("time", "kv", "pre", "evictable")}
        self.ev_start = [0]
        self.ev_c: dict[str, list[float]] = {k: [] for k in ("hash", "age", "reuses")}
        self.od: dict[str, list[float]] = {k: [] for k in ("time", "queue", "admitted")}
        self.od_start = [0]
        self.od_c: dict[str, list[float]] = {
            k: [] for k in ("req", "prio", "dc", "dl", "ext", "surplus", "adm", "rej")
        }

    @property
    def now_s(self) -> float:
        """The engine's clock (the state's ``now_s``)."""
        assert self.state is not None
        return self.state.now_s

    # --- eviction -----------------------------------------------------------------------------------
    def _eviction_prices(self, kv: KVCache) -> tuple[float, float]:
        """(p_kv, p_pre) now; computed once per allocation (``price_cache`` is reset by each)."""
        if self.price_cache is None:
            st = self.state
            assert st is not None
            s = sample_prices(
                st.now_s, 0, st.n_running, kv.used, float(st.slot_lam.sum()), st.lam_waiting_usd_per_s,
                self.model, self.cfg, kv_blocked=True, decoding=st.nd, ref_prompt_tokens=self.ref_prompt(),
            )  # fmt: skip
            # Λ_wait is a running sum: rounding can leave it at -1e-21 for an empty queue
            self.price_cache = (max(s.kv_usd_per_block_s, 0.0), max(s.prefill_usd_per_token, 0.0))
        return self.price_cache

    def record_eviction(self, kv: RecordingKVCache, cands: list[int], victim: int) -> None:
        """Keep one sampled eviction (``cands`` read before the victim left the policy)."""
        if not cands or cands[0] != victim:
            raise AssertionError(f"eviction policy evicted {victim}, not its first candidate {cands[:1]}")
        now = self.now_s
        kv_price, pre_price = self._eviction_prices(kv)
        for key, v in (("time", now), ("kv", kv_price), ("pre", pre_price)):
            self.ev[key].append(v)
        self.ev["evictable"].append(len(kv.policy) + 1)
        for h in cands:
            self.ev_c["hash"].append(h)
            self.ev_c["age"].append(now - kv.t_in[h])
            self.ev_c["reuses"].append(kv.uses[h])
        self.ev_start.append(len(self.ev_c["hash"]))

    def eviction_log(self, kv: KVCache) -> EvictionLog | None:
        """The recorded evictions as columns, or ``None`` when there were none."""
        if not self.ev["time"]:
            return None
        c = self.ev_c
        return EvictionLog(
            kv.policy.name,
            kv.entry_blocks,
            kv.entry_blocks * kv.block_tokens,
            np.array(self.ev["time"]),
            np.array(self.ev["kv"]),
            np.array(self.ev["pre"]),
            np.array(self.ev["evictable"], np.int64),
            np.array(self.ev_start, np.int64),
            np.array(c["hash"], np.int64),
            np.array(c["age"]),
            np.array(c["reuses"], np.int64),
        )

    # --- order --------------------------------------------------------------------------------------
    def order_top(self, queue: WaitQueue) -> list[tuple[int, float]] | None:
        """At a step with a choice: the queue's top with Eq. 1 terms when sampled, else ``None``."""
        self.n_order += 1
        if (self.n_order - 1) % self.spec.sample_every:
            return None
        st = self.state
        assert st is not None
        top = queue.top(self.spec.order_top)
        now = st.now_s
        wl, arrival = self.requests.workload, self.requests.arrival
        for i, prio in top:
            a = st.decide_behind(self.pricer, i, wl, waited_s=now - arrival[i])
            for key, v in zip(
                ("req", "prio", "dc", "dl", "ext", "surplus"),
                (i, prio, a.dc_usd, a.dl_s, a.external_usd, a.surplus_usd),
                strict=True,
            ):
                self.od_c[key].append(v)
        self.od["time"].append(now)
        self.od["queue"].append(len(queue))
        return top

    def record_order(self, top: list[tuple[int, float]], admitted: Sequence[int], status: list[int]) -> None:
        """Close the sampled step: which of its candidates were admitted or rejected."""
        adm = set(admitted)
        for i, _ in top:
            self.od_c["adm"].append(i in adm)
            self.od_c["rej"].append(status[i] == REJECTED)
        self.od["admitted"].append(len(adm))
        self.od_start.append(len(self.od_c["req"]))

    def order_log(self) -> OrderLog | None:
        """The recorded ordering steps as columns, or ``None`` when there were none."""
        if not self.od["time"]:
            return None
        c = self.od_c
        return OrderLog(
            self.pricer.name,
            np.array(self.od["time"]),
            np.array(self.od["queue"], np.int64),
            np.array(self.od["admitted"], np.int64),
            np.array(self.od_start, np.int64),
            np.array(c["req"], np.int64),
            np.array(c["prio"]),
            np.array(c["dc"]),
            np.array(c["dl"]),
            np.array(c["ext"]),
            np.array(c["surplus"]),
            np.array(c["adm"], bool),
            np.array(c["rej"], bool),
        )


class RecordingKVCache(KVCache):
    """A ``KVCache`` that keeps each entry's entry time and reuses and reports sampled evictions.

    Args:
        recorder: the run's recorder (its ``now_s`` is the clock).
        num_blocks, block_tokens, hash_block_tokens, eviction: as ``KVCache``.
    """

    def __init__(
        self,
        *,
        recorder: DecisionRecorder,
        num_blocks: int,
        block_tokens: int = 16,
        hash_block_tokens: int = 512,
        eviction: str | EvictionPolicy = "lru",
    ) -> None:
        super().__init__(
            num_blocks=num_blocks,
            block_tokens=block_tokens,
            hash_block_tokens=hash_block_tokens,
            eviction=eviction,
        )
        self.rec = recorder
        self.t_in: dict[int, float] = {}  # hash -> when it entered the cache
        self.uses: dict[int, int] = {}  # hash -> reuses since

    def acquire(self, hashes: Sequence[int]) -> None:
        super().acquire(hashes)
        for h in hashes:
            self.uses[h] += 1

    def donate(self, hashes: Sequence[int], private_blocks: int) -> None:
        new = [h for h in hashes if h not in self.refs]
        super().donate(hashes, private_blocks)
        now = self.rec.now_s
        for h in new:
            if h in self.refs:
                self.t_in[h], self.uses[h] = now, 0

    def allocate(self, n: int) -> bool:
        self.rec.price_cache = None  # the state is fixed during one allocation, not across them
        return super().allocate(n)

    def _evict(self) -> int:
        rec = self.rec
        rec.n_evict += 1  # sample every k-th eviction: read the policy's next victims first
        cands = (
            None if (rec.n_evict - 1) % rec.spec.sample_every else self.policy.candidates(rec.spec.evict_top)
        )
        h = super()._evict()
        if cands is not None:
            self.rec.record_eviction(self, cands, h)
        del self.t_in[h], self.uses[h]
        return h


def kv_cache(
    cfg: EngineConfig, hash_block_tokens: int, eviction: str | EvictionPolicy, rec: DecisionRecorder | None
) -> KVCache:
    """The run's KV pool: a plain ``KVCache``, or a ``RecordingKVCache`` when ``rec`` is given."""
    kw = {"num_blocks": cfg.kv_blocks, "block_tokens": cfg.block_tokens}
    if rec is None:
        return KVCache(**kw, hash_block_tokens=hash_block_tokens, eviction=eviction)
    return RecordingKVCache(recorder=rec, **kw, hash_block_tokens=hash_block_tokens, eviction=eviction)
