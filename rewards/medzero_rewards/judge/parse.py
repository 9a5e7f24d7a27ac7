"""Turning a judge reply into one grade per answer, tolerantly and in bounded time.

Order of attempts: the whole reply as JSON; a fenced ```json block; the balanced ``{...}`` or
``[...]`` spans, earliest first; finally "grade: N" lines. Accepted JSON shapes:
``{"grades": [{"rank": 1, "grade": 2}]}``, ``{"grades": [2, 0]}``, ``{"grade": 2}``, ``[2, 0]``. A
grade that is missing or not 0/1/2 is ``None`` (unjudged), never 0.

A reply is untrusted text, so every step is linear in its length and bounded:

* at most :data:`MAX_REPLY_CHARS` characters are read: a longer reply is read as its first and last
  ``MAX_REPLY_CHARS // 2`` characters (a grade block sits at one end of a long reasoning reply);
* JSON is decoded only from spans found by one iterative bracket scan, only when nested at most
  :data:`MAX_JSON_DEPTH` deep (``json`` decodes recursively: 100,000 ``[`` would raise
  ``RecursionError``), and at most :data:`MAX_JSON_ATTEMPTS` spans are decoded;
* the ``grade: N`` line pattern cannot cross a line.

A reply with no usable grade raises :class:`VerdictParseError` (the client turns it into an
``unjudged`` verdict); nothing else is raised for any string.
"""

from __future__ import annotations

import bisect
import json
import re
from typing import Any

from medzero_rewards.judge.types import Grade

MAX_REPLY_CHARS = 16_384
"""Characters of a reply that are parsed (head and tail halves of a longer one)."""
MAX_JSON_DEPTH = 16
"""Deepest bracket nesting decoded as JSON (every accepted shape needs 3)."""
MAX_JSON_ATTEMPTS = 64
"""Balanced spans decoded per reply, earliest first."""

_FENCE = re.compile(r"```(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)
_GRADE_LINE = re.compile(  # possessive runs and no newline inside: linear on any text
    r"^[ \t]*+(?:[-*#][ \t]*+)?(?:(?:rank|candidate|answer)[ \t]*+)?(?:#[ \t]*+)?"
    r"(?:(?P<rank>\d{1,6})[ \t]*+[.):\-][ \t]*+)?"
    r"[^\n]*?\bgrade\b[ \t]*+[:=]?[ \t]*+(?P<grade>-?\d{1,6})\b",
    re.IGNORECASE | re.MULTILINE,
)
_CLOSER = {"{": "}", "[": "]"}


class VerdictParseError(ValueError):
    """The reply contained no usable grade."""


def _as_grade(value: Any) -> Grade | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 8:
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and value in (0, 1, 2):
        return value  # type: ignore[return-value]
    return None


def bounded_reply(content: str) -> str:
    """The part of a reply that is parsed: all of it, or its head and tail when it is too long.

    >>> len(bounded_reply("x" * 100_000)) == MAX_REPLY_CHARS + 1
    True
    """
    if len(content) <= MAX_REPLY_CHARS:
        return content
    half = MAX_REPLY_CHARS // 2
    return content[:half] + "\n" + content[-half:]


_TOKEN = re.compile(r'[{}\[\]"]')
_STRING_REST = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def _balanced_spans(text: str) -> list[tuple[int, int, int]]:
    """``(start, end, depth)`` of every balanced ``{...}`` / ``[...]`` span, by start.

    One iterative pass with a stack of at most ``2 * MAX_JSON_DEPTH`` openers (no recursion, linear in
    ``len(text)``); spans nested deeper than :data:`MAX_JSON_DEPTH` may be missing. Inside an open span
    a double-quoted JSON string is skipped, brackets in it do not count; a closer that does not match
    the innermost opener abandons the open spans. ``depth`` is the span's own nesting depth.
    """
    spans: list[tuple[int, int, int]] = []
    stack: list[list[Any]] = []  # [closer, start, deepest nesting below it]
    skip_to = 0  # end of the JSON string being skipped
    for m in _TOKEN.finditer(text):
        pos = m.start()
        if pos < skip_to:
            continue
        ch = m.group()
        if ch == '"':
            if stack:
                s = _STRING_REST.match(text, pos + 1)
                if s is None:
                    break  # unterminated string: nothing after it can close a span
                skip_to = s.end()
        elif ch in "{[":
            stack.append([_CLOSER[ch], pos, 0])
            if len(stack) > 2 * MAX_JSON_DEPTH:
                # an opener with more than MAX_JSON_DEPTH openers above it can only close too deep
                del stack[: -MAX_JSON_DEPTH - 1]
        elif stack and stack[-1][0] == ch:
            _, start, below = stack.pop()
            spans.append((start, pos + 1, below + 1))
            if stack:
                stack[-1][2] = max(stack[-1][2], below + 1)
        else:
            stack.clear()
    spans.sort()
    return spans


def _json_candidates(text: str) -> list[Any]:
    """JSON values found in ``text``, most specific first: the whole reply, fenced blocks, then the
    first ``{...}`` and the first ``[...]`` that decode (at most :data:`MAX_JSON_ATTEMPTS` decodes)."""
    spans = [s for s in _balanced_spans(text) if s[2] <= MAX_JSON_DEPTH]
    if not spans:
        return []
    whole = (len(text) - len(text.lstrip()), len(text.rstrip()))
    starts = [s[0] for s in spans]
    ordered = [s for s in spans[:1] if (s[0], s[1]) == whole]
    for fence in _FENCE.finditer(text) if "```" in text else ():
        if len(ordered) >= MAX_JSON_ATTEMPTS:
            break
        f0, f1 = fence.span(1)
        i = bisect.bisect_left(starts, f0)  # the outermost span opening first inside the fence
        if i < len(spans) and spans[i][1] <= f1 and not text[f0 : spans[i][0]].strip():
            ordered.append(spans[i])
    found: list[Any] = []
    attempts = 0
    for start, end, _ in ordered:
        attempts += 1
        try:
            found.append(json.loads(text[start:end]))
        except ValueError:
            pass
    for opener in "{[":
        for start, end, _ in spans:
            if attempts >= MAX_JSON_ATTEMPTS:
                return found
            if text[start] != opener:
                continue
            attempts += 1
            try:
                found.append(json.loads(text[start:end]))
            except ValueError:
                continue
            break
    return found


def _grades_from_json(value: Any, n: int) -> list[Grade | None] | None:
    """Grades from one decoded JSON value, or ``None`` if it has no recognisable shape."""
    if isinstance(value, dict):
        if "grades" in value:
            return _grades_from_json(value["grades"], n)
        if "grade" in value:
            return [_as_grade(value["grade"])] + [None] * (n - 1) if n >= 1 else []
        return None
    if not isinstance(value, list):
        return None
    out: list[Grade | None] = [None] * n
    if all(isinstance(v, dict) for v in value) and value:
        ranks = [v.get("rank") for v in value]
        by_rank = all(isinstance(r, int) and not isinstance(r, bool) for r in ranks) and len(set(ranks)) == len(ranks)
        by_rank = by_rank and all(1 <= r <= n for r in ranks)
        for pos, item in enumerate(value):
            slot = item["rank"] - 1 if by_rank else pos
            if 0 <= slot < n:
                out[slot] = _as_grade(item.get("grade"))
        return out
    if all(not isinstance(v, (dict, list)) for v in value):
        for pos, item in enumerate(value[:n]):
            out[pos] = _as_grade(item)
        return out
    return None


def _grades_from_lines(text: str, n: int) -> list[Grade | None] | None:
    out: list[Grade | None] = [None] * n
    seen = explicit = 0
    in_range = True
    matches: list[tuple[str | None, str]] = []
    for m in _GRADE_LINE.finditer(text):
        matches.append((m.group("rank"), m.group("grade")))
        seen += 1
        if m.group("rank"):
            explicit += 1
            in_range = in_range and 1 <= int(m.group("rank")) <= n
        if seen > 4 * n + 16:  # far more grade lines than answers: the first ones decide
            break
    if not matches:
        return None
    use_rank = explicit == seen and in_range
    for pos, (rank, grade) in enumerate(matches):
        slot = int(rank) - 1 if use_rank and rank else pos
        if 0 <= slot < n and out[slot] is None:
            out[slot] = _as_grade(grade)
    return out


def parse_grades(content: str | None, n_answers: int) -> list[Grade | None]:
    """One grade (or ``None``) per answer from a judge reply.

    Raises :class:`VerdictParseError` when the reply is empty or has no recognisable grade at all
    (also for any hostile shape: deep nesting, huge replies); never anything else for a string.

    >>> parse_grades('{"grades": [{"rank": 1, "grade": 2}, {"rank": 2, "grade": 0}]}', 2)
    [2, 0]
    >>> parse_grades("Candidate 1: grade: 1", 1)
    [1]
    """
    if n_answers < 1:
        raise ValueError("parse_grades needs at least one answer")
    if not isinstance(content, str) or not content.strip():
        raise VerdictParseError("empty reply")
    text = bounded_reply(content)
    for value in _json_candidates(text):
        grades = _grades_from_json(value, n_answers)
        if grades is not None and any(g is not None for g in grades):
            return grades
    grades = _grades_from_lines(text, n_answers)
    if grades is not None and any(g is not None for g in grades):
        return grades
    snippet = text[:400].strip().replace("\n", " ")[:120]
    raise VerdictParseError(f"no grade in reply ({len(content)} chars): {snippet!r}")
