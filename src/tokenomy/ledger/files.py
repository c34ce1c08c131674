"""What stands at a path that tokenomy will write: nothing, a regular file, a folder, or something else.

``path_problem`` says, in a few words, why a path cannot take a file (or a folder) that tokenomy writes:
a device, a FIFO, a socket, a folder where a file is wanted (or the reverse), a symbolic link loop or a
dangling link. The ledger refuses such a path before DuckDB opens it, and the command outputs
(``interfaces.outputs``) before any work, so nothing is written through, replaced or deleted there.

``check_ledger_path`` is the one check every opening of a ledger file goes through (``Ledger``,
``migrate.check_file``, and so every command's ``--ledger``, ``ledger summary/export`` and ``audit
--format ledger``): besides ``path_problem`` it reads the file's first bytes and refuses one that is not
a DuckDB database (a text, CSV or Parquet file) as "<path>: not a tokenomy DuckDB ledger (...)" before
DuckDB sees it; a DuckDB database without a tokenomy schema is refused in the same words by
``migrate.check_is_ledger``.

Does not check permissions or free space.
"""

from __future__ import annotations

import errno
import stat
from pathlib import Path
from typing import Literal

from tokenomy.core.errors import LedgerError

__all__ = ["NOT_A_LEDGER", "check_ledger_path", "path_problem", "path_text_problem"]

NOT_A_LEDGER = "not a tokenomy DuckDB ledger"
_DUCKDB_MAGIC = b"DUCK"  # at offset 8 of every DuckDB database file (after an 8-byte checksum)
_SIGNATURES = (
    (b"PAR1", "a Parquet file"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x1f\x8b", "a gzip file"),
    (b"PK\x03\x04", "a zip file"),
)

_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def path_text_problem(path: str | Path) -> str | None:
    """Why the text of ``path`` cannot name a file (a NUL character, or not UTF-8); ``None`` when it can."""
    text = str(path)
    if "\x00" in text:
        return "holds a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8 text (it holds a lone surrogate)"
    return None


def path_problem(path: str | Path, want: Literal["file", "dir"] = "file") -> str | None:
    """Why ``path`` cannot hold a regular file (``want="file"``) or a folder; ``None`` when it can.

    An absent path (nothing there, not even a link) passes; a link is followed to what it names.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        return "is a dangling symbolic link" if p.is_symlink() else None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop"
        return f"cannot be inspected ({exc.strerror})"
    if stat.S_ISDIR(st.st_mode):
        return None if want == "dir" else "is a folder, not a regular file"
    if stat.S_ISREG(st.st_mode):
        return None if want == "file" else "is a file, not a folder"
    for test, what in _KINDS:
        if test(st.st_mode):
            return f"is {what}, not a regular file" if want == "file" else f"is {what}, not a folder"
    return "is not a regular file" if want == "file" else "is not a folder"


def _what(head: bytes) -> str:
    """What a file that is not a DuckDB database looks like, from its first bytes."""
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            return what
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the head
            return "no DuckDB header"
    return "a text file"


def check_ledger_path(path: str, *, read_only: bool) -> None:
    """Refuse a path that cannot be opened as a ledger, before DuckDB opens it; change nothing.

    Passes: a DuckDB database file; for writing (``read_only=False``) also an absent or empty file
    (a ledger is created there).

    Raises:
        LedgerError: the path is not a regular file (``path_problem``), is absent or empty when read
            (``read_only``), cannot be read, or is not a DuckDB database: "<path>: not a tokenomy
            DuckDB ledger (a text file, not a DuckDB database)".
    """
    problem = path_problem(path)
    if problem:
        tail = "give a ledger file" if read_only else "give the path of a ledger file (or a new one)"
        raise LedgerError(f"ledger {path!r} {problem}; {tail}")
    file = Path(path)
    try:
        with file.open("rb") as fh:
            head = fh.read(512)
    except FileNotFoundError:
        if read_only:
            raise LedgerError(f"{path}: no such ledger file") from None
        return
    except OSError as exc:
        raise LedgerError(f"ledger {path!r} cannot be read ({exc.strerror})") from None
    if not head:
        if read_only:
            raise LedgerError(f"{path}: {NOT_A_LEDGER} (the file is empty)")
        return
    if head[8:12] != _DUCKDB_MAGIC:
        raise LedgerError(
            f"{path}: {NOT_A_LEDGER} ({_what(head)}, not a DuckDB database); "
            "give a ledger file written by tokenomy"
        )
