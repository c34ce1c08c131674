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

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "Segment",
    "changes_state",
    "copies_files",
    "expand_vars",
    "runs_git",
    "segments",
    "sends_network",
    "state_or_file_word",
    "strip_keywords",
    "terminator",
    "touches_files",
]

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
    """Index after the bodies of ``tags`` that start on the line after position ``i`` (a newline): the
    newline that ends each terminator line (a line that is the tag, blanks around it allowed), or the
    end of the text when a terminator is missing."""
    for tag in tags:
        if i >= len(text):
            continue
        end = terminator(tag).search(text, i + 1)
        i = len(text) if end is None else end.end()
    return i


@functools.lru_cache(maxsize=64)
def terminator(tag: str) -> re.Pattern[str]:
    """A line that is ``tag``, blanks around it allowed (the end of a heredoc body)."""
    return re.compile(r"^[^\S\n]*" + re.escape(tag) + r"[^\S\n]*$", re.MULTILINE)


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


# -- what makes a command matter to the session state -----------------------------------------------------
# Each test below is one regular expression's search, split into its top-level alternatives, each
# alternative tried only when a substring it cannot match without is present (the answers are those of
# the single expression; the split is for speed: an alternation that starts with ``(^|[…])`` is tried
# at every position). ``(^|[…])`` is read as a leading character of the class on the text with a blank
# (or a newline) put in front. The reference expressions are in the module's tests.
_BOUNDARY = r"[\s;&|(/]"
_STATE_WORDS = r"cd|pushd|popd|alias|unalias|export|declare|typeset|local|readonly|unset|read|tee"
_FILE_WORDS = r"mv|cp|install|ln|rm|unlink|source|bash|sh|zsh|dash|ksh|python[\d.]*|node|ruby|\."
_STATE_WORD = re.compile(_BOUNDARY + rf"(?:{_STATE_WORDS})(?=\s|$)")
_FILE_WORD = re.compile(_BOUNDARY + rf"(?:{_FILE_WORDS})(?=\s|$)")
_STATE_OR_FILE_WORD = re.compile(_BOUNDARY + rf"(?:{_STATE_WORDS}|{_FILE_WORDS})(?=\s|$)")  # either, one pass
_ASSIGNMENT = re.compile(r"[\s;&|(][A-Za-z_]\w*=")
_REDIRECT_OUT = re.compile(r">(?!&|\s*/dev/null)")
_FUNCTION_WORD = re.compile(r"(^|\s)function\s")
_DOWNLOAD_TO = re.compile(r"(curl|wget)\s.*-[oO]\b")
_INTERP = re.compile("python|node|perl|ruby|php")  # any of these words, as a substring
_INTERP_HEREDOC = re.compile(r"(python[\d.]*|node|perl|ruby|php)\b[^\n]*<<")
_PIPE_TO_INTERP = re.compile(r"\|\s*(python[\d.]*|node|perl|ruby|php)\b")
_INTERP_INLINE = re.compile(r"(python[\d.]*|node|perl|ruby|php)\s+-[a-zA-Z]*[ce]\s")
_DEVICE_COPY = re.compile(_BOUNDARY + r"(cp|install|dd)\s[^\n]*(/dev/|/proc/|of=)")
_DOWNLOAD = re.compile(_BOUNDARY + r"(wget|curl)\s[^\n]*(://|-O)")
_RUN_PATH = re.compile(r"[;&|(\n]\s*(exec\s+|nohup\s+|env\s+)?(\./|/\S)")
_EDIT_IN_PLACE = re.compile(_BOUNDARY + r"(sed|perl)\s[^|;&\n]*\s-[a-zA-Z]*i")
_GIT_WORD = re.compile(_BOUNDARY + r"git\s")
_COPY_WORD = re.compile(_BOUNDARY + r"(mv|cp|install|ln)\s")
_NET_WORD = re.compile(
    _BOUNDARY
    + r"(?:curl|wget|nc|ncat|netcat|socat|telnet|scp|sftp|rsync|ftp|gh|http|https|xh|ssh|aws|gsutil)(?=\s|$)"
)


def state_or_file_word(command: str) -> bool:
    """Whether a state-changing word (:func:`changes_state`'s words) or a file-command word
    (:func:`touches_files`' words) is a word of ``command``: the two word tests in one pass."""
    return _STATE_OR_FILE_WORD.search(" " + command) is not None


def changes_state(command: str, words: bool = True) -> bool:
    """Whether ``command`` may change the directory, variables, aliases or functions, or write a file
    (``words=False``: leave out the test of its state-changing words)."""
    if ">" in command and _REDIRECT_OUT.search(command) is not None:
        return True
    if "()" in command:
        return True
    if "|" in command and _PIPE_TO_INTERP.search(command) is not None:
        return True
    padded = " " + command
    if "=" in command and _ASSIGNMENT.search(padded) is not None:
        return True
    if words and _STATE_WORD.search(padded) is not None:
        return True
    if "function" in command and _FUNCTION_WORD.search(command) is not None:
        return True
    if _INTERP.search(command) is not None and (
        ("<<" in command and _INTERP_HEREDOC.search(command) is not None)
        or _INTERP_INLINE.search(command) is not None
    ):
        return True
    if ("curl" in command or "wget" in command) and (
        _DOWNLOAD_TO.search(command) is not None or _DOWNLOAD.search(padded) is not None
    ):
        return True
    return (
        ("/dev/" in command or "/proc/" in command or "of=" in command)
        and ("cp" in command or "install" in command or "dd" in command)
        and _DEVICE_COPY.search(padded) is not None
    )


def touches_files(command: str, words: bool = True) -> bool:
    """Whether ``command`` may copy, move, delete, edit in place or run a file (``words=False``: leave
    out the test of its file-command words)."""
    if (words and _FILE_WORD.search(" " + command) is not None) or _RUN_PATH.search(
        "\n" + command
    ) is not None:
        return True
    return ("sed" in command or "perl" in command) and _EDIT_IN_PLACE.search(" " + command) is not None


def runs_git(command: str) -> bool:
    """Whether ``git`` is a command word of ``command``."""
    return "git" in command and _GIT_WORD.search(" " + command) is not None


def copies_files(command: str) -> bool:
    """Whether ``mv`` / ``cp`` / ``install`` / ``ln`` is a command word of ``command``."""
    return _COPY_WORD.search(" " + command) is not None


def sends_network(command: str) -> bool:
    """Whether a network program is a command word of ``command`` or it names ``/dev/tcp`` / ``/dev/udp``."""
    if "/dev/tcp/" in command or "/dev/udp/" in command:
        return True
    return _NET_WORD.search(" " + command) is not None
