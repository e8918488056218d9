"""A local server as a subprocess (Chroma, llama.cpp): started on a free port, awaited, stopped by its PID.

Used by the tests, the benchmarks and `rag serve-llm`. Nothing here imports the servers' own packages.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on host:port (binding it fails)."""
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


class ServerProcess:
    """A command that serves HTTP on 127.0.0.1:port; ready when `ready_url` answers 200. Subclasses give
    `command()` and `ready_path`. Output goes to `log` (a file), or to this process's stderr if None."""

    name = "server"
    ready_path = "/"

    def __init__(self, port: int | None = None, log: Path | None = None, host: str = "127.0.0.1") -> None:
        self.host, self.port, self.log = host, port or free_port(), log
        self.url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{self.port}"
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        """The argv that starts the server."""
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        """The server's environment."""
        return dict(os.environ)

    def start(self, timeout: float = 30.0) -> ServerProcess:
        """Start the server and wait until it answers on ready_path."""
        if self.log is None:  # its output to our stderr: stdout stays ours (e.g. for what to export)
            self.proc = subprocess.Popen(self.command(), stdout=2, env=self.env())
        else:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log, "ab") as out:
                self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT, env=self.env())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout} s: {self.log_tail()}")

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the server's log (for error messages)."""
        if self.log is None or not self.log.exists():
            return "(no log)"
        return self.log.read_text(errors="replace")[-chars:]

    def running(self) -> bool:
        """Whether the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL by PID, at once (to test what a crash does to a client)."""
        if self.running():
            self.proc.kill()  # type: ignore[union-attr]
            self.proc.wait(timeout=10)  # type: ignore[union-attr]

    def stop(self) -> None:
        """Terminate the server by its PID (kill it if it does not exit)."""
        if not self.running():
            return
        self.proc.terminate()  # type: ignore[union-attr]
        try:
            self.proc.wait(timeout=10)  # type: ignore[union-attr]
        except subprocess.TimeoutExpired:
            self.kill()
