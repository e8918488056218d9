"""Does the corpus hold what a question names? Names found in questions, looked up by surface form, and what the
answer does with them (rag/text/names.py, rag/answer/coverage.py): a name no paper mentions is said and abstained
on, before any LLM call; a name only mentioned in passing is said; a name the search missed is searched again."""

from __future__ import annotations

import pytest

from rag import Answerer, ingest
from rag.llm.client import LLM
from rag.store.surface import SurfaceIndex
from rag.text.names import question_names, surface_key
from testing.fakes import ScriptedClient
from testing.seeds import abstract_for, make_settings, small_seeds, write_seed

MAMBAMIXER = "MambaMixer: Efficient Selective State Space Models with Dual Token and Channel Selection"


@pytest.mark.parametrize("question, names", [
    ("How does LongRoPE extend the context window beyond 2 million tokens?", ["LongRoPE"]),
    ("What does Constitutional AI use instead of human preference labels?", ["Constitutional AI"]),
    ("Is Llama 3.1 better than GPT-4o on MMLU?", ["Llama 3.1", "GPT-4o", "MMLU"]),
    ("What is Segment Anything trained on?", ["Segment Anything"]),
    ("How does Phi-4 compare with Mistral 7B?", ["Phi-4", "Mistral 7B"]),
    ("How does DeepSpeed MoE cut inference cost?", ["DeepSpeed MoE"]),
    ('Which paper uses "flash attention" for long inputs?', ["flash attention"]),
    ("Do o1-style models overthink simple sums?", ["o1"]),  # "-style" is not part of the name
    ("How does Tree of Thoughts search over reasoning paths?", ["Tree of Thoughts"]),  # joined by "of"
    # no name: generic acronyms, sentence-initial words, sizes, months, generic words made adjectives
    ("How can an LLM keep GPU memory low when serving many requests?", []),
    ("Which paper from January 2024 trains a 7B model?", []),
    ("Is there a benchmark where an LLM-simulated customer talks to an agent?", []),
    # apostrophes quote nothing (this question was abstained on: "No paper mentions s or edge box"); quotes do
    ("How do LLMs exceed a phone's or edge box's DRAM?", []),
    ("What does the 'Lion' optimizer change, and does ‘Tree of Thoughts’ need it?", ["Lion", "Tree of Thoughts"]),
])
def test_names_in_questions(question, names):
    assert [n.text for n in question_names(question)] == names


def test_surface_forms_fold_case_hyphens_spaces_and_plurals():
    idx = SurfaceIndex(["We use Flash-Attention with RoPE in Europe.", "Llama-3.1 beats GPT-4o; LoRAs help."])
    assert idx.find(surface_key("FlashAttention")) == {0: 1} == idx.find(surface_key("flash attention"))
    assert idx.find(surface_key("Llama 3.1")) == {1: 1}
    assert idx.find(surface_key("LoRA")) == {1: 1}  # the plural counts
    assert idx.find(surface_key("RoPE")) == {0: 1}  # and "Europe" does not: matches start and end at word edges
    assert idx.find(surface_key("rop")) == {} and idx.find(surface_key("Llama 3.2")) == {}


@pytest.fixture(scope="module")
def offline(full_settings, retriever):
    return Answerer(full_settings.replace(llm="extractive"), retriever=retriever)


def test_a_name_no_paper_mentions_is_said_and_abstained_on(offline):
    a = offline.ask("How does LongRoPE extend the context window of LLMs beyond 2 million tokens?")
    assert a.abstained and a.missing_terms == ["LongRoPE"] and not a.citations
    assert a.text.startswith("No paper in the corpus mentions LongRoPE.") and a.nearest
    assert a.to_dict()["missing_terms"] == ["LongRoPE"]


@pytest.mark.parametrize("question", ["How does MambaMixer's dual selection work?",
                                      "How does Mamba Mixer select tokens and channels?",  # another spelling
                                      "How do MambaMixers mix tokens?"])  # plural
def test_a_name_a_paper_is_about_is_answered_from_it(offline, question):
    a = offline.ask(question)
    assert not a.abstained and not a.missing_terms and not a.passing_terms
    assert a.citations[0].title == MAMBAMIXER


def test_a_partly_covered_question_is_answered_and_says_what_is_missing(offline):
    a = offline.ask("How does MambaMixer compare with LongRoPE?")
    assert not a.abstained and a.missing_terms == ["LongRoPE"] and a.citations[0].title == MAMBAMIXER
    assert any("No paper in the corpus mentions LongRoPE" in n for n in a.caveats)


def test_a_name_only_mentioned_in_passing_is_said(offline):
    a = offline.ask("How does DPO align a language model without a reward model?")
    assert not a.abstained and a.passing_terms == ["DPO"] and a.citations
    assert any("No paper in the corpus is about DPO" in n for n in a.caveats)


def test_the_llm_is_not_called_when_no_paper_mentions_the_name(full_settings, retriever):
    client = ScriptedClient([])  # any call fails the test: no reply is scripted
    answerer = Answerer(full_settings, retriever=retriever, llm=LLM(full_settings, client=client))
    a = answerer.ask("What does Constitutional AI use instead of human preference labels?", mode="llm")
    assert a.abstained and a.missing_terms == ["Constitutional AI"] and client.calls == []


@pytest.fixture(scope="module")
def zorb(tmp_path_factory):
    """The small corpus plus a paper about ZorbNet whose words match nothing else asked below."""
    root = tmp_path_factory.mktemp("zorb")
    seeds = small_seeds(root / "seeds")
    write_seed(seeds, "z.txt", [{"title": "ZorbNet: Compact Lattice Codes for Satellite Links",
                                 "abstract": abstract_for("lattice codes for satellite links")}])
    settings = make_settings(root / "home", seeds=seeds, llm="extractive")
    ingest(settings)
    return Answerer(settings)


def test_a_named_paper_the_search_missed_is_searched_again_with_the_name(zorb):
    question = "How fast do zebrafish fins regenerate according to ZorbNet?"
    searched = zorb.retriever.search(question, k=1)
    assert searched[0].title == "Zebrafish Fin Regeneration Atlas"  # the words win the plain search ...
    a = zorb.ask(question, k=1)
    assert a.sources[0].title.startswith("ZorbNet")  # ... the name brings its paper back, first


def test_a_question_that_names_nothing_is_never_searched_again(zorb):
    question = "How fast do zebrafish fins regenerate?"
    a = zorb.ask(question, k=2)
    assert [s.paper_id for s in a.sources] == [h.paper_id for h in zorb.retriever.search(question, k=2)]
    assert not a.missing_terms and not a.passing_terms


def test_the_check_can_be_switched_off(full_settings, retriever):
    answerer = Answerer(full_settings.replace(llm="extractive", coverage_check=False), retriever=retriever)
    a = answerer.ask("How does LongRoPE extend the context window of LLMs beyond 2 million tokens?")
    assert not a.missing_terms and not a.text.startswith("No paper in the corpus mentions")


def test_products_named_as_the_setting_alone_do_not_make_a_question_absent():
    from rag.answer.coverage import check

    nowhere = lambda key: {}  # noqa: E731  the corpus mentions nothing asked
    assert not check("Which benchmark tests assistants driving iPhone and Mac actions?", nowhere).subject_missing
    assert check("How does LongRoPE run on an iPhone?", nowhere).subject_missing  # a method is asked about
    assert check("How does LongRoPE run on an iPhone?", nowhere).missing == ["LongRoPE", "iPhone"]


def test_a_missing_subject_beside_names_only_mentioned_in_passing_is_abstained_on(offline):
    a = offline.ask("How does YaRN extend the RoPE context window?")  # no paper mentions YaRN; RoPE only in passing
    assert a.abstained and a.missing_terms == ["YaRN"] and not a.citations
    assert a.text.startswith("No paper in the corpus mentions YaRN. No paper is about RoPE either")


def test_a_missing_name_late_in_a_question_that_describes_a_paper_is_not_its_subject():
    from rag.answer.coverage import check

    passing = {"diskann": {"p1": (1, False)}}
    mentions = lambda key: passing.get(key, {})  # noqa: E731
    described = check("Which hybrid vector index keeps centroids in memory and beats DiskANN on ZorbBench?", mentions)
    assert described.missing == ["ZorbBench"] and not described.subject_missing
    assert check("How does ZorbNet beat DiskANN?", mentions).subject_missing  # asked about first: the subject


def test_names_typed_in_lower_case_are_the_corpus_names_they_spell():
    from rag.text.names import lowercase_names

    corpus = {("ring", "attention"): ["RingAttention", "Ring-Attention"], ("gptq",): ["GPTQ"],
              ("adam",): ["Adam"], ("clip",): ["CLIP", "clip"], ("cap",): ["CAP"], ("top", "1"): ["Top-1"]}
    spellings = lambda words: corpus.get(tuple(words), [])  # noqa: E731
    assert [n.text for n in lowercase_names("how does ring attention compare with gptq?", spellings)] == [
        "ring attention", "gptq"]
    # only capitalised ("Adam", "Top-1"), also written in lower case ("clip"), a three-letter acronym ("CAP"): words
    assert lowercase_names("does adam help to clip gradients under a cap for top-1 accuracy?", spellings) == []
    assert [n.text for n in lowercase_names("gptq or gptq?", spellings)] == ["gptq"]  # once


def test_a_lower_case_name_the_corpus_only_mentions_is_said(offline):
    a = offline.ask("how does ring attention handle million-token sequences?")
    assert a.passing_terms == ["ring attention"] and not a.abstained


def test_the_surface_index_finds_a_name_however_it_is_split_into_tokens():
    from rag.store.surface import SurfaceIndex

    idx = SurfaceIndex(["The KV cache, a KV-cache and KVCache.", "Europe ropes in RoPE", "ends with kv", "cache starts"])
    assert idx.find("kvcache") == {0: 3}
    assert idx.find("rope") == {1: 2}  # "ropes" (plural) and "RoPE", never inside "Europe"
    assert idx.find("kvcachestarts") == {}  # a name does not run from one text into the next
    assert idx.find("europe") == {1: 1} and idx.find("nowhere") == {} and idx.find("") == {}
    letters = SurfaceIndex([" ".join("abcdefghijklmnopqrstuvwxyz" * 3)])  # every split of a key into one letter
    assert letters.find("abcdefghijklmnopqrstuvwxyz") == {0: 3}


# ----------------------------------------------------------------- a question about a famous method itself


@pytest.mark.parametrize("question, asked", [
    ("What is DPO and how does it align language models?", "DPO"),
    ("How does the Adam optimizer adapt its step sizes?", "Adam"),
    ("What is the architecture of BERT?", "BERT"),
    ("In simple terms, what problem does FlashAttention solve?", "FlashAttention"),
    ("Who came up with RLHF?", "RLHF"),
    ("PPO's clipped objective, how does it work?", "PPO"),
    # a name that only sets the scene is not what is asked about
    ("What batch size could ResNet-50 reach on ImageNet?", None),
    ("How much faster is serving with Microsoft's system?", None),
    ("Which JAX toolkits train encoder-decoder models?", None),
])
def test_what_a_question_asks_about_itself(question, asked):
    from rag.answer.subject import asks_itself

    said = [n.text for n in question_names(question) if asks_itself(question, n)]
    assert said == ([asked] if asked else [])


@pytest.mark.parametrize("title, abstract, name, yes", [
    ("S-LoRA: Serving Thousands of Concurrent LoRA Adapters", "We present S-LoRA, a system.", "S-LoRA", True),
    ("S-LoRA: Serving Thousands of Concurrent LoRA Adapters", "We present S-LoRA, a system.", "LoRA", False),
    ("Mixtral of Experts", "A sparse model.", "Mixtral", True),  # the title's first words
    ("Large Batch Optimization for Deep Learning: Training BERT in 76 minutes",
     "We develop a new layerwise adaptive large batch optimization technique called LAMB.", "LAMB", True),
    ("Large Batch Optimization for Deep Learning: Training BERT in 76 minutes",
     "We develop a new layerwise adaptive large batch optimization technique called LAMB.", "BERT", False),
    ("ReMax", "We propose to replace PPO with REINFORCE.", "PPO", False),  # "propose to", not "propose PPO"
    ("LoRA-SP", "We propose LoRA-SP (Streamlined Partial Parameter Adaptation).", "LoRA", False),  # a longer name
    ("Some Study", "In this work we introduce a new benchmark, CodeHog, of 500 tasks.", "CodeHog", True),
    # a description between the verb and the name, or the name in brackets after it
    ("Graph Networks at Scale", "We develop a data-efficient Graph Convolutional Network (GCN) algorithm PinSage, "
     "which combines random walks and graph convolutions.", "PinSage", True),
    ("Snapshots", "We present the Snapshot Reinforcement Learning (SnapshotRL) framework.", "SnapshotRL", True),
    ("Thinking", "Bypassing the thinking process via prompting, denoted as NoThinking, is effective.", "NoThinking", True),
    # the clause ends before the name, the name ends a longer one, or it describes another name
    ("A Study", "We present a benchmark and evaluate GPT-4 on it.", "GPT-4", False),
    ("A Study", "We introduce a new benchmark to evaluate GPT-4.", "GPT-4", False),
    ("Reward", "We propose Reward-Guided Speculative Decoding, a framework.", "speculative decoding", False),
    ("Serving", "This paper presents MoE-Infinity, a cost-efficient mixture-of-expert (MoE) serving system.",
     "mixture of experts", False),
])
def test_a_paper_introduces_a_name_when_its_title_or_abstract_presents_it(title, abstract, name, yes):
    from rag.text.introduces import introduces

    assert introduces(title, abstract, surface_key(name)) is yes


def test_a_method_used_by_papers_that_do_not_introduce_it_is_said_and_only_they_are_cited(offline):
    # the corpus has papers that use BERT, and one names it in its title ("Training BERT in 76 minutes"), but none
    # introduces it: the answer says so and cites only papers that mention it
    a = offline.ask("What is the architecture of BERT?")
    assert not a.abstained and a.passing_terms == ["BERT"] and a.citations
    assert any("No paper in the corpus introduces BERT" in n for n in a.caveats)
    mentioning = offline.retriever.find("BERT", k=1).mentions(surface_key("BERT"))
    assert all(c.paper_id in mentioning for c in a.citations)


def test_a_method_a_paper_introduces_is_answered_from_it(offline):
    a = offline.ask("What is S-LoRA?")
    assert not a.passing_terms and a.citations[0].title.startswith("S-LoRA")
    # and from papers that name it: other LoRA papers the words brought up are not cited
    mentioning = offline.retriever.find("S-LoRA", k=1).mentions(surface_key("S-LoRA"))
    assert all(c.paper_id in mentioning for c in a.citations)


def test_a_question_about_a_method_no_paper_is_about_cites_the_papers_that_mention_it(offline):
    # Ring Attention: one paper mentions it; the nearest paper by words (sequence parallelism) does not
    a = offline.ask("How does Ring Attention pass key-value blocks between devices to handle very long sequences?")
    mentioning = offline.retriever.find("Ring Attention", k=1).mentions(surface_key("Ring Attention"))
    assert a.passing_terms == ["Ring Attention"] and a.citations
    assert all(c.paper_id in mentioning for c in a.citations)


def test_a_concept_asked_about_itself_by_the_corpus_term_is_a_name():
    from rag.answer.subject import concept_names

    concepts = frozenset({surface_key("speculative decoding"), surface_key("chain-of-thought")})
    assert [n.text for n in concept_names("Who came up with speculative decoding?", concepts)] == [
        "speculative decoding"]
    assert [n.text for n in concept_names("What's the idea behind chain of thought prompting?", concepts)] == [
        "chain of thought"]  # the corpus hyphenates it
    # named, but not asked about itself: the question asks for papers
    assert concept_names("Which papers speed up speculative decoding with trees?", concepts) == []


def test_a_concept_asked_about_beside_a_missing_name_does_not_keep_the_question_answered():
    from rag.answer.coverage import check

    has = {"speculativedecoding": {"p1": (5, True)}}
    cov = check("How does speculative decoding work in Medusa?", lambda key: has.get(key, {}),
                concepts=frozenset(has))
    assert cov.missing == ["Medusa"] and cov.subject_missing


def test_a_models_maker_is_not_what_is_asked_about():
    from rag.answer.coverage import check

    has = {"meta": {"p9": (4, True)}, "llama": {"p1": (4, False), "p2": (1, False)}}
    texts = {"p1": ("Some Study: On Llama", "We fine-tune LLaMA."), "p2": ("Other", "LLaMA is used."),
             "p9": ("Meta-Learning: A Survey", "We present a survey of meta-learning.")}
    cov = check("What is the architecture of Meta's LLaMA model?", lambda key: has.get(key, {}),
                paper_text=texts.get)
    assert cov.subject == "LLaMA" and cov.only_passing == ["LLaMA"] and cov.unintroduced == ["LLaMA"]


def test_the_llm_is_told_the_method_asked_about_is_only_used(full_settings, retriever):
    """A model asked about BERT from papers that use it would describe BERT from memory: it is told not to."""
    from rag.answer.prompt import only_mentioned_note

    client = ScriptedClient(["No paper here introduces BERT; one trains it with huge batches [1]."])
    answerer = Answerer(full_settings, retriever=retriever, llm=LLM(full_settings, client=client))
    a = answerer.ask("What is the architecture of BERT?", mode="llm")
    [messages] = client.messages
    assert only_mentioned_note(["BERT"]) in messages[-1]["content"] and a.passing_terms == ["BERT"]
    client.add("S-LoRA pages adapters [1].")
    answerer.ask("What is S-LoRA?", mode="llm")  # its own paper is in the corpus: no such note
    assert "no source introduces" not in client.messages[-1][-1]["content"]


def test_a_method_compared_with_another_keeps_the_papers_that_name_either(offline):
    # FlashAttention is what is asked about; the paper that introduces PagedAttention does not name it
    a = offline.ask("How does FlashAttention compare with PagedAttention?")
    assert any("PagedAttention" in s.title for s in a.sources)
    named = offline.retriever.find("x", k=1)
    either = set(named.mentions(surface_key("FlashAttention"))) | set(named.mentions(surface_key("PagedAttention")))
    assert all(s.paper_id in either for s in a.sources)


@pytest.mark.parametrize("question, compared", [
    ("What's the difference between DPO and RLHF?", ["RLHF"]),
    ("How does FlashAttention compare with PagedAttention?", ["PagedAttention"]),
    ("PPO vs DPO vs ReMax: which is cheapest?", ["DPO", "ReMax"]),
    ("How does LAMB let BERT train with huge batches?", []),  # BERT is what LAMB is used on, not compared
])
def test_the_methods_a_question_compares_with_its_subject(question, compared):
    from rag.answer.subject import asks_itself, compared_with

    names = question_names(question)
    subject = next(n.text for n in names if asks_itself(question, n))
    assert compared_with(question, names, subject) == compared


def test_both_methods_of_a_comparison_are_held_to_a_paper_that_introduces_them(offline):
    a = offline.ask("What's the difference between DPO and RLHF?")
    assert set(a.passing_terms) == {"DPO", "RLHF"} and len(a.caveats) == 2
