"""A local `chroma run` server as a subprocess, for the tests and the scale benchmark (stopped by PID).

It runs the `chroma` command installed with chromadb in the same environment; nothing here imports chromadb.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rag.llm.process import ServerProcess, free_port
from testing.memory import vm_hwm_mb

__all__ = ["ChromaServer", "free_port", "vm_hwm_mb"]


class ChromaServer(ServerProcess):
    """`chroma run --path PATH --host 127.0.0.1 --port PORT`, started and stopped by PID."""

    name = "chroma run"
    ready_path = "/api/v2/heartbeat"

    def __init__(self, path: Path, port: int | None = None) -> None:
        super().__init__(port)
        self.path = path
        self.log = path.parent / f"chroma-{self.port}.log"

    def command(self) -> list[str]:
        chroma = Path(sys.executable).parent / "chroma"  # installed with chromadb in the same venv
        return [str(chroma), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)]

    def env(self) -> dict[str, str]:
        return {**os.environ, "ANONYMIZED_TELEMETRY": "False"}

    def peak_rss_mb(self) -> float:
        """The server process's peak resident memory so far (VmHWM), in MB; 0 when it is not running."""
        return vm_hwm_mb(self.proc.pid) if self.running() else 0.0  # type: ignore[union-attr]
