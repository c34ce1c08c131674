"""Loaders for the two real agent datasets in ``<data>/agent`` into the action layer's frozen records.

* :func:`load_miniswe` reads ``miniswe_gemini3pro_swebv/instances.csv`` and ``steps.csv.gz`` (the
  derived per-call numbers and commands, fast: all 500 trajectories in well under a second) and,
  only with ``raw=True``, ``trajs.jsonl.xz`` (≈70 MB decompressed, ~2 s) to attach the submitted patch
  and to take each command verbatim from the assistant message.
* :func:`load_taubench` reads ``taubench_gpt4o_airline/episodes.csv`` and ``steps.csv.gz`` and, only
  with ``raw=True`` (small), ``gpt-4o-airline.json.xz`` for tool-call arguments, the user message
  before each call and the ground-truth actions.
* :func:`load_schedule` reads an autonomy schedule TOML file (default: the packaged one).

This module reads files; it computes nothing beyond parsing (no policy). Bad input raises
:class:`tokenomy.core.errors.SchemaError` naming the file, the line and the field. Dataset facts the
loaders are checked against (tests/autonomy/test_agent_data.py): 20,163 steps, 371/500 resolved,
$229.98 total; tau-bench mean reward 0.42, 250 commit calls, 55 without a preceding user "yes".
"""

from __future__ import annotations

import csv
import gzip
import json
import lzma
import re
from collections.abc import Iterator
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from tokenomy.autonomy.schedule import Schedule, parse_schedule
from tokenomy.autonomy.trajectory import AgentStep, AgentTrajectory, Episode, GroundTruthAction, ToolCall
from tokenomy.core.errors import SchemaError

__all__ = ["MINISWE", "TAUBENCH", "load_miniswe", "load_schedule", "load_taubench"]

MINISWE = "miniswe_gemini3pro_swebv"
TAUBENCH = "taubench_gpt4o_airline"

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
_TAU_STEP_FIELDS = (
    "task_id",
    "trial",
    "step",
    "actor",
    "kind",
    "tool",
    "autonomy_class",
    "matches_gt_action",
    "prev_user_msg_affirmative",
)
_EPISODE_FIELDS = ("task_id", "trial", "reward", "n_messages", "n_gt_actions", "n_gt_commit_actions")
_BASH_BLOCK = re.compile(r"```bash\s*\n(.*?)\n```", re.DOTALL)


def _resolve(folder: Path, name: str) -> Path:
    """Accept either the data root, ``<root>/agent`` or the dataset folder itself."""
    for cand in (folder, folder / name, folder / "agent" / name):
        if cand.is_dir() and cand.name == name:
            return cand
    raise SchemaError(
        f"agent dataset folder {name!r} not found under {folder} (expected <data>/agent/{name})"
    )


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) of a CSV (gzip when the name ends in .gz) after checking its header."""
    if not path.is_file():
        raise SchemaError(f"{path}: file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [f for f in required if f not in (reader.fieldnames or ())]
        if missing:
            raise SchemaError(
                f"{path}: line 1: missing column(s) {missing}; expected at least {list(required)}"
            )
        for row in reader:
            yield reader.line_num, row


def _num(path: Path, line: int, row: dict[str, str], key: str, kind: type[int] | type[float]) -> Any:
    try:
        return kind(float(row[key])) if kind is int else kind(row[key])
    except (TypeError, ValueError):
        raise SchemaError(
            f"{path}: line {line}: field {key!r}={row.get(key)!r} is not a {kind.__name__}"
        ) from None


def _flag(path: Path, line: int, row: dict[str, str], key: str) -> bool | None:
    value = (row.get(key) or "").strip()
    if value == "":
        return None
    if value in ("1", "1.0", "True", "true"):
        return True
    if value in ("0", "0.0", "False", "false"):
        return False
    raise SchemaError(f"{path}: line {line}: field {key!r}={value!r}; expected 0/1/True/False or empty")


def load_miniswe(
    folder: Path, *, raw: bool = False, instance_ids: frozenset[str] | None = None
) -> tuple[AgentTrajectory, ...]:
    """Load the mini-swe-agent SWE-bench Verified runs, one trajectory per instance, in file order.

    Args:
        folder: the data root, ``<root>/agent`` or the ``miniswe_gemini3pro_swebv`` folder.
        raw: also read ``trajs.jsonl.xz`` (slow, ~2 s) to attach each submission and verbatim commands.
        instance_ids: load only these instances (None = all 500).

    Returns:
        The trajectories, with steps sorted by step index.

    Raises:
        SchemaError: a file is missing, a column is absent or a value does not parse (file and line named).
    """
    base = _resolve(Path(folder), MINISWE)
    steps_path = base / "steps.csv.gz"
    by_instance: dict[str, list[AgentStep]] = {}
    for line, r in _rows(steps_path, _STEP_FIELDS):
        iid = r["instance_id"]
        if instance_ids is not None and iid not in instance_ids:
            continue
        rc = r["returncode"].strip()
        by_instance.setdefault(iid, []).append(
            AgentStep(
                instance_id=iid,
                step=_num(steps_path, line, r, "step", int),
                action_class=r["action_class"],
                autonomy_class=r["autonomy_class"],
                num_prompt_tokens=_num(steps_path, line, r, "prompt_tokens", int),
                num_completion_tokens=_num(steps_path, line, r, "completion_tokens", int),
                num_reasoning_tokens=_num(steps_path, line, r, "reasoning_tokens", int),
                num_cached_tokens=_num(steps_path, line, r, "cached_tokens", int),
                cost_usd=_num(steps_path, line, r, "cost_usd", float),
                returncode=None if rc == "" else _num(steps_path, line, r, "returncode", int),
                obs_chars=_num(steps_path, line, r, "obs_chars", int),
                obs_truncated=bool(_flag(steps_path, line, r, "obs_truncated")),
                format_error=bool(_flag(steps_path, line, r, "format_error")),
                command=r["command"],
            )
        )
    inst_path = base / "instances.csv"
    instances = [
        (line, r)
        for line, r in _rows(inst_path, _INSTANCE_FIELDS)
        if instance_ids is None or r["instance_id"] in instance_ids
    ]
    totals = {r["instance_id"]: _num(inst_path, line, r, "instance_cost_usd", float) for line, r in instances}
    _impute_missing_costs(by_instance, totals)
    raw_info = _read_miniswe_raw(base / "trajs.jsonl.xz", instance_ids) if raw else {}
    out: list[AgentTrajectory] = []
    for line, r in instances:
        iid = r["instance_id"]
        steps = sorted(by_instance.pop(iid, []), key=lambda s: s.step)
        submission = ""
        if iid in raw_info:
            submission, commands = raw_info[iid]
            if len(commands) == len(steps):
                steps = [_with_command(s, c) for s, c in zip(steps, commands, strict=True)]
        out.append(
            AgentTrajectory(
                instance_id=iid,
                repo=r["repo"],
                resolved=bool(_flag(inst_path, line, r, "resolved")),
                exit_status=r["exit_status"],
                steps=tuple(steps),
                instance_cost_usd=totals[iid],
                submission=submission,
            )
        )
    if by_instance:
        orphan = sorted(by_instance)[:3]
        raise SchemaError(f"{steps_path}: steps for instance(s) absent from {inst_path.name}: {orphan}")
    return tuple(out)


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
    with lzma.open(path, "rt", encoding="utf-8") as fh:
        for line_no, text in enumerate(fh, start=1):
            try:
                obj = json.loads(text)
                iid = obj["instance_id"]
                messages = obj["messages"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise SchemaError(f"{path}: line {line_no}: not a trajectory object ({exc})") from None
            if instance_ids is not None and iid not in instance_ids:
                continue
            commands: list[str | None] = []
            for m in messages:
                if m.get("role") == "assistant":
                    blocks = _BASH_BLOCK.findall(m.get("content") or "")
                    commands.append(blocks[0].strip() if len(blocks) == 1 else None)
            out[iid] = (str((obj.get("info") or {}).get("submission") or ""), commands)
    return out


def load_taubench(folder: Path, *, raw: bool = False) -> tuple[Episode, ...]:
    """Load the tau-bench airline episodes (gpt-4o agent), sorted by (task, trial).

    Args:
        folder: the data root, ``<root>/agent`` or the ``taubench_gpt4o_airline`` folder.
        raw: also read ``gpt-4o-airline.json.xz`` for arguments, prior user messages and ground truth.

    Returns:
        One :class:`Episode` per (task, trial) with its tool calls in order.

    Raises:
        SchemaError: a file is missing, a column is absent or a value does not parse.
    """
    base = _resolve(Path(folder), TAUBENCH)
    steps_path = base / "steps.csv.gz"
    calls: dict[tuple[int, int], list[ToolCall]] = {}
    for line, r in _rows(steps_path, _TAU_STEP_FIELDS):
        if r["kind"] != "tool_call":
            continue
        key = (_num(steps_path, line, r, "task_id", int), _num(steps_path, line, r, "trial", int))
        is_commit = r["autonomy_class"] == "commit"
        calls.setdefault(key, []).append(
            ToolCall(
                task_id=key[0],
                trial=key[1],
                step=_num(steps_path, line, r, "step", int),
                tool=r["tool"],
                autonomy_class=r["autonomy_class"],
                confirmed_by_user=_flag(steps_path, line, r, "prev_user_msg_affirmative")
                if is_commit
                else None,
                matches_gt_action=_flag(steps_path, line, r, "matches_gt_action"),
            )
        )
    raw_eps = _read_tau_raw(base / "gpt-4o-airline.json.xz") if raw else {}
    ep_path = base / "episodes.csv"
    out: list[Episode] = []
    for line, r in _rows(ep_path, _EPISODE_FIELDS):
        key = (_num(ep_path, line, r, "task_id", int), _num(ep_path, line, r, "trial", int))
        ep_calls = sorted(calls.get(key, []), key=lambda c: c.step)
        gt: tuple[GroundTruthAction, ...] = ()
        if key in raw_eps:
            msgs, gt = raw_eps[key]
            ep_calls = [_with_raw(c, msgs, ep_path) for c in ep_calls]
        out.append(
            Episode(
                task_id=key[0],
                trial=key[1],
                reward=_num(ep_path, line, r, "reward", float),
                calls=tuple(ep_calls),
                n_messages=_num(ep_path, line, r, "n_messages", int),
                n_gt_actions=_num(ep_path, line, r, "n_gt_actions", int),
                n_gt_commit_actions=_num(ep_path, line, r, "n_gt_commit_actions", int),
                user_sim_cost_usd=float(r.get("user_sim_cost_usd") or 0.0),
                gt_actions=gt,
            )
        )
    return tuple(sorted(out, key=lambda e: (e.task_id, e.trial)))


def _with_raw(call: ToolCall, msgs: list[dict[str, Any]], path: Path) -> ToolCall:
    if not 0 <= call.step < len(msgs) or not msgs[call.step].get("tool_calls"):
        raise SchemaError(
            f"{path}: task {call.task_id} trial {call.trial}: step {call.step} is not a tool call"
        )
    fn = msgs[call.step]["tool_calls"][0]["function"]
    if fn.get("name") != call.tool:
        raise SchemaError(
            f"{path}: task {call.task_id} step {call.step}: tool {fn.get('name')!r} != {call.tool!r}"
        )
    try:
        args = json.loads(fn.get("arguments") or "{}")
    except json.JSONDecodeError:
        args = {"_unparsed": fn.get("arguments")}
    prev_user = next(
        (str(m.get("content") or "") for m in reversed(msgs[: call.step]) if m["role"] == "user"), ""
    )
    return ToolCall(
        task_id=call.task_id,
        trial=call.trial,
        step=call.step,
        tool=call.tool,
        autonomy_class=call.autonomy_class,
        confirmed_by_user=call.confirmed_by_user,
        matches_gt_action=call.matches_gt_action,
        arguments=args if isinstance(args, dict) else {"_value": args},
        prev_user_message=prev_user,
    )


def _read_tau_raw(
    path: Path,
) -> dict[tuple[int, int], tuple[list[dict[str, Any]], tuple[GroundTruthAction, ...]]]:
    if not path.is_file():
        raise SchemaError(f"{path}: file not found (needed for raw=True)")
    with lzma.open(path, "rt", encoding="utf-8") as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from None
    out: dict[tuple[int, int], tuple[list[dict[str, Any]], tuple[GroundTruthAction, ...]]] = {}
    for i, ep in enumerate(data):
        try:
            key = (int(ep["task_id"]), int(ep["trial"]))
            msgs = [m for m in ep["traj"] if m.get("role") != "system"]
            actions = ep["info"]["task"].get("actions") or []
        except (KeyError, TypeError, ValueError) as exc:
            raise SchemaError(f"{path}: episode #{i}: missing field {exc}") from None
        gt = tuple(GroundTruthAction(tool=a["name"], arguments=dict(a.get("kwargs") or {})) for a in actions)
        out[key] = (msgs, gt)
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
    p = Path(path)
    if not p.is_file():
        raise SchemaError(f"{p}: schedule file not found")
    return parse_schedule(p.read_text(encoding="utf-8"), source=str(p))
