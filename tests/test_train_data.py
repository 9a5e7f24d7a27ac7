"""Dataset builders: the lm-eval tasks' prompts and references, as TRL conversational rows."""

from __future__ import annotations

import json

import pytest

from medzero_eval import lm_eval_glue, prompts, records
from medzero_train import data
from medzero_train.config import EHRSQLSource, RareArenaSource, RareBenchSource, TrainConfig


def test_rarebench_rows_are_the_lm_eval_documents():
    src = RareBenchSource(source="rarebench", subsets=["mme"], limit=3)
    rows = data.source_rows(src)
    docs = lm_eval_glue.load_rarebench("mme")["test"].to_list()[:3]
    assert len(rows) == 3
    for row, doc in zip(rows, docs):
        assert row["prompt"] == [{"role": "system", "content": doc["system"]}, {"role": "user", "content": doc["prompt"]}]
        assert row["reference"] == doc["reference"] and row["id"] == doc["id"] and row["task"] == "rarearena_rds"
    rec = records.load_rarebench("mme")[0]
    assert rows[0]["prompt"] == prompts.diagnosis_messages(records.rarearena_input(rec, "rds"), "r1")
    assert json.loads(rows[0]["reference"])["diagnosis"] == rec["diagnosis"]


def test_rarearena_rows_from_a_jsonl_file(tmp_path, orphanet_path):
    # RareArena case files are not available: write two records in the documented schema from real names
    names = [e["name"] for e in json.loads(orphanet_path.read_text())[:2]]
    path = tmp_path / "RDC.json"
    path.write_text("\n".join(json.dumps({
        "_id": f"c{i}", "case_report": f"A {20 + i}-year-old with recurrent findings.", "test_results": "CK 900 U/L.",
        "diagnosis": name, "Orpha_name": name, "Orpha_id": str(100 + i), "age": "20", "gender": "F",
        "pub_date": "2020",
    }) for i, name in enumerate(names)) + "\n")
    rows = data.source_rows(RareArenaSource(source="rarearena", path=str(path), setting="rdc"))
    assert [r["task"] for r in rows] == ["rarearena_rdc", "rarearena_rdc"]
    assert "CK 900 U/L." in rows[0]["prompt"][1]["content"]  # RDC: case report + test results
    assert json.loads(rows[1]["reference"])["diagnosis"] == names[1]
    rds = data.source_rows(RareArenaSource(source="rarearena", path=str(path), setting="rds"))
    assert "CK 900" not in rds[0]["prompt"][1]["content"] and rds[0]["task"] == "rarearena_rds"


def test_ehrsql_prompt_carries_schema_and_time(ehrsql_dir):
    src = EHRSQLSource(source="ehrsql", data_dir=str(ehrsql_dir), split="valid", limit=4)
    rows = data.source_rows(src)
    recs = records.load_ehrsql(ehrsql_dir, "valid")[:4]
    from medzero_rewards.ehrsql.schema import schema_prompt

    schema = schema_prompt(ehrsql_dir / "tables.json")
    for row, rec in zip(rows, recs):
        assert row["prompt"] == prompts.ehrsql_messages(rec["question"], schema)
        assert prompts.EHRSQL_NOW in row["prompt"][1]["content"] and "patients" in row["prompt"][1]["content"]
        ref = json.loads(row["reference"])
        assert ref["label"] == rec["label"] and row["target"] == str(rec["label"])
    assert data.base_scorer_config(src) == {"db_path": str(ehrsql_dir / "mimic_iv.sqlite")}


def test_build_dataset_mixes_sources_and_scorer_configs(ehrsql_dir):
    cfg = TrainConfig.model_validate({
        "train_data": [{"source": "rarebench", "subsets": ["mme", "lirical"], "limit": 2},
                       {"source": "ehrsql", "data_dir": str(ehrsql_dir), "limit": 2}],
        "rewards": {"rarearena_rds": {"preset": "diagnosis_zero"}, "ehrsql": {"preset": "ehr_r1"}},
        "output_dir": "x",
    })
    ds = data.build_dataset(cfg.train_data, shuffle_seed=0)
    assert len(ds) == 6 and set(ds.column_names) == set(data.ROW_COLUMNS)
    assert sorted(ds["task"]) == ["ehrsql"] * 2 + ["rarearena_rds"] * 4
    configs = data.scorer_configs(cfg)
    assert configs["rarearena_rds"] == {"answer_format": "single", "preset": "diagnosis_zero"}
    assert configs["ehrsql"]["preset"] == "ehr_r1" and configs["ehrsql"]["db_path"].endswith("mimic_iv.sqlite")


def test_one_prompt_style_per_task():
    cfg = TrainConfig.model_validate({
        "train_data": [{"source": "rarebench", "subsets": ["mme"], "style": "r1"},
                       {"source": "rarebench", "subsets": ["hms"], "style": "top5"}],
        "output_dir": "x",
    })
    with pytest.raises(ValueError, match="one prompt style per task"):
        data.scorer_configs(cfg)


class _CharTokenizer:
    """Counts one token per character of the rendered conversation."""

    def apply_chat_template(self, messages, add_generation_prompt=True, tokenize=True):
        return list("".join(m["content"] for m in messages))


def test_overlong_prompts_are_dropped_and_counted():
    ds = data.build_dataset([RareBenchSource(source="rarebench", subsets=["mme"], limit=5)])
    lengths = data.prompt_lengths(ds, _CharTokenizer())
    cut = sorted(lengths)[2]
    kept, dropped = data.drop_overlong(ds, _CharTokenizer(), cut)
    assert dropped == sum(n > cut for n in lengths) and len(kept) == 5 - dropped
    assert all(n <= cut for n in data.prompt_lengths(kept, _CharTokenizer()))
    assert data.drop_overlong(ds, _CharTokenizer(), None) == (ds, 0)


def test_missing_rarearena_file_names_the_ways_to_pass_it_for_training(tmp_path):
    """The not-found line raised inside medzero-train names the config key and the variables, not only lm-eval's
    --metadata (the same message serves lm_eval, medzero-eval run and medzero-train)."""
    missing = tmp_path / "RDC.json"
    with pytest.raises(records.DataNotFoundError) as exc:
        data.source_rows(RareArenaSource(source="rarearena", path=str(missing), setting="rdc"))
    line = str(exc.value)
    assert "\n" not in line and str(missing) in line
    assert "medzero-train" in line and "train_data" in line and "path:" in line
    assert "MEDZERO_RAREARENA_RDC" in line and "--metadata" in line and "medzero-eval run" in line
    assert "lm-eval --metadata" not in line  # not worded as if lm-eval were the only way
