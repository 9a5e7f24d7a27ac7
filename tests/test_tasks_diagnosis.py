"""The RareArena and RareBench lm-eval tasks: documents, prompts, configuration and metrics.

Everything here goes through lm-eval's real TaskManager / ConfigurableTask with the real
medzero_rewards scorers; no model is run (see test_lm_eval_e2e.py for that).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from medzero_eval import lm_eval_glue as glue
from medzero_eval import prompts, records
from medzero_eval.discovery import tasks_dir

lm_eval = pytest.importorskip("lm_eval")
from lm_eval.tasks import TaskManager  # noqa: E402

R1_TASKS = ["rarearena_rdc", "rarearena_rds", *[f"rarebench_{s}" for s in records.RAREBENCH_SUBSETS]]
TOP5_TASKS = ["rarearena_rdc_top5", "rarearena_rds_top5"]
GROUPS = ["rarearena", "rarebench", "medzero_medical"]


@pytest.fixture(scope="module")
def manager() -> TaskManager:
    return TaskManager(include_path=str(tasks_dir()))


def _load(manager_metadata: dict, name: str):
    """Build one task as lm-eval does; only medzero's folder is indexed (lm-eval's own tasks are slow to scan)."""
    tm = TaskManager(include_path=str(tasks_dir()), include_defaults=False, metadata=manager_metadata)
    return tm.load([name])["tasks"][name]


@pytest.fixture()
def rarearena_file(tmp_path: Path, orphanet_path: Path, rarebench_dir: Path) -> Path:
    """A RareArena-schema JSON Lines file built from real Orphanet names and real RareBench phenotypes."""
    entities = json.loads(orphanet_path.read_text(encoding="utf-8"))
    by_name = {e["name"]: e for e in entities}
    cases = records.load_rarebench("mme", rarebench_dir)[:3]
    lines = []
    for i, case in enumerate(cases):
        name = case["diagnosis"]
        entity = by_name.get(name, entities[i])
        lines.append({
            "_id": f"fixture-{i}",
            "case_report": f"A {20 + i}-year-old patient. {case['case_report']}.",
            "test_results": "Exome sequencing: pathogenic variant reported." if i != 1 else "",
            "diagnosis": entity["name"],
            "Orpha_name": entity["name"],
            "Orpha_id": str(entity["Orphanetid"]),
            "age": str(20 + i),
            "gender": "F",
            "pub_date": "2021-01-01",
        })
    path = tmp_path / "RDC.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    return path


def test_every_task_and_group_is_indexed(manager: TaskManager) -> None:
    for name in R1_TASKS + TOP5_TASKS + GROUPS:
        assert name in manager.all_tasks, name
    for name in GROUPS:
        assert name in manager.all_groups, name
    for yaml_path in tasks_dir().glob("*/*.yaml"):  # a YAML error would silently drop a task
        assert yaml_path.stem in manager.all_tasks, yaml_path


def test_medzero_medical_members_all_exist(manager: TaskManager) -> None:
    import yaml

    group = yaml.safe_load((tasks_dir() / "medzero_medical" / "medzero_medical.yaml").read_text())
    assert {"medqa_4options", "medmcqa", "mmlu_college_medicine", "rarebench", "ehrsql"} <= set(group["task"])
    for member in group["task"]:
        assert member in manager.all_tasks, member


def test_every_task_folder_has_readme_and_versioned_yaml() -> None:
    import yaml

    assert (tasks_dir() / "README.md").is_file()
    for folder in (p for p in tasks_dir().iterdir() if p.is_dir() and not p.name.startswith("__")):
        assert (folder / "README.md").is_file(), folder
        for template in folder.glob("_*_yaml"):
            text = template.read_text(encoding="utf-8")
            assert "metadata:\n  version:" in text, template
        for path in folder.glob("*.yaml"):
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)  # tags kept as text
            assert "version" in str(raw.get("metadata")) or "include" in raw, path


def test_yaml_metric_lists_match_the_glue(manager: TaskManager) -> None:
    task = _load({}, "rarebench_mme")
    names = [m["metric"] for m in task.config.metric_list]
    assert set(names) == {glue.SCORE_METRIC, *glue.DIAGNOSIS_METRICS, glue.SCORER_ERROR_METRIC}
    assert type(task).__name__ == "MedzeroTask"
    assert task.config.filter_list[0]["name"] == "raw"
    assert task.VERSION == 1.0


def test_rarebench_documents_carry_the_shared_prompts() -> None:
    task = _load({}, "rarebench_mme")
    docs = list(task.test_docs())
    recs = records.load_rarebench("mme")
    assert len(docs) == len(recs) == 28
    for doc, rec in zip(docs, recs):
        system, user = prompts.diagnosis_messages(rec["case_report"], "r1")
        assert doc["system"] == system["content"] and doc["prompt"] == user["content"]
        assert doc["target"] == rec["diagnosis"]
        reference = json.loads(doc["reference"])
        assert reference["diagnosis"] == rec["diagnosis"] and reference["synonyms"] == rec["synonyms"]
        assert json.loads(doc["scorer"]) == {"name": "rarearena_rds", "config": {"answer_format": "single"},
                                             "max_error_share": 0.05}


def test_chat_template_sees_exactly_the_prompt_messages() -> None:
    """With --apply_chat_template lm-eval sends [system: description, user: doc_to_text] -- our messages."""
    task = _load({}, "rarebench_hms")
    doc = next(iter(task.test_docs()))
    seen: list = []

    def chat_template(messages, add_generation_prompt=True):
        seen.append(messages)
        return "rendered"

    assert task.fewshot_context(doc, 0, apply_chat_template=True, chat_template=chat_template) == "rendered"
    rec = records.load_rarebench("hms")[0]
    assert seen == [prompts.diagnosis_messages(rec["case_report"], "r1")]


def test_rarearena_reads_the_user_file_rdc_and_rds(rarearena_file: Path) -> None:
    recs = records.load_rarearena(rarearena_file)
    rdc = list(_load({"data_path": str(rarearena_file)}, "rarearena_rdc").test_docs())
    rds = list(_load({"rarearena_rds_path": str(rarearena_file)}, "rarearena_rds").test_docs())
    assert len(rdc) == len(rds) == 3
    for doc_c, doc_s, rec in zip(rdc, rds, recs):
        case_c = doc_c["prompt"].split("Patient case:\n", 1)[1].split("\n\nWhat is the diagnosis?")[0]
        assert case_c == (f"{rec['case_report']} {rec['test_results']}" if rec["test_results"] else rec["case_report"])
        assert rec["case_report"] in doc_s["prompt"] and "Exome" not in doc_s["prompt"]
        assert json.loads(doc_c["scorer"])["name"] == "rarearena_rdc"
        assert json.loads(doc_s["scorer"])["name"] == "rarearena_rds"
        assert json.loads(doc_c["reference"])["Orpha_id"] == rec["Orpha_id"]


def test_rarearena_top5_uses_the_ranked_style_and_scorer(rarearena_file: Path) -> None:
    task = _load({"data_path": str(rarearena_file)}, "rarearena_rdc_top5")
    doc = next(iter(task.test_docs()))
    rec = records.load_rarearena(rarearena_file)[0]
    system, user = prompts.diagnosis_messages(records.rarearena_input(rec, "rdc"), "top5")
    assert (doc["system"], doc["prompt"]) == (system["content"], user["content"])
    assert json.loads(doc["scorer"])["config"] == {"answer_format": "ranked", "k": 5}
    assert {m["metric"] for m in task.config.metric_list} == {
        glue.SCORE_METRIC, *glue.DIAGNOSIS_TOP5_METRICS, glue.SCORER_ERROR_METRIC}


def test_rarearena_environment_variable_fallback(rarearena_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDZERO_RAREARENA_RDS", str(rarearena_file))
    assert len(list(_load({}, "rarearena_rds").test_docs())) == 3


def test_rarearena_missing_file_is_one_line_naming_it() -> None:
    with pytest.raises(records.DataNotFoundError, match="not found") as info:
        _load({"data_path": "/nonexistent/RDC.json"}, "rarearena_rdc")
    assert "/nonexistent/RDC.json" in str(info.value) and "\n" not in str(info.value)


def test_scorer_options_from_metadata(rarearena_file: Path, orphanet_path: Path) -> None:
    judge = {"model": "fake-judge", "base_url": "http://127.0.0.1:9/v1", "api_key_env": None, "cache_path": None}
    meta = {"data_path": str(rarearena_file), "hierarchy_path": str(orphanet_path), "judge": judge,
            "judge_mode": "always", "pretrained": "ignored-model-arg"}
    doc = next(iter(_load(meta, "rarearena_rdc").test_docs()))
    config = json.loads(doc["scorer"])["config"]
    assert config == {"answer_format": "single", "hierarchy_path": str(orphanet_path), "judge": judge,
                      "judge_mode": "always"}
    assert set(glue.metrics_for_spec(doc["scorer"])) == {glue.SCORE_METRIC, *glue.DIAGNOSIS_METRICS,
                                                         glue.SCORER_ERROR_METRIC}
    no_judge = glue.scorer_spec("rarearena_rdc", {"answer_format": "single"})
    assert not set(glue.metrics_for_spec(no_judge)) & set(glue.JUDGE_METRICS)


def test_judge_config_as_json_string_and_bad_values() -> None:
    cfg = glue.diagnosis_scorer_config({"judge": '{"model": "m"}'}, "r1")
    assert cfg["judge"] == {"model": "m"}
    with pytest.raises(glue.TaskConfigError):
        glue.diagnosis_scorer_config({"judge": "{not json"}, "r1")
    with pytest.raises(glue.TaskConfigError):
        glue.diagnosis_scorer_config({}, "cot")


COMPLETIONS = [
    "<think>Craniofacial findings with microcephaly.</think><answer>{dx}</answer>",
    "<think>Probably genetic.</think><answer>Marfan syndrome</answer>",
    "no tags at all, just {dx}",
    "<think>两个 hypotheses</think><answer>{dx} or Marfan syndrome</answer>",
]


def _lm_eval_metrics(task, docs, completions) -> dict[str, float]:
    """What lm-eval computes: process_results per item, then each metric's aggregation function."""
    per_metric: dict[str, list] = {}
    for doc, completion in zip(docs, completions):
        for name, value in task.process_results(doc, [completion]).items():
            per_metric.setdefault(name, []).append(value)
    aggregations = task.aggregation()
    return {name: aggregations[name](values) for name, values in per_metric.items()}


def _expected(scorer, scores) -> dict:
    """The scorer's corpus metrics over the items it could score (Status.error items are left out)."""
    from medzero_rewards import Status

    kept = [s for s in scores if s.status is not Status.error]
    out = dict(scorer.aggregate(kept))
    out["score"] = float(len(scores))
    out["scorer_error_rate"] = (len(scores) - len(kept)) / len(scores)
    return out


def _same_number(value: float, want) -> bool:
    if want is None or (isinstance(want, float) and math.isnan(want)):
        return isinstance(value, float) and math.isnan(value)
    return value == want


@pytest.mark.parametrize("task_name", ["rarebench_mme", "rarearena_rds_top5"])
def test_lm_eval_metrics_are_the_scorer_aggregate(task_name: str, rarearena_file: Path) -> None:
    from lm_eval.api.metrics import mean

    from medzero_rewards import get_scorer

    task = _load({"data_path": str(rarearena_file)}, task_name)
    docs = list(task.test_docs())[:3]
    completions = [COMPLETIONS[i % len(COMPLETIONS)].format(dx=d["target"]) for i, d in enumerate(docs)]
    completions.append(COMPLETIONS[3].format(dx=docs[0]["target"]))
    docs.append(docs[0])
    spec = json.loads(docs[0]["scorer"])
    scorer = get_scorer(spec["name"], **spec["config"])
    direct = [scorer.score(c, json.loads(d["reference"])) for c, d in zip(completions, docs)]
    expected = _expected(scorer, direct)
    got = _lm_eval_metrics(task, docs, completions)
    assert set(got) == set(glue.metrics_for_spec(docs[0]["scorer"]))
    for name, value in got.items():
        assert _same_number(value, expected.get(name)), (name, value, expected.get(name))
    # every metric but `score` is lm-eval's own `mean`, so lm-eval computes its standard error
    aggregations = task.aggregation()
    assert all(aggregations[n] is mean for n in got if n != "score")
    # the score is logged once per sample, under `score`, field for field the direct one
    sample = task.process_results(docs[0], [completions[0]])
    assert sample["score"] == {"scorer": docs[0]["scorer"], "score": direct[0].model_dump(mode="json")}
    assert all(not isinstance(v, dict) for k, v in sample.items() if k != "score")
    assert expected["top1"] > 0  # the first completion names the gold diagnosis


def test_a_broken_reference_is_flagged_excluded_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    """One item the scorer cannot score does not sink process_results or the aggregation."""
    import logging

    task = _load({}, "rarebench_mme")
    docs = list(task.test_docs())[:4]
    bad = {**docs[1], "reference": "{not json"}
    rows = [task.process_results(d, [f"<think>x</think><answer>{d['target']}</answer>"])
            for d in (docs[0], bad, docs[2], docs[3])]
    assert rows[1]["score"]["score"]["status"] == "error" and "JSONDecodeError" in rows[1]["score"]["score"]["reason"]
    assert set(rows[1]) == {"score", "scorer_error_rate"} and rows[1]["scorer_error_rate"] == 1.0
    with caplog.at_level(logging.WARNING, logger="medzero_eval"):
        got = glue.aggregate_samples(rows)
    assert got["top1"] == 1.0 and got["format_rate"] == 1.0  # over the 3 scored items
    assert got["scorer_error_rate"] == 0.25 and got["score"] == 4.0
    warnings = [r for r in caplog.records if "could not be scored" in r.getMessage()]
    assert len(warnings) == 1 and "1 of 4 items (25.0%)" in warnings[0].getMessage()
    # under the threshold: counted, not warned
    caplog.clear()
    task = _load({"max_error_share": 0.5}, "rarebench_mme")
    docs = list(task.test_docs())[:4]
    rows = [task.process_results({**d, "reference": "{}"} if i == 0 else d, ["<answer>x</answer>"])
            for i, d in enumerate(docs)]
    with caplog.at_level(logging.WARNING, logger="medzero_eval"):
        assert glue.aggregate_samples(rows)["scorer_error_rate"] == 0.25
    assert not [r for r in caplog.records if "could not be scored" in r.getMessage()]


def test_max_error_share_must_be_a_share() -> None:
    with pytest.raises(glue.TaskConfigError, match="max_error_share"):
        glue.load_rarebench("mme", max_error_share="lots")


def test_judged_metrics_with_a_real_local_judge_server() -> None:
    """With a judge configured, the task reports the judge metrics, again straight from the scorer."""
    from fake_openai_server import FakeOpenAIServer
    from medzero_rewards import get_scorer

    docs = list(_load({}, "rarebench_mme").test_docs())[:3]
    completions = [
        f"<think>x</think><answer>{docs[0]['target']}</answer>",
        "<think>x</think><answer>Craniofacial dysostosis</answer>",
        "<think>x</think><answer>Marfan syndrome</answer>",
    ]
    grades = {("craniofacial dysostosis", docs[1]["target"].casefold()): 2}
    with FakeOpenAIServer(grades=grades) as server:
        judge = {"model": "fake-judge", "base_url": server.base_url, "api_key_env": None, "cache_path": None}
        task = _load({"judge": judge, "judge_mode": "always"}, "rarebench_mme")
        docs = list(task.test_docs())[:3]
        got = _lm_eval_metrics(task, docs, completions)
        spec = json.loads(docs[0]["scorer"])
        scorer = get_scorer(spec["name"], **spec["config"])
        expected = _expected(scorer, [scorer.score(c, json.loads(d["reference"])) for c, d in zip(completions, docs)])
        assert server.total_requests >= 3
    assert {"top1_judged", "judge_agreement", "unjudged_rate"} <= set(got)
    for name, value in got.items():
        assert _same_number(value, expected.get(name)), name
    assert got["top1_judged"] == pytest.approx(2 / 3) and got["unjudged_rate"] == 0.0


def test_judge_down_reports_values_and_one_loud_error(caplog: pytest.LogCaptureFixture) -> None:
    """Every judge call fails: the aggregation still returns every metric (with unjudged_rate) and
    logs one error -- lm-eval writes results and samples instead of losing the run."""
    import logging

    from fake_openai_server import Fault, FakeOpenAIServer

    with FakeOpenAIServer() as server:
        server.add_fault(Fault.http(500))
        judge = {"model": "fake-judge", "base_url": server.base_url, "api_key_env": None, "cache_path": None,
                 "max_retries": 0, "parse_retries": 0, "backoff_base_s": 0.0}
        task = _load({"judge": judge, "judge_mode": "always"}, "rarebench_mme")
        docs = list(task.test_docs())[:3]
        rows = [task.process_results(d, ["<think>x</think><answer>Marfan syndrome</answer>"]) for d in docs]
    statuses = [r["score"]["score"]["status"] for r in rows]
    assert statuses.count("unjudged") >= 2, statuses
    aggregations = task.aggregation()
    with caplog.at_level(logging.ERROR, logger="medzero_eval"):
        got = {n: aggregations[n]([r[n] for r in rows if n in r]) for n in rows[0]}
    assert got["unjudged_rate"] == statuses.count("unjudged") / 3
    assert got["score"] == 3.0 and got["top1"] == 0.0
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and f"{statuses.count('unjudged')} of 3 items" in errors[0].getMessage()


class _CannedLM:
    """An lm-eval ``LM`` (lm-eval's API for custom models) answering the requests with ``replies`` in turn."""

    @staticmethod
    def make(replies: list[str], chat: bool):
        from lm_eval.api.model import LM

        class Canned(LM):
            def generate_until(self, requests, disable_tqdm: bool = False):
                self.contexts = [r.args[0] for r in requests]
                return [replies[i % len(replies)] for i in range(len(requests))]

            def loglikelihood(self, requests, disable_tqdm: bool = False):
                raise NotImplementedError

            def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
                raise NotImplementedError

            @property
            def tokenizer_name(self) -> str:
                return "canned"

            if chat:
                def apply_chat_template(self, chat_history, add_generation_prompt: bool = True) -> str:
                    return json.dumps(chat_history)

        return Canned()


def _evaluate(caplog, *, apply_chat_template: bool, metadata: dict | None = None):
    import logging

    from lm_eval import simple_evaluate

    tm = TaskManager(include_path=str(tasks_dir()), include_defaults=False, metadata=metadata)
    lm = _CannedLM.make(["<think>x</think><answer>Marfan syndrome</answer>", "Marfan syndrome, no tags"], chat=True)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="medzero_eval"):
        results = simple_evaluate(model=lm, tasks=["rarebench_mme", "rarebench_hms"], limit=2,
                                  apply_chat_template=apply_chat_template, task_manager=tm)
    warnings = [r.getMessage() for r in caplog.records if "WITHOUT a chat template" in r.getMessage()]
    return results, warnings, lm.contexts


def test_one_warning_when_run_without_a_chat_template(caplog: pytest.LogCaptureFixture) -> None:
    """A real lm-eval run: without --apply_chat_template the system text is glued to the case, and the
    task says so once per run; with it, or with allow_no_chat_template, nothing is said."""
    results, warnings, contexts = _evaluate(caplog, apply_chat_template=False)
    assert len(warnings) == 1 and "--apply_chat_template" in warnings[0] and "allow_no_chat_template" in warnings[0]
    assert "</answer>Patient case:" in contexts[0]  # what the warning is about
    assert results["results"]["rarebench_mme"]["top1,raw"] == 0.0  # the run itself completes

    _, warnings, contexts = _evaluate(caplog, apply_chat_template=True)
    assert warnings == [] and json.loads(contexts[0])[0]["role"] == "system"

    _, warnings, _ = _evaluate(caplog, apply_chat_template=False, metadata={"allow_no_chat_template": True})
    assert warnings == []


def test_lm_eval_table_shows_a_stderr_for_every_rate(caplog: pytest.LogCaptureFixture) -> None:
    from lm_eval.utils import make_table

    results, _, _ = _evaluate(caplog, apply_chat_template=True)
    row = results["results"]["rarebench_mme"]
    for metric in ("top1", "format_rate", "mixed_language_rate", "hypernym_rate", "mean_reward", "scorer_error_rate"):
        assert isinstance(row[f"{metric}_stderr,raw"], float), metric
    assert row["score_stderr,raw"] == "N/A" and row["score,raw"] == 2 and isinstance(row["score,raw"], int)
    table = make_table(results)
    format_line = next(line for line in table.splitlines() if "|format_rate" in line)
    assert row["format_rate,raw"] == 0.5 and row["format_rate_stderr,raw"] == pytest.approx(0.5)
    cells = [c.strip() for c in format_line.strip("|").split("|")]
    assert cells[-2] == "±" and float(cells[-1]) == pytest.approx(0.5)  # the table prints the stderr
    top1_line = next(line for line in table.splitlines() if "|top1 " in line)
    assert top1_line.strip("|").split("|")[-1].strip() not in ("N/A", "")


def test_judge_down_logs_one_warning_per_task_not_one_per_item(caplog: pytest.LogCaptureFixture) -> None:
    """lm-eval scores item by item, so each item is a judge batch of its own: with the judge down, the
    first item's warning is logged, the other items' are counted and summarised in one line when the
    task is aggregated -- next to the unjudged-share error, never one line per item."""
    import logging

    judge = {"model": "fake-judge", "base_url": "http://127.0.0.1:9/v1", "api_key_env": None, "cache_path": None,
             "max_retries": 0}
    task = _load({"judge": judge, "judge_mode": "always"}, "rarebench_mme")
    docs = list(task.test_docs())[:5]
    with caplog.at_level(logging.WARNING):
        results = [task.process_results(doc, ["<think>x</think><answer>Marfan syndrome</answer>"]) for doc in docs]
        judge_lines = [r for r in caplog.records if r.name == "medzero_rewards.judge"]
        assert len(judge_lines) == 1 and "connection error" in judge_lines[0].getMessage()
        task.aggregation()[glue.SCORE_METRIC]([r[glue.SCORE_METRIC] for r in results])
    summary = [r.getMessage() for r in caplog.records if "further scorer warning" in r.getMessage()]
    assert len(summary) == 1 and "4 further" in summary[0] and "4 from medzero_rewards.judge" in summary[0]
    assert all(r[glue.SCORE_METRIC]["score"]["status"] == "unjudged" for r in results)
    assert sum("needed the LLM judge" in r.getMessage() for r in caplog.records) == 1


def test_a_scorer_the_task_cannot_build_stops_the_task_when_it_loads(tmp_path: Path) -> None:
    """Through lm-eval's own TaskManager: the scorer is built with the documents, so a missing hierarchy
    file is one TaskConfigError line at load time, not a Status.error per item after generation."""
    missing = tmp_path / "orphanet_hypernym.json"
    with pytest.raises(glue.TaskConfigError) as info:
        _load({"hierarchy_path": str(missing)}, "rarebench_mme")
    assert str(missing) in str(info.value) and "\n" not in str(info.value) and "--metadata" in str(info.value)
