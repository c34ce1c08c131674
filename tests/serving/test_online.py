"""The online engine session: request by request it gives the batch run's result, it publishes its
shadow prices on a price bus, it refuses time running back, and the KV price is positive exactly when
the head of the queue does not fit in the KV pool."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import LINEAR, small_mix

from tokenomy.core.bus import PriceBus
from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import DECODE_TOKEN, GPU_SECOND, KV_BLOCK_SECOND, PREFILL_TOKEN, PriceSource
from tokenomy.interfaces.loaders.traces import NAMED_TRACES, load_trace
from tokenomy.serving import COMPLETED, Engine, EngineConfig, RecordSpec, ServeRequest, Workload, price_vector
from tokenomy.serving.result import RunResult
from tokenomy.serving.schedulers import make_scheduler
from tokenomy.serving.workloads import make_workload, rate_scaled


def _requests(wl: Workload) -> list[ServeRequest]:
    hashes = wl.hash_ids
    return [
        ServeRequest(
            arrival_s=float(wl.arrival_s[i]),
            prompt_tokens=int(wl.prompt_tokens[i]),
            output_tokens=int(wl.output_tokens[i]),
            v_usd=float(wl.v_usd[i]),
            lam_usd_per_s=float(wl.lam_usd_per_s[i]),
            tenant=int(wl.tenant[i]),
            predicted_output_tokens=float(wl.predicted_output_tokens[i]),
            hash_ids=None if hashes is None else tuple(int(h) for h in hashes[i]),
        )
        for i in range(len(wl))
    ]


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(
            _equal(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
        )
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return bool(a == b)


def _same_result(a: RunResult, b: RunResult) -> list[str]:
    """Names of the fields that differ (the workload by its columns; wall time and name aside)."""
    skip = {"wall_s", "workload"}
    bad = [
        f.name
        for f in dataclasses.fields(a)
        if f.name not in skip and not _equal(getattr(a, f.name), getattr(b, f.name))
    ]
    cols = (
        "arrival_s",
        "prompt_tokens",
        "output_tokens",
        "tenant",
        "v_usd",
        "lam_usd_per_s",
        "predicted_output_tokens",
    )
    bad += [c for c in cols if not _equal(getattr(a.workload, c), getattr(b.workload, c))]
    return bad


@pytest.mark.parametrize(("scheduler", "record"), [("fcfs", False), ("priced", True), ("vtc", False)])
def test_session_driven_request_by_request_gives_the_batch_run_result_on_a_mooncake_slice(
    need_data: Any, scheduler: str, record: bool
) -> None:
    path: Path = need_data(*NAMED_TRACES["mooncake"].split("/"))
    wl = rate_scaled(load_trace(path, limit=1200).workload, 3.0)
    engine = Engine(config=EngineConfig(kv_blocks=6000, price_sample_s=1.0))
    spec = RecordSpec(sample_every=3) if record else None
    batch = engine.run(wl, make_scheduler(scheduler), record=spec)
    assert batch.preemptions.sum() > 0 and batch.evictions > 0  # the slice exercises KV pressure

    bus = PriceBus()
    s = engine.session(
        make_scheduler(scheduler), bus=bus, record=spec, name=wl.name, tenant_names=wl.tenant_names
    )
    left: list[int] = []
    for r in _requests(wl):
        i = s.add(r)
        left += [c.index for c in s.run_until(r.arrival_s)]
        assert s.now_s == r.arrival_s and s.queue_len >= 0 and s.running >= 0
    online = s.finish()
    assert _same_result(batch, online) == []
    assert i == len(wl) - 1 and len(set(left)) == len(left) and set(left) <= set(range(len(wl)))
    assert [q.prices for q in bus.history("supply")] == [
        price_vector(p, engine.config) for p in online.prices
    ]


def test_completions_report_status_ttft_and_latency_of_each_request() -> None:
    wl = small_mix(seed=1, duration_s=30.0)
    engine = Engine(step_model=LINEAR)
    s = engine.session(make_scheduler("priced"), tenant_names=wl.tenant_names)
    seen = {}
    for r in _requests(wl):
        s.add(r)
        seen.update({c.index: c for c in s.run_until(r.arrival_s)})
    while True:
        st = s.step()
        seen.update({c.index: c for c in st.completions})
        if st.idle:
            break
    res = s.finish()
    assert sorted(seen) == list(range(len(wl)))  # every request left once, through run_until or step
    for i, c in seen.items():
        assert c.status == res.status[i] and c.finish_s == res.finish_s[i]
        assert c.e2e_s == pytest.approx(res.finish_s[i] - wl.arrival_s[i])
        if c.status == COMPLETED:
            assert c.ttft_s == pytest.approx(res.first_token_s[i] - wl.arrival_s[i]) and c.ttft_s > 0
        else:
            assert math.isnan(c.ttft_s)


def test_prices_are_published_on_the_bus_at_each_sample_and_equal_the_run_price_samples() -> None:
    wl = small_mix(seed=4, rate=6.0)
    cfg = EngineConfig(kv_blocks=1500, price_sample_s=0.5)
    bus = PriceBus()
    got = []
    bus.subscribe(lambda q: got.append(q.time_s), topic="supply")
    r = Engine(step_model=LINEAR, config=cfg).run(wl, make_scheduler("fcfs"), bus=bus)
    hist = bus.history("supply")
    assert len(hist) == len(r.prices) > 10 and got == [s.time_s for s in r.prices]
    for q, sample in zip(hist, r.prices, strict=True):
        p = q.prices
        assert q.time_s == sample.time_s == p.time_s
        assert p.lam_source is PriceSource.DISCOVERED
        assert p.lam_usd_per_s == pytest.approx(sample.lam_running_usd_per_s + sample.lam_waiting_usd_per_s)
        assert p.resource_usd(PREFILL_TOKEN) == pytest.approx(max(sample.prefill_usd_per_token, 0.0))
        assert p.resource_usd(DECODE_TOKEN) == pytest.approx(sample.decode_usd_per_token)
        assert p.resource_usd(KV_BLOCK_SECOND) == pytest.approx(max(sample.kv_usd_per_block_s, 0.0))
        assert p.resource_usd(GPU_SECOND) == pytest.approx(cfg.gpu_usd_per_s + p.lam_usd_per_s)
        assert [x.unit for x in p.resources] == ["token", "token", "block·s", "s"]
    assert any(q.prices.resource_usd(KV_BLOCK_SECOND) > 0 for q in hist)


def test_session_prices_read_the_state_now() -> None:
    wl = small_mix(seed=2, duration_s=20.0, rate=6.0)
    s = Engine(step_model=LINEAR).session(make_scheduler("fcfs"), tenant_names=wl.tenant_names)
    idle = s.prices()
    assert idle.lam_usd_per_s == 0.0 and idle.time_s == 0.0
    # nothing arrived, nothing decodes: a block's worth of prompt (16 tokens) runs a step of its own,
    # so its marginal seconds per token carry the fixed step cost β0/16 (``prices``)
    assert idle.resource_usd(PREFILL_TOKEN) == pytest.approx(
        EngineConfig().gpu_usd_per_s * (LINEAR.beta1_s_per_prefill_token + LINEAR.beta0_s / 16)
    )
    for r in _requests(wl)[:40]:
        s.add(r)
    s.run_until(float(wl.arrival_s[39]))
    busy = s.prices()
    assert busy.time_s == s.now_s and busy.lam_usd_per_s > 0 and s.running > 0
    assert busy.resource_usd(PREFILL_TOKEN) > idle.resource_usd(PREFILL_TOKEN)


def test_add_before_now_raises_a_validation_error_naming_arrival_s() -> None:
    s = Engine().session(make_scheduler("fcfs"))
    s.add(ServeRequest(arrival_s=1.0, prompt_tokens=10, output_tokens=5, v_usd=0.1, lam_usd_per_s=0.01))
    s.run_until(2.0)
    with pytest.raises(ValidationError, match="arrival_s"):
        s.add(ServeRequest(arrival_s=1.5, prompt_tokens=10, output_tokens=5, v_usd=0.1, lam_usd_per_s=0.01))
    with pytest.raises(ValidationError, match="prompt_tokens"):
        ServeRequest(arrival_s=3.0, prompt_tokens=0, output_tokens=5, v_usd=0.1, lam_usd_per_s=0.01)
    with pytest.raises(ValidationError, match="lam_usd_per_s"):
        ServeRequest(arrival_s=3.0, prompt_tokens=1, output_tokens=5, v_usd=0.1, lam_usd_per_s=-1.0)
    with pytest.raises(ValidationError, match="tenant"):
        s.add(
            ServeRequest(
                arrival_s=3.0, prompt_tokens=1, output_tokens=5, v_usd=0.1, lam_usd_per_s=0.0, tenant=1
            )
        )


def test_run_until_backwards_raises_and_a_finished_session_is_closed() -> None:
    s = Engine().session(make_scheduler("fcfs"))
    s.run_until(5.0)
    with pytest.raises(ValidationError, match="now_s"):
        s.run_until(4.0)
    assert s.run_until(5.0) == [] and s.now_s == 5.0
    s.finish()
    with pytest.raises(ValidationError, match="finished"):
        s.run_until(6.0)


def _drive(seed: int) -> RunResult:
    wl = small_mix(seed=3, duration_s=30.0)
    s = Engine(step_model=LINEAR).session(make_scheduler("spf"), seed=seed, tenant_names=wl.tenant_names)
    for r in _requests(wl):
        s.add(dataclasses.replace(r, predicted_output_tokens=None))
        s.run_until(r.arrival_s)
    return s.finish()


def test_same_seed_same_result_and_the_seed_draws_the_missing_predictions() -> None:
    a, b, c = _drive(7), _drive(7), _drive(8)
    assert _same_result(a, b) == []
    assert "predicted_output_tokens" in a.workload.synthetic
    assert not np.array_equal(a.workload.predicted_output_tokens, c.workload.predicted_output_tokens)


def test_kv_price_is_positive_exactly_while_the_queue_head_is_blocked_by_kv() -> None:
    """A 100-block pool: r0 (50 prompt blocks) decodes for 1.5 s; r1 (50 blocks) arrives just after
    and cannot fit until r0 ends; one-block requests keep arriving behind it (FCFS), and every arrival
    used to clear the engine's blocked flag. The KV price must be > 0 at every sample while r1 waits
    and 0 at every other sample."""
    n_small = 30  # r1 and all of them fit once r0 has gone: 50 + 30 blocks
    arrival = [0.0, 0.001] + [0.002 + 0.05 * k for k in range(n_small)]
    prompts = [800, 800] + [8] * n_small  # 8-token prompts: their decode never needs a new block
    outs = [300, 5] + [2] * n_small
    wl = make_workload("kv", arrival, prompts, outs, seed=0)
    cfg = EngineConfig(kv_blocks=100, prefix_cache=False, price_sample_s=0.01)
    r = Engine(step_model=LINEAR, config=cfg).run(wl, make_scheduler("fcfs"))
    r0_end, r1_arrival = float(r.finish_s[0]), arrival[1]
    assert r.first_token_s[1] > r0_end  # r1 waited for r0's blocks
    kv = np.array([s.kv_usd_per_block_s for s in r.prices])
    t = np.array([s.time_s for s in r.prices])
    blocked = (t >= r1_arrival) & (t < r0_end)
    assert blocked.sum() > 20 and (~blocked).sum() >= 3
    assert np.array_equal(kv > 0, blocked)
    lam_wait = np.array([s.lam_waiting_usd_per_s for s in r.prices])
    assert np.allclose(kv[blocked], lam_wait[blocked] / cfg.kv_blocks)
