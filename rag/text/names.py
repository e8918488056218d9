"""Names in a question (methods, models, datasets: "LongRoPE", "Segment Anything", "Llama 4", "GPT-4o") and
where they occur in a set of texts, by surface form: case-folded, hyphens, spaces and dots ignored, so
"FlashAttention", "Flash-Attention" and "flash attention" are one name, and "Llama 3.1" matches "Llama-3.1".

The BM25 vocabulary cannot answer "does the corpus mention X?": it is stemmed, drops one-character tokens and
splits versions. Pure functions; the corpus-wide lookup is rag/store/surface.py SurfaceIndex.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

TOKEN = re.compile(r"[A-Za-z0-9]+")
# Generic acronyms and capitalised words that name no method: "How does an LLM ...", "in English".
GENERIC = frozenset(
    "ai llm llms nlp gpu gpus cpu cpus tpu tpus ram dram sram ssd ssds hdd rl api apis ml cnn cnns rnn rnns vlm vlms mllm mllms qa ocr asr "
    "tts sql kv moe ner pdf pdfs url urls gan gans vae vaes lm lms sota ie id ids io ui ux os rag "
    "i a an the is are was were do does did how what which who whom whose why when where can could should would "
    "will may might must has have had in on of for to and or but not no yes if then than with without by from "
    "as at be it its this that these those there here any some all each every more most less least about into "
    "over under between within across using via compared versus vs tell explain describe show give list name "
    "english chinese french german japanese spanish korean arabic hindi russian "
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday "
    "paper papers work study method model models approach approaches dataset datasets benchmark benchmarks "
    "transformer transformers".split()
)
# a quoted term: in double quotes, or in single quotes that are not apostrophes (a quote mark touching a letter on
# its outer side is one: "a phone's or edge box's DRAM" quotes nothing)
QUOTED = re.compile(r"[\"“”]([^\"“”]{2,60})[\"“”]|(?<![A-Za-z0-9])['‘]([^'‘’\"“”]{2,60})['’](?![A-Za-z0-9])")
MAX_PARTS = 4  # longest name, in tokens
# "o1-style", "LLM-powered", "DiLoCo-based": the name is the part before the suffix
SUFFIX = re.compile(r"[-‐](?:style|like|based|powered|driven|aware|free|level|scale|sized|only|specific|inspired|guided|"
                    r"centric|friendly|type|class|family|series|generated|tuned|finetuned|enabled|compatible)$",
                    re.IGNORECASE)
SIZE = re.compile(r"\d+(\.\d+)?[bmkt]?")  # "7B", "2": a size or a number alone names nothing


@dataclass(frozen=True)
class Name:
    """A name as the question wrote it, and its surface key."""

    text: str
    key: str


def surface_key(text: str) -> str:
    """Case-folded alphanumerics of text, joined: the form every spelling of a name shares."""
    return "".join(t.lower() for t in TOKEN.findall(text))


def is_name_token(tok: str) -> bool:
    """Name-shaped on its own: inner capitals (LoRA, MoE), letters with digits (T5, GPT4o), or an acronym."""
    if tok.lower() in GENERIC:
        return False
    has_digit, has_alpha = any(c.isdigit() for c in tok), any(c.isalpha() for c in tok)
    return (has_digit and has_alpha) or (len(tok) >= 2 and any(c.isupper() for c in tok[1:]))


NAME_WORD = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")


def name_keys(texts: list[str]) -> set[str]:
    """Surface keys of every name-shaped word of the texts ("RingAttention", "LLaMA-Adapter", "GPTQ"), a text at a
    time (one string of all of them and one list of every word took ~2 GB at 100k abstracts)."""
    words: set[str] = set()
    for text in texts:
        words.update(NAME_WORD.findall(text))
    return {w.replace("-", "").lower() for w in words if is_name_token(w.replace("-", ""))}


def question_names(question: str) -> list[Name]:
    """The names a question asks about, in order, each once: name-shaped tokens with what is joined to them by
    hyphens or a version number ("Phi-4", "Llama 3.1", "GPT-4o mini" -> "GPT-4o"), runs of capitalised words
    not at the start of a sentence ("Segment Anything", "Constitutional AI"), and quoted terms."""
    found: list[str] = [(m.group(1) or m.group(2)).strip() for m in QUOTED.finditer(question)]
    text = QUOTED.sub(" ", question)
    # words with their joiners: "Llama-3.1", "GPT-4o", "Phi-4"
    words = list(re.finditer(r"[A-Za-z0-9]+(?:[-.][A-Za-z0-9]+)*", text))
    i = 0
    while i < len(words):
        w = words[i].group()
        start_of_sentence = i == 0 or re.search(r"[.?!:;]\s*$", text[: words[i].start()]) is not None
        parts = re.split(r"[-.]", w)
        shaped = any(is_name_token(p) for p in parts)
        capital = w[0].isupper() and w.lower() not in GENERIC
        if len(parts) > 1 and parts[0].lower() in GENERIC and all(p.islower() or p.lower() in GENERIC for p in parts[1:]):
            shaped = capital = False  # "LLM-simulated", "GPU-friendly", "Chinese-English": generic words joined
        if shaped or (capital and not start_of_sentence):
            j = i + 1
            run = [w]
            while j < len(words) and len(run) < MAX_PARTS:
                nxt = words[j].group()
                between = text[words[j - 1].end(): words[j].start()]
                if between.strip() not in ("", "-"):
                    break
                if (nxt == "of" and capital and j + 1 < len(words) and words[j + 1].group()[0].isupper()
                        and text[words[j].end(): words[j + 1].start()] == " "
                        and words[j + 1].group().lower() not in GENERIC):
                    run += [nxt, words[j + 1].group()]  # "Tree of Thoughts", "Mixture of Depths"
                    j += 2
                elif (nxt[0].isupper() and nxt.lower() not in GENERIC or re.fullmatch(r"\d+(\.\d+)*", nxt)
                        or re.fullmatch(r"\d+(\.\d+)?[A-Za-z]{1,2}", nxt)):  # "Mistral 7B", "Llama 3.1", "GPT 4o"
                    run.append(nxt)
                    j += 1
                elif nxt.lower() in GENERIC and nxt[0].isupper() and (capital or shaped):
                    run.append(nxt)  # "Constitutional AI", "DeepSpeed MoE", "Switch Transformer"
                    j += 1
                else:
                    break
            if shaped or len(run) > 1 or capital:
                found.append(" ".join(run))
            i = j
        else:
            i += 1
    out: list[Name] = []
    seen: set[str] = set()
    for text_ in found:
        text_ = SUFFIX.sub("", text_)
        key = surface_key(text_)
        if key and key not in seen and key not in GENERIC and not SIZE.fullmatch(key):
            seen.add(key)
            out.append(Name(text_, key))
    return out


STOP = frozenset(
    "about above after again against all also am an and any are as at be because been before being below between "
    "both but by can could did do does doing down during each few for from further had has have having he her here "
    "hers him his how i if in into is it its itself just me more most my no nor not now of off on once only or other "
    "our out over own same she should so some such than that the their them then there these they this those "
    "through to too under until up very was we were what when where which while who whom why will with would you "
    "your use used uses using work works make makes made get gets way ways new one two".split())


def _written_as_name(spelling: str) -> bool:
    """'RingAttention', 'LLaMA-Adapter', 'Ring-Attention', 'Ring Attention': a name-shaped part, or two or more
    words all capitalised; not 'Top-1', '4-bit' or a lone capitalised word ('Adam', which may just start a
    sentence). Read from abstracts only: title case would capitalise every word."""
    parts = [p for p in re.split(r"[\s-]", spelling) if p]
    return any(is_name_token(p) for p in parts) or (len(parts) > 1 and all(p[0].isupper() for p in parts))


def lowercase_names(question: str, spellings: Callable[[list[str]], list[str]], taken: set[str] = frozenset(),
                    longest: int = 3) -> list[Name]:
    """Names typed in lower case that the corpus writes as names ("ring attention" for RingAttention, "gptq" for
    GPTQ): runs of up to `longest` lower-case words whose every spelling in the corpus (spellings(words)) is
    mostly name-shaped as one token (inner capitals, digits or an acronym: "LoRA", and once "Lora"). A word the
    corpus also writes in lower case ("clip" beside CLIP), or only capitalises ("Adam", "Bayesian"), is left
    alone. taken: keys already found."""
    words = [m.group() for m in re.finditer(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*", question)]
    out: list[Name] = []
    i = 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            run = words[i: i + n]
            if not all(w.islower() for w in run) or run[0] in STOP or run[-1] in STOP or any(
                    w in GENERIC for w in run):
                continue
            key = surface_key(" ".join(run))
            if key in taken or SIZE.fullmatch(key) or len(key) < 3:
                continue
            parts = [p for w in run for p in w.split("-")]
            seen = spellings(parts)
            # a short acronym is often an English word too ("cap" for CAP): three letters are not enough
            short_acronym = len(parts) == 1 and len(key) < 4 and all(s.isupper() for s in seen)
            # mostly written as a name, never in lower case: "LoRA" (and one "Lora") yes, "CLIP" beside "clips" no
            named = sum(_written_as_name(s) for s in seen)
            if seen and 2 * named > len(seen) and not any(s.islower() for s in seen) and not short_acronym:
                out.append(Name(" ".join(run), key))
                taken = taken | {key}
                i += n - 1
                break
        i += 1
    return out


