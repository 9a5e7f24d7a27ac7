"""The EHRSQL scorer: official EHRSQL 2024 scoring as an RL reward, an lm-eval metric and a CLI.

>>> from medzero_rewards import get_scorer                                   # doctest: +SKIP
>>> scorer = get_scorer("ehrsql", db_path="mimic_iv.sqlite", timeout_s=5)    # doctest: +SKIP
>>> s = scorer.score("<think>...</think><answer>SELECT COUNT(*) FROM patients</answer>",
...                  {"label": "SELECT COUNT(*) FROM patients"})              # doctest: +SKIP
>>> s.reward, s.details["outcome"]                                           # doctest: +SKIP
(1.0, 1)

Per item the scorer extracts the SQL (:mod:`.extract`), post-processes it like the official scorer
(:mod:`.postprocess`), executes it read-only (:mod:`.executor`, :mod:`.pool`), normalises the result
(:mod:`.results`) and compares it with the gold result. The outcome (+1/0/-1, :func:`.metrics.outcome`)
is what the official reliability score averages; the reward maps it through a preset.

``Score.details`` keys (read by the lm-eval task and the TRL adapter):

* ``answerable`` (bool): the gold label is SQL, not ``"null"``;
* ``abstained`` (bool): the prediction is an abstention;
* ``outcome`` (int | None): the official per-question score, +1 / 0 / -1; None when the item could
  not be scored (``Status.error``, below);
* ``executed`` (bool): the predicted SQL ran to completion within every limit;
* ``error`` (str | None): why the prediction failed (extraction, SQL error, refusal, limit, timeout);
* ``timed_out`` (bool): the predicted SQL hit the time limit;
* ``sql`` (str | None): the extracted SQL (``"null"`` when abstaining, None when nothing was found);
* ``gold_error`` (str | None): the gold SQL itself failed on this database.

Faults never give a number that looks valid. An item whose outcome cannot be known gets
``Status.error``, ``outcome`` None, reward 0 and the reason; :meth:`EhrsqlScorer.aggregate` leaves it
out of every metric and counts it (``n_error``), and every adapter leaves it out of the reward:

* a reference without a ``label`` string (that item only; ``score_batch`` never raises for one item);
* a prediction whose SQL ran and whose gold result is missing: the gold SQL failed on this database, or
  could not be run at all (worker crashes or time-outs are retried on a fresh worker first);
* a prediction whose worker died under it twice (its query is retried once on a fresh worker).

An outcome that does not need the gold result keeps it: an abstention, an unextractable completion, SQL
that fails (-1 whatever the gold) and SQL on an unanswerable question. A completion longer than
``max_completion_chars`` is not parsed: ``format_error``, outcome -1, with the reason.

Presets (``preset``) map the outcome to the reward's ``accuracy`` component; the optional
components ``format`` (``format_weight × format_score``) and ``executable``
(``executable_weight × executed``) are added to it. As for every scorer, ``Score.components`` holds
the weighted parts and ``Score.reward`` is their sum (the raw outcome is ``details["outcome"]``):

* ``reliability`` (default): +1 correct result or correct abstention, 0 abstaining on an answerable
  question, ``-penalty`` for a wrong, failing or unextractable answer or for answering an unanswerable one;
* ``ehr_r1`` (the seed EHR-R1 scheme): 1.0 for a match (correct result or correct abstention), 0.1
  when the SQL at least executes, else 0.

Differences from the official program, all on purpose and all for hostile or pathological SQL only:
queries past the time limit (default 10 s), the row cap (1,000,000), the SQL length cap (100,000
characters), the value size cap (100 KB per string, blob or row, ``printf`` widths included; the
longest value in the database is 228 characters) or the memory cap score as errors, where the official
program has no limits; statements that are not reads (writes, DDL, PRAGMA, ATTACH, ...) are refused and
score as errors, where the official program would run them on its database file (a write returns no
rows; DDL would change the file). Every EHRSQL 2024 gold query is far below every limit.

Speed: gold results are computed once per database and kept (in memory, and on disk with
``cache_dir``), or read from ``gold_answers`` / the record's ``answer``; every distinct post-processed
SQL is executed once per batch, a prediction identical to its executed gold SQL reuses the gold result
(same database, same SQL, same result), deterministic results are kept in an LRU cache across batches
(bounded by bytes, ``cache_bytes``), and a persistent worker pool runs the queries. SQL mentioning
``random`` or ``now`` is never reused.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from medzero_rewards.base import Scorer
from medzero_rewards.ehrsql.cache import ResultCache
from medzero_rewards.ehrsql.database import EHRSQL_TABLES, check_database
from medzero_rewards.ehrsql.executor import ExecResult, Limits, ReadOnlyExecutor
from medzero_rewards.ehrsql.extract import Extraction, extract_sql, extract_submission
from medzero_rewards.ehrsql.lru import ByteLRU, str_bytes
from medzero_rewards.ehrsql.metrics import ehrsql_metrics, outcome
from medzero_rewards.ehrsql.pool import WorkerPool
from medzero_rewards.ehrsql.postprocess import NULL_LABEL, post_process_sql
from medzero_rewards.ehrsql.results import normalize_answer
from medzero_rewards.registry import ScorerConfigError, config_error
from medzero_rewards.types import Score, ScoreBatch, Status, Tier

__all__ = ["PRESETS", "EhrsqlConfig", "EhrsqlScorer", "make_ehrsql"]

logger = logging.getLogger(__name__)

Preset = Literal["reliability", "ehr_r1"]
PRESETS: dict[str, str] = {
    "reliability": "+1 correct or correct abstention, 0 abstain on answerable, -penalty otherwise",
    "ehr_r1": "1.0 match, 0.1 executes, 0 otherwise (seed EHR-R1 scheme)",
}
"""Reward presets by name, with a one-line description."""

_KIND_STATUS = {
    "sql_error": Status.sql_error,
    "limit": Status.sql_error,
    "refused": Status.refused,
    "timeout": Status.timeout,
    "crash": Status.error,
}
_POOL_FAULTS = ("crash", "timeout")  # a gold query failing so may succeed when run again
# A conservative lexical guard (not a parser; a false alarm only skips caching): SQL that may read the
# clock or a random source is executed every time, as the official scorer would.
_NONDETERMINISTIC = ("random", "now", "current_")
# date()/time()/... without a time value, and strftime('fmt') with only a format, read the clock.
_SHORT_CALL = re.compile(r"\(\s*('[^']*'\s*)?\)")
_CLOCK_FUNCS = ("date", "time", "datetime", "julianday", "unixepoch", "strftime")


def _default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


class EhrsqlConfig(BaseModel):
    """Configuration of :class:`EhrsqlScorer`.

    Attributes:
        db_path: the EHRSQL SQLite database (opened read-only).
        timeout_s: time limit per query in seconds (default 10; every EHRSQL 2024 gold query runs in
            well under 0.1 s). The official scorer has none; a query stopped here scores as an error.
        workers: worker processes (default: CPU count, at most 8); 0 executes in the calling process
            (time limit still enforced: progress handler and watchdog interrupt; no memory cap, no
            kill-and-replace). Workers found dead are replaced, and a query whose worker died is
            run again on a fresh one.
        max_rows: rows fetched before a query is stopped as an error.
        memory_mb: SQLite heap cap per worker process.
        preset: reward mapping, ``reliability`` or ``ehr_r1`` (see :data:`PRESETS`).
        penalty: ``c`` in the ``reliability`` reward: a wrong answer gets ``-c``.
        format_weight: weight of the completion's format score (0..1) added to the reward.
        executable_weight: weight of "the predicted SQL executed" added to the reward.
        gold_answers: gold results by question id, as an ``answer.json``-style path or mapping; used
            when a record has no ``answer``. Without either, the gold SQL is executed (once).
        cache_size: predicted-SQL results kept across batches (LRU, at most this many entries);
            gold results are always kept.
        cache_bytes: memory budget of the predicted-SQL result cache (keys and results, bytes).
        cache_dir: folder for a persistent gold-result cache, one file per database content
            (:mod:`.cache`); None keeps gold results in memory only, for this scorer's life.
        max_completion_chars: a longer completion is not parsed: ``format_error``, outcome -1.
        required_tables: tables the database must hold (checked, with one row each, when the scorer
            is built); the default is EHRSQL 2024's 17 MIMIC-IV tables, ``()`` skips the table check.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    db_path: Path
    timeout_s: float = Field(10.0, gt=0)
    workers: int = Field(default_factory=_default_workers, ge=0)
    max_rows: int = Field(1_000_000, gt=0)
    memory_mb: int = Field(1024, ge=64)
    preset: Preset = "reliability"
    penalty: float = Field(1.0, ge=0)
    format_weight: float = 0.0
    executable_weight: float = 0.0
    gold_answers: Path | dict[str, str] | None = None
    cache_size: int = Field(100_000, ge=0)
    cache_bytes: int = Field(64 << 20, ge=0)
    cache_dir: Path | None = None
    max_completion_chars: int = Field(200_000, gt=0)
    required_tables: tuple[str, ...] = EHRSQL_TABLES

    @field_validator("db_path")
    @classmethod
    def _db_exists(cls, v: Path) -> Path:
        if not v.is_file():
            raise ValueError(f"EHRSQL database not found: {v} (pass db_path= the EHRSQL 2024 mimic_iv.sqlite)")
        return v

    @field_validator("gold_answers")
    @classmethod
    def _answers_exist(cls, v: Path | dict[str, str] | None) -> Path | dict[str, str] | None:
        if isinstance(v, Path) and not v.is_file():
            raise ValueError(f"gold answers file not found: {v}")
        return v

    def limits(self) -> Limits:
        """The per-query :class:`~medzero_rewards.ehrsql.executor.Limits` this config implies."""
        return Limits(timeout_s=self.timeout_s, max_rows=self.max_rows, memory_mb=self.memory_mb)


_DETERMINISTIC = ByteLRU[bool](16 << 20, size_of=lambda _: 0)
_MEMO_MAX_CHARS = 20_000  # long (hostile) SQL is scanned again rather than kept


def _deterministic(sql: str) -> bool:
    return _DETERMINISTIC.memo(sql, _scan_deterministic, max_key_chars=_MEMO_MAX_CHARS)


def _scan_deterministic(sql: str) -> bool:
    low = sql.lower()
    if any(word in low for word in _NONDETERMINISTIC):
        return False
    for m in _SHORT_CALL.finditer(low):
        before = low[max(0, m.start() - 32) : m.start()].rstrip()
        if before.endswith("strftime") or (m.group(1) is None and before.endswith(_CLOCK_FUNCS)):
            return False
    return True


class EhrsqlScorer(Scorer):
    """Scores EHRSQL predictions exactly as the official EHRSQL 2024 program does.

    References are records ``{"label": gold SQL or "null", "answer": optional gold result string,
    "id": optional question id}``. :meth:`score` / :meth:`score_batch` take model completions;
    :meth:`score_sql_batch` takes submission SQL (the official ``prediction.json`` values).
    Call :meth:`close` (or use ``with``) to stop the worker processes early.
    """

    name = "ehrsql"
    component_names = ("accuracy", "format", "executable")

    def __init__(self, config: EhrsqlConfig | None = None, **kwargs: Any) -> None:
        """Build from an :class:`EhrsqlConfig` or its fields as keywords.

        Raises :class:`~medzero_rewards.registry.ScorerConfigError` (a ``ValueError``, one line) for an
        invalid setting, a database that is not a usable EHRSQL database (:func:`.database.check_database`)
        or an unreadable ``gold_answers`` file.
        """
        if config is not None and kwargs:
            raise TypeError("pass either an EhrsqlConfig or keyword options, not both")
        if config is None:
            try:
                config = EhrsqlConfig(**kwargs)
            except ValidationError as exc:
                raise config_error(self.name, exc) from None
        self.config = config
        check_database(config.db_path, config.required_tables)
        self._limits = self.config.limits()
        self._gold: dict[str, ExecResult] = {}
        self._lru: ByteLRU[ExecResult] = ByteLRU(config.cache_bytes, _result_bytes, max_entries=config.cache_size)
        self._disk = ResultCache(self.config.db_path, self.config.cache_dir) if self.config.cache_dir else None
        self._gold_by_id: dict[str, str] | None = self._load_gold_answers(config.gold_answers)
        self._normalized: ByteLRU[str] = ByteLRU(16 << 20)
        self._pool: WorkerPool | None = None
        self._local: ReadOnlyExecutor | None = None
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self.executed = 0
        """Queries actually executed so far (after deduplication and caching)."""

    @staticmethod
    def _load_gold_answers(src: Path | dict[str, str] | None) -> dict[str, str] | None:
        if src is None:
            return None
        data: Any = src
        if isinstance(src, Path):
            try:
                data = json.loads(src.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise ScorerConfigError(
                    f"gold_answers {src}: not a readable JSON file ({type(exc).__name__}: {exc}); "
                    "pass an answer.json-style file mapping question ids to answer strings"
                ) from None
        if not isinstance(data, dict):
            raise ScorerConfigError(
                f"gold_answers {src if isinstance(src, Path) else '(mapping)'}: holds {type(data).__name__}, "
                "not an object; pass an answer.json-style file mapping question ids to answer strings"
            )
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}

    # -- execution -------------------------------------------------------------------------------
    def _run(self, sqls: list[str]) -> list[ExecResult]:
        if not sqls:
            return []
        self.executed += len(sqls)
        if self._pid != os.getpid():  # forked (a data loader, say): the parent's workers are not ours
            self._pool, self._local, self._pid = None, None, os.getpid()
        try:
            if self.config.workers == 0:
                if self._local is None:
                    self._local = ReadOnlyExecutor(self.config.db_path, self._limits)
                return [self._local.execute(s) for s in sqls]
            if self._pool is None:
                self._pool = WorkerPool(self.config.db_path, self.config.workers, self._limits)
            return self._pool.execute_many(sqls)
        except Exception as exc:  # no worker can start, the database vanished: every query is a fault
            self.close()
            why = f"could not execute: {type(exc).__name__}: {exc}"[:500]
            return [ExecResult(error=why, error_kind="crash") for _ in sqls]

    def _lookup(self, key: str) -> ExecResult | None:
        hit = self._gold.get(key)
        if hit is None and self._disk is not None:
            hit = self._disk.get(key)
            if hit is not None:
                self._gold[key] = hit
        if hit is None:
            hit = self._lru.get(key)
        return hit

    def _remember(self, key: str, res: ExecResult, gold: bool) -> None:
        if res.error_kind not in (None, "sql_error", "refused"):
            return  # timeouts, limits and crashes depend on load or limits: never cached
        if gold:
            self._gold[key] = res
            if self._disk is not None:
                self._disk.put(key, res)
        else:
            self._lru.put(key, res)

    def cache_bytes(self) -> dict[str, int]:
        """Memory held by this scorer's caches, in bytes: ``results`` (predicted SQL, bounded by
        ``cache_bytes``), ``gold`` (one entry per distinct gold query) and ``answers``."""
        gold = sum(str_bytes(k) + _result_bytes(v) for k, v in list(self._gold.items()))
        return {"results": self._lru.nbytes, "gold": gold, "answers": self._normalized.nbytes}

    def _execute_keys(self, keys: Sequence[str], is_gold: Sequence[bool]) -> list[ExecResult]:
        """Execute post-processed SQL: once per distinct deterministic key, cached across batches.

        A gold query that crashed or timed out (a pool fault or load, not the query) is run once more;
        neither result is ever cached.
        """
        results: list[ExecResult | None] = [None] * len(keys)
        todo: dict[str, list[int]] = {}
        fresh: list[tuple[str, list[int]]] = []
        for i, key in enumerate(keys):
            if not _deterministic(key):
                fresh.append((key, [i]))
                continue
            hit = self._lookup(key)
            if hit is not None:
                results[i] = hit
            else:
                todo.setdefault(key, []).append(i)
        jobs = list(todo.items()) + fresh
        outcomes = self._run([k for k, _ in jobs])
        again = [j for j, ((_, idxs), res) in enumerate(zip(jobs, outcomes))
                 if res.error_kind in _POOL_FAULTS and any(is_gold[i] for i in idxs)]  # fmt: skip
        for j, res in zip(again, self._run([jobs[j][0] for j in again])):
            outcomes[j] = res
        for (key, idxs), res in zip(jobs, outcomes):
            for i in idxs:
                results[i] = res
            if key in todo:
                self._remember(key, res, gold=any(is_gold[i] for i in idxs))
        if self._disk is not None:
            self._disk.flush()
        return [r if r is not None else ExecResult(error="not executed", error_kind="crash") for r in results]

    # -- gold ------------------------------------------------------------------------------------
    def _file_answer(self, qid: Any) -> str | None:
        if self._gold_by_id is None or qid is None:
            return None
        return self._gold_by_id.get(str(qid))

    def _normalized_answer(self, answer: Any) -> str:
        text = answer if isinstance(answer, str) else str(answer)
        hit = self._normalized.get(text)
        if hit is None:
            hit = normalize_answer(text)
            self._normalized.put(text, hit)
        return hit

    # -- scoring ---------------------------------------------------------------------------------
    def score(self, completion: str, reference: Mapping[str, Any]) -> Score:
        """Score one model completion against one EHRSQL record (see module docstring)."""
        return self.score_batch([completion], [reference])[0]

    def score_batch(self, completions: Sequence[str], references: Sequence[Mapping[str, Any]]) -> ScoreBatch:
        """Score model completions; shares execution across the batch (GRPO groups repeat SQL).

        Raises only when the two lengths differ; a bad completion or reference is that item's score.
        """
        if len(completions) != len(references):
            raise ValueError(f"score_batch got {len(completions)} completions but {len(references)} references")
        return ScoreBatch(self._score([self._extract(c) for c in completions], references),
                          component_names=self.component_names)  # fmt: skip

    def _extract(self, completion: Any) -> Extraction:
        cap = self.config.max_completion_chars
        if isinstance(completion, str) and len(completion) > cap:
            why = f"completion of {len(completion)} characters is over max_completion_chars={cap}: not parsed"
            return Extraction(None, False, Status.format_error, why, False, 0.0)
        return extract_sql(completion)

    def score_sql(self, sql: str, reference: Mapping[str, Any]) -> Score:
        """Score one submission entry (raw SQL or ``"null"``) against one record."""
        return self.score_sql_batch([sql], [reference])[0]

    def score_sql_batch(self, sqls: Sequence[str], references: Sequence[Mapping[str, Any]]) -> list[Score]:
        """Score submission entries (the official ``prediction.json`` values) against records."""
        if len(sqls) != len(references):
            raise ValueError(f"score_sql_batch got {len(sqls)} predictions but {len(references)} references")
        return self._score([extract_submission(s) for s in sqls], references)

    def _gold_of(self, ref: Any) -> tuple[bool, str | None, str | None]:
        """``(answerable, given answer or None, post-processed gold SQL to run or None)``; raises
        ``ValueError`` for a malformed reference."""
        if not isinstance(ref, Mapping):
            raise ValueError(f"reference is {type(ref).__name__}, not a mapping with a 'label'")
        label = ref.get("label")
        if not isinstance(label, str):
            raise ValueError(f"reference needs a 'label' string (gold SQL or \"null\"), got {label!r:.80}")
        label_pp = post_process_sql(label)
        if label_pp == NULL_LABEL:
            return False, None, None
        given = ref.get("answer")
        if given is None:
            given = self._file_answer(ref.get("id"))
        if given is not None:
            return True, self._normalized_answer(given), None
        return True, None, label_pp

    def _score(self, extractions: Sequence[Extraction], references: Sequence[Mapping[str, Any]]) -> list[Score]:
        n = len(extractions)
        # Gold: "null", a given answer string, or a SQL key to execute.
        answerable: list[bool] = [False] * n
        ref_error: list[str | None] = [None] * n
        gold_answer: list[str | None] = [None] * n
        gold_key: list[int | None] = [None] * n
        keys: list[str] = []
        is_gold: list[bool] = []
        for i, ref in enumerate(references):
            try:
                answerable[i], gold_answer[i], key = self._gold_of(ref)
            except Exception as exc:
                ref_error[i] = f"bad reference: {exc}"
                continue
            if key is not None:
                gold_key[i] = len(keys)
                keys.append(key)
                is_gold.append(True)
        # Predictions to execute.
        pred_key: list[int | None] = [None] * n
        pred_error: list[str | None] = [None] * n
        for i, ex in enumerate(extractions):
            if ex.abstained or ex.sql is None or ref_error[i] is not None:
                continue
            try:
                pp = post_process_sql(ex.sql)
            except Exception as exc:
                pred_error[i] = f"post-processing failed: {type(exc).__name__}: {exc}"
                continue
            pred_key[i] = len(keys)
            keys.append(pp)
            is_gold.append(False)
        with self._lock:
            replaced_before = self._pool.replaced if self._pool is not None else 0
            executed = self._execute_keys(keys, is_gold)
            replaced = (self._pool.replaced if self._pool is not None else 0) - replaced_before
        scores = [
            self._error_score(extractions[i], answerable[i], ref_error[i]) if ref_error[i] is not None else
            self._make_score(
                extractions[i], answerable[i],
                gold_answer[i] if gold_key[i] is None else None,
                executed[gold_key[i]] if gold_key[i] is not None else None,  # type: ignore[index]
                executed[pred_key[i]] if pred_key[i] is not None else None,  # type: ignore[index]
                pred_error[i],
            )
            for i in range(n)
        ]  # fmt: skip
        _log_faults(scores, max(0, replaced))
        return scores

    def _error_score(
        self, ex: Extraction, answerable: bool, reason: str, *, executed: bool = False,
        error: str | None = None, gold_error: str | None = None, timed_out: bool = False,
    ) -> Score:
        """An item whose outcome cannot be known: ``Status.error``, reward 0, ``outcome`` None."""
        return Score(
            reward=0.0,
            correct=False,
            components=dict.fromkeys(self.component_names, 0.0),
            extracted=ex.sql,
            tier=Tier.none,
            status=Status.error,
            reason=reason,
            details={
                "answerable": answerable,
                "abstained": ex.abstained,
                "outcome": None,
                "executed": executed,
                "error": error if error is not None else reason,
                "timed_out": timed_out,
                "sql": ex.sql,
                "gold_error": gold_error,
            },
        )

    def _make_score(
        self,
        ex: Extraction,
        answerable: bool,
        gold_answer: str | None,
        gold_exec: ExecResult | None,
        pred: ExecResult | None,
        pred_error: str | None,
    ) -> Score:
        gold_error = None
        if gold_exec is not None:
            gold_answer, gold_error = gold_exec.answer, gold_exec.error
        executed = pred is not None and pred.ok
        # Faults that leave the outcome unknown.
        if ex.sql is None and ex.status is Status.error:
            return self._error_score(ex, answerable, ex.reason)
        if not ex.abstained and ex.sql is not None:
            if pred_error is not None or pred is None:
                return self._error_score(ex, answerable, pred_error or "not executed")
            if pred.error_kind == "crash":
                return self._error_score(ex, answerable, f"prediction could not be executed: {pred.error}")
            if executed and answerable and gold_answer is None:
                why = gold_error or "no gold result"
                kind = gold_exec.error_kind if gold_exec is not None else None
                what = "could not be run" if kind in _POOL_FAULTS else "failed on this database"
                return self._error_score(ex, answerable, f"gold SQL {what}: {why}", executed=True,
                                         error=None, gold_error=why)  # fmt: skip
        correct = (
            answerable and not ex.abstained and executed and gold_answer is not None
            and pred is not None and pred.answer == gold_answer
        )
        out = outcome(answerable, ex.abstained, correct)
        if ex.abstained:
            status, error = Status.abstained, None
        elif ex.sql is None:
            status, error = ex.status, ex.reason
        elif pred is not None and not pred.ok:
            status, error = _KIND_STATUS.get(pred.error_kind or "crash", Status.error), pred.error
        else:
            status, error = Status.ok, None
        timed_out = bool(pred is not None and pred.timed_out)

        if self.config.preset == "ehr_r1":
            base = 1.0 if out == 1 else (0.1 if executed else 0.0)
        else:
            base = {1: 1.0, 0: 0.0, -1: -self.config.penalty}[out]
        components = {
            "accuracy": base,
            "format": self.config.format_weight * ex.format_score,
            "executable": self.config.executable_weight * executed,
        }
        reward = components["accuracy"] + components["format"] + components["executable"]
        if out == 1:
            reason = "correct abstention" if ex.abstained else "result matches gold"
        elif out == 0:
            reason = "abstained on an answerable question"
        elif not answerable:
            reason = "answered an unanswerable question"
        elif gold_error:
            reason = (error or "result differs from gold") + f" (the gold SQL failed on this database too: {gold_error})"
        else:
            reason = error or "result differs from gold"
        return Score(
            reward=reward,
            correct=out == 1,
            components=components,
            extracted=ex.sql,
            tier=Tier.exact if out == 1 else Tier.none,
            status=status,
            reason=reason,
            details={
                "answerable": answerable,
                "abstained": ex.abstained,
                "outcome": out,
                "executed": executed,
                "error": error,
                "timed_out": timed_out,
                "sql": ex.sql,
                "gold_error": gold_error,
            },
        )

    def aggregate(self, scores: Sequence[Score]) -> dict[str, float | int | None]:  # type: ignore[override]
        """Official ``accuracy0/5/10/N`` (percent, as the official scorer) plus the fractions
        ``execution_accuracy``, ``abstention_precision``, ``abstention_recall``, ``error_rate``,
        ``timeout_rate`` and the counts ``n``, ``n_error``, ``n_answerable``, ``n_abstained``; items with
        ``Status.error`` are counted in ``n_error`` and left out of every metric. See
        :func:`~medzero_rewards.ehrsql.metrics.ehrsql_metrics`."""
        missing = [i for i, s in enumerate(scores) if "outcome" not in s.details]
        if missing:
            raise ValueError(f"scores {missing[:5]} were not produced by the EHRSQL scorer (no 'outcome')")
        return ehrsql_metrics([s.details for s in scores])

    def __getstate__(self) -> dict[str, Any]:
        # Copies (pickling, deepcopy by a trainer) share the caches but start their own workers.
        state = self.__dict__.copy()
        state.update(_pool=None, _local=None, _lock=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def close(self) -> None:
        """Stop worker processes and close connections (the scorer can still be used afterwards)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._local is not None:
            self._local.close()
            self._local = None

    def __enter__(self) -> EhrsqlScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _log_faults(scores: Sequence[Score], replaced: int) -> None:
    """One warning per batch with counts: items that could not be scored, by cause, and replaced workers."""
    causes: dict[str, int] = {}
    for s in scores:
        if s.status is Status.error:
            cause = s.reason.split(":", 1)[0][:80]
            causes[cause] = causes.get(cause, 0) + 1
    parts = []
    if causes:
        listed = ", ".join(f"{count} x {cause}" for cause, count in sorted(causes.items(), key=lambda kv: -kv[1]))
        parts.append(f"{sum(causes.values())} item(s) not scored (Status.error): {listed}")
    if replaced:
        parts.append(f"{replaced} worker process(es) died or hung and were replaced")
    if parts:
        logger.warning("EHRSQL batch of %d: %s", len(scores), "; ".join(parts))


def _result_bytes(r: ExecResult) -> int:
    return str_bytes(r.answer) + str_bytes(r.error) + 64


def make_ehrsql(**config: Any) -> EhrsqlScorer:
    """Factory behind ``get_scorer("ehrsql", db_path=..., ...)``; keywords are :class:`EhrsqlConfig` fields."""
    return EhrsqlScorer(**config)
