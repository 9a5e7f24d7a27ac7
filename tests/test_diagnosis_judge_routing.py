"""Sure or uncertain, never confidently wrong: which answers reach the judge (issue 16, item 3).

The hand-labelled pairs of ``tests/synonym_corpus.py`` (true synonyms: eponyms, older and
descriptive names, enzyme deficiencies, other languages; and near misses: broader groups, siblings,
synonyms of siblings, differentials) go through ``get_scorer("rarearena_rdc")`` with the real
Orphanet hierarchy:

* without a judge, no true synonym is decided ``none`` (it is ``uncertain``, or already credited), and
  no near miss is credited;
* with a judge in the default ``fallback`` cascade, served by a real local OpenAI-compatible HTTP
  server (``tests/fake_openai_server.py``) that grades every pair by its label (synonym 2, broader 1,
  sibling/other 0), at least 90 % of the true synonyms reach the judge and are credited, no near
  miss is credited, and ``aggregate()["judge_share"]`` is the share of items the server was asked about.

Run with ``-s`` for the per-pair table.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fake_openai_server import FakeOpenAIServer
from medzero_rewards import Score, Tier, get_scorer
from medzero_rewards.judge.prompt import extract_payload
from synonym_corpus import NEAR_MISSES, PAIRS, SYNONYMS, Pair
from test_diagnosis_quality import completion, orphanet, record, seed_match  # noqa: F401  (orphanet is a fixture)

REACH_BAR = 0.90


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def batch(pairs: Sequence[Pair]) -> tuple[list[str], list[dict[str, str]]]:
    return [completion(p.answer) for p in pairs], [record(p.gold) for p in pairs]


def judged_pairs(server: FakeOpenAIServer) -> set[tuple[str, str]]:
    """(answer, gold) pairs the server was asked to grade, read from the judge prompts it received."""
    out: set[tuple[str, str]] = set()
    for rec in server.records:
        users = [m for m in rec.body.get("messages", []) if isinstance(m, dict) and m.get("role") == "user"]
        payload = extract_payload(users[-1]["content"]) if users else None
        if not payload:
            continue
        for cand in payload.get("candidates", []):
            for ref in payload.get("reference_names", []):
                out.add((_norm(str(cand.get("diagnosis", ""))), _norm(str(ref))))
    return out


def print_table(
    title: str, pairs: Sequence[Pair], scores: Sequence[Score], reached: set[tuple[str, str]] | None = None
) -> None:
    print(f"\n{title}")
    for p, s in zip(pairs, scores):
        sent = "" if reached is None else ("judged " if (_norm(p.answer), _norm(p.gold)) in reached else "decided")
        print(f"  {p.label:<8} {p.kind:<19} {s.tier.value:<9} {'CREDIT' if s.correct else '      '} {sent} "
              f"{p.answer!r} for {p.gold!r}: {s.reason[:70]}")  # fmt: skip


def test_labels_are_consistent_with_the_real_hierarchy(orphanet: list[dict]) -> None:
    """Every gold is a real Orphanet entity; no true synonym is itself the name of another entity."""
    names = {e["name"] for e in orphanet}
    folded = {_norm(n) for n in names}
    assert [p.gold for p in PAIRS if p.gold not in names] == []
    assert [p.answer for p in SYNONYMS if _norm(p.answer) in folded] == []
    assert len(PAIRS) >= 40 and len(SYNONYMS) >= 30 and len(NEAR_MISSES) >= 10
    assert {"eponym", "older_name", "descriptive", "enzyme", "language"} <= {p.kind for p in SYNONYMS}
    assert {"broader", "sibling", "other"} <= {p.label for p in NEAR_MISSES}
    assert len({(p.gold, p.answer) for p in PAIRS}) == len(PAIRS)


def test_without_a_judge_synonyms_are_uncertain_and_near_misses_are_not_credited(orphanet_path: Path) -> None:
    scorer = get_scorer("rarearena_rdc", hierarchy_path=orphanet_path)
    syn = list(scorer.score_batch(*batch(SYNONYMS)))
    near = list(scorer.score_batch(*batch(NEAR_MISSES)))
    print_table("true synonyms, no judge (must be uncertain, never none)", SYNONYMS, syn)
    print_table("near misses, no judge (never credited)", NEAR_MISSES, near)
    decided_none = [(p.answer, p.gold, s.tier.value, s.reason) for p, s in zip(SYNONYMS, syn)
                    if not s.correct and s.tier is not Tier.uncertain]  # fmt: skip
    credited = [(p.answer, p.gold, s.reason) for p, s in zip(NEAR_MISSES, near) if s.correct]
    n_unc = sum(s.tier is Tier.uncertain for s in syn)
    print(f"  synonyms uncertain {n_unc}/{len(syn)}, decided without the judge {len(decided_none)}; "
          f"near misses credited {len(credited)}/{len(near)}")  # fmt: skip
    seed_syn = sum(seed_match(p.answer, p.gold) for p in SYNONYMS)
    seed_near = sum(seed_match(p.answer, p.gold) for p in NEAR_MISSES)
    print(
        f"  the seed's difflib matcher credits {seed_syn}/{len(SYNONYMS)} synonyms and {seed_near}/{len(NEAR_MISSES)} near misses"
    )
    assert decided_none == []
    assert credited == []
    agg = scorer.aggregate(syn + near)
    assert agg.get("judge_share") == 0.0, "aggregate() must report judge_share, 0.0 without a judge (issue 16)"


def judge_config(server: FakeOpenAIServer, tmp_path: Path) -> dict[str, Any]:
    return {
        "model": "fake-judge",
        "base_url": server.base_url,
        "api_key_env": None,
        "cache_path": str(tmp_path / "judge.sqlite"),
        "backoff_base_s": 0.0,
        "timeout_s": 10.0,
    }


def test_fallback_judge_credits_the_synonyms_and_no_near_miss(orphanet_path: Path, tmp_path: Path) -> None:
    grades = {(p.answer, p.gold): p.grade for p in PAIRS}
    with FakeOpenAIServer(grades=grades) as server:
        # the default cascade: a judge given, no judge_mode -> "fallback"
        scorer = get_scorer("rarearena_rdc", hierarchy_path=orphanet_path, judge=judge_config(server, tmp_path))
        scores = list(scorer.score_batch(*batch(PAIRS)))
        reached = judged_pairs(server)
    print_table("all pairs, fallback judge grading by the labels", PAIRS, scores, reached)

    def was_judged(p: Pair) -> bool:
        return (_norm(p.answer), _norm(p.gold)) in reached

    by_pair = dict(zip(PAIRS, scores))
    judged_and_credited = [p for p in SYNONYMS if was_judged(p) and by_pair[p].correct]
    missed = [(p.answer, p.gold, by_pair[p].tier.value, by_pair[p].reason) for p in SYNONYMS
              if p not in judged_and_credited]  # fmt: skip
    credited_near = [(p.answer, p.gold, by_pair[p].reason) for p in NEAR_MISSES if by_pair[p].correct]
    share = sum(was_judged(p) for p in PAIRS) / len(PAIRS)
    print(f"  synonyms judged and credited {len(judged_and_credited)}/{len(SYNONYMS)}; near misses credited "
          f"{len(credited_near)}/{len(NEAR_MISSES)}; items sent to the judge {share:.1%}")  # fmt: skip
    assert len(judged_and_credited) / len(SYNONYMS) >= REACH_BAR, missed
    assert credited_near == []
    agg = scorer.aggregate(scores)
    print(f"  aggregate: judge_share={agg.get('judge_share')} top1={agg['top1']} top1_judged={agg.get('top1_judged')}")
    assert "judge_share" in agg, "aggregate() must report judge_share (issue 16)"
    assert abs(agg["judge_share"] - share) < 1e-9


# the same pairs as a model writes them: the matcher must find the name inside and still defer to the judge
WRAPPERS = (
    "Probable {}",
    "{} is the most likely diagnosis.",
    "{} (most likely)",
    "**Diagnosis:** {}",
    "{}\n\nThis is supported by the clinical and laboratory findings.",
)


def wrapped(pairs: Sequence[Pair]) -> list[tuple[Pair, str]]:
    return [(p, WRAPPERS[i % len(WRAPPERS)].format(p.answer)) for i, p in enumerate(pairs)]


def test_wrapped_synonyms_are_uncertain_then_judged_and_near_misses_are_not_credited(
    orphanet_path: Path, tmp_path: Path
) -> None:
    syn, near = wrapped(SYNONYMS), wrapped(NEAR_MISSES)
    items = syn + near
    completions = [completion(text) for _, text in items]
    records = [record(p.gold) for p, _ in items]

    plain = list(get_scorer("rarearena_rdc", hierarchy_path=orphanet_path).score_batch(completions, records))
    decided = [(text, p.gold, s.tier.value, s.reason) for (p, text), s in zip(syn, plain)
               if not s.correct and s.tier is not Tier.uncertain]  # fmt: skip
    assert decided == [], "wrapped true synonyms must be uncertain without a judge"

    # a real judge grades the answer it is shown, bare or as written
    grades = {(a, p.gold): p.grade for p, text in items for a in (p.answer, text)}
    with FakeOpenAIServer(grades=grades) as server:
        scorer = get_scorer("rarearena_rdc", hierarchy_path=orphanet_path, judge=judge_config(server, tmp_path))
        scores = list(scorer.score_batch(completions, records))
        reached = judged_pairs(server)
    print_table("wrapped pairs, fallback judge", [p for p, _ in items], scores, None)

    def was_judged(p: Pair, text: str) -> bool:
        return any((_norm(a), _norm(p.gold)) in reached for a in (p.answer, text))

    ok = [text for (p, text), s in zip(syn, scores) if was_judged(p, text) and s.correct]
    credited_near = [(text, p.gold, s.reason) for (p, text), s in zip(near, scores[len(syn) :]) if s.correct]
    print(
        f"  wrapped synonyms judged and credited {len(ok)}/{len(syn)}; near misses credited {len(credited_near)}/{len(near)}"
    )
    assert len(ok) / len(syn) >= REACH_BAR
    assert credited_near == []


def test_near_misses_that_are_orphanet_entities_are_decided_without_the_judge(
    orphanet: list[dict], orphanet_path: Path
) -> None:
    """``none`` is for answers the matcher knows are different: an answer that is itself another Orphanet
    entity is ``none`` (``hypernym`` when it is a direct parent with parent_disease_count <= 10), not
    sent to the judge."""
    entities = {_norm(e["name"]) for e in orphanet}
    parents = {
        (_norm(p["parent"]), _norm(e["name"])): p["parent_disease_count"] for e in orphanet for p in e["parents"]
    }
    children = {(_norm(e["name"]), _norm(p["parent"])) for e in orphanet for p in e["parents"]}
    cases: list[tuple[Pair, Tier]] = []
    for p in NEAR_MISSES:
        a, g = _norm(p.answer), _norm(p.gold)
        if a not in entities or (a, g) in children:
            continue
        count = parents.get((a, g))
        if count is None:
            cases.append((p, Tier.none))
        elif count <= 10:
            cases.append((p, Tier.hypernym))
    assert len(cases) >= 15
    scorer = get_scorer("rarearena_rdc", hierarchy_path=orphanet_path)
    scores = list(scorer.score_batch(*batch([p for p, _ in cases])))
    print_table("near misses that are Orphanet entities (decided, not judged)", [p for p, _ in cases], scores)
    wrong = [
        (p.answer, p.gold, want.value, s.tier.value, s.reason)
        for (p, want), s in zip(cases, scores)
        if s.tier is not want
    ]
    assert wrong == []
