"""Speculation make-or-buy switches with the batch size, and each switch is an Eq. 1 ledger decision."""

from __future__ import annotations

import numpy as np

from tokenomy.core.prices import GPU_SECOND
from tokenomy.core.rule import surplus_matrix
from tokenomy.ledger import Ledger
from tokenomy.serving.decisions import speculation_batch
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig
from tokenomy.serving.result import COMPLETED
from tokenomy.serving.schedulers import make_scheduler
from tokenomy.serving.steptime import LinearStepTime
from tokenomy.serving.workloads import make_workload


def test_speculation_turns_off_for_a_big_batch_and_back_on_and_the_ledger_agrees() -> None:
    # compute-bound decode: drafting pays for one sequence (3.36 tokens for 0.0194 s vs 1 for 0.011 s)
    # but not for 50 (3.36 for 0.284 s vs 1 for 0.06 s)
    model = LinearStepTime(0.01, 1e-6, 1e-3)
    arr = [0.0] + [1.0] * 49
    wl = make_workload("burst", arr, [50] * 50, [3000] + [40] * 49)
    r = Engine(step_model=model, config=EngineConfig(spec_k=4, spec_alpha=0.8)).run(
        wl, make_scheduler("fcfs")
    )
    assert (r.status == COMPLETED).all()
    sw = r.spec_switches
    assert sw[:, 1].tolist()[:3] == [1.0, 0.0, 1.0]  # on alone, off in the burst, on again after it
    assert sw[0, 2] == 1 and sw[1, 2] > 10
    # the logged choice is the option with fewer seconds per token
    assert np.array_equal(sw[:, 1] == 1, sw[:, 4] < sw[:, 3])
    batch = speculation_batch(r)
    assert batch is not None and len(batch) == sw.shape[0]
    s = surplus_matrix(batch.v_usd, batch.dq, batch.dc_usd, batch.dl_s, lam_usd_per_s=batch.lam_usd_per_s)
    assert np.array_equal(np.argmax(s, axis=1), batch.chosen)
    # V is the workload's mean V (USD per quality unit); V·ΔQ is the mean value per output token
    assert np.allclose(batch.v_usd, np.mean(wl.v_usd))
    v_tok = float(np.mean(wl.v_usd / wl.output_tokens))
    assert np.allclose(batch.v_usd[:, None] * batch.dq, v_tok, rtol=1e-12)
    assert batch.metadata is not None and batch.metadata["v_usd_per_token"] == v_tok
    assert batch.kind == "speculate" and [p.resource for p in batch.resources] == [GPU_SECOND]
    with Ledger(":memory:") as led:
        led.append_batch(batch)
        assert led.count("decisions") == len(batch) == led.count("resource_prices")
        d = next(led.decisions())
    assert d.kind == "speculate" and d.prices.resource_usd(GPU_SECOND) == r.config.gpu_usd_per_s
    assert d.metadata["v_usd_per_token"] == v_tok


def test_no_switches_without_speculation() -> None:
    wl = make_workload("one", [0.0], [10], [20])
    r = Engine().run(wl, make_scheduler("fcfs"))
    assert r.spec_switches.shape == (0, 5) and speculation_batch(r) is None
