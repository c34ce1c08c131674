"""Tool calls of a streamed chat completion, withheld until the gate has judged them.

:class:`StreamGate` sits between the upstream's ``chat.completion.chunk`` objects and the client: it
forwards every chunk without its tool-call deltas, assembles the calls, and at the end of the stream
has :class:`~tokenomy.interfaces.gateway.actions.ActionFilter` judge them, returning the chunks that
carry the kept calls, the explanation of removed ones and ``tokenomy.actions``. No I/O.
"""

from __future__ import annotations

import json
from typing import Any

from tokenomy.interfaces.gateway.actions import ActionFilter

__all__ = ["SseToolGate", "StreamGate"]


class StreamGate:
    """Gate the tool calls of one streamed chat completion (``chat.completion.chunk`` objects).

    :meth:`feed` takes each chunk and returns what to forward: the chunk without its ``tool_calls`` /
    ``function_call`` deltas and without a ``tool_calls`` finish reason (None when nothing is left to
    send). The calls are assembled meanwhile; :meth:`finish` judges them with the filter and returns
    the chunks to send before ``[DONE]``: per choice, the kept calls as one delta, the denial text as
    content when every call was removed, the finish reason, and ``tokenomy.actions``. A client thus
    never receives a tool call the gate has not judged.
    """

    def __init__(self, flt: ActionFilter) -> None:
        self.filter = flt
        self._calls: dict[int, dict[int, dict[str, Any]]] = {}  # choice -> tool index -> assembled call
        self._finish: dict[int, str] = {}  # choice -> withheld finish reason
        self._head: dict[str, Any] = {}  # id, created, model of the stream

    def feed(self, chunk: dict[str, Any]) -> dict[str, Any] | None:
        """The chunk to forward (changed in place), or None when only tool-call deltas were in it."""
        for k in ("id", "created", "model", "system_fingerprint"):
            if k in chunk:
                self._head[k] = chunk[k]
        keep = any(
            k not in ("id", "object", "created", "model", "system_fingerprint", "choices") for k in chunk
        )
        choices = chunk.get("choices")
        for ch in choices if isinstance(choices, list) else []:
            if not isinstance(ch, dict):
                continue
            i = ch.get("index", 0) if isinstance(ch.get("index", 0), int) else 0
            delta = ch.get("delta")
            if isinstance(delta, dict):
                for n, part in enumerate(_as_list(delta.pop("tool_calls", None))):
                    self._add(i, part.get("index", n) if isinstance(part, dict) else n, part)
                legacy = delta.pop("function_call", None)
                if legacy is not None:
                    self._add(i, -1, {"function": legacy})
            if ch.get("finish_reason") in ("tool_calls", "function_call") or (
                i in self._calls and ch.get("finish_reason")
            ):
                self._finish[i] = str(ch.pop("finish_reason"))
                ch["finish_reason"] = None
            if ch.get("finish_reason") or (isinstance(delta, dict) and delta) or not isinstance(delta, dict):
                keep = True
        return chunk if keep else None

    def _add(self, choice: int, index: object, part: object) -> None:
        calls = self._calls.setdefault(choice, {})
        key = index if isinstance(index, int) else len(calls)
        call = calls.setdefault(
            key, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if not isinstance(part, dict):
            call["function"]["arguments"] += json.dumps(part, default=str)  # malformed: judged as unknown
            return
        if isinstance(part.get("id"), str):
            call["id"] = part["id"]
        fn = part.get("function")
        if isinstance(fn, dict):
            for field_name in ("name", "arguments"):
                piece = fn.get(field_name)
                if isinstance(piece, str):
                    call["function"][field_name] += piece
                elif piece is not None:
                    call["function"][field_name] = piece  # a whole object sent at once (not OpenAI's form)

    def finish(self, *, session_id: str, request_id: str = "", tenant: str = "") -> list[dict[str, Any]]:
        """The chunks to send before ``[DONE]`` (none when the stream held no tool call)."""
        out: list[dict[str, Any]] = []
        for i, calls in sorted(self._calls.items()):
            order = sorted(calls)
            res = self.filter.filter_tool_calls(
                [calls[k] for k in order],
                session_id=session_id,
                request_id=request_id,
                tenant=tenant,
                choice_index=i,
            )
            legacy = order == [-1]
            delta: dict[str, Any] = {}
            if res.kept and legacy:
                delta["function_call"] = res.kept[0]["function"]
            elif res.kept:
                delta["tool_calls"] = [dict(c, index=n) for n, c in enumerate(res.kept)]
            else:
                delta["content"] = res.denial_text
            finish = self._finish.get(i, "tool_calls")
            if not res.kept:
                finish = "stop"
            out.append(
                {
                    **self._head,
                    "object": "chat.completion.chunk",
                    "choices": [{"index": i, "delta": delta, "finish_reason": finish}],
                    "tokenomy": {"actions": [n.as_json() for n in res.notes]},
                }
            )
        self._calls.clear()
        return out


def _as_list(value: object) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


class SseToolGate:
    """``StreamGate`` on the raw SSE bytes of one relayed stream (the gateway's ``StreamFilter``).

    Bytes are cut into events at blank lines (an event split across reads waits for its end); each
    ``data: {...}`` event goes through ``StreamGate.feed`` and is re-encoded, or dropped when only tool
    call deltas were in it; at ``data: [DONE]`` (or at the end of the stream) the judged calls are sent
    first. Events that are not JSON objects pass unchanged. The buffer is bounded by what the upstream
    client lets through (its response-size cap).
    """

    def __init__(self, gate: StreamGate, *, session_id: str, request_id: str = "", tenant: str = "") -> None:
        self.gate = gate
        self.session_id, self.request_id, self.tenant = session_id, request_id, tenant
        self._buf = b""
        self._done = False

    def feed(self, data: bytes) -> bytes:
        """The bytes to forward for ``data``: whole events, rewritten."""
        # CRLF and CR end lines too (SSE): normalised first, so no event hides from the split
        self._buf = (self._buf + data).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *events, self._buf = self._buf.split(b"\n\n")
        return b"".join(self._event(e) for e in events)

    def close(self) -> bytes:
        """What is left: an unfinished last event, then the judged calls if ``[DONE]`` never came."""
        rest, self._buf = self._buf, b""
        out = self._event(rest) if rest.strip() else b""
        if not self._done:
            out += self._finish()
        return out

    def _finish(self) -> bytes:
        self._done = True
        tail = self.gate.finish(session_id=self.session_id, request_id=self.request_id, tenant=self.tenant)
        return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in tail)

    def _event(self, event: bytes) -> bytes:
        lines = event.split(b"\n")
        data = [ln[5:].removeprefix(b" ") for ln in lines if ln.startswith(b"data:")]
        if not data:
            return event + b"\n\n"  # comments, event names, ids: nothing to judge
        payload = b"\n".join(data).strip()
        if payload == b"[DONE]":
            return (b"" if self._done else self._finish()) + b"data: [DONE]\n\n"
        try:
            doc = json.loads(payload)
        except (ValueError, RecursionError):
            doc = None
        if not isinstance(doc, dict):
            return b""  # a data event the gate cannot read could carry a call: dropped (fail closed)
        kept = self.gate.feed(doc)
        return b"" if kept is None else b"data: " + json.dumps(kept).encode() + b"\n\n"
