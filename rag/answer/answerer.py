"""(question, history, filters) -> Answer with validated [n] citations, from an LLM or extractively offline.

One API for the CLI, the UI and the eval: `Answerer.ask()` returns an Answer; `Answerer.stream()`
yields text as it is produced and the final Answer last. Steps: resolve a follow-up against the
earlier turns, retrieve, abstain when the evidence is weak, write the answer (LLM or extractive),
then validate: citations to numbers that were not sources are removed, each cited sentence is checked
against the abstracts it cites, and the citation list is exactly what the text cites.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Iterable, Iterator

from rag.answer import coverage, facts, followup
from rag.answer.citations import CitationFilter, answer_sentences
from rag.answer.support import support
from rag.text.cites import cited_numbers
from rag.text.dates import DateRange
from rag.text.terms import content_terms, question_terms
from rag.errors import RagError
from rag.answer.abstain import is_weak, measure, thresholds
from rag.answer.extractive import compose, pick_sentences, with_sentence
from rag.answer.many import asks_many
from rag.embed.base import sentence_scorer
from rag.llm.client import LLM, LLMError, StreamEnd, use_llm
from rag.answer.question import clean_text, prepare
from rag.answer.prompt import (answer_messages, condense_messages, fit_sources, is_abstention, only_mentioned_note,
                               source_budget)
from rag.types import Answer, Citation, Flag, Hit, Source, Turn, Usage

if TYPE_CHECKING:
    import numpy as np

    from rag.config import Settings
    from rag.embed.base import Embedder
    from rag.search.retriever import Retriever, SearchResult

HISTORY_TURNS = 5  # earlier turns a follow-up can refer to; older ones are not sent anywhere
HISTORY_ANSWER_CHARS = 4000  # of each earlier answer (follow-ups need its citations, condensing its start)
STANDALONE_CHARS = 1000  # of a condensed follow-up: a small model may ramble
# A cited sentence needs this share of its content words in the cited abstracts. bench/support.py: keeps
# 85% of reworded supported claims and catches 84% of miscited ones (lexical AUC 0.92, embeddings 0.82).
SUPPORT_MIN = 0.3
UNCITED_MIN_TERMS = 4  # an uncited sentence with at least this many content words is a claim without a source
NEAREST = 5
# A question about several papers searches more of them and keeps those scoring at least MANY_FLOOR of the top
# paper's fused score (a relevance floor, not a fixed k): chosen on the 15 `multi` golden questions.
# Said when the search was unsure of its top paper (Retriever.find: few of the question's words in any abstract, no
# paper standing out): on the dev questions, three in four questions about a well-known method the corpus does not
# have, one in eight answerable ones (the paraphrases the search finds hardest).
WEAK_MATCH = ("No paper matches this question closely: few of its words occur in the abstracts and no paper stands "
              "out, so these are the nearest papers by meaning. The corpus may not cover what it describes; check that "
              "they are what you mean.")
MANY_K = 8
MANY_FLOOR = 0.65


@dataclass
class Plan:
    """How a question will be answered: what to search for and which earlier papers to bring back."""

    search_query: str
    carried: list[Citation] = field(default_factory=list)  # papers of earlier turns the question refers to
    explicit: bool = False  # the question named them ([2], "the second one"): no abstaining
    usage: Usage = field(default_factory=Usage)
    condense_ms: float = 0.0


class Answerer:
    """Answers questions over one index. Open once; ask many times (thread-safe for reading)."""

    def __init__(self, settings: Settings, retriever: Retriever | None = None, llm: LLM | None = None) -> None:
        from rag.search.retriever import Retriever

        self.settings = settings
        self.retriever = retriever or Retriever(settings)
        self._llm = llm
        # calibrated per embedder: cosine scales differ between models
        self.abstain_thresholds = thresholds(self.retriever.embedder.name, settings.abstain_min_dense)
        self._sentence_embedder = None if settings.sentence_scorer == "embedder" else sentence_scorer

    @property
    def sentence_embedder(self) -> Embedder:
        """What scores an offline answer's candidate sentences (settings.sentence_scorer)."""
        return self.retriever.embedder if self._sentence_embedder is None else self._sentence_embedder()

    @property
    def llm(self) -> LLM:
        """The chat model (made on first use, so the offline mode never needs the openai package)."""
        if self._llm is None:
            self._llm = LLM(self.settings)
        return self._llm

    def default_mode(self) -> str:
        """'llm' when an LLM is configured (or given), else 'extractive'."""
        return "llm" if self._llm is not None or use_llm(self.settings) else "extractive"

    def ask(self, question: str, history: Iterable[Turn | Answer] = (), k: int | None = None,
            since: date | None = None, until: date | None = None, mode: str | None = None) -> Answer:
        """The answer to question (a follow-up to history, if given)."""
        *_, answer = self.stream(question, history, k, since, until, mode)  # the last item is the Answer
        return answer  # type: ignore[return-value]

    def stream(self, question: str, history: Iterable[Turn | Answer] = (), k: int | None = None,
               since: date | None = None, until: date | None = None, mode: str | None = None) -> Iterator[str | Answer]:
        """Text as it is written, then the final Answer (whose text is the streamed text, except that an
        abstention from the model is expanded with the nearest papers)."""
        t0 = time.perf_counter()
        asked = prepare(question, self.settings.max_question_tokens)
        question = asked.text
        mode = mode or self.default_mode()
        if mode not in ("llm", "extractive"):
            raise RagError(f"unknown answer mode {mode!r}", "use 'llm' or 'extractive'")
        turns = history_turns(history, self.settings.max_question_tokens)
        plan = self._plan(question, turns, mode)
        t1 = time.perf_counter()
        many = asks_many(question) and not plan.carried
        found = self.retriever.find(plan.search_query, k=max(k or self.settings.answer_k, MANY_K) if many else
                                    k or self.settings.answer_k, since=since, until=until, several=many)
        hits, n_papers = found.hits, found.papers_searched
        # what the corpus holds of the names asked about; a name the corpus has but no returned paper mentions
        # is searched again with the name required: its papers come first
        # (a question about several papers asks for papers, not about a method itself: no subject is looked for)
        cov = (coverage.check(question, found.mentions, {h.paper_id for h in hits}, found.spellings,
                              None if many else found.paper_text, frozenset() if many else found.concept_keys())
               if self.settings.coverage_check else coverage.Coverage())
        first, last = cov.required_papers()
        hits = self._with_required(hits, first, last, since, until)
        if cov.subject in cov.mentioning and cov.subject not in cov.concepts:
            # asked about a method itself ("What is S-LoRA?", "How does PPO work?"): cite the papers that name it
            # (or another method the question names: "How does FlashAttention compare with PagedAttention?"), its
            # own paper first when the corpus has one (a concept, "speculative decoding", is also written in other
            # words: its papers are kept)
            hits = [h for h in hits if h.paper_id in cov.naming()] or hits
        if many and hits:  # the papers that answer, however many: those close to the top paper
            hits = [h for h in hits if h.score >= MANY_FLOOR * hits[0].score] + [
                h for h in hits[1:] if h.score < MANY_FLOOR * hits[0].score]
            k_many = sum(h.score >= MANY_FLOOR * hits[0].score for h in hits)
        sources = self._sources(plan.carried, hits, k_many if many and hits else k or self.settings.answer_k)
        timings = {"condense": plan.condense_ms, "retrieve": _ms(t1)}
        base = Answer(question=question, text="", mode=mode, search_query=plan.search_query, papers_searched=n_papers,
                      model=self.llm.model if mode == "llm" else None, usage=plan.usage, notices=list(asked.notices),
                      missing_terms=list(cov.missing), passing_terms=cov.only_passing, also_searched=list(found.mapped),
                      weak_match=found.unsure)
        if found.mapped:  # say what the search added to the question's words, so a reader can tell why a paper came up
            base.notices.append(f"also searched for {', '.join(found.concepts)}: the corpus's words for what the question "
                                "describes")
        q_terms = question_terms(plan.search_query)
        if cov.missing and not cov.subject_missing:  # the missing names are said; the rest of the question is weighed
            q_terms = (q_terms - content_terms(" ".join(cov.missing))) or q_terms
        ev = measure(q_terms, hits, found.idf, found.knows, found.closest)
        base.evidence = ev.to_dict()
        absent = self.settings.abstain and not plan.explicit and cov.subject_missing
        weak = self.settings.abstain and not plan.explicit and is_weak(ev, *self.abstain_thresholds)
        if not sources or absent or weak:
            answer = self._abstain(base, sources, n_papers, since or until,
                                   cov.say_absent() if absent else None)
            timings.update(generate=0.0, total=_ms(t0))
            answer.timings_ms = timings
            yield answer.text
            yield answer
            return
        if cov.missing:  # part of the question is not covered: answered, and said
            base.caveats.append(coverage.say_missing(cov.missing) + " The answer covers the rest of the question.")
        base.caveats += cov.say_only_used()  # no paper is about them, or (a method asked about) none introduces it
        if found.unsure:
            base.caveats.append(WEAK_MATCH)
        t2 = time.perf_counter()
        cites = CitationFilter({s.n for s in sources})
        if mode == "extractive":
            focus = sources[: len(plan.carried)] or sources  # a follow-up is answered from the papers it means
            # the search embedded this very text already unless a follow-up was searched in other words, or
            # sentences are scored by another embedder than the search's
            same = question == " ".join(plan.search_query.split())
            qvec = found.query_vector if same and self.sentence_embedder is self.retriever.embedder else None
            known = [n.text for n in cov.names if n.text not in cov.missing]
            text, shown, end = yield from self._extract(question, qvec, found, sources, focus, cites, base, known, many)
        else:
            notes = (only_mentioned_note(cov.only_passing),) if cov.only_passing else ()
            text, shown, end = yield from self._generate(plan, sources, cites, timings, t2, found.unsure, notes)
        timings["generate"] = _ms(t2)
        if mode == "llm" and not text.strip():
            raise LLMError(f"the LLM ({self.llm.model}) wrote an empty answer",
                           "ask again, try another RAG_LLM_MODEL, or answer offline with --offline")
        if mode == "llm" and is_abstention(text) and not cited_numbers(text):  # a hedge that cites is an answer
            answer = self._abstain(base, shown, n_papers, since or until)
        else:
            answer = self._validate(base, text, shown, cites.removed)
            answer.truncated = end.truncated
        answer.usage = answer.usage.add(end.usage)
        timings["total"] = _ms(t0)
        answer.timings_ms = timings
        yield answer

    # ------------------------------------------------------------------ steps

    def _plan(self, question: str, turns: list[Turn], mode: str) -> Plan:
        """Resolve a follow-up: which earlier papers it means and what to search for."""
        ref = followup.resolve(question, turns)
        if not ref.is_followup:
            return Plan(question)
        if mode == "extractive":
            return Plan(ref.expanded_query, ref.papers, ref.explicit)
        t = time.perf_counter()
        text, usage = self.llm.complete(condense_messages(question, turns), max_tokens=128)
        # a small model may ramble: keep the first line's worth, and fall back when it wrote nothing
        standalone = " ".join(text.split()).strip("\"'“”‘’")[:STANDALONE_CHARS] or ref.expanded_query
        return Plan(standalone, ref.papers, ref.explicit, usage, _ms(t))

    def _sources(self, carried: list[Citation], hits: list[Hit], k: int) -> list[Source]:
        """Papers from earlier turns first, then the retrieved ones, numbered 1..k."""
        chosen: list[Hit] = []
        for c in carried:
            hit = self.retriever.paper_hit(c.paper_id)
            if hit is not None:
                chosen.append(hit)
        seen = {h.paper_id for h in chosen}
        chosen += [h for h in hits if h.paper_id not in seen]
        return [Source(n=i, paper_id=h.paper_id, title=h.title, date=h.date, text=h.text, score=h.score,
                       metadata=h.metadata) for i, h in enumerate(chosen[: max(k, len(carried))], 1)]

    def _extract(self, question: str, question_vector: np.ndarray | None, found: SearchResult, sources: list[Source],
                 focus: list[Source], cites: CitationFilter, base: Answer, names: list[str],
                 many: bool = False) -> Iterator[str]:
        """Offline: the best sentences of the focus sources, cited. Returns (text, sources, StreamEnd).
        A question that asks a kind of fact (how many, which hardware, ...) gets the top paper's sentence that
        states it, or a caveat that its abstract does not (names: the question's names the corpus has)."""
        picks = pick_sentences(question, focus, self.sentence_embedder, found.idf, question_vector, many)
        if self.settings.coverage_check and focus:
            top = focus[0]
            fact = facts.check(question, top.title, top.text, names, {p.order for p in picks if p.n == top.n})
            if fact.stating is not None:
                picks = with_sentence(picks, top, *fact.stating, focus)
            elif fact.ask is not None:
                base.not_stated = fact.ask.what
                base.caveats.append(facts.say_unstated(fact.ask, top.title))
        out = []
        for i, para in enumerate(compose(picks, focus)):
            piece = cites.feed(("\n\n" if i else "") + para)
            out.append(piece)
            yield piece
        tail = cites.flush()
        if tail:
            yield tail
        return "".join(out) + tail, sources, StreamEnd(Usage(), "stop")

    def _generate(self, plan: Plan, sources: list[Source], cites: CitationFilter, timings: dict[str, float],
                  t_start: float, weak: bool = False, notes: tuple[str, ...] = ()) -> Iterator[str]:
        """LLM: stream the model's answer through the citation filter. Returns (text, sources shown, StreamEnd).
        weak: no source matched the question closely (the model is told, and how to decline); notes: more lines
        for the model (the method asked about is only mentioned)."""
        s = self.settings
        query = plan.search_query  # the question itself, or the standalone form of a follow-up
        shown = fit_sources(sources, source_budget(query, s.llm_context_window, s.llm_max_tokens, weak, notes))
        cites.valid = {src.n for src in shown}
        out: list[str] = []
        end = StreamEnd(Usage(), "stop")
        for item in self.llm.stream(answer_messages(query, shown, weak, notes)):
            if isinstance(item, StreamEnd):
                end = item
                continue
            piece = cites.feed(item)
            if piece:
                timings.setdefault("first_token", _ms(t_start))
                out.append(piece)
                yield piece
        tail = cites.flush()
        if tail:
            yield tail
        return "".join(out) + tail, shown, end

    def _with_required(self, hits: list[Hit], first: list[str], last: list[str], since: date | None,
                       until: date | None) -> list[Hit]:
        """The hits with required papers added (fetched when the search did not return them; date filters still
        apply): `first` before the rest (papers about a name asked), `last` after them (papers that only mention
        one: shown, but not in place of what the search found)."""
        if not first and not last:
            return hits
        by_id = {h.paper_id: h for h in hits}
        dates = DateRange(since, until)

        def fetch(ids: list[str]) -> list[Hit]:
            found = [by_id.get(pid) or self.retriever.paper_hit(pid) for pid in ids]
            return [h for h in found if h is not None and dates.contains(h.date)]

        rank = {h.paper_id: i for i, h in enumerate(hits)}
        # papers the search returned keep its order, ahead of those it did not return (in the order given)
        head = sorted(fetch(first), key=lambda h: rank.get(h.paper_id, len(hits)))
        tail = fetch(last)
        chosen = {h.paper_id for h in head + tail}
        k = len(hits)
        middle = [h for h in hits if h.paper_id not in chosen]
        keep = max(0, k - len(head) - len(tail))  # the list stays as long as the search's
        return head + middle[:keep] + tail + middle[keep:]

    def _abstain(self, base: Answer, sources: list[Source], n_papers: int, dated: object,
                 reason: str | None = None) -> Answer:
        """The corpus does not answer: say so (and why, when known), say how much was searched, list the nearest
        papers."""
        scope = f"none of the {n_papers} papers" + (" in the date range" if dated else "") + " in the corpus"
        nearest = [s.citation() for s in sources[:NEAREST]]
        text = (f"{reason} " if reason else "") + f"The corpus does not contain an answer to this question: {scope} addresses it."
        if nearest:
            text += " The nearest papers are:\n" + "\n".join(
                f"- {c.title}" + (f" ({c.date})" if c.date else "") for c in nearest)
        base.text, base.abstained, base.nearest, base.sources = text, True, nearest, sources
        return base

    def _validate(self, base: Answer, text: str, sources: list[Source], removed: int) -> Answer:
        """Citations list exactly what the text cites; cited sentences are checked against their abstracts."""
        by_n = {s.n: s for s in sources}
        flags: list[Flag] = []
        order: list[int] = []
        for sentence, nums in answer_sentences(text):
            nums = [n for n in nums if n in by_n]
            order += [n for n in nums if n not in order]
            if not nums:
                # a question (or a title that ends in "?") claims nothing
                if not sentence.endswith("?") and len(content_terms(sentence)) >= UNCITED_MIN_TERMS:
                    flags.append(Flag(sentence, [], "uncited", 0.0))
                continue
            sup = support(sentence, {n: f"{by_n[n].title}\n{by_n[n].text}" for n in nums})
            for n, best in sup.best.items():
                # the title is matched with the abstract but is not part of it: keep only the abstract's text
                best = best.removeprefix(by_n[n].title).strip()
                if best and best not in by_n[n].supporting:
                    by_n[n].supporting.append(best)
            if sup.score < SUPPORT_MIN:
                flags.append(Flag(sentence, nums, "unsupported", round(sup.score, 3)))
            if base.mode == "llm":  # an offline answer copies its sentences, numbers included
                cited = " ".join(f"{by_n[n].title} {by_n[n].date or ''} {by_n[n].text}" for n in nums)
                lacking = facts.missing_facts(sentence, cited, base.question)
                if lacking:
                    flags.append(Flag(sentence, nums, "fact", round(sup.score, 3), ", ".join(lacking)))
        for n in order:
            by_n[n].cited = True
        base.text, base.sources, base.flags, base.removed_citations = text, sources, flags, removed
        base.citations = [by_n[n].citation() for n in order]
        return base


def history_turns(history: Iterable[Turn | Answer], max_question_tokens: int) -> list[Turn]:
    """The last HISTORY_TURNS earlier turns, each cleaned and cut like a question, so a very long (or hostile)
    chat history costs no more than a short one."""
    turns = [h.as_turn() if isinstance(h, Answer) else h for h in list(history)[-HISTORY_TURNS:]]
    out = []
    for t in turns:
        try:
            q = prepare(t.question, max_question_tokens).text
        except RagError:
            continue  # an empty earlier question carries nothing to refer to
        out.append(Turn(q, clean_text(t.answer[:HISTORY_ANSWER_CHARS])[0], list(t.citations)))
    return out


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)

