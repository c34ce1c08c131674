"""The drift fit: (1 − δ)^s recovered from exact ratios; measured ratios fall with staleness on a real run."""

from __future__ import annotations

import numpy as np
import pytest

from tokenomy.capital.rl.allocators import make_allocator
from tokenomy.capital.rl.config import RLConfig, warm_start
from tokenomy.capital.rl.drift import accumulate, fit_drift
from tokenomy.capital.rl.loop import run_rl
from tokenomy.capital.rl.policy import PolicyNet


@pytest.mark.parametrize("delta", [0.0, 0.03, 0.1, 0.3])
def test_fit_recovers_a_geometric_depreciation(delta: float) -> None:
    sums = {s: [(1 - delta) ** s * 2.0, 2.0] for s in (1, 2, 4, 8)}
    assert fit_drift(sums, 1).drift_per_version == pytest.approx(delta, abs=1e-12)


def test_ratios_above_one_count_as_no_depreciation_and_delta_is_clipped() -> None:
    assert fit_drift({1: [3.0, 2.0], 2: [2.5, 2.0]}, 1).drift_per_version == 0.0
    assert fit_drift({1: [1e-9, 2.0]}, 1).drift_per_version == 0.5


def test_a_real_run_delivers_less_gradient_from_older_rollouts() -> None:
    cfg = RLConfig(max_tokens=250_000)
    start = warm_start(cfg, 1000)
    versions: list[PolicyNet] = [start.net]
    run_rl(cfg, make_allocator("uniform"), start, seed=1000, on_version=versions.append)
    sums = {s: [0.0, 0.0] for s in (1, 16)}
    used = accumulate(versions, start.train, sums, np.random.default_rng(0), checkpoints=6)
    est = fit_drift(sums, used)
    assert used == 6
    ratios = dict(est.ratios)
    assert ratios[16] < ratios[1] and 0.0 < est.drift_per_version < 0.5
