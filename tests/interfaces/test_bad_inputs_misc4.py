"""Bad input, fourth round: a tampered saved router, the rl token budget, economy report gaps."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "routing"))

from routing_data import synthetic

from tokenomy.core.errors import ValidationError
from tokenomy.routing.prices import PriceTable
from tokenomy.routing.router import Router


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = synthetic()
    prices = PriceTable({m: (1.0 + i, 2.0 + i) for i, m in enumerate(data.models)}, source="test")
    router = Router(n_features=2**10, estimator="prior", prices=prices).fit(data.split("train"))
    return router.save(tmp_path_factory.mktemp("router") / "r")


def _price(state: dict[str, Any], value: Any) -> None:
    state["prices"]["state"]["usd_per_mtok"]["__dict__"][0][1]["__tuple__"][0] = value


def _set(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(state: dict[str, Any]) -> None:
        state[field] = value

    return edit


def _price_edit(value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda state: _price(state, value)


@pytest.mark.parametrize(
    ("edit", "field", "expected"),
    [
        (_set("models_", 5), "object.models_", "tuple of model names"),
        (_set("models_", {"__tuple__": []}), "object.models_", "tuple of model names"),
        (_price_edit(-10.0), "object.prices.usd_per_mtok", "≥ 0"),
        (_price_edit("x"), "object.prices.usd_per_mtok", "tuple[float, float]"),
        (_set("queue_s", "abc"), "object.queue_s", "Mapping[str, float]"),
        (_set("queue_s", {"__dict__": [["m", -1.0]]}), "object.queue_s", "queue delay in seconds ≥ 0"),
        (_set("seed", -1), "object.seed", "whole number ≥ 0"),
        (_set("seed", "0"), "object.seed", "int"),
        (_set("folds", 1), "object.folds", "whole number ≥ 2"),
        (_set("policy", 1e308), "object.policy", "TokenomyPolicy | None"),
        (_set("unseen_fallback", "no"), "object.unseen_fallback", "bool"),
        (_set("consequence", {"__dict__": [["c", -2.0]]}), "object.consequence", "harm units ≥ 0"),
        (
            _set("throughput", {"__dict__": [["m", {"__tuple__": [0.1, 0.0, 50.0]}]]}),
            "object.throughput",
            "> 0",
        ),
    ],
)
def test_a_tampered_router_field_is_refused_naming_router_json_the_field_and_the_form(
    saved: Path, tmp_path: Path, edit: Callable[[dict[str, Any]], None], field: str, expected: str
) -> None:
    folder = tmp_path / "rx"
    shutil.copytree(saved, folder)
    body = json.loads((folder / "router.json").read_text(encoding="utf-8"))
    edit(body["object"]["state"])
    (folder / "router.json").write_text(json.dumps(body), encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        Router.load(folder)
    msg = str(err.value)
    assert "router.json" in msg and f"'{field}" in msg and expected in msg, msg
    assert "\n" not in msg


def test_an_untouched_saved_router_still_loads(saved: Path) -> None:
    assert Router.load(saved).models_ == synthetic().models


@pytest.mark.parametrize("k", [(10, 25, 50), 20])
def test_a_neighbour_count_or_a_grid_of_them_passes_the_load_check(k: Any) -> None:
    from tokenomy.routing.estimators import ESTIMATORS
    from tokenomy.routing.persist import _check_field

    _check_field(ESTIMATORS["knn-embed"], "k", k, "object.k")


@pytest.mark.parametrize("k", [(0, 3), (), -2, "3"])
def test_a_bad_neighbour_count_is_refused_at_load(k: Any) -> None:
    from tokenomy.routing.estimators import ESTIMATORS
    from tokenomy.routing.persist import _check_field

    with pytest.raises(ValidationError, match=r"field 'object\.k'"):
        _check_field(ESTIMATORS["knn-embed"], "k", k, "object.k")
