"""Token-aware evaluation: failure-mode detectors and reports (SPEC.md §4–5). May import the layers.

The public names load on first use (PEP 562): importing the package, or one module of it, imports
nothing else; ``from tokenomy.audit import run_audit`` imports the module that defines ``run_audit``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokenomy.core.lazy import lazy_exports

if TYPE_CHECKING:
    from tokenomy.audit.detectors import MODES, REGISTRY, AuditContext, Detector, Finding, detect_all
    from tokenomy.audit.engine import AuditResult, run_audit
    from tokenomy.audit.html import Report
    from tokenomy.audit.log import AuditLog, StepBuilder
    from tokenomy.audit.pricing import (
        ChainedPriceTable,
        GenaiPricesTable,
        Pricing,
        StaticPriceTable,
        price_steps,
    )

__all__ = [
    "MODES",
    "REGISTRY",
    "AuditContext",
    "AuditLog",
    "AuditResult",
    "ChainedPriceTable",
    "Detector",
    "Finding",
    "GenaiPricesTable",
    "Pricing",
    "Report",
    "StaticPriceTable",
    "StepBuilder",
    "detect_all",
    "price_steps",
    "run_audit",
]

_HOME = {  # public name -> the module that defines it, imported on first use
    "AuditContext": "tokenomy.audit.detectors",
    "Detector": "tokenomy.audit.detectors",
    "Finding": "tokenomy.audit.detectors",
    "MODES": "tokenomy.audit.detectors",
    "REGISTRY": "tokenomy.audit.detectors",
    "detect_all": "tokenomy.audit.detectors",
    "AuditResult": "tokenomy.audit.engine",
    "run_audit": "tokenomy.audit.engine",
    "Report": "tokenomy.audit.html",
    "AuditLog": "tokenomy.audit.log",
    "StepBuilder": "tokenomy.audit.log",
    "ChainedPriceTable": "tokenomy.audit.pricing",
    "GenaiPricesTable": "tokenomy.audit.pricing",
    "Pricing": "tokenomy.audit.pricing",
    "StaticPriceTable": "tokenomy.audit.pricing",
    "price_steps": "tokenomy.audit.pricing",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOME)
