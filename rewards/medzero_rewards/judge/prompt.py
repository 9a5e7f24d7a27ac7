"""medzero's own judge prompt for the 2/1/0 diagnosis rubric, and its JSON response schema.

The user message carries the reference names and the answers as a JSON block, so the judge sees
unambiguous boundaries between names (a disease name may contain commas or "and") and so that a
test server can read the request back. Changing any wording here must bump :data:`PROMPT_VERSION`,
which is part of every cache key.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

PROMPT_VERSION = "medzero-judge-v1"

SYSTEM_PROMPT = """\
You are a clinical terminology expert checking candidate diagnoses against a known correct diagnosis of a rare disease.

For every candidate, give one grade:
- 2: the candidate names the same disease as one of the reference names. Accept synonyms, eponyms, abbreviations, alternative spellings, other languages and older or newer names of that disease (for example an eponym and the descriptive name of the same condition).
- 1: the candidate is not the same disease but is a broader disease group that contains it. A candidate that matches one of the listed broader categories earns 1; other groups qualify only if they clearly include the reference disease and are specific (a group of at most about ten diseases). Vague labels such as "genetic disorder", "metabolic disease" or "syndrome" earn 0.
- 0: anything else, including a different disease, a narrower subtype that the reference does not imply, a related but distinct condition, a symptom or finding, a gene name alone, or text that names no disease.

Grade each candidate on its own, ignoring the other candidates and their order. Do not reward a candidate for being close, plausible or in the same organ system. Reply with JSON only."""

USER_TEMPLATE = """\
Grade each candidate diagnosis. Input:
```json
{payload}
```
Reply with exactly this JSON shape, one entry per candidate, in rank order:
{{"grades": [{{"rank": 1, "grade": 0}}]}}"""

RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "grades": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "rank": {"type": "integer"},
                    "grade": {"type": "integer", "enum": [0, 1, 2]},
                },
                "required": ["rank", "grade"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["grades"],
    "additionalProperties": False,
}

RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "medzero_diagnosis_grades", "strict": True, "schema": RESPONSE_SCHEMA},
}


def build_payload(answers: Sequence[str], gold_names: Sequence[str], broader_names: Sequence[str]) -> dict[str, Any]:
    """The machine-readable block inside the user message."""
    return {
        "reference_names": list(gold_names),
        "broader_categories": list(broader_names),
        "candidates": [{"rank": i + 1, "diagnosis": a} for i, a in enumerate(answers)],
    }


def build_messages(
    answers: Sequence[str], gold_names: Sequence[str], broader_names: Sequence[str] = ()
) -> list[dict[str, str]]:
    """Chat messages asking for one grade per answer (one call for a whole ranked list)."""
    payload = json.dumps(build_payload(answers, gold_names, broader_names), ensure_ascii=False, indent=1)
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": USER_TEMPLATE.format(payload=payload)},
    ]


def extract_payload(user_message: str) -> dict[str, Any] | None:
    """Inverse of :func:`build_messages` for the user message (used by test servers and debugging)."""
    start = user_message.find("```json")
    if start < 0:
        return None
    end = user_message.find("```", start + 7)
    if end < 0:
        return None
    try:
        data = json.loads(user_message[start + 7 : end])
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def estimate_tokens(messages: Sequence[dict[str, str]]) -> int:
    """A cheap prompt-token estimate (~4 characters per token) for tokens-per-minute limiting."""
    chars = sum(len(m.get("content", "")) for m in messages)
    return chars // 4 + 4 * len(messages)
