"""Sentence embeddings for routing: a BERT encoder (all-MiniLM-L6-v2) run in numpy, mean-pooled, L2-normalised.

The forward pass is the standard BERT encoder (word + position + type embeddings, LayerNorm, then
``layers`` × [multi-head self-attention, residual, LayerNorm, GELU feed-forward, residual, LayerNorm]),
followed by sentence-transformers' mean pooling over the non-padding tokens and L2 normalisation, so
the vectors equal sentence-transformers' (float32 rounding aside) without torch. Inputs longer than
``max_tokens`` word pieces are cut at the end, as sentence-transformers does (256 for this model).

This module reads no file: the weights (name -> array, Hugging Face BERT names) and the tokenizer (a
function from texts to word-piece id lists with [CLS]/[SEP]) are handed in by
``tokenomy.interfaces.loaders.routing_embeddings``, which finds them in an installed package.
``TextEncoder`` is the contract the router uses; ``MiniLMEncoder`` is the reference implementation
and the fall-back; ``encoder_onnx.OnnxEncoder`` runs the same network through onnxruntime (float32:
the same vectors; int8: close ones, under another ``model_id``). Both cut and pad texts with
``padded_batches``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.special import erf

from tokenomy.core.errors import ValidationError

__all__ = ["MiniLMEncoder", "TextEncoder", "padded_batches"]


class TextEncoder(Protocol):
    """Texts -> (N, dim) float32 unit vectors; ``model_id`` names the model and its version."""

    model_id: str
    dim: int

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


def _layer_norm(
    x: NDArray[np.float32], w: NDArray[np.float32], b: NDArray[np.float32]
) -> NDArray[np.float32]:
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return np.asarray((x - mu) / np.sqrt(var + 1e-12) * w + b, dtype=np.float32)


class MiniLMEncoder:
    """BERT sentence encoder in numpy.

    Args:
        weights: parameter name -> array (``embeddings.*``, ``encoder.layer.K.*``), float32.
        tokenize: texts -> word-piece ids per text, each starting with [CLS] and ending with [SEP].
        model_id: name and version of the weights (recorded in saved routers and cache keys).
        heads: attention heads.
        max_tokens: word pieces kept per text (including [CLS] and [SEP]).
        batch: texts per forward pass (sorted by length, so padding is small).
    """

    def __init__(
        self,
        weights: Mapping[str, NDArray[np.float32]],
        tokenize: Callable[[Sequence[str]], list[list[int]]],
        *,
        model_id: str,
        heads: int = 12,
        max_tokens: int = 256,
        batch: int = 64,
    ) -> None:
        need = "embeddings.word_embeddings.weight"
        if need not in weights:
            raise ValidationError(f"encoder weights of {model_id} lack {need!r} (not a BERT checkpoint)")
        self.w = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        self.tokenize = tokenize
        self.model_id = model_id
        self.heads = heads
        self.max_tokens = max_tokens
        self.batch = batch
        self.backend = "numpy-float32"
        self.dim = int(self.w[need].shape[1])
        self.layers = sum(1 for k in self.w if k.endswith(".attention.self.query.weight"))
        # transposed, contiguous weights (x @ W is one BLAS call); query, key, value fused
        self.wt: dict[str, tuple[NDArray[np.float32], NDArray[np.float32]]] = {}
        for k in range(self.layers):
            p = f"encoder.layer.{k}."
            qkv = [p + f"attention.self.{n}" for n in ("query", "key", "value")]
            self.wt[p + "qkv"] = (
                np.ascontiguousarray(np.concatenate([self.w[n + ".weight"] for n in qkv]).T),
                np.concatenate([self.w[n + ".bias"] for n in qkv]),
            )
            for n in ("attention.output.dense", "intermediate.dense", "output.dense"):
                self.wt[p + n] = (np.ascontiguousarray(self.w[p + n + ".weight"].T), self.w[p + n + ".bias"])

    def _dense(self, x: NDArray[np.float32], name: str) -> NDArray[np.float32]:
        w, b = self.wt[name]
        flat = x.reshape(-1, x.shape[-1]) @ w + b
        return np.asarray(flat.reshape(*x.shape[:-1], w.shape[1]), dtype=np.float32)

    def _forward(self, ids: NDArray[np.int64], mask: NDArray[np.float32]) -> NDArray[np.float32]:
        """Mean-pooled last hidden state of a padded batch, (B, dim)."""
        w = self.w
        b, t = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        h, d = self.heads, self.dim // self.heads
        bias = ((1.0 - mask) * -1e9)[:, None, None, :].astype(np.float32)
        for k in range(self.layers):
            p = f"encoder.layer.{k}."

            def split(z: NDArray[np.float32]) -> NDArray[np.float32]:
                return z.reshape(b, t, h, d).transpose(0, 2, 1, 3)

            qkv = self._dense(x, p + "qkv")
            q, kk, v = (split(qkv[..., i * h * d : (i + 1) * h * d]) for i in range(3))
            s = q @ kk.transpose(0, 1, 3, 2) / np.float32(np.sqrt(d)) + bias
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            s /= s.sum(axis=-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(b, t, h * d)
            a = self._dense(ctx, p + "attention.output.dense")
            x = _layer_norm(
                x + a, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]
            )
            u = self._dense(x, p + "intermediate.dense")
            u = np.asarray(0.5 * u * (1.0 + erf(u / np.float32(np.sqrt(2.0)))), dtype=np.float32)
            o = self._dense(u, p + "output.dense")
            x = _layer_norm(x + o, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        return np.asarray(pooled, dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Unit-length embeddings of ``texts``, (N, dim) float32 (an empty text embeds [CLS][SEP])."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        for rows, ids, mask in padded_batches(self.tokenize(list(texts)), self.max_tokens, self.batch):
            out[rows] = self._forward(ids, mask)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.asarray(out / np.maximum(norms, 1e-12), dtype=np.float32)


def padded_batches(
    ids: list[list[int]], max_tokens: int, batch: int
) -> Iterator[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]]:
    """(rows, ids, mask) per batch of ``batch`` texts, sorted by length so padding is small.

    Texts longer than ``max_tokens`` keep their first ``max_tokens - 1`` pieces and their final [SEP]
    (sentence-transformers' truncation); ``mask`` is 1.0 on tokens, 0.0 on padding.
    """
    cut = [[*seq[: max_tokens - 1], seq[-1]] if len(seq) > max_tokens else seq for seq in ids]
    order = np.argsort([len(s) for s in cut], kind="stable")
    for start in range(0, len(order), batch):
        rows = order[start : start + batch]
        t = max(len(cut[i]) for i in rows)
        arr = np.zeros((rows.size, t), dtype=np.int64)
        mask = np.zeros((rows.size, t), dtype=np.float32)
        for r, i in enumerate(rows):
            arr[r, : len(cut[i])] = cut[i]
            mask[r, : len(cut[i])] = 1.0
        yield rows, arr, mask
