"""`medzero-eval report` on lm-eval --log_samples directories produced for real by lm-eval.

The log directories are written by ``lm_eval.evaluator.simple_evaluate`` with a canned-completion
``LM`` registered through ``lm_eval.api.registry.register_model``, then saved with lm-eval's own
``EvaluationTracker`` exactly as ``lm_eval run --output_path ... --log_samples`` does: two
"checkpoints" of one run, a task over real RareBench records, per-sample metrics from a
medzero_rewards scorer in ``process_results``.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("lm_eval")
pytest.importorskip("matplotlib")

from lm_eval import evaluator  # noqa: E402
from lm_eval.api.model import LM  # noqa: E402
from lm_eval.api.registry import register_model  # noqa: E402
from lm_eval.loggers import EvaluationTracker  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402
from medzero_rewards import Score, Scorer, register_scorer  # noqa: E402

from medzero_eval.cli import main  # noqa: E402
from medzero_eval.records import load_rarebench  # noqa: E402
from medzero_eval.report import load_checkpoints, parse_step, write_report  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TASK = "medzero_test_dx"


@register_scorer("medzero_test_dx")
class _TagScorer(Scorer):
    """Small stand-in diagnosis scorer: 1.0 exact answer, 0.2 wrong answer in tags, 0.0 format failure."""

    name = "medzero_test_dx"

    def score(self, completion: str, reference: dict[str, Any]) -> Score:
        m = re.search(r"<answer>(.*?)</answer>", completion, re.S)
        if m is None:
            return Score(reward=0.0, correct=False, status="format_error", details={"format_ok": False})
        answer = m.group(1).strip()
        names = [reference["diagnosis"], *reference.get("synonyms", [])]
        ok = answer.lower() in (n.lower() for n in names)
        return Score(reward=1.0 if ok else 0.2, correct=ok, extracted=answer, details={"format_ok": True, "top1": ok})


@register_model("medzero-canned")
class CannedLM(LM):
    """Returns the completion stored for each doc_id in a JSON file (``answers=path``)."""

    def __init__(self, pretrained: str = "canned", answers: str = "", **_: Any) -> None:
        super().__init__()
        self.answers = {int(k): v for k, v in json.loads(Path(answers).read_text()).items()}

    def generate_until(self, requests, disable_tqdm: bool = False):  # type: ignore[no-untyped-def]
        return [self.answers[req.doc_id] for req in requests]

    def loglikelihood(self, requests):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def loglikelihood_rolling(self, requests):  # type: ignore[no-untyped-def]
        raise NotImplementedError


def _write_task(task_dir: Path, docs_path: Path) -> None:
    task_dir.mkdir(parents=True, exist_ok=True)
    (task_dir / f"{TASK}.yaml").write_text(textwrap.dedent(f"""\
        task: {TASK}
        dataset_path: json
        dataset_kwargs:
          data_files:
            test: {docs_path}
        test_split: test
        output_type: generate_until
        doc_to_text: "Patient case:\\n{{{{case_report}}}}\\n\\nWhat is the diagnosis?"
        doc_to_target: diagnosis
        process_results: !function utils.process_results
        generation_kwargs:
          until: ["<|im_end|>"]
          max_gen_toks: 256
        metric_list:
          - metric: top1
            aggregation: mean
            higher_is_better: true
          - metric: mean_length
            aggregation: mean
            higher_is_better: false
          - metric: format_rate
            aggregation: mean
            higher_is_better: true
          - metric: reward
            aggregation: mean
            higher_is_better: true
        metadata:
          version: 1.0
          scorer: medzero_test_dx
        """))
    (task_dir / "utils.py").write_text(textwrap.dedent("""\
        from medzero_rewards import get_scorer

        def process_results(doc, results):
            s = get_scorer("medzero_test_dx").score(results[0], doc)
            return {"top1": float(s.correct), "mean_length": float(len(results[0])),
                    "format_rate": float(s.details["format_ok"]), "reward": s.reward}
        """))


def _run_lm_eval(out_dir: Path, model_name: str, task_dir: Path, answers: dict[int, str], tmp: Path) -> None:
    answers_path = tmp / f"answers_{abs(hash(model_name))}.json"
    answers_path.write_text(json.dumps(answers))
    tracker = EvaluationTracker(output_path=str(out_dir))
    results = evaluator.simple_evaluate(
        model="medzero-canned", model_args=f"pretrained={model_name},answers={answers_path}", tasks=[TASK],
        task_manager=TaskManager(include_path=str(task_dir)), log_samples=True, evaluation_tracker=tracker,
    )
    assert results is not None
    samples = results.pop("samples")  # what lm_eval/_cli/run.py does after simple_evaluate
    tracker.save_results_aggregated(results=results, samples=samples)
    for task_name in results["configs"]:
        tracker.save_results_samples(task_name=task_name, samples=samples[task_name])


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return load_rarebench("mme")[:6]


@pytest.fixture(scope="module")
def log_dirs(tmp_path_factory: pytest.TempPathFactory, records: list[dict[str, Any]]) -> list[Path]:
    """Two checkpoints, checkpoint-100 worse than checkpoint-200; returned in the wrong order on purpose."""
    tmp = tmp_path_factory.mktemp("lmeval")
    docs = tmp / "docs.jsonl"
    docs.write_text("".join(json.dumps(r) + "\n" for r in records))
    task_dir = tmp / "tasks"
    _write_task(task_dir, docs)
    think = "<think>Short stature with skeletal and craniofacial anomalies suggests a syndromic dysplasia.</think>"
    wrong = "Marfan syndrome"
    early = {
        0: f"{think}<answer>{records[0]['diagnosis']}</answer>",
        1: f"{think}<answer>{wrong}</answer>",
        2: "I think this is probably Stickler syndrome.",  # format failure: the lowest reward
        3: f"{think}<answer>{wrong}</answer>",
        4: f"{think}<answer>{records[4]['diagnosis']}</answer>",
        5: f"{think}<answer>{wrong}</answer>",
    }
    late = {i: f"{think}<answer>{r['diagnosis']}</answer>" for i, r in enumerate(records)}
    late[5] = "<think>Could be many things.</think> Noonan syndrome"  # the one failure left
    late[3] = f"{think}<answer>{wrong}</answer>"
    runs = tmp / "runs"
    _run_lm_eval(runs / "checkpoint-200", "grpo/checkpoint-200", task_dir, late, tmp)
    _run_lm_eval(runs / "checkpoint-100", "grpo/checkpoint-100", task_dir, early, tmp)
    return [runs / "checkpoint-200", runs / "checkpoint-100"]


def _samples(log_dir: Path) -> list[dict[str, Any]]:
    (path,) = log_dir.rglob(f"samples_{TASK}_*.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def _table_rows(markdown: str, heading: str) -> list[list[str]]:
    """The cells of the first Markdown table after ``heading``."""
    rows: list[list[str]] = []
    for line in markdown.split(heading, 1)[1].splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split(" | ")])
        elif rows:
            break
    return rows


def test_lm_eval_wrote_the_real_layout(log_dirs: list[Path]) -> None:
    for d in log_dirs:
        model_dirs = [p for p in d.iterdir() if p.is_dir()]
        assert [p.name for p in model_dirs] == [f"grpo__{d.name}"]  # sanitize_model_name("grpo/checkpoint-N")
        assert len(list(model_dirs[0].glob("results_*.json"))) == 1
        assert len(_samples(d)) == 6


def test_parse_step() -> None:
    assert parse_step("runs/checkpoint-500") == 500
    assert parse_step("eval/step_1000") == 1000
    assert parse_step("global_step20/x") == 20
    assert parse_step("base-model") is None


def test_checkpoints_ordered_by_step(log_dirs: list[Path]) -> None:
    ckpts = load_checkpoints(log_dirs)
    assert [c.label for c in ckpts] == ["checkpoint-100", "checkpoint-200"]
    assert [c.step for c in ckpts] == [100, 200]


def test_report_files_numbers_and_worst_cases(log_dirs: list[Path], tmp_path: Path) -> None:
    md_path = write_report(log_dirs, tmp_path / "report", title="GRPO run", rescore=False, progress=False)
    assert md_path == tmp_path / "report" / "report.md"
    markdown = md_path.read_text()
    assert markdown.startswith("# GRPO run")
    html = (tmp_path / "report" / "report.html").read_text()
    assert "<table>" in html and "&lt;answer&gt;" in html

    # every linked figure exists and is a PNG
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert {Path(p).name for p in images} == {
        f"{TASK}_accuracy.png", f"{TASK}_length.png", f"{TASK}_rates.png", f"{TASK}_scores.png"
    }
    for rel in images:
        data = (md_path.parent / rel).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000

    # the metrics table: one row per checkpoint, step order, values = means of the per-sample values logged
    rows = _table_rows(markdown, "### Metrics per checkpoint")
    header, body = rows[0], rows[2:4]
    assert [r[0] for r in body] == ["checkpoint-100", "checkpoint-200"]
    for row, log_dir in zip(body, sorted(log_dirs)):
        samples = _samples(log_dir)
        for metric in ("top1", "mean_length", "format_rate", "reward"):
            expected = sum(float(s[metric]) for s in samples) / len(samples)
            assert row[header.index(metric)] == f"{expected:.4f}", (log_dir.name, metric)
        failure = 1 - sum(float(s["format_rate"]) for s in samples) / len(samples)
        assert row[header.index("format_failure_rate")] == f"{failure:.4f}"
    assert body[0][header.index("top1")] == "0.3333" and body[1][header.index("top1")] == "0.6667"

    # worst cases come from the last checkpoint, lowest reward first: the format failure (doc 5)
    worst = _table_rows(markdown, "### Worst cases at checkpoint-200 (lowest reward)")
    assert worst[0] == ["doc_id", "reward", "status", "prompt", "response", "target"]
    late = {s["doc_id"]: s for s in _samples(log_dirs[0])}
    lowest = min(late.values(), key=lambda s: (s["reward"], s["doc_id"]))
    assert lowest["doc_id"] == 5
    first = worst[2]
    assert first[0] == "5" and first[1] == f"{lowest['reward']:.4f}"
    assert first[4].startswith("&lt;think&gt;Could be many things.")
    assert first[5] == lowest["target"]
    assert first[3].startswith(lowest["doc"]["case_report"].split("Phenotypes: ", 1)[1][:40])
    assert [r[0] for r in worst[2:]] == ["5", "3"]  # samples at the best reward are not "worst"


def test_report_rescore_uses_the_task_scorer(log_dirs: list[Path], tmp_path: Path) -> None:
    markdown = write_report(log_dirs, tmp_path / "r", rescore=True, progress=False).read_text()
    assert "medzero_rewards scorer medzero_test_dx" in markdown
    rows = _table_rows(markdown, "### Metrics per checkpoint")
    header, body = rows[0], rows[2:4]
    # Scorer.aggregate's default keys, recomputed from filtered_resps + doc
    assert body[0][header.index("accuracy")] == "0.3333"
    assert body[1][header.index("accuracy")] == "0.6667"
    assert body[1][header.index("mean_reward")] == f"{(4 * 1.0 + 0.2 + 0.0) / 6:.4f}"
    worst = _table_rows(markdown, "### Worst cases at checkpoint-200 (lowest reward)")
    assert worst[2][:3] == ["5", "0.0000", "format_error"]


def test_report_cli(log_dirs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "cli"
    result = CliRunner().invoke(main, ["report", *map(str, log_dirs), "--output", str(out), "--title", "t"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("report.md")
    assert (out / "report.md").is_file() and (out / "report.html").is_file()
    bad = CliRunner().invoke(main, ["report", str(tmp_path), "--output", str(out)])
    assert bad.exit_code != 0 and "no lm-eval results" in bad.output
    usage = CliRunner().invoke(main, ["report", *map(str, log_dirs), "--output", str(out), "--scorer", "x"])
    assert usage.exit_code == 2 and "--rescore" in usage.output
