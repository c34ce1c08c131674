"""Step-time models: seconds for one engine iteration given its prefill and decode tokens.

``LinearStepTime`` is the BLIS/inference-sim model (inference-sim ``defaults.yaml``):
step_s = β0 + β1·(uncached prefill tokens in the step) + β2·(decode tokens in the step)
+ β_attn·(prefill context pairs), with β in seconds (the file states µs; the loader converts).
Default: llama-3.1-8b-instruct, H100, TP1, vLLM 0.8.4, β = (5,752.7 µs, 17.25 µs/prefill token,
6.0 µs/decode token), 29,205 KV blocks; BLIS fits no attention term, so its β_attn is 0.

``TableStepTime`` is SplitwiseSim's reading of its measured ``perf_model.csv`` (its
``DatabasePerformanceModel.get_iteration_duration``), reproduced from its code:

* both curves are indexed by the tokens in the batch, x = prompt_size × batch_size of each
  measured point (medians per x); a prefill-only step of P tokens takes prompt_time(P), a
  decode-only step of D sequences takes token_time(D) on the same x grid (so 28–31 ms for any D up
  to 512 on llama2-70b/H100/TP8: the table's token_time at 512 tokens is 30.6 ms), linear
  interpolation, extended linearly past *both* ends (``scipy.interp1d(fill_value="extrapolate")``);
* a mixed step costs ``mixed_factor``·prompt_time(P + D) (SplitwiseSim: 1.1), not the sum.

Chunk attention (both models): a prefill chunk of c tokens with p tokens already in KV (earlier
chunks or a reused prefix) attends to them; the step's ``context_pairs`` = Σ c·p over its chunks
costs ``attn_s_per_token_pair`` each. For the table model that coefficient is 2q from the
measured points themselves: at the same x, one prompt of x tokens (x²/2 attention pairs) against
B prompts of x/B tokens (x²/2B pairs) differ only by attention, so the seconds per pair is the
least-squares slope through the origin of those time gaps on those pair gaps (the loader's
``attention_s_per_pair``; about 1.2 ns on llama2-70b/H100/TP8).
A prompt run whole (SplitwiseSim never chunks) has no context pairs, so this term does not change
the peer's reading.

``KVFootprint`` gives the KV capacity of a model on a machine: bytes per token
2·layers·hidden·(kv_heads/heads)·dtype (GQA aware), blocks = (GPU memory − weights) / (bytes per
token × block tokens). SplitwiseSim counts llama2-70b without GQA (2.62 MB per token, 13,165
blocks of 16 tokens on one DGX-H100); the model has 8 KV heads of 64, so the real footprint is 1/8.

For a fixed batch composition both models give a constant step time, which is what lets the
engine advance many decode steps at once. No I/O here: loaders build these from the files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError

__all__ = [
    "BLIS_LLAMA31_8B_H100_TP1",
    "DGX_H100_GPU_BYTES",
    "LLAMA2_70B",
    "LLAMA2_70B_AS_SPLITWISE",
    "SPLITWISE_DGX_H100_KV_BLOCKS",
    "KVFootprint",
    "LinearStepTime",
    "StepTimeModel",
    "TableStepTime",
    "attention_s_per_pair",
]


class StepTimeModel:
    """Base: ``step_s(prefill_tokens, decode_tokens, context_pairs)`` plus the marginal seconds per token."""

    beta0_s: float
    beta1_s_per_prefill_token: float
    beta2_s_per_decode_token: float
    attn_s_per_token_pair: float = 0.0

    def step_s(self, prefill_tokens: float, decode_tokens: float, context_pairs: float = 0.0) -> float:
        """Seconds of one iteration with these many prefill and decode tokens; ``context_pairs`` =
        Σ chunk tokens × tokens already in KV over the step's prefill chunks."""
        raise NotImplementedError

    def prefill_extra_s(self, prefill_tokens: float, decode_tokens: float) -> float:
        """Seconds a step of ``decode_tokens`` decodes grows by when it also prefills ``prefill_tokens``
        (the marginal prefill cost under this model, fixed costs included)."""
        return self.step_s(prefill_tokens, decode_tokens) - (
            self.step_s(0.0, decode_tokens) if decode_tokens > 0 else 0.0
        )


@dataclass(frozen=True, slots=True)
class LinearStepTime(StepTimeModel):
    """step_s = β0 + β1·prefill + β2·decode + β_attn·context pairs (seconds; BLIS fit, β_attn = 0).

    Raises:
        ValidationError: a coefficient is negative or not finite, or β0 is 0 (steps must take time).
    """

    beta0_s: float
    beta1_s_per_prefill_token: float
    beta2_s_per_decode_token: float
    source: str = ""
    attn_s_per_token_pair: float = 0.0

    def __post_init__(self) -> None:
        vals = (
            self.beta0_s,
            self.beta1_s_per_prefill_token,
            self.beta2_s_per_decode_token,
            self.attn_s_per_token_pair,
        )
        if any(isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.number) for v in vals):
            raise ValidationError(f"LinearStepTime coefficients must be numbers (seconds); got {vals!r:.120}")
        if not isinstance(self.source, str):
            raise ValidationError(f"LinearStepTime source must be a string, got {self.source!r:.80}")
        if not all(np.isfinite(v) and v >= 0 for v in vals) or self.beta0_s <= 0:
            raise ValidationError(f"LinearStepTime needs β0 > 0 and β1, β2, β_attn ≥ 0 (seconds); got {vals}")

    def step_s(self, prefill_tokens: float, decode_tokens: float, context_pairs: float = 0.0) -> float:
        """β0 + β1·prefill + β2·decode + β_attn·context pairs."""
        return (
            self.beta0_s
            + self.beta1_s_per_prefill_token * prefill_tokens
            + self.beta2_s_per_decode_token * decode_tokens
            + self.attn_s_per_token_pair * context_pairs
        )

    def prefill_extra_s(self, prefill_tokens: float, decode_tokens: float) -> float:
        """β1·prefill, plus β0 when the step would otherwise not run."""
        return self.beta1_s_per_prefill_token * prefill_tokens + (0.0 if decode_tokens > 0 else self.beta0_s)


# inference-sim defaults.yaml @1a6eb353, meta-llama/llama-3.1-8b-instruct, H100, TP1, vLLM 0.8.4 (µs → s).
BLIS_LLAMA31_8B_H100_TP1 = LinearStepTime(
    5752.705191348184e-6,
    17.25086436834028e-6,
    5.999143920128404e-6,
    source="BLIS llama-3.1-8b-instruct H100 TP1 vllm 0.8.4",
)


def _extrapolate(x: float, xs: NDArray[np.float64], ys: NDArray[np.float64]) -> float:
    """Piecewise-linear through (xs, ys), its end segments extended (``interp1d(..., "extrapolate")``)."""
    if x < xs[0]:
        return float(ys[0] + (ys[1] - ys[0]) / (xs[1] - xs[0]) * (x - xs[0]))
    if x > xs[-1]:
        return float(ys[-1] + (ys[-1] - ys[-2]) / (xs[-1] - xs[-2]) * (x - xs[-1]))
    return float(np.interp(x, xs, ys))


@dataclass(frozen=True, slots=True)
class TableStepTime(StepTimeModel):
    """SplitwiseSim's reading of measured step times (module docstring).

    Attributes:
        batch_tokens: increasing tokens-in-batch points (prompt_size × batch_size).
        prompt_s: median prefill-iteration seconds at each; token_s: median decode-iteration seconds.
        mixed_factor: a step with both prefill and decode costs this × prompt_s(P + D).
        source: where the table came from.
        attn_s_per_token_pair: seconds per (chunk token, earlier token) pair (module docstring).
    The marginal β's (read by the congestion price) are least-squares slopes of each curve; β0 is
    the decode curve at one sequence; ``attn_s_per_token_pair`` is given (module docstring).
    """

    batch_tokens: NDArray[np.float64]
    prompt_s: NDArray[np.float64]
    token_s: NDArray[np.float64]
    mixed_factor: float = 1.1
    source: str = ""
    attn_s_per_token_pair: float = 0.0
    beta0_s: float = 0.0
    beta1_s_per_prefill_token: float = 0.0
    beta2_s_per_decode_token: float = 0.0

    def __post_init__(self) -> None:
        x = self.batch_tokens
        for y, name in ((self.prompt_s, "prompt"), (self.token_s, "token")):
            if x.ndim != 1 or x.shape != y.shape or x.size < 3 or np.any(np.diff(x) <= 0) or np.any(y <= 0):
                raise ValidationError(
                    f"TableStepTime {name} table needs ≥ 3 increasing x with positive times"
                )
        if not (np.isfinite(self.mixed_factor) and self.mixed_factor >= 1.0):
            raise ValidationError(f"TableStepTime mixed_factor must be ≥ 1, got {self.mixed_factor!r}")
        if not (np.isfinite(self.attn_s_per_token_pair) and self.attn_s_per_token_pair >= 0):
            raise ValidationError("TableStepTime attn_s_per_token_pair must be ≥ 0")
        b1_lin = float(np.polyfit(x, self.prompt_s, 1)[0])
        object.__setattr__(self, "beta1_s_per_prefill_token", max(b1_lin, 0.0))
        object.__setattr__(
            self, "beta2_s_per_decode_token", max(float(np.polyfit(x, self.token_s, 1)[0]), 0.0)
        )
        object.__setattr__(self, "beta0_s", self.decode_s(1.0))

    def prefill_only_s(self, tokens: float) -> float:
        """A prefill-only step of ``tokens`` tokens."""
        return max(_extrapolate(tokens, self.batch_tokens, self.prompt_s), 1e-6)

    def decode_s(self, seqs: float) -> float:
        """A decode-only step of ``seqs`` sequences (one token each)."""
        return max(_extrapolate(seqs, self.batch_tokens, self.token_s), 1e-6)

    def step_s(self, prefill_tokens: float, decode_tokens: float, context_pairs: float = 0.0) -> float:
        """prompt_s(P), token_s(D), or mixed_factor·prompt_s(P + D); plus the chunk attention."""
        attn = self.attn_s_per_token_pair * context_pairs
        if prefill_tokens <= 0:
            return self.decode_s(decode_tokens if decode_tokens > 0 else 1.0)
        if decode_tokens <= 0:
            return self.prefill_only_s(prefill_tokens) + attn
        return self.mixed_factor * self.prefill_only_s(prefill_tokens + decode_tokens) + attn


@dataclass(frozen=True, slots=True)
class KVFootprint:
    """A model's KV cache per token and weights, for the KV capacity of a machine (module docstring).

    Attributes:
        layers, hidden, heads, kv_heads: the transformer's shape (kv_heads < heads under GQA).
        dtype_bytes: bytes per KV element; weight_bytes: model weights held on the GPUs.
    """

    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    dtype_bytes: int
    weight_bytes: float

    def __post_init__(self) -> None:
        if (
            min(self.layers, self.hidden, self.heads, self.kv_heads, self.dtype_bytes) < 1
            or self.kv_heads > self.heads
        ):
            raise ValidationError(f"KVFootprint {self.name}: sizes must be ≥ 1 and kv_heads ≤ heads")
        if not (math.isfinite(self.weight_bytes) and self.weight_bytes >= 0):
            raise ValidationError(f"KVFootprint {self.name}: weight_bytes must be ≥ 0")

    @property
    def bytes_per_token(self) -> float:
        """2 (K and V) × layers × hidden × kv_heads/heads × dtype bytes."""
        return 2.0 * self.layers * self.hidden * self.kv_heads / self.heads * self.dtype_bytes

    def kv_blocks(self, gpu_bytes: float, gpus: int, block_tokens: int = 16) -> int:
        """Whole KV blocks that fit beside the weights on ``gpus`` GPUs of ``gpu_bytes`` each.

        Raises:
            ValidationError: the weights do not fit.
        """
        spare = gpu_bytes * gpus - self.weight_bytes
        if spare <= 0 or block_tokens < 1:
            raise ValidationError(
                f"KVFootprint {self.name}: no room for KV on {gpus} × {gpu_bytes:.3g} bytes"
            )
        return int(spare / self.bytes_per_token // block_tokens)


DGX_H100_GPU_BYTES = 85_899_345_920.0  # SplitwiseSim's h100-80gb memory_size (80 GiB)
# llama2-70b fp16 as SplitwiseSim's model_repo counts it: 80 layers, hidden 8192, no GQA, 135 GB weights
LLAMA2_70B_AS_SPLITWISE = KVFootprint("llama2-70b (SplitwiseSim, no GQA)", 80, 8192, 64, 64, 2, 135e9)
# the real llama2-70b: 64 query heads share 8 KV heads (GQA), so 1/8 of the KV per token
LLAMA2_70B = KVFootprint("llama2-70b", 80, 8192, 64, 8, 2, 135e9)
SPLITWISE_DGX_H100_KV_BLOCKS = LLAMA2_70B_AS_SPLITWISE.kv_blocks(DGX_H100_GPU_BYTES, 8)


def attention_s_per_pair(points: dict[tuple[float, float], float]) -> float:
    """Seconds per attention pair from prefill times measured at (prompt tokens, batch size) points.

    At each x = prompt × batch measured both as one prompt (batch 1) and as B > 1 prompts, the gap
    prompt_s(x, 1) − prompt_s(x/B, B) is set against the pair gap x²/2 − x²/(2B); the result is the
    least-squares slope through the origin, floored at 0 (0 when no x is measured both ways).
    """
    gaps_s: list[float] = []
    gaps_pairs: list[float] = []
    for (p, b), t in points.items():
        if b <= 1:
            continue
        x = p * b
        one = points.get((x, 1.0))
        if one is not None:
            gaps_s.append(one - t)
            gaps_pairs.append(x * x / 2.0 * (1.0 - 1.0 / b))
    if not gaps_pairs:
        return 0.0
    g, d = np.asarray(gaps_pairs), np.asarray(gaps_s)
    return max(float(g @ d / (g @ g)), 0.0)
