"""SIGKILL real `rag ingest` subprocesses and check that a rerun leaves exactly what a clean ingest leaves.

For tests/test_ingest_kill.py and bench/ingest_kill.py. An ingest is killed at a NAMED POINT (rag/faultpoints.py:
with RAG_TEST_KILL_AT it SIGKILLs itself there, the same place on any machine), or, in the benchmark, at a time
after its start. `kill_case` kills one, tells where it stopped by what it left (`phase`), opens a Retriever on
the half-written home (`probe`), reruns the ingest and compares the home with the clean one (`differences`;
those three are testing/recovery.py's).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from rag.faultpoints import KILL_AT, PAUSE_AT, PAUSE_FILE
from testing.cli import cli_env
from testing.recovery import differences, drop_chroma_clients, phase, probe, snapshot
from testing.seeds import SEEDS, open_store

Kill = Union[str, float]  # a named point ("ingest:batch-stored:3"), or seconds after the start


def settings_for(home: Path, **kw: Any) -> Any:
    """Settings of a home (the real seeds, no .env), as the ingest subprocess sees them."""
    from rag.config import Settings

    return Settings(_env_file=None, home=home, seeds=SEEDS, **kw)


def env_for(home: Path, kw: dict[str, Any], extra: dict[str, str] | None = None) -> dict[str, str]:
    """The subprocess environment: no RAG_* of ours but RAG_HOME, RAG_SEEDS and kw as RAG_ variables."""
    env = {"RAG_SEEDS": str(SEEDS), "HF_HUB_OFFLINE": "1", **{f"RAG_{k.upper()}": str(v) for k, v in kw.items()}}
    return cli_env(home, {**env, **(extra or {})})


def start(home: Path, kw: dict[str, Any], *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`python -m rag.cli ingest --json ARGS` in the background."""
    return subprocess.Popen([sys.executable, "-m", "rag.cli", "ingest", "--json", *args], cwd=str(home.parent),
                            env=env_for(home, kw, env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def summary_of(stdout: str) -> dict:
    """The JSON summary `rag ingest --json` printed last ({} if none)."""
    try:
        return json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else {}
    except json.JSONDecodeError:
        return {}


def run(home: Path, kw: dict[str, Any], *args: str, env: dict[str, str] | None = None,
        timeout: float = 300) -> tuple[int, dict, str]:
    """Run an ingest to the end: (exit code, its JSON summary or {}, stderr)."""
    proc = start(home, kw, *args, env=env)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, summary_of(out), err


def kill_at(proc: subprocess.Popen, started: float, at: float) -> bool:
    """SIGKILL proc `at` seconds after `started`; False if it had already exited by then."""
    time.sleep(max(0.0, started + at - time.monotonic()))
    if proc.poll() is not None:
        proc.communicate()
        return False
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    return proc.returncode == -signal.SIGKILL


def killed(home: Path, kw: dict[str, Any], args: tuple[str, ...], kill: Kill) -> bool:
    """Run one ingest and kill it at a named point (it kills itself) or `kill` seconds after its start.
    True if it died by SIGKILL; False if it finished first (a point it never reached, or a late time)."""
    if isinstance(kill, str):
        proc = start(home, kw, *args, env={KILL_AT: kill})
        proc.communicate(timeout=300)
        return proc.returncode == -signal.SIGKILL
    return kill_at(start(home, kw, *args), time.monotonic(), kill)


class Paused:
    """An ingest held at a named point (RAG_TEST_PAUSE_AT) until `release()`; as a context manager, released
    and awaited at the end. `.proc` is the process; `.out`/`.err` its output once it has exited."""

    def __init__(self, home: Path, kw: dict[str, Any], point: str, env: dict[str, str] | None = None) -> None:
        self.go = home.parent / f"go-{point.replace(':', '-')}-{time.monotonic_ns()}"
        self.proc = start(home, kw, env={PAUSE_AT: point, PAUSE_FILE: str(self.go), **(env or {})})
        self.out = self.err = ""
        self.said = wait_for_line(self.proc, f"{PAUSE_AT}: paused at {point}")

    def release(self, timeout: float = 300) -> int:
        """Let it go on and wait for it to exit; its exit code."""
        self.go.touch()
        out, err = self.proc.communicate(timeout=timeout)
        self.out, self.err = out, self.said + err
        return self.proc.returncode

    def __enter__(self) -> Paused:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.release()


def wait_for_line(proc: subprocess.Popen, start_of_line: str) -> str:
    """Read proc's stderr up to and including the first line that starts with start_of_line (it blocks: no
    timing involved); everything read. Fails if the process exits first."""
    read = ""
    while True:
        line = proc.stderr.readline()  # type: ignore[union-attr]
        if not line:
            out, err = proc.communicate(timeout=60)
            raise AssertionError(f"exited ({proc.returncode}) before saying {start_of_line!r}: {read + err}")
        read += line
        if line.startswith(start_of_line):
            return read


@dataclass
class Row:
    """One kill point and what came of it."""

    case: str
    at: str  # the named point, or the time after the start ("4.21s")
    killed: bool
    phase: str = ""
    probe: str = ""
    recovered: bool = False
    problems: list[str] = field(default_factory=list)
    kills: int = 0  # SIGKILLs that hit a running ingest in this case (a repair case kills twice)


@dataclass
class Clean:
    """The reference home: its snapshot, chunk count and how long its ingest took."""

    home: Path
    kw: dict[str, Any]
    seconds: float
    snap: dict[str, Any]

    @property
    def total(self) -> int:
        return len(self.snap["ids"])


def clean_home(home: Path, kw: dict[str, Any]) -> Clean:
    """Ingest into home without interruption, timed from process start to exit (the benchmark's time base)."""
    t0 = time.monotonic()
    rc, _, err = run(home, kw)
    if rc != 0:
        raise RuntimeError(f"clean ingest failed: {err[-2000:]}")
    return Clean(home, kw, time.monotonic() - t0, snapshot(settings_for(home, **kw)))


def label(kill: Kill) -> str:
    return kill if isinstance(kill, str) else f"{kill:.2f}s"


def kill_case(clean: Clean, home: Path, kill: Kill, *, case: str = "first", check: bool = True,
              repair_kill: Kill | None = None, before: Path | None = None) -> Row:
    """Kill one ingest of the real seeds into home, maybe probe, rerun to the end, compare with the clean home.

    case "first": into an empty home (or a copy of `before`, a home ingested from other papers); "rebuild" and
    "rebuild-plain": `rag ingest --rebuild` of a copy of the clean home, rerun with --rebuild or without;
    "repair": repair_kill also kills the rerun that repairs the first kill's damage."""
    kw, settings = clean.kw, settings_for(home, **clean.kw)
    old = None
    args: tuple[str, ...] = ()
    if case.startswith("rebuild"):
        before, args = clean.home, ("--rebuild",)
    if before is not None:
        shutil.copytree(before, home)
    if args:
        old = str(open_store(settings).collection.id)
        drop_chroma_clients()
    row = Row(case, label(kill), killed(home, kw, args, kill))
    row.kills = int(row.killed)
    row.phase = phase(settings, clean.total, old) if row.killed else "finished before the kill"
    if repair_kill is not None:  # kill the rerun that repairs it as well
        again = killed(home, kw, (), repair_kill)
        row.kills += int(again)
        row.phase += f"; rerun killed at {label(repair_kill)}: " + (phase(settings, clean.total) if again else "finished")
    if check:
        row.probe = probe(settings)
    rc, _, err = run(home, kw, *(args if case == "rebuild" else ()))  # "rebuild-plain" reruns without --rebuild
    if rc != 0:
        row.problems = [f"rerun exited {rc}: {err.strip()[-300:]}"]
        return row
    row.problems = differences(snapshot(settings), clean.snap)
    row.recovered = not row.problems
    return row
