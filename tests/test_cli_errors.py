"""`medzero-eval` user errors: one line naming the file and the fix, exit code 2, no partial output.

Each case runs the real CLI in a subprocess (the traceback a user would see is what is pinned), on
real records: RareBench cases embedded in medzero_eval and the EHRSQL 2024 files in the shared data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from medzero_rewards import Score, registry
from medzero_rewards.base import Scorer

from medzero_eval.cli import main
from medzero_eval.records import load_rarebench

GOOD = "<think>Metabolic acidosis with hyperammonaemia in a neonate.</think><answer>Propionic acidemia</answer>"


def medzero_eval(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "medzero_eval.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=180, cwd=cwd)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit code 2, stderr exactly one `error:` line containing every needle, nothing on stdout."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert proc.stdout == ""
    return lines[0]


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return load_rarebench("ramedis")


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _score(inp: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return medzero_eval("score", "--scorer", "rarearena_rds", "--input", inp, "--output", out, "--no-progress", *extra)


# --------------------------------------------------------------------------------------------- score


def test_empty_file_is_refused(tmp_path: Path) -> None:
    inp, out = tmp_path / "empty.jsonl", tmp_path / "scores.jsonl"
    inp.write_text("\n\n")
    assert_one_line_error(_score(inp, out), f"{inp}: no items", "JSON Lines")
    assert not out.exists()


def test_records_without_gold_are_refused(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    no_gold = [{k: v for k, v in r.items() if k not in ("diagnosis", "Orpha_name")} for r in records[:3]]
    inp = _jsonl(tmp_path / "nogold.jsonl", [{"completion": GOOD, "reference": r} for r in no_gold])
    out = tmp_path / "scores.jsonl"
    line = assert_one_line_error(_score(inp, out), str(inp), "3 of 3 items", "gold", "fix the reference records")
    assert "no metric can be reported" in line
    assert not out.exists()


def test_non_utf8_input_names_the_line(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    good = json.dumps({"completion": GOOD, "reference": records[0]}).encode()
    inp, out = tmp_path / "latin1.jsonl", tmp_path / "scores.jsonl"
    inp.write_bytes(good + b"\n" + good + b"\n" + '{"completion": "fi\xe8vre"}'.encode("latin-1") + b"\n")
    assert_one_line_error(_score(inp, out), f"{inp}:3: not UTF-8", "byte 0xe8", "save the file as UTF-8")
    assert not out.exists()


def test_bad_json_line_names_the_line(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    good = json.dumps({"completion": GOOD, "reference": records[0]})
    inp, out = tmp_path / "bad.jsonl", tmp_path / "scores.jsonl"
    inp.write_text(f"{good}\n{good[:-5]}\n")
    assert_one_line_error(_score(inp, out), f"{inp}:2: not valid JSON", "JSON Lines")
    assert not out.exists()


def test_unknown_setting_names_it_and_the_valid_ones(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    inp = _jsonl(tmp_path / "c.jsonl", [{"completion": GOOD, "reference": records[0]}])
    out = tmp_path / "scores.jsonl"
    line = assert_one_line_error(_score(inp, out, "--set", "nonsense=1"), "--set", "unknown setting 'nonsense'")
    assert "valid settings:" in line and "hierarchy_path" in line and "answer_format" in line
    assert not out.exists()


def test_bad_setting_value_and_missing_required_setting(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    inp = _jsonl(tmp_path / "c.jsonl", [{"completion": GOOD, "reference": records[0]}])
    out = tmp_path / "scores.jsonl"
    assert_one_line_error(_score(inp, out, "--set", "k=many"), "--set", "setting 'k'")
    proc = medzero_eval("score", "--scorer", "ehrsql", "--input", inp, "--output", out, "--no-progress")
    assert_one_line_error(proc, "db_path", "--set db_path=")
    assert not out.exists()


def test_error_share_refused_unless_allowed(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    """2 of 20 items have no gold (10% > the default 5%): refused; --allow-errors reports with one warning."""
    refs = [dict(r) for r in records[:20]]
    for r in refs[5:7]:
        r["diagnosis"] = r["Orpha_name"] = ""
    inp = _jsonl(tmp_path / "c.jsonl", [{"id": f"q{i}", "completion": GOOD, "reference": r} for i, r in enumerate(refs)])
    out = tmp_path / "scores.jsonl"
    assert_one_line_error(_score(inp, out), str(inp), "2 of 20 items (10.0%)", "e.g. id q5",
                          "--max-error-share 5.0%", "--allow-errors")
    assert not out.exists()

    allowed = _score(inp, out, "--allow-errors")
    assert allowed.returncode == 0, allowed.stderr
    warnings = [ln for ln in allowed.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "2 of 20 items (10.0%)" in warnings[0] and "--allow-errors" in warnings[0]
    assert len(out.read_text().splitlines()) == 20
    assert json.loads(allowed.stdout)["n"] == 20

    raised = _score(inp, tmp_path / "s2.jsonl", "--max-error-share", "0.2")
    assert raised.returncode == 0, raised.stderr
    assert sum(ln.startswith("warning:") for ln in raised.stderr.splitlines()) == 1


def test_judge_down_is_one_error_line(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    """Every item needs the judge and the endpoint refuses connections: refused with one error line
    naming the judge setting and the fix (the judge's own fault warnings may precede it)."""
    inp = _jsonl(tmp_path / "c.jsonl", [{"completion": GOOD, "reference": r} for r in records[:2]])
    out = tmp_path / "scores.jsonl"
    judge = {"model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key_env": None, "max_retries": 0,
             "timeout_s": 5, "cache_path": None}
    proc = _score(inp, out, "--set", f"judge={json.dumps(judge)}", "--set", "judge_mode=always")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and proc.stderr.strip().splitlines()[-1] == errors[0]
    assert errors[0].startswith("error: --set: 2 of 2 items") and "check the judge endpoint" in errors[0]
    assert not out.exists() and proc.stdout == ""


def test_refused_run_leaves_an_existing_output_untouched(tmp_path: Path) -> None:
    inp, out = tmp_path / "empty.jsonl", tmp_path / "scores.jsonl"
    inp.write_text("")
    out.write_text("previous run\n")
    assert_one_line_error(_score(inp, out), "no items")
    assert out.read_text() == "previous run\n"
    assert {p.name for p in tmp_path.iterdir()} == {"empty.jsonl", "scores.jsonl"}  # no temporary file left


def test_missing_option_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(medzero_eval("score", "--input", tmp_path / "x.jsonl"), "--scorer", "--help")


def test_a_bug_still_raises(tmp_path: Path, records: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Only user errors become one line: a scorer that crashes is a bug and keeps its exception."""

    class Broken(Scorer):
        name = "h6_broken_for_test"

        def score(self, completion: str, reference: Any) -> Score:
            raise RuntimeError("scorer bug")

    monkeypatch.setitem(registry._REGISTERED, "h6_broken_for_test", lambda **_: Broken())  # gone after the test
    inp = _jsonl(tmp_path / "c.jsonl", [{"completion": GOOD, "reference": records[0]}])
    result = CliRunner().invoke(main, ["score", "--scorer", "h6_broken_for_test", "--input", str(inp), "--no-progress"])
    assert isinstance(result.exception, RuntimeError) and result.exit_code == 1


# -------------------------------------------------------------------------------------- score-ehrsql


def _score_ehrsql(db: Path, labels: Path, preds: Path, per_q: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return medzero_eval("score-ehrsql", "--db", db, "--labels", labels, "--predictions", preds, "--workers", "0",
                        "--per-question", per_q, *extra)


@pytest.mark.parametrize("content", [b"", b"SQLite format 3\x00" + bytes(100), b"not a database at all\n" * 200])
def test_score_ehrsql_refuses_a_broken_database(ehrsql_dir: Path, tmp_path: Path, content: bytes) -> None:
    db, per_q = tmp_path / "mimic_iv.sqlite", tmp_path / "per_question.jsonl"
    db.write_bytes(content)
    labels = ehrsql_dir / "valid" / "label.json"
    for extra in ((), ("--allow-errors",)):
        proc = _score_ehrsql(db, labels, labels, per_q, *extra)
        assert_one_line_error(proc, str(db), "EHRSQL 2024", "with --db")
        assert not per_q.exists()


def test_broken_database_refused_even_with_gold_answers(ehrsql_dir: Path, tmp_path: Path) -> None:
    """Gold results given (no gold SQL runs), database garbage: refused when the scorer is built, in both
    commands, instead of scoring every answerable prediction -1 as an SQL error."""
    db, per_q, out = tmp_path / "mimic_iv.sqlite", tmp_path / "per_question.jsonl", tmp_path / "scores.jsonl"
    db.write_bytes(b"not a database at all\n" * 200)
    test = ehrsql_dir / "test"
    proc = _score_ehrsql(db, test / "label.json", test / "label.json", per_q, "--gold-answers", test / "answer.json")
    assert_one_line_error(proc, str(db), "not an SQLite database", "EHRSQL 2024")
    assert not per_q.exists()

    from medzero_eval.records import load_ehrsql

    recs = [r for r in load_ehrsql(ehrsql_dir, "valid", answers="answer_rebuilt.json") if r["label"] != "null"][:3]
    assert all(r["answer"] is not None for r in recs)  # gold results given: the gold SQL is never run
    inp = _jsonl(tmp_path / "sql.jsonl", [{"completion": f"<think>t</think><answer>{r['label']}</answer>",
                                           "reference": r} for r in recs])
    proc = medzero_eval("score", "--scorer", "ehrsql", "--input", inp, "--set", f"db_path={db}", "--set", "workers=0",
                        "--output", out, "--no-progress")
    assert_one_line_error(proc, "--set", str(db), "not an SQLite database")
    assert not out.exists()


def test_score_ehrsql_refuses_a_database_that_runs_no_gold_query(ehrsql_dir: Path, tmp_path: Path) -> None:
    """Every EHRSQL table is there with a row, but not the columns the gold SQL reads (another schema):
    no gold answer can be computed, so the run is refused -- even with --allow-errors."""
    import sqlite3

    (schema,) = json.loads((ehrsql_dir / "tables.json").read_text())
    db, per_q = tmp_path / "other_schema.sqlite", tmp_path / "per_question.jsonl"
    with sqlite3.connect(db) as con:
        for table in schema["table_names_original"]:
            con.execute(f'CREATE TABLE "{table}" (other_column INTEGER)')
            con.execute(f'INSERT INTO "{table}" VALUES (1)')
    con.close()
    labels = ehrsql_dir / "valid" / "label.json"
    gold = json.loads(labels.read_text())
    n_answerable = sum(v != "null" for v in gold.values())
    for extra in ((), ("--allow-errors",)):
        proc = _score_ehrsql(db, labels, labels, per_q, *extra)
        assert_one_line_error(proc, str(db), f"{n_answerable} of {len(gold)} items",
                              "gold SQL failed on this database: OperationalError: no such column",
                              "no metric can be reported", "--gold-answers")
        assert not per_q.exists()


def test_score_ehrsql_refuses_no_questions(ehrsql_dir: Path, tmp_path: Path) -> None:
    empty, per_q = tmp_path / "label.json", tmp_path / "per_question.jsonl"
    empty.write_text("{}")
    proc = _score_ehrsql(ehrsql_dir / "mimic_iv.sqlite", empty, empty, per_q)
    assert_one_line_error(proc, f"{empty}: no questions", "label.json")
    assert not per_q.exists()


def test_score_ehrsql_bad_prediction_file_names_file_and_line(ehrsql_dir: Path, tmp_path: Path) -> None:
    preds, per_q = tmp_path / "prediction.json", tmp_path / "per_question.jsonl"
    preds.write_text('{\n  "a": "SELECT 1",\n  "b": SELECT\n}\n')
    proc = _score_ehrsql(ehrsql_dir / "mimic_iv.sqlite", ehrsql_dir / "valid" / "label.json", preds, per_q)
    assert_one_line_error(proc, f"{preds}:3:", "not valid JSON", '{id: SQL or "null"}')
    preds.write_bytes(b'{"a": "SELECT \xff"}')
    proc = _score_ehrsql(ehrsql_dir / "mimic_iv.sqlite", ehrsql_dir / "valid" / "label.json", preds, per_q)
    assert_one_line_error(proc, f"{preds}:1:", "not UTF-8")
    assert not per_q.exists()


# ----------------------------------------------------------------------------------------------- run


def _run_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDZERO_", "HF_"))}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"), OMP_NUM_THREADS="1")
    return env


def _medzero_eval_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`medzero-eval run` on a model folder that does not exist: lm-eval would fail on the model
    first, so an error about the data proves the data was checked before any model load."""
    model = tmp_path / "no-such-model"
    return subprocess.run(
        [sys.executable, "-m", "medzero_eval.cli", "run", "--model", "hf", "--model_args", f"pretrained={model}",
         *args], capture_output=True, text=True, timeout=180, env=_run_env(tmp_path))


def test_run_missing_rarearena_file_is_one_line_before_the_model(tmp_path: Path) -> None:
    missing = tmp_path / "RDC.json"
    proc = _medzero_eval_run(tmp_path, "--tasks", "rarearena_rdc", "--metadata", json.dumps({"data_path": str(missing)}))
    assert_one_line_error(proc, str(missing), "data_path")
    assert "no-such-model" not in proc.stderr


def test_run_rarearena_offline_without_a_path_is_one_line(tmp_path: Path) -> None:
    proc = _medzero_eval_run(tmp_path, "--tasks", "rarearena")  # the group: rdc and rds, nothing cached
    assert_one_line_error(proc, "THUMedInfo/RareArena", "HF_HUB_OFFLINE", "data_path")


def test_run_missing_ehrsql_folder_is_one_line(tmp_path: Path, rarebench_dir: Path) -> None:
    folder = tmp_path / "ehrsql2024"
    folder.mkdir()
    proc = _medzero_eval_run(tmp_path, "--tasks", "rarebench_mme,ehrsql", "--metadata", f"ehrsql_dir={folder}")
    assert_one_line_error(proc, str(folder / "mimic_iv.sqlite"), "db_path")
    proc = _medzero_eval_run(tmp_path, "--tasks", "ehrsql")  # no folder given at all
    assert_one_line_error(proc, "ehrsql_dir", "MEDZERO_EHRSQL_DIR")


def test_run_adds_the_chat_template_and_sets_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`medzero-eval run` without --apply_chat_template sends the training chat prompts (system + user
    turns) to a served model -- lm-eval's chat-completions backend refuses to run without the flag --
    and --threads sets the CPU threads before lm-eval starts."""
    sys.path.insert(0, str(Path(__file__).parent))
    from fake_openai_server import FakeOpenAIServer

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    conversations: list[list[dict[str, str]]] = []

    def chat(body: dict[str, Any]) -> str:
        conversations.append(body["messages"])
        return GOOD

    with FakeOpenAIServer(chat=chat, models=["served"]) as server:
        result = CliRunner().invoke(main, [
            "run", "--model", "local-chat-completions", "--model_args",
            f"base_url={server.base_url}/chat/completions,model=served,num_concurrent=1,max_retries=1",
            "--tasks", "rarebench_mme", "--limit", "2", "--output_path", str(tmp_path / "out"), "--threads", "1",
        ])
    assert result.exit_code == 0, (result.output[-3000:], result.exception)
    assert [[m["role"] for m in c] for c in conversations] == [["system", "user"]] * 2
    assert "Phenotypes:" in conversations[0][1]["content"] and "<answer>" in conversations[0][0]["content"]
    assert "medzero-eval: 1 CPU thread (--threads" in result.stderr
    assert os.environ["OMP_NUM_THREADS"] == "1"


def test_run_options_are_taken_out_for_lm_eval() -> None:
    from medzero_eval.commands.run import split_medzero_options, with_chat_template

    rest, chat_template, threads = split_medzero_options(["--tasks", "ehrsql", "--no-chat-template", "--threads=3"])
    assert (rest, chat_template, threads) == (["--tasks", "ehrsql"], False, 3)
    assert with_chat_template(["run", "--tasks", "ehrsql"])[-1] == "--apply_chat_template"
    assert with_chat_template(["run", "--apply_chat_template", "--tasks", "x"]).count("--apply_chat_template") == 1
    assert with_chat_template(["ls", "tasks"]) == ["ls", "tasks"]
    shown = CliRunner().invoke(main, ["run", "--help"])
    assert shown.exit_code == 0 and "--no-chat-template" in shown.stdout and "--threads N" in shown.stdout
    assert "usage: lm-eval run" in shown.stdout
    result = CliRunner().invoke(main, ["run", "--threads", "many", "--tasks", "ehrsql"])
    assert result.exit_code == 2 and result.stderr.startswith("error: --threads needs a whole number")


@pytest.mark.parametrize(
    ("line", "fix"),
    [
        ('["not", "an", "object"]', "JSON Lines"),
        ('{"text": "x", "reference": {"diagnosis": "Fabry disease"}}', "--completion-field"),
        ('{"completion": 3, "reference": {"diagnosis": "Fabry disease"}}', "the completion's text"),
        ('{"completion": "x"}', "give each line its reference record"),
    ],
)
def test_every_malformed_line_error_names_the_line_and_a_fix(tmp_path: Path, line: str, fix: str) -> None:
    inp, out = tmp_path / "c.jsonl", tmp_path / "scores.jsonl"
    inp.write_text(json.dumps({"completion": GOOD, "reference": {"diagnosis": "Propionic acidemia"}}) + "\n"
                   + line + "\n")
    error = assert_one_line_error(_score(inp, out), f"{inp}:2: ", fix)
    assert " — " in error  # what is wrong — how to fix it
    assert not out.exists()


def test_run_broken_ehrsql_database_is_one_line_before_the_model(tmp_path: Path, ehrsql_dir: Path) -> None:
    """A garbage mimic_iv.sqlite in an otherwise complete EHRSQL folder is refused by the input check,
    not after the model has loaded, and the fix names the task option (not score-ehrsql's --db)."""
    folder = tmp_path / "ehrsql2024"
    (folder / "test").mkdir(parents=True)
    for name in ("data.json", "label.json"):
        (folder / "test" / name).write_bytes((ehrsql_dir / "test" / name).read_bytes())
    (folder / "tables.json").write_bytes((ehrsql_dir / "tables.json").read_bytes())
    db = folder / "mimic_iv.sqlite"
    with (ehrsql_dir / "mimic_iv.sqlite").open("rb") as fh:
        db.write_bytes(fh.read(4096) + b"\0" * 100)  # a torn copy
    proc = _medzero_eval_run(tmp_path, "--tasks", "ehrsql", "--metadata", json.dumps({"ehrsql_dir": str(folder)}))
    line = assert_one_line_error(proc, str(db), "truncated", "--metadata", "db_path")
    assert "--db " not in line and "no-such-model" not in proc.stderr


def test_judge_without_its_api_key_is_one_line(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    inp = _jsonl(tmp_path / "c.jsonl", [{"completion": GOOD, "reference": records[0]}])
    out = tmp_path / "scores.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "MEDZERO_TEST_NO_KEY"}
    env["MEDZERO_TEST_NO_KEY"] = ""
    judge = json.dumps({"model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "MEDZERO_TEST_NO_KEY"})
    proc = subprocess.run([sys.executable, "-m", "medzero_eval.cli", "score", "--scorer", "rarearena_rds", "--input",
                           str(inp), "--output", str(out), "--no-progress", "--set", f"judge={judge}"],
                          capture_output=True, text=True, timeout=180, env=env)
    assert_one_line_error(proc, "--set: judge:", "MEDZERO_TEST_NO_KEY", "leave the judge out")
    assert not out.exists()


def test_run_diagnosis_scorer_it_cannot_build_is_one_line_before_the_model(tmp_path: Path) -> None:
    """A judge without its API key or a missing hierarchy file stops `run` in one line before the model
    loads -- not a Status.error on every item after all the generation."""
    judge = {"model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "MEDZERO_TEST_NO_KEY"}
    proc = _medzero_eval_run(tmp_path, "--tasks", "rarebench_mme", "--metadata", json.dumps({"judge": judge}))
    assert_one_line_error(proc, "rarearena_rds", "MEDZERO_TEST_NO_KEY", "--metadata")
    missing = tmp_path / "orphanet_hypernym.json"
    proc = _medzero_eval_run(tmp_path, "--tasks", "rarebench", "--metadata", json.dumps({"hierarchy_path": str(missing)}))
    assert_one_line_error(proc, str(missing), "hierarchy_path")
    assert "no-such-model" not in proc.stderr


def test_run_lm_eval_option_errors_are_one_line(tmp_path: Path) -> None:
    """What lm-eval itself rejects (--metadata that is not JSON, a task name it does not know) is one line,
    not lm-eval's traceback, and comes before any model loads."""
    proc = _medzero_eval_run(tmp_path, "--tasks", "rarebench_mme", "--metadata", "{bad")
    assert_one_line_error(proc, "lm-eval options", "Invalid JSON", "{bad")
    proc = _medzero_eval_run(tmp_path, "--tasks", "rarebench_mme,rarebench_nope")
    line = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert line.startswith("error: lm-eval options: Tasks not found: rarebench_nope") and "lm_eval list tasks" in line
    assert "no-such-model" not in proc.stderr


@pytest.mark.parametrize("damaged", ["test/label.json", "test/data.json", "tables.json"])
def test_run_damaged_ehrsql_file_is_one_line_before_the_model(tmp_path: Path, ehrsql_dir: Path, damaged: str) -> None:
    """A truncated download of one EHRSQL file: one line naming it (and the release to get it from), before
    any model loads -- not a JSONDecodeError traceback from inside lm-eval's task loading."""
    folder = tmp_path / "ehrsql2024"
    (folder / "test").mkdir(parents=True)
    for name in ("test/data.json", "test/label.json", "tables.json"):
        data = (ehrsql_dir / name).read_bytes()
        (folder / name).write_bytes(data[: len(data) // 2] if name == damaged else data)
    (folder / "mimic_iv.sqlite").symlink_to(ehrsql_dir / "mimic_iv.sqlite")
    proc = _medzero_eval_run(tmp_path, "--tasks", "ehrsql", "--metadata", json.dumps({"ehrsql_dir": str(folder)}))
    assert_one_line_error(proc, str(folder / damaged), "not valid JSON", "ehrsql-2024")
    assert "no-such-model" not in proc.stderr


def test_run_damaged_rarearena_file_names_the_line(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    rdc = tmp_path / "RDC.json"
    good = json.dumps({"_id": "1", "case_report": records[0]["case_report"], "diagnosis": records[0]["diagnosis"]})
    rdc.write_text(good + "\n" + good[: len(good) // 2] + "\n", encoding="utf-8")
    proc = _medzero_eval_run(tmp_path, "--tasks", "rarearena_rdc", "--metadata", json.dumps({"data_path": str(rdc)}))
    assert_one_line_error(proc, f"{rdc}:2: not a JSON Lines record", "RDC.json")
    assert "no-such-model" not in proc.stderr
