"""Does a paper introduce a name? Its title's head is the name ("S-LoRA: Serving ...", "Mixtral of Experts"), or
its abstract presents it ("we present S-LoRA", "a technique called LAMB", "we develop a data-efficient GCN
algorithm PinSage"); using, extending ("Tied-LoRA") or comparing with it is not introducing it. Famous methods are
used by many papers and introduced by none of them: "Training BERT in 76 minutes" names BERT in its title and is
about an optimizer. Pure functions of a title and an abstract, matched by surface form (rag/text/names.py).
"""

from __future__ import annotations

import re

from rag.text.names import MAX_PARTS, TOKEN, is_name_token

# "we present S-LoRA", "we introduce a new benchmark, X", "a technique called LAMB": the words that present a name
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
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


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
        if any(_named_at(sentence, i, keys, spans) and _presented(sentence, spans, i) for i in range(len(spans))):
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
    for n in range(1, min(MAX_PARTS, len(spans) - i) + 1):
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
