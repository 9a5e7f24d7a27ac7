"""The matching decision: one answer string against one gold set -> a :class:`Decision`.

Tiers: ``exact`` (matches the first gold name), ``synonym`` (another gold name), ``hypernym`` (a
broader Orphanet group of the gold, never correct), ``uncertain`` (the matcher cannot tell: the judge
decides when one is configured), ``none`` (known to be different). Status ``hacking`` marks an answer
that names several candidate diseases or a negated one (no accuracy credit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from medzero_rewards.hierarchy import OrphanetHierarchy
from medzero_rewards.matching import DEFAULT_HI, DEFAULT_LO, NameMatch, compare_keys
from medzero_rewards.normalize import NameKey, analyze_name
from medzero_rewards.parsing import parse_ranked_list
from medzero_rewards.types import Status, Tier

from .cache import ByteBoundedCache
from .gold import GoldSet
from .phrasing import Reading, anchored, denies, list_alternatives, names_alternative, read_answer, read_item

_REASON_SEP_RE = re.compile(r"\s[-–—]\s|[:：(]")

__all__ = ["CORRECT_TIERS", "Decider", "Decision"]

CORRECT_TIERS = (Tier.exact, Tier.synonym)
"""Tiers that earn the accuracy component."""

# reasons of a "none" that is known: a near-name sibling (guard tokens) or another Orphanet entity
_KNOWN_DIFFERENT = ("guard conflict", "answer is another Orphanet")


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
        cache_bytes: int = 48 << 20,
    ) -> None:
        self.hierarchy = hierarchy
        self.hi, self.lo, self.k = fuzzy_hi, fuzzy_lo, k
        self.decisions: ByteBoundedCache[tuple[str, int, bool], Decision] = ByteBoundedCache(cache_bytes // 2)
        self._ranked: ByteBoundedCache[str, list[str]] = ByteBoundedCache(cache_bytes // 6)
        self._readings: ByteBoundedCache[str, Reading] = ByteBoundedCache(cache_bytes // 6)
        self._items: ByteBoundedCache[str, tuple[str, ...]] = ByteBoundedCache(cache_bytes // 6)
        self._known_golds: dict[int, bool] = {}
        self.known = self._known if hierarchy is not None else None

    def match(self, answer: str, gold: GoldSet, *, check_hacking: bool) -> Decision:
        """The decision for ``answer`` (cached); ``check_hacking``: single-answer mode."""
        cache_key = (answer, gold.uid, check_hacking)
        d = self.decisions.get(cache_key)
        if d is None:
            d = self.decide(answer, gold, check_hacking)
            self.decisions.put(cache_key, d, 2 * len(answer))
        return d

    def ranked(self, answer: str) -> list[str]:
        """The first ``k`` items of a ranked-list answer (cached)."""
        items = self._ranked.get(answer)
        if items is None:
            items = parse_ranked_list(answer, self.k)
            if len(items) == 1:  # "Top differential diagnoses: A, B, C" on one line
                items = list_alternatives(items[0], known=self.known)[: self.k]
            else:  # "**Most likely:** X" / "**Other possibilities:** A, B, C"
                items = [part for it in items for part in self._listed(it)][: self.k]
            self._ranked.put(answer, items, 3 * len(answer))
        return items

    def _listed(self, item: str) -> list[str]:
        """The names one ranked item lists: a comma list without a reason separator ("A, B, C")
        splits; an item with a reason ("X - fits A and B", "X: ...", "X (...)") stays whole."""
        if ", " not in item or _REASON_SEP_RE.search(item):
            return [item]
        return list_alternatives(item, known=self.known)

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
        """The decision for ``answer`` (uncached; see the module docstring).

        1. the whole answer against the gold names (a clean name: done);
        2. single mode: :func:`.phrasing.read_answer` -- several candidates or a negated statement are
           ``hacking``; ranked mode: :func:`.phrasing.read_item`;
        3. each span read from the answer against the gold names: the first match wins;
        4. no match: :meth:`settle` decides ``none`` (known to be different) or ``uncertain``.
        """
        akey = analyze_name(answer)
        if not akey.text:
            return Decision(Tier.none, Status.empty, "answer has no letters or digits", 0.0, None)
        # hypernyms are checked before hacking: group names such as "Disorder of serine or glycine
        # metabolism" contain " or "
        hit, best = self.against(akey, gold)
        if hit is not None and not names_alternative(answer) and (check_hacking or not denies(answer)):
            return hit
        if check_hacking:
            reading = self.read(answer, gold)
            if reading.no_diagnosis:
                return Decision(Tier.none, Status.ok, "the answer names no diagnosis", 0.0, None)
            if reading.others:
                names = [*reading.spans[-1:], *reading.others]
                shown = "; ".join(c[:60] for c in names[:4])
                return Decision(Tier.none, Status.hacking,
                                f"{len(names)} candidate diagnoses in one answer: {shown}", 0.0, None)  # fmt: skip
            if reading.negated:
                return Decision(Tier.none, Status.hacking, "negated answer (says what it is not)", 0.0, None)
            if hit is not None:
                return hit
            spans, statement = reading.spans, reading.statement
        else:
            if denies(answer):  # a ranked item marked as ruled out does not count
                return Decision(Tier.none, Status.ok, "the list rules this item out", best.score, None)
            spans, statement = self._item_spans(answer), answer
        tried: list[tuple[NameKey, Decision]] = [(akey, best)]
        seen = {akey.text}
        for span in spans:
            key = analyze_name(span)
            if not key.text or key.text in seen:
                continue
            seen.add(key.text)
            hit, d = self.against(key, gold)
            if hit is not None:
                return Decision(hit.tier, hit.status, f"{hit.reason} (read as {span[:80]!r})", hit.score, hit.matched)
            tried.append((key, d))
        # a sentence the rewrites did not reduce to the name: is a gold name stated in it?
        for i, name in enumerate(gold.names):
            if anchored(statement, name):
                tier = Tier.exact if i == 0 else Tier.synonym
                return Decision(tier, Status.ok, f"names {name!r} in the statement", 100.0, name)
        return self.settle(tried, gold)

    def settle(self, tried: list[tuple[NameKey, Decision]], gold: GoldSet) -> Decision:
        """``none`` or ``uncertain`` for an answer none of whose spans matched.

        ``none`` only when the answer is known to name another disease: a span in hard conflict with
        a gold name (another type, gene, inheritance: a near-name sibling), or -- with the Orphanet
        hierarchy, when the gold is in it -- a span that is itself another Orphanet name. Otherwise
        (a plausible synonym, an eponym, another language, a phrasing not understood) ``uncertain``:
        the judge decides when one is configured.
        """
        for _key, d in tried:
            if d.tier is Tier.none and d.reason.startswith(_KNOWN_DIFFERENT):
                return d
        last_key, last = tried[-1]
        h = self.hierarchy
        if h is not None and self._gold_known(gold):
            gold_texts = {k.text for k in gold.keys}
            for key, d in reversed(tried):
                if h.knows(key.text) and key.text not in gold_texts and not self._is_child(key.text, gold_texts):
                    return Decision(Tier.none, Status.ok, f"answer is another Orphanet disease ({d.reason})",
                                    d.score, None)  # fmt: skip
        unsure = [d for _key, d in tried if d.tier is Tier.uncertain]
        if unsure:
            return max(unsure, key=lambda d: d.score)
        return Decision(Tier.uncertain, Status.ok, f"cannot decide: {last.reason}", last.score, gold.names[0])

    def _is_child(self, text: str, gold_texts: set[str]) -> bool:
        """Whether the entity named ``text`` has a gold name as a direct parent (a narrower answer: the
        judge decides)."""
        h = self.hierarchy
        return h is not None and any(analyze_name(p.name).text in gold_texts for p in h.parents(text))

    def _gold_known(self, gold: GoldSet) -> bool:
        h = self.hierarchy
        if h is None:
            return False
        known = self._known_golds.get(gold.uid)
        if known is None:
            known = any(h.knows(k.text) for k in gold.keys) or (
                gold.orpha_id is not None and h.knows_id(gold.orpha_id)
            )
            self._known_golds[gold.uid] = known
        return known

    def _known(self, name: str) -> bool:
        h = self.hierarchy
        return h is not None and h.knows(analyze_name(name).text)

    def read(self, answer: str, gold: GoldSet) -> Reading:
        """:func:`.phrasing.read_answer` of ``answer`` (cached per answer unless a gold name needs
        protection from splitting)."""
        if gold.splittable:
            return read_answer(answer, keep=gold.keep, known=self.known)
        r = self._readings.get(answer)
        if r is None:
            r = read_answer(answer, known=self.known)
            self._readings.put(answer, r, 4 * len(answer))
        return r

    def _item_spans(self, item: str) -> tuple[str, ...]:
        spans = self._items.get(item)
        if spans is None:
            spans = read_item(item, known=self.known)
            self._items.put(item, spans, 4 * len(item))
        return spans
