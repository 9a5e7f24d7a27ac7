"""The RareArena diagnosis scorer (``get_scorer("rarearena_rdc" | "rarearena_rds")``).

One code path for the GRPO reward and the lm-eval metric. Per completion:

1. :func:`~medzero_rewards.parsing.parse_completion` gives the answer, tag counts and format credit
   (preset ``diagnosis_zero`` instead extracts the first ``<answer>(.*?)</answer>`` like the seed);
2. the answer is compared with every gold name (record ``diagnosis``, ``Orpha_name``, its
   ``synonyms`` and the user's synonym table) by :func:`~medzero_rewards.matching.compare_keys`:
   tier ``exact`` when it matches the first gold name, ``synonym`` when it matches another;
   With a hierarchy, a fuzzy (not normalised-equal) match between two different Orphanet names is
   vetoed (``Fraser`` vs ``Frasier syndrome``);
3. with a hierarchy, an answer that matches a direct Orphanet parent of the gold with
   ``parent_disease_count <= max_parent_disease_count`` is tier ``hypernym`` (never correct);
4. single-answer mode: an answer naming several diseases (``A or B``, a list) or a negation
   (``not A``, ``A was excluded``) is ``Status.hacking`` and earns no accuracy credit; otherwise the
   answer is matched once more without labels, markdown and likelihood notes (``Diagnosis: **X**
   (most likely)``); similar-but-unsure pairs are ``uncertain`` (not correct; the judge decides if
   one is configured);
5. with a judge, :meth:`DiagnosisScorer.score_batch` sends the items that need it in one
   ``judge_many`` call and merges the grades (2 -> synonym/correct, 1 -> hypernym, 0 -> none).
   ``judge_misses`` also sends answers decided ``none``; a ``hypernym`` decided by the hierarchy is
   never sent (it is grade 1 already) except in ``judge_mode="always"``, which only reports its grade.

Reward (``Score.components`` holds each weighted component, ``Score.reward`` their sum):

* ``recommended`` (default): ``format = w_format * format_score`` (parser's partial credit),
  ``accuracy = w_accuracy * correct``, ``language = -w_language * penalty`` where penalty is 1 when
  the completion mixes scripts (``language_penalty="binary"``) or the largest foreign-letter share of
  its parts (``"share"``). Default weights ``{"format": 0.2, "accuracy": 1.0, "language": 0.0}``.
* ``diagnosis_zero``: the seed's reward shape and extraction, exactly: 1.0 when matched, 0.1 when an
  answer was extracted (``<answer>(.*?)</answer>``, first match, DOTALL; an empty answer counts as
  extracted, as in the seed) but wrong, 0 when none was extracted. "Matched" is this module's
  decision (exact/synonym), not the seed's difflib similarity. Components ``format = 0.1 * extracted``
  and ``accuracy = 0.9 * correct`` (plus ``language``, 0 by default).

Items that could not be scored get a defined result, never an exception: missing/blank gold ->
``Status.error``, reward 0; no answer -> ``Status.format_error`` (format credit only); an empty answer
-> ``Status.empty``; an unusable judge verdict -> ``Status.unjudged`` with ``correct=False``, flagged,
and the reward of the deterministic decision (an ``uncertain`` item therefore earns no accuracy).

``Score.details`` keys (stable; lm-eval metrics and TRL logging read them):

``format_ok``, ``format_score``, ``format_reason``, ``tags`` (dict of 4 tag counts), ``n_chars``,
``n_tokens`` (None without a tokenizer), ``mixed_language``, ``mixed_in`` (parts among
"think"/"answer"/"after_answer", or "completion" when there is no think block), ``answers`` (the answer list used; one item in single mode),
``top1``, ``top5`` (ranked mode only: a match among the first ``k`` items, k=5 by default), ``hypernym``, ``match_score`` (0-100), ``matched_name``;
with a judge configured also ``top1_judged`` (and ``top5_judged`` in ranked mode) and, on judged items,
``judge_grade``, ``judge_grades``, ``judge_status``, ``judge_calls``, ``judge_cached``, ``tokens_in``,
``tokens_out`` and ``deterministic_tier``. ``top1``/``top5``/``hypernym`` are the deterministic
decisions; ``Score.correct``/``Score.tier`` are final (after the judge).
"""

from __future__ import annotations

import gc
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from medzero_rewards.base import Scorer
from medzero_rewards.hierarchy import OrphanetHierarchy, load_hierarchy
from medzero_rewards.judge.types import JudgeRequest, JudgeVerdict, SynonymJudge
from medzero_rewards.language import foreign_letter_count, language_mixing
from medzero_rewards.matching import DEFAULT_HI, DEFAULT_LO, NameMatch, compare_keys
from medzero_rewards.normalize import NameKey, analyze_name
from medzero_rewards.parsing import (
    ParsedCompletion,
    answer_and_format_score,
    count_tokens,
    is_negated,
    parse_completion,
    parse_ranked_list,
    split_candidates,
    strict_spans,
)
from medzero_rewards.synonyms import SynonymTable, build_synonym_table
from medzero_rewards.types import Row, Score, ScoreBatch, Status, Tier

__all__ = [
    "DEFAULT_WEIGHTS",
    "DiagnosisConfig",
    "DiagnosisScorer",
    "UnjudgedError",
    "make_rarearena_rdc",
    "make_rarearena_rds",
]

DEFAULT_WEIGHTS: dict[str, dict[str, float]] = {
    "recommended": {"format": 0.2, "accuracy": 1.0, "language": 0.0},
    "diagnosis_zero": {"format": 0.1, "accuracy": 0.9, "language": 0.0},
}
"""Component weights per preset; ``weights=`` overrides individual keys."""

_SEED_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_GRADE_TIER = {2: Tier.synonym, 1: Tier.hypernym, 0: Tier.none}
_TIER_GRADE = {Tier.exact: 2, Tier.synonym: 2, Tier.hypernym: 1, Tier.none: 0}
_CORRECT = (Tier.exact, Tier.synonym)
_NO_REFERENCE = object()  # "no reference seen yet" (None is a reference value, scored as an error)
_MIN_FOREIGN = 2  # foreign letters that make a part "mixed" (language_mixing's default min_chars)


_SCORE_FIELDS = frozenset(Score.model_fields)
_FAST_CONSTRUCT = not Score.__pydantic_post_init__ and not Score.__private_attributes__


def _new_score(values: dict[str, Any]) -> Score:
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


class UnjudgedError(RuntimeError):
    """More items than ``max_unjudged_share`` needed the judge but got no usable verdict."""


class DiagnosisConfig(BaseModel):
    """Configuration of :class:`DiagnosisScorer` (also accepted as keyword arguments to ``get_scorer``).

    >>> DiagnosisConfig(answer_format="ranked").k
    5
    >>> DiagnosisConfig(judge=None).judge_mode
    'never'
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    answer_format: Literal["single", "ranked"] = "single"
    k: int = Field(5, ge=1, description="ranked mode: how many items count for top-k")
    preset: Literal["recommended", "diagnosis_zero"] = "recommended"
    weights: dict[str, float] | None = Field(None, description="overrides of DEFAULT_WEIGHTS[preset]")
    hierarchy_path: Path | None = Field(None, description="orphanet_hypernym.json-format file")
    max_parent_disease_count: int = Field(10, ge=0)
    synonyms: Any = Field(None, description="mapping, list of groups, JSON/TSV path or SynonymTable")
    expected_script: str = "Latin"
    language_penalty: Literal["binary", "share"] = "binary"
    think_prefilled: bool | None = None
    tokenizer: Any = None
    fuzzy_hi: float = Field(DEFAULT_HI, ge=0, le=100)
    fuzzy_lo: float = Field(DEFAULT_LO, ge=0, le=100)
    judge: Any = Field(None, description="a SynonymJudge, or a JudgeConfig / mapping / model name")
    judge_mode: Literal["never", "fallback", "always"] | None = None
    judge_misses: bool = False
    max_unjudged_share: float = Field(0.05, ge=0, le=1)

    @field_validator("weights")
    @classmethod
    def _known_weights(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is not None:
            unknown = set(v) - {"format", "accuracy", "language"}
            if unknown:
                raise ValueError(f"unknown weight(s) {sorted(unknown)}; use format, accuracy, language")
        return v

    @model_validator(mode="after")
    def _check(self) -> DiagnosisConfig:
        if self.fuzzy_lo > self.fuzzy_hi:
            raise ValueError(f"fuzzy_lo ({self.fuzzy_lo}) must not exceed fuzzy_hi ({self.fuzzy_hi})")
        if self.judge_mode is None:
            self.judge_mode = "never" if self.judge is None else "fallback"
        language_mixing("", self.expected_script)  # ValueError for an unknown script
        return self

    def resolved_weights(self) -> dict[str, float]:
        """The preset's weights with ``weights`` overrides applied."""
        return {**DEFAULT_WEIGHTS[self.preset], **(self.weights or {})}


@dataclass(frozen=True, slots=True)
class _Gold:
    """The reference names of one record, normalised once."""

    uid: int
    names: tuple[str, ...]  # diagnosis first, then Orpha_name, record synonyms, table synonyms
    keys: tuple[NameKey, ...]
    broader: tuple[str, ...]
    broader_keys: tuple[NameKey, ...]
    keep: frozenset[str]  # for split_candidates: gold names never split
    splittable: bool  # some gold name would itself be split ("Familial or sporadic ..."): pass keep


@dataclass(frozen=True, slots=True)
class _Decision:
    """Deterministic verdict for one answer string against one gold set."""

    tier: Tier
    status: Status
    reason: str
    score: float
    matched: str | None
    correct: bool = field(init=False)  # an ok exact/synonym match: what earns the accuracy component

    def __post_init__(self) -> None:
        object.__setattr__(self, "correct", self.status is Status.ok and self.tier in _CORRECT)


@dataclass(slots=True)
class _Item:
    """Per-completion working state inside score_batch."""

    gold: _Gold | None
    answer: str | None
    answers: list[str]
    decisions: list[_Decision]
    status: Status
    reason: str
    tier: Tier
    parsed: ParsedCompletion
    mixed_in: list[str]
    format_credit: float
    language_penalty: float
    verdict: JudgeVerdict | None = None


def _names_from_record(reference: Any) -> tuple[tuple[str, ...], str | None] | str:
    """(gold names, Orpha_id) from a RareArena record, or a reason string when unusable."""
    if not isinstance(reference, Mapping):
        return f"reference is not a mapping: {type(reference).__name__}"
    names: list[str] = []
    for field in ("diagnosis", "Orpha_name"):
        v = reference.get(field)
        if isinstance(v, str) and v.strip():
            names.append(v.strip())
    syns = reference.get("synonyms")
    if isinstance(syns, str):
        syns = [syns]
    if isinstance(syns, Sequence):
        names.extend(s.strip() for s in syns if isinstance(s, str) and s.strip())
    if not names:
        return "reference has no gold name (diagnosis / Orpha_name missing or blank)"
    oid = reference.get("Orpha_id")
    return tuple(names), (str(oid).strip() if oid is not None and str(oid).strip() else None)


class DiagnosisScorer(Scorer):
    """Scores RareArena diagnosis completions (see the module docstring for the rules).

    >>> s = DiagnosisScorer()
    >>> r = s.score("<think>copper</think><answer>Wilson's disease</answer>", {"diagnosis": "Wilson disease"})
    >>> r.correct, r.tier.value, r.reward, r.components
    (True, 'exact', 1.2, {'format': 0.2, 'accuracy': 1.0, 'language': 0.0})
    >>> s.score("<think>x</think><answer>Wilson disease or Menkes disease</answer>",
    ...         {"diagnosis": "Wilson disease"}).status.value
    'hacking'
    """

    component_names: tuple[str, ...] = ("format", "accuracy", "language")

    def __init__(self, config: DiagnosisConfig | None = None, *, name: str = "rarearena_rdc", **kwargs: Any):
        if config is None:
            config = DiagnosisConfig(**kwargs)
        elif kwargs:
            config = DiagnosisConfig(**{**dict(config), **kwargs})
        self.config = config
        self.name = name
        self.weights = config.resolved_weights()
        self.hierarchy: OrphanetHierarchy | None = (
            load_hierarchy(config.hierarchy_path) if config.hierarchy_path is not None else None
        )
        self.synonym_table: SynonymTable | None = build_synonym_table(config.synonyms)
        self.judge: SynonymJudge | None = self._build_judge(config.judge)
        self._next_uid = 0
        self._gold_cache: dict[tuple[tuple[str, ...], str | None], _Gold] = {}
        self._decision_cache: dict[tuple[str, int, bool], _Decision] = {}
        self._ranked_cache: dict[str, list[str]] = {}
        self._gold_by_record: dict[tuple[Any, ...], _Gold] = {}
        self._split_cache: dict[str, list[str]] = {}
        self._latin = config.expected_script == "Latin"
        self._zero = config.preset == "diagnosis_zero"
        self._ranked_mode = config.answer_format == "ranked"
        self._prefill = config.think_prefilled
        self._tokenizer = config.tokenizer

    @staticmethod
    def _build_judge(judge: Any) -> SynonymJudge | None:
        if judge is None:
            return None
        if callable(getattr(judge, "judge_many", None)):
            return judge  # type: ignore[no-any-return]
        from medzero_rewards.judge import build_judge  # lazy: only when a config is given

        return build_judge(judge)

    # ------------------------------------------------------------------ reference names
    def _gold(self, names: tuple[str, ...], orpha_id: str | None) -> _Gold:
        cache_key = (names, orpha_id)
        g = self._gold_cache.get(cache_key)
        if g is not None:
            return g
        all_names = list(names)
        if self.synonym_table is not None:
            all_names.extend(self.synonym_table.synonyms_of(names))
        uniq: dict[str, str] = {}
        for n in all_names:
            k = analyze_name(n)
            if k.text and k.text not in uniq:
                uniq[k.text] = n
        broader: list[str] = []
        if self.hierarchy is not None:
            broader = self.hierarchy.broader_names(
                list(uniq.values()), orpha_id, max_parent_disease_count=self.config.max_parent_disease_count
            )
        self._next_uid += 1
        g = _Gold(
            uid=self._next_uid,
            names=tuple(uniq.values()),
            keys=tuple(analyze_name(n) for n in uniq.values()),
            broader=tuple(broader),
            broader_keys=tuple(analyze_name(b) for b in broader),
            keep=frozenset(n.casefold() for n in uniq.values()),
            splittable=any(len(split_candidates(n)) > 1 for n in uniq.values()),
        )
        if len(self._gold_cache) > 50_000:
            self._gold_cache.clear()
        self._gold_cache[cache_key] = g
        return g

    def _gold_for(self, reference: Any) -> _Gold | str:
        """The record's gold set (cached per distinct record values), or why there is none."""
        key: tuple[Any, ...] | None
        try:
            syn = reference.get("synonyms")
            key = (reference.get("diagnosis"), reference.get("Orpha_name"), reference.get("Orpha_id"),
                   tuple(syn) if isinstance(syn, list) else syn)  # fmt: skip
            g = self._gold_by_record.get(key)
        except (AttributeError, TypeError):  # not a mapping, or unhashable values: the slow path
            key, g = None, None
        if g is None:
            parsed = _names_from_record(reference)
            if isinstance(parsed, str):
                return parsed
            g = self._gold(*parsed)
            if key is not None:
                if len(self._gold_by_record) > 50_000:
                    self._gold_by_record.clear()
                self._gold_by_record[key] = g
        return g

    # ------------------------------------------------------------------ matching
    def _match(self, answer: str, gold: _Gold, *, check_hacking: bool) -> _Decision:
        cache_key = (answer, gold.uid, check_hacking)
        d = self._decision_cache.get(cache_key)
        if d is None:
            d = self._decide(answer, gold, check_hacking)
            if len(self._decision_cache) > 200_000:
                self._decision_cache.clear()
            self._decision_cache[cache_key] = d
        return d

    def _against(self, akey: NameKey, gold: _Gold) -> tuple[_Decision | None, _Decision]:
        """(a match: exact / synonym / hypernym decision or None, the best non-match decision)."""
        hi, lo = self.config.fuzzy_hi, self.config.fuzzy_lo
        best_i, best = -1, None
        # A fuzzy (not normalised-equal) match between two names that are both Orphanet names is a
        # near-name sibling ("Fraser" vs "Frasier syndrome"), not a misspelling: veto it. (A gold
        # name that is free text, e.g. with a typo, is not vetoed.)
        h = self.hierarchy
        other_entity = h is not None and h.knows(akey.text)
        for i, gk in enumerate(gold.keys):
            m = compare_keys(akey, gk, hi=hi, lo=lo)
            if m.tier is Tier.exact and m.score < 100.0 and other_entity and h is not None and h.knows(gk.text):
                m = NameMatch(Tier.none, m.score, f"answer is another Orphanet entity ({m.reason})")
            if m.tier is Tier.exact:
                tier = Tier.exact if i == 0 else Tier.synonym
                why = "matches the diagnosis" if i == 0 else f"matches gold name {gold.names[i]!r}"
                d = _Decision(tier, Status.ok, f"{why} {m.reason}".strip(), m.score, gold.names[i])
                return d, d
            if best is None or (m.tier is Tier.uncertain, m.score) > (best.tier is Tier.uncertain, best.score):
                best_i, best = i, m
        for j, bk in enumerate(gold.broader_keys):
            m = compare_keys(akey, bk, hi=hi, lo=lo)
            if m.tier is Tier.exact:
                why = f"broader Orphanet group of the diagnosis: {gold.broader[j]!r}"
                d = _Decision(Tier.hypernym, Status.ok, why, m.score, gold.broader[j])
                return d, d
        assert best is not None
        matched = gold.names[best_i] if best.tier is Tier.uncertain else None
        return None, _Decision(best.tier, Status.ok, best.reason, best.score, matched)

    def _decide(self, answer: str, gold: _Gold, check_hacking: bool) -> _Decision:
        akey = analyze_name(answer)
        if not akey.text:
            return _Decision(Tier.none, Status.empty, "answer has no letters or digits", 0.0, None)
        # hypernyms are checked before hacking: group names such as "Disorder of serine or glycine
        # metabolism" contain " or "
        hit, best = self._against(akey, gold)
        if hit is not None:
            return hit
        if not check_hacking:
            return best
        cands = split_candidates(answer, keep=gold.keep) if gold.splittable else self._split(answer)
        if len(cands) > 1:
            shown = "; ".join(c[:60] for c in cands[:4])
            return _Decision(Tier.none, Status.hacking, f"{len(cands)} candidate diagnoses in one answer: {shown}",
                             0.0, None)  # fmt: skip
        if is_negated(answer):
            return _Decision(Tier.none, Status.hacking, "negated answer (says what it is not)", 0.0, None)
        # "Diagnosis: **Fabry disease** (most likely)." -> "Fabry disease": a single candidate comes
        # back from split_candidates without labels, markdown and likelihood notes
        if len(cands) == 1 and cands[0] != answer:
            ckey = analyze_name(cands[0])
            if ckey.text and ckey.text != akey.text:
                hit2, best2 = self._against(ckey, gold)
                if hit2 is not None:
                    return _Decision(hit2.tier, hit2.status, f"{hit2.reason} (after removing labels/notes)",
                                     hit2.score, hit2.matched)  # fmt: skip
                if (best2.tier is Tier.uncertain, best2.score) > (best.tier is Tier.uncertain, best.score):
                    best = best2
        return best

    def _split(self, answer: str) -> list[str]:
        """``split_candidates`` without gold protection, cached per answer (answers recur across records)."""
        cands = self._split_cache.get(answer)
        if cands is None:
            cands = split_candidates(answer)
            if len(self._split_cache) > 100_000:
                self._split_cache.clear()
            self._split_cache[answer] = cands
        return cands

    def _ranked(self, answer: str) -> list[str]:
        items = self._ranked_cache.get(answer)
        if items is None:
            items = parse_ranked_list(answer, self.config.k)
            if len(self._ranked_cache) > 100_000:
                self._ranked_cache.clear()
            self._ranked_cache[answer] = items
        return items

    # ------------------------------------------------------------------ per item, before the judge
    def _language(self, parts: tuple[tuple[str, str | None], ...]) -> tuple[list[str], float]:
        """(names of the parts that mix scripts, the largest foreign-letter share; 0.0 unless
        ``language_penalty="share"``, the only place it is used)."""
        expected = self.config.expected_script
        want_share = self.config.language_penalty == "share"
        mixed_in: list[str] = []
        share = 0.0
        for part_name, part in parts:
            if not part or (expected == "Latin" and part.isascii()):
                continue
            if want_share:
                rep = language_mixing(part, expected)
                if rep.mixed:
                    mixed_in.append(part_name)
                    share = max(share, rep.foreign_share)
            elif foreign_letter_count(part, expected) >= _MIN_FOREIGN:
                mixed_in.append(part_name)
        return mixed_in, share

    def _prepare(self, completion: Any, reference: Any, gold: _Gold | str | None = None) -> _Item:
        """Parse, check the language and decide one item (``gold``: the reference's gold set, if known)."""
        cfg = self.config
        p = parse_completion(completion, think_prefilled=self._prefill)
        if self._zero:
            m = _SEED_ANSWER_RE.search(p.text) if p.text else None
            answer = m.group(1).strip() if m else None
            format_credit = 1.0 if m else 0.0
        else:
            answer = p.answer
            format_credit = p.format_score
        mixed_in: list[str] = []
        penalty = 0.0
        if not (self._latin and p.text.isascii()):  # fast path: ASCII text is never mixed for Latin
            parts = (("think", p.think), ("answer", p.answer), ("after_answer", p.after_answer))
            mixed_in, share = self._language(parts)
            if p.think_span is None and p.text:
                # no think block: check the whole completion so mixing outside the tags is not missed
                extra, s2 = self._language((("completion", p.text),))
                if extra and not mixed_in:
                    mixed_in, share = extra, s2
            penalty = (share if cfg.language_penalty == "share" else 1.0) if mixed_in else 0.0
        item = _Item(None, answer, [], [], Status.ok, "", Tier.none, p, mixed_in, format_credit, penalty)

        gold_or_why = self._gold_for(reference) if gold is None else gold
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

        if self._ranked_mode:
            item.answers = self._ranked(answer)
            if not item.answers:
                item.status, item.reason = Status.empty, "no diagnosis in the ranked list"
                return item
            item.decisions = [self._match(a, gold, check_hacking=False) for a in item.answers]
        else:
            item.answers = [answer]
            item.decisions = [self._match(answer, gold, check_hacking=True)]
        first = item.decisions[0]
        item.tier, item.status, item.reason = first.tier, first.status, first.reason
        if self._ranked_mode:
            hit = next((i for i, d in enumerate(item.decisions) if d.tier in _CORRECT), None)
            if hit is not None and hit > 0:
                item.reason = f"top-1 missed ({first.reason}); rank {hit + 1} matches {item.decisions[hit].matched!r}"
        return item

    def _details(self, item: _Item) -> dict[str, Any]:
        """``Score.details`` of an item before the judge (see the module docstring for the keys)."""
        p = item.parsed
        first = item.decisions[0] if item.decisions else None
        details: dict[str, Any] = {
            "format_ok": p.format_ok,
            "format_score": p.format_score,
            "format_reason": p.format_reason,
            "tags": p.tags.as_dict(),
            "n_chars": p.n_chars,
            "n_tokens": count_tokens(p.text, self._tokenizer) if self._tokenizer is not None else None,
            "mixed_language": bool(item.mixed_in),
            "mixed_in": item.mixed_in,
            "answers": item.answers,
            "top1": first is not None and first.correct,
            "hypernym": first is not None and first.tier is Tier.hypernym,
            "match_score": first.score if first is not None else 0.0,
            "matched_name": first.matched if first is not None else None,
        }
        if self._ranked_mode:
            details["top5"] = any(d.tier in _CORRECT for d in item.decisions)
        return details

    # ------------------------------------------------------------------ the judge
    def _needs_judge(self, item: _Item) -> bool:
        if item.status is not Status.ok or not item.decisions:
            return False
        mode = self.config.judge_mode
        if mode == "always":
            return True
        tiers = {d.tier for d in item.decisions}
        if Tier.uncertain in tiers:
            return True
        # a hypernym is already grade 1 by the Orphanet hierarchy and keeps it (see _final_tiers):
        # only answers decided "none" are worth a call
        return self.config.judge_misses and Tier.none in tiers and not (tiers & {Tier.exact, Tier.synonym})

    def _run_judge(self, items: list[_Item]) -> None:
        if self.judge is None or self.config.judge_mode == "never":
            return
        todo = [it for it in items if self._needs_judge(it)]
        if not todo:
            return
        requests = []
        for it in todo:
            assert it.gold is not None
            requests.append(
                JudgeRequest.model_construct(
                    answers=list(it.answers), gold_names=list(it.gold.names), broader_names=list(it.gold.broader)
                )
            )
        try:
            verdicts = list(self.judge.judge_many(requests))
        except Exception as e:  # the judge must not take the batch down: flag every item instead
            verdicts = [JudgeVerdict(grades=[None] * len(r.answers), status="unjudged", reason=f"judge failed: {e!r}")
                        for r in requests]  # fmt: skip
        if len(verdicts) != len(todo):
            reason = f"judge returned {len(verdicts)} verdicts for {len(todo)} requests"
            verdicts = [JudgeVerdict(grades=[None] * len(r.answers), status="unjudged", reason=reason)
                        for r in requests]  # fmt: skip
        for it, v in zip(todo, verdicts):
            it.verdict = v

    def _final_tiers(self, item: _Item) -> tuple[list[Tier], bool]:
        """Per-answer tiers after merging the judge, and whether any needed grade was missing."""
        v = item.verdict
        tiers = [d.tier for d in item.decisions]
        if v is None:
            return tiers, False
        grades = list(v.grades) if v.status == "judged" else []
        grades += [None] * (len(tiers) - len(grades))
        always = self.config.judge_mode == "always"
        missing = False
        for i, d in enumerate(item.decisions):
            wanted = always or d.tier is Tier.uncertain or (self.config.judge_misses and d.tier is Tier.none)
            if not wanted:
                continue
            g = grades[i]
            if g is None:
                missing = missing or i == 0 or self.config.answer_format == "ranked"
                continue
            if always and d.tier in _CORRECT and g == 2:
                continue  # the judge agrees; keep exact/synonym as decided
            tiers[i] = _GRADE_TIER.get(int(g), Tier.none)
        return tiers, missing

    # ------------------------------------------------------------------ scoring
    def _components(self, item: _Item, credited: bool) -> tuple[float, float, float]:
        """(format, accuracy, language): the weighted parts of the item's reward."""
        if item.status is Status.error:
            return 0.0, 0.0, 0.0
        w = self.weights
        return (w["format"] * item.format_credit, w["accuracy"] if credited else 0.0,
                -w["language"] * item.language_penalty if w["language"] else 0.0)  # fmt: skip

    @staticmethod
    def _decided_correct(item: _Item) -> bool:
        """The deterministic verdict: the first decision is an ok exact/synonym match."""
        return item.status is Status.ok and bool(item.decisions) and item.tier in _CORRECT

    def _row(self, item: _Item) -> Row:
        """The columns :meth:`_finish` gives an item that went to no judge, without building its Score."""
        correct = self._decided_correct(item)
        fmt, acc, lang = self._components(item, correct)
        return fmt + acc + lang, correct, item.answer, item.tier, item.status, (fmt, acc, lang)

    def _finish(self, item: _Item) -> Score:
        details = self._details(item)
        status, reason, tier = item.status, item.reason, item.tier
        ranked = self._ranked_mode
        det_correct = self._decided_correct(item)
        correct = det_correct
        judged_tiers: list[Tier] | None = None
        v = item.verdict
        if v is not None:
            tiers, missing = self._final_tiers(item)
            grades = list(v.grades)
            details["judge_grade"] = grades[0] if grades else None
            details["judge_grades"] = grades
            details["judge_status"] = v.status
            details["judge_calls"] = v.calls
            details["judge_cached"] = v.cached
            details["tokens_in"] = v.tokens_in
            details["tokens_out"] = v.tokens_out
            details["deterministic_tier"] = item.tier.value
            if missing or v.status != "judged":
                status, correct = Status.unjudged, False
                reason = f"judge gave no usable verdict ({v.reason or v.status}); deterministic: {item.reason}"
            else:
                judged_tiers = tiers
                tier = tiers[0]
                correct = tier in _CORRECT
                if tier is not item.tier:
                    reason = f"judge grade {details['judge_grade']}: {tier.value} (deterministic: {item.reason})"
        if self.judge is not None and status is not Status.error:
            details["top1_judged"] = correct
            if ranked:
                if judged_tiers is not None:
                    details["top5_judged"] = any(t in _CORRECT for t in judged_tiers)
                else:
                    details["top5_judged"] = bool(details.get("top5")) and status is Status.ok
        # an unjudged item is rewarded by its deterministic decision (uncertain -> no accuracy credit)
        fmt, acc, lang = self._components(item, det_correct if status is Status.unjudged else correct)
        return _new_score({
            "reward": fmt + acc + lang,
            "correct": correct,
            "components": {"format": fmt, "accuracy": acc, "language": lang},
            "extracted": item.answer,
            "tier": tier,
            "status": status,
            "reason": reason,
            "details": details,
        })  # fmt: skip

    @staticmethod
    def _error(why: str) -> Score:
        return _new_score({
            "reward": 0.0, "correct": False, "components": {"format": 0.0, "accuracy": 0.0, "language": 0.0},
            "extracted": None, "tier": Tier.none, "status": Status.error, "reason": why, "details": {},
        })  # fmt: skip

    def score(self, completion: str, reference: Mapping[str, Any]) -> Score:
        """Score one completion (``score_batch`` of one).

        >>> get = DiagnosisScorer(preset="diagnosis_zero").score
        >>> [get(c, {"diagnosis": "Fabry disease"}).reward for c in
        ...  ("<answer>Fabry disease</answer>", "<answer>Gaucher disease</answer>", "Fabry disease")]
        [1.0, 0.1, 0.0]
        """
        return self.score_batch([completion], [reference])[0]

    def score_batch(self, completions: Sequence[str], references: Sequence[Mapping[str, Any]]) -> ScoreBatch:
        """Score many completions; one ``judge_many`` call for the items that need the judge.

        Identical (answer, gold) pairs are matched once; gold names are normalised once per record.
        Without a judge, the batch's columns (reward, components, correct, tier, status, extracted) are
        filled first and each ``Score`` (with ``details``) is built when it is read: strict-format
        single answers take a fast path (:meth:`_fast_rows`) whose Score is built by the general path
        (:meth:`_prepare` + :meth:`_finish`), and the batch checks the two agree. The cyclic garbage
        collector is paused while the deterministic part runs (it creates no reference cycles; without
        the pause, collections triggered by its many small allocations cost about a fifth of the warm
        hot path in ``bench/bench_rewards.py``) and restored before the judge is called.
        """
        if len(completions) != len(references):
            raise ValueError(f"score_batch got {len(completions)} completions but {len(references)} references")
        judging = self.judge is not None and self.config.judge_mode != "never"
        n = len(completions)
        scores: list[Score | None] = [None] * n
        items: list[tuple[int, _Item]] = []
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            golds: list[_Gold | str | None] = [None] * n
            rows: list[Row | None] = [None] * n
            if not judging and not self._ranked_mode:
                try:
                    rows, golds = self._fast_rows(completions, references)  # type: ignore[assignment]
                except Exception:  # e.g. an unhashable reference: every item takes the general path
                    pass
            for i in [i for i, row in enumerate(rows) if row is None]:
                try:
                    items.append((i, self._prepare(completions[i], references[i], golds[i])))
                except Exception as e:  # never crash the training step on one bad item; report it
                    scores[i] = self._error(f"scorer failed: {e!r}")
            if judging:
                if gc_was_enabled:
                    gc.enable()
                self._run_judge([it for _, it in items])
                gc.disable()
                for i, it in items:
                    scores[i] = self._finish(it)
            else:
                for i, it in items:
                    rows[i] = self._row(it)
        finally:
            if gc_was_enabled:
                gc.enable()
        prepared = dict(items) if not judging else {}

        def build(i: int) -> Score:
            item = prepared.pop(i, None)
            return self._finish(item if item is not None else self._prepare(completions[i], references[i], golds[i]))

        return ScoreBatch(scores, component_names=self.component_names, rows=rows, build=build)

    def _fast_rows(
        self, completions: Sequence[Any], references: Sequence[Any]
    ) -> tuple[list[Row | None], list[_Gold | str]]:
        """(The columns of every item the fast path can score, None for the others; every item's gold
        set, or why there is none).

        The fast path scores an item with a usable gold record whose completion is in strict format
        (:func:`strict_spans`: format credit 1, one answer block, which the ``diagnosis_zero`` extraction
        finds too; the language check runs on each non-ASCII one) or is ASCII (never mixed for Latin:
        only the answer and format credit are needed, :func:`answer_and_format_score`). It makes the
        same decisions as :meth:`_prepare` + :meth:`_finish`, which score every other item.
        """
        w = self.weights
        w_format, w_accuracy, w_language = w["format"], w["accuracy"], w["language"]
        share = self.config.language_penalty == "share"
        prefill, latin, zero = self._prefill, self._latin, self._zero
        match, decisions = self._match, self._decision_cache
        no_penalty = -w_language * 0.0 if w_language else 0.0  # what _components gives a penalty of 0
        rows: list[Row | None] = []
        append = rows.append
        last_ref: Any = _NO_REFERENCE
        last_gold: _Gold | str = ""
        golds: list[_Gold | str] = []
        for text, ref in zip(completions, references):
            if ref is not last_ref:  # GRPO groups share one reference record
                last_gold, last_ref = self._gold_for(ref), ref
            gold = last_gold
            golds.append(gold)
            if text.__class__ is not str or gold.__class__ is str:
                append(None)
                continue
            plain = latin and text.isascii()
            spans = strict_spans(text, think_prefilled=prefill)
            answer: str | None
            penalty = 0.0
            if spans is not None:
                answer, credit = text[spans[2] : spans[3]].strip(), 1.0
                if not plain:
                    think = text[spans[0] : spans[1]].strip()
                    mixed_in, mix_share = self._language((("think", think), ("answer", answer), ("after_answer", "")))
                    penalty = (mix_share if share else 1.0) if mixed_in else 0.0
            elif plain:
                if zero:
                    m = _SEED_ANSWER_RE.search(text)
                    answer, credit = (m.group(1).strip(), 1.0) if m else (None, 0.0)
                else:
                    answer, credit = answer_and_format_score(text, think_prefilled=prefill)
            else:
                append(None)
                continue
            fmt = w_format * credit
            language = (-w_language * penalty if w_language else 0.0) if penalty else no_penalty
            if not answer:
                status = Status.empty if answer is not None else Status.format_error
                append((fmt + 0.0 + language, False, answer, Tier.none, status, (fmt, 0.0, language)))
                continue
            d = decisions.get((answer, gold.uid, True)) or match(answer, gold, check_hacking=True)  # type: ignore[union-attr]
            accuracy = w_accuracy if d.correct else 0.0
            append((fmt + accuracy + language, d.correct, answer, d.tier, d.status, (fmt, accuracy, language)))
        return rows, golds

    # ------------------------------------------------------------------ corpus metrics
    def aggregate(self, scores: Sequence[Score]) -> dict[str, float]:
        """Corpus metrics; raises :class:`UnjudgedError` when too many items went unjudged.

        Keys: ``n``, ``accuracy`` (mean ``correct``), ``top1``, ``top5`` (ranked mode), ``format_rate``,
        ``mixed_language_rate``, ``mean_length`` (chars), ``mean_tokens`` (when known),
        ``hypernym_rate``, ``uncertain_rate``, ``hacking_rate``, ``error_rate``, ``mean_reward``; with a
        judge also ``top1_judged``, ``top5_judged`` (ranked), ``judge_agreement`` (share of items decided
        both deterministically and by the judge where the two agree; NaN when there are none),
        ``unjudged_rate``, ``judge_calls``, ``judge_cache_hits``, ``tokens_in``, ``tokens_out``.

        >>> s = DiagnosisScorer()
        >>> one = s.score("<think>a</think><answer>Fabry disease</answer>", {"diagnosis": "Fabry disease"})
        >>> agg = s.aggregate([one])
        >>> agg["top1"], agg["format_rate"]
        (1.0, 1.0)
        """
        n = len(scores)
        if n == 0:
            return {"n": 0.0}
        ranked = self.config.answer_format == "ranked"

        def mean(key: str, default: Any = False) -> float:
            return sum(float(bool(s.details.get(key, default))) for s in scores) / n

        out: dict[str, float] = {
            "n": float(n),
            "accuracy": sum(s.correct for s in scores) / n,
            "top1": mean("top1"),
        }
        if ranked:
            out["top5"] = mean("top5")
        out["format_rate"] = mean("format_ok")
        out["mixed_language_rate"] = mean("mixed_language")
        out["mean_length"] = sum(float(s.details.get("n_chars") or 0) for s in scores) / n
        toks = [s.details.get("n_tokens") for s in scores]
        known = [t for t in toks if isinstance(t, int)]
        if known:
            out["mean_tokens"] = sum(known) / len(known)
        out["hypernym_rate"] = mean("hypernym")
        out["uncertain_rate"] = sum(s.details.get("deterministic_tier", s.tier) in (Tier.uncertain, "uncertain")
                                    for s in scores) / n  # fmt: skip
        out["hacking_rate"] = sum(s.status is Status.hacking for s in scores) / n
        out["error_rate"] = sum(s.status is Status.error for s in scores) / n
        out["mean_reward"] = sum(s.reward for s in scores) / n
        if self.judge is not None:
            out["top1_judged"] = mean("top1_judged")
            if ranked:
                out["top5_judged"] = mean("top5_judged")
            both = agree = 0
            for s in scores:
                det = s.details.get("deterministic_tier")
                g = s.details.get("judge_grade")
                if det is None or g is None or det == Tier.uncertain.value:
                    continue
                both += 1
                agree += _TIER_GRADE.get(Tier(det), -1) == g
            out["judge_agreement"] = agree / both if both else float("nan")
            unjudged = sum(s.status is Status.unjudged for s in scores)
            out["unjudged_rate"] = unjudged / n
            out["judge_calls"] = float(sum(int(s.details.get("judge_calls") or 0) for s in scores))
            out["judge_cache_hits"] = float(sum(bool(s.details.get("judge_cached")) for s in scores))
            out["tokens_in"] = float(sum(int(s.details.get("tokens_in") or 0) for s in scores))
            out["tokens_out"] = float(sum(int(s.details.get("tokens_out") or 0) for s in scores))
            if out["unjudged_rate"] > self.config.max_unjudged_share:
                raise UnjudgedError(
                    f"{unjudged} of {n} items ({out['unjudged_rate']:.1%}) needed the judge but got no usable "
                    f"verdict (max_unjudged_share={self.config.max_unjudged_share:.1%}); check the judge "
                    "endpoint, or raise max_unjudged_share to accept"
                )
        return out


def _config(config: dict[str, Any]) -> DiagnosisConfig:
    base = config.pop("config", None)
    if base is None:
        return DiagnosisConfig(**config)
    if not isinstance(base, DiagnosisConfig):
        raise TypeError(f"config must be a DiagnosisConfig, got {type(base).__name__}")
    return DiagnosisConfig(**{**dict(base), **config}) if config else base


def make_rarearena_rdc(**config: Any) -> DiagnosisScorer:
    """The RareArena RDC (case report + test results) diagnosis scorer.

    Keyword arguments are :class:`DiagnosisConfig` fields; ``config=DiagnosisConfig(...)`` works too
    (other keywords then override its fields).

    >>> make_rarearena_rdc(answer_format="ranked").score(
    ...     "<think>x</think><answer>1. Gaucher disease\\n2. Fabry disease</answer>", {"diagnosis": "Fabry disease"}
    ... ).details["top5"]
    True
    """
    return DiagnosisScorer(_config(config), name="rarearena_rdc")


def make_rarearena_rds(**config: Any) -> DiagnosisScorer:
    """The RareArena RDS (case report only) diagnosis scorer; same rules as :func:`make_rarearena_rdc`.

    >>> make_rarearena_rds().name
    'rarearena_rds'
    """
    return DiagnosisScorer(_config(config), name="rarearena_rds")
