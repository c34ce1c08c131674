"""Routing policies behind one interface (``Policy.fit`` / ``Policy.decide``) and their registry.

Importing this package registers every policy in ``POLICIES``: tokenomy (Eq. 4 with a validated
fall-back), random, best-fixed, always-cheapest, always-strongest, threshold (RouteLLM-style),
predictive (RouterBench-style), cascade (FrugalGPT-style), cost-min (prediction 2) and oracle.
"""

from tokenomy.routing.policies.base import POLICIES, V_GRID, Policy, Problem, Routes, make_policy
from tokenomy.routing.policies.best_fixed import BestFixed
from tokenomy.routing.policies.cascade import Cascade
from tokenomy.routing.policies.cheapest import AlwaysCheapest
from tokenomy.routing.policies.cost_min import CostMinimiser
from tokenomy.routing.policies.oracle import Oracle
from tokenomy.routing.policies.predictive import PredictiveRouter
from tokenomy.routing.policies.random_policy import RandomPolicy
from tokenomy.routing.policies.strongest import AlwaysStrongest
from tokenomy.routing.policies.threshold import ThresholdRouter
from tokenomy.routing.policies.tokenomy_policy import TokenomyPolicy

__all__ = [
    "POLICIES",
    "V_GRID",
    "AlwaysCheapest",
    "AlwaysStrongest",
    "BestFixed",
    "Cascade",
    "CostMinimiser",
    "Oracle",
    "Policy",
    "PredictiveRouter",
    "Problem",
    "RandomPolicy",
    "Routes",
    "ThresholdRouter",
    "TokenomyPolicy",
    "make_policy",
]
