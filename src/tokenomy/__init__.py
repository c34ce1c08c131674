"""tokenomy: allocate every marginal token by one rule.

Spend where ``V·ΔQ − ΔC − λ·ΔL − ρ·ΔR − ρ_irr·ΔR_irr`` is largest, and on nothing when every
surplus is ≤ 0 (SPEC.md §1, Eq. 1). The public surface re-exports the core vocabulary; the layers
(``routing``, ``autonomy``, ``serving``, ``capital``) and the ``ledger`` are imported by name.
"""

from tokenomy.core import (
    Choice,
    PriceSource,
    PriceVector,
    TokenomyError,
    TokenUse,
    choose,
    choose_many,
    surplus,
    surplus_matrix,
)

__version__ = "0.1.0"

__all__ = [
    "Choice",
    "PriceSource",
    "PriceVector",
    "TokenUse",
    "TokenomyError",
    "__version__",
    "choose",
    "choose_many",
    "surplus",
    "surplus_matrix",
]
