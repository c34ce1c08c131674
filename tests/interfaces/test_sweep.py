"""``interfaces.sweep.parallel_map``: serial and Ray backends give the same results in input order.

The Ray tests share one small local session per module (``ray.init(num_cpus=1)``; Ray removed its
single-process ``local_mode``). Without Ray they skip locally and fail under CI=true, where the
``ray`` extra is installed by ``make test``.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tokenomy.core.errors import ValidationError
from tokenomy.interfaces import sweep
from tokenomy.interfaces.cli import main
from tokenomy.interfaces.sweep import parallel_map, resolve_backend
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig
from tokenomy.serving.experiments import run_grid
from tokenomy.serving.result import RunResult
from tokenomy.serving.steptime import LinearStepTime
from tokenomy.serving.workloads import TenantSpec, rate_scaled, tenant_mix

WALL_CLOCK = ("wall_s", "sim_requests_per_wall_s")  # measured, not simulated: differ between any two runs


def _grid(map_fn: Any = None) -> tuple[list[dict[str, Any]], list[RunResult]]:
    """A small two-tenant serve grid: 2 workloads × 2 rates × 2 schedulers."""
    wls = [
        tenant_mix(
            [TenantSpec("a", 3.0, cv=1.5), TenantSpec("b", 1.5, prompt_median=3000.0)],
            duration_s=20.0,
            seed=seed,
        )
        for seed in (0, 1)
    ]
    engine = Engine(
        step_model=LinearStepTime(0.005, 2e-5, 1e-4),
        config=EngineConfig(kv_blocks=400, max_batched_tokens=2048),
    )
    runs: list[RunResult] = []
    rows = run_grid(
        wls,
        ("fcfs", "priced"),
        (1.0, 3.0),
        engine=engine,
        on_run=lambda r, _m: runs.append(r),
        map_fn=map_fn,
    )
    return rows, runs


def _simulated(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in WALL_CLOCK}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def test_serial_map_keeps_input_order_and_reports_each_item() -> None:
    seen: list[tuple[int, int]] = []
    out = parallel_map(
        functools.partial(pow, 2), [3, 1, 2], backend="serial", progress=lambda *a: seen.append(a)
    )
    assert out == [8, 2, 4]
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_resolve_backend_names_the_valid_backends_for_an_unknown_one() -> None:
    with pytest.raises(ValidationError, match="auto, serial, ray; got 'dask'"):
        resolve_backend("dask")


def test_auto_falls_back_to_serial_and_ray_is_a_clear_error_without_ray(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sweep, "ray_available", lambda: False)
    assert resolve_backend("auto") == "serial"
    assert resolve_backend("serial") == "serial"
    assert parallel_map(abs, [-1, 2], backend="auto") == [1, 2]
    with pytest.raises(ValidationError, match=r"\[ray\]"):
        parallel_map(abs, [-1], backend="ray")


def test_serve_grid_with_an_identity_map_fn_equals_the_default_loop() -> None:
    calls: list[int] = []

    def listed(fn: Any, items: Any) -> list[Any]:
        calls.append(len(items))
        return [fn(x) for x in items]

    rows, runs = _grid()
    mapped_rows, mapped_runs = _grid(listed)
    assert calls == [8]
    assert [_simulated(r) for r in rows] == [_simulated(r) for r in mapped_rows]
    assert [(r["rate_scale"], r["scheduler"]) for r in rows[:4]] == [
        (1.0, "fcfs"),
        (1.0, "priced"),
        (3.0, "fcfs"),
        (3.0, "priced"),
    ]
    assert [r.scheduler for r in runs] == [r.scheduler for r in mapped_runs]


def test_ray_map_keeps_input_order(ray_session: Any) -> None:
    progress: list[tuple[int, int]] = []
    items = [5, 0, 3, 1, 4]
    out = parallel_map(
        functools.partial(pow, 3), items, backend="ray", progress=lambda *a: progress.append(a)
    )
    assert out == [3**x for x in items]
    assert [d for d, _ in progress] == [1, 2, 3, 4, 5] and {n for _, n in progress} == {5}


def test_ray_reuses_a_running_session_and_auto_picks_it(ray_session: Any) -> None:
    assert resolve_backend("auto") == "ray"
    assert parallel_map(abs, [-2, 3], backend="auto") == [2, 3]
    assert ray_session.is_initialized()  # the module's session was reused, not shut down


def test_ray_map_raises_the_workers_tokenomy_error(ray_session: Any) -> None:
    wl = tenant_mix([TenantSpec("a", 1.0)], duration_s=5.0, seed=0)
    with pytest.raises(ValidationError, match="rate scale must be > 0"):
        parallel_map(functools.partial(rate_scaled, wl), [1.0, -1.0], backend="ray")


def test_serve_grid_on_ray_equals_the_serial_run_exactly(ray_session: Any) -> None:
    def on_ray(fn: Any, items: Any) -> list[Any]:
        return parallel_map(fn, items, backend="ray")

    rows, runs = _grid()
    ray_rows, ray_runs = _grid(on_ray)
    assert len(rows) == len(ray_rows) == 8
    for a, b in zip(rows, ray_rows, strict=True):
        assert a.keys() == b.keys()
        diff = {k: (a[k], b[k]) for k in _simulated(a) if not _same(a[k], b[k])}
        assert diff == {}
    for r, s in zip(runs, ray_runs, strict=True):
        assert r.workload.name == s.workload.name and r.scheduler == s.scheduler
        for field in ("status", "first_token_s", "finish_s", "preemptions", "hit_tokens", "itl_s"):
            assert np.array_equal(getattr(r, field), getattr(s, field), equal_nan=True), field


def test_cli_serve_simulate_on_ray_prints_the_serial_rows(
    ray_session: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.exponential(0.1, 200))
    lines = ["arrival_s,prompt_tokens,output_tokens,tenant"]
    lines += [f"{t[i]:.4f},{rng.integers(50, 3000)},{rng.integers(1, 300)},{'ab'[i % 2]}" for i in range(200)]
    trace = tmp_path / "t.csv"
    trace.write_text("\n".join(lines) + "\n")
    argv = ["serve", "simulate", "--trace", str(trace), "--scheduler", "fcfs,priced", "--rate-scale", "1,2"]
    results = {}
    for backend in ("serial", "ray"):
        out = tmp_path / f"{backend}.json"
        assert main([*argv, "--backend", backend, "--json", str(out)]) == 0
        results[backend] = [_simulated(r) for r in json.loads(out.read_text())["runs"]]
    assert len(results["serial"]) == 4
    assert results["ray"] == results["serial"]
    assert "simulating on ray" in capsys.readouterr().err
