"""The GRPO hot path: a batch's columns for the common shapes, without building ``Score`` objects.

:func:`fast_rows` scores an item with a usable gold record whose completion is in strict format
(:func:`~medzero_rewards.parsing.strict_spans`: format credit 1, one answer block, which the
``diagnosis_zero`` extraction finds too; the language check runs on each non-ASCII one) or is ASCII
(never mixed for Latin: only the answer and format credit are needed,
:func:`~medzero_rewards.parsing.answer_and_format_score`). It makes the same decisions as
:func:`.item.prepare` + :func:`.item.finish`, which score every other item (and build every Score,
which ``ScoreBatch`` checks against these rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from medzero_rewards.parsing import answer_and_format_score, strict_spans
from medzero_rewards.types import Row, Status, Tier

from .extract import seed_answer
from .gold import GoldSet

if TYPE_CHECKING:
    from .scorer import DiagnosisScorer

__all__ = ["fast_rows"]

_NO_REFERENCE = object()  # "no reference seen yet" (None is a reference value, scored as an error)


def fast_rows(
    s: DiagnosisScorer, completions: Sequence[Any], references: Sequence[Any]
) -> tuple[list[Row | None], list[GoldSet | str]]:
    """(The columns of every item the fast path can score, None for the others; every item's gold
    set, or why there is none).

    >>> from medzero_rewards.diagnosis import DiagnosisScorer
    >>> rows, golds = fast_rows(DiagnosisScorer(), ["<think>a</think><answer>Fabry disease</answer>", None],
    ...                         [{"diagnosis": "Fabry disease"}] * 2)
    >>> rows[0][:2], rows[1], golds[0].names
    ((1.2, True), None, ('Fabry disease',))
    """
    w = s.weights
    w_format, w_accuracy, w_language = w["format"], w["accuracy"], w["language"]
    share = s.config.language_penalty == "share"
    prefill, latin, zero = s.config.think_prefilled, s.latin, s.zero
    decider, language, gold_for = s.decider, s.language, s.golds.for_record
    match, cached = decider.match, decider.decisions.get  # bound once: the cache is a dict subclass
    no_penalty = -w_language * 0.0 if w_language else 0.0  # what components() gives a penalty of 0
    max_completion, max_answer = s.config.max_completion_chars, s.config.max_answer_chars
    no_format = w_format * 0.0
    rows: list[Row | None] = []
    append = rows.append
    last_ref: Any = _NO_REFERENCE
    last_gold: GoldSet | str = ""
    golds: list[GoldSet | str] = []
    for text, ref in zip(completions, references):
        if ref is not last_ref:  # GRPO groups share one reference record
            last_gold, last_ref = gold_for(ref), ref
        gold = last_gold
        golds.append(gold)
        if text.__class__ is not str or gold.__class__ is str:
            append(None)
            continue
        if len(text) > max_completion:  # not parsed (item.completion_too_long)
            append((no_format + 0.0 + no_penalty, False, None, Tier.none, Status.format_error,
                    (no_format, 0.0, no_penalty)))  # fmt: skip
            continue
        plain = latin and text.isascii()
        spans = strict_spans(text, think_prefilled=prefill)
        answer: str | None
        penalty = 0.0
        if spans is not None:
            answer, credit = text[spans[2] : spans[3]].strip(), 1.0
            if not plain:
                think = text[spans[0] : spans[1]].strip()
                mixed_in, mix_share = language((("think", think), ("answer", answer), ("after_answer", "")))
                penalty = (mix_share if share else 1.0) if mixed_in else 0.0
        elif plain:
            if zero:
                answer = seed_answer(text)
                answer, credit = (None, 0.0) if answer is None else (answer.strip(), 1.0)
            else:
                answer, credit = answer_and_format_score(text, think_prefilled=prefill)
        else:
            append(None)
            continue
        fmt = w_format * credit
        lang = (-w_language * penalty if w_language else 0.0) if penalty else no_penalty
        if not answer or len(answer) > max_answer:  # none, empty, or not read (item.answer_too_long)
            status = Status.empty if answer is not None and not answer else Status.format_error
            append((fmt + 0.0 + lang, False, answer, Tier.none, status, (fmt, 0.0, lang)))
            continue
        d = cached((answer, gold.uid, True)) or match(answer, gold, check_hacking=True)  # type: ignore[union-attr]
        accuracy = w_accuracy if d.correct else 0.0
        append((fmt + accuracy + lang, d.correct, answer, d.tier, d.status, (fmt, accuracy, lang)))
    return rows, golds
