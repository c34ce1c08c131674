"""The core of tokenomy: prices, token uses, the allocation rule, solvers, risk and price control.

numpy/scipy only; no I/O; imports nothing else from tokenomy (checked by tests/test_imports.py).
"""

from tokenomy.core.control import PriceController, PriceUpdate
from tokenomy.core.curves import Curve, CustomCurve, LogCurve, PowerCurve, SatExpCurve
from tokenomy.core.errors import (
    InfeasibleError,
    LedgerError,
    SchemaError,
    TokenomyError,
    ValidationError,
)
from tokenomy.core.prices import PriceSource, PriceVector
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
from tokenomy.core.rule import NULL, Choice, choose, choose_many, crossover_value, surplus, surplus_matrix
from tokenomy.core.solvers import Allocation, KKTResiduals, allocate, cobb_douglas_allocation
from tokenomy.core.uses import TokenUse

__all__ = [
    "NULL",
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
    "PriceController",
    "PriceSource",
    "PriceUpdate",
    "PriceVector",
    "RiskMeasure",
    "SatExpCurve",
    "SchemaError",
    "TokenUse",
    "TokenomyError",
    "ValidationError",
    "WorstCase",
    "allocate",
    "choose",
    "choose_many",
    "cobb_douglas_allocation",
    "crossover_value",
    "cvar",
    "expectation",
    "priced_use",
    "surplus",
    "surplus_matrix",
    "worst_case",
]
