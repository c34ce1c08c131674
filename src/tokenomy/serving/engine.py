"""The iteration-level serving engine (vLLM-style continuous batching), event-driven and O(batch).

``Engine`` holds the knobs (step-time model, ``EngineConfig``, prefix-cache eviction, jump cap) and
starts runs: ``run(wl, scheduler)`` replays a whole workload and returns its ``RunResult``;
``session(scheduler, bus=...)`` starts an online ``session.Session`` that a driver feeds request by
request (``add`` / ``run_until`` / ``step`` / ``prices`` / ``finish``) and that publishes its shadow
prices on a ``PriceBus``. ``run`` is a session given the whole workload and drained, so there is one
implementation of every phase (``iteration.Iteration``: arrivals, price samples, decode jumps,
scheduling, steps).

The pieces live by noun: ``iteration`` (the loop's phases), ``state`` (the run's state and its
result), ``session`` (the online driver),
``requests.RequestTable`` (the requests' columns), ``running.RunningSet`` (the decode columns, the
prefill records, decode KV accounting and the scheduler's ``EngineState`` view),
``speculation.SpeculativeStep`` (step time and the per-step make-or-buy test),
``prices`` (the shadow prices as core ``PriceVector``s), ``kv.KVCache`` (blocks and the prefix cache).
Prefill/decode disaggregation is ``disagg.DisaggregatedEngine``.
"""

from __future__ import annotations

from collections.abc import Sequence

from tokenomy.core._checks import whole
from tokenomy.core.bus import PriceBus
from tokenomy.core.errors import ValidationError
from tokenomy.serving.entities import EngineConfig, Workload
from tokenomy.serving.iteration import Progress
from tokenomy.serving.kv import EvictionPolicy
from tokenomy.serving.recording import RecordSpec
from tokenomy.serving.result import RunResult
from tokenomy.serving.schedulers.base import Scheduler
from tokenomy.serving.session import Session
from tokenomy.serving.steptime import BLIS_LLAMA31_8B_H100_TP1, StepTimeModel

__all__ = ["Engine", "Progress"]


class Engine:
    """A simulated LLM server.

    Args:
        step_model: iteration-time model (default: BLIS llama-3.1-8b, H100, TP1).
        config: engine knobs.
        eviction: prefix-cache eviction policy name or instance (an instance is a prototype: each
            run gets ``eviction.fresh()``, a new one with its parameters). A policy with a ``bind``
            hook is handed the engine clock and the live shadow prices the engine publishes (the
            latest price sample: ``state.RunState``).
        max_jump_steps: cap on steps advanced at once (``None``: up to the next event; 1: step by
            step, the slow baseline the benchmark measures the jump against; same results up to
            float rounding).

    Raises:
        ValidationError: naming the argument: a step model, config or eviction of the wrong kind, a
            ``max_jump_steps`` that is not ``None`` or a whole number ≥ 1.
    """

    def __init__(
        self,
        *,
        step_model: StepTimeModel = BLIS_LLAMA31_8B_H100_TP1,
        config: EngineConfig | None = None,
        eviction: str | EvictionPolicy = "lru",
        max_jump_steps: int | None = None,
    ) -> None:
        if not isinstance(step_model, StepTimeModel):
            raise ValidationError(f"Engine step_model must be a StepTimeModel, got {step_model!r:.80}")
        if config is not None and not isinstance(config, EngineConfig):
            raise ValidationError(f"Engine config must be an EngineConfig or None, got {config!r:.80}")
        if not (isinstance(eviction, str) or callable(getattr(eviction, "fresh", None))):
            raise ValidationError(
                f"Engine eviction must be a policy name or an EvictionPolicy instance, got {eviction!r:.80}"
            )
        self.step_model = step_model
        self.config = config or EngineConfig()
        self.eviction = eviction
        self.max_jump_steps = (
            None if max_jump_steps is None else whole("Engine max_jump_steps", max_jump_steps, low=1)
        )

    def session(
        self,
        scheduler: Scheduler,
        *,
        bus: PriceBus | None = None,
        topic: str = "supply",
        seed: int = 0,
        record: RecordSpec | None = None,
        progress: Progress | None = None,
        name: str = "online",
        tenant_names: Sequence[str] = ("default",),
        hash_block_tokens: int = 512,
    ) -> Session:
        """Start an online run under ``scheduler`` (``session.Session``), empty at time 0.

        Args:
            scheduler: a fresh scheduler instance.
            bus: publish the shadow prices here at every price sample (``None``: do not publish).
            topic: the bus topic (``"supply"``).
            seed: seeds the length predictions drawn for requests added without one.
            record: also record sampled eviction and ordering decisions (``recording.RecordSpec``).
            progress: called as ``progress(done, total)`` now and then.
            name: the workload name in the result.
            tenant_names: names of the tenant codes requests may carry.
            hash_block_tokens: tokens per prefix hash block of the requests' ``hash_ids``.
        """
        eviction = self.eviction if isinstance(self.eviction, str) else self.eviction.fresh()
        return Session(
            model=self.step_model,
            config=self.config,
            eviction=eviction,
            max_jump=self.max_jump_steps or 2**62,
            scheduler=scheduler,
            bus=bus,
            topic=topic,
            seed=seed,
            record=record,
            progress=progress,
            name=name,
            tenant_names=tenant_names,
            hash_block_tokens=hash_block_tokens,
        )

    def run(
        self,
        wl: Workload,
        scheduler: Scheduler,
        *,
        progress: Progress | None = None,
        record: RecordSpec | None = None,
        bus: PriceBus | None = None,
        topic: str = "supply",
    ) -> RunResult:
        """Replay ``wl`` under ``scheduler`` until every request completed or was rejected.

        Args:
            wl: the workload (``Workload.validate`` runs first).
            scheduler: a fresh scheduler instance.
            progress: called as ``progress(done, total)`` now and then.
            record: also record sampled eviction and ordering decisions for the ledger
                (``recording``; same results, a little slower); ``None``: record nothing.
            bus, topic: publish the shadow prices on this bus as the run goes (``None``: do not).

        Returns:
            the run's per-request columns, counters and price feed.

        Raises:
            ValidationError: ``wl`` is not a valid ``Workload`` (NaN arrival, value or price, ...).
        """
        if not isinstance(wl, Workload):
            raise ValidationError(f"Engine.run takes a Workload; got {type(wl).__name__}")
        wl.validate()  # before the session reads its tenant names (add_workload checks it again)
        s = self.session(
            scheduler,
            bus=bus,
            topic=topic,
            record=record,
            progress=progress,
            name=wl.name,
            tenant_names=wl.tenant_names,
            hash_block_tokens=wl.hash_block_tokens,
        )
        s.add_workload(wl)
        return s.finish()
