"""The router's prompt features with the question's shape (numbers as digit counts, adjacent pairs)."""

from __future__ import annotations

import numpy as np
import pytest

from tokenomy.core.errors import ValidationError
from tokenomy.routing.online import N_DENSE, OnlineRouter, feature_length, prompt_features


def test_lengths_and_words_only_prefix() -> None:
    p = "Q: What is 57 * 12?\nA:"
    assert len(prompt_features(p)) == feature_length() == N_DENSE + 1 + 2 * 32
    assert len(prompt_features(p, 16, shapes=False)) == feature_length(16, shapes=False) == N_DENSE + 16
    # the words-only vector is the first part of the shaped one, unchanged
    np.testing.assert_array_equal(prompt_features(p, shapes=False), prompt_features(p)[: N_DENSE + 32])


def test_shape_is_digit_counts_not_values() -> None:
    shape = slice(N_DENSE + 32, None)
    a, b = prompt_features("What is 57 * 12?"), prompt_features("What is 31 * 45?")
    np.testing.assert_array_equal(a[shape], b[shape])
    c = prompt_features("What is 5 * 12?")
    assert not np.allclose(a[shape], c[shape])
    # a table's rows enter as line breaks
    t3 = prompt_features("Table:\na: 1\nb: 2\nc: 3\nWhat is the value of a?")
    t6 = prompt_features("Table:\na: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\nWhat is the value of a?")
    assert t6[N_DENSE + 32] > t3[N_DENSE + 32] > 0


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_shapes_must_be_a_bool(bad: object) -> None:
    with pytest.raises(ValidationError, match="shapes must be True or False"):
        prompt_features("What is 2 + 2?", shapes=bad)  # type: ignore[arg-type]


def _fit_and_score(shapes: bool) -> float:
    """Train on sums of one and two digits and one-digit products (right) and two-digit products
    (wrong); return the mean absolute error on new questions of the four shapes."""
    rng = np.random.default_rng(0)

    def q(op: str, digits: int) -> str:
        lo, hi = (2, 10) if digits == 1 else (10, 100)
        return f"What is {rng.integers(lo, hi)} {op} {rng.integers(lo, hi)}?"

    cells = [("+", 1, 1.0), ("+", 2, 1.0), ("*", 1, 1.0), ("*", 2, 0.0)]
    r = OnlineRouter(models=["m"], n_features=feature_length(shapes=shapes), epsilon=0.0, prior_weight=0.0)
    r.warm_start((prompt_features(q(op, d), shapes=shapes), "m", y) for _ in range(40) for op, d, y in cells)
    errs = [
        abs(float(r.predict(prompt_features(q(op, d), shapes=shapes))[0]) - y)
        for _ in range(20)
        for op, d, y in cells
    ]
    return float(np.mean(errs))


def test_shapes_learn_an_interaction_words_cannot() -> None:
    # wrong only where the operator is * and the numbers have two digits: an interaction that a
    # linear model on words and lengths misses and the shape pairs ("#2 *") carry
    words, shaped = _fit_and_score(False), _fit_and_score(True)
    assert shaped < 0.05
    assert words > 2 * shaped


@pytest.mark.parametrize(
    ("n_hash", "shapes"), [(-5, True), (0, False), (True, True), (10**9, True), (32, "no")]
)
def test_feature_length_checks_its_arguments(n_hash: object, shapes: object) -> None:
    with pytest.raises(ValidationError, match=r"feature_length: (n_hash|shapes) must be"):
        feature_length(n_hash, shapes)  # type: ignore[arg-type]
