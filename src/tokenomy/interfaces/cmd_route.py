"""``tokenomy route``: the demand layer's commands (a sub-command group).

``route eval --data PATH [--format routerbench|routerarena|long|auto] --V 0.001,0.003,0.01,0.03,0.1,1
[--report out.html] [--json out.json]`` fits the Eq. 4 router on the data's train split (a seeded
split when it has none), evaluates every policy on the test split and prints one row per (V, policy).
The JSON holds ``results`` (V, policy, welfare_per_query, accuracy, cost_per_query_usd, regret_mean,
gap_recovered, and CIs), ``anchors`` (APGR, CPT(50%), CPT(80%), AIQ), ``calibration``, ``longtail``
(prediction 2), ``labels`` (latency/risk: real or synthetic, by what the data has), ``notes`` and
``synthetic`` (the notes of the synthetic terms). ``--ledger PATH`` writes tokenomy's decisions with every
model's outcome, each outcome naming its ``decision_id``; a ledger that already holds these requests
is refused before any work (a rerun would count them twice). Every output path is checked before
the data is read; the report and JSON are written whole, then the ledger, last, in one step. ``route menu`` (Eq. 5) is added by ``cmd_route_menu`` when present.

``--split lobo`` leaves one benchmark (category) out at a time and pools the held-out rows; ``--split
cross --cross-data PATH`` trains on one dataset and tests on the other (shared models only); both
print gap recovered and RouteLLM's APGR with CIs per estimator, the text-free ``prior`` always among
them. ``--encoder all-MiniLM-L6-v2`` (the ``embeddings`` extra) adds sentence embeddings, cached
under ``--cache-dir``. ``route save --out DIR`` fits on the train split and saves the router
(``Router.save``; the encoder's name and version recorded); ``route eval --router DIR`` evaluates it.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
from tqdm import tqdm

from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceSource, PriceVector
from tokenomy.interfaces.args import (
    MAX_RESAMPLES,
    MIN_RESAMPLES,
    float_in,
    given,
    int_in,
    items,
    refuse_ignored,
    usd_price,
    v_values,
)
from tokenomy.interfaces.cmd_route_generalise import (
    encoder,
    encoder_args,
    run_generalise,
    run_save,
    saved_router,
    undefined_as_dash,
)
from tokenomy.interfaces.loaders.routing import load_dataset, load_price_table
from tokenomy.interfaces.outputs import atomic_write, check_output_path, ledger_step, write_results_json
from tokenomy.interfaces.paths import resolve_data_dir
from tokenomy.interfaces.table import format_table
from tokenomy.ledger import Ledger
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.estimators import ESTIMATORS
from tokenomy.routing.evaluation import (
    DEFAULT_POLICIES,
    SUMMARY_COLUMNS,
    anchor_rows,
    evaluate,
    require_two_models,
)
from tokenomy.routing.generalise import SPLITS
from tokenomy.routing.ledger_io import refuse_rerun, write_routes
from tokenomy.routing.longtail import longtail
from tokenomy.routing.policies import POLICIES
from tokenomy.routing.prices import PriceTable
from tokenomy.routing.reliability import compare_estimators
from tokenomy.routing.router import Router

__all__ = ["refuse_unused", "register", "run_eval"]

DEFAULT_V = "0.001,0.003,0.01,0.03,0.1,1"
DEFAULT_TEST_SHARE = 0.3


_ROUTE_TEXT = """\
Choose a model per request by value minus cost, and evaluate routers on real routing data.

Sub-commands:
  eval  fit routers on the train split and compare every policy on the test split
        at each value V (welfare, accuracy, cost, regret, with confidence intervals)
  menu  design a menu of (tier, price) options for a distribution of V

Example:
  tokenomy route eval --data ../shared/data/routing --V 0.001,0.01,0.1 --report route.html
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "route",
        help="pick a model per request by value minus cost; evaluate routers on real routing data",
        description=_ROUTE_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rs = p.add_subparsers(dest="route_command", metavar="SUBCOMMAND", required=True)
    e = rs.add_parser("eval", help="fit on train, evaluate every policy on test at each V")
    e.add_argument("--data", help="dataset path (default: the RouterBench slice under $TOKENOMY_DATA)")
    e.add_argument("--format", default="auto", choices=("auto", "routerbench", "routerarena", "long"))
    e.add_argument("--V", dest="v", default=DEFAULT_V, help=f"comma list of V in USD (default {DEFAULT_V})")
    e.add_argument("--lam", type=usd_price(), default=0.0, help="λ, USD per second of (SYNTHETIC) latency")
    e.add_argument("--rho", type=usd_price(), default=0.0, help="ρ, USD per harm unit of (SYNTHETIC) risk")
    e.add_argument("--policies", default="all", help=f"comma list or 'all' ({', '.join(DEFAULT_POLICIES)})")
    e.add_argument(
        "--estimator",
        help="quality estimator (neighbours, the default; neighbours-text, prior, logistic, knn, stacked; "
        "with --encoder: mf, logistic-embed, knn-embed); with --split lobo|cross a comma list; not with "
        "--router",
    )
    e.add_argument(
        "--split",
        default="random",
        choices=SPLITS,
        help="random: the data's split; "
        "lobo: leave one benchmark out; cross: train on --data, test on --cross-data and back",
    )
    e.add_argument("--cross-data", metavar="PATH", help="the second dataset of --split cross")
    e.add_argument(
        "--router", metavar="DIR", help="evaluate this saved router (route save) instead of fitting"
    )
    e.add_argument(
        "--prices",
        help="price table: packaged (2024 table, the default), a TOML/JSON path, or none; not with --router "
        "or --split cross",
    )
    e.add_argument(
        "--test-share",
        type=float_in(0.0, 1.0, above=True),
        help=f"test share when the data has no split (default {DEFAULT_TEST_SHARE}); not with --split cross",
    )
    e.add_argument(
        "--boot",
        type=int_in(MIN_RESAMPLES, MAX_RESAMPLES),
        default=1000,
        help=f"bootstrap resamples for the CIs ({MIN_RESAMPLES} to {MAX_RESAMPLES:,}; default 1000)",
    )
    e.add_argument("--seed", type=int_in(0), default=0)
    e.add_argument("--no-longtail", action="store_true", help="skip the long-tail experiment")
    e.add_argument(
        "--compare-estimators",
        metavar="NAMES",
        help="also fit these estimators (comma list or 'all') and report their Brier / ECE per model",
    )
    e.add_argument("--report", metavar="HTML", help="write the HTML report here")
    e.add_argument(
        "--ledger",
        metavar="PATH",
        help="write tokenomy's decisions and every model's outcome (each naming its decision) to this "
        "ledger; refused if it already holds these requests (a rerun would count them twice)",
    )
    e.set_defaults(func=run_eval)
    encoder_args(e)
    s = rs.add_parser("save", help="fit the router on the train split and save it to a folder")
    s.add_argument("--data", help="dataset path (default: the RouterBench slice under $TOKENOMY_DATA)")
    s.add_argument("--format", default="auto", choices=("auto", "routerbench", "routerarena", "long"))
    s.add_argument("--estimator", help="quality estimator (as route eval; default neighbours)")
    s.add_argument("--prices", help="price table: packaged (the default), a TOML/JSON path, or none")
    s.add_argument("--test-share", type=float_in(0.0, 1.0, above=True), help=f"default {DEFAULT_TEST_SHARE}")
    s.add_argument("--seed", type=int_in(0), default=0)
    s.add_argument("--out", required=True, metavar="DIR", help="folder to write (router.json, arrays.npz)")
    encoder_args(s)
    s.set_defaults(func=run_save)
    if importlib.util.find_spec("tokenomy.interfaces.cmd_route_menu") is not None:
        importlib.import_module("tokenomy.interfaces.cmd_route_menu").register(rs)


def refuse_unused(args: argparse.Namespace) -> None:
    """Refuse the ``route eval`` / ``route save`` flags that would have no effect, then fill the defaults.

    The saved router (``--router``) brings its own estimator, encoder and price table; ``--split
    cross`` trains on each whole dataset and regresses each one's costs; the long-tail experiment and
    the estimator comparison run on the random split only; ``--encoder-backend`` runs ``--encoder``.
    """
    router = getattr(args, "router", None)
    split = getattr(args, "split", "random")
    saved = "has no effect with --router (the saved router's {} is used); drop one of them"
    folds = "has no effect with --split lobo|cross (only the random split runs it)"
    refuse_ignored(
        ("--estimator", args.estimator if router else None, saved.format("estimator")),
        ("--encoder", args.encoder if router else None, saved.format("encoder")),
        ("--encoder-backend", args.encoder_backend if router else None, saved.format("encoder")),
        ("--prices", args.prices if router else None, saved.format("price table")),
        (
            "--encoder-backend",
            args.encoder_backend if args.encoder in (None, "none") else None,
            "needs --encoder (it chooses what runs the sentence encoder)",
        ),
        (
            "--cache-dir",
            args.cache_dir if args.encoder in (None, "none") and not router else None,
            "needs --encoder or --router (it caches sentence embeddings)",
        ),
        (
            "--cross-data",
            getattr(args, "cross_data", None) if split != "cross" else None,
            "needs --split cross",
        ),
        ("--no-longtail", getattr(args, "no_longtail", False) if split != "random" else None, folds),
        (
            "--compare-estimators",
            getattr(args, "compare_estimators", None) if split != "random" else None,
            folds,
        ),
        (
            "--prices",
            args.prices if split == "cross" and args.prices != "none" else None,
            "has no effect with --split cross (each dataset's cost_usd is regressed, as --prices none)",
        ),
        (
            "--test-share",
            args.test_share if split == "cross" else None,
            "has no effect with --split cross (each whole dataset is trained on, the other tested on)",
        ),
    )
    _fill_defaults(args)


def _fill_defaults(args: argparse.Namespace) -> None:
    """The defaults of the flags that ``refuse_unused`` needs to see as not given (``None``)."""
    for name, default in (
        ("estimator", "neighbours"),
        ("prices", "packaged"),
        ("encoder", "none"),
        ("encoder_backend", "auto"),
        ("test_share", DEFAULT_TEST_SHARE),
    ):
        if getattr(args, name, None) is None:
            setattr(args, name, default)


def _policies(text: str) -> list[str]:
    names = list(DEFAULT_POLICIES) if text == "all" else items(text, "--policies")
    bad = [n for n in names if n not in POLICIES]
    if bad:
        raise ValidationError(f"unknown policy {bad}; valid: {', '.join(sorted(POLICIES))}")
    return names


def _dataset(args: argparse.Namespace) -> RoutingDataset:
    if args.data:
        ds = load_dataset(args.data, args.format)
    else:
        data = resolve_data_dir(None)
        if data is None or not (data / "routing" / "routerbench_slice").is_dir():
            raise ValidationError(
                "no --data given and no routing/routerbench_slice under $TOKENOMY_DATA or ../shared/data"
            )
        ds = load_dataset(data / "routing" / "routerbench_slice", "routerbench")
    _check_test_share(args, ds)
    return ds


def _check_test_share(args: argparse.Namespace, ds: RoutingDataset) -> None:
    """``--test-share`` draws a split only for data without one: on split data it would be ignored."""
    have = sorted(set(ds.splits.tolist()))
    if given(args, "test_share") and have != [""]:
        raise ValidationError(
            f"--test-share applies only to data without a train/test split; {ds.source or 'the data'} has "
            f"its own (split values {have}), which is used as given: leave --test-share out"
        )


def _price_table(spec: str, ds: RoutingDataset) -> PriceTable | None:
    if spec == "none":
        return None
    table = load_price_table(None if spec == "packaged" else spec)
    missing = [m for m in ds.models if m not in table.usd_per_mtok]
    if missing:
        raise ValidationError(
            f"model(s) {missing} of {ds.source} are absent from the price table {table.source}; "
            "give --prices PATH with every model, or --prices none to regress the data's cost_usd"
        )
    return table


def fit_and_evaluate(args: argparse.Namespace, ds: RoutingDataset) -> dict[str, Any]:
    """Fit on train, evaluate on test; the JSON payload of ``route eval``."""
    _fill_defaults(args)
    require_two_models(ds)
    train, test = ds.train_test(test_share=args.test_share, seed=args.seed)
    prices = PriceVector(
        lam_usd_per_s=args.lam,
        rho_usd=args.rho,
        lam_source=PriceSource.SLA,
        rho_source=PriceSource.SAFETY_POLICY,
    )
    vs = v_values(args.v)
    names = _policies(args.policies)
    table = None if args.router else _price_table(args.prices, ds)  # a saved router has its own
    # BLAS threads only slow these small dense products down (and thrash on a shared machine)
    with (
        threadpool_limits(limits=1, user_api="blas"),
        tqdm(total=len(vs) + 2, desc="route eval", unit="step") as bar,
    ):
        bar.set_postfix_str("fitting")
        if args.router:
            router = saved_router(args.router, args.cache_dir, ds.models)
        else:
            router = Router(estimator=args.estimator, prices=table, seed=args.seed, encoder=encoder(args))
            router.fit(train, prices)
        table = router.prices
        bar.update()

        def step(label: str) -> None:
            bar.set_postfix_str(label)
            bar.update()

        res = evaluate(
            router,
            test,
            v_grid=vs,
            prices=prices,
            policies=names,
            n_boot=args.boot,
            seed=args.seed,
            progress=step,
        )
        tail = None if args.no_longtail else longtail(router, test, prices=prices, seed=args.seed)
        compare = args.compare_estimators
        estimators = None
        if compare:
            wanted = None if compare == "all" else items(compare, "--compare-estimators")
            bad = [n for n in wanted or [] if n not in ESTIMATORS]
            if bad:
                raise ValidationError(f"unknown estimator {bad}; valid: {', '.join(sorted(ESTIMATORS))}")
            estimators = compare_estimators(router, train, test, wanted)
        bar.update()
    for row in res.rows:
        row["split"] = "random"
    return {
        "data": ds.source,
        "split": "random",
        "embedding_model": router.embedding_model_,
        "repairs": dict(ds.repairs),
        "n_train": len(train),
        "n_test": len(test),
        "models": list(ds.models),
        "estimator": router.estimator,
        "price_table": None if table is None else {"source": table.source, "date": table.date},
        "cost_model": router.tokens_.mode_,
        "prices": prices.as_dict(),
        "results": res.rows,
        "anchors": res.anchors,
        "calibration": res.calibration,
        "fixed_models": res.fixed_models,
        "sweeps": res.sweeps,
        "validation": res.validation,
        "longtail": tail,
        "estimators": estimators,
        "labels": res.labels,
        "notes": res.notes,
        "synthetic": res.synthetic,
        "_router": router,
        "_test": test,
        "_prices": prices,
    }


def _terms(labels: dict[str, str]) -> str:
    """ "latency REAL, risk SYNTHETIC": each term by what the data has."""
    return ", ".join(f"{term} {kind.upper()}" for term, kind in labels.items())


def run_eval(args: argparse.Namespace) -> dict[str, Any]:
    """``tokenomy route eval``: print the table, write the report and ledger when asked."""
    (
        v_values(args.v),
        _policies(args.policies),
    )  # bad options fail before the data is read
    refuse_unused(args)
    check_output_path(args.report, "--report")
    check_output_path(args.ledger, "--ledger")
    if args.split != "random" and (args.router or args.report or args.ledger):
        raise ValidationError(
            "--split lobo|cross fits its own routers per fold: no --router, --report or --ledger"
        )
    ds = _dataset(args)
    if args.split != "random":
        return run_generalise(args, ds)  # lobo | cross
    if args.ledger and Path(args.ledger).is_file():  # refuse a rerun before the work, not after it
        with Ledger(args.ledger, read_only=True) as ledger:
            refuse_rerun(
                ledger,
                ds.train_test(test_share=args.test_share, seed=args.seed)[1],
                v_values(args.v),
            )
    out = fit_and_evaluate(args, ds)
    router, test, prices = out.pop("_router"), out.pop("_test"), out.pop("_prices")
    shown, undefined = undefined_as_dash(out["results"], SUMMARY_COLUMNS)
    print(
        format_table(
            shown,
            list(SUMMARY_COLUMNS),
            title=f"route eval on {ds.source} (test n={out['n_test']}; {_terms(out['labels'])})",
            digits=5,
        )
    )
    if out["repairs"]:
        print(
            "repairs while loading (counted, nothing else dropped): "
            + ", ".join(f"{k} {v}" for k, v in out["repairs"].items())
        )
    a = out["anchors"]
    print(
        format_table(
            anchor_rows(a),
            title=f"RouteLLM anchors on the pair {a['pair']['strong']} / {a['pair']['weak']} "
            "(CPT = share of calls to the strong model)",
        )
    )
    print("RouterBench AIQ: " + ", ".join(f"{k} {v:.3f}" for k, v in a["aiq"].items()))
    first = [r for r in out["results"] if r["V"] == out["results"][0]["V"]]
    if first:
        print(
            f"RouteLLM APGR / CPT(50%) / CPT(80%) as RouteLLM defines them (rank by the strong model's win "
            f"probability; pair {first[0]['routellm_pair']}; accuracy only): "
            + ", ".join(f"{r['policy']} {r['apgr']:.3f}/{r['cpt50']:.2f}/{r['cpt80']:.2f}" for r in first)
        )
    if out["longtail"]:
        lt = out["longtail"]
        print(
            "prediction 2 (Pareto V): mean regret per unit V in the top V decile "
            + ", ".join(f"{k} {v:.3f}" for k, v in lt["top_decile_regret_per_v"].items())
        )
    if out["estimators"]:
        print(
            format_table(
                out["estimators"]["summary"], title="estimator calibration on test (mean over models)"
            )
        )
    for note in [*undefined, *out["notes"]]:
        print("note:", note)
    if args.report:
        from tokenomy.audit.report_route import build_report

        page = build_report(out, subtitle=f"route eval on {ds.source}")
        atomic_write(args.report, page.write)
        print(f"wrote {args.report}")
        out["report"] = str(Path(args.report))
    if args.ledger:
        out["ledger"] = args.ledger
    write_results_json(args, out)
    if args.ledger:  # last, in one step: a failure above leaves no ledger, one here leaves it as it was
        vs = v_values(args.v)
        n = ledger_step(args.ledger, lambda ledger: write_routes(ledger, router, test, vs, prices))
        print(f"wrote {n} decisions to {args.ledger}")
    return out
