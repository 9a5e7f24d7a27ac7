"""No secret reaches a reason or a log line (issue 13 item 8).

An endpoint or proxy that echoes the request's Authorization header in its error body (the fake
server's ``echo_authorization``), or a reply that quotes the key, must not put the key into a
verdict's reason, ``Score.reason``/``details`` or the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai_server import FakeOpenAIServer, Fault
from medzero_rewards import Status, get_scorer
from medzero_rewards.judge import JudgeRequest
from medzero_rewards.judge.client import OpenAIJudge
from medzero_rewards.judge.redact import register_secret, scrub

KEY_ENV = "MEDZERO_TEST_SECRET_KEY"
WRONG_KEY = "sk-proj-WrongKey0123456789abcdefXYZ"  # what the client sends
SERVER_KEY = "sk-proj-RightKey0123456789abcdefXYZ"
PLAIN_KEY = "corp-gateway-secret-0042-qwerty"  # not token-shaped: only its value can give it away
TSC = "Tuberous sclerosis complex"


@pytest.fixture
def echoing_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(api_key=SERVER_KEY, echo_authorization=True) as srv:
        yield srv


def make_judge(server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, key: str, **overrides: Any) -> OpenAIJudge:
    monkeypatch.setenv(KEY_ENV, key)
    config = {"model": "fake-judge", "base_url": server.base_url, "api_key_env": KEY_ENV, "cache_path": None,
              "backoff_base_s": 0.0, "timeout_s": 10.0, **overrides}  # fmt: skip
    return OpenAIJudge(config)


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(caplog.handler.format(r) for r in caplog.records)


def assert_clean(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text
        assert secret[8:20] not in text  # not even a fragment
    assert "Bearer sk-" not in text


def test_server_echo_confirms_the_header_reaches_the_body(echoing_server: FakeOpenAIServer) -> None:
    import openai

    client = openai.OpenAI(base_url=echoing_server.base_url, api_key=WRONG_KEY, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        client.chat.completions.create(model="fake-judge", messages=[{"role": "user", "content": "hi"}])
    assert f"Bearer {WRONG_KEY}" in str(info.value)  # what an unscrubbed reason would carry


def test_echoed_authorization_header_is_scrubbed_from_reason_and_log(
    echoing_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    judge = make_judge(echoing_server, monkeypatch, WRONG_KEY)
    verdict = judge.judge(JudgeRequest(answers=["Tuberous sclerosis"], gold_names=[TSC]))
    assert verdict.status == "unjudged" and verdict.grades == [None]
    assert verdict.reason.startswith("judge HTTP 401 after 1 call(s)")
    assert "Authorization: Bearer ***" in verdict.reason
    assert_clean(verdict.reason, WRONG_KEY)
    assert "HTTP 401" in logged(caplog)
    assert_clean(logged(caplog), WRONG_KEY)


def test_key_value_quoted_in_a_reply_is_scrubbed(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeOpenAIServer(api_key=PLAIN_KEY) as server:
        judge = make_judge(server, monkeypatch, PLAIN_KEY, parse_retries=0)
        server.add_fault(Fault.reply(f"Cannot grade: key {PLAIN_KEY} is over quota"))
        verdict = judge.judge(JudgeRequest(answers=["Tuberous sclerosis"], gold_names=[TSC]))
    assert verdict.status == "unjudged"
    assert "unparseable judge reply" in verdict.reason and "key *** is over quota" in verdict.reason
    assert_clean(verdict.reason + logged(caplog), PLAIN_KEY)


def test_score_reason_details_and_log_hold_no_secret(
    echoing_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(KEY_ENV, WRONG_KEY)
    scorer = get_scorer("rarearena_rdc", judge={"model": "fake-judge", "base_url": echoing_server.base_url,
                                                 "api_key_env": KEY_ENV, "cache_path": None})  # fmt: skip
    scores = scorer.score_batch(
        ["<think>x</think><answer>Tuberous sclerosis</answer>"] * 3, [{"diagnosis": TSC, "Orpha_name": TSC}] * 3
    )
    assert echoing_server.total_requests == 1  # one distinct answer, one call
    for score in scores:
        assert score.status is Status.unjudged and "HTTP 401" in score.reason
        assert_clean(score.reason + repr(score.details), WRONG_KEY)
    assert_clean(logged(caplog), WRONG_KEY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer sk-abc123def456", "Authorization: Bearer ***"),
        ("authorization: bearer eyJhbGciOiJIUzI1NiJ9.e30.x", "authorization: bearer ***"),
        ("'Authorization': 'Basic dXNlcjpwYXNz'", "'Authorization': 'Basic ***'"),
        ('{"x-api-key": "abcdef123456"}', '{"x-api-key": "***"}'),
        ("api_key=abcdef123456&model=m", "api_key=***&model=m"),
        ("key sk-proj-ABCdef_123-456 leaked", "key sk-*** leaked"),
        ("HTTP 500 after 5 call(s): internal error", "HTTP 500 after 5 call(s): internal error"),
        ("grade: 2 (token budget 256)", "grade: 2 (token budget 256)"),
    ],
)
def test_scrub_patterns(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_registered_values_are_scrubbed_and_short_ones_ignored() -> None:
    register_secret("another-plain-secret-77")
    register_secret("test")  # too short to be worth masking everywhere
    assert scrub("x another-plain-secret-77 y test") == "x *** y test"


def test_judge_logger_scrubs_records_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    import medzero_rewards.judge.client  # noqa: F401 - installs the filter

    caplog.set_level(logging.DEBUG, logger="medzero_rewards.judge")
    log = logging.getLogger("medzero_rewards.judge")
    try:
        raise RuntimeError(f"upstream said Authorization: Bearer {WRONG_KEY}")
    except RuntimeError:
        log.warning("call failed: %s", f"Bearer {WRONG_KEY}", exc_info=True)
    text = logged(caplog)
    assert "call failed: Bearer ***" in text and "RuntimeError" in text
    assert_clean(text, WRONG_KEY)


def test_cache_never_stores_a_key(echoing_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    judge = make_judge(echoing_server, monkeypatch, SERVER_KEY, cache_path=str(tmp_path / "c.sqlite"))
    judge.judge(JudgeRequest(answers=["Tuberous sclerosis"], gold_names=[TSC]))
    judge.close()
    assert SERVER_KEY.encode() not in (tmp_path / "c.sqlite").read_bytes()
