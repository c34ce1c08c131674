"""Save and load a fitted router as data: ``router.json`` (parameters, structure) + ``arrays.npz``.

The format is versioned (``FORMAT``, ``VERSION``) and non-executable: no pickle. The JSON holds
plain values, tuples, sets, dicts, numpy scalars, sparse CSR matrices and objects of tokenomy's own
classes (module and name, and their fields); every numpy array lives in ``arrays.npz``, read with
``allow_pickle=False``. Loading imports only modules under ``tokenomy.`` and rebuilds an object by
setting its saved fields, running none of its code. It does not migrate older versions.

Because no constructor runs, loading checks the values itself: every float in ``router.json`` must be
finite (a NaN price would turn every cost into NaN); every field a class annotates (its dataclass
fields, its ``__init__`` parameters) must hold a value of the annotated type (``str``, ``int``,
``bool``, a tuple, a mapping, a tokenomy class, ...); and the fields named in ``_FIELD_CHECKS`` must be
in range (``n_features`` ≥ 1, ``seed`` ≥ 0, ``folds`` ≥ 2, prices, queue delays and consequences ≥ 0,
an estimator name in the registry, ``models_`` a tuple of model names). Each
failure is one ``ValidationError`` naming the file and the field's path. Every array must be numeric
and finite, and of the shape and dtype ``router.json`` recorded for it at save (saves that recorded
none are checked for numbers and finiteness only).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import math
import types
import typing
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tokenomy.core.errors import ValidationError

__all__ = ["ARRAYS_FILE", "FORMAT", "JSON_FILE", "VERSION", "load_object", "save_object"]

FORMAT = "tokenomy.router"
VERSION = 1
JSON_FILE = "router.json"
ARRAYS_FILE = "arrays.npz"
_PREFIX = "tokenomy."


def _state(obj: object) -> dict[str, Any]:
    if dataclasses.is_dataclass(obj):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if hasattr(obj, "__dict__"):
        skip = set(getattr(type(obj), "_TRANSIENT", ()))  # live resources (an encoder): not data
        return {k: v for k, v in vars(obj).items() if k not in skip}
    slots = [s for c in type(obj).__mro__ for s in getattr(c, "__slots__", ())]
    return {s: getattr(obj, s) for s in slots if hasattr(obj, s)}


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray[Any, Any]] = {}

    def array(self, a: np.ndarray[Any, Any]) -> str:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = a
        return key

    def enc(self, o: Any) -> Any:
        if o is None or isinstance(o, (bool, int, float, str)):
            return o
        if isinstance(o, np.generic):
            return {"__scalar__": o.dtype.str, "value": o.item()}
        if isinstance(o, np.ndarray):
            if o.dtype == object:
                return {"__objects__": [self.enc(x) for x in o.tolist()], "shape": list(o.shape)}
            return {"__array__": self.array(o), "shape": list(o.shape), "dtype": o.dtype.str}
        if isinstance(o, list):
            return [self.enc(x) for x in o]
        if isinstance(o, tuple):
            return {"__tuple__": [self.enc(x) for x in o]}
        if isinstance(o, (set, frozenset)):
            return {"__set__": [self.enc(x) for x in sorted(o, key=repr)], "frozen": isinstance(o, frozenset)}
        if isinstance(o, dict):
            return {"__dict__": [[self.enc(k), self.enc(v)] for k, v in o.items()]}
        t = type(o)
        if t.__module__ == "scipy.sparse._csr" and t.__name__ == "csr_matrix":
            return {
                "__csr__": [self.array(o.data), self.array(o.indices), self.array(o.indptr)],
                "shape": list(o.shape),
            }
        if t.__module__.startswith(_PREFIX):
            return {
                "__object__": f"{t.__module__}:{t.__qualname__}",
                "state": {k: self.enc(v) for k, v in _state(o).items()},
            }
        raise ValidationError(f"cannot save a value of type {t.__module__}.{t.__qualname__}")


def _cls(ref: str) -> type:
    module, _, name = ref.partition(":")
    if not module.startswith(_PREFIX) or "." in name:
        raise ValidationError(f"refusing to load class {ref!r}: only tokenomy's own classes are loaded")
    cls = getattr(importlib.import_module(module), name, None)
    if not isinstance(cls, type):
        raise ValidationError(f"saved class {ref!r} does not exist in this version of tokenomy")
    return cls


def _whole(low: int) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        ok = isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) and v >= low
        return None if ok else f"a whole number ≥ {low}"

    return check


def _number(low: float, high: float = math.inf) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        ok = _is_number(v) and low <= float(v) <= high
        return None if ok else f"a finite number in [{low:g}, {high:g}]"

    return check


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _grid(v: Any, check: Callable[[Any], str | None]) -> str | None:
    """``check`` on a value, or on each value of a non-empty tuple or list of them (a search grid)."""
    if isinstance(v, (tuple, list)):
        bad = not v or any(check(x) is not None for x in v)
        return f"{check(-1)}, or a non-empty tuple of them" if bad else None
    return check(v)


def _estimator_name(v: Any) -> str | None:
    from tokenomy.routing.estimators import ESTIMATORS

    return None if v is None or v in ESTIMATORS else f"one of {sorted(ESTIMATORS)}"


def _model_names(v: Any) -> str | None:
    ok = isinstance(v, tuple) and len(v) > 0 and all(isinstance(m, str) and m for m in v)
    return None if ok else "a non-empty tuple of model names (strings)"


def _per_model(n: int, what: str, positive_from: int = 99) -> Callable[[Any], str | None]:
    """None, or a mapping of model/category names to ``n`` numbers ≥ 0 (> 0 from ``positive_from``);
    for ``n`` = 1 also an array of numbers ≥ 0."""

    def good(x: Any) -> bool:
        xs = (x,) if n == 1 else x
        if n > 1 and not (isinstance(xs, tuple) and len(xs) == n):
            return False
        return all(_is_number(e) and (e > 0 if i >= positive_from else e >= 0) for i, e in enumerate(xs))

    def check(v: Any) -> str | None:
        if isinstance(v, np.ndarray):  # the fitted per-request column (finite: checked as an array)
            return None if n == 1 and bool(np.all(v >= 0)) else f"an array of {what}"
        ok = v is None or (
            isinstance(v, Mapping) and all(isinstance(k, str) and good(x) for k, x in v.items())
        )
        return None if ok else f"a mapping of names to {what}"

    return check


_FIELD_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "n_features": _whole(1),
    "folds": _whole(1),
    "Router.folds": _whole(2),
    "seed": _whole(0),
    "k": lambda v: _grid(v, _whole(1)),
    "estimator": _estimator_name,
    "baseline_estimator": _estimator_name,
    "models_": _model_names,
    "usd_per_mtok": _per_model(2, "(input, output) USD per million tokens, each ≥ 0"),
    "throughput": _per_model(3, "(TTFT s ≥ 0, prefill tok/s > 0, decode tok/s > 0)", positive_from=1),
    "queue_s": _per_model(1, "a queue delay in seconds ≥ 0"),
    "consequence": _per_model(1, "harm units ≥ 0"),
    "default": _number(0.0),
    "margin_se": _number(0.0),
    "strength": _number(0.0),
    "shrink": _number(0.0),
    "boilerplate_share": _number(0.0, 1.0),
    "lam_usd_per_s": _number(0.0),
    "rho_usd": _number(0.0),
    "rho_irr_usd": _number(0.0),
}
"""Field name (or ``Class.field``, taken first) -> a check returning the expected form when the saved
value is wrong (else None)."""


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The annotated type of each field ``cls`` declares (dataclass fields, ``__init__`` parameters)."""
    out: dict[str, Any] = {}
    for target in (getattr(cls, "__init__", None), cls):
        try:
            out.update(typing.get_type_hints(target))
        except (NameError, TypeError, AttributeError):  # an annotation this module cannot resolve
            continue
    return {k: t for k, t in out.items() if k != "return" and typing.get_origin(t) is not typing.ClassVar}


def _conforms(v: Any, tp: Any) -> bool:
    """True when ``v`` is of the annotated type ``tp`` (types this check does not know pass)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return True
    if tp is None or tp is type(None):
        return v is None
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(v, a) for a in args)
    if origin is typing.Literal:
        return v in args
    if tp is bool:
        return isinstance(v, (bool, np.bool_))
    if tp is int:
        return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
    if tp is float:
        return _is_number(v)
    if origin is tuple:
        if not isinstance(v, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_conforms(x, args[0]) for x in v)
        return not args or (
            len(v) == len(args) and all(_conforms(x, a) for x, a in zip(v, args, strict=True))
        )
    if origin in (Mapping, dict):
        return isinstance(v, Mapping) and (
            not args or all(_conforms(k, args[0]) and _conforms(x, args[1]) for k, x in v.items())
        )
    if origin in (Sequence, list):
        return isinstance(v, (list, tuple)) and (not args or all(_conforms(x, args[0]) for x in v))
    cls = origin or tp
    if isinstance(cls, type):
        try:
            return isinstance(v, cls)
        except TypeError:  # a protocol that is not runtime-checkable
            return True
    return True


def _type_name(tp: Any) -> str:
    text = str(tp) if typing.get_origin(tp) or not isinstance(tp, type) else tp.__name__
    for noise in ("collections.abc.", "typing.", "tokenomy.routing."):
        text = text.replace(noise, "")
    return "a numpy array" if text.startswith("numpy.ndarray") else text


def _check_field(cls: type, name: str, value: Any, where: str) -> None:
    tp = _hints(cls).get(name)
    check = _FIELD_CHECKS.get(f"{cls.__name__}.{name}") or _FIELD_CHECKS.get(name)

    def wrong(v: Any) -> str | None:
        if tp is not None and not _conforms(v, tp):
            return _type_name(tp)
        return None if check is None else check(v)

    want = wrong(value)
    if want is None:
        return
    if isinstance(value, Mapping):  # name the first wrong entry
        for k, x in value.items():
            if wrong({k: x}) is not None:
                where, value = f"{where}[{k!r}]", x
                break
        want = f"an entry of {want}"
    raise _BadFieldError(f"field '{where}'={value!r:.80}; expected {want}")


class _BadFieldError(ValidationError):
    """A saved value that fails a check; the message is ``path: value; expected form``."""


class _BadArrayError(ValidationError):
    """A saved array that is missing, unreadable or not what ``router.json`` says it is."""


def _array(arrays: Any, ref: dict[str, Any]) -> np.ndarray[Any, Any]:
    """The array ``ref`` names, checked: the shape and dtype recorded at save, numeric, finite."""
    key = ref["__array__"]
    try:
        a = np.asarray(arrays[key])
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise _BadArrayError(f"array {key} is missing or unreadable ({type(exc).__name__}: {exc})") from None
    shape, dtype = ref.get("shape"), ref.get("dtype")
    if shape is not None and list(a.shape) != list(shape):
        raise _BadArrayError(f"array {key} has shape {a.shape}, expected {tuple(shape)}")
    if dtype is not None and a.dtype.str != dtype:
        raise _BadArrayError(f"array {key} has dtype {a.dtype.str}, expected {dtype}")
    if a.dtype.kind not in "biuf":
        raise _BadArrayError(f"array {key} has dtype {a.dtype.str}, expected numbers (bool, int or float)")
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise _BadArrayError(f"array {key} has non-finite values (NaN or inf), expected finite numbers")
    return a


def _dec(o: Any, arrays: Any, where: str = "object") -> Any:
    if isinstance(o, float) and not math.isfinite(o):
        raise _BadFieldError(f"field {where!r}={o!r}; expected a finite number")
    if isinstance(o, list):
        return [_dec(x, arrays, f"{where}[{i}]") for i, x in enumerate(o)]
    if not isinstance(o, dict):
        return o
    if "__array__" in o:
        return _array(arrays, o)
    if "__scalar__" in o:
        return np.dtype(o["__scalar__"]).type(_dec(o["value"], arrays, where))
    if "__objects__" in o:
        out = np.empty(len(o["__objects__"]), dtype=object)
        out[:] = [_dec(x, arrays, f"{where}[{i}]") for i, x in enumerate(o["__objects__"])]
        return out.reshape(o["shape"])
    if "__tuple__" in o:
        return tuple(_dec(x, arrays, f"{where}[{i}]") for i, x in enumerate(o["__tuple__"]))
    if "__set__" in o:
        items = [_dec(x, arrays, where) for x in o["__set__"]]
        return frozenset(items) if o["frozen"] else set(items)
    if "__dict__" in o:
        return {_dec(k, arrays, where): _dec(v, arrays, f"{where}[{k!r}]") for k, v in o["__dict__"]}
    if "__csr__" in o:
        from scipy.sparse import csr_matrix

        data, indices, indptr = (_array(arrays, {"__array__": k}) for k in o["__csr__"])
        return csr_matrix((data, indices, indptr), shape=tuple(o["shape"]))
    if "__object__" in o:
        cls = _cls(o["__object__"])
        obj: Any = object.__new__(cls)
        for k, v in o["state"].items():
            value = _dec(v, arrays, f"{where}.{k}")
            _check_field(cls, k, value, f"{where}.{k}")
            object.__setattr__(obj, k, value)
        return obj
    raise ValidationError(f"unknown entry in a saved router: keys {sorted(o)}")


def save_object(obj: object, path: str | Path) -> Path:
    """Write ``obj`` (a tokenomy object) to the folder ``path`` (created); return the folder.

    Raises:
        ValidationError: ``obj`` holds a value of a type the format does not carry.
    """
    enc = _Encoder()
    body = {"format": FORMAT, "version": VERSION, "object": enc.enc(obj)}
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / ARRAYS_FILE, allow_pickle=False, **enc.arrays)
    (folder / JSON_FILE).write_text(json.dumps(body), encoding="utf-8")
    return folder


def load_object(path: str | Path) -> Any:
    """Read what ``save_object`` wrote to the folder ``path``.

    Raises:
        ValidationError: ``path`` is not a path, a file is missing, or the format or version is not
            this one (names both).
    """
    if not isinstance(path, (str, Path)) or not str(path).strip():
        raise ValidationError(f"saved router path {path!r}: expected a folder path (str or Path)")
    folder = Path(path)
    for name in (JSON_FILE, ARRAYS_FILE):
        if not (folder / name).is_file():
            raise ValidationError(
                f"{folder}: no {name}; a saved router is a folder with {JSON_FILE} and {ARRAYS_FILE}"
            )
    try:
        body = json.loads((folder / JSON_FILE).read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValidationError(
            f"{folder / JSON_FILE}: not UTF-8 JSON ({exc}); expected a saved router"
        ) from None
    if not isinstance(body, dict):
        raise ValidationError(f"{folder / JSON_FILE}: expected a JSON object, got {type(body).__name__}")
    if body.get("format") != FORMAT:
        raise ValidationError(f"{folder / JSON_FILE}: format {body.get('format')!r}, expected {FORMAT!r}")
    if body.get("version") != VERSION:
        raise ValidationError(
            f"{folder / JSON_FILE}: format version {body.get('version')!r}; this tokenomy reads version {VERSION} only"
        )
    try:
        npz = np.load(folder / ARRAYS_FILE, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValidationError(
            f"{folder / ARRAYS_FILE}: not a readable saved router arrays file, expected an npz archive "
            f"({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValidationError(f"{folder / ARRAYS_FILE}: a single array, expected an npz archive of arrays")
    try:
        with npz as arrays:
            return _dec(body["object"], arrays)
    except _BadFieldError as exc:
        raise ValidationError(f"{folder / JSON_FILE}: {exc}") from None
    except _BadArrayError as exc:
        raise ValidationError(f"{folder / ARRAYS_FILE}: {exc}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as exc:
        # a damaged or hand-edited save: name it, never a traceback
        raise ValidationError(
            f"{folder}: not a readable saved router ({type(exc).__name__}: {exc})"
        ) from None
