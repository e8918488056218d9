"""`python -m rag.cli ARGS`: the same as the `rag` console script."""

import sys

from rag.cli import main

if __name__ == "__main__":
    sys.exit(main())
