"""Citation parsing and cleaning, sentence splitting and support (rag/answer/citations.py): pure functions."""

from __future__ import annotations

import random

import pytest

from rag.answer.citations import CitationFilter, answer_sentences, clean_citations
from rag.answer.support import support
from rag.text.cites import cited_numbers
from rag.text.sentences import split_sentences

VALID = {1, 2, 3}


def stream_through(text: str, valid: set[int], cuts: list[int]) -> tuple[str, int]:
    """text fed to a CitationFilter in the pieces that the cut positions make, then flushed."""
    f = CitationFilter(set(valid))
    bounds = [0, *sorted(cuts), len(text)]
    out = "".join(f.feed(text[a:b]) for a, b in zip(bounds, bounds[1:])) + f.flush()
    return out, f.removed


# --------------------------------------------------------------------------- formats

@pytest.mark.parametrize("raw, clean", [
    ("Fast [1].", "Fast [1]."),
    ("Fast [1, 2].", "Fast [1][2]."),
    ("Fast [1,2,3].", "Fast [1][2][3]."),
    ("Fast [1; 3].", "Fast [1][3]."),
    ("Fast [1-3].", "Fast [1][2][3]."),
    ("Fast [1–3].", "Fast [1][2][3]."),
    ("Fast [Source 2].", "Fast [2]."),
    ("Fast [source: 1].", "Fast [1]."),
    ("Fast [Sources 1, 3].", "Fast [1][3]."),
    ("Fast [^1].", "Fast [1]."),
    ("Fast 【1】.", "Fast [1]."),
    ("Fast [[1]].", "Fast [1]."),
    ("Fast (source 3).", "Fast [3]."),
    ("Fast (Source 1, Source 2).", "Fast [1][2]."),
    ("Fast [ 2 ].", "Fast [2]."),
    ("Fast [2][3].", "Fast [2][3]."),
])
def test_formats_are_normalised(raw, clean):
    assert clean_citations(raw, VALID) == (clean, 0)


@pytest.mark.parametrize("raw, clean, removed", [
    ("It works [9].", "It works.", 1),
    ("It works [2, 9].", "It works [2].", 1),
    ("It works [9, 2].", "It works [2].", 1),
    ("It works [1][9].", "It works [1].", 1),
    ("It works (source 7).", "It works.", 1),
    ("It works 【12】 and scales [3].", "It works and scales [3].", 1),
    ("It works [0].", "It works.", 1),
    ("It works [2-5].", "It works [2][3].", 2),
    ("It works\t[9] well.", "It works well.", 1),
    ("A [9]. B [8]. C [1].", "A. B. C [1].", 2),
])
def test_invented_numbers_are_removed_and_counted(raw, clean, removed):
    assert clean_citations(raw, VALID) == (clean, removed)


def test_whitespace_before_a_removed_citation_goes_too():
    out, removed = clean_citations("works [9].", VALID)
    assert out == "works." and removed == 1
    # and only the whitespace of that citation: the kept one keeps its space
    assert clean_citations("works [1] [9].", VALID) == ("works [1].", 1)


@pytest.mark.parametrize("text", [
    "",
    "No citations here at all.",
    "Throughput improves by 2-4x over FasterTransformer and Orca.\n\nA second paragraph.",
    "See [see appendix] for details.",
    "Published in (2023) at a venue.",
    "The loss f(x) is convex, and g(x, y) is not.",
    "Two goals: (1) less waste and (2) more sharing.",
    "Sets [a] and [1a] and [x] stay; so does a lone [ bracket.",
    "Unclosed (parenthesis and [bracket at the end [",
])
def test_text_without_citations_is_unchanged(text):
    assert clean_citations(text, VALID) == (text, 0)
    # every chunking too: held-back text is released, unchanged, by flush()
    for cut in range(len(text) + 1):
        assert stream_through(text, VALID, [cut]) == (text, 0)


# --------------------------------------------------------------------------- streaming = whole text

WORDS = ("the model attention memory vLLM serving improves throughput by 2-4x over baselines e.g. et al. "
         "KV cache f(x) (2023) [see appendix] (1) near-zero waste").split()
CITES = ["[{a}]", "[{a}, {b}]", "[{a}-{b}]", "[Source {a}]", "[source: {a}]", "[^{a}]", "【{a}】", "(source {a})",
         "[{a}][{b}]", "[{a}; {b}]", "(Sources {a}, {b})", "[ {a} ]", "[Ref. {a}]"]
ENDS = [".", ". ", ".\n\n", "! ", " ", ": ", ".\n- ", "? "]


def answer_like(rng: random.Random) -> str:
    """A random answer-like string: words, citations of every format (valid and invented), sentence ends."""
    parts = []
    for _ in range(rng.randint(1, 6)):
        parts.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 10))))
        if rng.random() < 0.7:
            parts.append(rng.choice([" ", "", "  ", "\t"]) + rng.choice(CITES).format(a=rng.randint(0, 9), b=rng.randint(0, 9)))
        parts.append(rng.choice(ENDS))
    return "".join(parts)


def test_streamed_in_any_chunking_equals_whole_text():
    rng = random.Random(20240611)
    changed = 0
    for _ in range(600):
        text = answer_like(rng)
        valid = set(rng.sample(range(1, 8), rng.randint(1, 5)))
        whole = clean_citations(text, valid)
        changed += whole[0] != text
        for _ in range(15):
            cuts = rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(1, 40))) if len(text) > 1 else []
            assert stream_through(text, valid, cuts) == whole, (text, valid, cuts)
        # one character at a time, as a slow stream sends it
        assert stream_through(text, valid, list(range(1, len(text)))) == whole, text
    assert changed > 300  # the strings really exercise the rewriting


def test_every_single_split_point_of_a_busy_answer():
    text = ("vLLM pages the KV cache [1, 2]. It beats Orca (source 3) and FasterTransformer 【4】 by 2-4x [^2][9]. "
            "Memory waste is near zero [Source 1; Source 8].\n\nSee [see appendix] and f(x) (2023).")
    whole = clean_citations(text, VALID)
    assert whole == ("vLLM pages the KV cache [1][2]. It beats Orca [3] and FasterTransformer by 2-4x [2]. "
                     "Memory waste is near zero [1].\n\nSee [see appendix] and f(x) (2023).", 3)
    for cut in range(len(text) + 1):
        assert stream_through(text, VALID, [cut]) == whole, cut


def test_filter_emits_nothing_it_takes_back():
    """What feed() returns is final: a held-back citation is never emitted half-way."""
    f = CitationFilter({1})
    pieces = [f.feed(p) for p in ["It is fast ", "[", "9", "]", " and small ", "(sou", "rce 1", ")."]] + [f.flush()]
    assert "".join(pieces) == "It is fast and small [1]."
    assert not any("[9" in p or "(sou" in p for p in pieces)
    assert f.removed == 1


def test_double_brackets_split_in_a_stream():
    for text in ["It is fast [[1]].", "It is fast [[9]]."]:
        whole = clean_citations(text, VALID)
        for cut in range(len(text) + 1):
            assert stream_through(text, VALID, [cut]) == whole, (text, cut)


def test_long_citation_group_streamed_in_small_pieces():
    text = "It is fast [Source 1, Source 2, Source 3, Source 4, Source 5]."
    whole = clean_citations(text, VALID)
    assert whole == ("It is fast [1][2][3].", 2)
    assert stream_through(text, VALID, list(range(1, len(text), 5))) == whole


# --------------------------------------------------------------------------- cited numbers, sentences

def test_cited_numbers_in_order_of_first_use():
    assert cited_numbers("A [3]. B [1][3]. C [2]. D [1].") == [3, 1, 2]
    assert cited_numbers("No citations (1) [a].") == []
    assert cited_numbers("Only normalised marks count: [Source 2] [^4] [5].") == [5]


@pytest.mark.parametrize("text, sentences", [
    ("We compare with prior work, e.g. BERT and GPT. It helps.",
     ["We compare with prior work, e.g. BERT and GPT.", "It helps."]),
    ("Smith et al. show a gain. Jones et al. do not.", ["Smith et al. show a gain.", "Jones et al. do not."]),
    ("It is 3.5x faster. It is 2.1 points better.", ["It is 3.5x faster.", "It is 2.1 points better."]),
    ("As J. R. R. Tolkien wrote. Another one.", ["As J. R. R. Tolkien wrote.", "Another one."]),
    ("i.e. the cache is paged. Memory is saved.", ["i.e. the cache is paged.", "Memory is saved."]),
    ("We build a server. vLLM serves requests. iOS apps run it.",
     ["We build a server.", "vLLM serves requests.", "iOS apps run it."]),
    ("First point.\n\nsecond paragraph starts lowercase.", ["First point.", "second paragraph starts lowercase."]),
    ("Results:\n- one item\n- two items", ["Results:", "- one item", "- two items"]),
    ("It works! Does it scale? Yes.", ["It works!", "Does it scale?", "Yes."]),
    ("It ends without a stop", ["It ends without a stop"]),
])
def test_split_sentences(text, sentences):
    assert split_sentences(text) == sentences


def test_split_sentences_does_not_split_lowercase_continuations():
    # "the x. more" is not a sentence start (a lowercase word without an inner capital)
    assert split_sentences("Scores rise vs. the baseline. more text follows here.") == [
        "Scores rise vs. the baseline. more text follows here."]


def test_answer_sentences_attach_a_trailing_citation_to_the_sentence_before():
    text = "PagedAttention pages the KV cache. [1] vLLM shares memory [2]. It is fast. [2][3]"
    assert answer_sentences(text) == [
        ("PagedAttention pages the KV cache. [1]", [1]),
        ("vLLM shares memory [2].", [2]),
        ("It is fast. [2][3]", [2, 3]),
    ]


def test_answer_sentences_keep_numbers_in_first_use_order():
    assert answer_sentences("Both do it [3][1][3].") == [("Both do it [3][1][3].", [3, 1])]
    assert answer_sentences("[2] A lead citation stays on the first sentence.") == [
        ("[2] A lead citation stays on the first sentence.", [2])]


# --------------------------------------------------------------------------- support

ABSTRACT = (
    "High throughput serving of large language models (LLMs) requires batching sufficiently many requests at a time. "
    "To address this problem, we propose PagedAttention, an attention algorithm inspired by the classical virtual "
    "memory and paging techniques in operating systems. Our evaluations show that vLLM improves the throughput of "
    "popular LLMs by 2-4times with the same level of latency compared to the state-of-the-art systems."
)


def test_support_of_a_copied_sentence_is_high():
    sentence = ("The authors propose PagedAttention, an attention algorithm inspired by the classical virtual memory "
                "and paging techniques in operating systems [1].")
    sup = support(sentence, {1: ABSTRACT})
    assert sup.score >= 0.9
    assert sup.best[1].startswith("To address this problem, we propose PagedAttention")


def test_support_of_an_unrelated_sentence_is_low():
    sup = support("Bananas ripen faster when stored next to apples in a paper bag [1].", {1: ABSTRACT})
    assert sup.score < 0.3


def test_support_counts_words_found_in_any_cited_abstract():
    other = "Spiking neural networks recognise places for robots with region-specific ensembles."
    sentence = "PagedAttention pages memory while spiking networks recognise places [1][2]."
    both = support(sentence, {1: ABSTRACT, 2: other}).score
    assert both > support(sentence, {1: ABSTRACT}).score
    assert both > support(sentence, {2: other}).score
    assert both >= 0.8
