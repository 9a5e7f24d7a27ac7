"""EhrsqlScorer on completions: extraction, presets, details, batching and caching, on real data."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from medzero_rewards import Status, get_scorer
from medzero_rewards.ehrsql import EhrsqlConfig, EhrsqlScorer
from medzero_rewards.ehrsql.postprocess import post_process_sql
from test_ehrsql_oracle import oracle_answer

@pytest.fixture(scope="module")
def db(ehrsql_dir: Path, tmp_path_factory) -> Path:
    """A private copy of the database (these tests send writes and hostile SQL); both copies are checked."""
    original = ehrsql_dir / "mimic_iv.sqlite"
    before = hashlib.sha256(original.read_bytes()).hexdigest()
    folder = tmp_path_factory.mktemp("ehrsql_db")
    copy = folder / "mimic_iv.sqlite"
    shutil.copyfile(original, copy)
    yield copy
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == before
    assert hashlib.sha256(original.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in folder.iterdir()) == ["mimic_iv.sqlite"]


DETAIL_KEYS = {"answerable", "abstained", "outcome", "executed", "error", "timed_out", "sql", "gold_error"}


@pytest.fixture(scope="module")
def valid(ehrsql_dir: Path):
    labels = json.loads((ehrsql_dir / "valid" / "label.json").read_text())
    answerable = [k for k, v in labels.items() if v != "null"]
    unanswerable = [k for k, v in labels.items() if v == "null"]
    return labels, answerable, unanswerable


@pytest.fixture(scope="module")
def scorer(db: Path):
    with get_scorer("ehrsql", db_path=db, workers=2, timeout_s=5) as s:
        yield s


def wrap(sql: str) -> str:
    return f"<think>Look up the tables.</think>\n<answer>{sql}</answer>"


def test_completion_outcomes_and_details(valid, scorer):
    labels, answerable, unanswerable = valid
    a, b, u = answerable[0], answerable[1], unanswerable[0]
    cases = [
        (wrap(labels[a]), {"label": labels[a]}, 1, Status.ok, 1.0),
        (wrap("null"), {"label": labels[a]}, 0, Status.abstained, 0.0),
        (wrap(labels[b]), {"label": labels[a]}, -1, Status.ok, -1.0),
        (wrap("SELEC broken"), {"label": labels[a]}, -1, Status.sql_error, -1.0),
        (wrap("DROP TABLE patients"), {"label": labels[a]}, -1, Status.refused, -1.0),
        (wrap("NULL"), {"label": "null"}, 1, Status.abstained, 1.0),
        (wrap(labels[a]), {"label": labels[u]}, -1, Status.ok, -1.0),
        ("no tags, no SQL", {"label": labels[a]}, -1, Status.format_error, -1.0),
        ("<think>x</think><answer>  </answer>", {"label": "null"}, -1, Status.empty, -1.0),
    ]
    scores = scorer.score_batch([c for c, *_ in cases], [r for _, r, *_ in cases])
    for (completion, ref, out, status, reward), s in zip(cases, scores):
        assert set(s.details) == DETAIL_KEYS
        assert s.details["outcome"] == out, completion
        assert s.status == status, (completion, s.reason)
        assert s.reward == reward
        assert s.correct == (out == 1)
        assert s.details["answerable"] == (ref["label"] != "null")
    assert scores[0].details["executed"] and scores[0].details["sql"] == labels[a]
    assert scores[3].details["error"] and not scores[3].details["executed"]
    assert scores[4].details["error"].startswith("DatabaseError")


def test_fenced_sql_last_block_wins(valid, scorer):
    labels, answerable, _ = valid
    a, b = answerable[2], answerable[3]
    completion = f"Draft:\n```sql\n{labels[b]}\n```\nFinal:\n```sql\n{labels[a]}\n```"
    s = scorer.score(completion, {"label": labels[a]})
    assert s.details["outcome"] == 1 and s.details["sql"] == labels[a]
    inside = f"<think>t</think><answer>```sql\n{labels[a]}\n```</answer>"
    assert scorer.score(inside, {"label": labels[a]}).correct


def test_record_answer_is_used_instead_of_executing_gold(valid, scorer, ehrsql_dir: Path):
    labels, answerable, _ = valid
    a = answerable[4]
    rebuilt = json.loads((ehrsql_dir / "valid" / "answer_rebuilt.json").read_text())
    ok = scorer.score(wrap(labels[a]), {"label": labels[a], "answer": rebuilt[a]})
    assert ok.correct
    # a gold answer that differs from what the SQL returns must make the same SQL wrong
    other = next(v for k, v in rebuilt.items() if v not in ("null", rebuilt[a]))
    assert not scorer.score(wrap(labels[a]), {"label": labels[a], "answer": other}).correct


def test_presets_and_components(db: Path, valid):
    labels, answerable, unanswerable = valid
    a, b, u = answerable[0], answerable[1], unanswerable[0]
    completions = [wrap(labels[a]), wrap(labels[b]), wrap("SELEC x"), wrap("null"), wrap("null")]
    refs = [{"label": labels[a]}] * 3 + [{"label": labels[a]}, {"label": labels[u]}]
    with get_scorer("ehrsql", db_path=db, workers=0, preset="ehr_r1") as s:
        assert [x.reward for x in s.score_batch(completions, refs)] == [1.0, 0.1, 0.0, 0.0, 1.0]
    with get_scorer("ehrsql", db_path=db, workers=0, penalty=5, format_weight=0.5, executable_weight=0.25) as s:
        got = s.score_batch(completions, refs)
    assert [x.reward for x in got] == [1.0 + 0.5 + 0.25, -5.0 + 0.5 + 0.25, -5.0 + 0.5, 0.5, 1.5]
    assert got[0].components == {"accuracy": 1.0, "format": 0.5, "executable": 0.25}
    assert got[1].components == {"accuracy": -5.0, "format": 0.5, "executable": 0.25}
    assert all(x.reward == sum(x.components.values()) for x in got)


def test_grpo_batch_executes_each_distinct_sql_once(db: Path, valid):
    labels, answerable, unanswerable = valid
    qids = answerable[:6] + unanswerable[:2]
    completions, refs = [], []
    for i, q in enumerate(qids):
        other = labels[answerable[(i + 10) % len(answerable)]]
        group = [labels[q] if labels[q] != "null" else "null"] * 4 + [other] * 3 + ["null"]
        completions += [wrap(g) for g in group]
        refs += [{"id": q, "label": labels[q]}] * len(group)
    with EhrsqlScorer(db_path=db, workers=2) as s:
        first = s.score_batch(completions, refs)
        distinct = {post_process_sql(labels[q]) for q in qids if labels[q] != "null"}
        distinct |= {post_process_sql(labels[answerable[(i + 10) % len(answerable)]]) for i in range(len(qids))}
        assert s.executed == len(distinct)
        again = s.score_batch(completions, refs)
        assert s.executed == len(distinct)  # the second step is served from the caches
    assert [x.model_dump() for x in first] == [x.model_dump() for x in again]
    # batch results equal one-by-one results
    with EhrsqlScorer(db_path=db, workers=0) as s:
        single = [s.score(c, r) for c, r in zip(completions, refs)]
    assert [x.model_dump() for x in single] == [x.model_dump() for x in first]


def test_persistent_gold_cache(db: Path, valid, tmp_path: Path):
    labels, answerable, _ = valid
    refs = [{"label": labels[k]} for k in answerable[:20]]
    completions = [wrap("null")] * len(refs)
    with get_scorer("ehrsql", db_path=db, workers=0, cache_dir=tmp_path) as s:
        s.score_batch(completions, refs)
        assert s.executed == len({post_process_sql(r["label"]) for r in refs})
    assert len(list(tmp_path.glob("ehrsql-*.json"))) == 1
    with get_scorer("ehrsql", db_path=db, workers=0, cache_dir=tmp_path) as s:
        gold = [wrap(r["label"]) for r in refs]
        assert all(x.correct for x in s.score_batch(gold, refs))
        assert s.executed == 0  # gold came from disk, predictions equal to gold reuse it


def test_gold_error_is_reported_not_hidden(db: Path):
    with get_scorer("ehrsql", db_path=db, workers=0) as s:
        bad_gold = {"label": "SELECT no_such_column FROM patients"}
        x = s.score(wrap("SELECT no_such_column FROM patients"), bad_gold)
    assert x.details["outcome"] == -1 and x.details["gold_error"] and "gold" in x.reason


def test_bad_input_never_crashes(db: Path, valid):
    labels, answerable, _ = valid
    ref = {"label": labels[answerable[0]]}
    weird = [None, 123, "", "<answer>", "\x00" * 10, "<answer>" + "SELECT 1 UNION ALL " * 200_000 + "SELECT 1</answer>",
             "<answer>SELECT '\udcff'</answer>"]
    with get_scorer("ehrsql", db_path=db, workers=0, timeout_s=2) as s:
        out = s.score_batch(weird, [ref] * len(weird))  # type: ignore[list-item]
    assert all(x.details["outcome"] == -1 and x.details["error"] for x in out)
    # a reference without a label is that item's error, not the batch's
    bad = EhrsqlScorer(db_path=db, workers=0).score("x", {"question": "no label"})
    assert bad.status == Status.error and bad.details["outcome"] is None and "label" in bad.reason


def test_config_validation(ehrsql_dir: Path, tmp_path: Path):
    with pytest.raises(ValueError, match="not found"):
        EhrsqlConfig(db_path=tmp_path / "missing.sqlite")
    with pytest.raises(ValueError):
        EhrsqlConfig(db_path=ehrsql_dir / "mimic_iv.sqlite", preset="unknown")
    assert EhrsqlConfig(db_path=ehrsql_dir / "mimic_iv.sqlite").timeout_s == 10.0


def test_answer_files_renormalise_to_executed_gold(ehrsql_dir: Path):
    """Every answerable gold result in answer_rebuilt.json equals our execution of the gold SQL."""
    db = ehrsql_dir / "mimic_iv.sqlite"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.text_factory = lambda b: b.decode(errors="ignore")
    from medzero_rewards.ehrsql.results import normalize_answer

    for split in ("valid", "test"):
        labels = json.loads((ehrsql_dir / split / "label.json").read_text())
        answers = json.loads((ehrsql_dir / split / "answer_rebuilt.json").read_text())
        for k, sql in labels.items():
            if sql == "null":
                assert answers[k] == "null"
                continue
            executed = oracle_answer(con.execute(post_process_sql(sql)).fetchall())
            assert normalize_answer(answers[k]) == executed, (split, k)
    con.close()
