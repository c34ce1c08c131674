"""A fitted router saved as JSON + npz loads back and routes exactly as before."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tokenomy.core import PriceVector
from tokenomy.core.errors import ValidationError
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.decision import RouteRequest
from tokenomy.routing.evaluation import evaluate
from tokenomy.routing.router import Router

PRICES = PriceVector(lam_usd_per_s=0.001, rho_usd=0.01)


def _same_decisions(a: Router, b: Router, te: RoutingDataset) -> None:
    for v in (0.0005, 0.01, 1.0):
        ra, rb = (
            a.route_many(te.prompts, PRICES, v, te.categories.tolist()),
            b.route_many(te.prompts, PRICES, v, te.categories.tolist()),
        )
        assert np.array_equal(ra.chosen, rb.chosen) and np.array_equal(ra.mode, rb.mode)
        assert np.allclose(ra.surplus_usd, rb.surplus_usd, rtol=0, atol=0)


def test_a_saved_router_loads_and_decides_the_same(
    tiny: RoutingDataset, fitted: Router, tmp_path: Path
) -> None:
    folder = fitted.save(tmp_path / "r")
    assert {p.name for p in folder.iterdir()} == {"router.json", "arrays.npz"}
    back = Router.load(folder)
    te = tiny.split("test")
    _same_decisions(fitted, back, te)
    req = RouteRequest(te.prompts[0], te.categories[0], 0.01, "x")
    assert back.route(req, PRICES) == fitted.route(req, PRICES)
    rows = evaluate(back, te, v_grid=[0.01], n_boot=10).rows
    assert rows == evaluate(fitted, te, v_grid=[0.01], n_boot=10).rows


def test_loading_a_missing_or_newer_or_foreign_file_says_what_is_wrong(
    fitted: Router, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match=r"no router\.json"):
        Router.load(tmp_path / "nowhere")
    folder = fitted.save(tmp_path / "r")
    body = json.loads((folder / "router.json").read_text())
    (folder / "router.json").write_text(json.dumps({**body, "version": 99}))
    with pytest.raises(ValidationError, match="version 99"):
        Router.load(folder)
    (folder / "router.json").write_text(
        json.dumps({**body, "object": {"__object__": "os:system", "state": {}}})
    )
    with pytest.raises(ValidationError, match="only tokenomy"):
        Router.load(folder)
    with pytest.raises(ValidationError, match="not fitted"):
        Router().save(tmp_path / "unfitted")


def test_a_router_saved_on_routerbench_decides_the_same(
    need_data: Callable[..., Path], tmp_path: Path
) -> None:
    from tokenomy.interfaces.loaders.routing import load_routerbench

    ds = load_routerbench(need_data("routing", "routerbench_slice"))
    router = Router().fit(ds.split("train"))
    _same_decisions(router, Router.load(router.save(tmp_path / "rb")), ds.split("test"))
