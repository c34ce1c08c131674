"""A small synthetic routing dataset with a learnable signal (shared by the routing tests)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.routing.dataset import RoutingDataset

MODELS = ("small", "medium", "large")
COST = {"small": 0.0001, "medium": 0.0005, "large": 0.003}


def synthetic_rows(n: int = 150, seed: int = 0, split: bool = True) -> list[dict[str, Any]]:
    """n prompts × 3 models. "hard" prompts (word ``tricky``) defeat the small model; "math" prompts
    (category math) defeat the medium one more often; the large model is right 90% of the time."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        cat = ("math", "trivia", "code")[i % 3]
        hard = rng.random() < 0.4
        words = " ".join(rng.choice(["alpha", "beta", "gamma", "delta", "omega"], 6))
        prompt = f"question {i}: {'tricky ' if hard else ''}{words}"
        p = {"small": 0.15 if hard else 0.85, "medium": 0.4 if cat == "math" else 0.8, "large": 0.9}
        for m in MODELS:
            rows.append(
                {
                    "prompt_id": f"p{i}",
                    "prompt": prompt,
                    "model": m,
                    "quality": float(rng.random() < p[m]),
                    "cost_usd": COST[m] * (1 + 0.1 * rng.random()),
                    "category": cat,
                    "split": ("test" if i % 4 == 0 else "train") if split else "",
                }
            )
    return rows


def synthetic(n: int = 150, seed: int = 0) -> RoutingDataset:
    return RoutingDataset.from_long(synthetic_rows(n, seed), source="synthetic")


class BagEncoder:
    """A deterministic bag-of-words encoder for tests: each word a fixed random unit vector, averaged."""

    model_id = "bag-of-words@test"
    dim = 16

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for word in t.lower().split():
                out[i] += np.random.default_rng(zlib.crc32(word.encode())).normal(size=self.dim)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
