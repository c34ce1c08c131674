"""Undefined figures in HTML reports and terminal tables: shown as a dash with a legend, never 'nan'."""

from __future__ import annotations

import math

import pytest

from tokenomy.audit.html import Report, format_value
from tokenomy.audit.report_serve import headline
from tokenomy.interfaces.table import format_table


@pytest.mark.parametrize(
    ("value", "shown"),
    [(math.nan, "–"), (math.inf, "∞"), (-math.inf, "−∞"), (None, "–"), (0.5, "0.5"), (2, "2")],
)
def test_format_value_never_prints_nan(value: object, shown: str) -> None:
    assert format_value(value) == shown


def test_a_table_with_an_undefined_cell_says_what_the_dash_means() -> None:
    rep = Report("t")
    rep.table([{"a": 1.0, "b": math.nan}, {"a": 2.0, "b": 0.25}], caption="runs")
    html = rep.render()
    assert ">nan<" not in html and "–" in html
    assert "– = undefined" in html
    clean = Report("t")
    clean.table([{"a": 1.0}], caption="runs")
    assert "undefined" not in clean.render()


def test_metric_cards_show_a_dash_for_nan() -> None:
    rep = Report("t")
    rep.metrics({"x": math.nan})
    assert ">nan<" not in rep.render()


def _row(scheduler: str, welfare: float) -> dict[str, object]:
    return {"requests": 10, "sim_requests_per_wall_s": 1e4, "welfare": welfare, "scheduler": scheduler}


def test_headline_reports_a_welfare_tie_as_a_tie() -> None:
    assert headline([_row("fcfs", 0.0), _row("sjf", 0.0)])["best_welfare_scheduler"] == "tie: fcfs, sjf"
    assert headline([_row("fcfs", 0.0), _row("sjf", 1.0)])["best_welfare_scheduler"] == "sjf"
    # the same scheduler best on two traces is not a tie
    assert (
        headline([_row("sjf", 1.0), _row("sjf", 1.0), _row("fcfs", 0.5)])["best_welfare_scheduler"] == "sjf"
    )


def test_terminal_table_right_aligns_numbers_beside_a_dash() -> None:
    text = format_table([{"name": "a", "x": 1.5}, {"name": "b", "x": None}, {"name": "c", "x": 10.25}])
    lines = text.splitlines()
    xs = [line.split("  ", 1)[1] for line in lines[2:]]
    assert len({len(x) for x in xs}) == 1  # one width
    assert xs[0].endswith("1.5000") and xs[2].endswith("10.2500") and xs[1].endswith("-")
