"""Everything on disk or on a Chroma server: paths under RAG_HOME, the Chroma collection, its faults, and the
BM25 side index kept in step with it. The only package that imports chromadb."""
