"""Question -> ranked Hits: the hybrid retriever (dense + BM25, fused per paper) and the paper catalogue."""
