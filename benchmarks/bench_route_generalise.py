"""Routing that generalises: RouterBench in distribution, leave-one-benchmark-out, categories blanked, cross-dataset.

Settings (RouterBench slice; every router fitted on the setting's train rows only, all selection by
cross-validation inside them; the test rows are the given test split in every setting):
  * ``random``  — the given train/test split (in distribution);
  * ``lobo``    — fit on the other two benchmarks' train rows, test on the held-out one's test rows,
                  the three folds pooled (945 rows, the same as ``random``);
  * ``blanked`` — the given split with every category blanked (""), so the per-category prior
                  knows nothing and any gain comes from the prompt text;
  * ``cross``   — RouterBench ↔ RouterArena where the models overlap (the reason is printed when not).
Estimators: the per-category ``prior`` (text-free baseline, always), ``neighbours`` (TF-IDF default)
and, when the ``embeddings`` extra is installed, ``mf``, ``logistic-embed``, ``knn-embed`` on
all-MiniLM-L6-v2 embeddings (cached under ~/.cache/tokenomy/embeddings, or --cache-dir, per model
and backend).
Printed per setting × estimator × V: gap recovered (best fixed → ex-post oracle) with a 95% paired
bootstrap CI, beats / ties best fixed, RouteLLM's APGR with its CI; then the targets:
  * lobo: gap recovered ≥ 0.15 at V = 0.003, 0.01, 0.03 and strictly above the prior's;
  * blanked: an embedding estimator recovers ≥ 0.15 at those V;
  * never below best fixed (welfare) at any V of any setting (a tie is a tie, reported as such).
Encoder (``_route_encoder.py``): cosine of the onnxruntime backends' vectors to the numpy reference
over 1,000 train prompts (min, 1st percentile, median).
Speed (one core): ``route_many`` over 100,000 requests × 11 models with embeddings precomputed
(target < 1 s); then, per encoder backend in the same run (numpy reference, onnx-float32,
onnx-int8), the encoder alone and one request end to end including its embedding (medians of 200
test prompts, wall and CPU time, ratio to numpy; target < 10 ms for the router's own backend), and
the word-piece lengths of the prompts timed. Timings on a shared machine are provisional.
Options: ``--encoder-backend auto|numpy|onnx-float32|onnx-int8`` (auto: onnx-int8 when onnxruntime
is installed), ``--max-tokens N``, ``--speed-only`` (fidelity and speed only), ``--compare-backends``
(only the paired int8 − numpy gap recovered with categories blanked, per embedding estimator).
Run: ``.venv/bin/python benchmarks/bench_route_generalise.py [--quick] [--data DIR] [--json PATH]``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import one_core, parser

CPUS = one_core()

import numpy as np  # noqa: E402

from _route_encoder import EMBED, TARGET_V, compare_backends, fidelity, speed  # noqa: E402
from tokenomy.core.errors import ValidationError  # noqa: E402
from tokenomy.interfaces.loaders.routing import (  # noqa: E402
    load_price_table,
    load_routerarena,
    load_routerbench,
)
from tokenomy.routing.dataset import RoutingDataset  # noqa: E402
from tokenomy.routing.generalise import Fold, folds_for, pooled_eval  # noqa: E402
from tokenomy.routing.router import Router  # noqa: E402

V_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 1.0)


def blank(ds: RoutingDataset) -> RoutingDataset:
    """``ds`` with every category blanked."""
    return RoutingDataset(
        ds.prompt_ids,
        ds.prompts,
        np.array([""] * len(ds), dtype=object),
        ds.splits,
        ds.models,
        ds.quality,
        ds.cost_usd,
        ds.input_tokens,
        ds.output_tokens,
        ds.latency_s,
        dict(ds.repairs),
        ds.source + " (categories blanked)",
    )


def show(setting: str, res: dict[str, Any]) -> None:
    rows = res["rows"]
    print(
        f"\n[{setting}] pooled held-out n = {rows[0]['n']}; gap recovered [95% CI] per V; APGR (RouteLLM) [CI]"
    )
    print("  " + "policy / estimator".ljust(26) + "".join(f"V={v:<20g}" for v in V_GRID) + "APGR")
    keys = list(dict.fromkeys((r["policy"], r["estimator"]) for r in rows))
    by = {(r["V"], r["policy"], r["estimator"]): r for r in rows}
    for pol, est in keys:
        cells = []
        for v in V_GRID:
            r = by[(v, pol, est)]
            lo, hi = r["gap_recovered_ci95"]
            mark = "=" if r["tie_with_best_fixed"] else ("+" if r["beats_best_fixed"] else "-")
            cells.append(f"{r['gap_recovered']:+.3f}{mark}[{lo:+.2f},{hi:+.2f}]".ljust(22))
        a = by[(V_GRID[0], pol, est)]
        label = f"{pol} / {est}" if est else pol
        print(
            f"  {label:<26}"
            + "".join(cells)
            + f"{a['apgr']:.3f} [{a['apgr_ci95'][0]:.3f},{a['apgr_ci95'][1]:.3f}]"
        )
    print("  (+ beats best fixed, = ties it, - below it)")


def targets(results: dict[str, dict[str, Any]], ests: list[str]) -> list[str]:
    out = []

    def gap(setting: str, est: str, v: float) -> float:
        return next(
            r["gap_recovered"]
            for r in results[setting]["rows"]
            if r["V"] == v and r["policy"] == "tokenomy" and r["estimator"] == est
        )

    for est in ests:
        if est == "prior" or "lobo" not in results:
            continue
        g = [gap("lobo", est, v) for v in TARGET_V]
        p = [gap("lobo", "prior", v) for v in TARGET_V]
        ok = all(a >= 0.15 and a > b for a, b in zip(g, p, strict=True))
        out.append(
            f"lobo {est}: gap {', '.join(f'{x:.3f}' for x in g)} vs prior {', '.join(f'{x:.3f}' for x in p)}"
            f"  target ≥ 0.15 and > prior at each: {'meets target' if ok else 'MISSES target'}"
        )
    if "blanked" in results:
        for est in ests:
            if est in EMBED or est == "neighbours":
                g = [gap("blanked", est, v) for v in TARGET_V]
                ok = all(x >= 0.15 for x in g)
                out.append(
                    f"blanked {est}: gap {', '.join(f'{x:.3f}' for x in g)}  target ≥ 0.15 at each: "
                    f"{'meets target' if ok else 'MISSES target'}"
                )
    for setting, res in results.items():
        for est in ests:
            below = [
                r["V"]
                for r in res["rows"]
                if r["policy"] == "tokenomy"
                and r["estimator"] == est
                and not r["beats_best_fixed"]
                and not r["tie_with_best_fixed"]
            ]
            ties = [
                r["V"]
                for r in res["rows"]
                if r["policy"] == "tokenomy" and r["estimator"] == est and r["tie_with_best_fixed"]
            ]
            out.append(
                f"{setting} {est}: below best fixed at V {below or 'none'}; ties at V {ties or 'none'}  "
                f"target never below: {'meets target' if not below else 'MISSES target'}"
            )
    return out


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--json", metavar="PATH", help="write every figure as JSON here")
    p.add_argument("--cache-dir", help="embedding cache folder")
    p.add_argument(
        "--encoder-backend",
        default="auto",
        help="auto (onnx-int8 when onnxruntime is installed, else numpy), numpy, onnx-float32, onnx-int8",
    )
    p.add_argument("--max-tokens", type=int, help="word pieces kept per prompt (default: the model's 256)")
    p.add_argument("--speed-only", action="store_true", help="only the fidelity and speed sections")
    p.add_argument(
        "--compare-backends",
        action="store_true",
        help="only the paired int8 − numpy gap recovered, categories blanked, per embedding estimator",
    )
    p.add_argument("--router-folds", type=int, default=5, help="K of each router's out-of-fold estimates")
    p.add_argument("--settings", default="random,lobo,blanked,cross")
    p.add_argument(
        "--no-unseen-fallback",
        action="store_true",
        help="route unseen categories with the seen categories' modes (the earlier behaviour)",
    )
    args = p.parse_args()
    base = Path(args.data) / "routing"
    ds = load_routerbench(base / "routerbench_slice")
    table = load_price_table()
    try:
        from tokenomy.interfaces.loaders.routing_embeddings import CachedEncoder, load_encoder

        encoder = CachedEncoder(
            load_encoder(backend=args.encoder_backend, max_tokens=args.max_tokens, cache_dir=args.cache_dir),
            args.cache_dir,
        )
        ests = ["neighbours", *EMBED, "prior"]
    except ValidationError as exc:
        print(f"embeddings extra not installed ({exc}): TF-IDF estimators only")
        encoder, ests = None, ["neighbours", "prior"]
    n_boot = 200 if args.quick else 1000
    if args.compare_backends:
        paired = compare_backends(blank(ds), table, args.router_folds, args.cache_dir, n_boot)
        if args.json:
            Path(args.json).write_text(json.dumps({"int8_minus_numpy_blanked": paired}, indent=1))
            print(f"wrote {args.json}")
        return
    settings = [] if args.speed_only else [s.strip() for s in args.settings.split(",")]
    print(
        f"RouterBench slice: {len(ds.split('train')):,} train / {len(ds.split('test')):,} test × {ds.n_models} "
        f"models; estimators {ests}; encoder {None if encoder is None else encoder.model_id} "
        f"({None if encoder is None else encoder.backend}); "
        f"router folds {args.router_folds}; {n_boot} bootstrap resamples; λ = ρ = 0"
    )
    results: dict[str, dict[str, Any]] = {}
    timing: dict[str, float] = {}
    for setting in settings:
        if setting == "cross":
            try:
                arena = load_routerarena(base / "routerarena_cached")
                folds_for("cross", ds, arena)
            except ValidationError as exc:
                print(f"\n[cross] not run: {exc}")
                results_note = str(exc)
                timing["cross_not_run"] = 1.0
                results["cross-note"] = {"rows": [], "note": results_note}
            continue
        folds: list[Fold] = (
            folds_for("lobo", ds)
            if setting == "lobo"
            else folds_for("random", blank(ds) if setting == "blanked" else ds)
        )
        t0 = time.perf_counter()
        results[setting] = pooled_eval(
            folds,
            lambda est: Router(
                estimator=est,
                prices=table,
                encoder=encoder,
                folds=args.router_folds,
                unseen_fallback=not args.no_unseen_fallback,
            ),
            estimators=ests,
            v_grid=V_GRID,
            n_boot=n_boot,
            progress=lambda s: print(f"  fitting {s}", flush=True),
        )
        timing[setting] = time.perf_counter() - t0
        show(setting, results[setting])
    scored = {k: v for k, v in results.items() if v["rows"]}
    lines = targets(scored, ests)
    print("\ntargets:")
    for line in lines:
        print("  " + line)
    speed_out: dict[str, Any] = {}
    fid: dict[str, Any] = {}
    if encoder is not None:
        train = ds.split("train")
        pick = np.random.default_rng(1).choice(len(train), min(1000, len(train)), replace=False)
        from tokenomy.routing.features import TextFeaturizer

        strip = TextFeaturizer().fit(train.prompts, train.categories.tolist())
        fid = fidelity(encoder.encoder, [strip.question(train.prompts[i]) for i in pick], args.cache_dir)
        router = Router(estimator="mf", prices=table, encoder=encoder, folds=args.router_folds).fit(
            ds.split("train")
        )
        test = ds.split("test")
        speed_out = speed(
            router,
            list(test.prompts),
            test.categories.tolist(),
            20_000 if args.quick else 100_000,
            args.cache_dir,
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "results": results,
                    "targets": lines,
                    "speed": speed_out,
                    "encoder_fidelity": fid,
                    "fit_seconds": timing,
                },
                indent=1,
            )
        )
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
