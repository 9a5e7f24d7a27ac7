"""One completion through the general path: :func:`prepare` (parse, language, decide) before the judge,
:func:`finish` (merge the judge, weigh the components, ``Score.details``) after it.

The fast path (:mod:`.fastpath`) fills the same columns for the common shapes; the batch checks the two
agree whenever a ``Score`` is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from medzero_rewards.judge.types import JudgeVerdict
from medzero_rewards.parsing import ParsedCompletion, count_tokens, parse_completion
from medzero_rewards.types import Row, Score, Status, Tier

from .decide import CORRECT_TIERS, Decision
from .extract import seed_answer
from .gold import GoldSet

if TYPE_CHECKING:
    from .scorer import DiagnosisScorer

__all__ = ["Item", "error_score", "finish", "new_score", "prepare", "row"]

_SCORE_FIELDS = frozenset(Score.model_fields)
_FAST_CONSTRUCT = not Score.__pydantic_post_init__ and not Score.__private_attributes__


def new_score(values: dict[str, Any]) -> Score:
    """A :class:`Score` from values that are already valid and complete (every field given).

    What ``Score.model_construct`` does, minus its per-field default/alias handling, which costs
    more than the rest of the hot path; falls back to ``model_construct`` if Score ever grows
    private attributes or a post-init hook.
    """
    if not _FAST_CONSTRUCT:
        return Score.model_construct(**values)
    s = Score.__new__(Score)
    object.__setattr__(s, "__dict__", values)
    object.__setattr__(s, "__pydantic_fields_set__", set(_SCORE_FIELDS))
    object.__setattr__(s, "__pydantic_extra__", None)
    object.__setattr__(s, "__pydantic_private__", None)
    return s


def error_score(why: str) -> Score:
    """The defined result of an item that could not be scored: ``Status.error``, reward 0.

    >>> error_score("reference has no gold name").status.value
    'error'
    """
    return new_score({
        "reward": 0.0, "correct": False, "components": {"format": 0.0, "accuracy": 0.0, "language": 0.0},
        "extracted": None, "tier": Tier.none, "status": Status.error, "reason": why, "details": {},
    })  # fmt: skip


@dataclass(slots=True)
class Item:
    """Per-completion working state inside ``score_batch``."""

    gold: GoldSet | None
    answer: str | None
    answers: list[str]
    decisions: list[Decision]
    status: Status
    reason: str
    tier: Tier
    parsed: ParsedCompletion
    mixed_in: list[str]
    format_credit: float
    language_penalty: float
    verdict: JudgeVerdict | None = None

    @property
    def decided_correct(self) -> bool:
        """The deterministic verdict: the first decision is an ok exact/synonym match."""
        return self.status is Status.ok and bool(self.decisions) and self.tier in CORRECT_TIERS


def prepare(s: DiagnosisScorer, completion: Any, reference: Any, gold: GoldSet | str | None = None) -> Item:
    """Parse, check the language and decide one item (``gold``: the reference's gold set, if known)."""
    cfg = s.config
    if isinstance(completion, str) and len(completion) > cfg.max_completion_chars:
        return _too_long(s, completion, reference, gold)
    p = parse_completion(completion, think_prefilled=cfg.think_prefilled)
    if s.zero:
        answer = seed_answer(p.text) if p.text else None
        format_credit = 0.0 if answer is None else 1.0
        answer = None if answer is None else answer.strip()
    else:
        answer = p.answer
        format_credit = p.format_score
    mixed_in: list[str] = []
    penalty = 0.0
    if not (s.latin and p.text.isascii()):  # fast path: ASCII text is never mixed for Latin
        parts = (("think", p.think), ("answer", p.answer), ("after_answer", p.after_answer))
        mixed_in, share = s.language(parts)
        if p.think_span is None and p.text:
            # no think block: check the whole completion so mixing outside the tags is not missed
            extra, s2 = s.language((("completion", p.text),))
            if extra and not mixed_in:
                mixed_in, share = extra, s2
        penalty = (share if cfg.language_penalty == "share" else 1.0) if mixed_in else 0.0
    item = Item(None, answer, [], [], Status.ok, "", Tier.none, p, mixed_in, format_credit, penalty)

    gold_or_why = s.golds.for_record(reference) if gold is None else gold
    if isinstance(gold_or_why, str):
        item.status, item.reason = Status.error, gold_or_why
        item.format_credit = 0.0
        return item
    item.gold = gold = gold_or_why

    if answer is None:
        item.status = Status.format_error
        item.reason = f"no answer extracted: {p.format_reason or 'no <answer> block'}"
        return item
    if not answer:
        item.status, item.reason = Status.empty, "empty answer"
        return item
    if len(answer) > cfg.max_answer_chars:
        item.status = Status.format_error
        item.reason = answer_too_long(len(answer), cfg.max_answer_chars)
        return item

    decider = s.decider
    if s.ranked_mode:
        item.answers = decider.ranked(answer)
        if not item.answers:
            item.status, item.reason = Status.empty, "no diagnosis in the ranked list"
            return item
        item.decisions = [decider.match(a, gold, check_hacking=False) for a in item.answers]
    else:
        item.answers = [answer]
        item.decisions = [decider.match(answer, gold, check_hacking=True)]
    first = item.decisions[0]
    item.tier, item.status, item.reason = first.tier, first.status, first.reason
    if s.ranked_mode:
        hit = next((i for i, d in enumerate(item.decisions) if d.tier in CORRECT_TIERS), None)
        if hit is not None and hit > 0:
            item.reason = f"top-1 missed ({first.reason}); rank {hit + 1} matches {item.decisions[hit].matched!r}"
    return item


def answer_too_long(n: int, cap: int) -> str:
    """The reason given to an answer longer than ``max_answer_chars``."""
    return f"answer of {n} characters exceeds max_answer_chars={cap}: not read as a diagnosis"


def completion_too_long(n: int, cap: int) -> str:
    """The reason given to a completion longer than ``max_completion_chars``."""
    return f"completion of {n} characters exceeds max_completion_chars={cap}: not parsed, reward 0"


def _too_long(s: DiagnosisScorer, completion: str, reference: Any, gold: GoldSet | str | None) -> Item:
    """A completion over ``max_completion_chars``: not parsed; ``format_error`` with no credit at all."""
    p = parse_completion(None)
    p.n_chars = len(completion)
    p.format_reason = completion_too_long(len(completion), s.config.max_completion_chars)
    item = Item(None, None, [], [], Status.format_error, p.format_reason, Tier.none, p, [], 0.0, 0.0)
    gold_or_why = s.golds.for_record(reference) if gold is None else gold
    if isinstance(gold_or_why, str):
        item.status, item.reason = Status.error, gold_or_why
    else:
        item.gold = gold_or_why
    return item


def details(s: DiagnosisScorer, item: Item) -> dict[str, Any]:
    """``Score.details`` of an item before the judge (see the package docstring for the keys)."""
    p = item.parsed
    first = item.decisions[0] if item.decisions else None
    tokenizer = s.config.tokenizer
    out: dict[str, Any] = {
        "format_ok": p.format_ok,
        "format_score": p.format_score,
        "format_reason": p.format_reason,
        "tags": p.tags.as_dict(),
        "n_chars": p.n_chars,
        "n_tokens": count_tokens(p.text, tokenizer) if tokenizer is not None else None,
        "mixed_language": bool(item.mixed_in),
        "mixed_in": item.mixed_in,
        "answers": item.answers,
        "top1": first is not None and first.correct,
        "hypernym": first is not None and first.tier is Tier.hypernym,
        "match_score": first.score if first is not None else 0.0,
        "matched_name": first.matched if first is not None else None,
    }
    if s.ranked_mode:
        out["top5"] = any(d.tier in CORRECT_TIERS for d in item.decisions)
    return out


def components(s: DiagnosisScorer, item: Item, credited: bool) -> tuple[float, float, float]:
    """(format, accuracy, language): the weighted parts of the item's reward."""
    if item.status is Status.error:
        return 0.0, 0.0, 0.0
    w = s.weights
    return (w["format"] * item.format_credit, w["accuracy"] if credited else 0.0,
            -w["language"] * item.language_penalty if w["language"] else 0.0)  # fmt: skip


def row(s: DiagnosisScorer, item: Item) -> Row:
    """The columns :func:`finish` gives an item that went to no judge, without building its Score."""
    correct = item.decided_correct
    fmt, acc, lang = components(s, item, correct)
    return fmt + acc + lang, correct, item.answer, item.tier, item.status, (fmt, acc, lang)


def finish(s: DiagnosisScorer, item: Item) -> Score:
    """The item's :class:`Score`: the judge's grades merged (when it was sent), details filled."""
    out = details(s, item)
    status, reason, tier = item.status, item.reason, item.tier
    det_correct = item.decided_correct
    correct = det_correct
    judged_tiers: list[Tier] | None = None
    v = item.verdict
    if v is not None:
        tiers, missing = s.cascade.final_tiers(item)
        grades = list(v.grades)
        out["judge_grade"] = grades[0] if grades else None
        out["judge_grades"] = grades
        out["judge_status"] = v.status
        out["judge_calls"] = v.calls
        out["judge_cached"] = v.cached
        out["tokens_in"] = v.tokens_in
        out["tokens_out"] = v.tokens_out
        out["deterministic_tier"] = item.tier.value
        if missing or v.status != "judged":
            status, correct = Status.unjudged, False
            reason = f"judge gave no usable verdict ({v.reason or v.status}); deterministic: {item.reason}"
        else:
            judged_tiers = tiers
            tier = tiers[0]
            correct = tier in CORRECT_TIERS
            if tier is not item.tier:
                reason = f"judge grade {out['judge_grade']}: {tier.value} (deterministic: {item.reason})"
    if s.judge is not None and status is not Status.error:
        out["top1_judged"] = correct
        if s.ranked_mode:
            if judged_tiers is not None:
                out["top5_judged"] = any(t in CORRECT_TIERS for t in judged_tiers)
            else:
                out["top5_judged"] = bool(out.get("top5")) and status is Status.ok
    # an unjudged item is rewarded by its deterministic decision (uncertain -> no accuracy credit)
    fmt, acc, lang = components(s, item, det_correct if status is Status.unjudged else correct)
    return new_score({
        "reward": fmt + acc + lang,
        "correct": correct,
        "components": {"format": fmt, "accuracy": acc, "language": lang},
        "extracted": item.answer,
        "tier": tier,
        "status": status,
        "reason": reason,
        "details": out,
    })  # fmt: skip
