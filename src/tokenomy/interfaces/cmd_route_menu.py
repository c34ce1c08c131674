"""``tokenomy route menu``: an incentive-compatible menu of (tier, price) options for a V distribution (Eq. 5).

``route menu --data PATH [--format auto|routerbench|routerarena|long] [--split all|train|test]
[--V-dist lognormal:mu,sigma | pareto:alpha,xm | FILE.csv] [--types K] [--objective revenue|welfare]
[--report out.html] [--json out.json]`` builds one tier per model of a routing dataset (its mean
quality and mean cost per query), a K-type distribution of user values V, the revenue- or
welfare-maximising menu, and prints the menu, the comparison with silent routing (Eq. 1 knowing V) and
one flat price, and the per-type rents. A parametric ``--V-dist`` is *synthetic* (seeded draws,
labelled so in every output); a CSV file holds measured values in a column ``V`` (or ``v_usd``) and
optionally ``weight``. ``--json`` is added by cli.py; ``register(route_subparsers)`` is called by
``cmd_route``.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.audit.report_menu import build_report
from tokenomy.core.errors import SchemaError, ValidationError
from tokenomy.interfaces.args import MAX_DRAWS, int_in, refuse_ignored
from tokenomy.interfaces.loaders.routing import load_dataset
from tokenomy.interfaces.outputs import atomic_write, check_output_path
from tokenomy.interfaces.paths import resolve_data_dir
from tokenomy.interfaces.table import format_table
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.menu import MENU_DESIGNERS, design_menu
from tokenomy.routing.menu_eval import evaluate_menu, evaluate_requests
from tokenomy.routing.menu_types import DISTRIBUTIONS, ValueTypes, synthetic_values, tiers_from_dataset

__all__ = ["DEFAULT_V_DIST", "load_value_file", "parse_v_dist", "register", "run_menu"]

DEFAULT_V_DIST = "lognormal:-4.6,0.5"  # median V ≈ $0.01 per unit quality; synthetic
DEFAULT_SAMPLES = 100_000


_MENU_TEXT = """\
Design a menu of (tier, price) options that users choose from truthfully.

Builds one tier per model of a routing dataset (--data), draws values V from
--V-dist (a synthetic lognormal or Pareto law, labelled so, or a CSV file with a
column V), and prints the menu, its comparison with routing that knows V and with
one flat price, and the rent each type keeps. Writes an HTML report (--report)
and JSON (--json).

Example:
  tokenomy route menu --data ../shared/data/routing --V-dist lognormal:-3,1.5
"""


def register(route_subparsers: Any) -> None:
    """Add ``menu`` to the ``route`` command's sub-parsers."""
    p = route_subparsers.add_parser(
        "menu",
        help="design a menu of (tier, price) options that users pick truthfully, for a V distribution",
        description=_MENU_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--data", metavar="PATH", help="routing data (default: <$TOKENOMY_DATA or ../shared/data>/routing)"
    )
    p.add_argument("--format", default="auto", choices=("auto", "routerbench", "routerarena", "long"))
    p.add_argument(
        "--split", default="all", help="which prompts define the tiers: all (default), train, test"
    )
    p.add_argument(
        "--V-dist",
        dest="v_dist",
        default=DEFAULT_V_DIST,
        help=f"lognormal:mu,sigma | pareto:alpha,xm (synthetic) | FILE.csv (default {DEFAULT_V_DIST})",
    )
    p.add_argument(
        "--samples",
        type=int_in(1, MAX_DRAWS),
        help=f"draws of a synthetic V law (default {DEFAULT_SAMPLES}); not with --V-dist FILE.csv",
    )
    p.add_argument(
        "--seed",
        type=int_in(0),
        help="seed of the synthetic V draws (≥ 0, default 0); not with --V-dist FILE.csv",
    )
    p.add_argument(
        "--types",
        type=int_in(1),
        default=1000,
        help="equal-mass V types K the menu is designed on (default 1000; a coarse K misprices heavy tails)",
    )
    p.add_argument("--objective", default="revenue", choices=sorted(MENU_DESIGNERS))
    p.add_argument("--high-v-quantile", type=float, default=0.5, help="types above it count as high-V")
    p.add_argument("--report", metavar="HTML", help="write the HTML report here")
    p.set_defaults(func=run_menu)


def parse_v_dist(spec: str) -> tuple[str, tuple[float, ...]]:
    """``lognormal:mu,sigma`` → ("lognormal", (mu, sigma)).

    Raises:
        ValidationError: not of the form ``NAME:a,b`` with a known NAME and numbers.
    """
    name, sep, rest = spec.partition(":")
    form = "lognormal:mu,sigma | pareto:alpha,xm | a .csv file"
    if not sep or name not in DISTRIBUTIONS:
        raise ValidationError(f"--V-dist {spec!r}: expected {form}")
    try:
        params = tuple(float(x) for x in rest.split(","))
    except ValueError:
        raise ValidationError(f"--V-dist {spec!r}: parameters must be numbers ({form})") from None
    return name, params


def load_value_file(path: str | Path) -> tuple[list[float], list[float] | None]:
    """Read V values (column ``V`` or ``v_usd``) and optional ``weight`` from a CSV file.

    Raises:
        SchemaError: the file lacks the column, or a value is not a finite number ≥ 0 / a weight
            not > 0 (names the file, line and field).
    """
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"--V-dist: no such file: {p} (or use lognormal:mu,sigma | pareto:alpha,xm)")
    values: list[float] = []
    weights: list[float] = []
    with p.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])
        if "V" in fields and "v_usd" in fields:
            raise SchemaError(
                f"{p}: has both 'V' and 'v_usd' columns: ambiguous; keep one (USD per unit quality)"
            )
        col = "V" if "V" in fields else ("v_usd" if "v_usd" in fields else None)
        if col is None:
            raise SchemaError(
                f"{p}: missing column 'V' (or 'v_usd', USD per unit quality); columns: {fields}"
            )
        has_w = "weight" in fields
        for lineno, rec in enumerate(reader, start=2):
            v = _number(rec[col], p, lineno, col)
            if v < 0:
                raise SchemaError(f"{p}: line {lineno}: {col} must be ≥ 0, got {rec[col]!r}")
            values.append(v)
            if has_w:
                w = _number(rec["weight"], p, lineno, "weight")
                if w <= 0:
                    raise SchemaError(f"{p}: line {lineno}: weight must be > 0, got {rec['weight']!r}")
                weights.append(w)
    if not values:
        raise SchemaError(f"{p}: no rows (expected a header with 'V' and one value per line)")
    return values, weights if has_w else None


def _number(text: str | None, path: Path, lineno: int, field: str) -> float:
    try:
        x = float(text if text is not None else "")
    except ValueError:
        raise SchemaError(f"{path}: line {lineno}: {field} must be a number, got {text!r}") from None
    if not math.isfinite(x):
        raise SchemaError(f"{path}: line {lineno}: {field} must be finite, got {text!r}")
    return x


def _types(args: argparse.Namespace) -> tuple[ValueTypes, NDArray[np.float64], NDArray[np.float64] | None]:
    """The K types, and the per-request values (and weights) they were binned from."""
    if args.types < 1:
        raise ValidationError(f"--types must be ≥ 1, got {args.types}")
    spec = args.v_dist
    if _is_file(spec):
        values, weights = load_value_file(spec)
        types = ValueTypes.from_samples(values, weights, k=args.types, source=str(spec))
        return types, np.asarray(values), None if weights is None else np.asarray(weights)
    name, params = parse_v_dist(spec)
    n = DEFAULT_SAMPLES if args.samples is None else args.samples
    seed = 0 if args.seed is None else args.seed
    draws = synthetic_values(name, params, n=n, seed=seed)
    src = f"{spec} ({n} draws, seed {seed}; synthetic)"
    return ValueTypes.from_samples(draws, k=args.types, source=src, synthetic=True), draws, None


def _is_file(spec: str) -> bool:
    """Whether ``--V-dist`` names a value file (not a synthetic law)."""
    return spec.endswith(".csv") or Path(spec).is_file()


def _dataset(args: argparse.Namespace) -> RoutingDataset:
    if args.data:
        path = Path(args.data)
    else:
        base = resolve_data_dir(None)
        if base is None:
            raise ValidationError("no routing data: pass --data PATH or set TOKENOMY_DATA")
        path = base / "routing" if (base / "routing").is_dir() else base
    if path.is_dir() and (path / "routing").is_dir() and args.format in ("auto", "routerbench"):
        path = path / "routing"
    ds = load_dataset(path, args.format)
    return ds if args.split == "all" else ds.split(args.split)


def run_menu(args: argparse.Namespace) -> dict[str, Any]:
    """Build, verify and compare the menu; print tables; write the report. Returns the JSON dict."""
    check_output_path(args.report, "--report")
    if not 0.0 <= args.high_v_quantile < 1.0:  # before any work (also refuses NaN)
        raise ValidationError(
            f"--high-v-quantile must be a number in [0, 1) (a quantile of V); got {args.high_v_quantile!r}"
        )
    file = _is_file(args.v_dist)
    why = "has no effect with --V-dist FILE.csv (it sets the synthetic V draws); drop one of them"
    refuse_ignored(
        ("--samples", args.samples if file else None, why), ("--seed", args.seed if file else None, why)
    )
    draws = DEFAULT_SAMPLES if args.samples is None else args.samples
    if not file and draws < args.types:  # equal-mass types are quantile bins of the draws
        raise ValidationError(
            f"--samples {draws:,} is fewer than --types {args.types:,}: each equal-mass V type is a quantile "
            "bin of the draws and needs at least one; give --samples ≥ --types"
        )
    ds = _dataset(args)
    types, values, weights = _types(args)
    tiers = tiers_from_dataset(ds)
    menu = design_menu(tiers, types, objective=args.objective)
    report = evaluate_menu(menu, high_v_quantile=args.high_v_quantile)
    requests = evaluate_requests(menu, values, weights, high_v_quantile=args.high_v_quantile)
    out = report.to_dict()
    out["requests"] = requests.to_dict()
    out["data"] = ds.source
    out["split"] = args.split
    out["prompts"] = len(ds)
    label = " (V synthetic)" if types.synthetic else ""
    print(f"{ds.source}: {len(ds)} prompts × {ds.n_models} tiers; V: {types.source}; {len(types)} types")
    print(format_table(out["options"], digits=6, title=f"{args.objective}-maximising menu{label}"))
    print()
    print(format_table(out["totals"], digits=6, title=f"per query, USD{label}"))
    print()
    cols = ["type", "V_usd", "share", "menu_tier", "price_usd", "silent_tier", "rent_usd", "downgraded"]
    if len(types) <= 30:
        print(format_table(out["per_type"], cols, digits=6, title=f"types{label}"))
    else:
        print(f"({len(types)} types: per-type rows are in --json and --report; by V decile below)")
    print(
        f"\nIC {'holds' if out['ic_ok'] else 'FAILS'} for every type (min slack {out['min_ic_slack_usd']:.3g}); "
        f"participation {'holds' if out['ir_ok'] else 'FAILS'} (min {out['min_ir_slack_usd']:.3g}); "
        f"information rent {out['information_rent_per_query_usd']:.6f} USD/query; "
        f"downgraded {out['downgraded_share']:.1%} of requests, {out['downgraded_share_high_v']:.1%} of high-V "
        f"(V above its {args.high_v_quantile:g} quantile); welfare {out['welfare_loss_vs_silent_share']:.1%} "
        "below silent routing"
    )
    print()
    print(
        format_table(
            out["requests"]["deciles"],
            digits=6,
            title=f"{requests.n} requests, each buying by its own V, by V decile{label}",
        )
    )
    print(
        f"per request: downgraded {requests.downgraded_share:.1%}, high-V {requests.downgraded_share_high_v:.1%}, "
        f"excluded {requests.excluded_share:.1%}"
    )
    if args.report:
        page = build_report(
            report, requests, subtitle=f"{ds.source} · {len(ds)} prompts · split {args.split}"
        )
        atomic_write(args.report, page.write)
        print(f"wrote {args.report}")
        out["report"] = str(args.report)
    return out
