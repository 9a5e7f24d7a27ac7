"""medzero_rewards.verl: a misconfigured run stops with one line that says where a verl user fixes it.

A configuration error is the run's, not an item's: it raises (a run that scored every row 0 with
``scorer_error`` would train on nothing), as :class:`~medzero_rewards.registry.ScorerConfigError`, with
the verl config key or the row field that sets it -- ``get_scorer``'s own hint names a call verl users
never write. verl itself is not needed: these are the calls its reward managers make.
"""

from __future__ import annotations

import pytest

from medzero_rewards.registry import ScorerConfigError
from medzero_rewards.verl import compute_score, compute_score_batch

GOLD = '{"diagnosis": "Fabry disease"}'
ANSWER = "<think>angiokeratoma</think><answer>Fabry disease</answer>"
VERL_KEY = "+reward.custom_reward_function.reward_kwargs."


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_missing_required_setting_names_the_verl_config_key() -> None:
    with pytest.raises(ScorerConfigError) as exc:
        compute_score("ehrsql", "<answer>null</answer>", {"id": "q", "question": "q", "label": "null"})
    message = _one_line(exc)
    assert "db_path is required" in message and VERL_KEY in message and "extra_info['scorer_config']" in message


def test_unknown_data_source_lists_the_scorers() -> None:
    with pytest.raises(ScorerConfigError) as exc:
        compute_score_batch(["rarearena_rdc", "medqa"], [ANSWER, ANSWER], [GOLD, GOLD])
    message = _one_line(exc)
    assert "data_source 'medqa'" in message and "rarearena_rdc" in message and "ehrsql" in message


@pytest.mark.parametrize(("raw", "what"), [("{preset: x}", "not valid JSON"), ("[1, 2]", "must be a JSON object")])
def test_malformed_row_scorer_config_is_named(raw: str, what: str) -> None:
    with pytest.raises(ScorerConfigError) as exc:
        compute_score("rarearena_rdc", ANSWER, GOLD, {"scorer_config": raw})
    message = _one_line(exc)
    assert "extra_info['scorer_config']" in message and what in message and VERL_KEY in message


def test_valid_settings_from_both_places_still_score() -> None:
    row = compute_score("rarearena_rdc", ANSWER, GOLD, {"scorer_config": '{"preset": "diagnosis_zero"}'})
    kwargs = compute_score("rarearena_rdc", ANSWER, GOLD, None, preset="diagnosis_zero")
    assert row == kwargs and row["score"] == 1.0 and row["scorer_error"] == 0.0
