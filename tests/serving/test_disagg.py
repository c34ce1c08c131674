"""Prefill/decode disaggregation: one request against the closed form, conservation, interference."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import LINEAR, roomy, small_mix

from tokenomy.core.errors import ValidationError
from tokenomy.serving.disagg import DisaggregatedEngine, KVTransfer
from tokenomy.serving.engine import Engine
from tokenomy.serving.metrics import summarize
from tokenomy.serving.result import COMPLETED
from tokenomy.serving.schedulers import make_scheduler
from tokenomy.serving.workloads import make_workload


def test_one_request_matches_the_closed_form_with_the_transfer_cost() -> None:
    p, o = 1000, 20
    wl = make_workload("one", [0.0], [p], [o])
    xfer = KVTransfer(bytes_per_token=1e6, bandwidth_bytes_per_s=1e9, latency_s=0.01)
    r = DisaggregatedEngine(
        step_model=LINEAR, prefill_config=roomy(), decode_config=roomy(), transfer=xfer
    ).run(wl, make_scheduler("fcfs"))
    b0, b1, b2 = LINEAR.beta0_s, LINEAR.beta1_s_per_prefill_token, LINEAR.beta2_s_per_decode_token
    ttft = b0 + b1 * p
    transfer = 0.01 + p * 1e6 / 1e9
    # the decode pool: one step to take the KV (emits token 2), then o − 2 decode steps alone
    assert r.first_token_s[0] == pytest.approx(ttft)
    assert r.finish_s[0] == pytest.approx(ttft + transfer + b0 + (o - 2) * (b0 + b2))
    assert r.decode_tokens == pytest.approx(o - 2)  # the join step emits token 2 without a decode slot


def test_every_request_finishes_once_and_tokens_are_conserved() -> None:
    wl = small_mix(seed=4, rate=4.0)
    r = DisaggregatedEngine(step_model=LINEAR, prefill_config=roomy(), decode_config=roomy()).run(
        wl, make_scheduler("fcfs")
    )
    assert (r.status == COMPLETED).all()
    assert np.all(r.finish_s >= r.first_token_s) and np.all(r.first_token_s > wl.arrival_s)
    assert r.prefill_tokens == int(wl.prompt_tokens.sum())
    multi = wl.output_tokens > 1
    # decode slots: every token after the first two of each multi-token request
    assert r.decode_tokens == pytest.approx(float((wl.output_tokens[multi] - 2).sum()))


def test_disaggregation_removes_prefill_interference_from_decode_steps() -> None:
    wl = small_mix(seed=5, duration_s=60.0, rate=8.0)
    colo = summarize(Engine(step_model=LINEAR).run(wl, make_scheduler("fcfs")))
    split = summarize(DisaggregatedEngine(step_model=LINEAR).run(wl, make_scheduler("fcfs")))
    assert split["itl_p99_s"] < colo["itl_p99_s"]
    assert split["completed"] == colo["completed"] == len(wl)


def test_bad_transfer_parameters_are_rejected() -> None:
    with pytest.raises(ValidationError, match="bandwidth_bytes_per_s > 0"):
        KVTransfer(bandwidth_bytes_per_s=0.0)
