"""``tokenomy agent schedule`` and ``tokenomy agent tau``: the schedule in force, and confirmation policies.

* ``agent schedule [--schedule FILE] [--data DIR] [--rules]`` prints the autonomy schedule in force as a table
  (class, level, verdict, scope, effect, reversibility, blast radius, ρ, ρ_irr, priced harm, the level
  the prices imply); with ``--data`` also the classifier's coverage on both agent datasets (every call
  classified or counted as "unknown"); with ``--rules`` the classifier's documented rules.
* ``agent tau --data DIR --rho 0,1,10,100 [--V 1,10] [--json out.json] [--report out.html]`` judges the
  confirm-before-commit policies (always, never, accept-edits, confirm-risky, tokenomy) on the recorded
  tau-bench airline trajectories: welfare V·success − cost − ρ·harm per task at each (V, ρ), with 95%
  task-bootstrap intervals, each task judged held out; modelled parts are labelled in every output.

``tau_results(data_dir, rhos, seed)`` is what ``agent eval`` calls: the result rows and an HTML
fragment (welfare-vs-ρ plots per policy, the modelled parts labelled) to embed in its report.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tokenomy.audit.html import Report, format_value
from tokenomy.audit.svg import Series, line_chart
from tokenomy.autonomy.classify import RULES_DOC
from tokenomy.autonomy.confirm import BASELINE, ConfirmResult, evaluate
from tokenomy.autonomy.confirm_policies import ConfirmModel
from tokenomy.autonomy.coverage import shell_coverage, tool_coverage
from tokenomy.autonomy.schedule import Schedule
from tokenomy.autonomy.trajectory import Episode
from tokenomy.core.errors import ValidationError
from tokenomy.interfaces.args import MAX_FOLDS, float_in, int_in, usd_prices
from tokenomy.interfaces.loaders.agent_data import load_miniswe, load_schedule, load_taubench
from tokenomy.interfaces.outputs import atomic_write, check_output_path
from tokenomy.interfaces.paths import resolve_data_dir
from tokenomy.interfaces.table import format_table

__all__ = ["DATASET", "DEFAULT_V", "TAU_COLUMNS", "register", "tau_results"]

DATASET = "taubench-airline"
DEFAULT_V = (1.0, 10.0)
"""V grid (USD per successful airline task) when the caller gives none: a parameter, not a measurement."""

TAU_COLUMNS = (
    "V",
    "rho",
    "policy",
    "welfare_per_task",
    "welfare_ci_low",
    "welfare_ci_high",
    f"diff_vs_{BASELINE}",
    "success_rate",
    "cost_per_task_usd",
    "asks_per_task",
    "modelled",
)
"""Columns printed for the tau-bench rows, by ``agent tau`` and ``agent eval`` (ρ is a column: each
policy appears once per (V, ρ))."""

MODELLED_NOTE = (
    "Modelled, not measured: (1) what a user asked by the gate before a commit the log shows "
    "unconfirmed would have answered — yes to a right commit, no to a wrong one with probability "
    "p_catch, estimated as the posterior mean of 1 − (wrong rate of confirmed commits)/(wrong rate "
    "of unconfirmed ones), which assumes the agent errs as often whether or not it asks; a second ask right after a logged "
    "'yes' catches nothing; (2) the harm of a wrong commit that executes: the schedule's severity of "
    "its class × (recoverable share + irreversible share × ρ_irr/ρ), in ρ-units; (3) the success of an "
    "episode whose wrong commits were all caught: q_fixed, the measured success of episodes whose "
    "commits were all right. Observed: commits, user confirmations, ground-truth matches and rewards. "
    "Rows at ρ = 0 for policies that change no outcome are fully observed (modelled = false)."
)


_SCHEDULE_TEXT = """\
Print the autonomy schedule: each action class and the confirmation level it needs.

Reads a schedule TOML file (--schedule, default: the one shipped with tokenomy).
With --data, also reports how many steps of the agent datasets the action classifier
covers; with --rules, also prints the classifier's rules.

Example:
  tokenomy agent schedule --data ../shared/data --rules
"""

_TAU_TEXT = """\
Compare policies that ask the user before a committing tool call (booking, cancelling,
paying) on the tau-bench airline episodes, at each harm price rho and task value V.

Reads episodes.csv and steps.csv.gz from the data folder (--data); prints a table
per policy and can write an HTML report (--report) and JSON (--json).

Example:
  tokenomy agent tau --data ../shared/data --rho 0,1,10,100 --report tau.html
"""


def register(agent_subparsers: Any) -> None:
    """Add ``schedule`` and ``tau`` to the ``tokenomy agent`` sub-command group."""
    s = agent_subparsers.add_parser(
        "schedule",
        help="print the autonomy schedule in force",
        description=_SCHEDULE_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("--schedule", metavar="FILE", help="a schedule TOML file (default: the packaged one)")
    s.add_argument("--data", metavar="DIR", help="also report classifier coverage on both agent datasets")
    s.add_argument("--rules", action="store_true", help="also print the classifier's rules")
    s.set_defaults(func=run_schedule)
    t = agent_subparsers.add_parser(
        "tau",
        help="confirm-before-commit policies on tau-bench airline",
        description=_TAU_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument(
        "--data", metavar="DIR", help="real data folder (default: $TOKENOMY_DATA or ../shared/data)"
    )
    t.add_argument("--rho", default="0,1,10,100", help="ρ grid, USD per harm unit, comma-separated")
    t.add_argument("--V", dest="v_values", default=",".join(str(v) for v in DEFAULT_V), help="USD per task")
    t.add_argument("--seed", type=int_in(0), default=0, help="seed of the task folds and the bootstrap")
    t.add_argument("--folds", type=int_in(2, MAX_FOLDS), default=5, help="task folds for cross-fitting (≥ 2)")
    t.add_argument(
        "--p-catch", type=float_in(0.0, 1.0), default=None, help="override the modelled catch probability"
    )
    t.add_argument("--schedule", metavar="FILE", help="a schedule TOML file (default: the packaged one)")
    t.add_argument("--report", metavar="HTML", help="write a self-contained HTML report here")
    t.set_defaults(func=run_tau)


def run_schedule(args: argparse.Namespace) -> dict[str, Any]:
    """Print the schedule (and, with ``--data``, the classifier coverage); return it as JSON."""
    sched = load_schedule(args.schedule)
    rows = sched.as_rows()
    print(
        f"autonomy schedule {args.schedule or '(packaged default)'}: unknown actions → "
        f"{sched.unknown_level}; sandboxed={sched.sandboxed}; workspace_trust={sched.workspace_trust}; "
        f"one confirmation costs ${sched.ask_cost_usd}"
    )
    cols = ["class", "level", "verdict", "scope", "approvers", "effect", "reversibility", "blast_radius"]
    cols += ["rho_usd", "rho_irr_usd", "harm_price_usd", "implied_level", "risk_measure"]
    print(format_table(rows, cols))
    out: dict[str, Any] = {
        "schedule": args.schedule or "default",
        "unknown_level": sched.unknown_level,
        "sandboxed": sched.sandboxed,
        "workspace_trust": sched.workspace_trust,
        "ask_cost_usd": sched.ask_cost_usd,
        "classes": rows,
        "tools": dict(sched.tools),
        "tool_patterns": [list(p) for p in sched.tool_patterns],
        "classifier_rules": RULES_DOC,
    }
    if getattr(args, "rules", False):
        print(
            "\nclassifier rules (shell commands; JSON calls go by [tools] / [tool_patterns]):\n" + RULES_DOC
        )
    if getattr(args, "data", None):
        data = resolve_data_dir(args.data)
        if data is None:
            raise ValidationError(f"data folder not found: {args.data}")
        cov = [
            shell_coverage(load_miniswe(data, raw=True), sched, "miniswe-gemini3pro-swebv").as_dict(),
            tool_coverage(load_taubench(data, raw=True), sched, DATASET).as_dict(),
        ]
        show = ["dataset", "n_calls", "n_no_command", "n_classified", "n_unknown", "unknown_share"]
        print(
            format_table(cov, show, title="\nclassifier coverage (every call: a class or a counted unknown)")
        )
        out["coverage"] = cov
    return out


def _row(r: ConfirmResult) -> dict[str, Any]:
    return {
        "dataset": DATASET,
        "V": r.v_usd,
        "policy": r.policy,
        "rho": r.rho_usd,
        "welfare_per_task": r.welfare_per_task,
        "welfare_ci_low": r.welfare_ci_low,
        "welfare_ci_high": r.welfare_ci_high,
        "success_rate": r.success_rate,
        "cost_per_task_usd": r.cost_per_task_usd,
        "harm_per_task": r.harm_per_task,
        "asks_per_task": r.asks_per_task,
        f"diff_vs_{BASELINE}": r.diff_vs_never_confirm,
        f"diff_vs_{BASELINE}_ci_low": r.diff_ci_low,
        f"diff_vs_{BASELINE}_ci_high": r.diff_ci_high,
        "n_episodes": r.n_episodes,
        "modelled": r.modelled,
    }


def _world(model: ConfirmModel) -> dict[str, Any]:
    return {
        "p_catch": model.p_catch,
        "q_fixed": model.q_fixed,
        "harm_units": model.harm_units,
        "p_wrong": model.p_wrong,
        "ask_cost_usd": model.ask_cost_usd,
        "modelled": ["p_catch", "harm_units", "user answers to added confirmations"],
    }


def _run(
    data_dir: Path,
    rhos: Sequence[float],
    v_values: Sequence[float],
    seed: int,
    *,
    folds: int = 5,
    p_catch: float | None = None,
    schedule_path: str | None = None,
    episodes: Sequence[Episode] | None = None,
    schedule: Schedule | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    sched = load_schedule(schedule_path) if schedule is None else schedule
    if episodes is None:
        episodes = load_taubench(data_dir)
    with tqdm(total=len(rhos) * len(v_values), desc="tau-bench (V × ρ)", unit="cell", leave=False) as bar:
        results, world = evaluate(
            episodes,
            sched,
            rhos,
            v_values,
            folds=folds,
            seed=seed,
            p_catch=p_catch,
            progress=lambda d, t: bar.update(1),
        )
    out_world = _world(world)
    out_world["sensitivity"] = _sensitivity(episodes, sched, max(rhos), v_values[0], folds, seed)
    return [_row(r) for r in results], out_world


SENSITIVITY_P_CATCH = (0.0, 0.25, 0.5, 1.0)
"""Catch probabilities the modelled user answer is re-run at, to show how much the ranking rests on it."""


def _sensitivity(
    episodes: Sequence[Episode], sched: Schedule, rho: float, v: float, folds: int, seed: int
) -> list[dict[str, Any]]:
    rows = []
    for p in SENSITIVITY_P_CATCH:
        res, _ = evaluate(episodes, sched, [rho], [v], folds=folds, seed=seed, p_catch=p, n_boot=500)
        rows += [
            {
                "p_catch": p,
                "V": r.v_usd,
                "rho": r.rho_usd,
                "policy": r.policy,
                "welfare_per_task": r.welfare_per_task,
                f"diff_vs_{BASELINE}": r.diff_vs_never_confirm,
                "asks_per_task": r.asks_per_task,
                "modelled": True,
            }
            for r in res
        ]
    return rows


def _html_table(rows: Sequence[dict[str, Any]], cols: Sequence[str], caption: str) -> str:
    head = "".join(f'<th class="t">{escape(c)}</th>' for c in cols)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(format_value(r[c]))}{' (modelled)' if c == 'modelled' and r[c] else ''}</td>"
            for c in cols
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def fragment(rows: Sequence[dict[str, Any]], world: dict[str, Any]) -> str:
    """The HTML fragment: the modelled note, welfare and paired-difference plots per V, and a table."""
    policies = list(dict.fromkeys(r["policy"] for r in rows))
    parts = ["<h2>tau-bench airline: confirm-before-commit policies (welfare vs ρ)</h2>"]
    parts.append(f'<div class="note modelled"><span class="tag">modelled</span>{escape(MODELLED_NOTE)}</div>')
    est = (
        f"World model used (modelled): p_catch = {world['p_catch']:.3f}; q_fixed = {world['q_fixed']:.3f}; "
        "harm units per wrong commit: "
        + ", ".join(f"{k} {v:.2f}" for k, v in sorted(world["harm_units"].items()))
        + f"; one confirmation costs ${world['ask_cost_usd']} (the schedule's ask_cost_usd)."
    )
    parts.append(f'<div class="note modelled"><span class="tag">modelled</span>{escape(est)}</div>')
    for v in sorted({r["V"] for r in rows}):
        at_v = [r for r in rows if r["V"] == v]
        for key, label in (
            ("welfare_per_task", "welfare per task, USD"),
            (f"diff_vs_{BASELINE}", f"welfare − {BASELINE}, USD (paired)"),
        ):
            series = [
                Series(
                    p,
                    [1.0 + r["rho"] for r in at_v if r["policy"] == p],
                    [r[key] for r in at_v if r["policy"] == p],
                )
                for p in policies
            ]
            svg = line_chart(
                series,
                title=f"V = ${v:g}: {label} (modelled for ρ > 0)",
                x_label="1 + ρ (USD per harm unit, log axis)",
                y_label=label,
                log_x=True,
            )
            cap = f"tau-bench airline, V = ${v:g} per successful task; held-out tasks; harm is modelled."
            parts.append(f"<figure>{svg}<figcaption>{escape(cap)}</figcaption></figure>")
    cols = ["V", "rho", "policy", "welfare_per_task", "welfare_ci_low", "welfare_ci_high"]
    cols += [f"diff_vs_{BASELINE}", "success_rate", "cost_per_task_usd", "harm_per_task", "asks_per_task"]
    cols += ["modelled"]
    parts.append(
        _html_table(
            rows,
            cols,
            "tau-bench confirmation policies; 95% intervals resample tasks; modelled rows are marked",
        )
    )
    sens = world.get("sensitivity") or []
    if sens:
        parts.append(
            '<div class="note modelled"><span class="tag">modelled</span>'
            + escape(
                "Sensitivity to the modelled user: the same evaluation with the catch probability fixed "
                f"at {', '.join(str(p) for p in SENSITIVITY_P_CATCH)} (at the largest ρ and the first V)."
            )
            + "</div>"
        )
        scols = ["p_catch", "V", "rho", "policy", "welfare_per_task", f"diff_vs_{BASELINE}", "asks_per_task"]
        parts.append(
            _html_table(sens, [*scols, "modelled"], "sensitivity of the ranking to p_catch (modelled)")
        )
    return "".join(parts)


def tau_results(
    data_dir: Path,
    rhos: list[float],
    seed: int,
    *,
    episodes: Sequence[Episode] | None = None,
    schedule: Schedule | None = None,
) -> tuple[list[dict[str, Any]], str]:
    """Result rows and the HTML fragment for ``agent eval`` (V from :data:`DEFAULT_V`).

    Args:
        data_dir: the real-data root (or ``<root>/agent`` or the dataset folder).
        rhos: the ρ grid, USD per harm unit.
        seed: seeds the task folds and the bootstrap.
        episodes: the tau-bench episodes already loaded from ``data_dir`` (None: load them here).
        schedule: the schedule in force (None: the packaged default).

    Returns:
        (rows, html): one row per (V, policy, ρ) with keys dataset, V, policy, rho, welfare_per_task,
        welfare_ci_low/high, success_rate, cost_per_task_usd, modelled, ...; and a fragment to embed.
    """
    rows, world = _run(Path(data_dir), rhos, DEFAULT_V, seed, episodes=episodes, schedule=schedule)
    return rows, fragment(rows, world)


def run_tau(args: argparse.Namespace) -> dict[str, Any]:
    """Run ``agent tau`` and return ``{"results": [...], "world_model": {...}}``."""
    check_output_path(args.report, "--report")
    rhos, v_values = usd_prices(args.rho, "--rho"), usd_prices(args.v_values, "--V")
    data = resolve_data_dir(args.data)
    if data is None:
        raise ValidationError(f"data folder not found: {args.data or '$TOKENOMY_DATA or ../shared/data'}")
    rows, world = _run(
        data, rhos, v_values, args.seed, folds=args.folds, p_catch=args.p_catch, schedule_path=args.schedule
    )
    print(
        format_table(
            rows, list(TAU_COLUMNS), title="tau-bench airline: confirmation policies (held-out tasks)"
        )
    )
    print(f"\nmodelled: {MODELLED_NOTE}")
    print(f"world model: p_catch={world['p_catch']:.3f} q_fixed={world['q_fixed']:.3f}")
    if args.report:
        rep = Report("tokenomy agent tau", subtitle=f"data: {data}; ρ = {args.rho}; V = {args.v_values}")
        rep.raw(fragment(rows, world))
        atomic_write(args.report, rep.write)
        print(f"wrote {args.report}")
    return {"results": rows, "world_model": world}
