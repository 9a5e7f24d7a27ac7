"""The matching decision: one answer string against one gold set -> a :class:`Decision`.

Tiers: ``exact`` (matches the first gold name), ``synonym`` (another gold name), ``hypernym`` (a
broader Orphanet group of the gold, never correct), ``uncertain`` (the matcher cannot tell: the judge
decides when one is configured), ``none`` (known to be different). Status ``hacking`` marks an answer
that names several candidate diseases or a negated one (no accuracy credit).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from medzero_rewards.hierarchy import OrphanetHierarchy
from medzero_rewards.matching import DEFAULT_HI, DEFAULT_LO, NameMatch, compare_keys
from medzero_rewards.normalize import NameKey, analyze_name
from medzero_rewards.parsing import is_negated, parse_ranked_list, split_candidates
from medzero_rewards.types import Status, Tier

from .gold import GoldSet

__all__ = ["CORRECT_TIERS", "Decider", "Decision"]

CORRECT_TIERS = (Tier.exact, Tier.synonym)
"""Tiers that earn the accuracy component."""

_MAX_DECISIONS = 200_000
_MAX_SPLITS = 100_000


@dataclass(frozen=True, slots=True)
class Decision:
    """Deterministic verdict for one answer string against one gold set."""

    tier: Tier
    status: Status
    reason: str
    score: float
    matched: str | None
    correct: bool = field(init=False)  # an ok exact/synonym match: what earns the accuracy component

    def __post_init__(self) -> None:
        object.__setattr__(self, "correct", self.status is Status.ok and self.tier in CORRECT_TIERS)


class Decider:
    """Decides answers against gold sets, caching each (answer, gold set) decision.

    >>> from medzero_rewards.diagnosis.gold import GoldIndex
    >>> gold = GoldIndex().for_record({"diagnosis": "Fabry disease"})
    >>> d = Decider().match("Fabry's disease", gold, check_hacking=True)
    >>> d.tier.value, d.correct
    ('exact', True)
    >>> Decider().match("Fabry disease or Gaucher disease", gold, check_hacking=True).status.value
    'hacking'
    """

    def __init__(
        self,
        hierarchy: OrphanetHierarchy | None = None,
        *,
        fuzzy_hi: float = DEFAULT_HI,
        fuzzy_lo: float = DEFAULT_LO,
        k: int = 5,
    ) -> None:
        self.hierarchy = hierarchy
        self.hi, self.lo, self.k = fuzzy_hi, fuzzy_lo, k
        self.decisions: dict[tuple[str, int, bool], Decision] = {}
        self._splits: dict[str, list[str]] = {}
        self._ranked: dict[str, list[str]] = {}

    def match(self, answer: str, gold: GoldSet, *, check_hacking: bool) -> Decision:
        """The decision for ``answer`` (cached); ``check_hacking``: single-answer mode."""
        cache_key = (answer, gold.uid, check_hacking)
        d = self.decisions.get(cache_key)
        if d is None:
            d = self.decide(answer, gold, check_hacking)
            if len(self.decisions) > _MAX_DECISIONS:
                self.decisions.clear()
            self.decisions[cache_key] = d
        return d

    def ranked(self, answer: str) -> list[str]:
        """The first ``k`` items of a ranked-list answer (cached)."""
        items = self._ranked.get(answer)
        if items is None:
            items = parse_ranked_list(answer, self.k)
            if len(self._ranked) > _MAX_SPLITS:
                self._ranked.clear()
            self._ranked[answer] = items
        return items

    def against(self, akey: NameKey, gold: GoldSet) -> tuple[Decision | None, Decision]:
        """(a match: exact / synonym / hypernym decision or None, the best non-match decision)."""
        hi, lo = self.hi, self.lo
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
                d = Decision(tier, Status.ok, f"{why} {m.reason}".strip(), m.score, gold.names[i])
                return d, d
            if best is None or (m.tier is Tier.uncertain, m.score) > (best.tier is Tier.uncertain, best.score):
                best_i, best = i, m
        for j, bk in enumerate(gold.broader_keys):
            m = compare_keys(akey, bk, hi=hi, lo=lo)
            if m.tier is Tier.exact:
                why = f"broader Orphanet group of the diagnosis: {gold.broader[j]!r}"
                d = Decision(Tier.hypernym, Status.ok, why, m.score, gold.broader[j])
                return d, d
        assert best is not None
        matched = gold.names[best_i] if best.tier is Tier.uncertain else None
        return None, Decision(best.tier, Status.ok, best.reason, best.score, matched)

    def decide(self, answer: str, gold: GoldSet, check_hacking: bool) -> Decision:
        """The decision for ``answer`` (uncached; see the module docstring)."""
        akey = analyze_name(answer)
        if not akey.text:
            return Decision(Tier.none, Status.empty, "answer has no letters or digits", 0.0, None)
        # hypernyms are checked before hacking: group names such as "Disorder of serine or glycine
        # metabolism" contain " or "
        hit, best = self.against(akey, gold)
        if hit is not None:
            return hit
        if not check_hacking:
            return best
        cands = split_candidates(answer, keep=gold.keep) if gold.splittable else self._split(answer)
        if len(cands) > 1:
            shown = "; ".join(c[:60] for c in cands[:4])
            return Decision(Tier.none, Status.hacking, f"{len(cands)} candidate diagnoses in one answer: {shown}",
                            0.0, None)  # fmt: skip
        if is_negated(answer):
            return Decision(Tier.none, Status.hacking, "negated answer (says what it is not)", 0.0, None)
        # "Diagnosis: **Fabry disease** (most likely)." -> "Fabry disease": a single candidate comes
        # back from split_candidates without labels, markdown and likelihood notes
        if len(cands) == 1 and cands[0] != answer:
            ckey = analyze_name(cands[0])
            if ckey.text and ckey.text != akey.text:
                hit2, best2 = self.against(ckey, gold)
                if hit2 is not None:
                    return Decision(hit2.tier, hit2.status, f"{hit2.reason} (after removing labels/notes)",
                                    hit2.score, hit2.matched)  # fmt: skip
                if (best2.tier is Tier.uncertain, best2.score) > (best.tier is Tier.uncertain, best.score):
                    best = best2
        return best

    def _split(self, answer: str) -> list[str]:
        """``split_candidates`` without gold protection, cached per answer (answers recur across records)."""
        cands = self._splits.get(answer)
        if cands is None:
            cands = split_candidates(answer)
            if len(self._splits) > _MAX_SPLITS:
                self._splits.clear()
            self._splits[answer] = cands
        return cands
