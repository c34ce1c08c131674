"""Read OTLP JSON trace files (the OpenTelemetry collector file-exporter format) into an audit log.

A file holds one ``ExportTraceServiceRequest`` JSON object per line (JSON Lines, optionally gzip), or,
when it is named ``*.json`` or starts with ``[``, one whole JSON document (a request or a list of them). ``json_records`` is the shared reader for
the JSON / JSONL inputs of the audit (also used by the LiteLLM and Langfuse loaders): a malformed line
stops the import with ``file:line`` and the reason; with ``skip_bad`` such lines are skipped and
counted instead. Nothing is written anywhere: the caller writes outputs only after a clean import.
"""

from __future__ import annotations

import codecs
import lzma
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokenomy.audit.importers.otlp import OtlpImporter
from tokenomy.audit.log import AuditLog
from tokenomy.core.errors import SchemaError
from tokenomy.core.prices import PriceVector
from tokenomy.interfaces.loaders import reader

__all__ = ["BadLines", "json_records", "load_otlp", "malformed"]


@dataclass
class BadLines:
    """Lines skipped with ``skip_bad``: how many, and the first few reasons."""

    count: int = 0
    first: list[str] = field(default_factory=list)

    def add(self, reason: str) -> None:
        """Count one skipped line."""
        self.count += 1
        if len(self.first) < 10:
            self.first.append(reason)


def json_records(
    path: str | Path,
    *,
    skip_bad: bool = False,
    bad: BadLines | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[tuple[str, Any]]:
    """Yield ``(where, object)`` for each JSON record of a file: each line of a JSON Lines file, or the
    elements of a whole-document JSON list (or the document itself).

    Raises:
        SchemaError: a line is not valid JSON (names ``file:line``), unless ``skip_bad``.
    """
    p = Path(path)
    whole = p.name.endswith((".json", ".json.gz"))
    if not whole:
        with reader.open_binary(p) as fh:
            try:
                whole = fh.read(4096).lstrip()[:1] == b"["
            except (EOFError, OSError, lzma.LZMAError, zlib.error):
                whole = False  # the line reader below names the corrupt stream and the line
    if whole:
        doc = reader.read_json(p, what="invalid JSON")
        items = doc if isinstance(doc, list) else [doc]
        for i, item in enumerate(items):
            yield f"{p} record {i}", item
        if progress:
            progress(p.stat().st_size)
        return
    for lineno, line in reader.iter_lines(p):
        if progress:
            progress(len(line))
        if not line.strip():
            continue
        try:
            obj = reader.parse_json(line, f"{p}:{lineno}", what="invalid JSON")
        except SchemaError as exc:
            if not skip_bad:
                raise
            if bad is not None:
                bad.add(str(exc))
            continue
        yield f"{p}:{lineno}", obj


def malformed(where: str, exc: BaseException) -> SchemaError:
    """A record the importer could not convert (a value of the wrong type or out of range), as a SchemaError."""
    return SchemaError(
        f"{where}: malformed record ({type(exc).__name__}: {exc}); expected the documented field types "
        "(finite numbers, integer token counts, strings for ids)"
    )


_BLOCK_BYTES = 16 << 20  # Arrow's JSON block: a line longer than this sends the file to the row importer


def _is_utf8(path: Path) -> bool:
    """Whether the (decompressed) file is valid UTF-8 (Arrow would accept bad bytes inside strings)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with reader.open_binary(path) as fh:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except (UnicodeDecodeError, EOFError, OSError, lzma.LZMAError, zlib.error):
        return False  # the row importer names the line and the problem
    return True


def _fast_file(imp: OtlpImporter, path: Path, progress: Callable[[int], None] | None) -> bool:
    """Import one JSON Lines file with the vectorised importer; False when the row importer must."""
    import pyarrow as pa
    import pyarrow.json as pj

    from tokenomy.audit.importers.otlp_arrow import UnsupportedError, steps_from_table

    if not path.is_file() or path.name.endswith((".json", ".json.gz")) or not _is_utf8(path):
        return False
    try:
        with pa.input_stream(str(path), compression="detect") as src:
            head = src.read(4096).lstrip()
        if head[:1] != b"{":
            return False
        with pa.input_stream(str(path), compression="detect") as src:
            table = pj.read_json(src, read_options=pj.ReadOptions(block_size=_BLOCK_BYTES))
        steps, starts, labels = steps_from_table(table)
    except (pa.ArrowException, UnsupportedError, OSError):
        return False
    imp.add_steps(steps, starts, labels)
    if progress:
        progress(path.stat().st_size)
    return True


def load_otlp(
    paths: Sequence[str | Path] | str | Path,
    *,
    side: Mapping[str, Mapping[str, Any]] | None = None,
    defaults: PriceVector | None = None,
    skip_bad: bool = False,
    progress: Callable[[int], None] | None = None,
    fast: bool = True,
) -> tuple[AuditLog, BadLines]:
    """Import OTLP JSON / JSONL files.

    A clean JSON Lines file goes through the vectorised importer (Arrow parses it on all cores);
    anything that importer cannot map exactly, and every malformed line, is re-read by the row
    importer, which gives the same log or names ``file:line`` and the reason.

    Args:
        paths: files to read (``.jsonl``, ``.json``, optionally ``.gz``); a bare ``str`` or ``Path`` is one file.
        side: per-trace labels from a side file (trace id -> {v_usd, quality, ...}).
        defaults: prices for traces with none.
        skip_bad: skip (and count) malformed lines instead of stopping.
        progress: called with the number of bytes read since the last call.
        fast: try the vectorised importer first (False: the row importer only).

    Returns:
        The audit log and the skipped lines.

    Raises:
        SchemaError: a malformed line or record (``file:line`` and the reason) when not ``skip_bad``.
    """
    imp = OtlpImporter() if defaults is None else OtlpImporter(defaults=defaults)
    bad = BadLines()
    for path in reader.path_args(paths, "load_otlp"):
        if fast and _fast_file(imp, path, progress):
            continue
        for where, obj in json_records(path, skip_bad=skip_bad, bad=bad, progress=progress):
            try:
                try:
                    imp.add(obj, where)
                except (TypeError, ValueError, OverflowError, AttributeError, KeyError) as exc:
                    if isinstance(exc, SchemaError):
                        raise
                    raise malformed(where, exc) from None
            except SchemaError as exc:
                if not skip_bad:
                    raise
                bad.add(str(exc))
    log = imp.finish(side)
    caps = ["outcomes"] if any(v for v in (side or {}).values()) else []
    steps = log.steps
    if (steps.cache_read_tokens > 0).any() or (steps.cache_write_tokens > 0).any():
        caps.append("cache_tokens")
    if (steps.confirmed >= 0).any():
        caps.append("confirmations")
    if (steps.malformed).any():
        caps.append("malformed")
    caps.append("errors")
    if (steps.action_class != "").any() and (steps.kind == "tool").any():
        caps.append("action_classes")
    extra = dict(log.extra, capabilities=tuple(caps))
    return AuditLog(log.source, log.steps, log.requests, log.notes, extra), bad
