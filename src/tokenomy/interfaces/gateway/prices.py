"""Per-request prices and cost estimates: V, λ, ρ from headers, metadata, the key or the defaults.

Precedence per price: header (``X-Tokenomy-V``, ``X-Tokenomy-Lambda``, ``X-Tokenomy-Rho``; source
``user``), else the request's ``metadata`` (``tokenomy_v``, ``tokenomy_lambda``, ``tokenomy_rho``;
source ``user``), else the API key's prices, else ``[defaults]`` (source ``operator``). A price that is
not a finite number ≥ 0 is a 400 naming where it came from. Token counts for estimates: prompt
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


def _price(value: Any, where: str, param: str) -> float:
    text = value.decode("latin-1").strip(" \t") if isinstance(value, bytes) else value
    if isinstance(text, str) and not _DECIMAL.fullmatch(text):  # ASCII decimals only (no "١٢", "1_0")
        text = "nan"
    try:
        x = float(text)
    except (TypeError, ValueError):
        x = math.nan
    if isinstance(value, bool) or not math.isfinite(x) or x < 0:
        raise GatewayHTTPError(
            400,
            f"{where} must be a finite number ≥ 0 (USD); got {value!r}"[:200],
            param=param,
            code="invalid_price",
        )
    return x


def request_prices(headers: Mapping[bytes, bytes], body: Mapping[str, Any], base: PriceVector) -> PriceVector:
    """The request's price vector over ``base`` (the key's or the default prices).

    Raises:
        GatewayHTTPError: 400 for a negative, NaN or non-numeric price, or a non-object metadata.
    """
    given: dict[str, float] = {}
    meta = body.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise GatewayHTTPError(400, "metadata must be an object", param="metadata")
    for key, name in _META:
        if meta and key in meta:
            given[name] = _price(meta[key], f"metadata.{key}", f"metadata.{key}")
    for hkey, name in _HEADERS:
        if hkey in headers:
            given[name] = _price(headers[hkey], f"header {hkey.decode()}", hkey.decode())
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
