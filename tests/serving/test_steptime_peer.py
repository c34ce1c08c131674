"""Step models as SplitwiseSim reads its perf model; chunk attention; KV capacity; whole-prompt batching."""

from __future__ import annotations

import numpy as np
import pytest

from tokenomy.core.errors import ValidationError
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig
from tokenomy.serving.result import COMPLETED
from tokenomy.serving.schedulers import make_scheduler
from tokenomy.serving.steptime import (
    DGX_H100_GPU_BYTES,
    LLAMA2_70B,
    LLAMA2_70B_AS_SPLITWISE,
    SPLITWISE_DGX_H100_KV_BLOCKS,
    KVFootprint,
    LinearStepTime,
    TableStepTime,
    attention_s_per_pair,
)
from tokenomy.serving.workloads import make_workload

X = np.array([128.0, 256.0, 512.0, 1024.0])
TABLE = TableStepTime(X, np.array([0.05, 0.06, 0.08, 0.12]), np.array([0.030, 0.029, 0.031, 0.033]))


def test_decode_is_read_on_the_tokens_grid_and_extended_at_both_ends() -> None:
    assert TABLE.step_s(0, 256) == pytest.approx(0.029)
    assert TABLE.step_s(0, 384) == pytest.approx(0.030)
    # below the first point: the first segment extended (slope −1e-3/128 s per sequence)
    assert TABLE.step_s(0, 64) == pytest.approx(0.030 + 0.001 * 64 / 128)
    # above the last point: the last segment extended
    assert TABLE.step_s(0, 2048) == pytest.approx(0.033 + 0.002 / 512 * 1024)


def test_mixed_step_is_one_point_one_prompt_time_of_all_tokens() -> None:
    assert TABLE.step_s(500, 12) == pytest.approx(1.1 * 0.08)
    assert TABLE.step_s(500, 0) == pytest.approx(TABLE.prefill_only_s(500))
    assert TABLE.prefill_extra_s(500, 12) == pytest.approx(1.1 * 0.08 - TABLE.step_s(0, 12))
    with pytest.raises(ValidationError):
        TableStepTime(X, np.ones(4), np.ones(4), mixed_factor=0.5)


def test_context_pairs_cost_the_attention_coefficient() -> None:
    table = TableStepTime(X, TABLE.prompt_s, TABLE.token_s, attn_s_per_token_pair=1e-9)
    assert table.step_s(256, 0, 1e6) == pytest.approx(0.06 + 1e-3)
    lin = LinearStepTime(0.005, 1e-5, 1e-4, attn_s_per_token_pair=2e-9)
    assert lin.step_s(100, 3, 5e5) == pytest.approx(0.005 + 1e-3 + 3e-4 + 1e-3)
    assert lin.prefill_extra_s(100, 3) == pytest.approx(1e-3)
    assert lin.prefill_extra_s(100, 0) == pytest.approx(0.006)


def test_attention_per_pair_from_one_prompt_against_a_batch() -> None:
    # x = 1024 as one prompt and as 4 × 256: 1024²/2·(1 − 1/4) pairs apart, 0.01 s apart
    pts = {(1024.0, 1.0): 0.11, (256.0, 4.0): 0.10, (256.0, 1.0): 0.05}
    assert attention_s_per_pair(pts) == pytest.approx(0.01 / (1024**2 / 2 * 0.75))
    assert attention_s_per_pair({(256.0, 1.0): 0.05}) == 0.0
    assert attention_s_per_pair({(1024.0, 1.0): 0.09, (256.0, 4.0): 0.10}) == 0.0  # floored


def test_kv_capacity_matches_splitwise_and_gqa() -> None:
    assert LLAMA2_70B_AS_SPLITWISE.bytes_per_token == 2 * 80 * 8192 * 2  # 2.62 MB, SplitwiseSim's count
    assert SPLITWISE_DGX_H100_KV_BLOCKS == 13165
    assert LLAMA2_70B.bytes_per_token == LLAMA2_70B_AS_SPLITWISE.bytes_per_token / 8
    assert LLAMA2_70B.kv_blocks(DGX_H100_GPU_BYTES, 8) == int((8 * DGX_H100_GPU_BYTES - 135e9) / 327680 // 16)
    with pytest.raises(ValidationError):
        LLAMA2_70B.kv_blocks(DGX_H100_GPU_BYTES, 1)
    with pytest.raises(ValidationError):
        KVFootprint("bad", 1, 8, 4, 8, 2, 0.0)


def _run(cfg: EngineConfig, model: object, prompts: list[int], outs: list[int], at: list[float]) -> object:
    wl = make_workload("t", np.array(at), prompts, outs, seed=0)
    return wl, Engine(step_model=model, config=cfg).run(wl, make_scheduler("fcfs"))  # type: ignore[arg-type]


def test_whole_prompts_run_first_and_past_the_budget() -> None:
    cfg = EngineConfig(max_batched_tokens=512, kv_blocks=10_000, prefix_cache=False, chunked_prefill=False)
    _, r = _run(cfg, TABLE, [1000, 300, 300], [3, 3, 3], [0.0, 0.0, 0.0])
    assert (r.status == COMPLETED).all()  # type: ignore[attr-defined]
    # the first prompt of a step runs whole past the 512 budget; a second joins only if it fits
    t1 = TABLE.step_s(1000, 0)
    assert r.first_token_s[0] == pytest.approx(t1)  # type: ignore[attr-defined]
    t2 = 1.1 * TABLE.prefill_only_s(300 + 1)  # one prompt with request 0's first decode (600 > 512)
    t3 = 1.1 * TABLE.prefill_only_s(300 + 2)  # the last prompt with two decodes
    assert r.first_token_s[1:] == pytest.approx([t1 + t2, t1 + t2 + t3])  # type: ignore[attr-defined]
    chunked = EngineConfig(max_batched_tokens=512, kv_blocks=10_000, prefix_cache=False)
    _, rc = _run(chunked, TABLE, [1000, 300, 300], [3, 3, 3], [0.0, 0.0, 0.0])
    assert rc.first_token_s[0] > t1  # type: ignore[attr-defined]  # two chunks of 512 and 488


def test_chunks_pay_attention_to_earlier_chunks() -> None:
    cfg = EngineConfig(max_batched_tokens=400, kv_blocks=10_000, prefix_cache=False)
    plain = LinearStepTime(0.01, 1e-4, 1e-3)
    attn = LinearStepTime(0.01, 1e-4, 1e-3, attn_s_per_token_pair=1e-7)
    _, a = _run(cfg, plain, [1000], [1], [0.0])
    _, b = _run(cfg, attn, [1000], [1], [0.0])
    # chunks 400, 400, 200 after 0, 400, 800 tokens: 400·400 + 200·800 = 320,000 pairs
    assert b.first_token_s[0] - a.first_token_s[0] == pytest.approx(320_000 * 1e-7)  # type: ignore[attr-defined]


def test_decodes_sit_out_a_step_whose_whole_prompts_fill_the_budget() -> None:
    cfg = EngineConfig(max_batched_tokens=512, kv_blocks=10_000, prefix_cache=False, chunked_prefill=False)
    t1 = TABLE.prefill_only_s(16)
    _, alone = _run(cfg, TABLE, [16], [5], [0.0])
    assert alone.finish_s[0] == pytest.approx(t1 + 4 * TABLE.step_s(0, 1))  # type: ignore[attr-defined]
    # a 600-token prompt arrives as request 0 starts decoding: 600 + 1 > 512, so request 0 waits a step
    _, both = _run(cfg, TABLE, [16, 600], [5, 1], [0.0, t1])
    assert both.first_token_s[1] == pytest.approx(t1 + TABLE.prefill_only_s(600))  # type: ignore[attr-defined]
    assert both.finish_s[0] == pytest.approx(alone.finish_s[0] + TABLE.prefill_only_s(600))  # type: ignore[attr-defined]
