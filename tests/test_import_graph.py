"""medzero-rewards stays light: its TRL and verl adapters import and run without torch, trl, transformers,
lm-eval or datasets, and its declared dependencies name none of them."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY_MODULES = ("torch", "trl", "transformers", "lm_eval", "datasets", "accelerate", "vllm", "verl", "numpy")
HEAVY_DISTRIBUTIONS = {"torch", "trl", "transformers", "lm-eval", "datasets", "accelerate", "vllm", "verl", "numpy"}


def _dist_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_library_adapters_pull_no_heavy_module() -> None:
    code = (
        "import sys, asyncio, medzero_rewards, medzero_rewards.trl as t, medzero_rewards.verl as v\n"
        "funcs = t.reward_functions('rarearena_rdc')\n"
        "ref = {'diagnosis': 'Fabry disease'}\n"
        "out = [f(['<think>x</think><answer>Fabry disease</answer>'], reference=[ref]) for f in funcs]\n"
        "out += asyncio.run(t.async_reward_functions('rarearena_rds')[1](['Fabry'], reference=[ref]))\n"
        "out.append(v.compute_score('rarearena_rdc', '<think>x</think><answer>Fabry disease</answer>', ref)['score'])\n"
        f"print(out, sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[[0.2], [1.0], [0.0], 0.0, 1.2] []", result.stdout + result.stderr


def test_rewards_distribution_requires_no_heavy_package() -> None:
    declared = tomllib.loads((REPO / "rewards" / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(declared["dependencies"])
    for extra in declared.get("optional-dependencies", {}).values():
        requirements += extra
    installed = importlib.metadata.requires("medzero-rewards") or []
    assert {_dist_name(r) for r in installed} == {_dist_name(r) for r in requirements}  # metadata = pyproject
    names = {_dist_name(r) for r in requirements}
    assert names >= {"rapidfuzz", "sqlglot", "pydantic"}
    assert not names & HEAVY_DISTRIBUTIONS, sorted(names & HEAVY_DISTRIBUTIONS)
