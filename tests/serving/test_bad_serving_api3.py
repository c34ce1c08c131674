"""Bad input to the serving, capital and economy Python API gets one ValidationError naming the field.

Covers: a workload with a NaN arrival, value or tenant code handed to ``Engine.run`` (it hung or
silently rejected everything), ``EngineConfig`` / ``ServeRequest`` fields of the wrong type or not
finite, ``RLConfig``, ``RLPrices``, ``ValueAwareEviction`` and ``DepreciationFit`` fields, and
``bootstrap_mean`` / ``synthetic_values`` arguments. Valid inputs of the accepted kinds (numpy
integers, lists of numbers) keep working.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

import numpy as np
import pytest

from tokenomy.capital.cache.policies import CacheLog, ValueAwareEviction
from tokenomy.capital.cache.reuse import DepreciationFit, fit_depreciation
from tokenomy.capital.cache.synthetic import SyntheticPrefixes
from tokenomy.capital.rl.allocators import make_allocator
from tokenomy.capital.rl.allocators.base import RLPrices
from tokenomy.capital.rl.config import RLConfig, warm_start
from tokenomy.capital.rl.loop import run_rl
from tokenomy.capital.rl.worth import trace_worth
from tokenomy.core.errors import ValidationError
from tokenomy.economy.configs import parse_configs
from tokenomy.economy.evaluation import bootstrap_mean
from tokenomy.economy.market import run_market
from tokenomy.economy.requests import ValueSpec, compose
from tokenomy.economy.tenants import LogNormalValue, TenantSet, synthetic_values, tenant_from_requests
from tokenomy.serving.disagg import DisaggregatedEngine
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig, ServeRequest, Workload
from tokenomy.serving.experiments import run_grid
from tokenomy.serving.schedulers import make_scheduler
from tokenomy.serving.steptime import LinearStepTime
from tokenomy.serving.workloads import TenantSpec, ValueModel, concat, make_workload, rate_scaled, tenant_mix

N = 5
NAN, INF = float("nan"), float("inf")
FLAT = (math.log(1 / 600),) * 30


def _wl(**over: object) -> Workload:
    cols: dict[str, object] = {
        "name": "w",
        "arrival_s": np.arange(N, dtype=np.float64),
        "prompt_tokens": np.full(N, 100, dtype=np.int64),
        "output_tokens": np.full(N, 20, dtype=np.int64),
        "tenant": np.zeros(N, dtype=np.int64),
        "tenant_names": ("t",),
        "v_usd": np.full(N, 0.01),
        "lam_usd_per_s": np.full(N, 0.001),
        "predicted_output_tokens": np.full(N, 20.0),
    }
    cols.update(over)
    return Workload(**cols)  # type: ignore[arg-type]


def _col(value: float, at: int = 1, base: float = 0.01) -> np.ndarray:
    arr = np.full(N, base)
    arr[at] = value
    return arr


BAD_WORKLOADS: list[tuple[str, dict[str, object], str]] = [
    ("nan-arrival", {"arrival_s": np.array([0.0, NAN, 2.0, 3.0, 4.0])}, "arrival_s"),
    ("inf-arrival", {"arrival_s": np.array([0.0, 1.0, 2.0, 3.0, INF])}, "arrival_s"),
    ("nan-v", {"v_usd": _col(NAN)}, "v_usd"),
    ("all-nan-v", {"v_usd": np.full(N, NAN)}, "v_usd"),
    ("neg-lam", {"lam_usd_per_s": _col(-1.0)}, "lam_usd_per_s"),
    ("tenant-out-of-range", {"tenant": np.full(N, 3, dtype=np.int64)}, "tenant"),
    ("list-arrival", {"arrival_s": [0.0, 1.0, 2.0, 3.0, 4.0]}, "arrival_s"),
    ("float-prompt", {"prompt_tokens": np.full(N, 1.5)}, "prompt_tokens"),
    ("str-v", {"v_usd": np.array(["a"] * N)}, "v_usd"),
    ("short-lam", {"lam_usd_per_s": np.full(N - 1, 0.001)}, "lam_usd_per_s"),
    ("2d-arrival", {"arrival_s": np.zeros((N, 1))}, "arrival_s"),
    ("tenant-names-str", {"tenant_names": "t"}, "tenant_names"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sched", ["fcfs", "priced"])
@pytest.mark.parametrize(("label", "over", "field"), BAD_WORKLOADS, ids=[b[0] for b in BAD_WORKLOADS])
def test_engine_run_refuses_a_bad_workload(
    label: str, over: dict[str, object], field: str, sched: str
) -> None:
    with pytest.raises(ValidationError, match=field):
        Engine().run(_wl(**over), make_scheduler(sched))


@pytest.mark.timeout(60)
def test_disaggregated_run_and_session_refuse_a_nan_arrival() -> None:
    wl = _wl(arrival_s=np.array([0.0, NAN, 2.0, 3.0, 4.0]))
    with pytest.raises(ValidationError, match="arrival_s"):
        DisaggregatedEngine().run(wl, make_scheduler("fcfs"))
    with pytest.raises(ValidationError, match="arrival_s"):
        Engine().session(make_scheduler("fcfs")).add_workload(replace(wl, tenant_names=("default",)))


def test_a_good_workload_still_runs_under_priced() -> None:
    res = Engine().run(_wl(), make_scheduler("priced"))
    assert res.steps > 0


BAD_CONFIGS: list[tuple[str, dict[str, object]]] = [
    ("max_num_seqs", {"max_num_seqs": 1.5}),
    ("max_num_seqs", {"max_num_seqs": True}),
    ("kv_blocks", {"kv_blocks": "100"}),
    ("block_tokens", {"block_tokens": 0}),
    ("spec_k", {"spec_k": 2.0}),
    ("spec_alpha", {"spec_alpha": NAN}),
    ("spec_alpha", {"spec_alpha": "0.5"}),
    ("spec_draft_frac", {"spec_draft_frac": INF}),
    ("spec_draft_frac", {"spec_draft_frac": -0.1}),
    ("gpu_usd_per_s", {"gpu_usd_per_s": NAN}),
    ("gpu_usd_per_s", {"gpu_usd_per_s": INF}),
    ("price_sample_s", {"price_sample_s": NAN}),
    ("price_sample_s", {"price_sample_s": 0.0}),
    ("prefix_cache", {"prefix_cache": "no"}),
    ("chunked_prefill", {"chunked_prefill": "no"}),
    ("chunked_prefill", {"chunked_prefill": 0}),
    ("spec_rule", {"spec_rule": None}),
    ("spec_alpha_by_tenant", {"spec_alpha_by_tenant": (0.5, NAN)}),
    ("spec_alpha_by_tenant", {"spec_alpha_by_tenant": "0.5"}),
    ("spec_alpha_halving_tokens", {"spec_alpha_halving_tokens": INF}),
]


@pytest.mark.parametrize(("field", "kw"), BAD_CONFIGS, ids=[f"{b[0]}={b[1][b[0]]!r}" for b in BAD_CONFIGS])
def test_engine_config_refuses(field: str, kw: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"EngineConfig.{field}")):
        EngineConfig(**kw)  # type: ignore[arg-type]


def test_engine_config_takes_numpy_scalars_as_plain_numbers() -> None:
    cfg = EngineConfig(kv_blocks=np.int64(100), spec_alpha=np.float64(0.5), spec_alpha_by_tenant=[0.1, 0.2])  # type: ignore[arg-type]
    assert type(cfg.kv_blocks) is int and cfg.kv_blocks == 100
    assert type(cfg.spec_alpha) is float and cfg.spec_alpha_by_tenant == (0.1, 0.2)
    assert replace(cfg, kv_blocks=np.int64(7)).kv_blocks == 7  # type: ignore[arg-type]


@pytest.mark.parametrize("hashes", ["abc", [1, "a"], [1.5], [True], 5, [None]])
def test_serve_request_refuses_hash_ids_that_are_not_whole_numbers(hashes: object) -> None:
    with pytest.raises(ValidationError, match=r"ServeRequest\.hash_ids"):
        ServeRequest(0.0, 10, 5, 1.0, 0.0, hash_ids=hashes)  # type: ignore[arg-type]


def test_serve_request_keeps_integer_hash_ids() -> None:
    req = ServeRequest(0.0, 10, 5, 1.0, 0.0, hash_ids=np.array([3, 4], dtype=np.int64))  # type: ignore[arg-type]
    assert req.hash_ids == (3, 4)


BAD_RL: list[tuple[str, dict[str, object]]] = [
    ("prices", {"prices": None}),
    ("learning_rate", {"learning_rate": INF}),
    ("learning_rate", {"learning_rate": NAN}),
    ("learning_rate", {"learning_rate": "0.01"}),
    ("max_tokens", {"max_tokens": 1.5}),
    ("max_tokens", {"max_tokens": INF}),
    ("pretrain_steps", {"pretrain_steps": -1}),
    ("pretrain_tasks_per_level", {"pretrain_tasks_per_level": -5}),
    ("hidden", {"hidden": True}),
    ("max_group_size", {"max_group_size": 16.0}),
]


@pytest.mark.parametrize(("field", "kw"), BAD_RL, ids=[f"{b[0]}={b[1][b[0]]!r}" for b in BAD_RL])
def test_rl_config_refuses(field: str, kw: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"RLConfig.{field}")):
        RLConfig(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("v_usd", {"v_usd": NAN}),
        ("rollout_usd_per_token", {"rollout_usd_per_token": -1e-6}),
        ("verify_usd_per_token", {"verify_usd_per_token": "1e-6"}),
        ("drift_per_version", {"drift_per_version": 1.0}),
    ],
)
def test_rl_prices_refuse(field: str, kw: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"RLPrices.{field}")):
        RLPrices(**kw)  # type: ignore[arg-type]


BAD_EVICTION: list[tuple[str, dict[str, object]]] = [
    ("fit", {"fit": "x"}),
    ("fit", {"fit": DepreciationFit(0.01, (0.0,) * 3, 0.0, 0)}),
    ("prior_demands", {"prior_demands": NAN}),
    ("prior_demands", {"prior_demands": -5.0}),
    ("prior_demands", {"prior_demands": "2"}),
    ("admission", {"admission": "no"}),
    ("weight_by_value", {"weight_by_value": 1}),
    ("log", {"log": "x"}),
]


@pytest.mark.parametrize(
    ("field", "kw"), BAD_EVICTION, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD_EVICTION)]
)
def test_value_aware_eviction_refuses(field: str, kw: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"ValueAwareEviction.{field}")):
        ValueAwareEviction(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("every", [True, 1.5, "10", 0])
def test_cache_log_refuses_an_every_that_is_not_a_whole_number(every: object) -> None:
    with pytest.raises(ValidationError, match="CacheLog every"):
        CacheLog(every=every)  # type: ignore[arg-type]


def test_value_aware_eviction_keeps_good_arguments() -> None:
    pol = ValueAwareEviction(DepreciationFit(0.01, FLAT, -3.0, 4), prior_demands=0, log=CacheLog(every=1))
    assert pol.prior_demands == 0.0 and pol.fresh().admission is True


@pytest.mark.parametrize(
    ("field", "args"),
    [
        ("delta_per_s", (-1.0, FLAT, 0.0, 0)),
        ("delta_per_s", (NAN, FLAT, 0.0, 0)),
        ("delta_per_s", ("0.1", FLAT, 0.0, 0)),
        ("alpha", (0.1, (), 0.0, 0)),
        ("alpha", (0.1, (NAN,) * 30, 0.0, 0)),
        ("alpha", (0.1, "abc", 0.0, 0)),
        ("log_likelihood", (0.1, FLAT, NAN, 0)),
        ("demands", (0.1, FLAT, 0.0, -1)),
        ("demands", (0.1, FLAT, 0.0, 1.5)),
    ],
)
def test_depreciation_fit_refuses(field: str, args: tuple[object, ...]) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"DepreciationFit.{field}")):
        DepreciationFit(*args)  # type: ignore[arg-type]


BAD_BOOT: list[tuple[str, object, dict[str, object]]] = [
    ("x", np.ones((3, 3)), {}),
    ("x", np.array([1.0, NAN, 2.0]), {}),
    ("x", [1.0, INF], {}),
    ("x", ["a", "b"], {}),
    ("x", np.array([]), {}),
    ("x", [1.0], {}),  # one value: no interval
    ("seed", np.array([1.0, 2.0]), {"seed": -1}),
    ("seed", np.array([1.0, 2.0]), {"seed": 1.5}),
    ("n_boot", np.array([1.0, 2.0]), {"n_boot": 10}),
    ("n_boot", np.array([1.0, 2.0]), {"n_boot": 2000.0}),
    ("level", np.array([1.0, 2.0]), {"level": NAN}),
    ("level", np.array([1.0, 2.0]), {"level": 1.5}),
]


@pytest.mark.parametrize(("field", "x", "kw"), BAD_BOOT, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD_BOOT)])
def test_bootstrap_mean_refuses(field: str, x: object, kw: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=f"bootstrap_mean {field}"):
        bootstrap_mean(x, **kw)  # type: ignore[arg-type]


def test_bootstrap_mean_takes_a_list_like_an_array() -> None:
    data = [1.0, 2.0, 4.0, 8.0]
    assert bootstrap_mean(data) == bootstrap_mean(np.array(data))  # type: ignore[arg-type]
    mean, lo, hi = bootstrap_mean(np.array(data))
    assert lo <= mean <= hi and mean == pytest.approx(3.75)


@pytest.mark.parametrize(
    ("field", "k", "kw"),
    [
        ("k", -1, {}),
        ("k", 2.5, {}),
        ("k", True, {}),
        ("seed", 3, {"seed": -1}),
        ("median_usd", 3, {"median_usd": -1.0}),
        ("sigma", 3, {"sigma": NAN}),
        ("spread", 3, {"spread": INF}),
        ("spread", 3, {"spread": -1.0}),
    ],
)
def test_synthetic_values_refuse(field: str, k: object, kw: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=f"synthetic_values {field}"):
        synthetic_values(k, **{"seed": 0, **kw})  # type: ignore[arg-type]


def test_synthetic_values_still_draw() -> None:
    vals = synthetic_values(3, seed=0)
    assert len(vals) == 3 and all(v.synthetic for v in vals)
    assert synthetic_values(0, seed=0) == []


BAD_ENGINES: list[tuple[str, dict[str, object]]] = [
    ("max_jump_steps", {"max_jump_steps": -1}),  # looped for ever
    ("max_jump_steps", {"max_jump_steps": 0}),
    ("max_jump_steps", {"max_jump_steps": 1.5}),
    ("max_jump_steps", {"max_jump_steps": "x"}),
    ("eviction", {"eviction": 5}),
    ("config", {"config": "x"}),
    ("step_model", {"step_model": None}),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("field", "kw"), BAD_ENGINES, ids=[f"{b[0]}={b[1][b[0]]!r}" for b in BAD_ENGINES])
def test_engine_refuses(field: str, kw: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"Engine {field}")):
        Engine(**kw).run(_wl(), make_scheduler("fcfs"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("scheduler", {"scheduler": "fcfs"}),
        ("seed", {"seed": -1}),
        ("tenant_names", {"tenant_names": "ab"}),
        ("hash_block_tokens", {"hash_block_tokens": 0}),
    ],
)
def test_session_refuses(field: str, kw: dict[str, object]) -> None:
    args: dict[str, object] = {"scheduler": make_scheduler("fcfs"), **kw}
    with pytest.raises(ValidationError, match=re.escape(f"Session {field}")):
        Engine().session(**args)  # type: ignore[arg-type]


def test_engine_run_refuses_a_scheduler_name() -> None:
    with pytest.raises(ValidationError, match="Session scheduler"):
        Engine().run(_wl(), "fcfs")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "args", "kw"),
    [
        ("prompt_tokens", ([0.0, 1.0], ["a", "b"], [1, 1]), {}),
        ("prompt_tokens", ([0.0, 1.0], [1.5, 2.0], [1, 1]), {}),
        ("output_tokens", ([0.0, 1.0], [1, 1], [np.nan, 1]), {}),
        ("arrival_s", (["x", "y"], [1, 1], [1, 1]), {}),
        ("tenant", ([0.0, 1.0], [1, 1], [1, 1]), {"tenant": [0.5, 0]}),
        ("seed", ([0.0, 1.0], [1, 1], [1, 1]), {"seed": -1}),
    ],
)
def test_make_workload_refuses(field: str, args: tuple[object, ...], kw: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"make_workload {field}")):
        make_workload("w", *args, **kw)  # type: ignore[arg-type]


def test_make_workload_takes_whole_floats() -> None:
    wl = make_workload("w", [0.0, 1.0], [10.0, 20.0], np.array([3, 4], dtype=np.int32))
    assert wl.prompt_tokens.tolist() == [10, 20] and wl.output_tokens.dtype == np.int64


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("v_median_usd", {"v_median_usd": NAN}),
        ("lam_sigma", {"lam_sigma": -1.0}),
        ("noise_sigma", {"noise_sigma": "0.5"}),
    ],
)
def test_value_model_refuses(field: str, kw: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"ValueModel.{field}")):
        ValueModel(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "kw"),
    [("rate_rps", {"rate_rps": NAN}), ("cv", {"cv": INF}), ("prompt_median", {"prompt_median": 0.0})],
)
def test_tenant_spec_refuses(field: str, kw: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"TenantSpec.{field}")):
        TenantSpec(**{"name": "a", "rate_rps": 1.0, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "kw"),
    [("duration_s", {"duration_s": INF}), ("duration_s", {"duration_s": NAN}), ("seed", {"seed": -1})],
)
def test_tenant_mix_refuses(field: str, kw: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"tenant_mix {field}")):
        tenant_mix([TenantSpec("a", 1.0)], **{"duration_s": 10.0, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "args"), [("median_usd", ("x", 1.0)), ("sigma", (1.0, None)), ("sigma", (1.0, NAN))]
)
def test_lognormal_value_refuses(field: str, args: tuple[object, ...]) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"LogNormalValue {field}")):
        LogNormalValue(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("handoff_limit", {"handoff_limit": 1.5}),
        ("handoff_limit", {"handoff_limit": "x"}),
        ("no_gate", {"no_gate": "no"}),
        ("prefill_config", {"prefill_config": "x"}),
        ("decode_config", {"decode_config": "x"}),
        ("transfer", {"transfer": "x"}),
        ("step_model", {"step_model": None}),
        ("eviction", {"eviction": 5}),
    ],
)
def test_disaggregated_engine_refuses(field: str, kw: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"DisaggregatedEngine {field}")):
        DisaggregatedEngine(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("tenant_share", {"tenant_share": (NAN, 0.5)}),
        ("tenant_share", {"tenant_share": (1.0,)}),
        ("tenant_share", {"tenant_share": (0.0, 0.0)}),
        ("lam_usd_per_s", {"lam_usd_per_s": (-1.0, 0.1)}),
        ("tenant_names", {"tenant_names": "ab"}),
        ("chat_v_median_usd", {"chat_v_median_usd": NAN}),
        ("agent_v_sigma", {"agent_v_sigma": INF}),
        ("tool_s", {"tool_s": -1.0}),
    ],
)
def test_value_spec_refuses(field: str, kw: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"ValueSpec.{field}")):
        ValueSpec(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("trace", {"trace": None}),
        ("n_prompts", {"n_prompts": 1.5}),
        ("n_trajectories", {"n_trajectories": -1}),
        ("seed", {"seed": -1}),
        ("spec", {"spec": "x"}),
    ],
)
def test_compose_refuses(field: str, kw: dict[str, object]) -> None:
    args: dict[str, object] = {"trace": _wl(), "n_prompts": 3, "n_trajectories": 2, "agent_share": 0.5, **kw}
    with pytest.raises(ValidationError, match=re.escape(f"compose {field}")):
        compose(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "kw"), [("value", {"value": None}), ("seed", {"seed": -1}), ("atoms", {"atoms": 0})]
)
def test_tenant_from_requests_refuses(field: str, kw: dict[str, object]) -> None:
    args: dict[str, object] = {"value": LogNormalValue(0.05, 1.0), **kw}
    with pytest.raises(ValidationError, match=re.escape(f"tenant_from_requests {field}")):
        tenant_from_requests("a", [0.0, 1.0], [1, 1], [1, 1], **args)  # type: ignore[arg-type]


def test_run_market_refuses_a_string_cost() -> None:
    ts = TenantSet(
        tuple(
            tenant_from_requests(f"t{k}", np.arange(5.0) * 10, [100] * 5, [20] * 5, v)
            for k, v in enumerate(synthetic_values(2, seed=0))
        )
    )
    with pytest.raises(ValidationError, match="run_market cost_usd_per_gpu_s"):
        run_market(ts, 1.0, cost_usd_per_gpu_s="x")  # type: ignore[arg-type]


SMALL_RL = RLConfig(
    max_tokens=2000,
    pretrain_steps=1,
    tasks_per_level=4,
    pretrain_tasks_per_level=2,
    candidates_per_step=16,
    num_groups=4,
)


@pytest.mark.parametrize(
    ("field", "args"), [("config", (None, 0)), ("seed", (SMALL_RL, -1)), ("seed", (SMALL_RL, "x"))]
)
def test_warm_start_refuses(field: str, args: tuple[object, ...]) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"warm_start {field}")):
        warm_start(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("config", {"config": None}),
        ("allocator", {"allocator": "uniform"}),
        ("start", {"start": None}),
        ("seed", {"seed": -1}),
        ("staleness_versions", {"staleness_versions": -1}),
        ("staleness_versions", {"staleness_versions": 1.5}),
    ],
)
def test_run_rl_refuses(field: str, kw: dict[str, object]) -> None:
    args: dict[str, object] = {
        "config": SMALL_RL,
        "allocator": make_allocator("uniform"),
        "start": warm_start(SMALL_RL, 0),
        "seed": 0,
        **kw,
    }
    config, allocator, start = args.pop("config"), args.pop("allocator"), args.pop("start")
    with pytest.raises(ValidationError, match=re.escape(f"run_rl {field}")):
        run_rl(config, allocator, start, **args)  # type: ignore[arg-type]


def test_fit_depreciation_refuses_a_non_table() -> None:
    with pytest.raises(ValidationError, match="fit_depreciation table"):
        fit_depreciation(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [None, ["local"], 5, b"local"])
def test_parse_configs_refuses_a_non_string(text: object) -> None:
    with pytest.raises(ValidationError, match="--configs must be a comma list"):
        parse_configs(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("p_continue", {"p_continue": "x"}),
        ("p_continue", {"p_continue": NAN}),
        ("open_conversations", {"open_conversations": 1.5}),
        ("block_tokens", {"block_tokens": True}),
        ("zipf_s", {"zipf_s": NAN}),
    ],
)
def test_synthetic_prefixes_refuse(field: str, kw: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"SyntheticPrefixes.{field}")):
        SyntheticPrefixes(**kw)  # type: ignore[arg-type]


def test_synthetic_prefixes_draw_refuses_a_negative_seed() -> None:
    with pytest.raises(ValidationError, match=r"SyntheticPrefixes\.draw seed"):
        SyntheticPrefixes().draw([100, 200], seed=-1)


@pytest.mark.parametrize("args", [("x", 0.0, 0.0), (0.1, None, 0.0), (0.1, 0.0, True)])
def test_linear_step_time_refuses_non_numbers(args: tuple[object, ...]) -> None:
    with pytest.raises(ValidationError, match="LinearStepTime coefficients must be numbers"):
        LinearStepTime(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize("age", [-1, 1.5, "2"])
def test_trace_worth_refuses_a_bad_age(age: object) -> None:
    with pytest.raises(ValidationError, match="trace_worth age_versions"):
        trace_worth([], age_versions=age)  # type: ignore[arg-type]


@pytest.mark.parametrize("k", ["x", INF, NAN, True, 1e-320])
def test_rate_scaled_refuses(k: object) -> None:
    with pytest.raises(ValidationError, match="rate scale"):
        rate_scaled(_wl(), k)  # type: ignore[arg-type]


@pytest.mark.parametrize("parts", [[None], "ab", []])
def test_concat_refuses(parts: object) -> None:
    with pytest.raises(ValidationError, match="concat"):
        concat(parts, "x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("workloads", {"workloads": [None]}),
        ("schedulers", {"schedulers": "fcfs"}),
        ("evictions", {"evictions": "lru"}),
    ],
)
def test_run_grid_refuses(field: str, kw: dict[str, object]) -> None:
    args: dict[str, object] = {"workloads": [_wl()], "schedulers": ["fcfs"], "rates": [1.0], **kw}
    with pytest.raises(ValidationError, match=f"run_grid {field}"):
        run_grid(**args)  # type: ignore[arg-type]


def test_run_until_refuses_a_bool() -> None:
    with pytest.raises(ValidationError, match="run_until t_s"):
        Engine().session(make_scheduler("fcfs")).run_until(True)
