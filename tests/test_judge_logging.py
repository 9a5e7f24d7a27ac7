"""With the judge down, one warning per batch with counts, not one per item (issue 13 item 10).

Real local server returning HTTP 500 or closing the connection; the log is read with caplog.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fake_openai_server import FakeOpenAIServer, Fault
from medzero_rewards import Status, get_scorer
from medzero_rewards.judge import JudgeRequest
from medzero_rewards.judge.client import OpenAIJudge

N = 40  # distinct answers: 40 calls
TSC, NF1, DMD = "Tuberous sclerosis complex", "Neurofibromatosis type 1", "Duchenne muscular dystrophy"
UNCERTAIN = [("Tuberous sclerosis", TSC), ("Neurofibromatosis", NF1), ("Becker muscular dystrophy", DMD)]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


def config(server: FakeOpenAIServer, **overrides: Any) -> dict[str, Any]:
    return {"model": "fake-judge", "base_url": server.base_url, "api_key_env": None, "cache_path": None,
            "backoff_base_s": 0.0, "max_retries": 1, "timeout_s": 10.0, **overrides}  # fmt: skip


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("medzero_rewards")]


def requests(n: int = N) -> list[JudgeRequest]:
    return [JudgeRequest(answers=[f"answer number {i}"], gold_names=["Fabry disease"]) for i in range(n)]


def test_outage_gives_one_warning_per_batch_with_counts_by_kind(server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    for i in range(0, N, 4):  # every 4th answer: the connection is closed; the rest: HTTP 500
        server.add_fault(Fault.drop(), answer=f"answer number {i}")
    server.add_fault(Fault.http(500))
    judge = OpenAIJudge(config(server, max_concurrency=4))
    verdicts = judge.judge_many(requests())
    assert server.total_requests == 2 * N  # one retry each
    assert all(v.status == "unjudged" and v.grades == [None] for v in verdicts)
    assert sum("HTTP 500" in v.reason for v in verdicts) == 30
    assert sum("connection error" in v.reason for v in verdicts) == 10
    records = warnings_of(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    message = records[0].getMessage()
    assert message.startswith(f"judge fake-judge: {N} of {N} call(s) in this batch failed, {N} of {N} answer(s) unjudged: ")
    assert "30 x HTTP 500 (e.g. judge HTTP 500 after 2 call(s)" in message
    assert "10 x connection error (e.g. judge connection error after 2 call(s)" in message
    assert message.index("30 x HTTP 500") < message.index("10 x connection error")  # most frequent first
    assert not [r for r in caplog.records if r.name.startswith("medzero_rewards") and "retry" in r.getMessage()]

    caplog.clear()
    judge.judge_many(requests(5))  # the next batch: its own single warning
    records = warnings_of(caplog)
    assert len(records) == 1 and "5 of 5 call(s) in this batch failed" in records[0].getMessage()


def test_partial_failures_count_only_the_failed_calls(server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture) -> None:
    server.add_fault(Fault.http(503), answer="answer number 3")
    server.add_fault(Fault.reply("I would rather not say."), answer="answer number 7")
    judge = OpenAIJudge(config(server, parse_retries=0, max_retries=0))
    verdicts = judge.judge_many(requests(10))
    assert [v.status for v in verdicts].count("judged") == 8
    records = warnings_of(caplog)
    assert len(records) == 1
    message = records[0].getMessage()
    assert "2 of 10 call(s) in this batch failed, 2 of 10 answer(s) unjudged" in message
    assert "1 x HTTP 503" in message and "1 x unparseable reply" in message


def test_healthy_batch_logs_no_warning(server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture) -> None:
    verdicts = OpenAIJudge(config(server)).judge_many(requests(10))
    assert all(v.status == "judged" for v in verdicts)
    assert warnings_of(caplog) == []


def test_scorer_batch_with_judge_down_logs_once(server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture) -> None:
    """A GRPO step of 96 items needing the judge (3 distinct answers), judge down: one line."""
    server.add_fault(Fault.http(500))
    scorer = get_scorer("rarearena_rdc", judge=config(server))
    completions = [f"<think>step {i}</think><answer>{UNCERTAIN[i % 3][0]}</answer>" for i in range(96)]
    references = [{"diagnosis": UNCERTAIN[i % 3][1]} for i in range(96)]
    scores = scorer.score_batch(completions, references)
    assert [s.status for s in scores] == [Status.unjudged] * 96
    records = warnings_of(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    assert "3 of 3 call(s) in this batch failed" in records[0].getMessage()


def test_schema_fallback_is_announced_once(caplog: pytest.LogCaptureFixture) -> None:
    with FakeOpenAIServer(supports_json_schema=False) as server:
        judge = OpenAIJudge(config(server, max_concurrency=8))
        assert all(v.status == "judged" for v in judge.judge_many(requests(16)))
        assert all(v.status == "judged" for v in judge.judge_many(requests(16)[8:]))
    records = warnings_of(caplog)
    assert len(records) == 1 and "JSON-schema" in records[0].getMessage()
