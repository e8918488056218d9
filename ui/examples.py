"""The example questions a first-time visitor is offered: the empty chat shows them all, the Compare tab its
comparison one. Hand-written about papers in the seed corpus; tests/test_ui_compare.py checks that each is answered
(not abstained) with citations, and the comparison one with a table of several papers."""

COMPARE = "Which papers tackle serving thousands of LoRA adapters, and what does each report?"
CHAT = [
    "How does vLLM use PagedAttention to reduce KV cache memory waste?",
    "How does speculative decoding speed up LLM inference?",
    "How do diffusion models generate videos from text?",
    COMPARE,
]
