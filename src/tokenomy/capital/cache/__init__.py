"""The KV prefix cache as an inventory priced by value (SPEC Eq. 10).

``reuse`` measures depreciation from a demand stream (the reuse hazard of a block by age, depth and
past demand; the fitted δ_S), ``value`` is the keep test (expected V-weighted saving of the next
reuse against holding cost at the live KV block-second price), ``policies`` the value-aware and
clairvoyant Belady-style eviction/admission policies that plug into the serving simulator by
shape, ``synthetic`` prefix chains for traces without prefix hashes (labelled synthetic), and
``ledger_io`` the cache decisions as ledger rows. Imports only core and ledger. Names load on first
use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokenomy.core.lazy import lazy_exports

if TYPE_CHECKING:
    from tokenomy.capital.cache.ledger_io import cache_decisions
    from tokenomy.capital.cache.policies import BeladyEviction, CacheDecisions, CacheLog, ValueAwareEviction
    from tokenomy.capital.cache.reuse import DepreciationFit, fit_depreciation, life_table, reuse_events
    from tokenomy.capital.cache.synthetic import SyntheticPrefixes
    from tokenomy.capital.cache.value import HoldingTest, holding_test

__all__ = [
    "BeladyEviction",
    "CacheDecisions",
    "CacheLog",
    "DepreciationFit",
    "HoldingTest",
    "SyntheticPrefixes",
    "ValueAwareEviction",
    "cache_decisions",
    "fit_depreciation",
    "holding_test",
    "life_table",
    "reuse_events",
]

_HOME = {
    "BeladyEviction": "tokenomy.capital.cache.policies",
    "CacheDecisions": "tokenomy.capital.cache.policies",
    "CacheLog": "tokenomy.capital.cache.policies",
    "DepreciationFit": "tokenomy.capital.cache.reuse",
    "HoldingTest": "tokenomy.capital.cache.value",
    "SyntheticPrefixes": "tokenomy.capital.cache.synthetic",
    "ValueAwareEviction": "tokenomy.capital.cache.policies",
    "cache_decisions": "tokenomy.capital.cache.ledger_io",
    "fit_depreciation": "tokenomy.capital.cache.reuse",
    "holding_test": "tokenomy.capital.cache.value",
    "life_table": "tokenomy.capital.cache.reuse",
    "reuse_events": "tokenomy.capital.cache.reuse",
}
__getattr__, __dir__ = lazy_exports(__name__, _HOME)
