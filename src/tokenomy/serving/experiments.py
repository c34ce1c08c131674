"""Experiments: a scheduler × rate (× eviction × KV size) grid, and the paper's prediction 3.

Prediction 3 (SPEC §5): under flat (FCFS) pricing, tenants that send no long contexts still see
their latency and welfare regress as one tenant's long-context volume grows. The experiment adds a
"long" tenant (``LongTenant``: Gamma arrivals, log-normal lengths with a long prompt median; SYNTHETIC,
and every output says so with its distribution, ``LongTenant.describe``) to a base workload at increasing rates and measures the *other* tenants' TTFT, end-to-end latency
and welfare under each scheduler; ``removed_share`` is the part of FCFS's welfare loss for the
others that the scheduler avoids: 1 − loss_sched / loss_fcfs at each volume. No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

import numpy as np

from tokenomy.core.errors import ValidationError
from tokenomy.serving.disagg import DisaggregatedEngine
from tokenomy.serving.engine import Engine, Progress
from tokenomy.serving.entities import Workload
from tokenomy.serving.kv import EvictionPolicy
from tokenomy.serving.metrics import latency_columns, summarize, welfare_parts
from tokenomy.serving.recording import RecordSpec
from tokenomy.serving.result import COMPLETED, RunResult
from tokenomy.serving.schedulers import make_scheduler
from tokenomy.serving.workloads import TenantSpec, concat, rate_scaled, tenant_mix

__all__ = ["P3_UNDEFINED_WHY", "LongTenant", "MapFn", "PolicyFor", "prediction3", "run_grid"]

_NO_OTHERS = "no request of the other tenants completed"
P3_UNDEFINED_WHY: dict[str, str] = {
    "others_ttft_p50_s": _NO_OTHERS,
    "others_ttft_p99_s": _NO_OTHERS,
    "others_e2e_mean_s": _NO_OTHERS,
    "removed_share": "undefined for the reference scheduler (the first), at the first long rate (the "
    "reference volume) and wherever the reference lost no welfare (no loss to remove)",
}
"""Why a ``prediction3`` row's figure can be NaN (a column -> the reason, for the "-" a table shows)."""

OnRun = Callable[[RunResult, dict[str, Any]], None]
_T = TypeVar("_T")
_R = TypeVar("_R")


class MapFn(Protocol):
    """``map_fn(fn, items)``: ``[fn(x) for x in items]`` in input order, run however the caller likes.

    The interfaces pass one that runs the items in parallel (``interfaces.sweep.parallel_map``).
    """

    def __call__(self, fn: Callable[[_T], _R], items: Sequence[_T], /) -> Sequence[_R]: ...


PolicyFor = Callable[[Workload, str], "str | EvictionPolicy"]


def run_grid(
    workloads: Sequence[Workload],
    schedulers: Sequence[str],
    rates: Sequence[float],
    *,
    engine: Engine | DisaggregatedEngine | None = None,
    on_run: OnRun | None = None,
    progress: Callable[[], Progress] | None = None,
    record: RecordSpec | None = None,
    map_fn: MapFn | None = None,
    evictions: Sequence[str] | None = None,
    kv_blocks: Sequence[int] | None = None,
    policy_for: PolicyFor | None = None,
) -> list[dict[str, Any]]:
    """Run every (workload, rate, scheduler[, eviction, KV size]); return one ``summarize`` dict per run.

    Args:
        workloads: the traces (unscaled).
        schedulers: registry names.
        rates: rate scales (×k compresses arrival times).
        engine: the engine (default ``Engine()``).
        on_run: called with each run and its summary (reports, ledger writes), in grid order.
        progress: called before each run for that run's progress callback; it is called where the
            run happens, so leave it None with a ``map_fn`` that runs items in other processes.
        record: the decisions to record for the ledger (None: none).
        map_fn: runs the grid's points (e.g. in parallel); None: one after another in this process,
            each run handed to ``on_run`` as soon as it ends. Runs draw nothing at random, so every
            ``map_fn`` gives the same rows.
        evictions: prefix-cache policies to cross with the rest (None: the engine's own). Each
            row then carries ``eviction``.
        kv_blocks: KV pool sizes to cross with the rest (None: the engine's own). Each row then
            carries ``kv_blocks`` (it always does) and the axes need a plain ``Engine``.
        policy_for: ``policy_for(workload, name)`` gives the policy (a name or a prototype
            instance) of eviction ``name`` on that workload (e.g. one fitted on its train part);
            None: the name itself. A policy with a ``log`` (``capital.cache.CacheLog``) has its
            sampled decisions taken after each run into the row's ``cache_decisions``.

    Returns:
        one row per (workload, rate, scheduler, eviction, KV size), in that nesting order.

    Raises:
        ValidationError: eviction or KV axes with a disaggregated engine; a workload that is not a
            ``Workload``; schedulers, evictions or KV sizes given as one string instead of a list.
    """
    if not all(isinstance(w, Workload) for w in workloads):
        raise ValidationError(f"run_grid workloads must be Workloads, got {workloads!r:.80}")
    for axis, values in (("schedulers", schedulers), ("evictions", evictions), ("kv_blocks", kv_blocks)):
        if isinstance(values, str | bytes):
            raise ValidationError(f"run_grid {axis} must be a list, got the string {values!r:.80}")
    eng: Engine | DisaggregatedEngine = engine or Engine()
    if (evictions is not None or kv_blocks is not None) and not isinstance(eng, Engine):
        raise ValidationError("--eviction / --kv-blocks lists need the plain engine (not --disaggregate)")

    def run_one(
        point: tuple[Workload, float, str, str | None, int | None],
    ) -> tuple[RunResult, dict[str, Any]]:
        wl, k, name, ev, kv = point
        e, pol = eng, None
        if isinstance(eng, Engine) and (ev is not None or kv is not None):
            pol = eng.eviction if ev is None else (policy_for(wl, ev) if policy_for is not None else ev)
            cfg = eng.config if kv is None else replace(eng.config, kv_blocks=kv)
            e = Engine(step_model=eng.step_model, config=cfg, eviction=pol, max_jump_steps=eng.max_jump_steps)
        run_wl = (
            wl
            if ev is None and kv is None
            else replace(wl, name=f"{wl.name}|{ev or 'default'}|kv={kv or 'default'}")
        )
        r = e.run(
            rate_scaled(run_wl, k),
            make_scheduler(name),
            progress=progress() if progress is not None else None,
            record=record,
        )
        m = summarize(r)
        m["trace"], m["rate_scale"] = wl.name, k
        if ev is not None:
            m["eviction"] = ev
        m["hit_rate_by_v_decile"] = m["prefix_hit_rate_by_v_decile"]
        log = getattr(pol, "log", None)
        if log is not None:
            m["cache_decisions"] = log.take()
        return r, m

    evs: Sequence[str | None] = list(evictions) if evictions is not None else [None]
    kvs: Sequence[int | None] = list(kv_blocks) if kv_blocks is not None else [None]
    points = [
        (wl, float(k), name, ev, kv)
        for wl in workloads
        for k in rates
        for name in schedulers
        for ev in evs
        for kv in kvs
    ]
    rows = []
    for r, m in map(run_one, points) if map_fn is None else map_fn(run_one, points):
        rows.append(m)
        if on_run is not None:
            on_run(r, m)
    return rows


@dataclass(frozen=True, slots=True)
class LongTenant:
    """Prediction 3's long-context tenant: a SYNTHETIC generator (no trace has such a tenant).

    Inter-arrival gaps ~ Gamma(shape 1/cv², mean 1/rate) (cv = 1: Poisson); prompt and output tokens
    ~ LogNormal(median, σ), rounded and clipped to [1, ``max_tokens``] (``workloads.tenant_mix``);
    V and λ are the same synthetic draws as every request's (``workloads.SYNTHETIC_NOTE``).
    """

    prompt_median: float = 16000.0
    prompt_sigma: float = 0.3
    output_median: float = 200.0
    output_sigma: float = 0.8
    cv: float = 1.0
    max_tokens: int = 32768

    def spec(self, rate_rps: float) -> TenantSpec:
        """The tenant at ``rate_rps`` requests per second."""
        return TenantSpec(
            "long",
            rate_rps,
            cv=self.cv,
            prompt_median=self.prompt_median,
            prompt_sigma=self.prompt_sigma,
            output_median=self.output_median,
            output_sigma=self.output_sigma,
        )

    def describe(self) -> dict[str, Any]:
        """Its label and distributions (JSON-ready; the CLI and the report show ``note``)."""
        return {
            "synthetic": True,
            "arrivals": f"Gamma inter-arrival gaps, CV {self.cv:g}, mean 1/long_rate_rps s",
            "prompt_tokens": (
                f"LogNormal(median {self.prompt_median:,.0f}, σ {self.prompt_sigma:g}), "
                f"rounded, clipped to [1, {self.max_tokens:,}]"
            ),
            "output_tokens": (
                f"LogNormal(median {self.output_median:,.0f}, σ {self.output_sigma:g}), "
                f"rounded, clipped to [1, {self.max_tokens:,}]"
            ),
            "v_and_lambda": "the same synthetic draws as every request's",
            "note": self.note(),
        }

    def note(self) -> str:
        """One line: what is synthetic about the tenant and how it is drawn."""
        return (
            f"the long-context tenant is synthetic: Gamma arrivals (CV {self.cv:g}) at long_rate_rps, "
            f"prompts ~ LogNormal(median {self.prompt_median:,.0f} tokens, σ {self.prompt_sigma:g}), "
            f"outputs ~ LogNormal(median {self.output_median:,.0f}, σ {self.output_sigma:g}), "
            f"clipped to [1, {self.max_tokens:,}]; the other tenants' arrivals and lengths are the trace's"
        )


def _others(r: RunResult, long_code: int) -> dict[str, float]:
    wl = r.workload
    mask = wl.tenant != long_code
    lc = latency_columns(r)
    ok = r.status == COMPLETED
    sel = mask[ok]
    ttft, e2e = lc["ttft_s"][sel], lc["e2e_s"][sel]
    w = welfare_parts(r, mask)
    lw = welfare_parts(r, ~mask)
    return {
        "others_ttft_p50_s": float(np.median(ttft)) if ttft.size else float("nan"),
        "others_ttft_p99_s": float(np.quantile(ttft, 0.99)) if ttft.size else float("nan"),
        "others_e2e_mean_s": float(e2e.mean()) if e2e.size else float("nan"),
        "others_welfare": w["welfare"],
        "long_welfare": lw["welfare"],
        "total_welfare": w["welfare"] + lw["welfare"],
        "long_completed": int((ok & ~mask).sum()),
        "long_requests": int((~mask).sum()),
    }


def prediction3(
    base: Workload,
    *,
    long_rates_rps: Sequence[float] = (0.0, 0.25, 0.5, 1.0, 1.5),
    long_prompt_median: float = 16000.0,
    tenant: LongTenant | None = None,
    schedulers: Sequence[str] = ("fcfs", "priced"),
    engine: Engine | DisaggregatedEngine | None = None,
    seed: int = 0,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Sweep the long-context tenant's rate; one row per (rate, scheduler) with the others' outcomes.

    Args:
        base: the other tenants' traffic (a real trace slice, its tenants kept as they are).
        long_rates_rps: requests per second of the long-context tenant (0 = absent).
        long_prompt_median: median prompt tokens of the long tenant (``LongTenant``; synthetic).
        tenant: the long tenant itself (overrides ``long_prompt_median``); pass the one whose
            ``describe()`` / ``note()`` you show, so the label is the tenant simulated.
        schedulers: registry names; the first is the flat-priced reference (``fcfs``).
        engine: the engine (default ``Engine()``).
        seed: seed of the long tenant's draws.
        on_row: called with each row as soon as its run is done (progress bars).

    Returns:
        rows with ``long_rate_rps``, ``long_tokens_per_s``, ``scheduler``, ``long_tenant``
        ("synthetic", "none" at rate 0), ``requests``, ``wall_s``, the ``_others`` fields and
        ``removed_share`` (NaN at rate 0 and for the reference).
    """
    eng: Engine | DisaggregatedEngine = engine or Engine()
    tenant = tenant or LongTenant(prompt_median=long_prompt_median)
    rows: list[dict[str, Any]] = []
    ref: dict[str, float] = {}
    base_one = replace(base, tenant=np.zeros(len(base), np.int64), tenant_names=("others",))
    for rate in long_rates_rps:
        if rate > 0:
            long = tenant_mix(
                [tenant.spec(rate)],
                duration_s=max(base.duration_s, 1.0),
                seed=seed + 17,
                max_tokens=tenant.max_tokens,
            )
            wl = concat([base_one, replace(long, name="long")], f"{base.name}+long@{rate:g}")
            long_tokens = float(long.prompt_tokens.sum()) / max(base.duration_s, 1.0)
        else:
            wl, long_tokens = replace(base_one, name=f"{base.name}+long@0"), 0.0
        for name in schedulers:
            r = eng.run(wl, make_scheduler(name))
            row: dict[str, Any] = {
                "long_rate_rps": float(rate),
                "long_tokens_per_s": long_tokens,
                "scheduler": name,
                "long_tenant": "synthetic" if rate > 0 else "none",
                "requests": len(wl),
                "wall_s": r.wall_s,
                **_others(r, 1),
            }
            if rate == long_rates_rps[0]:
                ref[name] = row["others_welfare"]
            rows.append(row)
            if on_row is not None:
                on_row(row)
    first = schedulers[0]
    for row in rows:
        loss = {
            n: ref.get(n, np.nan)
            - next(
                x["others_welfare"]
                for x in rows
                if x["scheduler"] == n and x["long_rate_rps"] == row["long_rate_rps"]
            )
            for n in schedulers
        }
        row["others_welfare_loss"] = loss[row["scheduler"]]
        row["removed_share"] = (
            1.0 - loss[row["scheduler"]] / loss[first]
            if row["scheduler"] != first and loss[first] > 0
            else float("nan")
        )
    return rows
