"""(question, history) -> Answer with validated citations: question cleaning, follow-ups, abstention,
extractive and LLM answers, citation filtering and support checks."""
