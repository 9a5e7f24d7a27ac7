"""The verl adapter: compute_score is the scorer; errors are flagged; rows round-trip through parquet."""

from __future__ import annotations

import json

import pytest

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


def test_scorer_error_is_flagged_not_silent(caplog):
    @register_scorer("verl_failing")
    def _make(**config):  # noqa: ANN202
        class Failing(Scorer):
            def score(self, completion, reference):
                return Score(reward=0.0, correct=False, status=Status.error, reason="no gold")

        return Failing()

    before = verl.ERRORS["count"]
    result = verl.compute_score("verl_failing", "x", "{}")
    assert result["scorer_error"] == 1.0 and verl.ERRORS["count"] == before + 1
    assert "scorer error" in caplog.text


def test_ehrsql_compute_score(ehrsql_dir):
    db = str(ehrsql_dir / "mimic_iv.sqlite")
    ref = json.dumps({"id": "q", "question": "?", "label": "null", "answer": None})
    info = {"scorer_config": json.dumps({"db_path": db, "workers": 0})}
    assert verl.compute_score("ehrsql", "<answer>null</answer>", ref, info)["score"] == 1.0


def test_module_doctests():
    import doctest

    assert doctest.testmod(verl).failed == 0
