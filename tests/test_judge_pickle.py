"""A scorer with a judge pickles, and the copy scores through a real local server (issue 13 item 7).

The copy, in this process or in a spawned process-pool worker, rebuilds its HTTP client, cache
connection, locks and rate limiter; it never carries the API key (it reads it from its own
environment).
"""

from __future__ import annotations

import multiprocessing
import pickle
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fake_openai_server import FakeOpenAIServer
from medzero_rewards import Status, get_scorer
from medzero_rewards.judge import JudgeCache, JudgeRequest
from medzero_rewards.judge.client import OpenAIJudge
from medzero_rewards.judge.limits import RateLimiter

KEY_ENV = "MEDZERO_TEST_PICKLE_KEY"
KEY = "pickle-test-key-0123456789"  # not sk-shaped: only its value can give it away
TSC, NF1, DMD = "Tuberous sclerosis complex", "Neurofibromatosis type 1", "Duchenne muscular dystrophy"
TABLE = {("Tuberous sclerosis", TSC): 2, ("Neurofibromatosis", NF1): 1, ("Becker muscular dystrophy", DMD): 0}
# (answer, gold): three answers the deterministic matcher leaves uncertain, one exact match
CASES = [("Tuberous sclerosis", TSC), ("Neurofibromatosis", NF1), ("Becker muscular dystrophy", DMD), ("Fabry disease", "Fabry disease")]
COMPLETIONS = [f"<think>Reasoning.</think><answer>{a}</answer>" for a, _ in CASES]
REFERENCES = [{"diagnosis": g, "Orpha_name": g} for _, g in CASES]
# what the judge table makes of them: synonym (correct), hypernym, none; the exact match needs no call
EXPECTED = [("ok", "synonym", "judged"), ("ok", "hypernym", "judged"), ("ok", "none", "judged"), ("ok", "exact", None)]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(grades=TABLE, api_key=KEY) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


def judge_config(server: FakeOpenAIServer, cache: Path | None) -> dict[str, Any]:
    return {"model": "fake-judge", "base_url": server.base_url, "api_key_env": KEY_ENV,
            "cache_path": str(cache) if cache else None, "backoff_base_s": 0.0, "timeout_s": 10.0}  # fmt: skip


def summary(scores: Sequence[Any]) -> list[tuple[str, str, Any]]:
    return [(s.status.value, s.tier.value, s.details.get("judge_status")) for s in scores]


def score_in_child(scorer: Any) -> tuple[list[tuple[str, str, Any]], list[float], int]:
    """Runs in a spawned worker: the scorer arrived pickled."""
    scores = scorer.score_batch(COMPLETIONS, REFERENCES)
    return summary(scores), [s.reward for s in scores], int(scorer.judge.stats.calls)


def test_scorer_with_judge_round_trips_and_scores_in_this_process(server: FakeOpenAIServer) -> None:
    scorer = get_scorer("rarearena_rdc", judge=judge_config(server, None))
    blob = pickle.dumps(scorer)
    assert KEY.encode() not in blob  # the key never travels
    clone = pickle.loads(blob)
    assert clone.judge is not scorer.judge and clone.judge._client is not scorer.judge._client
    scores = clone.score_batch(COMPLETIONS, REFERENCES)
    assert summary(scores) == EXPECTED
    assert server.total_requests == 3
    assert all(r.authorization == f"Bearer {KEY}" for r in server.records)  # the copy read the key itself
    original = scorer.score_batch(COMPLETIONS, REFERENCES)
    assert [s.reward for s in scores] == [s.reward for s in original]


def test_scorer_with_judge_scores_in_a_spawned_process_pool(server: FakeOpenAIServer, tmp_path: Path) -> None:
    cache = tmp_path / "judge.sqlite"
    scorer = get_scorer("rarearena_rdc", judge=judge_config(server, cache))
    pickle.loads(pickle.dumps(scorer))  # as the pool will do
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        child_summary, child_rewards, child_calls = pool.submit(score_in_child, scorer).result(timeout=120)
    assert child_summary == EXPECTED
    assert child_calls == 3 and server.total_requests == 3
    # the child wrote the shared cache file: the parent's scorer needs no call for the same batch
    parent = scorer.score_batch(COMPLETIONS, REFERENCES)
    assert server.total_requests == 3
    assert summary(parent) == EXPECTED and [s.reward for s in parent] == child_rewards
    assert all(s.details.get("judge_cached") for s in parent[:3])


def test_copy_without_the_key_in_its_environment_flags_items_instead_of_failing(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    blob = pickle.dumps(get_scorer("rarearena_rdc", judge=judge_config(server, None)))
    monkeypatch.delenv(KEY_ENV)
    clone = pickle.loads(blob)
    scores = clone.score_batch(COMPLETIONS, REFERENCES)
    assert server.total_requests == 0
    assert [s.status for s in scores] == [Status.unjudged] * 3 + [Status.ok]
    assert all(KEY_ENV in s.reason and "not set" in s.reason for s in scores[:3])
    assert scores[3].correct


def test_judge_cache_and_limiter_pickle_on_their_own(tmp_path: Path, server: FakeOpenAIServer) -> None:
    cache = JudgeCache(tmp_path / "c.sqlite")
    cache.put_many({"k": ("m", "v", "a", 2)})
    copy = pickle.loads(pickle.dumps(cache))
    assert copy.get_many(["k"]) == {"k": 2} and copy.path == cache.path
    limiter = pickle.loads(pickle.dumps(RateLimiter(rpm=60, tpm=1000)))
    assert limiter.reserve(10) == 0.0  # a fresh, full bucket
    judge = OpenAIJudge(judge_config(server, None), progress=lambda done, total: None, sleep=lambda s: None)
    copy_judge = pickle.loads(pickle.dumps(judge))  # injected lambdas are replaced, not fatal
    verdict = copy_judge.judge(JudgeRequest(answers=["Tuberous sclerosis"], gold_names=[TSC]))
    assert verdict.status == "judged" and verdict.grades == [2]
    assert copy_judge.stats.calls == 1 and judge.stats.calls == 0
