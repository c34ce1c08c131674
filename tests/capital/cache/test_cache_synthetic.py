"""Synthetic prefix chains: deterministic, whole blocks, continuations share their conversation's head."""

from __future__ import annotations

import numpy as np
import pytest

from tokenomy.capital.cache.synthetic import SyntheticPrefixes
from tokenomy.core.errors import ValidationError


def test_draw_is_deterministic_and_has_one_hash_per_full_block() -> None:
    prompts = np.array([100, 600, 2000, 5000, 1100] * 40)
    a = SyntheticPrefixes().draw(prompts, seed=4)
    b = SyntheticPrefixes().draw(prompts, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert [len(h) for h in a] == (prompts // 512).tolist()
    assert any(
        not np.array_equal(x, y) for x, y in zip(a, SyntheticPrefixes().draw(prompts, seed=5), strict=True)
    )


def test_every_request_is_a_new_conversation_or_extends_an_earlier_prefix() -> None:
    prompts = np.full(300, 4096)
    hs = SyntheticPrefixes(p_continue=0.7, open_conversations=8).draw(prompts, seed=1)
    seen_prefixes: set[tuple[int, ...]] = set()
    reused = 0
    for h in hs:
        t = tuple(h.tolist())
        if any(t[:k] in seen_prefixes for k in range(3, len(t) + 1)):
            reused += 1
        seen_prefixes.update(t[:k] for k in range(1, len(t) + 1))
    assert reused > 150  # about p_continue of 300


def test_p_continue_zero_shares_only_system_prompts() -> None:
    hs = SyntheticPrefixes(p_continue=0.0, system_blocks=2).draw(np.full(200, 2048), seed=0)
    shared = {int(x) for h in hs for x in h[:2]}
    assert max(shared) < 16 * 2
    tails = [int(x) for h in hs for x in h[2:]]
    assert len(tails) == len(set(tails))


def test_bad_parameters_name_the_field() -> None:
    with pytest.raises(ValidationError, match="p_continue"):
        SyntheticPrefixes(p_continue=1.5)
    with pytest.raises(ValidationError, match="system_prompts"):
        SyntheticPrefixes(system_prompts=0)
