"""Prompt templates: the single source of truth for the lm-eval tasks and the GRPO datasets.

Each builder returns chat messages (``[{"role": ..., "content": ...}]``). lm-eval tasks render them
with ``--apply_chat_template`` (via :func:`as_text` for the user turn) and training datasets store
them as TRL's conversational ``prompt`` column, so both see the same words.
"""

from __future__ import annotations

from typing import Literal

Message = dict[str, str]
DiagnosisStyle = Literal["r1", "top5"]

EHRSQL_NOW = "2100-12-31 23:59:00"
ABSTAIN_TOKEN = "null"

_R1_SYSTEM = (
    "You are a physician specialising in rare diseases. First think the case through inside "
    "<think> </think> tags: weigh the findings, consider alternatives and rule them out. Then give "
    "your single most likely diagnosis, as a disease name only, inside <answer> </answer> tags. "
    "Format: <think> reasoning </think><answer> disease name </answer>"
)
_TOP5_SYSTEM = (
    "You are a physician specialising in rare diseases. First think the case through inside "
    "<think> </think> tags. Then, inside <answer> </answer> tags, list the five most likely "
    "diagnoses, most likely first, one per line, numbered 1 to 5, disease names only."
)
_EHRSQL_SYSTEM = (
    "You translate clinicians' questions into SQLite queries over a MIMIC-IV database. Think inside "
    "<think> </think> tags, then write exactly one SQLite query inside <answer> </answer> tags. "
    f"If the question cannot be answered from this database, write {ABSTAIN_TOKEN} inside the answer tags "
    "instead of a query."
)


def diagnosis_messages(case_text: str, style: DiagnosisStyle = "r1") -> list[Message]:
    """Chat messages asking for a diagnosis of ``case_text`` (``r1``: one answer; ``top5``: ranked list).

    >>> diagnosis_messages("Phenotypes: Seizure", "r1")[1]["content"].startswith("Patient case:")
    True
    """
    system = _R1_SYSTEM if style == "r1" else _TOP5_SYSTEM
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": f"Patient case:\n{case_text.strip()}\n\nWhat is the diagnosis?"},
    ]


def ehrsql_messages(question: str, schema_text: str, now: str = EHRSQL_NOW) -> list[Message]:
    """Chat messages asking for the SQLite query that answers ``question`` over ``schema_text``.

    >>> "2100-12-31 23:59:00" in ehrsql_messages("How many patients?", "patients(subject_id)")[1]["content"]
    True
    """
    user = (
        f"Database schema:\n{schema_text.strip()}\n\n"
        f"Assume the current time is {now}.\n\nQuestion: {question.strip()}"
    )
    return [{"role": "system", "content": _EHRSQL_SYSTEM}, {"role": "user", "content": user}]


def as_text(messages: list[Message]) -> str:
    """Flatten chat messages into one plain prompt (for models or harness paths without chat templates)."""
    return "\n\n".join(m["content"] for m in messages)
