"""The graded workload: answers are right, the grader parses replies robustly, splits are seeded."""

from __future__ import annotations

import re

import pytest

from tokenomy.core.errors import ValidationError
from tokenomy.interfaces.gateway.workload import KINDS, generate, grade, parse_int, split


def _solve(prompt: str) -> int:
    """An independent solver of the generated prompts (the oracle)."""
    body = prompt.rsplit("\nQ: ", 1)[-1].splitlines()
    assert body[-1] == "A:"
    last = body[-2]
    if m := re.fullmatch(r"What is (\d+) \+ (\d+)\?", last):
        return int(m.group(1)) + int(m.group(2))
    if m := re.fullmatch(r"What is (\d+) \+ (\d+) - (\d+)\?", last):
        return int(m.group(1)) + int(m.group(2)) - int(m.group(3))
    if m := re.fullmatch(r"What is (\d+) \* (\d+)\?", last):
        return int(m.group(1)) * int(m.group(2))
    if m := re.fullmatch(r"What is the value of (\w+)\?", last):
        rows = dict(line.split(": ") for line in body if re.fullmatch(r"\w+: \d+", line))
        return int(rows[m.group(1)])
    if m := re.fullmatch(r"Which is the largest number: ([\d, ]+)\?", last):
        return max(int(v) for v in m.group(1).split(", "))
    raise AssertionError(f"unknown prompt {prompt!r}")


def test_every_generated_answer_matches_an_independent_solver() -> None:
    qs = generate(240, seed=7)
    assert {q.kind for q in qs} == set(KINDS)
    assert {q.level for q in qs} == {1, 2, 3}
    for q in qs:
        assert _solve(q.prompt) == q.answer, q


def test_the_opt_in_chain_kind_is_solved_and_graded_with_its_sign() -> None:
    qs = generate(300, seed=3, kinds=(*KINDS, "chain"))
    chain = [q for q in qs if q.kind == "chain"]
    assert len(chain) == 60 and {q.level for q in chain} == {1, 2, 3}
    assert "chain" not in KINDS
    for q in qs:
        assert _solve(q.prompt) == q.answer, q
    negative = next(q for q in chain if q.answer < 0)
    assert grade(negative, f"{negative.answer}") == 1.0
    assert grade(negative, f"{-negative.answer}") == 0.0
    digits = {
        lv: max(
            len(str(abs(int(t))))
            for q in chain
            if q.level == lv
            for t in re.findall(r"\d+", q.prompt.rsplit("Q: ", 1)[1])
        )
        for lv in (1, 2, 3)
    }
    assert digits == {1: 1, 2: 2, 3: 3}


def test_levels_are_graded_in_size() -> None:
    qs = generate(120, seed=1, kinds=("add",))
    mean_answer = {lv: sum(q.answer for q in qs if q.level == lv) / 40 for lv in (1, 2, 3)}
    assert mean_answer[1] < mean_answer[2] < mean_answer[3]


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ("42", 42),
        ("The answer is 1,234.", 1234),
        ("  −7 apples", -7),
        ("**58**\n", 58),
        ("2 * 8 = 16\nThe answer is 17", 16),
        ("\n The value of fig is 69.", 69),
        ("no number here\n12", None),
    ],
)
def test_parse_int_reads_the_first_integer(reply: str, value: int | None) -> None:
    assert parse_int(reply) == value


def test_grade_is_one_only_for_the_right_answer() -> None:
    q = generate(1, seed=0, kinds=("add",))[0]
    assert grade(q, f"The sum is {q.answer}.") == 1.0
    assert grade(q, f"{q.answer + 1}") == 0.0
    assert grade(q, "I don't know") == 0.0


def test_split_is_seeded_disjoint_and_complete() -> None:
    qs = generate(50, seed=3)
    a, b = split(qs, held_out_share=0.4, seed=9), split(qs, held_out_share=0.4, seed=9)
    assert a == b
    assert len(a.held_out) == 20 and len(a.train) == 30
    assert {q.qid for q in a.train} | {q.qid for q in a.held_out} == {q.qid for q in qs}
    assert not {q.qid for q in a.train} & {q.qid for q in a.held_out}
    assert generate(10, seed=1) == generate(10, seed=1) != generate(10, seed=2)


def test_bad_workload_settings_raise_named_errors() -> None:
    with pytest.raises(ValidationError, match=r"n must be a whole number in \[1, "):
        generate(0)
    for bad in (10**12, 2.5, "3", True):  # a huge n would fill memory; a float or str is not a count
        with pytest.raises(ValidationError, match="n must be a whole number"):
            generate(bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="valid: add"):
        generate(3, kinds=("poetry",))
    with pytest.raises(ValidationError, match="held_out_share"):
        split(generate(4), held_out_share=1.0)


def test_messages_are_few_shot_chat_turns_ending_in_the_question() -> None:
    from tokenomy.interfaces.gateway.workload import messages

    for q in generate(8, seed=4):
        turns = messages(q)
        assert [t["role"] for t in turns] == ["system", *["user", "assistant"] * 4, "user"]
        assert all(t["content"].startswith("Q: ") for t in turns if t["role"] == "user")
        assert all(t["content"].startswith("A: ") for t in turns if t["role"] == "assistant")
        # the last turn is this question (the solver reads it back), the examples are the same for all
        assert _solve("\n".join(t["content"] for t in turns) + "\nA:") == q.answer
        assert turns[:-1] == messages(generate(1, seed=0)[0])[:-1]
