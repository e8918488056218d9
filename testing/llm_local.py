"""llama.cpp's server with the bundled SmolLM2-135M, for the tests that need a real local LLM."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def local_llm_server(log_dir: Path, **options: Any) -> Any:
    """A LocalLLMServer (options: its keyword arguments), not started. Skips the test when the llm-local extra
    is missing, except in CI (CI=true), where scripts/test.sh installs it: there it fails."""
    import pytest

    from rag.errors import ConfigError
    from rag.llm.server import LocalLLMServer

    try:
        return LocalLLMServer(log=log_dir / "llama-server.log", **options)
    except ConfigError as e:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"{e.message}; {e.hint}")
