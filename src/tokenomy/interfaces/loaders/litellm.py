"""Read LiteLLM spend logs (``LiteLLM_SpendLogs`` as JSON / JSONL / CSV, or ``StandardLoggingPayload``
JSONL) into an audit log. Malformed lines stop with file:line (``skip_bad`` skips and counts them).
A request id seen twice (a retry logged twice, overlapping exports) counts once: see ``gateway_log``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tokenomy.audit.importers.common import DEFAULT_PRICES, build_requests
from tokenomy.audit.importers.gateway import LABELS, litellm_rows
from tokenomy.audit.log import AuditLog, StepBuilder, latest_steps
from tokenomy.core.errors import SchemaError
from tokenomy.core.prices import PriceVector
from tokenomy.interfaces.loaders import reader
from tokenomy.interfaces.loaders.otlp import BadLines, json_records, malformed

__all__ = ["gateway_log", "load_gateway", "load_litellm", "records"]


def records(
    path: Path, skip_bad: bool, bad: BadLines, progress: Callable[[int], None] | None
) -> Iterator[tuple[str, Any]]:
    """(where, record) pairs of a CSV (header row), JSON or JSONL file, each maybe compressed
    (``.csv.gz`` is CSV); a name that says neither is read as JSON, and its first-line error says so."""
    if reader.data_suffix(path) == ".csv":
        for line, row in reader.csv_rows(path):  # line: the row's last physical line
            yield f"{path}:{line}", row
        return
    try:
        first = True
        for where, obj in json_records(path, skip_bad=skip_bad, bad=bad, progress=progress):
            first = False
            yield from _api_page(where, obj)
    except SchemaError as exc:
        if not first or reader.data_suffix(path) in (".json", ".jsonl"):
            raise
        raise SchemaError(
            f"{exc}; the name {path.name!r} does not say the format, so it was read as JSON: expected "
            ".csv, .json or .jsonl, each maybe compressed (.csv.gz, .jsonl.xz, ...)"
        ) from None


def _api_page(where: str, obj: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(obj, Mapping) and isinstance(obj.get("data"), list):  # an API page {"data": [...]}
        for i, x in enumerate(obj["data"]):
            yield f"{where} data[{i}]", x
    else:
        yield where, obj


def gateway_log(
    source: str,
    rows: list[dict[str, Any]],
    side: Mapping[str, Mapping[str, Any]] | None,
    defaults: PriceVector,
) -> AuditLog:
    """Audit log from step rows in file order: a repeated (request, step id) keeps its last copy (see
    ``latest_steps``); then ordered by (request, start time) and indexed within each request."""
    known: dict[str, dict[str, Any]] = {}
    for r in rows:  # request labels ride on the step rows: the first session and user, every tag
        lab = r.pop(LABELS, None)
        if lab:
            have = known.setdefault(str(r["request_id"]), {})
            for k, v in lab.items():
                if k == "tags" and isinstance(v, list | tuple):
                    have[k] = [*have.get(k, []), *v]
                elif v not in (None, "", []) and not have.get(k):
                    have[k] = v
    b = StepBuilder()
    b.extend(rows)
    steps = b.build()
    # the tool steps a LiteLLM record expands into repeat with it: only the records are counted
    keep, dups = latest_steps(steps, counted=np.asarray(steps.operation != "tool_call", dtype=bool))
    if keep.size < len(steps):
        steps = steps.select(keep)
    if len(steps):
        t = np.nan_to_num(steps.time_s, nan=0.0)
        steps = steps.select(np.lexsort((t, steps.request_id.astype(str))))
        rid = steps.request_id.astype(str)
        first = np.r_[True, rid[1:] != rid[:-1]]
        group_start = np.maximum.accumulate(np.where(first, np.arange(len(rid)), 0))
        object.__setattr__(steps, "index", np.arange(len(rid), dtype=np.int64) - group_start)
    caps = ["errors"] + (
        ["cache_tokens"]
        if (steps.cache_read_tokens > 0).any() or (steps.cache_write_tokens > 0).any()
        else []
    )
    if side:
        caps.append("outcomes")
    if (steps.kind == "tool").any():
        caps.append("action_classes")
    if (steps.confirmed >= 0).any():
        caps.append("confirmations")
    requests = build_requests(steps.request_id.tolist(), known, side, defaults)
    notes = (
        f"{source}: a request is a session / trace id when the log has one, else one call",
        *dups.note(source, "record"),
    )
    extra = {
        "capabilities": tuple(caps),
        "duplicates_dropped": dups.dropped,
        "duplicate_conflicts": dups.conflicts,
    }
    return AuditLog(source, steps, requests, notes, extra)


def load_gateway(
    source: str,
    row: Callable[[Mapping[str, Any], str], dict[str, Any] | list[dict[str, Any]]],
    paths: Sequence[str | Path] | str | Path,
    *,
    side: Mapping[str, Mapping[str, Any]] | None = None,
    defaults: PriceVector = DEFAULT_PRICES,
    skip_bad: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[AuditLog, BadLines]:
    """Import a gateway's records: ``row(record, where)`` maps one record to a step row (or several).
    ``paths`` is a list of files, or one file (a bare ``str`` or ``Path`` is one path, never its characters).

    Raises:
        SchemaError: a malformed line or record (file:line and reason), unless ``skip_bad``.
    """
    bad = BadLines()
    rows = []
    for path in reader.path_args(paths, f"load_{source}"):
        for where, rec in records(Path(path), skip_bad, bad, progress):
            try:
                try:
                    got = row(rec, where)
                except (TypeError, ValueError, OverflowError, AttributeError, KeyError) as exc:
                    if isinstance(exc, SchemaError):
                        raise
                    raise malformed(where, exc) from None
                rows.extend(got if isinstance(got, list) else [got])
            except SchemaError as exc:
                if not skip_bad:
                    raise
                bad.add(str(exc))
    return gateway_log(source, rows, side, defaults), bad


def load_litellm(
    paths: Sequence[str | Path] | str | Path,
    *,
    side: Mapping[str, Mapping[str, Any]] | None = None,
    defaults: PriceVector = DEFAULT_PRICES,
    skip_bad: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[AuditLog, BadLines]:
    """Import LiteLLM spend logs (see :func:`load_gateway`)."""
    return load_gateway(
        "litellm", litellm_rows, paths, side=side, defaults=defaults, skip_bad=skip_bad, progress=progress
    )
