"""``tokenomy demo``: the main job. Runs every demo section present, in order, and writes its outputs.

Sections are modules listed in ``SECTIONS``; each defines ``TITLE`` and ``section(ctx) -> dict``.
A section that needs the real data says so and is skipped when the folder is absent.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenomy.core.errors import ValidationError
from tokenomy.interfaces.outputs import check_output_path
from tokenomy.interfaces.paths import resolve_data_dir

__all__ = ["SECTIONS", "DemoContext", "register", "run"]

SECTIONS = (
    "tokenomy.interfaces.demo_core",
    "tokenomy.interfaces.demo_route",
    "tokenomy.interfaces.demo_serve",
    "tokenomy.interfaces.demo_audit",
    "tokenomy.interfaces.demo_agent",
    "tokenomy.interfaces.demo_economy",
    "tokenomy.interfaces.demo_gateway",
)


@dataclass(frozen=True, slots=True)
class DemoContext:
    """What a demo section gets: the data folder (or None), an output folder, and a printer."""

    data_dir: Path | None
    out_dir: Path
    echo: Callable[[str], None]
    quick: bool = False


_DEMO_TEXT = """\
Run the tokenomy walkthrough: a worked example, then each layer (route, serve,
audit, agent, economy) on the real data found under --data, skipping any section
whose data is absent. Writes HTML reports, a ledger and an index page to --out.

Example:
  tokenomy demo --data ../shared/data --out out/demo --quick
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="run the demo: the worked example, allocation, ledger and each layer",
        description=_DEMO_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--data", metavar="DIR", help="real data folder (default: $TOKENOMY_DATA or ../shared/data)"
    )
    p.add_argument("--out", metavar="DIR", default="out/demo", help="where reports and the ledger go")
    p.add_argument(
        "--only",
        metavar="NAME",
        choices=tuple(name.rsplit("_", 1)[-1] for name in SECTIONS),
        help="run one section (" + ", ".join(name.rsplit("_", 1)[-1] for name in SECTIONS) + ")",
    )
    p.add_argument("--quick", action="store_true", help="smaller inputs where a section supports it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> dict[str, Any]:
    check_output_path(args.out, "--out", kind="dir", parents=True)
    data = resolve_data_dir(args.data)
    if args.data and data is None:  # only the defaults may be missing (their sections are skipped)
        raise ValidationError(f"--data: data folder {args.data!r} not found; give an existing folder")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = DemoContext(data, out, print, bool(getattr(args, "quick", False)))
    results: dict[str, Any] = {"data_dir": str(data) if data else None, "sections": {}}
    if data is None:
        print(
            "note: no data folder found (--data, $TOKENOMY_DATA, ../shared/data); data sections are skipped"
        )
    for name in SECTIONS:
        short = name.rsplit("_", 1)[-1]
        if args.only and args.only != short:
            continue
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        print(f"\n=== {module.TITLE} ===")
        t0 = time.perf_counter()
        results["sections"][short] = module.section(ctx)
        print(f"({short}: {time.perf_counter() - t0:.1f} s)")
    index = _write_index(out, results["sections"])
    results["index_html"] = str(index)
    print(f"\nreports: open {index}")
    return results


def _write_index(out: Path, sections: dict[str, Any]) -> Path:
    """One page that links every report, JSON file and ledger the demo wrote, and what each section returned."""
    from tokenomy.audit.html import Report

    page = Report("tokenomy demo", f"the reports written to {out} by `tokenomy demo`")
    reports = sorted(p for p in out.glob("*.html") if p.name != "index.html")
    page.heading("Reports")
    if reports:
        page.links([(p.name, p.stem, f"({p.stat().st_size / 1024:.0f} KiB)") for p in reports])
    else:
        page.paragraph("no section wrote a report (the data folder may be absent)")

    def size(p: Path) -> str:
        return f"({p.stat().st_size / 1024:.0f} KiB)"

    data = sorted(p for p in out.glob("*.json"))
    if data:
        page.heading("JSON results")
        page.links([(p.name, p.name, size(p)) for p in data])
    ledgers = sorted(out.rglob("*.duckdb"))  # sections may keep theirs in a subfolder (gateway/)
    if ledgers:
        page.heading("Ledgers")
        page.paragraph(
            "every decision and outcome the sections recorded; read one with `tokenomy ledger summary FILE`"
        )
        page.links([(p.relative_to(out).as_posix(), p.relative_to(out).as_posix(), size(p)) for p in ledgers])
    page.heading("Sections run")
    page.table(
        [
            {"section": name, "keys returned": ", ".join(sorted(v)[:12] if isinstance(v, dict) else [])}
            for name, v in sections.items()
        ]
    )
    return page.write(out / "index.html")
