"""A generated, graded workload for real models: questions with known integer answers and a grader.

Four kinds of question, each at graded difficulty levels 1–3, generated from a seed:
``add`` (sums of 1-, 2-, 3-digit numbers), ``mul`` (products of 1×1, 2×1 and 2×2 digits), ``lookup``
(the value of one key in a table of 3, 6 or 10 rows given in the prompt) and ``compare`` (the larger
of 2, 3 or 5 numbers). Small models answer the easy levels and fail the hard ones at different rates,
so which model a request should go to depends on the question: routing matters. The mix is fixed
here, before any model is run; ``split`` gives a train / held-out partition by a seeded shuffle, and
nothing about the held-out part is used to choose anything.

Every prompt is few-shot: an instruction, four worked ``Q: … / A: …`` pairs (one per kind) and the
question. ``Question.prompt`` is that transcript as one text ending in ``A:`` (what a base model
continues); ``messages`` sends it as chat turns: the instruction as the system turn, each worked
pair as a user turn ``Q: …`` and an assistant turn ``A: …``, and the question as the last user
turn (the ``plain`` format of ``local_models`` renders the turns back to exactly ``Question.prompt``
for the base Gemma model).

Chosen on a pilot seed (1000, never an evaluation seed): the turns, after
Qwen2.5-Coder-0.5B-Instruct, given the whole transcript as one user turn, mostly repeated the last
worked example's answer ("42"; 1 of 16 right); as turns it got 22/24 right and SmolLM2-135M 6/24
(3/24 as turns without the ``Q:``/``A:`` prefixes). No kind was added: an ``echo`` kind ("Repeat the
number 4821.", 12 questions per level) was tried on the pilot as one the cheap model might answer as
well as the dear one, and SmolLM2-135M got 0.42 / 0.58 / 0.33 of its levels right against Qwen's
1.0 / 1.0 / 1.0, so it was not such a kind.

One more kind is opt-in (``generate(..., kinds=(*KINDS, "chain"))``; ``bench_gateway_models.py
--kinds``): ``chain`` (``a + b - c`` with 1-, 2-, 3-digit numbers; the answer may be negative). With
the four kinds above, Qwen2.5-Coder 0.5B and 1.5B differ by at most 0.29 in any kind × level (mul 2×2
digits), so a router between them has no cell where the dear model is worth its price at a low V.
Three candidate kinds were tried on the pilot seed 1000 only (12–16 questions per level, 0.5B / 1.5B
right): ``a + b - c`` 0.25 / 1.00, 0.00 / 0.56, 0.00 / 0.25 at 1, 2, 3 digits; subtraction of 2−1,
3−2, 4−3 digit numbers 0.92 / 1.00, 0.58 / 0.92, 0.42 / 0.83; counting the numbers above 50 in a list
of 4, 7, 10 0.08 / 0.50, 0.33 / 0.33, 0.00 / 0.33; and sums of 3, 4, 5 signed one-digit terms 0.44 /
0.88, 0.25 / 0.44, 0.00 / 0.06. ``chain`` is the one whose gap is widest at every level, so it was kept;
the others were not added. Evaluation seeds were not used to choose it.

``grade`` reads the last integer on the first non-empty line of a reply (commas and a leading sign
allowed; "2 * 8 = 16" and "The value of fig is 69." read as 16 and 69) and scores 1.0 when it
equals the answer, else 0.0. This module makes no network calls and reads
no files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tokenomy.core._checks import whole
from tokenomy.core.errors import ValidationError

__all__ = [
    "KINDS",
    "MAX_QUESTIONS",
    "Question",
    "Split",
    "generate",
    "grade",
    "messages",
    "parse_int",
    "split",
]

KINDS = ("add", "mul", "lookup", "compare")
MAX_QUESTIONS = 1_000_000
"""Most questions one workload holds (a million prompts take about a gigabyte)."""
_INSTRUCTION = "Answer with the number only."
_SHOTS = (
    ("What is 3 + 4?", "7"),
    ("Table:\npear: 12\nkiwi: 40\nWhat is the value of kiwi?", "40"),
    ("Which is the largest number: 15, 82?", "82"),
    ("What is 6 * 7?", "42"),
)
_HEADER = _INSTRUCTION + "\n" + "".join(f"Q: {q}\nA: {a}\n" for q, a in _SHOTS)
_KEYS = (
    "apple", "pear", "plum", "lime", "fig", "kiwi", "mango", "peach", "grape", "melon", "lemon", "cherry",
    "olive", "date", "guava", "papaya",
)  # fmt: skip
_INT = re.compile(r"[-−]?\d[\d,]*")


@dataclass(frozen=True, slots=True)
class Question:
    """One graded question.

    Attributes:
        qid: a stable id (``<kind>-<level>-<n>``).
        kind: one of ``KINDS``.
        level: difficulty 1 (easy) to 3 (hard).
        prompt: the user message sent to the model.
        answer: the correct integer answer.
    """

    qid: str
    kind: str
    level: int
    prompt: str
    answer: int


@dataclass(frozen=True, slots=True)
class Split:
    """A train / held-out partition of a workload."""

    train: tuple[Question, ...]
    held_out: tuple[Question, ...]


def _digits(rng: np.random.Generator, n: int) -> int:
    return int(rng.integers(10 ** (n - 1) if n > 1 else 0, 10**n))


def _add(rng: np.random.Generator, level: int) -> tuple[str, int]:
    a, b = _digits(rng, level), _digits(rng, level)
    return f"What is {a} + {b}?", a + b


def _mul(rng: np.random.Generator, level: int) -> tuple[str, int]:
    da, db = {1: (1, 1), 2: (2, 1), 3: (2, 2)}[level]
    a, b = max(2, _digits(rng, da)), max(2, _digits(rng, db))
    return f"What is {a} * {b}?", a * b


def _lookup(rng: np.random.Generator, level: int) -> tuple[str, int]:
    rows = {1: 3, 2: 6, 3: 10}[level]
    keys = [str(k) for k in rng.choice(_KEYS, size=rows, replace=False)]
    values = [int(v) for v in rng.integers(10, 100, size=rows)]
    ask = int(rng.integers(rows))
    table = "\n".join(f"{k}: {v}" for k, v in zip(keys, values, strict=True))
    return f"Table:\n{table}\nWhat is the value of {keys[ask]}?", values[ask]


def _chain(rng: np.random.Generator, level: int) -> tuple[str, int]:
    a, b, c = _digits(rng, level), _digits(rng, level), _digits(rng, level)
    return f"What is {a} + {b} - {c}?", a + b - c


def _compare(rng: np.random.Generator, level: int) -> tuple[str, int]:
    k = {1: 2, 2: 3, 3: 5}[level]
    nums = [int(v) for v in rng.choice(np.arange(10, 1000), size=k, replace=False)]
    return f"Which is the largest number: {', '.join(map(str, nums))}?", max(nums)


_MAKERS = {"add": _add, "mul": _mul, "lookup": _lookup, "compare": _compare, "chain": _chain}
"""Every kind ``generate`` can make: ``KINDS`` (the default mix) and ``chain``, opt-in."""


def generate(n: int, *, seed: int = 0, kinds: Sequence[str] = KINDS) -> tuple[Question, ...]:
    """``n`` questions, kinds and levels cycled evenly (kind-major), values drawn from ``seed``.

    Raises:
        ValidationError: ``n`` not a whole number in [1, ``MAX_QUESTIONS``], or an unknown kind.
    """
    whole("n", n, low=1, high=MAX_QUESTIONS, where="a workload")
    bad = [k for k in kinds if k not in _MAKERS]
    if bad or not kinds:
        raise ValidationError(f"unknown question kinds {bad}; valid: {', '.join(_MAKERS)}")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        level = 1 + (i // len(kinds)) % 3
        text, answer = _MAKERS[kind](rng, level)
        out.append(Question(f"{kind}-{level}-{i}", kind, level, f"{_HEADER}Q: {text}\nA:", answer))
    return tuple(out)


def split(questions: Sequence[Question], *, held_out_share: float = 0.5, seed: int = 0) -> Split:
    """A seeded shuffle into train and held-out parts (held-out gets ``round(share·n)`` questions).

    Raises:
        ValidationError: the share is outside (0, 1) or either part would be empty.
    """
    n = len(questions)
    k = round(held_out_share * n)
    if not (0.0 < held_out_share < 1.0) or k == 0 or k == n:
        raise ValidationError(
            f"held_out_share must leave both parts non-empty; got {held_out_share!r} of {n}"
        )
    order = np.random.default_rng(seed).permutation(n)
    held = {int(i) for i in order[:k]}
    return Split(
        train=tuple(q for i, q in enumerate(questions) if i not in held),
        held_out=tuple(q for i, q in enumerate(questions) if i in held),
    )


def parse_int(text: str) -> int | None:
    """The last integer on the first non-empty line of ``text`` (``1,234``, ``−5`` allowed), or ``None``."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    found = _INT.findall(line)
    if not found:
        return None
    return int(found[-1].replace(",", "").replace("−", "-"))


def grade(question: Question, reply: str) -> float:
    """1.0 when ``parse_int(reply)`` is the answer, else 0.0 (also when there is no integer)."""
    return 1.0 if parse_int(reply) == question.answer else 0.0


def messages(question: Question) -> list[dict[str, str]]:
    """The chat messages of one question, as an OpenAI request's ``messages``.

    A system turn (the instruction), the worked examples as ``Q: …`` user / ``A: …`` assistant
    turns, and the question as the last ``Q: …`` user turn.
    """
    turns = [{"role": "system", "content": _INSTRUCTION}]
    for q, a in _SHOTS:
        turns += [{"role": "user", "content": f"Q: {q}"}, {"role": "assistant", "content": f"A: {a}"}]
    ask = question.prompt.removeprefix(_HEADER).removesuffix("\nA:")
    return [*turns, {"role": "user", "content": ask}]
