"""Fixtures shared by the interface tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def run_summary() -> Callable[..., Any]:
    """Make a made-up RL run summary (one policy, one seed): ``run_summary(policy, seed, tokens, reached=…)``."""

    def make(policy: str, seed: int, tokens: int, *, reached: bool) -> Any:
        from tokenomy.capital.rl.experiment import RunSummary

        return RunSummary(
            policy=policy, staleness=0, seed=seed, start_accuracy=0.4, target_accuracy=0.5, reached=reached,
            tokens_to_target=tokens, rollout_tokens_to_target=tokens, verify_tokens_to_target=0,
            update_tokens_to_target=0, steps_to_target=3, wall_s_to_target=0.1, final_accuracy=0.5,
            gain_at_half_budget=0.01, tokens_total=tokens, steps_total=3, wall_s_total=0.1, ess_share=1.0,
        )  # fmt: skip

    return make
