"""The quality claim on the RouterBench slice (real data): fitted on train, scored on test.

tokenomy recovers ≥ 20% of the best-fixed → oracle gap at V = 0.003, 0.01, 0.03 and is never below
the best fixed model at any V of the grid; the twin flag only ever fires on Winogrande.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tokenomy.interfaces.loaders.routing import load_price_table, load_routerbench
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.evaluation import evaluate
from tokenomy.routing.router import Router

V_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 1.0)


_CACHE: dict[Path, RoutingDataset] = {}


@pytest.fixture
def slice_(need_data: Callable[..., Path]) -> RoutingDataset:
    path = need_data("routing", "routerbench_slice")
    if path not in _CACHE:
        _CACHE[path] = load_routerbench(path)
    return _CACHE[path]


def test_tokenomy_clears_the_gap_target_and_never_loses_to_the_best_fixed_model(
    slice_: RoutingDataset,
) -> None:
    router = Router(prices=load_price_table()).fit(slice_.split("train"))
    res = evaluate(
        router, slice_.split("test"), v_grid=V_GRID, policies=("tokenomy", "best-fixed"), n_boot=20
    )
    rows = {(r["V"], r["policy"]): r for r in res.rows}
    for v in (0.003, 0.01, 0.03):
        assert rows[(v, "tokenomy")]["gap_recovered"] >= 0.20, v
    for v in V_GRID:
        assert rows[(v, "tokenomy")]["welfare_per_query"] >= rows[(v, "best-fixed")]["welfare_per_query"]


def test_only_winogrande_prompts_share_answer_options_across_the_split(slice_: RoutingDataset) -> None:
    from tokenomy.routing.features import option_signature

    tr, te = slice_.split("train"), slice_.split("test")
    seen = {option_signature(p) for p in tr.prompts} - {0}
    hits = np.array([option_signature(p) in seen for p in te.prompts])
    by_cat = {c: int(hits[te.categories == c].sum()) for c in np.unique(te.categories)}
    assert by_cat["arc-challenge"] == 0 and by_cat["mbpp"] == 0
    assert by_cat["winogrande"] == 95  # test prompts whose Winogrande twin is in train
