"""The four layers composed on one price bus, and experiments (SPEC.md §7). May import the layers."""

from tokenomy.economy.configs import CONFIGS, Config, parse_configs
from tokenomy.economy.equilibrium import (
    MARKET_TOPIC,
    Clearing,
    Optimum,
    TenantOutcome,
    clear,
    dual_price,
    social_optimum,
    typical_price,
)
from tokenomy.economy.evaluation import (
    ConfigResult,
    DiffResult,
    bootstrap_mean,
    paired_diff,
    summarise,
    utility,
)
from tokenomy.economy.experiment import Experiment, Prepared, prepare, run_experiment
from tokenomy.economy.market import FlatOutcome, MarketReport, Misreport, flat, misreport, run_market
from tokenomy.economy.requests import AgentTasks, ChatRequests, ComposedWorkload, ValueSpec, compose
from tokenomy.economy.system import Outcomes, run_system
from tokenomy.economy.tenants import (
    LogNormalValue,
    Take,
    Tenant,
    TenantSet,
    synthetic_values,
    tenant_from_requests,
    tenants_from_servegen,
)

__all__ = [
    "CONFIGS",
    "MARKET_TOPIC",
    "AgentTasks",
    "ChatRequests",
    "Clearing",
    "ComposedWorkload",
    "Config",
    "ConfigResult",
    "DiffResult",
    "Experiment",
    "FlatOutcome",
    "LogNormalValue",
    "MarketReport",
    "Misreport",
    "Optimum",
    "Outcomes",
    "Prepared",
    "Take",
    "Tenant",
    "TenantOutcome",
    "TenantSet",
    "ValueSpec",
    "bootstrap_mean",
    "clear",
    "compose",
    "dual_price",
    "flat",
    "misreport",
    "paired_diff",
    "parse_configs",
    "prepare",
    "run_experiment",
    "run_market",
    "run_system",
    "social_optimum",
    "summarise",
    "synthetic_values",
    "tenant_from_requests",
    "tenants_from_servegen",
    "typical_price",
    "utility",
]
