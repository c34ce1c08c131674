"""The strong/weak model pair of RouteLLM-style evaluation, chosen on train.

strong = the most accurate model; weak = the most accurate model costing at most ``cost_ratio`` of the
strong one's mean cost (RouteLLM pairs GPT-4 with Mixtral; on RouterBench this rule picks a cheap
open model an order of magnitude cheaper). Either can be named instead.
"""

from __future__ import annotations

import numpy as np

from tokenomy.core.errors import ValidationError
from tokenomy.routing.policies.base import Problem

__all__ = ["choose_pair"]


def choose_pair(
    train: Problem, strong: str | None = None, weak: str | None = None, cost_ratio: float = 0.1
) -> tuple[int, int]:
    """(strong index, weak index).

    Raises:
        ValidationError: a named model is not in the problem, or the two are the same.
    """
    assert train.quality is not None and train.cost_usd is not None
    acc, cost = train.quality.mean(axis=0), train.cost_usd.mean(axis=0)

    def index(name: str) -> int:
        if name not in train.models:
            raise ValidationError(f"model {name!r} is not in the data; models: {list(train.models)}")
        return train.models.index(name)

    s = index(strong) if strong else int(acc.argmax())
    if weak:
        w = index(weak)
    else:
        ok = np.flatnonzero((cost <= cost_ratio * cost[s]) & (np.arange(acc.size) != s))
        if ok.size == 0:
            ok = np.flatnonzero(np.arange(acc.size) != s)
        w = int(ok[acc[ok].argmax()]) if ok.size else s
    if s == w:
        raise ValidationError("the strong and the weak model must differ (need ≥ 2 models)")
    return s, w
