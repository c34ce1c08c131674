"""Approval tokens for tool calls the gate answers with ``ask``: issued with a response, redeemed later.

A token is ``v1.<payload>.<mac>``: the payload (base64url JSON) names the session, the call (tool and
arguments), an expiry and a nonce; the mac is HMAC-SHA256 of the payload under the server secret, which
every gateway process shares, so any process verifies any token without shared state. Verification
compares macs in constant time before reading the payload, then checks expiry and the session.
:func:`session_id_for` derives the gate session from the API key (hashed: the key never reaches the
ledger) and the optional ``X-Tokenomy-Session`` header (scoped under the key). No I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from tokenomy.autonomy.gate import Call
from tokenomy.core.errors import ValidationError

__all__ = ["ApprovalTokenError", "ApprovalTokens", "TokenClaims", "session_id_for"]

_TOKEN_VERSION = "v1"
_MAX_TOKEN_CHARS = 65_536


class ApprovalTokenError(ValidationError):
    """An approval token is malformed, forged, expired, already used or from another session."""


def session_id_for(api_key: str | None, session_header: str | None = None) -> str:
    """The gate session of a request: a hash of the API key, narrowed by ``X-Tokenomy-Session``.

    The key itself never reaches the ledger; a session header is scoped under its key, so one tenant
    cannot name (and approve inside) another tenant's session.
    """
    key = hashlib.sha256((api_key or "").encode()).hexdigest()[:16]
    head = (session_header or "").strip()[:128]
    return f"key-{key}/{head}" if head else f"key-{key}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified approval token says: the session, the call and when it expires."""

    session_id: str
    call: Call
    expires_at_s: float
    nonce: str


class ApprovalTokens:
    """Issue and verify approval tokens: ``v1.<payload>.<HMAC-SHA256(secret, payload)>``.

    Args:
        secret: the server secret (at least 32 bytes; share it between gateway processes).
        ttl_s: how long a token is valid.
        clock: seconds since the epoch (injectable for tests).

    Raises:
        ValidationError: a short secret or a non-positive ttl.
    """

    def __init__(
        self, secret: bytes, *, ttl_s: float = 900.0, clock: Callable[[], float] = time.time
    ) -> None:
        if not isinstance(secret, bytes) or len(secret) < 32:
            raise ValidationError("the approval secret must be at least 32 bytes")
        if not ttl_s > 0:
            raise ValidationError(f"approval ttl_s must be > 0, got {ttl_s!r}")
        self._secret = secret
        self.ttl_s = float(ttl_s)
        self.clock = clock

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._secret, f"{_TOKEN_VERSION}.{body}".encode(), hashlib.sha256).digest())

    def issue(self, session_id: str, call: Call) -> tuple[str, float]:
        """A token for ``call`` in ``session_id`` and the time (s since epoch) it expires."""
        expires = float(int(self.clock() + self.ttl_s))
        payload = {
            "s": session_id,
            "t": call.tool,
            "a": dict(call.arguments),
            "e": expires,
            "n": secrets.token_hex(8),
        }
        body = _b64(json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode())
        return f"{_TOKEN_VERSION}.{body}.{self._sign(body)}", expires

    def verify(self, token: object, session_id: str) -> TokenClaims:
        """The claims of a genuine, unexpired token of ``session_id``.

        Raises:
            ApprovalTokenError: malformed, bad signature, expired, or issued to another session.
        """
        if not isinstance(token, str) or not 0 < len(token) <= _MAX_TOKEN_CHARS:
            raise ApprovalTokenError("approval token must be a non-empty string of at most 64 KiB")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _TOKEN_VERSION:
            raise ApprovalTokenError(f"approval token must have the form {_TOKEN_VERSION}.<payload>.<mac>")
        if not hmac.compare_digest(parts[2].encode(), self._sign(parts[1]).encode()):
            raise ApprovalTokenError("approval token signature does not match (forged or altered)")
        try:
            p = json.loads(_unb64(parts[1]))
            claims = TokenClaims(str(p["s"]), Call(str(p["t"]), dict(p["a"])), float(p["e"]), str(p["n"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ApprovalTokenError(f"approval token payload is unreadable ({type(exc).__name__})") from None
        if claims.expires_at_s < self.clock():
            raise ApprovalTokenError("approval token has expired; ask the model again for a fresh one")
        if not hmac.compare_digest(claims.session_id.encode(), session_id.encode()):
            raise ApprovalTokenError("approval token belongs to another session")
        return claims
