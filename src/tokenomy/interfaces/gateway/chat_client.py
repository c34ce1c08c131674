"""One chat completion posted to an OpenAI-compatible server (``chat_once``) and the reply as the
client saw it (``ChatReply``: status, text, token counts, latency, headers, body).

The client the self-test, the real-model tests and the model benchmark use to talk to the llama.cpp
servers of ``local_models`` or to the gateway in front of them (re-exported by ``local_models``).
Non-streaming, temperature 0, standard library only; it does not retry, route or record anything.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChatReply", "chat_once"]


@dataclass(frozen=True, slots=True)
class ChatReply:
    """One chat completion as the client saw it.

    Attributes:
        status: HTTP status.
        text: the first choice's message content ("" on an error).
        model: the ``model`` field of the reply.
        prompt_tokens, completion_tokens: token counts from ``usage`` (0 when absent).
        latency_s: wall time from sending to the whole body received.
        headers: response headers, lower-case name -> value.
        body: the decoded JSON body; key -> value.
    """

    status: int
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] = field(default_factory=dict)


def chat_once(
    base_url: str,
    model: str,
    messages: Sequence[Mapping[str, str]],
    *,
    max_tokens: int = 16,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 120.0,
) -> ChatReply:
    """POST one non-streaming ``/chat/completions`` (temperature 0) and return the reply.

    HTTP errors come back as a reply with their status and body; only a refused connection or a
    timeout raises (``OSError``).
    """
    payload = {"model": model, "messages": list(messages), "max_tokens": max_tokens, "temperature": 0.0}
    req = urllib.request.Request(
        f"{base_url.rstrip('/')}/chat/completions",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            status, raw, hdrs = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as exc:
        status, raw, hdrs = exc.code, exc.read(), exc.headers
    latency = time.perf_counter() - t0
    try:
        body = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        body = {}
    body = body if isinstance(body, dict) else {}
    choices = body.get("choices") or [{}]
    text = str(((choices[0] or {}).get("message") or {}).get("content") or "")
    usage = body.get("usage") or {}
    return ChatReply(
        status=status,
        text=text,
        model=str(body.get("model", "")),
        prompt_tokens=int(usage.get("prompt_tokens", 0) or 0),
        completion_tokens=int(usage.get("completion_tokens", 0) or 0),
        latency_s=latency,
        headers={k.lower(): v for k, v in hdrs.items()},
        body=body,
    )
