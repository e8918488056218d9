"""SIGKILL real `rag ingest` subprocesses; the rerun must leave exactly what a clean ingest leaves.

Each kill point: a fresh home, `python -m rag.cli ingest` with small write batches (RAG_INGEST_BATCH=16:
39 commit points), SIGKILL at a time spread over a measured clean run (import to exit), a Retriever on
what is left (every other point), a rerun, then a comparison with the clean home: chunk ids, documents,
metadatas, embeddings, collection metadata and marker, the BM25 mirror, search results. The functions
are bench/ingest_kill.py's, which runs many more points, also with 64-token chunks (batches that end
inside papers). Then the ingest lock: two ingests at once never interleave, and a SIGKILLed holder
never blocks the next ingest.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT))
from bench.ingest_kill import (  # noqa: E402
    Clean, Row, clean_home, differences, kill_case, run, settings_for, snapshot, spread, start,
)
from rag.store.paths import Paths  # noqa: E402

FAST = {"ingest_batch": 16}  # default chunking (one chunk a paper), many small writes: an ingest costs ~5 s
FIRST_KILLS = 6
PAPERS = 615


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Clean:
    """A clean ingest of the real seeds with FAST settings, timed, and its snapshot."""
    return clean_home(tmp_path_factory.mktemp("clean") / "home", dict(FAST))


def table(rows: list[Row]) -> str:
    return "\n".join(f"{r.case} at {r.at_s}s killed={r.killed} recovered={r.recovered} | {r.phase} | {r.probe} | "
                     f"{r.problems}" for r in rows)


def test_clean_reference_is_sane(clean):
    snap = clean.snap
    assert clean.total > 30 * FAST["ingest_batch"]  # many write batches, so many points to die between
    assert len({m["paper_id"] for m in snap["metas"]}) == PAPERS
    assert snap["collection_meta"]["content_digest"] == snap["digest"]
    assert snap["mirror"]["n"] == clean.total and snap["retriever_used_saved_mirror"]
    assert all(len(s) == 5 for s in snap["searches"])
    assert differences(snap, snap) == []


def test_sigkill_first_ingest_anywhere_then_rerun_equals_clean(clean, tmp_path):
    rows = [kill_case(clean, tmp_path / f"k{i}", at, check=i % 2 == 0)
            for i, at in enumerate(spread(FIRST_KILLS, clean.seconds, 0.2))]  # the bench covers the imports
    killed = [r for r in rows if r.killed]
    assert all(r.recovered for r in rows), table(rows)
    assert len(killed) >= FIRST_KILLS - 2, table(rows)  # the last points may land after a fast run's exit
    assert any(r.phase.startswith("writing") for r in killed), table(rows)  # some died between write batches
    assert any(r.probe.startswith("search ok") for r in rows) or any("hint" in r.probe for r in rows), table(rows)


def test_sigkill_rebuild_then_rerun_with_or_without_rebuild(clean, tmp_path):
    rows = [kill_case(clean, tmp_path / f"r{i}", at, case="rebuild" if i % 2 else "rebuild-plain", check=True)
            for i, at in enumerate(spread(2, clean.seconds, 0.5, 0.95))]
    assert all(r.recovered for r in rows), table(rows)
    assert sum(r.killed for r in rows) >= 1, table(rows)


def test_sigkill_the_rerun_that_repairs(clean, tmp_path):
    row = kill_case(clean, tmp_path / "home", 0.65 * clean.seconds, case="repair", check=True,
                    repair_at=0.6 * clean.seconds)
    assert row.recovered, table([row])
    assert row.kills >= 1, table([row])


# --------------------------------------------------------------------------- the ingest lock

def started_together(home: Path, *extra_env: dict[str, str]) -> list[tuple[subprocess.Popen, str, str]]:
    """Start one ingest per env at the same moment; (process, stdout, stderr) of each once all exit."""
    procs = [start(home, FAST, env=env) for env in extra_env]
    return [(p, *p.communicate(timeout=300)) for p in procs]


def summary_of(stdout: str) -> dict:
    import json

    return json.loads(stdout.strip().splitlines()[-1])


def test_two_ingests_at_once_the_second_waits_and_finds_the_work_done(clean, tmp_path):
    home = tmp_path / "home"
    results = started_together(home, {}, {})
    assert [p.returncode for p, _, _ in results] == [0, 0], [err for _, _, err in results]
    waited = [(p, out, err) for p, out, err in results if "waiting for another ingest" in err]
    assert len(waited) == 1, [err for _, _, err in results]  # exactly one had to wait
    (p_wait, out_wait, err_wait), = waited
    (p_work, out_work, _), = [r for r in results if r[0] is not p_wait]
    assert err_wait.count("waiting for another ingest") == 1
    assert f"(pid {p_work.pid})" in err_wait  # it names the ingest it waits for
    work, wait = summary_of(out_work), summary_of(out_wait)
    assert (work["added"], work["unchanged"]) == (PAPERS, 0)
    # The waiter began only after the first had finished: it found every paper complete (no interleaving).
    assert (wait["added"], wait["updated"], wait["removed"], wait["unchanged"]) == (0, 0, 0, PAPERS)
    assert differences(snapshot(settings_for(home, **FAST)), clean.snap) == []
    assert not Paths.of(settings_for(home)).ingest_lock.with_suffix(".pid").exists()  # the last holder cleaned up


def test_with_timeout_0_the_second_ingest_refuses_at_once(clean, tmp_path):
    home = tmp_path / "home"
    refuse = {"RAG_INGEST_LOCK_TIMEOUT": "0"}
    results = started_together(home, refuse, refuse)
    codes = sorted(p.returncode for p, _, _ in results)
    assert codes == [0, 1], [err for _, _, err in results]
    (p_ok, out_ok, _), = [r for r in results if r[0].returncode == 0]
    (_, out_no, err_no), = [r for r in results if r[0].returncode == 1]
    assert out_no == "" and "Traceback" not in err_no
    assert f"error: another ingest (pid {p_ok.pid}) is writing the index at {home}" in err_no
    assert "hint: let it finish, then run `rag ingest` again" in err_no and "RAG_INGEST_LOCK_TIMEOUT" in err_no
    assert "waiting" not in err_no  # timeout 0: refused, not waited
    assert summary_of(out_ok)["added"] == PAPERS
    assert differences(snapshot(settings_for(home, **FAST)), clean.snap) == []


def test_the_lock_of_a_sigkilled_ingest_does_not_block_the_next(clean, tmp_path):
    home = tmp_path / "home"
    pid_file = Paths.of(settings_for(home)).ingest_lock.with_suffix(".pid")
    proc = start(home, FAST)
    deadline = time.monotonic() + 120
    while not (pid_file.exists() and pid_file.read_text().strip() == str(proc.pid)):
        assert proc.poll() is None and time.monotonic() < deadline, "the ingest never took its lock"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)  # while it holds the lock
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert pid_file.read_text().strip() == str(proc.pid)  # it died holding the lock: nothing cleaned up
    t0 = time.monotonic()
    rc, summary, err = run(home, FAST, env={"RAG_INGEST_LOCK_TIMEOUT": "0"})  # would refuse if still locked
    assert rc == 0 and "waiting" not in err, err
    assert summary["papers"] == PAPERS and time.monotonic() - t0 < 300
    assert differences(snapshot(settings_for(home, **FAST)), clean.snap) == []
