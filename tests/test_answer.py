"""Cited answers (rag/answer/answerer.py) on the shared real index of the seeds.

Offline (extractive) answers run for real. The LLM mode talks to `ScriptedClient` (testing/fakes.py), a
scripted model behind the real openai client interface, because no LLM server can run here.
"""

from __future__ import annotations

import re

import pytest

from testing.seeds import make_settings
from testing.fakes import Reply, ScriptedClient, connection_error, not_found_error, rate_limit_error, timeout_error
from rag.answer.answerer import Answerer
from rag.text.cites import CITE_MARK, cited_numbers
from rag.text.sentences import split_sentences
from rag.errors import RagError
from rag.answer.extractive import third_person
from rag.llm.client import LLM, LLMError
from rag.answer.prompt import ABSTAIN_PHRASE
from rag.text.llm_tokens import count_tokens
from rag.types import Answer, Usage

VLLM_TITLE = "Efficient Memory Management for Large Language Model Serving with PagedAttention"
VLLM_Q = "How does vLLM use PagedAttention to reduce KV cache memory waste?"
VATTN_TITLE = "vAttention: Dynamic Memory Management for Serving LLMs without PagedAttention"
VATTN_Q = "What does vAttention do for dynamic KV-cache memory management?"
BANANA_Q = "What is the best banana bread recipe?"
# A sentence of the vLLM abstract, as a model would restate it.
VLLM_CLAIM = ("vLLM achieves near-zero waste in KV cache memory and flexible sharing of KV cache within "
              "and across requests")


@pytest.fixture(scope="module")
def offline(full_settings, retriever) -> Answerer:
    """The extractive answerer (RAG_LLM=extractive) on the shared index."""
    return Answerer(make_settings(full_settings.home, llm="extractive"), retriever=retriever)


@pytest.fixture(scope="module")
def vllm_answer(offline) -> Answer:
    return offline.ask(VLLM_Q)


@pytest.fixture
def scripted(full_settings, retriever):
    """scripted(*replies) -> (Answerer in LLM mode, the ScriptedClient it talks to)."""

    def make(*replies, **overrides):
        settings = make_settings(full_settings.home, **overrides) if overrides else full_settings
        client = ScriptedClient(list(replies))
        return Answerer(settings, retriever=retriever, llm=LLM(settings, client=client)), client

    return make


def collect(stream) -> tuple[list[str], Answer]:
    items = list(stream)
    *pieces, final = items
    assert all(isinstance(p, str) for p in pieces) and isinstance(final, Answer)
    return pieces, final


def chat_tokens(messages) -> int:
    return sum(count_tokens(m["content"]) + 4 for m in messages) + 3


def assert_citations_match_text(answer: Answer) -> None:
    """Only [n] of shown sources in the text; citations = what the text cites, in order of first use."""
    by_n = {s.n: s for s in answer.sources}
    nums = cited_numbers(answer.text)
    assert set(nums) <= set(by_n)
    assert [c.n for c in answer.citations] == nums
    assert [c.paper_id for c in answer.citations] == [by_n[n].paper_id for n in nums]
    assert [c.title for c in answer.citations] == [by_n[n].title for n in nums]
    assert {s.n for s in answer.sources if s.cited} == set(nums)
    leftovers = re.sub(CITE_MARK, "", answer.text)
    assert not re.search(r"\[\s*(?:\^|source|\d)", leftovers, re.IGNORECASE), answer.text


# --------------------------------------------------------------------------- offline answers

def test_offline_answer_about_one_paper(offline, vllm_answer):
    a = vllm_answer
    assert offline.default_mode() == "extractive"
    assert a.mode == "extractive" and not a.abstained and a.model is None
    assert a.question == VLLM_Q and a.search_query == VLLM_Q
    assert a.citations and a.citations[0].title == VLLM_TITLE and a.citations[0].n == 1
    assert a.sources[0].title == VLLM_TITLE
    assert 1 <= len(a.sources) <= offline.settings.answer_k
    assert [s.n for s in a.sources] == list(range(1, len(a.sources) + 1))
    assert_citations_match_text(a)
    assert a.flags == [] and a.removed_citations == 0 and a.nearest == []
    assert a.papers_searched == 615


def test_offline_sentences_are_sentences_of_the_cited_abstracts(vllm_answer):
    a = vllm_answer
    by_n = {s.n: s for s in a.sources}
    checked = 0
    for paragraph in a.text.split("\n\n"):
        (n,) = set(cited_numbers(paragraph))  # one paper per paragraph
        src = by_n[n]
        lead = f"{src.title} ({src.date}): " if src.date else f"{src.title}: "
        assert paragraph.startswith(lead), paragraph
        rewritten = {third_person(s) for s in split_sentences(src.text)}
        for sentence in split_sentences(paragraph[len(lead):]):
            assert cited_numbers(sentence) == [n] and sentence.endswith(f" [{n}]."), sentence
            body = sentence.replace(f" [{n}].", ".")
            assert body in rewritten, body
            assert not re.search(r"\b(?:we|our|ours|us)\b", body, re.IGNORECASE), body  # reported, not quoted
            assert src.supporting  # the validator found the abstract sentences that back it
            checked += 1
    assert checked >= 2


def test_offline_answers_are_deterministic(offline, vllm_answer):
    again = offline.ask(VLLM_Q)
    assert again.text == vllm_answer.text
    assert again.citations == vllm_answer.citations
    assert [s.paper_id for s in again.sources] == [s.paper_id for s in vllm_answer.sources]


def test_offline_stream_pieces_make_the_final_text(offline):
    pieces, final = collect(offline.stream(VLLM_Q))
    assert len(pieces) >= 2  # paragraph by paragraph, not one blob at the end
    assert "".join(pieces) == final.text and not final.abstained
    assert_citations_match_text(final)


def test_timings_and_usage_offline(vllm_answer):
    t = vllm_answer.timings_ms
    assert {"retrieve", "generate", "total"} <= set(t)
    assert all(t[k] >= 0 for k in ("retrieve", "generate", "total"))
    assert t["total"] >= max(t["retrieve"], t["generate"])
    assert vllm_answer.usage == Usage(0, 0, "none")


def test_k_limits_the_sources(offline):
    a = offline.ask(VLLM_Q, k=2)
    assert len(a.sources) == 2 and set(cited_numbers(a.text)) <= {1, 2}


# --------------------------------------------------------------------------- abstention and bad input

def test_out_of_domain_question_abstains(offline, corpus):
    pieces, a = collect(offline.stream(BANANA_Q))
    assert a.abstained and a.citations == [] and a.flags == []
    assert a.papers_searched == len(corpus.papers) == 615
    assert "615 papers" in a.text
    assert 1 <= len(a.nearest) <= 5
    for c in a.nearest:
        assert f"- {c.title}" in a.text
    assert cited_numbers(a.text) == []
    assert "".join(pieces) == a.text


def test_abstention_does_not_call_the_llm(scripted):
    answerer, client = scripted("this reply must never be used [1].")
    a = answerer.ask(BANANA_Q)
    assert a.abstained and a.mode == "llm" and a.nearest
    assert client.calls == []
    assert a.usage.total_tokens == 0


@pytest.mark.parametrize("question, words", [
    ("", "empty"),
    ("   \n\t  ", "empty"),
    ("\x00\u200b\u202e", "only control or invisible characters"),
])
def test_bad_questions_raise(offline, question, words):
    with pytest.raises(RagError) as err:
        offline.ask(question)
    assert words in err.value.message and err.value.hint


def test_unknown_mode_raises(offline):
    with pytest.raises(RagError) as err:
        offline.ask(VLLM_Q, mode="magic")
    assert "magic" in err.value.message and "extractive" in err.value.hint


# --------------------------------------------------------------------------- LLM mode (scripted model)

def test_llm_invented_citation_is_removed(scripted, full_settings):
    answerer, client = scripted(Reply(f"{VLLM_CLAIM} [1]. It improves throughput by 2-4 times over Orca [9].",
                                      usage=(1500, 30)))
    pieces, a = collect(answerer.stream(VLLM_Q))
    assert a.mode == "llm" and a.model == full_settings.llm_model and not a.abstained
    assert "[9]" not in a.text and "9" not in "".join(pieces)
    assert a.text == f"{VLLM_CLAIM} [1]. It improves throughput by 2-4 times over Orca."
    assert "".join(pieces) == a.text
    assert a.removed_citations == 1
    assert [(c.n, c.title) for c in a.citations] == [(1, VLLM_TITLE)]
    # the claim [1] makes is in the vLLM abstract; the one whose only citation was invented now cites nothing
    assert [(f.reason, f.sentence) for f in a.flags] == [("uncited", "It improves throughput by 2-4 times over Orca.")]
    assert a.sources[0].cited and not any(s.cited for s in a.sources[1:])
    assert any("near-zero waste in KV cache memory" in s for s in a.sources[0].supporting)
    assert "first_token" in a.timings_ms and {"retrieve", "generate", "total"} <= set(a.timings_ms)


def test_llm_odd_citation_formats_are_normalised(scripted):
    answerer, _ = scripted(f"{VLLM_CLAIM} [Source 1]. Both systems page memory 【1, 2】.")
    a = answerer.ask(VLLM_Q)
    assert a.text == f"{VLLM_CLAIM} [1]. Both systems page memory [1][2]."
    assert [c.n for c in a.citations] == [1, 2] and a.removed_citations == 0


def test_llm_reply_without_citations_is_flagged(scripted):
    reply = "PagedAttention stores the KV cache in fixed-size blocks. vLLM achieves near-zero waste in KV cache memory."
    answerer, _ = scripted(reply)
    a = answerer.ask(VLLM_Q)
    assert a.text == reply and a.citations == [] and not a.abstained
    assert [f.reason for f in a.flags] == ["uncited", "uncited"]
    assert [f.sentence for f in a.flags] == split_sentences(reply)
    assert all(f.citations == [] for f in a.flags)


def test_llm_question_back_is_not_an_uncited_claim(scripted):
    answerer, _ = scripted(f"{VLLM_CLAIM} [1]. Do you mean the memory used by the key-value cache of each request?")
    assert answerer.ask(VLLM_Q).flags == []


def test_llm_miscited_sentence_is_flagged_unsupported(scripted):
    answerer, _ = scripted(f"{VLLM_CLAIM} [1]. Bananas ripen faster when stored next to apples in a paper bag [1].")
    a = answerer.ask(VLLM_Q)
    assert [(f.reason, f.citations) for f in a.flags] == [("unsupported", [1])]
    assert a.flags[0].sentence.startswith("Bananas ripen") and a.flags[0].support < 0.5
    assert [c.n for c in a.citations] == [1]  # still listed: the text cites it


def test_llm_abstain_phrase_abstains_with_nearest_papers(scripted):
    answerer, client = scripted(ABSTAIN_PHRASE)
    pieces, a = collect(answerer.stream(VLLM_Q))
    assert len(client.calls) == 1
    assert a.abstained and a.citations == [] and a.flags == []
    assert a.nearest and a.nearest[0].title == VLLM_TITLE
    assert a.text.startswith("The corpus does not contain an answer") and "615 papers" in a.text
    assert "".join(pieces) == ABSTAIN_PHRASE  # streamed as the model wrote it; the final text expands it
    assert a.usage.counted_by == "tiktoken" and a.usage.completion_tokens == count_tokens(ABSTAIN_PHRASE)


def test_llm_hedge_that_cites_is_an_answer_not_an_abstention(scripted):
    hedge = f"{ABSTAIN_PHRASE[:-1]} directly, but {VLLM_CLAIM} [1]."
    answerer, _ = scripted(hedge)
    a = answerer.ask(VLLM_Q)
    assert not a.abstained
    assert [c.title for c in a.citations] == [VLLM_TITLE]


def test_llm_empty_reply_is_a_clear_error(scripted):
    answerer, _ = scripted("   ")
    with pytest.raises(LLMError, match="empty answer") as err:
        answerer.ask(VLLM_Q)
    assert "--offline" in err.value.hint


def test_llm_usage_reported_by_the_server(scripted):
    answerer, _ = scripted(Reply(f"{VLLM_CLAIM} [1].", usage=(1234, 56)))
    a = answerer.ask(VLLM_Q)
    assert a.usage == Usage(1234, 56, "server") and a.usage.total_tokens == 1290
    assert a.to_dict()["usage"] == {"prompt_tokens": 1234, "completion_tokens": 56, "counted_by": "server",
                                    "total_tokens": 1290}


def test_llm_usage_counted_with_tiktoken_when_the_server_sends_none(scripted):
    reply = f"{VLLM_CLAIM} [1]."
    answerer, client = scripted(Reply(reply, usage=None))
    a = answerer.ask(VLLM_Q)
    assert a.usage.counted_by == "tiktoken"
    assert a.usage.completion_tokens == count_tokens(reply) > 0
    assert a.usage.prompt_tokens == chat_tokens(client.messages[0]) > 1000  # five abstracts and the rules


def test_llm_stream_equals_final_text(scripted):
    reply = f"{VLLM_CLAIM} [1, 2]. vAttention keeps the cache contiguous (source 2). It is fast [7]."
    for chunk_chars in (1, 3, 7, 50):
        answerer, _ = scripted(Reply(reply, chunk_chars=chunk_chars))
        pieces, a = collect(answerer.stream(VLLM_Q))
        assert "".join(pieces) == a.text
        assert a.text == f"{VLLM_CLAIM} [1][2]. vAttention keeps the cache contiguous [2]. It is fast."
        assert a.removed_citations == 1


def test_llm_prompt_has_numbered_sources_and_the_question(scripted, full_settings):
    answerer, client = scripted(f"{VLLM_CLAIM} [1].")
    a = answerer.ask(VLLM_Q)
    (call,) = client.calls
    assert call["stream"] is True and call["stream_options"] == {"include_usage": True}
    assert call["model"] == full_settings.llm_model and call["max_tokens"] == full_settings.llm_max_tokens
    system, user = call["messages"]
    assert system["role"] == "system" and ABSTAIN_PHRASE in system["content"]
    assert re.findall(r'<source n="(\d+)"', user["content"]) == [str(s.n) for s in a.sources]
    # the papers that name vLLM, what the question asks about (at most answer_k)
    assert user["content"].count("</source>") == len(a.sources) and 2 <= len(a.sources) <= full_settings.answer_k
    for s in a.sources:
        assert s.title in user["content"] and s.text in user["content"]
    assert f"Question: {VLLM_Q}" in user["content"]


def test_llm_sources_cut_to_a_small_context_window(scripted):
    answerer, client = scripted(f"{VLLM_CLAIM} [1]. Cited beyond what was shown [5].", llm_context_window=1024,
                                llm_max_tokens=256, answer_k=5)
    a = answerer.ask(VLLM_Q)
    assert chat_tokens(client.messages[0]) + 256 <= 1024
    assert len(a.sources) < 5 and a.sources[-1].truncated
    assert [c.n for c in a.citations] == [1] and a.removed_citations == 1  # [5] was not shown to the model


@pytest.mark.parametrize("error, says", [
    (timeout_error(), "did not answer within"),
    (connection_error(), "cannot reach"),
    (not_found_error(), "no model"),
    (rate_limit_error(), "rate-limiting"),
])
def test_llm_errors_become_llm_errors_with_the_offline_fallback(scripted, full_settings, error, says):
    answerer, _ = scripted(error)
    with pytest.raises(LLMError) as err:
        answerer.ask(VLLM_Q)
    assert isinstance(err.value, RagError)
    assert says in err.value.message
    assert "--offline" in err.value.hint
    assert "\n" not in err.value.message and "Traceback" not in str(err.value)
    if says == "no model":
        assert full_settings.llm_model in err.value.message


def test_llm_stream_that_dies_mid_way(scripted):
    reply = f"{VLLM_CLAIM} [1]. More text that never arrives [2]."
    answerer, _ = scripted(Reply(reply, chunk_chars=5, fail_after=6))
    pieces = []
    with pytest.raises(LLMError) as err:
        for item in answerer.stream(VLLM_Q):
            pieces.append(item)
    assert "broke off" in err.value.message and "cannot reach" in err.value.message
    assert "--offline" in err.value.hint and "incomplete" in err.value.hint
    assert pieces and all(isinstance(p, str) for p in pieces)
    assert reply.startswith("".join(pieces)) and "".join(pieces)  # what was shown is the start of the reply


def test_llm_stream_that_dies_before_any_text_is_a_plain_error(scripted):
    answerer, _ = scripted(Reply(f"{VLLM_CLAIM} [1].", fail_after=0, error=timeout_error()))
    with pytest.raises(LLMError) as err:
        answerer.ask(VLLM_Q)
    assert "broke off" not in err.value.message and "did not answer within" in err.value.message


def test_llm_reply_without_text_is_an_error(full_settings):
    from openai.types.chat import ChatCompletion

    class NoText(ScriptedClient):
        def _create(self, **kwargs):
            self.calls.append(kwargs)
            return ChatCompletion(id="x", object="chat.completion", created=0, model="m", choices=[])

    with pytest.raises(LLMError) as err:
        LLM(full_settings, client=NoText()).complete([{"role": "user", "content": "hi"}])
    assert "without text" in err.value.message and "--offline" in err.value.hint


# --------------------------------------------------------------------------- follow-ups

@pytest.mark.parametrize("question", ["What about [2]?", "Tell me more about the second paper.",
                                      "What does source 2 say about memory?"])
def test_offline_followup_by_number(offline, vllm_answer, question):
    first = vllm_answer
    assert len(first.citations) >= 2
    second_paper = first.citations[1]
    a = offline.ask(question, history=[first])
    assert not a.abstained
    assert a.sources[0].paper_id == second_paper.paper_id and a.sources[0].title == second_paper.title
    assert second_paper.paper_id in {c.paper_id for c in a.citations}
    assert second_paper.title in a.search_query
    assert_citations_match_text(a)


def test_offline_followup_by_pronoun(offline):
    first = offline.ask(VATTN_Q)
    assert [c.title for c in first.citations] == [VATTN_TITLE]  # a single-paper answer
    a = offline.ask("How much faster is it?", history=[first])
    assert not a.abstained
    assert a.sources[0].title == VATTN_TITLE
    assert [c.title for c in a.citations] == [VATTN_TITLE]  # answered from that paper only
    assert "faster" in a.text and "1.97x" in a.text
    assert VATTN_TITLE in a.search_query


def test_followup_accepts_turns_as_history(offline, vllm_answer):
    by_answer = offline.ask("What about [2]?", history=[vllm_answer])
    by_turn = offline.ask("What about [2]?", history=[vllm_answer.as_turn()])
    assert by_turn.text == by_answer.text and by_turn.citations == by_answer.citations


def test_llm_followup_condenses_first(scripted, offline):
    first = offline.ask(VATTN_Q)
    standalone = "How much faster is vAttention than vLLM at generating tokens?"
    answerer, client = scripted(
        Reply(f'  "{standalone}"\n', usage=(200, 12)),
        Reply("vAttention generates tokens up to 1.97x faster than vLLM [1].", usage=(1500, 20)),
    )
    a = answerer.ask("How much faster is it?", history=[first])
    condense, answer_call = client.calls
    assert condense["stream"] is False and answer_call["stream"] is True
    prompt = condense["messages"][-1]["content"]
    assert VATTN_Q in prompt and "How much faster is it?" in prompt and VATTN_TITLE in prompt
    assert first.text[:100] in prompt
    assert a.search_query == standalone  # the model's rewrite, without quotes or whitespace
    assert f"Question: {standalone}" in answer_call["messages"][-1]["content"]
    assert a.sources[0].title == VATTN_TITLE  # the paper "it" meant is carried over as source 1
    assert [c.title for c in a.citations] == [VATTN_TITLE] and a.flags == []
    assert a.usage == Usage(1700, 32, "server")  # condensing plus answering
    assert a.timings_ms["condense"] >= 0


def test_llm_condense_failure_raises(scripted, offline):
    first = offline.ask(VATTN_Q)
    answerer, _ = scripted(connection_error())
    with pytest.raises(LLMError) as err:
        answerer.ask("How much faster is it?", history=[first])
    assert "--offline" in err.value.hint


def test_llm_empty_condense_reply_falls_back_to_the_offline_query(scripted, offline):
    first = offline.ask(VATTN_Q)
    answerer, client = scripted("  \n", "vAttention generates tokens up to 1.97x faster than vLLM [1].")
    a = answerer.ask("How much faster is it?", history=[first])
    assert len(client.calls) == 2
    assert a.search_query == f"{VATTN_TITLE} How much faster is it?"
    assert a.sources[0].title == VATTN_TITLE



def test_supporting_sentences_are_text_of_the_abstract(offline):
    # the title is matched together with the abstract; it must not end up glued to a "supporting" sentence
    first = offline.ask("Which methods reduce KV-cache memory?")
    follow = offline.ask("what about [2]?", [first])
    for a in (first, follow):
        for src in a.sources:
            assert all(s and s in src.text for s in src.supporting), (src.title, src.supporting)
    assert follow.sources[0].supporting


@pytest.mark.parametrize(("question", "many"), [
    ("Which papers tackle serving thousands of LoRA adapters?", True),
    ("Compare the methods that compress the KV cache", True),
    ("What do the works on video diffusion report?", True),
    ("List approaches to speculative decoding, with their speedups", True),
    ("Which approaches speed up decoding with a draft model?", True),
    ("How do researchers run models larger than a phone's memory, and what speedups do they get?", True),
    ("What gains do recent papers report for cheaper video generators?", True),
    ("How do different systems schedule LLM inference requests?", True),
    ("What are the main ways to reduce hallucination in retrieval-augmented generation?", True),
    ("What has been tried to make LLM training cheaper on slow networks?", True),
    ("Summarize the research on mixture-of-experts scaling laws.", True),
    ("What solutions exist for serving many LoRA adapters?", True),
    ("Who has worked on large-batch training, and what batch sizes did they reach?", True),
    ("Are there papers that compress LoRA adapters for serving?", True),
    ("Is there any work on draft models for decoding?", True),
    ("What options exist for running LLMs on phones?", True),
    ("How do practitioners shrink the attention cache?", True),
    ("Some methods quantize the KV cache to 2 bits; what does each report?", True),
    ("Pruning the cache loses tokens. How does each keep the dropped ones?", True),
    ("What is known about scaling laws for mixture of experts?", True),
    ("What does the literature say about overthinking?", True),
    ("How does it compare with existing methods on GSM8K?", False),  # one paper's baselines
    ("How does each layer of the transformer attend to tokens?", False),  # parts of one model
    ("What does each expert learn in Mixtral?", False),
    ("Is there any improvement from LoRA on GSM8K?", False),
    ("What tricks does LAMB use for large batches?", False),
    ("Does it outperform existing methods?", False),
    ("How does it compare with Mamba on recall-heavy tasks?", False),
    ("Which two techniques cut the data transferred?", False),
    ("Which specific GPU models made up the cluster?", False),
    ("What model FLOPs utilization was reached on 12,288 GPUs, and how does each fault get handled?", False),
    # the ways people ask for several papers that the first patterns missed (rag/answer/many.py)
    ("Give me an overview of approaches to pruning attention heads.", True),
    ("Sparse fine-tuning methods: overview?", True),
    ("What are the options for running a 70B model on one consumer GPU?", True),
    ("Who has looked at data contamination in math benchmarks?", True),
    ("What do different labs report for 2-bit weight quantization?", True),
    ("How are various teams handling stragglers in data-parallel training?", True),
    ("Do studies agree on whether long-context models use their whole window?", True),
    ("state of the art in video generation distillation?", True),
    ("Round up recent work on tool-using agents.", True),
    ("Catalog the tricks for stable FP8 training.", True),
    ("Ways to shrink the optimizer state during pretraining?", True),
    ("Papers proposing learned routers for mixture-of-experts layers?", True),
    ("What accuracy do 3-bit KV cache schemes keep on long documents?", True),
    ("How do sparse attention methods cut memory?", True),
    ("What's been published on speculative decoding for code?", True),
    ("What speedups have been reported for paged attention?", True),
    ("Across papers, what throughput gains are claimed for continuous batching?", True),
    ("I'm writing a related-work section on KV cache eviction. What should I cite?", True),
    ("Is there a body of work on draft trees? Summarize each paper.", True),
    ("What directions are being explored for cheaper diffusion sampling?", True),
    ("Which techniques does FlashAttention combine to cut memory traffic?", False),  # one system's parts
    ("Give me an overview of how S-LoRA pages adapter weights.", False),
    ("What options does the vLLM scheduler expose?", False),
    ("How does StreamingLLM compare to prior work on sliding windows?", False),  # one paper and its baseline
    ("In papers from May to June 2024, which planner cuts token use with a tree of actions?", False),  # a date
    ("How do the Marlin kernels keep 4-bit inference fast at large batch sizes?", False),  # one system's kernels
])
def test_a_question_about_several_papers_is_told_apart(question, many):
    from rag.answer.many import asks_many

    assert asks_many(question) is many


def test_a_question_about_several_papers_gets_each_of_them(offline):
    """'Which papers ...': every paper close to the top one has its own cited paragraph of at most two
    sentences, instead of the top paper's story and one line of the others."""
    a = offline.ask("Which papers tackle serving thousands of LoRA adapters that share one base model?")
    titles = {c.title for c in a.citations}
    assert {"S-LoRA: Serving Thousands of Concurrent LoRA Adapters",
            "Compress then Serve: Serving Thousands of LoRA Adapters with Little Overhead"} <= titles
    for para in a.text.split("\n\n"):
        assert len(split_sentences(para.split(": ", 1)[1])) <= 2, para
        assert len(set(cited_numbers(para))) == 1  # one paper a paragraph


def test_each_of_several_papers_says_what_it_proposes_then_what_it_reports(offline):
    """Two sentences a paper: its contribution ("they present S-LoRA ..."), then its measures ("up to 4 times"),
    not the abstract's opening that restates the question's topic ("Low-Rank Adaptation (LoRA), a ... method, is
    often employed ..."), even when the question does not ask for numbers."""
    a = offline.ask("Which papers tackle serving thousands of LoRA adapters that share one base model?")
    s_lora = next(p for p in a.text.split("\n\n") if p.startswith("S-LoRA"))
    first, second = split_sentences(s_lora.split(": ", 2)[-1])
    assert "they present S-LoRA" in first and "4 times" in second
    assert "often employed" not in s_lora


def test_asked_what_several_papers_report_each_gives_its_numbers(offline):
    """A question about several papers that asks what they report: each paper's second sentence is the one with
    its measures (S-LoRA's "up to 4 times"), not only its best-matching one."""
    a = offline.ask("Which papers tackle serving thousands of LoRA adapters, and what throughput gains do they report?")
    s_lora = next(p for p in a.text.split("\n\n") if p.startswith("S-LoRA"))
    assert "4 times" in s_lora and len(split_sentences(s_lora.split(": ", 2)[-1])) <= 2
