"""Conformance over every registered scheduler, plus each one's defining behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import LINEAR, batch_at_zero, roomy, small_mix

from tokenomy.core.errors import ValidationError
from tokenomy.core.rule import surplus_matrix
from tokenomy.ledger import Ledger
from tokenomy.serving.decisions import admission_batch
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig
from tokenomy.serving.metrics import summarize
from tokenomy.serving.prices import PriceFeed
from tokenomy.serving.result import COMPLETED, REJECTED
from tokenomy.serving.schedulers import SCHEDULERS, make_scheduler


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_every_scheduler_finishes_or_rejects_every_request_deterministically(name: str) -> None:
    wl = small_mix(seed=11, rate=8.0)
    cfg = EngineConfig(kv_blocks=3000)
    r1 = Engine(step_model=LINEAR, config=cfg).run(wl, make_scheduler(name))
    r2 = Engine(step_model=LINEAR, config=cfg).run(wl, make_scheduler(name))
    assert np.isin(r1.status, [COMPLETED, REJECTED]).all()
    assert np.array_equal(r1.finish_s, r2.finish_s, equal_nan=True)
    if not SCHEDULERS[name].decides:
        assert (r1.status == COMPLETED).all()
    m = summarize(r1)
    assert m["requests"] == len(wl) and m["completed"] + m["rejected"] == len(wl)


def test_unknown_scheduler_lists_valid_names() -> None:
    with pytest.raises(ValidationError, match="fcfs"):
        make_scheduler("lifo")


def _serial_order(name: str, outs: list[int], lams: list[float]) -> list[int]:
    wl = batch_at_zero([10] * len(outs), outs, lams)
    wl.predicted_output_tokens[:] = outs
    wl.v_usd[:] = 100.0
    r = Engine(step_model=LINEAR, config=roomy(max_num_seqs=1)).run(wl, make_scheduler(name))
    return np.argsort(r.finish_s).tolist()


def test_orders_on_a_serial_server() -> None:
    outs, lams = [30, 10, 20], [0.01, 0.001, 0.1]
    assert _serial_order("fcfs", outs, lams) == [0, 1, 2]
    assert _serial_order("spf-true", outs, lams) == [1, 2, 0]
    assert _serial_order("priority", outs, lams) == [2, 0, 1]
    # cμ: λ per second of service: 0.1/20 > 0.01/30 > 0.001/10
    assert _serial_order("priced-true", outs, lams) == [2, 0, 1]


def test_vtc_alternates_between_a_heavy_and_a_light_tenant() -> None:
    wl = batch_at_zero([100] * 6, [5] * 6, [0.01] * 6)
    object.__setattr__(wl, "tenant", np.array([0, 0, 0, 0, 1, 1]))
    object.__setattr__(wl, "tenant_names", ("heavy", "light"))
    r = Engine(step_model=LINEAR, config=roomy(max_num_seqs=1)).run(wl, make_scheduler("vtc"))
    order = np.argsort(r.finish_s).tolist()
    assert order[:4] == [0, 4, 1, 5]  # FCFS would serve 0, 1, 2, 3 first


def test_priced_rejects_requests_worth_less_than_their_own_latency_and_logs_eq1_surpluses() -> None:
    wl = small_mix(seed=2, rate=5.0)
    wl.v_usd[::3] = 1e-6  # worthless requests: any latency costs more than they are worth
    r = Engine(step_model=LINEAR).run(wl, make_scheduler("priced"))
    assert (r.status[::3] == REJECTED).all()
    batch = admission_batch(r, sample_every=1)
    assert batch is not None
    s = surplus_matrix(batch.v_usd, batch.dq, batch.dc_usd, batch.dl_s, lam_usd_per_s=batch.lam_usd_per_s)[
        :, 0
    ]
    assert np.allclose(s, r.admissions.surplus_usd)  # type: ignore[union-attr]
    assert np.array_equal(s > 0, batch.chosen == 0)
    with Ledger(":memory:") as led:
        led.append_batch(batch)
        assert led.count("decisions") == len(batch)


def test_price_feed_kv_price_is_zero_when_kv_is_slack_and_positive_when_it_binds() -> None:
    wl = small_mix(seed=4, rate=6.0)
    slack = Engine(step_model=LINEAR).run(wl, make_scheduler("fcfs"))
    tight = Engine(step_model=LINEAR, config=EngineConfig(kv_blocks=1500, price_sample_s=0.5)).run(
        wl, make_scheduler("fcfs")
    )
    assert all(s.kv_usd_per_block_s == 0.0 for s in slack.prices)
    assert max(s.kv_usd_per_block_s for s in tight.prices) > 0.0
    feed = PriceFeed(tight.prices)
    sp = feed.at(30.0)
    assert sp.time_s <= 30.0 and sp.prices.lam_source.value == "discovered"
    assert sp.prefill_usd_per_token > sp.decode_usd_per_token > 0
    assert len(feed.columns()["time_s"]) == len(feed)
