"""End to end: the diagnosis scorer's judge cascade over a real local OpenAI-compatible server.

Real Orphanet hierarchy (score-1 set) and real disease names; the server grades from a table, so
every number below is exact: which items reach the judge, how many calls, what the cache saves,
and what an outage does to the metrics.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai_server import FakeOpenAIServer, Fault
from medzero_rewards import Status, Tier, get_scorer
from medzero_rewards.diagnosis import UnjudgedError
from medzero_rewards.judge import JudgeConfig

ALS = "Amyotrophic lateral sclerosis"
HHT = "Hereditary hemorrhagic telangiectasia"
NF1 = "Neurofibromatosis type 1"
TSC = "Tuberous sclerosis complex"
DMD = "Duchenne muscular dystrophy"

# What the (fake) judge model answers; anything else: 2 if equal to a reference name, 1 if equal
# to a broader category, else 0.
TABLE = {
    ("Tuberous sclerosis", TSC): 2,
    ("Neurofibromatosis", NF1): 1,
    ("Becker muscular dystrophy", DMD): 0,
    ("Osler-Weber-Rendu disease", HHT): 2,
    ("Hereditary telangiectasia", HHT): 1,
    ("von Recklinghausen disease", NF1): 2,
    ("Lou Gehrig disease", ALS): 2,
    ("Anderson-Fabry disease", "Fabry disease"): 2,
}

# (answer, gold, deterministic tier) — the tiers are asserted, so a matcher change shows up here.
CASES = [
    ("Fabry disease", "Fabry disease", Tier.exact),
    ("Wilson disease", "Wilson disease", Tier.exact),
    ("Tuberous sclerosis", TSC, Tier.uncertain),  # judge: 2
    ("Neurofibromatosis", NF1, Tier.uncertain),  # judge: 1
    ("Becker muscular dystrophy", DMD, Tier.none),  # another Orphanet disease; judge (when asked): 0
    ("Lou Gehrig disease", ALS, Tier.uncertain),  # nothing known against it; judge: 2
    ("Osler-Weber-Rendu disease", HHT, Tier.uncertain),  # judge: 2
    ("Wilson disease", ALS, Tier.none),  # another Orphanet disease; judge (when asked): 0
    ("Disorder of copper metabolism", "Wilson disease", Tier.hypernym),  # Orphanet parent, decided without the judge
]


def completion(answer: str) -> str:
    return f"<think>Reasoning about the case.</think><answer>{answer}</answer>"


def batch(cases: list[tuple[str, str, Tier]] = CASES) -> tuple[list[str], list[dict[str, Any]]]:
    return [completion(a) for a, _, _ in cases], [{"diagnosis": g, "Orpha_name": g} for _, g, _ in cases]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(grades=TABLE) as srv:
        yield srv


def judge_config(server: FakeOpenAIServer, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "model": "fake-judge",
        "base_url": server.base_url,
        "api_key_env": None,
        "cache_path": str(tmp_path / "judge.sqlite"),
        "backoff_base_s": 0.0,
        "timeout_s": 10.0,
    }
    cfg.update(overrides)
    return cfg


def scorer(server: FakeOpenAIServer, tmp_path: Path, orphanet_path: Path, judge: Any = None, **kw: Any) -> Any:
    return get_scorer(
        "rarearena_rdc",
        hierarchy_path=orphanet_path,
        judge=judge if judge is not None else judge_config(server, tmp_path),
        **kw,
    )


def judged_answers(server: FakeOpenAIServer) -> list[str]:
    return sorted(a for r in server.records for a in r.answers)


def test_deterministic_tiers_of_the_cases(orphanet_path: Path) -> None:
    plain = get_scorer("rarearena_rdc", hierarchy_path=orphanet_path)
    scores = plain.score_batch(*batch())
    assert [s.tier for s in scores] == [t for _, _, t in CASES]


def test_fallback_sends_only_the_uncertain_items(server: FakeOpenAIServer, tmp_path: Path, orphanet_path: Path) -> None:
    s = scorer(server, tmp_path, orphanet_path)
    scores = s.score_batch(*batch())
    assert judged_answers(server) == ["lou gehrig disease", "neurofibromatosis", "osler-weber-rendu disease",
                                      "tuberous sclerosis"]  # fmt: skip
    assert server.total_requests == 4
    tiers = [sc.tier for sc in scores]
    assert tiers == [Tier.exact, Tier.exact, Tier.synonym, Tier.hypernym, Tier.none,
                     Tier.synonym, Tier.synonym, Tier.none, Tier.hypernym]  # fmt: skip
    assert [sc.correct for sc in scores] == [True, True, True, False, False, True, True, False, False]
    tsc = scores[2]
    assert tsc.details["judge_grade"] == 2 and tsc.details["deterministic_tier"] == "uncertain"
    assert tsc.details["judge_calls"] == 1 and tsc.details["tokens_in"] > 0
    agg = s.aggregate(scores)
    assert agg["top1"] == pytest.approx(2 / 9) and agg["top1_judged"] == pytest.approx(5 / 9)
    assert agg["judge_calls"] == 4 and agg["judge_cache_hits"] == 0 and agg["unjudged_rate"] == 0
    assert agg["uncertain_rate"] == pytest.approx(4 / 9)
    assert math.isnan(agg["judge_agreement"])  # only uncertain items were judged: nothing decided twice


def test_judge_misses_also_sends_clear_misses(server: FakeOpenAIServer, tmp_path: Path, orphanet_path: Path) -> None:
    s = scorer(server, tmp_path, orphanet_path, judge_misses=True)
    scores = s.score_batch(*batch())
    # every item decided "none" is a miss; the hypernym is grade 1 by the hierarchy and is not sent
    assert judged_answers(server) == sorted(
        ["becker muscular dystrophy", "neurofibromatosis", "tuberous sclerosis",
         "lou gehrig disease", "osler-weber-rendu disease", "wilson disease"]
    )  # fmt: skip
    assert [sc.correct for sc in scores] == [True, True, True, False, False, True, True, False, False]
    assert scores[-1].tier is Tier.hypernym and "judge_grade" not in scores[-1].details
    agg = s.aggregate(scores)
    assert agg["top1_judged"] == pytest.approx(5 / 9) and agg["judge_calls"] == 6
    # decided by both: Becker (none vs 0), Wilson-for-ALS (none vs 0); the uncertain ones were not decided
    assert agg["judge_agreement"] == pytest.approx(2 / 2)


def test_always_judges_every_scored_item(server: FakeOpenAIServer, tmp_path: Path, orphanet_path: Path) -> None:
    s = scorer(server, tmp_path, orphanet_path, judge_mode="always")
    scores = s.score_batch(*batch())
    assert server.total_requests == 9  # one call per item
    assert judged_answers(server).count("wilson disease") == 2  # once per reference set (Wilson, ALS)
    agg = s.aggregate(scores)
    # decided by both: 2 exact (2 vs 2), the hypernym (1 vs 1), 2 misses (0 vs 0): 5 of 5 agree
    assert agg["judge_agreement"] == pytest.approx(5 / 5)
    assert agg["judge_calls"] == 9
    assert [sc.correct for sc in scores] == [True, True, True, False, False, True, True, False, False]


def test_never_mode_and_no_judge_make_no_calls(server: FakeOpenAIServer, tmp_path: Path, orphanet_path: Path) -> None:
    s = scorer(server, tmp_path, orphanet_path, judge_mode="never")
    s.score_batch(*batch())
    get_scorer("rarearena_rdc", hierarchy_path=orphanet_path).score_batch(*batch())
    assert server.total_requests == 0


def test_second_run_is_free_through_the_cache(server: FakeOpenAIServer, tmp_path: Path, orphanet_path: Path) -> None:
    cfg = judge_config(server, tmp_path)
    first = scorer(server, tmp_path, orphanet_path, judge=cfg, judge_misses=True)
    scores1 = first.score_batch(*batch())
    calls = server.total_requests
    assert calls == 6
    second = scorer(server, tmp_path, orphanet_path, judge=JudgeConfig(**cfg), judge_misses=True)  # a fresh process
    scores2 = second.score_batch(*batch())
    assert server.total_requests == calls  # zero new calls
    assert [s.correct for s in scores2] == [s.correct for s in scores1]
    assert [s.tier for s in scores2] == [s.tier for s in scores1]
    agg = second.aggregate(scores2)
    assert agg["judge_calls"] == 0 and agg["judge_cache_hits"] == 6 and agg["tokens_in"] == 0


def test_outage_is_unjudged_and_fails_the_evaluation_loudly(server: FakeOpenAIServer, tmp_path: Path, orphanet_path: Path) -> None:
    server.add_fault(Fault.http(500))
    s = scorer(server, tmp_path, orphanet_path, judge=judge_config(server, tmp_path, max_retries=2))
    scores = s.score_batch(*batch())
    assert server.total_requests == 12  # 4 uncertain items x (1 call + 2 retries)
    unjudged = [sc for sc in scores if sc.status is Status.unjudged]
    assert len(unjudged) == 4 and all("HTTP 500" in sc.reason for sc in unjudged)
    assert all(not sc.correct for sc in unjudged)
    assert [sc.correct for sc in scores[:2]] == [True, True]  # sure items are unaffected
    with pytest.raises(UnjudgedError, match="4 of 9"):
        s.aggregate(scores)
    tolerant = scorer(server, tmp_path, orphanet_path, judge=judge_config(server, tmp_path, max_retries=0),
                      max_unjudged_share=0.5)  # fmt: skip
    agg = tolerant.aggregate(scores)
    assert agg["unjudged_rate"] == pytest.approx(4 / 9)


def test_transient_faults_are_retried_inside_the_cascade(server: FakeOpenAIServer, tmp_path: Path, orphanet_path: Path) -> None:
    server.add_fault(Fault.http(429, retry_after="0"), requests=[1, 2])
    server.add_fault(Fault.empty(), answer="Neurofibromatosis", times=1)
    s = scorer(server, tmp_path, orphanet_path)
    scores = s.score_batch(*batch())
    assert all(sc.status is not Status.unjudged for sc in scores)
    assert s.aggregate(scores)["top1_judged"] == pytest.approx(5 / 9)
    assert server.total_requests == 4 + 2 + 1
    assert s.aggregate(scores)["judge_calls"] == 7


def test_ranked_lists_one_call_per_item_with_orphanet_parents(server: FakeOpenAIServer, tmp_path: Path, orphanet_path: Path) -> None:
    s = get_scorer(
        "rarearena_rdc", answer_format="ranked", hierarchy_path=orphanet_path,
        judge=judge_config(server, tmp_path), judge_misses=True,
    )  # fmt: skip
    ranked = "1. Hereditary telangiectasia\n2. Osler-Weber-Rendu disease\n3. Wilson disease"
    scores = s.score_batch(
        [completion(ranked), completion("1. Fabry disease\n2. Wilson disease")],
        [{"diagnosis": HHT, "Orpha_name": HHT}, {"diagnosis": "Wilson disease", "Orpha_name": "Wilson disease"}],
    )
    assert server.total_requests == 1  # the Wilson item is sure (top-1 exact); the HHT list is one call
    assert server.records[0].answers == ["hereditary telangiectasia", "osler-weber-rendu disease", "wilson disease"]
    hht = scores[0]
    assert hht.details["top5"] is False and hht.details["top5_judged"] is True
    assert hht.details["top1_judged"] is False and hht.details["judge_grades"] == [1, 2, 0]
    expected_parents = s.hierarchy.broader_names([HHT], None, max_parent_disease_count=10)
    payload = server.records[0].body["messages"][-1]["content"]
    assert all(p in payload for p in expected_parents)
    agg = s.aggregate(scores)
    assert agg["top5"] == pytest.approx(1 / 2) and agg["top5_judged"] == pytest.approx(2 / 2)


def test_real_rarebench_names_exact_answers_need_no_judge(server: FakeOpenAIServer, tmp_path: Path, orphanet_path: Path, rarebench_dir: Path) -> None:
    import ast
    import csv

    names: list[str] = []
    for source in ("MME_categorized.csv", "HMS_categorized.csv", "LIRICAL_categorized.csv"):
        with open(rarebench_dir / source, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                names.extend(n for n in ast.literal_eval(row["RareDisease"]) if n not in names)
    names = names[:60]
    assert len(names) == 60
    s = scorer(server, tmp_path, orphanet_path, max_unjudged_share=0.0)
    scores = s.score_batch([completion(n) for n in names], [{"diagnosis": n} for n in names])
    assert all(sc.correct and sc.tier is Tier.exact for sc in scores)
    assert server.total_requests == 0
    agg = s.aggregate(scores)
    assert agg["top1_judged"] == 1.0 and agg["judge_calls"] == 0


def test_many_uncertain_items_respect_the_concurrency_limit(tmp_path: Path, orphanet_path: Path) -> None:
    with FakeOpenAIServer(grades=TABLE, delay_s=0.05) as srv:
        cases = [(f"Tuberous sclerosis type {i}", TSC, Tier.uncertain) for i in range(1, 13)]
        s = scorer(srv, tmp_path, orphanet_path, judge=judge_config(srv, tmp_path, max_concurrency=4))
        scores = s.score_batch(*batch(cases))
        assert srv.total_requests == 12 and srv.max_in_flight <= 4
        assert all(sc.status is Status.ok for sc in scores)
