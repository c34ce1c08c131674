"""The economy grid with an injected map function: Ray and an identity map give the serial run exactly.

The Ray tests share one small local session per module (``ray.init(num_cpus=1)``). Without Ray they
skip locally and fail under CI=true, where the ``ray`` extra is installed by ``make test``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from test_economy_system import _workload, _world

from tokenomy.economy.configs import parse_configs
from tokenomy.economy.evaluation import utility
from tokenomy.economy.experiment import Experiment, Prepared, run_experiment
from tokenomy.economy.training import SERVING_GRID, Fitted
from tokenomy.interfaces.sweep import parallel_map

LOADS = (1.0, 3.0)
CONFIGS = "local,shared,local-serving"


@pytest.fixture(scope="module")
def prepared() -> Prepared:
    split, engine = _world()
    return Prepared(_workload(60, seed=1), _workload(60, seed=2), Fitted(split, split, 24, 24), engine)


def _run(prep: Prepared, map_fn: Any = None) -> Experiment:
    return run_experiment(prep, parse_configs(CONFIGS), LOADS, seed=0, n_boot=1000, map_fn=map_fn)


def _assert_same(a: Experiment, b: Experiment) -> None:
    """Everything simulated or bootstrapped is equal; only measured wall time may differ."""
    strip = [dataclasses.replace(r, wall_s=0.0) for r in a.results]
    assert strip == [dataclasses.replace(r, wall_s=0.0) for r in b.results]
    assert a.diffs == b.diffs and a.ablations == b.ablations and a.serving == b.serving
    assert a.settings == b.settings and a.outcomes.keys() == b.outcomes.keys()
    for key, x in a.outcomes.items():
        y = b.outcomes[key]
        np.testing.assert_array_equal(utility(x), utility(y))
        np.testing.assert_array_equal(x.model, y.model)
        np.testing.assert_array_equal(x.latency_s, y.latency_s)
        np.testing.assert_array_equal(x.prices.lam_usd_per_s, y.prices.lam_usd_per_s)


def test_identity_map_fn_equals_the_default_loop_and_sees_every_point(prepared: Prepared) -> None:
    calls: list[int] = []

    def listed(fn: Any, items: list[Any]) -> list[Any]:
        calls.append(len(items))
        return [fn(x) for x in items]

    _assert_same(_run(prepared), _run(prepared, listed))
    # one call for the train tuning points, one for the (config, load) runs
    assert calls == [len(LOADS) * len(SERVING_GRID), len(LOADS) * 3]


def test_economy_grid_on_ray_equals_the_serial_run_exactly(ray_session: Any, prepared: Prepared) -> None:
    def on_ray(fn: Any, items: list[Any]) -> list[Any]:
        return parallel_map(fn, items, backend="ray")

    serial = _run(prepared)
    _assert_same(serial, _run(prepared, on_ray))
    assert {d.load for d in serial.diffs} == set(LOADS)
