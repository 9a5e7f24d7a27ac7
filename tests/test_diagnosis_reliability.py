"""Hostile inputs to the diagnosis scorer (issue 13, items 5 and 6): bounded work and memory.

Work is counted, not timed (timing belongs to ``bench/bench_worst_case.py``): the seed's answer search
makes two ``find`` calls whatever the text, the tag scanner tries its regex only where a tag can
start, the phrasing reader reads a bounded number of segments. Inputs over the caps get a defined
result and reason, the same on the fast path and the general path. Caches are bounded by bytes.
"""

from __future__ import annotations

import random
import re
import string
import tracemalloc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from medzero_rewards import Status, Tier, get_scorer
from medzero_rewards import parsing
from medzero_rewards.diagnosis import DiagnosisConfig, phrasing
from medzero_rewards.diagnosis.cache import ENTRY_OVERHEAD, ByteBoundedCache
from medzero_rewards.diagnosis.extract import seed_answer

FABRY = {"diagnosis": "Fabry disease"}
SEED_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def c(answer: str, think: str = "reasoning") -> str:
    return f"<think>{think}</think><answer>{answer}</answer>"


class CountingStr(str):
    """A str that counts the ``find`` calls made on it."""

    finds = 0

    def find(self, *args: Any) -> int:  # type: ignore[override]
        CountingStr.finds += 1
        return super().find(*args)


# ---------------------------------------------------------------------------------------------------
# Linear parsing
# ---------------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["<answer>", "</answer>", "<", ">", "a", "\n", "</ans", "answer>"]), max_size=30))
def test_seed_answer_is_the_seed_regex(parts: list[str]) -> None:
    text = "".join(parts)
    m = SEED_RE.search(text)
    assert seed_answer(text) == (m.group(1) if m else None)


@pytest.mark.parametrize("text", ["<answer>" * 12_000, "<answer>" * 6_000 + "</answer>", "x" * 96_000])
def test_seed_answer_makes_two_finds_whatever_the_size(text: str) -> None:
    """The seed's ``<answer>(.*?)</answer>`` search retried from every ``<answer>`` (14 s on 96 KB)."""
    CountingStr.finds = 0
    got = seed_answer(CountingStr(text))
    assert CountingStr.finds <= 2
    m = SEED_RE.search(text[:2000] + text[-2000:]) if "</answer>" in text else None
    assert (got is None) == (m is None)


def test_tag_scanner_tries_its_regex_only_where_a_tag_can_start(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = parsing._TAG_RE

    class Counting:
        def match(self, text: str, pos: int = 0) -> Any:
            calls["n"] += 1
            return real.match(text, pos)

    monkeypatch.setattr(parsing, "_TAG_RE", Counting())
    for hostile in ("<" * 96_000, "<<b" * 30_000, "< x" * 30_000):
        calls["n"] = 0
        p = parsing.parse_completion(hostile)
        assert p.answer is None and calls["n"] == 0, hostile[:10]
    calls["n"] = 0
    p = parsing.parse_completion("<" * 1000 + "< THINK >a</think ><Answer>Fabry disease</answer>")
    assert p.answer == "Fabry disease" and calls["n"] == 3  # the three non-lowercase tags


def test_phrasing_reads_a_bounded_number_of_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = phrasing.clean_item

    def counting(item: str) -> str:
        calls["n"] += 1
        return real(item)

    monkeypatch.setattr(phrasing, "clean_item", counting)
    for answer in ("Fabry disease; " * 1000, "Fabry disease.\n" * 1000, "a. " * 1300):
        calls["n"] = 0
        phrasing.read_answer(answer)
        assert calls["n"] <= 12 * phrasing.MAX_SEGMENTS, (answer[:20], calls["n"])


def test_trailing_frames_are_stripped_word_by_word(monkeypatch: pytest.MonkeyPatch) -> None:
    """A regex anchored at the end retried from every start: 0.8 s on ", most likely" x 300."""
    calls = {"n": 0}
    real = phrasing.TRAIL_WORD_RE

    class Counting:
        def fullmatch(self, s: str) -> Any:
            calls["n"] += 1
            return real.fullmatch(s)

    monkeypatch.setattr(phrasing, "TRAIL_WORD_RE", Counting())
    text = "Fabry disease" + ", most likely" * 300
    assert phrasing.strip_frames(text) == "Fabry disease"
    assert calls["n"] <= 2 * 600 + 2  # each trailing word once (per pass of strip_frames)


# ---------------------------------------------------------------------------------------------------
# Input caps: a defined result and reason, fast path = general path
# ---------------------------------------------------------------------------------------------------


def test_caps_are_configurable_and_validated() -> None:
    cfg = DiagnosisConfig()
    assert cfg.max_completion_chars == 100_000 and cfg.max_answer_chars == 4_000 and cfg.cache_mb == 64.0
    with pytest.raises(ValueError):
        DiagnosisConfig(max_answer_chars=0)


@pytest.mark.parametrize("preset", ["recommended", "diagnosis_zero"])
def test_a_completion_over_the_cap_is_a_format_error_with_no_reward(preset: str) -> None:
    s = get_scorer("rarearena_rdc", preset=preset, max_completion_chars=5_000)
    texts = [c("Fabry disease", think="x" * 6_000), c("Fabry disease"), "y" * 6_000]
    batch = s.score_batch(texts, [FABRY] * 3)
    rows = list(zip(batch.rewards, batch.statuses))
    built = list(batch)  # ScoreBatch checks every built Score against its fast-path row
    assert [b.status for b in built] == [Status.format_error, Status.ok, Status.format_error]
    assert built[0].reward == 0.0 and built[0].components == {"format": 0.0, "accuracy": 0.0, "language": 0.0}
    assert "exceeds max_completion_chars=5000" in built[0].reason and built[0].details["n_chars"] == len(texts[0])
    assert built[1].correct and rows[0] == (0.0, Status.format_error)
    assert s.score(texts[0], {"diagnosis": ""}).status is Status.error  # no gold still wins: an error


def test_an_answer_over_the_cap_is_not_read() -> None:
    s = get_scorer("rarearena_rdc", max_answer_chars=200)
    long_answer = "Fabry disease. " + "This is supported by angiokeratomas. " * 10
    batch = s.score_batch([c(long_answer), c(long_answer[:150])], [FABRY] * 2)
    too_long, fine = list(batch)
    assert too_long.status is Status.format_error and not too_long.correct and too_long.tier is Tier.none
    assert too_long.components["accuracy"] == 0.0 and too_long.components["format"] == 0.2
    assert "exceeds max_answer_chars=200" in too_long.reason
    assert fine.correct and fine.status is Status.ok
    ranked = get_scorer("rarearena_rdc", answer_format="ranked", max_answer_chars=200)
    assert ranked.score(c("1. Fabry disease\n" * 30), FABRY).status is Status.format_error


# ---------------------------------------------------------------------------------------------------
# Memory: caches bounded by bytes
# ---------------------------------------------------------------------------------------------------


def test_byte_bounded_cache_never_exceeds_its_budget() -> None:
    cache: ByteBoundedCache[str, int] = ByteBoundedCache(max_bytes=200_000)
    rng = random.Random(3)
    for i in range(5_000):
        n = rng.randrange(0, 3_000)
        cache.put(f"{i}" + "x" * n, i, nbytes=n)
        assert cache.nbytes <= cache.max_bytes
        assert cache.nbytes == sum(len(k) - len(str(v)) + ENTRY_OVERHEAD for k, v in cache.items())


def _distinct_answers(n: int, size: int) -> list[str]:
    rng = random.Random(5)
    words = ["".join(rng.choices(string.ascii_lowercase, k=7)) for _ in range(2_000)]
    return [(f"Disease {i} " + " ".join(rng.choices(words, k=size // 6)))[:size] for i in range(n)]


def test_distinct_long_answers_do_not_accumulate() -> None:
    """20,000 distinct 1 KB answers added 312 MB: every cache kept each answer (and its normalised
    form) by entry count. With a small budget nothing of them stays; with the default the caches stay
    within their budget."""
    answers = _distinct_answers(1_000, 1_000)
    small = get_scorer("rarearena_rdc", cache_mb=0.5)
    small.score(c("Fabry disease"), FABRY)  # warm the imports and the gold cache
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(0, len(answers), 250):
            batch = small.score_batch([c(a) for a in answers[i : i + 250]], [FABRY] * 250)
            assert not any(batch.correct)
            del batch
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1_500_000, grown  # 1,000 answers of 1 KB kept would be over 1 MB on their own
    default = get_scorer("rarearena_rdc")
    default.score_batch([c(a) for a in answers], [FABRY] * len(answers))
    for cache in (default.decider.decisions, default.decider._readings, default.golds._by_record):
        assert 0 < cache.nbytes <= cache.max_bytes
    assert default.decider.decisions.max_bytes + default.golds._by_names.max_bytes <= 64 << 20
