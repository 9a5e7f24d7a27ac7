"""Packaging contracts: medzero-rewards installs light, and both distributions import."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = {"torch", "transformers", "trl", "lm-eval", "lm_eval", "datasets", "accelerate", "vllm", "openai"}


@pytest.mark.slow
def test_rewards_installs_without_heavy_dependencies(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(REPO / "rewards")],
        check=True,
    )
    listed = subprocess.run(
        [str(py), "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
        check=True, capture_output=True, text=True,
    ).stdout
    installed = {p["name"].lower().replace("_", "-") for p in json.loads(listed)}
    assert "medzero-rewards" in installed
    assert not installed & HEAVY, f"heavy packages pulled in: {sorted(installed & HEAVY)}"
    allowed = {
        "medzero-rewards", "rapidfuzz", "sqlglot", "pydantic", "pydantic-core", "annotated-types",
        "typing-extensions", "typing-inspection", "pip", "setuptools", "wheel",
    }
    assert installed <= allowed, f"unexpected runtime dependencies: {sorted(installed - allowed)}"
    # The public API works in that minimal environment.
    code = (
        "from medzero_rewards import get_scorer, list_scorers;"
        "s = get_scorer('rarearena_rdc');"
        "r = s.score('<think>x</think><answer>Wilson disease</answer>', {'diagnosis': 'Wilson disease'});"
        "print(sorted(list_scorers()), r.correct)"
    )
    out = subprocess.run([str(py), "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "['ehrsql', 'rarearena_rdc', 'rarearena_rds'] True"
    # The TRL and verl adapters work there too (no trl, torch or verl installed) and equal score_batch.
    adapters = (
        "from medzero_rewards import get_scorer\n"
        "from medzero_rewards.trl import reward_functions\n"
        "from medzero_rewards.verl import compute_score\n"
        "done = ['<think>x</think><answer>Wilson disease</answer>', '<think>x</think><answer>Gaucher disease</answer>', 'Wilson']\n"
        "ref = {'diagnosis': 'Wilson disease'}\n"
        "per_func = [f(done, reference=[ref] * 3) for f in reward_functions('rarearena_rdc')]\n"
        "trl = [sum(v) for v in zip(*per_func)]\n"
        "verl = [compute_score('rarearena_rdc', c, ref)['score'] for c in done]\n"
        "print(trl == verl == get_scorer('rarearena_rdc').score_batch(done, [ref] * 3).rewards, trl)\n"
    )
    out = subprocess.run([str(py), "-c", adapters], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "True [1.2, 0.2, 0.0]"
    # The optional C extension is built where there is a compiler, and the package works without it.
    probe = "import medzero_rewards.parsing as p; print(p._speedups is not None)"
    built = subprocess.run([str(py), "-c", probe], check=True, capture_output=True, text=True).stdout.strip()
    assert built == str(shutil.which("cc") is not None or shutil.which("gcc") is not None)
    blocked = "import sys; sys.modules['medzero_rewards._speedups'] = None;" + code  # the import fails
    out = subprocess.run([str(py), "-c", blocked], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "['ehrsql', 'rarearena_rdc', 'rarearena_rds'] True"


def test_packages_import() -> None:
    code = "import medzero_rewards, medzero_eval, medzero_train, medzero_eval.cli"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_importing_rewards_does_not_import_heavy_modules() -> None:
    code = (
        "import sys, medzero_rewards;"
        "medzero_rewards.get_scorer('rarearena_rdc');"
        "heavy = [m for m in ('torch', 'transformers', 'trl', 'lm_eval', 'openai', 'datasets') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"
