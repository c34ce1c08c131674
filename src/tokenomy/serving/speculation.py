"""Speculative decoding in expectation, switched per step by a make-or-buy test.

With draft length k and per-token acceptance α a speculating step emits
E = (1 − α^{k+1})/(1 − α) tokens per sequence and costs ``step(P, D·(k+1)) +
spec_draft_frac·k·step(0, D)`` (the target model verifies k + 1 tokens per sequence, the draft
model runs k small steps). The test: draft only when E / t_spec > 1 / t_plain, i.e. when the
expected accepted tokens per second of step time beat plain decoding. Each change of that verdict
is kept (time, on, decode batch size, seconds per token plain, seconds per token speculating) for
the ledger (``decisions.speculation_batch``). No I/O here.
"""

from __future__ import annotations

from tokenomy.serving.entities import EngineConfig
from tokenomy.serving.steptime import StepTimeModel

__all__ = ["SpeculativeStep"]


class SpeculativeStep:
    """The step time of one iteration, with speculation switched on when it pays.

    Args:
        model: the step-time model.
        cfg: the engine configuration (``spec_k`` = 0 turns speculation off).
    """

    def __init__(self, model: StepTimeModel, cfg: EngineConfig) -> None:
        self.model, self.cfg = model, cfg
        a = cfg.spec_alpha
        self.tokens_per_seq = (1 - a ** (cfg.spec_k + 1)) / (1 - a) if cfg.spec_k else 1.0
        self.on = False
        self.switches: list[tuple[float, float, float, float, float]] = []

    def step(
        self, prefill_tokens: float, decode_seqs: int, now_s: float, context_pairs: float = 0.0
    ) -> tuple[float, float]:
        """(step seconds, tokens emitted per decoding sequence) for a step at ``now_s``
        (``context_pairs``: the prefill chunks' attention to tokens already in KV, ``steptime``)."""
        model, cfg = self.model, self.cfg
        t = model.step_s(prefill_tokens, decode_seqs, context_pairs)
        if cfg.spec_k and decode_seqs:
            d = decode_seqs
            e = self.tokens_per_seq
            ts = model.step_s(
                prefill_tokens, d * (cfg.spec_k + 1), context_pairs
            ) + cfg.spec_draft_frac * cfg.spec_k * (model.step_s(0, d))
            on = e / ts > 1.0 / t
            if on != self.on:  # the make-or-buy verdict changed: a decision for the ledger
                self.on = on
                self.switches.append((now_s, float(on), float(d), t, ts / e))
            if on:
                return ts, e
        return t, 1.0
