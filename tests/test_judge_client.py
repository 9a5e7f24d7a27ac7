"""OpenAIJudge against a real local OpenAI-compatible HTTP server (tests/fake_openai_server.py)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from fake_openai_server import FakeOpenAIServer, Fault
from medzero_rewards.judge import JudgeRequest
from medzero_rewards.judge.client import OpenAIJudge
from medzero_rewards.judge.prompt import PROMPT_VERSION

KEY_ENV = "MEDZERO_TEST_JUDGE_KEY"
KEY = "sk-test-judge-key-do-not-store"
ALS = ["Amyotrophic lateral sclerosis", "ALS"]
ALS_TABLE = {
    ("Lou Gehrig disease", "Amyotrophic lateral sclerosis"): 2,
    ("Lou Gehrig's disease", "Amyotrophic lateral sclerosis"): 2,
    ("Motor neuron disease", "Amyotrophic lateral sclerosis"): 1,
}


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(grades=ALS_TABLE, api_key=KEY) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


class Sleeps(list):
    """Records backoff / rate-limit waits instead of sleeping (the judge's injectable sleep)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_judge(server: FakeOpenAIServer, tmp_path: Path, sleeps: Sleeps | None = None, **overrides: Any) -> OpenAIJudge:
    config: dict[str, Any] = {
        "model": "fake-judge",
        "base_url": server.base_url,
        "api_key_env": KEY_ENV,
        "cache_path": str(tmp_path / "judge.sqlite"),
        "backoff_base_s": 0.5,
        "timeout_s": 10.0,
    }
    config.update(overrides)
    return OpenAIJudge(config, sleep=sleeps if sleeps is not None else Sleeps())


def als(*answers: str, broader: tuple[str, ...] = ()) -> JudgeRequest:
    return JudgeRequest(answers=list(answers), gold_names=ALS, broader_names=list(broader))


# ---------------------------------------------------------------- grading and the request


def test_ranked_list_is_graded_in_one_call(server: FakeOpenAIServer, tmp_path: Path) -> None:
    judge = make_judge(server, tmp_path)
    answers = ["Wilson disease", "Lou Gehrig disease", "Motor neuron disease", "Spinal muscular atrophy", "ALS"]
    [verdict] = judge.judge_many([als(*answers)])
    assert verdict.grades == [0, 2, 1, 0, 2]
    assert verdict.status == "judged" and verdict.calls == 1 and not verdict.cached
    assert verdict.tokens_in > 0 and verdict.tokens_out > 0
    assert server.total_requests == 1
    record = server.records[0]
    assert record.authorization == f"Bearer {KEY}"
    assert record.body["model"] == "fake-judge" and record.body["temperature"] == 0.0
    assert record.body["response_format"]["type"] == "json_schema"
    assert record.body["max_tokens"] == 256
    judge.close()


def test_broader_categories_reach_the_judge(server: FakeOpenAIServer, tmp_path: Path) -> None:
    judge = make_judge(server, tmp_path)
    [verdict] = judge.judge_many([als("Rare motor neuron disease", broader=("Rare motor neuron disease",))])
    assert verdict.grades == [1]
    judge.close()


@pytest.mark.parametrize("style", ["fenced", "text"])
def test_free_text_replies_are_parsed(tmp_path: Path, style: str) -> None:
    with FakeOpenAIServer(grades=ALS_TABLE, reply_style=style) as srv:  # type: ignore[arg-type]
        judge = make_judge(srv, tmp_path, structured=False)
        [verdict] = judge.judge_many([als("Lou Gehrig disease", "Wilson disease")])
        assert verdict.grades == [2, 0] and verdict.status == "judged"
        assert "response_format" not in srv.records[0].body
        judge.close()


def test_server_without_json_schema_falls_back_to_free_text_once(tmp_path: Path) -> None:
    with FakeOpenAIServer(grades=ALS_TABLE, supports_json_schema=False) as srv:
        judge = make_judge(srv, tmp_path)
        [first] = judge.judge_many([als("Lou Gehrig disease")])
        assert first.grades == [2] and first.calls == 2  # 400 on json_schema, then free text
        [second] = judge.judge_many([als("Wilson disease")])
        assert second.grades == [0] and second.calls == 1  # no longer asks for json_schema
        assert "response_format" not in srv.records[-1].body
        judge.close()


# ---------------------------------------------------------------- cache and de-duplication


def test_second_run_makes_zero_calls_and_cache_holds_no_key(server: FakeOpenAIServer, tmp_path: Path) -> None:
    requests = [als(f"Candidate disease {i}", "Lou Gehrig disease") for i in range(10)]
    first = make_judge(server, tmp_path).judge_many(requests)
    assert server.total_requests == 10  # one call per request; "Lou Gehrig disease" graded once, by the first
    assert sum(v.calls for v in first) == 10
    fresh = make_judge(server, tmp_path)  # a new process would see the same file
    second = fresh.judge_many(requests)
    assert server.total_requests == 10
    assert [v.grades for v in second] == [v.grades for v in first]
    assert all(v.cached and v.calls == 0 and v.tokens_in == 0 for v in second)
    assert fresh.stats.calls == 0 and fresh.stats.cache_hits == 20
    fresh.close()
    dump = "\n".join(sqlite3.connect(tmp_path / "judge.sqlite").iterdump())
    assert PROMPT_VERSION in dump and "candidate disease 3" in dump.casefold()
    assert KEY not in dump and server.base_url not in dump
    for path in tmp_path.glob("judge.sqlite*"):  # the database and its WAL
        assert KEY.encode() not in path.read_bytes()


def test_grpo_group_with_one_answer_costs_one_call(server: FakeOpenAIServer, tmp_path: Path) -> None:
    judge = make_judge(server, tmp_path, cache_path=None)
    verdicts = judge.judge_many([als("Lou Gehrig's disease") for _ in range(8)] + [als("lou gehrig\u2019s  disease")])
    assert server.total_requests == 1
    assert [v.grades for v in verdicts] == [[2]] * 9
    assert [v.calls for v in verdicts] == [1] + [0] * 8
    assert [v.cached for v in verdicts] == [False] + [True] * 8


def test_only_uncached_answers_are_sent(server: FakeOpenAIServer, tmp_path: Path) -> None:
    judge = make_judge(server, tmp_path)
    judge.judge_many([als("Lou Gehrig disease")])
    [verdict] = judge.judge_many([als("Lou Gehrig disease", "Wilson disease", "Lou Gehrig disease")])
    assert verdict.grades == [2, 0, 2] and verdict.calls == 1
    assert server.records[-1].answers == ["wilson disease"]
    judge.close()


def test_changed_model_or_reference_is_a_cache_miss(server: FakeOpenAIServer, tmp_path: Path) -> None:
    judge = make_judge(server, tmp_path)
    judge.judge_many([als("Lou Gehrig disease")])
    judge.judge_many([JudgeRequest(answers=["Lou Gehrig disease"], gold_names=["Motor neuron disease"])])
    assert server.total_requests == 2
    server.models.append("other-judge")
    make_judge(server, tmp_path, model="other-judge").judge_many([als("Lou Gehrig disease")])
    assert server.total_requests == 3


# ---------------------------------------------------------------- faults


def test_429_is_retried_honouring_retry_after(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.add_fault(Fault.http(429, retry_after="7"), times=2)
    sleeps = Sleeps()
    [verdict] = make_judge(server, tmp_path, sleeps).judge_many([als("Lou Gehrig disease")])
    assert verdict.grades == [2] and verdict.status == "judged" and verdict.calls == 3
    assert sleeps == [7.0, 7.0]
    assert server.total_requests == 3


def test_5xx_backoff_is_exponential_and_capped(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.add_fault(Fault.http(503), times=4)
    sleeps = Sleeps()
    judge = make_judge(server, tmp_path, sleeps, backoff_base_s=0.5, backoff_max_s=1.5)
    [verdict] = judge.judge_many([als("Wilson disease")])
    assert verdict.status == "judged" and verdict.calls == 5
    assert sleeps == [0.5, 1.0, 1.5, 1.5]
    assert judge.stats.retries == 4


def test_persistent_500_is_unjudged_never_zero_and_not_cached(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.add_fault(Fault.http(500))
    judge = make_judge(server, tmp_path, max_retries=2)
    [verdict] = judge.judge_many([als("Lou Gehrig disease", "Wilson disease")])
    assert verdict.status == "unjudged" and verdict.grades == [None, None]
    assert verdict.calls == 3 and "HTTP 500" in verdict.reason and KEY not in verdict.reason
    assert judge.stats.answers_unjudged == 2
    server.clear_faults()
    [again] = judge.judge_many([als("Lou Gehrig disease", "Wilson disease")])
    assert again.grades == [2, 0] and again.calls == 1  # the failure was not cached


def test_timeouts_are_retried_then_unjudged(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.add_fault(Fault.slow(30.0))
    judge = make_judge(server, tmp_path, timeout_s=0.3, max_retries=1)
    started = time.monotonic()
    [verdict] = judge.judge_many([als("Lou Gehrig disease")])
    assert time.monotonic() - started < 10.0  # generous bound: the timeout is the behaviour under test
    assert verdict.status == "unjudged" and verdict.grades == [None]
    assert verdict.calls == 2 and "timeout" in verdict.reason


def test_slow_once_then_fine(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.add_fault(Fault.slow(30.0), times=1)
    [verdict] = make_judge(server, tmp_path, timeout_s=2.0).judge_many([als("Lou Gehrig disease")])
    assert verdict.grades == [2] and verdict.calls == 2


@pytest.mark.parametrize("fault", [Fault.malformed(), Fault.drop(), Fault.http(502)])
def test_transport_faults_are_retried(server: FakeOpenAIServer, tmp_path: Path, fault: Fault) -> None:
    server.add_fault(fault, times=1)
    [verdict] = make_judge(server, tmp_path).judge_many([als("Lou Gehrig disease")])
    assert verdict.grades == [2] and verdict.status == "judged" and verdict.calls == 2


def test_malformed_body_every_time_is_unjudged(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.add_fault(Fault.malformed())
    [verdict] = make_judge(server, tmp_path, max_retries=1).judge_many([als("Lou Gehrig disease")])
    assert verdict.status == "unjudged" and "malformed response body" in verdict.reason and verdict.calls == 2


@pytest.mark.parametrize("fault", [Fault.empty(), Fault.reply("These look like the same condition to me.")])
def test_unparseable_replies_are_reasked_then_unjudged(server: FakeOpenAIServer, tmp_path: Path, fault: Fault) -> None:
    server.add_fault(fault)
    [verdict] = make_judge(server, tmp_path, parse_retries=1).judge_many([als("Lou Gehrig disease")])
    assert verdict.status == "unjudged" and verdict.grades == [None]
    assert verdict.calls == 2 and "unparseable" in verdict.reason


def test_unparseable_once_then_fine(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.add_fault(Fault.empty(), times=1)
    [verdict] = make_judge(server, tmp_path).judge_many([als("Lou Gehrig disease")])
    assert verdict.grades == [2] and verdict.calls == 2


def test_partial_reply_keeps_what_was_graded(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.add_fault(Fault.reply('{"grades": [{"rank": 1, "grade": 2}]}'), times=1)
    judge = make_judge(server, tmp_path)
    [verdict] = judge.judge_many([als("Lou Gehrig disease", "Wilson disease")])
    assert verdict.grades == [2, None] and verdict.status == "unjudged" and "1 of 2" in verdict.reason
    [again] = judge.judge_many([als("Lou Gehrig disease", "Wilson disease")])
    assert again.grades == [2, 0] and server.records[-1].answers == ["wilson disease"]


def test_fault_on_one_answer_spares_the_others(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.add_fault(Fault.http(500), answer="Wilson disease")
    verdicts = make_judge(server, tmp_path, max_retries=1).judge_many(
        [als("Lou Gehrig disease"), als("Wilson disease"), als("Motor neuron disease")]
    )
    assert [v.status for v in verdicts] == ["judged", "unjudged", "judged"]
    assert [v.grades for v in verdicts] == [[2], [None], [1]]
    assert server.requests_for("Wilson disease") == 2


def test_auth_failure_is_not_retried(tmp_path: Path) -> None:
    with FakeOpenAIServer(api_key="a-different-key") as srv:
        [verdict] = make_judge(srv, tmp_path).judge_many([als("Lou Gehrig disease")])
        assert verdict.status == "unjudged" and verdict.calls == 1 and "HTTP 401" in verdict.reason
        assert KEY not in verdict.reason


def test_unreachable_endpoint_is_unjudged(tmp_path: Path) -> None:
    with FakeOpenAIServer() as srv:
        url = srv.base_url
    judge = OpenAIJudge(
        {"model": "fake-judge", "base_url": url, "api_key_env": None, "cache_path": None, "max_retries": 1},
        sleep=Sleeps(),
    )
    [verdict] = judge.judge_many([als("Lou Gehrig disease")])
    assert verdict.status == "unjudged" and "connection error" in verdict.reason and verdict.calls == 2


# ---------------------------------------------------------------- bad input


def test_bad_requests_never_crash_and_never_hide(server: FakeOpenAIServer, tmp_path: Path) -> None:
    judge = make_judge(server, tmp_path)
    verdicts = judge.judge_many(
        [
            JudgeRequest(answers=["Lou Gehrig disease"], gold_names=["", "  "]),
            JudgeRequest(answers=[], gold_names=ALS),
            JudgeRequest(answers=["", "Lou Gehrig disease"], gold_names=ALS),
            {"answers": ["ALS"], "gold_names": ALS},  # type: ignore[list-item]
            {"answers": "not a list"},  # type: ignore[list-item]
        ]
    )
    assert verdicts[0].status == "unjudged" and "no reference names" in verdicts[0].reason
    assert verdicts[1].status == "judged" and verdicts[1].grades == []
    assert verdicts[2].grades == [0, 2] and "empty answer" in verdicts[2].reason
    assert verdicts[3].grades == [2]
    assert verdicts[4].status == "unjudged" and "invalid judge request" in verdicts[4].reason
    assert sorted(r.answers for r in server.records) == [["als"], ["lou gehrig disease"]]


# ---------------------------------------------------------------- concurrency, limits, progress, async


def test_concurrency_limit_is_respected_across_callers(tmp_path: Path) -> None:
    with FakeOpenAIServer(delay_s=0.1) as srv:
        judge = make_judge(srv, tmp_path, api_key_env=None, max_concurrency=3, cache_path=None)
        batches = [[als(f"Disease {t}-{i}") for i in range(8)] for t in range(3)]
        results: list[Any] = []
        threads = [threading.Thread(target=lambda b=b: results.append(judge.judge_many(b))) for b in batches]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert srv.total_requests == 24
        assert sum(v.status == "judged" for r in results for v in r) == 24
        assert 2 <= srv.max_in_flight <= 3  # concurrent, but never more than the limit
        assert judge.stats.max_in_flight <= 3


def test_requests_per_minute_limit_spaces_calls(server: FakeOpenAIServer, tmp_path: Path) -> None:
    sleeps = Sleeps()
    judge = make_judge(server, tmp_path, sleeps, rpm=60)  # 1/s with a 10-request burst
    verdicts = judge.judge_many([als(f"Disease {i}") for i in range(14)])
    assert all(v.status == "judged" for v in verdicts) and server.total_requests == 14
    assert len(sleeps) == 4  # the calls beyond the burst were told to wait
    assert sorted(sleeps) == pytest.approx([1.0, 2.0, 3.0, 4.0], abs=0.3)


def test_tokens_per_minute_limit_waits(server: FakeOpenAIServer, tmp_path: Path) -> None:
    sleeps = Sleeps()
    judge = make_judge(server, tmp_path, sleeps, tpm=6000)  # 100 tokens/s, 1000-token burst; a call is ~600
    judge.judge_many([als(f"Disease {i}") for i in range(3)])
    assert server.total_requests == 3
    assert len(sleeps) >= 1 and judge.stats.rate_limit_wait_s > 0


def test_progress_callback_counts_calls(server: FakeOpenAIServer, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    judge = OpenAIJudge(
        {"model": "fake-judge", "base_url": server.base_url, "api_key_env": KEY_ENV, "cache_path": None, "show_progress": True},
        progress=lambda done, total: seen.append((done, total)),
    )
    judge.judge_many([als("Lou Gehrig disease"), als("Wilson disease"), als("Lou Gehrig disease")])
    assert sorted(seen) == [(1, 2), (2, 2)]  # two distinct calls; the duplicate is shared


def test_async_judge_many(server: FakeOpenAIServer, tmp_path: Path) -> None:
    judge = make_judge(server, tmp_path)

    async def main() -> list[Any]:
        return await asyncio.gather(
            judge.ajudge_many([als("Lou Gehrig disease")]), judge.ajudge_many([als("Motor neuron disease")])
        )

    first, second = asyncio.run(main())
    assert first[0].grades == [2] and second[0].grades == [1]


def test_openai_client_sees_the_fake_server_as_openai(server: FakeOpenAIServer) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)
    assert [m.id for m in client.models.list()] == ["fake-judge"]
    with FakeOpenAIServer(chat={"What is 2+2?": "4"}) as plain:
        other = openai.OpenAI(base_url=plain.base_url, api_key="x", max_retries=0)
        reply = other.chat.completions.create(model="fake-judge", messages=[{"role": "user", "content": "What is 2+2?"}])
        assert reply.choices[0].message.content == "4"
        with pytest.raises(openai.BadRequestError):  # an unknown prompt is loud, not an empty reply
            other.chat.completions.create(model="fake-judge", messages=[{"role": "user", "content": "?"}])


def test_long_answer_lists_are_split_and_reassembled_in_order(server: FakeOpenAIServer, tmp_path: Path) -> None:
    answers = [f"Disease {i}" for i in range(7)] + ["Lou Gehrig disease"]
    judge = make_judge(server, tmp_path, max_answers_per_call=3)
    [verdict] = judge.judge_many([als(*answers)])
    assert verdict.grades == [0] * 7 + [2] and verdict.calls == 3
    assert sorted(len(r.answers) for r in server.records) == [2, 3, 3]


@pytest.mark.parametrize("reply", ["[" * 100_000, "{" * 100_000], ids=["brackets", "braces"])
def test_deeply_nested_reply_is_unjudged_not_a_crash(server: FakeOpenAIServer, tmp_path: Path, reply: str) -> None:
    judge = make_judge(server, tmp_path, parse_retries=0)
    server.add_fault(Fault.reply(reply))
    v = judge.judge(JudgeRequest(answers=["Lou Gehrig disease"], gold_names=ALS))
    assert v.status == "unjudged" and v.grades == [None]
    assert v.reason.startswith("unparseable judge reply after 1 call(s): no grade in reply (100000 chars)")
