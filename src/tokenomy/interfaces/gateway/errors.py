"""OpenAI-style error responses of the gateway: one exception carrying status, body fields and headers.

Body: ``{"error": {"message", "type", "param", "code"}}`` as the OpenAI API sends it. Status codes:
400 malformed JSON, a bad field or a bad price (negative, NaN); 401 missing or unknown API key;
402 the key's budget cannot cover the request's maximum cost (``code: budget_exceeded``: paying more
later will not help, waiting will not either, so not 429); 404 unknown model or path; 405 wrong
method; 413 body over ``max_body_bytes``; 429 no upstream has capacity at a positive surplus
(``Retry-After`` and ``X-Tokenomy-Required-V``: the V that would have been admitted); 502 every
upstream of the ranking failed; 503 shutting down.
"""

from __future__ import annotations

import json

from tokenomy.core.errors import TokenomyError

__all__ = ["GatewayHTTPError", "error_body"]


class GatewayHTTPError(TokenomyError):
    """A request the gateway answers with an error status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code
        self.headers = headers

    def body(self) -> bytes:
        """The JSON error body."""
        return error_body(self.message, self.type, self.param, self.code)


def error_body(message: str, type_: str, param: str | None = None, code: str | None = None) -> bytes:
    """``{"error": {...}}`` as bytes."""
    return json.dumps({"error": {"message": message, "type": type_, "param": param, "code": code}}).encode()
