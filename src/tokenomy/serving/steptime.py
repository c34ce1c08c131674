"""Step-time models: seconds for one engine iteration given its prefill and decode tokens.

``LinearStepTime`` is the BLIS/inference-sim model (inference-sim ``defaults.yaml``):
step_s = β0 + β1·(uncached prefill tokens in the step) + β2·(decode tokens in the step), with β in
seconds (the file states µs; the loader converts). Default: llama-3.1-8b-instruct, H100, TP1,
vLLM 0.8.4, β = (5,752.7 µs, 17.25 µs/prefill token, 6.0 µs/decode token), 29,205 KV blocks.
``TableStepTime`` interpolates measured Splitwise step latencies (``perf_model.csv``, DGX-A100/H100):
prefill time as a function of prompt tokens in the step, decode time as a function of batch size,
added for a mixed step (the table measures no mixed steps, so the sum is an upper bound).

For a fixed batch composition both models give a constant step time, which is what lets the
engine advance many decode steps at once. No I/O here: loaders build these from the files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError

__all__ = ["BLIS_LLAMA31_8B_H100_TP1", "LinearStepTime", "StepTimeModel", "TableStepTime"]


class StepTimeModel:
    """Base: ``step_s(prefill_tokens, decode_tokens)`` plus the marginal seconds per token."""

    beta0_s: float
    beta1_s_per_prefill_token: float
    beta2_s_per_decode_token: float

    def step_s(self, prefill_tokens: float, decode_tokens: float) -> float:
        """Seconds of one iteration with these many prefill and decode tokens."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class LinearStepTime(StepTimeModel):
    """step_s = β0 + β1·prefill + β2·decode (seconds; BLIS fit).

    Raises:
        ValidationError: a coefficient is negative or not finite, or β0 is 0 (steps must take time).
    """

    beta0_s: float
    beta1_s_per_prefill_token: float
    beta2_s_per_decode_token: float
    source: str = ""

    def __post_init__(self) -> None:
        vals = (self.beta0_s, self.beta1_s_per_prefill_token, self.beta2_s_per_decode_token)
        if not all(np.isfinite(v) and v >= 0 for v in vals) or self.beta0_s <= 0:
            raise ValidationError(f"LinearStepTime needs β0 > 0 and β1, β2 ≥ 0 (seconds); got {vals}")

    def step_s(self, prefill_tokens: float, decode_tokens: float) -> float:
        """β0 + β1·prefill + β2·decode."""
        return (
            self.beta0_s
            + self.beta1_s_per_prefill_token * prefill_tokens
            + self.beta2_s_per_decode_token * decode_tokens
        )


# inference-sim defaults.yaml @1a6eb353, meta-llama/llama-3.1-8b-instruct, H100, TP1, vLLM 0.8.4 (µs → s).
BLIS_LLAMA31_8B_H100_TP1 = LinearStepTime(
    5752.705191348184e-6,
    17.25086436834028e-6,
    5.999143920128404e-6,
    source="BLIS llama-3.1-8b-instruct H100 TP1 vllm 0.8.4",
)


@dataclass(frozen=True, slots=True)
class TableStepTime(StepTimeModel):
    """Piecewise-linear interpolation of measured step times (Splitwise ``perf_model.csv``).

    Attributes:
        prompt_tokens: increasing prefill token counts; prompt_s: measured prefill seconds at each.
        batch_sizes: increasing decode batch sizes; token_s: measured decode-step seconds at each.
    Beyond the table the last segment is extended linearly. The marginal β's (used by the
    congestion price) are the slopes of a least-squares line through each table.
    """

    prompt_tokens: NDArray[np.float64]
    prompt_s: NDArray[np.float64]
    batch_sizes: NDArray[np.float64]
    token_s: NDArray[np.float64]
    source: str = ""
    beta0_s: float = 0.0
    beta1_s_per_prefill_token: float = 0.0
    beta2_s_per_decode_token: float = 0.0

    def __post_init__(self) -> None:
        for x, y, name in (
            (self.prompt_tokens, self.prompt_s, "prompt"),
            (self.batch_sizes, self.token_s, "token"),
        ):
            if x.ndim != 1 or x.shape != y.shape or x.size < 2 or np.any(np.diff(x) <= 0) or np.any(y <= 0):
                raise ValidationError(
                    f"TableStepTime {name} table needs ≥ 2 increasing x with positive times"
                )
        b1 = float(np.polyfit(self.prompt_tokens, self.prompt_s, 1)[0])
        slope, icpt = np.polyfit(self.batch_sizes, self.token_s, 1)
        object.__setattr__(self, "beta1_s_per_prefill_token", max(b1, 0.0))
        object.__setattr__(self, "beta2_s_per_decode_token", max(float(slope), 0.0))
        object.__setattr__(self, "beta0_s", max(float(icpt), float(self.token_s[0]) * 0.5))

    @staticmethod
    def _interp(x: float, xs: NDArray[np.float64], ys: NDArray[np.float64]) -> float:
        if x <= xs[-1]:
            return float(np.interp(x, xs, ys))
        slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
        return float(ys[-1] + slope * (x - xs[-1]))

    def step_s(self, prefill_tokens: float, decode_tokens: float) -> float:
        """Interpolated prefill time plus interpolated decode-step time."""
        t = 0.0
        if prefill_tokens > 0:
            t += self._interp(prefill_tokens, self.prompt_tokens, self.prompt_s)
        if decode_tokens > 0:
            t += self._interp(decode_tokens, self.batch_sizes, self.token_s)
        return t if t > 0 else float(self.token_s[0])
