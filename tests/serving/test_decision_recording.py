"""Eviction and ordering decisions go to the ledger: known victims, Eq. 1 terms, same results, CLI."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from helpers import LINEAR, batch_at_zero, roomy

from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import KV_BLOCK_SECOND, PREFILL_TOKEN
from tokenomy.interfaces.cli import main
from tokenomy.ledger import Ledger
from tokenomy.serving.decisions import eviction_decisions, order_decisions
from tokenomy.serving.disagg import DisaggregatedEngine
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig, Workload
from tokenomy.serving.metrics import summarize
from tokenomy.serving.recording import RecordSpec
from tokenomy.serving.result import RunResult
from tokenomy.serving.schedulers import make_scheduler
from tokenomy.serving.workloads import make_workload

HB, E, K = 512, 32, 200  # tokens per hash block, blocks per cache entry, KV blocks

# Requests 1,000 s apart (each finishes before the next arrives): A computes entries 1, 2; B
# computes 3, 4; D only reuses 1, 2 (prompt 1,100: no new full block). At t = 4,000, C (2,048
# tokens) needs 128 blocks with 72 free: two evictions; the tiny request W arrives with it and
# waits behind C (FCFS), so the KV shadow price Λ_wait / K is λ_W / K at the evictions.
SPEC = {"A": (1024, [1, 2]), "B": (1024, [3, 4]), "D": (1100, [1, 2])}


def _cache_trace(order: str) -> Workload:
    names = [*order, "C", "W"]
    prompts = [SPEC[n][0] for n in order] + [2048, 16]
    hashes = [SPEC[n][1] for n in order] + [[5, 6, 7, 8], []]
    arr = [1000.0 * k for k in range(len(order))] + [4000.0, 4000.0]
    wl = make_workload(
        "cache", arr, prompts, [2] * len(names), hash_ids=[np.array(h, np.int64) for h in hashes]
    )
    return wl


def _run(wl: Workload, eviction: str, record: RecordSpec | None = None) -> RunResult:
    cfg = EngineConfig(kv_blocks=K)
    return Engine(step_model=LINEAR, config=cfg, eviction=eviction).run(
        wl, make_scheduler("fcfs"), record=record
    )


# (order of A, B, D; policy; candidates of the 1st and the 2nd eviction in the policy's order)
CASES = [
    ("ADB", "lru", [2, 1, 4, 3], [1, 4, 3]),  # D re-released 2, 1 before B released 4, 3
    ("ADB", "fifo", [2, 1, 4, 3], [1, 4, 3]),
    ("ADB", "lfu", [4, 3, 2, 1], [3, 2, 1]),  # 1, 2 were reused once, 3, 4 never
    ("ABD", "lru", [4, 3, 2, 1], [3, 2, 1]),  # D's reuse made 1, 2 the most recently released
    ("ABD", "fifo", [2, 1, 4, 3], [1, 4, 3]),  # FIFO ignores the reuse: 2 entered first
    ("ABD", "lfu", [4, 3, 2, 1], [3, 2, 1]),
]


@pytest.mark.parametrize(("order", "policy", "first", "second"), CASES)
def test_eviction_rows_name_the_known_victim_and_price_each_candidate(
    order: str, policy: str, first: list[int], second: list[int]
) -> None:
    wl = _cache_trace(order)
    r = _run(wl, policy, RecordSpec(sample_every=1, evict_top=4))
    assert r.evictions == 2
    log = r.eviction_log
    assert log is not None and log.policy == policy
    assert log.hash.tolist() == first + second and log.start.tolist() == [0, 4, 7]
    assert log.time_s.tolist() == [4000.0, 4000.0]
    # ages: each entry entered the cache when the request that computed it finished
    donor = {h: order.index(n) for n in "AB" for h in SPEC[n][1]}
    age = {h: 4000.0 - r.finish_s[donor[h]] for h in donor}
    assert np.allclose(log.age_s, [age[h] for h in first + second])
    assert log.reuses.tolist() == [1 if h in (1, 2) else 0 for h in first + second]
    rows = eviction_decisions(r)
    assert [d.decision_point for d in rows] == ["evict", "evict"]
    lam_w, cfg = float(wl.lam_usd_per_s[-1]), EngineConfig(kv_blocks=K)
    p_kv = lam_w / K  # only W waits; nothing runs yet
    # the prefill price is the step model's marginal seconds per token of the mean prompt arrived so
    # far (ū, all five requests have arrived), nothing decoding: β1 + β0/ū (``prices``)
    u_bar = float(wl.prompt_tokens.mean())
    s_pf = LINEAR.beta1_s_per_prefill_token + LINEAR.beta0_s / u_bar
    p_pre = (cfg.gpu_usd_per_s + lam_w) * s_pf
    for d, hs in zip(rows, (first, second), strict=True):
        assert d.chosen == 0 and d.metadata["policy"] == policy and d.kind == "evict"
        assert [c.name for c in d.candidates] == [f"block:{h}" for h in hs]
        # V is USD per quality unit in every row: no quality is at stake, the prices are resource prices
        assert d.prices.v_usd == 0.0 and all(c.dq == 0.0 for c in d.candidates)
        kv, pre = d.prices.resource(KV_BLOCK_SECOND), d.prices.resource(PREFILL_TOKEN)
        assert kv is not None and kv.usd_per_unit == pytest.approx(p_kv) and kv.unit == "block·s"
        assert pre is not None and pre.usd_per_unit == pytest.approx(p_pre) and pre.unit == "token"
        tau = [age[h] / (2 if h in (1, 2) else 1) for h in hs]
        s_evict = [p_kv * E * t - p_pre * HB for t in tau]
        assert d.metadata["evict_surplus_usd"] == pytest.approx(s_evict, rel=1e-12)
        # candidates are priced against the best one: surplus = s_b − max s, ΔC = −surplus ≥ 0
        gap = [s - max(s_evict) for s in s_evict]
        assert [c.surplus_usd for c in d.candidates] == pytest.approx(gap, rel=1e-12, abs=1e-15)
        assert all(c.dc_usd >= 0.0 and c.dc_usd == -c.surplus_usd for c in d.candidates)
        assert d.metadata["expected_reuse_s"] == pytest.approx(tau)
    with Ledger(":memory:") as led:
        led.append(rows)
        back = list(led.decisions())
        assert led.count("resource_prices") == 2 * len(rows)
    assert [b.candidates for b in back] == [d.candidates for d in rows]
    assert [b.prices for b in back] == [d.prices for d in rows]
    assert (
        back[0].metadata["policy"] == policy and back[0].layer.value == "supply" and back[0].kind == "evict"
    )


def test_order_rows_list_the_top_of_the_queue_in_serve_order_and_the_admitted() -> None:
    lams = [0.001, 0.05, 0.01, 0.2, 0.003]
    wl = batch_at_zero([100] * 5, [5] * 5, lams)
    r = Engine(step_model=LINEAR, config=roomy(max_num_seqs=2)).run(
        wl, make_scheduler("priority"), record=RecordSpec(sample_every=1, order_top=4)
    )
    log = r.order_log
    assert log is not None and log.rule == "priced"
    step0 = slice(int(log.start[0]), int(log.start[1]))
    assert log.request[step0].tolist() == [3, 1, 2, 4]  # highest λ first, top 4 of 5
    assert log.admitted[step0].tolist() == [True, True, False, False]  # two slots
    assert log.queue_len[0] == 5 and log.admitted_total[0] == 2
    rows = order_decisions(r)
    assert len(rows) == log.time_s.size and all(d.decision_point == "order" for d in rows)
    d = rows[0]
    assert d.chosen == 0 and [c.name for c in d.candidates] == ["req:3", "req:1", "req:2", "req:4"]
    assert (
        d.metadata["admitted"] == [3, 1]
        and d.metadata["priority"] == (-np.array(lams)[[3, 1, 2, 4]]).tolist()
    )
    # V·ΔQ − ΔC − λ·ΔL of each candidate is the priced rule's surplus at that state
    assert [c.surplus_usd for c in d.candidates] == pytest.approx(log.surplus_usd[step0].tolist(), abs=1e-15)
    req = log.request[step0]
    assert [d.prices.v_usd * c.dq for c in d.candidates] == pytest.approx(wl.v_usd[req].tolist())
    # V is the reference V̄ (USD per quality unit); each request's V and its ratio are in the metadata
    assert d.kind == "order" and d.prices.v_usd == pytest.approx(float(np.mean(wl.v_usd[req])))
    assert d.metadata["reference_v_usd"] == d.prices.v_usd
    assert d.metadata["v_ratio"] == pytest.approx([c.dq for c in d.candidates])
    own = wl.lam_usd_per_s[req] * log.dl_s[step0]  # λ_i·S_i at each candidate's own λ
    assert [d.prices.lam_usd_per_s * c.dl_s for c in d.candidates] == pytest.approx(own.tolist())


def test_order_rows_of_the_priced_scheduler_mark_its_rejections() -> None:
    # request 0 arrives to an empty queue (checked at the head, not at arrival), comes first in the
    # priced order (highest λ) and is worthless: the step rejects it and admits request 1
    wl = batch_at_zero([400] * 3, [50] * 3, [0.5, 0.01, 0.005])
    wl.v_usd[:] = [1e-9, 5.0, 5.0]
    wl.predicted_output_tokens[:] = 50.0  # same predicted size: the priced order is by λ
    r = Engine(step_model=LINEAR, config=roomy(max_num_seqs=1)).run(
        wl, make_scheduler("priced"), record=RecordSpec(sample_every=1)
    )
    log = r.order_log
    assert log is not None and log.rule == "priced"
    step0 = slice(int(log.start[0]), int(log.start[1]))
    assert log.request[step0].tolist() == [0, 1, 2]
    assert log.rejected[step0].tolist() == [True, False, False]
    assert log.admitted[step0].tolist() == [False, True, False] and log.surplus_usd[0] < 0
    d = order_decisions(r)[0]
    assert d.chosen == 1 and d.metadata["rejected"] == [0] and d.metadata["admitted"] == [1]


def _reuse_heavy(seed: int) -> Workload:
    rng = np.random.default_rng(seed)
    n = 300
    arr = np.sort(rng.uniform(0, 60, n))
    prompts = rng.integers(600, 5000, n)
    roots = rng.integers(0, 6, n)  # six shared prefixes, so entries are reused and evicted
    hashes = [
        np.array([1000 * r + k for k in range(p // HB + 1)], np.int64)
        for r, p in zip(roots, prompts, strict=True)
    ]
    return make_workload("reuse", arr, prompts, rng.integers(1, 200, n), hash_ids=hashes, seed=seed)


@pytest.mark.parametrize(("policy", "sched"), [("lru", "priced"), ("fifo", "vtc"), ("lfu", "spf")])
def test_recording_changes_no_result_and_is_off_by_default(policy: str, sched: str) -> None:
    wl = _reuse_heavy(1)
    eng = Engine(config=EngineConfig(kv_blocks=600, max_num_seqs=16), eviction=policy)
    off = eng.run(wl, make_scheduler(sched))
    on = eng.run(wl, make_scheduler(sched), record=RecordSpec(sample_every=1))
    assert off.eviction_log is None and off.order_log is None
    assert on.eviction_log is not None and on.order_log is not None and off.evictions > 10
    for name in ("status", "first_token_s", "finish_s", "preemptions", "hit_tokens", "itl_s"):
        assert np.array_equal(getattr(off, name), getattr(on, name), equal_nan=True), name
    assert (off.steps, off.evictions, off.busy_s) == (on.steps, on.evictions, on.busy_s)
    a, b = summarize(off), summarize(on)
    for k in ("wall_s", "sim_requests_per_wall_s"):
        a.pop(k), b.pop(k)
    assert json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)
    assert on.eviction_log.time_s.size == off.evictions  # sample_every=1 keeps every eviction


def test_sampling_keeps_every_kth_decision() -> None:
    wl = _reuse_heavy(2)
    eng = Engine(config=EngineConfig(kv_blocks=600, max_num_seqs=16))
    all_ = eng.run(wl, make_scheduler("fcfs"), record=RecordSpec(sample_every=1))
    some = eng.run(wl, make_scheduler("fcfs"), record=RecordSpec(sample_every=5))
    assert all_.eviction_log is not None and some.eviction_log is not None
    assert np.array_equal(some.eviction_log.time_s, all_.eviction_log.time_s[::5])
    assert all_.order_log is not None and some.order_log is not None
    assert np.array_equal(some.order_log.time_s, all_.order_log.time_s[::5])


def test_record_spec_rejects_bad_values() -> None:
    with pytest.raises(ValidationError, match="sample_every"):
        RecordSpec(sample_every=0)


def test_cli_ledger_round_trip_has_evict_and_order_rows(tmp_path: Path) -> None:
    wl = _reuse_heavy(3)
    lines = ["arrival_s,prompt_tokens,output_tokens,hash_ids"]
    lines += [
        f"{wl.arrival_s[i]:.6f},{wl.prompt_tokens[i]},{wl.output_tokens[i]},{' '.join(map(str, wl.hash_ids[i]))}"
        for i in range(len(wl))
        if wl.hash_ids is not None
    ]
    trace, led, out = tmp_path / "t.csv", tmp_path / "l.duckdb", tmp_path / "o.json"
    trace.write_text("\n".join(lines) + "\n")
    argv = ["serve", "simulate", "--trace", str(trace), "--scheduler", "fcfs,priced", "--kv-blocks", "600"]
    argv += ["--max-num-seqs", "16", "--ledger", str(led), "--ledger-sample", "3", "--json", str(out)]
    assert main(argv) == 0
    written = json.loads(out.read_text())["ledger_rows"]
    with Ledger(str(led)) as lg:
        got = list(lg.decisions())
    points = Counter(d.decision_point for d in got)
    assert points == Counter({k: v for k, v in written.items() if v})
    assert points["evict"] > 0 and points["order"] > 0 and points["admit"] > 0
    ev = next(d for d in got if d.decision_point == "evict")
    assert ev.chosen == 0 and ev.metadata["policy"] == "lru" and ev.candidates[0].name.startswith("block:")
    od = next(d for d in got if d.decision_point == "order" and "/priced/" in d.request_id)
    assert od.metadata["scheduler"] == "priced" and od.candidates[0].name.startswith("req:")


def test_disaggregated_engine_records_its_prefill_pool() -> None:
    wl = _reuse_heavy(4)
    eng = DisaggregatedEngine(prefill_config=EngineConfig(kv_blocks=600, max_num_seqs=16))
    off = eng.run(wl, make_scheduler("priced"))
    on = eng.run(wl, make_scheduler("priced"), record=RecordSpec(sample_every=1))
    assert off.order_log is None and on.order_log is not None and on.eviction_log is not None
    assert np.array_equal(off.finish_s, on.finish_s, equal_nan=True)
    assert on.eviction_log.time_s.size == on.evictions
