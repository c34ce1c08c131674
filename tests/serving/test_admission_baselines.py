"""Baselines with TTFT-SLO admission, the SLO tuner, and ``priced``'s ablations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import LINEAR, roomy

from tokenomy.core.errors import ValidationError
from tokenomy.serving.engine import Engine
from tokenomy.serving.result import COMPLETED, REJECTED
from tokenomy.serving.schedulers import SCHEDULERS, make_scheduler
from tokenomy.serving.schedulers.admission import FCFSWithSLO, tune_slo
from tokenomy.serving.workloads import make_workload


def _burst(n: int = 40) -> object:
    return make_workload("burst", np.linspace(0.0, 0.01, n), [2000] * n, [20] * n, seed=1)


@pytest.mark.parametrize("base", ["fcfs", "priority", "spf", "vtc"])
def test_each_baseline_has_an_slo_variant_that_refuses_late_work(base: str) -> None:
    wl = _burst()
    eng = Engine(step_model=LINEAR, config=roomy(max_batched_tokens=2048, max_num_seqs=4))
    plain = eng.run(wl, make_scheduler(base))  # type: ignore[arg-type]
    slo = make_scheduler(f"{base}+slo")
    slo.slo_ttft_s = 0.5  # type: ignore[attr-defined]
    r = eng.run(wl, slo)  # type: ignore[arg-type]
    assert (plain.status == COMPLETED).all()
    refused = r.status == REJECTED
    assert 0 < refused.sum() < len(refused)
    # whoever was served started within the SLO's reach: predicted TTFT ≤ 0.5 s at its decisions
    ttft = (r.first_token_s - wl.arrival_s)[~refused]  # type: ignore[attr-defined]
    assert ttft.max() < 1.0
    log = r.admissions
    assert log is not None and np.all(log.dl_s[~log.admit] > 0.5) and np.all(log.dl_s[log.admit] <= 0.5)


def test_an_infinite_slo_refuses_nothing_and_a_bad_one_is_an_error() -> None:
    wl = _burst()
    eng = Engine(step_model=LINEAR, config=roomy(max_batched_tokens=2048, max_num_seqs=4))
    r = eng.run(wl, FCFSWithSLO(slo_ttft_s=math.inf))  # type: ignore[arg-type]
    assert (r.status == COMPLETED).all()
    with pytest.raises(ValidationError):
        FCFSWithSLO(slo_ttft_s=0.0)


def test_tune_slo_takes_the_best_and_the_larger_on_ties() -> None:
    assert tune_slo(lambda s: -abs(s - 2.0), (1.0, 2.0, 4.0))[0] == 2.0
    best, values = tune_slo(lambda s: 1.0, (1.0, 2.0, math.inf))
    assert best == math.inf and set(values) == {1.0, 2.0, math.inf}
    with pytest.raises(ValidationError):
        tune_slo(lambda s: 0.0, ())


def test_priced_ablations() -> None:
    assert {"fcfs+slo", "priority+slo", "spf+slo", "vtc+slo"} <= set(SCHEDULERS)
    assert [n for n in SCHEDULERS if SCHEDULERS[n].ablation] == [
        "priced-order",
        "priced-noext",
        "priced-noqueue",
    ]
    wl = make_workload("t", np.linspace(0.0, 2.0, 60), [800] * 60, [200] * 60, seed=3)
    wl.v_usd[::3] = 1e-6  # some requests not worth serving
    eng = Engine(step_model=LINEAR, config=roomy(max_num_seqs=8))
    order = eng.run(wl, make_scheduler("priced-order"))
    assert (order.status == COMPLETED).all()  # its order, no admission
    noext = eng.run(wl, make_scheduler("priced-noext"))
    assert (noext.status == REJECTED).any()
    assert noext.admissions is not None and np.all(noext.admissions.external_usd == 0.0)
    full = eng.run(wl, make_scheduler("priced"))
    assert full.admissions is not None and (full.admissions.external_usd > 0).any()


def test_a_tenant_rate_limit_refuses_beyond_its_bucket() -> None:
    # tenant 0 sends 20 requests in 1 s; its bucket holds 2 s × 2 req/s = 4 and refills 2 per second
    wl = make_workload("rl", np.linspace(0.0, 1.0, 20), [32] * 20, [4] * 20, seed=0)
    eng = Engine(step_model=LINEAR, config=roomy())
    r = eng.run(wl, FCFSWithSLO(slo_ttft_s=math.inf, tenant_rate_per_s=[2.0], burst_s=2.0))  # type: ignore[arg-type]
    served = int((r.status == COMPLETED).sum())
    assert 4 + 1 <= served <= 4 + 3  # the full bucket plus about 2 refilled over the second
    assert (r.status[:4] == COMPLETED).all()
    unlimited = eng.run(wl, FCFSWithSLO(slo_ttft_s=math.inf))  # type: ignore[arg-type]
    assert (unlimited.status == COMPLETED).all()
    with pytest.raises(ValidationError):
        FCFSWithSLO(tenant_rate_per_s=[0.0])
