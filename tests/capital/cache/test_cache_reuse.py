"""Depreciation measurement: demand rows by hand, life-table exposure by brute force, δ recovered."""

from __future__ import annotations

import numpy as np
import pytest

from tokenomy.capital.cache.reuse import (
    AGE_EDGES_S,
    block_class,
    by_group,
    fit_depreciation,
    life_table,
    reuse_events,
)
from tokenomy.core.errors import ValidationError


def _h(*xs: int) -> np.ndarray:
    return np.array(xs, np.int64)


def test_reuse_events_give_depth_count_gap_and_censoring() -> None:
    ev = reuse_events(np.array([0.0, 5.0, 7.0]), [_h(1, 2), _h(1, 3), _h(1, 2)], end_s=10.0)
    rows = {(int(b), float(t)): (int(d), int(c), float(g), float(left)) for b, t, d, c, g, left in zip(
        ev.block, ev.time_s, ev.depth, ev.count, ev.gap_s, ev.left_s, strict=True)}  # fmt: skip
    assert rows[(1, 0.0)] == (0, 1, 5.0, 10.0)
    assert rows[(1, 5.0)] == (0, 2, 2.0, 5.0)
    assert rows[(1, 7.0)] == (0, 3, np.inf, 3.0)
    assert rows[(2, 0.0)] == (1, 1, 7.0, 10.0)
    assert rows[(3, 5.0)] == (1, 1, np.inf, 5.0)


def test_reuse_events_reject_unsorted_or_mismatched_input() -> None:
    with pytest.raises(ValidationError, match="sorted"):
        reuse_events(np.array([1.0, 0.0]), [_h(1), _h(1)])
    with pytest.raises(ValidationError, match="rows"):
        reuse_events(np.array([0.0]), [_h(1), _h(1)])


def test_life_table_exposure_matches_a_brute_force_sum() -> None:
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(0, 500, 300))
    hs = [rng.integers(0, 40, rng.integers(1, 4)) for _ in t]
    hs = [np.unique(h) for h in hs]
    ev = reuse_events(t, hs, end_s=600.0)
    lt = life_table(ev)
    edges = AGE_EDGES_S
    brute = np.zeros(len(edges) - 1)
    events = np.zeros(len(edges) - 1)
    for g, left in zip(ev.gap_s, ev.left_s, strict=True):
        stop = min(g, left)
        for j in range(len(edges) - 1):
            brute[j] += max(0.0, min(stop, edges[j + 1]) - edges[j])
            events[j] += g <= left and edges[j] <= g < edges[j + 1]
    assert np.allclose(lt.exposure_s.sum(axis=0), brute)
    assert np.array_equal(lt.events.sum(axis=0), events)


def test_fit_recovers_the_depreciation_rate_of_an_exponential_hazard() -> None:
    rng = np.random.default_rng(0)
    alpha, delta = np.log(0.05), 0.01
    times: list[float] = []
    blocks: list[int] = []
    for b in range(3000):  # each block: demanded at a start time, then reuses with hazard e^(α − δa)
        t = float(rng.uniform(0, 1000))
        while t < 20000:
            times.append(t)
            blocks.append(b)
            e = rng.exponential()
            cap = np.exp(alpha) / delta  # total hazard mass: beyond it, never reused
            if e >= cap:
                break
            t += -np.log(1 - e * delta / np.exp(alpha)) / delta
    o = np.argsort(times, kind="stable")
    arr = np.array(times)[o]
    hs = [_h(blocks[i]) for i in o]
    ev = reuse_events(arr, hs, end_s=20000.0)
    # the count class changes α only through selection; pool the classes to read δ and α
    fit = fit_depreciation(life_table(ev, np.zeros(len(ev), np.int64), 1), len(ev))
    assert fit.delta_per_s == pytest.approx(delta, rel=0.15)
    assert fit.alpha[0] == pytest.approx(alpha, abs=0.15)
    assert fit.half_life_s() == pytest.approx(np.log(2) / fit.delta_per_s)


def test_fit_refuses_a_stream_without_reuse() -> None:
    ev = reuse_events(np.array([0.0, 1.0]), [_h(1), _h(2)])
    with pytest.raises(ValidationError, match="demanded twice"):
        fit_depreciation(life_table(ev))


def test_block_class_bins_depth_and_count() -> None:
    assert block_class(0, 1) == 0
    assert block_class(0, 100) == 4
    assert block_class(100, 1) == 25
    assert block_class(3, 2) == block_class(2, 2) != block_class(4, 2)
    ev = reuse_events(np.array([0.0, 1.0, 2.0]), [_h(1, 2), _h(1, 2), _h(1)])
    assert ev.klass.tolist() == [block_class(int(d), int(c)) for d, c in zip(ev.depth, ev.count, strict=True)]


def test_by_group_gives_none_for_a_group_without_reuse() -> None:
    ev = reuse_events(np.array([0.0, 1.0, 2.0]), [_h(1), _h(1), _h(2)])
    fits = by_group(ev, (ev.block == 2).astype(np.int64), 2)
    assert fits[0] is not None and fits[1] is None
