#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the main job on its embedded default: a real lm-eval evaluation of
# SmolLM2-135M-Instruct on CPU over bundled RareBench cases (and EHRSQL when MEDZERO_EHRSQL_DIR is set),
# scored by medzero_rewards, then a report (PNG plots + Markdown/HTML) under ./out/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
args=(--output out/demo)
if [ -n "${MEDZERO_EHRSQL_DIR:-}" ]; then args+=(--ehrsql-dir "$MEDZERO_EHRSQL_DIR"); fi
exec .venv/bin/medzero-eval demo "${args[@]}" "$@"
