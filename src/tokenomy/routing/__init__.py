"""Demand layer: routing as screening (SPEC.md §3, Eq. 4). Imports only core and ledger records.

The public names load on first use (PEP 562): importing the package, or one module of it, imports
nothing else; ``from tokenomy.routing import Router`` imports the module that defines ``Router``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokenomy.core.lazy import lazy_exports

if TYPE_CHECKING:
    from tokenomy.routing.dataset import RoutingDataset
    from tokenomy.routing.decision import RouteBatch, RouteDecision, RouteRequest
    from tokenomy.routing.estimators import ESTIMATORS, QualityEstimator
    from tokenomy.routing.evaluation import EvalResult, anchor_rows, evaluate
    from tokenomy.routing.features import TextFeaturizer
    from tokenomy.routing.ledger_io import write_routes
    from tokenomy.routing.menu import Menu, MenuOption, design_menu, verify_menu
    from tokenomy.routing.menu_eval import MenuReport, evaluate_menu, evaluate_requests
    from tokenomy.routing.menu_types import Tier, ValueTypes, synthetic_values
    from tokenomy.routing.metrics import aiq, apgr, cpt
    from tokenomy.routing.policies import POLICIES, Policy, make_policy
    from tokenomy.routing.prices import PriceTable
    from tokenomy.routing.router import Estimates, Router

__all__ = [
    "ESTIMATORS",
    "POLICIES",
    "Estimates",
    "EvalResult",
    "Menu",
    "MenuOption",
    "MenuReport",
    "Policy",
    "PriceTable",
    "QualityEstimator",
    "RouteBatch",
    "RouteDecision",
    "RouteRequest",
    "Router",
    "RoutingDataset",
    "TextFeaturizer",
    "Tier",
    "ValueTypes",
    "aiq",
    "anchor_rows",
    "apgr",
    "cpt",
    "design_menu",
    "evaluate",
    "evaluate_menu",
    "evaluate_requests",
    "make_policy",
    "synthetic_values",
    "verify_menu",
    "write_routes",
]

_HOME = {  # public name -> the module that defines it, imported on first use
    "RoutingDataset": "tokenomy.routing.dataset",
    "RouteBatch": "tokenomy.routing.decision",
    "RouteDecision": "tokenomy.routing.decision",
    "RouteRequest": "tokenomy.routing.decision",
    "ESTIMATORS": "tokenomy.routing.estimators",
    "QualityEstimator": "tokenomy.routing.estimators",
    "EvalResult": "tokenomy.routing.evaluation",
    "anchor_rows": "tokenomy.routing.evaluation",
    "evaluate": "tokenomy.routing.evaluation",
    "TextFeaturizer": "tokenomy.routing.features",
    "write_routes": "tokenomy.routing.ledger_io",
    "Menu": "tokenomy.routing.menu",
    "MenuOption": "tokenomy.routing.menu",
    "design_menu": "tokenomy.routing.menu",
    "verify_menu": "tokenomy.routing.menu",
    "MenuReport": "tokenomy.routing.menu_eval",
    "evaluate_menu": "tokenomy.routing.menu_eval",
    "evaluate_requests": "tokenomy.routing.menu_eval",
    "Tier": "tokenomy.routing.menu_types",
    "ValueTypes": "tokenomy.routing.menu_types",
    "synthetic_values": "tokenomy.routing.menu_types",
    "aiq": "tokenomy.routing.metrics",
    "apgr": "tokenomy.routing.metrics",
    "cpt": "tokenomy.routing.metrics",
    "POLICIES": "tokenomy.routing.policies",
    "Policy": "tokenomy.routing.policies",
    "make_policy": "tokenomy.routing.policies",
    "PriceTable": "tokenomy.routing.prices",
    "Estimates": "tokenomy.routing.router",
    "Router": "tokenomy.routing.router",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOME)
