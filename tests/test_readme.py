"""The README's Python snippets run as written: each ```python block alone, in a fresh interpreter.

A reader pastes one snippet, not the whole page, so every block must carry its own imports and names.
Each runs in a subprocess whose working directory is a temporary folder (files a snippet writes, such
as a ledger, land there). A block that cannot run alone is marked by ``<!-- not-run: reason -->`` on
the line above its fence; the test then skips it and shows the reason.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_NOT_RUN = re.compile(r"<!--\s*not-run:\s*(.*?)\s*-->\s*$")


@dataclass(frozen=True, slots=True)
class Snippet:
    """One ```python block of the README: where it starts, its code, and why it is not run (if so)."""

    line: int
    code: str
    not_run: str | None


def readme_snippets(text: str) -> list[Snippet]:
    """Every ```python block in ``text``, in order, with its not-run reason when marked."""
    out = []
    for m in _FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = _NOT_RUN.search(before)
        out.append(Snippet(text.count("\n", 0, m.start()) + 1, m.group(1), mark.group(1) if mark else None))
    return out


SNIPPETS = readme_snippets(README.read_text(encoding="utf-8"))


def test_readme_has_python_snippets() -> None:
    assert SNIPPETS, "README.md has no ```python block"


def test_snippet_parser_reads_marks_and_fences() -> None:
    text = (
        "x\n```python\na = 1\n```\n<!-- not-run: needs a GPU -->\n```python\nb = 2\n```\n```bash\nls\n```\n"
    )
    got = readme_snippets(text)
    assert [(s.line, s.code, s.not_run) for s in got] == [(2, "a = 1\n", None), (6, "b = 2\n", "needs a GPU")]


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"README.md:{s.line}" for s in SNIPPETS])
def test_readme_snippet_runs_alone(snippet: Snippet, tmp_path: Path) -> None:
    if snippet.not_run is not None:
        pytest.skip(f"marked not-run: {snippet.not_run}")
    proc = subprocess.run(
        [sys.executable, "-c", snippet.code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, (
        f"README.md line {snippet.line}: the snippet fails when run alone "
        f"(exit {proc.returncode})\n{proc.stderr[-3000:]}"
    )
