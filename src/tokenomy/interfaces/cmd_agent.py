"""``tokenomy agent``: the action layer's commands.

``agent eval --data DIR --V 0.5,1,2,5,10 [--folds 5] [--seed 0] [--rho ...] [--report out.html]``
replays the real mini-swe-agent runs under 20 stopping policies (the Eq. 1 marginal rule, fixed cost
and step caps — SWE-agent's $3 and 250 steps among them —, the best caps chosen on the train split,
an ex-post oracle), fits each on train instances and judges it on held-out ones, and returns
``{"results": [...], "quality_check": {...}, "headroom": [...], "token_split": {...}, ...}``
(``--json`` is added by cli.py): one row per (dataset, V, policy) with welfare V·success − cost −
ρ·harm per task and its 95% interval, success rate and cost per task; the headroom of stopping at each
V (clairvoyant stop, best ex-post threshold on p̂: ``tokenomy.autonomy.headroom``) and Eq. 8's token
split judged on held-out runs (``tokenomy.autonomy.split``). :mod:`tokenomy.interfaces.cmd_agent_tau` adds the ``schedule`` and ``tau``
subcommands, and its tau-bench confirmation-policy rows (at a grid of ρ) to ``eval``.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from tqdm import tqdm

from tokenomy.audit.report_agent import (
    MINISWE_DATASET,
    RESULT_COLUMNS,
    agent_eval,
    build_report,
    quality_check,
    stopping_curves,
)
from tokenomy.autonomy.features import build_table
from tokenomy.autonomy.headroom import headroom
from tokenomy.autonomy.level import autonomy_level
from tokenomy.autonomy.schedule import Schedule
from tokenomy.autonomy.split import SPLIT_PHASES, evaluate_split, phase_tokens
from tokenomy.autonomy.stopping import MarginalStop
from tokenomy.autonomy.trajectory import AgentTrajectory, Episode
from tokenomy.core.errors import ValidationError
from tokenomy.interfaces import cmd_agent_tau
from tokenomy.interfaces.args import MAX_FOLDS, int_in, usd_prices
from tokenomy.interfaces.args import v_values as parse_v_values
from tokenomy.interfaces.loaders.agent_data import load_miniswe, load_schedule, load_taubench
from tokenomy.interfaces.outputs import atomic_write, check_output_path
from tokenomy.interfaces.paths import resolve_data_dir
from tokenomy.interfaces.table import format_table

__all__ = ["register", "run_eval"]


_AGENT_TEXT = """\
Evaluate how an agent should spend tokens and when it should ask before acting.

Sub-commands:
  eval      replay real mini-swe-agent and tau-bench runs under stopping and
            confirmation policies and report held-out welfare per policy
  schedule  print the autonomy schedule in force (which actions need a confirmation)
  tau       compare confirm-before-commit policies on tau-bench airline episodes
  gate-mcp  run an MCP server behind the gate: every tools/call is checked first

Example:
  tokenomy agent eval --data ../shared/data --V 1,10 --report agent.html
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "agent",
        help="agent runs: when to stop, spending caps, the autonomy schedule, confirmations",
        description=_AGENT_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    agent_sub = p.add_subparsers(dest="agent_command", metavar="SUBCOMMAND")
    e = agent_sub.add_parser("eval", help="held-out welfare of stopping / confirmation policies on real runs")
    e.add_argument(
        "--data", metavar="DIR", help="real data folder (default: $TOKENOMY_DATA or ../shared/data)"
    )
    e.add_argument(
        "--V", dest="v_values", default="0.5,1,2,5,10", help="USD per resolved task, comma-separated"
    )
    e.add_argument(
        "--folds",
        type=int,
        default=5,
        help="K of the cross-fitting over instances (1: one split)",
    )
    e.add_argument("--seed", type=int_in(0), default=0, help="seed of the instance split")
    e.add_argument("--rho", default="0,1,10,50,200", help="ρ grid (USD per harm unit) for tau-bench policies")
    e.add_argument(
        "--dp-wait",
        type=float,
        default=0.0,
        help="ASSUMED success probability one confirmation loses (the user who does not answer, the "
        "deadline missed), for the Eq. 7 autonomy rows at each V; no bundled dataset measures it "
        "(tau-bench's simulated user always answers); default 0",
    )
    e.add_argument("--report", metavar="HTML", help="write the HTML report here")
    e.set_defaults(func=run_eval)
    g = agent_sub.add_parser(
        "gate-mcp",
        help="run an MCP server behind the gate (a stdio proxy that checks every tools/call)",
        description=_GATE_MCP_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g.add_argument("--schedule", metavar="FILE", help="a schedule TOML file (default: the packaged one)")
    g.add_argument("--session", default="mcp", help="gate session id of this connection (default: mcp)")
    g.add_argument(
        "--sandboxed", action="store_true", help="the server runs in a disposable sandbox (execute is free)"
    )
    g.add_argument("--ledger", metavar="FILE", help="write every verdict to this DuckDB ledger")
    g.add_argument("server", nargs=argparse.REMAINDER, help="-- then the MCP server's command line")
    g.set_defaults(func=run_gate_mcp)
    cmd_agent_tau.register(agent_sub)
    p.set_defaults(func=lambda args: _help(p))


_GATE_MCP_TEXT = """\
Run an MCP server behind the gate. The proxy speaks MCP over stdio to the client and starts the real
server as a child; every tools/call (and resources/read) is judged first, and a refused call never
reaches the server: the client gets an error result carrying the verdict and its reason. A call that
needs a confirmation is put to the user through the client (MCP elicitation) when the client supports
it, and runs once on a yes; otherwise it is refused. The gate follows the whole connection as one
session (working directory, files written, secrets read).

Example (in an MCP client's server configuration):
  tokenomy agent gate-mcp -- npx -y @modelcontextprotocol/server-filesystem /work/repo
"""


def run_gate_mcp(args: argparse.Namespace) -> dict[str, Any]:
    """Serve stdin/stdout as the gating proxy until the client closes; return what it did."""
    import shlex
    import sys

    from tokenomy.autonomy.gate import Gate
    from tokenomy.interfaces.mcp_proxy import McpGateProxy, McpServerError

    server = list(args.server[1:] if args.server[:1] == ["--"] else args.server)
    if not server:
        raise ValidationError("gate-mcp needs the MCP server's command after '--' (e.g. -- python server.py)")
    ledger = None
    if args.ledger:
        from tokenomy.ledger import Ledger

        ledger = Ledger(args.ledger)
    gate = Gate(load_schedule(args.schedule), ledger, flush_every=100)
    proxy = McpGateProxy(gate, server, session_id=args.session, sandboxed=True if args.sandboxed else None)
    stats = proxy.serve(sys.stdin.buffer, sys.stdout.buffer)
    out = {
        "forwarded": stats.forwarded,
        "allowed": stats.allowed,
        "refused": stats.refused,
        "malformed": stats.malformed,
        "verdicts": stats.verdicts,
        "server_exit_code": stats.server_exit_code,
        "server_exited_early": stats.server_exited_early,
        "unanswered": stats.unanswered,
    }
    if getattr(args, "json", None):  # written here: stdout is the protocol channel, no "wrote" line
        from tokenomy.interfaces.outputs import write_json

        write_json(args.json, out)
        args.json_written = True
    code = stats.server_exit_code
    if stats.server_exited_early or (code not in (0, None) and not stats.server_stopped):
        when = " while the client was connected" if stats.server_exited_early else ""
        raise McpServerError(
            f"gate-mcp: the MCP server {shlex.join(server)[:200]!r} exited with code {code}{when}; "
            f"{stats.unanswered} unanswered request(s) got a JSON-RPC error"
        )
    return out


def _help(p: argparse.ArgumentParser) -> dict[str, Any]:
    p.print_help()
    return {}


def _autonomy_rows(
    schedule: Schedule,
    trajs: Sequence[AgentTrajectory],
    episodes: Sequence[Episode],
    v_values: Sequence[float],
    dp_wait: float,
) -> list[dict[str, Any]]:
    """Eq. 7 autonomy level for the class mix of each dataset (dataset labels mapped to classes), at
    each V with the V·Δp_wait term (Δp_wait ASSUMED), and the V·Δp_wait that would free each class."""
    # a malformed reply (label "none") ran nothing: it was a model call only, class compute
    mini = Counter(
        s.autonomy_class if s.autonomy_class not in ("", "none") else "compute"
        for t in trajs
        for s in t.steps
    )
    tau = Counter(schedule.tool_class(c.tool) for e in episodes for c in e.calls)
    rows = []
    for name, mix in (("miniswe-gemini3pro-swebv", mini), ("taubench-airline", tau)):
        for v in v_values:
            lvl = autonomy_level(schedule, mix, v_usd=v, dp_wait=dp_wait)
            asked = [c for c in lvl.classes if not c.implied_free and math.isfinite(c.breakeven_v_dp_usd)]
            rows.append(
                {
                    "dataset": name,
                    "V": v,
                    "dp_wait": dp_wait,
                    "calls": int(sum(mix.values())),
                    "a_implied": lvl.a,
                    "a_schedule": lvl.a_schedule,
                    "harm_usd_unasked": lvl.harm_usd,
                    "oversight_usd_asked": lvl.oversight_usd,
                    "disagreements": ",".join(lvl.disagreements) or "-",
                    "freed_at_v_dp_wait": "; ".join(f"{c.name} ≥ ${c.breakeven_v_dp_usd:.3g}" for c in asked)
                    or "-",
                }
            )
    return rows


def _print_results(rows: list[dict[str, Any]], n_instances: int, folds: int) -> None:
    """Print every policy's row: mini-swe-agent (all stopping policies, 95% CIs) then tau-bench (with ρ)."""
    mini = [r for r in rows if r["dataset"] == MINISWE_DATASET]
    n_pol = len({r["policy"] for r in mini})
    title = (
        f"{MINISWE_DATASET}: all {n_pol} stopping policies at each V, {n_instances} instances each held "
        f"out once ({folds}-fold cross-fitting); 95% intervals; diff = welfare − best_cost_cap_train, paired"
    )
    print(format_table(mini, [c for c in RESULT_COLUMNS if c != "dataset"], title=title))
    tau = [r for r in rows if r["dataset"] != MINISWE_DATASET]
    for name in dict.fromkeys(r["dataset"] for r in tau):
        at = [r for r in tau if r["dataset"] == name]
        title = (
            f"\n{name}: all {len({r['policy'] for r in at})} confirmation policies at each (V, ρ); held-out "
            "tasks, 95% intervals; rows with modelled = True rest on the modelled user answer and harm "
            "(see `tokenomy agent tau` and the report)"
        )
        print(
            format_table(at, [c for c in cmd_agent_tau.TAU_COLUMNS if any(c in r for r in at)], title=title)
        )


def run_eval(args: argparse.Namespace) -> dict[str, Any]:
    """Run ``agent eval`` (see the module docstring) and return its JSON payload."""
    check_output_path(args.report, "--report")
    v_values = parse_v_values(args.v_values)
    rhos = usd_prices(args.rho, "--rho")
    if not 0.0 <= args.dp_wait <= 1.0:  # (before any work; also refuses nan and inf)
        raise ValidationError(f"--dp-wait must be a probability in [0, 1], got {args.dp_wait!r}")
    if not 1 <= args.folds <= MAX_FOLDS:  # before any work (the instances cap it again below)
        raise ValidationError(f"--folds must be a whole number in [1, {MAX_FOLDS}], got {args.folds}")
    data = resolve_data_dir(args.data)
    if data is None:
        raise ValidationError(f"data folder not found: {args.data or '$TOKENOMY_DATA or ../shared/data'}")
    trajs = load_miniswe(data)
    episodes = load_taubench(data)
    schedule = load_schedule()
    table = build_table(trajs)
    if args.folds > len(table.n_calls):
        raise ValidationError(
            f"--folds must be ≤ the number of instances ({len(table.n_calls)} in {data}); got {args.folds}"
        )
    total = (1 if args.folds == 1 else args.folds) * len(v_values)
    with tqdm(total=total, desc="agent eval (fold × V)", unit="fit", leave=False) as bar:
        rows = agent_eval(
            table, v_values, folds=args.folds, seed=args.seed, progress=lambda d, t: bar.update(1)
        )
    check = quality_check(rows)
    rule = MarginalStop()
    curves = stopping_curves(table, v_values, seed=args.seed)
    tau_rows, tau_fragment = cmd_agent_tau.tau_results(
        data, rhos, args.seed, episodes=episodes, schedule=schedule
    )
    rows = rows + list(tau_rows)
    autonomy = _autonomy_rows(schedule, trajs, episodes, v_values, args.dp_wait)
    _print_results(rows, len(table.n_calls), args.folds)
    print(
        format_table(
            autonomy,
            title=f"\nEq. 7 autonomy level per dataset and V (Δp_wait = {args.dp_wait:g}, ASSUMED; "
            "freed_at_v_dp_wait: the V·Δp_wait that would let each asked class act unasked)",
        )
    )
    print(
        format_table(check["per_V"], title="\nquality target: tokenomy vs the best train cost cap (held-out)")
    )
    print(
        f"meets target (≥ at every V, CI above 0 at ≥ 2; CI above 0 at {check['ci_above_zero_at']}): "
        f"{check['meets_target']}"
    )
    folds = max(2, args.folds)
    room = [
        {k: getattr(h, k) for k in h.__slots__}
        for h in headroom(table, v_values, folds=folds, seed=args.seed)
    ]
    print(
        format_table(
            [
                {
                    "V": h["v_usd"],
                    "clairvoyant_gain(n/a)": h["clairvoyant_gain"],
                    "never_start_gain": h["trivial_gain"],
                    "best_expost_p_threshold_gain(n/a)": h["threshold_gain"],
                    "threshold_ci_low": h["threshold_ci95"][0],
                    "threshold_ci_high": h["threshold_ci95"][1],
                }
                for h in room
            ],
            title="\nheadroom of stopping over no cap, USD per task (held-out; not achievable bounds)",
        )
    )
    ev = evaluate_split(phase_tokens(trajs), folds=folds, seed=args.seed)
    split = {k: getattr(ev, k) for k in ev.__slots__}
    split["phases"] = list(SPLIT_PHASES)
    split["modelled"] = ["modelled_gain"]
    print(
        "Eq. 8 token split ("
        + "/".join(SPLIT_PHASES)
        + "): observed "
        + "/".join(f"{x:.2f}" for x in ev.observed_shares)
        + ", prescribed "
        + "/".join(f"{x:.2f}" for x in ev.optimal_shares)
        + f"; held-out log loss {ev.log_loss_split:.4f} vs total-only {ev.log_loss_total:.4f}; "
        f"closest third resolves {ev.close_success:.3f} vs farthest {ev.far_success:.3f} "
        f"(diff CI [{ev.close_minus_far_ci95[0]:+.3f}, {ev.close_minus_far_ci95[1]:+.3f}])"
    )
    payload = {
        "results": rows,
        "quality_check": check,
        "headroom": room,
        "token_split": split,
        "model_scores": curves["model_scores"],
        "tokenomy_rule": {
            "rule": "continue iff V·p̂ − Ĉ > 0; start only if it holds at p̂ − z·se, stop only if it fails "
            "at p̂ + z·se; never spend above budget_share·V",
            "z_se": rule.z_grid[0] if len(rule.z_grid) == 1 else list(rule.z_grid),
            "budget_share": rule.budget_share,
            "features": list(rule.features),
        },
        "autonomy_level": autonomy,
        "folds": args.folds,
        "seed": args.seed,
        "n_instances": len(table.n_calls),
    }
    if args.report:
        sub = f"data: {data} · {args.folds}-fold cross-fitting over {len(table.n_calls)} instances · seed {args.seed}"
        page = build_report(
            rows,
            curves,
            check=check,
            subtitle=sub,
            tau_fragment=tau_fragment,
            autonomy=autonomy,
            headroom=room,
            token_split=split,
        )
        atomic_write(args.report, page.write)
        print(f"wrote {args.report}")
    return payload
