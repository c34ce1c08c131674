"""Generated arithmetic tasks of graded difficulty and their exact-answer verifier.

A task is the addition ``a + b`` of two ``n``-digit numbers (``n`` = 1 … 4, the difficulty level).
The answer is written least-significant digit first as exactly ``n + 1`` digit tokens (the last one is
the final carry, 0 or 1). The prompt ``a+b=`` is ``2·n + 2`` tokens. The verifier is an exact check of
every answer digit; reading the prompt and the answer costs it ``2·n + 2 + n + 1`` tokens per check.

Training and held-out tasks are disjoint sets of (n, a, b) drawn from one generator. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError

__all__ = ["MAX_DIGITS", "TaskSet", "make_split", "verify"]

MAX_DIGITS = 4
"""The hardest level: 4-digit operands, 5 answer tokens."""


@dataclass(frozen=True, slots=True)
class TaskSet:
    """N addition tasks as digit arrays (least-significant digit first, zero-padded).

    Attributes:
        n_digits: shape (N,), the difficulty level n.
        a_digits, b_digits: shape (N, MAX_DIGITS), operand digits; positions ≥ n are 0.
        answer_digits: shape (N, MAX_DIGITS + 1), the sum's digits; positions > n are 0.
    """

    n_digits: NDArray[np.int64]
    a_digits: NDArray[np.int64]
    b_digits: NDArray[np.int64]
    answer_digits: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.n_digits.size)

    @property
    def answer_tokens(self) -> NDArray[np.int64]:
        """Answer length in tokens, n + 1."""
        return self.n_digits + 1

    @property
    def prompt_tokens(self) -> NDArray[np.int64]:
        """Prompt length in tokens (``a+b=``), 2·n + 2."""
        return 2 * self.n_digits + 2

    @property
    def verify_tokens(self) -> NDArray[np.int64]:
        """Tokens one exact check reads: the prompt and the answer."""
        return self.prompt_tokens + self.answer_tokens

    def subset(self, idx: NDArray[np.int64]) -> TaskSet:
        """The tasks at ``idx`` (rows may repeat)."""
        return TaskSet(self.n_digits[idx], self.a_digits[idx], self.b_digits[idx], self.answer_digits[idx])


def _digits(x: NDArray[np.int64], width: int) -> NDArray[np.int64]:
    return (x[:, None] // 10 ** np.arange(width)) % 10


def _tasks(n: NDArray[np.int64], a: NDArray[np.int64], b: NDArray[np.int64]) -> TaskSet:
    return TaskSet(n, _digits(a, MAX_DIGITS), _digits(b, MAX_DIGITS), _digits(a + b, MAX_DIGITS + 1))


def make_split(
    per_level: int, *, levels: tuple[int, ...] = (1, 2, 3, 4), rng: np.random.Generator
) -> tuple[TaskSet, TaskSet]:
    """Disjoint training and held-out task sets, ``per_level`` tasks of each level in each.

    Raises:
        ValidationError: a level outside [1, MAX_DIGITS], or more tasks than a level has (1-digit: 100).
    """
    train: list[tuple[int, int, int]] = []
    held: list[tuple[int, int, int]] = []
    for n in levels:
        if not (isinstance(n, int) and 1 <= n <= MAX_DIGITS):
            raise ValidationError(f"levels must be whole numbers in [1, {MAX_DIGITS}], got {n!r}")
        lo = 0 if n == 1 else 10 ** (n - 1)
        space = (10**n - lo) ** 2
        if 2 * per_level > space:
            raise ValidationError(
                f"per_level {per_level}: level {n} has only {space} tasks (need 2 × per_level)"
            )
        picks = rng.choice(space, size=2 * per_level, replace=False)
        a, b = lo + picks // (10**n - lo), lo + picks % (10**n - lo)
        rows = [(n, int(x), int(y)) for x, y in zip(a, b, strict=True)]
        train += rows[:per_level]
        held += rows[per_level:]

    def pack(rows: list[tuple[int, int, int]]) -> TaskSet:
        arr = np.array(rows, dtype=np.int64)
        return _tasks(arr[:, 0], arr[:, 1], arr[:, 2])

    return pack(train), pack(held)


def verify(tasks: TaskSet, answers: NDArray[np.int64]) -> NDArray[np.float64]:
    """Exact-answer rewards: 1.0 where every one of a task's n + 1 answer digits is right, else 0.0.

    Args:
        tasks: N tasks (one row per rollout).
        answers: shape (N, MAX_DIGITS + 1), sampled digits; positions beyond a task's answer are ignored.
    """
    valid = np.arange(MAX_DIGITS + 1)[None, :] < tasks.answer_tokens[:, None]
    ok: NDArray[np.float64] = np.all((answers == tasks.answer_digits) | ~valid, axis=1).astype(np.float64)
    return ok
