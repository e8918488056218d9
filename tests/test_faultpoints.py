"""rag/faultpoints.py: the named points the crash tests kill and pause an ingest at (tests/test_ingest_kill.py).

The points the code calls are the ones POINTS lists (a misspelt point would never fire, and its crash test would
only find out as "finished before the kill"); a point fires at its nth arrival and never without the variable.
"""

from __future__ import annotations

import ast
import signal
import subprocess
import sys
from pathlib import Path

from rag.faultpoints import KILL_AT, PAUSE_AT, PAUSE_FILE, POINTS
from testing.cli import cli_env

ROOT = Path(__file__).resolve().parent.parent


def called_points() -> dict[str, list[str]]:
    """point -> the modules of rag/ that call checkpoint(point)."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "rag").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "checkpoint":
                assert isinstance(node.args[0], ast.Constant), f"{path}: checkpoint() needs a literal name"
                found.setdefault(node.args[0].value, []).append(str(path.relative_to(ROOT)))
    return found


def test_the_code_calls_exactly_the_listed_points_once_each():
    called = called_points()
    assert sorted(called) == sorted(POINTS)
    assert all(len(modules) == 1 for modules in called.values()), called


PROGRAM = """
from rag.faultpoints import checkpoint
for i in range(3):
    print(i, flush=True)
    checkpoint("ingest:batch-stored")
print("done", flush=True)
"""


def run(env: dict[str, str], tmp_path: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PROGRAM], env=cli_env(tmp_path, env), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_nothing_happens_without_the_variable(tmp_path):
    out, _ = run({}, tmp_path).communicate(timeout=60)
    assert out.split() == ["0", "1", "2", "done"]


def test_a_kill_lands_at_the_nth_arrival(tmp_path):
    for spec, printed in (("ingest:batch-stored", ["0"]), ("ingest:batch-stored:2", ["0", "1"]),
                          ("ingest:batch-stored:9", ["0", "1", "2", "done"]), ("ingest:marker-set", None)):
        proc = run({KILL_AT: spec}, tmp_path)
        out, _ = proc.communicate(timeout=60)
        if printed is None:  # another point: never fires
            assert proc.returncode == 0 and out.split()[-1] == "done"
            continue
        assert out.split() == printed, spec
        assert proc.returncode == (0 if "done" in printed else -signal.SIGKILL), spec


def test_a_pause_holds_until_the_file_exists(tmp_path):
    go = tmp_path / "go"
    proc = run({PAUSE_AT: "ingest:batch-stored:2", PAUSE_FILE: str(go)}, tmp_path)
    said = proc.stderr.readline()  # blocks until it pauses: no timing involved
    assert said.startswith(f"{PAUSE_AT}: paused at ingest:batch-stored (pid {proc.pid})")
    assert proc.poll() is None  # still there, after its second arrival
    go.touch()
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.split() == ["0", "1", "2", "done"]
