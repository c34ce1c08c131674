"""``route save`` and ``route eval --split lobo|cross``, and the ``--encoder`` options of ``tokenomy route``.

Split from ``cmd_route`` (which registers the commands). ``encoder`` loads the sentence encoder of the
``embeddings`` extra with its on-disk cache; ``saved_router`` loads a router folder and re-attaches
the encoder it was fitted with (by the name recorded in it); ``run_save`` fits on train and saves;
``run_generalise`` runs the pooled lobo / cross evaluation and prints gap recovered and APGR with CIs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
from tqdm import tqdm

from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceSource, PriceVector
from tokenomy.interfaces.args import items, v_values
from tokenomy.interfaces.loaders.routing import load_dataset
from tokenomy.interfaces.outputs import check_output_path, write_results_json
from tokenomy.interfaces.table import dash_undefined, format_table
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.encoder import TextEncoder
from tokenomy.routing.estimators import ESTIMATORS
from tokenomy.routing.evaluation import require_two_models
from tokenomy.routing.generalise import folds_for, pooled_eval
from tokenomy.routing.router import Router

__all__ = ["encoder", "encoder_args", "run_generalise", "run_save", "saved_router", "undefined_as_dash"]


def encoder_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--encoder",
        help="sentence encoder for the embedding estimators: all-MiniLM-L6-v2 (the embeddings extra) or none "
        "(the default)",
    )
    p.add_argument(
        "--encoder-backend",
        help="what runs the encoder: onnx-int8 (auto's choice when onnxruntime is installed), onnx-float32 "
        "(the reference's vectors, about 2x slower), numpy (the float32 reference); default auto; needs "
        "--encoder",
    )
    p.add_argument(
        "--cache-dir", metavar="DIR", help="embedding cache (default ~/.cache/tokenomy/embeddings)"
    )


UNDEFINED_WHY = {
    "gap_recovered": "no gap between the best fixed model and the oracle at that V (the best fixed model "
    "already matches the oracle), so no share of it can be recovered",
    "apgr": "RouteLLM's pair has no accuracy gap on these rows",
}
"""Why a figure is undefined (NaN) where it is: the note printed under a table that shows it as "-"."""


def undefined_as_dash(
    rows: Sequence[dict[str, Any]], columns: Sequence[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """``rows`` with each NaN/inf in ``columns`` replaced by ``None`` (a table shows "-"), and one note
    per such column saying why (at which V it happens). JSON keeps the rows as they are (its writer
    turns NaN into null)."""
    shown, found = dash_undefined(rows, columns)
    notes = []
    for col, bad in found.items():
        where = sorted({float(r["V"]) for r in bad if "V" in r})
        at = f" (V = {', '.join(f'{v:g}' for v in where)})" if where else ""
        why = UNDEFINED_WHY.get(col, "the figure is not a number on these rows")
        notes.append(f'{col}: "-" in {len(bad)} row(s){at}: {why}')
    return shown, notes


def encoder(args: argparse.Namespace) -> TextEncoder | None:
    if args.encoder == "none":
        return None
    from tokenomy.interfaces.loaders.routing_embeddings import CachedEncoder, load_encoder

    return CachedEncoder(load_encoder(args.encoder, backend=args.encoder_backend), args.cache_dir)


def saved_router(path: str, cache_dir: str | None, models: Sequence[str] | None = None) -> Router:
    """The router saved in the folder ``path``, its encoder re-attached; ``models``: the data's models,
    which must be the router's (same names, same order), else one line naming both."""
    router = Router.load(path)
    if models is not None and list(router.models_) != list(models):
        raise ValidationError(
            f"{path}: router fitted on models {list(router.models_)}; the data has {list(models)}"
        )
    if router.embedding_model_ is not None:
        name = router.embedding_model_  # the full id: load_encoder picks the backend that made it
        enc = encoder(argparse.Namespace(encoder=name, encoder_backend="auto", cache_dir=cache_dir))
        assert enc is not None
        router.attach_encoder(enc)
    return router


def run_save(args: argparse.Namespace) -> dict[str, Any]:
    """``tokenomy route save``: fit on the train split, write the router folder."""
    from tokenomy.interfaces.cmd_route import _dataset, _price_table, refuse_unused  # the group's own

    refuse_unused(args)
    check_output_path(args.out, "--out", "dir", parents=True)
    ds = _dataset(args)
    require_two_models(ds)
    train, _ = ds.train_test(test_share=args.test_share, seed=args.seed)
    router = Router(
        estimator=args.estimator, prices=_price_table(args.prices, ds), seed=args.seed, encoder=encoder(args)
    )
    with threadpool_limits(limits=1, user_api="blas"), tqdm(total=1, desc="route save", unit="fit") as bar:
        router.fit(train)
        bar.update()
    router.save(args.out)
    print(
        f"saved the router ({router.estimator}, {len(train)} train prompts × {ds.n_models} models, "
        f"encoder {router.embedding_model_ or 'none'}) to {args.out}"
    )
    out = {
        "out": str(args.out),
        "estimator": router.estimator,
        "n_train": len(train),
        "models": list(ds.models),
        "embedding_model": router.embedding_model_,
    }
    write_results_json(args, out)
    return out


def run_generalise(args: argparse.Namespace, ds: RoutingDataset) -> dict[str, Any]:
    """``route eval --split lobo|cross``: pooled held-out rows per estimator, gap recovered and APGR."""
    from tokenomy.interfaces.cmd_route import _price_table

    other = load_dataset(args.cross_data, "auto") if args.cross_data else None
    folds = folds_for(args.split, ds, other, test_share=args.test_share, seed=args.seed)
    ests = items(args.estimator, "--estimator")
    bad = [n for n in ests if n not in ESTIMATORS]
    if bad:
        raise ValidationError(f"unknown estimator {bad}; valid: {', '.join(sorted(ESTIMATORS))}")
    table = _price_table(args.prices, ds) if other is None else None
    enc = encoder(args)
    prices = PriceVector(
        lam_usd_per_s=args.lam,
        rho_usd=args.rho,
        lam_source=PriceSource.SLA,
        rho_source=PriceSource.SAFETY_POLICY,
    )
    vs = v_values(args.v)
    total = len(folds) * len(dict.fromkeys([*ests, "prior"]))
    with (
        threadpool_limits(limits=1, user_api="blas"),
        tqdm(total=total, desc="route eval", unit="fit") as bar,
    ):

        def step(label: str) -> None:
            bar.set_postfix_str(label)
            bar.update()

        res = pooled_eval(
            folds,
            lambda est: Router(estimator=est, prices=table, seed=args.seed, encoder=enc),
            estimators=ests,
            v_grid=vs,
            prices=prices,
            n_boot=args.boot,
            seed=args.seed,
            progress=step,
        )
    for row in res["rows"]:
        row["split"] = args.split
    shown, undefined = undefined_as_dash(res["rows"], ["gap_recovered", "apgr"])
    for r in shown:
        gap_ci, apgr_ci = r["gap_recovered_ci95"], r["apgr_ci95"]
        r["gap_ci95"] = None if r["gap_recovered"] is None else "[{:+.3f}, {:+.3f}]".format(*gap_ci)
        r["apgr_ci95"] = None if r["apgr"] is None else "[{:.3f}, {:.3f}]".format(*apgr_ci)
    print(
        format_table(
            shown,
            [
                "V",
                "policy",
                "estimator",
                "gap_recovered",
                "gap_ci95",
                "beats_best_fixed",
                "tie_with_best_fixed",
                "apgr",
                "apgr_ci95",
            ],
            title=f"route eval --split {args.split} on {ds.source} (pooled held-out n={res['rows'][0]['n']})",
            digits=4,
        )
    )
    for note in undefined:
        print("note:", note)
    out = {
        "data": ds.source,
        "cross_data": None if other is None else other.source,
        "split": args.split,
        "embedding_model": None if enc is None else enc.model_id,
        "results": res["rows"],
        "folds": res["folds"],
        "notes": [
            "APGR is RouteLLM's (rank by the strong model's win probability, "
            "decile call shares), averaged over folds with weights n; gap recovered is Eq. 1 welfare, pooled"
        ],
    }
    write_results_json(args, out)
    return out
