"""Does a question ask about several papers ("which papers ...", "an overview of approaches to ...", "what do
different teams report ...")? Such a question is answered paper by paper: every paper that answers it gets its
own cited entry (rag/answer/answerer.py, rag/answer/extractive.py).

Phrasings, not a model: each pattern below is one way people ask for several papers. Deliberately narrow where
the same words also ask about one paper: "each layer / expert" (parts of one model), "compare with existing
methods" (one paper's baselines), "which techniques does FlashAttention combine" (one system's parts).
Measured on 240 questions written for it by a helper that never saw these patterns (docs/evaluation.md).
"""

from __future__ import annotations

import re

_PAPERS = r"(?:papers|works|studies|articles|publications)"
_KINDS = (r"(?:approaches|methods|techniques|systems|efforts|frameworks|benchmarks|solutions|strategies|schemes|"
          r"algorithms|architectures|recipes)")
_COUNT = r"(?:one|two|three|four|five|both|\d+)"
_PART = (r"(?:layer|token|head|expert|step|agent|model|input|query|request|sample|task|node|gpu|device|user|turn|word|"
         r"patch|frame|image|block|stage|iteration|round|question|document|position|dimension|channel|neuron|"
         r"parameter|weight|component|module|branch|level|group|client|worker)s?")
_WHO = r"(?:people|teams|groups|labs|practitioners|researchers|authors|others)"
_BODY = rf"(?:{_PAPERS}|{_KINDS}|work|research|literature)"
# a baseline of one paper: "compare with existing methods", "improve over prior work"
_NOT_BASELINE = (r"(?<!with )(?<!over )(?<!than )(?<!to )(?<!against )(?<!beyond )(?<!beat )(?<!beats )"
                 r"(?<!outperform )(?<!outperforms )(?<!on )")

PATTERNS = (
    # "which recent papers", "what works"
    rf"\b(?:which|what)\s+(?:[\w-]+,?\s+){{0,4}}?{_PAPERS}\b",
    # "which methods cut ...", not "which two techniques" (of one paper) nor "which techniques does X combine"
    rf"\b(?:which|what)\s+(?:(?!{_COUNT}\b)[\w-]+\s+){{0,2}}?{_KINDS}\s+(?:(?!is\b|does\b|did\b)[\w-]+\s+)?"
    rf"(?!is\b|does\b|did\b)\w+",
    r"\b(?:compare|contrast)\b(?!\s+(?:with|to|against)\b)",
    r"^\s*(?:please\s+)?(?:list|name|survey|round\s+up|catalog(?:ue)?|enumerate|outline|compile|gather|trace)\b",
    rf"^\s*(?:please\s+)?(?:show|give|find|recommend|summari[sz]e|point)\s+(?:me\s+)?(?:to\s+)?(?:[\w-]+\s+){{0,3}}?"
    rf"(?:{_BODY}|examples|options)\b",
    rf"\b{_PAPERS}\s+(?:that|which|on|about|in|proposing|comparing|use|report|show|find|claim|agree|disagree|differ)\b",
    rf"\b(?:recent|several|various|different|other)\s+{_PAPERS}\b",
    # "papers proposing ...", "approaches to ...", "examples of ...", "ways to ..." opening the question
    rf"^\s*(?:[\w-]+\s+){{0,4}}?(?:{_PAPERS}|{_KINDS}|examples|ways)\s+(?:to|for|of|on|that|proposing|comparing)\b",
    # "different systems", "existing methods", "the various KV cache quantization methods", "different ways"
    rf"{_NOT_BASELINE}\b(?:different|various|existing|several|multiple)\s+(?:[\w-]+\s+){{0,3}}?(?:{_KINDS}|{_PAPERS}|ways)\b",
    rf"\bwhat\s+(?:are|were)\s+(?:the\s+)?(?:main\s+|common\s+|different\s+)?(?:ways|{_KINDS})\b",
    r"\bwhat\s+are\s+(?:the|my|some)\s+(?:main\s+)?(?:options|alternatives|choices)\b",
    r"\bwhat(?:'s|\s+has|\s+have)\s+been\s+(?:tried|done|proposed|published|compared|explored|reported|shown|found)\b",
    r"\bwhat\s+[\w-]+\s+(?:has|have)\s+been\s+(?:reported|found|shown|claimed|achieved)\b",
    r"\bwho\s+(?:has|have)\s+(?:worked|studied|proposed|looked|explored|tackled|investigated|addressed|done|published)\b",
    # "what do researchers / different teams report", "how are different groups handling", "do studies agree"
    rf"\b(?:have|do|did|are)\s+(?:different\s+|other\s+|various\s+)?(?:{_WHO}|{_PAPERS}|groups)\b",
    rf"\b(?:different|various|several|multiple|other)\s+{_WHO}\b",
    rf"\bhow\s+(?:do|have|did|can)\s+(?:people|teams|groups|labs|practitioners|others)\b",
    # "an overview of approaches", "... : overview?", "the landscape of", "lines of research", "state of the art in"
    rf"\boverview\s+of\s+(?:the\s+)?(?:[\w-]+\s+){{0,4}}?{_BODY}\b|\boverview\s*\??\s*$",
    r"\b(?:landscape|state\s+of\s+the\s+art)\s+(?:of|in|for)\b|\blines?\s+of\s+(?:research|work)\b"
    r"|\bbody\s+of\s+(?:work|research|literature)\b|\b(?:research\s+)?directions\s+(?:are|have)\b",
    rf"\b(?:survey|summar(?:y|ize|ise))\s+(?:of\s+)?(?:the\s+)?(?:work|research|literature|{_PAPERS})\b",
    r"\bwhat\s+should\s+I\s+(?:cite|read)\b|\b(?:main|key|seminal)\s+papers\b|\brelated[- ]work\b",
    # "are there papers ...", "is there any work", "any recent efforts"
    rf"\b(?:are\s+there|is\s+there\s+any|any)\s+(?:[\w-]+\s+){{0,2}}?(?:{_PAPERS}|{_KINDS}|work|research|efforts)\b",
    r"\bwhat\s+(?:options|alternatives|solutions|ideas|tricks|strategies)\b(?!\s+(?:does|did|is|was)\b)",
    # "how does each ...", "what does each report", "summarize each paper"; not "each layer / expert / token"
    rf"\b(?:how|what)\s+(?:does|did|do)\s+each(?=\s*[?,.;]|\s+(?:one|of|approach|method|paper|system|work|technique|study)\b"
    rf"|\s+(?!{_PART}\b)\w+\s*(?:[?,.;]|(?:the|their|its|a|an|this|that|these|it|them)\b))",
    r"\beach\s+(?:paper|study|work|approach|method|system|technique)\b",
    # plural subjects: "how do sparse attention methods cut memory", "what accuracy do 4-bit schemes keep"
    rf"\b(?:how|what|which)\s+(?:[\w-]+\s+){{0,2}}?(?:do|did|have)\s+(?:the\s+)?(?:[\w-]+\s+){{0,3}}?{_KINDS}\s+(?!is\b)\w+",
    rf"\bsome\s+(?:recent\s+)?(?:{_PAPERS}|{_KINDS})\b",
    # "across papers", "per recent work", "in recent research"; not "in papers from May 2024, which ..." (a date)
    rf"{_NOT_BASELINE}\b(?:across|per)\s+(?:recent\s+|prior\s+|published\s+)?(?:work|research|{_PAPERS}|literature)\b",
    rf"{_NOT_BASELINE}\bin\s+(?:recent|prior|published)\s+(?:work|research|{_PAPERS}|literature)\b",
    rf"{_NOT_BASELINE}\b(?:recent|published)\s+(?:work|research)\b|\b(?:the|recent)\s+literature\b",
    r"\bwhat\s+(?:is|has\s+been)\s+(?:known|reported|found|shown)\s+about\b",
)
MANY = re.compile("|".join(PATTERNS), re.IGNORECASE)


def asks_many(question: str) -> bool:
    """Whether the question asks about several papers (which answer it, what each reports)."""
    return bool(MANY.search(question))
