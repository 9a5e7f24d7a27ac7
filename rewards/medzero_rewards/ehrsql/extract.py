"""From a model completion (or a submission entry) to the SQL to run, or an abstention.

Completion rules (lm-eval and RL):

* the SQL is the text of the last complete ``<answer>…</answer>`` block (see
  :func:`medzero_rewards.parsing.parse_completion`); if that text holds fenced code blocks
  (```` ```sql ````, ```` ```sqlite ```` or a bare ```` ``` ````), the last block's content is the SQL;
* without an answer block, the last ```` ```sql ```` / ```` ```sqlite ```` fenced block anywhere in the
  completion is used (format score still counts the missing tags);
* abstention: the extracted text is one of :data:`ABSTAIN_TOKENS`, case-insensitively, optionally
  wrapped in quotes or backticks and followed by ``;`` — e.g. ``null``, ``NULL;``, ``'null'``,
  ``ABSTAIN``. It is scored as the official ``"null"`` prediction;
* no answer block and no SQL fence is a ``format_error``; an empty answer is ``empty``. Both count as
  an answer that failed (outcome -1), never as an abstention: a model must abstain explicitly.

Submission rule (official ``prediction.json``): the value is the SQL itself; it abstains exactly when
its post-processed text is ``"null"``, as in the official scorer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medzero_rewards.ehrsql.postprocess import NULL_LABEL, post_process_sql
from medzero_rewards.parsing import parse_completion
from medzero_rewards.types import Status

__all__ = ["ABSTAIN_TOKENS", "Extraction", "extract_sql", "extract_submission", "is_abstention"]

ABSTAIN_TOKENS: frozenset[str] = frozenset({"null", "abstain"})
"""Answers (lower-cased, stripped of quotes/backticks and a trailing ``;``) that mean "I abstain"."""

_SQL_LANGS = frozenset({"sql", "sqlite"})
_FENCE = "```"
_WRAPPERS = "`'\" \t\r\n"
_FENCE_ANY = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n`]*\n?(.*?)```", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Extraction:
    """What a completion or submission entry asks to be scored.

    Attributes:
        sql: the SQL to execute; ``"null"`` when abstaining; ``None`` when nothing could be extracted.
        abstained: the prediction is an abstention.
        status: ``ok``, ``abstained``, ``format_error``, ``empty`` or ``error``.
        reason: why, when the status is not ``ok``/``abstained``.
        format_ok: the completion follows the strict ``<think>…</think><answer>…</answer>`` format.
        format_score: partial format credit in [0, 1] (1.0 for a submission entry).
    """

    sql: str | None
    abstained: bool
    status: Status
    reason: str = ""
    format_ok: bool = True
    format_score: float = 1.0


def is_abstention(text: str) -> bool:
    """True when ``text`` is an abstention token (see :data:`ABSTAIN_TOKENS`).

    >>> is_abstention(" NULL; "), is_abstention("`null`"), is_abstention("SELECT NULL")
    (True, True, False)
    """
    core = text.strip().rstrip(";").strip(_WRAPPERS).rstrip(";").strip(_WRAPPERS)
    return core.lower() in ABSTAIN_TOKENS


def fences(text: str) -> list[tuple[str, str]]:
    r"""The fenced code blocks of ``text`` as ``(language, content)``, in order, in one linear scan.

    A block opens with three backticks, optional spaces/tabs, a language word (letters, digits,
    ``_+-``), the rest of that line up to a newline or a backtick, then one optional newline; its
    content runs to the next three backticks. An opening fence with no closing one ends the scan.

    >>> fences("a ```sql\nSELECT 1\n``` b ```\nx``` ```py unclosed")
    [('sql', 'SELECT 1\n'), ('', 'x')]
    """
    # Every block ends at or before the last fence. Searching only up to it leaves at most the three
    # backticks of an unclosed opener to try, so the pattern never backtracks over a long line (on
    # the whole text, ```` ``` ```` + 2,000 letters took 38 s).
    last = text.rfind(_FENCE)
    if last < 0:
        return []
    return [(m.group(1), m.group(2)) for m in _FENCE_ANY.finditer(text, 0, last + 3)]


def _last_fence(text: str, sql_only: bool) -> str | None:
    found = None
    if _FENCE not in text:
        return None
    for lang, content in fences(text):
        lang = lang.lower()
        if (lang in _SQL_LANGS) if sql_only else (lang == "" or lang in _SQL_LANGS):
            found = content
    return found


def extract_sql(completion: str) -> Extraction:
    """The SQL (or abstention) in a model completion; never raises.

    >>> extract_sql("<think>count</think><answer>SELECT COUNT(*) FROM patients</answer>").sql
    'SELECT COUNT(*) FROM patients'
    >>> e = extract_sql("<think>no such data</think><answer>null</answer>")
    >>> e.abstained, e.sql, e.status.value
    (True, 'null', 'abstained')
    >>> extract_sql("Here:\\n```sql\\nSELECT 1\\n```\\nor better\\n```sql\\nSELECT 2\\n```").sql
    'SELECT 2'
    >>> extract_sql("I think it is 42").status.value
    'format_error'
    """
    try:
        parsed = parse_completion(completion)
        fmt_ok, fmt_score = parsed.format_ok, parsed.format_score
        if parsed.answer is not None:
            fenced = _last_fence(parsed.answer, sql_only=False)
            text = fenced if fenced is not None else parsed.answer
        else:
            fenced = _last_fence(parsed.text, sql_only=True)
            if fenced is None:
                reason = parsed.format_reason or "no <answer> block"
                return Extraction(None, False, Status.format_error, f"no SQL found: {reason}", fmt_ok, fmt_score)
            text = fenced
        text = text.strip()
        if not text:
            return Extraction(None, False, Status.empty, "empty answer", fmt_ok, fmt_score)
        if is_abstention(text):
            return Extraction(NULL_LABEL, True, Status.abstained, "", fmt_ok, fmt_score)
        return Extraction(text, False, Status.ok, "", fmt_ok, fmt_score)
    except Exception as exc:  # defensive: extraction must never take the reward loop down
        return Extraction(None, False, Status.error, f"extraction failed: {type(exc).__name__}: {exc}", False, 0.0)


def extract_submission(sql: object) -> Extraction:
    """A ``prediction.json`` entry: SQL as is; abstention iff it post-processes to ``"null"``.

    >>> extract_submission(" null").abstained, extract_submission("NULL").abstained
    (True, False)
    """
    if not isinstance(sql, str):
        return Extraction(None, False, Status.error, f"prediction is {type(sql).__name__}, not a string")
    try:
        if post_process_sql(sql) == NULL_LABEL:
            return Extraction(NULL_LABEL, True, Status.abstained)
    except Exception as exc:
        return Extraction(None, False, Status.error, f"post-processing failed: {exc}")
    return Extraction(sql, False, Status.ok)
