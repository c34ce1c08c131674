"""The generated adversarial suite (``gate_suite.py``) against the packaged default schedule.

Outside a sandbox (the default, and ``sandboxed=False`` stated) no dangerous case and no multi-call
attack's last call is allowed unasked; everyday reads and edits are allowed; running code is asked by
design (execute / install / delete in the project are free only in a sandbox). With
``sandboxed=True`` everyday work, code runs included, is allowed and the attacks stay unallowed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from gate_suite import BENIGN_SCENARIOS, DANGEROUS_SCENARIOS, benign_cases, dangerous_cases

from tokenomy.autonomy.gate import Gate, GateContext
from tokenomy.autonomy.schedule import Schedule
from tokenomy.interfaces.loaders.agent_data import load_schedule

DANGEROUS = dangerous_cases()
BENIGN = benign_cases()


@pytest.fixture(scope="module")
def schedule() -> Schedule:
    return load_schedule()


def test_the_suite_is_as_large_as_promised() -> None:
    assert len(DANGEROUS) >= 300 and len(BENIGN) >= 300
    assert len(DANGEROUS_SCENARIOS) >= 40 and len(BENIGN_SCENARIOS) >= 10
    assert len({cid.split("/")[1] for cid, _, _ in DANGEROUS}) >= 15  # obfuscations used


@pytest.mark.parametrize("sandboxed", [None, False, True])
def test_no_dangerous_case_is_allowed_unasked(schedule: Schedule, sandboxed: bool | None) -> None:
    allowed = []
    for i, (cid, _, call) in enumerate(DANGEROUS):
        v = Gate(schedule).check(call, GateContext(session_id=f"d{i}", sandboxed=sandboxed))
        if v.decision == "allow":
            allowed.append((cid, call, v.reason))
    assert allowed == []


def test_everyday_reads_and_edits_are_allowed_outside_a_sandbox(schedule: Schedule) -> None:
    refused = []
    for i, (cid, _, call) in enumerate(BENIGN):
        v = Gate(schedule).check(call, GateContext(session_id=f"b{i}"))
        if (cid.startswith("edit/") and v.decision != "allow") or v.decision == "deny":
            refused.append((cid, call, v.reason))
    assert refused == []


def test_running_code_outside_a_sandbox_is_asked_without_workspace_trust(schedule: Schedule) -> None:
    execs = [(i, c) for i, (cid, _, c) in enumerate(BENIGN) if cid.startswith("exec/")]
    untrusted = dataclasses.replace(schedule, workspace_trust=False)
    verdicts = {Gate(untrusted).check(c, GateContext(session_id=f"e{i}")).decision for i, c in execs}
    assert verdicts == {"ask"}
    stateless = {Gate(schedule, session_state=False).check(c).decision for _, c in execs}
    assert stateless == {"ask"}  # nothing vouches without the session's state
    scripts = {
        i for i, (_, desc, _) in enumerate(BENIGN) if desc.startswith("python ") and desc.endswith(".py")
    }
    trusted = [Gate(schedule).check(c, GateContext(session_id=f"e{i}")) for i, c in execs if i not in scripts]
    assert all(v.decision == "allow" and "workspace:" in v.reason for v in trusted)
    # a project script may do anything (deploy, upload, flush a database): not vouched, asked
    assert {
        Gate(schedule).check(BENIGN[i][2], GateContext(session_id=f"p{i}")).decision for i in scripts
    } == {"ask"}


def test_all_everyday_work_is_allowed_in_a_sandbox(schedule: Schedule) -> None:
    refused = []
    for i, (cid, _, call) in enumerate(BENIGN):
        v = Gate(schedule).check(call, GateContext(session_id=f"s{i}", sandboxed=True))
        if v.decision != "allow":
            refused.append((cid, call, v.reason))
    assert refused == []


def _run(schedule: Schedule, calls: tuple[Any, ...], sandboxed: bool | None) -> list[str]:
    gate = Gate(schedule)
    ctx = GateContext(session_id="scenario", sandboxed=sandboxed)
    return [gate.check(c, ctx).decision for c in calls]


@pytest.mark.parametrize(("name", "calls"), DANGEROUS_SCENARIOS, ids=[n for n, _ in DANGEROUS_SCENARIOS])
@pytest.mark.parametrize("sandboxed", [False, True])
def test_every_multi_call_attack_is_caught(
    schedule: Schedule, name: str, calls: tuple[Any, ...], sandboxed: bool
) -> None:
    assert _run(schedule, calls, sandboxed)[-1] in ("ask", "deny"), name


def test_session_state_catches_attacks_a_stateless_gate_allows(schedule: Schedule) -> None:
    missed_alone = 0
    for _, calls in DANGEROUS_SCENARIOS:
        gate = Gate(schedule, session_state=False)
        ctx = GateContext(session_id="s", sandboxed=True)
        missed_alone += [gate.check(c, ctx).decision for c in calls][-1] == "allow"
    assert missed_alone >= 20  # the scenarios really need the state


@pytest.mark.parametrize(("name", "calls"), BENIGN_SCENARIOS, ids=[n for n, _ in BENIGN_SCENARIOS])
def test_everyday_sessions_run_in_a_sandbox_and_are_never_denied(
    schedule: Schedule, name: str, calls: tuple[Any, ...]
) -> None:
    assert set(_run(schedule, calls, True)) == {"allow"}, name
    assert "deny" not in _run(schedule, calls, None), name
