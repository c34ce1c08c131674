"""The MCP stdio wire format as the gating proxy reads it: one JSON-RPC 2.0 message per line.

Strict on purpose (the proxy must read a line exactly as the server will): RFC 8259 JSON only (no
NaN/Infinity constants, no number outside the float range, each key once in an object), at most
``MAX_DEPTH`` levels of nesting, ids that are a string, a number or null. Messages are written back the
same way (``allow_nan=False``). No I/O here; :mod:`tokenomy.interfaces.mcp_proxy` does the talking.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from tokenomy.interfaces.loaders.reader import one_key_once

__all__ = ["MAX_DEPTH", "dump_line", "id_key", "parse_line", "too_deep", "valid_id"]

MAX_DEPTH = 100  # nesting levels of one message; deeper ones are refused before judging


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is outside the float range")
    return value


def parse_line(line: bytes) -> Any:
    """One line as JSON (RFC 8259, each key once), else ValueError/UnicodeDecodeError/RecursionError."""
    return json.loads(
        line, object_pairs_hook=one_key_once, parse_constant=_no_constant, parse_float=_finite_float
    )


def too_deep(obj: Any) -> bool:
    """Whether a parsed message nests deeper than MAX_DEPTH (walked without recursion)."""
    stack = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend((c, depth + 1) for c in children)
    return False


def valid_id(rid: Any) -> bool:
    """Whether rid is a JSON-RPC 2.0 id: a string, a number (not a bool) or null."""
    return rid is None or (isinstance(rid, (str, int, float)) and not isinstance(rid, bool))


def id_key(rid: Any) -> str:
    """A hashable key of an id that keeps 1, 1.0 and "1" apart."""
    return json.dumps(rid)


def dump_line(msg: Mapping[str, Any]) -> bytes:
    """One message as one compact JSON line (never NaN/Infinity)."""
    return json.dumps(msg, separators=(",", ":"), allow_nan=False).encode() + b"\n"
