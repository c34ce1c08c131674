"""What a request must satisfy before anything is decided: body size, JSON, key, chat fields.

Fails closed, each failure an OpenAI-style 4xx (``GatewayHTTPError``), never a traceback:
``read_body`` (a malformed, repeated or over-limit ``Content-Length``, a body past ``max_body_bytes``
however it arrives, a client that leaves mid-body), ``parse_json`` (UTF-8 only; no NaN/Infinity
literals, lone surrogates, key repeated in one object — which one wins differs between parsers, so
the gateway and an upstream could read different models or prices — or nesting deeper than the
parser's stack; a JSON object),
``single_headers`` (a repeated ``Authorization``, ``Content-Length`` or any ``X-Tokenomy-*``
header, the session included, is ambiguous: 400), ``api_key`` (a missing, unknown or malformed key: 401), ``check_chat``
(messages and the sampling and tool fields as OpenAI accepts them: ``chat_fields``; model,
stream, ``max_tokens`` /
``max_completion_tokens``, ``n`` and the engine-specific fields that would let an upstream generate
past ``max_tokens``). No pricing, routing or I/O here.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any

from tokenomy.interfaces.gateway.chat_fields import check_fields, check_messages
from tokenomy.interfaces.gateway.errors import GatewayHTTPError
from tokenomy.interfaces.loaders.reader import one_key_once

__all__ = [
    "MAX_HEADERS",
    "MAX_HEAD_BYTES",
    "MAX_N",
    "Deadline",
    "api_key",
    "check_chat",
    "check_head",
    "parse_json",
    "read_body",
    "single_headers",
]

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
MAX_N = 128  # choices per request (OpenAI's own limit)
MAX_HEAD_BYTES = 65536  # request headers together
MAX_HEADERS = 200
_DIGITS = re.compile(rb"[0-9]{1,18}")
_SURROGATE = re.compile(rb"\\[uU][dD][89a-fA-F]")
_SINGLE = frozenset((b"authorization", b"content-length"))  # and every x-tokenomy-* header
# fields some engines read as an output length (or a way around it): they would let an upstream
# generate past the max_tokens the budget reserved for
_LENGTH_FIELDS = ("n_predict", "ignore_eos", "min_tokens", "best_of", "max_new_tokens", "num_predict")


class Deadline:
    """``with Deadline(s):`` raises ``TimeoutError`` when its block runs past ``s`` seconds (± ``TICK_S``).

    Like ``asyncio.timeout`` but far cheaper (the gateway arms two per request): no timer of its own;
    one shared tick per event loop cancels the tasks past their deadline. A cancellation that is not
    its own passes through unchanged.
    """

    __slots__ = ("_at", "_fired", "_reaper", "_task")

    def __init__(self, delay_s: float) -> None:
        loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._at, self._fired = loop.time() + delay_s, False
        reaper = _REAPERS.get(loop)
        if reaper is None:
            reaper = _REAPERS[loop] = _Reaper(loop)
        self._reaper = reaper

    def fire(self) -> None:
        self._fired = True
        if self._task is not None:
            self._task.cancel()

    def __enter__(self) -> Deadline:
        self._reaper.add(self)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self._reaper.due.pop(self, None)
        if (
            self._fired
            and self._task is not None
            and self._task.uncancel() == 0
            and kind is asyncio.CancelledError
        ):
            raise TimeoutError from exc


TICK_S = 0.1


class _Reaper:
    """The deadlines armed on one event loop, checked every ``TICK_S`` while any is armed."""

    __slots__ = ("due", "loop", "ticking")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop, self.due, self.ticking = loop, dict[Deadline, float](), False

    def add(self, d: Deadline) -> None:
        self.due[d] = d._at
        if not self.ticking:
            self.ticking = True
            self.loop.call_later(TICK_S, self._tick)

    def _tick(self) -> None:
        now = self.loop.time()
        for d in [d for d, at in self.due.items() if at <= now]:
            del self.due[d]
            d.fire()
        if self.due:
            self.loop.call_later(TICK_S, self._tick)
        else:
            self.ticking = False
            _REAPERS.pop(self.loop, None)


_REAPERS: dict[asyncio.AbstractEventLoop, _Reaper] = {}


def check_head(scope: Mapping[str, Any]) -> None:
    """431 for a request head past ``MAX_HEAD_BYTES`` (headers together) or ``MAX_HEADERS`` headers."""
    headers = scope["headers"]
    if len(headers) > MAX_HEADERS or sum(len(k) + len(v) for k, v in headers) > MAX_HEAD_BYTES:
        raise GatewayHTTPError(
            431,
            f"request headers over {MAX_HEAD_BYTES} bytes or {MAX_HEADERS} fields",
            code="headers_too_large",
        )


def _bad_length(detail: str) -> GatewayHTTPError:
    return GatewayHTTPError(400, f"bad Content-Length: {detail}", code="invalid_content_length")


async def read_body(
    receive: Receive, scope: Mapping[str, Any], max_bytes: int, timeout_s: float = 30.0
) -> bytes:
    """The request body, refused with 413 past ``max_bytes`` (by Content-Length first, then by count),
    408 when it has not all arrived within ``timeout_s`` (a slow client holds nothing longer)."""
    declared: int | None = None
    for k, v in scope["headers"]:
        if k.lower() != b"content-length":
            continue
        if not _DIGITS.fullmatch(v.strip()):
            raise _bad_length(f"{v[:40]!r} is not a decimal byte count")
        n = int(v.strip())
        if declared is not None and n != declared:
            raise _bad_length("two different values")
        declared = n
    if declared is not None and declared > max_bytes:
        raise GatewayHTTPError(
            413, f"request body of {declared} bytes is over the limit of {max_bytes}", code="body_too_large"
        )
    try:
        with Deadline(timeout_s):
            body, size = await _receive_all(receive, max_bytes)
    except TimeoutError:
        raise GatewayHTTPError(
            408,
            f"the body did not arrive within {timeout_s:g} s",
            type_="invalid_request_error",
            code="body_timeout",
        ) from None
    if declared is not None and size != declared:
        raise _bad_length(f"declared {declared} bytes, got {size}")
    return body


async def _receive_all(receive: Receive, max_bytes: int) -> tuple[bytes, int]:
    parts, size = [], 0
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":  # nothing was decided yet: nothing to record
            raise GatewayHTTPError(
                400, "the client left before sending the whole body", code="client_disconnected"
            )
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise GatewayHTTPError(
                413, f"request body is over the limit of {max_bytes} bytes", code="body_too_large"
            )
        parts.append(chunk)
        if not msg.get("more_body", False):
            return (parts[0] if len(parts) == 1 else b"".join(parts)), size


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object (UTF-8, RFC 8259: no NaN/Infinity, no lone surrogates, no key repeated
    in one object), else 400."""
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_no_constant, object_pairs_hook=one_key_once)
        if _SURROGATE.search(body):  # "\ud800" parses, but cannot be sent on as UTF-8
            json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError) as exc:
        raise GatewayHTTPError(
            400, f"the body is not valid JSON: {str(exc)[:200]}", code="invalid_json"
        ) from None
    except RecursionError:
        raise GatewayHTTPError(
            400, "the body is not valid JSON: nested too deeply", code="invalid_json"
        ) from None
    if not isinstance(data, dict):
        raise GatewayHTTPError(
            400, f"the body must be a JSON object; got {type(data).__name__}", code="invalid_json"
        )
    return data


def single_headers(headers: Iterable[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    """The headers as a mapping; a repeated key, length or ``X-Tokenomy-*`` header (a price, the
    session that scopes gate approvals) is ambiguous: 400 ``duplicate_header`` naming it."""
    out: dict[bytes, bytes] = {}
    for k, v in headers:
        if k in out and (k in _SINGLE or k.startswith(b"x-tokenomy-")):
            if k == b"authorization":  # which key pays would be ambiguous
                raise GatewayHTTPError(
                    401,
                    "more than one Authorization header",
                    type_="authentication_error",
                    code="invalid_api_key",
                )
            name = k.decode("latin-1")[:100]
            raise GatewayHTTPError(
                400, f"header {name} given more than once; give it once", param=name, code="duplicate_header"
            )
        out[k] = v
    return out


def api_key(headers: Mapping[bytes, bytes], keys: Mapping[str, Any]) -> str:
    """The request's key from ``Authorization: Bearer <key>``; 401 when missing, malformed or unknown."""
    raw = headers.get(b"authorization", b"")
    key = ""
    if raw[:7].lower() == b"bearer " and raw.isascii():
        key = raw[7:].decode("ascii").strip()
    if not key or key not in keys:
        raise GatewayHTTPError(
            401,
            "missing or unknown API key (Authorization: Bearer <key>)",
            type_="authentication_error",
            code="invalid_api_key",
        )
    return key


def _count(body: Mapping[str, Any], name: str, hi: int | None = None) -> int | None:
    v = body.get(name)
    if v is None:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or v < 1 or (hi is not None and v > hi):
        form = f"an integer in [1, {hi}]" if hi is not None else "an integer ≥ 1"
        raise GatewayHTTPError(400, f"{name} must be {form}; got {v!r}", param=name)
    return v


def check_chat(body: Mapping[str, Any]) -> tuple[str, bool, int | None, int]:
    """(model, stream, max output tokens or None, n) of a chat request, else 400 naming the field:
    the messages and optional OpenAI fields (``chat_fields``), the lengths and the engine-specific
    fields."""
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise GatewayHTTPError(400, "messages must be a non-empty array", param="messages")
    check_messages(msgs)
    check_fields(body)
    model = body.get("model", "tokenomy-auto")
    if not isinstance(model, str) or not model:
        raise GatewayHTTPError(400, f"model must be a non-empty string; got {model!r}", param="model")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise GatewayHTTPError(400, f"stream must be true or false; got {stream!r}", param="stream")
    opts = body.get("stream_options")
    if opts is not None and not isinstance(opts, dict):
        raise GatewayHTTPError(400, "stream_options must be an object", param="stream_options")
    a, b = _count(body, "max_completion_tokens"), _count(body, "max_tokens")
    if a is not None and b is not None and a != b:
        raise GatewayHTTPError(
            400, "max_tokens and max_completion_tokens differ; give one", param="max_completion_tokens"
        )
    n = _count(body, "n", MAX_N) or 1
    for name in _LENGTH_FIELDS:
        if name in body:
            raise GatewayHTTPError(
                400, f"{name} is not accepted: output length is set by max_tokens only", param=name
            )
    return model, stream, a if a is not None else b, n
