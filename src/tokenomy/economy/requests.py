"""The composed workload: real trace arrivals paired with real RouterBench prompts and agent runs.

Each arrival of a real serving trace (arrival time, prompt and output tokens) becomes either a chat
request, paired (seeded) with one RouterBench prompt of a split (its real per-model correctness and
USD cost are the outcome of routing it), or, with probability ``agent_share``, an agent task, paired
with one real mini-swe-agent SWE-bench trajectory (its steps' context and output tokens are the LLM
calls it sends, its resolved flag and per-call USD its outcome). The value V of each request and the
latency price λ of its tenant are SYNTHETIC (the data carry no value label): V ~ LogNormal per
tenant, λ a fixed SLA tier per tenant (``ValueSpec``). ``scaled(load)`` compresses inter-arrival
times by ``load``. Reads no file; the CLI loads the data and hands it in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from tokenomy.core._checks import real, whole
from tokenomy.core.errors import ValidationError
from tokenomy.serving.entities import Workload

__all__ = ["AgentTasks", "ChatRequests", "ComposedWorkload", "ValueSpec", "compose"]


@dataclass(frozen=True, slots=True)
class ValueSpec:
    """The SYNTHETIC value and SLA model (no value label exists in the data).

    Attributes:
        tenant_names: the tenants (SLA tiers).
        tenant_share: probability of each tenant.
        lam_usd_per_s: each tenant's SLA price of one second of latency, USD/s.
        chat_v_median_usd, chat_v_sigma: chat V ~ LogNormal(log median, σ), USD per unit quality.
        agent_v_median_usd, agent_v_sigma: agent task V (USD for a resolved task), same form.
        tool_s: seconds of tool execution between two agent calls (mini-swe-agent logs no timings).
    """

    tenant_names: tuple[str, ...] = ("interactive", "batch")
    tenant_share: tuple[float, ...] = (0.5, 0.5)
    lam_usd_per_s: tuple[float, ...] = (2e-3, 2e-4)
    chat_v_median_usd: float = 0.02
    chat_v_sigma: float = 1.0
    agent_v_median_usd: float = 2.0
    agent_v_sigma: float = 0.75
    tool_s: float = 2.0

    def __post_init__(self) -> None:
        """Raises ValidationError naming the field (shares and prices per tenant, medians > 0, ...)."""
        put = object.__setattr__
        names = self.tenant_names
        if not isinstance(names, tuple | list) or not names or not all(isinstance(t, str) for t in names):
            raise ValidationError(
                f"ValueSpec.tenant_names must be a non-empty tuple of strings, got {names!r:.80}"
            )
        put(self, "tenant_names", tuple(names))
        for col in ("tenant_share", "lam_usd_per_s"):
            vals = getattr(self, col)
            if isinstance(vals, str | bytes) or not isinstance(vals, Sequence) or len(vals) != len(names):
                raise ValidationError(
                    f"ValueSpec.{col} must hold one number per tenant ({len(names)}), got {vals!r:.80}"
                )
            put(self, col, tuple(real(f"ValueSpec.{col}[{i}]", x, low=0) for i, x in enumerate(vals)))
        if sum(self.tenant_share) <= 0:
            raise ValidationError(
                f"ValueSpec.tenant_share must have a positive sum, got {self.tenant_share!r}"
            )
        for name in ("chat_v_median_usd", "agent_v_median_usd"):
            put(self, name, real(f"ValueSpec.{name}", getattr(self, name), low=0, low_open=True))
        for name in ("chat_v_sigma", "agent_v_sigma", "tool_s"):
            put(self, name, real(f"ValueSpec.{name}", getattr(self, name), low=0))

    def note(self) -> str:
        """One line that labels every synthetic draw (printed and written with every result)."""
        tiers = ", ".join(
            f"{n} λ=${x:g}/s" for n, x in zip(self.tenant_names, self.lam_usd_per_s, strict=True)
        )
        return (
            f"synthetic: chat V ~ LogNormal(median ${self.chat_v_median_usd:g}, σ {self.chat_v_sigma:g}) per "
            f"unit quality; agent V ~ LogNormal(median ${self.agent_v_median_usd:g}, σ {self.agent_v_sigma:g}) "
            f"per resolved task; SLA tiers {tiers}; tool time {self.tool_s:g} s between agent calls; "
            "API models' latency 0.5 s + output/50 tok/s"
        )


@dataclass(frozen=True, slots=True)
class ChatRequests:
    """N chat requests, columnar, in arrival order.

    Attributes:
        arrival_s, prompt_tokens, output_tokens: from the trace (shape (N,)).
        tenant: (N,) tenant codes; v_usd, lam_usd_per_s: (N,) synthetic V and SLA λ.
        prompt_row: (N,) row of the paired prompt in the routing split.
    """

    arrival_s: NDArray[np.float64]
    prompt_tokens: NDArray[np.int64]
    output_tokens: NDArray[np.int64]
    tenant: NDArray[np.int64]
    v_usd: NDArray[np.float64]
    lam_usd_per_s: NDArray[np.float64]
    prompt_row: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.arrival_s.shape[0])


@dataclass(frozen=True, slots=True)
class AgentTasks:
    """K agent tasks, columnar, in arrival order.

    Attributes:
        arrival_s: (K,) from the trace; tenant, v_usd, lam_usd_per_s: (K,) (V, λ synthetic).
        traj: (K,) index of the paired trajectory in the agent split.
    """

    arrival_s: NDArray[np.float64]
    tenant: NDArray[np.int64]
    v_usd: NDArray[np.float64]
    lam_usd_per_s: NDArray[np.float64]
    traj: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.arrival_s.shape[0])


@dataclass(frozen=True, slots=True)
class ComposedWorkload:
    """Chat requests and agent tasks sharing one clock (seconds from the first arrival)."""

    name: str
    chat: ChatRequests
    agents: AgentTasks
    spec: ValueSpec
    load: float = 1.0

    def scaled(self, load: float) -> ComposedWorkload:
        """The same requests arriving ``load`` times as fast.

        Raises:
            ValidationError: ``load`` is not a positive finite number.
        """
        if not (np.isfinite(load) and load > 0):
            raise ValidationError(f"load must be a positive number, got {load!r}")
        return replace(
            self,
            chat=replace(self.chat, arrival_s=self.chat.arrival_s / load),
            agents=replace(self.agents, arrival_s=self.agents.arrival_s / load),
            load=self.load * load,
        )


def _lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> NDArray[np.float64]:
    return np.asarray(median * np.exp(sigma * rng.standard_normal(n)), dtype=np.float64)


def compose(
    trace: Workload,
    *,
    n_prompts: int,
    n_trajectories: int,
    agent_share: float,
    spec: ValueSpec | None = None,
    seed: int = 0,
    name: str = "",
) -> ComposedWorkload:
    """Pair each trace arrival with a prompt or a trajectory and draw the synthetic V and tenant.

    Args:
        trace: the real arrivals (``arrival_s``, ``prompt_tokens``, ``output_tokens`` are used).
        n_prompts: prompts in the routing split (paired uniformly at random, with replacement).
        n_trajectories: trajectories in the agent split (paired without replacement while they last).
        agent_share: probability that an arrival is an agent task, in [0, 1).
        spec: the synthetic value model.
        seed: seed of every draw.
        name: label.

    Raises:
        ValidationError: naming the argument: an empty trace or split, ``agent_share`` outside [0, 1),
            a count or seed that is not a whole number ≥ 0, a trace or spec of the wrong kind.
    """
    if not isinstance(trace, Workload):
        raise ValidationError(f"compose trace must be a Workload, got {type(trace).__name__}")
    if spec is not None and not isinstance(spec, ValueSpec):
        raise ValidationError(f"compose spec must be a ValueSpec or None, got {spec!r:.80}")
    n_prompts = whole("compose n_prompts", n_prompts)
    n_trajectories = whole("compose n_trajectories", n_trajectories)
    seed = whole("compose seed", seed)
    agent_share = real("compose agent_share", agent_share, low=0, high=1, high_open=True)
    spec = spec or ValueSpec()
    if len(trace) == 0 or n_prompts < 1:
        raise ValidationError(f"compose needs arrivals and prompts; got {len(trace)} and {n_prompts}")
    if not 0.0 <= agent_share < 1.0 or (agent_share > 0 and n_trajectories < 1):
        raise ValidationError(
            f"agent_share must be in [0, 1) with trajectories to replay; got {agent_share!r}"
        )
    rng = np.random.default_rng(seed)
    n = len(trace)
    is_agent = rng.random(n) < agent_share
    tenant = rng.choice(
        len(spec.tenant_names), size=n, p=np.asarray(spec.tenant_share) / sum(spec.tenant_share)
    )
    lam = np.asarray(spec.lam_usd_per_s, dtype=np.float64)[tenant]
    v_chat = _lognormal(rng, spec.chat_v_median_usd, spec.chat_v_sigma, n)
    v_agent = _lognormal(rng, spec.agent_v_median_usd, spec.agent_v_sigma, n)
    rows = rng.integers(0, n_prompts, size=n)
    order = rng.permutation(max(n_trajectories, 1))
    arr = trace.arrival_s - trace.arrival_s[0]
    c, a = ~is_agent, np.flatnonzero(is_agent)
    traj = order[np.arange(a.size) % max(n_trajectories, 1)]
    chat = ChatRequests(
        arr[c].astype(np.float64),
        trace.prompt_tokens[c].astype(np.int64),
        trace.output_tokens[c].astype(np.int64),
        tenant[c].astype(np.int64),
        v_chat[c],
        lam[c],
        rows[c].astype(np.int64),
    )
    agents = AgentTasks(
        arr[a].astype(np.float64), tenant[a].astype(np.int64), v_agent[a], lam[a], traj.astype(np.int64)
    )
    return ComposedWorkload(name or trace.name, chat, agents, spec)
