"""Command outputs, all or nothing: paths checked before the work, files and ledgers replaced whole.

A command checks every output path it was given (``check_output_path``) before it reads data or
simulates, so a typo costs nothing. Reports and JSON go through ``atomic_write``: a temporary file in the
target folder, renamed into place once complete, removed on any failure (an interrupt included), so a
reader never sees half a file. A ledger is written last, by ``ledger_step``: the appends (decisions and
outcomes together) are one ledger transaction, committed only when every append succeeded; the file
stays locked meanwhile so no other writer's rows interleave. ``refuse_recorded`` refuses a run
the ledger already holds (a rerun would count it twice).

Does not validate the content written; a command's options are checked by the command.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from tokenomy.core.errors import LedgerError, ValidationError
from tokenomy.ledger import Ledger
from tokenomy.ledger.files import path_problem
from tokenomy.ledger.migrate import check_file

__all__ = [
    "atomic_write",
    "check_inputs_readable",
    "check_ledger_arg",
    "check_output_path",
    "check_outputs_apart",
    "ledger_step",
    "refuse_recorded",
    "remove_stale",
    "write_json",
    "write_results_json",
]

T = TypeVar("T")


def check_output_path(
    path: str | Path | None, option: str, kind: Literal["file", "dir"] = "file", *, parents: bool = False
) -> None:
    """Refuse an output path that cannot be written, before any work; ``None`` (not asked) passes.

    A file needs an existing, writable parent folder and must not be a folder; a folder must be a folder
    (or absent, under a writable parent) and not a file. With ``parents`` (a folder the command creates
    with its parents), the nearest existing ancestor must be a writable folder.

    Raises:
        ValidationError: one line naming ``option``, the path and what is wrong.
    """
    if path is None or path == "":
        return
    p = Path(path)
    if kind == "file" and (p.is_dir() or str(path).endswith(os.sep)):
        raise ValidationError(f"{option}: {str(path)!r} is a folder; give a file path")
    problem = path_problem(p, kind)
    if problem:
        what = "a file path" if kind == "file" else "a folder"
        raise ValidationError(f"{option}: {str(path)!r} {problem}; give {what}")
    if kind == "dir" and p.is_dir():
        if not os.access(p, os.W_OK | os.X_OK):
            raise ValidationError(f"{option}: folder {str(path)!r} is not writable")
        return
    parent = p.parent
    while parents and not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ValidationError(f"{option}: folder {str(parent)!r} of {str(path)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValidationError(f"{option}: folder {str(parent)!r} of {str(path)!r} is not writable")
    if p.exists() and not os.access(p, os.W_OK):
        raise ValidationError(f"{option}: {str(path)!r} is not writable")


OUTPUT_OPTIONS: dict[str, Literal["file", "dir"]] = {"json": "file", "report": "file", "out": "dir"}
"""The parsed options (argparse dests) a command writes to; every other path-valued option is read."""


def _resolved(path: str) -> Path | None:
    try:
        return Path(path).expanduser().resolve()
    except (OSError, RuntimeError):  # a symbolic link loop: refused by check_output_path on its own
        return None


def _same(a: str, b: str) -> bool:
    ra, rb = _resolved(a), _resolved(b)
    if ra is not None and ra == rb:
        return True
    try:
        return os.path.samefile(a, b)  # hard links too
    except OSError:
        return False


def _inputs(args: Any, names: dict[str, str]) -> list[tuple[str, str]]:
    """(option, path) of every parsed value that names an existing path (each item of a comma list),
    and the ledger path even when it does not exist yet."""
    found = []
    for dest, value in vars(args).items():
        if dest in OUTPUT_OPTIONS or dest == "func" or dest.endswith("command"):
            continue
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            if not isinstance(v, str | Path):
                continue
            for part in str(v).split(",") if isinstance(v, str) else [str(v)]:
                if part and (os.path.lexists(part) or dest == "ledger"):
                    found.append((names.get(dest, f"--{dest.replace('_', '-')}"), part))
    return found


def check_outputs_apart(args: Any, names: dict[str, str] | None = None) -> None:
    """Refuse an output (``--json``, ``--report``, ``--out``) that would overwrite an input or the ledger.

    An output file may not be the same file as any input path or the ledger (links resolved, hard links
    compared with ``os.path.samefile``) or another output, nor an existing file inside an input folder;
    an output folder may not be an input folder. Checked once for every command, before any work.
    ``names`` maps an argparse dest to the option (or positional) it came from, for the message.

    Raises:
        ValidationError: one line naming both options and paths.
    """
    inputs = _inputs(args, names or {})
    seen: list[tuple[str, str]] = []
    for dest, kind in OUTPUT_OPTIONS.items():
        out = getattr(args, dest, None)
        if not isinstance(out, str | Path) or not str(out):
            continue
        out, option = str(out), f"--{dest}"
        for other, path in [*inputs, *seen]:
            if _same(out, path):
                what = "folder" if kind == "dir" else "file"
                raise ValidationError(
                    f"{option}: {out!r} is the same {what} as {other} {path!r}; give another output path"
                )
            folder, target = _resolved(path), _resolved(out)
            inside = bool(folder and target and target.is_file() and target.is_relative_to(folder))
            if kind == "file" and inside and Path(path).is_dir() and (other, path) in inputs:
                raise ValidationError(
                    f"{option}: {out!r} is an existing file inside {other} {path!r}; writing it would "
                    "replace an input: give a path outside that folder"
                )
        seen.append((option, out))


def check_inputs_readable(args: Any, names: dict[str, str] | None = None) -> None:
    """Refuse, before any work, an empty output path and an input that is neither a file nor a folder.

    An output option (``--json``, ``--report``, ``--out``, ``--ledger``) given as ``''`` would write
    nothing or write into the current folder; an input path naming a FIFO, a device or a socket would
    block the command on open. ``names`` maps an argparse dest to its option, as in
    ``check_outputs_apart``.

    Raises:
        ValidationError: one line naming the option, the path and what is wrong.
    """
    names = names or {}
    for dest in (*OUTPUT_OPTIONS, "ledger"):
        if getattr(args, dest, None) == "":
            option = names.get(dest, f"--{dest}")
            raise ValidationError(
                f"{option}: empty path; give a {'folder' if dest == 'out' else 'file'} path"
            )
    for option, path in _inputs(args, names):
        if option == names.get("ledger", "--ledger") and not os.path.lexists(path):
            continue  # a ledger still to be created: check_ledger_arg checks it
        problem = path_problem(path)
        if problem and not problem.startswith("is a folder"):
            raise ValidationError(f"{option}: {path!r} {problem}; give a regular file or a folder")


def check_ledger_arg(args: Any) -> None:
    """Check a command's ``--ledger`` before any work: a writable regular-file path, and an existing
    file a sound ledger (``ledger.migrate.check_file``: schema version, every table and column).

    Raises:
        ValidationError | LedgerError: one line naming the file and what is wrong.
    """
    path = getattr(args, "ledger", None)
    if isinstance(path, str | Path) and str(path):
        check_output_path(path, "--ledger")
        check_file(str(path))


def remove_stale(*paths: str | Path) -> None:
    """Remove an output of an earlier run (a fixed-name file a command rewrites); absent ones pass.

    Only a regular file is removed: a device, a FIFO, a folder or a link loop at that path is refused.

    Raises:
        ValidationError: a path exists and is not a regular file (nothing was removed).
    """
    for path in paths:
        problem = path_problem(path)
        if problem:
            raise ValidationError(f"{str(path)!r} {problem}; not removed: move it away and rerun")
    for path in paths:
        Path(path).unlink(missing_ok=True)


def _temp_path(target: Path) -> Path:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    os.unlink(tmp)  # the writer creates it (DuckDB refuses to open a file that is not a database)
    return Path(tmp)


def _remove(*paths: Path) -> None:
    for p in paths:
        if p.exists():
            p.unlink()


def atomic_write(path: str | Path, writer: Callable[[Path], object]) -> None:
    """Call ``writer(tmp)`` on a temporary path beside ``path``, then rename it to ``path``.

    The temporary file is removed whatever goes wrong (an exception or an interrupt, which propagates);
    ``path`` then is as it was. A ``path`` that is not a regular file (a device, a FIFO, a folder) is
    refused, never replaced.

    Raises:
        ValidationError: ``path`` exists and is not a regular file.
    """
    target = Path(path)
    problem = path_problem(target)
    if problem:
        raise ValidationError(f"{str(path)!r} {problem}; not replaced")
    tmp = _temp_path(target)
    try:
        writer(tmp)
        os.replace(tmp, target)
    finally:
        _remove(tmp)


def _finite(x: Any) -> Any:
    """``x`` with numpy values as Python ones and every NaN or infinity as ``None`` (JSON null)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    if hasattr(x, "tolist") and callable(x.tolist):  # numpy scalars and arrays
        return _finite(x.tolist())
    if hasattr(x, "item") and callable(x.item):
        return _finite(x.item())
    return x


def _unknown(x: Any) -> Any:
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")


def write_json(path: str | Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON (numpy values converted; NaN and ±inf become null), atomically.

    Non-finite numbers are replaced value by value, so a string that contains "NaN" is written as it is.
    """
    text = json.dumps(_finite(payload), indent=2, default=_unknown, allow_nan=False)
    atomic_write(path, lambda tmp: tmp.write_text(text + "\n"))


def write_results_json(args: Any, payload: Any) -> None:
    """Write ``--json`` now (a command that writes a ledger does so before it) and tell ``cli.main``."""
    if getattr(args, "json", None):
        write_json(args.json, payload)
        print(f"wrote {args.json}")
        args.json_written = True


def refuse_recorded(ledger: Ledger, request_id: str, what: str) -> None:
    """Raise if ``ledger`` already holds a decision of ``request_id`` (this run was recorded before).

    Raises:
        LedgerError: naming the ledger, the run ``what`` and the request.
    """
    if next(ledger.decisions(request_id), None) is not None:
        raise LedgerError(
            f"ledger {ledger.path} already records this run ({what}; request {request_id!r}); writing "
            "again would count it twice: give a new --ledger path or remove the file"
        )


def ledger_step(path: str | Path, write: Callable[[Ledger], T]) -> T:
    """Run ``write`` on the ledger at ``path`` (a new one if absent) as one ledger transaction.

    Every append of ``write`` (decisions and outcomes) lands together or not at all
    (``Ledger.transaction``): on any failure or interrupt the transaction rolls back and ``path`` is as
    it was; a ledger this step created is removed again. The file stays locked for the step, so no other
    process appends in between.

    Raises:
        LedgerError: ``path`` is not a ledger, or an append was refused (``write``'s own errors).
    """
    target = Path(path)
    created = not os.path.lexists(target)  # only a file this step creates may be removed again
    was_empty = not created and target.is_file() and target.stat().st_size == 0
    done = False
    try:
        with Ledger(target) as ledger, ledger.transaction():
            result = write(ledger)
        done = True
        return result
    finally:
        if not done and (created or was_empty):
            _remove(target, Path(f"{target}.wal"))
            if was_empty:  # the empty file it found (replaced by a fresh ledger on open) is put back
                target.write_bytes(b"")
