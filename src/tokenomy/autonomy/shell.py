"""Split a shell command into the simple commands it would run (the classifier's first step).

Prefix matching alone is escapable (``cd x && rm -rf /``), so :func:`split_parts` cuts a command at
every unquoted ``;`` ``&&`` ``||`` ``|`` ``&`` and newline, pulls out command substitutions ``$(…)``
and backticks and process substitutions ``<(…)`` / ``>(…)``, drops subshell and group brackets
(``( … )``, ``{ …; }``) and control keywords (``if … then … fi``, ``for … do … done``), and treats
heredoc bodies as data unless a shell reads them (``bash <<EOF``), in which case they are commands.
Every part remembers the part that pipes into it, so ``echo 'rm -rf /' | sh`` can be judged by what
the shell is fed. Line continuations follow POSIX quoting: backslash-newline is removed outside quotes
and inside ``"…"`` (and in the body of an unquoted ``<<EOF``), but inside ``'…'`` (and a ``<<'EOF'``
body) the backslash is literal and the newline stays, so ``sed -i '280a\\<newline>text'`` keeps its
text block as sed sees it. This is a tokenizer, not a shell grammar: it does not expand variables or
aliases, and a heredoc operator on a continued line is looked for on its physical line.
:func:`words` splits one simple command into words with POSIX quote removal (shlex's result,
faster) and :func:`redirects` lists the files its unquoted redirections name.
"""

from __future__ import annotations

import functools
import re
import shlex
from dataclasses import dataclass

__all__ = ["REDIRECT_WORD", "SHELLS", "SUBST", "Part", "redirects", "split_parts", "split_shell", "words"]

SHELLS = frozenset(["bash", "sh", "zsh", "dash", "ksh"])
_KEYWORDS = frozenset(
    ["if", "then", "else", "elif", "fi", "do", "done", "while", "until", "esac", "function", "!", "time"]
)
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
SUBST = "SUBST"
"""Placeholder left where a substitution was cut out (a program named SUBST is computed at run time)."""


@dataclass(frozen=True, slots=True)
class Part:
    """One simple command of a compound command.

    Attributes:
        text: the simple command (keywords and brackets removed).
        upstream: the part whose output is piped into this one (``a | b``: ``a`` for ``b``), or None.
    """

    text: str
    upstream: str | None = None


def _continues(line: str) -> bool:
    """Whether ``line`` ends in a line continuation (an odd run of backslashes: ``\\\\`` is a literal one)."""
    return (len(line) - len(line.rstrip("\\"))) % 2 == 1


def _heredoc_bodies(text: str) -> tuple[str, list[tuple[str, str]]]:
    """Remove heredoc bodies; return the text without them and (reader line, body) pairs."""
    if "<<" not in text:
        return text, []
    lines = text.split("\n")
    out: list[str] = []
    bodies: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        for m in _HEREDOC.finditer(line):
            tag, literal = m.group(2), bool(m.group(1))
            body: list[str] = []
            while i < len(lines) and lines[i].strip() != tag:
                body.append(lines[i])
                i += 1
                # <<EOF (unquoted tag): backslash-newline joins lines, so the next one cannot end it
                while not literal and _continues(body[-1]) and i < len(lines):
                    body.append(lines[i])
                    i += 1
            i += 1  # skip the terminator
            bodies.append((line, "\n".join(body)))
    return "\n".join(out), bodies


def _reader_is_shell(reader_line: str) -> bool:
    """Whether the command that reads a heredoc is a shell (``bash <<EOF``, ``sudo sh -s <<EOF``)."""
    for simple in _split_top(reader_line):
        words = simple.text.split()
        while words and (words[0] in ("sudo", "env", "exec", "command") or "=" in words[0]):
            words = words[1:]
        if words and words[0].rsplit("/", 1)[-1] in SHELLS and "<<" in simple.text:
            return True
    return False


def split_parts(command: str) -> list[Part]:
    """Split ``command`` into its simple commands (see :func:`_split_parts`; the last 64 are cached:
    the gate's session state and the classifier split the same text)."""
    return list(_split_parts(command))


@functools.lru_cache(maxsize=64)
def _split_parts(command: str) -> tuple[Part, ...]:
    """Split ``command`` into its simple commands, in textual order, with their pipe upstreams.

    Args:
        command: the command text as the agent issued it.

    Returns:
        The parts; heredoc bodies fed to a shell are included (as commands), other heredoc bodies
        (file contents) are not; the contents of substitutions come before the part that uses them.
    """
    if "<<" not in command and _NEXT_PLAIN.search(command) is None and "esac" not in command:
        simple = _clean(command)  # one simple command: nothing to cut, no heredoc, no case arms
        return (Part(simple),) if simple.strip() else ()
    return _split_any(command)


def _split_any(command: str) -> tuple[Part, ...]:
    """:func:`_split_parts` without its shortcut for a text with nothing to cut."""
    text, bodies = _heredoc_bodies(command)
    if "case" in text and "esac" in text:
        text = _CASE.sub(_case_arms, text)
    parts = _split_top(text)
    for reader, body in bodies:
        if _reader_is_shell(reader):
            parts.extend(split_parts(body))
    return tuple(p for p in parts if p.text.strip())


_CASE = re.compile(r"(?<![^\s;&|(])case\s.*?\besac\b", re.DOTALL)
_CASE_HEAD = re.compile(r"""^case\s+(?:"[^"]*"|'[^']*'|[^\s'"`])+\s+in\b""")
_CASE_ARM = re.compile(r"""\s*\(?\s*[^()\s;|'"`\\]+(\s*\|\s*[^()\s;|'"`\\]+)*\s*\)""")
# (a pattern with a quote or escape is left alone: removing text must never change quoting)


def _case_arms(m: re.Match[str]) -> str:
    """``case W in a) cmd;; b|c) cmd2;; esac`` -> ``; cmd ; cmd2 ; esac``: the arms' commands run, so they
    are split like any list (``case W in`` and each arm's pattern run nothing). Arms end at ``;;``
    (``;&``, ``;;&``) only: a ``(cmd)`` after a single ``;`` inside an arm is a subshell and stays."""
    span = m.group()
    head = _CASE_HEAD.match(span)
    if head is None:
        return span
    arms = re.split(r";;&|;;|;&", span[head.end() :])
    kept = []
    for arm in arms:
        pattern = _CASE_ARM.match(arm)
        kept.append(arm[pattern.end() :] if pattern else arm)
    return "; " + " ; ".join(kept)


def split_shell(command: str) -> list[str]:
    """The simple commands of ``command`` as text (see :func:`split_parts`)."""
    return [p.text for p in split_parts(command)]


def _matching(text: str, start: int) -> int:
    """Index just past the ``)`` that closes the ``(`` at ``start - 1`` (quotes respected)."""
    depth, j, n, quote = 1, start, len(text), ""
    while j < n and depth:
        ch = text[j]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        j += 1
    return j


_FUNC_BODY = re.compile(r"^[\w.:-]+\s+\{\s+(.*)$")
_LOOP_HEAD = re.compile(r"^(for|select)\s+\w+(\s+in\b.*)?$")
_CASE_IN = re.compile(r"^case\b.*?\bin\b\s*(.*)$", re.DOTALL)


def _clean(simple: str) -> str:
    """Drop group brackets and leading control keywords; a ``for x in …`` header runs nothing."""
    words = simple.strip().split(None, 1)
    while words and (words[0] in _KEYWORDS or words[0] in ("{", "}")):
        words = words[1].split(None, 1) if len(words) > 1 else []
    rest = " ".join(words).strip()
    if rest.endswith(" }") or rest == "}":
        rest = rest[:-1].strip()
    if "{" in rest:
        func = _FUNC_BODY.match(rest)  # name() { body; }: the body runs
        if func:
            rest = func.group(1)
    if (rest.startswith(("for", "select")) and _LOOP_HEAD.match(rest)) or rest in ("in",):
        return ""
    case = _CASE_IN.match(rest) if rest.startswith("case") else None
    if case is not None:  # a case the arm rewrite did not read: what follows `in` is kept (fail closed)
        return case.group(1)
    return rest


# The characters _split_top must look at, by quoting state; everything between them is copied as is.
_NEXT_PLAIN = re.compile(r"""\\[\s\S]|[$<>]\(|[`'"#&|;\n()]""")
_NEXT_DQ = re.compile(r"""\\[\s\S]|[$<>]\(|[`"]""")


def _split_top(text: str) -> list[Part]:
    """Cut ``text`` into simple commands (one scan; runs of ordinary characters are copied whole).

    ``last`` is the element most recently added to the current command's buffer exactly as a
    character-by-character scan would have added it (one character, an escape pair, or ``SUBST``), so
    the comment and ``&`` rules see what they would see in such a scan.
    """
    parts: list[Part] = []
    buf: list[str] = []
    last = ""  # "" when buf is empty
    i, n = 0, len(text)
    quote = ""
    piped_from: str | None = None

    def cut(sep: str) -> None:
        nonlocal buf, piped_from, last
        simple = _clean("".join(buf))
        buf = []
        last = ""
        if simple:
            parts.append(Part(simple, piped_from))
        piped_from = simple if sep == "|" and simple else None

    while i < n:
        if quote == "'":
            j = text.find("'", i)
            j = n - 1 if j < 0 else j
            buf.append(text[i : j + 1])
            last = text[j]
            quote = "" if text[j] == "'" else quote
            i = j + 1
            continue
        m = (_NEXT_DQ if quote == '"' else _NEXT_PLAIN).search(text, i)
        if m is None:
            if i < n:
                buf.append(text[i:])
                last = text[-1]
            break
        j = m.start()
        if j > i:
            buf.append(text[i:j])
            last = text[j - 1]
            i = j
        ch = text[i]
        if ch == "\\":  # (matched with the character after it)
            if text[i + 1] != "\n":  # backslash-newline (unquoted or in "…") is a line continuation
                buf.append(text[i : i + 2])
                last = text[i : i + 2]
            i += 1
        elif ch in "$<>":  # (matched with the "(" after it)
            j = _matching(text, i + 2)
            inner = text[i + 2 : j - 1]
            if not (ch == "$" and inner.startswith("(")):
                parts.extend(_split_sub(inner))
            else:  # $((arithmetic)) is not a command, but a $(…) or `…` inside it runs
                parts.extend(_arith_substs(inner))
            buf.append(SUBST)
            last = SUBST
            i = j - 1
        elif ch == "`":
            j = text.find("`", i + 1)
            j = n if j < 0 else j
            parts.extend(_split_sub(text[i + 1 : j]))
            buf.append(SUBST)
            last = SUBST
            i = j
        elif quote == '"':  # the closing quote
            buf.append(ch)
            last = ch
            quote = ""
        elif ch in "'\"":
            quote = ch
            buf.append(ch)
            last = ch
        elif ch == "#" and (not last or last in " \t\n;&|("):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif ch == "#":
            buf.append(ch)
            last = ch
        elif ch == "&" and ((last and last in "<>") or text[i + 1 : i + 2] == ">"):
            buf.append(ch)  # 2>&1, &>file: a redirect, not a separator
            last = ch
        elif ch == "|" and text[i + 1 : i + 2] == "|":
            cut("||")
            i += 1
        elif ch == "|":
            cut("|")
        elif ch in ";\n&":
            cut(ch)
        else:  # ( or ): subshell parentheses
            buf.append(" ")
            last = " "
        i += 1
    cut("")
    return parts


def _arith_substs(expr: str) -> list[Part]:
    """The commands substituted inside an arithmetic expression (``$(( $(cmd) + 1 ))``)."""
    parts: list[Part] = []
    i = 0
    while True:
        m = re.compile(r"\$\(|`").search(expr, i)
        if m is None:
            return parts
        if m.group() == "`":
            j = expr.find("`", m.end())
            j = len(expr) if j < 0 else j
            parts.extend(_split_sub(expr[m.end() : j]))
            i = j + 1
            continue
        j = _matching(expr, m.end())
        inner = expr[m.end() : j - 1]
        parts.extend(_arith_substs(inner) if inner.startswith("(") else _split_sub(inner))
        i = j


def _split_sub(inner: str) -> list[Part]:
    return split_parts(inner)


REDIRECT_WORD = re.compile(r"^\d*(>>?|<|&>)(&?\d+)?$")
"""A word that is a redirection operator (``>``, ``2>``, ``>&2``): never a program or an operand."""
_NEEDS_SHLEX = re.compile(r"['\"\\]")
_TOKEN = re.compile(r"""(?:[^\s'"\\]+|'[^']*'|"(?:\\.|[^"\\])*"|\\.)+|(\S)""", re.DOTALL)
_PIECE = re.compile(r"""'([^']*)'|"((?:\\.|[^"\\])*)"|\\(.)|([^'"\\]+)""", re.DOTALL)
_DQ_ESCAPE = re.compile(r"\\([\"\\])")  # as shlex: in "…" only \" and \\ are escapes


def _unquote(token: str) -> str:
    q = token[0]
    if (q == "'" or (q == '"' and "\\" not in token)) and token[-1] == q and token.count(q) == 2:
        return token[1:-1]  # one quoted piece: its text (no escapes inside it)
    out = []
    for m in _PIECE.finditer(token):
        sq, dq, esc, bare = m.groups()
        if sq is not None:
            out.append(sq)
        elif dq is not None:
            out.append(_DQ_ESCAPE.sub(r"\1", dq) if "\\" in dq else dq)
        elif esc is not None:
            out.append(esc)
        else:
            out.append(bare)
    return "".join(out)


def words(simple: str) -> list[str]:
    """POSIX word splitting and quote removal (shlex's result, faster); shlex on unbalanced quotes.
    (The last 512 results are kept: the session state and the classifier split the same parts.)"""
    return list(_cached_words(simple))


@functools.lru_cache(maxsize=512)
def _cached_words(simple: str) -> tuple[str, ...]:
    return tuple(_split_words(simple))


def _split_words(simple: str) -> list[str]:
    if _NEEDS_SHLEX.search(simple) is None:
        return simple.split()  # no quotes or escapes: shlex would split on whitespace alone
    words = []
    for m in _TOKEN.finditer(simple):
        if m.group(1) is not None:  # a stray quote: let shlex decide
            break
        token = m.group()
        words.append(_unquote(token) if "'" in token or '"' in token or "\\" in token else token)
    else:
        return words
    try:
        return shlex.split(simple, comments=False, posix=True)
    except ValueError:
        return simple.split()


_REDIR = re.compile(r"(?<![<>])(>>|>\||<>|>|<(?!<))&?\s*([^\s;|<>()&]+)")
_SINKS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/stdin", "-"})


def redirects(simple: str) -> list[tuple[str, str]]:
    """Every (operator, file) an unquoted redirection names (``>``, ``>>``, ``<``, ``<>``; not ``&N``)."""
    if "<" not in simple and ">" not in simple:
        return []
    return list(_cached_redirects(simple))


@functools.lru_cache(maxsize=512)
def _cached_redirects(simple: str) -> tuple[tuple[str, str], ...]:
    out = []
    for m in _REDIR.finditer(_unquoted(simple)):
        target = m.group(2).strip("'\"")
        if target and not target.isdigit() and target not in _SINKS:
            out.append((m.group(1), target))
    return tuple(out)


def _unquoted(s: str) -> str:
    """Quoted spans kept as one word with their operators and spaces made inert (targets stay readable)."""
    return re.sub(
        r"'[^']*'|\"(?:\\.|[^\"\\])*\"", lambda m: re.sub(r"[\s<>;|&()]", "_", m.group()[1:-1]) or "''", s
    )
