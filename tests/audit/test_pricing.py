"""Vectorised pricing against genai-prices' own per-call calculation: cache, tiers, dates; unknown models."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from genai_prices import Usage, calc_price

from tokenomy.audit.log import StepBuilder
from tokenomy.audit.pricing import ChainedPriceTable, GenaiPricesTable, StaticPriceTable, price_steps

UTC = dt.UTC
CALLS = [  # model, provider, date, input, output, cache read, cache write
    ("claude-sonnet-4-6", "anthropic", dt.datetime(2026, 1, 10, tzinfo=UTC), 300_000, 1_000, 100_000, 50_000),
    ("claude-sonnet-4-6", "anthropic", dt.datetime(2026, 6, 1, tzinfo=UTC), 300_000, 1_000, 100_000, 50_000),
    ("claude-sonnet-4-6", "anthropic", dt.datetime(2026, 1, 10, tzinfo=UTC), 20_000, 500, 15_000, 0),
    ("gemini-3-pro-preview", "google", dt.datetime(2025, 11, 18, tzinfo=UTC), 250_000, 4_000, 200_000, 0),
    ("gemini-3-pro-preview", "google", dt.datetime(2025, 11, 18, tzinfo=UTC), 12_000, 800, 9_000, 0),
    ("gpt-4o", "openai", dt.datetime(2025, 3, 1, tzinfo=UTC), 5_000, 700, 2_048, 0),
    ("gpt-4o-mini", "openai", dt.datetime(2025, 3, 1, tzinfo=UTC), 5_000, 700, 0, 0),
]


def steps_of(calls: list[tuple[str, str, dt.datetime, int, int, int, int]]):  # type: ignore[no-untyped-def]
    b = StepBuilder()
    for k, (model, provider, when, i, o, cr, cw) in enumerate(calls):
        b.add(
            request_id=f"r{k}",
            step_id=f"r{k}:0",
            time_s=when.timestamp(),
            model=model,
            provider=provider,
            input_tokens=i,
            output_tokens=o,
            cache_read_tokens=cr,
            cache_write_tokens=cw,
        )
    return b.build()


def test_vectorised_cost_equals_genai_prices_per_call() -> None:
    pricing = price_steps(steps_of(CALLS), GenaiPricesTable())
    expected = [
        float(
            calc_price(
                Usage(input_tokens=i, output_tokens=o, cache_read_tokens=cr, cache_write_tokens=cw),
                model,
                provider_id=provider,
                genai_request_timestamp=when,
            ).total_price
        )
        for model, provider, when, i, o, cr, cw in CALLS
    ]
    np.testing.assert_allclose(pricing.cost_usd, expected, rtol=1e-9)
    assert pricing.unknown_models == {}
    # the same call is dearer before claude-sonnet-4-6's 2026-03-13 price change (its long-context tier)
    assert pricing.cost_usd[0] > pricing.cost_usd[1]
    assert len([k for k in pricing.cards if k.startswith("claude-sonnet-4-6@anthropic")]) == 2


def test_unknown_model_is_unpriced_unless_the_user_says_zero() -> None:
    calls = [("no-such-model", "acme", dt.datetime(2025, 1, 1, tzinfo=UTC), 1000, 10, 0, 0)]
    steps = steps_of(calls)
    unpriced = price_steps(steps, GenaiPricesTable())
    assert unpriced.unknown_models == {"no-such-model": 1} and np.isnan(unpriced.cost_usd[0])
    zero = price_steps(steps, GenaiPricesTable(), unknown_zero=True)
    assert zero.cost_usd[0] == 0.0 and zero.unknown_models == {"no-such-model": 1}
    over = StaticPriceTable.from_override(
        {"models": {"no-such-model": {"input_usd_per_mtok": 2.0, "output_usd_per_mtok": 8.0}}}
    )
    priced = price_steps(steps, ChainedPriceTable([over, GenaiPricesTable()]))
    assert priced.unknown_models == {} and priced.cost_usd[0] == pytest.approx((1000 * 2 + 10 * 8) / 1e6)
