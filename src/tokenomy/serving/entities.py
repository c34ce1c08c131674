"""The serving layer's vocabulary: workloads, single requests, completions and the engine's knobs.

A ``Workload`` holds N requests as numpy columns (arrival time, prompt and output tokens, tenant,
the synthetic value V and latency price λ of each request, an optional predicted output length and
optional prefix-block hashes). It is built in memory; file parsing lives in
``tokenomy.interfaces.loaders.traces``. A ``ServeRequest`` is one such row handed to an online
session (``session.Session.add``), a ``Completion`` what the session reports when a request leaves
(served, rejected, or too large for the KV pool). ``EngineConfig`` holds the vLLM-style knobs (token
budget per step, maximum sequences, KV blocks, speculative decoding, GPU price). No simulation here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from tokenomy.core._checks import flag, real, whole
from tokenomy.core.errors import ValidationError

__all__ = ["SPEC_RULES", "Completion", "EngineConfig", "ServeRequest", "Workload"]

_INT_COLUMNS = ("prompt_tokens", "output_tokens", "tenant")
_COLUMNS = ("arrival_s", *_INT_COLUMNS, "v_usd", "lam_usd_per_s", "predicted_output_tokens")


@dataclass(frozen=True, slots=True)
class Workload:
    """N requests, columnar, sorted by arrival.

    Attributes:
        name: a label (trace name) carried into results.
        arrival_s: shape (N,), seconds from the start, non-decreasing.
        prompt_tokens, output_tokens: shape (N,), int64; prompt ≥ 1, output ≥ 1.
        tenant: shape (N,) int64 codes into ``tenant_names``.
        tenant_names: names of the tenants.
        v_usd: shape (N,), value of a completed request, USD (synthetic unless given).
        lam_usd_per_s: shape (N,), price of a second of end-to-end latency, USD/s (synthetic unless given).
        predicted_output_tokens: shape (N,), a length prediction (a noisy one unless an oracle).
        hash_ids: per request the prefix-block hashes (Mooncake ``hash_ids``), or ``None``.
        hash_block_tokens: tokens per hash block (512 for Mooncake).
        synthetic: names of the columns that are synthetic draws (for labelling outputs).
    """

    name: str
    arrival_s: NDArray[np.float64]
    prompt_tokens: NDArray[np.int64]
    output_tokens: NDArray[np.int64]
    tenant: NDArray[np.int64]
    tenant_names: tuple[str, ...]
    v_usd: NDArray[np.float64]
    lam_usd_per_s: NDArray[np.float64]
    predicted_output_tokens: NDArray[np.float64]
    hash_ids: Sequence[NDArray[np.int64]] | None = None
    hash_block_tokens: int = 512
    synthetic: tuple[str, ...] = field(default_factory=tuple)

    def __len__(self) -> int:
        return int(self.arrival_s.shape[0])

    @property
    def duration_s(self) -> float:
        """Time from the first to the last arrival."""
        return float(self.arrival_s[-1] - self.arrival_s[0]) if len(self) else 0.0

    def validate(self) -> Workload:
        """Check types, shapes, signs, finiteness and order once, at the edge (vectorised); return self.

        ``Engine.run``, ``Session.add_workload`` and ``DisaggregatedEngine.run`` call it first.

        Raises:
            ValidationError: naming the column and the first bad row (a NaN arrival, value or price,
                a length below 1, a tenant code outside ``tenant_names``, a column that is not a 1-D
                numpy array of the right length and kind).
        """
        if not isinstance(self.name, str):
            raise ValidationError(f"Workload.name must be a string, got {self.name!r:.80}")
        names = self.tenant_names
        if not isinstance(names, tuple | list) or not all(isinstance(t, str) for t in names):
            raise ValidationError(f"Workload.tenant_names must be a tuple of strings, got {names!r:.80}")
        whole("Workload.hash_block_tokens", self.hash_block_tokens, low=1)
        arr = self.arrival_s
        if not isinstance(arr, np.ndarray) or arr.ndim != 1:
            raise ValidationError(f"Workload.arrival_s must be a 1-D numpy array, got {arr!r:.80}")
        n = len(self)
        for col in _COLUMNS:
            arr = getattr(self, col)
            if not isinstance(arr, np.ndarray) or arr.shape != (n,):
                got = arr.shape if isinstance(arr, np.ndarray) else type(arr).__name__
                raise ValidationError(f"Workload.{col} must be a numpy array of shape ({n},), got {got}")
            kinds = "iu" if col in _INT_COLUMNS else "iuf"
            if arr.dtype.kind not in kinds:
                form = "whole numbers (an integer array)" if col in _INT_COLUMNS else "numbers"
                raise ValidationError(f"Workload.{col} must hold {form}, got dtype {arr.dtype}")
        for col in ("prompt_tokens", "output_tokens"):
            bad = np.flatnonzero(getattr(self, col) < 1)
            if bad.size:
                raise ValidationError(
                    f"Workload.{col} must be ≥ 1; row {int(bad[0])} is {int(getattr(self, col)[bad[0]])}"
                )
        for col in ("v_usd", "lam_usd_per_s", "predicted_output_tokens", "arrival_s"):
            arr = getattr(self, col)
            bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0))
            if bad.size:
                raise ValidationError(
                    f"Workload.{col} must be finite and ≥ 0; row {int(bad[0])} is {float(arr[bad[0]])!r}"
                )
        if n > 1 and np.any(np.diff(self.arrival_s) < 0):
            row = int(np.flatnonzero(np.diff(self.arrival_s) < 0)[0]) + 1
            raise ValidationError(f"Workload.arrival_s must be non-decreasing; row {row} goes back in time")
        if self.tenant.size and (self.tenant.min() < 0 or self.tenant.max() >= len(self.tenant_names)):
            raise ValidationError(f"Workload.tenant codes must be in [0, {len(self.tenant_names)})")
        if self.hash_ids is not None and len(self.hash_ids) != n:
            raise ValidationError(f"Workload.hash_ids must have {n} entries, got {len(self.hash_ids)}")
        return self

    def take(self, idx: NDArray[np.int64], name: str | None = None) -> Workload:
        """A sub-workload of rows ``idx`` (kept in arrival order)."""
        idx = np.sort(np.asarray(idx, dtype=np.int64))
        hashes = None if self.hash_ids is None else [self.hash_ids[int(i)] for i in idx]
        return replace(
            self,
            name=name or self.name,
            arrival_s=self.arrival_s[idx],
            prompt_tokens=self.prompt_tokens[idx],
            output_tokens=self.output_tokens[idx],
            tenant=self.tenant[idx],
            v_usd=self.v_usd[idx],
            lam_usd_per_s=self.lam_usd_per_s[idx],
            predicted_output_tokens=self.predicted_output_tokens[idx],
            hash_ids=hashes,
        )


SPEC_RULES = ("batch", "request", "always", "never")


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """vLLM-style engine knobs (defaults: vLLM V0 with chunked prefill; BLIS llama-3.1-8b/H100/TP1 KV).

    Attributes:
        max_num_seqs: most sequences in a batch (vLLM ``max_num_seqs``).
        max_batched_tokens: per-step token budget (vLLM ``max_num_batched_tokens``).
        kv_blocks: KV cache capacity in blocks (BLIS ``total_kv_blocks``).
        block_tokens: tokens per KV block (16 in vLLM and BLIS).
        prefix_cache: reuse KV of prefix hash blocks across requests (needs ``Workload.hash_ids``).
        spec_k: speculative draft length (0 = off); spec_alpha: per-token acceptance rate α.
        spec_draft_frac: cost of one draft step as a fraction of a target decode step.
        spec_rule: ``"batch"``: one make-or-buy verdict per step for the whole batch at
            ``spec_alpha``; ``"request"``: each request decides at decode entry whether to
            speculate, by Eq. 1 on its own acceptance and context (``speculation``); ``"always"`` /
            ``"never"``: the same per-request accounting with the verdict fixed (baselines).
        spec_alpha_by_tenant: per-request mode: base acceptance per tenant code (request class);
            empty: ``spec_alpha`` for all.
        spec_alpha_halving_tokens: per-request mode: acceptance halves every this many context
            tokens (α_i = α_class · 2^(−L_i/H)); 0: no decay with context.
        gpu_usd_per_s: operator's price of a busy GPU-second (an assumption, not data).
        price_sample_s: period of the shadow-price feed, seconds of simulated time.
        chunked_prefill: split prompts into chunks that fill the token budget left by the decodes
            (vLLM); False: SplitwiseSim's rule, prompts run whole and first (the first one of a step
            even past the budget, more while they fit in it); the decodes join the step when they all
            fit in the budget left, else sit it out (SplitwiseSim runs as many as fit: all or none
            here, since decodes share one token counter).
    """

    max_num_seqs: int = 256
    max_batched_tokens: int = 2048
    kv_blocks: int = 29205
    block_tokens: int = 16
    prefix_cache: bool = True
    spec_k: int = 0
    spec_alpha: float = 0.0
    spec_draft_frac: float = 0.1
    spec_rule: str = "batch"
    spec_alpha_by_tenant: tuple[float, ...] = ()
    spec_alpha_halving_tokens: float = 0.0
    gpu_usd_per_s: float = 2.5 / 3600.0
    price_sample_s: float = 5.0
    chunked_prefill: bool = True

    def __post_init__(self) -> None:
        put = object.__setattr__
        for name in ("max_num_seqs", "max_batched_tokens", "kv_blocks", "block_tokens"):
            put(self, name, whole(f"EngineConfig.{name}", getattr(self, name), low=1))
        put(self, "spec_k", whole("EngineConfig.spec_k", self.spec_k))
        put(
            self,
            "spec_alpha",
            real("EngineConfig.spec_alpha", self.spec_alpha, low=0, high=1, high_open=True),
        )
        if self.spec_rule not in SPEC_RULES:
            raise ValidationError(
                f"EngineConfig.spec_rule must be one of {SPEC_RULES}; got {self.spec_rule!r}"
            )
        by_tenant = self.spec_alpha_by_tenant
        if isinstance(by_tenant, str | bytes) or not isinstance(by_tenant, Sequence | np.ndarray):
            raise ValidationError(
                f"EngineConfig.spec_alpha_by_tenant must be a sequence of numbers in [0, 1), got {by_tenant!r}"
            )
        put(
            self,
            "spec_alpha_by_tenant",
            tuple(
                real(f"EngineConfig.spec_alpha_by_tenant[{i}]", a, low=0, high=1, high_open=True)
                for i, a in enumerate(by_tenant)
            ),
        )
        put(
            self,
            "spec_alpha_halving_tokens",
            real("EngineConfig.spec_alpha_halving_tokens", self.spec_alpha_halving_tokens, low=0),
        )
        put(self, "spec_draft_frac", real("EngineConfig.spec_draft_frac", self.spec_draft_frac, low=0))
        put(self, "gpu_usd_per_s", real("EngineConfig.gpu_usd_per_s", self.gpu_usd_per_s, low=0))
        put(
            self,
            "price_sample_s",
            real("EngineConfig.price_sample_s", self.price_sample_s, low=0, low_open=True),
        )
        put(self, "prefix_cache", flag("EngineConfig.prefix_cache", self.prefix_cache))
        put(self, "chunked_prefill", flag("EngineConfig.chunked_prefill", self.chunked_prefill))


@dataclass(frozen=True, slots=True)
class ServeRequest:
    """One request for an online session (one ``Workload`` row).

    Args:
        arrival_s: when it arrives, seconds of simulated time (≥ the session's ``now_s`` when added).
        prompt_tokens, output_tokens: its lengths in tokens (≥ 1 each).
        v_usd: value of serving it, USD; lam_usd_per_s: price of a second of its latency, USD/s.
        tenant: tenant code (an index into the session's ``tenant_names``).
        predicted_output_tokens: a length prediction; ``None``: the session draws one (``Session``).
        hash_ids: its prefix-block hashes (Mooncake ``hash_ids``), or ``None``.

    Raises:
        ValidationError: naming the field, when a length is not a whole number ≥ 1, a time or price is
            negative or not finite, or the tenant code is negative.
    """

    arrival_s: float
    prompt_tokens: int
    output_tokens: int
    v_usd: float
    lam_usd_per_s: float
    tenant: int = 0
    predicted_output_tokens: float | None = None
    hash_ids: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("prompt_tokens", "output_tokens", "tenant"):
            v = getattr(self, name)
            low = 0 if name == "tenant" else 1
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < low:
                raise ValidationError(f"ServeRequest.{name} must be an integer ≥ {low}, got {v!r}")
            object.__setattr__(self, name, int(v))
        for name in ("arrival_s", "v_usd", "lam_usd_per_s", "predicted_output_tokens"):
            v = getattr(self, name)
            if v is None and name == "predicted_output_tokens":
                continue
            if (
                isinstance(v, bool)
                or not isinstance(v, int | float | np.number)
                or not (math.isfinite(v) and v >= 0)
            ):
                raise ValidationError(f"ServeRequest.{name} must be a finite number ≥ 0, got {v!r}")
            object.__setattr__(self, name, float(v))
        if self.hash_ids is not None:
            hashes = self.hash_ids
            if isinstance(hashes, str | bytes) or not isinstance(hashes, Sequence | np.ndarray):
                raise ValidationError(
                    f"ServeRequest.hash_ids must be a sequence of whole numbers, got {hashes!r:.80}"
                )
            object.__setattr__(
                self,
                "hash_ids",
                tuple(whole(f"ServeRequest.hash_ids[{i}]", h, low=None) for i, h in enumerate(hashes)),
            )


@dataclass(frozen=True, slots=True)
class Completion:
    """A request leaving an online session: served, rejected by the scheduler, or too large.

    Attributes:
        index: the request's index (what ``Session.add`` returned).
        status: ``result.COMPLETED``, ``REJECTED`` or ``TOO_LARGE``.
        arrival_s: when it arrived; finish_s: when it finished or was turned away (seconds).
        ttft_s: seconds from arrival to its first token (NaN when it was never served).
    """

    index: int
    status: int
    arrival_s: float
    finish_s: float
    ttft_s: float

    @property
    def e2e_s(self) -> float:
        """End-to-end latency: seconds from arrival to finish (or to rejection)."""
        return self.finish_s - self.arrival_s
