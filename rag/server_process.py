"""A server as a subprocess on 127.0.0.1: started, waited for until a URL answers, stopped by its PID.

Used for the `chroma run` server and the app (`rag serve`) in the tests and benchmarks.
"""

from __future__ import annotations

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


class ServerProcess:
    """One command that serves HTTP; ready when `ready_url` answers 200. Output goes to `log`."""

    def __init__(self, args: list[str], ready_url: str, log: Path, env: dict[str, str] | None = None,
                 name: str = "server") -> None:
        self.args, self.ready_url, self.log, self.env, self.name = args, ready_url, log, env, name
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> ServerProcess:
        """Start the command and wait until ready_url answers (RuntimeError with the log's tail if not)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.ready_url, timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        """Terminate the process by its PID (kill it if it does not exit)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
