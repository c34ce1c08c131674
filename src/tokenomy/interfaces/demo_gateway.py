"""Demo section: the gateway live in front of two real small LLMs, pricing and learning per request.

Starts SmolLM2-135M and Gemma 3 270M under llama.cpp and the tokenomy gateway in front of them (the
``learned`` policy, ε = 0.1), sends a few dozen generated graded questions at three V levels, posts
each grade back as feedback, and prints the decisions (model, estimated surplus, propensity), the
congestion prices the gateway publishes, how the learned quality estimates moved, and the ledger it
wrote. Model prices are ASSUMED (per token as if hosted; see ``gateway.local_models``). Skipped, with
the install command, when the model packages are not installed.
"""

from __future__ import annotations

import json
import math
import urllib.request
from typing import Any

from tokenomy.interfaces.cmd_demo import DemoContext
from tokenomy.interfaces.outputs import remove_stale
from tokenomy.interfaces.table import format_table

__all__ = ["TITLE", "section"]

TITLE = "gateway: real models behind the allocator, live"

V_LEVELS_USD = (1e-4, 3e-4, 1e-3)
PER_LEVEL = 10


def section(ctx: DemoContext) -> dict[str, Any]:
    from tokenomy.interfaces.gateway.learned import LearnedPolicy
    from tokenomy.interfaces.gateway.local_models import EXTRA_HINT, LOCAL_MODELS, missing_packages
    from tokenomy.interfaces.gateway.selftest import LiveGateway
    from tokenomy.interfaces.gateway.workload import generate, grade
    from tokenomy.ledger import Ledger

    if missing := missing_packages():
        ctx.echo(f"skipped: the real models are not installed (missing {', '.join(missing)}); {EXTRA_HINT}")
        return {"skipped": f"missing {missing}"}
    workdir = ctx.out_dir / "gateway"
    remove_stale(workdir / "gateway-ledger.duckdb")
    n = (PER_LEVEL // 2 if ctx.quick else PER_LEVEL) * len(V_LEVELS_USD)
    questions = generate(n, seed=0)
    probe = {"easy": questions[0], "hard": next(q for q in questions if q.kind == "mul" and q.level == 3)}
    ctx.echo(
        "assumed prices (USD per Mtok in/out): "
        + ", ".join(f"{m.name} {m.input_usd_per_mtok:g}/{m.output_usd_per_mtok:g}" for m in LOCAL_MODELS)
        + "; λ = 1e-5 USD/s"
    )
    rows: list[dict[str, Any]] = []
    before: dict[str, dict[str, float]] = {}
    after: dict[str, dict[str, float]] = {}
    with LiveGateway(workdir, policy="learned", epsilon=0.1) as gw:
        policy = gw.app.policy
        assert isinstance(policy, LearnedPolicy)
        names = policy.router.models
        before = {k: dict(zip(names, policy.router.predict(policy.features(q.prompt)).round(2).tolist(), strict=True)) for k, q in probe.items()}  # fmt: skip
        for i, q in enumerate(questions):
            v = V_LEVELS_USD[i * len(V_LEVELS_USD) // n]
            reply = gw.ask(q, v_usd=v)
            h = reply.headers
            served = reply.status == 200
            grade_: float | str = grade(q, reply.text) if served else "—"
            if served:
                gw.feedback(h.get("x-tokenomy-request-id", ""), float(grade_))
            rows.append(
                {
                    "V": v,
                    "question": f"{q.kind}-{q.level}",
                    "status": reply.status,
                    "model": h.get("x-tokenomy-model", "—"),
                    "surplus": _header_number(h.get("x-tokenomy-surplus")),
                    "propensity": _header_number(h.get("x-tokenomy-propensity")),
                    "answer": reply.text.strip().replace("\n", " ")[:14] if served else "—",
                    "grade": grade_,
                }
            )
        after = {k: dict(zip(names, policy.router.predict(policy.features(q.prompt)).round(2).tolist(), strict=True)) for k, q in probe.items()}  # fmt: skip
        with urllib.request.urlopen(f"{gw.base_url}/prices", timeout=10) as resp:
            prices = json.loads(resp.read())
    cols = ["V", "question", "status", "model", "surplus", "propensity", "answer", "grade"]
    ctx.echo(format_table(rows, cols, title="requests through the gateway (learned policy)", digits=3))
    if any(r["status"] != 200 for r in rows):
        ctx.echo(
            "'—': the request was not served (429: no model had a positive surplus at its V, so no model, "
            "answer or grade; surplus and propensity are shown only where the gateway sent them)"
        )
    for v in V_LEVELS_USD:
        mine = [r for r in rows if r["V"] == v and r["status"] == 200]
        share = {m: sum(r["model"] == m for r in mine) for m in names}
        acc = f"{sum(float(r['grade']) for r in mine) / len(mine):.2f}" if mine else "— (none served)"
        ctx.echo(
            f"V = {v:g} USD: served {share}, accuracy {acc}, refused {sum(r['status'] == 429 for r in rows if r['V'] == v)}"
        )
    ctx.echo(f"learned q̂ before → after feedback: {before} → {after}")
    ups = prices.get("upstreams", {})
    ctx.echo(
        "published at /v1/prices: "
        + "; ".join(
            f"{name} λ_m {u.get('lam_usd_per_s', 0.0):.3g} USD/s, expected latency {u.get('expected_latency_s', 0.0):.2f} s"
            for name, u in ups.items()
        )
    )
    ledger = Ledger(workdir / "gateway-ledger.duckdb")
    try:
        summary = ledger.summary()
        n_dec, n_out = ledger.count("decisions"), ledger.count("outcomes")
    finally:
        ledger.close()
    ctx.echo(
        f"ledger {workdir / 'gateway-ledger.duckdb'}: {n_dec} decisions, {n_out} outcomes (serve-time + feedback)"
    )
    return {"requests": len(rows), "ledger_decisions": n_dec, "ledger_outcomes": n_out, "q_hat_before": before,
            "q_hat_after": after, "ledger_summary": {k: v for k, v in summary.items() if isinstance(v, (int, float, str))}}  # fmt: skip


def _header_number(value: str | None) -> float | str:
    """A number the gateway sent in a header, or "—" when it sent none (or not a finite number)."""
    try:
        x = float(value) if value is not None else math.nan
    except ValueError:
        return "—"
    return x if math.isfinite(x) else "—"
