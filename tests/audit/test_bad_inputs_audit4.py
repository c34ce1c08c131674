"""Bad inputs of the audit and ledger: huge harm, damaged stored ledgers, OTLP labels, escapes, .csv.gz."""

from __future__ import annotations

import pytest

from tokenomy.core.errors import ValidationError
from tokenomy.ledger.records import MAX_COST_USD, MAX_HARM, MAX_LATENCY_S, MAX_QUALITY, Outcome


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("harm", 1e308),
        ("harm", MAX_HARM * 1.5),
        ("harm_irr", 1e308),
        ("cost_usd", MAX_COST_USD * 2),
        ("latency_s", MAX_LATENCY_S * 2),
        ("quality", 1e308),
        ("quality", -MAX_QUALITY * 2),
    ],
)
def test_outcome_refuses_numbers_beyond_the_bounds(field: str, value: float) -> None:
    kwargs: dict[str, object] = {"request_id": "r1", "quality": 1.0, "cost_usd": 0.0, field: value}
    if field == "harm_irr":
        kwargs["harm"] = MAX_HARM
    with pytest.raises(ValidationError, match=field):
        Outcome(**kwargs)  # type: ignore[arg-type]


def test_outcome_accepts_the_bounds_themselves() -> None:
    o = Outcome("r1", MAX_QUALITY, MAX_COST_USD, MAX_LATENCY_S, MAX_HARM, MAX_HARM)
    assert o.harm == MAX_HARM
