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
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import lru_cache

from medzero_rewards.matching import GUARD_WORDS
from medzero_rewards.normalize import normalize_name
from medzero_rewards.parsing import NEGATION_WORDS, clean_item, is_negated, split_candidates, table_items

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

Known = Callable[[str], bool]
"""``known(name)``: whether a raw name is a known disease name (e.g. in the Orphanet hierarchy)."""

# ------------------------------------------------------------------------------------------------
# Vocabulary. Frame words are never the first word of a real name (checked against Orphanet and
# RareBench: "very" and "best" start names, so they are trailing-only).
# ------------------------------------------------------------------------------------------------
_HEDGE = (
    r"probable|probably|possible|possibly|suspected|suspect|suspicion|suspicious|presumed|presumptive|"
    r"presumably|likely|likeliest|most|more|highly|strongly|clinically|clinical|working|final|leading|"
    r"top|definitive|definite|confirmed|provisional|tentative|query|questionable|favou?red|preferred|"
    r"differential"
)
_FRAME = (
    rf"{_HEDGE}|diagnosis|diagnoses|dx|ddx|answer|impression|conclusion|assessment|the|a|an|this|that|"
    r"it|its|it's|is|are|was|be|would|could|may|might|seems?|appears?|i|we|my|our|i'm|i'd|think|believe|"
    r"favou?r|favou?red|consider|considering|suggests?|suggestive|suggesting|indicates?|indicative|"
    r"consistent|compatible|with|of|to|for|points?|pointing|picture|presentation|findings|case|patient|"
    r"has|have|having|fits?|overall|in|summary|based|on|given|evidence|diagnosed|diagnose|as|represents?|"
    r"here|then|so|therefore|thus|and|all|considered|differential|include|includes|including|are"
)
# Trailing frame words: none ends a real name ("a", "i", "features" do, so they are lead-only).
_TRAIL = (
    rf"{_HEDGE}|diagnosis|diagnoses|dx|ddx|answer|impression|conclusion|assessment|the|is|are|was|be|"
    r"would|could|may|might|seems?|appears?|my|our|best|choice|option|candidate|explanation|here|"
    r"overall|fits?|considered|differential|suspected"
)
_LEAD_RE = re.compile(rf"^(?:(?:{_FRAME})(?:\s+|\s*[:,]\s*|\s*[-–—]\s+))+(?=\w)", re.IGNORECASE)
# Cues after which the diagnosis follows: "the diagnosis is X", "consistent with X", "points to X".
_CUE_RE = re.compile(
    r"""\b(?:
        (?:diagnosis|dx|answer|impression|conclusion)\s+(?:is|would\s+be|of|=)
      | (?:consistent|compatible|in\s+keeping)\s+with
      | (?:suggestive|indicative|characteristic|diagnostic|suspicious|typical|classic)\s+(?:of|for)
      | suspicion\s+(?:of|for) | in\s+favou?r\s+of | (?:a\s+)?case\s+of
      | points?\s+to(?:wards?)?|pointing\s+to(?:wards?)?
      | likely\s+(?:has|have|is|represents?|to\s+be)
      | suffer(?:s|ing)?\s+from | diagnosed\s+with | presentation\s+of | (?:best\s+)?explained\s+by
      | (?:suggests?|suggesting|indicates?|indicating|favou?rs?|favou?ring|supports?|supporting|
         represents?|reflects?)(?:\s+(?:a\s+)?diagnosis\s+of)?
      | (?:i|we)\s+(?:suspect|favou?r|consider|think|believe)(?:\s+(?:it\s+is|this\s+is|that))?
      | (?:best\s+|top\s+|first\s+)?(?:guess|bet|pick|choice|opinion)\s+(?:is|would\s+be|=|:)
    )\s*[:]?\s+""",
    re.IGNORECASE | re.VERBOSE,
)
# Words of prose (a justification sentence), never of a disease name (checked against the data).
_PROSE_RE = re.compile(
    r"\b(?:is|are|was|were|been|being|has|have|had|this|these|those|it|its|they|their|there|patient|"
    r"patients|findings?|symptoms?|signs?|presentation|supports?|supported|supporting|suggests?|"
    r"suggested|suggesting|explains?|explained|explaining|because|since|given|based|would|should|could|"
    r"can|will|shows?|showed|shown|seen|noted|evidence|history|reveals?|revealed|demonstrat\w*|"
    r"confirm\w*|indicat\w*|rationale|reasoning|justification|explanation|fits?|remains?|accounts?|"
    r"hallmark|classic\w*\s+(?:for|of)|points?)\b",
    re.IGNORECASE,
)
_ALT_CUE_RE = re.compile(
    r"""^\W*(?:or|and/or|either|vs\.?|versus)\b
      | \b(?:alternatively|alternative(?:\s+diagnos[ie]s)?|differentials?|ddx|
           other\s+(?:possibilit\w+|considerations?|candidates?|options?|diagnos[ie]s)|
           another\s+(?:possibilit\w+|consideration|candidate|option)|also\s+consider\w*|
           (?:is|are)\s+also\s+(?:a\s+)?(?:possib\w+|plausible|likely|considered)|
           remains?\s+(?:a\s+)?(?:possib\w+|plausible|likely|considered|differential)|
           also\s+(?:possible|likely|plausible)|
           (?:could|may|might)\s+also\s+be|consider(?:ed)?|(?:should|must)\s+(?:also\s+)?be\s+(?:considered|excluded|ruled\s+out)|can(?:not|'t|\s+not)\s+(?:be\s+)?(?:exclude|rule)\w*|
           not\s+(?:be\s+)?excluded|second(?:\s+most)?\s+likely|next\s+most\s+likely|less\s+likely\s*[:：]|
           (?:or|and/or|vs\.?|versus)\b)""",
    re.IGNORECASE | re.VERBOSE,
)
_DISEASE_HEAD_RE = re.compile(
    r"\b(?:disease|syndrome|disorder|deficiency|dystrophy|dysplasia|ataxia|an(?:a)?emia|palsy|cancer|"
    r"(?!angiokeratoma|h(?:a)?ematoma|granuloma|xanthoma|scotoma|keratoma|lipoma\b)\w{3,}omas?|leuka?emia|tumou?r|"
    r"(?!diagnosis|prognosis)\w+osis|\w+itis|\w+emia|\w+aemia|\w+uria|\w+pathy|\w+trophy|\w+plasia|\w+ism|\w+oses|morbus|"
    r"type\s+\w+|fever|malformation|anomal(?:y|ies)|aciduria|acidemia|neoplasm|infection|degeneration)\b",
    re.IGNORECASE,
)
_SENTENCE_END_RE = re.compile(
    r"(?<=[.!?])(?<!\bvs\.)(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\betc\.)(?<!\bDr\.)(?<!\bSt\.)(?<!\bMr\.)(?<!\bMs\.)"
    r"(?<!\bno\.)(?<!\bcf\.)(?<!\bsp\.)(?<!\bspp\.)[*_\"')\]]*\s+(?=[*_\"'(\[]*[A-Z0-9])"
)
_SEMI_RE = re.compile(r"[;；](?![^()]*\))")  # not inside parentheses ("t(9;11)")
_MARKER_RE = re.compile(
    r"^\s*(?:\(\s*\d{1,2}\s*\)|#\s?\d{1,2}\s*[.:)\-–—]?|\d{1,2}\s*[.)\]](?!\d)|\d{1,2}\s*:(?=\s)|"
    r"\d{1,2}\s+[-–—](?=\s)|[-*•·▪‣◦●○■□+–—→](?=\s)|\(?[A-Ha-h]\s*[.)](?=\s))"
)
_HEADER_RE = re.compile(r"[:：]\s*[*_]*\s*$")
_JUSTIFY_HEADER_RE = re.compile(
    r"\b(?:rationale|reasoning|reasons?|justification|explanation|supporting|support|evidence|findings|"
    r"features|why|basis|key\s+points|summary|because|clinical\s+course|discussion|notes?)\b",
    re.IGNORECASE,
)
_NO_DIAGNOSIS_RE = re.compile(
    r"^\W*(?:unknown|unclear|undetermined|undiagnosed|none|n/?a|no\s+diagnosis|not\s+sure|uncertain|"
    r"i\s+(?:do\s+not|don't|cannot|can't)\s+know|cannot\s+(?:be\s+)?determined?|can't\s+determine|"
    r"insufficient\s+(?:information|data|evidence)|not\s+enough\s+information)"
    r"(?:\s+(?:diagnosis|etiology|cause|disease|condition|at\s+(?:this|the\s+moment|present)|yet|now))*\W*$",
    re.IGNORECASE,
)
_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
_QUALIFIER_FILLER = frozenset("type types subtype subtypes form forms variant variants phenotype onset the a an of and".split())
_GUARD_WORDS = frozenset(w for ws in GUARD_WORDS.values() for w in ws) | {"linked", "x", "y"}

# Where an explanation may start (its text then decides: a qualifier is never cut).
_EXPLAIN_RE = re.compile(
    r"""\s+\(                                    # a parenthesis after a space (not "t(9;11)")
      | ,\s+(?=(?:a|an|the|which|that|who|whose|i\.e|e\.g|also|aka|formerly|caused|due\s+to|secondary\s+to|
                 resulting|characteri[sz]ed|manifest\w*|presenting|typically|usually|given|based|
                 supported|explain\w*|because|as|most\s+often|often|commonly|involving|affecting|
                 classically|probably|likely|possibly|pending|awaiting|to\s+be|although|though|but|
                 while|whereas|however)\b)
      | \s+[-–—]{1,2}\s+ | \s*[:：]\s+
      | \s+(?=(?:due\s+to|caused\s+by|secondary\s+to|resulting\s+from|characteri[sz]ed\s+by|
                 associated\s+with|because|given|as\s+evidenced|supported\s+by|explaining|which|
                 presenting\s+with|manifesting\s+as|with\s+(?:\w+\s+){0,2}(?:mutations?|variants?|
                 involvement|features)|i\.e|e\.g|also\s+known\s+as|aka|although|though|while|whereas|
                 (?:best\s+)?(?:explains?|accounts?\s+for|fits|is|was|are|remains|seems|appears|would|
                 could|may|might|has|have|should|must|needs?)\s|pending|awaiting|to\s+be\s+confirmed)\b)
    """,
    re.IGNORECASE | re.VERBOSE,
)
_CONTRAST_RE = re.compile(
    r"\s*(?:[,;(–—-]\s*)?(?:\b(?:but|and)\s+)?\b(?:rather\s+than|instead\s+of|as\s+opposed\s+to)\b"
    r"|\s*[,;(–—-]\s*(?:but\s+|and\s+)?not\b(?!\s+(?:otherwise|further|elsewhere)\b)"
    r"|\s+(?:but|and)\s+not\b(?!\s+(?:otherwise|further|elsewhere)\b)",
    re.IGNORECASE,
)
_NOT_BUT_RE = re.compile(r"^\W*(?:it\s+is\s+|this\s+is\s+)?not\s+.+?(?:,\s*|\s+)but\s+(?:rather\s+)?(?=\w)", re.IGNORECASE)
_CLAUSE_RE = re.compile(r"[,;]\s*(?:(?:al)?though|but|while|whereas|however|yet|and)\b|\s(?:al)?though\b|;",
                        re.IGNORECASE)
_CONJUNCTION_RE = re.compile(r"(?:,|;|\s[-–—])\s*(?:(?:al)?though|but|while|whereas|however|yet)\b|\s(?:al)?though\b",
                             re.IGNORECASE)
# Where a reason starts without ending a name's own words ("with", "due to" are left: names have them).
_LIGHT_CUT_RE = re.compile(
    r",?\s+(?:i\.e|e\.g|namely|aka)|,\s+(?:a|an|the|which|that|who|whose|given|because|since|as|based|supported|explain\w*|consistent|"
    r"compatible|characteri[sz]ed|presenting|caused|due\s+to|although|though|but|while|whereas|likely|"
    r"probably|possibly|most|typically|usually|pending|awaiting|to\s+be|mis-?diagnosed|initially|previously|"
    r"formerly|earlier|after|with\s+a\s+(?:family\s+)?history)\b|\s+[-–—]{1,2}\s+|\s*[:：]\s+|"
    r"\s+(?:given|because|since|which|best\s+explains?|explains?|accounts?\s+for|fits|is|was|are|remains|"
    r"seems|appears)\s",
    re.IGNORECASE,
)
_DOWNRANK_RE = re.compile(r"\b(?:less|un)\s*likely\b|\bless\s+probable\b|\bimprobable\b|\bdo(?:es)?\s*n[o']t\b|"
                          r"\bdid\s*n[o']t\b|\bfails?\s+to\b", re.IGNORECASE)
_EXPLICIT_ALT_RE = re.compile(r"^\W*(?:or|alternatively|differentials?|ddx|less\s+likely\s*[:：])\b|\b(?:alternatively|"
                               r"differential|also\s+consider|remains?\s+(?:a\s+)?possib\w+|should\s+(?:also\s+)?be\s+considered|"
                               r"can(?:not|'t|\s+not)\s+(?:be\s+)?(?:exclude|rule)\w*|not\s+(?:yet\s+)?(?:be\s+)?excluded)",
                               re.IGNORECASE)
_IDENTIFIER_RE = re.compile(r"^\W*(?:orpha(?:net)?|omim|mim|icd-?1[01]|hpo?|mondo|umls|snomed(?:\s*ct)?|gard|doid)\b"
                            r"\s*(?:code|id)?\s*[:#]?\s*[\w.:-]*\W*$", re.IGNORECASE)
_INTRO_RE = re.compile(
    r"^\W*(?:considering|given|based\s+on|in\s+view\s+of|in\s+light\s+of|taking\s+into\s+account|because\s+of|"
    r"with|after|on\s+the\s+basis\s+of|from|overall|in\s+summary|in\s+conclusion|to\s+summari[sz]e)\b[^,;:]{0,200},\s*",
    re.IGNORECASE,
)
_WEAK_ALT_RE = re.compile(r"^\W*(?:possibly|perhaps|maybe|or\s+possibly|alternatively)\s+(?=\w)", re.IGNORECASE)
_FINAL_RE = re.compile(r"\b(?:final|definitive|confirmed|established|revised|correct)\s+(?:diagnosis|dx|answer)\b",
                       re.IGNORECASE)
_NEGATIVE_HEDGE_RE = re.compile(
    r"\b(?:low|little|minimal|no|weak)\s+(?:clinical\s+)?(?:suspicion|likelihood|probability|concern)\b|"
    r"\b(?:family|past|prior|previous|personal)\s+(?:medical\s+)?history\s+of\b|\bhistory\s+of\b|"
    r"\bmis-?diagnos\w*|\b(?:initially|previously|formerly|originally)\s+(?:\w+\s+){0,2}(?:diagnos\w*|"
    r"thought|suspected|considered|treated)|\bdoubtful\b|\bexcluded\b|\bcarrier\s+(?:of|for)\b|"
    r"\bat\s+risk\s+(?:of|for)\b|\bscreen(?:ed|ing)?\s+for\b|\brisk\s+of\b",
    re.IGNORECASE,
)
_PAREN_ALT_RE = re.compile(r"\(\s*(?:or|vs\.?|versus|differentials?|ddx|alternatively)\b", re.IGNORECASE)
_STRONG_ALT_RE = re.compile(r"\s(?:and/or|vs\.?|versus|>|>>|≫)\s|^either\s", re.IGNORECASE)
_LIST_SPLIT_RE = re.compile(r"\s*,\s*(?:and\s+|&\s+|or\s+)?|\s+(?:and|&|and/or|>|>>|≫)\s+", re.IGNORECASE)
_ARTICLE_RE = re.compile(r"^(?:a|an|the)\s", re.IGNORECASE)
_SUBTYPE_TAIL_RE = re.compile(
    r"\b(?:type|form|variant|subtype|group|kind)(?:\s+[\w.-]{1,6})?\s*$|^\W*(?:type|form|variant|subtype|group)\b",
    re.IGNORECASE,
)
_NOTE_RE = re.compile(r"\(\s*(?:[^()]{0,40}?\b)?(?:(?:less|more|most|un)?\s*likely|possible|probable|suspected|"
                      r"favou?red|alternative|differential)\b[^()]{0,40}\)", re.IGNORECASE)
_ANCHOR_BLOCK_RE = re.compile(
    r"\b(?:not|no|rather|than|instead|unlike|mimic\w*|similar|confused|distinct|differ\w*|related|"
    r"phenocopy|versus|vs|excluded|exclude|ruled?|unlikely|less|alternatively|or)\b",
    re.IGNORECASE,
)


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
    return _WORD_RE.findall(text)


def looks_like_disease(text: str) -> bool:
    """Whether a short text reads as a disease name (a head word such as "disease", "-osis", "type 2").

    >>> looks_like_disease("Gaucher disease"), looks_like_disease("angiokeratomas and acroparesthesia")
    (True, False)
    """
    return _DISEASE_HEAD_RE.search(text) is not None


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
        if low in _QUALIFIER_FILLER or low in _GUARD_WORDS or len(w) == 1 or any(c.isdigit() for c in w):
            continue
        if symbols and w.isupper() and len(w) <= 8:  # a gene symbol / acronym
            continue
        return False
    return True


def _is_prose(text: str) -> bool:
    return _PROSE_RE.search(text) is not None and len(_words(text)) > 2


def _name_like(text: str) -> bool:
    return not _is_prose(text) and 0 < len(_words(text)) <= 14


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
        s = _LEAD_RE.sub("", s, count=1)
        s = _strip_trailing_frames(s)
    return s


def _strip_trailing_frames(s: str) -> str:
    """``s`` without its trailing run of frame words ("X, most likely", "X is the most likely
    diagnosis.", "X (suspected)") and trailing punctuation, word by word from the end (a regex anchored
    at the end would retry from every start position: quadratic on long runs)."""
    base = s.rstrip(_CLOSING)
    rest, stripped = base, False
    while rest:
        window = rest[-80:]
        tokens = _LAST_TOKEN_RE.findall(window)
        if not tokens or not window.endswith(tokens[-1]):
            break
        tok = tokens[-1]
        before = rest[: len(rest) - len(tok)]
        if "-" in tok or _TRAIL_WORD_RE.fullmatch(tok) is None or not before or not (
                before[-1].isspace() or before[-1] in _SEPARATORS):  # fmt: skip
            break
        rest, stripped = before.rstrip().rstrip(_SEPARATORS).rstrip(), True
    if stripped:
        return rest.strip()
    return s.rstrip(" \t\n.,;:!?").strip()


_CLOSING = " \t\n.,;:!?)]"
_SEPARATORS = ",;:([–—-"
_LAST_TOKEN_RE = re.compile(r"[\w'’-]+")
_TRAIL_WORD_RE = re.compile(rf"(?:{_TRAIL})", re.IGNORECASE)


def after_cue(text: str) -> str | None:
    """The phrase after the last diagnosis cue, or None when there is no cue or the text before it
    names something itself ("X - consistent with Y": Y is a finding, not the answer).

    >>> after_cue("Given the angiokeratomas, the findings point to Fabry disease")
    'Fabry disease'
    >>> after_cue("Fabry disease"), after_cue("Gaucher disease - consistent with hepatosplenomegaly")
    (None, None)
    """
    last = None
    for m in _CUE_RE.finditer(text):
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
    m = _CONTRAST_RE.search(text)
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
        m = _EXPLAIN_RE.search(text, pos)
        if m is None:
            break
        if m.start() == 0:
            pos = m.end()
            continue
        if text[m.end() - 1] == "(":
            end = _paren_end(text, m.end() - 1)
            inner = text[m.end() : end - 1 if text[end - 1 : end] == ")" else end]
        else:
            nxt = _EXPLAIN_RE.search(text, m.end())
            end = nxt.start() if nxt is not None else len(text)
            inner = text[m.end() : end]
        cuts.append((m.start(), end, inner.strip()))
        pos = max(end, m.end())
    heads: list[str] = []
    alternatives: list[str] = []
    for start, end, inner in cuts:
        weak = _WEAK_ALT_RE.match(inner)
        if weak:  # "X, possibly Y": Y is an alternative when it reads as a disease
            alt = strip_frames(inner[weak.end() :])
            if alt and _name_like(alt) and (looks_like_disease(alt) or _has_symbol(alt) or (known is not None and known(alt))):
                alternatives.append(alt)
                head = text[:start].strip()
                if head and head not in heads:
                    heads.append(head)
                continue
        if _ALT_CUE_RE.match(inner):
            alt = strip_frames(_ALT_CUE_RE.sub("", inner, count=1).lstrip(" ,;:.-–—"))
            if alt and _name_like(alt):
                alternatives.append(alt)
        elif not inner or (is_qualifier(inner) and not _IDENTIFIER_RE.match(inner)) or (
                known is not None and known(text[:end].strip())):  # fmt: skip
            continue
        head = text[:start].strip()
        if head and head not in heads:
            heads.append(head)
    heads.reverse()
    return heads, alternatives


MAX_SEGMENTS = 64
"""Segments read per answer. Later ones are not read: only the primary statement can earn credit, so
candidates listed further down gain nothing (and the reading stays bounded on hostile answers)."""


MAX_SEGMENT_CHARS = 600
"""Characters read per segment: a diagnosis is stated near the start of its sentence."""


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
        marker = _MARKER_RE.match(line)
        item = marker is not None
        body = line[marker.end() :] if marker else line
        for j, part in enumerate(_SEMI_RE.split(body)):
            for sent in _SENTENCE_END_RE.split(" ".join(part.split())):  # single spaces: no long \s runs
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
    not_but = _NOT_BUT_RE.match(cleaned)
    if not_but:  # "Not Y but X": X is the answer
        cleaned = cleaned[not_but.end() :]
    intro = _INTRO_RE.match(cleaned)
    if intro and intro.end() < len(cleaned):  # "Considering the hypotonia and cardiomyopathy, X"
        add(cleaned)
        cleaned = cleaned[intro.end() :]
    add(cleaned)
    framed = strip_frames(cleaned)
    add(framed)
    listed: list[str] = [_LIGHT_CUT_RE.split(cut_contrast(_without_explanatory_parens(cleaned)), maxsplit=1)[0]]
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
    strong = _STRONG_ALT_RE.search(framed)
    if strong:  # "X associated with Y and/or Z", "X vs Z (favouring the former)"
        listed.append(_without_explanatory_parens(framed))
    deparen = _without_explanatory_parens(framed)
    if deparen != framed:  # "X (reason) or Y (reason)"
        listed.append(_LIGHT_CUT_RE.split(cut_contrast(deparen), maxsplit=1)[0])
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
        if (is_qualifier(inner) and not _IDENTIFIER_RE.match(inner)) or _ALT_CUE_RE.match(inner):
            out.append(text[i:end])
        pos = end


def _alternative_clause(text: str) -> str:
    """The clause of ``text`` that carries the alternative cue, the cue words removed ("This fits,
    although Y remains a possibility" -> "Y")."""
    clauses = _CLAUSE_RE.split(text)
    clause = next((c for c in clauses if _ALT_CUE_RE.search(c)), text)
    return _ALT_CUE_RE.sub(" ", clause).strip(" ,;:.-–—")


def _head_name(text: str, known: Known | None) -> str:
    """The name a segment starts with: frames, contrasts and explanations removed."""
    framed = strip_frames(clean_item(text))
    base = after_cue(framed) or framed
    heads, _alts = cut_explanation(cut_contrast(base), known)
    return strip_frames(heads[-1] if heads else cut_contrast(base))


def _list_alternatives(text: str, keep: Collection[str], known: Known | None) -> list[str]:
    """Candidates in one phrase: "X or Y", "X vs Y", "X / Y", "X and/or Y", "X, Y and Z"."""
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
    bounds = [m.span() for m in _LIST_SPLIT_RE.finditer(masked)]
    if not bounds:
        return [text]
    parts: list[str] = []
    start = 0
    for a, b in bounds:
        parts.append(text[start:a].strip())
        start = b
    parts.append(text[start:].strip())
    if any(_ARTICLE_RE.match(p) for p in parts[1:]):  # "X, a rare disorder": an appositive
        return [text]
    strong = _STRONG_ALT_RE.search(masked) is not None
    parts = [strip_frames(p) for p in parts if p.strip()]
    if len(parts) < 2 or any(
        not p or is_qualifier(p, symbols=False) or not _name_like(p)
        or (i > 0 and _SUBTYPE_TAIL_RE.search(p) and len(p.split()) <= 3 and not strong
            and not looks_like_disease(_SUBTYPE_TAIL_RE.sub("", p)) and not (len(parts) >= 3 and _has_code(p)))
        for i, p in enumerate(parts)
    ):
        return [text]
    named = sum(looks_like_disease(p) or _has_symbol(p) or (known is not None and known(p)) for p in parts)
    return parts if named == len(parts) or (len(parts) >= 3 and named >= 2) else [text]


def _has_code(text: str) -> bool:
    """A type code after "type" ("Brachydactyly type B2"): a name of its own in a list of three or more."""
    return re.search(r"\btype\s+[\w.-]{1,6}\s*$", text, re.IGNORECASE) is not None


def _has_symbol(text: str) -> bool:
    """A capitalised symbol with a digit or of 3+ capitals ("DPAGT1-CDG", "PANDAS"): a named entity."""
    return any((w.isupper() and len(w) >= 3) or (any(c.isdigit() for c in w) and any(c.isupper() for c in w))
               for w in _words(text))  # fmt: skip


_PROSE_START_RE = re.compile(r"^\W*(?:this|these|that|it|its|the|a|an|there|they|he|she|his|her|patient|"
                             r"findings?|features?|presentation|based|given|because|since|as|with|in)\b",
                             re.IGNORECASE)


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
        if not cleaned or (_HEADER_RE.search(text) and len(_words(cleaned)) <= 6 and not looks_like_disease(cleaned)):
            continue
        if _FINAL_RE.search(text) and not _denies(cleaned):
            return i
        if first_stating is not None and fallback is not None:
            continue
        head = _head_name(cleaned, None)
        if (_CUE_RE.search(text) or _name_like(cleaned) or text != cleaned or looks_like_disease(cleaned)
                or (not _PROSE_START_RE.match(cleaned) and _name_like(head))
                or (known is not None and known(head))):  # fmt: skip
            if first_stating is None:
                first_stating = i
            if fallback is None and (not _denies(cleaned) or _NOT_BUT_RE.match(cleaned)):
                fallback = i
    if fallback is not None:
        return fallback
    if first_stating is not None:
        return first_stating
    return next((i for i, (t, _) in enumerate(segs) if clean_item(t)), 0)


def _denies(text: str) -> bool:
    """A statement that does not assert the disease: negated, ruled out, a low suspicion, a history."""
    text = cut_contrast(text)
    conj = _CONJUNCTION_RE.search(text)
    if conj and conj.start() > 0:  # "X, but Y cannot be ruled out": the clause about Y is not about X
        text = text[: conj.start()]
    if is_negated(text):
        return True
    lead = _LIGHT_CUT_RE.split(text, maxsplit=1)[0]  # "X, given a family history of Y" asserts X
    return _NEGATIVE_HEDGE_RE.search(lead) is not None


def is_plain(answer: str) -> bool:
    """Whether ``answer`` is a bare name: words separated by single spaces, no punctuation but ``-``
    and ``'``, and none of the words the reader acts on (frames, hedges, cues, alternatives, negations,
    explanations). Such an answer reads as itself, so the reader is skipped (most wrong answers in
    training are bare names).

    >>> is_plain("Gaucher disease type 1"), is_plain("Probable Gaucher disease"), is_plain("Gaucher disease, type 1")
    (True, False, False)
    """
    if len(answer) > 200 or _PLAIN_RE.fullmatch(answer) is None:
        return False
    return not any(w in _SIGNAL_WORDS for w in answer.casefold().replace("-", " ").split())


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
    if _NO_DIAGNOSIS_RE.match(cleaned_primary):
        return Reading(spans=(cleaned_primary,), no_diagnosis=True, statement=primary)
    not_but = _NOT_BUT_RE.match(cleaned_primary)
    negated = not not_but and _denies(cut_contrast(cleaned_primary))
    spans, alternatives, listed = _spans_of(primary, known)
    others: list[str] = [a for a in alternatives if a]
    if not negated:
        for text in listed:
            cands = _list_alternatives(text, keep, known)
            if len(cands) > 1:
                others.extend(strip_frames(c) or c for c in cands[1:])
                break
        # an alternative after a comma/conjunction in the statement: "X, although Y is also possible"
        for m in _CONJUNCTION_RE.finditer(cleaned_primary):
            tail = cleaned_primary[m.end() :]
            first = tail.split(".")[0]
            if _ALT_CUE_RE.search(tail) and (not is_negated(first) or _EXPLICIT_ALT_RE.search(first)):
                name = strip_frames(_ALT_CUE_RE.sub(" ", tail).lstrip(" ,;:.-–—"))
                heads, _a = cut_explanation(name, known)
                name = strip_frames(heads[-1]) if heads else name
                if name and _name_like(name) and not is_qualifier(name, symbols=False):
                    others.append(name)
                break
        # "X (most likely), Y (less likely)": names each with a likelihood note
        notes = list(_NOTE_RE.finditer(cleaned_primary))
        if notes:
            rest = cleaned_primary[notes[0].end() :]
            m = re.match(r"\s*(?:[,;/]|\bor\b|\band\b)\s*(.+)", rest)
            if m:
                name = strip_frames(_NOTE_RE.sub("", m.group(1)))
                if name and _name_like(name) and not is_qualifier(name, symbols=False):
                    others.append(name)
    # later segments: another candidate when name-like or marked as an alternative; prose is ignored
    in_justification = False
    for text, item in segs[primary_i + 1 :]:
        cleaned = clean_item(text)
        alt_cue = _ALT_CUE_RE.search(text) is not None
        if _HEADER_RE.search(text) and not looks_like_disease(cleaned):
            in_justification = bool(_JUSTIFY_HEADER_RE.search(text)) and not alt_cue
            continue
        if not cleaned or in_justification:
            continue
        if (_denies(cleaned) or _DOWNRANK_RE.search(cleaned)) and not _EXPLICIT_ALT_RE.search(cleaned):
            continue
        body = _alternative_clause(cleaned) if alt_cue else cleaned
        name = _head_name(body, known) if body.strip() else ""
        if not name or not _name_like(name) or is_qualifier(name, symbols=False) or _same(name, spans):
            continue
        disease = looks_like_disease(name) or _has_symbol(name) or (known is not None and known(name))
        if alt_cue or (item and (disease or _name_like(cleaned) or name != body)) or (
                _name_like(cleaned) and (disease or looks_like_disease(cleaned))) or (
                name != body and disease and not _PROSE_START_RE.match(body)):  # fmt: skip
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
    for m in pattern.finditer(statement):
        before, after = statement[: m.start()], statement[m.end() :]
        if _ANCHOR_BLOCK_RE.search(before) or is_negated(statement):
            return False
        b = strip_frames(before)
        if b and (looks_like_disease(b) or (not _is_prose(b) and len(_words(b)) > 0)):
            continue
        a = after.lstrip()
        if a[:1].isalnum() or a.startswith(("-", "(")):
            nxt = _words(a[:60])
            if a.startswith("("):
                inner = a[1 : _paren_end(a, 0) - 1]
                if is_qualifier(inner) or _ALT_CUE_RE.match(inner):
                    continue
            elif a.startswith("-") and not a.startswith(("- ", "-- ")):
                continue
            elif nxt and (nxt[0].casefold() in _ANCHOR_NEXT_OK) is False:
                continue
        elif a.startswith(","):
            clause = re.split(r"[,;.(]", a[1:], maxsplit=1)[0]
            if clause.strip() and (is_qualifier(clause) or _SUBTYPE_TAIL_RE.search(clause)):
                continue
        return True
    return False


_ANCHOR_NEXT_OK = frozenset(
    "is was are be seems appears remains best explains explain accounts fits would could may might "
    "given because which as most likely probably possibly pending awaiting to should".split()
)


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
    return _PAREN_ALT_RE.search(answer) is not None


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


_PLAIN_RE = re.compile(r"[^\W\d_][\w'’-]*(?: [^\W_][\w'’-]*)*")
_SIGNAL_WORDS = frozenset(
    w
    for pattern in (_FRAME, _TRAIL, _CUE_RE.pattern, _ALT_CUE_RE.pattern, _PROSE_RE.pattern, _NEGATIVE_HEDGE_RE.pattern,
                    _EXPLAIN_RE.pattern, _CONTRAST_RE.pattern, _NO_DIAGNOSIS_RE.pattern, _INTRO_RE.pattern,
                    _LIGHT_CUT_RE.pattern, _DOWNRANK_RE.pattern, _FINAL_RE.pattern, NEGATION_WORDS)
    for w in re.findall(r"[a-z]+", pattern.replace("\\s", " ").replace("\\w", " ").replace("\\b", " "))
) - {"disease", "condition", "classic", "classically", "typical", "space", "red", "ring", "parenthesis", "mutations",
     "variants", "involvement", "features", "medical", "data", "information", "ed", "es", "ing", "rs", "sz", "ie"} | {
    "or", "and", "vs", "versus", "not", "no", "either", "nor", "but", "than"}
"""Words the reader acts on (taken from its own patterns): an answer with none of them is plain."""
