"""Quality of the diagnosis scorer on labelled pairs built from real Orphanet and RareBench names.

Categories (each pair goes through ``get_scorer("rarearena_rdc").score(...)`` exactly as an
evaluator would):

* ``surface``: programmatic surface variants of real names (case, accents, British spellings,
  possessives, Roman numerals, Greek letters, "type" left out before a type code, parenthesised
  abbreviations, punctuation/hyphens, trailing periods) -> must be correct;
* ``sibling``: real pairs of distinct Orphanet entities MINED from the file whose names differ only in
  one type number / subtype letter, inheritance word, onset word, chromosome locus or gene symbol ->
  must not be correct. A faithful re-implementation of the seed's difflib matcher is run on the same pairs to
  document what this fixes;
* ``sibling_any``: real Orphanet pairs differing in exactly one word (any word; a seeded sample) ->
  must not be correct (a broader set of near-names);
* ``hypernym``: real (parent, child) pairs with ``parent_disease_count <= 10`` -> never correct;
  tier ``hypernym`` when the hierarchy is given;
* ``hack``: "A or B", lists, "A vs B", negations, empty answers built from real names -> no credit.

Run with ``-s`` to see the per-category counts and rates. The rates asserted are the quality bar
(>= 98 % per category, 100 % on hacks); nothing here is a hard-coded expected score.
"""

from __future__ import annotations

import ast
import csv
import difflib
import json
import random
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from medzero_rewards import Status, Tier, get_scorer

# ---------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def orphanet(orphanet_path: Path) -> list[dict]:
    with orphanet_path.open(encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def rarebench_names(rarebench_dir: Path) -> list[str]:
    names: set[str] = set()
    for path in sorted(rarebench_dir.glob("*.csv")):
        with path.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                try:
                    value = ast.literal_eval(row["RareDisease"])
                except (ValueError, SyntaxError):
                    continue
                names.update(v.strip() for v in value if isinstance(v, str) and v.strip())
    return sorted(names)


@pytest.fixture(scope="module")
def base_names(orphanet: list[dict], rarebench_names: list[str]) -> list[str]:
    return sorted({e["name"] for e in orphanet} | set(rarebench_names))


def completion(answer: str) -> str:
    return f"<think>The phenotype points to a rare disease… weighing the candidates.</think><answer>{answer}</answer>"


def record(gold: str) -> dict[str, str]:
    return {"diagnosis": gold, "Orpha_name": gold}


# ---------------------------------------------------------------------------------------------------
# The seed's matcher (faithful re-implementation)
# ---------------------------------------------------------------------------------------------------


def seed_similarity(a: str, b: str) -> float:
    a, b = a.lower().strip(), b.lower().strip()
    seq = difflib.SequenceMatcher(None, a, b).ratio()
    wa, wb = set(a.split()), set(b.split())
    jac = len(wa & wb) / len(wa | wb) if wa | wb else 0.0
    return 0.8 * seq + 0.2 * jac


def seed_match(pred: str, gold: str) -> bool:
    return seed_similarity(pred, gold) > 0.8


# ---------------------------------------------------------------------------------------------------
# Surface variants (must match)
# ---------------------------------------------------------------------------------------------------

_AMERICAN_TO_BRITISH = [
    (r"\b([Hh])em(?=o|a|at|or)", r"\1aem"),  # hemophilia, hematoma, hemolytic, hemorrhage
    (r"(?<=[a-z])emia\b", "aemia"),  # leukemia, anemia, glycemia
    (r"(?<=[a-z])emic\b", "aemic"),
    (r"\b([Ee])dema\b", lambda m: ("O" if m.group(1) == "E" else "o") + "edema"),
    (r"\b([Ee])sophag", lambda m: ("O" if m.group(1) == "E" else "o") + "esophag"),
    (r"\b([Tt])umor", r"\1umour"),
    (r"\b([Ll])euko", r"\1euco"),
    (r"\b([Pp])ediatric", r"\1aediatric"),
    (r"\b([Oo])rthopedic", r"\1rthopaedic"),
    (r"\b([Ff])etal\b", r"\1oetal"),
    (r"\b([Cc])eliac", r"\1oeliac"),
    (r"rrhea\b", "rrhoea"),
    (r"\b([Gg])eneralized", r"\1eneralised"),
    (r"\b([Ll])ocalized", r"\1ocalised"),
    (r"\b([Ss])ulf", r"\1ulph"),
    (r"\b([Ff])iber", r"\1ibre"),
    (r"\b([Gg])ray\b", r"\1rey"),
    (r"\b([Ii])schem", r"\1schaem"),
]


def _british(name: str) -> str:
    out = name
    for pat, rep in _AMERICAN_TO_BRITISH:
        out = re.sub(pat, rep, out)
    return out


def _strip_accents(name: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))


_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI", 7: "VII", 8: "VIII", 9: "IX", 10: "X",
          11: "XI", 12: "XII", 13: "XIII"}  # fmt: skip
_ARABIC = {v: k for k, v in _ROMAN.items()}


def _roman_swap(name: str) -> str:
    def to_roman(m: re.Match[str]) -> str:
        n = int(m.group(2))
        if n not in _ROMAN or m.group(3) in ("I", "V", "X", "i", "v", "x"):  # "2I" has no Roman spelling
            return m.group(0)
        return f"{m.group(1)}{_ROMAN[n]}{m.group(3)}"

    def to_arabic(m: re.Match[str]) -> str:
        return f"{m.group(1)}{_ARABIC[m.group(2)]}{m.group(3)}"

    out = re.sub(r"(\btype )(\d{1,2})([A-Za-z]?)\b", to_roman, name)
    if out == name:
        out = re.sub(r"(\btype )(I{1,3}|IV|VI{0,3}|IX|XI{0,3})([a-z]?)\b", to_arabic, name)
    return out


def _possessive(name: str) -> str:
    # "Wilson disease" -> "Wilson's disease": a capitalised one-word eponym before disease/syndrome
    m = re.match(r"^([A-Z][a-z]{2,})( (?:disease|syndrome)\b.*)$", name)
    return f"{m.group(1)}'s{m.group(2)}" if m and not m.group(1).endswith("s") else name


def _abbreviation(name: str) -> str:
    words = re.findall(r"[A-Za-z]+", name)
    if len(words) < 2 or "(" in name:
        return name
    return f"{name} ({''.join(w[0] for w in words).upper()})"


def _dehyphen(name: str) -> str:
    return name.replace("-", " ")


def _depunct(name: str) -> str:
    return re.sub(r"\s+", " ", name.replace(",", "").replace("'", ""))


def _greek(name: str) -> str:
    return re.sub(r"\b(Alpha|alpha|Beta|beta|Gamma|gamma|Delta|delta|Kappa|kappa)\b",
                  lambda m: {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "kappa": "κ"}[m.group(1).lower()],
                  name)  # fmt: skip


def _type_word(name: str) -> str:
    # "Mucolipidosis type II" -> "Mucolipidosis II": the word "type" left out before the code
    return re.sub(r"\btype (?=\d|[IVX]+\b)", "", name)


SURFACE: dict[str, Callable[[str], str]] = {
    "upper": str.upper,
    "lower": str.lower,
    "title": str.title,
    "accents": _strip_accents,
    "british": _british,
    "possessive": _possessive,
    "roman": _roman_swap,
    "greek": _greek,
    "type_word": _type_word,
    "abbreviation": _abbreviation,
    "hyphens": _dehyphen,
    "punctuation": _depunct,
    "trailing_period": lambda n: f"  {n}. ",
}


def surface_pairs(names: list[str]) -> Iterator[tuple[str, str, str]]:
    """(kind, prediction, gold) for every name a variant changes; both directions for spellings."""
    for kind, fn in SURFACE.items():
        for name in names:
            variant = fn(name)
            if variant != name:
                yield kind, variant, name
                if kind in ("british", "roman", "possessive", "abbreviation", "greek", "type_word"):
                    yield kind, name, variant  # the gold may be the variant spelling


# ---------------------------------------------------------------------------------------------------
# Sibling mining (must not match)
# ---------------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"[A-Za-z0-9]+(?:\.[0-9]+)*")
_INHERITANCE = {"dominant", "recessive", "x", "y", "autosomal", "mitochondrial", "linked", "familial", "sporadic"}
_ONSET = {"infantile", "juvenile", "adult", "neonatal", "congenital", "early", "late", "childhood", "adolescent",
          "prenatal", "perinatal", "fetal", "tarda", "congenita"}  # fmt: skip
_LOCUS_RE = re.compile(r"^\d{1,2}[pq]\d+(?:\.\d+)*$|^[pq]\d+(?:\.\d+)*$")
_GENE_RE = re.compile(r"^[a-z][a-z0-9]*\d[a-z0-9]*$")  # alg6, col4a1, scn1a (lower-cased symbols)
_TYPE_RE = re.compile(r"^(?:\d{1,3}[a-z]?\d?|[a-z]|i{1,3}|iv|vi{0,3}|ix|xi{0,3})$")


def _sibling_kind(a: str, b: str) -> str | None:
    """Why two differing tokens make two distinct (sibling) names, or None for other words."""
    if _LOCUS_RE.match(a) and _LOCUS_RE.match(b):
        return "locus"
    if a in _INHERITANCE and b in _INHERITANCE:
        return "inheritance"
    if a in _ONSET and b in _ONSET:
        return "onset"
    if _TYPE_RE.match(a) and _TYPE_RE.match(b):
        return "type"
    if _GENE_RE.match(a) and _GENE_RE.match(b):
        return "gene"
    return None


def one_word_pairs(names: list[str]) -> Iterator[tuple[str, str, str, str]]:
    """(name_a, name_b, token_a, token_b): distinct names whose token lists differ in exactly one place."""
    groups: dict[tuple[str, ...], list[tuple[str, str]]] = defaultdict(list)
    for name in names:
        toks = [t.lower() for t in _TOKEN_RE.findall(name)]
        for i in range(len(toks)):
            groups[(*toks[:i], "\0", *toks[i + 1 :])].append((name, toks[i]))
    seen: set[frozenset[str]] = set()
    for members in groups.values():
        for i, (na, ta) in enumerate(members):
            for nb, tb in members[i + 1 :]:
                key = frozenset((na, nb))
                if ta != tb and key not in seen:
                    seen.add(key)
                    yield na, nb, ta, tb


_PHRASES = {
    "inheritance": re.compile(
        r"\b(?:autosomal (?:dominant|recessive)|x-linked(?: (?:dominant|recessive))?|y-linked|mitochondrial|"
        r"(?:dominant|recessive))\b", re.IGNORECASE),
    "onset": re.compile(
        r"\b(?:(?:early|late|adult|adolescent|juvenile|infantile|childhood|neonatal|congenital)(?:[- ]onset)?|"
        r"tarda|congenita)\b", re.IGNORECASE),
}  # fmt: skip


def phrase_pairs(names: list[str]) -> Iterator[tuple[str, str, str]]:
    """(name_a, name_b, kind): names identical except for one inheritance / onset phrase (any length)."""
    seen: set[frozenset[str]] = set()
    for kind, pat in _PHRASES.items():
        groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for name in names:
            for m in pat.finditer(name):
                template = (name[: m.start()] + "\0" + name[m.end() :]).lower()
                groups[template].append((name, m.group(0).lower()))
        for members in groups.values():
            for i, (na, pa) in enumerate(members):
                for nb, pb in members[i + 1 :]:
                    key = frozenset((na, nb))
                    if pa != pb and key not in seen:
                        seen.add(key)
                        yield na, nb, kind


# ---------------------------------------------------------------------------------------------------
# Hack shapes (no credit)
# ---------------------------------------------------------------------------------------------------


def hack_answers(gold: str, other: str, third: str) -> Iterator[tuple[str, str]]:
    yield "or", f"{gold} or {other}"
    yield "or_reversed", f"{other} or {gold}"
    yield "either", f"Either {gold} or {other}"
    yield "vs", f"{gold} vs {other}"
    yield "slash", f"{gold} / {other}"
    yield "semicolon", f"{gold}; {other}"
    yield "oxford", f"{other}, {third}, or {gold}"
    yield "numbered", f"1. {gold}\n2. {other}\n3. {third}"
    yield "bullets", f"- {other}\n- {gold}"
    yield "not", f"Not {gold}"
    yield "excluded", f"{gold} was excluded"
    yield "ruled_out", f"{gold} ruled out"
    yield "empty", ""
    yield "blank", "   "


# ---------------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------------


def _report(title: str, counts: dict[str, list[int]]) -> None:
    print(f"\n{title}")
    for kind, (ok, n) in sorted(counts.items()):
        print(f"  {kind:<18} {ok:>6}/{n:<6} {ok / n:7.2%}")


def test_surface_variants_match(base_names: list[str]) -> None:
    scorer = get_scorer("rarearena_rdc")
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    failures: list[tuple[str, str, str, str]] = []
    for kind, pred, gold in surface_pairs(base_names):
        s = scorer.score(completion(pred), record(gold))
        counts[kind][1] += 1
        counts["ALL"][1] += 1
        if s.correct:
            counts[kind][0] += 1
            counts["ALL"][0] += 1
        else:
            failures.append((kind, pred, gold, s.reason))
    _report("surface variants (must match)", counts)
    for f in failures[:15]:
        print("   miss:", f)
    assert counts["ALL"][1] > 5000
    for kind, (ok, n) in counts.items():
        assert ok / n >= 0.98, (kind, ok, n, failures[:10])


def test_mined_siblings_do_not_match(orphanet: list[dict]) -> None:
    names = [e["name"] for e in orphanet]
    scorer = get_scorer("rarearena_rdc")
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    seed_accepts: dict[str, int] = defaultdict(int)
    failures: list[tuple[str, str, str]] = []
    for na, nb, ta, tb in one_word_pairs(names):
        kind = _sibling_kind(ta, tb)
        if kind is None:
            continue
        for pred, gold in ((na, nb), (nb, na)):
            s = scorer.score(completion(pred), record(gold))
            for k in (kind, "ALL"):
                counts[k][1] += 1
                counts[k][0] += not s.correct
                seed_accepts[k] += seed_match(pred, gold)
            if s.correct:
                failures.append((pred, gold, s.reason))
    for na, nb, kind in phrase_pairs(names):  # "Autosomal dominant X" vs "X-linked X", "early-onset" vs ...
        for pred, gold in ((na, nb), (nb, na)):
            s = scorer.score(completion(pred), record(gold))
            for k in (f"{kind}_phrase", "ALL"):
                counts[k][1] += 1
                counts[k][0] += not s.correct
                seed_accepts[k] += seed_match(pred, gold)
            if s.correct:
                failures.append((pred, gold, s.reason))
    _report("mined siblings (must NOT match)", counts)
    print("  seed difflib matcher accepts:")
    for k, (_, n) in sorted(counts.items()):
        print(f"    {k:<16} {seed_accepts[k]:>6}/{n:<6} {seed_accepts[k] / n:7.2%}")
    for f in failures[:15]:
        print("   wrongly matched:", f)
    assert counts["ALL"][1] > 1000
    for kind, (ok, n) in counts.items():
        assert ok / n >= 0.98, (kind, ok, n, failures[:10])
    # what this fixes: the seed's matcher accepts a large share of these different diseases
    assert seed_accepts["ALL"] / counts["ALL"][1] >= 0.5


def test_any_one_word_siblings_do_not_match(orphanet: list[dict], orphanet_path: Path) -> None:
    """Orphanet pairs that differ in one word of any kind (a seeded 40,000-pair sample of the ~115,000,
    both directions); the few the plain scorer accepts must be vetoed once the hierarchy is given."""
    names = [e["name"] for e in orphanet]
    pairs = [(na, nb) for na, nb, _ta, _tb in one_word_pairs(names)]
    rng = random.Random(11)
    sample = rng.sample(pairs, min(40_000, len(pairs)))
    plain = get_scorer("rarearena_rdc")
    with_h = get_scorer("rarearena_rdc", hierarchy_path=orphanet_path)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    seed = 0
    failures: list[tuple[str, str, str]] = []
    for na, nb in sample:
        for pred, gold in ((na, nb), (nb, na)):
            s = plain.score(completion(pred), record(gold))
            counts["plain"][1] += 1
            counts["plain"][0] += not s.correct
            seed += seed_match(pred, gold)
            if s.correct:
                failures.append((pred, gold, s.reason))
                # with the hierarchy, an answer that is itself another Orphanet entity is vetoed
                h = with_h.score(completion(pred), record(gold))
                counts["plain_misses_with_hierarchy"][1] += 1
                counts["plain_misses_with_hierarchy"][0] += not h.correct
    _report(f"one-word Orphanet siblings, {len(sample)} of {len(pairs)} pairs (must NOT match)", counts)
    n = counts["plain"][1]
    print(f"  seed difflib matcher accepts {seed}/{n} = {seed / n:.2%}")
    for f in failures[:15]:
        print("   wrongly matched without hierarchy:", f)
    assert n > 20_000
    for kind, (ok, m) in counts.items():
        assert ok / m >= (0.98 if kind == "plain" else 1.0), (kind, ok, m, failures[:10])


def test_hypernyms_never_correct(orphanet: list[dict], orphanet_path: Path) -> None:
    plain = get_scorer("rarearena_rdc")
    with_h = get_scorer("rarearena_rdc", hierarchy_path=orphanet_path)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    tier_fail: list[tuple[str, str, str, str]] = []
    for e in orphanet:
        for p in e["parents"]:
            if p["parent_disease_count"] > 10:
                continue
            parent, child = p["parent"], e["name"]
            s0 = plain.score(completion(parent), record(child))
            s1 = with_h.score(completion(parent), record(child))  # by name, as an evaluator would
            counts["not_correct_plain"][1] += 1
            counts["not_correct_plain"][0] += not s0.correct
            counts["not_correct_hierarchy"][1] += 1
            counts["not_correct_hierarchy"][0] += not s1.correct
            counts["tier_hypernym"][1] += 1
            counts["tier_hypernym"][0] += s1.tier is Tier.hypernym and s1.details["hypernym"]
            if s1.tier is not Tier.hypernym or s1.correct or s0.correct:
                tier_fail.append((parent, child, s1.tier.value, s1.reason))
    _report("hypernyms: parent as answer, child as gold", counts)
    for f in tier_fail[:15]:
        print("   fail:", f)
    assert counts["tier_hypernym"][1] > 1000
    for kind, (ok, n) in counts.items():
        assert ok / n >= 0.98, (kind, ok, n, tier_fail[:10])


def test_hack_shapes_get_no_credit(base_names: list[str]) -> None:
    rng = random.Random(7)
    golds = rng.sample(base_names, 400)
    scorer = get_scorer("rarearena_rdc")
    zero = get_scorer("rarearena_rdc", preset="diagnosis_zero")
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    flagged: dict[str, int] = defaultdict(int)
    failures: list[tuple[str, str, str]] = []
    for gold in golds:
        other, third = rng.sample(base_names, 2)
        if gold in (other, third):
            continue
        for kind, answer in hack_answers(gold, other, third):
            s = scorer.score(completion(answer), record(gold))
            z = zero.score(completion(answer), record(gold))
            no_credit = not s.correct and s.components["accuracy"] == 0.0 and z.reward <= 0.1
            counts[kind][1] += 1
            counts[kind][0] += no_credit
            flagged[kind] += s.status in (Status.hacking, Status.empty)
            if not no_credit:
                failures.append((kind, answer, s.reason))
    _report("hack shapes (no credit)", counts)
    print("  flagged as hacking/empty:")
    for k, (_, n) in sorted(counts.items()):
        print(f"    {k:<14} {flagged[k]:>5}/{n:<5} {flagged[k] / n:7.2%}")
    assert not failures, failures[:10]
    for kind, (_, n) in counts.items():
        assert flagged[kind] / n >= 0.98, (kind, flagged[kind], n)
