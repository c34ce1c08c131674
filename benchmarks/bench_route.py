"""Routing benchmark: quality on the RouterBench slice and routing speed, each next to its target.

Quality (RouterBench slice, fitted on its train split, scored on its test split):
  * ``tokenomy`` recovers ≥ 20% of the best-fixed → oracle welfare gap at V = 0.003, 0.01, 0.03;
  * its welfare is never below the best fixed model's at any V of 0.001, 0.003, 0.01, 0.03, 0.1, 1;
  * every baseline (random, best-fixed, always-cheapest/strongest, threshold, predictive, cascade)
    printed beside it, with 95% bootstrap CIs of the gap.
Speed (pinned to one core):
  * route_many over 100,000 requests × 11 models with features computed (target < 1 s); the time to
    compute those features from raw text is printed separately; baseline: the per-request
    ``route()`` loop, timed on 1,000 requests and scaled;
  * one request from raw text, median of 500 ``route()`` calls (target < 2 ms); baseline: the
    featurisation alone.
Selection (``--select``): the neighbour estimator's settings are chosen on the *train* split only,
by out-of-fold welfare (10 folds, the router's own): the mean gap recovered at V = 0.003, 0.01, 0.03
of Eq. 4 on out-of-fold q̂ over twins × l2 × min_similarity × max_df_share; the test split is not read.
Leave-one-benchmark-out, categories blanked, cross-dataset and the embedding estimators:
``benchmarks/bench_route_generalise.py``.
Run: ``.venv/bin/python benchmarks/bench_route.py [--quick] [--data DIR] [--select] [--json PATH]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import median_of, one_core, parser, verdict

CPUS = one_core()

import numpy as np  # noqa: E402

from tokenomy.core import PriceVector  # noqa: E402
from tokenomy.interfaces.loaders.routing import load_price_table, load_routerbench  # noqa: E402
from tokenomy.routing.decision import RouteRequest  # noqa: E402
from tokenomy.routing.evaluation import DEFAULT_POLICIES, evaluate  # noqa: E402
from tokenomy.routing.router import Router  # noqa: E402

V_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 1.0)
TARGET_V = (0.003, 0.01, 0.03)


def quality(router: Router, test: object, n_boot: int) -> dict[str, object]:
    t0 = time.perf_counter()
    res = evaluate(router, test, v_grid=V_GRID, policies=DEFAULT_POLICIES, n_boot=n_boot)  # type: ignore[arg-type]
    rows = {(r["V"], r["policy"]): r for r in res.rows}
    print(
        f"\nquality on the RouterBench test split ({time.perf_counter() - t0:.1f} s; {n_boot} bootstrap resamples)"
    )
    print("  gap recovered (best fixed → ex-post oracle), 95% CI; welfare per query (USD)")
    head = "  " + "policy".ljust(18) + "".join(f"V={v:<19g}" for v in V_GRID)
    print(head)
    for pol in DEFAULT_POLICIES:
        cells = []
        for v in V_GRID:
            r = rows[(v, pol)]
            lo, hi = r["gap_recovered_ci95"]
            cells.append(f"{r['gap_recovered']:+.3f} [{lo:+.2f},{hi:+.2f}]".ljust(21))
        print("  " + pol.ljust(18) + "".join(cells))
    ok_gap = all(rows[(v, "tokenomy")]["gap_recovered"] >= 0.2 for v in TARGET_V)
    ok_fixed = all(
        rows[(v, "tokenomy")]["welfare_per_query"] >= rows[(v, "best-fixed")]["welfare_per_query"] - 1e-15
        for v in V_GRID
    )
    gaps = ", ".join(f"V={v:g}: {rows[(v, 'tokenomy')]['gap_recovered']:.3f}" for v in TARGET_V)
    print(
        f"  tokenomy gap recovered {gaps}  target ≥ 0.20 at each: {'meets target' if ok_gap else 'MISSES target'}"
    )
    worst = min(
        rows[(v, "tokenomy")]["welfare_per_query"] - rows[(v, "best-fixed")]["welfare_per_query"]
        for v in V_GRID
    )
    print(
        f"  tokenomy welfare − best fixed, worst V of the grid: {worst:+.2e} USD/query  target ≥ 0: "
        f"{'meets target' if ok_fixed else 'MISSES target'}"
    )
    modes = [(v["V"], v["mode"]) for v in res.validation if 0.001 <= float(v["V"]) <= 1.0]
    print("  fall-back chosen out of fold on train: " + ", ".join(f"V={v:g}→{m}" for v, m in modes))
    figures: dict[str, object] = {"rows": res.rows, "anchors": res.anchors}
    a = res.anchors
    print(
        f"  anchors: pair {a['pair']['strong']} / {a['pair']['weak']}: APGR "
        + ", ".join(f"{k} {x:.3f}" for k, x in a["apgr"].items())
        + "; CPT(50%) "
        + ", ".join(f"{k} {x:.3f}" for k, x in a["cpt50"].items())
        + "; AIQ "
        + ", ".join(f"{k} {x:.3f}" for k, x in a["aiq"].items())
    )
    apgr = {r["policy"]: r["apgr"] for r in res.rows if r["V"] == V_GRID[0]}
    print(
        "  RouteLLM APGR (rank by the strong model's win probability): "
        + ", ".join(f"{k} {x:.3f}" for k, x in apgr.items())
    )
    return figures


def speed(router: Router, prompts: list[str], cats: list[str], n: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(prompts), n)
    raw, raw_cats = [prompts[i] for i in pick], [cats[i] for i in pick]
    v = rng.lognormal(np.log(0.01), 1.5, n)
    prices = PriceVector(lam_usd_per_s=0.0005, rho_usd=0.001)
    t0 = time.perf_counter()
    X = router.features(raw, raw_cats)
    t_feat = time.perf_counter() - t0
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        batch = router.route_many(X, prices, v)
        times.append(time.perf_counter() - t0)
    t_route = min(times)
    k = 1000
    t0 = time.perf_counter()
    for i in range(k):
        router.route(RouteRequest(raw[i], raw_cats[i], float(v[i])), prices)
    t_loop = (time.perf_counter() - t0) * n / k
    m = len(router.models_)
    print(f"\nspeed, one core: route_many over {n:,} requests × {m} models")
    print(
        f"  route_many with features computed: {t_route:.3f} s ({n / t_route / 1e3:.0f} k requests/s)  "
        f"target < 1 s: {verdict(t_route, 1.0)}"
    )
    print(f"  computing those features from raw text (separately): {t_feat:.2f} s")
    print(
        f"  baseline: per-request route() loop {t_loop:.1f} s (scaled from {k:,})  → ×{t_loop / t_route:.0f}"
    )
    print(
        f"  null option chosen for {np.mean(batch.chosen < 0):.1%}; modes: {dict(zip(*np.unique(batch.mode, return_counts=True), strict=True))}"
    )
    it = iter(range(10**9))

    def one() -> None:
        i = next(it) % len(prompts)
        router.route(RouteRequest(prompts[i], cats[i], 0.01), prices)

    def feat() -> None:
        i = next(it) % len(prompts)
        router.featurizer_.transform_one(prompts[i], cats[i])

    t_one = median_of(one, 500)
    t_f = median_of(feat, 500)
    print(
        f"  one request from raw text, median of 500: {t_one * 1e3:.2f} ms  target < 2 ms: {verdict(t_one, 0.002)}"
    )
    print(f"  baseline: featurising it alone {t_f * 1e3:.2f} ms")
    return {
        "route_many_s": t_route,
        "features_s": t_feat,
        "loop_s": t_loop,
        "one_request_s": t_one,
        "featurise_one_s": t_f,
    }


def select(router: Router, train: object) -> None:
    """Out-of-fold (train-only) gap recovered of each neighbour-estimator setting; prints the best."""
    import itertools

    from tokenomy.routing.estimators import NeighbourLabels
    from tokenomy.routing.estimators.stacked import fold_ids, out_of_fold
    from tokenomy.routing.policies.base import eq4

    tp = router.train_problem_
    assert tp.quality is not None and tp.cost_usd is not None
    X = router.features(list(train.prompts), train.categories.tolist())  # type: ignore[attr-defined]
    folds = fold_ids(len(X), router.folds, router.seed)
    q_mean, c_mean = tp.quality.mean(axis=0), tp.cost_usd.mean(axis=0)

    def welfare(dq: np.ndarray, v: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per train row: Eq. 4's realised welfare on ``dq``, the best fixed model's, the oracle's."""
        assert tp.quality is not None and tp.cost_usd is not None
        w = np.concatenate([v * tp.quality - tp.cost_usd, np.zeros((len(X), 1))], axis=1)
        fixed = int((v * q_mean - c_mean).argmax())
        return w[np.arange(len(X)), eq4(v * dq - tp.dc_usd)], w[:, fixed], w.max(axis=1)

    def gap(parts: tuple[np.ndarray, np.ndarray, np.ndarray], rows: np.ndarray) -> float:
        w_r, w_f, w_o = (a[rows].mean() for a in parts)
        return float((w_r - w_f) / (w_o - w_f))

    print("\nselection on TRAIN only (out-of-fold, 10 folds): gap at V = 0.003, 0.01, 0.03 and their mean")
    every = np.arange(len(X))
    grid = list(itertools.product((False, True), (1.0, 3.0, 10.0), (0.1, 0.2, 0.3), (0.01, 0.02, 0.05)))
    per_config = []  # per config: per target V, the per-row (Eq. 4, fixed, oracle) welfare
    for twins, l2, ms, df in grid:
        params = {"twins": twins, "l2": l2, "min_similarity": ms, "max_df_share": df}
        oof = out_of_fold(lambda p=params: NeighbourLabels(**p), X, tp.quality, folds)  # type: ignore[misc]
        parts = [welfare(oof, v) for v in TARGET_V]
        per_config.append(parts)
        g = [gap(x, every) for x in parts]
        print(f"  {params}: " + " / ".join(f"{x:.3f}" for x in g) + f"  mean {np.mean(g):.3f}")
    score = [np.mean([gap(x, every) for x in parts]) for parts in per_config]
    best = int(np.argmax(score))
    print(
        f"  best out of fold: {dict(zip(('twins', 'l2', 'min_similarity', 'max_df_share'), grid[best], strict=True))}"
    )
    # nested: choose the config on 9 folds' rows, score it on the 10th; pool the held-out rows
    chosen = np.empty(len(X), dtype=np.int64)
    for k in np.unique(folds):
        rest = np.flatnonzero(folds != k)
        inner = [np.mean([gap(x, rest) for x in parts]) for parts in per_config]
        chosen[folds == k] = int(np.argmax(inner))
    nested = []
    for t in range(len(TARGET_V)):
        pooled = tuple(
            np.stack([per_config[c][t][i] for c in range(len(grid))])[chosen, every] for i in range(3)
        )
        nested.append(gap(pooled, every))  # type: ignore[arg-type]
    print(
        "  nested estimate of this selection (choose on 9 folds, score the 10th): "
        + " / ".join(f"V={v:g}: {x:.3f}" for v, x in zip(TARGET_V, nested, strict=True))
    )


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--select", action="store_true", help="only the train-only selection of the estimator")
    p.add_argument("--json", metavar="PATH", help="write the figures as JSON here")
    args = p.parse_args()
    folder = Path(args.data) / "routing" / "routerbench_slice"
    if not folder.is_dir():
        raise SystemExit(f"RouterBench slice not found under {folder} (give --data DIR)")
    ds = load_routerbench(folder)
    train, test = ds.split("train"), ds.split("test")
    t0 = time.perf_counter()
    router = Router(prices=load_price_table()).fit(train)
    print(
        f"RouterBench slice: {len(train):,} train / {len(test):,} test prompts × {ds.n_models} models; "
        f"router fitted in {time.perf_counter() - t0:.1f} s (estimator {router.estimator}, cost model {router.tokens_.mode_})"
    )
    kind = "real" if ds.latency_s is not None else "SYNTHETIC"
    print(f"latency is {kind} and risk SYNTHETIC on this data (neither is in the quality figures: λ = ρ = 0)")
    if args.select:
        select(router, train)
        return
    figures = quality(router, test, 200 if args.quick else 1000)
    figures["speed"] = speed(
        router, list(test.prompts), test.categories.tolist(), 20_000 if args.quick else 100_000
    )
    if args.json:
        import json

        Path(args.json).write_text(json.dumps(figures, indent=1, default=str))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
