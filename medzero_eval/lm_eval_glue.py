"""Glue between medzero's lm-eval task YAML and ``medzero_rewards``.

The task folders under ``tasks/`` hold declarative YAML plus a thin ``utils.py`` that re-exports the
functions defined here (the layout of lm-eval's own ``ifeval`` task). Nothing here scores anything:

* ``load_*`` build the task documents. They are lm-eval ``custom_dataset`` callables, so they receive
  ``--metadata`` (and the model arguments) as keyword arguments -- the documented way to hand a task
  user paths and options. Each document carries the chat messages from :mod:`medzero_eval.prompts`
  (``system`` -> the task ``description``, ``prompt`` -> ``doc_to_text``), the reference record the
  scorer sees (``reference``, JSON) and the scorer it is scored with (``scorer``: name + config, JSON).
* :func:`process_results` calls that ``medzero_rewards`` scorer -- the same object the GRPO reward
  calls -- on the raw completion and hands the whole :class:`~medzero_rewards.Score` (JSON mode) to
  every metric of the task.
* the ``agg_<metric>`` functions rebuild the scores and return ``scorer.aggregate(scores)[metric]``,
  so corpus metrics that are not per-item means (EHRSQL's reliability scores, abstention
  precision/recall, judge agreement) come from the scorer's own aggregation, unchanged.

Configuration (``--metadata`` JSON keys; environment variables as fallback):

==========================  =====================================  ==================================
key                         environment variable                   used by
==========================  =====================================  ==================================
``data_path``               ``MEDZERO_RAREARENA_RDC`` / ``_RDS``   RareArena (a JSON Lines file)
``rarearena_rdc_path``      (same)                                 RareArena RDC, when in a group
``rarearena_rds_path``      (same)                                 RareArena RDS, when in a group
``hierarchy_path``          ``MEDZERO_ORPHANET_HIERARCHY``         diagnosis scorers (hypernym tier)
``judge``                   ``MEDZERO_JUDGE`` (JSON)               diagnosis scorers (LLM judge)
``judge_mode``              ``MEDZERO_JUDGE_MODE``                 diagnosis scorers
``scorer_config``           --                                     any scorer: extra keyword config
``ehrsql_dir``              ``MEDZERO_EHRSQL_DIR``                 EHRSQL (``<dir>/<split>/data.json``)
``db_path``                 ``MEDZERO_EHRSQL_DB``                  EHRSQL (default ``<dir>/mimic_iv.sqlite``)
``tables_path``             --                                     EHRSQL (default ``<dir>/tables.json``)
``answers``                 ``MEDZERO_EHRSQL_ANSWERS``             EHRSQL gold results file name
``timeout_s``               --                                     EHRSQL per-query time limit
==========================  =====================================  ==================================
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from medzero_eval import prompts, records

# Metric names each task family reports; the YAML metric_list of every task names the same ones.
DIAGNOSIS_METRICS = (
    "top1",
    "top1_judged",
    "format_rate",
    "mixed_language_rate",
    "mean_length",
    "hypernym_rate",
    "mean_reward",
    "judge_agreement",
    "unjudged_rate",
)
DIAGNOSIS_TOP5_METRICS = DIAGNOSIS_METRICS + ("top5", "top5_judged")
EHRSQL_METRICS = (
    "accuracy0",
    "accuracy5",
    "accuracy10",
    "accuracyN",
    "execution_accuracy",
    "abstention_precision",
    "abstention_recall",
    "error_rate",
    "timeout_rate",
)
JUDGE_METRICS = ("top1_judged", "top5_judged", "judge_agreement", "unjudged_rate")
ALL_METRICS = tuple(dict.fromkeys(DIAGNOSIS_TOP5_METRICS + EHRSQL_METRICS))

RAREARENA_URLS = "https://github.com/zhao-zy15/RareArena, https://huggingface.co/datasets/THUMedInfo/RareArena"
_RAREARENA_ENV = {"rdc": "MEDZERO_RAREARENA_RDC", "rds": "MEDZERO_RAREARENA_RDS"}
_STYLE_FORMAT = {"r1": "single", "top5": "ranked"}


class TaskConfigError(ValueError):
    """A task option (from ``--metadata`` or the environment) is malformed."""


# --------------------------------------------------------------------------- configuration


def _pick(metadata: Mapping[str, Any], key: str, env: str | None = None) -> Any:
    value = metadata.get(key)
    if value in (None, "") and env:
        value = os.environ.get(env) or None
    return value


def _json_option(value: Any, name: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise TaskConfigError(f"{name} must be a JSON object, got {value!r}") from exc
    return value


def diagnosis_scorer_config(metadata: Mapping[str, Any], style: str) -> dict[str, Any]:
    """Keyword configuration for the diagnosis scorer of a task in ``style`` (``r1`` or ``top5``)."""
    if style not in _STYLE_FORMAT:
        raise TaskConfigError(f"unknown prompt style {style!r}; choose from {sorted(_STYLE_FORMAT)}")
    config: dict[str, Any] = {"answer_format": _STYLE_FORMAT[style]}
    if style == "top5":
        config["k"] = 5
    hierarchy = _pick(metadata, "hierarchy_path", "MEDZERO_ORPHANET_HIERARCHY")
    if hierarchy:
        config["hierarchy_path"] = str(Path(hierarchy).expanduser())
    judge = _json_option(_pick(metadata, "judge", "MEDZERO_JUDGE"), "judge")
    if judge:
        if hasattr(judge, "model_dump"):
            judge = judge.model_dump(mode="json")
        config["judge"] = dict(judge)
        judge_mode = _pick(metadata, "judge_mode", "MEDZERO_JUDGE_MODE")
        if judge_mode:
            config["judge_mode"] = judge_mode
    extra = _json_option(metadata.get("scorer_config"), "scorer_config") or {}
    if not isinstance(extra, dict):
        raise TaskConfigError("scorer_config must be a JSON object")
    config.update(extra)
    return config


# --------------------------------------------------------------------------- documents


def _dataset(docs: list[dict[str, Any]]) -> dict[str, Any]:
    import datasets

    return {"test": datasets.Dataset.from_list(docs)}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str)


def diagnosis_docs(
    recs: Sequence[Mapping[str, Any]], setting: str, style: str, scorer_config: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Task documents for diagnosis records (RareArena-shaped), scored by ``rarearena_<setting>``."""
    scorer = _dumps({"name": f"rarearena_{setting}", "config": dict(scorer_config)})
    docs = []
    for rec in recs:
        system, user = prompts.diagnosis_messages(records.rarearena_input(rec, setting), style)
        reference = {k: v for k, v in rec.items() if k not in ("case_report", "test_results")}
        docs.append({
            "id": str(rec["_id"]),
            "system": system["content"],
            "prompt": user["content"],
            "target": str(rec["diagnosis"]),
            "reference": _dumps(reference),
            "scorer": scorer,
        })
    return docs


def rarearena_path(setting: str, metadata: Mapping[str, Any]) -> Path:
    """The RareArena file for ``setting`` (``rdc``/``rds``) from metadata or the environment."""
    value = (
        metadata.get(f"rarearena_{setting}_path")
        or metadata.get("data_path")
        or os.environ.get(_RAREARENA_ENV[setting])
    )
    if not value:
        raise records.DataNotFoundError(
            f"rarearena_{setting}: no data file given. {records.RAREARENA_HELP} "
            f"Sources: {RAREARENA_URLS}."
        )
    return Path(str(value)).expanduser()


def load_rarearena(setting: str, style: str, **metadata: Any) -> dict[str, Any]:
    """``custom_dataset`` for the RareArena tasks: the user's RDC/RDS file, as task documents."""
    recs = records.load_rarearena(rarearena_path(setting, metadata))
    return _dataset(diagnosis_docs(recs, setting, style, diagnosis_scorer_config(metadata, style)))


def load_rarebench(subset: str, style: str = "r1", **metadata: Any) -> dict[str, Any]:
    """``custom_dataset`` for the RareBench tasks: the embedded phenotype cases (``rarearena_rds`` scorer).

    RareBench cases are phenotype lists without test results, i.e. RareArena's RDS setting.
    """
    recs = records.load_rarebench(subset, metadata.get("rarebench_dir") or None)
    return _dataset(diagnosis_docs(recs, "rds", style, diagnosis_scorer_config(metadata, style)))


def _ehrsql_paths(metadata: Mapping[str, Any]) -> tuple[Path, Path, Path]:
    root = _pick(metadata, "ehrsql_dir", "MEDZERO_EHRSQL_DIR")
    if not root:
        raise records.DataNotFoundError(
            "ehrsql: no data directory given. Download EHRSQL 2024 (https://github.com/glee4810/ehrsql-2024) "
            "and its MIMIC-IV demo database, then pass --metadata '{\"ehrsql_dir\": \"/path/ehrsql2024\"}' "
            "(the folder with <split>/data.json, tables.json and mimic_iv.sqlite; override the database with "
            "\"db_path\"), or set MEDZERO_EHRSQL_DIR."
        )
    root_p = Path(str(root)).expanduser()
    db = Path(str(_pick(metadata, "db_path", "MEDZERO_EHRSQL_DB") or root_p / "mimic_iv.sqlite")).expanduser()
    tables = Path(str(metadata.get("tables_path") or root_p / "tables.json")).expanduser()
    for p, what in ((db, "database"), (tables, "schema (tables.json)")):
        if not p.is_file():
            raise records.DataNotFoundError(f"ehrsql: {what} not found at {p}")
    return root_p, db, tables


@functools.lru_cache(maxsize=8)
def _schema_text(tables_path: str) -> str:
    from medzero_rewards.ehrsql.schema import schema_prompt

    return schema_prompt(tables_path)


def ehrsql_docs(
    recs: Sequence[Mapping[str, Any]], schema_text: str, scorer_config: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Task documents for EHRSQL records, scored by the ``ehrsql`` scorer."""
    scorer = _dumps({"name": "ehrsql", "config": dict(scorer_config)})
    docs = []
    for rec in recs:
        system, user = prompts.ehrsql_messages(rec["question"], schema_text)
        docs.append({
            "id": str(rec["id"]),
            "system": system["content"],
            "prompt": user["content"],
            "target": str(rec["label"]),
            "reference": _dumps(dict(rec)),
            "scorer": scorer,
        })
    return docs


def load_ehrsql(split: str, **metadata: Any) -> dict[str, Any]:
    """``custom_dataset`` for the EHRSQL tasks: one split of the user's EHRSQL 2024 folder."""
    root, db, tables = _ehrsql_paths(metadata)
    answers = _pick(metadata, "answers", "MEDZERO_EHRSQL_ANSWERS") or "answer.json"
    recs = records.load_ehrsql(root, split, answers=answers)
    config: dict[str, Any] = {"db_path": str(db)}
    if metadata.get("timeout_s") is not None:
        config["timeout_s"] = float(metadata["timeout_s"])
    extra = _json_option(metadata.get("scorer_config"), "scorer_config") or {}
    config.update(extra)
    return _dataset(ehrsql_docs(recs, _schema_text(str(tables)), config))


# --------------------------------------------------------------------------- scoring


@functools.lru_cache(maxsize=32)
def _scorer(spec: str):
    from medzero_rewards import get_scorer

    parsed = json.loads(spec)
    return get_scorer(parsed["name"], **parsed["config"])


def scorer_for_doc(doc: Mapping[str, Any]):
    """The ``medzero_rewards`` scorer a task document is scored with (cached per configuration)."""
    return _scorer(doc["scorer"])


def reference_for_doc(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The reference record the scorer compares a completion with."""
    return json.loads(doc["reference"])


def score_doc(doc: Mapping[str, Any], completion: str) -> dict[str, Any]:
    """Score one completion for ``doc``: the :class:`~medzero_rewards.Score` in JSON mode."""
    score = scorer_for_doc(doc).score(completion, reference_for_doc(doc))
    return score.model_dump(mode="json")


def process_results(doc: Mapping[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """lm-eval ``process_results``: every metric of the task receives the item's full score.

    The payload is ``{"scorer": <spec>, "score": <Score as JSON>}``; the ``agg_*`` functions turn
    the list of payloads back into the scorer's corpus metrics.
    """
    completion = results[0] if results else ""
    payload = {"scorer": doc["scorer"], "score": score_doc(doc, completion)}
    return {name: payload for name in metrics_for_spec(doc["scorer"])}


def metrics_for_spec(spec: str) -> tuple[str, ...]:
    """The metric names of a task scored by the scorer ``spec`` (as stored in its documents)."""
    parsed = json.loads(spec)
    if parsed["name"] == "ehrsql":
        return EHRSQL_METRICS
    names = DIAGNOSIS_TOP5_METRICS if parsed["config"].get("answer_format") == "ranked" else DIAGNOSIS_METRICS
    if not parsed["config"].get("judge"):  # judge metrics are only reported when a judge is configured
        names = tuple(n for n in names if n not in JUDGE_METRICS)
    return names


def aggregate_payloads(items: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """``scorer.aggregate`` over the payloads :func:`process_results` produced."""
    from medzero_rewards import Score

    if not items:
        return {}
    specs = {item["scorer"] for item in items}
    if len(specs) != 1:
        raise ValueError(f"cannot aggregate items scored by different scorers: {sorted(specs)}")
    scorer = _scorer(next(iter(specs)))
    return scorer.aggregate([Score.model_validate(item["score"]) for item in items])


def make_aggregation(metric: str) -> Callable[[Sequence[Mapping[str, Any]]], float]:
    """An lm-eval aggregation function returning ``scorer.aggregate(scores)[metric]``.

    A metric the scorer does not report for this run (e.g. ``top1_judged`` without a judge) is NaN.
    """

    def aggregate(items: Sequence[Mapping[str, Any]]) -> float:
        value = aggregate_payloads(items).get(metric)
        return float("nan") if value is None else float(value)

    aggregate.__name__ = f"agg_{metric}"
    aggregate.__qualname__ = aggregate.__name__
    aggregate.__doc__ = f"``{metric}`` from the scorer's own ``aggregate``."
    return aggregate


agg_top1 = make_aggregation("top1")
agg_top5 = make_aggregation("top5")
agg_top1_judged = make_aggregation("top1_judged")
agg_top5_judged = make_aggregation("top5_judged")
agg_format_rate = make_aggregation("format_rate")
agg_mixed_language_rate = make_aggregation("mixed_language_rate")
agg_mean_length = make_aggregation("mean_length")
agg_hypernym_rate = make_aggregation("hypernym_rate")
agg_mean_reward = make_aggregation("mean_reward")
agg_judge_agreement = make_aggregation("judge_agreement")
agg_unjudged_rate = make_aggregation("unjudged_rate")
agg_accuracy0 = make_aggregation("accuracy0")
agg_accuracy5 = make_aggregation("accuracy5")
agg_accuracy10 = make_aggregation("accuracy10")
agg_accuracyN = make_aggregation("accuracyN")
agg_execution_accuracy = make_aggregation("execution_accuracy")
agg_abstention_precision = make_aggregation("abstention_precision")
agg_abstention_recall = make_aggregation("abstention_recall")
agg_error_rate = make_aggregation("error_rate")
agg_timeout_rate = make_aggregation("timeout_rate")
