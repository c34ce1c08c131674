"""``tokenomy audit INPUT...``: token-aware evaluation of LLM and agent logs (SPEC.md §4–5).

Reads OTLP JSON spans, LiteLLM spend logs, Langfuse observations, the real agent datasets or a
tokenomy ledger; prices every call (genai-prices, time-versioned; ``--prices`` overrides or a LiteLLM
price map first); runs the failure-mode detectors (over-delegation against the autonomy schedule,
``--schedule``, else the packaged default); prints a table per failure mode; writes the HTML
report (``--report``) and returns the JSON (``--json``, added by cli.py). A malformed input line stops
the import with file:line and nothing is written; ``--skip-bad`` skips and counts such lines. A log
input with no record at all (an empty file, a header-only CSV) is an error, not an all-zero report.
A flag that would change nothing is refused, naming where it applies: ``--v``/``--lam``/``--rho``/
``--labels`` with a ledger (its decisions carry their prices and outcomes), ``--skip-bad`` with a ledger
or an agent folder, ``--max-requests`` without ``--json``, ``--schedule`` when no call is a tool call.
The terminal summary (``summary``, ``verification_summary``, ``stopping_summary``, re-exported here)
lives in ``cmd_audit_summary``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tokenomy.audit.engine import AuditResult, run_audit
from tokenomy.audit.importers.common import DEFAULT_PRICES
from tokenomy.audit.log import AuditLog
from tokenomy.audit.pricing import ChainedPriceTable, GenaiPricesTable, PriceTable
from tokenomy.audit.report_audit import build_report
from tokenomy.core.errors import SchemaError, ValidationError
from tokenomy.core.prices import PriceSource, PriceVector
from tokenomy.interfaces.args import float_in, int_in, refuse_ignored
from tokenomy.interfaces.cmd_audit_summary import stopping_summary, summary, verification_summary
from tokenomy.interfaces.loaders import reader
from tokenomy.interfaces.outputs import atomic_write, check_output_path

__all__ = [
    "FORMATS",
    "audit_inputs",
    "register",
    "run",
    "stopping_summary",
    "summary",
    "verification_summary",
]

FORMATS = ("otlp", "litellm", "langfuse", "miniswe", "taubench", "ledger")


_AUDIT_TEXT = """\
Audit LLM and agent logs: price every call and find wasted or risky spending
(seven failure modes, e.g. over-delegation, runaway loops, over-long outputs).

Inputs: OTLP JSON spans, LiteLLM spend logs, Langfuse observations, a tokenomy
ledger, or an agent-run folder: a mini-swe-agent folder holding instances.csv and
steps.csv.gz, or a tau-bench folder holding episodes.csv and steps.csv.gz (the
folder may have any name). The format is guessed unless --format is given.

Prints a table per failure mode; writes an HTML report (--report) and JSON (--json).
A malformed input line stops the audit with its file and line, and nothing is
written; --skip-bad skips and counts such lines instead.

Examples:
  tokenomy audit spend_logs.csv --report audit.html
  tokenomy audit my_runs/ --format miniswe --json audit.json
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "audit",
        help="audit LLM / agent logs for the seven failure modes; HTML + JSON report",
        description=_AUDIT_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="log files, a data folder (miniswe/taubench) or a ledger"
    )
    p.add_argument("--format", choices=FORMATS, help="input format (default: guessed from the input)")
    p.add_argument(
        "--prices", metavar="FILE", help="price overrides (JSON/YAML with 'models') or a LiteLLM price map"
    )
    p.add_argument(
        "--labels", metavar="FILE", help="per-request V, λ, ρ, quality, harm (CSV/JSON/JSONL by request id)"
    )
    p.add_argument(
        "--v",
        type=float_in(0.0),
        help=f"default V, USD per unit of quality (default {DEFAULT_PRICES.v_usd:g})",
    )
    p.add_argument("--lam", type=float_in(0.0), help="default λ, USD per second (default 0)")
    p.add_argument(
        "--rho", type=float_in(0.0), help=f"default ρ, USD per harm unit (default {DEFAULT_PRICES.rho_usd:g})"
    )
    p.add_argument(
        "--schedule",
        metavar="TOML",
        help="autonomy schedule whose confirmation levels over-delegation checks (default: the packaged one)",
    )
    p.add_argument(
        "--unknown-zero", action="store_true", help="price models no table knows at 0 (else reported)"
    )
    p.add_argument(
        "--skip-bad", action="store_true", help="skip and count malformed lines instead of stopping"
    )
    p.add_argument("--report", metavar="HTML", help="write the HTML report here")
    p.add_argument(
        "--max-requests", type=int_in(0), default=None, help="per-request rows kept in the JSON (default all)"
    )
    p.set_defaults(func=run)


def _guess(path: Path) -> str:
    if path.is_dir():
        names = {x.name for x in path.iterdir()}
        if "trajs.jsonl.xz" in names or "miniswe_gemini3pro_swebv" in names or "instances.csv" in names:
            return "miniswe"
        if "episodes.csv" in names or "taubench_gpt4o_airline" in names:
            return "taubench"
        raise ValidationError(f"{path}: cannot guess the format of a folder; pass --format")
    if path.suffix in (".duckdb", ".db"):
        return "ledger"
    if reader.data_suffix(path) == ".csv":
        return "litellm"
    return _sniff(path)


def _first_record(path: Path) -> Any:
    """The first JSON record of a JSON Lines file or of a (small) whole document; None when unreadable."""
    import gzip
    import json

    opener: Any = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            head = f.read(1 << 16)
            if head.lstrip()[:1] != "[":
                first = next((ln for ln in head.splitlines() if ln.strip()), "")
                try:
                    return json.loads(first)
                except json.JSONDecodeError:
                    pass  # a pretty-printed document: read it whole below
            if path.stat().st_size > (8 << 20):
                return None
            f.seek(0)
            doc = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return doc[0] if isinstance(doc, list) and doc else doc


def _sniff(path: Path) -> str:
    """otlp, litellm or langfuse from the first record's fields (otlp when nothing tells)."""
    rec = _first_record(path) if path.is_file() else None
    if isinstance(rec, dict) and isinstance(rec.get("data"), list) and rec["data"]:
        rec = rec["data"][0]  # an API page
    if not isinstance(rec, dict) or "resourceSpans" in rec:
        return "otlp"
    if "traceId" in rec and "type" in rec:
        return "langfuse"
    if {"call_type", "spend", "response_cost", "model_group", "custom_llm_provider"} & set(rec):
        return "litellm"
    return "otlp"


def _defaults(args: argparse.Namespace) -> PriceVector:
    p = DEFAULT_PRICES
    for name, attr in (("v_usd", "v"), ("lam_usd_per_s", "lam"), ("rho_usd", "rho")):
        val = getattr(args, attr, None)
        if val is not None:
            p = p.with_prices(PriceSource.USER, **{name: float(val)})
    return p


class _Bar:
    """A tqdm byte-progress bar over the input files (shown from 16 MiB on), closed when the import ends."""

    def __init__(self, total: int, desc: str) -> None:
        from tqdm import tqdm

        self._bar = tqdm(
            total=total, unit="B", unit_scale=True, desc=desc, leave=False, disable=total < (16 << 20)
        )

    def __call__(self, n: int) -> None:
        self._bar.update(n)

    def close(self) -> None:
        self._bar.close()


def audit_inputs(
    inputs: list[str],
    fmt: str | None = None,
    *,
    prices_file: str | None = None,
    labels_file: str | None = None,
    defaults: PriceVector = DEFAULT_PRICES,
    unknown_zero: bool = False,
    skip_bad: bool = False,
    schedule_file: str | None = None,
) -> tuple[AuditResult, dict[str, Any]]:
    """Import, price and audit ``inputs``; return the result and its JSON payload (nothing written).

    Raises:
        SchemaError: malformed input (file:line), unless ``skip_bad``.
        ValidationError: an unknown format or an unreadable combination of inputs.
    """
    from tokenomy.interfaces.loaders.pricefiles import load_labels, load_price_file

    paths = [Path(x) for x in inputs]
    fmt = fmt or _guess(paths[0])
    side = load_labels(labels_file) if labels_file else None
    table: PriceTable = GenaiPricesTable()
    if prices_file:
        table = ChainedPriceTable([load_price_file(prices_file), table])
    skipped: dict[str, Any] = {"count": 0, "first": []}
    decisions: list[Any] = []
    outcomes: list[Any] = []
    total = sum(p.stat().st_size for p in paths if p.is_file())
    log: AuditLog
    ledger_vectors: list[dict[str, Any]] | None = None
    if fmt in ("otlp", "litellm", "langfuse"):
        from tokenomy.interfaces.loaders.langfuse import load_langfuse
        from tokenomy.interfaces.loaders.litellm import load_litellm
        from tokenomy.interfaces.loaders.otlp import load_otlp

        loader = {"otlp": load_otlp, "litellm": load_litellm, "langfuse": load_langfuse}[fmt]
        bar = _Bar(total, fmt)
        try:
            log, bad = loader(paths, side=side, defaults=defaults, skip_bad=skip_bad, progress=bar)
        finally:
            bar.close()
        skipped = {"count": bad.count, "first": bad.first}
        if not len(log.steps):
            why = f" ({bad.count} malformed line(s) skipped)" if bad.count else ""
            raise SchemaError(
                f"no records in {', '.join(map(str, paths))}{why}; expected at least one {fmt} record "
                "(the file is empty or holds only a header)"
            )
    elif fmt in ("miniswe", "taubench"):
        from tokenomy.audit.importers.agent_data import from_miniswe, from_taubench
        from tokenomy.interfaces.loaders.agent_data import load_miniswe, load_taubench

        if fmt == "miniswe":
            trajs = load_miniswe(paths[0])
            _check_miniswe(paths[0], trajs)
            log = from_miniswe(trajs, side=side, defaults=defaults)
        else:
            log = from_taubench(load_taubench(paths[0]), side=side, defaults=defaults)
    elif fmt == "ledger":
        from tokenomy.ledger.files import check_ledger_path

        for p in paths:  # every file named before any is read (a folder, a text file, an empty one)
            check_ledger_path(str(p), read_only=True)
        if len(paths) == 1:
            from tokenomy.interfaces.loaders.audit_ledger import read_ledger

            log, decisions, outcomes, ledger_vectors = read_ledger(paths[0])
        else:  # a request may span ledgers: every record, joined in memory
            from tokenomy.audit.importers.ledger import from_records
            from tokenomy.ledger import Ledger

            for p in paths:
                with Ledger(p, read_only=True) as ledger:
                    decisions += list(ledger.decisions())
                    outcomes += list(ledger.outcomes())
            log = from_records(decisions, outcomes)
    else:
        raise ValidationError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    from tokenomy.interfaces.loaders.agent_data import load_schedule

    schedule = load_schedule(schedule_file)  # a bad schedule file is named before it is found unused
    if schedule_file and not (log.steps.kind == "tool").any():
        raise ValidationError(
            f"--schedule {schedule_file} has no effect: the input holds no tool call (the schedule sets "
            "the confirmation level of tool calls; without it the packaged schedule is reported)"
        )
    source = schedule_file or "default_schedule.toml (packaged)"
    result = run_audit(
        log,
        table,
        unknown_zero=unknown_zero,
        decisions=decisions,
        outcomes=outcomes,
        schedule=schedule,
        schedule_source=source,
        ledger_vectors=ledger_vectors,
    )
    payload = result.as_dict()
    if side:
        unmatched = sorted(set(side) - set(result.log.requests.request_id.tolist()))
        if unmatched:
            payload["notes"].append(
                f"labels file: {len(unmatched)} of {len(side)} ids match no request in the input "
                f"(first: {', '.join(unmatched[:3])}); their labels were not used"
            )
    payload["schedule"] = {
        "source": source,
        "levels": {name: schedule.level(name) for name in schedule.classes},
        "unknown_level": schedule.unknown_level,
    }
    payload["inputs"] = [str(p) for p in paths]
    payload["format"] = fmt
    payload["skipped_lines"] = skipped
    return result, payload


def _check_miniswe(folder: Path, trajectories: Sequence[Any]) -> None:
    """Every instance listed in instances.csv must have its steps in steps.csv.gz (same run, whole)."""
    empty = [t.instance_id for t in trajectories if not t.steps]
    if not empty:
        return
    from tokenomy.interfaces.loaders.agent_data import MINISWE, MINISWE_FILES, resolve_file

    d = resolve_file(folder, MINISWE, MINISWE_FILES)
    n = len(trajectories)
    raise SchemaError(
        f"{d / 'steps.csv.gz'}: field 'instance_id': steps for only {n - len(empty)} of the {n} instances "
        f"listed in {d / 'instances.csv'} (none for {', '.join(empty[:3])}{', ...' if len(empty) > 3 else ''}); "
        "expected every listed instance to have its steps: the two files are from different runs, or one "
        "is truncated"
    )


_LOG_FORMATS = ("otlp", "litellm", "langfuse")
_PRICE_FLAGS = (("--v", "v"), ("--lam", "lam"), ("--rho", "rho"), ("--labels", "labels"))


def _refuse_ignored(args: argparse.Namespace, fmt: str) -> None:
    """Refuse a flag that would change nothing for ``fmt`` (or without ``--json``), naming where it acts."""
    not_ledger = f"has no effect with --format ledger (a ledger's decisions carry their own prices and \
outcomes); it applies to {', '.join(f for f in FORMATS if f != 'ledger')}"
    ledger_only = [(flag, getattr(args, name), not_ledger) for flag, name in _PRICE_FLAGS]
    not_lines = (
        f"has no effect with --format {fmt}; it applies to {', '.join(_LOG_FORMATS)} (line-based logs)"
    )
    no_json = "has no effect without --json (it limits the per-request rows of the JSON output)"
    refuse_ignored(
        *(ledger_only if fmt == "ledger" else []),
        ("--skip-bad", args.skip_bad if fmt not in _LOG_FORMATS else None, not_lines),
        ("--max-requests", args.max_requests if getattr(args, "json", None) is None else None, no_json),
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    check_output_path(args.report, "--report")
    fmt = args.format or _guess(Path(args.inputs[0]))
    _refuse_ignored(args, fmt)
    t0 = time.perf_counter()
    result, payload = audit_inputs(
        args.inputs,
        fmt,
        prices_file=args.prices,
        labels_file=args.labels,
        defaults=_defaults(args),
        unknown_zero=args.unknown_zero,
        skip_bad=args.skip_bad,
        schedule_file=args.schedule,
    )
    tot = payload["totals"]
    print(
        f"audited {tot['requests']:,} requests, {tot['steps']:,} steps ({payload['format']}) "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    summary(payload)
    if args.report:
        page = build_report(result, payload, subtitle=f"inputs: {', '.join(payload['inputs'])}")
        atomic_write(args.report, page.write)
        print(f"wrote {args.report}")
        payload["report"] = str(args.report)
    if args.max_requests is not None:
        payload["requests"] = payload["requests"][: args.max_requests]
    return payload
