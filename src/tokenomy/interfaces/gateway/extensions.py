"""Attach the gateway's optional parts from the config: tool-call gate, OpenTelemetry spans, /metrics.

* ``[metrics]`` (``enabled``, default true): ``GET /metrics`` in Prometheus text from
  ``metrics.GatewayMetrics``, fed with every finished request, refusal, retry and λ_m.
* ``[telemetry]`` (``otlp_endpoint`` and/or ``json_path``): one GenAI span per request
  (``telemetry.Telemetry``; needs opentelemetry-sdk).
* ``[actions]`` (``enabled``, ``schedule`` path (default: the packaged schedule), ``secret`` of ≥ 32
  characters shared by gateway processes (default: a random one per process), ``ttl_s``): every
  ``tool_calls`` of a non-stream response judged by the action layer's gate (``actions.ActionFilter``);
  ``POST /v1/approvals`` redeems approval tokens. Streamed responses are gated too: tool-call deltas
  are held back until the whole call is judged (``actions_stream.SseToolGate``). The session is the
  client's ``X-Tokenomy-Session`` within its key (the same on responses and approvals), and every
  verdict goes to the gateway's ledger with its other records.
Each part is attached through the app's hooks (``response_filters``, ``on_request``, ``extra_routes``,
``on_close``); a part that is not configured is skipped and named in the returned notes.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Mapping
from typing import Any

from tokenomy.core.errors import SchemaError
from tokenomy.interfaces.gateway.app import Gateway, Receive, Scope, Send, send_json
from tokenomy.interfaces.gateway.guards import api_key, read_body, single_headers
from tokenomy.interfaces.gateway.records import RequestRecord

__all__ = ["attach_extensions"]


def _bool(table: str, data: Mapping[str, Any], key: str, default: bool) -> bool:
    v = data.get(key, default)
    if not isinstance(v, bool):
        raise SchemaError(f"[{table}].{key}: expected true or false; got {v!r}")
    return v


def _text(table: str, data: Mapping[str, Any], key: str) -> str | None:
    v = data.get(key)
    if v is not None and (not isinstance(v, str) or not v):
        raise SchemaError(f"[{table}].{key}: expected non-empty text; got {v!r}")
    return v


def attach_extensions(app: Gateway) -> list[str]:
    """Attach what the config asks for; return one note per part."""
    ext = app.config.extensions
    notes = [_metrics(app, ext.get("metrics", {}))]
    notes.append(
        _telemetry(app, ext["telemetry"]) if "telemetry" in ext else "telemetry: off (no [telemetry])"
    )
    notes.append(_actions(app, ext["actions"]) if "actions" in ext else "actions: off (no [actions])")
    return notes


def _metrics(app: Gateway, data: Mapping[str, Any]) -> str:
    if not _bool("metrics", data, "enabled", True):
        return "metrics: off"
    from tokenomy.interfaces.gateway.metrics import CONTENT_TYPE, GatewayMetrics

    m = GatewayMetrics()

    def done(rec: RequestRecord) -> None:
        model = rec.served or "none"
        m.request_done(
            model,
            rec.status,
            latency_s=rec.latency_s,
            upstream=model,
            input_tokens=rec.prompt_tokens,
            output_tokens=rec.completion_tokens,
            cost_usd=rec.cost_usd,
        )
        for a in rec.attempts:
            m.retry(a.upstream, a.error.split(":", 1)[0])
        if rec.served is None:
            m.refusal(rec.reason)

    async def route(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
        for name, u in gw.upstreams.items():
            m.set_lambda(name, u.queue.lam_usd_per_s)
            m.set_queue_depth(name, u.queue.queued)
        body = m.render().encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", CONTENT_TYPE.encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    app.on_request.append(done)
    app.extra_routes[("GET", "/metrics")] = route
    return "metrics: GET /metrics"


def _telemetry(app: Gateway, data: Mapping[str, Any]) -> str:
    from tokenomy.interfaces.gateway.telemetry import RequestSpan, Telemetry

    endpoint, path = _text("telemetry", data, "otlp_endpoint"), _text("telemetry", data, "json_path")
    tel = Telemetry(otlp_endpoint=endpoint, json_path=path)

    def done(rec: RequestRecord) -> None:
        end_ns = int((rec.time_s + rec.latency_s) * 1e9)
        s = dict(zip(rec.names, rec.est_surplus_usd, strict=True)).get(rec.served or "")
        tel.record(
            RequestSpan(
                request_id=rec.request_id,
                request_model="tokenomy-auto" if rec.policy != "pinned" else rec.policy_pick,
                response_model=rec.served or "",
                start_ns=int(rec.time_s * 1e9),
                end_ns=end_ns,
                input_tokens=rec.prompt_tokens,
                output_tokens=rec.completion_tokens,
                upstream=rec.served or "",
                error_type="" if rec.status == 200 else (rec.reason or str(rec.status)),
                v_usd=rec.prices.v_usd,
                lam_usd_per_s=rec.prices.lam_usd_per_s,
                rho_usd=rec.prices.rho_usd,
                surplus_usd=s,
                propensity=rec.propensity,
                explored=rec.explored,
                cost_usd=rec.cost_usd,
                retries=len(rec.attempts),
                tenant=rec.tenant,
                stream=rec.stream,
            )
        )

    app.on_request.append(done)
    app.on_close.append(tel.close)
    return f"telemetry: spans to {', '.join(x for x in (endpoint, path) if x)}"


def _actions(app: Gateway, data: Mapping[str, Any]) -> str:
    if not _bool("actions", data, "enabled", True):
        return "actions: off"
    from tokenomy.autonomy.gate import Gate
    from tokenomy.interfaces.gateway.actions import (
        ActionFilter,
        ApprovalTokens,
        VerdictBuffer,
        session_id_for,
    )
    from tokenomy.interfaces.gateway.actions_stream import SseToolGate, StreamGate
    from tokenomy.interfaces.loaders.agent_data import load_schedule

    secret = _text("actions", data, "secret")
    if secret is not None and len(secret) < 32:
        raise SchemaError(
            "[actions].secret: expected at least 32 characters (share it between gateway processes)"
        )
    ttl = data.get("ttl_s", 900.0)
    if not isinstance(ttl, (int, float)) or isinstance(ttl, bool) or not ttl > 0:
        raise SchemaError(f"[actions].ttl_s: expected a number of seconds > 0; got {ttl!r}")
    schedule = load_schedule(_text("actions", data, "schedule"))
    verdicts = VerdictBuffer()  # every verdict, written by the record writer in its own transactions
    app.sink.sources.append(verdicts.drain)
    flt = ActionFilter(
        Gate(schedule, ledger=verdicts),
        ApprovalTokens((secret or secrets.token_hex(32)).encode(), ttl_s=float(ttl)),
        clock=time.time,
    )
    tenants = {k: v.tenant for k, v in app.config.keys.items()}

    def gate(body: dict[str, Any], request_id: str, key: str, session: str | None) -> dict[str, Any]:
        if not any(
            isinstance(c, dict)
            and isinstance(c.get("message"), dict)
            and ("tool_calls" in c["message"] or "function_call" in c["message"])
            for c in body.get("choices") or []
        ):
            return body  # nothing to judge: skip the copy
        return flt.filter_response(
            body,
            session_id=session_id_for(key or None, session),
            request_id=request_id,
            tenant=tenants.get(key, ""),
        )

    def stream_gate(r: Any) -> SseToolGate:
        return SseToolGate(
            StreamGate(flt),
            session_id=session_id_for(r.key or None, r.session),
            request_id=r.rid,
            tenant=tenants.get(r.key, ""),
        )

    async def approvals(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
        headers = single_headers(scope["headers"])
        key = api_key(headers, gw.config.keys) if gw.config.keys else ""
        raw = await read_body(
            receive, scope, gw.config.server.max_body_bytes, gw.config.server.body_timeout_s
        )
        session = headers.get(b"x-tokenomy-session", b"").decode("latin-1") or None
        status, out = flt.approval_endpoint(
            raw,
            session_id=session_id_for(key or None, session),
            approver=hashlib.sha256(key.encode()).hexdigest()[:16],
        )
        import json

        await send_json(send, status, json.dumps(out).encode())

    app.response_filters.append(gate)
    app.stream_gate = stream_gate
    app.extra_routes[("POST", "/v1/approvals")] = approvals
    return "actions: tool calls gated (whole and streamed answers); POST /v1/approvals"
