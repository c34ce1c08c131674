"""The encoder's part of ``bench_route_generalise.py``: fidelity to the numpy reference, speed per backend, paired quality.

* ``fidelity``: cosine of each onnxruntime backend's vectors to the numpy reference's on given texts;
* ``speed``: ``route_many`` with embeddings precomputed, then per backend in the same run the encoder
  alone and one request end to end (wall and CPU medians, ratio to numpy), with the token lengths
  of the requests timed;
* ``compare_backends``: gap recovered with int8 embeddings minus with the reference's, paired over
  the same test rows and bootstrap resamples.
Imported by the benchmark after it has pinned itself to one core; not run on its own.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import numpy as np

from _common import median_of, verdict
from tokenomy.core import PriceVector
from tokenomy.core.errors import ValidationError
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.decision import RouteRequest
from tokenomy.routing.router import Router

TARGET_V = (0.003, 0.01, 0.03)
EMBED = ("mf", "logistic-embed", "knn-embed")


def cpu_median(fn: Any, repeat: int) -> float:
    """Median CPU time of ``repeat`` calls (seconds): less sensitive than wall time to other processes."""
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return float(np.median(times))


def fidelity(encoder: Any, texts: list[str], cache_dir: str | None) -> dict[str, Any]:
    """Cosine of each backend's vectors to the numpy reference on ``texts`` (train prompts), min / median."""
    from tokenomy.interfaces.loaders.routing_embeddings import load_encoder

    ref = load_encoder(backend="numpy").encode(texts)
    out: dict[str, Any] = {"n": len(texts)}
    print(
        f"\nencoder fidelity: cosine to the numpy reference over {len(texts):,} train prompts (min / median)"
    )
    for backend in ("onnx-float32", "onnx-int8"):
        try:
            enc = load_encoder(backend=backend, cache_dir=cache_dir, max_tokens=encoder.max_tokens)
        except ValidationError as exc:
            print(f"  {backend}: not run ({exc})")
            continue
        cos = np.sum(enc.encode(texts) * ref, axis=1)
        out[backend] = {
            "min": float(cos.min()),
            "median": float(np.median(cos)),
            "p01": float(np.quantile(cos, 0.01)),
        }
        print(
            f"  {backend:<13} min {cos.min():.5f}  1st percentile {np.quantile(cos, 0.01):.5f}  median {np.median(cos):.5f}"
        )
    return out


def speed(
    router: Router, prompts: list[str], cats: list[str], n: int, cache_dir: str | None
) -> dict[str, Any]:
    from tokenomy.interfaces.loaders.routing_embeddings import load_encoder

    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(prompts), n)
    X = router.features([prompts[i] for i in pick], [cats[i] for i in pick])  # embeddings from the cache
    v = rng.lognormal(np.log(0.01), 1.5, n)
    prices = PriceVector()
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        router.route_many(X, prices, v)
        times.append(time.perf_counter() - t0)
    t_many = min(times)
    enc = router.encoder
    assert enc is not None
    raw = getattr(enc, "encoder", enc)  # past the cache: the encoder's own cost
    # the raw encoder has no cache, so the test prompts themselves are unseen by it
    timed = [prompts[i] for i in rng.choice(len(prompts), min(200, len(prompts)), replace=False)]
    questions = [router.featurizer_.question(t) for t in timed]
    lengths = np.array([min(len(x), raw.max_tokens) for x in raw.tokenize(questions)])
    backends: dict[str, Any] = {"numpy": load_encoder(backend="numpy", max_tokens=raw.max_tokens)}
    for b in ("onnx-float32", "onnx-int8"):
        with contextlib.suppress(ValidationError):  # onnxruntime absent: the numpy reference only
            backends[b] = load_encoder(backend=b, max_tokens=raw.max_tokens, cache_dir=cache_dir)
    it = iter(range(10**9))

    def one(e: Any) -> None:
        i = next(it) % len(timed)
        router.encoder = e  # past the cache; another backend's encoder is swapped in for timing only
        router.route(RouteRequest(timed[i], "", 0.01), prices)

    def emb(e: Any) -> None:
        i = next(it) % len(questions)
        e.encode([questions[i]])

    chosen = next(b for b, e in backends.items() if e.model_id == raw.model_id and e.backend == raw.backend)
    backends[chosen] = raw  # the router's own encoder
    t_emb = {b: median_of(lambda e=e: emb(e), 200) for b, e in backends.items()}
    t_one = {b: median_of(lambda e=e: one(e), 200) for b, e in backends.items()}
    cpu_one = {b: cpu_median(lambda e=e: one(e), 200) for b, e in backends.items()}
    router.attach_encoder(enc)
    print(
        f"\nspeed, one core ({router.estimator}, encoder {router.embedding_model_}, backend {raw.backend}):"
    )
    print(
        f"  route_many over {n:,} requests × {len(router.models_)} models, embeddings precomputed: "
        f"{t_many:.3f} s  target < 1 s: {verdict(t_many, 1.0)}"
    )
    q = np.percentile(lengths, [5, 25, 50, 75, 95])
    print(
        f"  requests timed: 200 RouterBench test prompts (the encoder has no cache), word pieces after boilerplate "
        f"removal and the {raw.max_tokens} cut: p5 {q[0]:.0f}, p25 {q[1]:.0f}, median {q[2]:.0f}, p75 {q[3]:.0f}, "
        f"p95 {q[4]:.0f}, max {lengths.max()}"
    )
    print(
        "  medians of 200 wall times (ratio: numpy reference ÷ this backend, same run; other backends swapped in):"
    )
    for b in backends:
        mark = "  ← the router's encoder" if b == chosen else ""
        print(
            f"    {b:<13} encoder alone {t_emb[b] * 1e3:6.2f} ms (×{t_emb['numpy'] / t_emb[b]:.1f}); one request end to end "
            f"{t_one[b] * 1e3:6.2f} ms (×{t_one['numpy'] / t_one[b]:.1f}); its CPU time {cpu_one[b] * 1e3:6.2f} ms{mark}"
        )
    print(
        f"  one request end to end, embedding included ({chosen}): {t_one[chosen] * 1e3:.2f} ms  "
        f"target < 10 ms: {verdict(t_one[chosen], 0.010)}"
    )
    return {
        "route_many_s": t_many,
        "one_request_s": t_one[chosen],
        "encoder_one_s": t_emb[chosen],
        "backend": raw.backend,
        "by_backend": {
            b: {"encoder_one_s": t_emb[b], "one_request_s": t_one[b], "one_request_cpu_s": cpu_one[b]}
            for b in backends
        },
        "tokens_timed": {
            "p5": q[0],
            "p25": q[1],
            "median": q[2],
            "p75": q[3],
            "p95": q[4],
            "max": int(lengths.max()),
        },
        "n": n,
    }


def compare_backends(
    data: RoutingDataset, table: Any, folds: int, cache_dir: str | None, n_boot: int
) -> dict[str, Any]:
    """Paired on ``data`` (the benchmark passes it with categories blanked): int8 gap recovered minus the reference's.

    The same train/test rows, the same bootstrap resamples; only the encoder differs.
    """
    from tokenomy.interfaces.loaders.routing_embeddings import CachedEncoder, load_encoder
    from tokenomy.routing.evaluation import _fitted, realised
    from tokenomy.routing.metrics import bootstrap_means

    train, test = data.split("train"), data.split("test")
    encs = {
        b: CachedEncoder(load_encoder(backend=b, cache_dir=cache_dir), cache_dir)
        for b in ("onnx-int8", "numpy")
    }
    out: dict[str, Any] = {}
    print(
        f"\nint8 − numpy reference, categories blanked, paired over the same {len(test)} test rows and resamples:"
    )
    for est in EMBED:
        per: dict[str, dict[float, np.ndarray]] = {}
        for b, enc in encs.items():
            router = Router(estimator=est, prices=table, encoder=enc, folds=folds).fit(train, PriceVector())
            base = router.problem(
                router.features(test.prompts, test.categories.tolist()), 0.0, PriceVector(), test
            )
            fitted = _fitted(["tokenomy", "best-fixed", "oracle"], router, 0)
            per[b] = {}
            for v in TARGET_V:
                pv = base.at_v(v)
                per[b][v] = np.stack(
                    [realised(pv, fitted[n].route(pv)).welfare for n in ("tokenomy", "best-fixed", "oracle")]
                )
        cells = []
        for v in TARGET_V:
            stack = np.concatenate([per["onnx-int8"][v], per["numpy"][v][:1]])  # int8, fixed, oracle, numpy
            boot = bootstrap_means(stack, n_boot, 0)
            gap_b = (boot[[0, 3]] - boot[1]) / (boot[2] - boot[1])
            m = stack.mean(axis=1)
            g8, g0 = (m[0] - m[1]) / (m[2] - m[1]), (m[3] - m[1]) / (m[2] - m[1])
            lo, hi = np.percentile(gap_b[0] - gap_b[1], [2.5, 97.5])
            out[f"{est} V={v:g}"] = {
                "int8": float(g8),
                "numpy": float(g0),
                "diff_ci95": [float(lo), float(hi)],
            }
            cells.append(f"V={v:g}: {g8:.3f} − {g0:.3f} = {g8 - g0:+.3f} [{lo:+.3f}, {hi:+.3f}]")
        print(f"  {est:<15}" + "; ".join(cells))
    return out
