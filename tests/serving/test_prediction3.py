"""Prediction 3 on a small synthetic mix: others regress under FCFS as long-context volume grows."""

from __future__ import annotations

from helpers import LINEAR, small_mix

from tokenomy.serving.engine import Engine
from tokenomy.serving.experiments import prediction3


def test_others_regress_with_long_context_volume_under_fcfs_and_pricing_removes_part_of_it() -> None:
    base = small_mix(seed=9, duration_s=120.0, rate=3.0)
    rows = prediction3(
        base,
        long_rates_rps=(0.0, 0.3, 0.6),
        long_prompt_median=12000.0,
        engine=Engine(step_model=LINEAR),
        seed=1,
    )
    fcfs = [r for r in rows if r["scheduler"] == "fcfs"]
    priced = [r for r in rows if r["scheduler"] == "priced"]
    assert fcfs[0]["others_welfare"] > fcfs[1]["others_welfare"] > fcfs[2]["others_welfare"]
    assert fcfs[2]["others_e2e_mean_s"] > fcfs[0]["others_e2e_mean_s"]
    assert priced[2]["removed_share"] > 0.0
    assert priced[2]["total_welfare"] > fcfs[2]["total_welfare"]
