"""rag: cited question answering over Hugging Face Daily Papers abstracts.

Import nothing heavy here: the CLI must start fast.
"""

__version__ = "0.1.0"
