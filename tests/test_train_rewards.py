"""The TRL reward adapter: one function per component, one scoring per batch, None (counted) on errors."""

from __future__ import annotations

import asyncio
import doctest
import functools
import json
from collections import defaultdict
from typing import Any

import pytest

from medzero_rewards import Score, Scorer, Status, get_scorer, register_scorer
from medzero_train import rewards as rw
from medzero_train.rewards import (
    AsyncComponentReward,
    RewardSet,
    accuracy_reward,
    build_reward_functions,
    completion_text,
    format_reward,
)


class CountingScorer(Scorer):
    """Weighted toy scorer: format 0.25 when the completion has <answer> tags, accuracy 1.0 when it names the gold."""

    name = "toy"
    weights = {"format": 0.25, "accuracy": 1.0}

    def __init__(self, fail_on: str | None = None, crash_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.fail_on = fail_on
        self.crash_on = crash_on

    def score(self, completion: str, reference: dict[str, Any]) -> Score:
        if self.crash_on and self.crash_on in completion:
            raise RuntimeError("boom")
        if self.fail_on and self.fail_on in completion:
            return Score(reward=0.0, correct=False, components={"format": 0.0, "accuracy": 0.0},
                         status=Status.error, reason="bad item")
        fmt = 0.25 if "<answer>" in completion else 0.0
        ok = reference["answer"] in completion
        return Score(reward=fmt + float(ok), correct=ok, components={"format": fmt, "accuracy": float(ok)},
                     extracted=completion)

    def score_batch(self, completions, references):
        self.batches.append(list(completions))
        return super().score_batch(completions, references)


class Recorder:
    """Stands in for TRL's log_metric / log_extra."""

    def __init__(self) -> None:
        self.metrics: dict[str, list[float]] = defaultdict(list)
        self.extra: dict[str, list[Any]] = defaultdict(list)

    def kwargs(self) -> dict[str, Any]:
        return {
            "log_metric": lambda name, value: self.metrics[name].append(value),
            "log_extra": lambda column, values: self.extra[column].extend(values),
            "trainer_state": None,
        }


def _ref(answer: str) -> str:
    return json.dumps({"answer": answer})


def _call_all(funcs, completions, **kwargs):
    return {getattr(f, "__name__", None) or f.func.__name__: f(completions=completions, **kwargs) for f in funcs}


def test_one_function_per_weighted_component_and_one_scoring_per_batch():
    scorer = CountingScorer()
    funcs = build_reward_functions(RewardSet.from_scorers({"toy": scorer}))
    assert [getattr(f, "__name__", None) or f.func.__name__ for f in funcs] == ["format_reward", "accuracy_reward"]
    assert all(isinstance(f, functools.partial) for f in funcs)  # the plain module functions, bound
    completions = ["<answer>4</answer>", "5", "<answer>5</answer>"]
    rec = Recorder()
    values = _call_all(funcs, completions, reference=[_ref("4")] * 3, **rec.kwargs())
    assert values == {"format_reward": [0.25, 0.0, 0.25], "accuracy_reward": [1.0, 0.0, 0.0]}
    assert len(scorer.batches) == 1  # the second component read the cached scores
    # a new batch is scored again, once
    _call_all(funcs, ["4"], reference=[_ref("4")], **rec.kwargs())
    assert len(scorer.batches) == 2


def test_components_sum_to_the_scorer_reward():
    scorer = CountingScorer()
    rs = RewardSet.from_scorers({"toy": scorer})
    funcs = build_reward_functions(rs)
    completions = ["<answer>4</answer>", "4", "<answer>x</answer>", ""]
    refs = [_ref("4")] * 4
    values = _call_all(funcs, completions, reference=refs)
    for i, c in enumerate(completions):
        assert sum(v[i] for v in values.values()) == pytest.approx(scorer.score(c, json.loads(refs[i])).reward)


def test_standard_and_conversational_completions_score_the_same():
    funcs = build_reward_functions(RewardSet.from_scorers({"toy": CountingScorer()}))
    text = "<think>x</think><answer>4</answer>"
    standard = _call_all(funcs, [text], reference=[_ref("4")])
    conversational = _call_all(funcs, [[{"role": "assistant", "content": text}]], reference=[_ref("4")])
    assert standard == conversational == {"format_reward": [0.25], "accuracy_reward": [1.0]}
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "a"}]}]) == "a"


def test_metrics_and_extra_columns_are_logged_once_per_batch():
    funcs = build_reward_functions(RewardSet.from_scorers({"toy": CountingScorer()}))
    rec = Recorder()
    _call_all(funcs, ["<answer>4</answer>", "nope"], reference=[_ref("4")] * 2, **rec.kwargs())
    assert rec.metrics["medzero/toy/accuracy"] == [0.5]
    assert rec.metrics["medzero/toy/status/ok"] == [1.0]
    assert rec.metrics["medzero/toy/tier/none"] == [1.0]
    assert rec.metrics["medzero/toy/scorer_errors"] == [0.0]
    assert rec.metrics["medzero/toy/component/format"] == [0.125]
    assert len(rec.metrics["medzero/toy/reward_time_s"]) == 1
    assert rec.extra["toy/extracted"] == ["<answer>4</answer>", "nope"]
    assert rec.extra["toy/status"] == ["ok", "ok"]


@pytest.mark.parametrize("mode", ["status_error", "exception"])
def test_scorer_error_gives_none_and_is_counted(mode):
    scorer = CountingScorer(fail_on="BAD") if mode == "status_error" else CountingScorer(crash_on="BAD")
    rs = RewardSet.from_scorers({"toy": scorer})
    funcs = build_reward_functions(rs)
    rec = Recorder()
    values = _call_all(funcs, ["<answer>4</answer>", "BAD <answer>4</answer>"], reference=[_ref("4")] * 2,
                       **rec.kwargs())
    assert values == {"format_reward": [0.25, None], "accuracy_reward": [1.0, None]}
    assert rs.batch_scorers["toy"].n_errors == 1
    assert rec.metrics["medzero/toy/scorer_errors"] == [1.0]


def test_rows_of_other_tasks_get_none():
    @register_scorer("toy_other")
    def _make(**config):  # noqa: ANN202
        return CountingScorer()

    a, b = CountingScorer(), get_scorer("toy_other")
    rs = RewardSet.from_scorers({"toy": a, "toy_other": b})
    funcs = build_reward_functions(rs)
    values = _call_all(funcs, ["<answer>4</answer>", "<answer>4</answer>"], reference=[_ref("4")] * 2,
                       task=["toy", "toy_other"])
    assert values == {"format_reward": [0.25, 0.25], "accuracy_reward": [1.0, 1.0]}
    assert a.batches == [["<answer>4</answer>"]] and b.batches == [["<answer>4</answer>"]]
    values = _call_all(funcs, ["<answer>4</answer>"], reference=[_ref("4")], task=["unknown"])
    assert values == {"format_reward": [None], "accuracy_reward": [None]}


def test_unweighted_scorer_is_one_total_reward_function():
    class Raw(Scorer):  # components are raw signals (like EHRSQL's outcome), not parts of the reward
        def score(self, completion, reference):
            ok = reference["answer"] in completion
            return Score(reward=1.0 if ok else -1.0, correct=ok, components={"outcome": 1.0 if ok else -1.0,
                                                                           "format": 1.0})

    rs = RewardSet.from_scorers({"toy": CountingScorer(), "raw": Raw()}, {"raw": {"answer": "x"}})
    assert rs.components == ["format", "accuracy", "raw"]
    funcs = build_reward_functions(rs)
    names = [getattr(f, "__name__", None) or f.func.__name__ for f in funcs]
    assert names == ["format_reward", "accuracy_reward", "raw_reward"]
    values = _call_all(funcs, ["<answer>4</answer>", "4"], reference=[_ref("4")] * 2, task=["toy", "raw"])
    assert values == {"format_reward": [0.25, None], "accuracy_reward": [1.0, None], "raw_reward": [None, 1.0]}


def test_weighted_components_that_do_not_sum_to_the_reward_are_refused():
    class Broken(CountingScorer):
        def score(self, completion, reference):
            s = super().score(completion, reference)
            s.reward += 1.0
            return s

    funcs = build_reward_functions(RewardSet.from_scorers({"toy": Broken()}))
    with pytest.raises(ValueError, match="do not sum"):
        funcs[0](completions=["4"], reference=[_ref("4")])


def test_async_variant_gives_the_same_numbers_and_scores_once():
    scorer = CountingScorer()
    funcs = build_reward_functions(RewardSet.from_scorers({"toy": scorer}), use_async=True)
    assert all(isinstance(f, AsyncComponentReward) for f in funcs)
    assert [f.__name__ for f in funcs] == ["format_reward", "accuracy_reward"]
    from trl.trainer.utils import is_async_callable

    assert all(is_async_callable(f) for f in funcs)
    completions = ["<answer>4</answer>", "5"]

    async def run_concurrently():  # as TRL does: asyncio.gather over the async reward functions
        return await asyncio.gather(*(f(completions=completions, reference=[_ref("4")] * 2) for f in funcs))

    assert asyncio.run(run_concurrently()) == [[0.25, 0.0], [1.0, 0.0]]
    assert len(scorer.batches) == 1


def test_real_diagnosis_scorer_components(orphanet_path):
    scorer = get_scorer("rarearena_rdc", hierarchy_path=str(orphanet_path))
    rs = RewardSet.from_scorers({"rarearena_rdc": scorer})
    assert rs.components == ["format", "accuracy", "language"]
    ref = json.dumps({"diagnosis": "Fabry disease", "Orpha_name": "Fabry disease", "synonyms": []})
    completions = [
        "<think>angiokeratomas, acroparesthesia</think><answer>Fabry disease</answer>",
        "<think>x</think><answer>Gaucher disease</answer>",
        "Fabry disease",
    ]
    fmt = functools.partial(format_reward, rewards=rs)(completions, reference=[ref] * 3)
    acc = functools.partial(accuracy_reward, rewards=rs)(completions, reference=[ref] * 3)
    direct = scorer.score_batch(completions, [json.loads(ref)] * 3)
    assert acc == [1.0, 0.0, 0.0]
    assert [f + a for f, a in zip(fmt, acc)] == pytest.approx([s.reward for s in direct])


def test_real_ehrsql_scorer_components_sum_to_its_reward(ehrsql_dir):
    scorer = get_scorer(
        "ehrsql", db_path=str(ehrsql_dir / "mimic_iv.sqlite"), workers=0, format_weight=0.2, executable_weight=0.1
    )
    ref = {"id": "q", "question": "How many patients?", "label": "null", "answer": None}
    rs = RewardSet.from_scorers({"ehrsql": scorer}, {"ehrsql": ref})
    funcs = build_reward_functions(rs)
    names = [getattr(f, "__name__", None) or f.func.__name__ for f in funcs]
    assert names == ["accuracy_reward", "format_reward", "executable_reward"]
    completions = ["<think>not in the db</think><answer>null</answer>", "<answer>SELECT 1</answer>"]
    values = [f(completions=completions, reference=[json.dumps(ref)] * 2) for f in funcs]
    direct = scorer.score_batch(completions, [ref, ref])
    assert [sum(v[i] for v in values) for i in range(2)] == pytest.approx([s.reward for s in direct])
    assert values[0] == [1.0, -1.0]  # accuracy: correct abstention, answered an unanswerable question
    assert values[2] == [0.0, pytest.approx(0.1)]  # executable: only the SQL ran


def test_module_doctests():
    result = doctest.testmod(rw, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 5


def test_a_training_step_reads_columns_and_builds_no_score(orphanet_path) -> None:
    """Reward functions and logging read the ScoreBatch columns; they equal the Scores built afterwards."""
    rs = RewardSet.from_scorers({"rarearena_rdc": get_scorer("rarearena_rdc", hierarchy_path=orphanet_path,
                                                             weights={"language": 0.1})})  # fmt: skip
    funcs = build_reward_functions(rs)
    think = "angiokeratoma, acroparesthesia, proteinuria"
    completions = [f"<think>{think}</think><answer>{a}</answer>" for a in
                   ("Fabry disease", "Gaucher disease", "Fabry disease or Gaucher disease", "", "Sphingolipidosis")]
    completions += [f"<think>{think} 诊断为法布里病</think><answer>Fabry disease</answer>", "Fabry disease",
                    [{"role": "assistant", "content": f"<think>{think}</think><answer>Anderson-Fabry disease</answer>"}]]
    ref = json.dumps({"diagnosis": "Fabry disease", "Orpha_name": "Fabry disease", "Orpha_id": "324"})
    rec = Recorder()
    values = _call_all(funcs, completions, reference=[ref] * len(completions), **rec.kwargs())
    scored = rs.batch_scorers["rarearena_rdc"]._cached
    assert scored is not None and scored.batch.n_built == 0  # no Score object was built during the step
    built = rs.scores(completions, reference=[ref] * len(completions))
    assert scored.batch.n_built == len(completions)
    for name, column in values.items():
        assert column == [s.components[name.removesuffix("_reward")] for s in built], name
    assert rec.metrics["medzero/rarearena_rdc/accuracy"] == [sum(s.correct for s in built) / len(built)]
    assert rec.extra["rarearena_rdc/extracted"] == [s.extracted for s in built]
    assert rec.extra["rarearena_rdc/status"] == [s.status.value for s in built]
    assert {s.status for s in built} >= {Status.ok, Status.hacking, Status.empty, Status.format_error}
