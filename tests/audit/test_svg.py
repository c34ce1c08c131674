"""The dependency-free SVG charts: a Pareto front drawn over a scatter, one polyline in the series' order."""

from __future__ import annotations

import re

from tokenomy.audit.svg import Series, scatter_chart


def test_front_joins_only_the_first_series_in_its_order_and_plain_scatter_draws_no_line() -> None:
    front = Series("front", [1.0, 2.0, 3.0], [0.5, 0.8, 0.9])
    others = Series("policies", [1.5, 2.5], [0.3, 0.6])
    with_front = scatter_chart([front, others], front=True)
    lines = re.findall(r'<polyline[^>]*class="front"[^>]*points="([^"]+)"', with_front) or re.findall(
        r'<polyline[^>]*points="([^"]+)"[^>]*class="front"', with_front
    )
    assert len(lines) == 1
    xs = [float(p.split(",")[0]) for p in lines[0].split()]
    assert len(xs) == 3 and xs == sorted(xs)  # the front's three points, left to right
    assert 'class="front"' not in scatter_chart([front, others])
    assert "<polyline" not in scatter_chart([front, others])
