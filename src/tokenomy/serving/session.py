"""An online engine session: add requests as they come, advance simulated time, read shadow prices.

``Engine.session(scheduler)`` returns a ``Session``; ``Engine.run`` is a session given the whole
workload and drained (``finish``), so both paths run the same phases (``iteration.Iteration``). A
driver adds ``ServeRequest``s (each at or after ``now_s``) and advances time with ``run_until(t)``
(every engine iteration that starts before t runs; a step in flight may end after t, and requests
arriving meanwhile join at its end, as on a real server) or ``step()`` (one iteration or one
multi-step decode jump). Each returns the ``Completion``s that happened. ``prices()`` is the core
``PriceVector`` of the state now; with a ``PriceBus`` the session also publishes it at every price
sample (``EngineConfig.price_sample_s``), so the bus history equals the run's ``RunResult.prices``.

Same results as the batch run: a driver that adds each request and then calls ``run_until`` at its
arrival time (``add(r); run_until(r.arrival_s)``) gets, from ``finish()``, the ``RunResult`` that
``Engine.run`` gives on the same requests, bit for bit: an iteration at time c runs only once every
arrival at or before c is known, and a decode jump stops at the next known arrival or at the horizon,
whichever is first. Other horizons split decode jumps, which moves results by float rounding only
(like ``Engine(max_jump_steps=...)``).

Randomness: a request added without ``predicted_output_tokens`` gets a noisy prediction drawn from
the session's ``seed`` (true length × LogNormal(0, 0.5), as ``workloads.ValueModel``); nothing else
is random.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tokenomy.core._checks import whole
from tokenomy.core.bus import PriceBus
from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceVector
from tokenomy.serving.entities import Completion, EngineConfig, ServeRequest, Workload
from tokenomy.serving.iteration import Iteration, Progress
from tokenomy.serving.kv import EvictionPolicy
from tokenomy.serving.prices import price_vector
from tokenomy.serving.recording import RecordSpec
from tokenomy.serving.result import PriceSample, RunResult
from tokenomy.serving.schedulers.base import Scheduler
from tokenomy.serving.steptime import StepTimeModel
from tokenomy.serving.workloads import ValueModel

__all__ = ["Session", "Step"]

_NOISE_SIGMA = ValueModel().noise_sigma


@dataclass(frozen=True, slots=True)
class Step:
    """What one ``Session.step`` did.

    Attributes:
        start_s, end_s: the engine clock before and after (equal when the engine was idle).
        steps: engine iterations simulated (k for a k-step decode jump, 0 when idle or preempting).
        completions: requests that left during it.
        idle: nothing to do until a request is added.
    """

    start_s: float
    end_s: float
    steps: int
    completions: tuple[Completion, ...]
    idle: bool


class Session(Iteration):
    """One online run of an engine (module docstring). Build it with ``Engine.session``.

    Args:
        model, config, eviction, max_jump: the engine's step model, knobs, eviction policy and jump cap.
        scheduler: a fresh scheduler instance.
        bus: publish ``prices()`` here at every price sample (``None``: do not publish).
        topic: the bus topic.
        seed: seeds the length predictions drawn for requests added without one.
        record: record sampled eviction and ordering decisions (``recording.RecordSpec``).
        progress: called as ``progress(done, total)`` now and then.
        name: the workload name carried into the result.
        tenant_names: names of the tenant codes requests may carry.
        hash_block_tokens: tokens per prefix hash block of the requests' ``hash_ids``.

    Raises:
        ValidationError: naming the argument: ``scheduler`` not a ``Scheduler`` instance, ``seed`` or
            ``hash_block_tokens`` not a whole number (≥ 0, ≥ 1), ``tenant_names`` not strings.
    """

    def __init__(
        self,
        *,
        model: StepTimeModel,
        config: EngineConfig,
        eviction: str | EvictionPolicy,
        max_jump: int,
        scheduler: Scheduler,
        bus: PriceBus | None = None,
        topic: str = "supply",
        seed: int = 0,
        record: RecordSpec | None = None,
        progress: Progress | None = None,
        name: str = "online",
        tenant_names: Sequence[str] = ("default",),
        hash_block_tokens: int = 512,
    ) -> None:
        if bus is not None and not (isinstance(topic, str) and topic):
            raise ValidationError(f"Session topic must be a non-empty string; got {topic!r}")
        if not isinstance(scheduler, Scheduler):
            raise ValidationError(
                f"Session scheduler must be a Scheduler instance (make_scheduler(name)), got {scheduler!r:.80}"
            )
        if not isinstance(tenant_names, tuple | list) or not all(isinstance(t, str) for t in tenant_names):
            raise ValidationError(
                f"Session tenant_names must be a tuple of strings, got {tenant_names!r:.80}"
            )
        seed = whole("Session seed", seed)
        hash_block_tokens = whole("Session hash_block_tokens", hash_block_tokens, low=1)
        super().__init__(
            model,
            config,
            eviction,
            scheduler,
            record,
            progress,
            name=name,
            tenant_names=tenant_names,
            hash_block_tokens=hash_block_tokens,
        )
        self.max_jump = max_jump
        self.bus, self.topic = bus, topic
        self._rng = np.random.default_rng(seed)
        self._now = 0.0
        self._closed = False

    # --- what a driver reads ----------------------------------------------------------------------
    @property
    def now_s(self) -> float:
        """Simulated time the session has been advanced to; requests must arrive at or after it."""
        return self._now

    @property
    def queue_len(self) -> int:
        """Requests waiting (arrived, not admitted)."""
        return len(self.queue)

    @property
    def running(self) -> int:
        """Requests on the GPU (prefilling or decoding)."""
        return self.state.n_running

    def prices(self) -> PriceVector:
        """The shadow prices now (``prices.price_vector`` of the current state, time ``now_s``)."""
        sample = self.sample_now(self._now)
        return price_vector(sample, self.config)

    # --- what a driver does -----------------------------------------------------------------------
    def add(self, request: ServeRequest) -> int:
        """Add one request; return its index (0, 1, ... in the order added).

        Raises:
            ValidationError: naming the field, when ``arrival_s`` is earlier than ``now_s`` or than
                the last request added, the tenant code is not one of ``tenant_names``, the request
                is not a ``ServeRequest``, or the session is finished.
        """
        self._check_open()
        if not isinstance(request, ServeRequest):
            raise ValidationError(f"Session.add takes a ServeRequest; got {type(request).__name__}")
        t = self.requests
        last = t.arrival[-1] if len(t) else 0.0
        if request.arrival_s < max(self._now, last):
            raise ValidationError(
                f"ServeRequest.arrival_s must be ≥ the session's now_s ({self._now!r}) and the last "
                f"arrival ({last!r}); got {request.arrival_s!r}"
            )
        if request.tenant >= len(t.tenant_names):
            raise ValidationError(
                f"ServeRequest.tenant must be a code into tenant_names {t.tenant_names}; got {request.tenant!r}"
            )
        pred, drawn = request.predicted_output_tokens, False
        if pred is None:
            z = float(self._rng.standard_normal())
            pred, drawn = max(1.0, request.output_tokens * math.exp(_NOISE_SIGMA * z)), True
        i = len(t)
        t.append(request, pred, drawn)
        self.keys_joined(i)
        return i

    def add_workload(self, wl: Workload) -> None:
        """Add every request of ``wl`` (validated; its first arrival at or after ``now_s``).

        Raises:
            ValidationError: ``wl`` fails ``Workload.validate`` or arrives before ``now_s`` or the
                last request added.
        """
        self._check_open()
        if not isinstance(wl, Workload):
            raise ValidationError(f"Session.add_workload takes a Workload; got {type(wl).__name__}")
        wl.validate()
        t = self.requests
        last = max(self._now, t.arrival[-1] if len(t) else 0.0)
        if len(wl) and float(wl.arrival_s[0]) < last:
            raise ValidationError(
                f"Workload.arrival_s must start at or after the session's now_s and last arrival "
                f"({last!r}); got {float(wl.arrival_s[0])!r}"
            )
        i = len(t)
        t.extend(wl)
        self.keys_joined(i)

    def run_until(self, t_s: float) -> list[Completion]:
        """Advance simulated time to ``t_s``; return the requests that left meanwhile.

        Raises:
            ValidationError: ``t_s`` is earlier than ``now_s`` (time never runs back) or not finite.
        """
        self._check_open()
        if (
            isinstance(t_s, bool)
            or not (isinstance(t_s, int | float) and math.isfinite(t_s))
            or t_s < self._now
        ):
            raise ValidationError(f"run_until t_s must be finite and ≥ now_s ({self._now!r}); got {t_s!r}")
        self.run_to(float(t_s), float(t_s))
        self._now = float(t_s)
        return self.completions()

    def step(self) -> Step:
        """Run one engine iteration (or one multi-step decode jump) with the requests added so far."""
        self._check_open()
        start, steps = self.clock, self.steps
        moved = self.iterate(math.inf)
        self._now = max(self._now, self.clock)
        return Step(start, self.clock, self.steps - steps, tuple(self.completions()), not moved)

    def finish(self) -> RunResult:
        """Serve every request added to the end and return the run's result (the session closes).

        Raises:
            ValidationError: the session is already finished.
        """
        self._check_open()
        self.run_to(math.inf, math.inf)
        self._closed = True
        self._now = max(self._now, self.clock)
        self.done_events.clear()
        return self.result()

    def completions(self) -> list[Completion]:
        """The requests that left since the last call (and clears them)."""
        t = self.requests
        out = [
            Completion(i, t.status[i], t.arrival[i], t.finish[i], t.first[i] - t.arrival[i])
            for i in self.done_events
        ]
        self.done_events.clear()
        return out

    def on_sample(self, sample: PriceSample) -> None:
        """Publish a price sample on the bus (``prices()`` at the sample time)."""
        if self.bus is not None:
            self.bus.publish(self.topic, price_vector(sample, self.config), time_s=sample.time_s)

    def _check_open(self) -> None:
        if self._closed:
            raise ValidationError("the session is finished; start a new one with Engine.session")
