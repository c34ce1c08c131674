"""The BERT sentence encoder of ``encoder.py`` as an ONNX graph, run by onnxruntime on one thread.

``bert_graph`` writes the same forward pass as ``MiniLMEncoder._forward`` (embeddings, LayerNorm,
``layers`` × [self-attention, residual, LayerNorm, erf-GELU feed-forward, residual, LayerNorm], mean
pooling over the non-padding tokens) with the ``onnx`` package's helper API straight from the numpy
weights (no torch, no exported file), each layer as onnxruntime's fused CPU operators (``Attention``,
``SkipLayerNormalization``, ``BiasGelu`` of the ``com.microsoft`` domain). ``OnnxEncoder`` runs a
serialised graph (float32, or with int8 weights made by ``onnxruntime.quantization`` in the loader)
and keeps the numpy encoder's tokenising, truncation (``padded_batches``) and L2 normalisation.

What it is not: the reference. ``MiniLMEncoder`` stays the reference and the fall-back when
onnxruntime is absent; float32 here equals it up to float rounding, int8 weights change the vectors
(so the loader gives them another ``model_id``). This module reads no file; ``onnx`` and
``onnxruntime`` are imported inside the functions that need them, with an error naming the extra.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError
from tokenomy.routing.encoder import padded_batches

__all__ = ["OnnxEncoder", "bert_graph"]

_EXTRA = "pip install 'tokenomy[embeddings]' (onnx, onnxruntime)"
OPSET = 17
"""ONNX opset of the graph (LayerNormalization is a standard op from 17)."""


def _need(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ValidationError(f"the onnxruntime encoder needs the embeddings extra: {_EXTRA}") from None


def bert_graph(weights: Mapping[str, NDArray[np.float32]], *, heads: int) -> bytes:
    """A serialised ONNX model: ``input_ids`` (B, T) int64, ``mask`` (B, T) float32 -> ``pooled`` (B, dim).

    ``pooled`` is the masked mean of the last hidden state (not yet L2-normalised). Each layer uses
    onnxruntime's fused CPU operators (``Attention``, ``SkipLayerNormalization``, ``BiasGelu``).

    Raises:
        ValidationError: the ``onnx`` package is missing, or the weights are not a BERT checkpoint.
    """
    onnx = _need("onnx")
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    w = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
    e = "embeddings."
    if e + "word_embeddings.weight" not in w:
        raise ValidationError(
            "encoder weights lack 'embeddings.word_embeddings.weight' (not a BERT checkpoint)"
        )
    dim = int(w[e + "word_embeddings.weight"].shape[1])
    layers = sum(1 for k in w if k.endswith(".attention.self.query.weight"))
    inits: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, arr: NDArray[Any]) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op: str, ins: list[str], out: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    # embeddings: word + (position + token type 0), positions sliced to the batch's length
    word = node("Gather", [const(e + "word", w[e + "word_embeddings.weight"]), "input_ids"], "emb.word")
    pos_table = w[e + "position_embeddings.weight"] + w[e + "token_type_embeddings.weight"][0]
    t_len = node("Shape", ["input_ids"], "emb.t", start=1, end=2)
    pos = node(
        "Slice", [const(e + "pos", pos_table), const("zero1", np.zeros(1, np.int64)), t_len], "emb.pos"
    )
    ln = [const(e + "ln.w", w[e + "LayerNorm.weight"]), const(e + "ln.b", w[e + "LayerNorm.bias"])]
    x = node(
        "LayerNormalization", [node("Add", [word, pos], "emb.sum"), *ln], "emb.ln", axis=-1, epsilon=1e-12
    )
    mask_i32 = node("Cast", ["mask"], "mask_i32", to=onnx.TensorProto.INT32)
    for k in range(layers):
        x = _fused_layer(x, f"encoder.layer.{k}.", f"l{k}.", w, heads, const, node, mask_i32)
    # masked mean over tokens
    m3 = node("Unsqueeze", ["mask", const("axis2", np.array([2], np.int64))], "mask3")
    axis1 = const("axis1", np.array([1], np.int64))
    total = node("ReduceSum", [node("Mul", [x, m3], "masked"), axis1], "total", keepdims=0)
    count = node("ReduceSum", ["mask", axis1], "count0", keepdims=1)
    node("Div", [total, node("Max", [count, const("one", np.ones((), np.float32))], "count")], "pooled")
    graph = helper.make_graph(
        nodes,
        "bert_mean_pooled",
        [
            helper.make_tensor_value_info("input_ids", onnx.TensorProto.INT64, ["B", "T"]),
            helper.make_tensor_value_info("mask", onnx.TensorProto.FLOAT, ["B", "T"]),
        ],
        [helper.make_tensor_value_info("pooled", onnx.TensorProto.FLOAT, ["B", dim])],
        inits,
    )
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="tokenomy")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def _fused_layer(
    x: str,
    p: str,
    s: str,
    w: Mapping[str, NDArray[np.float32]],
    heads: int,
    const: Callable[[str, NDArray[Any]], str],
    node: Callable[..., str],
    mask_i32: str,
) -> str:
    """One encoder layer with onnxruntime's fused operators (com.microsoft domain)."""
    ms = {"domain": "com.microsoft"}
    qkv = [p + f"attention.self.{n}" for n in ("query", "key", "value")]
    w_qkv = const(s + "qkv.w", np.concatenate([w[n + ".weight"] for n in qkv]).T)
    b_qkv = const(s + "qkv.b", np.concatenate([w[n + ".bias"] for n in qkv]))
    att = node("Attention", [x, w_qkv, b_qkv, mask_i32], s + "att", num_heads=heads, **ms)

    def weight(name: str) -> str:
        return const(p + name + ".weight", w[p + name + ".weight"].T)

    def vec(name: str) -> str:
        return const(p + name, w[p + name])

    a = node("MatMul", [att, weight("attention.output.dense")], s + "attn")
    ln = "attention.output.LayerNorm."
    x1 = node(
        "SkipLayerNormalization",
        [a, x, vec(ln + "weight"), vec(ln + "bias"), vec("attention.output.dense.bias")],
        s + "ln1",
        epsilon=1e-12,
        **ms,
    )
    u = node("MatMul", [x1, weight("intermediate.dense")], s + "inter")
    g = node("BiasGelu", [u, vec("intermediate.dense.bias")], s + "gelu", **ms)
    o = node("MatMul", [g, weight("output.dense")], s + "out")
    ln = "output.LayerNorm."
    return str(
        node(
            "SkipLayerNormalization",
            [o, x1, vec(ln + "weight"), vec(ln + "bias"), vec("output.dense.bias")],
            s + "ln2",
            epsilon=1e-12,
            **ms,
        )
    )


class OnnxEncoder:
    """A sentence encoder running a ``bert_graph`` model with onnxruntime (the ``TextEncoder`` contract).

    Args:
        model: the serialised ONNX model (``bert_graph``, optionally int8-quantised).
        tokenize: texts -> word-piece ids per text, each starting with [CLS] and ending with [SEP].
        model_id: names the weights and anything that changes the vectors (checked by saved routers).
        backend: names the runtime and precision (part of the embedding cache key, with ``model_id``).
        dim: embedding size.
        max_tokens: word pieces kept per text (including [CLS] and [SEP]).
        batch: texts per run (sorted by length, so padding is small).
        threads: onnxruntime intra-op threads (1: one core, as the latency target is stated).
    """

    def __init__(
        self,
        model: bytes,
        tokenize: Callable[[Sequence[str]], list[list[int]]],
        *,
        model_id: str,
        backend: str,
        dim: int,
        max_tokens: int = 256,
        batch: int = 64,
        threads: int = 1,
    ) -> None:
        ort = _need("onnxruntime")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])
        self.tokenize = tokenize
        self.model_id = model_id
        self.backend = backend
        self.dim = dim
        self.max_tokens = max_tokens
        self.batch = batch

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Unit-length embeddings of ``texts``, (N, dim) float32 (an empty text embeds [CLS][SEP])."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        for rows, ids, mask in padded_batches(self.tokenize(list(texts)), self.max_tokens, self.batch):
            (pooled,) = self.session.run(["pooled"], {"input_ids": ids, "mask": mask})
            out[rows] = pooled
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.asarray(out / np.maximum(norms, 1e-12), dtype=np.float32)
