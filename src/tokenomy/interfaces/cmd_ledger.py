"""``tokenomy ledger summary FILE`` and ``tokenomy ledger export FILE --out DIR``.

``--out`` is checked before the ledger opens (a folder, or absent under a writable one); the Parquet
files are written to a scratch folder inside it and moved into place, each whole.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tokenomy.interfaces.args import int_in
from tokenomy.interfaces.outputs import check_output_path
from tokenomy.interfaces.table import format_table
from tokenomy.ledger import Ledger

__all__ = ["register"]


_LEDGER_TEXT = """\
Inspect or export a ledger: the DuckDB file of decisions and outcomes that
route, serve and economy write with --ledger.

Sub-commands:
  summary  counts, totals and the requests with the worst regret
  export   write decisions, candidates and outcomes as Parquet files to a folder

Examples:
  tokenomy ledger summary run.duckdb --top 10
  tokenomy ledger export run.duckdb --out parquet/
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "ledger",
        help="inspect or export a ledger file",
        description=_LEDGER_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lsub = p.add_subparsers(dest="ledger_command", metavar="ACTION", required=True)
    s = lsub.add_parser("summary", help="counts, totals and the worst-regret requests of a ledger file")
    s.add_argument("file", help="a DuckDB ledger file")
    s.add_argument("--top", type=int_in(1), default=5, help="how many worst-regret requests to list")
    s.set_defaults(func=summary)
    e = lsub.add_parser("export", help="write decisions, candidates and outcomes as Parquet")
    e.add_argument("file", help="a DuckDB ledger file")
    e.add_argument("--out", required=True, metavar="DIR", help="folder for the Parquet files")
    e.set_defaults(func=export)


def _open(path: str) -> Ledger:
    """The ledger read-only; a path that is not a ledger file is refused by ``Ledger`` (one line)."""
    return Ledger(path, read_only=True)


def summary(args: argparse.Namespace) -> dict[str, Any]:
    with _open(args.file) as ledger:
        result = ledger.summary()
        vectors = ledger.request_vectors().to_pylist()
    worst = sorted((v for v in vectors if v["regret_usd"] is not None), key=lambda v: -v["regret_usd"])
    result["worst_requests"] = worst[: args.top]
    print(
        f"ledger {args.file} (schema v{result['schema_version']}): {result['decisions']} decisions, "
        f"{result['candidates']} candidates, {result['outcomes']} outcomes"
    )
    layers = ", ".join(f"{k}={v}" for k, v in result["decisions_by_layer"].items())
    print("decisions by layer: " + (layers or "(none)"))
    totals = result["totals"]
    print(format_table([totals], title="totals (USD)"))
    undefined = [k for k, v in totals.items() if v is None]
    if undefined:  # shown as "-" in the table and null in the JSON
        why = (
            "the ledger holds no request"
            if not totals["requests"]
            else "no outcome is recorded for any request"
        )
        print(f"note: {', '.join(undefined)} undefined (shown as -): {why}")
    cols = [
        "request_id",
        "tenant",
        "value_usd",
        "cost_usd",
        "latency_cost_usd",
        "risk_cost_usd",
        "utility_usd",
        "regret_usd",
    ]
    print(format_table(result["worst_requests"], cols, title=f"worst {args.top} requests by regret"))
    return result


def export(args: argparse.Namespace) -> dict[str, Any]:
    """Export into a fresh folder beside ``--out``, then move each file into place (none half-written)."""
    check_output_path(args.out, "--out", kind="dir")
    out = Path(args.out)
    with _open(args.file) as ledger:
        made = not out.exists()
        out.mkdir(exist_ok=True)
        try:
            with tempfile.TemporaryDirectory(dir=out, prefix=".export.") as tmp:
                staged = ledger.export_parquet(tmp)
                paths = {table: out / p.name for table, p in staged.items()}
                for table, p in staged.items():
                    os.replace(p, paths[table])
        except BaseException:
            if made:  # a folder this export created is not left behind, empty or half-filled
                shutil.rmtree(out, ignore_errors=True)
            raise
    for table, path in paths.items():
        print(f"{table}: {path}")
    return {"files": {k: str(v) for k, v in paths.items()}}
