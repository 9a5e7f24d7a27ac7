"""Hypothesis fuzz of completions for every registered scorer and preset (issue 13).

Every configuration in :data:`CONFIGS` (each registered scorer; the diagnosis presets
``recommended`` and ``diagnosis_zero``, single and ranked, with and without the Orphanet hierarchy;
EHRSQL on the real database with ``workers=0``) gets batches of 1-4 hostile completions: random
text, tag soup, nested and unbalanced tags, long lines, text in many scripts, SQL-ish text and huge
(bounded) repetitions, raw or inside ``<think>...</think><answer>...</answer>``. For each item:

* nothing raises;
* ``Score.reward`` is a finite float and equals the sum of the components;
* ``Score.status`` is a :class:`~medzero_rewards.Status` and a status other than ``ok`` has a reason;
* ``score_batch`` (fast path, columns and built Scores) equals ``score`` of each item alone
  (general path).

``MEDZERO_FUZZ_EXAMPLES`` sets the examples (batches, so at least as many completions) per
configuration; the default, 300, is what CI runs. The one command for 10,000 or more completions
per scorer::

    MEDZERO_FUZZ_EXAMPLES=10000 .venv/bin/python -m pytest tests/test_fuzz.py

(the default run takes about 20 CPU-seconds, so 10,000 takes about 11 CPU-minutes). The data comes
from ``../shared/data`` or ``$MEDZERO_DATA``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medzero_rewards import Score, ScoreBatch, Scorer, Status, get_scorer
from medzero_rewards.registry import list_scorers

EXAMPLES = int(os.environ.get("MEDZERO_FUZZ_EXAMPLES", "300"))
MAX_REPEAT_CHARS = 20_000  # huge repetitions stay below this (the 8-96 KB shapes are bench/bench_worst_case.py's)

DISEASES = [
    "Wilson disease", "Fabry disease", "Gaucher disease type 1", "Marfan syndrome", "Alport syndrome",
    "Long chain 3-hydroxyacyl-CoA dehydrogenase deficiency", "Amyotrophic lateral sclerosis", "ALS",
    "Niemann-Pick disease type C", "Disorder of copper metabolism", "Tuberous sclerosis", "Cystic fibrosis",
]  # fmt: skip
SCRIPTS = [
    "болезнь Вильсона", "威尔逊病", "مرض ويلسون", "विल्सन रोग", "νόσος Wilson", "מחלת וילסון", "ウィルソン病",
    "윌슨병", "โรควิลสัน", "ვილსონის დაავადება", "Wilson-Krankheit", "maladie de Wilson", "🧬🩺", "\u200b\u200d\ufeff",
]  # fmt: skip
TAGS = ["<think>", "</think>", "<answer>", "</answer>", "<answer", "</answer", "<ans", "<think", "<", ">", "/",
        "<ANSWER>", "</ANSWER>", "<|im_end|>", "<|endoftext|>", "```", "```sql", "\n", " ", "  "]  # fmt: skip
WORDS = [" or ", " and ", "not ", "1. ", "2) ", "- ", "* ", "Diagnosis: ", "Final answer: ", "(", ")", "[", "]",
         ",", ";", ".", "?", "null", "N/A", "I don't know", "either", "/", "vs"]  # fmt: skip
SQL = ["SELECT", "COUNT(*)", "DISTINCT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "(", ")", ",", "=", "<", ">",
       "patients", "admissions", "icustays", "patients.subject_id", "admissions.hadm_id", "gender", "'F'", "'M'",
       "anchor_age", "10000032", "1", "0", "-1", "NULL", "'x'", "LIMIT 1", "ORDER BY 1", "GROUP BY 1", "JOIN",
       "ON", "AS", "t1", "CASE WHEN 1 THEN 2 END", "strftime('%Y', 'now')", "datetime('now')", ";", "--", "/*",
       "*/", "UNION SELECT 1", "DROP TABLE patients", "PRAGMA user_version", "ATTACH 'x' AS y", "null"]  # fmt: skip

# ------------------------------------------------------------------------------------------------ data


def _data_root() -> Path:
    env = os.environ.get("MEDZERO_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


DATA = _data_root()
ORPHANET = DATA / "rarearena" / "orphanet_hypernym.json"
EHRSQL = DATA / "ehrsql2024"


def _diagnosis_references() -> list[dict[str, Any]]:
    entities = json.loads(ORPHANET.read_text(encoding="utf-8"))
    picked = [e for e in entities if e["name"] in DISEASES or e["Orphanetid"] in ("5", "6", "905", "558")]
    refs: list[dict[str, Any]] = [{"diagnosis": e["name"], "Orpha_name": e["name"], "Orpha_id": e["Orphanetid"]} for e in picked]
    refs += [{"diagnosis": d} for d in DISEASES]
    return refs


def _ehrsql_references() -> list[dict[str, Any]]:
    labels = json.loads((EHRSQL / "valid" / "label.json").read_text(encoding="utf-8"))
    answerable = [(k, v) for k, v in labels.items() if v != "null"][:12]
    null = [(k, v) for k, v in labels.items() if v == "null"][:3]
    return [{"id": k, "label": v} for k, v in answerable + null]


ConfigFactory = Callable[[], Scorer]
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    # name: (registered scorer, configuration)
    "rdc_recommended_single": ("rarearena_rdc", {}),
    "rdc_recommended_single_hierarchy": ("rarearena_rdc", {"hierarchy_path": ORPHANET}),
    "rdc_recommended_ranked": ("rarearena_rdc", {"answer_format": "ranked"}),
    "rdc_recommended_ranked_hierarchy": ("rarearena_rdc", {"answer_format": "ranked", "hierarchy_path": ORPHANET}),
    "rdc_zero_single": ("rarearena_rdc", {"preset": "diagnosis_zero"}),
    "rdc_zero_single_hierarchy": ("rarearena_rdc", {"preset": "diagnosis_zero", "hierarchy_path": ORPHANET}),
    "rdc_zero_ranked": ("rarearena_rdc", {"preset": "diagnosis_zero", "answer_format": "ranked"}),
    "rdc_zero_ranked_hierarchy": ("rarearena_rdc", {"preset": "diagnosis_zero", "answer_format": "ranked", "hierarchy_path": ORPHANET}),
    "rds_recommended_single_hierarchy": ("rarearena_rds", {"hierarchy_path": ORPHANET, "weights": {"language": 0.1}}),
    "ehrsql_workers0": ("ehrsql", {"db_path": EHRSQL / "mimic_iv.sqlite", "workers": 0, "timeout_s": 2.0}),
    "ehrsql_workers0_ehr_r1": ("ehrsql", {"db_path": EHRSQL / "mimic_iv.sqlite", "workers": 0, "timeout_s": 2.0,
                                           "preset": "ehr_r1", "format_weight": 0.1, "executable_weight": 0.1}),
}  # fmt: skip


@pytest.fixture(scope="module")
def scorers() -> Iterator[Callable[[str], tuple[Scorer, list[dict[str, Any]]]]]:
    """Builds each configuration once (with its references) and closes it at the end."""
    if not ORPHANET.is_file() or not (EHRSQL / "mimic_iv.sqlite").is_file():
        pytest.skip(f"shared data not found in {DATA} (set MEDZERO_DATA)")
    built: dict[str, tuple[Scorer, list[dict[str, Any]]]] = {}

    def get(name: str) -> tuple[Scorer, list[dict[str, Any]]]:
        if name not in built:
            scorer_name, config = CONFIGS[name]
            refs = _ehrsql_references() if scorer_name == "ehrsql" else _diagnosis_references()
            built[name] = (get_scorer(scorer_name, **config), refs)
        return built[name]

    yield get
    for scorer, _ in built.values():
        close = getattr(scorer, "close", None)
        if callable(close):
            close()


# ------------------------------------------------------------------------------------------------ strategies


def _join(tokens: list[str]) -> str:
    return "".join(tokens)


random_text = st.text(max_size=400)
tag_soup = st.lists(st.sampled_from(TAGS + WORDS + DISEASES + SCRIPTS), max_size=60).map(_join)
sql_ish = st.lists(st.sampled_from(SQL), max_size=40).map(" ".join)
scripts_text = st.lists(st.one_of(st.sampled_from(SCRIPTS), st.text(st.characters(codec="utf-8"), max_size=20)), max_size=20).map(" ".join)
long_line = st.builds(lambda unit, n: (unit * n)[:MAX_REPEAT_CHARS],
                      st.text(st.characters(exclude_characters="\n"), min_size=1, max_size=8), st.integers(200, 2500))  # fmt: skip
repetition = st.builds(lambda unit, n: (unit * n)[:MAX_REPEAT_CHARS],
                       st.sampled_from(TAGS + WORDS + DISEASES + SQL + ["a\n", "(", "[", "{", "<answer>A or B"]),
                       st.integers(1, 4000))  # fmt: skip


@st.composite
def nested_tags(draw: st.DrawFn) -> str:
    """Nested, repeated, unbalanced and unclosed think/answer tags around a body."""
    body = draw(st.one_of(st.sampled_from(DISEASES), tag_soup, sql_ish))
    opens = draw(st.integers(0, 6))
    closes = draw(st.integers(0, 6))
    tag = draw(st.sampled_from(["answer", "think", "ANSWER", "Answer"]))
    inner = f"<{tag}>" * opens + body + f"</{tag}>" * closes
    if draw(st.booleans()):
        inner = f"<think>{draw(tag_soup)}</think>" + inner
    return inner


body = st.one_of(random_text, tag_soup, sql_ish, scripts_text, long_line, repetition, nested_tags())


@st.composite
def completions(draw: st.DrawFn) -> str:
    """A body, raw or in the expected template (sometimes with the think prefilled, or trailing text)."""
    text = draw(body)
    wrap = draw(st.sampled_from(["raw", "template", "prefilled", "trailing", "answer_only"]))
    if wrap == "template":
        return f"<think>{draw(tag_soup)}</think>\n<answer>{text}</answer>"
    if wrap == "prefilled":
        return f"{draw(random_text)}</think>\n<answer>{text}</answer>"
    if wrap == "trailing":
        return f"<think>x</think><answer>{text}</answer>{draw(body)}"
    if wrap == "answer_only":
        return f"<answer>{text}</answer>"
    return text


batches = st.lists(st.tuples(completions(), st.integers(0, 10_000)), min_size=1, max_size=4)


# ------------------------------------------------------------------------------------------------ checks


def _check_score(score: Score, where: str) -> None:
    assert isinstance(score, Score), where
    assert isinstance(score.reward, float) and math.isfinite(score.reward), (where, score.reward)
    assert isinstance(score.status, Status), where
    if score.status is not Status.ok:
        assert isinstance(score.reason, str) and score.reason.strip(), (where, score.status)
    assert all(math.isfinite(v) for v in score.components.values()), (where, score.components)
    assert math.isclose(score.reward, sum(score.components.values()), abs_tol=1e-9), (where, score)


def _same(a: Score, b: Score) -> bool:
    return (a.reward, a.correct, a.components, a.extracted, a.tier, a.status, a.reason) == (
        b.reward, b.correct, b.components, b.extracted, b.tier, b.status, b.reason)  # fmt: skip


def _run(scorer: Scorer, refs: list[dict[str, Any]], batch: list[tuple[str, int]]) -> None:
    texts = [c for c, _ in batch]
    references = [refs[i % len(refs)] for _, i in batch]
    result = scorer.score_batch(texts, references)
    assert isinstance(result, ScoreBatch) and len(result) == len(texts)
    columns = (result.rewards, result.correct, result.extracted, result.tiers, result.statuses)  # fast path first
    for k, (text, ref) in enumerate(zip(texts, references)):
        where = f"item {k}: {text[:200]!r} vs {ref}"
        built = result[k]
        _check_score(built, where)
        assert (built.reward, built.correct, built.extracted, built.tier, built.status) == tuple(c[k] for c in columns), where
        alone = scorer.score(text, ref)
        _check_score(alone, where)
        assert _same(built, alone), (where, built, alone)


# ------------------------------------------------------------------------------------------------ tests


def test_every_registered_scorer_is_fuzzed() -> None:
    assert {scorer for scorer, _ in CONFIGS.values()} == set(list_scorers())


@pytest.mark.parametrize("name", list(CONFIGS))
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=batches)
def test_fuzzed_completions(scorers: Callable[[str], tuple[Scorer, list[dict[str, Any]]]], name: str,
                            batch: list[tuple[str, int]]) -> None:  # fmt: skip
    scorer, refs = scorers(name)
    _run(scorer, refs, batch)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_non_string_completions_get_a_defined_score(scorers: Callable[[str], tuple[Scorer, list[dict[str, Any]]]], name: str) -> None:
    scorer, refs = scorers(name)
    odd: list[Any] = [None, 12345, b"<answer>Wilson disease</answer>", ["<answer>x</answer>"], "", " \n\t "]
    result = scorer.score_batch(odd, [refs[0]] * len(odd))
    for k, score in enumerate(result):
        _check_score(score, f"completion {odd[k]!r}")
