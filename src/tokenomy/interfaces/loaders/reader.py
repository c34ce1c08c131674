"""The one file reader of the loaders: text of any compression, lines, JSON / JSONL / CSV rows, numbers.

Every loader in this package reads its files through these functions, so that bad input always ends
in one :class:`tokenomy.core.errors.SchemaError` whose message names the file, the line (and byte
offset or column where it helps), the field and the expected form, instead of a traceback:

* compression is detected from the first bytes (gzip ``1f 8b``, xz ``fd 37 7a 58 5a 00``, bzip2
  ``BZh``), not from the suffix; a truncated or corrupt stream names the line reached;
* text is UTF-8: a byte that does not decode names the line and the byte offset (in the
  decompressed stream);
* JSON errors name line and column; a number too long, a repeated key in one object or a document
  nested too deeply is an error; TOML and YAML (:func:`parse_toml`, :func:`parse_yaml`) likewise
  name the file and refuse a document nested too deeply;
* a UTF-8 byte-order mark at the start of a file is skipped (spreadsheet exports write one);
* a missing file, a directory, or a file that cannot be read is an error naming the path;
* :func:`int_field` / :func:`float_field` parse one field (finite, optional bounds);
* :func:`path_arg` / :func:`path_args` check a loader's path argument(s) before anything is opened.

Parsing only: no dataset facts, no repairs, no policy.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import json
import lzma
import math
import tomllib
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, cast

from tokenomy.core.errors import SchemaError, ValidationError

__all__ = [
    "CsvFile",
    "DuplicateKeyError",
    "compression",
    "csv_rows",
    "data_suffix",
    "float_field",
    "int_field",
    "iter_lines",
    "json_lines",
    "one_key_once",
    "open_binary",
    "parse_json",
    "parse_toml",
    "parse_yaml",
    "path_arg",
    "path_args",
    "read_json",
    "read_text",
]

_MAGIC = ((b"\x1f\x8b", "gzip"), (b"\xfd7zXZ\x00", "xz"), (b"BZh", "bzip2"))
_BOM = "\ufeff"
_STREAM_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error, lzma.LZMAError, OSError)


def _is_path(value: object) -> bool:
    return isinstance(value, str | Path) and str(value) != ""


def path_arg(value: object, func: str, arg: str = "path") -> Path:
    """``value`` as a Path, or a ValidationError naming the loader, the argument and the expected form.

    Raises:
        ValidationError: ``value`` is not a ``str`` or ``Path`` (None, a number, bytes, a list) or is "".
    """
    if not _is_path(value):
        raise ValidationError(f"{func}: {arg}={value!r}; expected a str or Path (a non-empty path)")
    return Path(cast(str | Path, value))


def path_args(value: object, func: str, arg: str = "paths") -> list[Path]:
    """The input files of a multi-file loader: one ``str``/``Path`` (never its characters) or a
    non-empty list or tuple of them.

    Raises:
        ValidationError: anything else (None, a number, bytes, an empty list, a list holding a non-path).
    """
    items = [value] if isinstance(value, str | Path) else value
    if not isinstance(items, list | tuple) or not items or not all(_is_path(p) for p in items):
        raise ValidationError(f"{func}: {arg}={value!r}; expected a str or Path, or a non-empty list of them")
    return [Path(p) for p in items]


def _check_file(path: Path) -> None:
    """Raise SchemaError unless ``path`` is a readable regular file."""
    if path.is_dir():
        raise SchemaError(f"{path}: is a directory; expected a file")
    if not path.exists():
        raise SchemaError(f"{path}: no such file")


COMPRESSED_SUFFIXES = (".gz", ".xz", ".bz2")


def data_suffix(path: Path) -> str:
    """The suffix naming the data format, behind a compression suffix: ``.csv`` for ``a.csv.gz``."""
    suffixes = [x.lower() for x in path.suffixes]
    if len(suffixes) > 1 and suffixes[-1] in COMPRESSED_SUFFIXES:
        return suffixes[-2]
    return suffixes[-1] if suffixes else ""


def compression(path: Path) -> str:
    """``"gzip"``, ``"xz"``, ``"bzip2"`` or ``"plain"``, from the file's first bytes.

    Raises:
        SchemaError: the path is missing, a directory, or cannot be read.
    """
    _check_file(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(6)
    except OSError as exc:
        raise SchemaError(
            f"{path}: cannot be read ({exc.strerror or exc}); expected a readable file"
        ) from None
    return next((kind for magic, kind in _MAGIC if head.startswith(magic)), "plain")


def open_binary(path: str | Path) -> IO[bytes]:
    """The decompressed bytes of ``path`` as a binary stream (compression detected by magic bytes).

    Raises:
        SchemaError: the path is missing, a directory, or cannot be read.
    """
    p = Path(path)
    kind = compression(p)
    if kind == "gzip":
        return cast(IO[bytes], gzip.open(p, "rb"))
    if kind == "xz":
        return cast(IO[bytes], lzma.open(p, "rb"))
    if kind == "bzip2":
        return cast(IO[bytes], bz2.open(p, "rb"))
    return p.open("rb")


def _stream_error(path: Path, where: str, exc: BaseException) -> SchemaError:
    kind = compression(path)
    if kind == "plain":
        return SchemaError(f"{path}: {where}: cannot be read ({exc}); expected a readable file")
    return SchemaError(
        f"{path}: {where}: truncated or corrupt {kind} stream ({exc}); expected a complete {kind} file"
    )


def _decode(path: Path, raw: bytes, lineno: int, offset: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SchemaError(
            f"{path}: line {lineno}: byte offset {offset + exc.start}: not UTF-8 ({exc.reason}); "
            "expected UTF-8 text"
        ) from None


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, text)`` for each line of ``path`` (line endings kept; 1-based).

    Raises:
        SchemaError: missing file, a directory, unreadable, not UTF-8 (line and byte offset), or a
            truncated / corrupt compressed stream (the line reached).
    """
    p = Path(path)
    lineno, offset = 0, 0
    with open_binary(p) as fh:
        try:
            for raw in fh:
                lineno += 1
                text = _decode(p, raw, lineno, offset)
                if lineno == 1:
                    text = text.removeprefix(_BOM)
                offset += len(raw)
                yield lineno, text
        except _STREAM_ERRORS as exc:
            raise _stream_error(p, f"after line {lineno}", exc) from None


def read_text(path: str | Path) -> str:
    """The whole text of ``path`` (any compression), with the errors of :func:`iter_lines`."""
    p = Path(path)
    try:
        with open_binary(p) as fh:
            raw = fh.read()
    except _STREAM_ERRORS as exc:
        raise _stream_error(p, "while reading", exc) from None
    try:
        return raw.decode("utf-8").removeprefix(_BOM)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise SchemaError(
            f"{p}: line {line}: byte offset {exc.start}: not UTF-8 ({exc.reason}); expected UTF-8 text"
        ) from None


class _OutOfRangeError(ValidationError):
    """A JSON number beyond a float's range (it would overflow wherever it is used)."""


class DuplicateKeyError(ValidationError, ValueError):
    """A key given twice in one JSON object (which value was meant is unknown); ``key`` names it. A
    ``ValueError`` too, so a JSON parser's callers that catch decoding errors catch it."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key {key[:100]!r} repeated in one object; give each key once")
        self.key = key


def one_key_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` of every JSON reader here (files, gateway bodies, MCP lines): a key given
    twice in one object raises :class:`DuplicateKeyError` (a ``ValueError``) instead of the last winning."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(key)
            seen.add(key)
    return obj


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > 308:
        raise _OutOfRangeError(text[:20] + "...")
    return int(text)


def _json_float(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise _OutOfRangeError(text[:30])
    return x


def parse_json(text: str, where: str, *, what: str = "not JSON") -> Any:
    """``json.loads(text)``, or a SchemaError naming ``where``, the line and the column.

    NaN and Infinity literals are accepted here (numeric fields reject them in :func:`float_field`);
    ``what`` opens the reason (the audit's messages say ``invalid JSON``).
    """
    try:
        return json.loads(text, parse_int=_json_int, parse_float=_json_float, object_pairs_hook=one_key_once)
    except DuplicateKeyError as exc:
        raise SchemaError(f"{where}: field {exc.key!r} is given twice; expected each key once") from None
    except _OutOfRangeError as exc:
        raise SchemaError(f"{where}: number {exc} is out of range; expected a finite number") from None
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{where}: {what} ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise SchemaError(f"{where}: JSON nested too deeply; expected a flat record") from None
    except ValueError as exc:  # e.g. an integer literal longer than Python's digit limit
        raise SchemaError(f"{where}: {what} ({exc})") from None


def parse_toml(text: str, where: str) -> dict[str, Any]:
    """``tomllib.loads(text)``, or a SchemaError naming ``where`` (with tomllib's line and column)."""
    try:
        return tomllib.loads(text.removeprefix(_BOM))
    except tomllib.TOMLDecodeError as exc:
        raise SchemaError(f"{where}: not valid TOML ({exc})") from None
    except RecursionError:
        raise SchemaError(f"{where}: TOML nested too deeply; expected a few levels of tables") from None


def parse_yaml(text: str, where: str) -> Any:
    """``yaml.safe_load(text)``, or a SchemaError naming ``where`` (one line, with YAML's position)."""
    import yaml

    try:
        return yaml.safe_load(text.removeprefix(_BOM))
    except yaml.YAMLError as exc:
        raise SchemaError(f"{where}: not valid YAML ({exc})".replace("\n", " ")) from None
    except RecursionError:
        raise SchemaError(f"{where}: YAML nested too deeply; expected a few levels of mappings") from None


def read_json(path: str | Path, *, what: str = "not JSON") -> Any:
    """One whole JSON document from ``path`` (any compression)."""
    p = Path(path)
    return parse_json(read_text(p), str(p), what=what)


def json_lines(
    path: str | Path, *, objects: bool = True, what: str = "not JSON"
) -> Iterator[tuple[int, Any]]:
    """Yield ``(line number, value)`` for each non-blank line of a JSON Lines file.

    Args:
        path: the file (any compression).
        objects: require each line to be a JSON object.

    Raises:
        SchemaError: the errors of :func:`iter_lines`, a line that is not JSON (line, column) or,
            with ``objects``, not an object.
    """
    p = Path(path)
    for lineno, text in iter_lines(p):
        if not text.strip():
            continue
        rec = parse_json(text, f"{p}: line {lineno}", what=what)
        if objects and not isinstance(rec, dict):
            raise SchemaError(
                f"{p}: line {lineno}: expected a JSON object per line, got {type(rec).__name__}"
            )
        yield lineno, rec


class CsvFile:
    """A CSV file with a header row, read as ``(line number, row)`` pairs (``with CsvFile(p) as f``).

    ``fieldnames`` is known on entering; rows with more or fewer fields than the header are an
    error (naming the line), so a row's values are always strings.
    """

    def __init__(self, path: str | Path, required: tuple[str, ...] = ()) -> None:
        self.path = Path(path)
        self.required = required
        self.fieldnames: list[str] = []
        self._lines: Iterator[tuple[int, str]] | None = None
        self._reader: csv.DictReader[str] | None = None

    def __enter__(self) -> CsvFile:
        self._lines = iter_lines(self.path)
        self._reader = csv.DictReader(text for _, text in self._lines)
        try:
            self.fieldnames = list(self._reader.fieldnames or [])
        except csv.Error as exc:
            raise SchemaError(f"{self.path}: line 1: not a valid CSV header ({exc})") from None
        if not self.fieldnames:
            raise SchemaError(f"{self.path}: empty file; expected a CSV header row")
        missing = [c for c in self.required if c not in self.fieldnames]
        if missing:
            raise SchemaError(
                f"{self.path}: line 1: missing column(s) {missing}; expected at least {list(self.required)}"
            )
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._lines is not None:
            self._lines.close()  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        assert self._reader is not None, "use CsvFile as a context manager"
        reader = self._reader
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise SchemaError(f"{self.path}: line {reader.line_num}: not valid CSV ({exc})") from None
            if None in row or any(v is None for v in row.values()):
                extra: Any = row.get(None) or []
                got = sum(k is not None and v is not None for k, v in row.items()) + len(extra)
                raise SchemaError(
                    f"{self.path}: line {reader.line_num}: {got} field(s); expected "
                    f"{len(self.fieldnames)} (one per header column)"
                )
            yield reader.line_num, row


def csv_rows(path: str | Path, required: tuple[str, ...] = ()) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line number, row)`` of a CSV file (any compression) after checking its header."""
    with CsvFile(path, required) as f:
        yield from f


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bounds(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" in [{lo:g}, {hi:g}]"
    if lo is not None:
        return f" ≥ {lo:g}"
    return f" ≤ {hi:g}" if hi is not None else ""


def float_field(
    value: Any, where: str, name: str, *, lo: float | None = None, hi: float | None = None
) -> float:
    """``value`` as a finite float within ``[lo, hi]``, else a SchemaError naming ``where`` and ``name``.

    Accepts numbers and numeric strings; rejects booleans, NaN, ±inf, and values out of bounds.
    """
    want = f"a finite number{_bounds(lo, hi)}"
    if isinstance(value, bool):
        raise SchemaError(f"{where}: field {name!r}={_show(value)}; expected {want}")
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise SchemaError(f"{where}: field {name!r}={_show(value)}; expected {want}") from None
    if not math.isfinite(x) or (lo is not None and x < lo) or (hi is not None and x > hi):
        raise SchemaError(f"{where}: field {name!r}={_show(value)}; expected {want}")
    return x


def int_field(value: Any, where: str, name: str, *, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as a whole number (``3`` or ``3.0``) within ``[lo, hi]``, else a SchemaError naming it."""
    want = f"a finite whole number{_bounds(lo, hi)}"
    if isinstance(value, bool):
        raise SchemaError(f"{where}: field {name!r}={_show(value)}; expected {want}")
    x: int | None = value if isinstance(value, int) else None
    if isinstance(value, str):
        try:
            x = int(value.strip())
        except ValueError:
            x = None
    if x is None:
        try:
            f = float_field(value, where, name)
        except SchemaError:
            f = math.nan
        if not f.is_integer():
            raise SchemaError(f"{where}: field {name!r}={_show(value)}; expected {want}")
        x = int(f)
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        raise SchemaError(f"{where}: field {name!r}={_show(value)}; expected {want}")
    return x
