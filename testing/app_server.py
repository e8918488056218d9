"""The app as a subprocess (`rag serve`) on 127.0.0.1, for the tests and the latency benchmark."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rag.llm.process import ServerProcess

ROOT = Path(__file__).resolve().parent.parent


class AppServer(ServerProcess):
    """`rag serve --port PORT [extra_args]` on the index in home, offline (no LLM), analytics off."""

    name = "rag serve"
    ready_path = "/"

    def __init__(self, home: Path, log: Path, port: int | None = None, env: dict[str, str] | None = None,
                 extra_args: tuple[str, ...] = ()) -> None:
        super().__init__(port, log)
        self.home, self.extra_env, self.extra_args = home, env or {}, extra_args

    @property
    def ready_url(self) -> str:
        """The page's URL (with a trailing slash)."""
        return self.url + "/"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "rag.cli", "serve", "--port", str(self.port), *self.extra_args]

    def env(self) -> dict[str, str]:
        """RAG_* variables of the caller's shell are not passed on (only RAG_HOME)."""
        run_env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
        run_env.update(RAG_HOME=str(self.home), OPENAI_API_KEY="", OPENAI_BASE_URL="",
                       GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1",
                       PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), run_env.get("PYTHONPATH")])))
        run_env.update(self.extra_env)
        return run_env


def app_process(home: Path, log: Path, port: int | None = None, env: dict[str, str] | None = None,
                extra_args: tuple[str, ...] = ()) -> AppServer:
    """The app server (not started yet: call .start()); its page is at `.ready_url`."""
    return AppServer(home, log, port, env, extra_args)
