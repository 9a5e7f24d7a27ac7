"""Glue between medzero's lm-eval task YAML and ``medzero_rewards``.

The task folders under ``tasks/`` hold declarative YAML plus a thin ``utils.py`` that re-exports the
functions defined here (the layout of lm-eval's own ``ifeval`` task). Nothing here scores anything:

* ``load_*`` build the task documents. They are lm-eval ``custom_dataset`` callables, so they receive
  ``--metadata`` (and the model arguments) as keyword arguments -- the documented way to hand a task
  user paths and options. Each document carries the chat messages from :mod:`medzero_eval.prompts`
  (``system`` -> the task ``description``, ``prompt`` -> ``doc_to_text``), the reference record the
  scorer sees (``reference``, JSON) and the scorer it is scored with (``scorer``: name + config, JSON).
* :func:`process_results` calls that ``medzero_rewards`` scorer -- the same object the GRPO reward
  calls -- on the raw completion. It returns the item's :class:`~medzero_rewards.Score` once, under
  the metric ``score``, and under every other metric only the number that metric averages:
  ``scorer.aggregate([score])[metric]``. Those metrics use lm-eval's own ``mean`` aggregation, so
  lm-eval prints their standard error, and their value is the scorer's corpus value (every such metric
  is a mean over the items it is defined for; an item outside a metric's denominator -- an unanswerable
  question for ``execution_accuracy`` -- leaves the key out). ``accuracyN`` (its penalty is the number
  of questions) is the one corpus metric aggregated by a function of its own (no standard error).
* A scorer failure on one item never stops the run: the item gets ``Status.error`` with the reason, is
  left out of every metric and counted in ``scorer_error_rate``; the ``score`` aggregation logs one
  warning per task when more than ``max_error_share`` of the items errored, and one error when more
  than the scorer's ``max_unjudged_share`` went unjudged -- it never raises, so results and samples
  are always written. lm-eval scores item by item, so the scorers' per-batch warnings (a judge that is
  down) are logged once and their repeats summarised in one line at aggregation, not once per item.
* :class:`MedzeroTask` (the tasks' ``class``) warns once when the prompts are rendered without a chat
  template (``--apply_chat_template`` missing): medzero's prompts are the chat prompts of training.

Configuration (``--metadata`` JSON keys; environment variables as fallback):

==========================  =====================================  ==================================
key                         environment variable                   used by
==========================  =====================================  ==================================
``data_path``               ``MEDZERO_RAREARENA_RDC`` / ``_RDS``   RareArena (a JSON Lines file)
``rarearena_rdc_path``      (same)                                 RareArena RDC, when in a group
``rarearena_rds_path``      (same)                                 RareArena RDS, when in a group
``revision``                --                                     RareArena from the Hub (no path)
``hierarchy_path``          ``MEDZERO_ORPHANET_HIERARCHY``         diagnosis scorers (hypernym tier)
``judge``                   ``MEDZERO_JUDGE`` (JSON)               diagnosis scorers (LLM judge)
``judge_mode``              ``MEDZERO_JUDGE_MODE``                 diagnosis scorers
``scorer_config``           --                                     any scorer: extra keyword config
``ehrsql_dir``              ``MEDZERO_EHRSQL_DIR``                 EHRSQL (``<dir>/<split>/data.json``)
``db_path``                 ``MEDZERO_EHRSQL_DB``                  EHRSQL (default ``<dir>/mimic_iv.sqlite``)
``tables_path``             --                                     EHRSQL (default ``<dir>/tables.json``)
``answers``                 ``MEDZERO_EHRSQL_ANSWERS``             EHRSQL gold results file name
``timeout_s``               --                                     EHRSQL per-query time limit
``max_error_share``         --                                     every task (default 0.05)
``allow_no_chat_template``  --                                     every task: silence the warning
==========================  =====================================  ==================================
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import os
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from medzero_eval import prompts, records

logger = logging.getLogger("medzero_eval")

SCORE_METRIC = "score"
"""Per sample: ``{"scorer": <spec>, "score": <Score as JSON>}``; aggregated: the number of items."""
SCORER_ERROR_METRIC = "scorer_error_rate"
"""Share of items the scorer could not score (``Status.error``); they are left out of every other metric."""

# Metric names each task family reports (the YAML metric_list of every task names the same ones).
# All but ``accuracyN`` are means over the items they are defined for (lm-eval's ``mean`` + stderr).
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
CORPUS_METRICS = ("accuracyN",)
"""Metrics that are not a mean of per-item values: aggregated by ``agg_<name>``, without stderr."""
ALL_METRICS = tuple(dict.fromkeys(DIAGNOSIS_TOP5_METRICS + EHRSQL_METRICS))

DEFAULT_MAX_ERROR_SHARE = 0.05
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


def _share_option(metadata: Mapping[str, Any], key: str, default: float) -> float:
    value = metadata.get(key)
    if value in (None, ""):
        return default
    try:
        share = float(value)
    except (TypeError, ValueError):
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise TaskConfigError(f"{key} must be a share between 0 and 1, got {value!r}")
    return share


def diagnosis_scorer_config(metadata: Mapping[str, Any], style: str) -> dict[str, Any]:
    """Keyword configuration for the diagnosis scorer of a task in ``style`` (``r1`` or ``top5``).

    >>> diagnosis_scorer_config({}, "top5")
    {'answer_format': 'ranked', 'k': 5}
    """
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


def scorer_spec(name: str, config: Mapping[str, Any], metadata: Mapping[str, Any] | None = None) -> str:
    """The ``scorer`` field of a task document: scorer name, its config and the run's fault threshold.

    >>> json.loads(scorer_spec("rarearena_rds", {"answer_format": "single"}))["max_error_share"]
    0.05
    """
    share = _share_option(metadata or {}, "max_error_share", DEFAULT_MAX_ERROR_SHARE)
    return _dumps({"name": name, "config": dict(config), "max_error_share": share})


# --------------------------------------------------------------------------- documents


def _dataset(docs: list[dict[str, Any]]) -> dict[str, Any]:
    import datasets

    return {"test": datasets.Dataset.from_list(docs)}


def _dataset_with_scorer(docs: list[dict[str, Any]]) -> dict[str, Any]:
    if docs:  # build the scorer now: a configuration it refuses stops the task here, not item by item
        build_scorer(docs[0]["scorer"])
    return _dataset(docs)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str)


def diagnosis_docs(
    recs: Sequence[Mapping[str, Any]],
    setting: str,
    style: str,
    scorer_config: Mapping[str, Any],
    metadata: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Task documents for diagnosis records (RareArena-shaped), scored by ``rarearena_<setting>``."""
    scorer = scorer_spec(f"rarearena_{setting}", scorer_config, metadata)
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
    """The RareArena file for ``setting`` (``rdc``/``rds``): the path from metadata or the environment,
    else ``<setting>.json`` from the Hugging Face Hub (:func:`medzero_eval.records.resolve_rarearena_file`,
    revision pinned by the ``revision`` metadata key)."""
    setting = setting.lower()
    value = (
        metadata.get(f"rarearena_{setting}_path")
        or metadata.get("data_path")
        or os.environ.get(_RAREARENA_ENV[setting])
    )
    return records.resolve_rarearena_file(setting.upper(), value or None, revision=metadata.get("revision") or None)


def load_rarearena(setting: str, style: str, **metadata: Any) -> dict[str, Any]:
    """``custom_dataset`` for the RareArena tasks: the RDC/RDS file (given, or from the Hub), as task documents."""
    recs = records.load_rarearena(rarearena_path(setting, metadata))
    config = diagnosis_scorer_config(metadata, style)
    return _dataset_with_scorer(diagnosis_docs(recs, setting, style, config, metadata))


def load_rarebench(subset: str, style: str = "r1", **metadata: Any) -> dict[str, Any]:
    """``custom_dataset`` for the RareBench tasks: the embedded phenotype cases (``rarearena_rds`` scorer).

    RareBench cases are phenotype lists without test results, i.e. RareArena's RDS setting.
    """
    recs = records.load_rarebench(subset, metadata.get("rarebench_dir") or None)
    return _dataset_with_scorer(diagnosis_docs(recs, "rds", style, diagnosis_scorer_config(metadata, style), metadata))


def ehrsql_paths(metadata: Mapping[str, Any]) -> tuple[Path, Path, Path]:
    """``(data folder, database, tables.json)`` of the EHRSQL tasks; a missing one raises a one-line
    :class:`~medzero_eval.records.DataNotFoundError` naming the file and the option that sets it."""
    root = _pick(metadata, "ehrsql_dir", "MEDZERO_EHRSQL_DIR")
    if not root:
        raise records.DataNotFoundError(
            "ehrsql: no data directory given. Download EHRSQL 2024 (https://github.com/glee4810/ehrsql-2024) "
            "and its MIMIC-IV demo database, then pass --metadata '{\"ehrsql_dir\": \"/path/ehrsql2024\"}' "
            "(the folder with <split>/data.json, tables.json and mimic_iv.sqlite; override the database with "
            "\"db_path\"), or set MEDZERO_EHRSQL_DIR."
        )
    root_p = Path(str(root)).expanduser()
    if not root_p.is_dir():
        raise records.DataNotFoundError(f"ehrsql: data directory not found: {root_p} (--metadata ehrsql_dir "
                                        "or MEDZERO_EHRSQL_DIR)")
    db = Path(str(_pick(metadata, "db_path", "MEDZERO_EHRSQL_DB") or root_p / "mimic_iv.sqlite")).expanduser()
    tables = Path(str(metadata.get("tables_path") or root_p / "tables.json")).expanduser()
    for p, what, key in ((db, "database", "db_path"), (tables, "schema (tables.json)", "tables_path")):
        if not p.is_file():
            raise records.DataNotFoundError(f"ehrsql: {what} not found at {p} (set it with --metadata {key})")
    return root_p, db, tables


def check_ehrsql_database(db: Path) -> None:
    """Refuse a database the EHRSQL scorer cannot use (not SQLite, damaged, no EHRSQL tables) with one
    :class:`TaskConfigError` line naming the file and the task option that sets it.

    >>> import tempfile
    >>> bad = Path(tempfile.mkdtemp()) / "mimic_iv.sqlite"; _ = bad.write_bytes(b"not a database")
    >>> try:
    ...     check_ehrsql_database(bad)
    ... except TaskConfigError as exc:
    ...     print("no SQLite header" in str(exc), "--metadata" in str(exc), "--db " in str(exc))
    True True False
    """
    from medzero_rewards.ehrsql import EhrsqlDatabaseError, check_database

    try:
        check_database(db)
    except EhrsqlDatabaseError as exc:
        what = str(exc).split("; ")[0]
        raise TaskConfigError(
            f"ehrsql: {what} — pass the EHRSQL 2024 mimic_iv.sqlite with --metadata '{{\"db_path\": ...}}' "
            "(or put it in the ehrsql_dir folder), or set MEDZERO_EHRSQL_DB"
        ) from None


@functools.lru_cache(maxsize=8)
def _schema_text(tables_path: str) -> str:
    from medzero_rewards.ehrsql.schema import schema_prompt

    records.read_json_file(Path(tables_path), records.EHRSQL_FIX)  # one line naming the file if it is no JSON
    try:
        return schema_prompt(tables_path)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise records.DataFormatError(
            f"{tables_path}: not EHRSQL's tables.json ({exc}) — {records.EHRSQL_FIX}"
        ) from None


def ehrsql_docs(
    recs: Sequence[Mapping[str, Any]],
    schema_text: str,
    scorer_config: Mapping[str, Any],
    metadata: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Task documents for EHRSQL records, scored by the ``ehrsql`` scorer."""
    scorer = scorer_spec("ehrsql", scorer_config, metadata)
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
    root, db, tables = ehrsql_paths(metadata)
    check_ehrsql_database(db)  # before the documents: a refused database stops the task in one line
    answers = _pick(metadata, "answers", "MEDZERO_EHRSQL_ANSWERS") or "answer.json"
    recs = records.load_ehrsql(root, split, answers=answers)
    config: dict[str, Any] = {"db_path": str(db)}
    if metadata.get("timeout_s") is not None:
        config["timeout_s"] = float(metadata["timeout_s"])
    extra = _json_option(metadata.get("scorer_config"), "scorer_config") or {}
    config.update(extra)
    return _dataset_with_scorer(ehrsql_docs(recs, _schema_text(str(tables)), config, metadata))


# --------------------------------------------------------------------------- scoring


@functools.lru_cache(maxsize=32)
def _scorer(spec: str):
    from medzero_rewards import get_scorer

    parsed = json.loads(spec)
    return get_scorer(parsed["name"], **parsed["config"])


def build_scorer(spec: str):
    """The scorer of a task's ``scorer`` spec, built when the task loads (before any generation): a
    configuration it refuses -- an unknown setting, a missing file, a judge without its API key or
    ``openai``, a database that is not EHRSQL's -- is one :class:`TaskConfigError` line naming the
    ``--metadata`` key, never a ``Status.error`` on every item after the model has generated them all.

    >>> build_scorer(scorer_spec("rarearena_rds", {"answer_format": "single"})).name
    'rarearena_rds'
    >>> try:
    ...     build_scorer(scorer_spec("rarearena_rds", {"hierarchy_path": "/no/such/orphanet.json"}))
    ... except TaskConfigError as exc:
    ...     print(str(exc).split(" — ")[0])
    rarearena_rds: Orphanet hierarchy not found: /no/such/orphanet.json
    """
    from medzero_rewards.judge.client import JudgeUnavailableError

    name = json.loads(spec)["name"]
    try:
        return _scorer(spec)
    except (JudgeUnavailableError, ValueError, TypeError, OSError) as exc:  # a ScorerConfigError is a ValueError
        fix = (
            "fix the environment, or the judge in --metadata (or MEDZERO_JUDGE)"
            if isinstance(exc, JudgeUnavailableError)
            else "fix the task options in --metadata (hierarchy_path, scorer_config, db_path; see tasks/README.md)"
        )
        raise TaskConfigError(f"{name}: {' '.join(str(exc).split())} — {fix}") from None


@functools.lru_cache(maxsize=32)
def _item_scorer(spec: str):
    """The scorer for one-item aggregates: a copy that never raises for an unjudged share (one unjudged
    item is a 100 % share); the corpus check is :func:`agg_score`'s."""
    scorer = _scorer(spec)
    config = getattr(scorer, "config", None)
    if config is None or not hasattr(config, "max_unjudged_share") or not hasattr(config, "model_copy"):
        return scorer
    try:  # a shallow twin sharing the judge and caches (copy.copy could go through __getstate__)
        lenient = object.__new__(type(scorer))
        lenient.__dict__.update(scorer.__dict__)
        lenient.config = config.model_copy(update={"max_unjudged_share": 1.0})
    except (AttributeError, TypeError):
        return scorer
    return lenient


def scorer_for_doc(doc: Mapping[str, Any]):
    """The ``medzero_rewards`` scorer a task document is scored with (cached per configuration)."""
    return _scorer(doc["scorer"])


def reference_for_doc(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The reference record the scorer compares a completion with."""
    return json.loads(doc["reference"])


def error_score(reason: str):
    """The :class:`~medzero_rewards.Score` of an item the scorer could not score (``Status.error``)."""
    from medzero_rewards import Score, Status

    return Score(reward=0.0, correct=False, status=Status.error, reason=reason)


class _RepeatedItemWarnings(logging.Filter):
    """lm-eval scores one item at a time, so each item is a batch of its own for ``medzero_rewards``'
    per-batch warnings (a judge that is down would log one line per item). While :func:`score_doc` runs,
    the first warning of each ``medzero_rewards`` logger is logged; the repeats are counted and
    summarised in one line when the task is aggregated (:func:`check_scores`)."""

    NOTE = " [further warnings like this while lm-eval scores item by item are counted and summarised once]"

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._shown: set[str] = set()
        self._repeats: Counter[str] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        with self._lock:
            if record.name in self._shown:
                self._repeats[record.name] += 1
                return False
            self._shown.add(record.name)
        record.msg, record.args = record.getMessage() + self.NOTE, ()
        return True

    def take_repeats(self) -> dict[str, int]:
        """The counts of warnings held back since the last call, per logger; starts over."""
        with self._lock:
            repeats = dict(self._repeats)
            self._repeats.clear()
            self._shown.clear()
        return repeats


_ITEM_WARNINGS = _RepeatedItemWarnings()


@contextlib.contextmanager
def _per_item_warnings() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in list(logging.Logger.manager.loggerDict)
               if name == "medzero_rewards" or name.startswith("medzero_rewards.")]
    for lg in loggers:
        lg.addFilter(_ITEM_WARNINGS)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeFilter(_ITEM_WARNINGS)


def score_doc(doc: Mapping[str, Any], completion: str):
    """Score one completion for ``doc``; a scorer failure on this item becomes a ``Status.error`` Score.

    >>> doc = load_rarebench("mme")["test"][0]
    >>> score_doc(doc, "<think>x</think><answer>" + doc["target"] + "</answer>").correct
    True
    >>> score_doc({**doc, "reference": "{}"}, "<answer>x</answer>").status.value
    'error'
    """
    try:
        reference = reference_for_doc(doc)
        scorer = scorer_for_doc(doc)
        with _per_item_warnings():
            return scorer.score(completion, reference)
    except Exception as exc:  # one bad item must not sink the run: flagged, excluded and counted
        return error_score(f"scorer failed on this item: {type(exc).__name__}: {exc}"[:1000])


def metrics_for_spec(spec: str) -> tuple[str, ...]:
    """The metrics a task scored by ``spec`` reports: ``score``, the scorer's metrics, ``scorer_error_rate``.

    >>> metrics_for_spec(scorer_spec("rarearena_rds", {"answer_format": "single"}))[:3]
    ('score', 'top1', 'format_rate')
    """
    parsed = json.loads(spec)
    if parsed["name"] == "ehrsql":
        names = EHRSQL_METRICS
    else:
        names = DIAGNOSIS_TOP5_METRICS if parsed["config"].get("answer_format") == "ranked" else DIAGNOSIS_METRICS
        if not parsed["config"].get("judge"):  # judge metrics are only reported when a judge is configured
            names = tuple(n for n in names if n not in JUDGE_METRICS)
    return (SCORE_METRIC, *names, SCORER_ERROR_METRIC)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def sample_metrics(spec: str, score) -> dict[str, Any]:
    """What :func:`process_results` returns for ``score``: the payload under ``score``, and per metric
    the number that metric averages (absent when the item is outside the metric's denominator).

    >>> from medzero_rewards import get_scorer
    >>> spec = scorer_spec("rarearena_rds", {"answer_format": "single"})
    >>> s = get_scorer("rarearena_rds", answer_format="single").score(
    ...     "<think>x</think><answer>Fabry disease</answer>", {"diagnosis": "Fabry disease"})
    >>> m = sample_metrics(spec, s)
    >>> m["top1"], m["format_rate"], m["scorer_error_rate"], m["score"]["score"]["correct"]
    (1.0, 1.0, 0.0, True)
    """
    from medzero_rewards import Status

    values: dict[str, Any] = {}
    if score.status is not Status.error:
        try:
            values = dict(_item_scorer(spec).aggregate([score]))
        except Exception as exc:  # an item the scorer's own aggregate rejects is a scorer error too
            score = error_score(f"the scorer's aggregate failed on this item: {type(exc).__name__}: {exc}"[:1000])
    out: dict[str, Any] = {SCORE_METRIC: {"scorer": spec, "score": score.model_dump(mode="json")}}
    if score.status is Status.error:
        out[SCORER_ERROR_METRIC] = 1.0
        return out
    names = metrics_for_spec(spec)[1:-1]
    for name in names:
        if name in CORPUS_METRICS:
            out[name] = score.details.get("outcome")
            continue
        number = _number(values.get(name))
        if number is not None:
            out[name] = number
    out[SCORER_ERROR_METRIC] = 0.0
    return out


def process_results(doc: Mapping[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """lm-eval ``process_results``: score the completion once; see :func:`sample_metrics`."""
    completion = results[0] if results else ""
    if not isinstance(completion, str):
        completion = "" if completion is None else str(completion)
    return sample_metrics(doc["scorer"], score_doc(doc, completion))


# --------------------------------------------------------------------------- aggregation


def _mean(values: Sequence[float]) -> float:
    from lm_eval.api.metrics import mean

    return mean(values)


def agg_accuracyN(outcomes: Sequence[int]) -> float:
    """``accuracyN``: the official reliability score with penalty N = the number of questions (×100)."""
    from medzero_rewards.ehrsql.metrics import reliability_scores

    kept = [int(o) for o in outcomes if o is not None]
    return float(reliability_scores(kept)["accuracyN"]) if kept else float("nan")


def _scores(payloads: Iterable[Mapping[str, Any]]):
    from medzero_rewards import Score

    return [Score.model_validate(p["score"]) for p in payloads]


def agg_score(payloads: Sequence[Mapping[str, Any]]) -> int:
    """lm-eval aggregation of the ``score`` metric: the number of items (an int); never raises.

    Logs one warning when more than the task's ``max_error_share`` of the items got ``Status.error``
    (they are left out of every metric) and one error when more than the scorer's ``max_unjudged_share``
    needed the LLM judge and got no usable verdict (the judged metrics then rest on fewer items).
    """
    try:
        check_scores(payloads)
    except Exception:  # the check must never cost the run its results
        logger.exception("medzero: could not check the scores of this task")
    return len(payloads)


def check_scores(payloads: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Count the statuses of ``payloads`` and log the run-level faults once; returns the counts."""
    from medzero_rewards import Status

    repeats = _ITEM_WARNINGS.take_repeats()
    if repeats:
        logger.warning(
            "medzero: %d further scorer warning(s) while lm-eval scored item by item were not logged (%s); each "
            "item's status and reason are in the samples (--log_samples), their counts in the task's metrics",
            sum(repeats.values()), ", ".join(f"{n} from {name}" for name, n in sorted(repeats.items())),
        )
    if not payloads:
        return {}
    spec = payloads[0]["scorer"]
    parsed = json.loads(spec)
    scores = _scores(payloads)
    n = len(scores)
    counts = Counter(s.status.value for s in scores)
    errors = counts.get(Status.error.value, 0)
    max_errors = float(parsed.get("max_error_share", DEFAULT_MAX_ERROR_SHARE))
    if errors and errors / n > max_errors:
        reasons = Counter(s.reason.split(":", 2)[-1].strip()[:120] for s in scores if s.status is Status.error)
        top = "; ".join(f"{r} (x{c})" for r, c in reasons.most_common(3))
        logger.warning(
            "medzero %s: %d of %d items (%.1f%%) could not be scored (status error) and are left out of every "
            "metric -- more than max_error_share=%.1f%% (set it with --metadata). Most common reasons: %s",
            parsed["name"], errors, n, 100 * errors / n, 100 * max_errors, top,
        )
    unjudged = counts.get(Status.unjudged.value, 0)
    if unjudged:
        config = getattr(_scorer(spec), "config", None)
        max_unjudged = float(getattr(config, "max_unjudged_share", 0.0) or 0.0)
        if unjudged / n > max_unjudged:
            logger.error(
                "medzero %s: %d of %d items (%.1f%%) needed the LLM judge but got no usable verdict "
                "(max_unjudged_share=%.1f%%): the judged metrics are NOT comparable with a complete run. "
                "Check the judge endpoint and re-score the samples (medzero-eval score), or raise "
                "max_unjudged_share via --metadata '{\"scorer_config\": {\"max_unjudged_share\": ...}}' to accept.",
                parsed["name"], unjudged, n, 100 * unjudged / n, 100 * max_unjudged,
            )
    return dict(counts)


def aggregate_samples(samples: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """The metrics lm-eval reports for per-sample results of :func:`process_results` (or
    :func:`sample_metrics`): ``mean`` of each metric's values, ``agg_<name>`` for the others.

    Equal to ``scorer.aggregate`` over the items that are not ``Status.error`` (the official EHRSQL
    percentages to the last digit but one: ``mean`` sums ``100 * outcome``).
    """
    by_metric: dict[str, list[Any]] = {}
    for sample in samples:
        for name, value in sample.items():
            by_metric.setdefault(name, []).append(value)
    out: dict[str, float] = {}
    for name, values in by_metric.items():
        if name == SCORE_METRIC:
            out[name] = agg_score(values)
        elif name in CORPUS_METRICS:
            out[name] = globals()[f"agg_{name}"](values)
        else:
            out[name] = _mean(values)
    return out


# --------------------------------------------------------------------------- task class

_WARNED_NO_CHAT_TEMPLATE: set[str] = set()


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no")
    return bool(value)


def _task_class():
    from lm_eval.api.task import ConfigurableTask

    class MedzeroTask(ConfigurableTask):
        """lm-eval's ``ConfigurableTask`` that warns once when its chat prompts are sent without a chat
        template (``--apply_chat_template`` missing); ``--metadata '{"allow_no_chat_template": true}'``
        silences it."""

        def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
            # lm-eval passes the YAML as config, including the `class` key that chose this class
            config = {k: v for k, v in (config or {}).items() if k != "class"}
            super().__init__(config=config, **kwargs)
            # lm-eval builds every task of a run before it builds any request: one warning per run
            _WARNED_NO_CHAT_TEMPLATE.clear()

        def build_all_requests(self, *args: Any, **kwargs: Any) -> None:
            with_template = bool(kwargs.get("apply_chat_template")) and kwargs.get("chat_template") is not None
            if not with_template:
                warn_no_chat_template(self.config.task, getattr(self.config, "metadata", None) or {})
            return super().build_all_requests(*args, **kwargs)

    return MedzeroTask


def warn_no_chat_template(task: str, metadata: Mapping[str, Any]) -> bool:
    """Log the one warning of a run whose medzero prompts go out without a chat template; True if logged.

    >>> _WARNED_NO_CHAT_TEMPLATE.clear()
    >>> warn_no_chat_template("rarebench_mme", {}), warn_no_chat_template("rarebench_hms", {})
    (True, False)
    >>> _WARNED_NO_CHAT_TEMPLATE.clear(); warn_no_chat_template("ehrsql", {"allow_no_chat_template": True})
    False
    """
    if _truthy(metadata.get("allow_no_chat_template")) or _WARNED_NO_CHAT_TEMPLATE:
        return False
    _WARNED_NO_CHAT_TEMPLATE.add(task)
    logger.warning(
        "medzero %s: running WITHOUT a chat template -- the system prompt is glued to the case as plain "
        "text, not the chat prompt medzero trains with, so these numbers are not comparable with training "
        "rewards. Add --apply_chat_template (medzero-eval run adds it), or pass --metadata "
        "'{\"allow_no_chat_template\": true}' to run this way on purpose. (Logged once per run.)",
        task,
    )
    return True


def __getattr__(name: str) -> Any:  # MedzeroTask is built on first use: importing lm_eval is heavy
    if name == "MedzeroTask":
        cls = _task_class()
        globals()["MedzeroTask"] = cls
        return cls
    raise AttributeError(name)


def _mean_aggregation(metric: str):
    def aggregate(values: Sequence[float]) -> float:
        return _mean(values) if values else float("nan")

    aggregate.__name__ = aggregate.__qualname__ = f"agg_{metric}"
    aggregate.__doc__ = f"``{metric}`` as lm-eval aggregates it (``mean`` of the per-item values)."
    return aggregate


# ``agg_<metric>`` for callers outside lm-eval (the tasks' YAML use lm-eval's own ``mean``).
for _name in (*ALL_METRICS, SCORER_ERROR_METRIC):
    if _name not in CORPUS_METRICS:
        globals()[f"agg_{_name}"] = _mean_aggregation(_name)
del _name
