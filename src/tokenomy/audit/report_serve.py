"""The serving layer's HTML report: runs table, latency CDFs per scheduler, price paths, queue length.

Built from ``summarize`` rows and per-run ``RunTrace``s (the latency samples and the shadow-price
feed of each run, kept small). Headline numbers carry ``data-key`` = their JSON key in the
``headline`` object the CLI returns. V, λ and the GPU price are synthetic and say so on the page.
``build_prediction3_report`` is the page of ``serve prediction3`` (its own headline; the long-context
tenant is labelled synthetic with its distribution).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.audit.html import Report
from tokenomy.audit.svg import Series, cdf_chart, line_chart
from tokenomy.serving.metrics import latency_columns
from tokenomy.serving.prices import PriceFeed
from tokenomy.serving.result import RunResult
from tokenomy.serving.workloads import SYNTHETIC_NOTE

__all__ = [
    "P3_COLUMNS",
    "RUN_COLUMNS",
    "RunTrace",
    "build_prediction3_report",
    "build_report",
    "headline",
    "prediction3_headline",
    "run_trace",
]

RUN_COLUMNS = (
    "trace",
    "scheduler",
    "rate_scale",
    "requests",
    "completed",
    "rejected",
    "rejected_too_large",
    "wall_s",
    "sim_requests_per_wall_s",
    "ttft_p50_s",
    "ttft_p99_s",
    "tpot_mean_s",
    "e2e_p99_s",
    "goodput_rps",
    "preemptions",
    "prefix_hit_rate",
    "welfare",
)


# (RunTrace attribute, chart title, x label, caption) of each latency CDF per trace × rate.
_CDFS = (
    ("ttft_s", "time to first token", "TTFT (s)", "TTFT CDF per scheduler (completed requests)"),
    ("e2e_s", "end-to-end latency", "latency (s)", "end-to-end latency CDF per scheduler"),
)

# (feed column, chart title, y label, caption; None: the KV caption, which says whether KV bound).
_FEED_PATHS: tuple[tuple[str, str, str, str | None], ...] = (
    (
        "prefill_usd_per_token",
        "shadow price of a prefill token",
        "USD per token",
        "GPU cost + β1·Σλ of requests in the system (synthetic λ)",
    ),
    (
        "decode_usd_per_token",
        "shadow price of a decode token",
        "USD per token",
        "GPU cost + β2·Σλ of running requests (synthetic λ)",
    ),
    ("kv_usd_per_block_s", "shadow price of a KV block-second", "USD per block-second", None),
    ("queue_len", "waiting queue", "requests waiting", "queue length sampled every price period"),
)


P3_COLUMNS = (
    "long_rate_rps",
    "long_tokens_per_s",
    "long_tenant",
    "scheduler",
    "others_ttft_p99_s",
    "others_e2e_mean_s",
    "others_welfare",
    "long_welfare",
    "total_welfare",
    "long_completed",
    "long_requests",
    "removed_share",
)


@dataclass(frozen=True, slots=True)
class RunTrace:
    """What the report keeps of one run: latency samples and the price feed columns (key -> array)."""

    trace: str
    rate_scale: float
    scheduler: str
    ttft_s: NDArray[np.float64]
    e2e_s: NDArray[np.float64]
    feed: dict[str, NDArray[np.float64]]


def run_trace(r: RunResult, trace: str, rate_scale: float) -> RunTrace:
    """Extract a ``RunTrace`` from a run."""
    lc = latency_columns(r)
    return RunTrace(trace, rate_scale, r.scheduler, lc["ttft_s"], lc["e2e_s"], PriceFeed(r.prices).columns())


def _best_scheduler(rows: Sequence[dict[str, Any]]) -> str:
    """The scheduler of the highest-welfare run, or ``tie: a, b`` when runs of several schedulers share it."""
    top = max(r["welfare"] for r in rows)
    best = sorted({r["scheduler"] for r in rows if r["welfare"] == top})
    return best[0] if len(best) == 1 else "tie: " + ", ".join(best)


def headline(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Headline numbers for the page and the JSON (``headline`` object)."""
    if not rows:
        return {}
    return {
        "runs": len(rows),
        "simulated_requests": int(sum(r["requests"] for r in rows)),
        "min_sim_requests_per_wall_s": float(min(r["sim_requests_per_wall_s"] for r in rows)),
        "best_welfare_scheduler": _best_scheduler(rows),
    }


def build_report(
    rows: Sequence[dict[str, Any]],
    traces: Sequence[RunTrace],
    *,
    subtitle: str = "",
) -> Report:
    """The report page (call ``.write(path)``).

    Args:
        rows: one ``summarize`` dict per run (with ``trace`` and ``rate_scale``).
        traces: per-run samples for the figures.
        subtitle: command line or data source.
    """
    rep = Report("tokenomy serve: simulated serving under real traces", subtitle)
    h = headline(rows)
    rep.metrics(
        {
            "runs": h.get("runs", 0),
            "simulated requests": h.get("simulated_requests", 0),
            "slowest run (sim requests / wall-s)": h.get("min_sim_requests_per_wall_s", float("nan")),
            "highest-welfare scheduler": h.get("best_welfare_scheduler", "-"),
        },
        keys={
            "runs": "headline.runs",
            "simulated requests": "headline.simulated_requests",
            "slowest run (sim requests / wall-s)": "headline.min_sim_requests_per_wall_s",
            "highest-welfare scheduler": "headline.best_welfare_scheduler",
        },
    )
    drawn = not rows or any({"v_usd", "lam_usd_per_s"} & set(r.get("synthetic", ())) for r in rows)
    rep.note(
        (
            SYNTHETIC_NOTE + ". Welfare = Σ V·completed − Σ λ·latency − GPU cost is therefore synthetic; "
            "arrival times and token counts are the real traces'."
        )
        if drawn
        else (
            "V and λ were read from the trace files; predicted lengths are true × LogNormal(0, 0.5) "
            "(synthetic) and the GPU price ($2.5/h) is assumed."
        ),
        kind="synthetic",
    )
    if any({"arrivals", "lengths"} & set(r.get("synthetic", ())) for r in rows):
        rep.note(
            "Some workloads are generated (ServeGen statistics or a synthetic tenant mix): their "
            "arrivals and lengths are synthetic draws.",
            kind="synthetic",
        )
    rep.note(
        "Step times are modelled (BLIS linear fit of vLLM on H100, or Splitwise measurements), "
        "not measured on a GPU.",
        kind="modelled",
    )
    rep.heading("Runs")
    rep.table(list(rows), RUN_COLUMNS, caption="one row per trace × rate scale × scheduler")
    if any(r.get("prefix_hit_rate", 0.0) > 0 for r in rows):
        rep.heading("Prefix-cache hit rate by value decile")
        rep.table(
            [
                {
                    "trace": r["trace"],
                    "rate_scale": r["rate_scale"],
                    "scheduler": r["scheduler"],
                    "all": r["prefix_hit_rate"],
                    **{f"V decile {d + 1}": h for d, h in enumerate(r["prefix_hit_rate_by_v_decile"])},
                }
                for r in rows
            ],
            caption="reused prompt tokens / prompt tokens; decile 1 = lowest synthetic V",
        )
    groups: dict[tuple[str, float], list[RunTrace]] = {}
    for t in traces:
        groups.setdefault((t.trace, t.rate_scale), []).append(t)
    for (trace, rate), ts in groups.items():
        rep.heading(f"{trace} at ×{rate:g} its rate")
        for attr, title, x_label, caption in _CDFS:
            rep.figure(
                cdf_chart(
                    {t.scheduler: getattr(t, attr) for t in ts}, title=title, x_label=x_label, log_x=True
                ),
                caption,
            )
        binding = [t.scheduler for t in ts if float(t.feed["kv_usd_per_block_s"].max(initial=0.0)) > 0]
        kv_caption = (
            "Σλ of the waiting queue / KV blocks while KV blocks the queue, else 0 (synthetic λ); "
            + (
                f"KV bound at some time under {', '.join(binding)}"
                if binding
                else "KV never bound in these runs, so the price is 0 throughout (complementary slackness)"
            )
        )
        for column, title, y_label, path_caption in _FEED_PATHS:
            rep.figure(
                line_chart(
                    [Series(t.scheduler, t.feed["time_s"], t.feed[column]) for t in ts],
                    title=title,
                    x_label="time (s)",
                    y_label=y_label,
                ),
                kv_caption if path_caption is None else path_caption,
            )
    return rep


def prediction3_headline(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Headline numbers of a prediction-3 sweep (the ``headline`` object of ``serve prediction3``)."""
    if not rows:
        return {}
    top = max(r["long_rate_rps"] for r in rows)
    at_top = [r for r in rows if r["long_rate_rps"] == top]
    first = rows[0]["scheduler"]
    shares = [r for r in at_top if r["scheduler"] != first and np.isfinite(r["removed_share"])]
    best = max(shares, key=lambda r: r["removed_share"]) if shares else None
    return {
        "runs": len(rows),
        "simulated_requests": int(sum(r["requests"] for r in rows)),
        "min_sim_requests_per_wall_s": float(min(r["requests"] / max(r["wall_s"], 1e-12) for r in rows)),
        "max_long_rate_rps": float(top),
        "reference_scheduler": first,
        "reference_others_welfare_loss": float(
            next(r["others_welfare_loss"] for r in at_top if r["scheduler"] == first)
        ),
        "best_removed_share_scheduler": best["scheduler"] if best else "-",
        "best_removed_share": float(best["removed_share"]) if best else float("nan"),
    }


def build_prediction3_report(
    rows: Sequence[dict[str, Any]], *, long_tenant_note: str, subtitle: str = ""
) -> Report:
    """The page of ``serve prediction3``: its own headline, notes, the rows and the welfare figure.

    Args:
        rows: rows of ``experiments.prediction3``.
        long_tenant_note: ``LongTenant.note()`` (the tenant is synthetic; its distribution).
        subtitle: base trace and step model.
    """
    rep = Report("tokenomy serve prediction3: one tenant sends long contexts", subtitle)
    h = prediction3_headline(rows)
    labels = {
        "runs (long-tenant rate × scheduler)": "runs",
        "simulated requests": "simulated_requests",
        "slowest run (sim requests / wall-s)": "min_sim_requests_per_wall_s",
        "highest long-tenant rate (req/s)": "max_long_rate_rps",
        "others' welfare loss under the reference at that rate (USD)": "reference_others_welfare_loss",
        "scheduler removing most of it": "best_removed_share_scheduler",
        "share of the loss it removes": "best_removed_share",
    }
    rep.metrics(
        {label: h.get(key, "-") for label, key in labels.items()},
        keys={label: f"headline.{key}" for label, key in labels.items()},
    )
    rep.note(long_tenant_note, kind="synthetic")
    rep.note(
        SYNTHETIC_NOTE + ". Welfare = Σ V·completed − Σ λ·latency − GPU cost is therefore synthetic.",
        kind="synthetic",
    )
    rep.note("Step times are modelled, not measured on a GPU.", kind="modelled")
    rep.paragraph(
        "The other tenants' outcomes as the long-context tenant's volume grows. removed_share is "
        "the part of the reference's (flat pricing, the first scheduler) welfare loss for the other "
        "tenants that the scheduler avoids: 1 − loss_scheduler / loss_reference at each volume."
    )
    rep.table(list(rows), P3_COLUMNS, caption="one row per long-tenant rate × scheduler")
    names = list(dict.fromkeys(r["scheduler"] for r in rows))
    rep.figure(
        line_chart(
            [
                Series(
                    n,
                    [r["long_tokens_per_s"] for r in rows if r["scheduler"] == n],
                    [r["others_welfare"] for r in rows if r["scheduler"] == n],
                )
                for n in names
            ],
            title="other tenants' welfare",
            x_label="long-context prompt tokens per second (synthetic tenant)",
            y_label="USD (synthetic)",
        ),
        "flat pricing (fcfs) vs congestion pricing",
    )
    return rep
