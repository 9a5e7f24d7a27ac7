"""Benchmark: the slowest item of the worst input shapes at 8-96 KB, on every preset, against 50 ms.

Issue 13 ("bounded time on every item"): no item under 100 KB may take more than 50 ms on any
preset. This script feeds hostile shapes at 8, 16, 32, 64 and 96 KB to

* ``rarearena_rdc`` preset ``diagnosis_zero`` (the seed's reward shape and extraction),
* ``rarearena_rdc`` preset ``recommended``, single answer and ranked list (with the Orphanet hierarchy),
* ``rarearena_rds`` (``recommended``, single, no hierarchy),
* ``ehrsql`` with ``workers=0`` (in-process) and ``workers=1`` (one worker process), on the real database,
* the judge reply parser (``medzero_rewards.judge.parse_grades``),

and prints, per (preset, shape), the time of the slowest item, the item's status at the largest
size (``ok``, ``format``, ``error`` when an input cap refused it, ...; ``graded``/``unparsed`` for
the parser) and a verdict against the 50 ms target. One item's time is ``score()`` with the Score's fields and details read, or ``score_batch()`` of that
item with its Score read, each on a fresh diagnosis scorer (name caches cleared; the EHRSQL scorers
are built once, their worker pool started and the gold result computed before timing),
reported as separate rows (``score`` / ``batch``); the best of ``--repeats`` runs (an item over
4x the target is not repeated: it misses either way).

Baseline, same run, same input: one linear pass over the item's text (``str.split`` and
``str.lower``), printed as the ratio item / baseline at the slowest size: a ratio that grows with
the size means the path is not linear.

Shapes (issue 13 item 5, then ours): ``answer_tags`` (``<answer>`` repeated: the seed regex's O(n^2)),
``short_lines`` (an answer of many 2-byte lines: 48,000 at 96 KB), ``lt`` (only ``<``),
``sql_printf`` (``printf('%.*c', 1000000000, 'x')``), ``sql_instr`` (``instr`` over two 1 MB
strings), ``reply_brackets`` / ``reply_braces`` (judge replies of only ``[`` / ``{``);
``or_candidates`` ("A or B or C ..."), ``deep_parens``, ``ranked_list``, ``no_spaces`` (one
unbroken word), ``think_tags`` (many ``<think>`` blocks), ``mixed_scripts`` (ten scripts
interleaved), ``tag_soup`` (unbalanced, unclosed tags), ``sql_long`` (one SELECT with thousands of
OR terms), ``sql_nested`` (deeply nested sub-selects), ``reply_fences`` (judge replies of many
fenced blocks), ``reply_grade_lines`` (many "grade: N" lines). SQL and reply shapes go to the scorers
they target (the SQL padded with reasoning to the size); the text shapes go to every scorer.

    python bench/bench_worst_case.py                  # every preset, every shape, 8..96 KB
    python bench/bench_worst_case.py --check          # exit 1 when any item under 100 KB exceeds 50 ms
    python bench/bench_worst_case.py --small          # 8 and 16 KB, one repeat (the test suite's run)
    python bench/bench_worst_case.py --presets ehrsql_w0,judge_parser --shapes sql_printf,lt

Without ``--check`` it always exits 0 (the verdicts are printed). A shape that took more than
``--give-up`` seconds (default 1) at one size is not run at the larger sizes of that preset (verdict
MISS). An exception is printed as the verdict ``EXC``; it is a miss too.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TARGET_S = 0.050
SIZES_KB = (8, 16, 32, 64, 96)
SCRIPTS = (
    "Wilson disease ",  # Latin
    "болезнь Вильсона ",  # Cyrillic
    "威尔逊病 ",  # Han
    "مرض ويلسون ",  # Arabic
    "विल्सन रोग ",  # Devanagari
    "νόσος Wilson ",  # Greek
    "מחלת וילסון ",  # Hebrew
    "ウィルソン病 ",  # Katakana + Han
    "윌슨병 ",  # Hangul
    "โรควิลสัน ",  # Thai
)
DISEASES = (
    "Wilson disease", "Fabry disease", "Gaucher disease", "Pompe disease", "Menkes disease",
    "Marfan syndrome", "Alport syndrome", "Niemann-Pick disease type C", "Cystic fibrosis",
    "Amyotrophic lateral sclerosis", "Long chain 3-hydroxyacyl-CoA dehydrogenase deficiency",
)  # fmt: skip
PAD_WORDS = "the patient presented with progressive hepatic and neurological signs ".split()
GOLD_DIAGNOSIS = "Long chain 3-hydroxyacyl-CoA dehydrogenase deficiency"  # Orphanet id 5


# ------------------------------------------------------------------------------------------------ shapes


def _fill(unit: str, size: int) -> str:
    """``unit`` repeated to exactly ``size`` characters."""
    return (unit * (size // max(1, len(unit)) + 1))[:size]


def _pad(prefix_len: int, size: int) -> str:
    """Plausible reasoning words of ``size - prefix_len`` characters (at least 0)."""
    return _fill(" ".join(PAD_WORDS) + " ", max(0, size - prefix_len))


def _in_answer(body_size: int, body: Callable[[int], str]) -> str:
    head, tail = "<think>short</think><answer>", "</answer>"
    return head + body(body_size - len(head) - len(tail)) + tail


# Just under the diagnosis scorer's default ``max_answer_chars`` (4,000): the largest answer it still reads.
READ_ANSWER_CHARS = 3_900


def _reasoning_then_answer(size: int, body: Callable[[int], str]) -> str:
    """Reasoning padding, then an answer of READ_ANSWER_CHARS built by ``body``: ``size`` characters in all."""
    tail = "</think><answer>" + body(READ_ANSWER_CHARS) + "</answer>"
    return "<think>" + _pad(len(tail) + 7, size) + tail


def _sql_completion(sql: str, size: int) -> str:
    tail = f"</think><answer>{sql}</answer>"
    return "<think>" + _pad(len(tail) + 7, size) + tail


def _lines(n_chars: int) -> str:
    return _fill("a\n", n_chars)


def _ranked(n_chars: int) -> str:
    out: list[str] = []
    total, i = 0, 0
    while total < n_chars:
        line = f"{i + 1}. {DISEASES[i % len(DISEASES)]}\n"
        out.append(line)
        total += len(line)
        i += 1
    return "".join(out)[:n_chars]


def _sql_long(size: int) -> str:
    terms: list[str] = []
    total, i = 0, 0
    while total < size - 200:
        t = f"patients.subject_id = {10000000 + i}"
        terms.append(t)
        total += len(t) + 4
        i += 1
    return "SELECT COUNT(*) FROM patients WHERE " + " OR ".join(terms)


def _sql_nested(size: int) -> str:
    depth = max(1, (size - 200) // 40)
    return "SELECT COUNT(*) FROM patients WHERE subject_id IN (" + "SELECT subject_id FROM patients WHERE subject_id IN (" * depth + "1" + ")" * (depth + 1)


TEXT_SHAPES: dict[str, Callable[[int], str]] = {
    "answer_tags": lambda n: _fill("<answer>", n),
    "short_lines": lambda n: _in_answer(n, _lines),
    "lt": lambda n: "<" * n,
    "or_candidates": lambda n: _in_answer(n, lambda m: _fill(" or ".join(DISEASES) + " or ", m)),
    "deep_parens": lambda n: _in_answer(n, lambda m: "(" * ((m - 14) // 2) + "Wilson disease" + ")" * ((m - 14) // 2)),
    "ranked_list": lambda n: _in_answer(n, _ranked),
    "no_spaces": lambda n: _in_answer(n, lambda m: _fill("Wilsondisease", m)),
    "think_tags": lambda n: _fill("<think>x</think>", n - 40) + "<answer>Wilson disease</answer>",
    "mixed_scripts": lambda n: _in_answer(n, lambda m: _fill("".join(SCRIPTS), m)),
    "gold_slashes": lambda n: _in_answer(n, lambda m: _fill("Wilson disease/", m)),
    "gold_commas": lambda n: _in_answer(n, lambda m: _fill("Wilson disease, ", m)),
    "tag_soup": lambda n: _fill("<answer><think></answer <answer></think><ans</answer>>", n),
}
# The same answer bodies at the size the diagnosis reader still reads (larger answers are refused unread).
_READ_BODIES: dict[str, Callable[[int], str]] = {
    "short_lines": _lines,
    "or_candidates": lambda m: _fill(" or ".join(DISEASES) + " or ", m),
    "deep_parens": lambda m: "(" * ((m - 14) // 2) + "Wilson disease" + ")" * ((m - 14) // 2),
    "ranked_list": _ranked,
    "no_spaces": lambda m: _fill("Wilsondisease", m),
    "mixed_scripts": lambda m: _fill("".join(SCRIPTS), m),
    "gold_slashes": lambda m: _fill("Wilson disease/", m),
    "gold_commas": lambda m: _fill("Wilson disease, ", m),
    "hedges": lambda m: _fill("Wilson disease, most likely ", m),
    "findings_then_name": lambda m: _fill("The findings are consistent with ", m - 20) + "Wilson disease.",
}
TEXT_SHAPES.update({
    f"{name}@read": (lambda n, body=body: _reasoning_then_answer(n, body)) for name, body in _READ_BODIES.items()
})
SQL_SHAPES: dict[str, Callable[[int], str]] = {
    "sql_printf": lambda n: _sql_completion("SELECT printf('%.*c', 1000000000, 'x')", n),
    "sql_instr": lambda n: _sql_completion(
        "SELECT instr(printf('%.*c', 1000000, 'x') || 'y', printf('%.*c', 1000000, 'x') || 'z')", n
    ),
    "sql_long": lambda n: _sql_completion(_sql_long(n), n),
    "sql_nested": lambda n: _sql_completion(_sql_nested(n), n),
    # an unclosed code fence followed by letters: cubic backtracking in the old extract_sql
    "sql_open_fence": lambda n: "<think>x</think><answer>```" + "a" * (n - 40) + "</answer>",
}
REPLY_SHAPES: dict[str, Callable[[int], str]] = {
    "reply_brackets": lambda n: "[" * n,
    "reply_braces": lambda n: "{" * n,
    "reply_fences": lambda n: _fill('```json\n{"grades": [2\n```\n', n),
    "reply_grade_lines": lambda n: _fill("rank 1. grade: 2\n", n),
    "reply_nested_valid": lambda n: '{"grades": ' + "[" * ((n - 20) // 2) + "2" + "]" * ((n - 20) // 2) + "}",
}


# ------------------------------------------------------------------------------------------------ targets


@dataclass
class Target:
    """One preset: how to build it fresh, how to run one item, which shapes it gets."""

    name: str
    build: Callable[[], Any]
    run: Callable[[Any, str], tuple[float, str]]  # (seconds, outcome) for one item on a fresh/cleared target
    shapes: dict[str, Callable[[int], str]]
    close: Callable[[Any], None] = lambda _: None
    reuse: bool = False  # build once (worker pool) instead of once per item


def _clear_name_caches() -> None:
    """Clear every functools cache of medzero_rewards except the hierarchy file loader."""
    for mod_name, mod in list(sys.modules.items()):
        if not mod_name.startswith("medzero_rewards") or mod is None:
            continue
        for attr in list(vars(mod).values()):
            clear = getattr(attr, "cache_clear", None)
            if callable(clear) and getattr(attr, "__name__", "") != "load_hierarchy":
                clear()


def _read_score(score: Any) -> str:
    """Touch everything a caller reads (a Score may be built lazily); return its status."""
    finite = math.isfinite(float(score.reward))
    _ = (score.status, score.reason, score.correct, dict(score.components), dict(score.details or {}))
    if not finite:
        raise ValueError(f"reward is not finite: {score.reward!r}")
    return str(getattr(score.status, "value", score.status))


def _scorer_run(reference: dict[str, Any]) -> Callable[[Any, str], float]:
    def run(scorer: Any, text: str) -> tuple[float, str]:
        t = time.perf_counter()
        status = _read_score(scorer.score(text, reference))
        return time.perf_counter() - t, status

    return run


def _batch_run(reference: dict[str, Any]) -> Callable[[Any, str], float]:
    def run(scorer: Any, text: str) -> tuple[float, str]:
        t = time.perf_counter()
        batch = scorer.score_batch([text], [reference])
        status = _read_score(batch[0])
        return time.perf_counter() - t, status

    return run


def _targets(data: Path, ehrsql_timeout_s: float) -> list[Target]:
    from medzero_rewards import get_scorer
    from medzero_rewards.judge import VerdictParseError, parse_grades

    hierarchy = data / "rarearena" / "orphanet_hypernym.json"
    hkw: dict[str, Any] = {"hierarchy_path": str(hierarchy)} if hierarchy.is_file() else {}
    dx_ref = {"diagnosis": GOLD_DIAGNOSIS, "Orpha_name": GOLD_DIAGNOSIS, "Orpha_id": "5"}

    def diag(name: str, preset_name: str, **kw: Any) -> list[Target]:
        def build() -> Any:
            _clear_name_caches()
            return get_scorer(name, **kw)

        return [
            Target(f"{preset_name} score", build, _scorer_run(dx_ref), TEXT_SHAPES),
            Target(f"{preset_name} batch", build, _batch_run(dx_ref), TEXT_SHAPES),
        ]

    out = [
        *diag("rarearena_rdc", "diagnosis_zero", preset="diagnosis_zero"),
        *diag("rarearena_rdc", "recommended single", **hkw),
        *diag("rarearena_rdc", "recommended ranked", answer_format="ranked", **hkw),
        *diag("rarearena_rds", "rarearena_rds", **hkw),
    ]

    db = data / "ehrsql2024" / "mimic_iv.sqlite"
    if db.is_file():
        labels = json.loads((data / "ehrsql2024" / "valid" / "label.json").read_text())
        qid = next(k for k, v in labels.items() if v != "null")
        sql_ref = {"id": qid, "label": labels[qid]}
        for workers in (0, 1):

            def build(workers: int = workers) -> Any:
                scorer = get_scorer("ehrsql", db_path=str(db), workers=workers, timeout_s=ehrsql_timeout_s)
                scorer.score(f"<answer>{labels[qid]}</answer>", sql_ref)  # gold result computed, untimed
                return scorer

            def close(scorer: Any) -> None:
                closer = getattr(scorer, "close", None)
                if callable(closer):
                    closer()

            shapes = {**TEXT_SHAPES, **SQL_SHAPES}
            out.append(Target(f"ehrsql_w{workers} score", build, _scorer_run(sql_ref), shapes, close, reuse=True))
            out.append(Target(f"ehrsql_w{workers} batch", build, _batch_run(sql_ref), shapes, close, reuse=True))
    else:
        print(f"(no EHRSQL database at {db}: ehrsql presets skipped)")

    def parse_run(_: Any, text: str) -> tuple[float, str]:
        t = time.perf_counter()
        try:
            parse_grades(text, 5)
            outcome = "graded"
        except VerdictParseError:
            outcome = "unparsed"  # a defined outcome: the reply had no grade
        return time.perf_counter() - t, outcome

    out.append(Target("judge_parser", lambda: None, parse_run, {**TEXT_SHAPES, **REPLY_SHAPES}))
    return out


# ------------------------------------------------------------------------------------------------ run


@dataclass
class Row:
    target: str
    shape: str
    times: dict[int, float | None] = field(default_factory=dict)  # KB -> seconds (None: skipped)
    base: dict[int, float] = field(default_factory=dict)
    outcome: str = ""  # the item's status at the largest size run (e.g. "error" when an input cap refused it)
    error: str = ""

    def slowest(self) -> tuple[int, float] | None:
        done = [(kb, t) for kb, t in self.times.items() if t is not None]
        return max(done, key=lambda p: p[1]) if done else None

    def missed(self) -> bool:
        worst = self.slowest()
        skipped = any(t is None for t in self.times.values())
        return bool(self.error) or skipped or (worst is not None and worst[1] > TARGET_S)


def _baseline(text: str, repeats: int) -> float:
    best = math.inf
    for _ in range(max(3, repeats)):
        t = time.perf_counter()
        text.split()
        text.lower()
        best = min(best, time.perf_counter() - t)
    return max(best, 1e-7)


def _measure(target: Target, text: str, repeats: int, shared: Any) -> tuple[float, str]:
    best, outcome = math.inf, ""
    for _ in range(repeats):
        obj = shared if target.reuse else target.build()
        gc.collect()
        try:
            took, outcome = target.run(obj, text)
        finally:
            if not target.reuse:
                target.close(obj)
        best = min(best, took)
        if took > 4 * TARGET_S:  # a clear miss: one measurement says enough
            break
    return best, outcome


def _iter_rows(targets: list[Target], sizes: list[int], shapes: set[str] | None, repeats: int,
               give_up_s: float) -> Iterator[Row]:  # fmt: skip
    for target in targets:
        shared = target.build() if target.reuse else None
        try:
            for shape, make in target.shapes.items():
                if shapes is not None and shape not in shapes:
                    continue
                row = Row(target.name, shape)
                for i, kb in enumerate(sizes):
                    text = make(kb * 1024)
                    row.base[kb] = _baseline(text, repeats)
                    try:
                        took, row.outcome = _measure(target, text, repeats, shared)
                    except Exception as exc:  # noqa: BLE001 - reported as the verdict
                        row.error = f"{type(exc).__name__}: {str(exc)[:80]}"
                        break
                    row.times[kb] = took
                    if took > give_up_s:
                        row.times.update({later: None for later in sizes[i + 1 :]})
                        break
                yield row
        finally:
            if shared is not None:
                target.close(shared)


def _fmt_ms(t: float | None) -> str:
    return "skip" if t is None else f"{t * 1000:.1f}"


def main(argv: list[str] | None = None) -> int:
    default_data = Path(os.environ.get("MEDZERO_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_data, help="the shared data folder")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES_KB)), help="item sizes in KB, comma-separated")
    ap.add_argument("--presets", default="", help="comma-separated prefixes of target names (default: all)")
    ap.add_argument("--shapes", default="", help="comma-separated shape names (default: all)")
    ap.add_argument("--repeats", type=int, default=3, help="best of N per item")
    ap.add_argument("--give-up", type=float, default=1.0, help="seconds after which larger sizes are skipped")
    ap.add_argument("--ehrsql-timeout", type=float, default=2.0, help="EHRSQL time limit per query (s)")
    ap.add_argument("--small", action="store_true", help="8 and 16 KB, one repeat")
    ap.add_argument("--check", action="store_true", help="exit 1 when any item under 100 KB misses 50 ms")
    args = ap.parse_args(argv)

    sizes = [8, 16] if args.small else [int(s) for s in args.sizes.split(",") if s.strip()]
    repeats = 1 if args.small else max(1, args.repeats)
    shapes = {s.strip() for s in args.shapes.split(",") if s.strip()} or None
    prefixes = [p.strip() for p in args.presets.split(",") if p.strip()]
    targets = [t for t in _targets(args.data, args.ehrsql_timeout) if not prefixes or any(t.name.startswith(p) for p in prefixes)]

    print(f"worst-case items at {', '.join(f'{kb} KB' for kb in sizes)}; target {TARGET_S * 1000:.0f} ms per item; "
          f"best of {repeats}; baseline = str.split + str.lower over the same text")  # fmt: skip
    size_cols = "".join(f"{str(kb) + 'KB':>9}" for kb in sizes)
    header = f"{'preset':<26}{'shape':<20}{size_cols}{'slowest ms':>11}{'base us':>9}{'ratio':>9}  {'status':<14}verdict"
    print(header)
    print("-" * len(header))
    rows: list[Row] = []
    for row in _iter_rows(targets, sizes, shapes, repeats, args.give_up):
        rows.append(row)
        cells = "".join(f"{_fmt_ms(row.times.get(kb)) if kb in row.times else '-':>9}" for kb in sizes)
        worst = row.slowest()
        if worst is not None:
            kb, t = worst
            tail = f"{t * 1000:>11.1f}{row.base[kb] * 1e6:>9.0f}{t / row.base[kb]:>9.0f}"
        else:
            tail = f"{'-':>11}{'-':>9}{'-':>9}"
        verdict = f"EXC {row.error}" if row.error else ("MISS" if row.missed() else "ok")
        print(f"{row.target:<26}{row.shape:<20}{cells}{tail}  {row.outcome:<14}{verdict}", flush=True)

    print()
    print(f"{'preset':<26}{'slowest item':>13}  {'shape @ size':<28}verdict")
    misses = 0
    for name in dict.fromkeys(r.target for r in rows):
        mine = [r for r in rows if r.target == name]
        timed = [(r.shape, *w) for r in mine if (w := r.slowest()) is not None]
        bad = [r for r in mine if r.missed()]
        misses += len(bad)
        if timed:
            shape, kb, t = max(timed, key=lambda x: x[2])
            where = f"{shape} @ {kb} KB"
            print(f"{name:<26}{t * 1000:>10.1f} ms  {where:<28}{'MISS (' + str(len(bad)) + ' shapes)' if bad else 'ok'}")
    print(f"\n{misses} (preset, shape) row(s) miss the {TARGET_S * 1000:.0f} ms target" if misses else
          f"\nevery item under 100 KB within {TARGET_S * 1000:.0f} ms")  # fmt: skip
    return 1 if (args.check and misses) else 0


if __name__ == "__main__":
    sys.exit(main())
