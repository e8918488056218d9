"""Papers -> chunks -> embeddings -> store: chunking, the incremental pipeline and the ingest lock."""
