"""Where tokenomy reads real data from: ``--data DIR``, else ``$TOKENOMY_DATA``, else ``../shared/data``.

The default is relative to the current directory (a checkout beside ``shared/``). Returns ``None``
when no folder exists, so callers can skip a data-dependent section with a clear reason.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_DATA", "resolve_data_dir"]

DEFAULT_DATA = Path("../shared/data")


def resolve_data_dir(arg: str | os.PathLike[str] | None = None) -> Path | None:
    """The data folder to use, or ``None`` when it does not exist."""
    for candidate in (arg, os.environ.get("TOKENOMY_DATA"), DEFAULT_DATA):
        if candidate:
            path = Path(candidate).expanduser()
            if path.is_dir():
                return path.resolve()
            if candidate is arg:
                return None
    return None
