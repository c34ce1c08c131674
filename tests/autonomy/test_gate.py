"""The tool-call gate: precedence, fail-closed, scopes, multi-party, decorator, context manager, ledger rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokenomy.autonomy.gate import Gate, GateContext
from tokenomy.autonomy.schedule import Schedule, parse_schedule
from tokenomy.autonomy.verdict import ActionDeniedError, ApprovalRequiredError, Call, Verdict
from tokenomy.core.errors import SchemaError, ValidationError
from tokenomy.interfaces.loaders.agent_data import load_schedule
from tokenomy.ledger import Ledger


@pytest.fixture(scope="module")
def schedule() -> Schedule:
    return load_schedule()


def test_read_allowed_commit_asks_destroy_denied(schedule: Schedule) -> None:
    gate = Gate(schedule)
    assert gate.check("ls -la").decision == "allow"
    v = gate.check({"name": "cancel_reservation", "arguments": {"reservation_id": "X"}})
    assert (v.decision, v.action_class, v.level) == ("ask", "commit", "confirm")
    assert v.price_usd == pytest.approx(schedule.classes["commit"].harm_price_usd())
    assert v.price_usd > v.ask_cost_usd and "priced harm" in v.reason
    d = gate.check("rm -rf /")
    assert (d.decision, d.action_class) == ("deny", "destroy")


def test_compound_precedence_deny_over_ask_over_allow(schedule: Schedule) -> None:
    gate = Gate(schedule)
    assert gate.check("ls && git push origin main").decision == "ask"
    assert gate.check("ls && git push origin main && rm -rf /").decision == "deny"
    assert gate.check("cd repo && cat x | grep y").decision == "allow"


def test_unknown_actions_are_never_allowed_in_either_mode(schedule: Schedule) -> None:
    for mode in ("schedule", "prices"):
        gate = Gate(schedule, mode=mode)
        for call in ("frobnicate --now", {"name": "launch_rocket", "arguments": {}}, "curl x.sh | sh"):
            v = gate.check(call)
            assert v.decision == "ask", (mode, call)
            assert v.action_class == "unknown"
            assert v.price_usd == float("inf")


def test_unknown_level_deny_denies_unknown(schedule: Schedule) -> None:
    text = _default_text().replace('unknown_level = "confirm"', 'unknown_level = "deny"')
    gate = Gate(parse_schedule(text))
    assert gate.check("frobnicate").decision == "deny"


def test_outside_the_sandbox_execute_asks(schedule: Schedule) -> None:
    gate = Gate(schedule)
    assert gate.check("pytest -q", GateContext(sandboxed=True)).decision == "allow"
    assert gate.check("pytest -q", GateContext(sandboxed=False)).decision == "ask"
    assert gate.check("pytest -q").decision == "ask"  # the default schedule is outside a sandbox


def test_prices_mode_follows_the_per_call_harm_estimate(schedule: Schedule) -> None:
    gate = Gate(schedule, mode="prices")
    call = {"name": "cancel_reservation", "arguments": {}}
    assert gate.check(call).decision == "ask"  # the class prior prices harm above the ask cost
    sandbox = GateContext(p_harm=1e-4, sandboxed=True)
    assert gate.check(call, sandbox).decision == "allow"  # a near-certain cancel, in a sandbox
    assert gate.check("rm -rf /", GateContext(p_harm=0.0)).decision == "deny"  # deny is a constraint
    # the schedule mode ignores the estimate: the published level decides
    assert Gate(schedule).check(call, GateContext(p_harm=1e-4)).decision == "ask"


def test_once_approval_is_used_up_by_the_next_check(schedule: Schedule) -> None:
    gate = Gate(schedule)
    call = {"name": "cancel_reservation", "arguments": {"reservation_id": "A"}}
    v = gate.check(call)
    after = gate.approve(v, approver="alice")
    assert after.decision == "allow"
    assert gate.check(call).decision == "allow"
    assert gate.check(call).decision == "ask"  # once means once
    other = {"name": "cancel_reservation", "arguments": {"reservation_id": "B"}}
    gate.approve(gate.check(call), approver="alice")
    assert gate.check(other).decision == "ask"  # the approval was for that call only


def test_scope_cannot_be_wider_than_the_class_allows(schedule: Schedule) -> None:
    gate = Gate(schedule)
    v = gate.check({"name": "cancel_reservation", "arguments": {}})
    with pytest.raises(ValidationError, match="scope 'once' at most"):
        gate.approve(v, scope="session")
    with pytest.raises(ValidationError, match="approval scope must be one of"):
        gate.approve(v, scope="forever")


def test_session_grant_holds_for_the_session_only(schedule: Schedule) -> None:
    gate = Gate(schedule)
    s1, s2 = GateContext(session_id="s1", sandboxed=False), GateContext(session_id="s2", sandboxed=False)
    v = gate.check("npx jest", s1)
    assert v.decision == "ask" and v.scope == "session"
    gate.approve(v, scope="session", context=s1)
    assert gate.check("npx jest", s1).decision == "allow"  # again and again in the session
    assert gate.check("python -m run", s1).decision == "ask"  # that command, not the class
    gate.approve(gate.check("python -m run", s1), scope="session", context=s1, whole_class=True)
    assert gate.check("python -m other", s1).decision == "allow"  # the class, when asked for
    assert gate.check("python -m run", s2).decision == "ask"
    gate.end_session("s1")
    assert gate.check("python -m run", s1).decision == "ask"
    assert gate.check("npx jest", s1).decision == "ask"


def test_a_session_approval_of_one_delete_does_not_approve_another(schedule: Schedule) -> None:
    gate = Gate(schedule)
    gate.approve(gate.check("rm -rf build"), scope="session")
    assert gate.check("rm -rf build").decision == "allow"
    assert gate.check("rm -rf ~/work").decision == "ask"


def test_persistent_grant_survives_sessions_and_is_revocable() -> None:
    text = _default_text().replace(
        'level = "confirm"\nscope = "once"', 'level = "confirm"\nscope = "persistent"', 1
    )
    gate = Gate(parse_schedule(text))
    call = {"name": "cancel_reservation", "arguments": {}}
    gate.approve(gate.check(call), scope="persistent")
    assert gate.check(call, GateContext(session_id="other")).decision == "allow"
    restored = Gate(parse_schedule(text), grants=gate.grants())
    assert restored.check(call).decision == "allow"
    assert gate.revoke("commit")
    assert gate.check(call).decision == "ask"


def test_multi_party_needs_distinct_approvers(schedule: Schedule) -> None:
    gate = Gate(schedule)
    call = "git push origin main"
    v = gate.check(call)
    assert (v.level, v.approvers_needed) == ("multi_party", 2)
    assert gate.approve(v, approver="alice").decision == "ask"
    assert gate.approve(v, approver="alice").decision == "ask"  # the same person twice is one
    assert gate.approve(v, approver="bob").decision == "allow"
    assert gate.check(call).decision == "allow"


def test_denied_class_cannot_be_approved(schedule: Schedule) -> None:
    gate = Gate(schedule)
    with pytest.raises(ActionDeniedError):
        gate.approve(gate.check("mkfs.ext4 /dev/sda1"))


def test_decorator_runs_allowed_raises_on_refusal_and_asks_the_approver(schedule: Schedule) -> None:
    gate = Gate(schedule)
    ran: list[str] = []

    @gate.guard("bash")
    def bash(command: str) -> str:
        ran.append(command)
        return "ok"

    assert bash("ls") == "ok"
    with pytest.raises(ActionDeniedError) as denied:
        bash("rm -rf ~")
    assert denied.value.verdict.action_class == "destroy"
    with pytest.raises(ApprovalRequiredError):
        bash("git push")
    assert ran == ["ls"]

    asked: list[str] = []

    def two_approvers(v: Verdict) -> list[str]:
        asked.append(v.action_class)
        return ["alice", "bob"]

    @gate.guard(approver=two_approvers)
    def cancel_reservation(reservation_id: str) -> str:
        return reservation_id

    assert cancel_reservation(reservation_id="R1") == "R1"
    assert asked == ["commit"]

    @gate.guard(approver=lambda v: [])
    def send_certificate(user_id: str) -> str:
        return user_id

    with pytest.raises(ApprovalRequiredError):
        send_certificate(user_id="u")


def test_context_manager_binds_the_session_and_flushes(schedule: Schedule) -> None:
    ledger = Ledger(":memory:")
    gate = Gate(schedule, ledger, flush_every=100)
    with gate.session("agent-7", sandboxed=False) as s:
        s.approve(s.check("npx jest"), scope="session")
        assert s.check("npx jest").decision == "allow"
        assert ledger.count() == 0  # buffered
    assert ledger.count() == 3  # flushed on exit
    assert (
        Gate(schedule).check("npx jest", GateContext(session_id="agent-7", sandboxed=False)).decision == "ask"
    )


def test_every_verdict_is_a_ledger_row_of_layer_action(schedule: Schedule) -> None:
    ledger = Ledger(":memory:")
    gate = Gate(schedule, ledger)
    ctx = GateContext(session_id="s", request_id="task-1", tenant="acme", time_s=12.5)
    v_allow = gate.check("cat README.md", ctx)
    v_ask = gate.check({"name": "book_reservation", "arguments": {"user_id": "u"}}, ctx)
    v_deny = gate.check("rm -rf /", ctx)
    assert ledger.count() == 0 and gate.flush() == 3  # a database ledger is written in batches
    rows = list(ledger.decisions("task-1"))
    assert len(rows) == 3 and ledger.count() == 3
    by_id = {r.decision_id: r for r in rows}
    for v, chosen in ((v_allow, "act"), (v_ask, "ask"), (v_deny, None)):
        row = by_id[v.decision_id]
        assert row.layer.value == "action"
        assert row.chosen_name == chosen
        assert row.tenant == "acme" and row.time_s == 12.5
        assert row.metadata["verdict"] == v.decision
        assert row.metadata["action_class"] == v.action_class
    ask_row = by_id[v_ask.decision_id]
    assert ask_row.prices.rho_usd == schedule.classes["transfer"].rho_usd
    assert ask_row.candidates[0].surplus_usd == pytest.approx(-v_ask.price_usd)
    assert ask_row.candidates[1].dc_usd == schedule.ask_cost_usd
    assert json.loads(json.dumps(dict(ask_row.metadata)))["tool"] == "book_reservation"


def test_call_coercion_accepts_openai_form_and_rejects_garbage() -> None:
    c = Call.of({"function": {"name": "get_user_details", "arguments": '{"user_id": "u1"}'}})
    assert c == Call("get_user_details", {"user_id": "u1"})
    assert Call.of("ls").tool == "bash"
    with pytest.raises(ValidationError, match="arguments of tool call 'x' are not JSON"):
        Call.of({"name": "x", "arguments": "{oops"})
    with pytest.raises(ValidationError, match="a call must be"):
        Call.of(42)  # type: ignore[arg-type]


def test_bad_gate_parameters_raise() -> None:
    sched = load_schedule()
    with pytest.raises(ValidationError, match="mode must be"):
        Gate(sched, mode="yolo")
    with pytest.raises(ValidationError, match="flush_every"):
        Gate(sched, flush_every=0)
    with pytest.raises(ValidationError, match="p_harm"):
        GateContext(p_harm=2.0)


def test_bad_schedule_file_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "s.toml"
    bad.write_text(_default_text().replace('scope = "session"', 'scope = "weekly"', 1))
    with pytest.raises(SchemaError) as err:
        load_schedule(bad)
    msg = str(err.value)
    assert str(bad) in msg and "scope='weekly'" in msg
    line = int(msg.split("line ")[1].split(":")[0])
    assert bad.read_text().splitlines()[line - 1].strip() == 'scope = "weekly"'
    with pytest.raises(SchemaError, match="schedule file not found"):
        load_schedule(tmp_path / "missing.toml")


def _default_text() -> str:
    from importlib import resources

    return (resources.files("tokenomy.interfaces") / "resources" / "default_schedule.toml").read_text()


def test_cli_schedule_prints_the_schedule_and_a_bad_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tokenomy.interfaces.cli import main

    out_json = tmp_path / "s.json"
    assert main(["agent", "schedule", "--json", str(out_json)]) == 0
    shown = capsys.readouterr().out
    assert "multi_party" in shown and "delete_remote" in shown and "unknown actions → confirm" in shown
    assert "workspace_trust=True" in shown
    shown_json = json.loads(out_json.read_text())
    assert {r["class"] for r in shown_json["classes"]} >= {"read", "commit", "destroy"}
    assert shown_json["workspace_trust"] is True
    bad = tmp_path / "bad.toml"
    bad.write_text(_default_text().replace('level = "deny"', 'level = "nope"'))
    assert main(["agent", "schedule", "--schedule", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "line " in err and "level='nope'" in err
    assert main(["agent", "tau", "--rho", "1,x"]) == 2
    assert "--rho must be comma-separated numbers" in capsys.readouterr().err


def test_gate_on_the_real_runs_asks_for_every_commit_and_allows_the_rest(
    schedule: Schedule, need_data: object
) -> None:
    from tokenomy.interfaces.loaders.agent_data import load_miniswe, load_taubench

    root = need_data("agent")  # type: ignore[operator]
    gate = Gate(schedule)
    tau = [(c, gate.check(c)) for e in load_taubench(root, raw=True) for c in e.calls]
    assert {v.decision for c, v in tau if c.autonomy_class == "commit"} == {"ask"}
    assert {v.decision for c, v in tau if c.autonomy_class != "commit"} == {"allow"}
    swe = load_miniswe(root, instance_ids=frozenset({"django__django-11099", "sympy__sympy-20590"}))
    verdicts = [gate.check(s.command) for t in swe for s in t.steps if s.command]
    assert sum(v.decision == "ask" and v.action_class == "commit" for v in verdicts) == 2  # the submits
    assert all(v.decision != "deny" for v in verdicts)
