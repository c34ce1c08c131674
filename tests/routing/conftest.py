"""Fixtures for the routing tests: a fitted router on the synthetic dataset (built once per module)."""

from __future__ import annotations

import sys
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
