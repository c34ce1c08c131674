"""Run metrics: TTFT, TPOT, inter-token latency, end-to-end latency, goodput, hit rates and welfare.

Welfare (SPEC §5, USD; V and λ are synthetic), core's realised utility summed over requests:
Σ_completed V_i − Σ_i λ_i·L_i − GPU price × busy seconds, where L_i is the end-to-end latency of a
completed request and the time until rejection of a rejected one (a user who waited and got nothing
still waited). A request rejected as larger than the whole KV cache is counted, carries no value and
no latency. Inter-token latency is measured per engine step (step seconds per emitted token,
weighted by tokens); TPOT per request is (finish − first token)/(output − 1) and so includes stalls
from preemption.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.rule import UtilityTerms, utility_terms
from tokenomy.serving.result import COMPLETED, REJECTED, TOO_LARGE, RunResult

__all__ = ["UNDEFINED_WHY", "latency_columns", "summarize", "weighted_quantile", "welfare_parts"]

_NONE_COMPLETED = "no request completed"
_NO_SECOND = "no completed request produced a second token"
_NO_SPAN = "no request finished, so the run spans no time"
UNDEFINED_WHY: dict[str, str] = {
    **{f"ttft_p{q}_s": _NONE_COMPLETED for q in (50, 90, 99)},
    **{f"e2e_p{q}_s": _NONE_COMPLETED for q in (50, 90, 99)},
    "tpot_mean_s": _NO_SECOND,
    "tpot_p99_s": _NO_SECOND,
    **{f"itl_p{q}_s": "no engine step emitted a token to a request past its first" for q in (50, 90, 99)},
    "goodput_rps": _NO_SPAN,
    "throughput_output_tok_per_s": _NO_SPAN,
    "throughput_rps": _NO_SPAN,
    "sim_requests_per_wall_s": "the run took no measurable wall time",
}
"""Why a ``summarize`` figure can be NaN (a column -> the reason, for the "-" a table shows)."""


def weighted_quantile(x: NDArray[np.float64], w: NDArray[np.float64], q: float) -> float:
    """The q-quantile of samples ``x`` with weights ``w`` (NaN when empty)."""
    if x.size == 0 or w.sum() <= 0:
        return float("nan")
    o = np.argsort(x)
    c = np.cumsum(w[o])
    return float(x[o][min(int(np.searchsorted(c, q * c[-1])), x.size - 1)])


def latency_columns(r: RunResult) -> dict[str, NDArray[np.float64]]:
    """Per completed request: ttft_s, tpot_s, e2e_s (NaN-free, completed only); key -> array."""
    wl = r.workload
    ok = r.status == COMPLETED
    arr = wl.arrival_s[ok]
    out = wl.output_tokens[ok]
    ttft = r.first_token_s[ok] - arr
    e2e = r.finish_s[ok] - arr
    multi = out > 1
    tpot = (r.finish_s[ok][multi] - r.first_token_s[ok][multi]) / (out[multi] - 1)
    return {"ttft_s": ttft, "tpot_s": tpot, "e2e_s": e2e}


def welfare_parts(r: RunResult, mask: NDArray[np.bool_] | None = None) -> dict[str, float]:
    """Value, latency cost, GPU cost and welfare (USD, synthetic V and λ), optionally for a subset."""
    wl = r.workload
    m = np.ones(len(wl), bool) if mask is None else mask
    ok = (r.status == COMPLETED) & m
    waited = (r.status == COMPLETED) | (r.status == REJECTED)
    lat = np.where(waited & m, r.finish_s - wl.arrival_s, 0.0)
    share = m.sum() / max(len(wl), 1)
    gpu = r.config.gpu_usd_per_s * r.busy_s * share
    # Core's realised utility per request (quality 1 when completed); the GPU is paid for the run as a
    # whole, so its cost enters once, on the totals. A latency that never ended (NaN) is not charged.
    t = utility_terms(
        wl.v_usd, ok.astype(np.float64), 0.0, np.nan_to_num(lat), lam_usd_per_s=wl.lam_usd_per_s
    )
    total = UtilityTerms(
        np.asarray(t.value_usd[ok].sum()),
        np.asarray(gpu),
        np.asarray(t.latency_cost_usd.sum()),
        np.asarray(0.0),
    )
    return {
        "value_usd": float(total.value_usd),
        "latency_cost_usd": float(total.latency_cost_usd),
        "gpu_cost_usd": float(total.cost_usd),
        "welfare": float(total.utility_usd),
    }


def _q(x: NDArray[np.float64], q: float) -> float:
    return float(np.quantile(x, q)) if x.size else float("nan")


def summarize(r: RunResult, *, slo_ttft_s: float = 2.0, slo_tpot_s: float = 0.1) -> dict[str, Any]:
    """Headline numbers of one run (JSON-ready).

    Args:
        r: the run.
        slo_ttft_s, slo_tpot_s: the SLO for goodput (a request counts when it meets both).
    """
    wl = r.workload
    lc = latency_columns(r)
    ok = r.status == COMPLETED
    span = (
        float(np.nanmax(r.finish_s) - wl.arrival_s[0]) if len(wl) and np.isfinite(r.finish_s).any() else 0.0
    )
    out = wl.output_tokens[ok]
    tpot_full = np.zeros(int(ok.sum()))
    multi = out > 1
    tpot_full[multi] = lc["tpot_s"]
    good = (lc["ttft_s"] <= slo_ttft_s) & (tpot_full <= slo_tpot_s)
    prompt = wl.prompt_tokens.astype(np.float64)
    deciles = np.minimum((np.argsort(np.argsort(wl.v_usd)) * 10) // max(len(wl), 1), 9)
    hit_by_decile = [
        float(r.hit_tokens[deciles == d].sum() / max(prompt[deciles == d].sum(), 1.0)) for d in range(10)
    ]
    res: dict[str, Any] = {
        "trace": wl.name,
        "scheduler": r.scheduler,
        "requests": len(wl),
        "completed": int(ok.sum()),
        "rejected": int((r.status == REJECTED).sum()),
        "rejected_too_large": int((r.status == TOO_LARGE).sum()),
        "wall_s": r.wall_s,
        "sim_requests_per_wall_s": len(wl) / r.wall_s if r.wall_s > 0 else float("nan"),
        "sim_span_s": span,
        "steps": r.steps,
        "jumps": r.jumps,
        "ttft_p50_s": _q(lc["ttft_s"], 0.5),
        "ttft_p90_s": _q(lc["ttft_s"], 0.9),
        "ttft_p99_s": _q(lc["ttft_s"], 0.99),
        "tpot_mean_s": float(lc["tpot_s"].mean()) if lc["tpot_s"].size else float("nan"),
        "tpot_p99_s": _q(lc["tpot_s"], 0.99),
        "itl_p50_s": weighted_quantile(r.itl_s, r.itl_weight, 0.5),
        "itl_p90_s": weighted_quantile(r.itl_s, r.itl_weight, 0.9),
        "itl_p99_s": weighted_quantile(r.itl_s, r.itl_weight, 0.99),
        "e2e_p50_s": _q(lc["e2e_s"], 0.5),
        "e2e_p90_s": _q(lc["e2e_s"], 0.9),
        "e2e_p99_s": _q(lc["e2e_s"], 0.99),
        "goodput_rps": float(good.sum() / span) if span > 0 else float("nan"),
        "slo": {"ttft_s": slo_ttft_s, "tpot_s": slo_tpot_s},
        "throughput_output_tok_per_s": float(out.sum() / span) if span > 0 else float("nan"),
        "throughput_rps": float(ok.sum() / span) if span > 0 else float("nan"),
        "preemptions": int(r.preemptions.sum()),
        "prefix_hit_rate": float(r.hit_tokens.sum() / max(prompt.sum(), 1.0)),
        "prefix_hit_rate_by_v_decile": hit_by_decile,
        "spec_steps": r.spec_steps,
        "evictions": r.evictions,
        "max_kv_used_blocks": r.max_kv_used_blocks,
        "kv_blocks": r.config.kv_blocks,
        "prefill_tokens": r.prefill_tokens,
        "decode_tokens": r.decode_tokens,
        "gpu_busy_s": r.busy_s,
        **welfare_parts(r),
        "synthetic": list(wl.synthetic),
    }
    return res
