"""What every importer shares: the default prices, and the merge of labels into a ``RequestTable``.

V, λ, ρ and outcome labels that logs do not carry come, in this order of precedence, from a side
file keyed by request (trace) id, from ``tokenomy.*`` span attributes or importer-known labels (a
resolved flag, a reward), and otherwise from explicit defaults (``DEFAULT_PRICES``, source
"default") that every output shows. No I/O here: the side file is parsed in
``tokenomy.interfaces.loaders.pricefiles``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from tokenomy.audit.log import RequestTable
from tokenomy.core.errors import SchemaError
from tokenomy.core.prices import MAX_PRICE_USD, PriceSource, PriceVector
from tokenomy.ledger.records import MAX_HARM

__all__ = [
    "DEFAULT_PRICES",
    "LABEL_BOUNDS",
    "LABEL_KEYS",
    "MAX_LABEL_USD",
    "PRICE_KEYS",
    "build_requests",
    "check_label",
    "label_number",
]

# V = $10 per unit of quality (a resolved task), no latency price, ρ = $10 per harm unit: placeholders
# that every report labels as defaults; set real ones with --v/--lam/--rho or a side file.
DEFAULT_PRICES = PriceVector(v_usd=10.0, lam_usd_per_s=0.0, rho_usd=10.0)
PRICE_KEYS = {"v_usd": "v", "lam_usd_per_s": "lam", "rho_usd": "rho", "rho_irr_usd": "rho_irr"}
LABEL_KEYS = ("quality", "harm", "harm_irr", "group", "session", "user", "tags")
MAX_LABEL_USD = MAX_PRICE_USD
"""Largest price a label may give (USD per unit), the CLI's bound on --v/--lam/--rho: with harm at
most ``MAX_HARM`` and quality at most 1 every realised term stays below 1e18 USD."""
LABEL_BOUNDS: dict[str, tuple[float, float]] = {
    "v_usd": (0.0, MAX_LABEL_USD),
    "lam_usd_per_s": (0.0, MAX_LABEL_USD),
    "rho_usd": (0.0, MAX_LABEL_USD),
    "rho_irr_usd": (0.0, MAX_LABEL_USD),
    "quality": (0.0, 1.0),
    "harm": (0.0, MAX_HARM),
    "harm_irr": (0.0, MAX_HARM),
}
"""The numeric request labels and their closed ranges (the same for --labels files and span attributes)."""


def label_number(name: str, value: Any) -> float | None:
    """``value`` as a float in ``LABEL_BOUNDS[name]``, or None when it is not one.

    A number, or text holding a decimal number (CSV cells and OTLP ``stringValue``s are text); a bool,
    NaN, an infinity or a value out of range is not.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    elif not isinstance(value, int | float):
        return None
    try:
        x = float(value)
    except OverflowError:
        return None
    low, high = LABEL_BOUNDS[name]
    return x if math.isfinite(x) and low <= x <= high else None


def check_label(name: str, value: Any, where: str) -> float:
    """``label_number`` or a SchemaError naming ``where`` (file:line, span, attribute) and the range."""
    x = label_number(name, value)
    if x is None:
        low, high = LABEL_BOUNDS[name]
        raise SchemaError(f"{where} must be a finite number in [{low:g}, {high:g}], got {value!r:.80}")
    return x


def build_requests(
    request_ids: Iterable[str],
    known: Mapping[str, Mapping[str, Any]] | None = None,
    side: Mapping[str, Mapping[str, Any]] | None = None,
    defaults: PriceVector = DEFAULT_PRICES,
) -> RequestTable:
    """One row per request id with prices and labels merged: side file > known > defaults.

    Args:
        request_ids: the requests, in the order wanted.
        known: labels the importer found (span attributes, dataset outcomes); id -> {key: value}.
        side: labels from a user's side file; id -> {key: value}; its prices are sourced "user"
            unless the file names a ``<price>_source``.
        defaults: prices for whatever neither gives (their sources are kept).

    Returns:
        The request table.
    """
    dflt = defaults.as_dict()
    rows = []
    for rid in dict.fromkeys(request_ids):
        row: dict[str, Any] = {"request_id": rid}
        for key, short in PRICE_KEYS.items():
            row[key] = dflt[key]
            row[f"{short}_source"] = dflt[f"{short}_source"]
        for layer, source in (
            ((known or {}).get(rid), PriceSource.USER),
            ((side or {}).get(rid), PriceSource.USER),
        ):
            if not layer:
                continue
            for key, short in PRICE_KEYS.items():
                if layer.get(key) is not None:
                    row[key] = float(layer[key])
                    row[f"{short}_source"] = str(layer.get(f"{short}_source", source.value))
            for key in LABEL_KEYS:
                if layer.get(key) is not None:
                    row[key] = layer[key]
        rows.append(row)
    return RequestTable.from_rows(rows)
