"""The scheduler contract: a static order key per request, a waiting queue, and an admission verdict.

A scheduler decides, it never mutates the engine (STYLE rule 3). ``order_keys`` gives each request
a key once, when it joins the run (lower is served first), so the waiting queue is a heap and every
push/pop is O(log queue), never O(queue). Requests join a run in batches (the whole workload for
``Engine.run``, one at a time for an online session): the engine makes the queue once
(``make_queue``) and hands it each batch of rows with their keys (``WaitQueue.extend``). ``decide`` (only the congestion-priced scheduler overrides it)
returns an ``Admission`` verdict that the engine applies: admit, or reject (Eq. 1's null option).
The engine state a scheduler may read is the ``EngineState`` protocol below.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from tokenomy.serving.entities import EngineConfig, Workload
from tokenomy.serving.steptime import StepTimeModel

__all__ = ["Admission", "EngineState", "KeyedQueue", "Scheduler", "WaitQueue"]


class EngineState(Protocol):
    """What a scheduler may read (never write) when it decides."""

    @property
    def now_s(self) -> float: ...
    @property
    def n_running(self) -> int: ...
    @property
    def slot_lam(self) -> NDArray[np.float64]:
        """λ (USD/s) of each running request."""

    @property
    def slot_rem(self) -> NDArray[np.float64]:
        """Estimated remaining output tokens of each running request (same order as ``slot_lam``;
        from predictions and completed requests, never the true lengths)."""

    @property
    def slot_rem_true(self) -> NDArray[np.float64]:
        """The true remaining output tokens: for oracle schedulers (``knows_true_lengths``) only."""

    @property
    def lam_waiting_usd_per_s(self) -> float:
        """Σ λ over the waiting queue behind the request being decided (at arrival: those it would
        be served before when the queue can tell, ``WaitQueue.sum_behind``, else the whole queue)."""

    @property
    def waiting_tokens_ahead(self) -> float:
        """Prompt (and recompute) tokens of the waiting requests served before this one: at arrival
        the whole queue, at a head-of-queue decision none."""

    @property
    def kv_available_blocks(self) -> int: ...
    @property
    def step_model(self) -> StepTimeModel: ...
    @property
    def config(self) -> EngineConfig: ...


@dataclass(frozen=True, slots=True)
class Admission:
    """A verdict on one request: admit or reject, with the Eq. 1 terms it was based on (USD, s)."""

    admit: bool
    dc_usd: float = 0.0
    dl_s: float = 0.0
    external_usd: float = 0.0
    surplus_usd: float = 0.0


class WaitQueue:
    """The waiting queue interface the engine uses."""

    def extend(self, wl: Workload, keys: NDArray[np.float64]) -> None:
        """Requests joined the run: ``wl`` holds their rows (the next indices after those the queue
        knows) and ``keys`` their order keys."""
        raise NotImplementedError

    def push(self, i: int) -> None:
        raise NotImplementedError

    def peek(self) -> int:
        raise NotImplementedError

    def pop(self) -> int:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def on_finish(self, i: int, output_tokens: int) -> None:
        """Hook when request ``i`` finishes (fair-share counters); default no-op."""

    def sum_behind(self, i: int, values: list[float]) -> float | None:
        """Σ ``values[j]`` over the waiting j that request ``i`` (not queued) would go ahead of;
        ``None`` when the order is not known in advance (the caller then counts every waiting j)."""
        return None

    def top(self, k: int) -> list[tuple[int, float]]:
        """The next ``k`` (or fewer) requests in serve order, each with its priority (lower first).

        Leaves the queue as it was; read by the order ledger (``recording``), never on the default
        path.
        """
        raise NotImplementedError


class KeyedQueue(WaitQueue):
    """A heap on (key, arrival index): FCFS when the key is the arrival index."""

    def __init__(self, keys: NDArray[np.float64]) -> None:
        self._keys: list[float] = keys.tolist()
        self._heap: list[tuple[float, int]] = []

    def extend(self, wl: Workload, keys: NDArray[np.float64]) -> None:
        self._keys.extend(keys.tolist())

    def push(self, i: int) -> None:
        heapq.heappush(self._heap, (self._keys[i], i))

    def peek(self) -> int:
        return self._heap[0][1]

    def pop(self) -> int:
        return heapq.heappop(self._heap)[1]

    def __len__(self) -> int:
        return len(self._heap)

    def sum_behind(self, i: int, values: list[float]) -> float | None:
        """O(queue): the waiting j with a larger (key, index) than i's."""
        me = (self._keys[i], i)
        return float(sum(values[j] for e in self._heap if e > me for j in (e[1],)))

    def top(self, k: int) -> list[tuple[int, float]]:
        # (key, index) entries are unique: the k smallest are the next k pops, in order
        return [(i, key) for key, i in heapq.nsmallest(k, self._heap)]


class Scheduler:
    """Base: FCFS order, admit everything. Subclasses override ``order_keys`` (one verb) or ``decide``.

    Class attributes:
        name: registry name.
        knows_true_lengths: True only for oracle variants (excluded from the fair comparison).
        decides: True when ``decide`` may reject (the engine calls it only then).
        uses_queue_lam: ``decide`` reads ``lam_waiting_usd_per_s`` (the engine then works out the
            queue behind an arriving request, O(queue)).
        ablation: a part of another scheduler (shown beside it, not a competitor).
    """

    name = "base"
    knows_true_lengths = False
    decides = False
    uses_queue_lam = False
    ablation = False

    def prepare(self, model: StepTimeModel, config: EngineConfig) -> None:
        """Read the engine's step model and configuration before a run (default: nothing)."""

    def order_keys(self, wl: Workload, first: int = 0) -> NDArray[np.float64]:
        """A key per row of ``wl``, whose rows are the run's requests ``first``, ``first + 1``, ...;
        lower is served first (ties by arrival). A key depends on its row and index only."""
        return np.arange(first, first + len(wl), dtype=np.float64)

    def make_queue(self, wl: Workload) -> WaitQueue:
        """The waiting queue this scheduler uses, knowing the requests of ``wl`` (more join by
        ``WaitQueue.extend``)."""
        return KeyedQueue(self.order_keys(wl))

    def decide(self, i: int, wl: Workload, state: EngineState, *, waited_s: float) -> Admission:
        """Admit or reject request ``i`` now (default: admit)."""
        return Admission(True)

    def output_estimate(self, wl: Workload) -> NDArray[np.float64]:
        """The output lengths this scheduler believes (the prediction unless it is an oracle)."""
        return wl.output_tokens.astype(np.float64) if self.knows_true_lengths else wl.predicted_output_tokens
