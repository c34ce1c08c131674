"""Read Langfuse observation exports (JSON list, ``{"data": [...]}`` API pages, or JSONL) into an audit
log. Malformed lines stop with file:line (``skip_bad`` skips and counts them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tokenomy.audit.importers.common import DEFAULT_PRICES
from tokenomy.audit.importers.gateway import langfuse_row
from tokenomy.audit.log import AuditLog
from tokenomy.core.errors import SchemaError
from tokenomy.core.prices import PriceVector
from tokenomy.interfaces.loaders.litellm import gateway_log, records
from tokenomy.interfaces.loaders.otlp import BadLines

__all__ = ["load_langfuse"]


def load_langfuse(
    paths: Sequence[str | Path],
    *,
    side: Mapping[str, Mapping[str, Any]] | None = None,
    defaults: PriceVector = DEFAULT_PRICES,
    skip_bad: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[AuditLog, BadLines]:
    """Import Langfuse observations (each trace is one request).

    Raises:
        SchemaError: a malformed line or record (file:line and reason), unless ``skip_bad``.
    """
    bad = BadLines()
    rows = []
    for path in paths:
        for where, rec in records(Path(path), skip_bad, bad, progress):
            try:
                rows.append(langfuse_row(rec, where))
            except SchemaError as exc:
                if not skip_bad:
                    raise
                bad.add(str(exc))
    return gateway_log("langfuse", rows, side, defaults), bad
