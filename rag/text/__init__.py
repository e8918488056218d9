"""Pure text functions shared by every stage: BM25 terms, sentences, citation marks, dates, LLM token counts."""
