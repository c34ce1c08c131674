"""Fixtures for the routing tests: a fitted router on the synthetic dataset (built once per module)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from routing_data import synthetic

from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.router import Router


@pytest.fixture(scope="package")
def tiny() -> RoutingDataset:
    return synthetic()


@pytest.fixture(scope="package")
def fitted(tiny: RoutingDataset) -> Router:
    return Router(n_features=2**12).fit(tiny.split("train"))


@pytest.fixture(autouse=True, scope="package")
def _one_blas_thread() -> Iterator[None]:
    """BLAS threads only slow these small products down (and thrash on a shared 2-core machine)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
