"""Congestion-priced admission per upstream: bounded concurrency, a bounded queue, a live λ_m (Eq. 3).

Each upstream has ``max_concurrency`` slots and a FIFO queue of at most ``max_queue`` waiters. The
expected latency of a new request there is its expected queue wait plus the mean service time
(an exponentially weighted mean of observed service times): wait = (queued + in-flight − slots + 1)⁺ /
slots × service. The upstream's congestion price λ_m (USD per second) is discovered by the core
``PriceController`` from the p95 of recent observed latencies (queue wait + service) against the
upstream's SLA
(λ ← max(0, λ + η·(p95 − SLA)), one step every ``update_every`` completions) and published on the
``PriceBus`` under ``upstream/<name>``. Whether a request is worth admitting is decided by its
Eq. 1 surplus with λ + λ_m priced on that expected latency (``policy.candidate_surplus``); this
module only counts slots, estimates waits and moves λ_m. All methods run on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from tokenomy.core.bus import PriceBus
from tokenomy.core.control import PriceController
from tokenomy.core.prices import PriceSource, PriceVector

__all__ = ["AdmissionQueue"]


class AdmissionQueue:
    """Slots and queue of one upstream, with its discovered congestion price.

    Args:
        name: the upstream's name (the bus topic is ``upstream/<name>``).
        max_concurrency: requests in flight at once.
        max_queue: requests waiting for a slot at most (0: no queue, refuse when full).
        sla_s: the p95 latency target, seconds.
        eta_lam: the controller's step, USD/s per second of p95 violation.
        bus: where λ_m is published (``None``: not published).
        window: latencies kept for the p95.
        update_every: completions between controller steps.
        clock: seconds, for the bus quotes' times.
    """

    def __init__(
        self,
        name: str,
        *,
        max_concurrency: int,
        max_queue: int,
        sla_s: float,
        eta_lam: float,
        bus: PriceBus | None = None,
        window: int = 256,
        update_every: int = 32,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.name, self.slots, self.max_queue = name, max_concurrency, max_queue
        self.controller = PriceController(sla_p95_s=sla_s, eta_lam=eta_lam)
        self.bus, self.topic = bus, f"upstream/{name}"
        self.in_flight = 0
        self.service_s = min(sla_s, 1.0) / 4  # prior mean service time until the first observation
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._lat = np.zeros(window)
        self._n_obs = 0
        self._update_every = update_every
        self.admitted = self.refused = 0
        self._publish()

    @property
    def lam_usd_per_s(self) -> float:
        """The congestion price λ_m now, USD/s."""
        return self.controller.lam_usd_per_s_

    @property
    def queued(self) -> int:
        """Requests waiting for a slot."""
        return len(self._waiters)

    def expected_wait_s(self) -> float:
        """Expected queue wait of a request arriving now, seconds."""
        ahead = len(self._waiters) + self.in_flight - self.slots + 1
        return max(0, ahead) / self.slots * self.service_s

    def expected_latency_s(self) -> float:
        """Expected wait plus mean service, seconds."""
        return self.expected_wait_s() + self.service_s

    def has_room(self) -> bool:
        """A request arriving now gets a slot or a queue place."""
        return self.in_flight < self.slots or len(self._waiters) < self.max_queue

    async def acquire(self) -> bool:
        """Take a slot, waiting in the queue if needed; ``False`` (refused) when the queue is full."""
        if self.in_flight < self.slots and not self._waiters:
            self.in_flight += 1
            self.admitted += 1
            return True
        if len(self._waiters) >= self.max_queue:
            self.refused += 1
            return False
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut  # release() hands its slot over: in_flight already counts this request
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._hand_over()  # the slot was handed to us as we were cancelled: pass it on
            else:
                self._waiters.remove(fut)
            raise
        self.admitted += 1
        return True

    def _hand_over(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        self.in_flight -= 1

    def release(self, service_s: float, wait_s: float = 0.0, *, failed: bool = False) -> None:
        """Give the slot back. ``wait_s + service_s`` (the latency the request saw here) feeds the p95
        and the price; ``service_s`` of a success also feeds the mean service time (a failure's time,
        a timeout's above all, says nothing about service but is latency all the same)."""
        if math.isfinite(service_s) and service_s >= 0:
            self._observe(service_s, max(0.0, wait_s), failed)
        self._hand_over()

    def _observe(self, service_s: float, wait_s: float, failed: bool) -> None:
        if not failed:
            self.service_s = max(1e-6, self.service_s + 0.05 * (service_s - self.service_s))
        self._lat[self._n_obs % self._lat.size] = wait_s + service_s
        self._n_obs += 1
        if self._n_obs % self._update_every == 0:
            n = min(self._n_obs, self._lat.size)
            self.controller.update(float(np.quantile(self._lat[:n], 0.95)))
            self._publish()

    def _publish(self) -> None:
        if self.bus is not None:
            prices = PriceVector(lam_usd_per_s=self.lam_usd_per_s, lam_source=PriceSource.DISCOVERED)
            self.bus.publish(self.topic, prices, time_s=self.clock())
