"""The named-thing golden questions keep their claims (eval/coverage_check.py): an `absent` name occurs in no
title or abstract, a `mentioned` one only in passing, a `twin`'s in its gold paper, and the question names each in
a form the system's name finder extracts."""

from __future__ import annotations

from collections import Counter

from eval import golden
from eval.coverage_check import KINDS, problems
from eval.hardness import corpus_papers
from testing.seeds import SEEDS


def test_the_named_thing_questions_keep_their_claims():
    questions = golden.load()
    counts = Counter(q.type for q in questions if q.type in KINDS)
    assert counts["absent"] >= 30 and counts["twin"] >= 30 and counts["mentioned"] >= 15, counts
    assert counts["described"] >= 40 and counts["famous"] >= 40 and counts["introduced"] >= 20, counts
    assert {q.split for q in questions if q.type in KINDS} == {"dev", "holdout"}
    assert problems(questions, corpus_papers(SEEDS)) == []


def test_the_check_catches_a_false_claim():
    papers = {"MambaMixer: Dual Selection": "We present MambaMixer, built on Mamba. It beats DPO baselines."}
    wrong = [golden.parse({"id": "x1", "type": "absent", "question": "How does MambaMixer work?",
                           "expected_titles": [], "names": ["MambaMixer"]}, "x"),
             golden.parse({"id": "x2", "type": "twin", "question": "How does LongRoPE work?",
                           "expected_titles": ["MambaMixer: Dual Selection"], "names": ["LongRoPE"]}, "x"),
             golden.parse({"id": "x3", "type": "mentioned", "question": "How does MambaMixer work?",
                           "expected_titles": ["MambaMixer: Dual Selection"], "names": ["MambaMixer"]}, "x"),
             golden.parse({"id": "x4", "type": "mentioned", "question": "How does Mamba work?",  # kept: passing
                           "expected_titles": ["MambaMixer: Dual Selection"], "names": ["Mamba"]}, "x")]
    wrong += [golden.parse({"id": "x5", "type": "described", "question": "Which model mixes selection with Mamba?",
                            "expected_titles": [], "names": ["MambaMixer"]}, "x"),  # in the corpus
              golden.parse({"id": "x6", "type": "described", "question": "How does the Adafactor optimizer save memory?",
                            "expected_titles": [], "names": ["Adafactor"]}, "x"),  # named, not described
              golden.parse({"id": "x7", "type": "described", "question": "Which optimizer factors its second moments?",
                            "expected_titles": [], "names": ["Adafactor"]}, "x")]  # kept
    found = problems(wrong, papers)
    assert any(p.startswith("x1:") and "occurs in" in p for p in found)
    assert any(p.startswith("x2:") and "gold paper" in p for p in found)
    assert any(p.startswith("x3:") and "about it" in p for p in found)  # in the title: a paper is about it
    assert any(p.startswith("x5:") and "occurs in" in p for p in found)
    assert any(p.startswith("x6:") and "should describe" in p for p in found)
    assert not any(p.startswith("x7:") for p in found)
    assert not any(p.startswith("x4:") for p in found)  # "Mamba" only in passing ("MambaMixer" is another word)


def test_the_check_catches_a_false_famous_or_introduced_claim():
    papers = {"S-LoRA: Serving Adapters": "We present S-LoRA, built on LoRA. It serves LoRA adapters.",
              "Tied-LoRA: Weight Tying": "We tie LoRA weights.", "Other": "Nothing named here."}
    qs = [golden.parse({"id": "y1", "type": "famous", "question": "how does lora work",  # kept: any casing
                        "expected_titles": ["S-LoRA: Serving Adapters", "Tied-LoRA: Weight Tying"],
                        "names": ["LoRA"]}, "y"),
          golden.parse({"id": "y2", "type": "famous", "question": "What is QLoRA?",  # no paper mentions it
                        "expected_titles": [], "names": ["QLoRA"]}, "y"),
          golden.parse({"id": "y3", "type": "famous", "question": "What is LoRA?",  # Other does not mention it
                        "expected_titles": ["Other"], "names": ["LoRA"]}, "y"),
          golden.parse({"id": "y4", "type": "introduced", "question": "What is S-LoRA?",
                        "expected_titles": ["Other"], "names": ["S-LoRA"]}, "y"),  # not its gold paper's name
          golden.parse({"id": "y5", "type": "introduced", "question": "How does it serve adapters?",
                        "expected_titles": ["S-LoRA: Serving Adapters"], "names": ["S-LoRA"]}, "y")]  # unnamed
    found = problems(qs, papers)
    assert not any(p.startswith("y1:") for p in found)
    assert any(p.startswith("y2:") and "mentioned by 0" in p for p in found)
    assert any(p.startswith("y3:") and "do not mention" in p for p in found)
    assert any(p.startswith("y4:") and "gold paper" in p for p in found)
    assert any(p.startswith("y5:") and "names none" in p for p in found)
