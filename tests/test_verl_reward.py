"""medzero_rewards.verl through verl's OWN code (verl 0.9, installed by scripts/setup.sh).

verl loads ``compute_score`` from the config lines documented in ``medzero_rewards.verl`` with its own loader
(``verl.trainer.ppo.reward.load_reward_manager`` -> ``get_custom_reward_fn`` -> ``load_extern_object``), its
reward-loop worker decodes the responses of a ``DataProto`` batch with a real tokenizer and scores them through
its ``naive`` reward manager, and assembles the token-level ``rm_scores``; the legacy ``batch`` reward manager
calls ``compute_score_batch``. The rows are real RareBench and EHRSQL records exported by
``medzero_train.verl.verl_rows`` (what ``medzero-train --export-verl`` writes). Every reward equals
``scorer.score_batch``.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

verl = pytest.importorskip("verl", reason="verl is installed by scripts/setup.sh (pip install --no-deps verl==0.9.1)")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

import medzero_rewards.verl as medzero_verl  # noqa: E402
from medzero_eval import lm_eval_glue  # noqa: E402
from medzero_rewards import get_scorer  # noqa: E402
from medzero_train import data as data_mod  # noqa: E402
from medzero_train.verl import verl_rows  # noqa: E402

PAD = 0
pytestmark = pytest.mark.filterwarnings("ignore:Ray state API is no longer experimental:DeprecationWarning")


def _byte_tokenizer(path: Path) -> Path:
    """A real Hugging Face tokenizer (byte-level, 256 tokens + pad) saved where verl's loader reads it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {"<pad>": PAD, **{ch: i + 1 for i, ch in enumerate(sorted(alphabet))}}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>").save_pretrained(path)
    return path


def _documented_lines() -> list[str]:
    """The ``reward.custom_reward_function.*`` lines of medzero_rewards.verl's docstring, as written there."""
    lines = re.findall(r"^\s+(\+?reward\.custom_reward_function\.\S+=\S+)", medzero_verl.__doc__ or "", re.M)
    assert any(line.endswith("path=pkg://medzero_rewards.verl") for line in lines), lines
    return lines


def _config(tokenizer_dir: Path, reward_kwargs: dict | None = None, manager: str = "naive"):
    """verl's own default PPO config (the generated file shipped in the wheel) with the documented overrides."""
    base = OmegaConf.load(Path(verl.__file__).parent / "trainer" / "config" / "_generated_ppo_trainer.yaml")
    lines = [line for line in _documented_lines() if not line.startswith("+")]  # path and name, as written
    lines += [f"reward.custom_reward_function.reward_kwargs.{k}={v}" for k, v in (reward_kwargs or {}).items()]
    lines += [f"actor_rollout_ref.model.path={tokenizer_dir}", f"reward.reward_manager.name={manager}"]
    OmegaConf.set_struct(base, False)
    return OmegaConf.merge(base, OmegaConf.from_dotlist(lines))


def _rows(orphanet_path: Path, ehrsql_dir: Path) -> tuple[list[dict], list[str]]:
    """verl rows of real records (as `medzero-train --export-verl` writes them) and a completion for each."""
    rare = lm_eval_glue.load_rarebench("mme", hierarchy_path=str(orphanet_path))["test"].to_list()[:3]
    sql = lm_eval_glue.load_ehrsql("valid", ehrsql_dir=str(ehrsql_dir))["test"].to_list()
    answerable = [d for d in sql if json.loads(d["reference"])["label"] != "null"][:2]
    unanswerable = [d for d in sql if json.loads(d["reference"])["label"] == "null"][:1]
    docs = rare + answerable + unanswerable
    completions = []
    for d in rare:
        gold = json.loads(d["reference"])["diagnosis"]
        completions += [f"<think>The phenotype fits.</think><answer>{gold}</answer>"]
    completions[1] = "<think>长期 storage signs</think><answer>Gaucher disease</answer>"
    completions[2] = json.loads(rare[2]["reference"])["diagnosis"]  # no tags
    label = json.loads(answerable[0]["reference"])["label"]
    completions += [f"<think>Query it.</think><answer>{label}</answer>",
                    "<think>Count.</think><answer>SELECT COUNT(*) FROM patients</answer>",
                    "<think>Not in this database.</think><answer>null</answer>"]
    rows = [data_mod.doc_to_row(d, "rarearena_rds" if i < len(rare) else "ehrsql") for i, d in enumerate(docs)]
    configs = {"rarearena_rds": json.loads(rare[0]["scorer"])["config"], "ehrsql": json.loads(sql[0]["scorer"])["config"]}
    return verl_rows(rows, configs, "train"), completions


def _data_proto(rows: list[dict], completions: list[str], tokenizer) -> verl.DataProto:
    """A rollout batch as verl's trainer hands it to the reward: left-padded prompts, right-padded responses."""
    prompt_len, n = 4, len(rows)
    ids = [tokenizer.encode(c, add_special_tokens=False) for c in completions]
    width = max(map(len, ids))
    responses = torch.full((n, width), PAD, dtype=torch.long)
    mask = torch.zeros((n, prompt_len + width), dtype=torch.long)
    for i, seq in enumerate(ids):
        responses[i, : len(seq)] = torch.tensor(seq)
        mask[i, prompt_len - 2 :] = 0
        mask[i, prompt_len - 2 : prompt_len + len(seq)] = 1  # a 2-token prompt, left-padded
    prompts = torch.full((n, prompt_len), PAD, dtype=torch.long)
    prompts[:, -2:] = 5
    non_tensors = {
        "data_source": np.array([r["data_source"] for r in rows], dtype=object),
        "reward_model": np.array([r["reward_model"] for r in rows], dtype=object),
        "extra_info": np.array([dict(r["extra_info"]) for r in rows], dtype=object),
    }
    return verl.DataProto.from_dict(
        tensors={"prompts": prompts, "responses": responses, "attention_mask": mask,
                 "input_ids": torch.cat([prompts, responses], dim=1)},
        non_tensors=non_tensors,
    )


def _expected(rows: list[dict], completions: list[str]) -> list[float]:
    out = []
    for r, c in zip(rows, completions):
        scorer = get_scorer(r["data_source"], **json.loads(r["extra_info"]["scorer_config"]))
        out.append(scorer.score_batch([c], [json.loads(r["reward_model"]["ground_truth"])]).rewards[0])
    return out


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    return _byte_tokenizer(tmp_path_factory.mktemp("tokenizer"))


def test_verl_reward_loop_scores_a_batch_with_the_documented_config(tokenizer_dir, orphanet_path, ehrsql_dir):
    from verl.experimental.reward_loop import RewardLoopWorker
    from verl.experimental.reward_loop.reward_manager import NaiveRewardManager

    rows, completions = _rows(orphanet_path, ehrsql_dir)
    config = _config(tokenizer_dir)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # verl's worker binds the current loop at construction
    try:
        worker = RewardLoopWorker(config)  # verl builds its tokenizer and loads compute_score from the config
        assert isinstance(worker.reward_manager, NaiveRewardManager)
        data = _data_proto(rows, completions, worker.input_tokenizer)
        outputs = loop.run_until_complete(worker.compute_score_batch(data))
    finally:
        asyncio.set_event_loop(None)
        loop.close()

    scores = [o["reward_score"] for o in outputs]
    expected = _expected(rows, completions)
    assert scores == pytest.approx(expected, abs=1e-9)
    assert len(set(expected)) >= 4 and 1.2 in expected and -1.0 in expected  # diagnosis and SQL outcomes differ
    # verl's reward loop makes one array per key of the first result: every result has the same keys
    infos = [o["reward_extra_info"] for o in outputs]
    keys = list(infos[0])
    assert all(list(i) == keys for i in infos)
    extra = {k: np.array([i[k] for i in infos]) for k in keys}
    assert extra["scorer_error"].sum() == 0 and extra["acc"].tolist() == [1.0, 0.0, 0.0, 1.0, 0.0, 1.0]
    # the token-level reward verl trains on: each score at the response's last valid token
    rm_scores = NaiveRewardManager.assemble_rm_scores(data, scores)
    assert rm_scores.sum(dim=1).tolist() == pytest.approx(expected, abs=1e-6)
    lengths = data.batch["attention_mask"][:, data.batch["prompts"].shape[1]:].sum(dim=1)
    for i, length in enumerate(lengths.tolist()):
        assert rm_scores[i, length - 1].item() == pytest.approx(expected[i], abs=1e-6)


def test_verl_batch_reward_manager_calls_compute_score_batch(tokenizer_dir, orphanet_path, ehrsql_dir):
    from transformers import AutoTokenizer
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.workers.reward_manager import get_reward_manager_cls

    rows, completions = _rows(orphanet_path, ehrsql_dir)
    rows, completions = rows[:3], completions[:3]  # diagnosis rows: reward_kwargs apply to every row
    config = _config(tokenizer_dir, {"preset": "diagnosis_zero"})
    config.reward.custom_reward_function.name = "compute_score_batch"
    compute = get_custom_reward_fn(config)  # verl's loader, with reward_kwargs bound
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    manager = get_reward_manager_cls("batch")(tokenizer=tokenizer, num_examine=0, compute_score=compute)
    data = _data_proto(rows, completions, tokenizer)
    result = manager(data, return_dict=True)
    totals = result["reward_tensor"].sum(dim=1).tolist()
    seed = get_scorer("rarearena_rds", **{**json.loads(rows[0]["extra_info"]["scorer_config"]),
                                          "preset": "diagnosis_zero"})
    expected = seed.score_batch(completions, [json.loads(r["reward_model"]["ground_truth"]) for r in rows]).rewards
    assert totals == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx([1.0, 0.1, 0.0])  # the seed's 1.0 / 0.1 / 0 reward
    assert result["reward_extra_info"]["scorer_error"] == [0.0, 0.0, 0.0]
