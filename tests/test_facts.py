"""Near misses (rag/answer/facts.py): a question that asks a kind of fact gets the sentence that states it, or is
told the abstract does not state it; in LLM mode a sentence whose numbers or hardware the cited abstracts lack is
flagged; the eval scores both the near miss and its fact twin."""

from __future__ import annotations

import pytest

from eval.harness import verdict
from rag import Answer, Answerer, Flag
from rag.answer.facts import asked_fact, missing_facts, states, subject_lacks, values
from rag.llm.client import LLM
from testing.fakes import ScriptedClient
from ui import render
from ui.chat import messages

HUMMINGBIRD = "AMD-Hummingbird: Towards an Efficient Text-to-Video Model"
STRUCTLM = "StructLM: Towards Building Generalist Models for Structured Knowledge Grounding"


@pytest.mark.parametrize("question, kind, units", [
    ("How many GPUs were used to pre-train GLM-130B?", "number", {"gpu"}),
    ("How many GPU hours did the study consume?", "number", {"hour"}),
    ("How many queries or documents do the benchmarks contain?", "number", {"query", "document"}),
    ("How long does pruning take on one A6000?", "number", {"hour", "second"}),
    ("How does X work, and how much memory does it need?", "number", {"memory", "gb"}),
    ("What share of SWE-bench Verified issues does CodeMonkeys resolve?", "number", set()),
    ("On which GPUs did Colossal-AI measure its speedup?", "hardware", set()),
    ("Which specific GPU models made up the cluster?", "hardware", set()),
    ("Which company or university are the authors affiliated with?", "affiliation", set()),
    ("Under which open-source license is the code released?", "licence", set()),
])
def test_the_kind_of_fact_a_question_asks(question, kind, units):
    ask = asked_fact(question)
    assert ask is not None and ask.kind == kind and units <= ask.units


@pytest.mark.parametrize("question", [
    "How does MambaMixer's dual selection work?",
    "What kinds of errors do language models make in long arithmetic?",  # not a measured error
    "A month of function logs, analysing how long fresh instances take to spin up",  # a description, not a question
    "Forecasting how much noisy neighbours slow a rented server",
    "Which method reduces GPU memory when serving many adapters?",  # GPU is not what is asked for
])
def test_questions_that_ask_no_kind_of_fact(question):
    assert asked_fact(question) is None


def test_a_count_is_stated_only_next_to_the_unit_asked():
    gpus = asked_fact("How many GPUs does the training need?")
    assert states(gpus, "Notably, the entire training process requires only four GPUs.")
    assert states(gpus, "We train on 8 NVIDIA A100 GPUs.")
    assert not states(gpus, "It reaches 57.4% on SWE-bench with two models.")  # numbers, but of something else
    assert not states(gpus, "The model runs on 4timesRTX 3090 (24G) or 8timesRTX 2080 Ti (11G) GPUs for inference.")
    params = asked_fact("How many parameters does the model have?")
    assert states(params, "We train models from 7B to 34B.") and not states(params, "It beats GPT-4 on MMLU.")
    samples = asked_fact("How many samples does DevEval contain?")
    assert states(samples, "DevEval contains 2,690 examples from 119 projects.")  # a unit of the same kind


def test_hardware_organisations_and_licences_are_recognised():
    hw = asked_fact("Which GPUs was it trained on?")
    assert states(hw, "It can be trained with only eight RTX 3090.") and not states(hw, "We evaluate at 180 GPUs.")
    org = asked_fact("Which company ran the online experiments?")
    assert states(org, "We show results on Rufus -- Amazon's shopping assistant.")
    assert not states(org, "Online experiments show gains.")
    lic = asked_fact("Under which licence is the code released?")
    assert states(lic, "Code is released under the Apache 2.0 license.") and not states(lic, "The code is public.")


def test_a_name_the_abstract_lacks_means_the_fact_asked_is_not_its_own():
    # "its accuracy on ImageNet" asked of a paper that reports CIFAR-10 only
    assert subject_lacks(["TypiClust", "ImageNet"], "Active Learning on a Budget",
                         "TypiClust reaches 93.2% accuracy on CIFAR-10.") == ["ImageNet"]


@pytest.fixture(scope="module")
def offline(full_settings, retriever):
    return Answerer(full_settings.replace(llm="extractive"), retriever=retriever)


def test_a_stated_fact_is_in_the_answer(offline):
    a = offline.ask("How many GPUs does training the Hummingbird text-to-video model need?")
    assert not a.abstained and not a.not_stated and not a.caveats
    assert a.citations[0].title == HUMMINGBIRD and "four GPUs" in a.text


def test_a_fact_the_abstract_does_not_state_is_said_and_the_paper_still_shown(offline):
    a = offline.ask("How many GPUs were used to train StructLM?")
    assert not a.abstained and a.citations[0].title == STRUCTLM
    assert a.not_stated and "How many GPUs" in a.not_stated
    assert a.caveats == [f"The abstract of “{STRUCTLM}” does not state {a.not_stated}; the sentences below are what "
                         "it does say."]
    assert a.to_dict()["not_stated"] == a.not_stated
    shown = messages([a])[1]["content"]  # the app: a line above the answer
    assert shown.startswith("> ⚠ The abstract of") and shown.index("does not state") < shown.index("[1]")


def test_the_check_is_off_with_the_coverage_check(full_settings, retriever):
    a = Answerer(full_settings.replace(llm="extractive", coverage_check=False), retriever=retriever).ask(
        "How many GPUs were used to train StructLM?")
    assert not a.not_stated and not a.caveats


def _llm(full_settings, retriever, reply):
    return Answerer(full_settings, retriever=retriever, llm=LLM(full_settings, client=ScriptedClient([reply])))


def test_llm_sentences_whose_numbers_or_hardware_the_abstract_lacks_are_flagged(full_settings, retriever):
    q = "How many GPUs does training the Hummingbird text-to-video model need?"
    a = _llm(full_settings, retriever, "Hummingbird trains on 8 A100 GPUs [1]. Its U-Net shrinks to 0.7 billion "
             "parameters [1].").ask(q, mode="llm")
    assert a.sources[0].title == HUMMINGBIRD
    facts = [f for f in a.flags if f.reason == "fact"]
    assert len(facts) == 1 and facts[0].detail == "8, A100" and facts[0].citations == [1]
    assert "1 sentence with a number or hardware the cited abstract does not state" in render.flag_note(a)
    ok = _llm(full_settings, retriever, "Training needs only 4 GPUs [1].").ask(q, mode="llm")
    assert not [f for f in ok.flags if f.reason == "fact"]  # "four" in the abstract is the same number


def test_numbers_compare_by_value():
    assert {2690.0, 1.69e6, 57.4, 4.0} <= values("2,690 samples, 1.69M test items, 57.4% of issues, four GPUs")
    assert missing_facts("It has 1.69 million samples and 2690 tasks [1].", "1.69M samples; 2,690 tasks") == []
    assert missing_facts("It reaches 91% [1].", "It reaches 93.2%.") == ["91%"]
    assert missing_facts("It beats GPT-4 at batch 32868 [1].", "no numbers", question="at the 32868 batch size") == []


def _row(**kw):
    row = {"citation_valid": True, "answerable": False, "abstained": False, "evidence": {}, "group":
           "unanswerable (near miss)", "type": "unanswerable", "said_not_stated": False}
    return {**row, **kw}


def test_the_eval_passes_a_near_miss_that_says_not_stated_and_fails_a_fact_twin_that_does():
    assert verdict(_row(said_not_stated=True)) == (True, "said the abstract does not state it")
    assert verdict(_row())[0] is False
    twin = _row(answerable=True, type="fact", group="fact", first_rank=1, citation_recall=1.0, said_not_stated=True)
    assert verdict(twin) == (False, "said the abstract does not state a fact it states")
    assert verdict({**twin, "said_not_stated": False})[0] is True


def test_flags_render_their_missing_facts():
    a = Answer("q", "It uses 8 GPUs [1].", "llm", flags=[Flag("It uses 8 GPUs [1].", [1], "fact", 0.9, "8")])
    assert "States 8, which this abstract does not" in render._flag_html(a.flags[0])


def test_list_marks_are_not_facts():
    assert missing_facts("1. The authors serve adapters [1].", "no numbers here") == []
    assert missing_facts("It (2) batches 8 requests [1].", "no numbers here") == ["8"]


def test_check_picks_the_stating_sentence_already_in_the_answer():
    from rag.answer.facts import check

    abstract = "We train on 8 GPUs. The model is small. Later runs used 16 GPUs."
    assert check("How many GPUs were used?", "T", abstract, []).stating == (0, "We train on 8 GPUs.")
    assert check("How many GPUs were used?", "T", abstract, [], preferred={2}).stating == (2, "Later runs used 16 GPUs.")
    assert check("How many GPUs were used for ZorbNet?", "T", abstract, ["ZorbNet"]).stating is None  # not its fact
    assert check("How does it work?", "T", abstract, []).ask is None
