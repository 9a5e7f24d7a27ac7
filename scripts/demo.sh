#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the main job on its embedded default: a real lm-eval evaluation of
# SmolLM2-135M-Instruct on CPU over 10 bundled RareBench cases with 10 different diagnoses (and 10 EHRSQL
# questions when MEDZERO_EHRSQL_DIR is set), scored by medzero_rewards, then a report under ./out/demo:
# out/demo/report/report.html (standalone) and report.md with figures/. CPU threads are set for the
# machine (the usable cores less the current load; pass --threads N, or set OMP_NUM_THREADS, to choose).
# Extra arguments go to `medzero-eval demo` (see `medzero-eval demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
args=(--output out/demo)
if [ -n "${MEDZERO_EHRSQL_DIR:-}" ]; then args+=(--ehrsql-dir "$MEDZERO_EHRSQL_DIR"); fi
exec .venv/bin/medzero-eval demo "${args[@]}" "$@"
