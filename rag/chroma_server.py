"""A local `chroma run` server as a subprocess, for the tests and the scale benchmark (stopped by PID).

It runs the `chroma` command installed with chromadb in the same environment; nothing here imports chromadb.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rag.server_process import ServerProcess, free_port

__all__ = ["ChromaServer", "free_port", "vm_hwm_mb"]


class ChromaServer:
    """`chroma run --path PATH --host 127.0.0.1 --port PORT`, started and stopped by PID."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path, self.port = path, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = path.parent / f"chroma-{self.port}.log"
        chroma = Path(sys.executable).parent / "chroma"  # installed with chromadb in the same venv
        self.server = ServerProcess(
            [str(chroma), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
            f"{self.url}/api/v2/heartbeat", self.log, {**os.environ, "ANONYMIZED_TELEMETRY": "False"}, "chroma run")

    @property
    def proc(self) -> subprocess.Popen | None:
        return self.server.proc

    def start(self, timeout: float = 30.0) -> ChromaServer:
        """Start the server and wait until it answers its heartbeat."""
        self.server.start(timeout)
        return self

    def peak_rss_mb(self) -> float:
        """The server process's peak resident memory so far (VmHWM), in MB; 0 when it is not running."""
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        return vm_hwm_mb(self.proc.pid)

    def stop(self) -> None:
        """Terminate the server by its PID (kill it if it does not exit)."""
        self.server.stop()


def vm_hwm_mb(pid: int | str = "self") -> float:
    """Peak resident memory (VmHWM) of a process, in MB (Linux /proc; 0 elsewhere)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
