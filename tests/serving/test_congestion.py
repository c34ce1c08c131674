"""The Pigouvian external-delay formula against brute force: simulate with and without the request."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import LINEAR, batch_at_zero, roomy

from tokenomy.serving.congestion import external_delay_usd, service_s
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import Workload
from tokenomy.serving.result import RunResult
from tokenomy.serving.schedulers import make_scheduler


def _latency(r: RunResult) -> np.ndarray:
    return r.finish_s - r.workload.arrival_s


def _brute_force(wl: Workload, i: int, **cfg: object) -> float:
    """Σ_j≠i λ_j·(L_j with i − L_j without i)."""
    eng = Engine(step_model=LINEAR, config=roomy(**cfg))
    with_i = _latency(eng.run(wl, make_scheduler("fcfs")))
    keep = np.array([j for j in range(len(wl)) if j != i])
    without = _latency(eng.run(wl.take(keep), make_scheduler("fcfs")))
    return float(wl.lam_usd_per_s[keep] @ (with_i[keep] - without))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_external_delay_of_a_co_batched_request_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 6
    prompts = rng.integers(10, 2000, n).tolist()
    outs = rng.integers(1, 60, n).tolist()
    lams = rng.uniform(0.001, 0.05, n).tolist()
    wl = batch_at_zero(prompts, outs, lams)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        formula = external_delay_usd(
            LINEAR,
            u_tokens=prompts[i],
            out_tokens=outs[i],
            lam_running=np.array([lams[j] for j in others]),
            rem_running=np.array([float(outs[j]) for j in others]),
        )
        assert formula == pytest.approx(_brute_force(wl, i), rel=1e-9, abs=1e-12)


def test_external_delay_on_a_serial_server_is_the_service_time_times_waiting_lambda() -> None:
    prompts, outs, lams = [800, 300, 1200, 50], [20, 7, 3, 40], [0.02, 0.01, 0.03, 0.005]
    wl = batch_at_zero(prompts, outs, lams)
    s0 = service_s(LINEAR, prompts[0], outs[0], 0)
    formula = external_delay_usd(
        LINEAR,
        u_tokens=prompts[0],
        out_tokens=outs[0],
        lam_running=np.array([]),
        rem_running=np.array([]),
        lam_waiting_usd_per_s=sum(lams[1:]),
        capacity_binds=True,
        capacity_share=1.0,
        token_budget=1e9,
    )
    assert formula == pytest.approx(s0 * sum(lams[1:]))
    assert formula == pytest.approx(_brute_force(wl, 0, max_num_seqs=1), rel=1e-9)


def test_external_delay_is_zero_alone_and_grows_with_others_lambda() -> None:
    kw = {"u_tokens": 500.0, "out_tokens": 50.0, "rem_running": np.array([30.0, 80.0])}
    assert (
        external_delay_usd(
            LINEAR, u_tokens=500.0, out_tokens=50.0, lam_running=np.array([]), rem_running=np.array([])
        )
        == 0.0
    )
    low = external_delay_usd(LINEAR, lam_running=np.array([0.01, 0.01]), **kw)  # type: ignore[arg-type]
    high = external_delay_usd(LINEAR, lam_running=np.array([0.02, 0.02]), **kw)  # type: ignore[arg-type]
    assert high == pytest.approx(2 * low) and low > 0
