"""``serve simulate``'s prefix-cache grid: ``--eviction lru,lfu,fifo,value,belady --kv-blocks A,B,C``.

The capital layer's policies (``value``, ``belady``; ``capital.cache.policies``) are registered in
the simulator's eviction registry here, at start-up (serving and capital never import each other).
When ``value`` is in the list, ``plan`` splits every trace by arrival: its reuse hazard (Eq. 10:
``capital.cache.reuse``) is fitted on the first ``train_share`` of the requests only, and *every*
policy is simulated on the rest (the test part, re-based to start at 0), so the policies compare on
the same unseen requests. Traces without prefix hashes (the Azure traces) get none unless
``--prefixes synthetic`` draws them (``capital.cache.synthetic``; the trace is renamed
``<name>+synthetic-prefixes`` and every output says so). Cache decisions go to the ledger sampled
(every ``--ledger-sample``-th of each action) plus one row of unsampled counts per run
(``capital.cache.ledger_io``). ``undefined_shown`` / ``undefined_note`` show the serve commands' NaN
and infinite table cells as "-" with one note line saying why (the JSON holds null).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tokenomy.capital.cache.ledger_io import cache_decisions
from tokenomy.capital.cache.policies import BeladyEviction, CacheLog, ValueAwareEviction
from tokenomy.capital.cache.reuse import (
    DepreciationFit,
    fit_depreciation,
    life_table,
    reuse_events,
    summarize_reuse,
)
from tokenomy.capital.cache.synthetic import SyntheticPrefixes
from tokenomy.core.errors import ValidationError
from tokenomy.interfaces.args import float_in, items
from tokenomy.interfaces.table import dash_undefined, format_table
from tokenomy.ledger import Decision
from tokenomy.serving.entities import Workload
from tokenomy.serving.kv import EVICTION_POLICIES, EvictionPolicy, register_eviction

__all__ = [
    "CachePlan",
    "add_cache_arguments",
    "cache_setup",
    "evictions_arg",
    "kv_blocks_arg",
    "plan",
    "register_cache_policies",
    "row_decisions",
    "run_reuse",
    "synthetic_prefixes",
    "undefined_note",
    "undefined_shown",
    "with_synthetic_prefixes",
]


TRAIN_SHARE = 0.5
"""``--cache-train-share``'s default: the first half of each trace fits the value policy."""


NO_DECAY = "δ_S is 0 (the fitted reuse hazard does not fall with age), so it never halves"
NO_EXPOSURE = "no block of that depth stayed cached that long within the trace (no exposure at that age)"
_NOTHING_TO_FIT = "no block in this bin was demanded twice (nothing to fit)"
REUSE_WHY = {
    "share_reused": "no demand in this bin",
    "delta_per_s": _NOTHING_TO_FIT,
    "alpha": _NOTHING_TO_FIT,
}
"""Why a ``serve reuse`` table figure can be NaN (a column -> the reason; the hazard columns: NO_EXPOSURE)."""


def register_cache_policies() -> None:
    """Add ``value`` (a flat prior until fitted) and ``belady`` to the simulator's eviction registry."""
    register_eviction("value", ValueAwareEviction)
    register_eviction("belady", BeladyEviction)


def evictions_arg(text: str) -> list[str]:
    """``--eviction`` (an argparse ``type=``): a comma list of registered policy names.

    Raises:
        argparse.ArgumentTypeError: an unknown name (listing the valid ones) or an empty list.
    """
    register_cache_policies()
    try:
        names = items(text, "--eviction")
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    bad = [n for n in names if n not in EVICTION_POLICIES]
    if not names or bad:
        raise argparse.ArgumentTypeError(
            f"unknown eviction policy {', '.join(bad) or repr(text)}; valid: {', '.join(EVICTION_POLICIES)}"
        )
    return list(dict.fromkeys(names))


def kv_blocks_arg(text: str) -> list[int]:
    """``--kv-blocks`` (an argparse ``type=``): a comma list of whole numbers ≥ 1.

    Raises:
        argparse.ArgumentTypeError: an entry that is not a whole number ≥ 1, or an empty list.
    """
    try:
        vals = [int(x) for x in items(text, "--kv-blocks")]
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    except ValueError:
        vals = []
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"must be comma-separated whole numbers ≥ 1, got {text!r}")
    return list(dict.fromkeys(vals))


def synthetic_prefixes(args: argparse.Namespace, wls: list[Workload], notes: list[str]) -> list[Workload]:
    """``wls`` with SYNTHETIC prefix hashes drawn where missing when ``--prefixes synthetic`` (noted).

    Raises:
        ValidationError: ``--prefixes synthetic`` while every trace has its own hashes (it would be
            ignored).
    """
    if args.prefixes != "synthetic":
        return wls
    if all(w.hash_ids is not None for w in wls):
        raise ValidationError(
            "--prefixes synthetic has no effect: every trace has its own prefix hashes "
            f"({', '.join(w.name for w in wls)}); drop it"
        )
    notes.append("prefix hashes of traces without them are SYNTHETIC (capital.cache.synthetic)")
    return [with_synthetic_prefixes(w, args.seed) for w in wls]


def with_synthetic_prefixes(wl: Workload, seed: int, model: SyntheticPrefixes | None = None) -> Workload:
    """``wl`` with SYNTHETIC prefix hashes (unchanged when it already has real ones)."""
    if wl.hash_ids is not None:
        return wl
    hs = (model or SyntheticPrefixes()).draw(wl.prompt_tokens, seed=seed)
    return replace(
        wl, name=f"{wl.name}+synthetic-prefixes", hash_ids=hs, synthetic=(*wl.synthetic, "hash_ids")
    )


def split(wl: Workload, train_share: float) -> tuple[Workload, Workload]:
    """(train, test): the first ``train_share`` of the requests by arrival, and the rest re-based to 0."""
    n = len(wl)
    cut = min(max(int(n * train_share), 1), n - 1)
    train = wl.take(np.arange(cut), name=f"{wl.name}[train]")
    test = wl.take(np.arange(cut, n), name=f"{wl.name}[test]")
    return train, replace(test, arrival_s=test.arrival_s - test.arrival_s[0])


def fit_on(train: Workload) -> DepreciationFit:
    """The reuse hazard of ``train``'s demand stream (``capital.cache.reuse``).

    Raises:
        ValidationError: the part has no prefix hashes or no block is demanded twice.
    """
    if train.hash_ids is None:
        raise ValidationError(
            f"trace {train.name!r} has no prefix hashes: the value policy has nothing to fit "
            "(add --prefixes synthetic to draw synthetic ones)"
        )
    ev = reuse_events(train.arrival_s, train.hash_ids, end_s=float(train.arrival_s[-1]))
    return fit_depreciation(life_table(ev), len(ev))


def add_cache_arguments(s: argparse.ArgumentParser) -> None:
    """``serve simulate``'s prefix-cache flags (``--eviction`` and ``--kv-blocks`` are common ones)."""
    s.add_argument(
        "--prefixes",
        choices=("real", "synthetic"),
        default="real",
        help="prefix hashes: the trace's own (real, default; the Azure traces have none) or SYNTHETIC "
        "conversation chains drawn over the trace for traces without them",
    )
    s.add_argument(
        "--cache-train-share",
        type=float_in(0.0, 1.0, above=True),
        default=None,
        help="with --eviction value: fit its reuse hazard on this first share of each trace and run "
        "every policy on the rest (default 0.5)",
    )
    s.add_argument(
        "--no-value-weight",
        action="store_true",
        help="value policy: do not weight a block's value by its past users' latency price (synthetic λ)",
    )
    s.add_argument(
        "--no-cache-admission",
        action="store_true",
        help="value policy: cache every finished block (skip the admission test at the live KV price)",
    )


def cache_setup(
    args: argparse.Namespace, wls: list[Workload], notes: list[str]
) -> tuple[list[Workload], CachePlan | None]:
    """The workloads to run (synthetic prefixes drawn, test parts when fitted) and the cache grid's
    plan, ``None`` for a plain run (one policy among lru/lfu/fifo and at most one KV size)."""
    wls = synthetic_prefixes(args, wls, notes)
    evictions, kvs = args.eviction, args.kv_blocks or []
    if not (len(evictions) > 1 or len(kvs) > 1 or {"value", "belady"} & set(evictions)):
        return wls, None
    cache = plan(
        wls,
        evictions,
        train_share=TRAIN_SHARE if args.cache_train_share is None else args.cache_train_share,
        log_every=args.ledger_sample if args.ledger else None,
        weight_by_value=not args.no_value_weight,
        admission=not args.no_cache_admission,
    )
    cache.evictions, cache.kv_blocks = list(evictions), list(kvs)
    return cache.workloads, cache


@dataclass
class CachePlan:
    """What the cache grid runs: the workloads (test parts when fitted) and a policy per (trace, name)."""

    workloads: list[Workload]
    fits: dict[str, DepreciationFit] = field(default_factory=dict)  # test workload name -> its fit
    log_every: int | None = None
    weight_by_value: bool = True
    admission: bool = True
    info: dict[str, Any] = field(default_factory=dict)  # JSON-ready description

    evictions: list[str] = field(default_factory=list)
    kv_blocks: list[int] = field(default_factory=list)

    @property
    def runs_per_point(self) -> int:
        """Runs per (trace, rate, scheduler): policies × KV sizes."""
        return max(len(self.evictions), 1) * max(len(self.kv_blocks), 1)

    def axes(self) -> dict[str, Any]:
        """``run_grid``'s keyword arguments for the eviction and KV-size axes."""
        return {
            "evictions": self.evictions,
            "kv_blocks": self.kv_blocks or None,
            "policy_for": self.policy_for,
        }

    def policy_for(self, wl: Workload, name: str) -> str | EvictionPolicy:
        """The prototype policy of ``name`` on ``wl`` (fitted for ``value``; with a log when asked)."""
        log = CacheLog(self.log_every) if self.log_every else None
        if name == "value":
            fit = self.fits.get(wl.name)
            return ValueAwareEviction(
                fit, weight_by_value=self.weight_by_value, admission=self.admission, log=log
            )
        if name == "belady":
            return BeladyEviction(log=log)
        return name


def plan(
    workloads: list[Workload],
    evictions: list[str],
    *,
    train_share: float,
    log_every: int | None,
    weight_by_value: bool = True,
    admission: bool = True,
) -> CachePlan:
    """Split and fit when ``value`` is among ``evictions`` (module docstring); else run the traces whole."""
    if "value" not in evictions:
        return CachePlan(list(workloads), log_every=log_every, admission=admission, info={"split": None})
    tests, fits, info = [], {}, {}
    for wl in workloads:
        train, test = split(wl, train_share)
        fit = fit_on(train)
        fits[test.name] = fit
        tests.append(test)
        info[test.name] = {
            "train_requests": len(train),
            "test_requests": len(test),
            "delta_per_s": fit.delta_per_s,
            "half_life_s": fit.half_life_s(),
            "demands_fitted": fit.demands,
        }
    return CachePlan(
        tests,
        fits,
        log_every,
        weight_by_value,
        admission,
        {
            "split": f"fitted on the first {train_share:g} of each trace; every policy runs on the rest",
            "fits": info,
        },
    )


def row_decisions(m: dict[str, Any], run: str) -> list[Decision]:
    """Pop a row's sampled cache decisions (``run_grid``) and return them as ledger decisions."""
    d = m.pop("cache_decisions", None)
    if d is None:
        return []
    return cache_decisions(d, run, synthetic=tuple(m.get("synthetic", ())))


def run_reuse(args: argparse.Namespace, wls: list[Workload], notes: list[str]) -> dict[str, Any]:
    """``serve reuse``: the measured depreciation (Eq. 10) of each trace's prefix blocks; prints tables.

    Per trace: the pooled fit (δ_S, half-life), the reuse hazard by depth and age since the last
    demand with the share of demands reused in the window, and δ by the demander's SYNTHETIC λ tercile
    (the simulator draws λ per request, independent of the prefix: a check, not a finding).

    Raises:
        ValidationError: a trace without prefix hashes (``--prefixes synthetic`` draws some) or with
            no block demanded twice.
    """
    wls = synthetic_prefixes(args, wls, notes)
    out: dict[str, Any] = {"traces": [], "notes": notes}
    undefined: dict[str, list[str]] = {}
    for wl in wls:
        if wl.hash_ids is None:
            raise ValidationError(
                f"trace {wl.name!r} has no prefix hashes (add --prefixes synthetic to draw synthetic ones)"
            )
        terc = np.searchsorted(np.quantile(wl.lam_usd_per_s, [1 / 3, 2 / 3]), wl.lam_usd_per_s, side="right")
        s = summarize_reuse(
            wl.arrival_s, wl.hash_ids, groups=terc.astype(np.int64), group_names=("low λ", "mid λ", "high λ")
        )
        half_life = s.fit.half_life_s()
        if not math.isfinite(half_life):
            undefined.setdefault(NO_DECAY, []).append("half-life")
        shown = f"{half_life:.1f} s" if math.isfinite(half_life) else "-"
        print(
            f"{wl.name}: δ_S = {s.fit.delta_per_s:.5f} per s (reuse hazard half-life {shown}), "
            f"{s.fit.demands:,} block demands"
        )
        for rows, title in (
            (s.by_depth, f"{wl.name}: reuse hazard (reuses per block-second) by depth and age"),
            (s.by_group, f"{wl.name}: by the demander's λ tercile (λ synthetic)"),
        ):
            cols = list(rows[0]) if rows else []
            why = {c: REUSE_WHY.get(c, NO_EXPOSURE) for c in cols}
            print(format_table(undefined_shown(rows, cols, why, undefined), cols, title=title, digits=5))
        out["traces"].append(
            {
                "trace": wl.name,
                "delta_per_s": s.fit.delta_per_s,
                "half_life_s": half_life,
                "demands": s.fit.demands,
                "by_depth": list(s.by_depth),
                "by_lambda_tercile": list(s.by_group),
                "synthetic": list(wl.synthetic),
            }
        )
    if note := undefined_note(undefined):
        print("note:", note)
    for n in notes:
        print("note:", n)
    return out


def undefined_shown(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    why: Mapping[str, str],
    found: dict[str, list[str]],
) -> list[dict[str, Any]]:
    """Copies of ``rows`` with each NaN or infinite value of ``columns`` as ``None`` (a table's "-").

    ``why`` maps a column to the reason its value can be undefined; each column shown as "-" is added
    to ``found`` (reason -> columns), from which ``undefined_note`` makes the one note line.
    """
    shown, bad = dash_undefined(rows, columns)
    for c in bad:
        cols = found.setdefault(why.get(c, "undefined for this row"), [])
        if c not in cols:
            cols.append(c)
    return shown


def undefined_note(found: Mapping[str, Sequence[str]]) -> str | None:
    """The one note line for the "-" shown (``undefined_shown``), ``None`` when none was."""
    parts = [f"{', '.join(cols)}: {reason}" for reason, cols in found.items() if cols]
    return "'-' = undefined: " + "; ".join(parts) if parts else None
