"""The words and patterns the phrasing reader (:mod:`.phrasing`) acts on, in one place.

Frame words are never the first word of a real name (checked against Orphanet and RareBench: "very"
and "best" start names, so they are trailing-only); trailing frame words never end one ("a", "i",
"features" do). Every pattern here is applied to one segment of at most a few hundred characters.

>>> bool(CUE_RE.search("The findings point to Fabry disease")), "fabry" in SIGNAL_WORDS
(True, False)
"""

from __future__ import annotations

import re
from collections.abc import Callable

from medzero_rewards.matching import GUARD_WORDS
from medzero_rewards.parsing import NEGATION_WORDS

Known = Callable[[str], bool]
"""``known(name)``: whether a raw name is a known disease name (e.g. in the Orphanet hierarchy)."""

# ------------------------------------------------------------------------------------------------
# Vocabulary. Frame words are never the first word of a real name (checked against Orphanet and
# RareBench: "very" and "best" start names, so they are trailing-only).
# ------------------------------------------------------------------------------------------------
HEDGE = (
    r"probable|probably|possible|possibly|suspected|suspect|suspicion|suspicious|presumed|presumptive|"
    r"presumably|likely|likeliest|most|more|highly|strongly|clinically|clinical|working|final|leading|"
    r"top|definitive|definite|confirmed|provisional|tentative|query|questionable|favou?red|preferred|"
    r"differential"
)
FRAME = (
    rf"{HEDGE}|diagnosis|diagnoses|dx|ddx|answer|impression|conclusion|assessment|the|a|an|this|that|"
    r"it|its|it's|is|are|was|be|would|could|may|might|seems?|appears?|i|we|my|our|i'm|i'd|think|believe|"
    r"favou?r|favou?red|consider|considering|suggests?|suggestive|suggesting|indicates?|indicative|"
    r"consistent|compatible|with|of|to|for|points?|pointing|picture|presentation|findings|case|patient|"
    r"has|have|having|fits?|overall|in|summary|based|on|given|evidence|diagnosed|diagnose|as|represents?|"
    r"here|then|so|therefore|thus|and|all|considered|differential|include|includes|including|are"
)
# Trailing frame words: none ends a real name ("a", "i", "features" do, so they are lead-only).
TRAIL = (
    rf"{HEDGE}|diagnosis|diagnoses|dx|ddx|answer|impression|conclusion|assessment|the|is|are|was|be|"
    r"would|could|may|might|seems?|appears?|my|our|best|choice|option|candidate|explanation|here|"
    r"overall|fits?|considered|differential|suspected"
)
LEAD_RE = re.compile(rf"^(?:(?:{FRAME})(?:\s+|\s*[:,]\s*|\s*[-–—]\s+))+(?=\w)", re.IGNORECASE)
# Cues after which the diagnosis follows: "the diagnosis is X", "consistent with X", "points to X".
CUE_RE = re.compile(
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
      | (?:best\s+|top\s+|first\s+)?(?:guess|bet|pick|choice|opinion)(?:\s+(?:is|would\s+be|=)|\s*:)
    )\s*[:]?\s+""",
    re.IGNORECASE | re.VERBOSE,
)
# Words of prose (a justification sentence), never of a disease name (checked against the data).
PROSE_RE = re.compile(
    r"\b(?:is|are|was|were|been|being|has|have|had|this|these|those|it|its|they|their|there|patient|"
    r"patients|findings?|symptoms?|signs?|presentation|supports?|supported|supporting|suggests?|"
    r"suggested|suggesting|explains?|explained|explaining|because|since|given|based|would|should|could|"
    r"can|will|shows?|showed|shown|seen|noted|evidence|history|reveals?|revealed|demonstrat\w*|"
    r"confirm\w*|indicat\w*|rationale|reasoning|justification|explanation|fits?|remains?|accounts?|"
    r"hallmark|classic\w*\s+(?:for|of)|points?)\b",
    re.IGNORECASE,
)
ALT_CUE_RE = re.compile(
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
DISEASE_HEAD_RE = re.compile(
    r"\b(?:disease|syndrome|disorder|deficiency|dystrophy|dysplasia|ataxia|an(?:a)?emia|palsy|cancer|"
    r"(?!angiokeratoma|h(?:a)?ematoma|granuloma|xanthoma|scotoma|keratoma|lipoma\b)\w{3,}omas?|leuka?emia|tumou?r|"
    r"(?!diagnosis|prognosis)\w+osis|\w+itis|\w+emia|\w+aemia|\w+uria|\w+pathy|\w+trophy|\w+plasia|\w+ism|\w+oses|morbus|"
    r"type\s+\w+|fever|malformation|anomal(?:y|ies)|aciduria|acidemia|neoplasm|infection|degeneration)\b",
    re.IGNORECASE,
)
SENTENCE_END_RE = re.compile(
    r"(?<=[.!?])(?<!\bvs\.)(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\betc\.)(?<!\bDr\.)(?<!\bSt\.)(?<!\bMr\.)(?<!\bMs\.)"
    r"(?<!\bno\.)(?<!\bcf\.)(?<!\bsp\.)(?<!\bspp\.)[*_\"')\]]*\s+(?=[*_\"'(\[]*[A-Z0-9])"
)
SEMI_RE = re.compile(r"[;；](?![^()]*\))")  # not inside parentheses ("t(9;11)")
MARKER_RE = re.compile(
    r"^\s*(?:\(\s*\d{1,2}\s*\)|#\s?\d{1,2}\s*[.:)\-–—]?|\d{1,2}\s*[.)\]](?!\d)|\d{1,2}\s*:(?=\s)|"
    r"\d{1,2}\s+[-–—](?=\s)|[-*•·▪‣◦●○■□+–—→](?=\s)|\(?[A-Ha-h]\s*[.)](?=\s)|"
    r"(?:\d\ufe0f?\u20e3|\U0001f51f|[\u2460-\u2473\u2776-\u277f])\s*[.)]?)"  # keycap 1️⃣, circled ①
)
HEADER_RE = re.compile(r"[:：]\s*[*_]*\s*$")
JUSTIFY_HEADER_RE = re.compile(
    r"\b(?:rationale|reasoning|reasons?|justification|explanation|supporting|support|evidence|findings|"
    r"features|why|basis|key\s+points|summary|because|clinical\s+course|discussion|notes?)\b",
    re.IGNORECASE,
)
NO_DIAGNOSIS_RE = re.compile(
    r"^\W*(?:unknown|unclear|undetermined|undiagnosed|none|n/?a|no\s+diagnosis|not\s+sure|uncertain|"
    r"i\s+(?:do\s+not|don't|cannot|can't)\s+know|cannot\s+(?:be\s+)?determined?|can't\s+determine|"
    r"insufficient\s+(?:information|data|evidence)|not\s+enough\s+information)"
    r"(?:\s+(?:diagnosis|etiology|cause|disease|condition|at\s+(?:this|the\s+moment|present)|yet|now))*\W*$",
    re.IGNORECASE,
)
WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
QUALIFIER_FILLER = frozenset("type types subtype subtypes form forms variant variants phenotype onset the a an of and".split())
GUARD_WORDS = frozenset(w for ws in GUARD_WORDS.values() for w in ws) | {"linked", "x", "y"}

# Where an explanation may start (its text then decides: a qualifier is never cut).
EXPLAIN_RE = re.compile(
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
CONTRAST_RE = re.compile(
    r"\s*(?:[,;(–—-]\s*)?(?:\b(?:but|and)\s+)?\b(?:rather\s+than|instead\s+of|as\s+opposed\s+to)\b"
    r"|\s*[,;(–—-]\s*(?:but\s+|and\s+)?not\b(?!\s+(?:otherwise|further|elsewhere)\b)"
    r"|\s+(?:but|and)\s+not\b(?!\s+(?:otherwise|further|elsewhere)\b)",
    re.IGNORECASE,
)
NOT_BUT_RE = re.compile(r"^\W*(?:it\s+is\s+|this\s+is\s+)?not\s+.+?(?:,\s*|\s+)but\s+(?:rather\s+)?(?=\w)", re.IGNORECASE)
CLAUSE_RE = re.compile(r"[,;]\s*(?:(?:al)?though|but|while|whereas|however|yet|and)\b|\s(?:al)?though\b|;",
                        re.IGNORECASE)
CONJUNCTION_RE = re.compile(r"(?:,|;|\s[-–—])\s*(?:(?:al)?though|but|while|whereas|however|yet)\b|\s(?:al)?though\b",
                             re.IGNORECASE)
# Where a reason starts without ending a name's own words ("with", "due to" are left: names have them).
LIGHT_CUT_RE = re.compile(
    r",?\s+(?:i\.e|e\.g|namely|aka)|,\s+(?:a|an|the|which|that|who|whose|given|because|since|as|based|supported|explain\w*|consistent|"
    r"compatible|characteri[sz]ed|presenting|caused|due\s+to|although|though|but|while|whereas|likely|"
    r"probably|possibly|most|typically|usually|pending|awaiting|to\s+be|mis-?diagnosed|initially|previously|"
    r"formerly|earlier|after|with\s+a\s+(?:family\s+)?history)\b|\s+[-–—]{1,2}\s+|\s*[:：]\s+|"
    r"\s+(?:given|because|since|which|best\s+explains?|explains?|accounts?\s+for|fits|is|was|are|remains|"
    r"seems|appears)\s",
    re.IGNORECASE,
)
DOWNRANK_RE = re.compile(r"\b(?:less|un)\s*likely\b|\bless\s+probable\b|\bimprobable\b|\bdo(?:es)?\s*n[o']t\b|"
                          r"\bdid\s*n[o']t\b|\bfails?\s+to\b", re.IGNORECASE)
EXPLICIT_ALT_RE = re.compile(r"^\W*(?:(?:or|alternatively|differentials?|ddx)\b|less\s+likely\s*[:：])|\b(?:alternatively|"
                               r"differential|also\s+consider|remains?\s+(?:a\s+)?possib\w+|"
                               r"(?:should|must|needs?\s+to)\s+(?:also\s+)?be\s+(?:considered|excluded|ruled\s+out)|"
                               r"can(?:not|'t|\s+not)\s+(?:be\s+)?(?:exclude|rule)\w*|not\s+(?:yet\s+)?(?:be\s+)?excluded)",
                               re.IGNORECASE)
_IDENTIFIER = (r"(?:orpha(?:net)?|omim|mim|icd-?1[01]|hpo?|mondo|umls|snomed(?:\s*ct)?|gard|doid)\b"
               r"\s*(?:code|id)?\s*[:#]?\s*[\w.:-]*")
# one or more catalogue identifiers ("ORPHA:324", "ORPHA:324; OMIM #301500")
IDENTIFIER_RE = re.compile(rf"^\W*{_IDENTIFIER}(?:\s*[;,/|]\s*{_IDENTIFIER})*\W*$", re.IGNORECASE)
INTRO_RE = re.compile(
    r"^\W*(?:considering|given|based\s+on|in\s+view\s+of|in\s+light\s+of|taking\s+into\s+account|because\s+of|"
    r"with|after|on\s+the\s+basis\s+of|from|overall|in\s+summary|in\s+conclusion|to\s+summari[sz]e)\b[^,;:]{0,200},\s*",
    re.IGNORECASE,
)
WEAK_ALT_RE = re.compile(r"^\W*(?:possibly|perhaps|maybe|or\s+possibly|alternatively)\s+(?=\w)", re.IGNORECASE)
FINAL_RE = re.compile(r"\b(?:final|definitive|confirmed|established|revised|correct)\s+(?:diagnosis|dx|answer)\b",
                       re.IGNORECASE)
NEGATIVE_HEDGE_RE = re.compile(
    r"\b(?:low|little|minimal|no|weak)\s+(?:clinical\s+)?(?:suspicion|likelihood|probability|concern)\b|"
    r"\b(?:family|past|prior|previous|personal)\s+(?:medical\s+)?history\s+of\b|\bhistory\s+of\b|"
    r"\bmis-?diagnos\w*|\b(?:initially|previously|formerly|originally)\s+(?:\w+\s+){0,2}(?:diagnos\w*|"
    r"thought|suspected|considered|treated)|\bdoubtful\b|\bexcluded\b|\bcarrier\s+(?:of|for)\b|"
    r"\bat\s+risk\s+(?:of|for)\b|\bscreen(?:ed|ing)?\s+for\b|\brisk\s+of\b",
    re.IGNORECASE,
)
PAREN_ALT_RE = re.compile(r"\(\s*(?:or|vs\.?|versus|differentials?|ddx|alternatively)\b", re.IGNORECASE)
STRONG_ALT_RE = re.compile(r"\s(?:and/or|vs\.?|versus|>|>>|≫)\s|^either\s", re.IGNORECASE)
LIST_SPLIT_RE = re.compile(r"\s*(?:(?<!\d),|,(?=\s))\s*(?:and\s+|&\s+|or\s+)?|\s+(?:and|&|and/or|>|>>|≫)\s+", re.IGNORECASE)
ARTICLE_RE = re.compile(r"^(?:a|an|the)\s", re.IGNORECASE)
SUBTYPE_TAIL_RE = re.compile(
    r"\b(?:type|form|variant|subtype|group|kind)(?:\s+[\w.-]{1,6})?\s*$|^\W*(?:type|form|variant|subtype|group)\b",
    re.IGNORECASE,
)
NOTE_RE = re.compile(r"\(\s*(?:[^()]{0,40}?\b)?(?:(?:less|more|most|un)?\s*likely|possible|probable|suspected|"
                      r"favou?red|alternative|differential)\b[^()]{0,40}\)", re.IGNORECASE)
ANCHOR_BLOCK_RE = re.compile(
    r"\b(?:not|no|rather|than|instead|unlike|mimic\w*|similar|confused|distinct|differ\w*|related|"
    r"phenocopy|versus|vs|excluded|exclude|ruled?|unlikely|less|alternatively|or|"
    r"over|above|against|compared|opposed|preferred\s+to|superior\s+to)\b",  # "Y is favoured over X"
    re.IGNORECASE,
)
# A diagnosis frame in another language before an English name ("Die wahrscheinlichste Diagnose ist X",
# "最可能的诊断是：X"): read only by the sentence fallback, which then checks what follows the name.
FOREIGN_FRAME_WORDS = frozenset(
    # German
    "die der das ist am ehesten wahrscheinlichste wahrscheinlichsten wahrscheinlich vermutlich verdacht auf "
    "diagnose diagnosen arbeitsdiagnose endgültige finale meine es handelt sich um ein eine einen lautet "
    # French
    "le la les diagnostic plus probable est il s'agit d' de du un une mon ma final finale retenu suspicion "
    "évoque probablement vraisemblablement "
    # Spanish / Portuguese / Italian
    "el diagnóstico más probable es se trata mi sospecha probablemente o a diagnostico mais provável é "
    "trata-se diagnosi più probabile è si tratta di una".split()
)
CJK_FRAME_RE = re.compile(r"诊断|診断|可能|考虑|考慮|疑似|倾向|答案|结论|結論|患有|为|為|是")
FOREIGN_NEGATION_RE = re.compile(
    r"\b(?:nicht|kein\w*|ausgeschlossen|pas|non|não|nao|jamais|exclu\w*|descart\w*|escluso)\b|不|非|排除|否|除外|没有|沒有",
    re.IGNORECASE,
)
DIFFERENTIAL_LABEL_RE = re.compile(
    r"^\W*(?:(?:differentials?|ddx)(?:\s+diagnos[ie]s)?\W*[:：]|(?:(?:i|we)\s+would\s+)?consider\b)", re.IGNORECASE
)
"""A statement labelled as a differential ("Differential diagnosis: X, Y, Z", "Consider X and Y"): its
list is candidates."""

CLOSING = " \t\n.,;:!?)]"
SEPARATORS = ",;:([–—-"
LAST_TOKEN_RE = re.compile(r"[\w'’-]+")
TRAIL_WORD_RE = re.compile(rf"(?:{TRAIL})", re.IGNORECASE)
PROSE_START_RE = re.compile(r"^\W*(?:this|these|that|it|its|the|a|an|there|they|he|she|his|her|patient|"
                             r"findings?|features?|presentation|based|given|because|since|as|with|in)\b",
                             re.IGNORECASE)
ANCHOR_NEXT_OK = frozenset(
    "is was are be seems appears remains best explains explain accounts fits would could may might "
    "given because which as most likely probably possibly pending awaiting to should".split()
)
"""Words that may follow a gold name stated in a sentence ("X is ...", "X best explains ...")."""
PLAIN_RE = re.compile(r"[^\W\d_][\w'’-]*(?: [^\W_][\w'’-]*)*")
SIGNAL_WORDS = frozenset(
    w
    for pattern in (FRAME, TRAIL, CUE_RE.pattern, ALT_CUE_RE.pattern, PROSE_RE.pattern, NEGATIVE_HEDGE_RE.pattern,
                    EXPLAIN_RE.pattern, CONTRAST_RE.pattern, NO_DIAGNOSIS_RE.pattern, INTRO_RE.pattern,
                    LIGHT_CUT_RE.pattern, DOWNRANK_RE.pattern, FINAL_RE.pattern, NEGATION_WORDS)
    for w in re.findall(r"[a-z]+", pattern.replace("\\s", " ").replace("\\w", " ").replace("\\b", " "))
) - {"disease", "condition", "classic", "classically", "typical", "space", "red", "ring", "parenthesis", "mutations",
     "variants", "involvement", "features", "medical", "data", "information", "ed", "es", "ing", "rs", "sz", "ie"} | {
    "or", "and", "vs", "versus", "not", "no", "either", "nor", "but", "than"}
"""Words the reader acts on (taken from its own patterns): an answer with none of them is plain."""

MAX_SEGMENTS = 64
"""Segments read per answer. Later ones are not read: only the primary statement can earn credit, so
candidates listed further down gain nothing (and the reading stays bounded on hostile answers)."""
MAX_SEGMENT_CHARS = 600
"""Characters read per segment: a diagnosis is stated near the start of its sentence."""
