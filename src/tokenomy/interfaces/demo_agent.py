"""Demo section: the action layer — the marginal controller, a spend cap, and stopping on real runs.

With the data: the mini-swe-agent runs replayed under the Eq. 1 stopping rule and the best fixed cost
cap chosen on train (2-fold cross-fitting, two V values: quick), and one run driven call by call by the
controller under a tight cap (warning, then salvage). Without the data: the controller on a few
hand-written states, labelled synthetic.
"""

from __future__ import annotations

from typing import Any

from tokenomy.autonomy.controller import MarginalController, StepState
from tokenomy.autonomy.features import build_table
from tokenomy.autonomy.replay import ReplayEnv, crossfit_stopping, run_controller
from tokenomy.autonomy.stopping import BestCostCap, MarginalStop, NeverStop
from tokenomy.interfaces.cmd_demo import DemoContext
from tokenomy.interfaces.loaders.agent_data import load_miniswe, load_schedule
from tokenomy.interfaces.table import format_table

__all__ = ["TITLE", "section"]

TITLE = "agent: stop, verify or ask by Eq. 1; a spend cap that salvages"


def _controller_examples(ctl: MarginalController) -> list[dict[str, Any]]:
    states = {
        "go on (read)": StepState(2.0, 0.7, 0.3, 0.02, act_class="read"),
        "verify pays (VoI 5%)": StepState(2.0, 0.7, 0.3, 0.02, act_class="draft", voi_verify=0.05),
        "commit needs a yes": StepState(2.0, 0.7, 0.3, 0.02, act_class="commit"),
        "hopeless: stop": StepState(0.5, 0.2, 0.4, 0.02),
        "cap reached: salvage": StepState(2.0, 0.7, 0.3, 0.05, spent_usd=2.98, cap_usd=3.0, p_salvage=0.4),
    }
    rows = []
    for name, st in states.items():
        a = ctl.decide(st)
        rows.append(
            {
                "state": name,
                "action": a.kind,
                "surplus_usd": a.surplus_usd,
                "runner_up": a.runner_up,
                "warn": a.warn,
                "salvage": a.salvage,
            }
        )
    return rows


def section(ctx: DemoContext) -> dict[str, Any]:
    ctl = MarginalController(load_schedule())
    examples = _controller_examples(ctl)
    out: dict[str, Any] = {"controller_examples": examples}
    ctx.echo(format_table(examples, title="controller on hand-written states (synthetic)"))
    if ctx.data_dir is None or not (ctx.data_dir / "agent").is_dir():
        ctx.echo("no agent data: the replay part is skipped")
        return out
    table = build_table(load_miniswe(ctx.data_dir))
    res = crossfit_stopping(
        table,
        [MarginalStop(), BestCostCap(name="best_cost_cap_train"), NeverStop(name="no_cap")],
        [1.0, 5.0],
        folds=2,
        seed=0,
    )
    rows = [
        {
            "V": r.v_usd,
            "policy": r.policy,
            "welfare_per_task": r.welfare_per_task,
            "success_rate": r.success_rate,
            "cost_per_task_usd": r.cost_per_task_usd,
        }
        for r in res
    ]
    ctx.echo(
        format_table(rows, title="\nmini-swe-agent runs replayed, held-out (2-fold): welfare per task, USD")
    )
    longest = int(table.n_calls.argmax())
    rule = MarginalStop().fit(table, 100.0)
    assert rule.model_ is not None
    run = run_controller(ReplayEnv(table, 100.0), ctl, rule.model_, longest, cap_usd=0.5)
    ctx.echo(
        f"\nlongest run ({table.instance_ids[longest]}, {table.n_calls[longest]} calls, "
        f"${table.total_usd[longest]:.2f}) under a $0.50 cap at V = $100: {run['calls']} calls, "
        f"${run['cost_usd']:.2f}, warned={run['warned']}, salvaged={run['salvaged']}"
    )
    out.update({"replay": rows, "capped_run": {k: v for k, v in run.items() if k != "actions"}})
    return out
