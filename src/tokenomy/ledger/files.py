"""What stands at a path that tokenomy will write: nothing, a regular file, a folder, or something else.

``path_problem`` says, in a few words, why a path cannot take a file (or a folder) that tokenomy writes:
a device, a FIFO, a socket, a folder where a file is wanted (or the reverse), a symbolic link loop or a
dangling link. The ledger refuses such a path before DuckDB opens it, and the command outputs
(``interfaces.outputs``) before any work, so nothing is written through, replaced or deleted there.

Does not check permissions or free space.
"""

from __future__ import annotations

import errno
import stat
from pathlib import Path
from typing import Literal

__all__ = ["path_problem"]

_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


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
