"""The requests of one engine session as growing columns: what each asked for and what happened to it.

A session's requests join in batches (a whole ``Workload`` for ``Engine.run``, one ``ServeRequest`` at
a time online) and are indexed 0, 1, ... in the order they joined (which is arrival order: a session
only takes arrivals at or after its clock). The engine's hot path reads Python lists (``arrival``,
``prompt``, ``out``, ``lam``, ``key``, ``hashes``) and writes the outcome lists (``status``,
``first``, ``finish``, ``preempt``, ``hit``, ``gen``, ``decided``, ``pos``); these lists are shared by
reference with the running set and are only ever extended, never rebound. Schedulers and the decision
recorder read the same requests as a ``Workload`` (``workload``): the given one when a single batch
joined, else views of numpy buffers that double when full, so one added request costs O(1) amortised.
No simulation here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.serving.entities import ServeRequest, Workload

__all__ = ["RequestTable"]

_COLUMNS = (
    "arrival_s",
    "prompt_tokens",
    "output_tokens",
    "tenant",
    "v_usd",
    "lam_usd_per_s",
    "predicted_output_tokens",
)
_INT_COLUMNS = ("prompt_tokens", "output_tokens", "tenant")


class RequestTable:
    """A session's requests (module docstring).

    Args:
        name: the workload name carried into results.
        tenant_names: names of the tenant codes.
        hash_block_tokens: tokens per prefix hash block.
        prefix_cache: whether prefix hashes are used at all (``EngineConfig.prefix_cache``).
    """

    def __init__(
        self, *, name: str, tenant_names: Sequence[str], hash_block_tokens: int, prefix_cache: bool
    ) -> None:
        self.name, self.tenant_names = name, tuple(tenant_names)
        self.hash_block_tokens, self.prefix_cache = hash_block_tokens, prefix_cache
        self.arrival: list[float] = []
        self.prompt: list[int] = []
        self.out: list[int] = []
        self.lam: list[float] = []
        self.key: list[float] = []  # the scheduler's order key (lower is served first)
        self.hashes: list[list[int]] | None = None  # None while no request carries prefix hashes
        self.status: list[int] = []
        self.first: list[float] = []
        self.finish: list[float] = []
        self.preempt: list[int] = []
        self.hit: list[int] = []
        self.gen: list[int] = []  # tokens generated before a preemption (recomputed at readmission)
        self.decided: list[bool] = []
        self.pos: list[int] = []  # slot in the decode columns, -1 when not decoding
        self._buf: dict[str, NDArray[np.generic]] = {  # column -> buffer (rows [:len] are live)
            c: np.zeros(0, np.int64 if c in _INT_COLUMNS else np.float64) for c in _COLUMNS
        }
        self._shared = True  # the buffers are exactly full and may be someone else's: copy to write
        self._hash_ids: list[NDArray[np.int64]] | None = None
        self._synthetic: tuple[str, ...] = ()
        self._view: Workload | None = None

    def __len__(self) -> int:
        return len(self.arrival)

    @property
    def workload(self) -> Workload:
        """The requests so far as a ``Workload`` (the given one when a single batch joined)."""
        if self._view is None:
            n = len(self)
            self._view = self._rows(0, n)
        return self._view

    def rows(self, first: int) -> Workload:
        """Requests ``first`` .. end as a ``Workload`` (the table's own when ``first`` is 0)."""
        wl = self.workload
        if first == 0:
            return wl
        return self._rows(first, len(self))

    def _rows(self, a: int, b: int) -> Workload:
        cols: dict[str, Any] = {c: self._buf[c][a:b] for c in _COLUMNS}
        return Workload(
            name=self.name,
            tenant_names=self.tenant_names,
            hash_ids=None if self._hash_ids is None else self._hash_ids[a:b],
            hash_block_tokens=self.hash_block_tokens,
            synthetic=self._synthetic,
            **cols,
        )

    def extend(self, wl: Workload) -> None:
        """Append every request of ``wl`` (validated, arriving at or after the last one here)."""
        n, m = len(self), len(wl)
        if n == 0:
            self._buf = {c: getattr(wl, c) for c in _COLUMNS}  # adopted: never written into
            self._shared, self._view = True, wl
        else:
            self._reserve(n + m)
            for c in _COLUMNS:
                self._buf[c][n : n + m] = getattr(wl, c)
            self._view = None
        self._synthetic = tuple(dict.fromkeys((*self._synthetic, *wl.synthetic)))
        hashes = wl.hash_ids if (self.prefix_cache and wl.hash_ids is not None) else None
        if wl.hash_ids is not None or self._hash_ids is not None:
            old = self._hash_ids if self._hash_ids is not None else [np.zeros(0, np.int64)] * n
            new = list(wl.hash_ids) if wl.hash_ids is not None else [np.zeros(0, np.int64)] * m
            self._hash_ids = new if n == 0 else [*old, *new]
        if hashes is not None or self.hashes is not None:
            if self.hashes is None:
                self.hashes = [[] for _ in range(n)]
            self.hashes.extend([list(map(int, h)) for h in hashes] if hashes is not None else [[]] * m)
        self.arrival.extend(wl.arrival_s.tolist())
        self.prompt.extend(wl.prompt_tokens.tolist())
        self.out.extend(wl.output_tokens.tolist())
        self.lam.extend(wl.lam_usd_per_s.tolist())
        self._grow_outcomes(m)

    def append(self, r: ServeRequest, predicted_output_tokens: float, synthetic_prediction: bool) -> None:
        """Append one request (its prediction given, or drawn by the session when ``synthetic_prediction``)."""
        n = len(self)
        row = (
            r.arrival_s,
            r.prompt_tokens,
            r.output_tokens,
            r.tenant,
            r.v_usd,
            r.lam_usd_per_s,
            predicted_output_tokens,
        )
        self._reserve(n + 1)
        for c, v in zip(_COLUMNS, row, strict=True):
            self._buf[c][n] = v
        self._view = None
        if synthetic_prediction and "predicted_output_tokens" not in self._synthetic:
            self._synthetic = (*self._synthetic, "predicted_output_tokens")
        if r.hash_ids is not None or self._hash_ids is not None:
            if self._hash_ids is None:
                self._hash_ids = [np.zeros(0, np.int64)] * n
            self._hash_ids.append(np.array(r.hash_ids or (), np.int64))
        if (self.prefix_cache and r.hash_ids is not None) or self.hashes is not None:
            if self.hashes is None:
                self.hashes = [[] for _ in range(n)]
            self.hashes.append(list(r.hash_ids or ()))
        self.arrival.append(r.arrival_s)
        self.prompt.append(r.prompt_tokens)
        self.out.append(r.output_tokens)
        self.lam.append(r.lam_usd_per_s)
        self._grow_outcomes(1)

    def compact(self) -> Workload:
        """The requests as a ``Workload`` that owns exactly its rows (for a run's result)."""
        n = len(self)
        if not self._shared:
            self._buf = {c: self._buf[c][:n].copy() for c in _COLUMNS}
            self._shared, self._view = True, None
        return self.workload

    def _reserve(self, rows: int) -> None:
        """Make every buffer hold ``rows`` rows and be ours to write (capacity doubles)."""
        n = len(self)
        if not self._shared and self._buf["arrival_s"].shape[0] >= rows:
            return
        cap = max(16, 2 * rows)
        for c in _COLUMNS:
            new = np.zeros(cap, np.int64 if c in _INT_COLUMNS else np.float64)
            new[:n] = self._buf[c][:n]
            self._buf[c] = new
        self._shared = False

    def _grow_outcomes(self, m: int) -> None:
        self.status.extend([0] * m)
        self.first.extend([math.nan] * m)
        self.finish.extend([math.nan] * m)
        self.preempt.extend([0] * m)
        self.hit.extend([0] * m)
        self.gen.extend([0] * m)
        self.decided.extend([False] * m)
        self.pos.extend([-1] * m)
