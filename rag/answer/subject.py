"""What a question asks about itself: the method it names as its subject ("What is DPO?", "How does PPO's
clipped objective work?", "Explain the architecture of BERT", "Who came up with speculative decoding?"), as opposed
to a name that sets the scene ("... on ImageNet", "with Microsoft's system"). Pure functions of the question's
text; rag/answer/coverage.py holds the subject to a paper that introduces it (rag/text/introduces.py).
"""

from __future__ import annotations

import re

from rag.text.names import MAX_PARTS, Name, surface_key

# Products, platforms and languages a question names as its setting ("actions on an iPhone", "Java functions"),
# not as what it asks about: when they are the only names and the corpus lacks them, the question is answered
# and the answer says so, instead of abstaining. Methods, models and datasets are never on this list.
CONTEXT_NAMES = frozenset(
    "iphone ipad mac macos ios android windows linux ubuntu chrome firefox safari excel powerpoint outlook whatsapp "
    "wechat slack zoom teams python java javascript typescript kotlin swift rust golang bash jupyter wikipedia "
    "reddit twitter youtube tiktok instagram facebook netflix spotify uber airbnb ebay walmart alexa siri".split())
# what stands before a name in a question about the named thing itself: "What is", "How does the", "Explain",
# "the idea behind", "Who introduced" ("the", "a", "an" and commas dropped)
ITSELF = re.compile(
    r"(?:^|\s)(?:what(?:'s| is| are| was| were)|whats|who(?:'s| is| was)|how (?:does|do|did|is|was|are|were|can|would)|"
    r"explain(?: how| what| why)?|describe(?: how)?|tell me about|summari[sz]e|"
    r"(?:idea|intuition|architecture|objective|loss|mechanism|design|math|trick|point|motivation) (?:behind|of)|"
    r"what (?:problem|problems) (?:does|do|did)|what (?:does|did|do)|"
    r"who (?:proposed|introduced|invented|created|developed|came up with|wrote|made)|"
    r"differences? between|compare|comparing|contrast)$")
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
        for n in range(min(MAX_PARTS, len(words) - i), 0, -1):
            text = question[words[i].start(): words[i + n - 1].end()]
            name = Name(text, surface_key(text))
            if name.key in concepts and name.key not in taken and asks_itself(question, name):
                out.append(name)
                taken = taken | {name.key}
                i += n - 1
                break
        i += 1
    return out


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


# between two methods a question compares: "DPO and RLHF", "FlashAttention vs PagedAttention", "compare with"
BESIDE = re.compile(r"^[\s,]*(?:and|or|vs\.?|versus|compared? (?:to|with)|compares (?:to|with)|different from|"
                    r"differ from|against)\s+(?:the\s+)?$", re.IGNORECASE)


def compared_with(question: str, names: list[Name], subject: str | None) -> list[str]:
    """The names a question compares with its subject, each right after the one before ("What's the difference
    between DPO and RLHF?", "How does FlashAttention compare with PagedAttention?"): asked about themselves too."""
    out: list[str] = []
    last = subject
    for name in names:
        if last is None or name.text == subject or name.key in MAKERS:
            continue
        end = question.find(last) + len(last)
        at = question.find(name.text, end)
        if at >= end and BESIDE.match(question[end:at]):
            out.append(name.text)
            last = name.text
    return out
