"""``ScoreBatch``: the columns a scorer fills on its fast path equal the Scores its general path builds.

Completions of every shape (strict, prefilled, end tokens, empty, malformed, mixed-language, accented,
hacks, siblings, parents) around real RareBench cases and real Orphanet names, scored under every
configuration that changes the fast path. Reading an item's Score builds it with the general path and
raises if it disagrees with the item's fast-path row, so ``list(batch)`` is the check; the tests also
assert that the fast path was taken (otherwise they would prove nothing).
"""

from __future__ import annotations

import ast
import csv
import json
import pickle
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medzero_rewards import Score, Scorer, ScoreBatch, Status, Tier, get_scorer

MIXED = ["诊断考虑为遗传性疾病。", "以上が診断です。", "Это редкое заболевание.", "진단은 희귀 질환입니다."]


def _cases(rarebench_dir: Path, n: int) -> list[tuple[list[str], str]]:
    out = []
    with (rarebench_dir / "MME_categorized.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            diseases = ast.literal_eval(row["RareDisease"])
            if diseases:
                out.append((ast.literal_eval(row["Phenotype"]), diseases[0]))
    return out[:n]


def _shapes(rng: random.Random, phen: list[str], gold: str, other: str, parent: str | None) -> list[Any]:
    think = "The patient shows " + ", ".join(phen[:6]) + f". {other} is less likely than {gold}."
    accented = gold.replace("e", "é", 1)
    answers = [gold, gold.upper(), f"Diagnosis: {gold}.", other, accented, f"{gold} or {other}", f"not {gold}",
               f"1. {other}\n2. {gold}", parent or other, "???"]
    out: list[Any] = []
    for a in answers:
        out.append(f"<think>{think}</think>\n<answer>{a}</answer>")
    a = rng.choice(answers)
    out += [
        f"<think>{think}</think><answer>{a}</answer><|im_end|>",
        f"{think}</think>\n<answer>{a}</answer>",  # prefilled <think>
        f"  \n<think>{think}</think> <answer>{a}</answer>\n",
        f"<think>{think}</think>\n<answer></answer>",
        f"<think>{think}</think>\n<answer>  </answer>",
        f"<think>{think}</think>\nThe answer is {a}.",
        f"<think>{think}\n<answer>{a}",
        f"{think}\n<answer>{a}</answer>",
        f"<think>{think}</think><answer>{a}</answer>\nLet me double-check: {a}.",
        f"<think>{think}</think><think>more</think><answer>{a}</answer>",
        f"<think>{think}</think>so<answer>{a}</answer>",
        f"text<think>{think}</think><answer>{a}</answer>",
        f"<THINK>{think}</THINK><ANSWER>{a}</ANSWER>",
        f"<think>{think} a < b </think><answer>{a}</answer>",
        f"<think>{think} {rng.choice(MIXED)}</think>\n<answer>{a}</answer>",
        f"<think>{think}</think>\n<answer>{a}</answer> {rng.choice(MIXED)}",
        f"<think>{think}, α-galactosidase 5 µg</think>\n<answer>{a}</answer>",
        f"<think>{think}</think>\n<answer>{gold} {rng.choice(MIXED)}</answer>",
        None,
        12345,
    ]
    return out


@pytest.fixture(scope="module")
def corpus(rarebench_dir: Path, orphanet_path: Path) -> tuple[list[Any], list[Any]]:
    rng = random.Random(7)
    orpha = json.loads(orphanet_path.read_text(encoding="utf-8"))
    names = [e["name"] for e in orpha]
    parents = {e["name"]: [p["parent"] for p in e["parents"] if p["parent_disease_count"] <= 10] for e in orpha}
    completions: list[Any] = []
    references: list[Any] = []
    for phen, gold in _cases(rarebench_dir, 40):
        shared = {"diagnosis": gold, "Orpha_name": gold}
        for text in _shapes(rng, phen, gold, rng.choice(names), (parents.get(gold) or [None])[0]):
            completions.append(text)
            references.append(shared if rng.random() < 0.7 else dict(shared))  # shared object or a copy
    completions += ["<think>x</think><answer>Fabry disease</answer>"] * 4
    references += [None, {}, "Fabry disease", {"diagnosis": "  "}]
    return completions, references


CONFIGS: list[dict[str, Any]] = [
    {},
    {"weights": {"language": 0.1}},
    {"weights": {"language": 0.3}, "language_penalty": "share"},
    {"preset": "diagnosis_zero"},
    {"think_prefilled": True},
    {"think_prefilled": False},
    {"expected_script": "Han", "weights": {"language": 0.5}},
    {"answer_format": "ranked"},  # no fast path: every Score is built eagerly
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: json.dumps(c, sort_keys=True))
@pytest.mark.parametrize("hierarchy", [False, True])
def test_columns_equal_the_built_scores_and_score(
    corpus: tuple[list[Any], list[Any]], orphanet_path: Path, config: dict[str, Any], hierarchy: bool
) -> None:
    completions, references = corpus
    kwargs = {**config, **({"hierarchy_path": orphanet_path} if hierarchy else {})}
    scorer = get_scorer("rarearena_rdc", **kwargs)
    batch = scorer.score_batch(completions, references)
    assert isinstance(batch, ScoreBatch) and len(batch) == len(completions)
    names = scorer.component_names
    columns = (batch.rewards, batch.correct, batch.extracted, batch.tiers, batch.statuses,
               [batch.component(c) for c in names])  # fmt: skip
    assert batch.n_built == 0  # no judge: every Score is built when read
    if config.get("answer_format") != "ranked":  # and the fast path scored most items
        fast_rows, _ = scorer._fast_rows(completions, references)
        assert sum(r is not None for r in fast_rows) > 0.5 * len(batch)
    built = list(batch)  # builds each Score with the general path; raises if one disagrees with its row
    assert batch.n_built == len(batch)
    assert columns[0] == [s.reward for s in built]
    assert columns[1] == [s.correct for s in built]
    assert columns[2] == [s.extracted for s in built]
    assert columns[3] == [s.tier for s in built]
    assert columns[4] == [s.status for s in built]
    assert columns[5] == [[s.components[c] for s in built] for c in names]
    for s in built:
        assert s.reward == pytest.approx(sum(s.components.values()))
    fresh = get_scorer("rarearena_rdc", **kwargs)  # one at a time, cold caches
    assert [s.model_dump() for s in built] == [fresh.score(c, r).model_dump() for c, r in zip(completions, references)]
    statuses = set(columns[4])
    assert {Status.ok, Status.format_error, Status.empty, Status.error} <= statuses
    assert (Status.hacking in statuses) == (config.get("answer_format") != "ranked")  # lists are the point there


def test_a_row_that_disagrees_with_its_score_is_an_error() -> None:
    right = Score(reward=1.2, correct=True, components={"format": 0.2, "accuracy": 1.0}, tier=Tier.exact)
    row = (0.2, False, None, Tier.none, Status.ok, (0.2, 0.0))
    batch = ScoreBatch([None], component_names=("format", "accuracy"), rows=[row], build=lambda i: right)
    assert batch.rewards == [0.2]
    with pytest.raises(RuntimeError, match="disagrees"):
        batch[0]


def test_batch_is_a_sequence_of_scores(orphanet_path: Path) -> None:
    scorer = get_scorer("rarearena_rdc", hierarchy_path=orphanet_path)
    texts = ["<think>x</think><answer>Fabry disease</answer>", "<think>x</think><answer>Gaucher disease</answer>",
             "Fabry disease"]  # fmt: skip
    batch = scorer.score_batch(texts, [{"diagnosis": "Fabry disease"}] * 3)
    assert batch[-1].status is Status.format_error and batch[1:] == [batch[1], batch[2]]
    assert batch == [scorer.score(t, {"diagnosis": "Fabry disease"}) for t in texts]
    assert batch.correct == [True, False, False]
    clone = pickle.loads(pickle.dumps(batch))
    assert clone == batch and clone.rewards == batch.rewards and clone.n_built == 3
    with pytest.raises(KeyError, match="not a component"):
        batch.component("executable")
    with pytest.raises(ValueError, match="neither a Score nor a row"):
        ScoreBatch([None])
    with pytest.raises(ValueError, match="no build function"):
        ScoreBatch([None], rows=[(0.0, False, None, Tier.none, Status.ok, ())])


def test_the_default_score_batch_wraps_score() -> None:
    class Exact(Scorer):
        component_names = ("accuracy",)

        def score(self, completion: str, reference: dict[str, Any]) -> Score:
            ok = completion == reference["answer"]
            return Score(reward=float(ok), correct=ok, components={"accuracy": float(ok)}, extracted=completion)

    batch = Exact().score_batch(["4", "5"], [{"answer": "4"}] * 2)
    assert batch.rewards == [1.0, 0.0] and batch.component("accuracy") == [1.0, 0.0] and batch.n_built == 2
    assert batch.extracted == ["4", "5"] and batch.statuses == [Status.ok, Status.ok]


def test_threads_reading_one_batch_get_the_same_scores(orphanet_path: Path) -> None:
    """BatchScorer.ascored scores in a worker thread; reading a batch from several threads is safe."""
    from concurrent.futures import ThreadPoolExecutor

    scorer = get_scorer("rarearena_rdc", hierarchy_path=orphanet_path)
    texts = [f"<think>x</think><answer>{a}</answer>" for a in ("Fabry disease", "Gaucher disease", "")] * 200
    batch = scorer.score_batch(texts, [{"diagnosis": "Fabry disease"}] * len(texts))
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: [s.model_dump() for s in batch], range(4)))
    assert batch.n_built == len(texts) and all(r == runs[0] for r in runs)
    assert [r["reward"] for r in runs[0]] == batch.rewards


# Arbitrary completions: pieces that steer the parser and the matcher (tags, end tokens, labels,
# separators, negations, other scripts, accents, real disease names) mixed with arbitrary text.
_PIECES = ["<think>", "</think>", "<answer>", "</answer>", "<|im_end|>", "</s>", "\n", " ", "  ", "<", ">",
           "Fabry disease", "fabry disease", "Fabry-disease", "Fabry disease type 2", "Gaucher disease", "Fàbry",
           "Diagnosis: ", "**", " or ", ", or ", " / ", "; ", "1. ", "\n2. ", "not ", " was excluded", " (likely)",
           "(FD)", "'s", "诊断", "Это", "α", "é", "ǅ", "\x00", "\ud800"]  # fmt: skip
_REFERENCES = [
    {"diagnosis": "Fabry disease", "Orpha_name": "Fabry disease"},
    {"diagnosis": "Fabry disease", "Orpha_name": "Anderson-Fabry disease", "synonyms": ["FD"]},
    {"diagnosis": "Gaucher disease type 2"},
    {"diagnosis": "  "},
    {},
    None,
    "Fabry disease",
]
_text = st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=12)), max_size=14).map("".join)
_ws = st.sampled_from(["", " ", "\n", " \t", "\n\n"])


@st.composite
def _strict(draw: st.DrawFn) -> str:
    """The fast path's shape: one think block and one answer, whitespace around and inside the tags."""
    think, answer = draw(_text), draw(_text)
    a, b, c, d, e = (draw(_ws) for _ in range(5))
    return f"{a}<think>{think}</think>{b}<answer>{c}{answer}{d}</answer>{e}"


_item = st.tuples(st.one_of(_text, _strict(), st.none(), st.integers()), st.sampled_from(_REFERENCES))


@pytest.fixture(scope="module")
def hypothesis_scorers(orphanet_path: Path) -> list[tuple[dict[str, Any], Scorer]]:
    return [(c, get_scorer("rarearena_rdc", **c)) for c in [*CONFIGS, {"hierarchy_path": orphanet_path}]]


@settings(max_examples=150, deadline=None)
@given(items=st.lists(_item, min_size=1, max_size=8))
def test_arbitrary_batches_fast_rows_equal_the_general_path(
    hypothesis_scorers: list[tuple[dict[str, Any], Scorer]], items: list[tuple[Any, Any]]
) -> None:
    """No input crashes score_batch; every row equals its built Score (else ``list(batch)`` raises)
    and ``score()`` of the item alone on a new scorer."""
    completions = [c for c, _ in items]
    references = [r for _, r in items]
    for config, scorer in hypothesis_scorers:
        batch = scorer.score_batch(completions, references)
        built = list(batch)
        assert batch.rewards == [s.reward for s in built]
        fresh = get_scorer("rarearena_rdc", **config)
        alone = [fresh.score(c, r) for c, r in zip(completions, references)]
        assert [s.model_dump() for s in built] == [s.model_dump() for s in alone]
        for s in built:
            assert s.reason or (s.status is Status.ok and s.tier is Tier.exact)
