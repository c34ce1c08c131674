"""Read the audit's side files: price overrides / LiteLLM price maps, and per-request labels.

* ``load_price_file``: JSON or YAML. A mapping with a ``models`` key is a tokenomy override file
  (``{"models": {name: {input_usd_per_mtok, output_usd_per_mtok, cache_read_usd_per_mtok,
  cache_write_usd_per_mtok}}}``); any other mapping is read as LiteLLM's
  ``model_prices_and_context_window.json`` format (USD per token).
* ``load_labels``: CSV (header with ``request_id``), JSON (list of objects, or an object keyed by id)
  or JSON Lines; columns ``v_usd, lam_usd_per_s, rho_usd, rho_irr_usd, quality, harm, harm_irr, group``
  and optional ``<price>_source``. Keys are trace / request / task ids, each once; every label is a
  finite number in its ``LABEL_BOUNDS`` range: prices ≤ 1e9 USD, ``quality`` ≤ 1, harm ≤ ``MAX_HARM``.
Bad input raises ``SchemaError`` naming the file (and line or field).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from tokenomy.audit.importers.common import LABEL_BOUNDS
from tokenomy.audit.pricing import StaticPriceTable
from tokenomy.core.errors import SchemaError
from tokenomy.interfaces.loaders import reader

__all__ = ["LABEL_FIELDS", "load_labels", "load_price_file"]

LABEL_FIELDS = ("v_usd", "lam_usd_per_s", "rho_usd", "rho_irr_usd", "quality", "harm", "harm_irr")


def _too_deep(path: Path) -> SchemaError:
    return SchemaError(
        f"{path}: nested too deeply; expected a flat mapping (models or request ids to fields)"
    )


def _read_mapping(path: Path) -> Any:
    text = reader.read_text(path)
    if path.suffix not in (".yaml", ".yml"):
        return reader.parse_json(text, str(path), what="invalid JSON")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SchemaError(f"{path}: not valid YAML: {exc}".replace("\n", " ")) from None
    except RecursionError:
        raise _too_deep(path) from None


def _non_finite(obj: Any, at: str) -> str | None:
    """The dotted path of the first NaN or infinite number in ``obj`` (None when every number is finite)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return at
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        found = _non_finite(v, f"{at}.{k}" if at else str(k))
        if found is not None:
            return found
    return None


def load_price_file(path: str | Path) -> StaticPriceTable:
    """A price table from an override file or a LiteLLM-format price map."""
    p = reader.path_arg(path, "load_price_file")
    data = _read_mapping(p)
    if not isinstance(data, dict):
        raise SchemaError(f"{p}: expected a mapping (override file with 'models', or a LiteLLM price map)")
    try:
        bad = _non_finite(data, "")
    except RecursionError:
        raise _too_deep(p) from None
    if bad is not None:
        raise SchemaError(f"{p}: field {bad!r} is NaN or infinite; expected a finite price ≥ 0")
    if "models" in data:
        return StaticPriceTable.from_override(data, where=str(p))
    table = StaticPriceTable.from_litellm(data, where=str(p))
    if not table.cards:
        raise SchemaError(
            f"{p}: no model with 'input_cost_per_token' (LiteLLM format) and no 'models' mapping"
        )
    return table


def _label_row(row: dict[str, Any], where: str, *, typed: bool) -> dict[str, Any]:
    """One request's labels; ``typed``: the file is JSON/TOML/YAML, where a number given as text is refused."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if not (k in LABEL_FIELDS or k in ("request_id", "group") or str(k).endswith("_source")):
            raise SchemaError(
                f"{where}: unknown label field {k!r}; expected request_id, group, a *_source field or "
                f"one of {', '.join(LABEL_FIELDS)}"
            )
        if v is None or v == "" or k == "request_id":
            continue
        if k in LABEL_FIELDS and typed and (isinstance(v, str | bool) or not isinstance(v, int | float)):
            raise SchemaError(f"{where}: field {k!r} must be a number, got {v!r}; expected a finite number")
        if k in LABEL_FIELDS:
            try:
                x = reader.float_field(v, where, k)
            except SchemaError:
                raise SchemaError(
                    f"{where}: field {k!r} must be a number, got {v!r}; expected a finite number"
                ) from None
            low, high = LABEL_BOUNDS[k]
            out[k] = reader.float_field(x, where, k, lo=low, hi=high)
        elif k == "group" or k.endswith("_source"):
            out[k] = str(v)
    return out


def _add_label(
    out: dict[str, dict[str, Any]], rid: Any, row: dict[str, Any], where: str, *, typed: bool = True
) -> None:
    """Put one request's labels in ``out``; an id labelled twice is an error (never last-wins)."""
    key = str(rid)
    if key in out:
        raise SchemaError(f"{where}: duplicate request_id {key!r}; expected each request id once")
    out[key] = _label_row(row, where, typed=typed)


def load_labels(path: str | Path) -> dict[str, dict[str, Any]]:
    """Per-request labels keyed by request id: each label a finite number ≥ 0 (quality in [0, 1]),
    each id once."""
    p = reader.path_arg(path, "load_labels")
    out: dict[str, dict[str, Any]] = {}
    if reader.data_suffix(p) == ".csv":
        for line, row in reader.csv_rows(p, ("request_id",)):
            _add_label(out, row["request_id"], row, f"{p}:{line}", typed=False)
        return out
    if reader.data_suffix(p) == ".jsonl":
        for line, text in reader.iter_lines(p):
            if not text.strip():
                continue
            row = reader.parse_json(text, f"{p}:{line}", what="invalid JSON")
            if not isinstance(row, dict) or "request_id" not in row:
                raise SchemaError(f"{p}:{line}: expected an object with 'request_id'")
            _add_label(out, row["request_id"], row, f"{p}:{line}")
        return out
    data = _read_mapping(p)
    if not isinstance(data, dict | list):
        raise SchemaError(f"{p}: expected a list of label objects or an object keyed by request id")
    items = (
        data.items()
        if isinstance(data, dict)
        else ((r.get("request_id") if isinstance(r, dict) else None, r) for r in data)
    )
    for i, (rid, row) in enumerate(items):
        if rid is None or not isinstance(row, dict):
            raise SchemaError(f"{p}: record {i} needs a 'request_id' and an object of labels")
        _add_label(out, rid, row, f"{p} record {i}")
    return out
