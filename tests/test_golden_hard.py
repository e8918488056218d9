"""The golden set's hard paraphrases keep their rule: no name, no number, no three-word run shared with the
paper (eval/hardness.py), so a question that BM25 finds by its words cannot slip into the set."""

from __future__ import annotations

from collections import Counter

import pytest

from eval import golden
from eval.hardness import HARD, corpus_papers, lower_words, violations
from testing.seeds import SEEDS

TITLE = "Mixture of Attentions For Speculative Decoding"
ABSTRACT = (
    "The growth in the number of parameters of Large Language Models (LLMs) has led to a significant surge in "
    "computational requirements. We propose a Mixture of Attentions for speculative decoding, which improves on "
    "EAGLE-2 by 9.5% in a client-server deployment."
)


@pytest.fixture(scope="module")
def papers() -> dict[str, str]:
    return corpus_papers(SEEDS)


def test_the_set_is_large_and_split(papers):
    hard = [q for q in golden.load() if q.type == HARD]
    assert len(hard) >= 40
    splits = Counter(q.split for q in hard)
    assert set(splits) == {"dev", "holdout"} and min(splits.values()) >= 20, splits
    assert all(len(q.expected_titles) == 1 and q.expected_titles[0] in papers for q in hard)


def test_every_hard_question_keeps_the_rule(papers):
    common = lower_words(papers)
    broken = {}
    for q in golden.load():
        if q.type == HARD:
            title = q.expected_titles[0]
            found = violations(q.question, title, papers[title], common)
            if found:
                broken[q.id] = [str(v) for v in found]
    assert not broken, broken


@pytest.mark.parametrize("question, kind, what", [
    ("Can a draft model with EAGLE-style heads speed up generation?", "name", "eagle"),
    ("Does the number of servers matter for drafting?", "3-gram", "the number of"),
    ("How much faster is it, say 9.5 points?", "number", "9"),
    ("Does a mixture of attentions help drafting?", "3-gram", "mixture of attentions"),
    ("Do llms guess several tokens at once on a phone?", None, None),  # generic acronym, no shared run: allowed
])
def test_the_check_catches_each_kind(question, kind, what):
    found = violations(question, TITLE, ABSTRACT)
    if kind is None:
        assert found == []
    else:
        assert any(v.kind == kind and v.what == what for v in found), found
