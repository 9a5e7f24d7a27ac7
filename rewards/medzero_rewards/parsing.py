"""Parse R1-Zero style completions (``<think>…</think><answer>…</answer>``) and the answers inside them.

Everything here is pure, never raises on text input and is fast enough for the RL hot loop: tags are
found by visiting each ``<`` of the completion (``str.find``), answers are short and handled with
compiled regexes.

Tag rules (decided here, relied on by every scorer):

* Tags are matched case-insensitively and tolerate whitespace inside the angle brackets:
  ``<think>``, ``<THINK>``, ``< answer >`` and ``</ Answer >`` are all tags. Attributes
  (``<answer id=1>``) are not tags.
* The answer is the *last complete* ``<answer>…</answer>`` block: the last ``</answer>`` and the
  nearest ``<answer>`` before it.
* Chat end tokens (:data:`END_TOKENS`) at the very end of a completion are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "END_TOKENS",
    "NEGATION_WORDS",
    "ParsedCompletion",
    "TagCounts",
    "answer_and_format_score",
    "clean_item",
    "count_tokens",
    "is_negated",
    "parse_completion",
    "parse_ranked_list",
    "split_candidates",
    "strict_spans",
    "strict_spans_python",
    "table_items",
]

END_TOKENS: tuple[str, ...] = (
    "<|im_end|>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<|eot_id|>",
    "<|end|>",
    "</s>",
    "<eos>",
    "<end_of_turn>",
    "<｜end▁of▁sentence｜>",
)
"""Chat-template end tokens tolerated (and ignored, matched exactly) at the end of a completion."""

# One pass finds every tag; the number of the group that matched (1..4) is the tag kind + 1.
_TAG_RE = re.compile(
    r"<\s*(?:(think)|(answer)|/\s*(?:(think)|(answer)))\s*>", re.IGNORECASE
)
_GROUP_KIND = (-1, 0, 2, 1, 3)  # m.lastindex -> kind
# Where a tag may start: "<", optional whitespace and "/", then t or a (no other letter case-folds to them).
_TAG_START_RE = re.compile(r"<(?=\s*/?\s*[tTaA])")

# Tag kinds in their required order.
_THINK_OPEN, _THINK_CLOSE, _ANSWER_OPEN, _ANSWER_CLOSE = 0, 1, 2, 3
_TAG_NAMES = ("<think>", "</think>", "<answer>", "</answer>")


def _scan_tags(text: str) -> tuple[list[tuple[int, int]], ...]:
    """``positions[kind]``: the (start, end) of every tag of that kind, in text order.

    Same result as ``_TAG_RE.finditer(text)``: a tag can only start at a ``<`` followed (after
    optional whitespace and ``/``) by ``t`` or ``a`` and contains no other ``<``, so trying the regex
    only there (after a cheap check for the exact lowercase forms) finds the same matches in one C-speed
    scan: text made of ``<`` (96 KB of it) costs no Python work per ``<``.
    """
    positions: tuple[list[tuple[int, int]], ...] = ([], [], [], [])
    startswith, match = text.startswith, _TAG_RE.match
    for start in _TAG_START_RE.finditer(text):
        pos = start.start()
        if startswith("<think>", pos):
            positions[0].append((pos, pos + 7))
        elif startswith("</think>", pos):
            positions[1].append((pos, pos + 8))
        elif startswith("<answer>", pos):
            positions[2].append((pos, pos + 8))
        elif startswith("</answer>", pos):
            positions[3].append((pos, pos + 9))
        else:
            m = match(text, pos)
            if m is not None:
                positions[_GROUP_KIND[m.lastindex]].append(m.span())  # type: ignore[index]
    return positions


@dataclass(slots=True)
class TagCounts:
    """How many of each tag a completion contains.

    ``think_open`` includes the ``<think>`` a chat template prefilled (see
    :attr:`ParsedCompletion.think_prefilled`), so a well-formed prefilled completion has all four at 1.
    """

    think_open: int
    think_close: int
    answer_open: int
    answer_close: int

    def as_dict(self) -> dict[str, int]:
        """The counts as a plain dict (for ``Score.details``).

        >>> TagCounts(1, 1, 2, 1).as_dict()["answer_open"]
        2
        """
        return {
            "think_open": self.think_open,
            "think_close": self.think_close,
            "answer_open": self.answer_open,
            "answer_close": self.answer_close,
        }


@dataclass(slots=True)
class ParsedCompletion:
    """A completion split into reasoning and answer, with a strict format verdict.

    Attributes:
        text: the raw completion ("" when the input was not a string).
        think: reasoning inside ``<think>…</think>`` (stripped); None if there is no complete think block.
        answer: stripped text of the last complete ``<answer>…</answer>`` block; None if there is none.
        after_answer: text after the final ``</answer>`` (stripped, trailing chat end tokens removed);
            "" if none.
        tags: tag counts (the prefilled ``<think>`` counts as present).
        think_prefilled: the completion started inside the think block.
        format_ok: strict R1-Zero format (see :func:`parse_completion`).
        format_score: partial credit in [0, 1]: 0.25 per tag present exactly once and in order with the
            other tags present exactly once.
        format_reason: "" when ``format_ok``, else short reasons joined by "; ".
        n_chars: ``len(text)``.
        think_span: ``(start, end)`` in ``text`` of the think block's content, None when there is
            none; :attr:`think` is cut from ``text`` only when read (reasoning is most of the text).
    """

    text: str
    answer: str | None
    after_answer: str
    tags: TagCounts
    think_prefilled: bool
    format_ok: bool
    format_score: float
    format_reason: str
    n_chars: int
    think_span: tuple[int, int] | None = None

    @property
    def think(self) -> str | None:
        """Reasoning inside ``<think>…</think>`` (stripped); None if there is no complete think block."""
        span = self.think_span
        return None if span is None else self.text[span[0] : span[1]].strip()


def _unparsable(why: str) -> ParsedCompletion:
    return ParsedCompletion(
        text="",
        answer=None,
        after_answer="",
        tags=TagCounts(0, 0, 0, 0),
        think_prefilled=False,
        format_ok=False,
        format_score=0.0,
        format_reason=why,
        n_chars=0,
    )


def _count_reason(n: int, name: str) -> str:
    return f"missing {name}" if n == 0 else f"{n} {name} tags"


def _strip_end_tokens(tail: str) -> str:
    """``tail`` stripped of surrounding whitespace and any trailing chat end tokens (exact match)."""
    tail = tail.strip()
    while tail.endswith(END_TOKENS):
        for tok in END_TOKENS:
            if tail.endswith(tok):
                tail = tail[: -len(tok)].rstrip()
                break
    return tail


def _partial_format_score(
    positions: tuple[list[tuple[int, int]], ...], prefilled: bool
) -> tuple[float, bool]:
    """(0.25 per tag present exactly once and in order with every other tag present exactly once,
    whether some tags present exactly once are out of order)."""
    t_open, t_close, a_open, a_close = positions
    single: list[tuple[int, int]] = []  # (kind, start) of each tag present exactly once
    if len(t_open) + prefilled == 1:
        single.append((_THINK_OPEN, -1 if prefilled else t_open[0][0]))
    if len(t_close) == 1:
        single.append((_THINK_CLOSE, t_close[0][0]))
    if len(a_open) == 1:
        single.append((_ANSWER_OPEN, a_open[0][0]))
    if len(a_close) == 1:
        single.append((_ANSWER_CLOSE, a_close[0][0]))
    in_order = 0
    for kind, start in single:
        for k, s in single:
            if (k < kind) != (s < start) and k != kind:
                break
        else:
            in_order += 1
    return in_order / 4.0, in_order < len(single)


def parse_completion(text: str, *, think_prefilled: bool | None = None) -> ParsedCompletion:
    """Parse one completion into think / answer and judge its format.

    Strict format (``format_ok``): exactly one ``<think>`` and one ``</think>``, then exactly one
    ``<answer>`` and one ``</answer>``, in that order; only whitespace before ``<think>`` and between
    ``</think>`` and ``<answer>``; a non-empty answer; nothing after ``</answer>`` but whitespace and
    chat end tokens (:data:`END_TOKENS`).

    ``think_prefilled``: ``None`` (auto) treats a completion with no ``<think>`` but a ``</think>``
    before its first ``<answer>`` (or with no ``<answer>`` at all) as prefilled by the chat template;
    ``True``/``False`` force it. A prefilled ``<think>`` counts as present in :attr:`tags`, so a forced
    prefill plus a written ``<think>`` counts 2.

    Never raises: a non-``str`` input gives an unparsable result (``format_ok`` False, no answer).

    >>> p = parse_completion("<think>fever, rash</think>\\n<answer>Fabry disease</answer><|im_end|>")
    >>> p.format_ok, p.think, p.answer, p.format_score
    (True, 'fever, rash', 'Fabry disease', 1.0)
    >>> p = parse_completion("fever</think><answer>Fabry disease</answer> 以上です。")
    >>> p.think_prefilled, p.format_ok, p.after_answer, p.format_reason
    (True, False, '以上です。', 'text after </answer>')
    >>> parse_completion(None).format_reason
    'not a string: NoneType'
    """
    if not isinstance(text, str):
        return _unparsable(f"not a string: {type(text).__name__}")
    if not isinstance(text, str):
        return _unparsable(f"not a string: {type(text).__name__}")
    spans = strict_spans(text, think_prefilled=think_prefilled)
    if spans is None:
        return _parse_general(text, think_prefilled)
    answer = text[spans[2] : spans[3]].strip()
    return ParsedCompletion(
        text=text,
        answer=answer,
        after_answer="",
        tags=TagCounts(1, 1, 1, 1),
        think_prefilled=spans[0] == 0,
        format_ok=bool(answer),
        format_score=1.0,
        format_reason="" if answer else "empty answer",
        n_chars=len(text),
        think_span=(spans[0], spans[1]),
    )


def strict_spans_python(text: str, *, think_prefilled: bool | None = None) -> tuple[int, int, int, int] | None:
    """The common case of :func:`parse_completion` in a few ``str.find`` calls: a completion in strict format.

    :func:`strict_spans` is this function, compiled when the optional C extension
    ``medzero_rewards._speedups`` is built (same results; the tests compare the two).

    Returns ``(think_start, think_end, answer_start, answer_end)`` (the contents of the think and answer
    blocks are ``text[think_start:think_end]`` and ``text[answer_start:answer_end]``; ``think_start`` is 0
    exactly when the ``<think>`` was prefilled) when every ``<`` of ``text`` is, in order, one of the exact
    lowercase tags ``<think>`` (absent when prefilled), ``</think>``, ``<answer>``, ``</answer>``, with
    only whitespace before ``<think>`` and between ``</think>`` and ``<answer>``, and only whitespace and
    chat end tokens after ``</answer>``. Otherwise None, and :func:`parse_completion` takes its general
    path. The answer may be empty (a format error :func:`parse_completion` reports). ``text`` must be a
    ``str`` (``TypeError`` otherwise).

    >>> strict_spans_python("<think>fever</think>\\n<answer>Fabry disease</answer><|im_end|>")
    (7, 12, 29, 42)
    >>> strict_spans_python("fever</think><answer>Fabry disease</answer>")  # prefilled <think>
    (0, 5, 21, 34)
    >>> strict_spans_python("<think>a < b</think><answer>x</answer>") is None  # another "<": the general path decides
    True
    """
    if not isinstance(text, str):
        raise TypeError(f"strict_spans() argument must be str, not {type(text).__name__}")
    find, startswith = text.find, text.startswith
    p = find("<")
    if startswith("<think>", p):
        if think_prefilled or (p and not text[:p].isspace()):
            return None
        think_start = p + 7
        p = find("<", think_start)
        if not startswith("</think>", p):
            return None
    elif startswith("</think>", p) and think_prefilled is not False:
        think_start = 0
    else:
        return None
    q = find("<", p + 8)
    if not startswith("<answer>", q) or (q > p + 8 and not text[p + 8 : q].isspace()):
        return None
    r = find("<", q + 8)
    if not startswith("</answer>", r):
        return None
    end = r + 9
    if end < len(text) and not text[end:].isspace() and (find("<", end) < 0 or _strip_end_tokens(text[end:])):
        return None
    return think_start, p, q + 8, r


try:
    from medzero_rewards import _speedups
except ImportError:  # installed without a C compiler: the Python version, same results
    _speedups = None

strict_spans = strict_spans_python
"""``strict_spans(text, *, think_prefilled=None)``: :func:`strict_spans_python`, compiled when available."""
if _speedups is not None:
    _speedups.set_end_token_stripper(_strip_end_tokens)
    strict_spans = _speedups.strict_spans  # noqa: F811


def _is_prefilled(positions: tuple[list[tuple[int, int]], ...], think_prefilled: bool | None) -> bool:
    """Was the opening ``<think>`` injected by the chat template? (see :func:`parse_completion`)"""
    if think_prefilled is not None:
        return bool(think_prefilled)
    t_open, t_close, a_open, _ = positions
    return not t_open and bool(t_close) and (not a_open or t_close[0][0] < a_open[0][0])


def _last_answer(text: str, a_open: list[tuple[int, int]], a_close: list[tuple[int, int]]) -> str | None:
    """The stripped content of the last complete answer block: the last ``</answer>`` and the nearest
    ``<answer>`` before it; None when there is none."""
    if a_close:
        last_cs = a_close[-1][0]
        for _os, oe in reversed(a_open):
            if oe <= last_cs:
                return text[oe:last_cs].strip()
    return None


def answer_and_format_score(text: str, *, think_prefilled: bool | None = None) -> tuple[str | None, float]:
    """``(p.answer, p.format_score)`` of ``p = parse_completion(text, ...)``, without the rest of ``p``.

    What a reward needs from a completion, without the reasons and result objects (a training step
    reads the reasons only for the items it logs).

    >>> answer_and_format_score("<think>fever</think><answer>Fabry disease</answer>")
    ('Fabry disease', 1.0)
    >>> answer_and_format_score("<think>fever</think><think>rash</think><answer>Fabry disease</answer>")
    ('Fabry disease', 0.5)
    """
    if not isinstance(text, str):
        return None, 0.0
    spans = strict_spans(text, think_prefilled=think_prefilled)
    if spans is not None:
        return text[spans[2] : spans[3]].strip(), 1.0
    positions = _scan_tags(text)
    prefilled = _is_prefilled(positions, think_prefilled)
    return _last_answer(text, positions[2], positions[3]), _partial_format_score(positions, prefilled)[0]


def _parse_general(text: str, think_prefilled: bool | None) -> ParsedCompletion:

    # positions[kind] = list of (start, end) of each tag of that kind, in text order.
    positions = _scan_tags(text)
    t_open, t_close, a_open, a_close = positions

    prefilled = _is_prefilled(positions, think_prefilled)
    counts = TagCounts(
        think_open=len(t_open) + (1 if prefilled else 0),
        think_close=len(t_close),
        answer_open=len(a_open),
        answer_close=len(a_close),
    )

    # Think: from the first written <think> (else the start, when prefilled) to the next </think>.
    think_span: tuple[int, int] | None = None
    think_start = t_open[0][1] if t_open else (0 if prefilled else -1)
    if think_start >= 0:
        for cs, _ce in t_close:
            if cs >= think_start:
                think_span = (think_start, cs)
                break

    answer = _last_answer(text, a_open, a_close)
    after_answer = _strip_end_tokens(text[a_close[-1][1] :]) if a_close else ""

    reasons: list[str] = []
    counts_list = (counts.think_open, counts.think_close, counts.answer_open, counts.answer_close)
    if counts_list == (1, 1, 1, 1):
        if (-1 if prefilled else t_open[0][0]) < t_close[0][0] < a_open[0][0] < a_close[0][0]:
            format_score = 1.0
            if not prefilled and text[: t_open[0][0]].strip():
                reasons.append("text before <think>")
            if text[t_close[0][1] : a_open[0][0]].strip():
                reasons.append("text between </think> and <answer>")
        else:
            format_score = _partial_format_score(positions, prefilled)[0]
            reasons.append("tags out of order")
    else:
        format_score, disordered = _partial_format_score(positions, prefilled)
        reasons.extend(_count_reason(n, name) for n, name in zip(counts_list, _TAG_NAMES) if n != 1)
        if disordered:
            reasons.append("tags out of order")
    if answer is not None and not answer:
        reasons.append("empty answer")
    if after_answer:
        reasons.append("text after </answer>")

    return ParsedCompletion(
        text=text,
        answer=answer,
        after_answer=after_answer,
        tags=counts,
        think_prefilled=prefilled,
        format_ok=not reasons,
        format_score=format_score,
        format_reason="; ".join(reasons),
        n_chars=len(text),
        think_span=think_span,
    )


# ---------------------------------------------------------------------------------------------------
# Ranked differential-diagnosis lists
# ---------------------------------------------------------------------------------------------------

# Leading list markers: "1.", "1)", "(1)", "#1", "#1.", "1 -", "1:", "-", "*", "•" (and friends).
_MARKER_RE = re.compile(
    r"""^\s*(?:
        \(\s*\d{1,2}\s*\)                 # (1)
      | \#\s?\d{1,2}\s*[.:)\-–—]?         # #1  #1.  #1:
      | \d{1,2}\s*[.)\]](?!\d)            # 1.  1)  1]   (not 22q11.2 / 1.5)
      | \d{1,2}\s*:(?=\s)                 # 1:
      | \d{1,2}\s+[-–—](?=\s)             # 1 -
      | [-*•·▪‣◦●○■□+–—→](?=\s)          # bullets
      | \(?[A-Ha-h]\s*[.)](?=\s)           # A.  b)  (c)   (lettered lists)
      | (?:\d\ufe0f?\u20e3|\U0001f51f|[\u2460-\u2473\u2776-\u277f])\s*[.)]?  # keycap 1️⃣, 🔟, circled ① ❶
    )\s*""",
    re.VERBOSE,
)
_HEADING_RE = re.compile(r"^\s*#{1,6}\s+")
_LABEL_WORDS = (
    r"the|my|final|most|more|likely|probable|possible|primary|principal|leading|working|suspected|"
    r"definitive|differential|differentials|clinical|top|best|main|ranked|list|of|candidate|candidates|"
    r"diagnosis|diagnoses|diagnostic|dx|ddx|answer|answers|conclusion|impression|rank|ranking|option|"
    r"choice|possibility|alternative|\d{1,2}|"
    r"first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|\d{1,2}(?:st|nd|rd|th)|"  # "Second: X"
    r"other|others|possibilities|considerations|alternatives|less"  # "Other possibilities: A, B"
)
_LABEL_RE = re.compile(rf"^\s*(?:(?:{_LABEL_WORDS})\b\s*)+(?:\([^)]*\)\s*)?[:：]\s*", re.IGNORECASE)
_LABEL_IS_RE = re.compile(  # "The most likely diagnosis is X"
    rf"^\s*(?:(?:{_LABEL_WORDS})\b\s*)*(?:diagnosis|diagnoses|dx|answer)\s+(?:is|are|would\s+be|=)\s+",
    re.IGNORECASE,
)
_LABEL_ONLY_RE = re.compile(rf"(?:(?:{_LABEL_WORDS})\b[\s:：]*)+", re.IGNORECASE)  # "Top 5", "Differential diagnosis"
_LIKELIHOOD = (
    r"likely|unlikely|likelihood|possible|possibly|probable|probably|probability|confiden\w*|certain\w*|"
    r"suspect\w*|favou?r\w*|leading|top\s+choice|first\s+choice|best\s+fit|rank\w*|\d+(?:\.\d+)?\s*%|"
    r"p\s*=\s*0?\.\d+"
)
# Trailing notes: "(most likely)", "(70%)", "[high confidence]", " - less likely", ": 60%".
_LIKELY_RE = re.compile(rf"\b(?:{_LIKELIHOOD})(?:\b|(?<=%))", re.IGNORECASE)
_NUMBER_NOTE_RE = re.compile(r"\s*\d+(?:\.\d+)?\s*%?\s*")
_SEP_TAIL_RE = re.compile(r"(?:\s*[:：]|\s+[-–—])\s+([^-–—:：()\[\]]+)\Z")


def _strip_trailing_note(s: str) -> str:
    """``s`` without one trailing likelihood note (unchanged when there is none)."""
    close = s[-1:]
    if close in (")", "]"):
        open_at = s.rfind("(" if close == ")" else "[")
        if open_at > 0:
            content = s[open_at + 1 : -1]
            if ")" not in content and "]" not in content and (
                _LIKELY_RE.search(content) or _NUMBER_NOTE_RE.fullmatch(content)
            ):
                return s[:open_at]
        return s
    m = _SEP_TAIL_RE.search(s)
    if m and m.start() > 0 and _LIKELY_RE.search(m.group(1)):
        return s[: m.start()]
    return s


_BOLD_HEAD_RE = re.compile(r"\s*\*\*([^*]+?)\*\*\s*(?:[:：]|[-–—](?=\s))\s*\S")
_MARKDOWN_RE = re.compile(r"\*\*|__|`+|~~")
_TRAILING_PUNCT = " \t.;,:!?。；，："
_INLINE_NUM_RE = re.compile(r"(?:^|(?<=\s))\(?(\d{1,2})[.)](?!\d)\s*")
_WS_RE = re.compile(r"\s+")


# Letters, digits, single spaces, commas, apostrophes and hyphens not after a space, starting with a
# letter and ending with a letter or digit: no marker, markdown, ":" label, note or trailing punctuation.
_PLAIN_ITEM_RE = re.compile(r"[A-Za-z](?:[A-Za-z0-9,']|(?<! )-| (?! ))*[A-Za-z0-9]")


def clean_item(item: str) -> str:
    """Strip markers, markdown, labels, likelihood notes and trailing punctuation from one list item
    ("" for a header line).

    >>> clean_item("1. **Fabry disease** (most likely)."), clean_item("## Differential diagnosis")
    ('Fabry disease', '')
    """
    return _clean_item(item)


def _clean_item(item: str) -> str:
    if _PLAIN_ITEM_RE.fullmatch(item) and not _LABEL_IS_RE.match(item):
        return "" if len(item) < 48 and _LABEL_ONLY_RE.fullmatch(item) else item
    return _clean_general(item)


def _clean_general(item: str) -> str:
    if "  " in item or "\t" in item:
        item = _WS_RE.sub(" ", item)  # single spaces: the note regexes below stay linear
    s = _MARKER_RE.sub("", _HEADING_RE.sub("", item), count=1)
    m = _BOLD_HEAD_RE.match(s)  # "**Fabry disease**: an X-linked lysosomal disorder …" -> the bold name
    if m and not _LABEL_ONLY_RE.fullmatch(m.group(1).strip()):
        s = m.group(1)
    s = _MARKDOWN_RE.sub("", s)
    s = _MARKER_RE.sub("", s, count=1)
    s = s.strip().strip("*_").strip()
    s = _LABEL_IS_RE.sub("", _LABEL_RE.sub("", s, count=1), count=1)
    s = _MARKER_RE.sub("", s, count=1)  # "Diagnosis: 1. X"
    s = s.strip().strip("*_").strip()
    s = s.strip().rstrip(_TRAILING_PUNCT)
    prev = None
    for _ in range(8):  # several notes: "X (likely) (80%)" (bounded: each pass is linear)
        if prev == s:
            break
        prev = s
        s = _strip_trailing_note(s).rstrip(_TRAILING_PUNCT)
    if len(s) < 48 and _LABEL_ONLY_RE.fullmatch(s):  # a header line, not a diagnosis
        return ""
    return _WS_RE.sub(" ", s).strip()


def _split_semicolons(line: str) -> list[str]:
    """Split on ';' outside parentheses (so "t(16;16)(p13;q22)" stays whole)."""
    if ";" not in line and "；" not in line:
        return [line]
    parts: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(line):  # answers are short lines; this loop only runs when ';' is present
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(depth - 1, 0)
        elif ch in ";；" and depth == 0:
            parts.append(line[start:i])
            start = i + 1
    parts.append(line[start:])
    return parts


def _split_inline_numbers(line: str) -> list[str]:
    """Split "1. A 2. B 3. C" on one line, only when the numbers run 1, 2, 3, … in order."""
    marks = [m for m in _INLINE_NUM_RE.finditer(line)]
    if len(marks) < 2:
        return [line]
    chosen: list[re.Match[str]] = []
    expected = 1
    for m in marks:
        if int(m.group(1)) == expected:
            chosen.append(m)
            expected += 1
    if len(chosen) < 2 or line[: chosen[0].start()].strip() and not _LABEL_RE.match(line):
        return [line]
    parts = [line[: chosen[0].start()]] if line[: chosen[0].start()].strip() else []
    for i, m in enumerate(chosen):
        end = chosen[i + 1].start() if i + 1 < len(chosen) else len(line)
        parts.append(line[m.start() : end])
    return parts


_NUMBERED_RE = re.compile(r"^\s*[*_]*\s*(?:\(\s*\d{1,2}\s*\)|#\s?\d{1,2}|\d{1,2}\s*[.):\]](?!\d)|\d{1,2}\s+[-–—]\s|"
                          r"\(?[A-Ha-h]\s*[.)]\s|\d\ufe0f?\u20e3|\U0001f51f|[\u2460-\u2473\u2776-\u277f])"
                          r"|^\s*[*_]*\s*(?:rank|option|choice|candidate)\s*#?\d{1,2}\b", re.IGNORECASE)


def _top_level(lines: list[str]) -> list[str]:
    """The list's own items: when some lines are numbered, only those (bullets and other lines under
    them are reasons: "1. X\n   - finding"); otherwise the least indented lines."""
    numbered = [ln for ln in lines if _NUMBERED_RE.match(ln)]
    if len(numbered) >= 2 or (numbered and numbered[0] is not lines[0]):
        return numbered
    if numbered:  # one numbered line first: a single item followed by its reasons
        return lines
    indent = min(len(ln) - len(ln.lstrip()) for ln in lines)
    return [ln for ln in lines if len(ln) - len(ln.lstrip()) == indent]


_TABLE_SEP_RE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_NAME_HEADER_RE = re.compile(r"diagnos|disease|condition|disorder|syndrome|name|entity|candidate", re.IGNORECASE)
_RANK_CELL_RE = re.compile(r"^\W*(?:#?\d{1,2}|rank\s*\d{1,2})\W*$", re.IGNORECASE)


def _table_items(lines: list[str]) -> list[str] | None:
    """The diagnosis cell of each row of a markdown table (``| 1 | Fabry disease | reason |``), or None
    when the lines are not a table. The column is the one whose header names a diagnosis, else the
    first cell that is not a rank number."""
    rows = [ln for ln in lines if ln.lstrip().startswith("|")]
    if len(rows) < 2 or len(rows) < len(lines) - 2:
        return None
    cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows if not _TABLE_SEP_RE.match(r)]
    column = None
    if len(rows) > len(cells):  # a separator row: the first row is the header
        header, cells = cells[0], cells[1:]
        column = next((i for i, h in enumerate(header) if _NAME_HEADER_RE.search(h)), None)
    out = []
    for row in cells:
        if column is not None and column < len(row):
            out.append(row[column])
        else:
            out.append(next((c for c in row if c and not _RANK_CELL_RE.match(c)), ""))
    return [c for c in out if c]


def table_items(answer: str) -> list[str] | None:
    """The diagnosis cell of each row when ``answer`` is a markdown table, else None.

    >>> table_items("| Rank | Diagnosis |\\n|---|---|\\n| 1 | Fabry disease |\\n| 2 | Gaucher disease |")
    ['Fabry disease', 'Gaucher disease']
    >>> table_items("Fabry disease") is None
    True
    """
    if not isinstance(answer, str) or "|" not in answer:
        return None
    lines = [ln for ln in answer.splitlines() if ln.strip()]
    return _table_items(lines) if len(lines) > 1 else None


def _raw_items(answer: str) -> list[str]:
    lines = [ln for ln in answer.splitlines() if ln.strip()]
    table = _table_items(lines) if len(lines) > 1 and "|" in answer else None
    if table is not None:
        return table
    if len(lines) > 1:
        lines = _top_level(lines)
    items: list[str] = []
    for ln in lines:
        for part in _split_semicolons(ln):
            items.extend(_split_inline_numbers(part))
    return items


def _dedupe(items: list[str], k: int | None) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for it in items:
        key = it.casefold()
        if it and key not in seen:
            seen.add(key)
            out.append(it)
            if k is not None and len(out) >= k:
                break
    return out


def parse_ranked_list(answer: str, k: int | None = None) -> list[str]:
    """Split a differential-diagnosis answer into a ranked list of disease names.

    Items are numbered lines (``1. X``, ``1) X``, ``(1) X``, ``#1 X``, ``1 - X``), bullets
    (``- X``, ``* X``, ``• X``), one name per line, ``;``-separated names on one line (``;`` inside
    parentheses does not split) or ``1. A 2. B`` on one line. Commas never split (names contain them).
    Each item loses markdown, a leading label (``Diagnosis:``, ``Most likely:``, ``Final diagnosis:``,
    ``The most likely diagnosis is``),
    an explanation after a bold name (``**X**: because …``), header lines (``Differential diagnosis:``,
    ``## Top 5``), trailing punctuation and trailing likelihood notes (``(most likely)``, ``(70%)``, ``- less likely``)
    while name parentheses such as ``(CMT1A)`` stay. Empty items and case-insensitive duplicates are
    dropped, order is kept, and the list is cut at ``k`` (``k <= 0`` gives ``[]``).

    Non-string input gives ``[]``.

    >>> parse_ranked_list("1. **Fabry disease** (most likely)\\n2. Deafness, autosomal recessive.\\n3) Fabry disease")
    ['Fabry disease', 'Deafness, autosomal recessive']
    >>> parse_ranked_list("Final diagnosis: Charcot-Marie-Tooth disease type 1A (CMT1A); Gaucher disease (20%)")
    ['Charcot-Marie-Tooth disease type 1A (CMT1A)', 'Gaucher disease']
    >>> parse_ranked_list("- A\\n- B\\n- C", k=2)
    ['A', 'B']
    """
    if not isinstance(answer, str) or (k is not None and k <= 0):
        return []
    return _dedupe([_clean_item(it) for it in _raw_items(answer)], k)


# ---------------------------------------------------------------------------------------------------
# Several candidates in one answer, negations
# ---------------------------------------------------------------------------------------------------

_EITHER_RE = re.compile(r"^\s*either\s+", re.IGNORECASE)
# " or " / " vs " / " vs. " / " versus " / " / " — but never the "or" of "with or without".
_ALT_RE = re.compile(
    r"(?<!\bwith)(?<!/)\s+or\s+|(?<!\bgraft)\s+(?:vs\.?|versus)\s+|\s+/\s+", re.IGNORECASE
)
_OXFORD_RE = re.compile(r",\s*(?:or)\s+", re.IGNORECASE)
# Necessary conditions for a split, checked before the general path: ";" or an inline number
# ("1. A 2. B") in the raw answer; "either", " or ", ", or", " vs", " versus", " /" after cleaning.
_ITEM_HINT_RE = re.compile(r"[;；]|\d[.)]")
_ALT_HINT_RE = re.compile(r"either|[\s,]or\s|\s(?:vs|versus)|\s/", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Keep:
    """Normalised protected names, and a regex finding those that contain a separator."""

    names: frozenset[str]
    pattern: re.Pattern[str] | None

    def mask(self, item: str) -> tuple[str, list[str]]:
        """Replace protected names inside ``item`` by separator-free placeholders."""
        if self.pattern is None:
            return item, []
        found: list[str] = []

        def _sub(m: re.Match[str]) -> str:
            found.append(m.group(0))
            return f"\x00{len(found) - 1}\x00"

        return self.pattern.sub(_sub, item), found


_PLACEHOLDER_RE = re.compile(r"\x00(\d+)\x00")


def _unmask(text: str, found: list[str]) -> str:
    return _PLACEHOLDER_RE.sub(lambda m: found[int(m.group(1))], text) if found else text


def _norm_name(name: str) -> str:
    return _WS_RE.sub(" ", name).strip().casefold()


@lru_cache(maxsize=16)
def _make_keep(keep: frozenset[str]) -> _Keep:
    names = frozenset(_norm_name(k) for k in keep if isinstance(k, str) and k.strip())
    risky = sorted((n for n in names if "," in n or len(_ALT_RE.split(n)) > 1), key=len, reverse=True)
    pattern = None
    if risky:
        alts = "|".join(r"\s+".join(re.escape(w) for w in n.split(" ")) for n in risky)
        pattern = re.compile(rf"(?<!\w)(?:{alts})(?!\w)", re.IGNORECASE)
    return _Keep(names, pattern)


_NO_KEEP = _make_keep(frozenset())


def _split_alternatives(item: str, keep: _Keep) -> list[str]:
    if _norm_name(item) in keep.names:
        return [item]
    s, found = keep.mask(_EITHER_RE.sub("", item))
    if _OXFORD_RE.search(s):  # "A, B, or C": commas split only in this Oxford-list shape
        head, last = _OXFORD_RE.split(s, maxsplit=1)
        parts = [*head.split(","), last]
    else:
        parts = [s]
    out = [_unmask(x, found) for p in parts for x in _ALT_RE.split(p)]
    return [c for c in (_clean_item(x) for x in out) if c]


def split_candidates(answer: str, *, keep: Collection[str] = ()) -> list[str]:
    """The distinct disease candidates an answer names (for detecting "A or B" hedging).

    Splits conservatively: on lines, numbered/bulleted items and ``;`` (as :func:`parse_ranked_list`),
    then on `` or ``, `` vs ``, `` versus ``, `` / `` (spaces around the slash; "and/or" and
    "VACTERL/VATER" stay whole), a leading ``either`` and the Oxford list ``A, B, or C``. The "or" of
    "with or without" and "and/ or" and the "versus" of "graft versus host" never split. Names in
    ``keep`` (compared case- and whitespace-insensitively) are never split: about 0.5% of Orphanet
    names contain " or " ("Familial or sporadic hemiplegic migraine"), so pass the gold name and its
    synonyms, or a whole vocabulary as a ``frozenset`` (its normalisation is cached); a protected
    name also stays whole inside a longer answer. Returns ``[answer]`` (cleaned) when there is one
    candidate, ``[]`` for a blank or non-string answer. Whether several candidates are hacking is the scorer's decision.

    >>> split_candidates("Either Fabry disease or Gaucher disease")
    ['Fabry disease', 'Gaucher disease']
    >>> split_candidates("Marfan syndrome, Loeys-Dietz syndrome, or Ehlers-Danlos syndrome")
    ['Marfan syndrome', 'Loeys-Dietz syndrome', 'Ehlers-Danlos syndrome']
    >>> split_candidates("Familial clubfoot with or without associated lower limb anomalies")
    ['Familial clubfoot with or without associated lower limb anomalies']
    >>> split_candidates("Familial or sporadic hemiplegic migraine", keep={"familial or sporadic hemiplegic migraine"})
    ['Familial or sporadic hemiplegic migraine']
    """
    if not isinstance(answer, str) or not answer.strip():
        return []
    keep_set = _make_keep(keep if isinstance(keep, frozenset) else frozenset(keep)) if keep else _NO_KEEP
    whole = _clean_item(answer)
    if keep_set.names and _norm_name(whole) in keep_set.names:
        return [whole] if whole else []
    if answer.isprintable() and not _ITEM_HINT_RE.search(answer) and not _ALT_HINT_RE.search(whole):
        # one line, one item, no alternative separator: what the general path below returns
        if not whole:
            return []
        one = whole if whole is answer else _clean_item(whole)  # a plain name comes back as itself
        return [one] if one else []
    return _split_general(answer, keep_set)


def _split_general(answer: str, keep: _Keep) -> list[str]:
    cands: list[str] = []
    for it in _raw_items(answer):
        cleaned = _clean_item(it)
        if cleaned:
            cands.extend(_split_alternatives(cleaned, keep))
    return _dedupe(cands, None)


_NEGATION_RE = re.compile(
    r"""
      ^\W*(?:(?:it|this)\s+is\s+|it's\s+)?(?:not|no)\s+(?!otherwise\s+specified|further\s+specified)
    | \b(?:is|are|was|were|does|do)\s*n[o']t\b(?!\s+(?:otherwise|further)\s+specified)
    | \b(?:is|are|was|were)\s+(?:unlikely|excluded|ruled\s+out)\b
    | \bno\s+(?:evidence|signs?|indication|features?|findings?)\s+(?:of|for|suggest\w*)\b
    | \bwithout\s+(?:evidence|signs?)\s+of\b
    | \bnot\s+(?:consistent|compatible)\s+with\b
    | \bruled?\s+out\b | \br/o\b | \bexcluded\b
    | \bunlikely\b
    | \bnegative\s+for\b
    """,
    re.IGNORECASE | re.VERBOSE,
)


NEGATION_WORDS = _NEGATION_RE.pattern
"""The negation pattern's text (its words are what :func:`is_negated` looks for)."""


def is_negated(answer: str) -> bool:
    """Whether the answer states what the disease is NOT rather than what it is.

    Catches "not X", "no evidence of X", "X was excluded", "X ruled out", "rule out X", "unlikely X",
    "X is unlikely", "negative for X", "not consistent with X". Real disease names that contain
    "not otherwise specified", "non-", "without" or "negative" are not negations. Non-string -> False.

    >>> is_negated("Not Fabry disease"), is_negated("Fabry disease ruled out"), is_negated("Fabry disease")
    (True, True, False)
    >>> is_negated("Dendritic cell sarcoma not otherwise specified")
    False
    """
    if not isinstance(answer, str):
        return False
    if answer.isascii():  # every pattern above needs one of these words: skip the regex when none is there
        low = answer.lower()
        if not ("no" in low or "n't" in low or "unlikely" in low or "excluded" in low or "rule" in low
                or "r/o" in low or "without" in low or "negative" in low):  # fmt: skip
            return False
    return _NEGATION_RE.search(answer) is not None


# ---------------------------------------------------------------------------------------------------
# Token counting
# ---------------------------------------------------------------------------------------------------


def _length_of(ids: Any) -> int:
    if isinstance(ids, (list, tuple)):
        return len(ids)
    if hasattr(ids, "keys") and "input_ids" in ids:  # BatchEncoding / dict
        return len(ids["input_ids"])
    if hasattr(ids, "__len__"):
        return len(ids)
    raise TypeError(f"tokenizer returned {type(ids).__name__}, expected a sequence of token ids")


def count_tokens(text: str, tokenizer: object | None) -> int | None:
    """Number of tokens in ``text``; None when there is no tokenizer (or ``text`` is not a string).

    Supports Hugging Face tokenizers (``tokenizer.encode(text, add_special_tokens=False)``, or plain
    ``encode(text)`` when that keyword is not accepted) and plain callables returning a list of ids
    (or a mapping with ``input_ids``). An object that is neither raises ``TypeError``.

    >>> count_tokens("fever and rash", str.split)
    3
    >>> count_tokens("fever", None) is None
    True
    """
    if tokenizer is None or not isinstance(text, str):
        return None
    encode = getattr(tokenizer, "encode", None)
    if callable(encode):
        try:
            ids = encode(text, add_special_tokens=False)
        except TypeError:
            ids = encode(text)
        return _length_of(ids)
    if callable(tokenizer):
        return _length_of(tokenizer(text))
    raise TypeError(f"unsupported tokenizer {type(tokenizer).__name__}: needs .encode() or to be callable")
