"""Cache decisions as ledger rows (chosen per action, prices, summary counts) and the cache_misuse
detector reading them: value-blind rows are found with their forgone surplus, value-aware ones are not."""

from __future__ import annotations

import math

import pytest

from tokenomy.audit.engine import run_audit
from tokenomy.audit.importers.ledger import from_records
from tokenomy.audit.pricing import StaticPriceTable
from tokenomy.capital.cache.ledger_io import cache_decisions
from tokenomy.capital.cache.policies import CacheLog
from tokenomy.core.prices import KV_BLOCK_SECOND
from tokenomy.ledger import Decision, Layer

PRICES = StaticPriceTable.from_override(
    {"models": {"m": {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0}}}
)


def _log(rows: list[tuple[float, int, int, float, float, float]]) -> list[Decision]:
    """rows: (time, action, block, reuse rate, value, rent)."""
    log = CacheLog(every=1)
    log.policy, log.entry_blocks = "value", 32
    for t, a, h, r, v, c in rows:
        log.due(a)
        log.add((t, a, h, 0, 1, 1e-6, 1e-5, r, v, c))
    return cache_decisions(log.take(), "run", synthetic=("v_usd",))


def test_rows_carry_action_choice_prices_and_a_summary_of_counts() -> None:
    ds = _log([(1.0, 0, 7, 0.1, 2.0, 1.0), (2.0, 1, 8, 0.1, 0.5, 1.0), (3.0, 2, 9, 0.0, 0.1, math.inf)])
    admit, refuse, evict, summary = ds
    assert [d.decision_point for d in ds] == ["cache-admit", "cache-refuse", "cache-evict", "cache-run"]
    assert all(d.layer == Layer.CAPITAL for d in ds)
    assert admit.chosen == 0 and refuse.chosen == 1 and evict.chosen == 1
    assert admit.prices.resource_usd(KV_BLOCK_SECOND) == 1e-6
    assert [c.dc_usd for c in admit.candidates] == [1.0, 2.0]
    assert evict.metadata["holding_capped"] and evict.candidates[0].dc_usd == 1e9
    assert summary.kind == "run" and summary.metadata["decisions"] == {"admit": 1, "refuse": 1, "evict": 1}


def test_cache_misuse_finds_value_blind_rows_and_spares_value_aware_ones() -> None:
    ds = _log(
        [
            (1.0, 0, 1, 0.1, 2.0, 1.0),  # admit, value > rent: fine
            (2.0, 0, 2, 0.1, 0.5, 1.5),  # admit, rent > value: blind, impact 1.0
            (3.0, 1, 3, 0.1, 3.0, 1.0),  # refuse, value > rent: blind, impact 2.0
            (4.0, 2, 4, 0.1, 5.0, 1.0),  # evict ratio 5 while keeping a ratio-2 block: blind, 5 − 2
            (4.0, 3, 5, 0.1, 2.0, 1.0),
            (5.0, 2, 6, 0.1, 1.0, 1.0),  # evict ratio 1 while keeping ratio 3: fine
            (5.0, 3, 7, 0.1, 3.0, 1.0),
        ]
    )
    res = run_audit(from_records(ds, []), PRICES, decisions=ds, outcomes=[])
    f = {x.mode: x for x in res.findings}["cache_misuse"]
    assert f.applicable
    assert f.count == 3 and f.impact_usd == pytest.approx(1.0 + 2.0 + 3.0)
    assert f.details["value_blind_by_action"] == {"admit": 1, "refuse": 1, "evict": 1}
