"""SIGKILL real `rag ingest` subprocesses at named points; the rerun must leave exactly what a clean ingest leaves.

Each case: a fresh home, `python -m rag.cli ingest` with small write batches (RAG_INGEST_BATCH=16: 39 batches),
killed at a NAMED POINT (rag/faultpoints.py: RAG_TEST_KILL_AT makes the ingest SIGKILL itself there, so it dies
at the same place on any machine, however fast or busy), then what it left (the phase, asserted exactly), a
Retriever on it (every other case), a rerun, and a comparison with the clean home: chunk ids, documents,
metadatas, embeddings, collection metadata and marker, the side index, search results (testing/ingest_kill.py
and testing/recovery.py; bench/ingest_kill.py runs many more cases, also with 64-token chunks). Then the ingest
lock, with an ingest held inside it at a named point (RAG_TEST_PAUSE_AT): a second ingest waits for it and finds
the work done, or refuses with a timeout of 0; a SIGKILLed holder never blocks the next ingest.
"""

from __future__ import annotations

import dataclasses
import signal

import pytest

from rag.faultpoints import KILL_AT
from rag.store.paths import Paths
from testing.ingest_kill import (
    Clean, Paused, Row, clean_home, differences, kill_case, run, settings_for, snapshot, start, summary_of,
    wait_for_line,
)
from testing.seeds import SEEDS, write_seed

FAST = {"ingest_batch": 16}  # default chunking (one chunk a paper), many small writes: an ingest costs ~5 s
PAPERS = 615
BATCHES = 39  # ceil(615 / 16)


@pytest.fixture(scope="module")
def clean_ingest(tmp_path_factory) -> Clean:
    """A clean ingest of the real seeds with FAST settings, and its snapshot: what every recovery must equal."""
    return clean_home(tmp_path_factory.mktemp("clean") / "home", dict(FAST))


def table(rows: list[Row]) -> str:
    return "\n".join(f"{r.case} at {r.at} killed={r.killed} recovered={r.recovered} | {r.phase} | {r.probe} | "
                     f"{r.problems}" for r in rows)


def test_clean_reference_is_sane(clean_ingest):
    snap = clean_ingest.snap
    assert clean_ingest.total == PAPERS and -(-PAPERS // FAST["ingest_batch"]) == BATCHES  # many points to die at
    assert len({m["paper_id"] for m in snap["metas"]}) == PAPERS
    assert snap["collection_meta"]["content_digest"] == snap["digest"]
    assert snap["side_index"]["n"] == clean_ingest.total and snap["retriever_used_saved_side_index"]
    assert all(len(s) == 5 for s in snap["searches"])
    assert differences(snap, snap) == []


# point -> where a first ingest killed there stopped, told by what it left (testing/recovery.py phase())
FIRST_INGEST = {
    "ingest:locked": "before the store was opened",
    "ingest:marker-cleared": "collection created, no chunk stored yet",
    "ingest:batch-stored:1": "writing: 16/615 chunks stored",
    "ingest:batch-stored:20": "writing: 320/615 chunks stored",
    "side-index:before-switch": "all chunks stored, marker pending (side index not saved)",
    "ingest:before-marker": "all chunks stored, marker pending (side index saved)",
    "ingest:marker-set": "done (marker set), not yet exited",
}


# one test per point, so the points spread over the test workers
@pytest.mark.parametrize("i, point", list(enumerate(FIRST_INGEST)), ids=list(FIRST_INGEST))
def test_sigkill_first_ingest_at_a_point_then_rerun_equals_clean(clean_ingest, tmp_path, i, point):
    row = kill_case(clean_ingest, tmp_path / "home", point, check=i % 2 == 0)
    assert row.killed, table([row])  # it reached its point and died there
    assert row.phase == FIRST_INGEST[point], table([row])
    assert row.recovered, table([row])
    # a reader on a half-written home works, or says what to do
    assert not row.probe or row.probe.startswith("search ok") or "hint" in row.probe, table([row])


def test_sigkill_rebuild_then_rerun_with_or_without_rebuild(clean_ingest, tmp_path):
    rows = [kill_case(clean_ingest, tmp_path / "dropped", "store:rebuild-dropped", case="rebuild-plain"),
            kill_case(clean_ingest, tmp_path / "writing", "ingest:batch-stored:20", case="rebuild")]
    assert all(r.killed for r in rows), table(rows)
    assert [r.phase for r in rows] == ["store created, no collection yet", "writing: 320/615 chunks stored"], \
        table(rows)
    assert all(r.recovered for r in rows), table(rows)


def test_sigkill_the_rerun_that_repairs(clean_ingest, tmp_path):
    row = kill_case(clean_ingest, tmp_path / "home", "ingest:batch-stored:15", case="repair",
                    repair_kill="ingest:batch-stored:5")
    assert row.kills == 2, table([row])
    assert row.phase == ("writing: 240/615 chunks stored; rerun killed at ingest:batch-stored:5: "
                         "writing: 320/615 chunks stored"), table([row])
    assert row.recovered, table([row])


@pytest.fixture(scope="module")
def changed_home(clean_ingest, tmp_path_factory):
    """A home that differs from the seeds the way an update finds it: one paper stored in a longer version
    (two chunks, so its new version leaves a stale one) and three papers no longer in the seeds."""
    from rag.corpus.readers import load_corpus
    from rag.ingestion.pipeline import ingest_papers

    tmp = tmp_path_factory.mktemp("changed")
    write_seed(tmp / "gone", "gone.txt", ["Tide Pool Census", "Glacier Melt Sensors", "Coral Reef Acoustics"])
    papers = load_corpus([SEEDS, tmp / "gone"]).papers
    papers[0] = dataclasses.replace(papers[0], abstract=" ".join([papers[0].abstract] * 4))  # over 512 tokens
    settings = settings_for(tmp / "home", **FAST)
    ingest_papers(settings, papers)
    return settings.home


@pytest.mark.parametrize("point", ["ingest:stale-delete", "ingest:removed-delete"])
def test_sigkill_an_update_before_it_deletes_then_rerun_equals_clean(clean_ingest, changed_home, tmp_path, point):
    row = kill_case(clean_ingest, tmp_path / "home", point, before=changed_home)
    assert row.killed and row.phase.startswith("all chunks stored, marker pending"), table([row])
    assert row.recovered, table([row])


# --------------------------------------------------------------------------- the ingest lock

def test_two_ingests_at_once_the_second_waits_and_finds_the_work_done(clean_ingest, tmp_path):
    home = tmp_path / "home"
    with Paused(home, FAST, "ingest:locked") as first:  # holds the lock until released
        second = start(home, FAST)
        said = wait_for_line(second, "waiting for another ingest")
        assert f"(pid {first.proc.pid})" in said  # it names the ingest it waits for
        assert first.release() == 0, first.err
        out, err = second.communicate(timeout=300)
    assert second.returncode == 0, said + err
    assert "waiting" not in first.err and (said + err).count("waiting for another ingest") == 1
    work, wait = summary_of(first.out), summary_of(out)
    assert (work["added"], work["unchanged"]) == (PAPERS, 0)
    # The waiter began only after the first had finished: it found every paper complete (no interleaving).
    assert (wait["added"], wait["updated"], wait["removed"], wait["unchanged"]) == (0, 0, 0, PAPERS)
    assert differences(snapshot(settings_for(home, **FAST)), clean_ingest.snap) == []
    assert not Paths.of(settings_for(home)).ingest_lock.with_suffix(".pid").exists()  # the last holder cleaned up


def test_with_timeout_0_the_second_ingest_refuses_at_once(clean_ingest, tmp_path):
    home = tmp_path / "home"
    refuse = {"RAG_INGEST_LOCK_TIMEOUT": "0"}
    with Paused(home, FAST, "ingest:locked", env=refuse) as first:
        no = start(home, FAST, env=refuse)
        out_no, err_no = no.communicate(timeout=300)
        assert first.release() == 0, first.err
    assert no.returncode == 1 and out_no == "" and "Traceback" not in err_no, err_no
    assert f"error: another ingest (pid {first.proc.pid}) is writing the index at {home}" in err_no
    assert "hint: let it finish, then run `rag ingest` again" in err_no and "RAG_INGEST_LOCK_TIMEOUT" in err_no
    assert "waiting" not in err_no  # timeout 0: refused, not waited
    assert summary_of(first.out)["added"] == PAPERS
    assert differences(snapshot(settings_for(home, **FAST)), clean_ingest.snap) == []


def test_the_lock_of_a_sigkilled_ingest_does_not_block_the_next(clean_ingest, tmp_path):
    home = tmp_path / "home"
    pid_file = Paths.of(settings_for(home)).ingest_lock.with_suffix(".pid")
    proc = start(home, FAST, env={KILL_AT: "ingest:locked"})  # dies holding the lock
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL
    assert pid_file.read_text().strip() == str(proc.pid)  # it died holding the lock: nothing cleaned up
    rc, summary, err = run(home, FAST, env={"RAG_INGEST_LOCK_TIMEOUT": "0"})  # would refuse if still locked
    assert rc == 0 and "waiting" not in err, err
    assert summary["papers"] == PAPERS
    assert differences(snapshot(settings_for(home, **FAST)), clean_ingest.snap) == []
