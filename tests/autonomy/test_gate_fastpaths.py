"""The gate's fast text paths give the answers of the slower forms they replace.

``session_scan``'s relevance tests are each one regular expression split into alternatives with
substring gates; ``shell._split_top`` copies runs of ordinary characters whole instead of one at a time;
the gate caches classifications of identical calls. Each is checked against its reference on the
adversarial suite's commands, the tests' strings and random shell-character soup.
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import pytest

from tokenomy.autonomy import session_scan as scan
from tokenomy.autonomy import shell

sys.path.insert(0, str(Path(__file__).parent))
from gate_suite import BENIGN_SCENARIOS, DANGEROUS_SCENARIOS, benign_cases, dangerous_cases

# The reference expressions (the form the fast tests replace).
REFERENCE = {
    "changes_state": re.compile(
        r"(^|[\s;&|(/])(cd|pushd|popd|alias|unalias|export|declare|typeset|local|readonly|unset|read|tee)(\s|$)"
        r"|(^|[\s;&|(])[A-Za-z_]\w*=|>(?!&|\s*/dev/null)|\(\)|(^|\s)function\s|(curl|wget)\s.*-[oO]\b"
        r"|(python[\d.]*|node|perl|ruby|php)\b[^\n]*<<|\|\s*(python[\d.]*|node|perl|ruby|php)\b"
        r"|(python[\d.]*|node|perl|ruby|php)\s+-[a-zA-Z]*[ce]\s|(^|[\s;&|(/])(cp|install|dd)\s[^\n]*(/dev/|/proc/|of=)"
        r"|(^|[\s;&|(/])(wget|curl)\s[^\n]*(://|-O)"
    ),
    "touches_files": re.compile(
        r"(^|[\s;&|(/])(mv|cp|install|ln|rm|unlink|source|bash|sh|zsh|dash|ksh|python[\d.]*|node|ruby|\.)"
        r"(\s|$)|(^|[;&|(\n])\s*(exec\s+|nohup\s+|env\s+)?(\./|/\S)|(^|[\s;&|(/])(sed|perl)\s[^|;&\n]*\s-[a-zA-Z]*i"
    ),
    "runs_git": re.compile(r"(^|[\s;&|(/])git\s"),
    "copies_files": re.compile(r"(^|[\s;&|(/])(mv|cp|install|ln)\s"),
    "sends_network": re.compile(
        r"(^|[\s;&|(/])(curl|wget|nc|ncat|netcat|socat|telnet|scp|sftp|rsync|ftp|gh|http|https|xh|ssh|aws|gsutil)"
        r"(\s|$)|/dev/(tcp|udp)/"
    ),
}


def _texts() -> list[str]:
    out: set[str] = set()

    def add(call: object) -> None:
        if isinstance(call, str):
            out.add(call)
        elif isinstance(call, dict):
            args = call.get("arguments", {})
            cmd = args.get("command") if isinstance(args, dict) else None
            if isinstance(cmd, str):
                out.add(cmd)

    for _, _, c in [*dangerous_cases(), *benign_cases()]:
        add(c)
    for _, calls in (*DANGEROUS_SCENARIOS, *BENIGN_SCENARIOS):
        for c in calls:
            add(c)
    rnd = random.Random(7)
    alphabet = [
        *"ab $()<>'\"`\\#&|;\n{}=-/.",
        "cd ", "git ", "curl ", "cp ", "python3 -c ", "sed -i ", "/dev/tcp/", "function ", "export ", " of=",
        "<<EOF\n", "rm ", "./x", "ssh ", "tee ", "mv ", "node ", "X=1 ", "dd ", "-O ", "://",
    ]  # fmt: skip
    for _ in range(20_000):
        out.add("".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 14))))
    return sorted(out)


TEXTS = _texts()


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_relevance_tests_match_their_reference_expression(name: str) -> None:
    fast = getattr(scan, name)
    wrong = [t for t in TEXTS if fast(t) != (REFERENCE[name].search(t) is not None)]
    assert not wrong, f"{name} differs from its reference on {len(wrong)} texts, e.g. {wrong[:3]!r}"
    hits = sum(fast(t) for t in TEXTS)
    assert 0 < hits < len(TEXTS)  # the corpus exercises both answers


def _split_top_reference(text: str) -> list[tuple[str, str | None]]:
    """The character-at-a-time scan the fast ``_split_top`` replaces (substitutions through the fast one)."""
    parts: list[tuple[str, str | None]] = []
    buf: list[str] = []
    i, n = 0, len(text)
    quote = ""
    piped_from: str | None = None

    def cut(sep: str) -> None:
        nonlocal buf, piped_from
        simple = shell._clean("".join(buf))
        buf = []
        if simple:
            parts.append((simple, piped_from))
        piped_from = simple if sep == "|" and simple else None

    while i < n:
        ch = text[i]
        if quote == "'":
            buf.append(ch)
            quote = "" if ch == "'" else quote
        elif ch == "\\" and i + 1 < n:
            if text[i + 1] != "\n":
                buf.append(text[i : i + 2])
            i += 1
        elif ch in "$<>" and i + 1 < n and text[i + 1] == "(":
            j = shell._matching(text, i + 2)
            inner = text[i + 2 : j - 1]
            subs = (
                shell._split_sub(inner)
                if not (ch == "$" and inner.startswith("("))
                else shell._arith_substs(inner)
            )
            parts.extend((p.text, p.upstream) for p in subs)
            buf.append(shell.SUBST)
            i = j - 1
        elif ch == "`":
            j = text.find("`", i + 1)
            j = n if j < 0 else j
            parts.extend((p.text, p.upstream) for p in shell._split_sub(text[i + 1 : j]))
            buf.append(shell.SUBST)
            i = j
        elif quote == '"':
            buf.append(ch)
            quote = "" if ch == '"' else quote
        elif ch in "'\"":
            quote = ch
            buf.append(ch)
        elif ch == "#" and (not buf or buf[-1] in " \t\n;&|("):
            while i < n and text[i] != "\n":
                i += 1
            continue
        elif ch == "&" and ((buf and buf[-1] in "<>") or text[i + 1 : i + 2] == ">"):
            buf.append(ch)
        elif ch == "|" and text[i + 1 : i + 2] == "|":
            cut("||")
            i += 1
        elif ch == "|":
            cut("|")
        elif ch in ";\n&":
            cut(ch)
        elif ch in "()":
            buf.append(" ")
        else:
            buf.append(ch)
        i += 1
    cut("")
    return parts


def test_split_top_matches_the_character_scan() -> None:
    wrong = [
        t for t in TEXTS if [(p.text, p.upstream) for p in shell._split_top(t)] != _split_top_reference(t)
    ]
    assert not wrong, f"_split_top differs on {len(wrong)} texts, e.g. {wrong[:3]!r}"


# -- the classification memo ------------------------------------------------------------------------------
def _suite_sessions() -> list[tuple[object, ...]]:
    singles = [(c,) for _, _, c in [*dangerous_cases(), *benign_cases()]]
    return [*singles, *(calls for _, calls in (*DANGEROUS_SCENARIOS, *BENIGN_SCENARIOS))]


@pytest.mark.parametrize("sandboxed", [None, True])
def test_memo_changes_no_verdict_on_the_suite(sandboxed: bool | None) -> None:
    from tokenomy.autonomy.gate import Gate, GateContext
    from tokenomy.interfaces.loaders.agent_data import load_schedule

    schedule = load_schedule()
    memo, fresh = Gate(schedule), Gate(schedule, memo_entries=0)
    for i, calls in enumerate(_suite_sessions() * 2):  # twice: the second pass is answered by the memo
        ctx = GateContext(session_id=f"s{i}", sandboxed=sandboxed)
        for c in calls:
            a, b = memo.check(c, ctx), fresh.check(c, ctx)  # type: ignore[arg-type]
            assert (a.decision, a.action_class, a.reason) == (b.decision, b.action_class, b.reason), c
    assert memo.memo.hits > 1000 and fresh.memo.hits == 0


def test_memo_keys_on_the_working_directory_and_the_tool() -> None:
    from tokenomy.autonomy.gate import Gate, GateContext
    from tokenomy.interfaces.loaders.agent_data import load_schedule

    gate = Gate(load_schedule())
    project = GateContext(session_id="a", sandboxed=True)
    assert gate.check("rm -rf *", project).decision == "allow"
    root = GateContext(session_id="b", sandboxed=True)
    gate.check("cd /", root)
    assert gate.check("rm -rf *", root).decision != "allow"  # same text, another directory
    for path, want in (("notes.txt", "allow"), ("/etc/passwd", "deny")):  # not a shell tool: all arguments
        call = {"name": "write_file", "arguments": {"command": "x", "path": path, "content": "x"}}
        assert gate.check(call, GateContext(session_id=path, sandboxed=False)).decision == want


def test_memo_is_bounded_and_follows_the_schedule() -> None:
    from tokenomy.autonomy.classify_cache import ClassifyCache
    from tokenomy.interfaces.loaders.agent_data import load_schedule

    memo = ClassifyCache(max_entries=3)
    one, other = load_schedule(), load_schedule()
    for i in range(10):
        memo.classify("bash", {"command": f"ls {i}"}, one, None)
    assert len(memo._memo) == 3 and memo.misses == 10
    memo.classify("bash", {"command": "ls 9"}, one, None)
    assert memo.hits == 1
    memo.classify("bash", {"command": "ls 9"}, other, None)  # another schedule object: start over
    assert memo.hits == 1 and len(memo._memo) == 1


# -- buffered verdict writing --------------------------------------------------------------------------------
def test_a_database_ledger_is_written_in_batches_and_other_sinks_at_once() -> None:
    from tokenomy.autonomy.gate import Gate, GateContext
    from tokenomy.interfaces.loaders.agent_data import load_schedule
    from tokenomy.ledger import Ledger

    schedule = load_schedule()
    ledger = Ledger(":memory:")
    gate = Gate(schedule, ledger)
    assert gate.flush_every == 256
    for i in range(300):
        gate.check(f"ls {i}", GateContext(session_id="s"))
    assert ledger.count() == 256  # one batch written, 44 waiting
    gate.end_session("s")
    assert ledger.count() == 300
    stale = Gate(schedule, Ledger(":memory:"), flush_after_s=0.0)  # nothing may wait
    stale.check("ls", GateContext(session_id="s"))
    assert stale.ledger is not None and stale.ledger.count() == 1  # type: ignore[attr-defined]

    class Sink(list[object]):
        def append(self, decisions: object) -> None:  # type: ignore[override]
            self.extend(decisions)  # type: ignore[arg-type]

    sink = Sink()
    Gate(schedule, sink).check("ls", GateContext(session_id="s"))
    assert len(sink) == 1


def test_path_hint_matches_its_expression() -> None:
    from tokenomy.autonomy import classify_paths as pth

    texts = [*TEXTS, "~/.bashrc", "/etc/rc.local", "x rc", "src", "Login Data", "a.pem"]
    wrong = [t for t in texts if pth.mentions_sensitive.__wrapped__(t) != (pth._HINT.search(t) is not None)]
    assert not wrong, wrong[:3]
    assert pth.mentions_sensitive("cat ~/.ssh/id_rsa") and not pth.mentions_sensitive("ls docs")


def _skip_heredocs_reference(text: str, i: int, tags: list[str]) -> int:
    for tag in tags:
        while i < len(text):
            j = text.find("\n", i + 1)
            line = text[i + 1 : j if j >= 0 else len(text)]
            i = j if j >= 0 else len(text)
            if line.strip() == tag:
                break
    return i


def test_heredoc_terminators_are_found_as_by_the_line_scan() -> None:
    rnd = random.Random(3)
    pieces = ["a", " ", "\n", "EOF", " EOF ", "\t", "\r", "X", "EOFX", "\n\n", "cat <<EOF\n"]
    texts = ["".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 20))) for _ in range(5_000)]
    for t in texts:
        for i in [k for k, ch in enumerate(t) if ch == "\n"][:3]:
            for tags in (["EOF"], ["X", "EOF"]):
                assert scan._skip_heredocs(t, i, tags) == _skip_heredocs_reference(t, i, tags), (t, i, tags)


def _unquote_by_pieces(token: str) -> str:
    """The reference form of ``shell._unquote``: piece by piece (its one-quoted-piece slice skips this)."""
    out = []
    for m in shell._PIECE.finditer(token):
        sq, dq, esc, bare = m.groups()
        if sq is not None:
            out.append(sq)
        elif dq is not None:
            out.append(shell._DQ_ESCAPE.sub(r"\1", dq) if "\\" in dq else dq)
        else:
            out.append(esc if esc is not None else bare)
    return "".join(out)


def test_unquote_equals_its_piece_by_piece_reference_on_random_tokens() -> None:
    rng = random.Random(0)
    alphabet = ["'", '"', "\\", "a", "b", " ", "$", "`", "\n", "x"]
    checked = 0
    for _ in range(60_000):
        t = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
        m = shell._TOKEN.fullmatch(t)
        if m is None or m.group(1) is not None:
            continue  # only whole tokens reach _unquote (a stray quote goes to shlex)
        checked += 1
        assert shell._unquote(t) == _unquote_by_pieces(t), t
    assert checked > 10_000
    for t in ("'a\"b'", '"it\'s"', "''", '""', "'a\\b'", '"a\\"b"', "'a''b'", '"a"b'):
        assert shell._unquote(t) == _unquote_by_pieces(t), t
