"""Does the corpus hold what the question names? The names it asks about (rag/text/names.py), looked up by surface
form in every chunk and title of the index: a name no paper mentions, a name papers mention only in passing (no
paper is about it), and a name some paper is about.

Users ask about the famous methods they know; most are not among the papers. Retrieval always returns the
nearest papers, and an answer from them would look checked while being about something else, so a question
whose names are all absent is not answered. A name with papers about it is evidence enough to answer.

A question about a method itself ("What is DPO?", "How does PPO's clipped objective work?", "Explain the
architecture of BERT") needs more: a paper that introduces it (its title's head names it, or its abstract presents it: "we present
S-LoRA", "an optimizer called LAMB"). Famous methods are used by many papers and introduced by none of them
("Training BERT in 76 minutes" names BERT in its title and is about an optimizer): such a subject is said to be
only mentioned, and the answer cites only papers that mention it. A name in any other place of a question
("... with Microsoft's system", "Which JAX toolkits ...") is not held to that: the paper asked for may not name it.
A concept asked about by the corpus's own term ("speculative decoding") is held to it only when the question asks
where it comes from ("Who came up with ...", "the original paper"): otherwise the papers on it answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from rag.text.names import TOKEN, Name, is_name_token, lowercase_names, question_names, surface_key

# Products, platforms and languages a question names as its setting ("actions on an iPhone", "Java functions"),
# not as what it asks about: when they are the only names and the corpus lacks them, the question is answered
# and the answer says so, instead of abstaining. Methods, models and datasets are never on this list.
CONTEXT_NAMES = frozenset(
    "iphone ipad mac macos ios android windows linux ubuntu chrome firefox safari excel powerpoint outlook whatsapp "
    "wechat slack zoom teams python java javascript typescript kotlin swift rust golang bash jupyter wikipedia "
    "reddit twitter youtube tiktok instagram facebook netflix spotify uber airbnb ebay walmart alexa siri".split())
ABOUT_COUNT = 3  # a paper whose chunks name something this often (or whose title does) is about it
MAX_PAPERS = 5
SUBJECT_WORDS = 4  # a name this early in a question ("How does the Lion optimizer ...") is what it asks about
# what stands before a name in a question about the named thing itself: "What is", "How does the", "Explain",
# "the idea behind", "Who introduced" ("the", "a", "an" and commas dropped)
ITSELF = re.compile(
    r"(?:^|\s)(?:what(?:'s| is| are| was| were)|whats|who(?:'s| is| was)|how (?:does|do|did|is|was|are|were|can|would)|"
    r"explain(?: how| what| why)?|describe(?: how)?|tell me about|summari[sz]e|"
    r"(?:idea|intuition|architecture|objective|loss|mechanism|design|math|trick|point|motivation) (?:behind|of)|"
    r"what (?:problem|problems) (?:does|do|did)|what (?:does|did|do)|"
    r"who (?:proposed|introduced|invented|created|developed|came up with|wrote|made))$")
# a question after where a method comes from: a concept ("speculative decoding") is held to a paper that
# introduces it only then; "How does speculative decoding speed up inference?" is answered from the papers on it
ORIGIN = re.compile(r"\b(?:who (?:first |originally )?(?:came up with|introduced|proposed|invented|created|developed|"
                    r"coined|described)|original|first (?:proposed|introduced|described|paper)|where does .{1,60} come "
                    r"from|which paper (?:first )?(?:introduced|proposed))\b", re.IGNORECASE)
# companies named as a model's maker ("Meta's LLaMA", "Google's Gemini"): never what a question asks about
MAKERS = frozenset("meta google openai anthropic microsoft deepmind nvidia apple amazon ibm baidu alibaba tencent "
                   "huawei facebook bytedance salesforce intel amd".split())
MAKER_OR_FILLER = re.compile(r"\b(?:" + "|".join(sorted(MAKERS)) + r")(?:'s|’s)?(?=\s|$)|"
                             r"\b(?:the|a|an|original|famous|popular|so-called|called)\b|[,:;]")
PAPER_AFTER = re.compile(r"(?:'s|’s)?\s+(?:paper|technical report|report)\b", re.IGNORECASE)
# "we present S-LoRA", "we introduce a new benchmark, X", "a technique called LAMB": a verb that presents a name,
# then only words that can stand between it and the name
PRESENTS = frozenset("propose proposes present presents introduce introduces develop develops release releases "
                     "design designs build builds unveil unveils open-source".split())
CALLS = frozenset("called named dubbed termed coined".split())
CALLS_AS = frozenset("denoted known referred dubbed termed".split())  # "denoted as X", "referred to as X"
# words that end the clause of a presenting verb before a name: prepositions, conjunctions, auxiliaries and verbs
# that use or study a method ("a study of PPO", "to evaluate GPT-4", "and compare with BERT")
ENDS_CLAUSE = frozenset(
    "of on for with to by in from over than against using via into upon at as about across after before between "
    "within without under and or but nor that which who whose where when while because since if is are was were be "
    "been being has have had do does did can could should would will may might must use uses used employ employs "
    "adopt adopts apply applies follow follows compare compares compared evaluate evaluates evaluated study studies "
    "analyze analyzes analyse analyses test tests train trains trained fine-tune fine-tunes show shows find finds "
    "demonstrate demonstrates achieve achieves outperform outperforms outperforming improve improves improving "
    "extend extends extending replace replaces replacing beat beats like such including e g i".split())
CLAUSE_MAX = 14  # words between a presenting verb and the name, at most
MAX_NAME_WORDS = 4
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass
class Coverage:
    """What the corpus holds of the names a question asks about."""

    names: list[Name] = field(default_factory=list)  # in the order the question has them
    question: str = ""
    missing: list[str] = field(default_factory=list)  # names no paper mentions
    passing: dict[str, list[str]] = field(default_factory=dict)  # name -> paper ids that mention it in passing
    about: dict[str, list[str]] = field(default_factory=dict)  # name -> paper ids about it
    mentioning: dict[str, frozenset[str]] = field(default_factory=dict)  # name -> every paper id mentioning it
    subject: str | None = None  # the name the question asks about itself ("How does PPO work?"), if any
    unintroduced: list[str] = field(default_factory=list)  # the subject, when papers use it and none introduces it
    concepts: list[str] = field(default_factory=list)  # names that are the corpus's terms for a concept
    own: list[str] = field(default_factory=list)  # the papers that introduce the subject
    unretrieved: list[str] = field(default_factory=list)  # names the corpus has but no retrieved paper mentions

    @property
    def subject_missing(self) -> bool:
        """What the question asks about is not in the corpus: no paper mentions any name it asks about, or its
        first name, early in the question ("How does YaRN extend RoPE?"), is missing while the corpus has the
        others only in passing (what the corpus has of it is beside the point). A question that describes a paper
        by names in passing ("Which index ... beats DiskANN in RAM?") is not abstained on. Products named as the
        setting (CONTEXT_NAMES) never count as missing, and concepts asked about (the corpus's own terms) are
        beside the point: "How does speculative decoding work in Medusa?" asks about Medusa."""
        names = [n for n in self.names if n.text not in self.concepts]
        missing = [n for n in names if n.text in self.missing and n.key not in CONTEXT_NAMES]
        if not missing:
            return False
        if all(n.text in self.missing for n in names):
            return True
        first = names[0]
        about = {k: v for k, v in self.about.items() if k not in self.concepts}
        return first in missing and not about and _is_subject(self.question, first)

    def say_absent(self) -> str:
        """Why the question is not answered: the names no paper mentions, and those only mentioned in passing."""
        said = say_missing(self.missing)
        if self.passing:
            it = "it" if len(self.passing) == 1 else "them"
            said += f" No paper is about {_join(list(self.passing))} either; papers only mention {it} in passing."
        return said

    def naming(self) -> frozenset[str]:
        """The papers that name any method the question names (not a maker, not a concept)."""
        keys = {n.text: n.key for n in self.names}
        return frozenset().union(*(papers for name, papers in self.mentioning.items()
                                   if name not in self.concepts and keys.get(name) not in MAKERS))

    @property
    def only_passing(self) -> list[str]:
        """Names only mentioned in passing, when no name of the question has a paper about it (the question's
        subject is not the subject of any paper)."""
        return [] if self.about else list(self.passing)

    def required_papers(self) -> tuple[list[str], list[str]]:
        """(papers to put first, papers to add last), each once: the papers that introduce the method the question
        asks about; for a name the corpus has but no retrieved paper mentions, the search again with it required
        (papers about it first, papers that only mention it last); for a name no paper is about, its papers that
        mention it most (last).

        Papers that only mention a name are never put first: a question naming hardware, a company or a benchmark
        in passing ("on A100s", "Microsoft's") would lose its paper to them (tried: single-paper hit@1 0.95 ->
        0.80)."""
        first: list[str] = list(self.own)  # asked about a method itself: its own paper first
        last: list[str] = []
        # and the papers that mention most the method the question asks about when none is about it (the answer
        # cites only papers that mention it)
        asked = [self.subject] if (self.subject in self.only_passing and self.subject not in self.unretrieved
                                   and self.subject not in self.concepts) else []
        for name in self.unretrieved + asked:
            if name in self.about:
                first += [p for p in self.about[name] if p not in first]
            else:
                last += [p for p in self.passing.get(name, []) if p not in last]
        return first, [p for p in last if p not in first]


def check(question: str, mentions: Callable[[str], dict[str, tuple[int, bool]]],
          retrieved: set[str] | frozenset[str] = frozenset(),
          spellings: Callable[[list[str]], list[str]] | None = None,
          paper_text: Callable[[str], tuple[str, str] | None] | None = None,
          concepts: frozenset[str] = frozenset()) -> Coverage:
    """The coverage of a question's names; mentions(key) -> paper id -> (occurrences, in title); retrieved: the
    ids of the papers the search returned; paper_text(id) -> (title, abstract): with it, the question's subject
    counts as covered only when a paper introduces it; concepts: surface keys of the corpus's terms for concepts
    ("knowledgedistillation"), taken as names when the question asks about one itself."""
    names = question_names(question)
    if spellings is not None:  # and names typed in lower case that the corpus writes as names
        names += lowercase_names(question, spellings, {n.key for n in names})
    asked_concepts = concept_names(question, concepts, {n.key for n in names})
    names += asked_concepts
    cov = Coverage(sorted(names, key=lambda n: _at(question, n.text)), question, concepts=[n.text for n in asked_concepts])
    cov.subject = next((n.text for n in cov.names if asks_itself(question, n)), None)
    for name in cov.names:
        found = mentions(name.key)
        if not found:
            cov.missing.append(name.text)
            continue
        cov.mentioning[name.text] = frozenset(found)
        if name.key in MAKERS:
            continue  # "Meta's", "Google's": who made what is asked about; papers about Meta-learning are beside it
        if not set(found) & set(retrieved):
            cov.unretrieved.append(name.text)
        ranked = sorted(found, key=lambda p: (-found[p][1], -found[p][0], p))
        about = [p for p in ranked if found[p][1] or found[p][0] >= ABOUT_COUNT]
        if about and name.text == cov.subject and paper_text is not None and (
                name not in asked_concepts or ORIGIN.search(question)):
            cov.own = [p for p in about[:MAX_PAPERS] if (text := paper_text(p)) is not None
                       and introduces(*text, name.key)]
            if not cov.own:
                cov.unintroduced.append(name.text)  # used, improved on or compared with by papers that do not introduce it
                about = []
        if about:
            cov.about[name.text] = about[:MAX_PAPERS]
        else:
            cov.passing[name.text] = ranked[:MAX_PAPERS]
    return cov


def concept_names(question: str, concepts: frozenset[str], taken: set[str] = frozenset()) -> list[Name]:
    """Concepts the question asks about itself, by a term the corpus uses ("What is knowledge distillation?",
    "Who came up with speculative decoding?", "chain of thought" for "chain-of-thought"), the longest term at a
    place; concepts: the terms' surface keys; taken: keys already found."""
    out: list[Name] = []
    if not concepts:
        return out
    words = list(re.finditer(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*", question))
    i = 0
    while i < len(words):
        for n in range(min(MAX_NAME_WORDS, len(words) - i), 0, -1):
            text = question[words[i].start(): words[i + n - 1].end()]
            name = Name(text, surface_key(text))
            if name.key in concepts and name.key not in taken and asks_itself(question, name):
                out.append(name)
                taken = taken | {name.key}
                i += n - 1
                break
        i += 1
    return out


def _is_subject(question: str, name: Name) -> bool:
    """A name this early in the question is what it asks about ("How does YaRN extend RoPE?")."""
    return name.key not in CONTEXT_NAMES and len(question[: max(question.find(name.text), 0)].split()) < SUBJECT_WORDS


def asks_itself(question: str, name: Name) -> bool:
    """Whether the question asks about the named thing itself: what it is, how it works, who made it ("What is
    DPO?", "how does lora work", "Explain the architecture of BERT", "PPO's clipped objective?")."""
    at = question.find(name.text)
    if at < 0 or name.key in CONTEXT_NAMES or name.key in MAKERS:
        return False
    if PAPER_AFTER.match(question[at + len(name.text):]):
        return True  # "the Chinchilla paper", "GPT-4's technical report"
    before = MAKER_OR_FILLER.sub(" ", question[:at].lower())
    before = " ".join(before.split())
    return not before or ITSELF.search(before) is not None


def introduces(title: str, abstract: str, key: str) -> bool:
    """Whether a paper introduces the name with this surface key: its title's head (before a colon, or its first
    words) is the name ("S-LoRA: Serving ...", "Mixtral of Experts"), or its abstract presents it ("we present
    S-LoRA", "we introduce a new benchmark, X", "a technique called LAMB"). Using, extending ("Tied-LoRA") or
    comparing with it is not introducing it. A plural is the name ("MambaMixers")."""
    keys = {key, key[:-1] if key.endswith("s") else key + "s"}
    words = list(TOKEN.finditer(title.split(":")[0]))
    if ":" in title and "".join(m.group().lower() for m in words) in keys:
        return True
    if ":" not in title and any(end < len(words) for end in _named_at(title, 0, keys, words)):
        return True  # the title's first words, and more after them
    for sentence in SENTENCE_END.split(abstract):
        spans = list(TOKEN.finditer(sentence))
        lower = [m.group().lower() for m in spans]
        for i in range(len(spans)):
            if not _named_at(sentence, i, keys, spans):
                continue
            if _presented(sentence, spans, i):
                return True
    return False


def _presented(sentence: str, spans: list[re.Match[str]], i: int) -> bool:
    """Whether the name at word i follows a verb that presents it, in its clause: back over the words of a
    description ("we develop a data-efficient Graph Convolutional Network (GCN) algorithm PinSage", "we present the
    Snapshot Reinforcement Learning (SnapshotRL) framework", "denoted as NoThinking") to the verb; a preposition,
    conjunction or other verb on the way ends the clause ("we propose to replace PPO", "a benchmark to evaluate
    GPT-4", "a study of PPO"), except inside a capitalised name ("Model Selection with Aptitude Test"). A name that
    ends a longer one is not presented itself ("we propose Reward-Guided Speculative Decoding", "the Layerwise
    Recurrent Router for Mixture-of-Experts"), unless in brackets after it ("... Reinforcement Learning
    (SnapshotRL)"), nor one in what describes another ("MoE-Infinity, a ... mixture-of-expert serving system")."""
    words = [m.group() for m in spans]
    lower = [w.lower() for w in words]
    bracketed = sentence[: spans[i].start()].rstrip().endswith("(")
    if i > 0 and not bracketed and (words[i - 1][:1].isupper() or is_name_token(words[i - 1]) or (
            i > 1 and lower[i - 1] in ("for", "of", "with", "and") and words[i - 2][:1].isupper())):
        return False
    for j in range(i - 1, max(-1, i - CLAUSE_MAX - 1), -1):
        w = lower[j]
        if w in PRESENTS or w in CALLS or (w == "as" and j > 0 and lower[j - 1] in CALLS_AS):
            # and not inside what describes another name: "presents MoE-Infinity, a ... mixture-of-expert (MoE)
            # serving system" presents MoE-Infinity ("we introduce a benchmark, X" presents X)
            between = sentence[spans[j].end(): spans[i].start()]
            return "," not in between or between.rstrip().endswith(",")
        inside_name = 0 < j < len(words) - 1 and words[j - 1][:1].isupper() and words[j + 1][:1].isupper()
        if w in ENDS_CLAUSE and not inside_name:
            return False
    return False


def _named_at(text: str, i: int, keys: set[str], spans: list[re.Match[str]]) -> list[int]:
    """Where each run of words from the i-th ends (the index after it) that spells one of the keys and is not part
    of a longer name ("LoRA" in "LoRA-SP", "PyTorch" in "PyTorch FSDP" or "PyTorch Fully Sharded Data Parallel",
    "Llama" in "Llama 2")."""
    out = []
    for n in range(1, min(MAX_NAME_WORDS, len(spans) - i) + 1):
        run = spans[i: i + n]
        if "".join(m.group().lower() for m in run) in keys and not _joined(text, run[0].start(), run[-1].end()) and not (
                i + n < len(spans) and text[run[-1].end(): spans[i + n].start()] == " "
                and (is_name_token(spans[i + n].group()) or spans[i + n].group()[0].isupper()
                     or spans[i + n].group().isdigit())):
            out.append(i + n)  # not followed by more of a name: "PyTorch FSDP", "PyTorch Fully Sharded", "Llama 2"
    return out


def _joined(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is part of a longer hyphenated name ("LoRA" in "LoRA-SP", "S-LoRA")."""
    return (end + 1 < len(text) and text[end] == "-" and text[end + 1].isalnum()) or (
        start >= 2 and text[start - 1] == "-" and text[start - 2].isalnum())


def _at(question: str, text: str) -> int:
    i = question.find(text)
    return i if i >= 0 else len(question)


def say_missing(names: list[str]) -> str:
    """'No paper in the corpus mentions X.' (or X or Y)."""
    return f"No paper in the corpus mentions {_join(names)}."


def say_passing(names: list[str]) -> str:
    """'No paper in the corpus is about X itself; the papers cited below only mention or use it.'"""
    it = "it" if len(names) == 1 else "them"
    return f"No paper in the corpus is about {_join(names)} itself; the papers cited below only mention or use {it}."


def say_unintroduced(names: list[str]) -> str:
    """'No paper in the corpus introduces X; the papers cited below build on or use it.'"""
    it = "it" if len(names) == 1 else "them"
    return f"No paper in the corpus introduces {_join(names)}; the papers cited below build on or use {it}."


def _join(names: list[str]) -> str:
    """'A', 'A or B', 'A, B or C'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" or {names[-1]}"
