"""medzero_rewards.parsing: completion format, ranked lists, candidates, negation, token counts."""

from __future__ import annotations

import ast
import csv
import doctest
import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import medzero_rewards.parsing as parsing
from medzero_rewards.parsing import (
    END_TOKENS,
    ParsedCompletion,
    TagCounts,
    count_tokens,
    is_negated,
    parse_completion,
    parse_ranked_list,
    split_candidates,
)

# --- real completion shapes ---------------------------------------------------------------------

# DiagnosisZero-style: a proper English think/answer, then a paragraph in another language after </answer>.
JAPANESE_TAIL = (
    "<think>The patient has angiokeratomas, acroparesthesia, hypohidrosis and proteinuria. "
    "Low alpha-galactosidase A activity points to an X-linked lysosomal storage disorder.</think>\n"
    "<answer>Fabry disease</answer>\n"
    "以上の所見から、ファブリー病が最も考えられます。酵素補充療法を検討してください。"
)
CHINESE_TAIL = (
    "<think>Recurrent fever, serositis, and a MEFV variant in a child of Turkish descent. "
    "Colchicine response supports an autoinflammatory disease.</think> "
    "<answer>Familial Mediterranean fever</answer>\n\n"
    "综上所述，该患者最可能的诊断是家族性地中海热，建议进行基因检测以确认诊断。<|im_end|>"
)
WELL_FORMED = (
    "<think>\nLow serum ceruloplasmin, Kayser-Fleischer rings and liver disease in a 14-year-old.\n</think>\n"
    "<answer>\nWilson disease\n</answer><|im_end|>"
)
PREFILLED = "Ceruloplasmin is low and there are Kayser-Fleischer rings.\n</think>\n<answer>Wilson disease</answer>"
ANSWER_ONLY = "<answer>Wilson disease</answer>"  # the 1.5B model dropped <think> entirely


def test_well_formed_completion() -> None:
    p = parse_completion(WELL_FORMED)
    assert p.format_ok and p.format_reason == "" and p.format_score == 1.0
    assert p.answer == "Wilson disease"
    assert p.think == "Low serum ceruloplasmin, Kayser-Fleischer rings and liver disease in a 14-year-old."
    assert p.after_answer == ""
    assert p.tags == TagCounts(1, 1, 1, 1)
    assert not p.think_prefilled
    assert p.n_chars == len(WELL_FORMED) and p.text == WELL_FORMED


@pytest.mark.parametrize(
    ("text", "tail_start"),
    [(JAPANESE_TAIL, "以上の所見から"), (CHINESE_TAIL, "综上所述")],
)
def test_foreign_paragraph_after_answer_is_a_format_error(text: str, tail_start: str) -> None:
    p = parse_completion(text)
    assert not p.format_ok
    assert p.format_reason == "text after </answer>"
    assert p.after_answer.startswith(tail_start)
    assert not p.after_answer.endswith("<|im_end|>")  # the end token is not part of the tail
    assert p.answer in ("Fabry disease", "Familial Mediterranean fever")
    assert p.format_score == 1.0  # the four tags themselves are fine


@pytest.mark.parametrize("end", END_TOKENS)
def test_trailing_end_tokens_are_allowed(end: str) -> None:
    p = parse_completion(f"<think>a</think><answer>b</answer>\n{end}\n")
    assert p.format_ok and p.after_answer == ""
    p = parse_completion(f"<think>a</think><answer>b</answer>{end}{end} extra")
    assert not p.format_ok and p.after_answer == f"{end}{end} extra"


def test_prefilled_think_auto_detected() -> None:
    p = parse_completion(PREFILLED)
    assert p.think_prefilled and p.format_ok
    assert p.think == "Ceruloplasmin is low and there are Kayser-Fleischer rings."
    assert p.tags == TagCounts(1, 1, 1, 1)


def test_prefilled_forced_on_and_off() -> None:
    assert not parse_completion(PREFILLED, think_prefilled=False).format_ok
    assert parse_completion(PREFILLED, think_prefilled=False).format_reason == "missing <think>"
    # a template that injected <think> plus a model that wrote another one: 2 opening tags
    p = parse_completion("<think>x</think><answer>y</answer>", think_prefilled=True)
    assert p.tags.think_open == 2 and p.format_reason == "2 <think> tags" and not p.format_ok
    assert p.think == "x" and p.format_score == 0.75  # the written <think> is not part of the reasoning
    # forced prefill with no </think> at all: reasoning never closed
    p = parse_completion("just reasoning <answer>y</answer>", think_prefilled=True)
    assert p.think is None and p.format_reason == "missing </think>"


def test_think_close_after_answer_is_not_prefilled() -> None:
    p = parse_completion("<answer>y</answer></think>")
    assert not p.think_prefilled and not p.format_ok


def test_answer_only_completion() -> None:
    p = parse_completion(ANSWER_ONLY)
    assert p.answer == "Wilson disease" and p.think is None
    assert not p.format_ok and p.format_reason == "missing <think>; missing </think>"
    assert p.format_score == 0.5


@pytest.mark.parametrize(
    ("text", "answer", "reason", "score"),
    [
        ("<think>a</think><answer>x</answer><answer>y</answer>", "y", "2 <answer> tags; 2 </answer> tags", 0.5),
        ("<think>a</think><think>b</think><answer>x</answer>", "x", "2 <think> tags; 2 </think> tags", 0.5),
        ("<answer>x</answer><think>a</think>", "x", "tags out of order; text after </answer>", 0.0),
        ("<think>a<answer>x</answer></think>", "x", "tags out of order; text after </answer>", 0.25),
        ("<think>a</think><answer>  </answer>", "", "empty answer", 1.0),
        ("<think>a</think><answer></answer>", "", "empty answer", 1.0),
        ("Sure! <think>a</think><answer>x</answer>", "x", "text before <think>", 1.0),
        ("<think>a</think>So:<answer>x</answer>", "x", "text between </think> and <answer>", 1.0),
        ("<think>a</think><answer>x", None, "missing </answer>", 0.75),
        ("<think>a", None, "missing </think>; missing <answer>; missing </answer>", 0.25),
        ("", None, "missing <think>; missing </think>; missing <answer>; missing </answer>", 0.0),
        ("</answer><answer>x", None, "missing <think>; missing </think>; tags out of order; text after </answer>", 0.0),
        ("</think><answer>x</answer><think>", "x", "tags out of order; text after </answer>", 0.0),
    ],
)
def test_broken_formats(text: str, answer: str | None, reason: str, score: float) -> None:
    p = parse_completion(text)
    assert not p.format_ok
    assert p.answer == answer
    assert p.format_reason == reason
    assert p.format_score == score


def test_last_complete_answer_block_wins() -> None:
    p = parse_completion("<think>a</think><answer>draft</answer> wait <answer>Fabry disease</answer>")
    assert p.answer == "Fabry disease"
    # an unclosed trailing <answer> does not replace the last complete block
    p = parse_completion("<think>a</think><answer>Fabry disease</answer><answer>Gau")
    assert p.answer == "Fabry disease" and p.after_answer == "<answer>Gau"


@pytest.mark.parametrize(
    "text",
    [
        "< think >a</ think >< answer >x</ answer >",
        "<THINK>a</Think><ANSWER>x</ANSWER>",
        "<think>a</think>\n\n<answer>x</answer>  \n",
    ],
)
def test_tags_are_case_and_space_insensitive(text: str) -> None:
    p = parse_completion(text)
    assert p.format_ok and p.answer == "x" and p.think == "a"


def test_attributes_or_other_words_are_not_tags() -> None:
    p = parse_completion("<think>I think the answer is</think><answer id=1>x</answer>")
    assert p.tags == TagCounts(1, 1, 0, 1) and p.answer is None


@pytest.mark.parametrize("bad", [None, 42, b"<answer>x</answer>", ["<answer>x</answer>"]])
def test_non_string_input_is_unparsable_not_an_exception(bad: object) -> None:
    p = parse_completion(bad)  # type: ignore[arg-type]
    assert isinstance(p, ParsedCompletion)
    assert not p.format_ok and p.answer is None and p.text == "" and p.n_chars == 0
    assert p.format_reason == f"not a string: {type(bad).__name__}"


def test_tag_counts_as_dict() -> None:
    assert parse_completion(ANSWER_ONLY).tags.as_dict() == {
        "think_open": 0,
        "think_close": 0,
        "answer_open": 1,
        "answer_close": 1,
    }


# --- ranked lists -------------------------------------------------------------------------------

NAMES = [
    "Deafness, autosomal recessive",
    "Charcot-Marie-Tooth disease type 1A (CMT1A)",
    "Acute myeloid leukemia with t(8;21)(q22;q22) translocation",
    "47,XYY syndrome",
    "22q11.2 deletion syndrome",
]

STYLES = {
    "dot": lambda xs: "\n".join(f"{i}. {x}" for i, x in enumerate(xs, 1)),
    "paren": lambda xs: "\n".join(f"{i}) {x}" for i, x in enumerate(xs, 1)),
    "both_parens": lambda xs: "\n".join(f"({i}) {x}" for i, x in enumerate(xs, 1)),
    "hash": lambda xs: "\n".join(f"#{i} {x}" for i, x in enumerate(xs, 1)),
    "dash_number": lambda xs: "\n".join(f"{i} - {x}" for i, x in enumerate(xs, 1)),
    "bullet_dash": lambda xs: "\n".join(f"- {x}" for x in xs),
    "bullet_star_bold": lambda xs: "\n".join(f"* **{x}**" for x in xs),
    "bullet_dot_period": lambda xs: "\n".join(f"• {x}." for x in xs),
    "lines": lambda xs: "\n".join(xs),
    "semicolons": lambda xs: "; ".join(xs),
    "inline_numbers": lambda xs: " ".join(f"{i}. {x}" for i, x in enumerate(xs, 1)),
    "bold_numbers": lambda xs: "\n".join(f"{i}. **{x}** (most likely)" for i, x in enumerate(xs, 1)),
}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_ranked_list_styles(style: str) -> None:
    assert parse_ranked_list(STYLES[style](NAMES)) == NAMES
    assert parse_ranked_list(STYLES[style](NAMES), k=2) == NAMES[:2]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Diagnosis: Fabry disease.", ["Fabry disease"]),
        ("Most likely: Fabry disease", ["Fabry disease"]),
        ("**Final diagnosis:** Wilson disease", ["Wilson disease"]),
        ("Differential diagnosis:\n1. Fabry disease\n2. Gaucher disease", ["Fabry disease", "Gaucher disease"]),
        ("## Top 5\n- Fabry disease (70%)\n- Gaucher disease (less likely)", ["Fabry disease", "Gaucher disease"]),
        ("1. Pompe disease - low probability\n2. Danon disease", ["Pompe disease", "Danon disease"]),
        ("Fabry disease [high confidence]", ["Fabry disease"]),
        ("Fabry disease (probable, p=0.7)", ["Fabry disease"]),
        ("1. Fabry disease\n2. fabry disease\n3. Fabry  disease", ["Fabry disease"]),
        ("Hereditary breast and/or ovarian cancer syndrome", ["Hereditary breast and/or ovarian cancer syndrome"]),
        ("Acromesomelic dysplasia, Maroteaux type", ["Acromesomelic dysplasia, Maroteaux type"]),
        ("Fructose-1,6-bisphosphatase deficiency", ["Fructose-1,6-bisphosphatase deficiency"]),
        ("B-lymphoblastic leukemia/lymphoma with t(v;11q23.3)", ["B-lymphoblastic leukemia/lymphoma with t(v;11q23.3)"]),
        ("1. **Fabry disease**: X-linked GLA deficiency\n2. **Gaucher disease** - GBA1", ["Fabry disease", "Gaucher disease"]),
        ("**Final diagnosis:** Wilson disease", ["Wilson disease"]),
        ("**Diagnosis**: Wilson disease", ["Wilson disease"]),
        ("Succinyl-CoA:3-oxoacid CoA transferase deficiency", ["Succinyl-CoA:3-oxoacid CoA transferase deficiency"]),
        ("Fabry disease: 60%", ["Fabry disease"]),
        ("The most likely diagnosis is Fabry disease.", ["Fabry disease"]),
        ("Final answer = Wilson disease", ["Wilson disease"]),
        ("OBSOLETE: Spondyloepimetaphyseal dysplasia (most likely)", ["OBSOLETE: Spondyloepimetaphyseal dysplasia"]),
        ("Gaucher disease - less likely (20%)", ["Gaucher disease"]),
        ("1. Fabry disease, 2. Gaucher disease, 3. Pompe disease", ["Fabry disease", "Gaucher disease", "Pompe disease"]),
        ("", []),
        ("  \n - \n 1. \n", []),
    ],
)
def test_ranked_list_cleaning(answer: str, expected: list[str]) -> None:
    assert parse_ranked_list(answer) == expected


def test_ranked_list_k_and_bad_input() -> None:
    assert parse_ranked_list("A\nB\nC", k=0) == []
    assert parse_ranked_list("A\nB\nC", k=-3) == []
    assert parse_ranked_list("A\nB\nC", k=10) == ["A", "B", "C"]
    assert parse_ranked_list(None) == []  # type: ignore[arg-type]


def _real_names(orphanet_path: Path, rarebench_dir: Path) -> list[str]:
    names = {e["name"] for e in json.loads(orphanet_path.read_text(encoding="utf-8"))}
    for path in sorted(rarebench_dir.glob("*.csv")):
        with path.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                names.update(ast.literal_eval(row["RareDisease"]))
    return sorted(names)


def test_ranked_lists_of_every_real_disease_name(orphanet_path: Path, rarebench_dir: Path) -> None:
    """Every Orphanet / RareBench name survives every list style (commas, parentheses, digits)."""
    names = _real_names(orphanet_path, rarebench_dir)
    assert len(names) > 7000
    failures = []
    for style, fmt in STYLES.items():
        for i in range(0, len(names), 5):
            chunk = names[i : i + 5]
            got = parse_ranked_list(fmt(chunk))
            if got != chunk:
                failures.append((style, chunk, got))
    assert failures == []


def test_no_real_disease_name_is_negated(orphanet_path: Path, rarebench_dir: Path) -> None:
    names = _real_names(orphanet_path, rarebench_dir)
    assert [n for n in names if is_negated(n)] == []


def test_real_names_split_only_on_or_and_keep_protects_them(orphanet_path: Path, rarebench_dir: Path) -> None:
    names = _real_names(orphanet_path, rarebench_dir)
    split = [n for n in names if split_candidates(n) != [n]]
    assert split, "some real names contain ' or '"
    assert all(re.search(r"\sor\s", n) for n in split)
    assert len(split) < 0.01 * len(names)
    vocabulary = frozenset(names)
    assert [n for n in names if split_candidates(n, keep=vocabulary) != [n]] == []


# --- candidates and negation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Fabry disease", ["Fabry disease"]),
        ("Fabry disease or Gaucher disease", ["Fabry disease", "Gaucher disease"]),
        ("Either Fabry disease or Gaucher disease", ["Fabry disease", "Gaucher disease"]),
        ("Fabry disease vs. Gaucher disease", ["Fabry disease", "Gaucher disease"]),
        ("Fabry disease versus Gaucher disease", ["Fabry disease", "Gaucher disease"]),
        ("Fabry disease / Gaucher disease", ["Fabry disease", "Gaucher disease"]),
        ("Fabry disease; Gaucher disease", ["Fabry disease", "Gaucher disease"]),
        ("1. Fabry disease\n2. Gaucher disease or Pompe disease", ["Fabry disease", "Gaucher disease", "Pompe disease"]),
        ("Marfan syndrome, Loeys-Dietz syndrome, or Ehlers-Danlos syndrome",
         ["Marfan syndrome", "Loeys-Dietz syndrome", "Ehlers-Danlos syndrome"]),
        ("Fabry disease or fabry disease", ["Fabry disease"]),
        ("Hand-foot-and-mouth disease", ["Hand-foot-and-mouth disease"]),
        ("VACTERL/VATER association", ["VACTERL/VATER association"]),
        ("Deafness, autosomal recessive", ["Deafness, autosomal recessive"]),
        ("Familial clubfoot with or without associated lower limb anomalies",
         ["Familial clubfoot with or without associated lower limb anomalies"]),
        ("Chronic graft versus host disease", ["Chronic graft versus host disease"]),
        ("Final diagnosis: **Wilson disease**.", ["Wilson disease"]),
        ("", []),
        ("   ", []),
    ],
)
def test_split_candidates(answer: str, expected: list[str]) -> None:
    assert split_candidates(answer) == expected


def test_split_candidates_keep() -> None:
    name = "Familial or sporadic hemiplegic migraine"
    assert split_candidates(name) == ["Familial", "sporadic hemiplegic migraine"]
    assert split_candidates(name, keep=[name.upper()]) == [name]
    assert split_candidates(f"{name} or Fabry disease", keep={name}) == [name, "Fabry disease"]
    assert split_candidates(None) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "answer",
    [
        "Not Fabry disease",
        "It is not Fabry disease",
        "No evidence of Fabry disease",
        "Fabry disease was excluded",
        "Fabry disease ruled out",
        "Rule out Fabry disease",
        "R/O Fabry disease",
        "Unlikely Fabry disease",
        "Fabry disease is unlikely",
        "Negative for Fabry disease",
        "Findings are not consistent with Fabry disease",
        "This isn't Fabry disease",
    ],
)
def test_negated(answer: str) -> None:
    assert is_negated(answer)


@pytest.mark.parametrize(
    "answer",
    [
        "Fabry disease",
        "Noonan syndrome",
        "Non-syndromic metopic craniosynostosis",
        "Dendritic cell sarcoma not otherwise specified",
        "Homocystinuria without methylmalonic aciduria",
        "Rheumatoid factor-negative polyarticular juvenile idiopathic arthritis",
        "Isolated absence/hypoplasia of fingers excluding thumb, unilateral",
        "",
    ],
)
def test_not_negated(answer: str) -> None:
    assert not is_negated(answer)
    assert not is_negated(None)  # type: ignore[arg-type]


# --- token counting -----------------------------------------------------------------------------


class _EncodeWithKeyword:
    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        self.calls.append({"add_special_tokens": add_special_tokens})
        return [0] * len(text.split()) + ([1] if add_special_tokens else [])


class _EncodeWithoutKeyword:
    def encode(self, text: str) -> list[int]:
        return [0] * len(text)


def test_count_tokens() -> None:
    tok = _EncodeWithKeyword()
    assert count_tokens("fever and rash", tok) == 3  # no special tokens added
    assert tok.calls == [{"add_special_tokens": False}]
    assert count_tokens("abc", _EncodeWithoutKeyword()) == 3
    assert count_tokens("a b", str.split) == 2
    assert count_tokens("a b", lambda t: {"input_ids": [1, 2, 3]}) == 3
    assert count_tokens("a b", None) is None
    assert count_tokens(None, str.split) is None  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        count_tokens("a", object())


def test_count_tokens_with_a_real_hf_tokenizer() -> None:
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "fever": 1, "and": 2, "rash": 3, "[CLS]": 4, "[SEP]": 5}
    raw = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    from tokenizers.processors import TemplateProcessing

    raw.post_processor = TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 4), ("[SEP]", 5)])
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]")
    assert len(tok.encode("fever and rash")) == 5  # with special tokens by default
    assert count_tokens("fever and rash", tok) == 3
    assert tokenizers is not None


# --- properties ---------------------------------------------------------------------------------

_TAG = re.compile(r"<\s*/?\s*(?:think|answer)\s*>", re.IGNORECASE)
FRAGMENTS = st.sampled_from(
    [
        "<think>", "</think>", "<answer>", "</answer>", "< Answer >", "</ THINK>", "<", ">", "/",
        "think", "answer", "<|im_end|>", "</s>", "\n", " ", "Fabry disease", "法布里病", "。", "1. ", "- ",
        " or ", ";", "(70%)", "α", "ファブリー", "Not ", "**",
    ]
)
TEXTS = st.one_of(st.text(), st.lists(st.one_of(FRAGMENTS, st.text(max_size=5)), max_size=30).map("".join))


@settings(max_examples=400, deadline=None)
@given(TEXTS, st.sampled_from([None, True, False]))
def test_parse_completion_never_crashes_and_keeps_invariants(text: str, prefilled: bool | None) -> None:
    p = parse_completion(text, think_prefilled=prefilled)
    assert p.text == text and p.n_chars == len(text)
    if p.answer is not None:
        assert p.answer in text
    if p.think is not None:
        assert p.think in text
    assert p.after_answer in text or p.after_answer == ""
    assert 0.0 <= p.format_score <= 1.0 and (p.format_score * 4).is_integer()
    assert p.format_ok == (p.format_reason == "")
    if p.format_ok:
        assert p.answer and p.tags == TagCounts(1, 1, 1, 1) and p.after_answer == ""
        assert p.format_score == 1.0
    if prefilled is not None:
        assert p.think_prefilled is prefilled


@settings(max_examples=300, deadline=None)
@given(st.text(), st.text())
def test_round_trip(a: str, b: str) -> None:
    assume(not _TAG.search(a) and not _TAG.search(b) and b.strip())
    p = parse_completion(f"<think>{a}</think><answer>{b}</answer>")
    assert p.format_ok, p.format_reason
    assert p.think == a.strip() and p.answer == b.strip()


@settings(max_examples=300, deadline=None)
@given(TEXTS, st.one_of(st.none(), st.integers(min_value=-2, max_value=8)))
def test_ranked_list_properties(answer: str, k: int | None) -> None:
    items = parse_ranked_list(answer, k)
    assert all(item and item == item.strip() for item in items)
    assert len({i.casefold() for i in items}) == len(items)
    if k is not None:
        assert len(items) <= max(k, 0)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_candidates_negation_tokens_never_crash(answer: str) -> None:
    cands = split_candidates(answer)
    assert all(c and c == c.strip() for c in cands)
    assert (cands == []) == (not answer.strip()) or not parse_ranked_list(answer)
    assert isinstance(is_negated(answer), bool)
    assert count_tokens(answer, str.split) == len(answer.split())


def test_doctests() -> None:
    result = doctest.testmod(parsing)
    assert result.attempted >= 10 and result.failed == 0


# --- fast paths equal the general ones -------------------------------------------------------------

TAG_TEXTS = st.lists(
    st.one_of(
        st.sampled_from(["<", ">", "/", " ", "\t", "think", "answer", "THINK", "Answer", "thınk", "<<", "</",
                         "<think>", "</think>", "<answer>", "</answer>", "< think >", "</ answer>", "<|im_end|>"]),
        st.text(max_size=4),
    ),
    max_size=30,
).map("".join)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(TAG_TEXTS, st.text()))
def test_tag_scan_equals_the_regex_over_the_whole_text(text: str) -> None:
    expected: tuple[list[tuple[int, int]], ...] = ([], [], [], [])
    for m in parsing._TAG_RE.finditer(text):
        expected[parsing._GROUP_KIND[m.lastindex]].append(m.span())  # type: ignore[index]
    assert parsing._scan_tags(text) == expected


SPLIT_TEXTS = st.lists(
    st.one_of(
        st.sampled_from(["Fabry disease", " or ", "OR", ", or ", ",or ", " vs", " vs. ", " versus ", " / ", "/",
                         "either ", "Either ", "EİTHER ", "ſ", ";", "；", "1. ", "2) ", "(1)", "\n", "\x85", "\u2028",
                         "**", "Diagnosis: ", "(likely)", " - ", "with or without", "type 2", ",", "  "]),
        st.text(max_size=4),
    ),
    max_size=12,
).map("".join)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(SPLIT_TEXTS, st.text()), st.sampled_from([(), ("Fabry disease or Gaucher disease",)]))
def test_split_candidates_fast_path_equals_the_general_path(answer: str, keep: tuple[str, ...]) -> None:
    got = split_candidates(answer, keep=keep)
    if not answer.strip():
        assert got == []
        return
    keep_set = parsing._make_keep(frozenset(keep))
    whole = parsing._clean_item(answer)
    if parsing._norm_name(whole) not in keep_set.names:
        assert got == parsing._split_general(answer, keep_set)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(SPLIT_TEXTS, st.text(), st.from_regex(r"[A-Za-z][A-Za-z0-9,'\- ]{0,30}[A-Za-z0-9]", fullmatch=True),
                 st.lists(st.sampled_from(["the", "most", "likely", "diagnosis", "is", "dx", "Top", "5", " ", "-",
                                           "Fabry", "disease", "are", "answer", ","]), max_size=8).map(" ".join)))
def test_clean_item_fast_path_equals_the_general_path(item: str) -> None:
    assert parsing._clean_item(item) == parsing._clean_general(item)


def _mostly(good: str, *bad: str) -> st.SearchStrategy[str]:
    """``good`` three times in four, else one of ``bad``: near-strict completions, one or two parts off."""
    return st.sampled_from([good, good, good, good, good, good, *bad])


NEAR_STRICT = st.tuples(
    _mostly("", " ", "\n", "x", "x\n"),
    _mostly("<think>", "", "< think>", "<THINK>", "<think><think>"),
    st.text(alphabet=st.characters(blacklist_characters="<"), max_size=6),
    _mostly("</think>", "</ think>", "</think></think>", "", "<"),
    _mostly("\n", "", " x ", "<", "</think>", "\u2028x"),
    _mostly("<answer>", "<Answer>", "", "<answer><answer>"),
    _mostly("Fabry disease", "", "  ", "a<b", "法布里病", "</answer><answer>x"),
    _mostly("</answer>", "</answer >", "", "</answer></answer>"),
    _mostly("", " ", "\n<|im_end|>", "<|im_end|>\n", "<|endoftext|><|im_end|>", "x", " <", "</s>x", "\u2028"),
).map("".join)


@settings(max_examples=2000, deadline=None)
@given(st.one_of(NEAR_STRICT, NEAR_STRICT, TAG_TEXTS, st.text()), st.sampled_from([None, True, False]))
def test_strict_fast_path_equals_the_general_path(text: str, prefilled: bool | None) -> None:
    assert parse_completion(text, think_prefilled=prefilled) == parsing._parse_general(text, prefilled)
    spans = parsing.strict_spans_python(text, think_prefilled=prefilled)
    assert parsing.strict_spans(text, think_prefilled=prefilled) == spans  # compiled == Python
    if spans is not None:  # strict_spans says "strict format" only when the general parser agrees
        p = parsing._parse_general(text, prefilled)
        assert p.format_score == 1.0 and p.after_answer == "" and p.tags == TagCounts(1, 1, 1, 1)
        assert p.answer == text[spans[2] : spans[3]].strip() and p.think_span == (spans[0], spans[1])


def test_strict_fast_path_is_taken_for_the_common_shapes() -> None:
    for text in ("<think>a</think><answer>b</answer>", " <think>a</think>\n<answer>b</answer>\n<|im_end|>",
                 "a</think><answer>b</answer>", "<think>a</think><answer></answer>"):
        assert parsing.strict_spans(text) is not None, text
    assert parsing.strict_spans("a</think><answer>b</answer>", think_prefilled=False) is None
    assert parsing.strict_spans("<think>a</think><answer>b</answer>", think_prefilled=True) is None


@settings(max_examples=1500, deadline=None)
@given(st.one_of(NEAR_STRICT, TAG_TEXTS, st.text(), st.none()), st.sampled_from([None, True, False]))
def test_answer_and_format_score_equals_the_full_parse(text: str, prefilled: bool | None) -> None:
    p = parse_completion(text, think_prefilled=prefilled)
    assert parsing.answer_and_format_score(text, think_prefilled=prefilled) == (p.answer, p.format_score)


def _format_score_by_definition(positions: tuple[list[tuple[int, int]], ...], prefilled: bool) -> tuple[float, bool]:
    """0.25 per tag present exactly once whose order agrees with every other such tag (pairwise)."""
    single = []
    for kind, spans in enumerate(positions):
        n = len(spans) + (1 if kind == 0 and prefilled else 0)
        if n == 1:
            single.append((kind, -1 if kind == 0 and prefilled else spans[0][0]))
    ok = [all((k < kind) == (s < start) for k, s in single if k != kind) for kind, start in single]
    return sum(ok) / 4.0, not all(ok)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(NEAR_STRICT, TAG_TEXTS), st.booleans())
def test_partial_format_score_follows_its_definition(text: str, prefilled: bool) -> None:
    positions = parsing._scan_tags(text)
    assert parsing._partial_format_score(positions, prefilled) == _format_score_by_definition(positions, prefilled)


def test_the_compiled_strict_spans_is_built_and_used() -> None:
    """CI builds the C extension (a compiler is there); elsewhere it is optional and may be absent."""
    if parsing._speedups is None:
        assert not os.environ.get("CI"), "medzero_rewards._speedups was not built"
        pytest.skip("built without the optional C extension; the Python version is in use")
    assert parsing.strict_spans is parsing._speedups.strict_spans
    with pytest.raises(TypeError, match="must be str"):
        parsing.strict_spans(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be str"):
        parsing.strict_spans_python(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unexpected keyword"):
        parsing.strict_spans("x", prefilled=True)  # type: ignore[call-arg]
    for text in ("<think>ü</think><answer>😀 Fabry</answer>\u3000<|im_end|>\n", "\u2028<think>x</think>\u00a0<answer>y</answer>",
                 "<think>x</think><answer>y</answer> <|im_end|> x", "<think>x</think><answer>y</answer><|im_end|><"):
        for prefilled in (None, True, False, 0, 1):
            got = parsing.strict_spans(text, think_prefilled=prefilled)  # type: ignore[arg-type]
            assert got == parsing.strict_spans_python(text, think_prefilled=prefilled), (text, prefilled)


NEGATION_TEXTS = st.lists(
    st.one_of(
        st.sampled_from(["not ", "NOT ", "No ", "no evidence of ", "isn't ", "WASN'T ", "unlikely", "Unlikely ",
                         "excluded", "EXCLUDED", "ruled out", "Rule out ", "R/O ", "r/o", "without signs of ",
                         "negative for ", "Negative For ", "not otherwise specified", "Fabry disease", "Noonan",
                         "is ", "was ", "It is ", "this is ", " ", "-", ".", "ı", "ſ", "K"]),
        st.text(max_size=3),
    ),
    max_size=8,
).map("".join)


@settings(max_examples=2000, deadline=None)
@given(st.one_of(NEGATION_TEXTS, st.text()))
def test_is_negated_shortcut_equals_the_regex(answer: str) -> None:
    assert is_negated(answer) == (parsing._NEGATION_RE.search(answer) is not None)
