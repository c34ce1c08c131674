"""LiteLLM spend logs and Langfuse observations (decoded records) into audit step rows.

LiteLLM: ``LiteLLM_SpendLogs`` rows (``request_id, call_type, spend, prompt_tokens, completion_tokens,
startTime, endTime, model, custom_llm_provider, metadata, session_id, status``) and
``StandardLoggingPayload`` objects (``id, trace_id, response_cost, prompt_tokens, completion_tokens,
startTime, endTime, model, custom_llm_provider, metadata, status``). Cache tokens are read from the
usage object when the row carries one (``metadata.usage_object`` / ``response.usage``:
``prompt_tokens_details.cached_tokens``, ``cache_read_input_tokens``, ``cache_creation_input_tokens``).
Langfuse: observations (``id, traceId, parentObservationId, type, name, startTime, endTime, model,
usageDetails, costDetails, level, metadata``; legacy ``usage``/``promptTokens`` too); a TOOL
observation's ``input`` is its arguments. Tool calls a LiteLLM response asked for
(``response.choices[].message.tool_calls[]``: ``function.name``, ``function.arguments``) become tool
steps of the same request. A tool step keeps ``tokenomy.autonomy_class`` from the metadata when given;
otherwise the audit classes it with the action layer's classifier (name + arguments). The provider- or
gateway-reported cost is kept as ``reported_cost_usd`` beside the recomputed one. No I/O.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any

from tokenomy.audit.actions import arguments_text
from tokenomy.audit.log import MAX_TOKENS_PER_CALL
from tokenomy.core.errors import SchemaError

__all__ = ["LABELS", "langfuse_row", "litellm_row", "litellm_rows", "timestamp_s", "token_count"]

LABELS = "labels"
"""Key of a step row's request labels (session, user, tags), taken off before the row becomes a step."""


def timestamp_s(value: Any, where: str, name: str) -> float:
    """Seconds since the epoch from an ISO-8601 string or a number (seconds, or ms when > 1e11)."""
    if value is None or value == "":
        return float("nan")
    if isinstance(value, int | float):
        v = float(value)
        return v / 1000.0 if v > 1e11 else v
    try:
        t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        try:
            return timestamp_s(float(value), where, name)
        except ValueError:
            raise SchemaError(
                f"{where}: {name} must be an ISO-8601 time or epoch number, got {value!r}"
            ) from None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp()


def token_count(v: Any, where: str, key: str) -> int:
    """A token count: absent (None, "") is 0; else a whole number in [0, ``MAX_TOKENS_PER_CALL``]
    (``3``, ``3.0``, ``"3"``), or a SchemaError naming ``where`` and the field. A negative, fractional
    or absurd count is never taken: it would lower (or blow up) the bill."""
    if v is None or v == "":
        return 0
    n: float | None = None
    if isinstance(v, int | float | str) and not isinstance(v, bool):
        try:
            n = float(v)
        except ValueError:
            n = None
    if n is None or not n.is_integer() or not 0 <= n <= MAX_TOKENS_PER_CALL:
        raise SchemaError(
            f"{where}: field {key!r}={v!r}; expected a whole token count in [0, {MAX_TOKENS_PER_CALL:.0e}]"
        )
    return int(n)


def _int(rec: Mapping[str, Any], key: str, where: str) -> int:
    return token_count(rec.get(key), where, key)


def _float(v: Any, where: str, key: str) -> float:
    """A reported cost: absent (None, "") is NaN (not reported); else a finite number ≥ 0."""
    if v is None or (isinstance(v, str) and v == ""):
        return float("nan")
    try:
        x = float(v)
    except (TypeError, ValueError, OverflowError):
        x = float("nan")
    if isinstance(v, bool) or not math.isfinite(x) or x < 0:
        raise SchemaError(f"{where}: field {key!r} must be a finite number ≥ 0, got {v!r}")
    return x


def _latency(start: float, end: float, where: str) -> float:
    """``end - start`` in seconds (NaN when either is absent); an end before the start is an error."""
    if end != end or start != start:
        return float("nan")
    if end < start:
        raise SchemaError(f"{where}: endTime is before startTime; expected endTime ≥ startTime")
    return end - start


def _obj_field(rec: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    """``rec[key]`` as a mapping (an object or JSON object text); absent is empty, anything else an error."""
    v = rec.get(key)
    if v is None or (isinstance(v, str) and v == ""):
        return {}
    out = _json_obj(v)
    if not out and not (isinstance(v, Mapping) or (isinstance(v, str) and v.strip() == "{}")):
        raise SchemaError(
            f"{where}: field {key!r} must be an object of numbers (or its JSON text), got {v!r}"
        )
    return out


def _json_obj(v: Any) -> Mapping[str, Any]:
    if isinstance(v, Mapping):
        return v
    if isinstance(v, str) and v.startswith("{"):
        try:
            out = json.loads(v)
        except json.JSONDecodeError:
            return {}
        return out if isinstance(out, Mapping) else {}
    return {}


def _usage_cache(usage: Mapping[str, Any], where: str) -> tuple[int, int]:
    details = usage.get("prompt_tokens_details") or {}
    read = token_count(usage.get("cache_read_input_tokens"), where, "usage.cache_read_input_tokens")
    if not read and isinstance(details, Mapping):
        read = token_count(details.get("cached_tokens"), where, "usage.prompt_tokens_details.cached_tokens")
    write = token_count(usage.get("cache_creation_input_tokens"), where, "usage.cache_creation_input_tokens")
    return read, write


def _flag(v: Any) -> bool:
    """A LiteLLM boolean: ``true`` in a payload, ``"True"`` in a SpendLogs row."""
    return v is True or (isinstance(v, str) and v.strip().lower() in ("true", "1"))


def litellm_row(rec: Mapping[str, Any], where: str) -> dict[str, Any]:
    """One step row from a LiteLLM spend-log row or StandardLoggingPayload."""
    if not isinstance(rec, Mapping):
        raise SchemaError(f"{where}: expected an object (a LiteLLM spend-log row)")
    step_id = rec.get("request_id") or rec.get("id")
    if not step_id:
        raise SchemaError(f"{where}: missing field 'request_id' (SpendLogs) or 'id' (StandardLoggingPayload)")
    meta = _json_obj(rec.get("metadata"))
    usage = _json_obj(meta.get("usage_object")) or _json_obj(_json_obj(rec.get("response")).get("usage"))
    read, write = _usage_cache(usage, where)
    start = timestamp_s(rec.get("startTime"), where, "startTime")
    end = timestamp_s(rec.get("endTime"), where, "endTime")
    cost_key = "response_cost" if "response_cost" in rec else "spend"
    cost = rec.get(cost_key)
    status = str(rec.get("status") or "success").lower()
    request_id = str(rec.get("session_id") or rec.get("trace_id") or step_id)
    return {
        "request_id": request_id,
        LABELS: _litellm_labels(rec, meta, request_id),
        "step_id": str(step_id),
        "time_s": start,
        "latency_s": _latency(start, end, where),
        "kind": "llm",
        "operation": str(rec.get("call_type") or "completion"),
        "model": str(rec.get("model") or rec.get("model_group") or ""),
        "provider": str(rec.get("custom_llm_provider") or ""),
        "input_tokens": _int(rec, "prompt_tokens", where),
        "output_tokens": _int(rec, "completion_tokens", where),
        "cache_read_tokens": read,
        "cache_write_tokens": write,
        "reported_cost_usd": _float(cost, where, cost_key),
        "error": status not in ("success", ""),
        # answered from LiteLLM's response cache: no provider call, so the reported spend is the cost
        "cache_hit": _flag(rec.get("cache_hit")),
    }


def _first(*values: Any) -> str:
    for v in values:
        if v not in (None, ""):
            return str(v)
    return ""


def _tag_list(value: Any) -> list[str]:
    """Tags from a list or a JSON list in a string (SpendLogs stores ``request_tags`` as JSON text)."""
    if isinstance(value, str) and value.startswith("["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return []
    return [str(t) for t in value if t not in (None, "")] if isinstance(value, list) else []


def _litellm_labels(rec: Mapping[str, Any], meta: Mapping[str, Any], request_id: str) -> dict[str, Any]:
    """Session, user and tags of a LiteLLM record: the request's session, its end user (else the key's
    user or alias), its request tags plus ``team:<alias>`` for the key's team."""
    team = _first(meta.get("user_api_key_team_alias"), rec.get("team_id"), meta.get("user_api_key_team_id"))
    tags = _tag_list(rec.get("request_tags")) or _tag_list(meta.get("tags"))
    return {
        "session": _first(rec.get("session_id"), rec.get("trace_id"), meta.get("session_id")),
        "user": _first(
            rec.get("end_user"),
            rec.get("user"),
            meta.get("user_api_key_end_user_id"),
            meta.get("user_api_key_user_id"),
            meta.get("user_api_key_alias"),
        ),
        "tags": tags + ([f"team:{team}"] if team else []),
    }


def litellm_rows(rec: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    """The LLM step of a LiteLLM row, then one tool step per tool call its response asked for."""
    row = litellm_row(rec, where)
    response = _json_obj(rec.get("response"))
    choices = response.get("choices")
    out = [row]
    if not isinstance(choices, list):
        return out
    meta = _json_obj(rec.get("metadata"))
    end = row["time_s"] + (row["latency_s"] if row["latency_s"] == row["latency_s"] else 0.0)
    for c in choices:
        calls = (_json_obj(c.get("message")) if isinstance(c, Mapping) else {}).get("tool_calls")
        for j, call in enumerate(calls if isinstance(calls, list) else ()):
            fn = _json_obj(call.get("function")) if isinstance(call, Mapping) else {}
            name = fn.get("name")
            if not isinstance(name, str) or not name:
                raise SchemaError(
                    f"{where}: response tool_calls[{j}].function.name must be a non-empty string"
                )
            out.append(
                {
                    "request_id": row["request_id"],
                    "step_id": str(call.get("id") or f"{row['step_id']}:tool{len(out) - 1}"),
                    "parent_id": row["step_id"],
                    "time_s": end,
                    "kind": "tool",
                    "operation": "tool_call",
                    "tool": name,
                    "action_class": name,
                    "autonomy_class": str(meta.get("tokenomy.autonomy_class") or ""),
                    "tool_args": arguments_text(fn.get("arguments")),
                }
            )
    return out


_LF_KIND = {"GENERATION": "llm", "EMBEDDING": "llm", "TOOL": "tool", "RETRIEVER": "tool"}


def _lf_count(key: str) -> bool:
    """Whether a Langfuse usage key is a token count the audit reads (not a total, a unit or a cost)."""
    if "cost" in key.lower():
        return False
    return key in ("input", "output") or any(
        part in key for part in ("cache_read", "cached", "cache_creation", "cache_write", "reasoning")
    )


def langfuse_row(rec: Mapping[str, Any], where: str) -> dict[str, Any]:
    """One step row from a Langfuse observation."""
    if not isinstance(rec, Mapping):
        raise SchemaError(f"{where}: expected an object (a Langfuse observation)")
    for key in ("id", "traceId"):
        if not rec.get(key):
            raise SchemaError(f"{where}: missing field {key!r}")
    typ = str(rec.get("type") or "SPAN").upper()
    kind = _LF_KIND.get(typ, "group")
    ud = _obj_field(rec, "usageDetails", where) or _obj_field(rec, "usage", where)
    field = "usageDetails" if _json_obj(rec.get("usageDetails")) else "usage"
    counts = {k: token_count(v, where, f"{field}.{k}") for k, v in ud.items() if _lf_count(k)}
    inp = counts["input"] if "input" in ud else token_count(rec.get("promptTokens"), where, "promptTokens")
    out = (
        counts["output"]
        if "output" in ud
        else token_count(rec.get("completionTokens"), where, "completionTokens")
    )
    read = sum(
        v for k, v in counts.items() if "cache_read" in k or k in ("input_cached_tokens", "cached_tokens")
    )
    write = sum(v for k, v in counts.items() if "cache_creation" in k or "cache_write" in k)
    # Langfuse's "output" excludes the reasoning tokens when they are reported separately
    # (``output_reasoning_tokens``); they are billed as output tokens
    reasoning = sum(v for k, v in counts.items() if "reasoning" in k)
    # Langfuse's "input" excludes the cached tokens when they are reported separately
    total_in = inp + (read + write if any(k.startswith("input_") or "cache" in k for k in ud) else 0)
    cd = _obj_field(rec, "costDetails", where)
    cost = cd.get("total", rec.get("calculatedTotalCost", rec.get("totalCost")))
    start = timestamp_s(rec.get("startTime"), where, "startTime")
    end = timestamp_s(rec.get("endTime"), where, "endTime")
    meta = _json_obj(rec.get("metadata"))
    name = str(rec.get("name") or "")
    row: dict[str, Any] = {
        "request_id": str(rec["traceId"]),
        "step_id": str(rec["id"]),
        "parent_id": str(rec.get("parentObservationId") or ""),
        "time_s": start,
        "latency_s": _latency(start, end, where),
        "kind": kind,
        "operation": typ.lower(),
        "model": str(rec.get("model") or rec.get("providedModelName") or ""),
        "provider": str(meta.get("gen_ai.provider.name") or meta.get("ls_provider") or ""),
        "input_tokens": total_in,
        "output_tokens": out + reasoning,
        "reasoning_tokens": reasoning,
        "cache_read_tokens": read,
        "cache_write_tokens": write,
        "reported_cost_usd": _float(cost, where, "costDetails.total"),
        "error": str(rec.get("level") or "").upper() == "ERROR",
    }
    labels = {"session": rec.get("sessionId"), "user": rec.get("userId"), "tags": rec.get("tags")}
    if any(v not in (None, "", []) for v in labels.values()):  # trace-level fields, when exported with it
        row[LABELS] = labels
    if kind == "tool":
        row.update(
            tool=name,
            action_class=name,
            autonomy_class=str(meta.get("tokenomy.autonomy_class") or ""),  # "": classed by the audit
            tool_args=arguments_text(rec.get("input")),
        )
        if "tokenomy.confirmed" in meta:
            row["confirmed"] = int(bool(meta["tokenomy.confirmed"]))
    return row
