"""Per-request prices and cost estimates: V, λ, ρ from headers, metadata, the key or the defaults.

Precedence per price: header (``X-Tokenomy-V``, ``X-Tokenomy-Lambda``, ``X-Tokenomy-Rho``; source
``user``), else the request's ``metadata`` (``tokenomy_v``, ``tokenomy_lambda``, ``tokenomy_rho``;
source ``user``), else the API key's prices, else ``[defaults]`` (source ``operator``). A client's
price must be a finite number in [0, ``max_usd``] (``[gateway] max_price_usd``, default the CLI's
bound ``MAX_USD`` = 1e9 USD, so no client can drive the operator's ledger totals towards overflow);
in ``metadata`` it must be a JSON number (``"0.3"`` is refused, not coerced). Else a 400
``invalid_price`` naming the header or field and the range. Token counts for estimates: prompt
tokens ≈ characters / 4 of the message text (no tokenizer: the real counts come back in ``usage``);
budget reservations use an upper bound instead (one token per byte), so a reservation covers the
real cost whenever the upstream honours ``max_tokens``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from tokenomy.core.prices import PriceSource, PriceVector
from tokenomy.interfaces.args import MAX_USD
from tokenomy.interfaces.gateway.errors import GatewayHTTPError

__all__ = ["estimate_prompt_tokens", "max_prompt_tokens", "prompt_text", "request_prices"]

_HEADERS = (
    (b"x-tokenomy-v", "v_usd"),
    (b"x-tokenomy-lambda", "lam_usd_per_s"),
    (b"x-tokenomy-rho", "rho_usd"),
)
_META = (("tokenomy_v", "v_usd"), ("tokenomy_lambda", "lam_usd_per_s"), ("tokenomy_rho", "rho_usd"))


_GIVEN: dict[
    tuple[PriceVector, tuple[tuple[str, float], ...]], PriceVector
] = {}  # (base, prices given) -> vector


_DECIMAL = re.compile(r"[+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _price(value: Any, where: str, param: str, max_usd: float) -> float:
    if isinstance(value, bytes):  # a header: an ASCII decimal (no "١٢", "1_0", "0x10", "nan")
        text = value.decode("latin-1").strip(" \t")
        x = float(text) if _DECIMAL.fullmatch(text) else math.nan
    elif isinstance(value, (int, float)) and not isinstance(value, bool):  # metadata: a JSON number
        x = float(value) if not isinstance(value, int) or abs(value) <= 2**1023 else math.inf
    else:
        raise GatewayHTTPError(
            400,
            f"{where} must be a JSON number in [0, {max_usd:g}] (USD); got {value!r}"[:200],
            param=param,
            code="invalid_price",
        )
    if not 0.0 <= x <= max_usd:  # NaN fails both comparisons
        shown = value.decode("latin-1") if isinstance(value, bytes) else value
        raise GatewayHTTPError(
            400,
            f"{where} must be a finite number in [0, {max_usd:g}] (USD); got {shown!r}"[:200],
            param=param,
            code="invalid_price",
        )
    return x


def request_prices(
    headers: Mapping[bytes, bytes], body: Mapping[str, Any], base: PriceVector, max_usd: float = MAX_USD
) -> PriceVector:
    """The request's price vector over ``base`` (the key's or the default prices).

    Args:
        max_usd: the largest price a client may give (``[gateway] max_price_usd``).

    Raises:
        GatewayHTTPError: 400 for a negative, NaN, non-numeric or over-``max_usd`` price, a metadata
            price that is not a JSON number, or a non-object metadata.
    """
    given: dict[str, float] = {}
    meta = body.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise GatewayHTTPError(400, "metadata must be an object", param="metadata")
    for key, name in _META:
        if meta and meta.get(key) is not None:  # an explicit null reads as "not given"
            given[name] = _price(meta[key], f"metadata.{key}", f"metadata.{key}", max_usd)
    for hkey, name in _HEADERS:
        if hkey in headers:
            given[name] = _price(headers[hkey], f"header {hkey.decode()}", hkey.decode(), max_usd)
    if not given:
        return base
    memo = (base, tuple(sorted(given.items())))
    out = _GIVEN.get(memo)
    if out is None:  # memoised: clients send a few distinct price settings, validated once each
        if len(_GIVEN) >= 4096:
            _GIVEN.clear()
        out = _GIVEN[memo] = base.with_prices(PriceSource.USER, **given)
    return out


def prompt_text(messages: list[Any]) -> str:
    """The text of every message, joined (system, user, assistant turns alike)."""
    parts: list[str] = []
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return "\n".join(parts)


def estimate_prompt_tokens(text: str, n_messages: int) -> int:
    """≈ 4 characters per token plus 4 tokens of chat framing per message."""
    return len(text) // 4 + 4 * n_messages + 1


def max_prompt_tokens(text: str, n_messages: int) -> int:
    """An upper bound for budget reservations: one token per UTF-8 byte (BPE tokens are ≥ 1 byte) plus
    8 tokens of chat framing per message and 16 for the template."""
    return len(text.encode("utf-8")) + 8 * n_messages + 16
