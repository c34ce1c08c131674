"""File-level helpers shared by the agent-dataset loaders (:mod:`.agent_data`, :mod:`.agent_taubench`).

:func:`resolve_file` finds a dataset folder from whatever the user points at (the data root,
``<root>/agent`` or the folder itself); :func:`csv_rows` reads a CSV (any compression) through :mod:`.reader`
after checking its header, so a truncated or corrupt stream is a :class:`SchemaError` that names
the file and the line reached; :func:`num` and :func:`flag` parse one field or name it in
the error. Parsing only: no dataset facts and no policy here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tokenomy.core.errors import SchemaError
from tokenomy.interfaces.loaders import reader

__all__ = ["csv_rows", "flag", "num", "resolve_file"]


def resolve_file(folder: str | Path, name: str, files: tuple[str, ...] = ()) -> Path:
    """The folder of the agent dataset ``name``, found from the data root, ``<root>/agent`` or itself.

    Args:
        folder: the data root (``<root>/agent/<name>`` below it), the ``agent`` folder, or the
            dataset folder itself, whatever it is called (it qualifies by holding every one of ``files``).
        name: the dataset's bundled folder name, e.g. ``"miniswe_gemini3pro_swebv"``.
        files: the files a dataset folder holds (e.g. ``("instances.csv", "steps.csv.gz")``); a folder
            of any name that holds all of them is the dataset folder.

    Returns:
        The dataset folder (its files are ``<returned>/<file>``, e.g. ``steps.csv.gz``).

    Raises:
        SchemaError: no candidate folder holds the files and none is called ``name`` (the message
            names ``folder`` and the files expected).
    """
    folder = Path(folder)
    cands = (folder, folder / name, folder / "agent" / name)
    if files:
        for cand in cands:
            if cand.is_dir() and all((cand / f).is_file() for f in files):
                return cand
    for cand in cands:
        if cand.is_dir() and cand.name == name:
            return cand
    holding = f", or a folder holding {' and '.join(files)}" if files else ""
    raise SchemaError(
        f"agent dataset folder {name!r} not found under {folder} (expected <data>/agent/{name}{holding})"
    )


def csv_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) of a CSV (any compression, detected from its bytes) after checking its header.

    Raises:
        SchemaError: the file is missing, lacks a required column, is not valid UTF-8 CSV, has a row
            of the wrong width, or its compressed stream is cut short or corrupt (the line reached is named).
    """
    return reader.csv_rows(path, required)


def num(
    path: Path,
    line: int,
    row: dict[str, str],
    key: str,
    kind: type[int] | type[float],
    *,
    lo: float | None = None,
) -> Any:
    """``row[key]`` as a finite ``kind`` ≥ ``lo`` (an int may be written ``3.0``), or a SchemaError naming file:line and field."""
    where = f"{path}: line {line}"
    if kind is int:
        return reader.int_field(row.get(key), where, key, lo=None if lo is None else int(lo))
    return reader.float_field(row.get(key), where, key, lo=lo)


def flag(path: Path, line: int, row: dict[str, str], key: str) -> bool | None:
    """``row[key]`` as a boolean (0/1/True/False), None when empty, or a SchemaError naming the field."""
    value = (row.get(key) or "").strip()
    if value == "":
        return None
    if value in ("1", "1.0", "True", "true"):
        return True
    if value in ("0", "0.0", "False", "false"):
        return False
    raise SchemaError(f"{path}: line {line}: field {key!r}={value!r}; expected 0/1/True/False or empty")
