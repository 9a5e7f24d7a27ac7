"""Parity: for the same completions and records, the TRL reward functions (``medzero_rewards.trl``, alone and as
``medzero-train`` builds them), lm-eval's ``process_results``, verl's ``compute_score`` (``medzero_rewards.verl``)
and ``medzero-eval score`` give identical numbers (per item and aggregated)."""

from __future__ import annotations

import asyncio
import json
import math

import pytest

from medzero_eval import lm_eval_glue
from medzero_eval.scoring import score_records
from medzero_rewards import trl as medzero_trl
from medzero_rewards import verl as medzero_verl
from medzero_train import data, verl
from medzero_train.config import TrainConfig
from medzero_train.evaluation import EvalTask, write_eval_outputs
from medzero_train.rewards import make_rewards, make_scorers, reward_functions


def _diagnosis_completions(doc: dict) -> list[str]:
    gold = json.loads(doc["reference"])
    name = gold["diagnosis"]
    other = (gold.get("synonyms") or [name])[0]
    return [
        f"<think>The phenotype fits.</think><answer>{name}</answer>",
        f"<think>Fits a known synonym.</think><answer>{other}</answer>",
        "<think>Storage disorder?</think><answer>Gaucher disease</answer>",
        f"<think>Two options.</think><answer>{name} or Gaucher disease</answer>",
        f"<think>表型符合 the phenotype fits</think><answer>{name}</answer>",
        "<think>unsure</think><answer></answer>",
        f"The diagnosis is {name}.",
        f"<answer>{name}</answer><think>late</think>",
    ]


def _ehrsql_completions(doc: dict) -> list[str]:
    label = json.loads(doc["reference"])["label"]
    return [
        f"<think>Query it.</think><answer>{label}</answer>",
        "<think>Not in this database.</think><answer>null</answer>",
        "<think>Count.</think><answer>SELECT COUNT(*) FROM patients</answer>",
        "<think>Oops.</think><answer>SELEC nonsense FROM</answer>",
        "SELECT 1",
    ]


def _trl_totals(funcs, completions, docs, task, run=None):
    """What GRPOTrainer sums per completion: the reward functions' values (weights 1; None -> NaN, nansum)."""
    kwargs = {"reference": [d["reference"] for d in docs], "task": [task] * len(docs)}
    conversational = [[{"role": "assistant", "content": c}] for c in completions]
    if run is None:
        per_func = [f(prompts=None, completions=conversational, **kwargs) for f in funcs]
    else:  # async functions, gathered as GRPOTrainer does
        async def gather():
            return await asyncio.gather(*(f(prompts=None, completions=conversational, **kwargs) for f in funcs))

        per_func = run(gather())
    totals = []
    for i in range(len(completions)):
        values = [v[i] for v in per_func if v[i] is not None]
        totals.append(sum(values) if values else math.nan)
    return totals


def _same(a, b):
    if a is None or b is None:
        return a is b
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == pytest.approx(b, abs=1e-9)


def _check_parity(task, docs, completions_of, train_scorer_config, tmp_path):
    pairs = [(doc, c) for doc in docs for c in completions_of(doc)]
    completions = [c for _, c in pairs]
    pair_docs = [d for d, _ in pairs]
    references = [json.loads(d["reference"]) for d in pair_docs]
    spec = json.loads(docs[0]["scorer"])
    assert spec["name"] == task
    assert train_scorer_config == spec["config"]  # training and the lm-eval task configure the scorer alike

    # 1. TRL reward functions: medzero_rewards.trl as a library user calls it, and as `medzero-train` builds them
    scorers = make_scorers([task], {task: train_scorer_config})
    trl = _trl_totals(medzero_trl.reward_functions(task, **train_scorer_config), completions, pair_docs, task)
    trl_train = _trl_totals(reward_functions(make_rewards(scorers)), completions, pair_docs, task)
    trl_async = _trl_totals(medzero_trl.async_reward_functions(task, **train_scorer_config), completions, pair_docs,
                            task, run=asyncio.run)

    # 2. lm-eval process_results (medzero_eval.lm_eval_glue) and its aggregations
    payloads = [lm_eval_glue.process_results(d, [c]) for d, c in pairs]
    lm_rewards = [p["score"]["score"]["reward"] for p in payloads]
    lm_metrics = lm_eval_glue.aggregate_samples(payloads)

    # 3. verl compute_score, with the exported row's ground truth and extra_info
    rows = [data.doc_to_row(d, task) for d in pair_docs]
    vrows = verl.verl_rows(rows, {task: train_scorer_config}, "train")
    assert verl.compute_score is medzero_verl.compute_score
    verl_scores = [
        medzero_verl.compute_score(r["data_source"], c, r["reward_model"]["ground_truth"], r["extra_info"])["score"]
        for r, c in zip(vrows, completions)
    ]
    verl_batch = [r["score"] for r in medzero_verl.compute_score_batch(
        [r["data_source"] for r in vrows], completions, [r["reward_model"]["ground_truth"] for r in vrows],
        [r["extra_info"] for r in vrows])]

    # 4. medzero-eval score (medzero_eval.scoring)
    scores, offline_metrics = score_records(task, completions, references, train_scorer_config, progress=False)
    offline = [s.reward for s in scores]

    columns = (trl, trl_train, trl_async, lm_rewards, verl_scores, verl_batch)
    assert {len(c) for c in columns} == {len(offline)}
    for i, e in enumerate(offline):
        values = [c[i] for c in columns]
        assert all(_same(v, e) for v in values), (i, completions[i], values, e)
    assert len(set(offline)) > 2  # the completions exercise different outcomes

    # aggregated: lm-eval's metrics == medzero-eval's == the training-time held-out evaluation's
    held_out, held_out_row = write_eval_outputs(tmp_path / task, EvalTask(task, task, pair_docs), completions,
                                                scorers[task], docs[0]["scorer"], {}, "2026-01-01T00-00-00")
    # the training-time evaluation writes the samples lm-eval writes, and lm-eval's results row
    assert {k.removesuffix(",raw"): v for k, v in held_out_row.items() if "_stderr" not in k} == pytest.approx(lm_metrics)
    written = [json.loads(line) for line in next((tmp_path / task).glob("samples_*.jsonl")).read_text().splitlines()]
    assert [{k: w[k] for k in p} for w, p in zip(written, payloads)] == payloads
    shared = (lm_metrics.keys() & offline_metrics.keys()) - {"n", "score"}
    assert shared >= ({"top1", "format_rate"} if task != "ehrsql" else {"accuracy0", "execution_accuracy"}), shared
    for m in shared:  # lm-eval's mean of per-item values == the scorer's corpus value
        assert lm_metrics[m] == pytest.approx(offline_metrics[m], abs=1e-9), m
    for m in offline_metrics:
        assert _same(held_out.get(m), offline_metrics.get(m)), m
    assert held_out.keys() == offline_metrics.keys()
    return offline


def test_parity_rarebench_diagnosis(tmp_path, orphanet_path):
    docs = lm_eval_glue.load_rarebench("mme", hierarchy_path=str(orphanet_path))["test"].to_list()[:6]
    cfg = TrainConfig.model_validate({
        "train_data": [{"source": "rarebench", "subsets": ["mme"], "limit": 6}],
        "rewards": {"rarearena_rds": {"hierarchy_path": str(orphanet_path)}},
        "output_dir": "x",
    })
    assert [r["reference"] for r in data.source_rows(cfg.train_data[0])] == [d["reference"] for d in docs]
    rewards = _check_parity("rarearena_rds", docs, _diagnosis_completions,
                            data.scorer_configs(cfg)["rarearena_rds"], tmp_path)
    assert max(rewards) > 1.0  # format + accuracy credit happened


def test_parity_ehrsql(tmp_path, ehrsql_dir):
    docs = lm_eval_glue.load_ehrsql("valid", ehrsql_dir=str(ehrsql_dir))["test"].to_list()
    answerable = [d for d in docs if json.loads(d["reference"])["label"] != "null"][:4]
    unanswerable = [d for d in docs if json.loads(d["reference"])["label"] == "null"][:2]
    chosen = answerable + unanswerable
    cfg = TrainConfig.model_validate({
        "train_data": [{"source": "ehrsql", "data_dir": str(ehrsql_dir), "split": "valid"}],
        "output_dir": "x",
    })
    rewards = _check_parity("ehrsql", chosen, _ehrsql_completions, data.scorer_configs(cfg)["ehrsql"], tmp_path)
    assert 1.0 in rewards and -1.0 in rewards
