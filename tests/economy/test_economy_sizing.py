"""Cluster sizing on train: the sized cluster offers exactly the target utilisation at load 1."""

from __future__ import annotations

import pytest
from test_economy_system import _workload, _world

from tokenomy.core.errors import ValidationError
from tokenomy.economy.sizing import offered_utilisation, size_cluster
from tokenomy.serving.steptime import BLIS_LLAMA31_8B_H100_TP1


def test_sized_cluster_offers_the_target_at_load_1_and_more_at_higher_load() -> None:
    split, _ = _world()
    train = _workload(80, seed=5)
    sz = size_cluster(train, split, BLIS_LLAMA31_8B_H100_TP1, target_utilisation=0.6)
    w, t = offered_utilisation(train, split, sz.step_model)
    assert w / t == pytest.approx(0.6, rel=1e-12)
    assert sz.slowdown == pytest.approx(0.6 / sz.base_utilisation, rel=1e-12)
    assert sz.step_model.beta1_s_per_prefill_token == pytest.approx(
        BLIS_LLAMA31_8B_H100_TP1.beta1_s_per_prefill_token * sz.slowdown
    )
    w2, t2 = offered_utilisation(train.scaled(2.0), split, sz.step_model)
    assert w2 == pytest.approx(w) and w2 / t2 >= w / t
    assert "0.6" in sz.note() and "TRAIN" in sz.note()


def test_sizing_refuses_a_target_outside_its_range() -> None:
    split, _ = _world()
    with pytest.raises(ValidationError, match="--utilisation"):
        size_cluster(_workload(40), split, BLIS_LLAMA31_8B_H100_TP1, target_utilisation=0.0)
