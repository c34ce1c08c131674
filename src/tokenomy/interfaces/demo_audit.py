"""Demo section: the token-aware audit on the real agent logs, or on a small synthetic OTLP file.

With the data folder: ``tokenomy audit`` on the mini-swe-agent + Gemini 3 Pro SWE-bench Verified run
(500 trajectories, 20,163 billed calls): realised totals at the default prices, recomputed cost beside
the provider-reported one, the failure-mode table, and the paper's prediction 1 as the verification
curve (observational: tasks were not assigned verify budgets at random); then the tau-bench airline
episodes for over-delegation (commits without the user's "yes" the policy requires). Each writes an
HTML report and its JSON into the demo's output folder. Without the data: a 40-span OTLP file written
here from templates (synthetic, labelled so) goes through the same importer and detectors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tokenomy.audit.report_audit import build_report
from tokenomy.interfaces.cmd_audit import audit_inputs, summary
from tokenomy.interfaces.cmd_demo import DemoContext

__all__ = ["TITLE", "section", "write_sample_otlp"]

TITLE = "audit: token-aware evaluation of real agent logs (seven failure modes, prediction 1)"

SYNTHETIC_NOTE = (
    "synthetic: the OTLP sample's spans, token counts, labels and confirmations are made up to exercise "
    "the importer; its figures say nothing about any real system"
)


def _write(
    ctx: DemoContext, name: str, result: Any, payload: dict[str, Any], subtitle: str
) -> dict[str, str]:
    html = build_report(result, payload, subtitle=subtitle).write(ctx.out_dir / f"audit_{name}.html")
    js = ctx.out_dir / f"audit_{name}.json"
    js.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")
    ctx.echo(f"wrote {html} and {js}")
    return {"report": str(html), "json": str(js)}


def _miniswe(ctx: DemoContext, folder: Path) -> dict[str, Any]:
    result, payload = audit_inputs([str(folder)], "miniswe")
    tot = payload["totals"]
    ctx.echo(
        f"mini-swe-agent + Gemini 3 Pro, SWE-bench Verified: {tot['requests']} tasks, {tot['llm_calls']:,} "
        f"billed calls, {tot['resolved_or_quality_sum']:.0f} resolved"
    )
    summary(payload, ctx.echo, examples=3 if not ctx.quick else 0)
    drift = tot["cost_usd"] - (tot["reported_cost_usd"] or 0.0)
    ctx.echo(
        f"billing drift: cost recomputed from tokens at genai-prices' rate ${tot['cost_usd']:.2f} vs "
        f"provider-reported ${tot['reported_cost_usd']:.2f} ({drift:+.2f}, {drift / tot['reported_cost_usd']:+.1%})"
    )
    files = _write(ctx, "miniswe", result, payload, f"inputs: {folder}")
    return {
        "totals": tot,
        "failure_modes": _modes(payload),
        "verification_curve": payload["verification_curve"],
        **files,
    }


def _taubench(ctx: DemoContext, folder: Path) -> dict[str, Any]:
    result, payload = audit_inputs([str(folder)], "taubench")
    od = payload["failure_modes"]["over_delegation"]
    d = od["details"]
    ctx.echo(
        f"\ntau-bench airline (gpt-4o, {payload['totals']['requests']} episodes): {od['count']} of "
        f"{d.get('actions_needing_confirmation', 0)} state-changing calls made without the user's explicit "
        f"'yes'; mean reward {d.get('quality_with_unconfirmed', float('nan')):.2f} in episodes with one vs "
        f"{d.get('quality_all_confirmed', float('nan')):.2f} when every commit was confirmed"
    )
    ctx.echo(f"threshold: {od['threshold']}")
    files = _write(ctx, "taubench", result, payload, f"inputs: {folder}")
    return {"totals": payload["totals"], "failure_modes": _modes(payload), **files}


def _modes(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        m: {k: f[k] for k in ("applicable", "count", "impact_usd", "reason")}
        for m, f in payload["failure_modes"].items()
    }


def write_sample_otlp(path: Path, n_traces: int = 10) -> Path:
    """A small OTLP JSON Lines file (one export request per trace): chat spans and tool spans.

    Synthetic. Each trace is an agent run: two ``chat`` calls and two ``execute_tool`` spans, one a
    state-changing ``book_flight`` that is confirmed in even traces only; labels ride as ``tokenomy.*``.
    """

    def attr(key: str, value: Any) -> dict[str, Any]:
        if isinstance(value, bool):
            return {"key": key, "value": {"boolValue": value}}
        if isinstance(value, int):
            return {"key": key, "value": {"intValue": str(value)}}
        if isinstance(value, float):
            return {"key": key, "value": {"doubleValue": value}}
        return {"key": key, "value": {"stringValue": value}}

    t0 = 1_735_689_600 * 10**9  # 2025-01-01
    with path.open("w", encoding="utf-8") as f:
        for t in range(n_traces):
            tid = f"{t + 1:032x}"
            spans = []
            for k in range(4):
                start = t0 + (t * 10 + k) * 10**9
                sid = f"{t * 16 + k + 1:016x}"
                if k % 2 == 0:
                    attrs = [
                        attr("gen_ai.operation.name", "chat"),
                        attr("gen_ai.request.model", "gpt-4o-mini" if t % 3 else "gpt-4o"),
                        attr("gen_ai.usage.input_tokens", 1200 + 400 * k + 50 * t),
                        attr("gen_ai.usage.output_tokens", 150 + 10 * t),
                        attr("gen_ai.usage.cache_read.input_tokens", 800 if k else 0),
                    ]
                else:
                    tool = "search_flights" if k == 1 else "book_flight"
                    attrs = [attr("gen_ai.operation.name", "execute_tool"), attr("gen_ai.tool.name", tool)]
                    if tool == "book_flight":
                        attrs += [
                            attr("tokenomy.autonomy_class", "commit"),
                            attr("tokenomy.confirmed", t % 2 == 0),
                        ]
                if k == 0:
                    attrs += [
                        attr("tokenomy.v_usd", 5.0),
                        attr("tokenomy.quality", float(t % 2 == 0 or t == 3)),
                    ]
                spans.append(
                    {
                        "traceId": tid,
                        "spanId": sid,
                        "parentSpanId": "",
                        "name": "span",
                        "startTimeUnixNano": str(start),
                        "endTimeUnixNano": str(start + (800 + 100 * k) * 10**6),
                        "attributes": attrs,
                    }
                )
            req = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": spans}]}]}
            f.write(json.dumps(req) + "\n")
    return path


def _sample(ctx: DemoContext) -> dict[str, Any]:
    path = write_sample_otlp(ctx.out_dir / "audit_sample_otlp.jsonl")
    result, payload = audit_inputs([str(path)], "otlp")
    ctx.echo(
        f"OTLP sample {path} ({payload['totals']['steps']} spans in {payload['totals']['requests']} traces)"
    )
    summary(payload, ctx.echo, examples=0)
    ctx.echo("note: " + SYNTHETIC_NOTE)
    payload["notes"].append(SYNTHETIC_NOTE)
    files = _write(ctx, "otlp_sample", result, payload, "synthetic OTLP sample")
    return {"totals": payload["totals"], "failure_modes": _modes(payload), "label": "synthetic", **files}


def section(ctx: DemoContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    agent = ctx.data_dir / "agent" if ctx.data_dir else None
    mini = agent / "miniswe_gemini3pro_swebv" if agent else None
    tau = agent / "taubench_gpt4o_airline" if agent else None
    if mini is not None and mini.is_dir():
        out["miniswe"] = _miniswe(ctx, mini)
    else:
        ctx.echo("mini-swe-agent data not found (agent/miniswe_gemini3pro_swebv): skipped")
    if tau is not None and tau.is_dir():
        out["taubench"] = _taubench(ctx, tau)
    else:
        ctx.echo("tau-bench data not found (agent/taubench_gpt4o_airline): skipped")
    if not out:
        out["otlp_sample"] = _sample(ctx)
    return out
