"""What ``priced`` reads: estimated (not true) remaining output, the queue behind an arrival, and the
step model's own prefill cost in the Pigouvian charge."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tokenomy.serving.congestion import external_delay_usd
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig
from tokenomy.serving.schedulers import make_scheduler
from tokenomy.serving.schedulers.base import KeyedQueue
from tokenomy.serving.steptime import LinearStepTime, TableStepTime
from tokenomy.serving.workloads import make_workload


def _session_after(wl_outs: list[int], pred: list[float], t_s: float) -> object:
    n = len(wl_outs)
    wl = make_workload("t", np.zeros(n), [64] * n, wl_outs, seed=0)
    wl = replace(wl, predicted_output_tokens=np.array(pred, dtype=np.float64))
    s = Engine(config=EngineConfig(kv_blocks=10_000, prefix_cache=False)).session(make_scheduler("priced"))
    s.add_workload(wl)
    s.run_until(t_s)
    return s


def test_remaining_output_is_the_prediction_not_the_truth() -> None:
    a = _session_after([500, 700, 900], [300.0, 300.0, 300.0], 0.3)
    b = _session_after([400, 1200, 350], [300.0, 300.0, 300.0], 0.3)
    ra, rb = a.state.slot_rem, b.state.slot_rem  # type: ignore[attr-defined]
    assert ra.size == 3 and np.array_equal(ra, rb)  # same predictions and ages → same estimate
    age = a.state.g + a.state.d_age0[:3]  # type: ignore[attr-defined]
    assert ra == pytest.approx(300.0 - age)
    assert not np.array_equal(a.state.slot_rem_true, b.state.slot_rem_true)  # type: ignore[attr-defined]


def test_past_its_prediction_a_request_gets_the_residual_of_completed_ones() -> None:
    s = _session_after([100, 200, 900], [10.0, 10.0, 10.0], 0.0)
    st = s.state  # type: ignore[attr-defined]
    for n in (100, 200, 300, 400):
        st.observe_output(n)
    # a request 150 tokens in: completed ones longer than 150 are 200, 300, 400 → 300 − 150 = 150 left
    assert st._residual(np.array([150.0]), np.array([5.0])) == pytest.approx([150.0])
    # none longer than 450: the fallback
    assert st._residual(np.array([450.0]), np.array([7.0])) == pytest.approx([7.0])


def test_queue_behind_an_arrival_is_those_with_larger_keys() -> None:
    q = KeyedQueue(np.array([5.0, 1.0, 3.0, 2.0]))
    for i in (0, 1, 3):
        q.push(i)
    lam = [10.0, 20.0, 30.0, 40.0]
    assert q.sum_behind(2, lam) == 10.0  # only request 0 (key 5) would be served after request 2
    assert KeyedQueue(np.array([0.0])).sum_behind(0, [1.0]) == 0.0


def test_pigouvian_prefill_term_is_the_step_models_prefill_cost() -> None:
    x = np.array([128.0, 256.0, 512.0, 1024.0])
    table = TableStepTime(x, np.array([0.05, 0.06, 0.08, 0.12]), np.array([0.030, 0.029, 0.031, 0.033]))
    lam, rem = np.array([1.0, 2.0]), np.array([1.0, 1.0])  # no decode overlap: term 1 alone
    ext = external_delay_usd(table, u_tokens=50.0, out_tokens=1.0, lam_running=lam, rem_running=rem)
    assert ext == pytest.approx(3.0 * (1.1 * table.prefill_only_s(52) - table.step_s(0, 2)))
    assert ext > 4 * 3.0 * table.beta1_s_per_prefill_token * 50  # the slope alone under-charges 4×+
    lin = LinearStepTime(0.005, 1e-4, 1e-3)
    assert external_delay_usd(lin, u_tokens=50.0, out_tokens=1.0, lam_running=lam, rem_running=rem) == (
        pytest.approx(3.0 * 50 * 1e-4)
    )
    # with nothing running, the queue behind waits i's whole prefill step, β0 included
    q = external_delay_usd(
        lin,
        u_tokens=50.0,
        out_tokens=1.0,
        lam_running=np.zeros(0),
        rem_running=np.zeros(0),
        lam_waiting_usd_per_s=2.0,
    )
    assert q == pytest.approx(2.0 * lin.step_s(50, 0))
