"""`medzero-eval score` and `medzero_eval.scoring` on real records with realistic completions.

The printed aggregate must be exactly ``get_scorer(...).aggregate(get_scorer(...).score_batch(...))``:
the offline score is the same code path as the lm-eval metric and the RL reward.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from medzero_rewards import get_scorer

from medzero_eval.cli import main
from medzero_eval.records import load_ehrsql, load_rarebench
from medzero_eval.scoring import InputError, build_config, read_items, score_records, score_to_json

THINK = "<think>Metabolic acidosis with hyperammonaemia in a neonate points to an organic aciduria.</think>"


@pytest.fixture(scope="module")
def by_id() -> dict[str, dict[str, Any]]:
    return {r["_id"]: r for subset in ("lirical", "ramedis") for r in load_rarebench(subset)}


@pytest.fixture(scope="module")
def cases(by_id: dict[str, dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, completion, reference) on real RareBench records."""
    assert by_id["lirical-201"]["diagnosis"] == "Diamond-Blackfan anemia"
    assert by_id["ramedis-16"]["diagnosis"] == "Propionic acidemia"
    assert by_id["ramedis-42"]["diagnosis"] == "Citrullinemia type I"
    return [
        ("correct", f"{THINK}<answer>Propionic acidemia</answer>", by_id["ramedis-16"]),
        ("british", "<think>Macrocytic anaemia, thumb anomalies.</think><answer>Diamond-Blackfan anaemia</answer>",
         by_id["lirical-201"]),
        ("sibling", f"{THINK}<answer>Isovaleric acidemia</answer>", by_id["ramedis-16"]),  # same Orphanet parent
        ("format", "The most likely diagnosis is propionic acidemia.", by_id["ramedis-16"]),
        ("mixed", "<think>新生儿代谢性酸中毒，高氨血症。</think><answer>Propionic acidemia</answer>", by_id["ramedis-16"]),
        ("hypernym", f"{THINK}<answer>Citrullinemia</answer>", by_id["ramedis-42"]),
    ]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def test_score_cli_diagnosis(tmp_path: Path, cases: list, orphanet_path: Path) -> None:
    # nested shape for most lines, the flat shape for one
    rows: list[dict[str, Any]] = [{"id": i, "completion": c, "reference": r} for i, c, r in cases[:-1]]
    hid, hcompletion, href = cases[-1]
    rows.append({**href, "completion": hcompletion})  # flat: the id comes from the record's _id
    inp = _write_jsonl(tmp_path / "completions.jsonl", rows)
    cfg = tmp_path / "scorer.json"
    cfg.write_text(json.dumps({"hierarchy_path": str(orphanet_path)}))
    out = tmp_path / "scores.jsonl"
    result = _invoke("score", "--scorer", "rarearena_rdc", "--input", str(inp), "--config", str(cfg),
                     "--output", str(out), "--no-progress")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)

    scorer = get_scorer("rarearena_rdc", hierarchy_path=str(orphanet_path))
    completions, references = [c for _, c, _ in cases], [r for _, _, r in cases]
    expected_scores = get_scorer("rarearena_rdc", hierarchy_path=str(orphanet_path)).score_batch(completions, references)
    assert printed == scorer.aggregate(expected_scores)

    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    ids = [i for i, _, _ in cases[:-1]] + [href["_id"]]
    assert [ln["id"] for ln in lines] == ids
    assert lines == [score_to_json(i, s) for i, s in zip(ids, expected_scores)]
    got = dict(zip([i for i, _, _ in cases], lines))
    assert got["correct"]["correct"] and got["correct"]["status"] == "ok" and got["correct"]["details"]["top1"]
    assert got["british"]["correct"] and got["british"]["extracted"] == "Diamond-Blackfan anaemia"
    assert not got["sibling"]["correct"] and got["sibling"]["tier"] == "none"
    assert got["sibling"]["reward"] < got["correct"]["reward"]
    assert got["format"]["status"] == "format_error" and got["format"]["details"]["format_ok"] is False
    assert got["format"]["reward"] == 0.0
    assert got["mixed"]["details"]["mixed_language"] is True and got["correct"]["details"]["mixed_language"] is False
    assert got["hypernym"]["tier"] == "hypernym" and got["hypernym"]["details"]["hypernym"] is True
    assert not got["hypernym"]["correct"]
    # the numbers the cases imply
    assert printed["n"] == 6 and isinstance(printed["n"], int)  # the aggregate() convention: n an int
    # stderr: one human-readable summary line (percentages with one decimal, seconds)
    summary = result.stderr.splitlines()[-1]
    assert re.fullmatch(r"6 items in \d+\.\d s: .*", summary), summary
    assert "top1 50.0%" in summary and "format_rate 83.3%" in summary and "mixed_language_rate 16.7%" in summary
    assert printed["top1"] == pytest.approx(3 / 6)  # correct, british, mixed
    assert printed["format_rate"] == pytest.approx(5 / 6)
    assert printed["mixed_language_rate"] == pytest.approx(1 / 6)
    assert printed["hypernym_rate"] == pytest.approx(1 / 6)
    assert printed["mean_length"] == pytest.approx(sum(ln["details"]["n_chars"] for ln in lines) / 6)


def test_score_cli_set_ranked_and_chunks(tmp_path: Path, by_id: dict[str, dict[str, Any]]) -> None:
    ref = by_id["ramedis-16"]
    ranked = [
        f"{THINK}<answer>1. Isovaleric acidemia\n2. Propionic acidemia\n3. Methylmalonic acidemia</answer>",
        f"{THINK}<answer>1. Propionic acidemia\n2. Isovaleric acidemia</answer>",
        f"{THINK}<answer>1. Isovaleric acidemia\n2. Maple syrup urine disease</answer>",
    ]
    inp = _write_jsonl(tmp_path / "c.jsonl", [{"completion": c, "reference": ref} for c in ranked])
    result = _invoke("score", "--scorer", "rarearena_rdc", "--input", str(inp), "--set", "answer_format=ranked",
                     "--set", "k=5", "--batch-size", "2", "--no-progress")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    scorer = get_scorer("rarearena_rdc", answer_format="ranked", k=5)
    assert printed == scorer.aggregate(scorer.score_batch(ranked, [ref] * 3))
    assert printed["top1"] == pytest.approx(1 / 3) and printed["top5"] == pytest.approx(2 / 3)


def test_score_records_library(cases: list) -> None:
    completions, references = [c for _, c, _ in cases], [r for _, _, r in cases]
    scores, metrics = score_records("rarearena_rds", completions, references, batch_size=4, progress=False)
    scorer = get_scorer("rarearena_rds")
    assert [s.model_dump() for s in scores] == [s.model_dump() for s in scorer.score_batch(completions, references)]
    assert metrics == scorer.aggregate(scores)
    with pytest.raises(ValueError, match="2 completions but 1 references"):
        score_records("rarearena_rds", completions[:2], references[:1], progress=False)


def test_custom_fields_and_stdin(tmp_path: Path, by_id: dict[str, dict[str, Any]]) -> None:
    ref = by_id["ramedis-16"]
    line = json.dumps({"uid": 7, "output": f"{THINK}<answer>Propionic acidemia</answer>", "record": ref})
    result = CliRunner().invoke(main, ["score", "--scorer", "rarearena_rdc", "--input", "-", "--completion-field",
                                       "output", "--reference-field", "record", "--no-progress"], input=line + "\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["top1"] == 1.0


def test_bad_lines_name_the_line(tmp_path: Path, by_id: dict[str, dict[str, Any]]) -> None:
    ref = by_id["ramedis-16"]
    good = json.dumps({"completion": "x", "reference": ref})
    for bad, message in [
        ("{not json", "not valid JSON"),
        (json.dumps({"reference": ref}), "no 'completion' field"),
        (json.dumps({"completion": 3, "reference": ref}), "'completion' must be a string"),
        (json.dumps([1, 2]), "expected a JSON object"),
    ]:
        inp = tmp_path / "bad.jsonl"
        inp.write_text(f"{good}\n\n{bad}\n")
        result = _invoke("score", "--scorer", "rarearena_rdc", "--input", str(inp), "--no-progress")
        assert result.exit_code == 2
        assert result.stderr.startswith(f"error: {inp}:3: {message}") and len(result.stderr.splitlines()) == 1
        with pytest.raises(InputError, match=f":3: {message}"):
            read_items(inp)
    result = _invoke("score", "--scorer", "no_such_scorer", "--input", str(inp))
    assert result.exit_code == 2 and "unknown scorer 'no_such_scorer'" in result.output
    result = _invoke("score", "--scorer", "rarearena_rdc", "--input", str(inp), "--set", "novalue")
    assert result.exit_code == 2 and "key=value" in result.output


def test_build_config_parses_json_values(tmp_path: Path) -> None:
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"answer_format": "ranked", "k": 5}))
    assert build_config(cfg, ["k=3", "judge=null", "expected_script=Latin"]) == {
        "answer_format": "ranked", "k": 3, "judge": None, "expected_script": "Latin"
    }


def test_score_runs_without_lm_eval_or_matplotlib(tmp_path: Path, by_id: dict[str, dict[str, Any]]) -> None:
    """`medzero-eval score` never imports lm-eval or matplotlib (they are optional extras)."""
    inp = _write_jsonl(tmp_path / "c.jsonl", [{"completion": f"{THINK}<answer>Propionic acidemia</answer>",
                                               "reference": by_id["ramedis-16"]}])
    script = textwrap.dedent(f"""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("lm_eval", "matplotlib"):
                    raise ImportError(f"blocked: {{name}}")
                return None

        sys.meta_path.insert(0, Block())
        from medzero_eval.cli import main
        main(["score", "--scorer", "rarearena_rdc", "--input", {str(inp)!r}, "--no-progress"])
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["top1"] == 1.0


def test_score_cli_ehrsql_on_the_real_database(tmp_path: Path, ehrsql_dir: Path) -> None:
    recs = load_ehrsql(ehrsql_dir, "valid", answers="answer_rebuilt.json")
    answerable = [r for r in recs if r["label"] != "null"][:3]
    unanswerable = next(r for r in recs if r["label"] == "null")
    think = "<think>The route is in prescriptions.route.</think>"
    cases = [
        ("gold", f"{think}<answer>{answerable[0]['label']}</answer>", answerable[0]),
        ("wrong", f"{think}<answer>SELECT COUNT(*) FROM patients</answer>", answerable[1]),
        ("abstain_answerable", f"{think}<answer>null</answer>", answerable[2]),
        ("abstain_null", f"{think}<answer>null</answer>", unanswerable),
        ("sql_error", f"{think}<answer>SELECT route FROM no_such_table</answer>", answerable[0]),
    ]
    inp = _write_jsonl(tmp_path / "sql.jsonl", [{"id": i, "completion": c, "reference": r} for i, c, r in cases])
    out = tmp_path / "scores.jsonl"
    db = ehrsql_dir / "mimic_iv.sqlite"
    result = _invoke("score", "--scorer", "ehrsql", "--input", str(inp), "--set", f"db_path={db}",
                     "--set", "workers=0", "--output", str(out), "--no-progress")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    scorer = get_scorer("ehrsql", db_path=str(db), workers=0)
    expected = scorer.score_batch([c for _, c, _ in cases], [r for _, _, r in cases])
    assert printed == json.loads(json.dumps(scorer.aggregate(expected)))
    got = {ln["id"]: ln for ln in map(json.loads, out.read_text().splitlines())}
    assert [got[i]["details"]["outcome"] for i, _, _ in cases] == [1, -1, 0, 1, -1]
    assert got["gold"]["correct"] and got["abstain_null"]["correct"]
    assert got["sql_error"]["status"] == "sql_error" and "no such table" in got["sql_error"]["details"]["error"]
    assert got["abstain_answerable"]["status"] == "abstained"
    # the official reliability scores over these five: (1 - 1 + 0 + 1 - 1) / 5, and -N penalties
    assert printed["accuracy0"] == pytest.approx(40.0)
    assert printed["accuracy5"] == pytest.approx((1 + 0 + 1 - 5 - 5) / 5 * 100)
    assert printed["error_rate"] == pytest.approx(1 / 5)  # a fraction (aggregate convention), unlike accuracyN
