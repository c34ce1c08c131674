"""The gate's faster text paths give the answers of the forms they replace.

A text with nothing to cut is split without the general scan; a bare word skips quote removal; the
heredoc body a session writes is found with the splitter's terminator expression; inline code is scanned
in place; the two word tests of the session relevance check run as one expression; the simple-command
memo evicts its oldest entry first. Each is compared with its reference (the replaced form, kept here)
on the adversarial suite's commands and random shell-character soup, so a change of answer fails.
"""

from __future__ import annotations

import contextlib
import random
import re
import shlex
import sys
from pathlib import Path

from tokenomy.autonomy import classify_inline, shell
from tokenomy.autonomy import session_scan as scan
from tokenomy.autonomy.classify import _run_text
from tokenomy.autonomy.classify_cache import ClassifyCache
from tokenomy.autonomy.classify_embedded import STRING_RE, string_literals
from tokenomy.autonomy.session_files import _heredoc_body

sys.path.insert(0, str(Path(__file__).parent))
from gate_suite import benign_cases, dangerous_cases


def _texts(seed: int, n: int, alphabet: list[str]) -> list[str]:
    out: set[str] = set()
    for _, _, c in [*dangerous_cases(), *benign_cases()]:
        cmd = c if isinstance(c, str) else None
        if isinstance(c, dict) and isinstance(c.get("arguments"), dict):
            got = c["arguments"].get("command")
            cmd = got if isinstance(got, str) else None
        if cmd is not None:
            out.add(cmd)
    rnd = random.Random(seed)
    for _ in range(n):
        out.add("".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 10))))
    return sorted(out)


SHELL_SOUP = _texts(
    11,
    20_000,
    [*"ab $()<>'\"`\\#&|;\n{}=-/.\t", "case ", "esac", " in ", "if ", "then ", "for x in y", "<<EOF\n", "EOF",
     "cd ", "rm ", "tee ", "python3 ", "./x", "read ", "sh ", "ln ", "x)", ";;", "{ ", " }"],
)  # fmt: skip


def test_one_command_shortcut_splits_as_the_general_scan() -> None:
    wrong = [t for t in SHELL_SOUP if shell._split_parts.__wrapped__(t) != shell._split_any(t)]
    assert not wrong, f"{len(wrong)} texts differ, e.g. {wrong[:3]!r}"
    shortcut = [t for t in SHELL_SOUP if "<<" not in t and shell._NEXT_PLAIN.search(t) is None]
    assert len(shortcut) > 100  # the corpus takes the shortcut often


def test_words_match_quote_removal_of_every_token() -> None:
    for t in SHELL_SOUP:
        tokens = []
        for m in shell._TOKEN.finditer(t):
            if m.group(1) is not None:
                break
            tokens.append(shell._unquote(m.group()))
        else:
            assert shell._split_words(t) == tokens, t
            with contextlib.suppress(ValueError):  # (shlex refuses some texts the loop reads)
                assert tokens == shlex.split(t, comments=False, posix=True), t


def _heredoc_body_reference(item: str) -> str:
    lines = item.split("\n")
    m = re.search(r"<<-?\s*(['\"]?)([A-Za-z_]\w*)\1", lines[0])
    if m is None:
        return ""
    body = []
    for line in lines[1:]:
        if line.strip() == m.group(2):
            break
        body.append(line)
    return "\n".join(body)


def test_heredoc_body_is_the_line_scans() -> None:
    rnd = random.Random(5)
    pieces = [
        "EOF",
        " EOF ",
        "\tEOF\r",
        "x",
        "",
        "<<'EOF'",
        "<<EOF",
        "<< EOF",
        "<<-X",
        "X",
        "cat ",
        "EOFX",
        "\n",
    ]
    texts = ["".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 12))) for _ in range(30_000)]
    wrong = [t for t in texts if _heredoc_body(t) != _heredoc_body_reference(t)]
    assert not wrong, wrong[:3]
    assert _heredoc_body("cat <<'EOF' > a.py\nprint(1)\n  EOF\nrest") == "print(1)"


def _code_commands_reference(code: str, backticks: bool) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for m in classify_inline._CALL.finditer(code):
        rest = code[m.end() :]
        if m.group(2):
            words = string_literals(rest.split("]", 1)[0])
            if words:
                found.append(_run_text(" ".join(shlex.quote(w) for w in words)))
        else:
            lit = re.match(STRING_RE, rest)
            if lit:
                found.append(_run_text(lit.group(1) if lit.group(1) is not None else lit.group(2) or ""))
    for m in re.finditer(r"`([^`]*)`|\bqx\s*[{(/]([^})/]*)[})/]|%x\(([^)]*)\)", code if backticks else ""):
        found.append(_run_text(next(g for g in m.groups() if g is not None)))
    for m in classify_inline._DELETE_CALL.finditer(code):
        lit = re.match(STRING_RE, code[m.end() :])
        if lit:
            path = lit.group(1) if lit.group(1) is not None else lit.group(2) or ""
            found.append(_run_text("rm -r " + shlex.quote(path)))
    if re.search(
        r"\bfork\b\s*(while|until)\s*\bfork\b|while\s*\(?\s*(1|true|True)\s*\)?\s*[:{]?\s*\S*fork", code
    ):
        found.append(("destroy", "fork bomb"))
    return found


def test_inline_code_scan_in_place_finds_what_the_tail_copies_found() -> None:
    rnd = random.Random(9)
    pieces = ["os.system(", "subprocess.run([", "shutil.rmtree(", "os.remove(", "'rm -rf /'", '"ls"', "]", ")",
              "fork", " while(1){ fork }", "`ls`", "qx(ls)", "print(", "x", " ", "\n", "'", '"', ", ", "unlink("]  # fmt: skip
    texts = ["".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 8))) for _ in range(6_000)]
    hits = 0
    for t in texts:
        for bt in (False, True):
            got = classify_inline._code_commands(t, _run_text, bt)
            assert got == _code_commands_reference(t, bt), (t, bt)
            hits += bool(got)
    assert hits > 1000


def test_one_pass_word_test_is_both_word_tests() -> None:
    for t in SHELL_SOUP:
        padded = " " + t
        state, files = scan._STATE_WORD.search(padded), scan._FILE_WORD.search(padded)
        assert scan.state_or_file_word(t) == (state is not None or files is not None), t
        assert scan.changes_state(t) == (state is not None or scan.changes_state(t, words=False)), t
        assert scan.touches_files(t) == (files is not None or scan.touches_files(t, words=False)), t
        if scan.copies_files(t):  # (why the relevance check may skip the copy test when files are tracked)
            assert files is not None, t


def test_simple_command_memo_evicts_oldest_first_and_stays_bounded() -> None:
    memo = ClassifyCache(max_entries=4)
    from tokenomy.interfaces.loaders.agent_data import load_schedule

    schedule = load_schedule()
    for i in range(40):
        memo.classify("bash", {"command": f"echo {i}"}, schedule, None)
    assert len(memo._parts) == 8 and len(memo._memo) == 4
    assert [k[0] for k in memo._parts] == [f"echo {i}" for i in range(32, 40)]
