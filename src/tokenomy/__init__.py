"""tokenomy: allocate every marginal token by one rule.

Spend where ``V·ΔQ − ΔC − λ·ΔL − ρ·ΔR − ρ_irr·ΔR_irr`` is largest, and on nothing when every
surplus is ≤ 0 (SPEC.md §1, Eq. 1). The public surface re-exports the core vocabulary: token uses,
prices and the bus that shares them, the rule and its realised-utility terms. The ``ledger`` and the
layers (``routing``, ``autonomy``, ``serving``, ``capital``, ``audit``, ``economy``) are attributes
that import on first access (``tokenomy.routing.Router``), and so do the core names: ``import tokenomy``
loads nothing until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokenomy import audit as audit
    from tokenomy import autonomy as autonomy
    from tokenomy import capital as capital
    from tokenomy import economy as economy
    from tokenomy import ledger as ledger
    from tokenomy import routing as routing
    from tokenomy import serving as serving
    from tokenomy.core import (
        Choice,
        PriceBus,
        PriceController,
        PriceSource,
        PriceVector,
        ResourcePrice,
        TokenomyError,
        TokenUse,
        UtilityTerms,
        ValidationError,
        allocate,
        choose,
        choose_many,
        crossover_value,
        realised_utility,
        surplus,
        surplus_matrix,
        utility_terms,
    )

__version__ = "0.1.0"

__all__ = [
    "Choice",
    "PriceBus",
    "PriceController",
    "PriceSource",
    "PriceVector",
    "ResourcePrice",
    "TokenUse",
    "TokenomyError",
    "UtilityTerms",
    "ValidationError",
    "__version__",
    "allocate",
    "choose",
    "choose_many",
    "crossover_value",
    "realised_utility",
    "surplus",
    "surplus_matrix",
    "utility_terms",
]

_PACKAGES = ("audit", "autonomy", "capital", "economy", "ledger", "routing", "serving")


def __getattr__(name: str) -> Any:
    """The core names and the layer packages, imported on first access (PEP 562), so ``import tokenomy``
    itself costs nothing (a command line can answer Ctrl-C from its first moment)."""
    if name in _PACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in __all__ and name != "__version__":
        value = getattr(importlib.import_module(f"{__name__}.core"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's attributes, the layer packages not yet imported included."""
    return sorted({*globals(), *_PACKAGES})
