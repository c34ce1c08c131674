"""Text helpers for the gate's session state: top-level list items, variable and alias expansion.

:func:`segments` cuts a shell command at its top-level list operators (``;`` ``&&`` ``||`` ``&`` and
newline; heredoc bodies stay with the command that reads them) and says which items run in a
subshell (``( … )`` or a pipeline element), whose ``cd`` / variables / aliases do not outlive them.
:func:`expand_vars` substitutes the session's known variables the way the shell would before a
command runs (not inside single quotes). This is a tokenizer, not a shell grammar: the classifier
(:mod:`tokenomy.autonomy.classify`) still judges the text it returns, and anything this module cannot
read is left as it is, where the classifier fails closed on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Segment", "expand_vars", "segments", "strip_keywords"]

_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
_WORD_END = " \t\n;&|)"
_SPECIAL = re.compile(r"[\\'\"`(){}#<\n;&|]")
_QUOTE_END = {"'": re.compile(r"'"), '"': re.compile(r'[\\"]'), "`": re.compile(r"[\\`]")}
_KEYWORDS = frozenset(("if", "then", "else", "elif", "do", "while", "until", "!", "time"))


@dataclass(frozen=True, slots=True)
class Segment:
    """One top-level item of a command list.

    Attributes:
        text: the item, stripped (heredoc bodies included).
        subshell: whether it runs in a subshell (parenthesised or a pipeline element): its changes to
            the working directory, variables, aliases and functions are scoped to it.
    """

    text: str
    subshell: bool
    sep: str = ""  # the list operator after it (";", "&&", "||", "&", ";;", newline; "" at the end)


def _skip_heredocs(text: str, i: int, tags: list[str]) -> int:
    """Index after the bodies of ``tags`` that start on the line after position ``i`` (a newline)."""
    for tag in tags:
        while i < len(text):
            j = text.find("\n", i + 1)
            line = text[i + 1 : j if j >= 0 else len(text)]
            i = j if j >= 0 else len(text)
            if line.strip() == tag:
                break
    return i


def segments(text: str) -> list[Segment]:
    """The top-level items of ``text`` in order (quotes, parentheses, braces and heredocs respected)."""
    out: list[Segment] = []
    start = i = depth = brace = 0
    n, quote, piped = len(text), "", False
    tags: list[str] = []

    def cut(end: int, sep: str) -> None:
        nonlocal piped
        item = text[start:end].strip()
        if item:
            out.append(Segment(item, piped or item.startswith("("), sep))
        elif out and sep != "\n":  # an empty item: keep its operator (`;;` of a case arm)
            out[-1] = Segment(out[-1].text, out[-1].subshell, out[-1].sep.rstrip("\n") + sep)
        piped = False

    while i < n:
        if quote:  # jump to the quote's end (or an escape inside "…" / `…`)
            m = _QUOTE_END[quote].search(text, i)
            if m is None:
                break
            i = m.start()
            if text[i] == "\\":
                i += 2
                continue
            quote = ""
            i += 1
            continue
        m = _SPECIAL.search(text, i)
        if m is None:
            break
        i = m.start()
        ch = text[i]
        if ch == "\\":
            i += 1
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(depth - 1, 0)
        elif ch == "{" and (i == 0 or text[i - 1] in " \t\n;&|(") and text[i + 1 : i + 2] in ("", " ", "\n"):
            brace += 1
        elif ch == "}" and (i == 0 or text[i - 1] in " \t\n;") and text[i + 1 : i + 2] in ("", *_WORD_END):
            brace = max(brace - 1, 0)
        elif ch == "#":
            if i == 0 or text[i - 1] in " \t\n;&|(":
                j = text.find("\n", i)
                i = n if j < 0 else j
                continue
        elif ch == "<":
            if text[i : i + 2] == "<<" and text[i + 2 : i + 3] != "<":
                h = _HEREDOC.match(text, i)
                if h:
                    tags.append(h.group(2))
                    i = h.end()
                    continue
        elif depth == 0 and brace == 0:
            if ch == "\n":
                i = _skip_heredocs(text, i, tags)
                tags = []
                cut(i, "\n")
                start = i + 1
            elif ch == ";":
                op = ";;&" if text.startswith(";;&", i) else (";;" if text.startswith(";;", i) else ";")
                op = ";&" if op == ";" and text.startswith(";&", i) else op
                cut(i, op)
                i += len(op) - 1
                start = i + 1
            elif ch in "&|" and text[i + 1 : i + 2] == ch:
                cut(i, ch * 2)
                i += 1
                start = i + 1
            elif ch == "&" and text[i - 1 : i] not in ("<", ">") and text[i + 1 : i + 2] != ">":
                cut(i, "&")
                start = i + 1
            elif ch == "|":
                piped = True
        i += 1
    cut(n, "")
    return out


def strip_keywords(item: str) -> str:
    """``then cd /`` -> ``cd /``: leading control keywords run nothing themselves."""
    head, _, rest = item.partition(" ")
    while head in _KEYWORDS and rest:
        head, _, rest = rest.lstrip().partition(" ")
        item = f"{head} {rest}".strip()
    return item


_VAR_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def expand_vars(text: str, lookup: Callable[[str], str | None]) -> str:
    """``text`` with each ``$NAME`` / ``${NAME}`` that ``lookup`` knows replaced by its value.

    Single-quoted text is left alone (the shell does not expand it); a name ``lookup`` does not know
    (it returns None) stays as written, so the classifier sees a path it cannot resolve and fails closed.
    """
    if "$" not in text:
        return text
    out: list[str] = []
    last = 0
    quote = ""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if quote == "'":
            quote = "" if ch == "'" else quote
        elif ch == "\\":
            i += 1
        elif ch == '"':
            quote = "" if quote == '"' else '"'
        elif ch == "'" and not quote:
            quote = "'"
        elif ch == "$":
            m = _VAR_REF.match(text, i)
            if m:
                value = lookup(m.group(1) or m.group(2))
                if value is not None:
                    out.append(text[last:i])
                    out.append(value)
                    last = m.end()
                i = m.end()
                continue
        i += 1
    out.append(text[last:])
    return "".join(out)
