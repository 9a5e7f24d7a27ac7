"""Compare one predicted disease name with one reference name.

:func:`compare_names` decides ``exact`` / ``uncertain`` / ``none`` for a pair of names:

1. equal after :func:`~medzero_rewards.normalize.normalize_name` (or equal once spaces are removed,
   ``non-syndromic`` = ``nonsyndromic``, or once "type" before a type code is dropped,
   ``Mucopolysaccharidosis I`` = ``Mucopolysaccharidosis type 1``) -> ``exact``, score 100;
2. similarity = max of :func:`rapidfuzz.fuzz.ratio` and :func:`rapidfuzz.fuzz.token_sort_ratio` on
   the normalised names; below ``lo`` -> ``none``;
3. **guard tokens** must agree. They change the disease while barely changing the string, so a
   fuzzy score cannot see them (see :data:`GUARD_WORDS`): numbers, loci and subtype codes (any token
   with a digit: ``type 1``/``type 2``, ``2A``/``2B``, ``17q24.2``), single letters (``Hemophilia
   A``/``B``), Greek letters, inheritance words (dominant, recessive, X-linked, mitochondrial,
   familial, ...), onset words (infantile, juvenile, adult, neonatal, congenital, early/late onset,
   ...), form words (classic, severe, partial, with/without, ...) and gene symbols / acronyms (tokens
   written in capitals: ``PTEN``, ``CDG``). Both names carrying *different* guards of one class is a
   **hard** conflict -> ``none`` (``type 1`` vs ``type 2`` is simply another disease). A guard on one
   side only (``Spinocerebellar ataxia`` vs ``Spinocerebellar ataxia type 1``) is a **soft**
   conflict -> ``uncertain``: it may be a broader or narrower name, which the hierarchy or the judge
   decides;
4. every word that differs must pair with a spelling variant on the other side (``rapidfuzz`` ratio
   >= 88, both at least 5 letters, no opposite prefixes such as hypo-/hyper-, micro-/macro-);
   opposite prefixes (also between less similar words, ratio >= 70) are a hard conflict
   (``hypokalemic`` vs ``hyperkalemic``, ``responsive`` vs ``unresponsive``), an unpaired word a soft
   one;
5. no conflict and similarity >= ``hi`` -> ``exact``; otherwise ``uncertain``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz

from medzero_rewards.normalize import MAX_CACHED_NAME, NameKey, analyze_name
from medzero_rewards.types import Tier

__all__ = ["DEFAULT_HI", "DEFAULT_LO", "GUARD_WORDS", "NameMatch", "compare_keys", "compare_names"]

DEFAULT_HI = 90.0
"""Similarity (0-100) at or above which a guard-clean pair is ``exact``."""
DEFAULT_LO = 80.0
"""Similarity below which a pair is a clear ``none``; ``[lo, hi)`` and soft conflicts are ``uncertain``."""

GUARD_WORDS: dict[str, frozenset[str]] = {
    "inheritance": frozenset(
        "dominant recessive autosomal linked mitochondrial maternal paternal sporadic familial "
        "hereditary inherited acquired digenic semidominant codominant".split()
    ),
    "onset": frozenset(
        "infantile infancy juvenile adult adulthood adolescent adolescence neonatal newborn congenital "
        "congenita early late childhood prenatal perinatal antenatal fetal tarda senile "
        "onset".split()
    ),
    "greek": frozenset(
        "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho "
        "sigma tau upsilon phi chi psi omega".split()
    ),
    "form": frozenset(
        "mild severe lethal benign malignant classic classical atypical typical partial complete "
        "incomplete acute subacute chronic primary secondary isolated syndromic nonsyndromic "
        "generalized localized focal diffuse segmental multifocal unilateral bilateral proximal "
        "distal central peripheral with without non plus minor major intermediate progressive "
        "nonprogressive transient permanent intermittent persistent male female left right upper "
        "lower anterior posterior total idiopathic".split()
    ),
}
"""Guard words by class (normalised spelling). Numbers, single letters and capitals are classes too."""

_WORD_CLASS: dict[str, str] = {w: c for c, ws in GUARD_WORDS.items() for w in ws}

# Opposite prefixes: a spelling-variant pair starting with two different ones is two diseases.
_PREFIXES = (
    "hyper", "hypo", "normo", "micro", "macro", "mega", "pre", "post", "intra", "extra", "infra",
    "supra", "mono", "poly", "oligo", "uni", "bi", "endo", "exo", "brady", "tachy", "homo", "hetero",
    "hemi", "pan", "dys", "un", "non", "in", "an", "a",
)  # fmt: skip
_PAIR_MIN_RATIO = 88.0
_PAIR_MIN_LEN = 5
_PREFIX_PAIR_RATIO = 70.0


@dataclass(frozen=True, slots=True)
class NameMatch:
    """How a predicted name relates to one reference name.

    Attributes:
        tier: ``Tier.exact``, ``Tier.uncertain`` or ``Tier.none``.
        score: similarity 0-100 (100 for a normalised-equal pair).
        reason: short explanation ("" for normalised-equal pairs).
    """

    tier: Tier
    score: float
    reason: str


def _guards(key: NameKey) -> dict[str, frozenset[str]]:
    """Guard tokens by class (cached for short names only, so long answers do not pile up)."""
    return _guards_cached(key) if len(key.text) <= MAX_CACHED_NAME else _guard_classes(key)


def _guard_classes(key: NameKey) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for t in key.tokens:
        if any(c.isdigit() for c in t):
            cls = "number"
        elif len(t) == 1:
            cls = "letter"
        else:
            cls = _WORD_CLASS.get(t, "")
            if not cls:
                continue
        out.setdefault(cls, set()).add(t)
    return {c: frozenset(v) for c, v in out.items()}


_guards_cached = lru_cache(maxsize=1 << 15)(_guard_classes)


def _prefix(tok: str) -> str:
    for p in _PREFIXES:
        if tok.startswith(p) and len(tok) > len(p) + 2:
            return p
    return ""


def _opposite_prefixes(a: str, b: str) -> bool:
    """``hypokalemic``/``hyperkalemic``, ``responsive``/``unresponsive``, ``hypofibrinogenemia``/
    ``hypodysfibrinogenemia``: the words start (after any shared prefix) with different prefixes, or
    one is the other with something prepended."""
    if len(a) != len(b) and (a.endswith(b) or b.endswith(a)) and abs(len(a) - len(b)) >= 2:
        return True  # a prefix added: "debranching"/"branching", "ovotesticular"/"testicular"
    for _ in range(3):
        pa, pb = _prefix(a), _prefix(b)
        if pa != pb:
            return not (a.startswith(pb) and b.startswith(pa))
        if not pa:
            return False
        a, b = a[len(pa) :], b[len(pb) :]
    return False


def _guard_conflicts(p: NameKey, g: NameKey) -> tuple[list[str], list[str]]:
    """(hard, soft) guard conflicts as human-readable strings."""
    hard: list[str] = []
    soft: list[str] = []
    gp, gg = _guards(p), _guards(g)
    for cls in gp.keys() | gg.keys():
        a, b = gp.get(cls, frozenset()), gg.get(cls, frozenset())
        if a == b:
            continue
        desc = f"{cls}: {' '.join(sorted(a - b)) or '-'} vs {' '.join(sorted(b - a)) or '-'}"
        (hard if a - b and b - a else soft).append(desc)
    # Gene symbols / acronyms: a capitalised token must appear (in any case) on the other side.
    if p.capitals or g.capitals:
        a = p.capitals - set(g.tokens)
        b = g.capitals - set(p.tokens)
        if a or b:
            desc = f"symbol: {' '.join(sorted(a)) or '-'} vs {' '.join(sorted(b)) or '-'}"
            (hard if a and b else soft).append(desc)
    return hard, soft


def _pair_words(p: NameKey, g: NameKey) -> tuple[list[str], list[str]]:
    """(hard, soft): words that differ and are not spelling variants of each other."""
    ps, gs = set(p.tokens), set(g.tokens)
    only_p = [t for t in ps - gs if t not in _WORD_CLASS and not any(c.isdigit() for c in t) and len(t) > 1]
    only_g = [t for t in gs - ps if t not in _WORD_CLASS and not any(c.isdigit() for c in t) and len(t) > 1]
    hard: list[str] = []
    soft: list[str] = []
    free = list(only_g)
    for t in only_p:
        best, best_score = "", 0.0
        for u in free:
            s = fuzz.ratio(t, u)
            if s > best_score:
                best, best_score = u, s
        plural = best and (t == best + "s" or best == t + "s")  # "Barts" = "Bart's", "tumors"
        if plural or (best and best_score >= _PAIR_MIN_RATIO and min(len(t), len(best)) >= _PAIR_MIN_LEN):
            free.remove(best)
            if _opposite_prefixes(t, best):
                hard.append(f"prefix: {t} vs {best}")
        elif best and best_score >= _PREFIX_PAIR_RATIO and _opposite_prefixes(t, best):
            free.remove(best)  # too different to be a spelling variant, but clearly a prefixed sibling
            hard.append(f"prefix: {t} vs {best}")
        else:
            soft.append(f"word only in answer: {t}")
    soft.extend(f"word only in reference: {u}" for u in free)
    return hard, soft


def compare_keys(
    pred: NameKey, gold: NameKey, *, hi: float = DEFAULT_HI, lo: float = DEFAULT_LO
) -> NameMatch:
    """:func:`compare_names` on already-normalised names (see :func:`~medzero_rewards.normalize.analyze_name`).

    >>> from medzero_rewards.normalize import analyze_name
    >>> compare_keys(analyze_name("Hemophilia A"), analyze_name("Hemophilia B")).tier.value
    'none'
    """
    if not pred.text or not gold.text:
        return NameMatch(Tier.none, 0.0, "empty name")
    if pred.text == gold.text or pred.compact == gold.compact or (pred.core and pred.core == gold.core):
        return NameMatch(Tier.exact, 100.0, "")
    score = max(fuzz.ratio(pred.text, gold.text), fuzz.token_sort_ratio(pred.text, gold.text))
    if score < lo:
        return NameMatch(Tier.none, score, f"similarity {score:.0f} < {lo:.0f}")
    hard, soft = _guard_conflicts(pred, gold)
    whard, wsoft = _pair_words(pred, gold)
    hard += whard
    soft += wsoft
    if hard:
        return NameMatch(Tier.none, score, "guard conflict: " + "; ".join(sorted(hard)))
    if soft:
        return NameMatch(Tier.uncertain, score, "; ".join(sorted(soft)))
    if score >= hi:
        return NameMatch(Tier.exact, score, f"fuzzy {score:.0f} >= {hi:.0f}")
    return NameMatch(Tier.uncertain, score, f"similarity {score:.0f} in [{lo:.0f}, {hi:.0f})")


def compare_names(pred: str, gold: str, *, hi: float = DEFAULT_HI, lo: float = DEFAULT_LO) -> NameMatch:
    """Compare a predicted disease name with a reference name (see the module docstring).

    >>> compare_names("Wilson's disease", "Wilson disease").tier.value
    'exact'
    >>> compare_names("Spinocerebellar ataxia type 2", "Spinocerebellar ataxia type 1").tier.value
    'none'
    >>> compare_names("Charcot-Marie-Tooth diease type 1A", "Charcot-Marie-Tooth disease type 1A").tier.value
    'exact'
    >>> compare_names("Spinocerebellar ataxia", "Spinocerebellar ataxia type 1").tier.value
    'uncertain'
    """
    return compare_keys(analyze_name(pred), analyze_name(gold), hi=hi, lo=lo)
