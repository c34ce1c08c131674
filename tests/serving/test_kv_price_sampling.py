"""The published KV block-second price is non-zero exactly while the queue head does not fit in the KV
pool, whatever arrivals and completions happen meanwhile (arrivals used to clear the flag it read)."""

from __future__ import annotations

import numpy as np

from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig
from tokenomy.serving.schedulers import make_scheduler
from tokenomy.serving.workloads import make_workload


def test_kv_price_stays_positive_while_the_head_is_blocked_through_arrivals() -> None:
    # A holds most of a 200-block pool for a long decode; B (150 blocks) cannot fit until A leaves;
    # small requests C keep arriving behind B (FCFS), each an event that must not zero the price.
    arr = [0.0, 0.05, *np.arange(0.1, 2.0, 0.1).tolist()]
    prompts = [2400, 2400, *[32] * (len(arr) - 2)]
    outs = [400, 5, *[2] * (len(arr) - 2)]
    wl = make_workload("blocked", arr, prompts, outs, seed=0)
    cfg = EngineConfig(kv_blocks=200, price_sample_s=0.01, prefix_cache=False)
    r = Engine(config=cfg).run(wl, make_scheduler("fcfs"))
    a_done = float(r.finish_s[0])
    b_in = float(r.first_token_s[1])
    assert b_in >= a_done - 1e-9  # B really waited for A
    t = np.array([s.time_s for s in r.prices])
    kv = np.array([s.kv_usd_per_block_s for s in r.prices])
    q = np.array([s.queue_len for s in r.prices])
    during = (t > 0.06) & (t < a_done - 0.02)
    assert during.sum() >= 10 and (kv[during] > 0).all()
    assert (kv[q == 0] == 0).all()  # an empty queue: the constraint is slack, price 0
    lam_wait = np.array([s.lam_waiting_usd_per_s for s in r.prices])
    assert np.allclose(kv[during], lam_wait[during] / cfg.kv_blocks)
