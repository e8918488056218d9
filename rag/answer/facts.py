"""Questions that ask for a kind of fact (how many, which hardware, which licence, which company or university),
whether a sentence states that kind of fact, and which facts of an answer sentence its cited abstracts lack.

A near miss: the paper is in the corpus but its abstract does not state what is asked ("How many GPUs were used
to train X?"). Retrieval finds the paper and its best sentences read like an answer, so an offline answer to such
a question needs a sentence that states the asked kind of fact (a count next to the unit asked, a GPU model, an
organisation, a licence); without one the answer says the abstract does not state it. In LLM mode an answer
sentence whose numbers or hardware are not in the abstracts it cites is flagged. Pure functions, no index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.text.cites import strip_citation_marks
from rag.text.names import surface_key
from rag.text.sentences import split_sentences

TOKEN = re.compile(r"\d[\d,.]*[A-Za-z%×]*|[A-Za-z][A-Za-z0-9'’-]*|%")
NUMERAL = re.compile(r"(\d+(?:[.,]\d+)*)(k|m|b|t|bn|%|x|×|times|fold)?")
WORD_VALUES = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
               "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
               "hundred": 100, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
COUNT_WORDS = frozenset(WORD_VALUES) | {"single", "half", "dozen", "dozens", "hundreds", "thousands", "millions",
                                        "billions", "trillions"}
MULTIPLIER = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9, "t": 1e12,
              "trillion": 1e12}
# Words that end the unit of "how many <unit>": verbs, prepositions, articles.
UNIT_END = frozenset(
    "do does did is are was were be been have has had can could will would should may might must in on of for to at "
    "by with from into the a an it its they their this that these those when where which who whose while during "
    "after before per each used using needed required take took".split())
TIME_UNITS = frozenset("second seconds minute minutes hour hours day days week weeks month months year years ms "
                       "sec secs min mins h s".split())
# Unit words that mean the same count ("how many samples" is answered by "2,690 examples").
SAME_UNIT = [frozenset("sample example instance item problem question task query pair prompt".split()),
             frozenset("parameter param weight".split()),
             frozenset("gpu card accelerator device".split()),
             frozenset("conversation dialogue dialog".split()),
             frozenset("image picture photo".split())]
METRIC = re.compile(
    r"\b(?:what|which)(?:\s+(?:is|was|are|were))?(?:\s+the)?((?:\s+[\w@*.+-]+){0,3}?)\s+"
    r"(accuracy|score|share|percentage|percent|fraction|proportion|test error|error rate|speedup|speed-up|throughput|"
    r"latency|perplexity|context length|length|size|cost|power draw|power|rate|improvement|gain|reduction|"
    r"win rate|f1|bleu|auc)\b", re.IGNORECASE)
NOT_A_METRIC = frozenset("kind kinds type types sort sorts source sources role cause causes".split())
PERCENT_METRICS = frozenset("accuracy share percentage percent fraction proportion rate win improvement gain "
                            "reduction error".split())
HOW = re.compile(r"\bhow\s+(many|much|long)\b((?:\s+[\w'’-]+){0,5})", re.IGNORECASE)
HARDWARE_ASK = re.compile(
    r"\b(?:which|what)\s+(?:(?:specific|exact|kind|kinds|type|types|of|model|models|consumer|particular|the)\s+){0,3}"
    r"(?:gpus?|hardware|accelerators?|chips?|tpus?|npus?|devices?|processors?|cpus?)\b", re.IGNORECASE)
AFFILIATION_ASK = re.compile(
    r"\b(?:which|what)\s+(?:[\w-]+\s+){0,1}(?:compan(?:y|ies)|universit(?:y|ies)|institutions?|institutes?|labs?|"
    r"laborator(?:y|ies)|organi[sz]ations?|affiliations?|firms?|employers?)(?:'s|’s)?\b|\baffiliat", re.IGNORECASE)
LICENCE_ASK = re.compile(r"\blicen[cs](?:e|es|ed|ing)\b", re.IGNORECASE)
HARDWARE = re.compile(
    r"\b(?:[AHVPTLB]\d{2,3}[A-Z]?s?|A\d{4}|[HG]B?\d{3}|RTX\s?-?\d{4}(?:\s?Ti)?|RTX\d{4}|GTX\s?\d{3,4}|Titan\s?[A-Z]\w*|"
    r"TPU\s?v?\d\w*|TPUv\d\w*|MI\d{3}X?|Gaudi\s?\d?|Ascend\s?\d*\w*|Jetson(?:\s[A-Z]\w*){0,2}|Apple\sM\d|M\d\s(?:Max|Pro|Ultra)|"
    r"Snapdragon|Xeon|EPYC|Graviton|Trainium|Inferentia|Cerebras|NVIDIA|Nvidia|Kunpeng|Raspberry\sPi|DGX|HGX|iPhone|"
    r"NPUs?|FPGAs?)\b")
ORGANISATION = re.compile(
    r"\b(?:Universit(?:y|é|at|ät)|Institute|Institut|College|Laborator(?:y|ies)|Lab|Labs|Academy|Inc|Corp|Corporation|"
    r"Ltd|Google|DeepMind|Meta|Facebook|Microsoft|OpenAI|Anthropic|Alibaba|ByteDance|Bytedance|Tencent|Baidu|Huawei|"
    r"Amazon|AWS|Apple|NVIDIA|Nvidia|IBM|Intel|AMD|Samsung|Xiaohongshu|Ant Group|Kuaishou|Meituan|JD|Salesforce|"
    r"Adobe|AI2|Mistral|Cohere|Hugging\s?Face|Stanford|MIT|Berkeley|CMU|Carnegie Mellon|Tsinghua|Peking|Oxford|"
    r"Cambridge|ETH|EPFL|Princeton|Harvard|Cornell|KAIST|Alipay|Taobao|Netflix|Uber|LinkedIn|Pinterest|Spotify|"
    r"Yandex|Naver|Kakao|Sony|Xiaomi|Zhipu|Moonshot|DeepSeek|SenseTime|BAAI|Snap|Shopee|Airbnb|Walmart|eBay)\b")
LICENCE = re.compile(r"\b(?:licen[cs]e[sd]?|Apache|BSD|GPL|CC[- ]BY\S*|Creative Commons)\b", re.IGNORECASE)
CLAUSE_START = re.compile(r"(?:^|[,;:(]|\band|\bbut|\bor|\bso)$")
PREPOSITION = re.compile(r"\b(?:by|on|in|under|at|with|to|for|from|of)$")
# "how much memory": the unit words that answer it
AMOUNTS = {"memory": frozenset({"gb", "mb", "tb", "gib", "byte"}), "time": TIME_UNITS,
           "energy": frozenset({"kwh", "wh", "joule", "j", "watt", "w"}), "compute": frozenset({"flop", "hour"}),
           "data": frozenset({"token", "gb", "tb", "sample", "example"})}
ENUMERATOR = re.compile(r"^\s*\(?\d{1,2}[.)](?=\s|$)|\(\d{1,2}\)")
WINDOW = 4  # a count's unit follows it within this many words: "one million NVIDIA H800 GPU hours"


@dataclass(frozen=True)
class FactAsk:
    """The kind of fact a question asks for."""

    kind: str  # "number" | "hardware" | "affiliation" | "licence"
    what: str  # how an answer names it: "how many GPUs", "which hardware was used"
    units: frozenset[str] = field(default_factory=frozenset)  # a count's unit words (normalised); empty: any number
    metric: str = ""  # "accuracy", "share": a measured quantity instead of a count


def _norm(word: str) -> str:
    """Lower case, plural 's' dropped: 'GPUs' -> 'gpu', 'queries' -> 'query'."""
    w = word.lower().strip("'’")
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith("s") and len(w) > 3 and not w.endswith("ss"):
        return w[:-1]
    return w


def _units(words: list[str]) -> frozenset[str]:
    out = set(words)
    for group in SAME_UNIT:
        if out & group:
            out |= group
    return frozenset(out)


def _asked(pattern: re.Pattern[str], question: str) -> re.Match[str] | None:
    """The first match that starts a clause of the question ("How many ...", "..., and how much ...", "On which
    GPUs ..."): inside a description ("analysing how long cold starts take") it asks nothing."""
    for m in pattern.finditer(question):
        before = PREPOSITION.sub("", question[: m.start()].rstrip().lower()).rstrip()
        if CLAUSE_START.search(before):
            return m
    return None


def _clause(question: str, start: int) -> str:
    """The asking clause, quoted: '“how many GPU hours did it take to train StructLM-34B”'."""
    words = re.split(r"[,;?]", question[start:], maxsplit=1)[0].split()
    return "“" + " ".join(words[:14]) + ("…" if len(words) > 14 else "") + "”"


def asked_fact(question: str) -> FactAsk | None:
    """The kind of fact question asks for, or None (most questions ask how something works, not a fact)."""
    if LICENCE_ASK.search(question):
        return FactAsk("licence", "under which licence it is released")
    if _asked(AFFILIATION_ASK, question):
        return FactAsk("affiliation", "which company or university the work comes from")
    how = _asked(HOW, question)
    if how is not None:
        clause = _clause(question, how.start())
        unit: list[str] = []
        for w in how.group(2).split():
            if w.lower().strip(",;?") in UNIT_END:
                break
            unit.append(w.strip(",;?"))
            if w.endswith((",", ";", "?")):
                break
        if how.group(1).lower() == "long":
            return FactAsk("number", clause, frozenset(TIME_UNITS))
        heads = [_norm(g.split()[-1]) for g in re.split(r"\s+(?:or|and)\s+", " ".join(unit)) if g.split()]
        if how.group(1).lower() == "many" and heads:
            return FactAsk("number", clause, _units(heads))
        if heads and heads[0] in AMOUNTS:
            return FactAsk("number", clause, _units(heads) | AMOUNTS[heads[0]])
        return FactAsk("number", clause)
    if _asked(HARDWARE_ASK, question):
        return FactAsk("hardware", "which hardware was used")
    m = _asked(METRIC, question)
    if m is not None and not {_norm(w) for w in m.group(1).split()} & {_norm(w) for w in NOT_A_METRIC}:
        metric = m.group(2).lower()
        return FactAsk("number", _clause(question, m.start()), metric=metric)
    return None


def _numbers(tokens: list[str]) -> list[int]:
    """Positions of the tokens that are counts or amounts: '2,690', '57.4%', '7B', 'four', 'million'. A number
    right after a capitalised word is part of a name ('RTX 3090', 'Table 1') and not counted."""
    out = []
    for i, tok in enumerate(tokens):
        low = tok.lower().rstrip(".,")
        if low in COUNT_WORDS:
            out.append(i)
        elif NUMERAL.fullmatch(low) and not (i > 1 and any(c.isupper() for c in tokens[i - 1])):
            out.append(i)
    return out


def states(ask: FactAsk, sentence: str) -> bool:
    """Does sentence state the kind of fact asked (a count with its unit, a model of GPU, an organisation, a
    licence)? Lexical, so it errs towards 'stated' on sentences full of numbers."""
    if ask.kind == "hardware":
        return HARDWARE.search(sentence) is not None
    if ask.kind == "affiliation":
        return ORGANISATION.search(sentence) is not None
    if ask.kind == "licence":
        return LICENCE.search(sentence) is not None
    tokens = TOKEN.findall(sentence)
    nums = _numbers(tokens)
    if not nums:
        return False
    if ask.metric:
        words = {_norm(t) for t in tokens}
        if any(_norm(w) in words for w in re.split(r"[\s-]+", ask.metric)):
            return True
        return ask.metric.split()[-1] in PERCENT_METRICS and any(tokens[i].rstrip(".,").endswith("%") for i in nums)
    if not ask.units:
        return True
    normed = [_norm(t) for t in tokens]
    for i in nums:
        tok = tokens[i].lower().rstrip(".,")
        if ask.units & {"parameter"} and re.fullmatch(r"\d+(?:\.\d+)?[mbt]", tok):
            return True  # "7B" is a number of parameters
        if ask.units & set(normed[i + 1: i + 1 + WINDOW]):
            return True
        if tok.rstrip("smhd") != tok and ask.units & TIME_UNITS and re.fullmatch(r"[\d.,]+(?:ms|s|h|min)", tok):
            return True  # "7s", "5h"
    return False


def subject_lacks(names: list[str], title: str, text: str) -> list[str]:
    """The question's names that neither the paper's title nor its abstract contains: a fact asked about them
    ("its accuracy on ImageNet") is not a fact of this abstract."""
    hay = surface_key(title) + " " + surface_key(text)
    return [n for n in names if surface_key(n) and surface_key(n) not in hay]


@dataclass(frozen=True)
class FactCheck:
    """What a question asks of one paper, and where its abstract states it."""

    ask: FactAsk | None  # None: the question asks no kind of fact
    stating: tuple[int, str] | None = None  # (position, sentence) of the abstract that states it; None: not stated


def check(question: str, title: str, abstract: str, names: list[str], preferred: set[int] = frozenset()) -> FactCheck:
    """Does the paper's abstract state the kind of fact the question asks? names: the question's names the corpus
    has (a name the paper lacks means the fact asked is not its own); preferred: positions of sentences already
    in the answer, chosen first among those that state it."""
    ask = asked_fact(question)
    if ask is None:
        return FactCheck(None)
    stating = [(i, s) for i, s in enumerate(split_sentences(abstract)) if states(ask, s)]
    if not stating or subject_lacks(names, title, abstract):
        return FactCheck(ask)
    return FactCheck(ask, next(((i, s) for i, s in stating if i in preferred), stating[0]))


def say_unstated(ask: FactAsk, title: str) -> str:
    """'The abstract of “T” does not state how many GPUs; the sentences below are what it says.'"""
    return f"The abstract of “{title}” does not state {ask.what}; the sentences below are what it does say."


# ---------------------------------------------------------------- facts of an answer sentence (LLM mode)

def values(text: str) -> set[float]:
    """Every number text states, as a value: '2,690' -> 2690, '1.69M' and '1.69 million' -> 1690000, 'four' -> 4,
    '57.4%' -> 57.4."""
    tokens = TOKEN.findall(text)
    out: set[float] = set()
    for i, tok in enumerate(tokens):
        low = tok.lower().rstrip(".,")
        nxt = tokens[i + 1].lower() if i + 1 < len(tokens) else ""
        if low in WORD_VALUES:
            v = WORD_VALUES[low]
            out.add(float(v * MULTIPLIER.get(nxt, 1)) if v < 100 else float(v))
            continue
        m = NUMERAL.fullmatch(low)
        if not m:
            continue
        try:
            v = float(m.group(1).replace(",", ""))
        except ValueError:
            continue
        out.add(v)
        mult = MULTIPLIER.get(m.group(2) or "") or MULTIPLIER.get(nxt)
        if mult:
            out.add(v * mult)
    return out


def digit_facts(sentence: str) -> list[str]:
    """The numbers a sentence writes in digits ('57.4%', '2,690', '7B'), the facts a model can get wrong; numbers
    in words ('two papers') are left alone, and so are those inside names ('GPT-4', 'Llama 3')."""
    text = ENUMERATOR.sub(" ", strip_citation_marks(sentence))  # "1. The authors ...", "(2) it ...": list marks
    tokens = TOKEN.findall(text)
    return [tokens[i].rstrip(".,") for i in _numbers(tokens) if tokens[i][:1].isdigit()]


def missing_facts(sentence: str, cited_text: str, question: str = "") -> list[str]:
    """The sentence's numbers and hardware that the cited text (abstracts, titles, dates) does not state; numbers
    the question itself gave are not the model's facts."""
    known = values(cited_text) | values(question)
    out = []
    for fact in digit_facts(sentence):
        vals = values(fact)
        if vals and not vals & known:
            out.append(fact)
    known_hw = {surface_key(h) for h in HARDWARE.findall(cited_text + " " + question)}
    out += [h for h in dict.fromkeys(HARDWARE.findall(sentence)) if surface_key(h) not in known_hw]
    return out
