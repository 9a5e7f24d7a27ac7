"""Reading the diagnosis out of the way models phrase an answer.

Models rarely answer with a bare name. They hedge (``Probable X``, ``X, most likely``), write a
sentence (``X is the most likely diagnosis.``, ``The findings point to X.``), explain
(``X, an X-linked lysosomal storage disorder``, ``X (alpha-galactosidase A deficiency)``, ``X due to
...``), use markdown and labels (``**Diagnosis:** X``), and justify (``X`` + a blank line + ``This
is supported by ...``). :func:`read_answer` turns such an answer into a :class:`Reading`:

* ``spans``: names to match against the gold, in priority order: the cleaned answer, then what the
  small rewrites below leave (each tried in turn; a span is only a *candidate*, the matcher decides);
* ``others``: further diseases the answer names as candidates (``X or Y``, ``X vs Y``, ``X, Y and Z``,
  ``X; differential: Y``, ``X. Alternatively Y``, a list): several candidates get no accuracy credit;
* ``negated``: the main statement says what the disease is *not*.

The answer is cut into segments (lines, ``;`` parts, sentences). The first segment that states a
diagnosis (a label, a cue such as "consistent with", or a name-like line) is the *primary* one; a
later segment is another candidate when it is name-like (a bare disease name or list item) or carries
an alternative cue ("alternatively", "differential", "also consider"); prose (justification) is
ignored, and so is a mention after a contrast ("rather than Y", ", not Y").

Rewrites of the primary segment, tried in this order (each documented below):

1. :func:`strip_frames` -- hedge and sentence-frame words before and after the name;
2. :func:`after_cue` -- the phrase after the last diagnosis cue ("the diagnosis is", "point to");
3. :func:`cut_contrast` -- "X rather than Y" -> "X";
4. :func:`cut_explanation` -- an appositive, parenthesis, dash/colon tail or "due to ..." that
   *explains* (a qualifier such as "(type 2)", ", autosomal recessive" or "- adult onset" names a
   different disease and is never cut; with a name index, neither is text that is itself a known name).

>>> r = read_answer("Probable Fabry disease, an X-linked lysosomal storage disorder.")
>>> r.spans[-1], r.others, r.negated
('Fabry disease', (), False)
>>> read_answer("Fabry disease\\n\\nThis is supported by angiokeratomas and acroparesthesia.").others
()
>>> read_answer("Fabry disease. Alternatively, Gaucher disease.").others
('Gaucher disease',)
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache

from medzero_rewards.normalize import normalize_name
from medzero_rewards.parsing import clean_item, is_negated, split_candidates, table_items

from .vocabulary import (
    Known,
    MAX_SEGMENTS,
    MAX_SEGMENT_CHARS,
    ALT_CUE_RE,
    ANCHOR_BLOCK_RE,
    ANCHOR_NEXT_OK,
    ARTICLE_RE,
    CLAUSE_RE,
    CLOSING,
    CONJUNCTION_RE,
    CONTRAST_RE,
    CJK_FRAME_RE,
    CUE_RE,
    DIFFERENTIAL_LABEL_RE,
    DISEASE_HEAD_RE,
    DOWNRANK_RE,
    EXPLAIN_RE,
    EXPLICIT_ALT_RE,
    FINAL_RE,
    FOREIGN_FRAME_WORDS,
    FOREIGN_NEGATION_RE,
    FRAME,
    GUARD_WORDS,
    HEADER_RE,
    HEDGE,
    IDENTIFIER_RE,
    INTRO_RE,
    JUSTIFY_HEADER_RE,
    LAST_TOKEN_RE,
    LEAD_RE,
    LIGHT_CUT_RE,
    LIST_SPLIT_RE,
    MARKER_RE,
    NEGATIVE_HEDGE_RE,
    NOTE_RE,
    NOT_BUT_RE,
    NO_DIAGNOSIS_RE,
    PAREN_ALT_RE,
    PLAIN_RE,
    PROSE_RE,
    PROSE_START_RE,
    QUALIFIER_FILLER,
    SEMI_RE,
    SENTENCE_END_RE,
    SEPARATORS,
    SIGNAL_WORDS,
    STRONG_ALT_RE,
    SUBTYPE_TAIL_RE,
    TRAIL,
    TRAIL_WORD_RE,
    WEAK_ALT_RE,
    WORD_RE,
)

__all__ = [
    "Reading",
    "is_plain",
    "denies",
    "list_alternatives",
    "names_alternative",
    "after_cue",
    "cut_contrast",
    "cut_explanation",
    "is_qualifier",
    "looks_like_disease",
    "read_answer",
    "read_item",
    "segments",
    "MAX_SEGMENTS",
    "strip_frames",
]

@dataclass(frozen=True, slots=True)
class Reading:
    """What an answer says: names to try (priority order), other candidates, negation.

    ``statement``: the primary segment (where a gold name may be looked for by :func:`anchored`).
    """

    spans: tuple[str, ...]
    others: tuple[str, ...] = ()
    negated: bool = False
    no_diagnosis: bool = False
    statement: str = ""


def _words(text: str) -> list[str]:
    return WORD_RE.findall(text)


def looks_like_disease(text: str) -> bool:
    """Whether a short text reads as a disease name (a head word such as "disease", "-osis", "type 2").

    >>> looks_like_disease("Gaucher disease"), looks_like_disease("angiokeratomas and acroparesthesia")
    (True, False)
    """
    return DISEASE_HEAD_RE.search(text) is not None


def is_qualifier(text: str, *, symbols: bool = True) -> bool:
    """Whether ``text`` only qualifies a name (type code, letter, inheritance, onset, form words, gene
    symbols, unless ``symbols`` is False): cutting it off would name another disease, so it is never
    cut. A list part such as "DPAGT1-CDG" is a name (``symbols=False``).

    >>> is_qualifier("type 2"), is_qualifier("autosomal recessive"), is_qualifier("adult-onset form")
    (True, True, True)
    >>> is_qualifier("alpha-galactosidase A deficiency"), is_qualifier("an X-linked lysosomal disorder")
    (False, False)
    """
    words = _words(text)
    if not words:
        return True
    for w in words:
        low = w.casefold()
        if low in QUALIFIER_FILLER or low in GUARD_WORDS or len(w) == 1 or any(c.isdigit() for c in w):
            continue
        if symbols and w.isupper() and len(w) <= 8:  # a gene symbol / acronym
            continue
        return False
    return True


def _is_prose(text: str) -> bool:
    return PROSE_RE.search(text) is not None and len(_words(text)) > 2


def _name_like(text: str) -> bool:
    return not _is_prose(text) and 0 < len(_words(text)) <= 14


def _disease_phrase(text: str) -> bool:
    """A short phrase with a disease head word and no verb of prose: a name after an alternative cue
    even when one of its words is also a prose word ("Proximal myopathy with extrapyramidal signs")."""
    return (looks_like_disease(text) and 0 < len(_words(text)) <= 14
            and re.search(r"\b(?:is|are|was|were|has|have|had|would|could|should|can|will)\b", text, re.I) is None)


def strip_frames(text: str) -> str:
    """``text`` without hedge / sentence-frame words before and after the name.

    >>> strip_frames("The most likely diagnosis is Fabry disease.")
    'Fabry disease'
    >>> strip_frames("Fabry disease, most likely"), strip_frames("Suspected Fabry disease (probable)")
    ('Fabry disease', 'Fabry disease')
    >>> strip_frames("Very long-chain acyl-CoA dehydrogenase deficiency")  # "very" starts names
    'Very long-chain acyl-CoA dehydrogenase deficiency'
    """
    prev = None
    s = text.strip()
    while prev != s:
        prev = s
        s = LEAD_RE.sub("", s, count=1)
        s = _strip_trailing_frames(s)
    return s


def _strip_trailing_frames(s: str) -> str:
    """``s`` without its trailing run of frame words ("X, most likely", "X is the most likely
    diagnosis.", "X (suspected)") and trailing punctuation, word by word from the end (a regex anchored
    at the end would retry from every start position: quadratic on long runs)."""
    base = s.rstrip(CLOSING)
    rest, stripped = base, False
    while rest:
        window = rest[-80:]
        tokens = LAST_TOKEN_RE.findall(window)
        if not tokens or not window.endswith(tokens[-1]):
            break
        tok = tokens[-1]
        before = rest[: len(rest) - len(tok)]
        if "-" in tok or TRAIL_WORD_RE.fullmatch(tok) is None or not before or not (
                before[-1].isspace() or before[-1] in SEPARATORS):  # fmt: skip
            break
        rest, stripped = before.rstrip().rstrip(SEPARATORS).rstrip(), True
    if stripped:
        return rest.strip()
    return s.rstrip(" \t\n.,;:!?").strip()


def after_cue(text: str) -> str | None:
    """The phrase after the last diagnosis cue, or None when there is no cue or the text before it
    names something itself ("X - consistent with Y": Y is a finding, not the answer).

    >>> after_cue("Given the angiokeratomas, the findings point to Fabry disease")
    'Fabry disease'
    >>> after_cue("Fabry disease"), after_cue("Gaucher disease - consistent with hepatosplenomegaly")
    (None, None)
    """
    last = None
    for m in CUE_RE.finditer(text):
        last = m
    if last is None or last.end() >= len(text):
        return None
    raw_before = text[: last.start()].rstrip()
    before = strip_frames(raw_before)
    if before and (looks_like_disease(before) or raw_before[-1:] in "-–—:(,;"):
        return None  # "X - consistent with Y": a reason after a name
    return strip_frames(text[last.end() :]) or None


def cut_contrast(text: str) -> str:
    """``text`` up to a contrast ("rather than Y", ", not Y", "instead of Y"): Y is not a candidate.

    >>> cut_contrast("Fabry disease rather than Gaucher disease")
    'Fabry disease'
    >>> cut_contrast("Dendritic cell sarcoma not otherwise specified")
    'Dendritic cell sarcoma not otherwise specified'
    """
    m = CONTRAST_RE.search(text)
    return text[: m.start()].strip() if m and m.start() > 0 else text


def _paren_end(text: str, open_at: int) -> int:
    depth = 0
    for i in range(open_at, min(len(text), open_at + 2000)):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(text)


def cut_explanation(text: str, known: Known | None = None) -> tuple[list[str], list[str]]:
    """(heads of ``text`` with the explanations after the name cut off, longest first; alternatives
    named in them).

    An explanation starts at a parenthesis, ``, a|an|the|which|...``, a spaced dash, ``: ``,
    "due to / caused by / associated with / ..." or a predicate ("is ...", "best explains ...");
    a head ends there unless the explanation's text is a qualifier (:func:`is_qualifier`) or (with
    ``known``) the text up to the explanation's end is itself a known name. An explanation that opens
    with an alternative ("(or Y)", "(differential: Y)") yields Y as an alternative.

    >>> cut_explanation("Fabry disease, an X-linked lysosomal storage disorder caused by GLA mutations")
    (['Fabry disease, an X-linked lysosomal storage disorder', 'Fabry disease'], [])
    >>> cut_explanation("Fabry disease (alpha-galactosidase A deficiency)")
    (['Fabry disease'], [])
    >>> cut_explanation("Gaucher disease (type 2)"), cut_explanation("Deafness, autosomal recessive")
    (([], []), ([], []))
    >>> cut_explanation("Fabry disease (or Gaucher disease)")
    (['Fabry disease'], ['Gaucher disease'])
    """
    cuts: list[tuple[int, int, str]] = []  # (start, end, explanation text)
    pos = 0
    while len(cuts) < 12:
        m = EXPLAIN_RE.search(text, pos)
        if m is None:
            break
        if m.start() == 0:
            pos = m.end()
            continue
        if text[m.end() - 1] == "(":
            end = _paren_end(text, m.end() - 1)
            inner = text[m.end() : end - 1 if text[end - 1 : end] == ")" else end]
        else:
            nxt = EXPLAIN_RE.search(text, m.end())
            end = nxt.start() if nxt is not None else len(text)
            inner = text[m.end() : end]
        cuts.append((m.start(), end, inner.strip()))
        pos = max(end, m.end())
    heads: list[str] = []
    alternatives: list[str] = []
    for start, end, inner in cuts:
        weak = WEAK_ALT_RE.match(inner)
        if weak:  # "X, possibly Y": Y is an alternative when it reads as a disease
            alt = strip_frames(inner[weak.end() :])
            if alt and _name_like(alt) and (looks_like_disease(alt) or _has_symbol(alt) or (known is not None and known(alt))):
                alternatives.append(alt)
                head = text[:start].strip()
                if head and head not in heads:
                    heads.append(head)
                continue
        if ALT_CUE_RE.match(inner):
            alt = strip_frames(ALT_CUE_RE.sub("", inner, count=1).lstrip(" ,;:.-–—"))
            if alt and _name_like(alt):
                alternatives.append(alt)
        elif not inner or (is_qualifier(inner) and not IDENTIFIER_RE.match(inner)) or (
                known is not None and known(text[:end].strip())):  # fmt: skip
            continue
        head = text[:start].strip()
        if head and head not in heads:
            heads.append(head)
    heads.reverse()
    return heads, alternatives






def segments(answer: str, limit: int = MAX_SEGMENTS) -> list[tuple[str, bool]]:
    """The answer as (segment, is_list_item): lines, then ``;`` parts, then sentences. A name-like
    part after a ``;`` counts as a list item ("X; Y").

    >>> segments("1. Fabry disease. It fits.\\n2. Gaucher disease")
    [('Fabry disease.', True), ('It fits.', False), ('Gaucher disease', True)]
    """
    out: list[tuple[str, bool]] = []
    for line in answer.splitlines():
        if len(out) >= limit:
            break
        if not line.strip():
            continue
        marker = MARKER_RE.match(line)
        item = marker is not None
        body = line[marker.end() :] if marker else line
        for j, part in enumerate(SEMI_RE.split(body)):
            for sent in SENTENCE_END_RE.split(" ".join(part.split())):  # single spaces: no long \s runs
                if sent.strip() and len(out) < limit:
                    sent = sent.strip()[:MAX_SEGMENT_CHARS]
                    out.append((sent, item or (j > 0 and _name_like(sent))))
                    item = False
            item = False
    return out


def _spans_of(primary: str, known: Known | None) -> tuple[list[str], list[str], list[str]]:
    """(names to try in priority order, alternatives named in explanations, the texts in which
    "X or Y" lists are looked for)."""
    spans: list[str] = []
    alternatives: list[str] = []

    def add(s: str | None) -> None:
        if s and s not in spans:
            spans.append(s)

    cleaned = clean_item(primary)
    not_but = NOT_BUT_RE.match(cleaned)
    if not_but:  # "Not Y but X": X is the answer
        cleaned = cleaned[not_but.end() :]
    intro = INTRO_RE.match(cleaned)
    if intro and intro.end() < len(cleaned):  # "Considering the hypotonia and cardiomyopathy, X"
        add(cleaned)
        cleaned = cleaned[intro.end() :]
    add(cleaned)
    framed = strip_frames(cleaned)
    add(framed)
    listed: list[str] = [LIGHT_CUT_RE.split(cut_contrast(_without_explanatory_parens(cleaned)), maxsplit=1)[0]]
    for base in (framed, after_cue(cleaned)):
        if not base:
            continue
        add(base)
        contrasted = cut_contrast(base)
        add(strip_frames(contrasted))
        heads, alts = cut_explanation(contrasted, known)
        alternatives.extend(a for a in alts if a not in alternatives)
        for h in heads:
            add(strip_frames(h))
        listed.append(heads[-1] if heads else contrasted)
    strong = STRONG_ALT_RE.search(framed)
    if strong:  # "X associated with Y and/or Z", "X vs Z (favouring the former)"
        listed.append(_without_explanatory_parens(framed))
    deparen = _without_explanatory_parens(framed)
    if deparen != framed:  # "X (reason) or Y (reason)"
        listed.append(LIGHT_CUT_RE.split(cut_contrast(deparen), maxsplit=1)[0])
    return spans, alternatives, listed


def _without_explanatory_parens(text: str) -> str:
    """``text`` without parenthesised explanations ("X (supported by Y) or Z (W)" -> "X or Z")."""
    out, pos = [], 0
    while True:
        i = text.find(" (", pos)
        if i < 0:
            out.append(text[pos:])
            return "".join(out).strip()
        end = _paren_end(text, i + 1)
        inner = text[i + 2 : end - 1]
        out.append(text[pos:i])
        if (is_qualifier(inner) and not IDENTIFIER_RE.match(inner)) or ALT_CUE_RE.match(inner):
            out.append(text[i:end])
        pos = end


def _alternative_clause(text: str) -> str:
    """The clause of ``text`` that carries the alternative cue, the cue words removed ("This fits,
    although Y remains a possibility" -> "Y")."""
    clauses = CLAUSE_RE.split(text)
    clause = next((c for c in clauses if ALT_CUE_RE.search(c)), text)
    return ALT_CUE_RE.sub(" ", clause).strip(" ,;:.-–—")


def _head_name(text: str, known: Known | None) -> str:
    """The name a segment starts with: frames, contrasts and explanations removed."""
    framed = strip_frames(clean_item(text))
    base = after_cue(framed) or framed
    heads, _alts = cut_explanation(cut_contrast(base), known)
    return strip_frames(heads[-1] if heads else cut_contrast(base))


def _list_alternatives(text: str, keep: Collection[str], known: Known | None, *, differential: bool = False) -> list[str]:
    """Candidates in one phrase: "X or Y", "X vs Y", "X / Y", "X and/or Y", "X, Y and Z".
    ``differential``: the phrase is labelled as a differential ("Differential diagnosis: X, Y, Z"),
    so name-like parts are candidates even without a disease head word."""
    low = text.casefold()
    if low in keep or (known is not None and known(text)):
        return [text]
    cands = split_candidates(text, keep=keep)
    if len(cands) > 1:
        return cands
    masked = text
    for name in keep:
        if len(name) > 3 and name in masked.casefold() and ("," in name or " and " in name):
            i = masked.casefold().index(name)
            masked = masked[:i] + "\x00" * len(name) + masked[i + len(name) :]
    bounds = [m.span() for m in LIST_SPLIT_RE.finditer(masked)]
    if not bounds:
        return [text]
    parts: list[str] = []
    start = 0
    for a, b in bounds:
        parts.append(text[start:a].strip())
        start = b
    parts.append(text[start:].strip())
    if any(ARTICLE_RE.match(p) for p in parts[1:]):  # "X, a rare disorder": an appositive
        return [text]
    strong = differential or STRONG_ALT_RE.search(masked) is not None
    parts = [strip_frames(p) for p in parts if p.strip()]
    if len(parts) >= 3:
        parts = _join_qualifiers(parts, strong)
    if len(parts) < 2 or any(
        not p or is_qualifier(p, symbols=False) or not _name_like(p) or (i > 0 and _is_subtype_tail(p, parts, strong))
        for i, p in enumerate(parts)
    ):
        return [text]
    named = sum(looks_like_disease(p) or _has_symbol(p) or (known is not None and known(p)) for p in parts)
    # "X vs Y", "X > Y", "X and/or Y": the separator itself says these are alternatives
    return parts if named == len(parts) or (len(parts) >= 3 and named >= 2) or strong else [text]


def _is_subtype_tail(part: str, parts: list[str], strong: bool) -> bool:
    """Whether a list part is the tail of the name before it ("Spondylometaphyseal dysplasia, A4 type"),
    not a name of its own."""
    return (SUBTYPE_TAIL_RE.search(part) is not None and len(part.split()) <= 3 and not strong
            and not looks_like_disease(SUBTYPE_TAIL_RE.sub("", part)) and not (len(parts) >= 3 and _has_code(part)))


def _join_qualifiers(parts: list[str], strong: bool) -> list[str]:
    """Parts of a comma list with each qualifier or subtype tail joined back onto the name before it, so
    one name with a comma ("X, matrilin-3 type") among others is one candidate, not a reason to read the
    whole list as one name.

    >>> _join_qualifiers(["Fabry disease", "Spondylometaphyseal dysplasia", "A4 type", "Pompe disease"], False)
    ['Fabry disease', 'Spondylometaphyseal dysplasia, A4 type', 'Pompe disease']
    """
    out: list[str] = []
    for p in parts:
        if out and p and (is_qualifier(p, symbols=False) or _is_subtype_tail(p, [*out, p], strong)):
            out[-1] = f"{out[-1]}, {p}"
        else:
            out.append(p)
    return out


def _has_code(text: str) -> bool:
    """A type code after "type" ("Brachydactyly type B2"): a name of its own in a list of three or more."""
    return re.search(r"\btype\s+[\w.-]{1,6}\s*$", text, re.IGNORECASE) is not None


def _has_symbol(text: str) -> bool:
    """A capitalised symbol with a digit or of 3+ capitals ("DPAGT1-CDG", "PANDAS"): a named entity."""
    return any((w.isupper() and len(w) >= 3) or (any(c.isdigit() for c in w) and any(c.isupper() for c in w))
               for w in _words(text))  # fmt: skip


def _same(name: str, spans: Collection[str]) -> bool:
    key = normalize_name(name)
    return any(normalize_name(s) == key for s in spans)


def _primary_index(segs: list[tuple[str, bool]], known: Known | None = None) -> int:
    """The segment stating the diagnosis: the first with a final-diagnosis label or cue ("the final
    diagnosis is X" after "initially misdiagnosed as Y"), else the first label, cue or name-like line
    that is not negated or historical (a negated first statement counts when nothing else states one)."""
    first_stating = None
    fallback = None
    for i, (text, _item) in enumerate(segs):
        cleaned = clean_item(text)
        if not cleaned or (HEADER_RE.search(text) and len(_words(cleaned)) <= 6 and not looks_like_disease(cleaned)):
            continue
        if FINAL_RE.search(text) and not _denies(cleaned):
            return i
        if first_stating is not None and fallback is not None:
            continue
        head = _head_name(cleaned, None)
        if (CUE_RE.search(text) or _name_like(cleaned) or text != cleaned or looks_like_disease(cleaned)
                or (not PROSE_START_RE.match(cleaned) and _name_like(head))
                or (known is not None and known(head))):  # fmt: skip
            if first_stating is None:
                first_stating = i
            if fallback is None and (not _denies(cleaned) or NOT_BUT_RE.match(cleaned)):
                fallback = i
    if fallback is not None:
        return _stated_later(segs, fallback)
    if first_stating is not None:
        return first_stating
    return next((i for i, (t, _) in enumerate(segs) if clean_item(t)), 0)


def _stated_later(segs: list[tuple[str, bool]], i: int) -> int:
    """``i``, or the first later segment that states a diagnosis with a cue when segment ``i`` is a
    sentence of findings without one ("The patient presents with ... . These findings are consistent
    with X.")."""
    text = segs[i][0]
    cleaned = clean_item(text)
    if not (_is_prose(cleaned) and PROSE_START_RE.match(cleaned)) or CUE_RE.search(text) or FINAL_RE.search(text):
        return i  # it states something, or starts with a name ("X — explains the palsy; Y — ...")
    for j in range(i + 1, len(segs)):
        later = clean_item(segs[j][0])
        if CUE_RE.search(segs[j][0]) and not _denies(later) and not ALT_CUE_RE.search(later):
            return j
    return i


def _denies(text: str) -> bool:
    """A statement that does not assert the disease: negated, ruled out, a low suspicion, a history."""
    text = cut_contrast(text)
    conj = CONJUNCTION_RE.search(text)
    if conj and conj.start() > 0:  # "X, but Y cannot be ruled out": the clause about Y is not about X
        text = text[: conj.start()]
    if is_negated(text):
        return True
    lead = LIGHT_CUT_RE.split(text, maxsplit=1)[0]  # "X, given a family history of Y" asserts X
    return NEGATIVE_HEDGE_RE.search(lead) is not None


def is_plain(answer: str) -> bool:
    """Whether ``answer`` is a bare name: words separated by single spaces, no punctuation but ``-``
    and ``'``, and none of the words the reader acts on (frames, hedges, cues, alternatives, negations,
    explanations). Such an answer reads as itself, so the reader is skipped (most wrong answers in
    training are bare names).

    >>> is_plain("Gaucher disease type 1"), is_plain("Probable Gaucher disease"), is_plain("Gaucher disease, type 1")
    (True, False, False)
    """
    if len(answer) > 200 or PLAIN_RE.fullmatch(answer) is None:
        return False
    return not any(w in SIGNAL_WORDS for w in answer.casefold().replace("-", " ").split())


def read_answer(answer: str, *, keep: Collection[str] = frozenset(), known: Known | None = None) -> Reading:
    """Read a single-diagnosis answer (see the module docstring). ``keep``: names (casefolded) never
    split (the gold names); ``known``: recognises disease names (e.g. the Orphanet hierarchy).

    >>> read_answer("**Diagnosis:** Fabry disease (most likely); differential: Gaucher disease").others
    ('Gaucher disease',)
    >>> read_answer("The findings point to Fabry disease rather than Gaucher disease.").spans[-1]
    'Fabry disease'
    >>> read_answer("Fabry disease was ruled out").negated
    True
    """
    if is_plain(answer):
        return Reading(spans=(answer,), statement=answer)
    table = table_items(answer)
    if table:  # a markdown table: its rows are the candidates
        spans, _alts, _listed = _spans_of(table[0], known)
        return Reading(spans=tuple(spans), others=tuple(_head_name(t, known) for t in table[1:]), statement=table[0])
    segs = segments(answer)
    if not segs:
        return Reading(spans=())
    primary_i = _primary_index(segs, known)
    primary = segs[primary_i][0]
    cleaned_primary = clean_item(primary) or primary
    if NO_DIAGNOSIS_RE.match(cleaned_primary):
        return Reading(spans=(cleaned_primary,), no_diagnosis=True, statement=primary)
    not_but = NOT_BUT_RE.match(cleaned_primary)
    negated = not not_but and _denies(cut_contrast(cleaned_primary))
    spans, alternatives, listed = _spans_of(primary, known)
    others: list[str] = [a for a in alternatives if a]
    if not negated:
        for text in listed:
            cands = _list_alternatives(text, keep, known, differential=DIFFERENTIAL_LABEL_RE.search(primary) is not None)
            if len(cands) > 1:
                others.extend(strip_frames(c) or c for c in cands[1:])
                break
        # an alternative after a comma/conjunction in the statement: "X, although Y is also possible"
        for m in CONJUNCTION_RE.finditer(cleaned_primary):
            tail = cleaned_primary[m.end() :]
            first = tail.split(".")[0]
            if ALT_CUE_RE.search(tail) and (not is_negated(first) or EXPLICIT_ALT_RE.search(first)):
                name = strip_frames(ALT_CUE_RE.sub(" ", tail).lstrip(" ,;:.-–—"))
                heads, _a = cut_explanation(name, known)
                name = strip_frames(heads[-1]) if heads else name
                # a disease head word marks a name even when a word of it reads as prose ("... signs")
                if name and (_name_like(name) or _disease_phrase(name)) and not is_qualifier(name, symbols=False):
                    others.append(name)
                break
        # "X (most likely), Y (less likely)": names each with a likelihood note
        notes = list(NOTE_RE.finditer(cleaned_primary))
        if notes:
            rest = cleaned_primary[notes[0].end() :]
            m = re.match(r"\s*(?:[,;/]|\bor\b|\band\b)\s*(.+)", rest)
            if m and not LIGHT_CUT_RE.match(rest) and not EXPLAIN_RE.match(rest):  # ", pending confirmation"
                name = strip_frames(NOTE_RE.sub("", m.group(1)))
                if name and _name_like(name) and not is_qualifier(name, symbols=False):
                    others.append(name)
    # later segments: another candidate when name-like or marked as an alternative; prose is ignored
    in_justification = False
    for text, item in segs[primary_i + 1 :]:
        cleaned = clean_item(text)
        alt_cue = ALT_CUE_RE.search(text) is not None
        if HEADER_RE.search(text) and not looks_like_disease(cleaned):
            in_justification = bool(JUSTIFY_HEADER_RE.search(text)) and not alt_cue
            continue
        if not cleaned or in_justification:
            continue
        if (_denies(cleaned) or DOWNRANK_RE.search(cleaned)) and not EXPLICIT_ALT_RE.search(cleaned):
            continue
        body = _alternative_clause(cleaned) if alt_cue else cleaned
        name = _head_name(body, known) if body.strip() else ""
        # after an alternative cue, a long non-prose phrase is several names ("include A and B")
        listed_names = alt_cue and (not _is_prose(name) or _disease_phrase(name)) and len(_words(name)) <= 3 * 14
        if not name or not (_name_like(name) or listed_names) or is_qualifier(name, symbols=False) or _same(name, spans):
            continue
        disease = looks_like_disease(name) or _has_symbol(name) or (known is not None and known(name))
        if alt_cue or (item and (disease or _name_like(cleaned) or name != body)) or (
                _name_like(cleaned) and (disease or looks_like_disease(cleaned))) or (
                name != body and disease and not PROSE_START_RE.match(body)):  # fmt: skip
            for part in _list_alternatives(name, keep, known):
                others.append(part)
    return Reading(spans=tuple(spans), others=tuple(dict.fromkeys(o for o in others if o)), negated=negated,
                   statement=cleaned_primary)  # fmt: skip


def read_item(item: str, *, known: Known | None = None) -> tuple[str, ...]:
    """Names to try for one item of a ranked list (hedges, reasons after a dash, colon or in
    parentheses removed), in priority order.

    >>> read_item("Fabry disease - angiokeratomas and acroparesthesia")
    ('Fabry disease - angiokeratomas and acroparesthesia', 'Fabry disease')
    >>> read_item("Probable Gaucher disease (type 1)")[-1]
    'Gaucher disease (type 1)'
    """
    if is_plain(item):
        return (item,)
    first = segments(item)
    text = first[0][0] if first else item
    spans, _alts, _listed = _spans_of(text, known)
    return tuple(spans)


MAX_ANCHORS = 8
"""Occurrences of a gold name examined per statement."""


def anchored(statement: str, gold: str) -> bool:
    """Whether ``gold`` appears in ``statement`` as the name it states: found as a phrase (case- and
    punctuation-insensitively), with only frame or prose words before it (no other disease, no
    negation or comparison: "Y, which can mimic X" is not X) and nothing after it that would make it
    another disease (a type code, letter, inheritance or onset word, "with ...", "due to ...").

    >>> anchored("This presentation is best explained by Fabry disease.", "Fabry disease")
    True
    >>> anchored("Fabry disease type 2 is likely", "Fabry disease"), anchored("Gaucher disease, which can mimic Fabry disease", "Fabry disease")
    (False, False)
    """
    pattern = _anchor_pattern(gold)
    if pattern is None:
        return False
    for n, m in enumerate(pattern.finditer(statement)):
        if n >= MAX_ANCHORS:  # a stated answer names the disease early; "X/X/X/..." stays linear
            return False
        before, after = statement[: m.start()], statement[m.end() :]
        if ANCHOR_BLOCK_RE.search(before) or is_negated(statement):
            return False
        b = strip_frames(before)
        if b and not foreign_frame(b) and (looks_like_disease(b) or (not _is_prose(b) and len(_words(b)) > 0)):
            continue
        a = after.lstrip()
        if _lists_another(a):
            continue
        if a[:1].isalnum() or a.startswith(("-", "(")):
            nxt = _words(a[:60])
            if a.startswith("("):
                inner = a[1 : _paren_end(a, 0) - 1]
                if is_qualifier(inner) or ALT_CUE_RE.match(inner):
                    continue
            elif a.startswith("-") and not a.startswith(("- ", "-- ")):
                continue
            elif nxt and (nxt[0].casefold() in ANCHOR_NEXT_OK) is False:
                continue
        elif a.startswith(","):
            clause = re.split(r"[,;.(]", a[1:], maxsplit=1)[0]
            if clause.strip() and (is_qualifier(clause) or SUBTYPE_TAIL_RE.search(clause)):
                continue
        return True
    return False


def foreign_frame(text: str) -> bool:
    """Whether ``text`` (what precedes a name) is a diagnosis frame in another language: its Latin words
    all frame words (German, French, Spanish, Portuguese, Italian), or no Latin letters and a CJK
    diagnosis cue; never with a negation.

    >>> foreign_frame("Die wahrscheinlichste Diagnose ist"), foreign_frame("最可能的诊断是："), foreign_frame("El diagnóstico más probable es")
    (True, True, True)
    >>> foreign_frame("Nicht"), foreign_frame("排除"), foreign_frame("Gaucher oder"), foreign_frame("")
    (False, False, False, False)
    """
    if not text.strip() or FOREIGN_NEGATION_RE.search(text):
        return False
    latin = [w.casefold() for w in re.findall(r"[A-Za-zÀ-ÿ'’-]+", text)]
    if latin:
        return all(w in FOREIGN_FRAME_WORDS for w in latin)
    return CJK_FRAME_RE.search(text) is not None


def _lists_another(after: str) -> bool:
    """Whether the text after a name lists another candidate beside it: a list separator ("X/Y",
    "X > Y", "X | Y", "X + Y") or, after a comma, a capitalised name-like clause that is not an
    explanation ("X, Adrenocortical carcinoma, Y"; not "X, a lysosomal disorder", "X, given ...").

    >>> _lists_another("/Juvenile absence epilepsy"), _lists_another(", Fundus albipunctatus, Neonatal lupus")
    (True, True)
    >>> _lists_another(", an X-linked disorder"), _lists_another(", confirmed by GLA sequencing"), _lists_another(".")
    (False, False, False)
    """
    if after.startswith(("/", ">", "|", "+", "&", "≫")):
        return True
    if not after.startswith(","):
        return False
    clause = re.split(r"[,;.(]", after[1:], maxsplit=1)[0].strip(" *_")
    return (clause[:1].isupper() and _name_like(clause) and not is_qualifier(clause)
            and not SUBTYPE_TAIL_RE.search(clause) and not LIGHT_CUT_RE.match(", " + clause)
            and not EXPLAIN_RE.match(", " + clause) and not strip_frames(clause) == "")


@lru_cache(maxsize=4096)
def _anchor_pattern(gold: str) -> re.Pattern[str] | None:
    words = _words(gold)
    if not words or len(gold) > 300:
        return None
    sep = r"[\s\-‐–—,'’.]*"
    body = sep.join(re.escape(w) for w in words)
    return re.compile(rf"(?<![\w-]){body}(?![\w-])", re.IGNORECASE)


def names_alternative(answer: str) -> bool:
    """Whether the answer opens a parenthesis with an alternative ("X (or Y)", "X (vs Y)"): the
    normaliser drops short parentheses, so the scorer reads such an answer before trusting a match.

    >>> names_alternative("D-glyceric aciduria (or SSR4-CDG)"), names_alternative("Fabry disease (FD)")
    (True, False)
    """
    return PAREN_ALT_RE.search(answer) is not None


def list_alternatives(text: str, *, keep: Collection[str] = frozenset(), known: Known | None = None) -> list[str]:
    """The diseases one phrase lists: "X or Y", "X vs Y", "X and/or Y", "X, Y and Z" (parts that each
    read as a name; a qualifier such as ", autosomal recessive" or ", Seemanova type" is part of the
    name). ``[text]`` when it names one.

    >>> list_alternatives("Fabry disease, Gaucher disease and Pompe disease")
    ['Fabry disease', 'Gaucher disease', 'Pompe disease']
    >>> list_alternatives("Microcephaly-microcornea syndrome, Seemanova type")
    ['Microcephaly-microcornea syndrome, Seemanova type']
    """
    return _list_alternatives(text, keep, known)


def denies(text: str) -> bool:
    """Whether a statement or list item does not assert the disease it names: negated ("not X", "X
    ruled out", "X (excluded)"), a low suspicion, a history or a misdiagnosis.

    >>> denies("Fabry disease (ruled out)"), denies("Low suspicion for Fabry disease"), denies("Fabry disease")
    (True, True, False)
    """
    return _denies(text)

