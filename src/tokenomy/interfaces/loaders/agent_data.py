"""Loaders for the two real agent datasets in ``<data>/agent`` into the action layer's frozen records.

* :func:`load_miniswe` reads ``miniswe_gemini3pro_swebv/instances.csv`` and ``steps.csv.gz`` (the
  derived per-call numbers and commands, fast: all 500 trajectories in well under a second) and,
  only with ``raw=True``, ``trajs.jsonl.xz`` (≈70 MB decompressed, ~2 s) to attach the submitted patch
  and to take each command verbatim from the assistant message.
* :func:`load_taubench` (in :mod:`.agent_taubench`, re-exported here) reads
  ``taubench_gpt4o_airline/episodes.csv`` and ``steps.csv.gz`` and, only with ``raw=True`` (small),
  ``gpt-4o-airline.json.xz`` for tool-call arguments, the user message before each call and the
  ground-truth actions.
* :func:`load_schedule` reads an autonomy schedule TOML file (default: the packaged one).
* :func:`resolve_file` (in :mod:`.agent_files`, re-exported here) finds a dataset's folder from the
  data root, ``<root>/agent`` or the folder itself.

This module reads files; it computes nothing beyond parsing (no policy). Bad input raises
:class:`tokenomy.core.errors.SchemaError` naming the file, the line and the field; files of one
dataset that disagree (an instance's ``n_steps`` in ``instances.csv`` against its rows in a cut
``steps.csv.gz``) are an error too, naming both files and the field. Dataset facts the
loaders are checked against (tests/autonomy/test_agent_data.py): 20,163 steps, 371/500 resolved,
$229.98 total; tau-bench mean reward 0.42, 250 commit calls, 55 without a preceding user "yes".
"""

from __future__ import annotations

import re
from dataclasses import replace
from importlib import resources
from pathlib import Path

import numpy as np

from tokenomy.audit.log import MAX_TOKENS_PER_CALL
from tokenomy.autonomy.schedule import Schedule, parse_schedule
from tokenomy.autonomy.trajectory import AgentStep, AgentTrajectory
from tokenomy.core.errors import SchemaError
from tokenomy.interfaces.loaders import reader
from tokenomy.interfaces.loaders.agent_files import csv_rows, flag, num, resolve_file
from tokenomy.interfaces.loaders.agent_taubench import TAUBENCH, TAUBENCH_FILES, load_taubench

__all__ = [
    "MINISWE",
    "MINISWE_FILES",
    "TAUBENCH",
    "TAUBENCH_FILES",
    "load_miniswe",
    "load_schedule",
    "load_taubench",
    "resolve_file",
]

MINISWE = "miniswe_gemini3pro_swebv"
MINISWE_FILES = ("instances.csv", "steps.csv.gz")

_STEP_FIELDS = (
    "instance_id",
    "step",
    "action_class",
    "autonomy_class",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "cached_tokens",
    "cost_usd",
    "returncode",
    "obs_chars",
    "obs_truncated",
    "format_error",
    "command",
)
_INSTANCE_FIELDS = ("instance_id", "repo", "resolved", "exit_status", "instance_cost_usd")
_BASH_BLOCK = re.compile(r"```bash\s*\n(.*?)\n```", re.DOTALL)


def load_miniswe(
    folder: str | Path, *, raw: bool = False, instance_ids: frozenset[str] | None = None
) -> tuple[AgentTrajectory, ...]:
    """Load the mini-swe-agent SWE-bench Verified runs, one trajectory per instance, in file order.

    Args:
        folder: the data root, ``<root>/agent`` or a folder (any name) holding ``instances.csv`` and ``steps.csv.gz``.
        raw: also read ``trajs.jsonl.xz`` (slow, ~2 s) to attach each submission and verbatim commands.
        instance_ids: load only these instances (None = all 500).

    Returns:
        The trajectories, with steps sorted by step index.

    Raises:
        SchemaError: a file is missing, a column is absent or a value does not parse (file and line
            named), or an instance's steps are not the ``n_steps`` that ``instances.csv`` records.
    """
    base = resolve_file(reader.path_arg(folder, "load_miniswe", "folder"), MINISWE, MINISWE_FILES)
    steps_path = base / "steps.csv.gz"
    by_instance: dict[str, list[AgentStep]] = {}
    for line, r in csv_rows(steps_path, _STEP_FIELDS):
        iid = r["instance_id"]
        if instance_ids is not None and iid not in instance_ids:
            continue
        rc = r["returncode"].strip()
        by_instance.setdefault(iid, []).append(
            AgentStep(
                instance_id=iid,
                step=num(steps_path, line, r, "step", int, lo=0),
                action_class=r["action_class"],
                autonomy_class=r["autonomy_class"],
                num_prompt_tokens=_tokens(steps_path, line, r, "prompt_tokens"),
                num_completion_tokens=_tokens(steps_path, line, r, "completion_tokens"),
                num_reasoning_tokens=_tokens(steps_path, line, r, "reasoning_tokens"),
                num_cached_tokens=_tokens(steps_path, line, r, "cached_tokens"),
                cost_usd=num(steps_path, line, r, "cost_usd", float, lo=0),
                returncode=None if rc == "" else num(steps_path, line, r, "returncode", int),
                obs_chars=num(steps_path, line, r, "obs_chars", int, lo=0),
                obs_truncated=bool(flag(steps_path, line, r, "obs_truncated")),
                format_error=bool(flag(steps_path, line, r, "format_error")),
                command=r["command"],
            )
        )
    inst_path = base / "instances.csv"
    instances = [
        (line, r)
        for line, r in csv_rows(inst_path, _INSTANCE_FIELDS)
        if instance_ids is None or r["instance_id"] in instance_ids
    ]
    first_line: dict[str, int] = {}
    for line, r in instances:
        if first_line.setdefault(r["instance_id"], line) != line:
            raise SchemaError(
                f"{inst_path}: line {line}: duplicate instance_id {r['instance_id']!r} (first on line "
                f"{first_line[r['instance_id']]}); expected each instance once"
            )
    totals = {
        r["instance_id"]: num(inst_path, line, r, "instance_cost_usd", float, lo=0) for line, r in instances
    }
    _impute_missing_costs(by_instance, totals)
    raw_info = _read_miniswe_raw(base / "trajs.jsonl.xz", instance_ids) if raw else {}
    out: list[AgentTrajectory] = []
    bad: list[str] = []
    for line, r in instances:
        iid = r["instance_id"]
        steps = sorted(by_instance.pop(iid, []), key=lambda s: s.step)
        distinct = len({s.step for s in steps})  # a repeated step row is dropped by the importer, counted
        if (r.get("n_steps") or "").strip() and num(inst_path, line, r, "n_steps", int) != distinct:
            bad.append(f"{iid} (line {line}): {distinct} step(s), field 'n_steps'={r['n_steps']}")
        submission = ""
        if iid in raw_info:
            submission, commands = raw_info[iid]
            if len(commands) == len(steps):
                steps = [_with_command(s, c) for s, c in zip(steps, commands, strict=True)]
        out.append(
            AgentTrajectory(
                instance_id=iid,
                repo=r["repo"],
                resolved=bool(flag(inst_path, line, r, "resolved")),
                exit_status=r["exit_status"],
                steps=tuple(steps),
                instance_cost_usd=totals[iid],
                submission=submission,
            )
        )
    if bad:
        raise SchemaError(
            f"{steps_path}: the steps of {len(bad)} of the {len(out)} instances listed in {inst_path} "
            f"disagree with it ({'; '.join(bad[:3])}{'; ...' if len(bad) > 3 else ''}); expected n_steps "
            "rows per instance: the steps file is truncated or from another run"
        )
    if by_instance:
        orphan = sorted(by_instance)[:3]
        raise SchemaError(f"{steps_path}: steps for instance(s) absent from {inst_path.name}: {orphan}")
    return tuple(out)


def _tokens(path: Path, line: int, row: dict[str, str], key: str) -> int:
    """A token count in [0, ``MAX_TOKENS_PER_CALL``], or a SchemaError naming file:line and the field."""
    return reader.int_field(row.get(key), f"{path}: line {line}", key, lo=0, hi=MAX_TOKENS_PER_CALL)


def _impute_missing_costs(by_instance: dict[str, list[AgentStep]], totals: dict[str, float]) -> None:
    """Fill ``cost_usd`` of trajectories whose every step reads 0 (16 instances in the real data).

    Per-call cost is exactly linear in (uncached prompt, cached prompt, completion) tokens; the three
    USD/token prices are fitted by least squares on all the steps that do carry a cost (on the real
    data: $2/M, $0.2/M, $12/M, residual ~1e-16) and applied to the zero-cost trajectories, whose steps
    are then marked ``cost_imputed``. Those instances went through another provider gateway whose
    billing differs slightly, so each imputed trajectory is finally rescaled to the harness-recorded
    ``instance_cost_usd`` (``totals``): the total is the recorded one, the per-step split is estimated.
    """
    known = [s for steps in by_instance.values() for s in steps if s.cost_usd > 0]
    missing = [iid for iid, steps in by_instance.items() if steps and all(s.cost_usd == 0 for s in steps)]
    if not missing or len(known) < 3:
        return
    x = np.array(
        [
            (s.num_prompt_tokens - s.num_cached_tokens, s.num_cached_tokens, s.num_completion_tokens)
            for s in known
        ],
        dtype=float,
    )
    y = np.array([s.cost_usd for s in known])
    price, *_ = np.linalg.lstsq(x, y, rcond=None)
    p_in, p_cached, p_out = (float(v) for v in price)
    for iid in missing:
        est = [
            p_in * (s.num_prompt_tokens - s.num_cached_tokens)
            + p_cached * s.num_cached_tokens
            + p_out * s.num_completion_tokens
            for s in by_instance[iid]
        ]
        scale = totals[iid] / sum(est) if iid in totals and sum(est) > 0 else 1.0
        by_instance[iid] = [
            replace(s, cost_usd=c * scale, cost_imputed=True)
            for s, c in zip(by_instance[iid], est, strict=True)
        ]


def _with_command(step: AgentStep, command: str | None) -> AgentStep:
    if command is None or command == step.command:
        return step
    return replace(step, command=command)


def _read_miniswe_raw(
    path: Path, instance_ids: frozenset[str] | None
) -> dict[str, tuple[str, list[str | None]]]:
    """instance_id -> (submission, per-assistant-turn bash command or None when not exactly one block)."""
    if not path.is_file():
        raise SchemaError(f"{path}: file not found (needed for raw=True)")
    out: dict[str, tuple[str, list[str | None]]] = {}
    for line_no, obj in reader.json_lines(path):
        iid, messages = obj.get("instance_id"), obj.get("messages")
        if not isinstance(iid, str) or not isinstance(messages, list):
            raise SchemaError(
                f"{path}: line {line_no}: fields 'instance_id' (a string) and 'messages' (a list) "
                "expected in each trajectory object"
            )
        if instance_ids is not None and iid not in instance_ids:
            continue
        commands: list[str | None] = []
        for m in messages:
            if isinstance(m, dict) and m.get("role") == "assistant":
                blocks = _BASH_BLOCK.findall(str(m.get("content") or ""))
                commands.append(blocks[0].strip() if len(blocks) == 1 else None)
        info = obj.get("info")
        out[iid] = (str((info if isinstance(info, dict) else {}).get("submission") or ""), commands)
    return out


def load_schedule(path: str | Path | None = None) -> Schedule:
    """Read an autonomy schedule TOML file (the packaged default when ``path`` is None).

    Args:
        path: a schedule file, or None for ``tokenomy/interfaces/resources/default_schedule.toml``.

    Returns:
        The parsed schedule.

    Raises:
        SchemaError: the file is missing, or malformed (the message names the file, line and problem).
    """
    if path is None:
        res = resources.files("tokenomy.interfaces") / "resources" / "default_schedule.toml"
        return parse_schedule(res.read_text(encoding="utf-8"), source=str(res))
    p = reader.path_arg(path, "load_schedule")
    if not p.exists():
        raise SchemaError(f"{p}: schedule file not found")
    try:
        return parse_schedule(reader.read_text(p), source=str(p))
    except (TypeError, ValueError, OverflowError, AttributeError, KeyError) as exc:
        if isinstance(exc, SchemaError):
            raise
        # the schedule parser converts some values without checking them (version, ask_cost_usd)
        raise SchemaError(
            f"{p}: a value has the wrong type or range ({type(exc).__name__}: {exc}); expected the "
            "documented schedule form (numbers finite, version a whole number)"
        ) from None
