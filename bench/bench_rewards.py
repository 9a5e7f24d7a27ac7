"""Benchmark: the diagnosis reward vs a faithful re-implementation of the seed's reward, same data, same run.

Builds N (default 10,000) realistic GRPO completions from real data: 1-4 KB reasoning written from
real RareBench phenotype lists and real disease names, then an ``<answer>``. Completions come in
groups of 8 per prompt (as in a GRPO step; ``--group``): answers repeat inside a group, reasoning
differs per completion. Mix: correct answers (verbatim and surface variants), near-name siblings
mined from the Orphanet file, other diseases, format failures, a few mixed-language completions,
hacks, empty answers.

Scored by
  (a) the seed: regex ``<answer>(.*?)</answer>`` (first match, DOTALL), then
      ``0.8 * difflib.SequenceMatcher(None, a, b).ratio() + 0.2 * word-Jaccard`` on lowercased,
      stripped strings, correct when > 0.8; reward 1.0 / 0.1 (answer extracted, wrong) / 0 (none);
  (b) ``get_scorer("rarearena_rdc", ...).score_batch`` with every feature on: parser format credit
      and tag counts, language check, tiers with the Orphanet hierarchy, hack detection; read two ways:
      the GRPO path (every column ``medzero_train`` reads: each component, reward, correct, tier,
      status, extracted answer) and the evaluation path (every ``Score`` object built, with details).

Prints completions/s for each and the ratio (one process, one core), cold (fresh scorer, cleared
normalisation cache: every (answer, gold) pair decided for the first time), warm (same scorer
again: every decision cached) and, for the GRPO path, in between (a share of the distinct pairs
decided at "earlier steps", the share 10x the seed needs, and first sight with every decision free:
warm plus the time a new scorer spends preparing the gold sets); then the agreement matrix of the
two, and with ``--profile`` where (b)'s time goes.

    python bench/bench_rewards.py                   # data from $MEDZERO_DATA or ../shared/data
    python bench/bench_rewards.py --n 10000 --profile
    python bench/bench_rewards.py --group 16        # the seed's verl runs sampled 16 per prompt
"""

from __future__ import annotations

import argparse
import ast
import cProfile
import csv
import difflib
import io
import json
import os
import pstats
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

from medzero_rewards import get_scorer
from medzero_rewards.normalize import analyze_name
from medzero_rewards.parsing import parse_completion

GROUP = 8  # completions per prompt in a GRPO step (TRL's default num_generations; --group)
BATCH = 256  # completions per score_batch call (32 prompts x 8 by default)
REUSE_SHARES = (0.5, 0.9)  # shares of the distinct (answer, gold) pairs decided at earlier steps

# ---------------------------------------------------------------------------------------------------
# The seed's reward, faithfully
# ---------------------------------------------------------------------------------------------------
_SEED_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def seed_reward(completion: str, gold: str) -> float:
    m = _SEED_RE.search(completion)
    if not m:
        return 0.0
    a, b = m.group(1).strip().lower(), gold.strip().lower()
    seq = difflib.SequenceMatcher(None, a, b).ratio()
    wa, wb = set(a.split()), set(b.split())
    jac = len(wa & wb) / len(wa | wb) if wa | wb else 0.0
    return 1.0 if 0.8 * seq + 0.2 * jac > 0.8 else 0.1


# ---------------------------------------------------------------------------------------------------
# Realistic completions from real data
# ---------------------------------------------------------------------------------------------------
_OPENERS = [
    "Let me work through the presentation systematically.",
    "The key findings need to be put together carefully.",
    "I will consider the phenotype cluster and the likely inheritance.",
    "Starting from the most specific features of this case.",
]
_TEMPLATES = [
    "The patient shows {p}, which narrows the differential considerably.",
    "{P} together with {q} is characteristic of several rare disorders, including {d}.",
    "Could this be {d}? It typically presents with {p}, but {q} is less commonly reported.",
    "{P} argues against {d}, although it does not exclude it entirely.",
    "In {d}, {p} is a frequent finding and {q} is seen in a subset of patients.",
    "The combination of {p} and {q} points toward a genetic etiology.",
    "Another possibility is {d}; I should check whether {p} fits that picture.",
    "Given {p}, a metabolic or neuromuscular cause should be considered.",
]
_MIXED = ["这提示可能是一种罕见的遗传病。", "综合以上表现，考虑诊断为", "Это указывает на редкое заболевание."]


def load_cases(data: Path) -> list[tuple[list[str], list[str]]]:
    cases = []
    for path in sorted((data / "rarebench").glob("*.csv")):
        with path.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                try:
                    phen = ast.literal_eval(row["Phenotype"])
                    dis = ast.literal_eval(row["RareDisease"])
                except (ValueError, SyntaxError):
                    continue
                dis = [d for d in dis if isinstance(d, str) and d.strip()]
                if dis and phen:
                    cases.append(([str(p) for p in phen], dis))
    return cases


def mine_siblings(names: list[str]) -> dict[str, list[str]]:
    """name -> Orphanet names that share all tokens but one (type numbers, letters, onset, ...)."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for n in names:
        toks = n.split()
        for i in range(len(toks)):
            groups.setdefault((*toks[:i], "\0", *toks[i + 1 :]), []).append(n)
    sib: dict[str, list[str]] = {}
    for members in groups.values():
        if len(members) > 1:
            for m in members:
                sib.setdefault(m, []).extend(x for x in members if x != m)
    return sib


def reasoning(rng: random.Random, phen: list[str], diseases: list[str], size: int) -> str:
    parts = [rng.choice(_OPENERS)]
    n = 0
    while n < size:
        t = rng.choice(_TEMPLATES)
        p, q = rng.choice(phen).lower(), rng.choice(phen).lower()
        s = t.format(p=p, P=p[:1].upper() + p[1:], q=q, d=rng.choice(diseases))
        parts.append(s)
        n += len(s) + 1
    return " ".join(parts)


def variant(rng: random.Random, name: str) -> str:
    return rng.choice([
        name, name, name, name.lower(), name + ".", f"Diagnosis: {name}", name.replace("-", " "),
        re.sub(r"emia\b", "aemia", name), re.sub(r"\btype (\d)\b", lambda m: "type " + "I" * int(m.group(1)), name),
    ])  # fmt: skip


def build(
    data: Path, n: int, seed: int = 0, group: int = GROUP
) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    rng = random.Random(seed)
    cases = load_cases(data)
    orpha = json.loads((data / "rarearena" / "orphanet_hypernym.json").read_text(encoding="utf-8"))
    orpha_names = [e["name"] for e in orpha]
    siblings = mine_siblings(orpha_names)
    parents = {e["name"]: [p["parent"] for p in e["parents"] if p["parent_disease_count"] <= 10] for e in orpha}
    completions: list[str] = []
    references: list[dict[str, Any]] = []
    kinds: list[str] = []
    while len(completions) < n:
        phen, dis = rng.choice(cases)
        gold = dis[0]
        ref = {"diagnosis": gold, "Orpha_name": gold}
        others = rng.sample(orpha_names, 3)
        sib = siblings.get(gold) or [n for n in orpha_names if n.split()[:2] == gold.split()[:2] and n != gold][:3]
        group_answers = {  # a GRPO group repeats a handful of answers
            "correct": [variant(rng, gold) for _ in range(2)],
            "sibling": sib[:2] or others[:1],
            "other": others,
            "hypernym": parents.get(gold, [])[:1] or others[:1],
            "hack": [f"{gold} or {others[0]}", f"1. {others[1]}\n2. {gold}"],
        }
        for _ in range(group):
            r = rng.random()
            kind = (
                "correct" if r < 0.35 else "sibling" if r < 0.45 else "other" if r < 0.70 else
                "hypernym" if r < 0.74 else "hack" if r < 0.79 else "empty" if r < 0.82 else
                "format" if r < 0.94 else "mixed"
            )  # fmt: skip
            think = reasoning(rng, phen, [*dis, *others], rng.randint(1000, 4000))
            if kind == "empty":
                text = f"<think>{think}</think>\n<answer></answer>"
            elif kind == "format":
                ans = rng.choice(group_answers["correct"] + group_answers["other"])
                text = rng.choice([
                    f"<think>{think}</think>\nThe answer is {ans}.",  # no answer tags
                    f"<think>{think}\n<answer>{ans}",  # truncated
                    f"{think}\n<answer>{ans}</answer>",  # no think tags
                    f"<think>{think}</think><answer>{ans}</answer>\nLet me double-check: {ans}.",
                    f"<think>{think}</think><think>more</think><answer>{ans}</answer>",
                ])  # fmt: skip
            elif kind == "mixed":
                ans = rng.choice(group_answers["correct"] + group_answers["other"])
                cut = len(think) // 2
                text = f"<think>{think[:cut]} {rng.choice(_MIXED)} {think[cut:]}</think>\n<answer>{ans}</answer>"
            else:
                text = f"<think>{think}</think>\n<answer>{rng.choice(group_answers[kind])}</answer>"
            completions.append(text)
            references.append(ref)
            kinds.append(kind)
    return completions[:n], references[:n], kinds[:n]


# ---------------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------------


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run_seed(completions: Sequence[str], references: Sequence[dict[str, Any]]) -> list[float]:
    return [seed_reward(c, r["diagnosis"]) for c, r in zip(completions, references)]


def bare_reward(completion: str, gold: str) -> float:
    """The issue's "practical limit": one ``rfind`` pair and one rapidfuzz compare, no other feature."""
    i, j = completion.rfind("<answer>"), completion.rfind("</answer>")
    if i < 0 or j < i:
        return 0.0
    return 1.0 if fuzz.ratio(completion[i + 8 : j].strip().lower(), gold.lower()) > 80 else 0.1


def run_bare(completions: Sequence[str], references: Sequence[dict[str, Any]]) -> list[float]:
    return [bare_reward(c, r["diagnosis"]) for c, r in zip(completions, references)]


def run_ours(scorer: Any, completions: Sequence[str], references: Sequence[dict[str, Any]]) -> list[float]:
    """The GRPO path: ``score_batch``, then every column ``medzero_train``'s reward functions and logging read
    (each component, reward, correct, tier, status, extracted answer); returns the rewards."""
    out: list[float] = []
    for i in range(0, len(completions), BATCH):
        batch = scorer.score_batch(completions[i : i + BATCH], references[i : i + BATCH])
        for name in batch.component_names:
            batch.component(name)
        batch.correct, batch.tiers, batch.statuses, batch.extracted  # noqa: B018
        out.extend(batch.rewards)
    return out


def run_ours_scores(scorer: Any, completions: Sequence[str], references: Sequence[dict[str, Any]]) -> list[Any]:
    """The evaluation path: ``score_batch``, then every ``Score`` object built (with its ``details``)."""
    out: list[Any] = []
    for i in range(0, len(completions), BATCH):
        out.extend(scorer.score_batch(completions[i : i + BATCH], references[i : i + BATCH]))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_data = os.environ.get("MEDZERO_DATA") or str(Path(__file__).resolve().parents[1].parent / "shared" / "data")
    ap.add_argument("--data", type=Path, default=Path(default_data))
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--group", type=int, default=GROUP, help="completions per prompt (the seed's verl runs used 16)")
    ap.add_argument("--profile", action="store_true", help="cProfile one cold run of (b), every Score built")
    args = ap.parse_args(argv)
    if not (args.data / "rarebench").is_dir():
        print(f"data not found at {args.data} (use --data or MEDZERO_DATA)", file=sys.stderr)
        return 2

    completions, references, kinds = build(args.data, args.n, group=args.group)
    kb = sum(len(c) for c in completions) / len(completions) / 1024
    print(f"{len(completions)} completions, mean {kb:.1f} KB, {len({r['diagnosis'] for r in references})} gold diseases")
    print("mix:", dict(sorted(Counter(kinds).items())))
    hierarchy = args.data / "rarearena" / "orphanet_hypernym.json"

    def make() -> Any:
        return get_scorer("rarearena_rdc", hierarchy_path=hierarchy, weights={"language": 0.1})

    make()  # load the hierarchy file once (cached per path), outside the timings

    def fresh(seen: Sequence[int] = ()) -> Any:
        """A new scorer (name cache cleared) that has decided the pairs of the completions ``seen``."""
        analyze_name.cache_clear()
        scorer = make()
        run_ours(scorer, [completions[i] for i in seen], [references[i] for i in seen])
        return scorer

    warm_scorer = make()
    run_ours(warm_scorer, completions, references)

    # Decision reuse: the share of the distinct (answer, gold) pairs the scorer decided at earlier
    # GRPO steps. 0 is "cold", 1 is "warm"; a training run sits in between.
    pair_rows: dict[tuple[str, str], int] = {}
    for i, c in enumerate(completions):
        answer = parse_completion(c).answer
        if answer:
            pair_rows.setdefault((answer, references[i]["diagnosis"]), i)
    pair_index = list(pair_rows.values())
    random.Random(1).shuffle(pair_index)

    def scoring(run: Callable[..., list[Any]], scorer: Any) -> Callable[[], list[Any]]:
        return partial(run, scorer, completions, references)

    def parse_all() -> list[Any]:
        return [parse_completion(c) for c in completions]

    # The same references with an empty answer each: no decision to make, so a new scorer's extra
    # time over a warm one is preparing the gold sets (normalised names, Orphanet parents).
    empties = ["<think>x</think><answer></answer>"] * len(completions)
    empty_warm = make()
    run_ours(empty_warm, empties, references)

    # Each entry prepares (untimed) the call to time. Interleaved repeats, best of each: the machine
    # may be shared.
    entries: list[tuple[str, Callable[[], Callable[[], Any]]]] = [
        ("seed", lambda: partial(run_seed, completions, references)),
        ("cold", lambda: scoring(run_ours, fresh())),
        ("warm", lambda: scoring(run_ours, warm_scorer)),
        ("cold_scores", lambda: scoring(run_ours_scores, fresh())),
        ("warm_scores", lambda: scoring(run_ours_scores, warm_scorer)),
        ("parse", lambda: parse_all),
        ("refs_cold", lambda: partial(run_ours, fresh(), empties, references)),
        ("refs_warm", lambda: partial(run_ours, empty_warm, empties, references)),
        ("bare", lambda: partial(run_bare, completions, references)),
    ]
    for r in REUSE_SHARES:
        seen = sorted(pair_index[: round(r * len(pair_index))])
        entries.append((f"reuse {r}", lambda seen=seen: scoring(run_ours, fresh(seen))))
    times: dict[str, float] = {}
    seed_out: list[float] = []
    ours: list[Any] = []
    for _ in range(args.repeats):
        for name, setup in entries:
            t, out = timed(setup(), 1)
            times[name] = min(times.get(name, float("inf")), t)
            if name == "seed":
                seed_out = out
            elif name == "cold_scores":
                ours = out
    n = len(completions)
    t_seed = times["seed"]
    print(f"\n(a) seed re-implementation : {n / t_seed:>10,.0f} completions/s  ({t_seed / n * 1e6:6.1f} us each)")
    for key, label in (
        ("warm", "GRPO columns, warm caches"),
        ("cold", "GRPO columns, cold caches"),
        ("warm_scores", "every Score built, warm"),
        ("cold_scores", "every Score built, cold"),
    ):
        t = times[key]
        print(f"(b) score_batch, {label:<26}: {n / t:>10,.0f} completions/s  ({t / n * 1e6:6.1f} us each)"
              f"  = {t_seed / t:.1f}x the seed")  # fmt: skip
    tb = times["bare"]
    print(f"(c) bare rfind + one rapidfuzz compare (the practical limit): {n / tb:>10,.0f} completions/s"
          f"  ({tb / n * 1e6:6.1f} us each) = {t_seed / tb:.1f}x the seed;"
          f" (b) GRPO columns, warm, reach {tb / times['warm']:.0%} of it")  # fmt: skip
    print(f"(b) GRPO columns when a share of the {len(pair_index):,} distinct (answer, gold) pairs was decided before:")
    for r in REUSE_SHARES:
        t = times[f"reuse {r}"]
        print(f"      {r:>5.0%} reused: {n / t:>10,.0f} completions/s  ({t / n * 1e6:6.1f} us each)"
              f"  = {t_seed / t:.1f}x the seed")  # fmt: skip
    cold_t, warm_t, target = times["cold"], times["warm"], t_seed / 10
    if warm_t <= target < cold_t:  # time is linear in the share of new decisions
        need = (cold_t - target) / (cold_t - warm_t)
        print(f"      10x the seed needs {need:.0%} of the pairs decided before (linear between cold and warm)")
    t_refs = max(times["refs_cold"] - times["refs_warm"], 0.0)
    floor = warm_t + t_refs
    print(f"      first sight with every decision free (warm + {t_refs * 1e3:.1f} ms preparing the gold sets):"
          f" {n / floor:,.0f} completions/s = {t_seed / floor:.1f}x the seed")  # fmt: skip
    tp = times["parse"]
    print(f"    parse_completion alone: {tp / n * 1e6:.1f} us each ({n / tp:,.0f}/s)")
    rewards = run_ours(warm_scorer, completions, references)
    assert rewards == [s.reward for s in ours], "the GRPO columns disagree with the built Scores"

    def ours_class(s: Any) -> str:
        if s.correct:
            return "correct"
        return "no answer" if s.extracted is None else "wrong"

    seed_cls = {1.0: "correct", 0.1: "wrong", 0.0: "no answer"}
    cols = ["correct", "wrong", "no answer"]
    matrix = Counter((seed_cls[a], ours_class(b)) for a, b in zip(seed_out, ours))
    print("\nagreement (rows: seed, columns: ours)")
    print(f"{'':>12}" + "".join(f"{c:>12}" for c in cols))
    for r in cols:
        print(f"{r:>12}" + "".join(f"{matrix[(r, c)]:>12}" for c in cols))
    agree = sum(matrix[(c, c)] for c in cols)
    print(f"agreement {agree}/{n} = {agree / n:.1%}")
    print("\nseed 'correct' vs ours 'correct' by completion kind:")
    by_kind: dict[str, list[int]] = {}
    for k, a, b in zip(kinds, seed_out, ours):
        row = by_kind.setdefault(k, [0, 0, 0])
        row[0] += 1
        row[1] += a == 1.0
        row[2] += bool(b.correct)
    for k, (cnt, s1, o1) in sorted(by_kind.items()):
        print(f"  {k:<9} n={cnt:<5} seed {s1 / cnt:6.1%}   ours {o1 / cnt:6.1%}")
    statuses = Counter(s.status.value for s in ours)
    tiers = Counter(s.tier.value for s in ours)
    print("ours: statuses", dict(statuses), "tiers", dict(tiers))

    if args.profile:
        prof = cProfile.Profile()
        scorer = fresh()
        prof.enable()
        run_ours_scores(scorer, completions, references)
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(18)
        print("\nprofile of one cold (b) run (every Score built), by own time:")
        print("\n".join(buf.getvalue().splitlines()[:40]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
