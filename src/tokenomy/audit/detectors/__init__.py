"""The failure-mode detectors (SPEC.md §4), one per file; importing this package fills ``REGISTRY``.

``MODES`` gives the report order: the paper's Table 2, then the extra ``waste`` detector.
"""

from tokenomy.audit.detectors import (  # noqa: F401  (registration side effect)
    cache_misuse,
    over_delegation,
    over_routing,
    serving_congestion,
    stale_rollouts,
    under_routing,
    under_verification,
    waste,
)
from tokenomy.audit.detectors.base import MODES, REGISTRY, AuditContext, Detector, Finding, detect_all

__all__ = ["MODES", "REGISTRY", "AuditContext", "Detector", "Finding", "detect_all"]
