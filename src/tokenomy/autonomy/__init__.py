"""Action layer: the agent as a principal–agent contract (SPEC.md §3, Eq. 6–8).

Imports only ``tokenomy.core`` and ``tokenomy.ledger`` records; never a sibling layer, never a file.
The public names load on first use (PEP 562): importing the package, or one module of it, imports
nothing else; ``from tokenomy.autonomy import MarginalController`` imports the module that defines ``MarginalController``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokenomy.core.lazy import lazy_exports

if TYPE_CHECKING:
    from tokenomy.autonomy.classify import Classification, classify_call, classify_shell
    from tokenomy.autonomy.confirm_policies import ConfirmModel, ConfirmPolicy
    from tokenomy.autonomy.controller import ACTIONS, Action, MarginalController, SpendMeter, StepState
    from tokenomy.autonomy.features import TrajectoryTable, build_table
    from tokenomy.autonomy.gate import Gate, GateSession
    from tokenomy.autonomy.guard import guard, require_async
    from tokenomy.autonomy.level import AutonomyLevel, autonomy_level
    from tokenomy.autonomy.replay import ReplayEnv, crossfit_stopping, run_controller, split_folds
    from tokenomy.autonomy.schedule import LEVELS, ActionClass, Schedule, parse_schedule
    from tokenomy.autonomy.session_state import SessionState, StateLimits
    from tokenomy.autonomy.stopping import (
        STOPPING_POLICIES,
        MarginalStop,
        StoppingPolicy,
        default_policies,
        stop_outcomes,
    )
    from tokenomy.autonomy.trajectory import AgentStep, AgentTrajectory, Episode, ToolCall
    from tokenomy.autonomy.verdict import (
        ActionDeniedError,
        ApprovalRequiredError,
        Call,
        GateContext,
        GateRefusedError,
        Verdict,
    )

__all__ = [
    "ACTIONS",
    "LEVELS",
    "STOPPING_POLICIES",
    "Action",
    "ActionClass",
    "ActionDeniedError",
    "AgentStep",
    "AgentTrajectory",
    "ApprovalRequiredError",
    "AutonomyLevel",
    "Call",
    "Classification",
    "ConfirmModel",
    "ConfirmPolicy",
    "Episode",
    "Gate",
    "GateContext",
    "GateRefusedError",
    "GateSession",
    "MarginalController",
    "MarginalStop",
    "ReplayEnv",
    "Schedule",
    "SessionState",
    "SpendMeter",
    "StateLimits",
    "StepState",
    "StoppingPolicy",
    "ToolCall",
    "TrajectoryTable",
    "Verdict",
    "autonomy_level",
    "build_table",
    "classify_call",
    "classify_shell",
    "crossfit_stopping",
    "default_policies",
    "guard",
    "parse_schedule",
    "require_async",
    "run_controller",
    "split_folds",
    "stop_outcomes",
]

_HOME = {  # public name -> the module that defines it, imported on first use
    "Classification": "tokenomy.autonomy.classify",
    "classify_call": "tokenomy.autonomy.classify",
    "classify_shell": "tokenomy.autonomy.classify",
    "ConfirmModel": "tokenomy.autonomy.confirm_policies",
    "ConfirmPolicy": "tokenomy.autonomy.confirm_policies",
    "ACTIONS": "tokenomy.autonomy.controller",
    "Action": "tokenomy.autonomy.controller",
    "MarginalController": "tokenomy.autonomy.controller",
    "SpendMeter": "tokenomy.autonomy.controller",
    "StepState": "tokenomy.autonomy.controller",
    "TrajectoryTable": "tokenomy.autonomy.features",
    "build_table": "tokenomy.autonomy.features",
    "Gate": "tokenomy.autonomy.gate",
    "GateSession": "tokenomy.autonomy.gate",
    "guard": "tokenomy.autonomy.guard",
    "require_async": "tokenomy.autonomy.guard",
    "SessionState": "tokenomy.autonomy.session_state",
    "StateLimits": "tokenomy.autonomy.session_state",
    "AutonomyLevel": "tokenomy.autonomy.level",
    "autonomy_level": "tokenomy.autonomy.level",
    "ReplayEnv": "tokenomy.autonomy.replay",
    "crossfit_stopping": "tokenomy.autonomy.replay",
    "run_controller": "tokenomy.autonomy.replay",
    "split_folds": "tokenomy.autonomy.replay",
    "ActionClass": "tokenomy.autonomy.schedule",
    "LEVELS": "tokenomy.autonomy.schedule",
    "Schedule": "tokenomy.autonomy.schedule",
    "parse_schedule": "tokenomy.autonomy.schedule",
    "MarginalStop": "tokenomy.autonomy.stopping",
    "STOPPING_POLICIES": "tokenomy.autonomy.stopping",
    "StoppingPolicy": "tokenomy.autonomy.stopping",
    "default_policies": "tokenomy.autonomy.stopping",
    "stop_outcomes": "tokenomy.autonomy.stopping",
    "AgentStep": "tokenomy.autonomy.trajectory",
    "AgentTrajectory": "tokenomy.autonomy.trajectory",
    "Episode": "tokenomy.autonomy.trajectory",
    "ToolCall": "tokenomy.autonomy.trajectory",
    "ActionDeniedError": "tokenomy.autonomy.verdict",
    "ApprovalRequiredError": "tokenomy.autonomy.verdict",
    "Call": "tokenomy.autonomy.verdict",
    "GateContext": "tokenomy.autonomy.verdict",
    "GateRefusedError": "tokenomy.autonomy.verdict",
    "Verdict": "tokenomy.autonomy.verdict",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOME)
