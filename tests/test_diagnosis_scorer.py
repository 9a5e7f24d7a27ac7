"""Behaviour of the RareArena diagnosis scorer: presets, modes, statuses, details, judge cascade."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from medzero_rewards import Score, Status, Tier, get_scorer
from medzero_rewards.diagnosis import DiagnosisConfig, DiagnosisScorer, UnjudgedError
from medzero_rewards.judge.types import JudgeRequest, JudgeVerdict, SynonymJudge

FABRY = {"diagnosis": "Fabry disease", "Orpha_name": "Fabry disease", "Orpha_id": "324"}

DETAIL_KEYS = {
    "format_ok", "format_score", "format_reason", "tags", "n_chars", "n_tokens", "mixed_language",
    "mixed_in", "answers", "top1", "hypernym", "match_score", "matched_name",
}  # fmt: skip


def c(answer: str, think: str = "angiokeratoma, acroparesthesia, proteinuria") -> str:
    return f"<think>{think}</think>\n<answer>{answer}</answer>"


# ---------------------------------------------------------------------------------------------------
# Registry, config
# ---------------------------------------------------------------------------------------------------


def test_registry_names_and_config_kwargs() -> None:
    rdc = get_scorer("rarearena_rdc")
    rds = get_scorer("rarearena_rds", answer_format="ranked", k=3)
    assert isinstance(rdc, DiagnosisScorer) and rdc.name == "rarearena_rdc"
    assert rds.name == "rarearena_rds" and rds.config.k == 3
    assert DiagnosisScorer(DiagnosisConfig(k=2), k=4).config.k == 4
    cfg = DiagnosisConfig(answer_format="ranked", k=2)
    assert get_scorer("rarearena_rdc", config=cfg).config is cfg
    assert get_scorer("rarearena_rds", config=cfg, k=7).config.k == 7


@pytest.mark.parametrize(
    "bad",
    [{"answer_format": "list"}, {"k": 0}, {"preset": "nope"}, {"weights": {"style": 1.0}},
     {"fuzzy_lo": 95, "fuzzy_hi": 90}, {"expected_script": "Klingon"}, {"unknown_option": 1}],
)  # fmt: skip
def test_bad_config_is_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises((ValidationError, ValueError)):
        get_scorer("rarearena_rdc", **bad)


def test_missing_hierarchy_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="Orphanet hierarchy not found"):
        get_scorer("rarearena_rdc", hierarchy_path=tmp_path / "nope.json")


# ---------------------------------------------------------------------------------------------------
# Rewards and presets
# ---------------------------------------------------------------------------------------------------


def test_recommended_components_sum_to_reward() -> None:
    s = get_scorer("rarearena_rdc")
    hit = s.score(c("Fabry's disease"), FABRY)
    assert hit.correct and hit.tier is Tier.exact and hit.status is Status.ok
    assert hit.components == {"format": 0.2, "accuracy": 1.0, "language": 0.0}
    assert hit.reward == pytest.approx(1.2)
    miss = s.score(c("Gaucher disease"), FABRY)
    # without a hierarchy the matcher cannot know "Gaucher disease" is not a synonym: uncertain (no credit)
    assert not miss.correct and miss.tier is Tier.uncertain
    assert miss.components == {"format": 0.2, "accuracy": 0.0, "language": 0.0}
    for sc in (hit, miss):
        assert sc.reward == pytest.approx(sum(sc.components.values()))


def test_custom_weights_and_language_penalty() -> None:
    s = get_scorer("rarearena_rdc", weights={"format": 0.5, "accuracy": 2.0, "language": 0.3})
    mixed = s.score(c("Fabry disease", think="考虑法布里病 angiokeratoma"), FABRY)
    assert mixed.details["mixed_language"] and mixed.details["mixed_in"] == ["think"]
    assert mixed.components == {"format": 0.5, "accuracy": 2.0, "language": -0.3}
    assert mixed.reward == pytest.approx(2.2)
    share = get_scorer("rarearena_rdc", weights={"language": 1.0}, language_penalty="share")
    sc = share.score(c("Fabry disease", think="考虑法布里病 angiokeratoma"), FABRY)
    assert -1.0 < sc.components["language"] < 0.0


def test_diagnosis_zero_reproduces_the_seed_rewards() -> None:
    z = get_scorer("rarearena_rdc", preset="diagnosis_zero")
    assert z.score("<answer>Fabry disease</answer>", FABRY).reward == pytest.approx(1.0)
    assert z.score(c("Fabry disease"), FABRY).reward == pytest.approx(1.0)
    assert z.score(c("Gaucher disease"), FABRY).reward == pytest.approx(0.1)
    assert z.score(c(""), FABRY).reward == pytest.approx(0.1)  # extracted (empty) but wrong
    assert z.score("Fabry disease", FABRY).reward == 0.0  # nothing extracted
    # the seed's regex takes the FIRST <answer> block
    first = z.score("<answer>Gaucher disease</answer> then <answer>Fabry disease</answer>", FABRY)
    assert first.extracted == "Gaucher disease" and first.reward == pytest.approx(0.1)
    # multi-line answers are extracted (DOTALL)
    assert z.score("<answer>\nFabry disease\n</answer>", FABRY).reward == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------------
# Statuses: bad input never crashes and never hides
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ("Fabry disease or Gaucher disease", Status.hacking),
        ("Either Fabry disease or Gaucher disease", Status.hacking),
        ("Fabry disease vs Gaucher disease", Status.hacking),
        ("1. Fabry disease\n2. Gaucher disease", Status.hacking),
        ("Fabry disease, Gaucher disease, or Pompe disease", Status.hacking),
        ("Not Fabry disease", Status.hacking),
        ("Fabry disease was excluded", Status.hacking),
        ("", Status.empty),
        ("   ", Status.empty),
        ("???", Status.empty),
    ],
)
def test_hacking_and_empty_get_no_accuracy(answer: str, status: Status) -> None:
    sc = get_scorer("rarearena_rdc").score(c(answer), FABRY)
    assert sc.status is status and not sc.correct and sc.components["accuracy"] == 0.0
    assert sc.reason


def test_hack_reason_names_the_shape() -> None:
    s = get_scorer("rarearena_rdc")
    assert "2 candidate" in s.score(c("Fabry disease or Gaucher disease"), FABRY).reason
    assert "negat" in s.score(c("Not Fabry disease"), FABRY).reason


def test_gold_names_containing_or_are_not_hacking() -> None:
    gold = {"diagnosis": "Familial or sporadic hemiplegic migraine"}
    sc = get_scorer("rarearena_rdc").score(c("Familial or sporadic hemiplegic migraine"), gold)
    assert sc.correct and sc.status is Status.ok


def test_labels_and_notes_around_a_single_answer_are_ignored() -> None:
    sc = get_scorer("rarearena_rdc").score(c("Final diagnosis: **Fabry disease** (most likely)."), FABRY)
    assert sc.correct and sc.tier is Tier.exact


@pytest.mark.parametrize(
    ("completion", "reference", "status"),
    [
        (c("Fabry disease"), {"diagnosis": "  ", "Orpha_name": None}, Status.error),
        (c("Fabry disease"), {}, Status.error),
        (c("Fabry disease"), None, Status.error),
        (c("Fabry disease"), "Fabry disease", Status.error),
        ("Fabry disease", FABRY, Status.format_error),
        (None, FABRY, Status.format_error),
        (12345, FABRY, Status.format_error),
        ("<think>x</think><answer>Fabry disease", FABRY, Status.format_error),
    ],
)
def test_bad_input_gets_a_defined_score(completion: Any, reference: Any, status: Status) -> None:
    sc = get_scorer("rarearena_rdc").score(completion, reference)
    assert isinstance(sc, Score) and sc.status is status and not sc.correct and sc.reason
    assert sc.components["accuracy"] == 0.0
    if status is Status.error:
        assert sc.reward == 0.0


def test_batch_keeps_going_past_bad_items_and_checks_lengths() -> None:
    s = get_scorer("rarearena_rdc")
    out = s.score_batch([c("Fabry disease"), None, c("Fabry disease")], [FABRY, FABRY, {}])  # type: ignore[list-item]
    assert [o.status for o in out] == [Status.ok, Status.format_error, Status.error]
    with pytest.raises(ValueError, match="2 completions but 1 references"):
        s.score_batch([c("a"), c("b")], [FABRY])


def test_scores_built_without_validation_are_valid() -> None:
    s = get_scorer("rarearena_rdc", answer_format="ranked")
    out = s.score_batch([c("1. Fabry disease"), "none", c("")], [FABRY, FABRY, {}])
    for sc in out:
        again = Score.model_validate(sc.model_dump())
        assert again == sc and again.model_fields_set == sc.model_fields_set


def test_scorer_pickles_with_its_caches(orphanet_path: Path) -> None:
    import pickle

    s = get_scorer("rarearena_rdc", hierarchy_path=orphanet_path)
    before = s.score(c("Fabry disease"), FABRY)
    clone = pickle.loads(pickle.dumps(s))
    assert clone.score(c("Fabry disease"), FABRY).model_dump() == before.model_dump()
    assert clone.score(c("Gaucher disease"), FABRY).tier is Tier.none


def test_score_equals_score_batch() -> None:
    s = get_scorer("rarearena_rdc")
    comps = [c("Fabry disease"), c("Gaucher disease"), c("Fabry disease or Pompe disease"), "no tags", c("")]
    batch = s.score_batch(comps, [FABRY] * len(comps))
    one = [get_scorer("rarearena_rdc").score(x, FABRY) for x in comps]
    assert [b.model_dump() for b in batch] == [o.model_dump() for o in one]


# ---------------------------------------------------------------------------------------------------
# Gold names, synonyms, hierarchy
# ---------------------------------------------------------------------------------------------------


def test_orpha_name_and_record_synonyms_are_synonym_tier() -> None:
    s = get_scorer("rarearena_rdc")
    ref = {"diagnosis": "Anderson-Fabry disease", "Orpha_name": "Fabry disease", "synonyms": ["Alpha-galactosidase A deficiency"]}
    assert s.score(c("Anderson-Fabry disease"), ref).tier is Tier.exact
    assert s.score(c("Fabry disease"), ref).tier is Tier.synonym
    syn = s.score(c("alpha-galactosidase A deficiency"), ref)
    assert syn.tier is Tier.synonym and syn.correct and syn.details["matched_name"] == "Alpha-galactosidase A deficiency"


@pytest.mark.parametrize("kind", ["mapping", "groups", "json", "tsv"])
def test_user_synonym_tables(kind: str, tmp_path: Path) -> None:
    table: Any = {"Wilson disease": ["Hepatolenticular degeneration"]}
    if kind == "groups":
        table = [["Wilson disease", "Hepatolenticular degeneration"]]
    elif kind == "json":
        p = tmp_path / "syn.json"
        p.write_text(json.dumps(table))
        table = str(p)
    elif kind == "tsv":
        p = tmp_path / "syn.tsv"
        p.write_text("# name\tsynonyms\nWilson disease\tHepatolenticular degeneration\n")
        table = p
    s = get_scorer("rarearena_rdc", synonyms=table)
    sc = s.score(c("Hepatolenticular degeneration"), {"diagnosis": "Wilson's disease"})
    assert sc.correct and sc.tier is Tier.synonym


def test_hypernym_tier_with_the_real_hierarchy(orphanet_path: Path) -> None:
    entities = json.loads(orphanet_path.read_text(encoding="utf-8"))
    ent = next(e for e in entities if e["name"] == "Long chain 3-hydroxyacyl-CoA dehydrogenase deficiency")
    small = next(p for p in ent["parents"] if p["parent_disease_count"] <= 10)
    big = next(p for p in ent["parents"] if p["parent_disease_count"] > 10)
    gold = {"diagnosis": ent["name"], "Orpha_name": ent["name"], "Orpha_id": ent["Orphanetid"]}
    s = get_scorer("rarearena_rdc", hierarchy_path=orphanet_path)
    hyp = s.score(c(small["parent"]), gold)
    assert hyp.tier is Tier.hypernym and not hyp.correct and hyp.details["hypernym"]
    assert hyp.components["accuracy"] == 0.0
    assert s.score(c(big["parent"]), gold).tier is not Tier.hypernym  # group of > 10 diseases
    strict = get_scorer("rarearena_rdc", hierarchy_path=orphanet_path, max_parent_disease_count=small["parent_disease_count"] - 1)
    assert strict.score(c(small["parent"]), gold).tier is not Tier.hypernym
    assert s.aggregate([hyp])["hypernym_rate"] == 1.0


def test_hierarchy_vetoes_fuzzy_matches_between_two_orphanet_names(orphanet_path: Path) -> None:
    plain = get_scorer("rarearena_rdc")
    with_h = get_scorer("rarearena_rdc", hierarchy_path=orphanet_path)
    gold = {"diagnosis": "Isolated congenital entropion"}
    assert plain.score(c("Isolated congenital ectropion"), gold).correct  # one letter apart: fuzzy
    vetoed = with_h.score(c("Isolated congenital ectropion"), gold)
    assert not vetoed.correct and "another Orphanet entity" in vetoed.reason
    # a free-text gold with a typo still accepts the proper Orphanet name
    typo = {"diagnosis": "Isolated congenital entropian"}
    assert with_h.score(c("Isolated congenital entropion"), typo).correct


# ---------------------------------------------------------------------------------------------------
# Details, ranked mode, aggregate
# ---------------------------------------------------------------------------------------------------


def test_details_keys_are_stable() -> None:
    sc = get_scorer("rarearena_rdc").score(c("Fabry disease"), FABRY)
    assert set(sc.details) == DETAIL_KEYS
    assert sc.details["tags"] == {"think_open": 1, "think_close": 1, "answer_open": 1, "answer_close": 1}
    assert sc.details["n_tokens"] is None and sc.details["answers"] == ["Fabry disease"]
    assert sc.details["top1"] is True and sc.details["matched_name"] == "Fabry disease"
    ranked = get_scorer("rarearena_rdc", answer_format="ranked").score(c("Fabry disease"), FABRY)
    assert set(ranked.details) == DETAIL_KEYS | {"top5"}


def test_tokenizer_counts_tokens() -> None:
    sc = get_scorer("rarearena_rdc", tokenizer=str.split).score(c("Fabry disease", think="a b c"), FABRY)
    assert sc.details["n_tokens"] == len(c("Fabry disease", think="a b c").split())


def test_think_prefilled_and_mixed_answer() -> None:
    s = get_scorer("rarearena_rdc", think_prefilled=True)
    sc = s.score("reasoning</think><answer>Fabry disease 法布里病</answer>", FABRY)
    assert sc.details["format_ok"] and sc.details["mixed_in"] == ["answer"]


def test_ranked_mode_top1_top5() -> None:
    s = get_scorer("rarearena_rdc", answer_format="ranked", k=5)
    top1 = s.score(c("1. Fabry disease\n2. Gaucher disease"), FABRY)
    assert top1.correct and top1.details["top1"] and top1.details["top5"]
    rank3 = s.score(c("1. Gaucher disease\n2. Pompe disease\n3. Fabry disease"), FABRY)
    assert not rank3.correct and not rank3.details["top1"] and rank3.details["top5"]
    assert "rank 3" in rank3.reason
    rank6 = s.score(c("\n".join(f"{i}. D{i} syndrome" for i in range(1, 6)) + "\n6. Fabry disease"), FABRY)
    assert not rank6.details["top5"] and len(rank6.details["answers"]) == 5
    assert s.score(c("Fabry disease or Gaucher disease"), FABRY).status is Status.ok  # lists are the point here
    agg = s.aggregate([top1, rank3, rank6])
    assert agg["top1"] == pytest.approx(1 / 3) and agg["top5"] == pytest.approx(2 / 3)


def test_aggregate_keys_and_values() -> None:
    s = get_scorer("rarearena_rdc", tokenizer=str.split)
    scores = s.score_batch(
        [c("Fabry disease"), c("Gaucher disease", think="考虑 gaucher"), "Fabry disease", c("A or B")], [FABRY] * 4
    )
    agg = s.aggregate(scores)
    assert agg["n"] == 4 and agg["top1"] == 0.25 and agg["accuracy"] == 0.25
    assert agg["format_rate"] == 0.75 and agg["mixed_language_rate"] == 0.25 and agg["hacking_rate"] == 0.25
    assert agg["mean_length"] == sum(x.details["n_chars"] for x in scores) / 4
    assert agg["mean_tokens"] > 0 and agg["mean_reward"] == pytest.approx(sum(x.reward for x in scores) / 4)
    assert "top5" not in agg and "top1_judged" not in agg
    assert agg["uncertain_rate"] == 0.25 and agg["judge_share"] == 0.0 and type(agg["n"]) is int
    assert s.aggregate([]) == {"n": 0}


# ---------------------------------------------------------------------------------------------------
# Judge cascade (an in-test SynonymJudge backed by a dict)
# ---------------------------------------------------------------------------------------------------


class DictJudge:
    """Grades (answer, first gold name) from a dict; None (unjudged) for pairs not in it."""

    def __init__(self, grades: dict[tuple[str, str], int], fail: bool = False) -> None:
        self.grades = grades
        self.fail = fail
        self.calls: list[list[JudgeRequest]] = []

    def judge_many(self, requests: Sequence[JudgeRequest]) -> list[JudgeVerdict]:
        self.calls.append(list(requests))
        if self.fail:
            raise ConnectionError("judge endpoint down")
        out = []
        for r in requests:
            gs = [self.grades.get((a, r.gold_names[0])) for a in r.answers]
            ok = all(g is not None for g in gs)
            out.append(JudgeVerdict(grades=gs, status="judged" if ok else "unjudged", calls=1, tokens_in=10, tokens_out=2))
        return out


TSC = {"diagnosis": "Tuberous sclerosis complex"}
NF1 = {"diagnosis": "Neurofibromatosis type 1"}


def test_dict_judge_is_a_synonym_judge() -> None:
    assert isinstance(DictJudge({}), SynonymJudge)


def test_fallback_judges_only_uncertain_items_in_one_call() -> None:
    judge = DictJudge({("Tuberous sclerosis", "Tuberous sclerosis complex"): 2, ("Neurofibromatosis", "Neurofibromatosis type 1"): 1,
                       ("Gaucher disease", "Fabry disease"): 0})  # fmt: skip
    s = get_scorer("rarearena_rdc", judge=judge)
    assert s.config.judge_mode == "fallback"
    out = s.score_batch([c("Tuberous sclerosis"), c("Neurofibromatosis"), c("Fabry disease"), c("Gaucher disease"),
                         c("Neurofibromatosis type 2")], [TSC, NF1, FABRY, FABRY, NF1])  # fmt: skip
    # no hierarchy: "Gaucher disease" might be a synonym of Fabry disease as far as strings go -> the judge;
    # "Neurofibromatosis type 2" is a near-name sibling (guard tokens) -> decided none, never sent
    assert len(judge.calls) == 1
    assert [r.answers for r in judge.calls[0]] == [["Tuberous sclerosis"], ["Neurofibromatosis"], ["Gaucher disease"]]
    tsc, nf1, fabry, miss, nf2 = out
    assert tsc.details["deterministic_tier"] == "uncertain" and tsc.tier is Tier.synonym and tsc.correct
    assert tsc.details["top1"] is False and tsc.details["top1_judged"] is True and tsc.details["judge_grade"] == 2
    assert nf1.tier is Tier.hypernym and not nf1.correct
    assert fabry.correct and "judge_grade" not in fabry.details and fabry.details["top1_judged"] is True
    assert not miss.correct and miss.tier is Tier.none and miss.details["judge_grade"] == 0
    assert nf2.tier is Tier.none and "judge_grade" not in nf2.details and "guard conflict" in nf2.reason
    agg = s.aggregate(out)
    assert agg["top1"] == 0.2 and agg["top1_judged"] == 0.4 and agg["judge_calls"] == 3
    assert agg["judge_share"] == pytest.approx(3 / 5)
    assert agg["unjudged_rate"] == 0.0 and agg["tokens_in"] == 30 and math.isnan(agg["judge_agreement"])


def test_judge_misses_and_always_modes() -> None:
    judge = DictJudge({("Lou Gehrig disease", "Amyotrophic lateral sclerosis"): 2, ("Fabry disease", "Fabry disease"): 2})
    als = {"diagnosis": "Amyotrophic lateral sclerosis"}
    judge.grades[("Amyotrophic lateral sclerosis type 4", "Amyotrophic lateral sclerosis type 2")] = 2
    als2 = {"diagnosis": "Amyotrophic lateral sclerosis type 2"}
    # an eponym is uncertain: the default fallback cascade sends it to the judge
    sc = get_scorer("rarearena_rdc", judge=judge).score(c("Lou Gehrig disease"), als)
    assert sc.correct and sc.tier is Tier.synonym and sc.details["deterministic_tier"] == "uncertain"
    # a decided miss (a sibling by guard tokens) goes to the judge only with judge_misses
    s = get_scorer("rarearena_rdc", judge=judge, judge_misses=True)
    sc = s.score(c("Amyotrophic lateral sclerosis type 4"), als2)
    assert sc.correct and sc.tier is Tier.synonym and sc.details["deterministic_tier"] == "none"
    assert "judge_grade" not in get_scorer("rarearena_rdc", judge=judge).score(
        c("Amyotrophic lateral sclerosis type 4"), als2).details  # fmt: skip
    always = get_scorer("rarearena_rdc", judge=judge, judge_mode="always")
    out = always.score_batch([c("Fabry disease"), c("Amyotrophic lateral sclerosis type 4")], [FABRY, als2])
    assert all(o.correct for o in out) and out[0].tier is Tier.exact
    agg = always.aggregate(out)
    assert agg["judge_agreement"] == 0.5 and agg["judge_share"] == 1.0  # Fabry: exact vs 2 agree; type 4: none vs 2
    never = get_scorer("rarearena_rdc", judge=judge, judge_mode="never")
    assert not never.score(c("Lou Gehrig disease"), als).correct


def test_unjudged_items_are_flagged_and_counted() -> None:
    judge = DictJudge({})  # no usable verdict for anything
    s = get_scorer("rarearena_rdc", judge=judge, max_unjudged_share=0.5)
    out = s.score_batch([c("Tuberous sclerosis"), c("Fabry disease")], [TSC, FABRY])
    unj = out[0]
    assert unj.status is Status.unjudged and not unj.correct and unj.details["deterministic_tier"] == "uncertain"
    assert unj.components["accuracy"] == 0.0 and "judge gave no usable verdict" in unj.reason
    assert s.aggregate(out)["unjudged_rate"] == 0.5
    strict = get_scorer("rarearena_rdc", judge=judge)
    with pytest.raises(UnjudgedError, match="needed the judge"):
        strict.aggregate(strict.score_batch([c("Tuberous sclerosis"), c("Fabry disease")], [TSC, FABRY]))


def test_a_failing_judge_does_not_crash_the_batch() -> None:
    s = get_scorer("rarearena_rdc", judge=DictJudge({}, fail=True), max_unjudged_share=1.0)
    sc = s.score(c("Tuberous sclerosis"), TSC)
    assert sc.status is Status.unjudged and "judge endpoint down" in sc.reason


def test_ranked_mode_judge_grades_every_listed_answer() -> None:
    judge = DictJudge({("Gaucher disease", "Fabry disease"): 0, ("Anderson-Fabry disease", "Fabry disease"): 2})
    s = get_scorer("rarearena_rdc", judge=judge, answer_format="ranked", judge_misses=True)
    sc = s.score(c("1. Gaucher disease\n2. Anderson-Fabry disease"), FABRY)
    assert sc.details["judge_grades"] == [0, 2] and sc.details["top5"] is False
    assert sc.details["top5_judged"] is True and sc.details["top1_judged"] is False


def test_judge_config_goes_through_build_judge(monkeypatch: pytest.MonkeyPatch) -> None:
    import medzero_rewards.judge as judge_pkg

    built: list[Any] = []
    monkeypatch.setattr(judge_pkg, "build_judge", lambda cfg: built.append(cfg) or DictJudge({}))
    s = get_scorer("rarearena_rdc", judge={"model": "some-model"})
    assert built == [{"model": "some-model"}] and isinstance(s.judge, DictJudge)


def test_doctests() -> None:
    import doctest

    import importlib
    import pkgutil

    from medzero_rewards import diagnosis, registry

    parts = [importlib.import_module(f"{diagnosis.__name__}.{m.name}") for m in pkgutil.iter_modules(diagnosis.__path__)]
    for mod in (diagnosis, *parts, registry):
        result = doctest.testmod(mod)
        assert result.attempted > 0 and result.failed == 0, mod.__name__


# ---------------------------------------------------------------------------------------------------
# Phrasing (issue 16): what models write around a name
# ---------------------------------------------------------------------------------------------------

WILSON = {"diagnosis": "Wilson disease"}
GD1 = {"diagnosis": "Gaucher disease type 1"}
CREDITED = [
    "I am fairly confident this is Wilson disease.",
    "Presumptive diagnosis: Wilson disease",
    "wilson disease (probable)",
    "Wilson disease — hepatolenticular degeneration caused by ATP7B variants",
    "Wilson disease, i.e. copper accumulation in liver and brain",
    "Wilson disease\n\nKey supporting findings: Kayser-Fleischer rings, low ceruloplasmin.",
    "**Wilson disease**\n\nRationale:\n- Kayser-Fleischer rings\n- hemolysis",
    "### Final answer\n**Wilson's disease**",
    "Everything here points toward Wilson disease.",
    "Wilson disease best accounts for the liver and neurological findings.",
    "Wilson disease (ORPHA:905)",
    "The picture is most in keeping with Wilson disease; ceruloplasmin was low.",
    "Not Menkes disease but Wilson disease",
]
NOT_CREDITED = [  # (answer, expected status)
    ("Wilson disease or Menkes disease", Status.hacking),
    ("Wilson disease vs. Menkes disease", Status.hacking),
    ("Wilson disease, Menkes disease and Indian childhood cirrhosis", Status.hacking),
    ("Wilson disease. Another possibility is Menkes disease.", Status.hacking),
    ("Wilson disease\nMenkes disease", Status.hacking),
    ("Wilson disease (or Menkes disease)", Status.hacking),
    ("Menkes disease rather than Wilson disease", Status.ok),
    ("Wilson disease has been ruled out", Status.hacking),
    ("I don't know", Status.ok),
]


@pytest.mark.parametrize("answer", CREDITED)
def test_phrased_correct_answers_are_credited(answer: str) -> None:
    s = get_scorer("rarearena_rdc").score(c(answer), WILSON)
    assert s.correct and s.status is Status.ok, s.reason


@pytest.mark.parametrize("answer,status", NOT_CREDITED)
def test_several_negated_or_other_candidates_get_no_credit(answer: str, status: Status) -> None:
    s = get_scorer("rarearena_rdc").score(c(answer), WILSON)
    assert not s.correct and s.components["accuracy"] == 0.0 and s.status is status, s.reason


@pytest.mark.parametrize(
    "answer",
    ["Probable Gaucher disease type 2", "Gaucher disease (type 3), a lysosomal disorder",
     "The findings point to Gaucher disease type 2.", "Gaucher disease type 2\n\nThis fits the splenomegaly."],
)  # fmt: skip
def test_a_wrapper_never_turns_a_sibling_into_a_match(answer: str) -> None:
    s = get_scorer("rarearena_rdc").score(c(answer), GD1)
    assert not s.correct and s.tier is Tier.none and "guard conflict" in s.reason


def test_ranked_items_with_reasons() -> None:
    s = get_scorer("rarearena_rdc", answer_format="ranked")
    answers = [
        "1. Menkes disease: copper transport\n2. Wilson disease: Kayser-Fleischer rings",
        "- Menkes disease (kinky hair)\n- Wilson disease (low ceruloplasmin)",
        "1) Menkes disease -- unlikely at this age\n2) Probable Wilson disease -- liver disease",
        "1. Menkes disease\n   * copper deficiency\n2. Wilson disease\n   * copper overload",
        "| # | Diagnosis | Why |\n|---|---|---|\n| 1 | Menkes disease | hair |\n| 2 | Wilson disease | rings |",
    ]
    for a in answers:
        sc = s.score(c(a), WILSON)
        assert sc.details["top5"] and not sc.details["top1"], (a, sc.details["answers"])


def test_sure_or_uncertain_with_and_without_the_hierarchy(tmp_path: Path) -> None:
    """``none`` only when the matcher knows: a guard conflict, or (with the hierarchy) another entity."""
    h = tmp_path / "h.json"
    h.write_text(json.dumps([
        {"Orphanetid": "905", "name": "Wilson disease", "parents": []},
        {"Orphanetid": "565", "name": "Menkes disease", "parents": []},
    ]))  # fmt: skip
    plain, known = get_scorer("rarearena_rdc"), get_scorer("rarearena_rdc", hierarchy_path=h)
    for answer in ("Hepatolenticular degeneration", "Morbus Wilson", "威尔逊病", "Menkes disease"):
        assert plain.score(c(answer), WILSON).tier is Tier.uncertain, answer
    assert known.score(c("Menkes disease"), WILSON).tier is Tier.none
    assert known.score(c("Probable Menkes disease, a copper disorder"), WILSON).tier is Tier.none
    assert known.score(c("Hepatolenticular degeneration"), WILSON).tier is Tier.uncertain  # a synonym: judge
    agg = plain.aggregate([plain.score(c("Morbus Wilson"), WILSON)])
    assert agg["uncertain_rate"] == 1.0 and agg["judge_share"] == 0.0


@pytest.mark.parametrize(
    "answer,credited",
    [
        ("Menkes disease is favored over Wilson disease because of the kinky hair.", False),
        ("Menkes disease is preferred to Wilson disease given the age.", False),
        ("Menkes disease, compared with Wilson disease, fits the copper levels.", False),
        ("Wilson disease is favoured over Menkes disease given the Kayser-Fleischer rings.", True),
    ],
)
def test_the_disease_a_comparison_sets_aside_is_not_the_answer(answer: str, credited: bool) -> None:
    """red-team (H10): "Y is favoured over X" names X only as the rejected side."""
    s = get_scorer("rarearena_rdc").score(c(answer), WILSON)
    assert s.correct is credited and s.components["accuracy"] == float(credited), s.reason
    assert s.status is Status.ok or not credited, s.reason


@pytest.mark.parametrize(
    "answer",
    [
        "Differential diagnosis: Wilson disease, Spondylometaphyseal dysplasia, A4 type, Menkes disease",
        "Wilson disease, Menkes disease, Microcephaly-microcornea syndrome, Seemanova type",
        "Wilson disease, Gaucher disease, type 1, Indian childhood cirrhosis",
    ],
)
def test_a_list_stays_a_list_when_one_name_has_a_comma(answer: str) -> None:
    """red-team (H10): a comma qualifier in one listed name ("X, A4 type") joins that name; the list is
    still several candidates (hacking), never read as one name that happens to start with the gold."""
    s = get_scorer("rarearena_rdc").score(c(answer), WILSON)
    assert not s.correct and s.status is Status.hacking, s.reason


@pytest.mark.parametrize(
    "answer",
    [
        "Wilson disease/Menkes disease",
        "Wilson disease > Aceruloplasminemia",
        "Wilson disease, Aceruloplasminemia, Indian childhood cirrhosis",
        "Differential: Wilson disease, Kinky hair syndrome, Aceruloplasminemia",
        "Wilson disease | Menkes disease",
    ],
)
def test_a_name_followed_by_another_listed_name_is_not_credited(answer: str) -> None:
    """red-team (H10): the sentence fallback (a gold name stated in a statement) must not credit the
    first of several names joined by "/", ">", "|" or commas (names without a disease head word)."""
    s = get_scorer("rarearena_rdc").score(c(answer), WILSON)
    assert not s.correct and s.components["accuracy"] == 0.0, s.reason


@pytest.mark.parametrize(
    "answer",
    [
        "Wilson disease\nLess likely: Menkes disease",
        "Wilson disease.\nOther considerations include primary sclerosing cholangitis with autoimmune hepatitis "
        "overlap in adolescents and Indian childhood cirrhosis.",
        "Wilson disease. Also consider idiopathic copper toxicosis of early childhood presenting with liver failure "
        "and neonatal hemochromatosis.",
    ],
)
def test_alternatives_on_a_later_line_are_candidates(answer: str) -> None:
    """red-team (H10): "Less likely: Y" lines and long "other considerations include A and B" lists
    after the answer are hedging across diseases."""
    s = get_scorer("rarearena_rdc").score(c(answer), WILSON)
    assert not s.correct and s.status is Status.hacking, s.reason


@pytest.mark.parametrize("answer", ["My top pick: Wilson disease", "Best guess: Wilson disease", "First choice: Wilson disease."])
def test_a_pick_label_before_the_name_is_read(answer: str) -> None:
    s = get_scorer("rarearena_rdc").score(c(answer), WILSON)
    assert s.correct and s.status is Status.ok, s.reason


@pytest.mark.parametrize(
    "answer",
    ["1️⃣ Menkes disease\n2️⃣ Wilson disease\n3️⃣ Aceruloplasminemia",
     "① Menkes disease — kinky hair\n② **Wilson disease** — Kayser-Fleischer rings",
     "❶ Menkes disease\n❷ Wilson disease (low ceruloplasmin)"],
)  # fmt: skip
def test_keycap_and_circled_number_markers(answer: str) -> None:
    """red-team (H10): emoji keycap (1️⃣) and circled (①, ❶) numbers mark list items like "1."."""
    sc = get_scorer("rarearena_rdc", answer_format="ranked").score(c(answer), WILSON)
    assert sc.details["top5"] and not sc.details["top1"], sc.details["answers"]
    assert get_scorer("rarearena_rdc").score(c(answer), WILSON).status is Status.hacking


@pytest.mark.parametrize(
    "answer,credited",
    [
        ("Die wahrscheinlichste Diagnose ist Wilson disease.", True),
        ("最可能的诊断是：Wilson disease", True),
        ("Le diagnostic le plus probable est Wilson disease.", True),
        ("El diagnóstico más probable es Wilson disease.", True),
        ("Die Diagnose ist nicht Wilson disease.", False),
        ("Es handelt sich um Wilson disease oder Menkes disease.", False),
        ("排除Wilson disease，考虑Menkes disease", False),
        ("最可能的诊断是Wilson disease或Menkes disease", False),
        ("最可能的诊断是：Menkes disease", False),
    ],
)
def test_a_diagnosis_frame_in_another_language(answer: str, credited: bool) -> None:
    """red-team (H10): a German/French/Spanish/Chinese frame around the English name is read like an
    English one; a foreign negation or a second name is never credited."""
    s = get_scorer("rarearena_rdc").score(c(answer), WILSON)
    assert s.correct is credited and s.components["accuracy"] == float(credited), s.reason


def test_an_alternative_whose_name_has_a_prose_word_is_a_candidate() -> None:
    """red-team (H10): "X, although Y is also possible" where Y has a word such as "signs"."""
    s = get_scorer("rarearena_rdc").score(
        c("Wilson disease, although proximal myopathy with extrapyramidal signs is also possible."), WILSON)
    assert not s.correct and s.status is Status.hacking, s.reason


@pytest.mark.parametrize(
    "answer,credited",
    [
        ("Wilson disease (ORPHA:905; OMIM #277900)", True),
        ("Wilson disease (OMIM 277900, ORPHA 905)", True),
        ("The patient presents with liver disease and tremor. These findings are consistent with Wilson disease.", True),
        ("A teenager with hemolysis and cirrhosis was described. The picture points to Wilson disease.", True),
        ("Diagnosis: Wilson disease (most likely), pending confirmation", True),
        ("Wilson disease (probable), awaiting genetic testing", True),
        ("Given the rings, Wilson disease is most likely. However, Menkes disease should be ruled out.", False),
        ("Wilson disease is most likely; Menkes disease must also be excluded.", False),
    ],
)
def test_identifiers_findings_sentences_notes_and_exclusions(answer: str, credited: bool) -> None:
    """red-team (H10): several catalogue identifiers; a findings sentence before the stating sentence;
    a note followed by ", pending ..."; "Y should be ruled out" after the answer is a second candidate."""
    s = get_scorer("rarearena_rdc").score(c(answer), WILSON)
    assert s.correct is credited and s.components["accuracy"] == float(credited), s.reason
    assert s.status is (Status.ok if credited else Status.hacking), s.reason


@pytest.mark.parametrize(
    "answer",
    [
        "Wilson disease > Aceruloplasminemia",
        "Wilson disease vs Kinky hair",
        "Differential diagnosis: Wilson disease, Kinky hair, Aceruloplasminemia",
        "DDx: Wilson disease, Idiopathic copper toxicosis",
        "Consider Wilson disease and Aceruloplasminemia.",
        "I would consider Wilson disease and Idiopathic copper toxicosis",
    ],
)
def test_strong_separators_and_differential_labels_make_a_list_without_head_words(answer: str) -> None:
    """red-team (H10): without the hierarchy, names without a disease head word ("Aceruloplasminemia",
    "Kinky hair") are still candidates after "vs"/">" or under a "Differential diagnosis:"/"Consider" label."""
    s = get_scorer("rarearena_rdc").score(c(answer), WILSON)
    assert not s.correct and s.status is Status.hacking, s.reason


@pytest.mark.parametrize(
    "answer,top1,top5",
    [
        ("First: Menkes disease\nSecond: Wilson disease\nThird: Aceruloplasminemia", False, True),
        ("1st: Wilson disease\n2nd: Menkes disease", True, True),
        ("**Most likely:** Menkes disease\n**Other possibilities:** Aceruloplasminemia, Wilson disease, Kinky hair", False, True),
        ("**Most likely:** Wilson disease\n**Less likely:** Menkes disease, Aceruloplasminemia", True, True),
        ("Menkes disease - fits the hair and the copper, Wilson disease later\nAceruloplasminemia", False, False),
        ("46,XY disorder of sex development, Menkes disease, Aceruloplasminemia, Indian childhood cirrhosis, Wilson disease",
         False, True),
    ],
)
def test_ranked_ordinal_labels_labelled_comma_lines_and_chromosome_commas(answer: str, top1: bool, top5: bool) -> None:
    """red-team (H10): "Second: X" items, a labelled line listing several names ("Other possibilities:
    A, B, C"; an item with a reason is never split), and "46,XY" is not a list comma."""
    sc = get_scorer("rarearena_rdc", answer_format="ranked").score(c(answer), WILSON)
    assert (sc.details["top1"], sc.details["top5"]) == (top1, top5), sc.details["answers"]


def test_anchoring_examines_a_bounded_number_of_occurrences(monkeypatch: pytest.MonkeyPatch) -> None:
    """red-team (H10): "Wilson disease/" repeated 2,000 times in ranked mode took 4 s (every occurrence
    re-read the text before it); only the first ``MAX_ANCHORS`` occurrences are examined."""
    from medzero_rewards.diagnosis import phrasing

    seen: list[str] = []
    real = phrasing._lists_another
    monkeypatch.setattr(phrasing, "_lists_another", lambda after: seen.append(after) or real(after))
    assert not phrasing.anchored("Wilson disease/" * 2000, "Wilson disease")
    assert 0 < len(seen) <= phrasing.MAX_ANCHORS
