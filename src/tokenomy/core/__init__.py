"""The core of tokenomy: prices, token uses, the allocation rule, solvers, risk and price control.

numpy/scipy only; no I/O; imports nothing else from tokenomy (checked by tests/test_imports.py).
"""

from tokenomy.core.bus import PriceBus, Quote, Subscription, overlay
from tokenomy.core.control import PriceController, PriceUpdate
from tokenomy.core.curves import Curve, CustomCurve, LogCurve, PowerCurve, SatExpCurve
from tokenomy.core.errors import (
    InfeasibleError,
    LedgerError,
    SchemaError,
    TokenomyError,
    ValidationError,
)
from tokenomy.core.prices import (
    DECODE_TOKEN,
    GPU_SECOND,
    KV_BLOCK_SECOND,
    PREFILL_TOKEN,
    PriceSource,
    PriceVector,
    ResourcePrice,
)
from tokenomy.core.risk import (
    CVaR,
    Expectation,
    RiskMeasure,
    WorstCase,
    cvar,
    expectation,
    priced_use,
    worst_case,
)
from tokenomy.core.rule import (
    NULL,
    Choice,
    UtilityTerms,
    choose,
    choose_many,
    crossover_value,
    realised_utility,
    risk_cost,
    surplus,
    surplus_matrix,
    utility_terms,
)
from tokenomy.core.solvers import Allocation, KKTResiduals, allocate, cobb_douglas_allocation
from tokenomy.core.uses import TokenUse

__all__ = [
    "DECODE_TOKEN",
    "GPU_SECOND",
    "KV_BLOCK_SECOND",
    "NULL",
    "PREFILL_TOKEN",
    "Allocation",
    "CVaR",
    "Choice",
    "Curve",
    "CustomCurve",
    "Expectation",
    "InfeasibleError",
    "KKTResiduals",
    "LedgerError",
    "LogCurve",
    "PowerCurve",
    "PriceBus",
    "PriceController",
    "PriceSource",
    "PriceUpdate",
    "PriceVector",
    "Quote",
    "ResourcePrice",
    "RiskMeasure",
    "SatExpCurve",
    "SchemaError",
    "Subscription",
    "TokenUse",
    "TokenomyError",
    "UtilityTerms",
    "ValidationError",
    "WorstCase",
    "allocate",
    "choose",
    "choose_many",
    "cobb_douglas_allocation",
    "crossover_value",
    "cvar",
    "expectation",
    "overlay",
    "priced_use",
    "realised_utility",
    "risk_cost",
    "surplus",
    "surplus_matrix",
    "utility_terms",
    "worst_case",
]
