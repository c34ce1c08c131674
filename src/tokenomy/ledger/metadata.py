"""Free-form metadata of ledger records: what JSON holds faithfully, checked before anything is written.

The ledger stores a record's metadata as JSON text (``metadata_json``). Accepted: string keys; values
that are None, booleans, integers, finite floats, strings, and lists, tuples and dicts of these, at
most ``MAX_DEPTH`` levels deep. Refused with one ``ValidationError`` naming the record and the key
path (``x.y[2]``): NaN and ±inf (not JSON numbers: readers of the file refuse them), a key that is not
a string (JSON would turn ``1`` into ``"1"``, so it would not read back), any other type (bytes, sets,
objects, NumPy integers) and deeper nesting (a cycle included).

Does not limit the size of the metadata. No I/O.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from tokenomy.core.errors import ValidationError

__all__ = ["MAX_DEPTH", "check_metadata", "metadata_json"]

MAX_DEPTH = 64

_EXPECTED = (
    "metadata must be JSON-serialisable (strings, finite numbers, booleans, None, lists, dicts with "
    "string keys; "
    f"at most {MAX_DEPTH} levels deep)"
)


def _problem(value: Any, path: str, depth: int) -> tuple[str, str] | None:
    """(key path, what is wrong) of the first value under ``value`` JSON cannot hold; None if all can."""
    if value is None or isinstance(value, (str, int)):  # bool is an int
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, f"holds {value!r}, not a JSON number")
    if not isinstance(value, (dict, list, tuple)):
        return path, f"holds a value of type {type(value).__name__!r}"
    if depth >= MAX_DEPTH:
        return path, f"is nested deeper than {MAX_DEPTH} levels"
    if isinstance(value, dict):
        return _mapping_problem(value, path, depth)
    for i, item in enumerate(value):
        found = _problem(item, f"{path}[{i}]", depth + 1)
        if found:
            return found
    return None


def _mapping_problem(value: Mapping[Any, Any], path: str, depth: int) -> tuple[str, str] | None:
    for key, item in value.items():
        if not isinstance(key, str):
            where = f"{path}[{key!r}]" if path else repr(key)
            return where, f"is a {type(key).__name__} key, not a string"
        found = _problem(item, f"{path}.{key}" if path else key, depth + 1)
        if found:
            return found
    return None


def check_metadata(meta: Mapping[Any, Any], where: str) -> None:
    """Refuse ``meta`` unless JSON holds every key and value faithfully (module docstring).

    Raises:
        ValidationError: naming ``where`` (the record) and the key path of the first bad value.
    """
    found = _mapping_problem(meta, "", 1)
    if found:
        path, what = found
        raise ValidationError(f"metadata of {where}: key {path!r} {what}; {_EXPECTED}")


def metadata_json(meta: Mapping[str, Any], where: str) -> str:
    """``meta`` as compact, key-sorted JSON, after ``check_metadata``.

    Raises:
        ValidationError: ``meta`` holds something JSON cannot hold faithfully (the message names ``where``).
    """
    check_metadata(meta, where)
    try:
        return json.dumps(dict(meta), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:  # a subclass that serialises itself otherwise
        raise ValidationError(f"metadata of {where} must be JSON-serialisable: {exc}") from None
