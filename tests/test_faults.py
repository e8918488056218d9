"""Faults a user meets and recovers from: a full or read-only data home (a real tmpfs, mounted as root),
and, through the running web app, an LLM endpoint that fails and a Chroma server that goes away.

Each fault must give one clear error (a RagError with a hint: "error: ...\\nhint: ..." and exit 1 in the
CLI, an error message from /ask in the app), never a traceback or a hang, lose nothing already indexed,
and the same command (or the same running app) must work again once the fault is cleared.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from testing.seeds import make_settings, open_store, seed_file
from rag.corpus.readers import load_corpus

SEED = seed_file("003")  # 59 papers: an index of about 2.7 MB (Chroma 1.5, BM25 side index 1.1, embed cache 0.1)
QUERY = "reinforcement learning for reasoning"
BATCH = "8"  # chunks per ingest step, so a full disk stops an ingest part-way, after some steps were kept


# --------------------------------------------------------------------------- a real small disk

def run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


@contextmanager
def tmpfs(folder: Path, size_kb: int) -> Iterator[Path]:
    """A tmpfs of size_kb mounted on folder for the block (as root); unmounted at the end whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small or read-only file system needs root (the CI runs as root)")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        run("mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder))
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"cannot mount a tmpfs here: {getattr(e, 'stderr', e)}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def remount(folder: Path, options: str) -> None:
    """Change a mounted tmpfs: 'ro', 'rw', 'size=NNk' (growing it clears a full disk)."""
    run("mount", "-o", f"remount,{options}", str(folder))


def used_kb(folder: Path) -> int:
    st = os.statvfs(folder)
    return (st.f_blocks - st.f_bfree) * st.f_frsize // 1024


def env_for(seeds: Path) -> dict[str, str]:
    return {"RAG_SEEDS": str(seeds), "RAG_INGEST_BATCH": BATCH, "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}


def one_clear_error(proc: subprocess.CompletedProcess, *words: str) -> str:
    """Exit 1, exactly 'error: ...' and 'hint: ...' on stderr, no traceback; returns the error line."""
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), proc.stderr
    for word in words:
        assert word.lower() in proc.stderr.lower(), (word, proc.stderr)
    return lines[0]


def stored(settings) -> dict[str, tuple[str, int, int]]:
    """paper_id -> (paper hash, chunks it should have, chunks stored), read from Chroma."""
    return {pid: (p.paper_hash, p.n_chunks, p.found) for pid, p in open_store(settings).papers().items()}


def search_ids(cli, home: Path, seeds: Path) -> list[str]:
    import json

    proc = cli("search", QUERY, "-k", "5", "--json", home=home, env=env_for(seeds))
    assert proc.returncode == 0, proc.stderr
    return [h["paper_id"] for h in json.loads(proc.stdout)]


@pytest.fixture(scope="module")
def clean(cli, tmp_path_factory):
    """The reference: the seed ingested into an ordinary folder. (settings, fingerprint, search hits)."""
    from rag.ingestion.pipeline import ingest

    tmp = tmp_path_factory.mktemp("clean")
    seeds = tmp / "seeds"
    seeds.mkdir()
    shutil.copy(SEED, seeds)
    settings = make_settings(tmp / "home", seeds=seeds)
    ingest(settings)
    return settings, open_store(settings).fingerprint(), search_ids(cli, settings.home, seeds)


def seeds_in(folder: Path) -> Path:
    seeds = folder / "seeds"
    seeds.mkdir(parents=True, exist_ok=True)
    shutil.copy(SEED, seeds)
    return seeds


# --------------------------------------------------------------------------- a full data home

def test_ingest_into_a_full_home_then_after_it_grows(cli, tmp_path, clean):
    _, clean_fp, clean_hits = clean
    seeds = seeds_in(tmp_path)
    with tmpfs(tmp_path / "disk", 1100) as disk:  # the index needs about 2.7 MB
        home = disk / "home"
        proc = cli("ingest", home=home, env=env_for(seeds))
        line = one_clear_error(proc, "no space left", str(home))
        assert "hint: free some space" in proc.stderr and "RAG_HOME" in proc.stderr
        assert len(line) < 300

        remount(disk, "size=16m")  # the fault clears: the same command finishes the work
        proc = cli("ingest", "--json", home=home, env=env_for(seeds))
        assert proc.returncode == 0, proc.stderr
        settings = make_settings(home, seeds=seeds)
        assert open_store(settings).fingerprint() == clean_fp  # the same index as a clean ingest
        assert search_ids(cli, home, seeds) == clean_hits


def test_home_fills_up_during_a_reingest_and_the_old_index_loses_nothing(cli, tmp_path, clean):
    from rag.ingestion.pipeline import ingest

    _, clean_fp, clean_hits = clean
    seeds = seeds_in(tmp_path)
    with tmpfs(tmp_path / "disk", 16 * 1024) as disk:
        settings = make_settings(disk / "home", seeds=seeds)
        ingest(settings)
        before = stored(settings)
        assert open_store(settings).fingerprint() == clean_fp

        # the seeds change: ten abstracts rewritten, and a second page of 73 new papers
        text = SEED.read_text()
        for paper in load_corpus([SEED]).papers[:10]:
            first = paper.abstract[:120]
            assert first in text
            text = text.replace(first, first.replace(" ", " revised ", 1), 1)
        (seeds / SEED.name).write_text(text)
        shutil.copy(seed_file("001"), seeds)
        remount(disk, f"size={used_kb(disk) + 400}k")  # room for a few ingest steps, not for all

        proc = cli("ingest", home=settings.home, env=env_for(seeds))
        one_clear_error(proc, "no space left", str(settings.home))
        now = stored(settings)
        lost = sorted(pid for pid in before if pid not in now or now[pid][1] != now[pid][2])
        # Chroma applies the failed ingest's logged writes before its next query: while the disk is full,
        # a search is the same clear error (or, if nothing is pending, it answers)
        proc = cli("search", QUERY, "-k", "5", "--json", home=settings.home, env=env_for(seeds))
        if proc.returncode:
            one_clear_error(proc, "no space left", str(settings.home))

        remount(disk, "size=32m")
        hits_after = search_ids(cli, settings.home, seeds)  # before the rerun: what the failed ingest left answers
        proc = cli("ingest", "--json", home=settings.home, env=env_for(seeds))
        assert proc.returncode == 0, proc.stderr
        papers = {p.paper_id for p in load_corpus([seeds]).papers}
        assert set(stored(settings)) == papers and all(n == f for _, n, f in stored(settings).values())
    # new versions overwrite old chunk ids before the old versions' extra chunks go (rag/ingestion/pipeline.py)
    assert not lost, f"{len(lost)} of {len(before)} papers were missing from the index after the failed re-ingest"
    assert len(hits_after) == 5


# --------------------------------------------------------------------------- a read-only data home

def test_read_only_home_with_an_index(cli, tmp_path, clean):
    _, _, clean_hits = clean
    seeds = seeds_in(tmp_path)
    with tmpfs(tmp_path / "disk", 16 * 1024) as disk:
        home = disk / "home"
        assert cli("ingest", home=home, env=env_for(seeds)).returncode == 0  # a subprocess: no file left open
        remount(disk, "ro")
        for command in (["search", QUERY], ["ask", QUERY, "--offline"], ["ingest"]):
            proc = cli(*command, home=home, env=env_for(seeds))
            if proc.returncode == 0 and command[0] != "ingest":
                continue  # reading worked on the read-only home: the preferred outcome
            one_clear_error(proc, "read-only", str(home))

        remount(disk, "rw")
        assert search_ids(cli, home, seeds) == clean_hits
        proc = cli("ask", QUERY, "--offline", home=home, env=env_for(seeds))
        assert proc.returncode == 0 and "\nSources:\n" in proc.stdout, proc.stderr
        proc = cli("ingest", "--json", home=home, env=env_for(seeds))
        assert proc.returncode == 0 and '"unchanged": 59' in proc.stdout, proc.stderr


def test_read_only_home_without_an_index(cli, tmp_path):
    seeds = seeds_in(tmp_path)
    with tmpfs(tmp_path / "disk", 16 * 1024) as disk:
        home = disk / "home"
        remount(disk, "ro")
        proc = cli("search", QUERY, home=home, env=env_for(seeds))
        one_clear_error(proc, f"no index at {home}", "read-only")
        proc = cli("ingest", home=home, env=env_for(seeds))
        one_clear_error(proc, "read-only", str(home))
        remount(disk, "rw")
        proc = cli("ingest", "--json", home=home, env=env_for(seeds))
        assert proc.returncode == 0 and '"added": 59' in proc.stdout, proc.stderr


# --------------------------------------------------------------------------- the running web app

MODEL = "scripted-model"


@pytest.fixture(scope="module")
def app(start_chroma, start_app, tmp_path_factory):
    """`rag serve` on an index in a Chroma server we start and stop, answering with a scripted LLM server:
    (gradio client, Chroma server, the LLM script to change in place, requests the LLM saw)."""
    from gradio_client import Client

    from rag.ingestion.pipeline import ingest
    from testing.scripted_http import GAVE_UP, RELEASE, good_stream, scripted_server
    from testing.seeds import small_seeds

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tmp = tmp_path_factory.mktemp("app-faults")
    small_seeds(tmp / "seeds")
    chroma = start_chroma(tmp / "chroma-data")
    script = [good_stream()]
    RELEASE.clear()
    GAVE_UP.clear()
    httpd, seen = scripted_server(script, models=[MODEL])
    app = None
    try:
        ingest(make_settings(tmp / "home", seeds=tmp / "seeds", chroma_url=chroma.url))
        env = {"RAG_CHROMA_URL": chroma.url, "RAG_CHROMA_TIMEOUT": "5",
               "OPENAI_BASE_URL": f"http://127.0.0.1:{httpd.server_address[1]}/v1", "RAG_LLM_MODEL": MODEL,
               "RAG_LLM_RETRIES": "1", "RAG_LLM_TIMEOUT": "2"}
        app = start_app(tmp / "home", tmp / "serve.log", env=env)
        yield Client(app.ready_url, verbose=False), chroma, script, seen
    finally:
        RELEASE.set()
        if app is not None:
            app.stop()
        httpd.shutdown()
        httpd.server_close()
        chroma.stop()


def ask(client, mode: str) -> dict:
    from testing.scripted_http import QUESTION

    return client.predict(QUESTION, 0, "", "", mode, api_name="/ask")


def test_app_llm_faults_are_clear_errors_then_it_answers(app):
    from gradio_client.exceptions import AppError

    from testing.scripted_http import GAVE_UP, GOOD, MALFORMED, RATE_LIMITED_NO_WAIT, good_stream

    client, _, script, seen = app
    assert ask(client, "llm")["answer"] == GOOD  # the app works before any fault
    faults = {
        "HTTP 500": ((500, {"content-type": "application/json"}, b'{"error": {"message": "model crashed"}}'),
                     "answered with HTTP 500: Error code: 500 - {'error': {'message': 'model crashed'}}"),
        "rate limit": (RATE_LIMITED_NO_WAIT, "rate-limiting (still after 1 retries)"),
        "hang before the first byte": (MALFORMED["a hang before the first byte"][0],
                                       "did not answer within 2 s (2 attempts"),
        "stream dies mid-way": (MALFORMED["no [DONE] and no finish_reason"][0],
                                "The answer broke off after 20 characters"),
    }
    for name, (reply, says) in faults.items():
        script[:] = [reply]
        with pytest.raises(AppError) as err:
            ask(client, "llm")
        text = str(err.value)
        assert says in text and "127.0.0.1" in text, (name, text)
        assert "Traceback" not in text and "offline answer mode" in text, (name, text)
        # an error, not a hang: the app gave up while the hanging server still held the request
        assert not GAVE_UP.is_set(), name
        script[:] = [good_stream()]
        out = ask(client, "llm")  # the fault cleared: the same running app answers
        assert out["done"] and out["answer"] == GOOD and out["citations"], name
    assert len(seen) >= 12


def test_app_chroma_server_goes_away_then_comes_back(app):
    from gradio_client.exceptions import AppError

    client, chroma, _, _ = app
    before = ask(client, "extractive")
    assert before["citations"]
    chroma.stop()
    try:
        with pytest.raises(AppError) as err:
            ask(client, "extractive")
        assert f"Cannot reach the Chroma server at {chroma.url}" in str(err.value)
        assert "chroma run" in str(err.value) and "Traceback" not in str(err.value)
    finally:
        chroma.start()  # the same port and folder
    after = ask(client, "extractive")
    assert after["answer"] == before["answer"] and after["citations"] == before["citations"]
