"""The tolerant verdict parser: structured JSON, fenced blocks, embedded JSON and 'grade: N' lines."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from medzero_rewards.judge.parse import VerdictParseError, parse_grades


@pytest.mark.parametrize(
    ("content", "n", "expected"),
    [
        ('{"grades": [{"rank": 1, "grade": 2}, {"rank": 2, "grade": 0}]}', 2, [2, 0]),
        ('{"grades": [{"rank": 2, "grade": 1}, {"rank": 1, "grade": 0}]}', 2, [0, 1]),  # by rank, not position
        ('{"grades": [2, 1, 0]}', 3, [2, 1, 0]),
        ('{"grade": 2}', 1, [2]),
        ("[0, 2]", 2, [0, 2]),
        ('Sure.\n```json\n{"grades": [{"rank": 1, "grade": 1}]}\n```\nDone.', 1, [1]),
        ('My verdict is {"grades": [{"rank": 1, "grade": 2}]} as requested.', 1, [2]),
        ("Grade: 2", 1, [2]),
        ("Candidate 1: grade: 0\nCandidate 2: grade: 2", 2, [0, 2]),
        ("2. grade 1\n1. grade 2", 2, [2, 1]),
        ('{"grades": ["2", 0.0]}', 2, [2, 0]),
    ],
)
def test_accepted_shapes(content: str, n: int, expected: list[int]) -> None:
    assert parse_grades(content, n) == expected


def test_missing_and_invalid_grades_are_none_not_zero() -> None:
    assert parse_grades('{"grades": [{"rank": 1, "grade": 2}]}', 3) == [2, None, None]
    assert parse_grades('{"grades": [{"rank": 1, "grade": 7}, {"rank": 2, "grade": 0}]}', 2) == [None, 0]
    assert parse_grades('{"grades": [true, 1]}', 2) == [None, 1]


@pytest.mark.parametrize("content", [None, "", "   ", "I think it is probably the same disease.", '{"verdict": "yes"}', '{"grades": [9]}', "{"])
def test_unusable_replies_raise(content: str | None) -> None:
    with pytest.raises(VerdictParseError):
        parse_grades(content, 1)


def test_needs_an_answer() -> None:
    with pytest.raises(ValueError):
        parse_grades('{"grade": 1}', 0)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=1, max_value=6))
def test_never_crashes_on_arbitrary_text(content: str, n: int) -> None:
    try:
        grades = parse_grades(content, n)
    except VerdictParseError:
        return
    assert len(grades) == n
    assert all(g in (0, 1, 2, None) for g in grades)
    assert any(g is not None for g in grades)


# ------------------------------------------------------------------ hostile replies (issue 13 item 5)

DEEP = 100_000


@pytest.mark.parametrize(
    "content",
    [
        "[" * DEEP,
        "{" * DEEP,
        "[" * DEEP + "2" + "]" * DEEP,  # valid JSON, too deep to decode
        '{"grades": ' + "[" * DEEP + "2" + "]" * DEEP + "}",
        "[]" * (DEEP // 2),
        '"' * DEEP,
        '["' * (DEEP // 2),
        "grade: " + "9" * 5000,  # int() refuses > 4300 digits
        '{"grade": ' + "1" * 5000 + "}",
        "\n" * DEEP,
        " \t" * DEEP,
        "```json\n" * (DEEP // 8),
    ],
    ids=lambda c: f"{c[:12]!r}x{len(c)}",
)
def test_hostile_replies_give_the_defined_parse_error(content: str) -> None:
    with pytest.raises(VerdictParseError, match="reply"):
        parse_grades(content, 5)


def test_error_names_the_reply_length_and_quotes_at_most_120_characters() -> None:
    with pytest.raises(VerdictParseError) as info:
        parse_grades("{" * DEEP, 1)
    message = str(info.value)
    assert f"({DEEP} chars)" in message
    assert len(message) < 200


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("x" * DEEP + '{"grades": [2, 0]}', [2, 0]),  # the grade block at the end of a long reply
        ('{"grades": [1, 2]}' + "x" * DEEP, [1, 2]),  # ... or at its start
        ("[" * DEEP + '\n{"grades": [0, 2]}', [0, 2]),  # after deep junk
        ('See [1] and [2].\n{"grades": [{"rank": 1, "grade": 0}, {"rank": 2, "grade": 2}]}', [0, 2]),  # an object wins
        ('Refs [1]\n```json\n{"grades": [{"rank": 1, "grade": 0}]}\n```', [0, None]),  # a fenced block wins
        ('{"reason": "a [ b { c", "grades": [2, 1]}', [2, 1]),  # brackets inside strings do not count
        ("  [0, 2]  ", [0, 2]),
        ("rank " + "1" * 5000 + ". grade: 2", [2, None]),  # a rank too long to be one is ignored
    ],
)
def test_grades_are_still_found_next_to_hostile_text(content: str, expected: list[int | None]) -> None:
    assert parse_grades(content, 2) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["[", "]", "{", "}", '"', "\\", ",", ":", "2", "grade", "\n", "```", " ", "x"]), max_size=400),
    st.integers(min_value=1, max_value=6),
)
def test_never_crashes_on_bracket_soup(tokens: list[str], n: int) -> None:
    content = "".join(tokens)
    try:
        grades = parse_grades(content, n)
    except VerdictParseError:
        return
    assert len(grades) == n and any(g is not None for g in grades)
