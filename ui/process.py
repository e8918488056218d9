"""The app as a subprocess (`rag serve`) on 127.0.0.1, for the tests and the latency benchmark."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rag.server_process import ServerProcess, free_port

ROOT = Path(__file__).resolve().parent.parent


def app_process(home: Path, log: Path, port: int | None = None, env: dict[str, str] | None = None,
                extra_args: tuple[str, ...] = ()) -> ServerProcess:
    """`rag serve --port PORT [extra_args]` on the index in home, offline (no LLM), analytics off; .start() it.

    Its URL is `.ready_url`. RAG_* variables of the caller's shell are not passed on (only RAG_HOME).
    """
    port = port or free_port()
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    run_env.update(RAG_HOME=str(home), OPENAI_API_KEY="", OPENAI_BASE_URL="", GRADIO_ANALYTICS_ENABLED="False",
                   HF_HUB_OFFLINE="1", PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), run_env.get("PYTHONPATH")])))
    run_env.update(env or {})
    return ServerProcess([sys.executable, "-m", "rag.cli", "serve", "--port", str(port), *extra_args],
                         f"http://127.0.0.1:{port}/", log, run_env, "rag serve")
