"""The TRL reward functions (medzero_rewards.trl, and medzero_train's glue): one function per component,
one scoring per batch, every reference shape, None (counted, one warning) on errors."""

from __future__ import annotations

import asyncio
import doctest
import json
import logging
import pickle
from collections import defaultdict
from typing import Any

import pytest

import medzero_rewards.trl as trl_mod
from medzero_eval import records
from medzero_rewards import Score, Scorer, Status, get_scorer
from medzero_rewards.trl import (
    AsyncRewardFunction,
    TRLRewards,
    async_reward_functions,
    completion_text,
    reward_functions,
)
from medzero_train import rewards as train_rewards


class CountingScorer(Scorer):
    """Toy scorer: format 0.25 with <answer> tags, accuracy 1.0 when the completion names the gold."""

    name = "toy"
    component_names = ("format", "accuracy")

    def __init__(self, fail_on: str | None = None, crash_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.fail_on = fail_on
        self.crash_on = crash_on

    def score(self, completion: str, reference: dict[str, Any]) -> Score:
        if self.crash_on and self.crash_on in completion:
            raise RuntimeError("boom")
        if self.fail_on and self.fail_on in completion:
            return Score(reward=0.0, correct=False, components={"format": 0.0, "accuracy": 0.0},
                         status=Status.error, reason="judge unreachable")
        fmt = 0.25 if "<answer>" in completion else 0.0
        ok = reference["answer"] in completion
        return Score(reward=fmt + float(ok), correct=ok, components={"format": fmt, "accuracy": float(ok)},
                     extracted=completion)

    def score_batch(self, completions, references):
        self.batches.append(list(completions))
        if self.crash_on and any(self.crash_on in c for c in completions):
            raise RuntimeError("batch boom")
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
    return {f.__name__: f(prompts=None, completions=completions, **kwargs) for f in funcs}


def test_one_function_per_component_and_one_scoring_per_batch():
    scorer = CountingScorer()
    funcs = TRLRewards(scorer).functions()
    assert [f.__name__ for f in funcs] == ["toy_format_reward", "toy_accuracy_reward"]
    completions = ["<answer>4</answer>", "5", "<answer>5</answer>"]
    values = _call_all(funcs, completions, reference=[_ref("4")] * 3)
    assert values == {"toy_format_reward": [0.25, 0.0, 0.25], "toy_accuracy_reward": [1.0, 0.0, 0.0]}
    assert len(scorer.batches) == 1  # the second function read the cached batch
    _call_all(funcs, ["4"], reference=[_ref("4")])  # a new batch is scored again, once
    assert len(scorer.batches) == 2
    _call_all(funcs, ["4"], reference=[_ref("5")])  # same completions, other references: a new batch
    assert len(scorer.batches) == 3


def test_components_sum_to_the_scorer_reward():
    scorer = CountingScorer()
    funcs = TRLRewards(scorer).functions()
    completions = ["<answer>4</answer>", "4", "<answer>x</answer>", ""]
    values = _call_all(funcs, completions, reference=[_ref("4")] * 4)
    for i, c in enumerate(completions):
        assert sum(v[i] for v in values.values()) == scorer.score(c, {"answer": "4"}).reward


def test_standard_and_conversational_completions_score_the_same():
    funcs = TRLRewards(CountingScorer()).functions()
    text = "<think>x</think><answer>4</answer>"
    standard = _call_all(funcs, [text], reference=[_ref("4")])
    conversational = _call_all(funcs, [[{"role": "assistant", "content": text}]], reference=[_ref("4")])
    blocks = _call_all(funcs, [[{"role": "assistant", "content": [{"type": "text", "text": text}]}]],
                       reference=[_ref("4")])
    assert standard == conversational == blocks == {"toy_format_reward": [0.25], "toy_accuracy_reward": [1.0]}
    assert completion_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]) == "a"


def test_malformed_completions_never_sink_the_batch():
    """None, a bare message dict, a number or a list with a non-dict item: each row is scored from its text
    (None is the empty completion), the other rows keep their rewards."""
    funcs = TRLRewards(CountingScorer()).functions()
    text = "<think>x</think><answer>4</answer>"
    good = _call_all(funcs, [text], reference=[_ref("4")])
    odd = [None, {"role": "assistant", "content": text}, 4, [text, None], text]
    values = _call_all(funcs, odd, reference=[_ref("4")] * len(odd))
    scorer = CountingScorer()
    for name, column in values.items():
        assert column[1] == column[3] == column[4] == good[name][0]  # dict / [str, None] read like the text
        assert column[0] == scorer.score("", {"answer": "4"}).components[name.split("_")[1]]
        assert column[2] == scorer.score("4", {"answer": "4"}).components[name.split("_")[1]]


def test_reference_column_as_json_or_dict_and_record_columns_score_alike(orphanet_path):
    """Real RareBench records: the reference as JSON strings, as dicts, or as the record's own columns."""
    recs = records.load_rarebench("mme")[:6]
    completions = [f"<think>The phenotype fits.</think><answer>{r['diagnosis']}</answer>" for r in recs[:3]]
    completions += ["<think>storage</think><answer>Gaucher disease</answer>", recs[4]["diagnosis"], ""]
    direct = get_scorer("rarearena_rds", hierarchy_path=str(orphanet_path)).score_batch(completions, recs)
    expected = {f"rarearena_rds_{c}_reward": direct.component(c) for c in ("format", "accuracy", "language")}
    assert sum(direct.correct) == 3

    def run(**columns):
        return _call_all(reward_functions("rarearena_rds", hierarchy_path=str(orphanet_path)), completions, **columns)

    assert run(reference=[json.dumps(r) for r in recs]) == expected
    assert run(reference=recs) == expected
    own_columns = {key: [r[key] for r in recs] for key in recs[0]}
    assert run(**own_columns, task=["rarearena_rds"] * 6) == expected


def test_metrics_and_extra_columns_are_logged_once_per_batch():
    funcs = TRLRewards(CountingScorer()).functions()
    rec = Recorder()
    _call_all(funcs, ["<answer>4</answer>", "nope"], reference=[_ref("4")] * 2, **rec.kwargs())
    assert rec.metrics["medzero/toy/accuracy"] == [0.5]
    assert rec.metrics["medzero/toy/reward"] == [0.625]
    assert rec.metrics["medzero/toy/status/ok"] == [1.0]
    assert rec.metrics["medzero/toy/tier/none"] == [1.0]
    assert rec.metrics["medzero/toy/scorer_errors"] == [0.0]
    assert len(rec.metrics["medzero/toy/reward_time_s"]) == 1
    assert rec.extra["toy/extracted"] == ["<answer>4</answer>", "nope"]
    assert rec.extra["toy/status"] == ["ok", "ok"]


@pytest.mark.parametrize("mode", ["status_error", "exception"])
def test_scorer_errors_give_none_counted_in_one_warning(mode, caplog):
    scorer = CountingScorer(fail_on="BAD") if mode == "status_error" else CountingScorer(crash_on="BAD")
    rewards = TRLRewards(scorer)
    rec = Recorder()
    completions = ["<answer>4</answer>", "BAD <answer>4</answer>", "BAD again", "<answer>5</answer>"]
    with caplog.at_level(logging.WARNING, logger="medzero_rewards.trl"):
        values = _call_all(rewards.functions(), completions, reference=[_ref("4")] * 4, **rec.kwargs())
    assert values == {"toy_format_reward": [0.25, None, None, 0.25], "toy_accuracy_reward": [1.0, None, None, 0.0]}
    assert rewards.n_errors == 2 and rewards.n_scored == 4
    assert rec.metrics["medzero/toy/scorer_errors"] == [2.0]
    assert rec.metrics["medzero/toy/accuracy"] == [0.5]  # over the rewarded rows only
    lines = [r.getMessage() for r in caplog.records if "get no reward" in r.getMessage()]
    reason = "judge unreachable" if mode == "status_error" else "scorer raised RuntimeError('boom')"
    assert lines == [f"toy: 2 of 4 completions get no reward (None): 2x {reason}"]


def test_unreadable_references_give_none_and_are_counted(caplog):
    rewards = TRLRewards(CountingScorer())
    refs = [_ref("4"), "{not json", None, "[1, 2]", {"answer": "4"}]
    with caplog.at_level(logging.WARNING, logger="medzero_rewards.trl"):
        values = rewards.values("accuracy", ["4"] * 5, reference=refs)
    assert values == [1.0, None, None, None, 1.0]
    assert rewards.n_errors == 3
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("toy: 3 of 5 completions get no reward (None): ")
    assert "reference is not valid JSON" in line and "no reference" in line and "got list" in line


def test_rows_of_other_tasks_get_none_and_are_not_scored():
    a, b = CountingScorer(), CountingScorer()
    ra = TRLRewards(a, name="toy", task_column="task")
    rb = TRLRewards(b, name="other", task_column="task")
    funcs = train_rewards.reward_functions({"toy": ra, "other": rb})
    assert [f.__name__ for f in funcs] == ["toy_format_reward", "toy_accuracy_reward",
                                           "other_format_reward", "other_accuracy_reward"]
    values = _call_all(funcs, ["<answer>4</answer>", "<answer>4</answer>", "4"], reference=[_ref("4")] * 3,
                       task=["toy", "other", "unknown"])
    assert values == {"toy_format_reward": [0.25, None, None], "toy_accuracy_reward": [1.0, None, None],
                      "other_format_reward": [None, 0.25, None], "other_accuracy_reward": [None, 1.0, None]}
    assert a.batches == [["<answer>4</answer>"]] and b.batches == [["<answer>4</answer>"]]
    assert ra.n_errors == rb.n_errors == 0  # another task's row is not an error


def test_scorer_without_declared_components_is_one_total_reward_function():
    class Raw(Scorer):
        def score(self, completion, reference):
            ok = reference["answer"] in completion
            return Score(reward=1.0 if ok else -1.0, correct=ok, details={"outcome": 1.0 if ok else -1.0})

    funcs = TRLRewards(Raw(), name="raw").functions()
    assert [f.__name__ for f in funcs] == ["raw_reward"]
    assert funcs[0](["4", "5"], reference=[_ref("4")] * 2) == [1.0, -1.0]


def test_components_that_do_not_sum_to_the_reward_are_refused():
    class Broken(CountingScorer):
        def score(self, completion, reference):
            s = super().score(completion, reference)
            return s.model_copy(update={"reward": s.reward + 1.0})

    funcs = TRLRewards(Broken()).functions()
    with pytest.raises(ValueError, match="do not sum"):
        funcs[0](["4"], reference=[_ref("4")])


def test_async_variant_gives_the_same_numbers_and_scores_once():
    from trl.trainer.utils import get_callable_name, is_async_callable

    scorer = CountingScorer()
    rewards = TRLRewards(scorer)
    funcs = rewards.async_functions()
    assert all(isinstance(f, AsyncRewardFunction) and is_async_callable(f) for f in funcs)
    assert not any(is_async_callable(f) for f in rewards.functions())
    assert [get_callable_name(f) for f in funcs] == ["toy_format_reward", "toy_accuracy_reward"]
    completions = ["<answer>4</answer>", "5"]

    async def run_concurrently():  # as GRPOTrainer does: asyncio.gather over the async reward functions
        return await asyncio.gather(*(f(prompts=None, completions=completions, reference=[_ref("4")] * 2)
                                      for f in funcs))

    assert asyncio.run(run_concurrently()) == [[0.25, 0.0], [1.0, 0.0]]
    assert len(scorer.batches) == 1
    assert [f.__name__ for f in async_reward_functions("rarearena_rdc")] == [
        f.__name__ for f in reward_functions("rarearena_rdc")]


def test_reward_functions_pickle():
    """TRL documents picklable reward functions; the per-batch cache and lock are rebuilt."""
    funcs = reward_functions("rarearena_rdc")
    funcs[0](["<think>x</think><answer>Fabry disease</answer>"], reference=[{"diagnosis": "Fabry disease"}])
    copies = pickle.loads(pickle.dumps(funcs))
    assert [f.__name__ for f in copies] == [f.__name__ for f in funcs]
    assert copies[0].rewards is copies[1].rewards  # still one shared scoring per batch
    assert copies[1](["<think>x</think><answer>Fabry disease</answer>"], reference=[{"diagnosis": "Fabry disease"}]) == [1.0]


def test_real_ehrsql_scorer_components_sum_to_its_reward(ehrsql_dir):
    config = {"db_path": str(ehrsql_dir / "mimic_iv.sqlite"), "workers": 0, "format_weight": 0.2,
              "executable_weight": 0.1}
    funcs = reward_functions("ehrsql", **config)
    assert [f.__name__ for f in funcs] == ["ehrsql_accuracy_reward", "ehrsql_format_reward", "ehrsql_executable_reward"]
    ref = {"id": "q", "question": "How many patients?", "label": "null", "answer": None}
    completions = ["<think>not in the db</think><answer>null</answer>", "<answer>SELECT 1</answer>"]
    values = [f(completions, **{k: [v, v] for k, v in ref.items()}) for f in funcs]  # the record's own columns
    direct = get_scorer("ehrsql", **config).score_batch(completions, [ref, ref])
    assert [sum(v[i] for v in values) for i in range(2)] == pytest.approx(direct.rewards)
    assert values[0] == [1.0, -1.0]  # accuracy: correct abstention, answered an unanswerable question
    assert values[2] == [0.0, pytest.approx(0.1)]  # executable: only the SQL ran


def test_a_training_step_reads_columns_and_builds_no_score(orphanet_path) -> None:
    """Reward functions and logging read the ScoreBatch columns; they equal the Scores built afterwards."""
    rewards = TRLRewards("rarearena_rdc", hierarchy_path=orphanet_path, weights={"language": 0.1})
    funcs = rewards.functions()
    think = "angiokeratoma, acroparesthesia, proteinuria"
    completions = [f"<think>{think}</think><answer>{a}</answer>" for a in
                   ("Fabry disease", "Gaucher disease", "Fabry disease or Gaucher disease", "", "Sphingolipidosis")]
    completions += [f"<think>{think} 诊断为法布里病</think><answer>Fabry disease</answer>", "Fabry disease",
                    [{"role": "assistant", "content": f"<think>{think}</think><answer>Anderson-Fabry disease</answer>"}]]
    ref = json.dumps({"diagnosis": "Fabry disease", "Orpha_name": "Fabry disease", "Orpha_id": "324"})
    rec = Recorder()
    values = _call_all(funcs, completions, reference=[ref] * len(completions), **rec.kwargs())
    scored = rewards._cached
    assert scored is not None and scored.batch.n_built == 0  # no Score object was built during the step
    built = rewards.scores(completions, reference=[ref] * len(completions))
    assert scored.batch.n_built == len(completions)
    for name, column in values.items():
        component = name.removeprefix("rarearena_rdc_").removesuffix("_reward")
        assert column == [s.components[component] for s in built], name
    assert rec.metrics["medzero/rarearena_rdc/accuracy"] == [sum(s.correct for s in built) / len(built)]
    assert rec.extra["rarearena_rdc/extracted"] == [s.extracted for s in built]
    assert rec.extra["rarearena_rdc/status"] == [s.status.value for s in built]
    assert {s.status for s in built} >= {Status.ok, Status.hacking, Status.empty, Status.format_error}


def test_module_doctests():
    for module in (trl_mod, train_rewards):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0, module.__name__
