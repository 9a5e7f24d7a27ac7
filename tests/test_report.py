"""`medzero-eval report` on lm-eval --log_samples directories produced for real by lm-eval.

The log directories are written by ``lm_eval.evaluator.simple_evaluate`` with a canned-completion
``LM`` registered through ``lm_eval.api.registry.register_model``, then saved with lm-eval's own
``EvaluationTracker`` exactly as ``lm_eval run --output_path ... --log_samples`` does: two
"checkpoints" of one run, a task over real RareBench records, per-sample metrics from a
medzero_rewards scorer in ``process_results``.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
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
from medzero_rewards import get_scorer  # noqa: E402

from medzero_eval.cli import main  # noqa: E402
from medzero_eval.records import load_rarebench  # noqa: E402
from medzero_eval.report import load_checkpoints, parse_step, write_report  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REPO_ROOT = Path(__file__).resolve().parents[1]
TASK = "rarebench_ramedis"  # medzero's own task (tasks/rarebench), scored by rarearena_rds
PLAIN_TASK = "plain_dx"  # a task written without medzero's glue: plain float metrics, metadata.scorer
THINK = "<think>Neonatal metabolic decompensation with ketoacidosis suggests an inborn error of metabolism.</think>"
ZH_THINK = "<think>新生儿期代谢危象，尿液有特殊气味，考虑支链氨基酸代谢障碍。</think>"


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


def _write_plain_task(task_dir: Path, docs_path: Path) -> None:
    task_dir.mkdir(parents=True, exist_ok=True)
    (task_dir / f"{PLAIN_TASK}.yaml").write_text(textwrap.dedent(f"""\
        task: {PLAIN_TASK}
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
          - metric: reward
            aggregation: mean
            higher_is_better: true
        metadata:
          version: 1.0
          scorer: rarearena_rds
        """))
    (task_dir / "utils.py").write_text(textwrap.dedent("""\
        from medzero_rewards import get_scorer

        def process_results(doc, results):
            s = get_scorer("rarearena_rds").score(results[0], doc)
            return {"top1": float(s.details["top1"]), "reward": s.reward}
        """))


@functools.lru_cache(maxsize=None)
def _task_manager(include: str) -> TaskManager:
    """Only the given task folder (lm-eval's thousands of built-in tasks are not indexed)."""
    return TaskManager(include_path=include, include_defaults=False)


def _run_lm_eval(out_dir: Path, model_name: str, task: str, include: Path, answers: dict[int, str], tmp: Path) -> None:
    """What ``lm_eval run --model medzero-canned --tasks TASK --output_path OUT --log_samples`` does."""
    answers_path = tmp / f"answers_{task}_{model_name.replace('/', '_')}.json"
    answers_path.write_text(json.dumps(answers))
    tracker = EvaluationTracker(output_path=str(out_dir))
    results = evaluator.simple_evaluate(
        model="medzero-canned", model_args=f"pretrained={model_name},answers={answers_path}", tasks=[task],
        task_manager=_task_manager(str(include)), log_samples=True, evaluation_tracker=tracker,
        limit=len(answers),
    )
    assert results is not None
    samples = results.pop("samples")  # as lm_eval/_cli/run.py does after simple_evaluate
    tracker.save_results_aggregated(results=results, samples=samples)
    for task_name in results["configs"]:
        tracker.save_results_samples(task_name=task_name, samples=samples[task_name])


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    recs = load_rarebench("ramedis")[:6]
    assert [r["diagnosis"] for r in recs] == [
        "Vitamin B12-unresponsive methylmalonic acidemia", "Succinic semialdehyde dehydrogenase deficiency",
        "Phenylketonuria", "PMM2-CDG", "Maple syrup urine disease", "Phenylketonuria",
    ]
    return recs


@pytest.fixture(scope="module")
def log_dirs(tmp_path_factory: pytest.TempPathFactory, records: list[dict[str, Any]]) -> list[Path]:
    """Two checkpoints of one run on medzero's rarebench_ramedis task; returned in the wrong order on purpose."""
    tmp = tmp_path_factory.mktemp("lmeval")
    early = {
        0: f"{THINK}<answer>Methylmalonic acidemia without homocystinuria</answer>",  # an Orphanet parent
        1: f"{THINK}<answer>Succinic semialdehyde dehydrogenase deficiency</answer>",
        2: "The most likely diagnosis is phenylketonuria.",  # format failure
        3: f"{THINK}<answer>ALG6-CDG</answer>",  # a sibling congenital disorder of glycosylation
        4: f"{ZH_THINK}<answer>Maple syrup urine disease</answer>",  # correct, mixed language
        5: f"{THINK}<answer>Tyrosinemia type 1</answer>",
    }
    late = {
        0: f"{THINK}<answer>Vitamin B12-unresponsive methylmalonic acidaemia</answer>",  # British spelling
        1: f"{THINK}<answer>Succinic semialdehyde dehydrogenase deficiency</answer>",
        2: f"{THINK}<answer>Phenylketonuria</answer>",
        3: f"{THINK}<answer>ALG6-CDG</answer>",
        4: f"{THINK}<answer>Maple syrup urine disease</answer>",
        5: "<think>Hyperphenylalaninaemia on newborn screening.</think> Phenylketonuria",  # no answer tags
    }
    runs = tmp / "runs"
    include = REPO_ROOT / "tasks" / "rarebench"
    _run_lm_eval(runs / "checkpoint-200", "grpo/checkpoint-200", TASK, include, late, tmp)
    _run_lm_eval(runs / "checkpoint-100", "grpo/checkpoint-100", TASK, include, early, tmp)
    return [runs / "checkpoint-200", runs / "checkpoint-100"]


@pytest.fixture(scope="module")
def plain_log_dir(tmp_path_factory: pytest.TempPathFactory, records: list[dict[str, Any]]) -> Path:
    """One run of a task that logs plain per-sample floats and names its scorer in metadata."""
    tmp = tmp_path_factory.mktemp("plain")
    docs = tmp / "docs.jsonl"
    docs.write_text("".join(json.dumps(r) + "\n" for r in records))
    _write_plain_task(tmp / "tasks", docs)
    answers = {i: f"{THINK}<answer>{r['diagnosis']}</answer>" for i, r in enumerate(records)}
    answers[2] = "Phenylketonuria"
    answers[3] = f"{THINK}<answer>ALG6-CDG</answer>"
    _run_lm_eval(tmp / "step_50", "base", PLAIN_TASK, tmp / "tasks", answers, tmp)
    return tmp / "step_50"


def _samples(log_dir: Path, task: str = TASK) -> list[dict[str, Any]]:
    (path,) = log_dir.rglob(f"samples_{task}_*.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def _logged_score(sample: dict[str, Any]) -> dict[str, Any]:
    """The Score medzero's tasks log as every metric's per-sample value: {"scorer": ..., "score": {...}}."""
    return sample["top1"]["score"]


def _results(log_dir: Path) -> dict[str, Any]:
    (path,) = log_dir.rglob("results_*.json")
    return json.loads(path.read_text())


def _table_rows(markdown: str, heading: str) -> list[list[str]]:
    """The cells of the first Markdown table after ``heading``."""
    rows: list[list[str]] = []
    for line in markdown.split(heading, 1)[1].splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split(" | ")])
        elif rows:
            break
    return rows


def _metrics_table(markdown: str, task: str = TASK) -> tuple[list[str], list[list[str]]]:
    rows = _table_rows(markdown.split(f"## Task: {task}", 1)[1], "### Metrics per checkpoint")
    return rows[0], rows[2:]


def test_lm_eval_wrote_the_real_layout(log_dirs: list[Path]) -> None:
    for d in log_dirs:
        model_dirs = [p for p in d.iterdir() if p.is_dir()]
        assert [p.name for p in model_dirs] == [f"grpo__{d.name}"]  # sanitize_model_name("grpo/checkpoint-N")
        assert len(list(model_dirs[0].glob("results_*.json"))) == 1
        samples = _samples(d)
        assert len(samples) == 6 and {s["filter"] for s in samples} == {"raw"}


def test_parse_step() -> None:
    assert parse_step("runs/checkpoint-500") == 500
    assert parse_step("eval/step_1000") == 1000
    assert parse_step("global_step20/x") == 20
    assert parse_step("base-model") is None


def test_checkpoints_ordered_by_step(log_dirs: list[Path], tmp_path: Path) -> None:
    ckpts = load_checkpoints(log_dirs)
    assert [c.label for c in ckpts] == ["checkpoint-100", "checkpoint-200"]
    assert [c.step for c in ckpts] == [100, 200]
    assert load_checkpoints(log_dirs[:1])[0].label == "checkpoint-200"
    # one directory holding several lm-eval runs: each model folder is a checkpoint
    nested = load_checkpoints([log_dirs[0].parent])
    assert [(c.label, c.step) for c in nested] == [("grpo__checkpoint-100", 100), ("grpo__checkpoint-200", 200)]
    # a log dir inside a checkpoint folder takes the checkpoint's step
    inside = tmp_path / "ckpt" / "checkpoint-300" / "lm_eval"
    shutil.copytree(next(p for p in log_dirs[0].iterdir() if p.is_dir()), inside)  # the model folder itself
    assert [(c.label, c.step) for c in load_checkpoints([inside])] == [("lm_eval", 300)]
    # without step numbers the order given is kept
    given = [tmp_path / "variants" / "zeta", tmp_path / "variants" / "alpha"]
    for src, dst in zip(log_dirs, given):
        shutil.copytree(next(p for p in src.iterdir() if p.is_dir()), dst)
    assert [(c.label, c.step) for c in load_checkpoints(given)] == [("zeta", None), ("alpha", None)]


def test_report_files_numbers_and_worst_cases(log_dirs: list[Path], tmp_path: Path) -> None:
    md_path = write_report(log_dirs, tmp_path / "report", title="GRPO run", progress=False)
    assert md_path == tmp_path / "report" / "report.md"
    markdown = md_path.read_text()
    assert markdown.startswith("# GRPO run")
    html = (tmp_path / "report" / "report.html").read_text()
    assert "<table>" in html and "&lt;answer&gt;" in html and '<img src="figures/' in html

    # every linked figure exists and is a PNG
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert {Path(p).name for p in images} == {f"{TASK}_{kind}.png" for kind in ("accuracy", "length", "rates", "scores")}
    for rel in images:
        data = (md_path.parent / rel).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000

    # one row per checkpoint in step order; numbers = lm-eval's aggregate = the means over the logged Scores
    header, body = _metrics_table(markdown)
    assert [r[0] for r in body] == ["checkpoint-100", "checkpoint-200"]
    for row, log_dir in zip(body, sorted(log_dirs)):
        scores = [_logged_score(s) for s in _samples(log_dir)]
        from_samples = {
            "top1": sum(s["details"]["top1"] for s in scores) / 6,
            "format_rate": sum(s["details"]["format_ok"] for s in scores) / 6,
            "format_failure_rate": 1 - sum(s["details"]["format_ok"] for s in scores) / 6,
            "mixed_language_rate": sum(s["details"]["mixed_language"] for s in scores) / 6,
            "mean_length": sum(s["details"]["n_chars"] for s in scores) / 6,
            "mean_reward": sum(s["reward"] for s in scores) / 6,
        }
        logged = _results(log_dir)["results"][TASK]
        for metric, expected in from_samples.items():
            assert row[header.index(metric)] == f"{expected:.4f}", (log_dir.name, metric)
            if metric != "format_failure_rate":
                assert logged[f"{metric},raw"] == pytest.approx(expected)
        assert row[header.index("samples")] == "6"
    assert [r[header.index("top1")] for r in body] == ["0.3333", "0.6667"]
    assert [r[header.index("mixed_language_rate")] for r in body] == ["0.1667", "0.0000"]

    # worst cases come from the last checkpoint, lowest reward first: the missing answer tags (doc 5)
    worst = _table_rows(markdown, "### Worst cases at checkpoint-200 (lowest reward)")
    assert worst[0] == ["doc_id", "reward", "status", "prompt", "response", "target"]
    late = _samples(log_dirs[0])
    lowest = min(late, key=lambda s: (_logged_score(s)["reward"], s["doc_id"]))
    assert lowest["doc_id"] == 5
    first = worst[2]
    assert first[:3] == ["5", f"{_logged_score(lowest)['reward']:.4f}", "format_error"]
    assert first[4].startswith("&lt;think&gt;Hyperphenylalaninaemia on newborn screening.")
    assert first[5] == lowest["target"] == "Phenylketonuria"
    case = lowest["doc"]["prompt"].split("Phenotypes: ", 1)[1]
    assert case[:60] in first[3]
    assert [r[0] for r in worst[2:]] == ["5", "3"]  # the four correct answers (best reward) are not "worst"


def test_report_rescore_recomputes_with_the_documents_scorer(
    log_dirs: list[Path], tmp_path: Path, orphanet_path: Path
) -> None:
    markdown = write_report(log_dirs, tmp_path / "r", rescore=True, progress=False,
                            scorer_config={"hierarchy_path": str(orphanet_path)}).read_text()
    assert "medzero_rewards scorer rarearena_rds" in markdown
    header, body = _metrics_table(markdown)
    scorer = get_scorer("rarearena_rds", answer_format="single", hierarchy_path=str(orphanet_path))
    for row, log_dir in zip(body, sorted(log_dirs)):
        samples = _samples(log_dir)
        expected = scorer.aggregate(scorer.score_batch(
            [s["filtered_resps"][0] for s in samples], [json.loads(s["doc"]["reference"]) for s in samples]
        ))
        for metric in ("top1", "format_rate", "mixed_language_rate", "hypernym_rate", "mean_length", "mean_reward"):
            assert row[header.index(metric)] == f"{expected[metric]:.4f}", (log_dir.name, metric)
    # the hierarchy given at rescoring time finds the Orphanet parent answered at checkpoint-100
    assert body[0][header.index("hypernym_rate")] == "0.1667"
    without = write_report(log_dirs, tmp_path / "plain", progress=False).read_text()
    h2, b2 = _metrics_table(without)
    assert b2[0][h2.index("hypernym_rate")] == "0.0000"


def test_report_on_a_task_with_plain_metrics(plain_log_dir: Path, tmp_path: Path) -> None:
    markdown = write_report([plain_log_dir], tmp_path / "p", progress=False).read_text()
    header, body = _metrics_table(markdown, PLAIN_TASK)
    samples = _samples(plain_log_dir, PLAIN_TASK)
    assert body[0][:2] == ["step_50", "50"]
    assert body[0][header.index("top1")] == f"{sum(s['top1'] for s in samples) / 6:.4f}" == "0.6667"
    assert body[0][header.index("reward")] == f"{sum(s['reward'] for s in samples) / 6:.4f}"
    worst = _table_rows(markdown, "### Worst cases at step_50 (lowest reward)")
    assert [r[0] for r in worst[2:]] == ["2", "3"]
    # --rescore finds the scorer in the task config's metadata and the reference in the doc itself
    rescored = write_report([plain_log_dir], tmp_path / "q", rescore=True, progress=False).read_text()
    header, body = _metrics_table(rescored, PLAIN_TASK)
    scorer = get_scorer("rarearena_rds")
    expected = scorer.aggregate(scorer.score_batch([s["filtered_resps"][0] for s in samples], [s["doc"] for s in samples]))
    assert body[0][header.index("mean_reward")] == f"{expected['mean_reward']:.4f}"
    assert body[0][header.index("format_rate")] == f"{5 / 6:.4f}"


def test_report_cli(log_dirs: list[Path], tmp_path: Path, orphanet_path: Path) -> None:
    out = tmp_path / "cli"
    result = CliRunner().invoke(main, ["report", *map(str, log_dirs), "--output", str(out), "--title", "t"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out / "report.md")
    assert (out / "report.md").is_file() and (out / "report.html").is_file()
    result = CliRunner().invoke(main, ["report", *map(str, log_dirs), "--output", str(out), "--rescore",
                                       "--set", f"hierarchy_path={orphanet_path}", "--no-progress"])
    assert result.exit_code == 0, result.output
    header, body = _metrics_table((out / "report.md").read_text())
    assert body[0][header.index("hypernym_rate")] == "0.1667"
    bad = CliRunner().invoke(main, ["report", str(tmp_path), "--output", str(out)])
    assert bad.exit_code == 1 and "no lm-eval results" in bad.output
    usage = CliRunner().invoke(main, ["report", *map(str, log_dirs), "--output", str(out), "--scorer", "x"])
    assert usage.exit_code == 2 and "--rescore" in usage.output


def test_report_ehrsql_task_on_the_real_database(tmp_path: Path, ehrsql_dir: Path) -> None:
    """medzero's ehrsql_valid task, scored on the real (rebuilt) database: percentages and reliability scores."""
    from medzero_eval.records import load_ehrsql

    recs = load_ehrsql(ehrsql_dir, "valid", answers="answer_rebuilt.json")[:6]
    think = "<think>Routes of administration are in prescriptions.route.</think>"
    answers = {i: f"{think}<answer>{r['label']}</answer>" for i, r in enumerate(recs)}
    answers[1] = f"{think}<answer>SELECT COUNT(*) FROM patients</answer>"  # wrong result
    answers[2] = f"{think}<answer>null</answer>"  # abstains on an answerable question
    answers[4] = f"{think}<answer>SELECT route FROM prescription</answer>"  # no such table
    out = tmp_path / "runs" / "step_300"
    answers_path = tmp_path / "answers.json"
    answers_path.write_text(json.dumps(answers))
    tracker = EvaluationTracker(output_path=str(out))
    results = evaluator.simple_evaluate(
        model="medzero-canned", model_args=f"pretrained=sql-model,answers={answers_path}", tasks=["ehrsql_valid"],
        task_manager=TaskManager(  # --metadata reaches the task's custom_dataset through the TaskManager
            include_path=str(REPO_ROOT / "tasks" / "ehrsql"), include_defaults=False,
            metadata={"ehrsql_dir": str(ehrsql_dir), "answers": "answer_rebuilt.json", "scorer_config": {"workers": 0}},
        ),
        log_samples=True, evaluation_tracker=tracker, limit=6,
    )
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    tracker.save_results_samples(task_name="ehrsql_valid", samples=samples["ehrsql_valid"])

    md = write_report([out], tmp_path / "rep", progress=False)
    markdown = md.read_text()
    header, body = _metrics_table(markdown, "ehrsql_valid")
    logged = _samples(out, "ehrsql_valid")
    outcomes = [s["accuracy0"]["score"]["details"]["outcome"] for s in logged]
    assert outcomes == [1, -1, 0, 1, -1, 1]
    # the official reliability scores: accuracy0 counts correct answers (+1), accuracyN charges N per error
    assert body[0][header.index("accuracy0")] == f"{100 * outcomes.count(1) / 6:.4f}" == "50.0000"
    assert body[0][header.index("accuracy5")] == f"{100 * (outcomes.count(1) - 5 * outcomes.count(-1)) / 6:.4f}"
    assert body[0][header.index("samples")] == "6"
    for metric in ("accuracy0", "accuracy5", "execution_accuracy", "error_rate"):
        assert body[0][header.index(metric)] == f"{results['results']['ehrsql_valid'][f'{metric},raw']:.4f}"
    assert (md.parent / "figures" / "ehrsql_valid_rates.png").read_bytes()[:8] == PNG_MAGIC
    worst = _table_rows(markdown, "### Worst cases at step_300 (lowest reward)")
    assert [r[0] for r in worst[2:]] == ["1", "4", "2"]  # -1, -1, then the abstention (0)
    assert worst[3][2] == "sql_error"
