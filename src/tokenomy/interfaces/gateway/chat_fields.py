"""The fields of a chat body as OpenAI accepts them: each message and the optional request fields.

``check_messages``: a known role; content a string or an array of typed parts (null or absent only on
an assistant turn with ``tool_calls``, ``function_call``, ``refusal`` or ``audio``, or a function
turn); ``tool_calls`` an array of objects; ``name`` and ``tool_call_id`` strings. ``check_fields``: temperature, top_p, the
penalties, seed, logprobs, stop, tools, tool_choice, response_format, ... with OpenAI's types and
ranges (null reads as not given). Each failure is a 400 naming the field (``messages[1].content``,
``temperature``) and its form; nothing is coerced. Lengths, ``n``, model and stream are ``guards``'.
No pricing, routing or I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tokenomy.interfaces.gateway.errors import GatewayHTTPError

__all__ = ["check_fields", "check_messages"]

_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_MISSING = object()
# an assistant turn replayed from an answer may carry one of these and null content (OpenAI accepts it)
_INSTEAD_OF_CONTENT = ("tool_calls", "function_call", "refusal", "audio")


def _bad_message(i: int, field: str, form: str, got: Any) -> GatewayHTTPError:
    where = f"messages[{i}].{field}"
    shown = "missing" if got is _MISSING else f"got {got!r}"
    return GatewayHTTPError(400, f"{where} must be {form}; {shown}"[:200], param=where, code="invalid_value")


def _parts(content: list[Any]) -> bool:
    return all(isinstance(p, dict) and isinstance(p.get("type"), str) for p in content)


def _check_message(i: int, m: Any) -> None:
    """One chat message as OpenAI accepts it: a known role; content a string or an array of typed parts
    (null or absent only on an assistant turn with ``tool_calls``, ``function_call``, ``refusal`` or
    ``audio``, or a function turn); ``tool_calls`` an array of objects; ``name`` and ``tool_call_id`` strings."""
    if not isinstance(m, dict):
        raise GatewayHTTPError(
            400, f"messages[{i}] must be an object; got {type(m).__name__}", param=f"messages[{i}]"
        )
    role = m.get("role", _MISSING)
    if role not in _ROLES:
        raise _bad_message(i, "role", "one of " + ", ".join(_ROLES), role)
    content = m.get("content", _MISSING)
    if isinstance(content, str):
        pass
    elif isinstance(content, list):
        if not _parts(content):
            raise _bad_message(i, "content", 'a string or an array of parts {"type": ..., ...}', content)
    elif content is None or content is _MISSING:
        if not (role == "function" or (role == "assistant" and any(m.get(k) for k in _INSTEAD_OF_CONTENT))):
            form = "a string or an array of content parts"
            raise _bad_message(
                i, "content", form + (" (or null with tool_calls)" if role == "assistant" else ""), content
            )
    else:
        raise _bad_message(i, "content", "a string or an array of content parts", content)
    calls = m.get("tool_calls")
    if calls is not None and not (isinstance(calls, list) and all(isinstance(c, dict) for c in calls)):
        raise _bad_message(i, "tool_calls", "an array of tool-call objects", calls)
    for field in ("name", "tool_call_id"):
        v = m.get(field)
        if v is not None and not isinstance(v, str):
            raise _bad_message(i, field, "a string", v)


def _number(lo: float, hi: float) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi


def _integer(lo: float, hi: float) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _typed_list(v: Any) -> bool:
    return isinstance(v, list) and _parts(v)


# the optional OpenAI fields forwarded to an upstream, each with its check (OpenAI's types and ranges)
_FIELDS: dict[str, Callable[[Any], bool]] = {
    "temperature": _number(0.0, 2.0),
    "top_p": _number(0.0, 1.0),
    "presence_penalty": _number(-2.0, 2.0),
    "frequency_penalty": _number(-2.0, 2.0),
    "seed": _integer(-(2**63), 2**64 - 1),
    "top_logprobs": _integer(0, 20),
    "logprobs": lambda v: isinstance(v, bool),
    "parallel_tool_calls": lambda v: isinstance(v, bool),
    "user": lambda v: isinstance(v, str),
    "stop": lambda v: (
        isinstance(v, str) or (isinstance(v, list) and len(v) <= 4 and all(isinstance(x, str) for x in v))
    ),
    "tools": _typed_list,
    "tool_choice": lambda v: isinstance(v, (str, dict)),
    "functions": lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
    "function_call": lambda v: isinstance(v, (str, dict)),
    "response_format": lambda v: isinstance(v, dict),
    "logit_bias": lambda v: isinstance(v, dict),
}
_FORMS = {
    "temperature": "a number in [0, 2]",
    "top_p": "a number in [0, 1]",
    "presence_penalty": "a number in [-2, 2]",
    "frequency_penalty": "a number in [-2, 2]",
    "seed": "an integer",
    "top_logprobs": "an integer in [0, 20]",
    "logprobs": "true or false",
    "parallel_tool_calls": "true or false",
    "user": "a string",
    "stop": "a string or an array of at most 4 strings",
    "tools": 'an array of tool objects {"type": ..., ...}',
    "tool_choice": "a string or an object",
    "functions": "an array of objects",
    "function_call": "a string or an object",
    "response_format": "an object",
    "logit_bias": "an object",
}


def check_messages(msgs: list[Any]) -> None:
    """Each message of a non-empty ``messages`` array (``_check_message``), else 400 naming it."""
    for i, m in enumerate(msgs):
        _check_message(i, m)


def check_fields(body: Mapping[str, Any]) -> None:
    """The optional OpenAI fields of a chat body (types and OpenAI's ranges; null reads as not given,
    as OpenAI reads it), else 400 naming the field and its form."""
    for name, check in _FIELDS.items():
        v = body.get(name)
        if v is not None and not check(v):
            raise GatewayHTTPError(
                400, f"{name} must be {_FORMS[name]}; got {v!r}"[:200], param=name, code="invalid_value"
            )
