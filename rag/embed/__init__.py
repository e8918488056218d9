"""Embedders behind one interface (a name, a dimension, embed(texts) -> unit vectors) and their cache."""
