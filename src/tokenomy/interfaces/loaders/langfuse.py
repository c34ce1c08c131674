"""Read Langfuse observation exports (JSON list, ``{"data": [...]}`` API pages, or JSONL) into an audit
log. Malformed lines stop with file:line (``skip_bad`` skips and counts them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tokenomy.audit.importers.common import DEFAULT_PRICES
from tokenomy.audit.importers.gateway import langfuse_row
from tokenomy.audit.log import AuditLog
from tokenomy.core.prices import PriceVector
from tokenomy.interfaces.loaders.litellm import load_gateway
from tokenomy.interfaces.loaders.otlp import BadLines

__all__ = ["load_langfuse"]


def load_langfuse(
    paths: Sequence[str | Path] | str | Path,
    *,
    side: Mapping[str, Mapping[str, Any]] | None = None,
    defaults: PriceVector = DEFAULT_PRICES,
    skip_bad: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[AuditLog, BadLines]:
    """Import Langfuse observations, each trace one request (see :func:`load_gateway`)."""
    return load_gateway(
        "langfuse", langfuse_row, paths, side=side, defaults=defaults, skip_bad=skip_bad, progress=progress
    )
