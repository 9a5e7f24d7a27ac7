"""The verl adapter (medzero_rewards.verl, re-exported by medzero_train.verl): compute_score is the scorer;
errors are flagged and aggregated; every result has the same keys; rows export for verl."""

from __future__ import annotations

import json
import logging

import pytest

import medzero_rewards.verl as verl_rewards
from medzero_rewards import Score, Scorer, Status, get_scorer, register_scorer
from medzero_train import verl


def _ref(name: str) -> str:
    return json.dumps({"diagnosis": name, "Orpha_name": name})


def test_compute_score_is_the_scorer_reward_and_components():
    completion = "<think>angiokeratoma</think><answer>Fabry disease</answer>"
    result = verl.compute_score("rarearena_rdc", completion, _ref("Fabry disease"))
    score = get_scorer("rarearena_rdc").score(completion, json.loads(_ref("Fabry disease")))
    assert result["score"] == score.reward and result["acc"] == 1.0
    assert {k: result[k] for k in score.components} == score.components
    assert result["scorer_error"] == 0.0


def test_reward_kwargs_and_extra_info_configure_the_scorer():
    wrong = "<think>x</think><answer>Gaucher disease</answer>"
    default = verl.compute_score("rarearena_rdc", wrong, _ref("Fabry disease"))
    seed = verl.compute_score("rarearena_rdc", wrong, _ref("Fabry disease"), None, preset="diagnosis_zero")
    via_info = verl.compute_score("rarearena_rdc", wrong, _ref("Fabry disease"),
                                  {"scorer_config": json.dumps({"preset": "diagnosis_zero"})})
    assert seed["score"] == via_info["score"] == pytest.approx(0.1)
    assert default["score"] != seed["score"]


def test_batch_form_matches_single_calls():
    sources = ["rarearena_rdc", "rarearena_rds", "rarearena_rdc"]
    sols = ["<answer>Fabry disease</answer>", "<think>x</think><answer>Wilson disease</answer>", "nothing"]
    gts = [_ref("Fabry disease"), _ref("Wilson disease"), _ref("Fabry disease")]
    assert verl.compute_score_batch(sources, sols, gts) == [
        verl.compute_score(d, s, g) for d, s, g in zip(sources, sols, gts)
    ]


def test_scorer_error_is_flagged_not_silent_and_warnings_are_aggregated(caplog):
    @register_scorer("verl_failing")
    def _make(**config):  # noqa: ANN202
        class Failing(Scorer):
            def score(self, completion, reference):
                return Score(reward=0.7, correct=False, status=Status.error, reason="no gold")

        return Failing()

    before = verl_rewards.ERRORS.total
    verl_rewards.ERRORS._last = float("-inf")
    with caplog.at_level(logging.WARNING, logger="medzero_rewards.verl"):
        results = [verl.compute_score("verl_failing", "x", "{}") for _ in range(5)]
        batch = verl.compute_score_batch(["verl_failing", "rarearena_rdc", "rarearena_rdc"], ["x", "x", "x"],
                                         ["{}", "not json", _ref("Fabry disease")])
    assert all(r["score"] == 0.0 and r["scorer_error"] == 1.0 for r in results + batch[:2])
    assert batch[2]["scorer_error"] == 0.0
    assert verl_rewards.ERRORS.total == before + 7
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2  # the first single error at once, then one line for the batch (with the 4 held back)
    assert lines[0].endswith("1 new (%d in this process): 1x verl_failing: no gold" % (before + 1))
    assert lines[1].startswith("scorer errors scored 0.0 with scorer_error=1: 6 new")
    assert "5x verl_failing: no gold" in lines[1] and "rarearena_rdc: ground_truth is not valid JSON" in lines[1]


def test_every_result_has_the_same_keys_across_scorers(ehrsql_dir):
    """verl's reward loop builds one array per key of the first result: mixed sources need equal keys."""
    db = str(ehrsql_dir / "mimic_iv.sqlite")
    ref = json.dumps({"id": "q", "question": "?", "label": "null", "answer": None})
    diagnosis = verl.compute_score("rarearena_rdc", "<answer>Fabry disease</answer>", _ref("Fabry disease"))
    ehrsql = verl.compute_score("ehrsql", "<answer>null</answer>", ref, {"scorer_config": {"db_path": db, "workers": 0}})
    assert list(diagnosis) == list(ehrsql) == ["score", "acc", "scorer_error", *verl_rewards.COMPONENT_KEYS]


def test_ehrsql_compute_score(ehrsql_dir):
    db = str(ehrsql_dir / "mimic_iv.sqlite")
    ref = json.dumps({"id": "q", "question": "?", "label": "null", "answer": None})
    info = {"scorer_config": json.dumps({"db_path": db, "workers": 0})}
    assert verl.compute_score("ehrsql", "<answer>null</answer>", ref, info)["score"] == 1.0


def test_module_doctests():
    import doctest

    for module in (verl, verl_rewards):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__
