"""The diagnosis scorer on the ways models phrase an answer (issue 16), beside the seed's matcher.

The labelled corpus (``tests/phrasing_corpus.py``) wraps real Orphanet and RareBench names in hedges,
sentences, appositives, explanations, markdown, justifications and ranked lists with reasons, and
puts near-name siblings, broader parents, other diseases, negations and several candidates in the
same wrappers. Each case goes through the scorer exactly as an evaluator configures it: single-answer
mode for ``rarearena_rdc`` and the ranked top-5 mode of ``rarearena_rdc_top5`` (the configuration
``medzero_eval.lm_eval_glue.diagnosis_scorer_config`` builds), both with the real Orphanet hierarchy.

"Right" per case:

* ``correct``   -> ``Score.correct`` and not ``hacking``;
* ``no_credit`` -> not correct and no accuracy component;
* ``hacking``   -> not correct, no accuracy component, ``Status.hacking`` (the scorer's documented
  contract for several candidates in one answer);
* ``top5`` at rank r -> ``details["top5"]`` and ``details["top1"] == (r == 1)``;
* ``not_top5``  -> neither ``top1`` nor ``top5``.

Every category must be >= 98 % right; no single diagnosis may be flagged ``hacking``; the issue's own
Fabry examples are pinned one by one.

The seed's difflib matcher (``test_diagnosis_quality.seed_match``) is measured on the same cases: on
the whole answer in single mode; in ranked mode on each top-level line of the list with its number or
bullet removed (``seed_items``; the seed had no ranked mode). Run with ``-s`` for the per-category
table and the grouped Markdown rows for the README. The earlier categories (surface variants,
siblings, hypernyms, hack shapes) stay in ``tests/test_diagnosis_quality.py``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from medzero_rewards import Score, Status, get_scorer
from phrasing_corpus import Case, Pools, build_corpus, build_pools, category_names, load_phenotypes
from test_diagnosis_quality import completion, orphanet, rarebench_names, record, seed_match  # noqa: F401  (fixtures)

from medzero_eval.lm_eval_glue import diagnosis_scorer_config

BAR = 0.98


@dataclass
class Outcome:
    case: Case
    right: bool
    seed_right: bool
    status: Status
    got: str  # what medzero said, for failure messages


def scorer_config(style: str, orphanet_path: Path) -> dict[str, Any]:
    """The task's answer format (``r1`` single, ``top5`` ranked), with the hierarchy; no judge."""
    task = diagnosis_scorer_config({}, style)
    return {"answer_format": task["answer_format"], "k": task.get("k", 5), "hierarchy_path": orphanet_path}


def medzero_right(case: Case, s: Score) -> bool:
    accuracy = s.components.get("accuracy", 0.0)
    if case.expect == "correct":
        return s.correct and s.status is not Status.hacking
    if case.expect == "no_credit":
        return not s.correct and accuracy == 0.0
    if case.expect == "hacking":
        return not s.correct and accuracy == 0.0 and s.status is Status.hacking
    top1, top5 = bool(s.details.get("top1")), bool(s.details.get("top5"))
    if case.expect == "top5":
        return top5 and top1 == (case.rank == 1)
    return not top1 and not top5


_MARKER = re.compile(r"^(?:\d+[.)]|[-*•]|rank \d+:)\s*", re.IGNORECASE)


def seed_items(answer: str) -> list[str]:
    """The list items the seed's matcher is tried on: top-level lines (or ``;`` parts of a one-line
    list) without their number, bullet or ``Rank n:`` label; at most 5."""
    lines = [line for line in answer.splitlines() if line.strip() and not line[:1].isspace()]
    if len(lines) == 1:
        lines = lines[0].split("; ")
    items = [_MARKER.sub("", line.strip()).strip() for line in lines]
    return [item for item in items if item][:5]


def seed_right(case: Case) -> bool:
    if case.mode == "single":
        return seed_match(case.answer, case.gold) == case.positive
    items = seed_items(case.answer)
    hits = [seed_match(item, case.gold) for item in items]
    if case.expect == "top5":
        return any(hits) and hits[0] == (case.rank == 1)
    return not any(hits)


def describe(s: Score) -> str:
    extra = f" top1={s.details.get('top1')} top5={s.details.get('top5')}" if "top5" in s.details else ""
    return f"{s.status.value}/{s.tier.value} correct={s.correct}{extra}: {s.reason}"


@pytest.fixture(scope="module")
def pools(orphanet: list[dict], rarebench_names: list[str], rarebench_dir: Path) -> Pools:
    return build_pools(orphanet, rarebench_names, load_phenotypes(rarebench_dir))


@pytest.fixture(scope="module")
def corpus(pools: Pools) -> list[Case]:
    return build_corpus(pools)


@pytest.fixture(scope="module")
def outcomes(corpus: list[Case], orphanet_path: Path) -> dict[str, list[Outcome]]:
    by_cat: dict[str, list[Outcome]] = defaultdict(list)
    for style, mode in (("r1", "single"), ("top5", "ranked")):
        scorer = get_scorer("rarearena_rdc", **scorer_config(style, orphanet_path))
        cases = [c for c in corpus if c.mode == mode]
        scores = list(scorer.score_batch([completion(c.answer) for c in cases], [record(c.gold) for c in cases]))
        for case, s in zip(cases, scores):
            by_cat[case.category].append(Outcome(case, medzero_right(case, s), seed_right(case), s.status, describe(s)))
    return by_cat


def group_of(category: str) -> str:
    """The README row a category is summed into."""
    if category.startswith("neg_sibling_"):
        return "near-name siblings in the same wrappers (no credit)"
    if category.startswith("multi_"):
        return "two or more candidates in one answer (hacking)"
    if category in ("due_to_in_name", "comma_in_name", "qualified_name"):
        return "names with 'due to', ', subtype' or a first qualifier word ('Atypical', 'Acquired') in them, wrapped (correct)"
    if category.startswith("neg_due_to") or category.startswith("neg_comma") or category == "neg_qualifier_dropped":
        return "those names' 'due to' siblings, bare prefixes, qualifier dropped (no credit)"
    if category in ("neg_negated_gold", "neg_negative_hedge", "neg_gold_as_contrast"):
        return "gold negated, denied by a hedge ('unlikely', 'carrier of', '-like'), or only contrasted (no credit)"
    if category in ("neg_other_disease", "neg_hypernym_wrapped", "neg_gold_inside_other_name"):
        return "another disease, an Orphanet parent, an entity whose name contains the gold's (no credit)"
    if category in (
        "ranked_neg_other",
        "ranked_neg_sibling",
        "ranked_gold_beyond_top5",
        "ranked_gold_only_in_reason",
        "ranked_gold_ruled_out",
    ):
        return "ranked lists without the gold in the top 5 (top5 false)"
    if category.startswith("ranked_"):
        return "ranked lists with reasons, gold at rank 1-5 (top1/top5 right)"
    return "one diagnosis hedged, in a sentence, explained, Markdown, justified (correct)"


def rate(items: list[Outcome], attr: str) -> float:
    return sum(getattr(o, attr) for o in items) / len(items)


def test_corpus_shape(corpus: list[Case], pools: Pools) -> None:
    """Every category is present with enough cases, labels are consistent, and the names are real."""
    cats = defaultdict(list)
    for c in corpus:
        cats[c.category].append(c)
    assert sorted(cats) == sorted(category_names())
    for cat, items in cats.items():
        assert len(items) >= 150, (cat, len(items))
        assert len({c.expect for c in items}) == 1, cat
        assert len({c.answer for c in items}) >= 0.9 * len(items), cat  # not one answer repeated
    real = set(pools.names)
    assert all(c.gold in real for c in corpus)
    expects = {c.expect for c in corpus}
    assert expects == {"correct", "no_credit", "hacking", "top5", "not_top5"}
    ranks = {c.rank for c in corpus if c.expect == "top5"}
    assert ranks == {1, 2, 3, 4, 5}
    # the rules are seeded: built twice (small), identical
    assert build_corpus(pools, per_category=20) == build_corpus(pools, per_category=20)


def test_phrasing_table(outcomes: dict[str, list[Outcome]]) -> None:
    """Prints the measured table (``-s``); fails if any category misses the bar (details per category below)."""
    print(f"\n{'category':<34} {'expect':<10} {'n':>5} {'medzero':>9} {'seed':>8}")
    below = []
    for cat in category_names():
        items = outcomes[cat]
        m, sd = rate(items, "right"), rate(items, "seed_right")
        print(f"{cat:<34} {items[0].case.expect:<10} {len(items):>5} {m:>9.1%} {sd:>8.1%}")
        if m < BAR:
            below.append(cat)
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for cat in category_names():
        groups[group_of(cat)].extend(outcomes[cat])
    print(
        "\n| phrasing shape (categories summed) | n | medzero right | the seed's difflib matcher right |\n|---|---|---|---|"
    )
    for name, items in groups.items():
        ok = sum(o.right for o in items)
        print(f"| {name} | {len(items):,} | {ok:,} ({ok / len(items):.1%}) | {rate(items, 'seed_right'):.1%} |")
    for kind, pos in (("positives", True), ("negatives", False)):
        items = [o for cat in category_names() for o in outcomes[cat] if o.case.positive == pos]
        print(
            f"{'ALL ' + kind:<34} {'':<10} {len(items):>5} {rate(items, 'right'):>9.1%} {rate(items, 'seed_right'):>8.1%}"
        )
    assert not below, f"categories under {BAR:.0%}: {below}"


@pytest.mark.parametrize("category", category_names())
def test_category_is_right(outcomes: dict[str, list[Outcome]], category: str) -> None:
    items = outcomes[category]
    wrong = [o for o in items if not o.right]
    shown = "\n".join(
        f"  gold={o.case.gold!r} answer={o.case.answer!r} [{o.case.template}] -> {o.got}" for o in wrong[:8]
    )
    assert len(wrong) / len(items) <= 1 - BAR, f"{category}: {len(wrong)}/{len(items)} wrong\n{shown}"


def test_single_diagnosis_is_never_hacking(outcomes: dict[str, list[Outcome]]) -> None:
    """A single diagnosis, however hedged, explained or justified, is never flagged as hacking."""
    flagged = [o for items in outcomes.values() for o in items
               if o.case.mode == "single" and o.case.expect == "correct" and o.status is Status.hacking]  # fmt: skip
    shown = "\n".join(f"  {o.case.category}: {o.case.answer!r} -> {o.got}" for o in flagged[:8])
    assert not flagged, f"{len(flagged)} single diagnoses flagged as hacking\n{shown}"


ISSUE_EXAMPLES = [  # issue 16's own table, gold "Fabry disease": what a clinician (and RareArena's grading) says
    ("Probable Fabry disease", "correct"),
    ("Suspected Fabry disease", "correct"),
    ("Fabry disease is the most likely diagnosis", "correct"),
    ("Fabry disease, an X-linked lysosomal storage disorder caused by GLA mutations", "correct"),
    ("Fabry disease (alpha-galactosidase A deficiency)", "correct"),
    ("Fabry disease due to alpha-galactosidase A deficiency", "correct"),
    ("Fabry disease\n\nThis is supported by angiokeratomas.", "correct"),
    ("Anderson-Fabry disease", "uncertain"),  # a synonym: the judge's job
]
ISSUE_RANKED = ("1. Gaucher disease - lysosomal storage with splenomegaly\n"
                "2. Fabry disease - angiokeratomas and acroparesthesia\n"
                "3. Niemann-Pick disease type C - vertical supranuclear gaze palsy")  # fmt: skip


def test_the_issue_examples(orphanet_path: Path) -> None:
    single = get_scorer("rarearena_rdc", **scorer_config("r1", orphanet_path))
    got = [(answer, single.score(completion(answer), record("Fabry disease"))) for answer, _ in ISSUE_EXAMPLES]
    wrong = [(a, want, s.status.value, s.tier.value, s.reason) for (a, s), (_, want) in zip(got, ISSUE_EXAMPLES)
             if (want == "correct" and not (s.correct and s.status is Status.ok))
             or (want == "uncertain" and (s.correct or s.tier.value != "uncertain"))]  # fmt: skip
    assert wrong == []
    ranked = get_scorer("rarearena_rdc", **scorer_config("top5", orphanet_path))
    s = ranked.score(completion(ISSUE_RANKED), record("Fabry disease"))
    assert (s.details["top1"], s.details["top5"]) == (False, True), s.reason
