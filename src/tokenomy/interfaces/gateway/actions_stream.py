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

__all__ = ["StreamGate"]


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
