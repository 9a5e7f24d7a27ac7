"""Turning a judge reply into one grade per answer, tolerantly.

Order of attempts: the whole reply as JSON; a fenced ```json block; the first balanced ``{...}`` or
``[...]``; finally "grade: N" lines. Accepted JSON shapes: ``{"grades": [{"rank": 1, "grade": 2}]}``,
``{"grades": [2, 0]}``, ``{"grade": 2}``, ``[2, 0]``. A grade that is missing or not 0/1/2 is
``None`` (unjudged), never 0.
"""

from __future__ import annotations

import json
import re
from typing import Any

from medzero_rewards.judge.types import Grade

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_GRADE_LINE = re.compile(
    r"^\s*(?:[-*#]\s*)?(?:(?:rank|candidate|answer)?\s*#?\s*(?P<rank>\d+)\s*[.):\-]\s*)?.*?\bgrade\b\s*[:=]?\s*(?P<grade>-?\d+)\b",
    re.IGNORECASE | re.MULTILINE,
)


class VerdictParseError(ValueError):
    """The reply contained no usable grade."""


def _as_grade(value: Any) -> Grade | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and value in (0, 1, 2):
        return value  # type: ignore[return-value]
    return None


def _json_candidates(text: str) -> list[Any]:
    """JSON values found in ``text``, most specific first."""
    found: list[Any] = []
    stripped = text.strip()
    try:
        found.append(json.loads(stripped))
    except (json.JSONDecodeError, ValueError):
        pass
    for block in _FENCE.findall(text):
        try:
            found.append(json.loads(block.strip()))
        except (json.JSONDecodeError, ValueError):
            pass
    decoder = json.JSONDecoder()
    for opener in ("{", "["):
        idx = text.find(opener)
        while idx >= 0:
            try:
                value, _ = decoder.raw_decode(text, idx)
            except (json.JSONDecodeError, ValueError):
                idx = text.find(opener, idx + 1)
                continue
            found.append(value)
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
    matches = list(_GRADE_LINE.finditer(text))
    if not matches:
        return None
    out: list[Grade | None] = [None] * n
    explicit = [m for m in matches if m.group("rank")]
    use_rank = len(explicit) == len(matches) and all(1 <= int(m.group("rank")) <= n for m in matches)
    for pos, m in enumerate(matches):
        slot = int(m.group("rank")) - 1 if use_rank else pos
        if 0 <= slot < n and out[slot] is None:
            out[slot] = _as_grade(m.group("grade"))
    return out


def parse_grades(content: str | None, n_answers: int) -> list[Grade | None]:
    """One grade (or ``None``) per answer from a judge reply.

    Raises :class:`VerdictParseError` when the reply is empty or has no recognisable grade at all.
    """
    if n_answers < 1:
        raise ValueError("parse_grades needs at least one answer")
    if content is None or not content.strip():
        raise VerdictParseError("empty reply")
    for value in _json_candidates(content):
        grades = _grades_from_json(value, n_answers)
        if grades is not None and any(g is not None for g in grades):
            return grades
    grades = _grades_from_lines(content, n_answers)
    if grades is not None and any(g is not None for g in grades):
        return grades
    snippet = content.strip().replace("\n", " ")[:120]
    raise VerdictParseError(f"no grade in reply: {snippet!r}")
