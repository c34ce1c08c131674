"""``tokenomy serve``'s engine and trace options, shared by ``serve simulate`` and ``serve
prediction3`` (``_common``), and what they build: the engine (``_engine``: BLIS, SplitwiseSim or a
linear step model; colocated or disaggregated; ``--like splitwise-sim``) and the workloads
(``_load``: named traces under ``--data``, files, or ServeGen-generated traffic, ``_servegen``).

It parses and builds; it runs nothing and prints nothing (``cmd_serve`` does). Reads the data folder
it is given (step-model and ServeGen files, traces). ``check_flags`` refuses, before any data is
read, a flag that would be silently ignored without another one (``--spec-alpha`` without
``--spec-k``, ``--handoff-limit`` without ``--disaggregate``, an engine flag with ``--like``, ...);
the parser records which flags were given (``args.given``), so a flag restating its default is refused
too.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tokenomy.core.errors import ValidationError
from tokenomy.interfaces.args import float_in, floats, int_in, items, refuse_ignored
from tokenomy.interfaces.args import given as typed
from tokenomy.interfaces.cmd_serve_cache import evictions_arg, kv_blocks_arg
from tokenomy.interfaces.loaders.servegen import SERVEGEN_FILE, load_servegen
from tokenomy.interfaces.loaders.traces import (
    BLIS_FILE,
    SPLITWISE_FILE,
    load_blis,
    load_splitwise,
    load_trace,
    resolve_trace,
    splitwise_sim_setup,
)
from tokenomy.serving.disagg import LLAMA31_8B, DisaggregatedEngine, KVTransfer
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import SPEC_RULES, EngineConfig, Workload
from tokenomy.serving.servegen import servegen_workload
from tokenomy.serving.steptime import (
    BLIS_LLAMA31_8B_H100_TP1,
    LLAMA2_70B_AS_SPLITWISE,
    SPLITWISE_DGX_H100_KV_BLOCKS,
    LinearStepTime,
    StepTimeModel,
)

__all__ = ["alpha_arg", "check_eviction_acts", "check_flags"]


def check_eviction_acts(args: argparse.Namespace, wls: Sequence[Workload], command: str) -> None:
    """Refuse a given ``--eviction`` when no trace has prefix hashes: nothing is cached to evict.

    Called once the traces are loaded (and, for ``simulate``, synthetic prefixes drawn).

    Raises:
        ValidationError: one line naming the traces and how to give them hashes.
    """
    if not typed(args, "eviction") or any(w.hash_ids is not None for w in wls):
        return
    fix = "add --prefixes synthetic to draw synthetic ones" if command == "simulate" else "drop --eviction"
    raise ValidationError(
        f"--eviction has no effect: no trace has prefix hashes ({', '.join(w.name for w in wls)}), so "
        f"nothing is cached to evict; {fix}"
    )


def alpha_arg(text: str) -> float:
    """``--spec-alpha`` (an argparse ``type=``): an acceptance rate in [0, 1), the engine's range.

    Raises:
        argparse.ArgumentTypeError: text that is not a number in [0, 1) (1 would accept every draft
            token and make a step emit unboundedly many).
    """
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if not 0.0 <= x < 1.0:  # NaN fails too
        raise argparse.ArgumentTypeError(f"expected an acceptance rate in [0, 1), got {text!r}")
    return x


PER_REQUEST_RULES = tuple(r for r in SPEC_RULES if r != "batch")
"""``--spec-rule`` values that decide per request (``--spec-alpha-halving-tokens`` acts only with them)."""
LIKE_FIXES = (
    ("step_model", "--step-model"),
    ("max_num_seqs", "--max-num-seqs"),
    ("max_batched_tokens", "--max-batched-tokens"),
    ("kv_blocks", "--kv-blocks"),
    ("no_prefix_cache", "--no-prefix-cache"),
    ("eviction", "--eviction"),
    ("spec_k", "--spec-k"),
    ("spec_alpha", "--spec-alpha"),
    ("spec_rule", "--spec-rule"),
    ("spec_alpha_halving_tokens", "--spec-alpha-halving-tokens"),
    ("disaggregate", "--disaggregate"),
    ("kv_bandwidth_gb_s", "--kv-bandwidth-gb-s"),
    ("handoff_limit", "--handoff-limit"),
)
"""The engine flags ``--like splitwise-sim`` replaces by the peer's configuration (dest, flag)."""
SERVEGEN_FLAGS = ("servegen_top", "servegen_start_s", "servegen_duration_s", "servegen_rate_factor")
"""The ServeGen generator's flags (dests): they act only on a ``servegen`` trace."""
SPEC_FLAGS = ("spec_alpha", "spec_rule", "spec_alpha_halving_tokens")
"""Speculation flags (dests): they act only with ``--spec-k`` ≥ 1."""
VALUE_SWITCHES = ("no_value_weight", "no_cache_admission")
"""The value eviction policy's switches (dests): they act only with ``--eviction value``."""


def check_flags(args: argparse.Namespace, command: str) -> None:
    """Refuse a flag that would be silently ignored without its companion; before any data is read.

    ``command`` is ``simulate`` or ``prediction3`` (which runs one engine: one KV size, one eviction).

    Raises:
        ValidationError: one line naming the flag and what it needs (``args.refuse_ignored``).
    """

    def given(dest: str) -> object:
        return getattr(args, dest) if typed(args, dest) else None

    checks: list[tuple[str, object, str]] = []
    if getattr(args, "like", None):
        why = f"is ignored with --like {args.like} (it sets the whole engine configuration): drop one"
        checks += [(flag, given(dest), why) for dest, flag in LIKE_FIXES]
    if args.spec_k < 1:
        off = "needs --spec-k (a draft length ≥ 1); without it speculation is off"
        checks += [(f"--{d.replace('_', '-')}", given(d), off) for d in SPEC_FLAGS]
    elif args.spec_rule not in PER_REQUEST_RULES:
        checks.append(
            (
                "--spec-alpha-halving-tokens",
                given("spec_alpha_halving_tokens"),
                f"needs a per-request --spec-rule ({', '.join(PER_REQUEST_RULES)}); "
                "the batch rule uses one acceptance for all",
            )
        )
    if not args.disaggregate:
        why = "needs --disaggregate (it sets the prefill-to-decode KV transfer)"
        checks += [("--kv-bandwidth-gb-s", given("kv_bandwidth_gb_s"), why)]
        checks += [("--handoff-limit", given("handoff_limit"), why)]
    if args.no_prefix_cache:
        why = "needs the prefix cache: drop --no-prefix-cache (nothing is cached to evict)"
        checks.append(("--eviction", given("eviction"), why))
    if not any(t == "servegen" or t.startswith("servegen:") for t in str(args.trace).split(",")):
        why = "needs a servegen --trace (servegen[:CATEGORY])"
        checks += [(f"--{d.replace('_', '-')}", given(d), why) for d in SERVEGEN_FLAGS]
    if command == "simulate" and not args.ledger:
        checks.append(
            ("--ledger-sample", given("ledger_sample"), "needs --ledger (it thins what is written)")
        )
    if command == "simulate" and "value" not in args.eviction:
        why = "needs --eviction value (it sets that policy)"
        checks.append(("--cache-train-share", args.cache_train_share, why))  # default None (0.5)
        checks += [(f"--{d.replace('_', '-')}", getattr(args, d), why) for d in VALUE_SWITCHES]
    refuse_ignored(*checks)
    kvs = args.kv_blocks or []
    for values, flag in ((kvs, "--kv-blocks"), (args.eviction, "--eviction")):
        if command == "prediction3" and len(values) > 1:
            raise ValidationError(f"serve prediction3 takes one {flag} value; got {len(values)}")
        if args.disaggregate and len(values) > 1:
            raise ValidationError(f"{flag} lists need the plain engine (not --disaggregate): give one value")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data", metavar="DIR", help="real data folder (default: $TOKENOMY_DATA or ../shared/data)"
    )
    p.add_argument(
        "--seed", type=int_in(0), default=0, help="seed of the synthetic V, λ and length predictions"
    )
    p.add_argument(
        "--step-model",
        default="blis",
        help="blis (default), splitwise, or linear:β0,β1,β2 in seconds",
    )
    p.add_argument(
        "--like",
        choices=["splitwise-sim"],
        default=None,
        help="a peer's whole configuration: splitwise-sim = its step model, llama2-70b on one DGX-H100 "
        "(13,165 KV blocks), 512 sequences, 2,048 tokens, whole prompts first, no prefix cache",
    )
    p.add_argument("--max-num-seqs", type=int_in(1), default=256)
    p.add_argument("--max-batched-tokens", type=int_in(1), default=2048)
    p.add_argument(
        "--kv-blocks",
        type=kv_blocks_arg,
        default=None,
        help="KV blocks (default: the step model's); simulate takes a comma list and runs each size",
    )
    p.add_argument("--no-prefix-cache", action="store_true")
    p.add_argument(
        "--eviction",
        type=evictions_arg,
        default=["lru"],
        help="prefix-cache eviction: lru, fifo, lfu, value (priced by value, fitted on a train part) or "
        "belady (clairvoyant reference); simulate takes a comma list and runs each",
    )
    p.add_argument("--spec-k", type=int_in(0), default=0, help="speculative draft length (0 = off)")
    p.add_argument(
        "--spec-alpha",
        type=alpha_arg,
        default=0.0,
        help="--spec-k: draft acceptance rate α in [0, 1)",
    )
    p.add_argument(
        "--spec-rule",
        choices=SPEC_RULES,
        default="batch",
        help="who decides to speculate: one verdict per step for the batch, each request by Eq. 1 "
        "(its acceptance by context), or always/never with the per-request accounting",
    )
    p.add_argument(
        "--spec-alpha-halving-tokens",
        type=float_in(0.0),
        default=0.0,
        help="per-request rules: acceptance halves every this many context tokens (0 = no decay; an assumption)",
    )
    p.add_argument(
        "--disaggregate",
        action="store_true",
        help="prefill and decode on two pools (one GPU each) joined by a KV transfer",
    )
    p.add_argument(
        "--kv-bandwidth-gb-s",
        type=float_in(1e-3, 1e5),
        default=50.0,
        help="--disaggregate: KV transfer bandwidth, GB/s in [0.001, 100000] (assumed 50)",
    )
    p.add_argument(
        "--handoff-limit",
        type=int_in(0),
        default=None,
        help="--disaggregate: close prefill admission while this many prefilled prompts wait for the "
        "decode pool (default: its max sequences; 0: never, only the held KV pushes back)",
    )
    p.add_argument("--report", metavar="HTML", help="write the HTML report here")
    g = p.add_argument_group("ServeGen generator (--trace servegen[:CATEGORY], default language/m-large)")
    g.add_argument(
        "--servegen-top",
        type=int_in(1),
        default=10,
        help="clients (tenants) with most requests",
    )
    g.add_argument(
        "--servegen-start-s",
        type=float_in(0.0),
        default=43200.0,
        help="start in the 14-day calendar",
    )
    g.add_argument(
        "--servegen-duration-s",
        type=float_in(0.0, above=True),
        default=1800.0,
        help="seconds of traffic to sample",
    )
    g.add_argument(
        "--servegen-rate-factor",
        type=float_in(0.0, above=True),
        default=0.05,
        help="multiplies the clients' rates (ServeGen rates are a whole region's; default 0.05)",
    )


def _engine(args: argparse.Namespace, data: Path | None) -> tuple[Engine | DisaggregatedEngine, str]:
    if getattr(args, "like", None) == "splitwise-sim":
        if data is None:
            raise ValidationError("--like splitwise-sim needs the data folder (--data)")
        peer_model, peer_cfg = splitwise_sim_setup(data)
        return Engine(
            step_model=peer_model, config=peer_cfg
        ), f"{peer_model.source}; SplitwiseSim's configuration"
    kind = args.step_model
    blocks = 29205
    footprint = LLAMA31_8B  # the model whose KV the blocks count and a disaggregated engine ships
    model: StepTimeModel
    if kind == "blis":
        if data is not None and (data / BLIS_FILE).is_file():
            model, blocks = load_blis(data / BLIS_FILE)
        else:
            model = BLIS_LLAMA31_8B_H100_TP1
    elif kind == "splitwise":
        if data is None:
            raise ValidationError("--step-model splitwise needs the data folder (--data)")
        model = load_splitwise(data / SPLITWISE_FILE)
        blocks = SPLITWISE_DGX_H100_KV_BLOCKS  # llama2-70b on one DGX-H100, as SplitwiseSim counts it
        footprint = LLAMA2_70B_AS_SPLITWISE
    elif kind.startswith("linear:"):
        b = floats(kind.removeprefix("linear:"), "--step-model linear:β0,β1,β2", distinct=False)
        if len(b) != 3:
            raise ValidationError(f"--step-model linear: needs three numbers, got {kind!r}")
        model = LinearStepTime(b[0], b[1], b[2], source="command line")
    else:
        raise ValidationError(f"--step-model must be blis, splitwise or linear:β0,β1,β2; got {kind!r}")
    cfg = EngineConfig(
        max_num_seqs=args.max_num_seqs,
        max_batched_tokens=args.max_batched_tokens,
        kv_blocks=args.kv_blocks[0] if args.kv_blocks else blocks,
        prefix_cache=not args.no_prefix_cache,
        spec_k=args.spec_k,
        spec_alpha=args.spec_alpha,
        spec_rule=args.spec_rule,
        spec_alpha_halving_tokens=args.spec_alpha_halving_tokens,
    )
    source = str(getattr(model, "source", ""))
    if args.disaggregate:
        xfer = KVTransfer.for_model(footprint, bandwidth_bytes_per_s=args.kv_bandwidth_gb_s * 1e9)
        dis = DisaggregatedEngine(
            step_model=model,
            prefill_config=cfg,
            decode_config=cfg,
            transfer=xfer,
            eviction=args.eviction[0],
            handoff_limit=args.handoff_limit or None,
            no_gate=args.handoff_limit == 0,
        )
        return dis, (
            f"{source}; disaggregated prefill/decode, {footprint.name} KV "
            f"({footprint.bytes_per_token:,.0f} B/token) at {args.kv_bandwidth_gb_s:g} GB/s"
        )
    return Engine(step_model=model, config=cfg, eviction=args.eviction[0]), source


def _servegen(name: str, data: Path | None, args: argparse.Namespace) -> tuple[Workload, list[str]]:
    """A ServeGen-generated multi-tenant workload (arrivals and lengths synthetic, from real statistics)."""
    if data is None:
        raise ValidationError("trace 'servegen' needs the data folder (--data or TOKENOMY_DATA)")
    category = name.partition(":")[2] or "language/m-large"
    clients, notes = load_servegen(data / SERVEGEN_FILE, category=category, top=args.servegen_top)
    wl = servegen_workload(
        clients,
        start_s=args.servegen_start_s,
        duration_s=args.servegen_duration_s,
        rate_factor=args.servegen_rate_factor,
        seed=args.seed,
        name=f"servegen:{category}",
    )
    notes = notes[:5] + ([f"... {len(notes) - 5} more skipped clients"] if len(notes) > 5 else [])
    notes.append(f"servegen:{category}: arrivals and lengths are synthetic draws from ServeGen statistics")
    return wl, notes


def _load(args: argparse.Namespace, data: Path | None, limit: int | None) -> tuple[list[Workload], list[str]]:
    wls, notes = [], []
    seed = args.seed
    for name in items(args.trace, "--trace"):
        if name == "servegen" or name.startswith("servegen:"):
            wl, more = _servegen(name, data, args)
            if limit is not None and len(wl) > limit:  # the first N requests, as for a recorded trace
                wl = wl.take(np.arange(limit, dtype=np.int64))
            wls.append(wl)
            notes += more
            continue
        lt = load_trace(
            resolve_trace(name, data), seed=seed, limit=limit, name=name if "/" not in name else None
        )
        wls.append(lt.workload)
        notes += lt.notes
    return wls, notes
