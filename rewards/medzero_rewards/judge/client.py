"""The OpenAI-compatible synonym judge: cache, de-duplication, concurrency, rate limits and retries.

Works with any server speaking the chat-completions protocol (OpenAI, ``vllm serve``, llama.cpp
server, SGLang). ``openai`` is imported when a judge is *built*, not when this module is imported,
so ``medzero-rewards`` without the ``judge`` extra still imports.

Per :meth:`OpenAIJudge.judge_many` call:

1. every answer is looked up in the SQLite cache (key: model, prompt version, normalised answer,
   reference sets);
2. the remaining answers are de-duplicated across the batch (a GRPO group often repeats one
   answer) and grouped into one call per request, so a ranked list is judged in one call
   (lists longer than ``max_answers_per_call`` are split);
3. the calls run concurrently under a semaphore (``max_concurrency``, shared by every caller of
   this judge) and the RPM/TPM limiter, with their own retry loop: 429, 408/409, 5xx, timeouts and
   connection errors are retried with capped exponential backoff, honouring ``Retry-After``;
   empty or unparseable replies are re-asked ``parse_retries`` times;
4. what still fails comes back as ``status="unjudged"`` with the reason, never as grade 0, and the
   failures of the batch are logged as **one** warning with counts per kind of fault.

Every reason and log line is scrubbed of secrets (:mod:`.redact`): the key value, ``Bearer ...``,
``sk-...``. An :class:`OpenAIJudge` pickles (for a process pool or a Ray worker): the copy holds the
configuration, statistics and cache path, never the key; it reads the key from its own environment
and opens its own HTTP client and cache connection. Rate limits apply per process.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import pickle
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from medzero_rewards.judge.cache import JudgeCache, cache_key, reference_key
from medzero_rewards.judge.config import JudgeConfig
from medzero_rewards.judge.limits import RateLimiter
from medzero_rewards.judge.parse import VerdictParseError, parse_grades
from medzero_rewards.judge.redact import ScrubFilter, register_secret, scrub
from medzero_rewards.judge.prompt import (
    PROMPT_VERSION,
    RESPONSE_FORMAT,
    build_messages,
    estimate_tokens,
)
from medzero_rewards.judge.types import Grade, JudgeRequest, JudgeVerdict

if TYPE_CHECKING:
    from typing_extensions import Self

log = logging.getLogger("medzero_rewards.judge")
if not any(isinstance(f, ScrubFilter) for f in log.filters):
    log.addFilter(ScrubFilter())

ProgressCallback = Callable[[int, int], None]  # (calls finished, calls total) for one judge_many
_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})


class JudgeUnavailableError(RuntimeError):
    """The judge cannot be built (``openai`` missing, API key unset)."""


@dataclass
class JudgeStats:
    """Cumulative accounting over the judge's lifetime (thread-safe)."""

    calls: int = 0  # HTTP requests sent, retries included
    cache_hits: int = 0  # answers served from the cache or from another item's call in the same batch
    answers_judged: int = 0  # answers graded by a call
    answers_unjudged: int = 0  # answers left without a grade
    retries: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    max_in_flight: int = 0
    rate_limit_wait_s: float = 0.0
    _in_flight: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: float) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def as_dict(self) -> dict[str, float]:
        """Public counters, for reports."""
        with self._lock:
            return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __getstate__(self) -> dict[str, Any]:
        with self._lock:
            return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._in_flight = 0
        self._lock = threading.Lock()


@dataclass
class _Job:
    """One API call's worth of work: the not-yet-graded answers of one request."""

    owner: int  # index of the request that created the job
    keys: list[str]
    answers: list[str]
    gold: list[str]
    broader: list[str]
    grades: list[Grade | None] = field(default_factory=list)
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    reason: str = ""
    failure: str = ""  # kind of fault that left answers ungraded ("HTTP 500", "timeout", ...), for the batch warning


@dataclass
class _Plan:
    """How one request's verdict is assembled: a fixed grade or a key per answer."""

    request: JudgeRequest | None = None  # validated; None when invalid
    slots: list[tuple[str, Any]] = field(default_factory=list)  # ("grade", g) or ("key", key)
    error: str = ""
    notes: list[str] = field(default_factory=list)


def _retry_after_seconds(exc: Any) -> float | None:
    """Seconds from ``retry-after-ms`` / ``retry-after`` (delta or HTTP date) of an API error, if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


class OpenAIJudge:
    """A :class:`~medzero_rewards.judge.types.SynonymJudge` over an OpenAI-compatible endpoint.

    >>> judge = OpenAIJudge({"model": "gpt-4o-2024-08-06"})           # doctest: +SKIP
    >>> judge.judge_many([JudgeRequest(answers=["Lou Gehrig disease"],
    ...                                gold_names=["Amyotrophic lateral sclerosis"])])  # doctest: +SKIP
    [JudgeVerdict(grades=[2], status='judged', ...)]
    """

    def __init__(
        self,
        config: JudgeConfig | Mapping[str, Any],
        *,
        progress: ProgressCallback | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Build the client. ``sleep`` is how backoff and rate-limit waits are spent (injectable for tests)."""
        self.config = config if isinstance(config, JudgeConfig) else JudgeConfig.model_validate(dict(config))
        self._connect(strict=True)  # first: a missing extra or key fails before any file is created
        self._sleep = sleep
        self._progress = progress
        self._limiter = RateLimiter(self.config.rpm, self.config.tpm, sleep=sleep)
        self._cache = JudgeCache(self.config.cache_path) if self.config.cache_path is not None else None
        self._structured = self.config.structured
        self._schema_warned = False
        self.stats = JudgeStats()

    def _connect(self, *, strict: bool) -> None:
        """Import ``openai``, read the key and open the HTTP client (at construction and after unpickling).

        ``strict`` (construction): a missing key raises :class:`JudgeUnavailableError`. After unpickling
        it leaves the judge unavailable instead: every answer it would send comes back unjudged with
        the reason (cached grades still serve).
        """
        self._unavailable = ""
        self._client: Any = None
        self._semaphore = threading.BoundedSemaphore(self.config.max_concurrency)
        try:
            import openai
        except ImportError as exc:  # pragma: no cover - exercised only without the extra
            raise JudgeUnavailableError(
                "the LLM judge needs the 'openai' package: pip install 'medzero-rewards[judge]'"
            ) from exc
        self._openai = openai
        try:
            api_key = self.config.resolve_api_key()
        except ValueError as exc:
            if strict:
                raise JudgeUnavailableError(str(exc)) from None
            self._unavailable = f"judge unavailable in this process: {exc}"
            return
        register_secret(api_key)
        self._client = openai.OpenAI(
            api_key=api_key, base_url=self.config.base_url, timeout=self.config.timeout_s, max_retries=0
        )

    def __getstate__(self) -> dict[str, Any]:
        """Configuration, statistics and cache (as its path); no key, HTTP client, module, lock or limiter state."""
        state = self.__dict__.copy()
        for name in ("_openai", "_client", "_semaphore", "_unavailable", "_limiter"):
            state.pop(name, None)
        for name, default in (("_sleep", time.sleep), ("_progress", None)):
            try:  # an injected callable that cannot travel (a lambda) is replaced by the default
                pickle.dumps(state[name])
            except Exception:  # noqa: BLE001
                state[name] = default
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._limiter = RateLimiter(self.config.rpm, self.config.tpm, sleep=self._sleep)  # full buckets
        self._connect(strict=False)

    # ------------------------------------------------------------------ public API

    @property
    def model(self) -> str:
        """The judge model name (part of every cache key)."""
        return self.config.model

    def judge(self, request: JudgeRequest) -> JudgeVerdict:
        """Judge one request."""
        return self.judge_many([request])[0]

    def judge_many(self, requests: Sequence[JudgeRequest]) -> list[JudgeVerdict]:
        """Judge every request (one call per request at most, unless it has more than
        ``max_answers_per_call`` new answers), concurrently; never raises.

        Failed calls are logged as one warning for the whole batch, with counts per kind of fault.
        """
        try:
            return self._judge_many(requests)
        except Exception as exc:  # noqa: BLE001 - the batch must not go down; every item is flagged instead
            reason = scrub(f"judge error: {type(exc).__name__}: {_short(exc)}")
            log.warning("judge %s: %d request(s) unjudged: %s", self.config.model, len(requests), reason)
            log.debug("judge_many failed", exc_info=True)
            return [
                JudgeVerdict(grades=[None] * len(getattr(r, "answers", None) or []), status="unjudged", reason=reason)
                for r in requests
            ]

    def _judge_many(self, requests: Sequence[JudgeRequest]) -> list[JudgeVerdict]:
        plans = [self._plan(r) for r in requests]
        keys = [v for p in plans for kind, v in p.slots if kind == "key"]
        cached: dict[str, Grade] = {}
        if self._cache is not None and keys:
            try:
                cached = self._cache.get_many(keys)
            except Exception as exc:  # noqa: BLE001 - an unreadable cache costs calls, not results
                log.warning("judge cache read from %s failed (%s); judging this batch without it", self._cache.path, exc)

        jobs: list[_Job] = []
        job_of_key: dict[str, _Job] = {}
        for index, plan in enumerate(plans):
            request = plan.request
            if plan.error or request is None:
                continue
            new: dict[str, str] = {}
            for (kind, value), answer in zip(plan.slots, request.answers):
                if kind == "key" and value not in cached and value not in job_of_key and value not in new:
                    new[value] = answer
            pending = list(new.items())
            step = self.config.max_answers_per_call
            for start in range(0, len(pending), step):
                chunk = pending[start : start + step]
                job = _Job(
                    owner=index,
                    keys=[k for k, _ in chunk],
                    answers=[a for _, a in chunk],
                    gold=[g for g in request.gold_names if g.strip()],
                    broader=[b for b in request.broader_names if b.strip()],
                )
                jobs.append(job)
                job_of_key.update({k: job for k, _ in chunk})

        self._run_jobs(jobs)
        self._log_failures(jobs)
        self._store(jobs)
        verdicts = [self._verdict(i, p, cached, job_of_key) for i, p in enumerate(plans)]
        return verdicts

    async def ajudge_many(self, requests: Sequence[JudgeRequest]) -> list[JudgeVerdict]:
        """Async :meth:`judge_many` (for async reward functions): runs in a worker thread, sharing
        this judge's semaphore, limiter and cache, so concurrent callers stay within the limits."""
        return await asyncio.to_thread(self.judge_many, list(requests))

    def close(self) -> None:
        """Close the HTTP client and the cache."""
        if self._client is not None:
            self._client.close()
        if self._cache is not None:
            self._cache.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIJudge(model={self.config.model!r}, base_url={self.config.base_url!r})"

    # ------------------------------------------------------------------ planning and assembly

    def _plan(self, request: Any) -> _Plan:
        plan = _Plan()
        if not isinstance(request, JudgeRequest):
            try:
                request = JudgeRequest.model_validate(request)
            except Exception as exc:  # noqa: BLE001 - reported on the verdict
                plan.error = f"invalid judge request: {exc}"
                return plan
        plan.request = request
        gold = [g for g in request.gold_names if g.strip()]
        if not gold:
            plan.error = "no reference names to judge against"
            return plan
        ref = reference_key(gold, request.broader_names)
        for answer in request.answers:
            if not answer.strip():
                plan.slots.append(("grade", 0))
                plan.notes.append("empty answer graded 0 without a call")
            else:
                plan.slots.append(("key", cache_key(self.config.model, PROMPT_VERSION, answer, ref)))
        return plan

    def _verdict(self, index: int, plan: _Plan, cached: dict[str, Grade], job_of_key: dict[str, _Job]) -> JudgeVerdict:
        if plan.error:
            return JudgeVerdict(grades=[], status="unjudged", reason=scrub(plan.error))
        grades: list[Grade | None] = []
        reasons: list[str] = list(dict.fromkeys(plan.notes))
        own_jobs: dict[int, _Job] = {}
        hits = 0
        for kind, value in plan.slots:
            if kind == "grade":
                grades.append(value)
            elif value in cached:
                grades.append(cached[value])
                hits += 1
            else:
                job = job_of_key[value]
                grades.append(job.grades[job.keys.index(value)])
                if job.owner == index:
                    own_jobs[id(job)] = job
                else:
                    hits += 1
                if grades[-1] is None and job.reason and job.reason not in reasons:
                    reasons.append(job.reason)
        self.stats.add(cache_hits=hits)
        status: Literal["judged", "unjudged"] = "judged" if all(g is not None for g in grades) else "unjudged"
        return JudgeVerdict(
            grades=grades,
            status=status,
            reason=scrub("; ".join(reasons)),
            cached=not own_jobs and hits > 0,
            calls=sum(j.calls for j in own_jobs.values()),
            tokens_in=sum(j.tokens_in for j in own_jobs.values()),
            tokens_out=sum(j.tokens_out for j in own_jobs.values()),
        )

    def _store(self, jobs: Sequence[_Job]) -> None:
        if self._cache is None:
            return
        rows = {
            key: (self.config.model, PROMPT_VERSION, answer, grade)
            for job in jobs
            for key, answer, grade in zip(job.keys, job.answers, job.grades)
            if grade is not None
        }
        try:
            self._cache.put_many(rows)
        except Exception as exc:  # noqa: BLE001 - a cache write failure must not lose the grades
            log.warning("judge cache write to %s failed: %s", self._cache.path, exc)

    # ------------------------------------------------------------------ calls

    def _run_jobs(self, jobs: Sequence[_Job]) -> None:
        if not jobs:
            return
        bar = None
        if self.config.show_progress:
            try:
                from tqdm.auto import tqdm

                bar = tqdm(total=len(jobs), desc=f"judge {self.config.model}", unit="call")
            except ImportError:
                log.info("show_progress is set but tqdm is not installed")
        done = 0
        try:
            if len(jobs) == 1:
                self._run_job(jobs[0])
                done = 1
                self._report(done, len(jobs), bar)
                return
            workers = min(self.config.max_concurrency, len(jobs))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="medzero-judge") as pool:
                for future in as_completed([pool.submit(self._run_job, job) for job in jobs]):
                    future.result()
                    done += 1
                    self._report(done, len(jobs), bar)
        finally:
            if bar is not None:
                bar.close()

    def _report(self, done: int, total: int, bar: Any) -> None:
        if bar is not None:
            bar.update(1)
        if self._progress is not None:
            self._progress(done, total)

    def _run_job(self, job: _Job) -> None:
        """Fill ``job.grades`` (``None`` where it failed) and ``job.reason``; never raises."""
        try:
            if self._unavailable:
                self._fail(job, "judge unavailable", self._unavailable)
            else:
                self._call_with_retries(job)
        except Exception as exc:  # noqa: BLE001 - reported on the verdict and in the batch warning
            log.debug("judge call failed unexpectedly", exc_info=True)
            self._fail(job, f"error {type(exc).__name__}", f"judge error: {type(exc).__name__}: {_short(exc)}")
        judged = sum(g is not None for g in job.grades)
        self.stats.add(answers_judged=judged, answers_unjudged=len(job.grades) - judged)

    def _backoff(self, retry_index: int, exc: Any) -> float:
        after = _retry_after_seconds(exc)
        if after is not None:
            return min(after, self.config.max_retry_after_s)
        return min(self.config.backoff_max_s, self.config.backoff_base_s * (2.0**retry_index))

    def _call_with_retries(self, job: _Job) -> None:
        openai = self._openai
        n = len(job.answers)
        messages = build_messages(job.answers, job.gold, job.broader)
        estimate = estimate_tokens(messages) + self.config.max_tokens
        retries = parse_failures = 0
        tried_unstructured = False
        while True:
            structured = self._structured and not tried_unstructured
            self.stats.add(rate_limit_wait_s=self._wait_for_limits(estimate))
            job.calls += 1
            self.stats.add(calls=1)
            try:
                with self._semaphore:
                    self.stats.enter()
                    try:
                        response = self._client.chat.completions.create(**self._request_body(messages, structured))
                    finally:
                        self.stats.leave()
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status == 400 and structured:
                    if not self._schema_warned:
                        self._schema_warned = True
                        log.warning("judge endpoint rejected the JSON-schema request (HTTP 400); asking for free text from now on")
                    tried_unstructured = True
                    continue
                if (status in _RETRYABLE_STATUS or status >= 500) and retries < self.config.max_retries:
                    self._retry(retries, exc, f"HTTP {status}")
                    retries += 1
                    continue
                return self._fail(job, f"HTTP {status}", f"judge HTTP {status} after {job.calls} call(s): {_short(exc)}")
            except (openai.APIConnectionError, openai.APIResponseValidationError, json.JSONDecodeError) as exc:
                kind = {
                    openai.APITimeoutError: "timeout",
                    openai.APIConnectionError: "connection error",
                    json.JSONDecodeError: "malformed response body",
                }.get(type(exc), type(exc).__name__)
                if retries < self.config.max_retries:
                    self._retry(retries, exc, kind)
                    retries += 1
                    continue
                return self._fail(job, kind, f"judge {kind} after {job.calls} call(s): {_short(exc)}")

            if tried_unstructured and self._structured:
                self._structured = False  # the server cannot do JSON schema; stop asking
            usage = getattr(response, "usage", None)
            t_in = int(getattr(usage, "prompt_tokens", 0) or 0)
            t_out = int(getattr(usage, "completion_tokens", 0) or 0)
            job.tokens_in += t_in
            job.tokens_out += t_out
            self.stats.add(tokens_in=t_in, tokens_out=t_out)
            self._limiter.record_usage(estimate, t_in + t_out)

            choice = response.choices[0] if getattr(response, "choices", None) else None
            content = choice.message.content if choice is not None and choice.message is not None else None
            try:
                grades = parse_grades(content, n)
            except VerdictParseError as exc:
                if parse_failures < self.config.parse_retries:
                    parse_failures += 1
                    self.stats.add(retries=1)
                    continue
                finish = getattr(choice, "finish_reason", None)
                extra = " (reply truncated at max_tokens)" if finish == "length" else ""
                return self._fail(job, "unparseable reply", f"unparseable judge reply after {job.calls} call(s){extra}: {exc}")
            job.grades = grades
            missing = sum(g is None for g in grades)
            if missing:
                job.reason = f"judge reply graded {n - missing} of {n} answers"
                job.failure = "partial reply"
            return None

    def _wait_for_limits(self, estimate: int) -> float:
        wait = self._limiter.reserve(estimate)
        if wait > 0:
            self._sleep(wait)
        return wait

    def _retry(self, retry_index: int, exc: Any, what: str) -> None:
        delay = self._backoff(retry_index, exc)
        log.debug("judge %s; retry %d/%d in %.2fs", what, retry_index + 1, self.config.max_retries, delay)
        self.stats.add(retries=1)
        if delay > 0:
            self._sleep(delay)

    def _fail(self, job: _Job, kind: str, reason: str) -> None:
        """Leave every answer of ``job`` ungraded; ``kind`` groups it in the batch warning."""
        job.grades = [None] * len(job.answers)
        job.reason = scrub(reason)
        job.failure = kind

    def _log_failures(self, jobs: Sequence[_Job]) -> None:
        """One warning for the whole batch: failed calls per kind of fault, one example reason each."""
        failed = [job for job in jobs if job.failure]
        if not failed:
            return
        by_kind: dict[str, list[_Job]] = {}
        for job in failed:
            by_kind.setdefault(job.failure, []).append(job)
        unjudged = sum(g is None for job in failed for g in job.grades)
        answers = sum(len(job.answers) for job in jobs)
        parts = [
            f"{len(group)} x {kind} (e.g. {_short(group[0].reason, 160)})"
            for kind, group in sorted(by_kind.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        ]
        log.warning(
            "judge %s: %d of %d call(s) in this batch failed, %d of %d answer(s) unjudged: %s",
            self.config.model, len(failed), len(jobs), unjudged, answers, "; ".join(parts),
        )  # fmt: skip

    def _request_body(self, messages: list[dict[str, str]], structured: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": messages,
            "temperature": self.config.temperature,
            self.config.max_tokens_param: self.config.max_tokens,
        }
        if self.config.seed is not None:
            body["seed"] = self.config.seed
        if structured:
            body["response_format"] = RESPONSE_FORMAT
        if self.config.extra_body:
            body["extra_body"] = dict(self.config.extra_body)
        return body


def _short(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."
