"""Loader for the tau-bench airline trajectories (gpt-4o agent) in ``<data>/agent/taubench_gpt4o_airline``.

:func:`load_taubench` reads ``episodes.csv`` (one row per task × trial) and ``steps.csv.gz`` (one row
per message of each conversation, the system prompt excluded) and, only with ``raw=True``,
``gpt-4o-airline.json.xz`` for tool-call arguments, the user message before each call and the
ground-truth actions. 18 of the 200 real episodes make no tool call, so an episode without steps
cannot be told from a cut file by the steps alone: the files are checked against each other
instead. ``episodes.csv`` records each episode's ``n_messages`` (system prompt included, so its steps
are ``n_messages - 1`` rows) and ``n_tool_calls`` (its ``tool_call`` rows), and the raw file holds the
conversation itself; when they disagree (a truncated ``steps.csv.gz``, files from two runs) a
:class:`SchemaError` names the file, the field and the expected form. Parsing only, no policy.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from tokenomy.autonomy.trajectory import Episode, GroundTruthAction, ToolCall
from tokenomy.core.errors import SchemaError
from tokenomy.interfaces.loaders import reader
from tokenomy.interfaces.loaders.agent_files import csv_rows, flag, num, resolve_file

__all__ = ["TAUBENCH", "TAUBENCH_FILES", "load_taubench"]

TAUBENCH = "taubench_gpt4o_airline"
TAUBENCH_FILES = ("episodes.csv", "steps.csv.gz")
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
_Key = tuple[int, int]


def load_taubench(folder: str | Path, *, raw: bool = False) -> tuple[Episode, ...]:
    """Load the tau-bench airline episodes (gpt-4o agent), sorted by (task, trial).

    Args:
        folder: the data root, ``<root>/agent`` or a folder (any name) holding ``episodes.csv`` and ``steps.csv.gz``.
        raw: also read ``gpt-4o-airline.json.xz`` for arguments, prior user messages and ground truth.

    Returns:
        One :class:`Episode` per (task, trial) with its tool calls in order.

    Raises:
        SchemaError: a file is missing, a column is absent, a value does not parse, or the files
            disagree (steps for an episode fewer or more than ``episodes.csv`` records, steps of an
            unlisted episode, an episode absent from the raw file).
    """
    base = resolve_file(reader.path_arg(folder, "load_taubench", "folder"), TAUBENCH, TAUBENCH_FILES)
    steps_path = base / "steps.csv.gz"
    calls: dict[_Key, list[ToolCall]] = {}
    n_rows: Counter[_Key] = Counter()
    for line, r in csv_rows(steps_path, _TAU_STEP_FIELDS):
        key = (num(steps_path, line, r, "task_id", int), num(steps_path, line, r, "trial", int))
        n_rows[key] += 1
        if r["kind"] != "tool_call":
            continue
        is_commit = r["autonomy_class"] == "commit"
        calls.setdefault(key, []).append(
            ToolCall(
                task_id=key[0],
                trial=key[1],
                step=num(steps_path, line, r, "step", int),
                tool=r["tool"],
                autonomy_class=r["autonomy_class"],
                confirmed_by_user=flag(steps_path, line, r, "prev_user_msg_affirmative")
                if is_commit
                else None,
                matches_gt_action=flag(steps_path, line, r, "matches_gt_action"),
            )
        )
    raw_path = base / "gpt-4o-airline.json.xz"
    raw_eps = _read_tau_raw(raw_path) if raw else {}
    ep_path = base / "episodes.csv"
    out: list[Episode] = []
    bad: list[str] = []
    for line, r in csv_rows(ep_path, _EPISODE_FIELDS):
        key = (num(ep_path, line, r, "task_id", int), num(ep_path, line, r, "trial", int))
        n_messages = num(ep_path, line, r, "n_messages", int)
        ep_calls = sorted(calls.get(key, []), key=lambda c: c.step)
        why = _disagreement(ep_path, line, r, key, n_messages, n_rows.pop(key, 0), len(ep_calls))
        bad.extend([why] if why else [])
        gt: tuple[GroundTruthAction, ...] = ()
        if raw and key not in raw_eps:
            raise SchemaError(
                f"{raw_path}: fields 'task_id'/'trial': no trajectory for task {key[0]} trial {key[1]} "
                f"({ep_path.name} line {line}); expected one per episode listed in {ep_path.name}"
            )
        if key in raw_eps:
            msgs, gt = raw_eps[key]
            if len(msgs) != n_messages - 1:
                raise SchemaError(
                    f"{raw_path}: field 'traj': task {key[0]} trial {key[1]} has {len(msgs)} non-system "
                    f"message(s) but {ep_path.name} line {line} says n_messages={n_messages}; expected "
                    "n_messages - 1 (the files are from different runs)"
                )
            ep_calls = [_with_raw(c, msgs, ep_path) for c in ep_calls]
        out.append(
            Episode(
                task_id=key[0],
                trial=key[1],
                reward=reader.float_field(r.get("reward"), f"{ep_path}: line {line}", "reward", lo=0, hi=1),
                calls=tuple(ep_calls),
                n_messages=n_messages,
                n_gt_actions=num(ep_path, line, r, "n_gt_actions", int),
                n_gt_commit_actions=num(ep_path, line, r, "n_gt_commit_actions", int),
                user_sim_cost_usd=num(ep_path, line, r, "user_sim_cost_usd", float)
                if (r.get("user_sim_cost_usd") or "").strip()
                else 0.0,
                gt_actions=gt,
            )
        )
    if bad:
        raise SchemaError(
            f"{steps_path}: the steps of {len(bad)} of the {len(out)} episodes listed in {ep_path} disagree "
            f"with it ({'; '.join(bad[:3])}{'; ...' if len(bad) > 3 else ''}); expected n_messages - 1 rows "
            "per episode (one per message, the system prompt excluded), n_tool_calls of them of kind "
            "'tool_call': the steps file is truncated or from another run"
        )
    if n_rows:
        orphan = ", ".join(f"task {t} trial {k}" for t, k in sorted(n_rows)[:3])
        raise SchemaError(
            f"{steps_path}: fields 'task_id'/'trial': steps for episode(s) absent from {ep_path} ({orphan}); "
            "expected every episode with steps to be listed there"
        )
    return tuple(sorted(out, key=lambda e: (e.task_id, e.trial)))


def _disagreement(
    path: Path, line: int, row: dict[str, str], key: _Key, n_messages: int, n_steps: int, n_calls: int
) -> str | None:
    """How one episode's step rows disagree with its ``episodes.csv`` row (None: they agree)."""
    found = []
    if n_steps != n_messages - 1:
        found.append(f"{n_steps} step row(s), field 'n_messages'={n_messages}")
    if (row.get("n_tool_calls") or "").strip():  # optional column; the real file has it
        want = num(path, line, row, "n_tool_calls", int)
        if want != n_calls:
            found.append(f"{n_calls} 'tool_call' row(s), field 'n_tool_calls'={want}")
    return f"task {key[0]} trial {key[1]} (line {line}): {' and '.join(found)}" if found else None


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
    return replace(
        call, arguments=args if isinstance(args, dict) else {"_value": args}, prev_user_message=prev_user
    )


def _read_tau_raw(path: Path) -> dict[_Key, tuple[list[dict[str, Any]], tuple[GroundTruthAction, ...]]]:
    if not path.is_file():
        raise SchemaError(f"{path}: file not found (needed for raw=True)")
    data = reader.read_json(path)
    if not isinstance(data, list):
        raise SchemaError(f"{path}: expected a JSON list of episodes, got {type(data).__name__}")
    out: dict[_Key, tuple[list[dict[str, Any]], tuple[GroundTruthAction, ...]]] = {}
    for i, ep in enumerate(data):
        try:
            key = (int(ep["task_id"]), int(ep["trial"]))
            msgs = [m for m in ep["traj"] if m.get("role") != "system"]
            actions = ep["info"]["task"].get("actions") or []
            gt = tuple(
                GroundTruthAction(tool=a["name"], arguments=dict(a.get("kwargs") or {})) for a in actions
            )
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise SchemaError(
                f"{path}: episode #{i}: missing or malformed field ({type(exc).__name__}: {exc}); expected "
                "task_id and trial (integers), traj (a list of messages), info.task.actions (name, kwargs)"
            ) from None
        out[key] = (msgs, gt)
    return out
