"""Every command in the documentation runs as written, so the docs cannot rot.

The shell blocks of README.md, tasks/**/README.md, docs/*.md, bench/README.md and rewards/README.md,
and the command lines in the comments of configs/**/*.yaml, are extracted and each is matched by
exactly one rule in :data:`RULES`:

* ``run``: run as written (bash, in the repository root, ``.venv/bin`` first on ``PATH``,
  ``../shared`` beside the checkout) and expect exit 0;
* ``help``: too long for a test (a model run, a benchmark): its program runs with ``--help`` and the
  documented options are checked to exist in that help;
* ``dry-run``: ``medzero-train`` configs: run with ``--dry-run`` (validates the config, builds the data
  and rewards, scores samples, no model);
* ``skip``: cannot run on this machine for the stated reason (a GPU, a 7B model, the test suite itself).

A command that matches no rule fails the test: a new documented command needs a rule. The Python
blocks of README.md and rewards/README.md run as written too (cwd: the repository root).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

DOCS = ["README.md", "rewards/README.md", "bench/README.md", "tasks/README.md", "tasks/*/README.md", "docs/*.md"]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
CONFIG_COMMAND = re.compile(r"^#\s{2,}(\S.*)$")


@dataclass(frozen=True)
class Rule:
    pattern: str  # re.search against the command
    action: str  # run | help | dry-run | skip
    why: str = ""


GPU = "needs GPUs (vLLM, DeepSpeed, a 7B model); CI has none"
RULES: list[Rule] = [  # the first match wins
    Rule(r"^bash scripts/test\.sh$", "skip", "the test suite itself: CI runs it"),
    Rule(r"^bash scripts/demo\.sh$", "help", "minutes of CPU generation; tests/test_report.py runs the demo (slow)"),
    Rule(r"^pip install ", "skip", "installs a release from PyPI; tests/test_wheel_install.py installs the built wheels"),
    Rule(r"vllm serve|vllm-serve|--model vllm|^CUDA_VISIBLE_DEVICES=|^accelerate launch|verl\.trainer\.main_ppo", "skip", GPU),
    Rule(r"^export MEDZERO_JUDGE=", "run"),
    Rule(r"^MODEL_ARGS=", "run"),
    Rule(r"^medzero-eval score-ehrsql --db \.\./shared/", "run"),
    Rule(r"^(MEDZERO_DATA=\S+ )?medzero-train --config configs/(smoke_cpu|gpu_check_smollm2)\.yaml$", "dry-run"),
    Rule(r"^(MEDZERO_DATA=\S+ )?medzero-train ", "help", "a 7B model, or RareArena's RDC.json from the Hub"),
    Rule(r"^medzero-eval (run|report|score) ", "help", "a model run, or its output folder"),
    Rule(r"^lm_eval ", "help", "a model run (tests/test_lm_eval_e2e.py and tests/test_served_model.py run these)"),
    Rule(r"^(taskset -c \d+ )?\.venv/bin/python bench/bench_\w+\.py", "help", "a benchmark (tests/test_bench.py runs each small)"),
]
HELP_PROGRAM = {r"^bash scripts/demo\.sh$": "medzero-eval demo", r"^lm_eval --": "lm_eval run"}  # lm-eval: `run` is implied


@dataclass(frozen=True)
class Command:
    source: str  # file:line
    text: str

    def __str__(self) -> str:
        return f"{self.source}: {self.text}"


def _doc_files() -> list[Path]:
    files: list[Path] = []
    for pattern in DOCS:
        files.extend(sorted(REPO_ROOT.glob(pattern)))
    return files


def _logical_lines(block: str) -> list[tuple[int, str]]:
    """Join ``\\`` continuations; drop blank lines and whole-line comments; keep the first line's offset."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for i, line in enumerate(block.splitlines()):
        if not pending:
            start = i
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped.strip())
        text = " ".join(p for p in pending if p)
        pending = []
        if text and not text.startswith("#"):
            out.append((start, text))
    return out


def _strip_comment(text: str) -> str:
    """Drop a trailing ``# comment`` that stands outside quotes."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=False)
    lexer.commenters = "#"
    lexer.whitespace_split = True
    try:
        kept = list(lexer)
    except ValueError:
        return text
    if not kept:
        return ""
    # Cut the original text after the last kept token's last occurrence so quoting stays as written.
    hash_at = [m.start() for m in re.finditer(r"\s#", text)]
    for pos in hash_at:
        if shlex.split(text[:pos], comments=False) == kept:
            return text[:pos].rstrip()
    return text.rstrip()


def shell_commands() -> list[Command]:
    commands: list[Command] = []
    for path in _doc_files():
        doc = path.read_text(encoding="utf-8")
        rel = path.relative_to(REPO_ROOT)
        for m in FENCE.finditer(doc):
            if m.group(1) not in ("bash", "sh", "shell", "console"):
                continue
            first_line = doc.count("\n", 0, m.start(2)) + 1
            for offset, text in _logical_lines(m.group(2)):
                text = _strip_comment(text)
                if text:
                    commands.append(Command(f"{rel}:{first_line + offset}", text))
    for path in sorted(REPO_ROOT.glob("configs/**/*.yaml")):
        rel = path.relative_to(REPO_ROOT)
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = CONFIG_COMMAND.match(line)
            if m and re.match(r"(\w+=\S+ )*(medzero-\w+|accelerate|python|lm_eval|bash)\b", m.group(1)):
                commands.append(Command(f"{rel}:{n}", _strip_comment(m.group(1))))
    return commands


def python_blocks() -> list[Command]:
    blocks: list[Command] = []
    for rel in ("README.md", "rewards/README.md"):
        doc = (REPO_ROOT / rel).read_text(encoding="utf-8")
        for m in FENCE.finditer(doc):
            if m.group(1) == "python":
                blocks.append(Command(f"{rel}:{doc.count(chr(10), 0, m.start(2)) + 1}", m.group(2)))
    return blocks


def rule_for(command: Command) -> Rule | None:
    for rule in RULES:
        if re.search(rule.pattern, command.text):
            return rule
    return None


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    return env


def _bash(script: str, timeout: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", f"set -eo pipefail\n{script}"], cwd=REPO_ROOT, env=_env(),
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def _program(text: str) -> str:
    """The program part of a command: what stands before its first ``--option`` (or ``[--option]``)."""
    for pattern, program in HELP_PROGRAM.items():
        if re.search(pattern, text):
            return program
    return re.split(r"\s(?:--|\[)", text, maxsplit=1)[0].strip()


def _long_options(text: str) -> list[str]:
    return sorted({w.split("=")[0] for w in shlex.split(text) if w.startswith("--")})


ALL = shell_commands()


def test_every_documented_command_has_a_rule() -> None:
    unmatched = [str(c) for c in ALL if rule_for(c) is None]
    assert not unmatched, "documented commands without a rule in tests/test_documented_commands.py:\n" + "\n".join(
        unmatched
    )
    assert len(ALL) > 20  # the extraction itself works


@pytest.mark.parametrize("command", [c for c in ALL if (r := rule_for(c)) and r.action != "skip"], ids=str)
def test_documented_command_runs(command: Command, shared_data: Path) -> None:
    rule = rule_for(command)
    assert rule is not None
    if rule.action == "run":
        proc = _bash(command.text, timeout=420)
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    elif rule.action == "dry-run":
        proc = _bash(f"{command.text} --dry-run", timeout=420)
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    else:
        program = _program(command.text)
        assert program, command
        proc = _bash(f"{program} --help", timeout=180)
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        help_text = proc.stdout + proc.stderr
        missing = [o for o in _long_options(command.text) if not re.search(rf"{re.escape(o)}\b", help_text)]
        assert not missing, f"{command}: options not in `{program} --help`: {missing}"


def _expected_output(code: str) -> list[str]:
    """The ``# output`` lines the docs write right after a ``print(...)`` line."""
    lines = code.splitlines()
    expected: list[str] = []
    for before, line in zip(lines, lines[1:]):
        if line.startswith("# ") and before.lstrip().startswith("print("):
            expected.append(line[2:])
    return expected


PYTHON_SKIP = {
    "trainer.train()": "trains a model that GRPOTrainer loads by path or hub id; tests/test_train_e2e.py runs GRPOTrainer "
    "with these reward functions on the embedded model",
}


@pytest.mark.parametrize("block", python_blocks(), ids=lambda b: b.source)
def test_documented_python_runs(block: Command, shared_data: Path) -> None:
    for marker, why in PYTHON_SKIP.items():
        if marker in block.text:
            pytest.skip(why)
    env = _env()
    server = None
    if "JUDGE_BASE_URL" in block.text:  # the judge example, against a real local OpenAI-compatible server
        from fake_openai_server import FakeOpenAIServer

        server = FakeOpenAIServer(grades={("Lou Gehrig disease", "Amyotrophic lateral sclerosis"): 2}).start()
        env.update(JUDGE_BASE_URL=server.base_url, JUDGE_MODEL="fake-judge")
    try:
        proc = subprocess.run([sys.executable, "-c", block.text], cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
    finally:
        if server is not None:
            server.stop()
    assert proc.returncode == 0, f"{block.source}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    expected = _expected_output(block.text)
    if server is not None:
        expected = ["synonym ok"]
    printed = proc.stdout.splitlines()
    assert printed[-len(expected):] == expected if expected else True, f"{block.source}: printed {printed}, the doc says {expected}"
