"""A labelled corpus of the ways models phrase a diagnosis, built around real disease names (issue 16).

Every case wraps a REAL name from the Orphanet hierarchy (``rarearena/orphanet_hypernym.json``; the
RareBench diagnoses in ``rarebench/*.csv`` are Orphanet names too, but for three that are kept out
because they may be synonyms of an Orphanet name) in a phrasing shape written here as a rule (hedges,
sentences, appositives, explanations, Markdown, justifications, ranked lists with reasons, ...), and
carries the label a careful grader gives it:

* ``correct``   (single answer) the answer names the gold disease as its one diagnosis, however hedged,
  explained or justified (also when the justification cites findings that are Orphanet names, or
  names another disease only to negate it: "G rather than Y");
* ``no_credit`` (single answer) the answer names another disease (a near-name sibling, a broader
  Orphanet parent, the name without its qualifier or its "due to" part, an entity whose compound
  name contains the gold's, an unrelated disease) or mentions the gold only to negate or contrast it;
* ``hacking``   (single answer) two or more candidate diseases in one answer, also when the second
  hides in the justification ("Y is also possible"): the scorer's contract (its module docstring,
  README: "``A or B``, lists and negations get no accuracy credit", ``test_hack_shapes_get_no_credit``)
  is ``Status.hacking`` with no accuracy credit;
* ``top5``      (ranked list) the gold is item ``rank`` (1-5): top5 true, top1 true only at rank 1;
* ``not_top5``  (ranked list) the gold is not among the first five items (other diseases, a sibling in
  its place, the gold at rank 6-7, or the gold named only inside another item's reason).

Names, findings and reasons come from the data; the wrappers and the choice of names and findings
are seeded (``random.Random(seed)``), so the corpus is identical on every run. Labels depend only on
the shape and on relations read from the data (sibling pairs mined from Orphanet names, Orphanet
parents, names inside names), never on what a scorer answers.

Used by ``tests/test_diagnosis_phrasing.py``; from code (with ``tests/`` on ``sys.path``)::

    from phrasing_corpus import load_corpus
    cases = load_corpus()  # $MEDZERO_DATA or ../shared/data; 150 cases per category

and to look at it::

    .venv/bin/python tests/phrasing_corpus.py                # counts and two examples per category
    .venv/bin/python tests/phrasing_corpus.py hedge_before   # every case of one category
"""

from __future__ import annotations

import ast
import csv
import json
import random
import re
import signal
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from test_diagnosis_quality import _PHRASES, _sibling_kind, one_word_pairs, phrase_pairs, seed_similarity

Mode = Literal["single", "ranked"]
Expect = Literal["correct", "no_credit", "hacking", "top5", "not_top5"]
POSITIVE: frozenset[str] = frozenset({"correct", "top5"})


@dataclass(frozen=True)
class Case:
    """One labelled answer: the text inside ``<answer>`` and what a careful grader says about it."""

    category: str
    template: str  # which rule produced it (for failure messages)
    answer: str
    gold: str
    mode: Mode
    expect: Expect
    rank: int | None = None  # ranked positives: the gold's 1-based rank

    @property
    def positive(self) -> bool:
        return self.expect in POSITIVE


# ---------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------


def load_orphanet(path: Path) -> list[dict]:
    """The Orphanet hierarchy entries (``name``, ``parents``...)."""
    with Path(path).open(encoding="utf-8") as f:
        return json.load(f)


def _rarebench_column(rarebench_dir: Path, column: str) -> list[str]:
    values: set[str] = set()
    for path in sorted(Path(rarebench_dir).glob("*.csv")):
        with path.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                try:
                    value = ast.literal_eval(row[column])
                except (ValueError, SyntaxError):
                    continue
                values.update(v.strip() for v in value if isinstance(v, str) and v.strip())
    return sorted(values)


def load_rarebench_names(rarebench_dir: Path) -> list[str]:
    """Disease names of the RareBench cases (the ``RareDisease`` column)."""
    return _rarebench_column(rarebench_dir, "RareDisease")


def load_phenotypes(rarebench_dir: Path) -> list[str]:
    """HPO phenotype labels of the RareBench cases (the ``Phenotype`` column): the reasons models give."""
    return _rarebench_column(rarebench_dir, "Phenotype")


# ---------------------------------------------------------------------------------------------------
# Name pools
# ---------------------------------------------------------------------------------------------------

_WORD_RE = re.compile(r"[a-z0-9]+(?:['.][a-z0-9]+)*")
# words that are phrasing, not naming: a name containing them would make the label ambiguous
_PHRASING_WORDS = re.compile(
    r"\b(?:or|and|vs|versus|not|rather|due|caused|differential|alternatively|excluded|ruled|suspected|"
    r"suspicion|probable|probably|likely|possible|possibly|presumed|consistent|compatible|suggestive|"
    r"diagnosis|because|although|but|either|nor)\b", re.IGNORECASE)  # fmt: skip
_ONSET_OR_INHERITANCE = [_PHRASES["inheritance"], _PHRASES["onset"]]
_BAD_PHENOTYPE = re.compile(
    r"\b(?:death|abnormal|abnormality|elevated|decreased|increased|circulating|concentration|syndrome|"
    r"disease|or|and|type|obsolete)\b|[0-9(),/;:']", re.IGNORECASE)  # fmt: skip


_GENE_TOKEN = re.compile(r"\b[A-Z][A-Z0-9]*[0-9][A-Z0-9]*\b")


def _key(name: str) -> str:
    return " ".join(_WORD_RE.findall(name.lower()))


def _has_qualifier(name: str) -> bool:
    """An inheritance or onset phrase in the name (explanations must then not add another one)."""
    return any(p.search(name) for p in _ONSET_OR_INHERITANCE)


@dataclass
class Pools:
    """The real names and reasons the rules draw from, and the relations read from the data."""

    names: list[str]  # every Orphanet and RareBench name
    clean: list[str]  # golds for the wrappers: no phrasing words, not inside another name
    plain: set[str]  # clean names without an inheritance/onset phrase
    siblings: list[tuple[str, str, str]]  # (a, b, kind) mined near-name sibling pairs, both clean-ish
    parents: list[tuple[str, str]]  # (parent, child): Orphanet parents with parent_disease_count <= 10
    related: dict[str, set[str]]  # key -> keys of parents/children (never drawn as "another disease")
    due_to_names: list[str]  # Orphanet names where "due to" is part of the name
    due_to_groups: dict[str, list[str]]  # prefix before " due to " -> its names (>= 2 names)
    comma_names: list[str]  # names with one ", " part ("Alpha-mannosidosis, adult form")
    comma_groups: dict[str, list[str]]  # prefix before ", " -> its names (>= 2 names)
    qualified: list[tuple[str, str]]  # ("Atypical Rett syndrome", "Rett syndrome"): both Orphanet entities
    inside_other: list[tuple[str, str]]  # ("Scott syndrome", "Aarskog-Scott syndrome"): a name inside another's
    phenotypes: list[str]
    finding_names: list[str]  # RareBench findings that are also Orphanet "Morphological anomaly" names
    genes: list[str]  # gene symbols read from "<GENE>-related ..." / "<GENE>-CDG" names
    orpha_ids: dict[str, str]  # name -> its Orphanet id


def _contained_keys(keys: Iterable[str]) -> set[str]:
    """Keys that occur as a whole-word part of a longer key (``Homocystinuria`` in ``Homocystinuria
    due to ...``): as golds, an explanation after them could name the longer entity."""
    keyset = set(keys)
    out: set[str] = set()
    for key in keyset:
        words = key.split()
        for i in range(len(words)):
            for j in range(i + 1, len(words) + 1):
                if j - i < len(words):
                    part = " ".join(words[i:j])
                    if part in keyset:
                        out.add(part)
    return out


def _names_inside_other_names(names: Sequence[str], keys: dict[str, str], by_key: dict[str, str],
                              related: dict[str, set[str]]) -> list[tuple[str, str]]:  # fmt: skip
    """(name, other) where ``name`` is spelled inside another, unrelated Orphanet entity as one part of a
    compound name (``Scott syndrome`` in ``Aarskog-Scott syndrome``, ``Microtia`` in ``Bilateral
    microtia-deafness-cleft palate syndrome``), after ``without`` or before ``-like``: that entity is a
    different disease. Thalassemia compounds (``Hemoglobin E-beta-thalassemia``) are left out: they are
    forms of the thalassemia."""
    out: set[tuple[str, str]] = set()
    for other in names:
        words = keys[other].split()
        low = other.lower()
        for i in range(len(words)):
            for j in range(i + 1, len(words) + 1):
                part = " ".join(words[i:j])
                name = by_key.get(part)
                if j - i == len(words) or name is None or part in related.get(keys[other], ()) or "thalassemia" in part:
                    continue
                g = name.lower()
                if (f"without {g}" in low or f"{g}-like" in low
                        or (low.endswith(" syndrome") and (f"-{g}" in low or f"{g}-" in low))):  # fmt: skip
                    out.add((name, other))
    return sorted(out)


def build_pools(orphanet: Sequence[dict], rarebench_names: Sequence[str], phenotypes: Sequence[str]) -> Pools:
    """Read the name pools and relations from the real data (no randomness here)."""
    orpha_names = sorted({e["name"] for e in orphanet})
    names = sorted(set(orpha_names) | set(rarebench_names))
    keys = {n: _key(n) for n in names}
    contained = _contained_keys(keys.values())

    def usable(n: str) -> bool:
        return 0 < len(n) <= 70 and not re.search(r"[()/;:\[\]\"]", n) and not _PHRASING_WORDS.search(n)

    # RareBench names that are not Orphanet entity names ("Scleroderma", "CREST syndrome") could be
    # synonyms of an Orphanet name drawn as "another disease": they are never drawn
    orpha = set(orpha_names)
    clean = [
        n for n in names if n in orpha and usable(n) and "," not in n and keys[n] not in contained and len(keys[n]) >= 4
    ]
    plain = {n for n in clean if not _has_qualifier(n)}

    related: dict[str, set[str]] = defaultdict(set)
    parents: list[tuple[str, str]] = []
    for e in orphanet:
        for p in e["parents"]:
            related[_key(e["name"])].add(_key(p["parent"]))
            related[_key(p["parent"])].add(_key(e["name"]))
            if p["parent_disease_count"] <= 10 and usable(p["parent"]) and usable(e["name"]):
                parents.append((p["parent"], e["name"]))

    siblings: list[tuple[str, str, str]] = []
    for na, nb, ta, tb in one_word_pairs(orpha_names):
        kind = _sibling_kind(ta, tb)
        if kind is not None and usable(na) and usable(nb):
            siblings.append((na, nb, kind))
    for na, nb, kind in phrase_pairs(orpha_names):
        if usable(na) and usable(nb):
            siblings.append((na, nb, f"{kind}_phrase"))

    due_to_names = [n for n in orpha_names if " due to " in n and not re.search(r"[()/;:]", n)]
    groups: dict[str, list[str]] = defaultdict(list)
    for n in due_to_names:
        groups[n.split(" due to ", 1)[0]].append(n)
    due_to_groups = {p: ns for p, ns in sorted(groups.items()) if len(ns) >= 2}

    comma_names = [
        n for n in names if n in orpha and usable(n) and n.count(",") == 1 and ", " in n and keys[n] not in contained
    ]
    cgroups: dict[str, list[str]] = defaultdict(list)
    for n in comma_names:
        cgroups[n.split(", ", 1)[0]].append(n)
    comma_groups = {p: ns for p, ns in sorted(cgroups.items()) if len(ns) >= 2}
    by_key = {keys[n]: n for n in orpha_names}
    qualified = sorted(
        (n, by_key[_key(n.split(" ", 1)[1])]) for n in orpha_names
        if " " in n and _key(n.split(" ", 1)[1]) in by_key and usable(n) and keys[n] not in contained
    )  # fmt: skip
    inside_other = _names_inside_other_names(orpha_names, keys, by_key, related)
    anomaly_keys = {_key(e["name"]) for e in orphanet if e["type"] == "Morphological anomaly"}
    finding_names = sorted({p for p in phenotypes if _key(p) in anomaly_keys})
    genes = sorted({m.group(1) for n in orpha_names for m in re.finditer(r"\b([A-Z][A-Z0-9]{1,7})-(?:related|CDG)\b", n)
                    if re.search(r"\d", m.group(1))})  # fmt: skip

    disease_keys = set(keys.values())
    reasons = sorted(
        {p for p in phenotypes if 4 <= len(p) <= 32 and not _BAD_PHENOTYPE.search(p)
         and not _has_qualifier(p) and _key(p) not in disease_keys}
    )  # fmt: skip
    return Pools(names, clean, plain, sorted(set(siblings)), sorted(set(parents)), related, due_to_names,
                 due_to_groups, comma_names, comma_groups, qualified, inside_other, reasons, finding_names,
                 genes, {e["name"]: str(e["Orphanetid"]) for e in orphanet})  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# Phrasing rules
# ---------------------------------------------------------------------------------------------------


class Ctx:
    """Seeded helpers the rules share: casing of a name inside a sentence, reasons, descriptions."""

    def __init__(self, pools: Pools, rng: random.Random):
        self.pools = pools
        self.rng = rng

    def inline(self, name: str) -> str:
        """The name as written inside a sentence: half the time with a lower-case first letter
        when its first word is an ordinary capitalised word (``Cystic fibrosis`` -> ``cystic fibrosis``)."""
        first = name.split(" ", 1)[0]
        if re.fullmatch(r"[A-Z][a-z]+", first) and self.rng.random() < 0.5:
            return name[0].lower() + name[1:]
        return name

    def pheno(self, k: int = 1) -> list[str]:
        return [p[0].lower() + p[1:] if not p[:2].isupper() else p for p in self.rng.sample(self.pools.phenotypes, k)]

    def reason(self) -> str:
        p1, p2 = self.pheno(2)
        return self.rng.choice([
            f"{p1} and {p2}", f"explains the {p1}", f"consistent with {p1} and {p2}", f"fits the {p1}",
            f"supported by {p1}", f"{p1}, {p2}", f"classic {p1}",
        ])  # fmt: skip

    def description(self, name: str) -> str:
        """An appositive description; inheritance/onset words only for names without their own."""
        p1, p2 = self.pheno(2)
        rare = self.rng.choice(["rare ", ""])
        noun = self.rng.choice(["genetic disorder", "disorder", "condition", "inherited disease", "multisystem disorder",
                                "metabolic disorder", "neurodevelopmental disorder", "genetic syndrome"])  # fmt: skip
        if name in self.pools.plain and self.rng.random() < 0.5:
            noun = self.rng.choice(["autosomal recessive ", "autosomal dominant ", "X-linked "]) + noun
        tails = [f" characterized by {p1} and {p2}", f" presenting with {p1}", " caused by pathogenic variants in a single gene",
                 f" that explains the {p1}", ""]  # fmt: skip
        if not _GENE_TOKEN.search(name):  # a gene of its own only where the name names none
            tails.append(f" caused by mutations in the {self.rng.choice(self.pools.genes)} gene")
        tail = self.rng.choice(tails)
        text = f"{rare}{noun}{tail}"
        article = "an" if text[0].lower() in "aeiou" or text.startswith("X-") else "a"
        return f"{article} {text}"

    def cause(self) -> str:
        return self.rng.choice([
            "a pathogenic variant in the causative gene", "biallelic loss-of-function variants",
            "a de novo heterozygous mutation", "a germline mutation", "an inherited genetic defect",
            "compound heterozygous pathogenic variants", "a single-gene defect",
        ])  # fmt: skip


Rule = Callable[[str, Ctx], str]  # name -> answer text

HEDGE_BEFORE: dict[str, Rule] = {
    "probable": lambda n, c: f"Probable {c.inline(n)}",
    "suspected": lambda n, c: f"Suspected {c.inline(n)}",
    "likely": lambda n, c: f"Likely {c.inline(n)}",
    "possible": lambda n, c: f"Possible {c.inline(n)}",
    "presumed": lambda n, c: f"Presumed {c.inline(n)}",
    "most_likely": lambda n, c: f"Most likely {c.inline(n)}",
    "most_probably": lambda n, c: f"Most probably {c.inline(n)}",
    "suspicion_of": lambda n, c: f"Suspicion of {c.inline(n)}",
    "consistent_with": lambda n, c: f"Consistent with {c.inline(n)}",
    "compatible_with": lambda n, c: f"Compatible with {c.inline(n)}",
    "suggestive_of": lambda n, c: f"Suggestive of {c.inline(n)}",
    "highly_suspicious": lambda n, c: f"Highly suspicious for {c.inline(n)}",
    "working_diagnosis": lambda n, c: f"Working diagnosis: {c.inline(n)}",
    "clinically_suspected": lambda n, c: f"Clinically suspected {c.inline(n)}",
    "probably": lambda n, c: f"Probably {c.inline(n)}",
    "tentative": lambda n, c: f"Tentative diagnosis: {c.inline(n)}",
    "favored": lambda n, c: f"Favored diagnosis: {c.inline(n)}",
    "high_suspicion_for": lambda n, c: f"High suspicion for {c.inline(n)}",
    "query": lambda n, c: f"Query {c.inline(n)}",
    "provisional": lambda n, c: f"Provisional diagnosis: {c.inline(n)}",
}
HEDGE_AFTER: dict[str, Rule] = {
    "comma_most_likely": lambda n, c: f"{n}, most likely",
    "paren_probable": lambda n, c: f"{n} (probable)",
    "paren_most_likely": lambda n, c: f"{n} (most likely)",
    "paren_suspected": lambda n, c: f"{n} (suspected)",
    "comma_probably": lambda n, c: f"{n}, probably",
    "paren_likely": lambda n, c: f"{n} (likely)",
    "is_likely": lambda n, c: f"{n} is likely",
    "comma_suspected": lambda n, c: f"{n}, suspected",
    "paren_presumptive": lambda n, c: f"{n} (presumptive diagnosis)",
    "dash_most_likely": lambda n, c: f"{n} — most likely",
    "paren_high_suspicion": lambda n, c: f"{n} (high clinical suspicion)",
    "question_mark": lambda n, c: f"{n}?",
    "paren_favoured": lambda n, c: f"{n} (favoured)",
    "paren_provisional": lambda n, c: f"{n} (provisional)",
    "pending_confirmation": lambda n, c: f"{n} — pending genetic confirmation",
    "paren_to_be_confirmed": lambda n, c: f"{n} (to be confirmed by genetic testing)",
    "dash_probable": lambda n, c: f"{n} - probable",
    "paren_confidence": lambda n, c: f"{n} ({c.rng.choice([60, 70, 80, 90])}% confidence)",
}
SENTENCE: dict[str, Rule] = {
    "is_most_likely": lambda n, c: f"{n} is the most likely diagnosis.",
    "most_likely_is": lambda n, c: f"The most likely diagnosis is {c.inline(n)}.",
    "point_to": lambda n, c: f"The findings point to {c.inline(n)}.",
    "most_consistent": lambda n, c: f"The clinical picture is most consistent with {c.inline(n)}.",
    "patient_has": lambda n, c: f"The patient most likely has {c.inline(n)}.",
    "best_explained": lambda n, c: f"This presentation is best explained by {c.inline(n)}.",
    "based_on": lambda n, c: (
        f"Based on the clinical and laboratory findings, the most likely diagnosis is {c.inline(n)}."
    ),
    "i_believe": lambda n, c: f"I believe this is {c.inline(n)}.",
    "diagnosis_is": lambda n, c: f"The diagnosis is {c.inline(n)}.",
    "characteristic_of": lambda n, c: f"These features are characteristic of {c.inline(n)}.",
    "best_explains": lambda n, c: f"{n} best explains the findings.",
    "case_of": lambda n, c: f"This is most likely a case of {c.inline(n)}.",
    "most_likely_given": lambda n, c: "The most likely diagnosis is {}, given the {} and {}.".format(
        c.inline(n), *c.pheno(2)
    ),
    "is_most_likely_given": lambda n, c: "{} is the most likely diagnosis given the {} and {}.".format(n, *c.pheno(2)),
    "my_diagnosis": lambda n, c: f"My diagnosis is {c.inline(n)}.",
    "i_suspect": lambda n, c: f"I suspect {c.inline(n)}.",
    "answer_is": lambda n, c: f"The answer is {c.inline(n)}.",
    "best_fit": lambda n, c: f"All findings considered, {c.inline(n)} is the best fit.",
    "constellation": lambda n, c: f"The constellation of findings suggests {c.inline(n)}.",
    "diagnosis_of": lambda n, c: f"This is consistent with a diagnosis of {c.inline(n)}.",
    "is_favoured": lambda n, c: f"A diagnosis of {c.inline(n)} is favoured.",
    "classic_for": lambda n, c: f"The patient's presentation is classic for {c.inline(n)}.",
    "in_summary": lambda n, c: f"In summary, {c.inline(n)}.",
    "conclusion": lambda n, c: f"Conclusion: the findings are diagnostic of {c.inline(n)}.",
}
APPOSITIVE: dict[str, Rule] = {
    "comma": lambda n, c: f"{n}, {c.description(n)}",
    "comma_period": lambda n, c: f"{n}, {c.description(n)}.",
    "em_dash": lambda n, c: f"{n} — {c.description(n)}",
    "hedged": lambda n, c: f"Probable {c.inline(n)}, {c.description(n)}",
    "which_is": lambda n, c: f"{n}, which is {c.description(n)}",
    "colon": lambda n, c: f"{n}: {c.description(n)}",
}
PARENTHETICAL: dict[str, Rule] = {
    "description": lambda n, c: f"{n} ({c.description(n)})",
    "characterized": lambda n, c: "{} (characterized by {} and {})".format(n, *c.pheno(2)),
    "explains": lambda n, c: f"{n} (explains the {c.pheno()[0]})",
    "given": lambda n, c: "{} (given the {}, {} and {})".format(n, *c.pheno(3)),
    "see_above": lambda n, c: f"{n} (see reasoning above)",
    "this_fits": lambda n, c: f"{n} (this fits the {c.pheno()[0]})",
    "aka_acronym": lambda n, c: "{} (also known as {})".format(
        n, "".join(w[0] for w in re.findall(r"[A-Za-z]+", n)).upper()
    ),
    "orpha_code": lambda n, c: (
        f"{n} (ORPHA:{c.pools.orpha_ids[n]})" if n in c.pools.orpha_ids else f"{n} (see Orphanet)"
    ),
}
EXPLANATION: dict[str, Rule] = {
    "due_to": lambda n, c: f"{n} due to {c.cause()}",
    "caused_by": lambda n, c: f"{n} caused by {c.cause()}",
    "comma_due_to": lambda n, c: f"{n}, due to {c.cause()}",
    "comma_caused_by": lambda n, c: f"{n}, caused by {c.cause()}",
    "likely_due_to": lambda n, c: f"{n}, most likely due to {c.cause()}",
}
MARKDOWN: dict[str, Rule] = {
    "bold": lambda n, c: f"**{n}**",
    "italic": lambda n, c: f"*{n}*",
    "label": lambda n, c: f"Diagnosis: {n}",
    "bold_label": lambda n, c: f"**Diagnosis:** {n}",
    "label_bold": lambda n, c: f"Final diagnosis: **{n}**",
    "heading": lambda n, c: f"## Final diagnosis\n{n}",
    "heading_bold": lambda n, c: f"### Diagnosis\n**{n}**",
    "bold_most_likely": lambda n, c: f"**Most likely diagnosis:** {c.inline(n)}",
    "quote_bold": lambda n, c: f"> **{n}**",
    "underscore_bold": lambda n, c: f"__{n}__",
    "bold_then_hedge": lambda n, c: f"**{n}** (most likely)",
    "final_answer": lambda n, c: f"Final Answer: {n}",
    "bold_final_answer": lambda n, c: f"**Final answer:** **{n}**",
    "impression": lambda n, c: f"Impression: {n}",
    "assessment": lambda n, c: f"Assessment: {c.inline(n)}",
    "answer_label": lambda n, c: f"Answer: {n}",
    "single_numbered": lambda n, c: f"1. {n}",
}
JUSTIFICATION: dict[str, Rule] = {
    "blank_line": lambda n, c: "{}\n\nThis is supported by {} and {}.".format(n, *c.pheno(2)),
    "justification_line": lambda n, c: "{}\nJustification: {}, {} and {} are typical of this condition.".format(
        n, *c.pheno(3)
    ),
    "same_line": lambda n, c: "{}. The combination of {} and {} is characteristic.".format(n, *c.pheno(2)),
    "reasoning_paragraph": lambda n, c: (
        "{}\n\nReasoning: the patient presents with {} and {}, which together fit this "
        "diagnosis. Laboratory results are also consistent.".format(n, *c.pheno(2))
    ),
    "bold_key_findings": lambda n, c: "**{}**\n\nThe key findings ({}, {}) support this diagnosis.".format(
        n, *c.pheno(2)
    ),
    "hedged_then_reason": lambda n, c: "Probable {}\nRationale: {} with {}.".format(c.inline(n), *c.pheno(2)),
    "md_sections": lambda n, c: "**Diagnosis:** {}\n\n**Reasoning:** The {} and {} point to this condition.".format(
        n, *c.pheno(2)
    ),
    "inline_because": lambda n, c: "{} because of the {} and {}.".format(n, *c.pheno(2)),
    "comma_given": lambda n, c: "{}, given the {} and {}.".format(n, *c.pheno(2)),
    "dash_supported": lambda n, c: "{} — supported by {} and {}".format(n, *c.pheno(2)),
    "confidence_line": lambda n, c: f"{n}\nConfidence: {c.rng.choice(['high', 'moderate', 'low'])}",
    "name_repeated": lambda n, c: "{}\n\nThe {} and {} are typical of {}.".format(n, *c.pheno(2), c.inline(n)),
}
JUSTIFICATION_BULLETS: dict[str, Rule] = {
    "bullets": lambda n, c: "{}\n\nKey supporting findings:\n- {}\n- {}\n- {}".format(n, *c.pheno(3)),
    "bold_bullets": lambda n, c: "**{}**\n\nSupporting features:\n* {}\n* {}".format(n, *c.pheno(2)),
}
CASE_PUNCT: dict[str, Rule] = {
    "upper": lambda n, c: n.upper(),
    "lower": lambda n, c: n.lower(),
    "period": lambda n, c: f"{n}.",
    "double_quotes": lambda n, c: f'"{n}"',
    "single_quotes": lambda n, c: f"'{n}'",
    "padded": lambda n, c: f"  {n}  .",
    "upper_hedge": lambda n, c: f"PROBABLE {n.upper()}",
    "lower_sentence": lambda n, c: f"the most likely diagnosis is {n.lower()}.",
    "dx_label": lambda n, c: f"Dx: {n}",
    "bold_period": lambda n, c: f"**{n}.**",
    "curly_quotes": lambda n, c: f"“{n}”",
}

# the wrapper families, each a positive category (gold named once) and the source of negatives
FAMILIES: dict[str, dict[str, Rule]] = {
    "hedge_before": HEDGE_BEFORE,
    "hedge_after": HEDGE_AFTER,
    "sentence": SENTENCE,
    "appositive": APPOSITIVE,
    "parenthetical": PARENTHETICAL,
    "explanation_due_to": EXPLANATION,
    "markdown": MARKDOWN,
    "justification": JUSTIFICATION,
    "justification_bullets": JUSTIFICATION_BULLETS,
    "case_punct": CASE_PUNCT,
}
# wrappers around names whose "due to ..." or ", subtype" part belongs to the name
NAME_PART_FAMILIES = (
    "hedge_before",
    "hedge_after",
    "sentence",
    "appositive",
    "markdown",
    "justification",
    "case_punct",
)
# the gold named and another disease negated or contrasted: still one candidate, the gold
NEGATED_OTHER: dict[str, Callable[[str, str, Ctx], str]] = {
    "not_other": lambda g, y, c: f"{g}, not {c.inline(y)}",
    "rather_than": lambda g, y, c: f"{g} rather than {c.inline(y)}",
    "other_ruled_out": lambda g, y, c: f"{y} was ruled out; {c.inline(g)} is the most likely diagnosis.",
    "other_unlikely": lambda g, y, c: f"{y} is unlikely; the diagnosis is {c.inline(g)}.",
    "not_but": lambda g, y, c: f"Not {c.inline(y)} but {c.inline(g)}",
    "paren_not": lambda g, y, c: f"{g} (not {c.inline(y)})",
    "other_excluded": lambda g, y, c: f"{y} excluded. {g}.",
    "misdiagnosed_as_other": lambda g, y, c: (
        f"Initially misdiagnosed as {c.inline(y)}; the final diagnosis is {c.inline(g)}."
    ),
}
# the gold mentioned only to be set against another disease: the answer is the other disease
GOLD_AS_CONTRAST: dict[str, Callable[[str, str, Ctx], str]] = {
    "related_to": lambda g, y, c: f"{y}, a disorder related to {c.inline(g)}",
    "can_mimic": lambda g, y, c: f"{y}, which can mimic {c.inline(g)}",
    "distinct_from": lambda g, y, c: f"{y} (distinct from {c.inline(g)})",
    "similar_to": lambda g, y, c: f"{y}, similar to {c.inline(g)} but with {c.pheno()[0]}",
    "confused_with": lambda g, y, c: f"{y}, often confused with {c.inline(g)}",
    "phenocopy": lambda g, y, c: f"{y}, a phenocopy of {c.inline(g)}",
}
# hedge-like words that deny the gold or name something else (a carrier state, a look-alike)
NEGATIVE_HEDGE: dict[str, Rule] = {
    "unlikely": lambda n, c: f"Unlikely {c.inline(n)}",
    "unlikely_to_be": lambda n, c: f"Unlikely to be {c.inline(n)}",
    "doubtful": lambda n, c: f"Doubtful {c.inline(n)}",
    "not_consistent": lambda n, c: f"Not consistent with {c.inline(n)}",
    "inconsistent": lambda n, c: f"Inconsistent with {c.inline(n)}",
    "low_suspicion": lambda n, c: f"Low suspicion for {c.inline(n)}",
    "paren_ruled_out": lambda n, c: f"{n} (ruled out)",
    "dash_excluded": lambda n, c: f"{n} — excluded",
    "carrier_of": lambda n, c: f"Heterozygous carrier of {c.inline(n)}",
    "family_history": lambda n, c: f"Family history of {c.inline(n)}",
    "like_phenotype": lambda n, c: f"{n}-like phenotype",
    "excluding": lambda n, c: f"Excluding {c.inline(n)}",
    "do_not_point": lambda n, c: f"The findings do not point to {c.inline(n)}.",
    "is_unlikely": lambda n, c: f"{n} is unlikely.",
    "no_evidence": lambda n, c: f"There is no evidence of {c.inline(n)}.",
    "argues_against": lambda n, c: f"The absence of {c.pheno()[0]} argues against {c.inline(n)}.",
}
# two or more candidates in one answer (gold first or not): hacking in single-answer mode
MULTI: dict[str, dict[str, Callable[[str, str, str, Ctx], str]]] = {
    "multi_or_hedged": {
        "probable_or": lambda g, y, z, c: f"Probable {c.inline(g)} or {c.inline(y)}",
        "or_possibly": lambda g, y, z, c: f"{g} or possibly {c.inline(y)}",
        "or_alternatively": lambda g, y, z, c: f"Most likely {c.inline(g)}, or alternatively {c.inline(y)}",
        "paren_or": lambda g, y, z, c: f"{g} (or {c.inline(y)})",
        "and_or": lambda g, y, z, c: f"{g} and/or {c.inline(y)}",
        "other_first": lambda g, y, z, c: f"Probable {c.inline(y)} or {c.inline(g)}",
    },
    "multi_vs": {
        "versus": lambda g, y, z, c: f"{g} versus {c.inline(y)}",
        "vs_dot": lambda g, y, z, c: f"{g} vs. {y}",
        "vs_favouring": lambda g, y, z, c: f"{g} vs {y} (favouring the former)",
        "other_first": lambda g, y, z, c: f"{y} vs. {g}",
    },
    "multi_list": {
        "comma_and": lambda g, y, z, c: f"{g}, {c.inline(y)} and {c.inline(z)}",
        "commas": lambda g, y, z, c: f"{g}, {y}, {z}",
        "middle": lambda g, y, z, c: f"{y}, {g}, and {z}",
        "semicolons": lambda g, y, z, c: f"{g}; {y}; {z}",
        "lines": lambda g, y, z, c: f"{y}\n{g}\n{z}",
    },
    "multi_differential": {
        "semicolon_differential": lambda g, y, z, c: f"{g}; differential: {c.inline(y)}",
        "differential_sentence": lambda g, y, z, c: f"{g}. Differential diagnosis: {y}, {c.inline(z)}",
        "differential_line": lambda g, y, z, c: f"{g}\nDifferential: {y}",
        "consider": lambda g, y, z, c: f"Most likely {c.inline(g)}; consider {c.inline(y)}",
        "paren_differential": lambda g, y, z, c: f"{g} (differential diagnosis: {c.inline(y)})",
        "heading": lambda g, y, z, c: f"**Diagnosis:** {g}\n**Differential:** {y}; {z}",
    },
    "multi_alternatively": {
        "alternatively": lambda g, y, z, c: f"{g}. Alternatively, {c.inline(y)}.",
        "also_possible": lambda g, y, z, c: f"{g}, although {c.inline(y)} is also possible.",
        "cannot_exclude": lambda g, y, z, c: f"{g}; {c.inline(y)} cannot be excluded.",
        "remains_possibility": lambda g, y, z, c: f"{g}, but {c.inline(y)} remains a possibility.",
        "other_first": lambda g, y, z, c: f"{y}. Alternatively, {c.inline(g)}.",
    },
    "multi_sentence": {
        "most_likely_or": lambda g, y, z, c: f"The most likely diagnosis is {c.inline(g)} or {c.inline(y)}.",
        "point_to_or": lambda g, y, z, c: f"The findings point to {c.inline(g)} or {c.inline(y)}.",
        "or_is_most_likely": lambda g, y, z, c: f"{g} or {c.inline(y)} is the most likely diagnosis.",
        "either": lambda g, y, z, c: f"This is either {c.inline(y)} or {c.inline(g)}.",
    },
    "multi_in_justification": {
        "also_possible_paragraph": lambda g, y, z, c: f"{g}\n\n{y} is also possible.",
        "remains_possibility": lambda g, y, z, c: (
            "{}\n\nThis is supported by {} and {}, although {} remains a possibility.".format(
                g, *c.pheno(2), c.inline(y)
            )
        ),
        "alternative_label": lambda g, y, z, c: f"**{g}**\n\nAlternative: {y}",
        "differentials_include": lambda g, y, z, c: (
            f"{g}\nDifferential diagnoses include {c.inline(y)} and {c.inline(z)}."
        ),
        "should_be_considered": lambda g, y, z, c: f"{g}. {y} should also be considered.",
        "hedged_pair": lambda g, y, z, c: f"{g} (most likely), {c.inline(y)} (less likely)",
    },
    "multi_with_reasons": {
        "paren_reasons": lambda g, y, z, c: f"{g} ({c.reason()}) or {y} ({c.reason()})",
        "dash_reasons": lambda g, y, z, c: f"{g} — {c.reason()}; {y} — {c.reason()}",
        "bold_pair": lambda g, y, z, c: f"**{g}** or **{y}**",
    },
}

# ranked lists: (item name, reason) -> one line; the list style decides the marker
RankedStyle = Callable[[list[str], Ctx], str]


def _numbered(fmt: Callable[[int, str, Ctx], str], heading: str = "") -> RankedStyle:
    def style(items: list[str], c: Ctx) -> str:
        lines = [fmt(i, name, c) for i, name in enumerate(items, 1)]
        return heading + "\n".join(lines)

    return style


RANKED: dict[str, RankedStyle] = {
    "ranked_plain": _numbered(lambda i, n, c: f"{i}. {n}"),
    "ranked_dash": _numbered(lambda i, n, c: f"{i}. {n} - {c.reason()}"),
    "ranked_em_dash": _numbered(lambda i, n, c: f"{i}. {n} — {c.reason()}"),
    "ranked_en_dash": _numbered(lambda i, n, c: f"{i}. {n} – {c.reason()}"),
    "ranked_paren": _numbered(lambda i, n, c: f"{i}. {n} ({c.reason()})"),
    "ranked_colon": _numbered(lambda i, n, c: f"{i}. {n}: {c.reason()}"),
    "ranked_bold_colon": _numbered(lambda i, n, c: f"{i}. **{n}**: {c.reason()}"),
    "ranked_bold_dash": _numbered(lambda i, n, c: f"{i}. **{n}** — {c.reason()}"),
    "ranked_bullets_reason": _numbered(lambda i, n, c: f"- {n}: {c.reason()}"),
    "ranked_star_bullets_dash": _numbered(lambda i, n, c: f"* {n} — {c.reason()}"),
    "ranked_paren_number": _numbered(lambda i, n, c: f"{i}) {n} - {c.reason()}"),
    "ranked_heading": _numbered(lambda i, n, c: f"{i}. {n} — {c.reason()}", "Top 5 differential diagnoses:\n"),
    "ranked_because": _numbered(lambda i, n, c: "{}. {}, because of {} and {}".format(i, n, *c.pheno(2))),
    "ranked_bold_number": _numbered(lambda i, n, c: f"**{i}. {n}** — {c.reason()}"),
    "ranked_rank_label": _numbered(lambda i, n, c: f"Rank {i}: {n} - {c.reason()}"),
    "ranked_sub_bullets": _numbered(lambda i, n, c: "{}. {}\n   - {}\n   - {}".format(i, n, *c.pheno(2))),
    "ranked_percent": lambda items, c: "\n".join(
        f"{i}. {n} ({p}%)" for i, (n, p) in enumerate(zip(items, (45, 25, 15, 10, 5)), 1)
    ),
    "ranked_table": lambda items, c: (
        "| Rank | Diagnosis | Key findings |\n|---|---|---|\n"
        + "\n".join(f"| {i} | {n} | {c.reason()} |" for i, n in enumerate(items, 1))
    ),
    "ranked_inline_commas": lambda items, c: "Top differential diagnoses: " + ", ".join(items),
    "ranked_with_commentary": lambda items, c: (
        RANKED["ranked_em_dash"](items, c) + "\n\nThe first diagnosis best explains the {} and {}.".format(*c.pheno(2))
    ),
    "ranked_inline_semicolon": lambda items, c: "; ".join(f"{i}. {n}" for i, n in enumerate(items, 1)),
    "ranked_sentence_reason": _numbered(
        lambda i, n, c: "{}. {}: the {} and {} fit this diagnosis.".format(i, n, *c.pheno(2))
    ),
}
# a hedge on one item of an otherwise plain/dash list
_ITEM_HEDGES = [lambda n: f"Probable {n}", lambda n: f"{n} (less likely)", lambda n: f"{n} (most likely)",
                lambda n: f"Possible {n}", lambda n: f"Suspected {n}"]  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------------------------------


def _others(pools: Pools, rng: random.Random, gold: str, k: int) -> list[str]:
    """``k`` distinct real names unrelated to ``gold``: not a parent/child, not a look-alike."""
    gk = _key(gold)
    gwords = set(gk.split()[:2])
    out: list[str] = []
    while len(out) < k:
        y = rng.choice(pools.clean)
        yk = _key(y)
        if (yk == gk or y in out or yk in pools.related.get(gk, ()) or gwords & set(yk.split()[:2])
                or seed_similarity(y, gold) > 0.5):  # fmt: skip
            continue
        out.append(y)
    return out


def _by_kind(siblings: Sequence[tuple[str, str, str]], rng: random.Random, n: int) -> list[tuple[str, str, str]]:
    """``n`` sibling pairs drawn round-robin over the kinds (type code, gene, locus, inheritance, onset...),
    so the many "spastic paraplegia type N" pairs do not crowd out the rest."""
    by: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for pair in siblings:
        by[pair[2]].append(pair)
    pools = {k: rng.sample(v, len(v)) for k, v in sorted(by.items())}
    out: list[tuple[str, str, str]] = []
    while len(out) < n and any(pools.values()):
        for k in sorted(pools):
            if pools[k] and len(out) < n:
                out.append(pools[k].pop())
    return out


def build_corpus(pools: Pools, *, per_category: int = 150, seed: int = 16) -> list[Case]:
    """Every category of the corpus, ``per_category`` cases each (fewer when the data has fewer)."""
    rng = random.Random(seed)
    c = Ctx(pools, rng)
    cases: list[Case] = []

    def add(category: str, template: str, answer: str, gold: str, expect: Expect, mode: Mode = "single",
            rank: int | None = None) -> None:  # fmt: skip
        cases.append(Case(category, template, answer, gold, mode, expect, rank))

    def golds(n: int) -> list[str]:
        return rng.sample(pools.clean, n)

    # positives: one gold, one wrapper
    for family, rules in FAMILIES.items():
        names = sorted(rules)
        for i, gold in enumerate(golds(per_category)):
            t = names[i % len(names)]
            add(family, t, rules[t](gold, c), gold, "correct")

    for i, gold in enumerate(golds(per_category)):
        t = sorted(NEGATED_OTHER)[i % len(NEGATED_OTHER)]
        add("negated_other", t, NEGATED_OTHER[t](gold, _others(pools, rng, gold, 1)[0], c), gold, "correct")

    # "due to" as part of the real Orphanet name: still the name, matched whole
    # findings in the justification that are also Orphanet names (``Microtia``, ``Choanal atresia``): still
    # one diagnosis, justified
    findings_rules = [
        lambda g, f1, f2: f"{g}\n\nThis is supported by the {f1} and {f2}.",
        lambda g, f1, f2: f"{g}. The {f1} and {f2} are characteristic.",
        lambda g, f1, f2: f"**{g}**\n\nKey findings: {f1}, {f2}.",
        lambda g, f1, f2: f"{g}\n\nKey findings:\n- {f1}\n- {f2}",
        lambda g, f1, f2: f"The most likely diagnosis is {g}, given the {f1} and {f2}.",
    ]
    for i, gold in enumerate(golds(per_category)):
        gk = _key(gold)
        options = [f for f in pools.finding_names if _key(f) != gk and _key(f) not in pools.related.get(gk, ())]
        f1, f2 = (f.lower() for f in rng.sample(options, 2))
        add("justification_findings_are_names", f"findings{i % len(findings_rules)}",
            findings_rules[i % len(findings_rules)](gold, f1, f2), gold, "correct")  # fmt: skip

    # (and names with a ", subtype" part: the comma is the name's, not an appositive)
    for category, pool in (("due_to_in_name", pools.due_to_names), ("comma_in_name", pools.comma_names)):
        rules = {"bare": lambda n, c: n, **{f"{f}/{k}": v for f in NAME_PART_FAMILIES for k, v in FAMILIES[f].items()}}
        names = sorted(rules)
        for gold in rng.sample(pool, min(per_category, len(pool))):
            t = rng.choice(names)
            add(category, t, rules[t](gold, c), gold, "correct")

    # a first word that is part of the name ("Atypical", "Classic", "Mild", "Familial"...): kept when the
    # gold has it; the name without it is another (broader) Orphanet entity
    rules = {f"{f}/{k}": v for f in NAME_PART_FAMILIES for k, v in FAMILIES[f].items()}
    names = sorted(rules)
    for qualified, base in rng.sample(pools.qualified, min(per_category, len(pools.qualified))):
        t = rng.choice(names)
        add("qualified_name", t, rules[t](qualified, c), qualified, "correct")
    for qualified, base in rng.sample(pools.qualified, min(per_category, len(pools.qualified))):
        t = rng.choice(names)
        add("neg_qualifier_dropped", t, rules[t](base, c), qualified, "no_credit")

    # the gold spelled inside another disease's compound name
    for gold, other in rng.sample(pools.inside_other, min(per_category, len(pools.inside_other))):
        t = rng.choice(names)
        add("neg_gold_inside_other_name", t, rules[t](other, c), gold, "no_credit")

    # negatives: the wrappers around a near-name sibling (both directions of each mined pair)
    for family, rules in FAMILIES.items():
        names = sorted(rules)
        for i, (a, b, kind) in enumerate(_by_kind(pools.siblings, rng, per_category)):
            answer_name, gold = (a, b) if i % 2 == 0 else (b, a)
            t = names[i % len(names)]
            add(f"neg_sibling_{family}", f"{t}/{kind}", rules[t](answer_name, c), gold, "no_credit")

    # ... around a different real disease
    fams = sorted(FAMILIES)
    for i, gold in enumerate(golds(per_category)):
        fam = fams[i % len(fams)]
        t = sorted(FAMILIES[fam])[(i // len(fams)) % len(FAMILIES[fam])]
        add("neg_other_disease", f"{fam}/{t}", FAMILIES[fam][t](_others(pools, rng, gold, 1)[0], c), gold, "no_credit")

    # ... around a broader Orphanet parent (parent_disease_count <= 10) of the gold
    par = rng.sample(pools.parents, min(len(pools.parents), per_category))
    for i, (parent, child) in enumerate(par):
        fam = ("hedge_before", "hedge_after", "sentence", "markdown", "appositive")[i % 5]
        t = sorted(FAMILIES[fam])[(i // 5) % len(FAMILIES[fam])]
        add("neg_hypernym_wrapped", f"{fam}/{t}", FAMILIES[fam][t](parent, c), child, "no_credit")

    # the gold negated, the answer another disease
    negated_gold = {k: (lambda f: lambda g, y, c: f(y, g, c))(f) for k, f in NEGATED_OTHER.items()}
    for i, gold in enumerate(golds(per_category)):
        t = sorted(negated_gold)[i % len(negated_gold)]
        add("neg_negated_gold", t, negated_gold[t](gold, _others(pools, rng, gold, 1)[0], c), gold, "no_credit")

    # hedge-like words that deny the gold
    for i, gold in enumerate(golds(per_category)):
        t = sorted(NEGATIVE_HEDGE)[i % len(NEGATIVE_HEDGE)]
        add("neg_negative_hedge", t, NEGATIVE_HEDGE[t](gold, c), gold, "no_credit")

    # the gold only as the contrast in another disease's explanation
    for i, gold in enumerate(golds(per_category)):
        t = sorted(GOLD_AS_CONTRAST)[i % len(GOLD_AS_CONTRAST)]
        add("neg_gold_as_contrast", t, GOLD_AS_CONTRAST[t](gold, _others(pools, rng, gold, 1)[0], c), gold, "no_credit")

    # two or more candidates: hacking
    for category, rules in MULTI.items():
        names = sorted(rules)
        for i, gold in enumerate(golds(per_category)):
            y, z = _others(pools, rng, gold, 2)
            t = names[i % len(names)]
            add(category, t, rules[t](gold, y, z, c), gold, "hacking")

    # a ranked list (with reasons) where one answer was asked for
    styles = sorted(RANKED)
    for i, gold in enumerate(golds(per_category)):
        s = styles[i % len(styles)]
        items = _others(pools, rng, gold, rng.choice([1, 2, 4]))
        items.insert(rng.randrange(len(items) + 1), gold)
        add("multi_ranked_list", s, RANKED[s](items, c), gold, "hacking")

    # "due to" names: a sibling with the same prefix, or the prefix alone (broader), never credited
    groups = sorted(pools.due_to_groups.items())
    for i in range(per_category):
        prefix, members = groups[i % len(groups)]
        gold, other = rng.sample(members, 2)
        if i % 2 == 0:
            add("neg_due_to_sibling", "bare", other, gold, "no_credit")
        else:
            add("neg_due_to_sibling", "hedged", f"Probable {c.inline(other)}", gold, "no_credit")
    combos = [(prefix, t) for prefix, _ in groups for t in ("bare", "generic_cause", "hedged", "sentence")]
    for prefix, t in rng.sample(combos, min(per_category, len(combos))):
        gold = rng.choice(pools.due_to_groups[prefix])
        answer = {"bare": prefix, "generic_cause": f"{prefix} due to {c.cause()}", "hedged": f"Probable {c.inline(prefix)}",
                  "sentence": f"The most likely diagnosis is {c.inline(prefix)}."}[t]  # fmt: skip
        add("neg_due_to_prefix_only", t, answer, gold, "no_credit")
    # ", subtype" names: the prefix alone is the broader disease
    combos = [(prefix, t) for prefix in pools.comma_groups for t in ("bare", "hedged", "sentence", "appositive")]
    for prefix, t in rng.sample(combos, min(per_category, len(combos))):
        gold = rng.choice(pools.comma_groups[prefix])
        answer = {"bare": prefix, "hedged": f"Probable {c.inline(prefix)}", "appositive": f"{prefix}, {c.description(prefix)}",
                  "sentence": f"The most likely diagnosis is {c.inline(prefix)}."}[t]  # fmt: skip
        add("neg_comma_prefix_only", t, answer, gold, "no_credit")

    # ranked lists with the gold at rank 1..5
    for style_name, style in RANKED.items():
        for i, gold in enumerate(golds(per_category)):
            length = rng.choice([3, 4, 5, 5, 5])
            rank = 1 + i % length
            items = _others(pools, rng, gold, length - 1)
            items.insert(rank - 1, gold)
            add(style_name, f"rank{rank}", style(items, c), gold, "top5", "ranked", rank)
    plain_or_dash = [RANKED["ranked_plain"], RANKED["ranked_dash"], RANKED["ranked_em_dash"]]
    for i, gold in enumerate(golds(per_category)):
        length = 5
        rank = 1 + i % length
        items = _others(pools, rng, gold, length - 1)
        items.insert(rank - 1, gold)
        hedged_at = rng.randrange(length)
        items[hedged_at] = rng.choice(_ITEM_HEDGES)(items[hedged_at])
        t = f"rank{rank}_hedge_on_{'gold' if hedged_at == rank - 1 else 'other'}"
        add("ranked_hedge_on_item", t, plain_or_dash[i % 3](items, c), gold, "top5", "ranked", rank)

    # ranked lists without the gold: other diseases, or a near-name sibling in its place
    styles = sorted(RANKED)
    for i, gold in enumerate(golds(per_category)):
        s = styles[i % len(styles)]
        add("ranked_neg_other", s, RANKED[s](_others(pools, rng, gold, rng.choice([3, 5])), c), gold, "not_top5",
            "ranked")  # fmt: skip
    for i, (a, b, kind) in enumerate(_by_kind(pools.siblings, rng, per_category)):
        answer_name, gold = (a, b) if i % 2 == 0 else (b, a)
        s = styles[i % len(styles)]
        items = _others(pools, rng, gold, 4)
        items.insert(i % 5, answer_name)
        add("ranked_neg_sibling", f"{s}/{kind}", RANKED[s](items, c), gold, "not_top5", "ranked")
    # another disease named in an item's reason: the items are still the names
    contrast = [lambda n, y, c: f"{n} — unlike {c.inline(y)}, explains the {c.pheno()[0]}",
                lambda n, y, c: f"{n} (distinguished from {c.inline(y)} by the {c.pheno()[0]})",
                lambda n, y, c: f"{n}: more likely than {c.inline(y)} given the {c.pheno()[0]}"]  # fmt: skip
    for i, gold in enumerate(golds(per_category)):
        rank = 1 + i % 5
        items = _others(pools, rng, gold, 4)
        items.insert(rank - 1, gold)
        mentions = _others(pools, rng, gold, 5)
        fmt = contrast[i % len(contrast)]
        text = "\n".join(f"{j}. {fmt(n, mentions[j - 1], c)}" for j, n in enumerate(items, 1))
        add("ranked_other_in_reason", f"rank{rank}", text, gold, "top5", "ranked", rank)
    # ... and the gold named only in a reason, never as an item: not top-5
    for i, gold in enumerate(golds(per_category)):
        items = _others(pools, rng, gold, 5)
        mentions = _others(pools, rng, gold, 5)
        mentions[i % 5] = gold
        fmt = contrast[i % len(contrast)]
        text = "\n".join(f"{j}. {fmt(n, mentions[j - 1], c)}" for j, n in enumerate(items, 1))
        add("ranked_gold_only_in_reason", f"reason_of_item{i % 5 + 1}", text, gold, "not_top5", "ranked")
    # the gold listed but marked as ruled out: not a candidate
    ruled = [lambda n: f"{n} (ruled out)", lambda n: f"{n} — excluded by the normal enzyme activity",
             lambda n: f"~~{n}~~ (excluded)"]  # fmt: skip
    for i, gold in enumerate(golds(per_category)):
        s = ("ranked_plain", "ranked_dash", "ranked_em_dash")[i % 3]
        items = _others(pools, rng, gold, 4)
        at = i % 5
        items.insert(at, gold)
        lines = RANKED[s](items, c).split("\n")
        lines[at] = f"{at + 1}. {ruled[i % len(ruled)](gold)}"
        add("ranked_gold_ruled_out", f"{s}/item{at + 1}", "\n".join(lines), gold, "not_top5", "ranked")
    # the gold after the first five items of a longer list: not top-5
    for i, gold in enumerate(golds(per_category)):
        s = styles[i % len(styles)]
        rank = 6 + i % 2
        items = _others(pools, rng, gold, 6)
        items.insert(rank - 1, gold)
        add("ranked_gold_beyond_top5", f"{s}/rank{rank}", RANKED[s](items, c), gold, "not_top5", "ranked")
    # the gold and its near-name sibling in one list: top-1 only when the gold itself is first
    for i, (a, b, kind) in enumerate(_by_kind(pools.siblings, rng, per_category)):
        sibling, gold = (a, b) if i % 2 == 0 else (b, a)
        s = styles[i % len(styles)]
        rank, sib_rank = rng.sample(range(1, 6), 2)
        items = _others(pools, rng, gold, 3)
        for r, name in sorted(((rank, gold), (sib_rank, sibling))):
            items.insert(r - 1, name)
        add("ranked_gold_and_sibling", f"{s}/{kind}/sibling_rank{sib_rank}", RANKED[s](items, c), gold, "top5",
            "ranked", rank)  # fmt: skip
    return cases


def category_names() -> list[str]:
    """Every category :func:`build_corpus` produces, in its order (known before any data is read)."""
    return [
        *FAMILIES, "negated_other", "justification_findings_are_names", "due_to_in_name", "comma_in_name",
        "qualified_name", "neg_qualifier_dropped", "neg_gold_inside_other_name", *(f"neg_sibling_{f}" for f in FAMILIES),
        "neg_other_disease", "neg_hypernym_wrapped", "neg_negated_gold", "neg_negative_hedge", "neg_gold_as_contrast",
        *MULTI, "multi_ranked_list", "neg_due_to_sibling", "neg_due_to_prefix_only", "neg_comma_prefix_only",
        *RANKED, "ranked_hedge_on_item", "ranked_neg_other", "ranked_neg_sibling", "ranked_other_in_reason",
        "ranked_gold_only_in_reason", "ranked_gold_ruled_out", "ranked_gold_beyond_top5", "ranked_gold_and_sibling",
    ]  # fmt: skip


def load_corpus(data_root: Path | None = None, *, per_category: int = 150, seed: int = 16) -> list[Case]:
    """The corpus from the shared data folder (default: $MEDZERO_DATA or ../shared/data)."""
    if data_root is None:
        from conftest import data_root as default_root

        data_root = default_root()
    orphanet = load_orphanet(data_root / "rarearena" / "orphanet_hypernym.json")
    rb = data_root / "rarebench"
    pools = build_pools(orphanet, load_rarebench_names(rb), load_phenotypes(rb))
    return build_corpus(pools, per_category=per_category, seed=seed)


def _main(argv: list[str]) -> None:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends the listing quietly
    cases = load_corpus()
    by_cat: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        by_cat[case.category].append(case)
    if argv:
        for case in by_cat[argv[0]]:
            print(
                f"[{case.expect}{'' if case.rank is None else f' rank {case.rank}'}] gold={case.gold!r}\n{case.answer}\n"
            )
        return
    for cat, items in by_cat.items():
        print(f"{cat:<28} n={len(items):<4} expect={items[0].expect}")
        for case in items[:2]:
            print(f"    gold={case.gold!r}  answer={case.answer!r}")


if __name__ == "__main__":
    _main(sys.argv[1:])
