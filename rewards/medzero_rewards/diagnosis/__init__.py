"""The RareArena diagnosis scorer (``get_scorer("rarearena_rdc" | "rarearena_rds")``).

One code path for the GRPO reward and the lm-eval metric. Per completion:

1. :func:`~medzero_rewards.parsing.parse_completion` gives the answer, tag counts and format credit
   (preset ``diagnosis_zero`` instead extracts the first ``<answer>(.*?)</answer>`` like the seed);
2. the answer is compared with every gold name (record ``diagnosis``, ``Orpha_name``, its
   ``synonyms`` and the user's synonym table) by :func:`~medzero_rewards.matching.compare_keys`:
   tier ``exact`` when it matches the first gold name, ``synonym`` when it matches another;
   With a hierarchy, a fuzzy (not normalised-equal) match between two different Orphanet names is
   vetoed (``Fraser`` vs ``Frasier syndrome``);
3. with a hierarchy, an answer that matches a direct Orphanet parent of the gold with
   ``parent_disease_count <= max_parent_disease_count`` is tier ``hypernym`` (never correct);
4. an answer that is not a bare matching name is *read* (:mod:`.phrasing`): hedges ("Probable X",
   "X, most likely"), sentences ("X is the most likely diagnosis.", "The findings point to X."),
   explanations ("X, an X-linked ...", "X (enzyme deficiency)", "X due to ..." unless the whole is
   itself a known name), markdown and labels, a justification after the name, and in ranked mode a
   reason after each item ("1. X - because ...", tables, "A, B, C" on one line); each span read is
   matched in turn. A qualifier (type code, letter, inheritance, onset, "(type 2)") is never cut, so
   a near-name sibling stays a sibling. Single-answer mode: several candidates ("X or Y", "X vs Y",
   "X, Y and Z", "X; differential: Y", "X. Alternatively Y", a list) or a statement that does not
   assert the disease ("not X", "X was ruled out", "low suspicion for X") is ``Status.hacking``, no
   accuracy credit; a negated mention after the answer ("X rather than Y") is not a candidate;
   a ranked item marked as ruled out does not count;
   no match: ``none`` only when the scorer *knows* the answer is different -- a guard conflict (another
   type, gene, inheritance, onset: :mod:`~medzero_rewards.matching`) or, with the hierarchy (and a
   gold it knows), an answer that is itself another Orphanet entity; everything else (a plausible
   synonym, an eponym, another language, a phrasing it does not understand) is ``uncertain`` (not
   correct; the judge decides when one is configured);
5. with a judge, :meth:`DiagnosisScorer.score_batch` sends the items that need it in one
   ``judge_many`` call and merges the grades (2 -> synonym/correct, 1 -> hypernym, 0 -> none).
   ``judge_misses`` also sends answers decided ``none``; a ``hypernym`` decided by the hierarchy is
   never sent (it is grade 1 already) except in ``judge_mode="always"``, which only reports its grade.

Reward (``Score.components`` holds each weighted component, ``Score.reward`` their sum):

* ``recommended`` (default): ``format = w_format * format_score`` (parser's partial credit),
  ``accuracy = w_accuracy * correct``, ``language = -w_language * penalty`` where penalty is 1 when
  the completion mixes scripts (``language_penalty="binary"``) or the largest foreign-letter share of
  its parts (``"share"``). Default weights ``{"format": 0.2, "accuracy": 1.0, "language": 0.0}``.
* ``diagnosis_zero``: the seed's reward shape and extraction, exactly: 1.0 when matched, 0.1 when an
  answer was extracted (``<answer>(.*?)</answer>``, first match, DOTALL; an empty answer counts as
  extracted, as in the seed) but wrong, 0 when none was extracted. "Matched" is this module's
  decision (exact/synonym), not the seed's difflib similarity. Components ``format = 0.1 * extracted``
  and ``accuracy = 0.9 * correct`` (plus ``language``, 0 by default).

Items that could not be scored get a defined result, never an exception: missing/blank gold ->
``Status.error``, reward 0; no answer -> ``Status.format_error`` (format credit only); an empty answer
-> ``Status.empty``; a completion over ``max_completion_chars`` (100,000) -> ``Status.format_error``,
not parsed, reward 0; an answer over ``max_answer_chars`` (4,000) -> ``Status.format_error``, not read
(format credit only); an unusable judge verdict -> ``Status.unjudged`` with ``correct=False``, flagged,
and the reward of the deterministic decision (an ``uncertain`` item therefore earns no accuracy).

``Score.details`` keys (stable; lm-eval metrics and TRL logging read them):

``format_ok``, ``format_score``, ``format_reason``, ``tags`` (dict of 4 tag counts), ``n_chars``,
``n_tokens`` (None without a tokenizer), ``mixed_language``, ``mixed_in`` (parts among
"think"/"answer"/"after_answer", or "completion" when there is no think block), ``answers`` (the answer list used; one item in single mode),
``top1``, ``top5`` (ranked mode only: a match among the first ``k`` items, k=5 by default), ``hypernym``, ``match_score`` (0-100), ``matched_name``;
with a judge configured also ``top1_judged`` (and ``top5_judged`` in ranked mode) and, on judged items,
``judge_grade``, ``judge_grades``, ``judge_status``, ``judge_calls``, ``judge_cached``, ``tokens_in``,
``tokens_out`` and ``deterministic_tier``. ``top1``/``top5``/``hypernym`` are the deterministic
decisions; ``Score.correct``/``Score.tier`` are final (after the judge).

Modules (one job each):

* :mod:`.config` -- :class:`DiagnosisConfig`, the preset weights;
* :mod:`.extract` -- the answer block of a completion (per preset) and the language check;
* :mod:`.phrasing` -- reading the diagnosis out of hedges, sentences, explanations and lists;
* :mod:`.vocabulary` -- the words and patterns the reader acts on;
* :mod:`.cache` -- caches bounded by bytes;
* :mod:`.gold` -- the gold names of a record, normalised once;
* :mod:`.decide` -- the matching decision (exact / synonym / hypernym / uncertain / none, hacking);
* :mod:`.cascade` -- which items go to the judge and how its grades merge;
* :mod:`.item` -- one completion through the general path (prepare, finish into a ``Score``);
* :mod:`.fastpath` -- the GRPO hot path's columns for the common shapes;
* :mod:`.aggregate` -- corpus metrics;
* :mod:`.scorer` -- :class:`DiagnosisScorer`, the composition of the above.

>>> from medzero_rewards.diagnosis import DiagnosisScorer
>>> DiagnosisScorer().score("<think>rash</think><answer>Fabry disease</answer>", {"diagnosis": "Fabry disease"}).reward
1.2
"""

from medzero_rewards.diagnosis.aggregate import UnjudgedError, aggregate
from medzero_rewards.diagnosis.config import DEFAULT_WEIGHTS, DiagnosisConfig
from medzero_rewards.diagnosis.scorer import DiagnosisScorer, make_rarearena_rdc, make_rarearena_rds

__all__ = [
    "DEFAULT_WEIGHTS",
    "DiagnosisConfig",
    "DiagnosisScorer",
    "UnjudgedError",
    "aggregate",
    "make_rarearena_rdc",
    "make_rarearena_rds",
]
