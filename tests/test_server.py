"""Server mode: the same ingest, search and CLI through a real `chroma run` server (RAG_CHROMA_URL).

Each test uses its own collection on the shared server; the stop/restart test starts its own.
"""

from __future__ import annotations

import json

import pytest

from rag.corpus.records import paper_id
from rag.errors import StoreUnavailableError
from rag.ingestion.pipeline import ingest
from rag.llm.process import free_port
from rag.search.retriever import FRESHNESS_SECONDS, Retriever
from rag.store.paths import Paths
from rag.store.side_index import SideIndex
from testing.chroma_server import ChromaServer
from testing.clock import FakeClock
from testing.seeds import COMPACT, SPACED, TITLES, abstract_for, make_settings, open_store, small_seeds, write_seed


def server_settings(tmp_path, server: ChromaServer, name: str, home: str = "home"):
    """Settings on their own data home and collection of the server, with the small seeds written."""
    seeds = tmp_path / "seeds"
    if not seeds.exists():
        small_seeds(seeds)
    return make_settings(tmp_path / home, seeds=seeds, chroma_url=server.url, collection=name)


def server_files(server: ChromaServer) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in server.path.rglob("*") if p.is_file()}


def in_step(settings) -> Retriever:
    """A fresh Retriever whose BM25 side index holds exactly the chunks the server holds."""
    r = Retriever(settings)
    assert set(r.index.ids) == set(open_store(settings).collection.get()["ids"])
    return r


def test_ingest_reingest_change_search_through_server(tmp_path, chroma_server):
    settings = server_settings(tmp_path, chroma_server, "basic")
    s = ingest(settings)
    assert (s.added, s.papers, s.chunks) == (5, 5, 5)
    assert not Paths.of(settings).chroma_dir.exists()  # nothing embedded: the vectors live on the server
    assert Paths.of(settings).side_index_dir.parent.name == "bm25" and "@" in Paths.of(settings).side_index_dir.name
    r = in_step(settings)
    assert r.search("quokka population", k=1)[0].paper_id == paper_id(COMPACT[0])

    # Re-ingest of unchanged seeds: zero writes, not one byte changed in the server's folder.
    chunks_file = SideIndex.manifest_file(Paths.of(settings).side_index_dir)
    mtime, files, fp = chunks_file.stat().st_mtime_ns, server_files(chroma_server), open_store(settings).fingerprint()
    s = ingest(settings)
    assert (s.added, s.updated, s.removed, s.unchanged) == (0, 0, 0, 5)
    assert chunks_file.stat().st_mtime_ns == mtime and open_store(settings).fingerprint() == fp
    assert server_files(chroma_server) == files

    # An incremental change: one abstract rewritten.
    new = abstract_for("zebrafish fin regeneration") + " The xylophonic signalling cascade drives blastema growth."
    write_seed(settings.seeds, "a.txt", [COMPACT[0], {"title": COMPACT[1], "abstract": new}, COMPACT[2]])
    s = ingest(settings)
    assert (s.added, s.updated, s.unchanged, s.removed) == (0, 1, 4, 0)
    top = in_step(settings).search("xylophonic signalling cascade", k=3)[0]
    assert top.paper_id == paper_id(COMPACT[1]) and "xylophonic" in top.text


def test_cli_through_server(cli, tmp_path, chroma_server):
    settings = server_settings(tmp_path, chroma_server, "cli")
    env = {"RAG_CHROMA_URL": chroma_server.url, "RAG_COLLECTION": "cli", "RAG_SEEDS": str(settings.seeds)}
    proc = cli("ingest", "--json", home=settings.home, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["added"] == 5
    proc = cli("papers", "--json", home=settings.home, env=env)
    assert proc.returncode == 0, proc.stderr
    assert {p["title"] for p in json.loads(proc.stdout)} == set(TITLES)
    proc = cli("search", "alpine lichen symbiosis", "-k", "2", "--json", home=settings.home, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["title"] == SPACED[1]["title"]
    assert not (settings.home / "chroma").exists()

    proc = cli("ask", "alpine lichen symbiosis", "--json", "--offline", home=settings.home, env=env)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert not answer["abstained"] and answer["citations"][0]["title"] == SPACED[1]["title"]
    assert f"[{answer['citations'][0]['n']}]" in answer["answer"]
    assert not (settings.home / "chroma").exists()


def test_another_client_changes_the_collection(tmp_path, chroma_server):
    """Two machines (two data homes) share one collection: each BM25 side index follows the server."""
    mine = server_settings(tmp_path, chroma_server, "shared", home="home-a")
    ingest(mine)
    clock = FakeClock()
    r = Retriever(mine, clock=clock)
    assert r.search("quokka", k=1)[0].paper_id == paper_id(COMPACT[0])

    # Another client, through our ingest: drops the quokka paper, adds a new one.
    theirs = make_settings(tmp_path / "home-b", seeds=tmp_path / "seeds-b", chroma_url=chroma_server.url,
                           collection="shared")
    write_seed(theirs.seeds, "a.txt", COMPACT[1:] + ["Narwhal Tusk Sensory Biology"])
    write_seed(theirs.seeds, "b.txt", SPACED, spaced=True)
    s = ingest(theirs)
    assert (s.added, s.removed, s.unchanged) == (1, 1, 4)
    clock.advance(FRESHNESS_SECONDS)  # a long-lived Retriever checks the collection's marker once a second
    assert r.search("narwhal tusk", k=1)[0].paper_id == paper_id("Narwhal Tusk Sensory Biology")
    assert paper_id(COMPACT[0]) not in {h.paper_id for h in r.search("quokka", k=5)}
    in_step(mine)

    # Another client writing with plain chromadb (no marker update), in the flat layout of earlier releases
    # (metadata fields, text as the document): the unknown id forces a full read, which reads that layout too.
    store = open_store(mine)
    got = store.collection.get(limit=1, include=["metadatas"])
    record = {k: v for k, v in json.loads(got["metadatas"][0]["record"]).items() if k != "text"}
    title = "Axolotl Limb Regrowth Under Microgravity"
    meta = {**record, "paper_id": paper_id(title), "title": title, "paper_hash": "foreign"}
    text = f"{title}\n{abstract_for('axolotl limb regrowth under microgravity')}"
    store.collection.upsert(ids=[f"{paper_id(title)}:0"], embeddings=r.embedder.embed([text]), documents=[text],
                            metadatas=[meta])
    assert r.search("axolotl limb regrowth microgravity", k=1)[0].paper_id == paper_id(title)
    assert paper_id(title) in {m.paper_id for m in in_step(mine).papers()}


def test_side_index_is_kept_apart_per_server_and_collection(tmp_path):
    base = make_settings(tmp_path)
    one = make_settings(tmp_path, chroma_url="http://127.0.0.1:8000")
    other_server = make_settings(tmp_path, chroma_url="http://10.0.0.2:8000")
    other_collection = make_settings(tmp_path, chroma_url="http://127.0.0.1:8000", collection="other")
    dirs = {Paths.of(s).side_index_dir for s in (base, one, other_server, other_collection)}
    assert len(dirs) == 4
    slash = make_settings(tmp_path, chroma_url="http://127.0.0.1:8000/")
    assert Paths.of(slash).side_index_dir == Paths.of(one).side_index_dir


@pytest.mark.parametrize("command", [["ingest"], ["search", "quokka"], ["papers"]])
def test_unreachable_server_is_one_clear_line(cli, tmp_path, command):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    write_seed(tmp_path / "seeds", "a.txt", COMPACT)
    proc = cli(*command, home=tmp_path / "home", env={"RAG_CHROMA_URL": url, "RAG_SEEDS": str(tmp_path / "seeds")})
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert f"cannot reach the Chroma server at {url}" in proc.stderr
    assert "hint:" in proc.stderr and "chroma run" in proc.stderr and "RAG_CHROMA_URL" in proc.stderr


def test_bad_url_is_a_config_error(cli, tmp_path):
    proc = cli("search", "quokka", home=tmp_path / "home", env={"RAG_CHROMA_URL": "ftp://example.org"})
    assert proc.returncode == 1 and "not an http(s) URL" in proc.stderr and "hint:" in proc.stderr


def test_server_stopped_mid_session_then_back(cli, start_chroma, tmp_path):
    server = start_chroma(tmp_path / "server-data")
    try:
        settings = server_settings(tmp_path, server, "restart")
        ingest(settings)
        r = Retriever(settings)
        assert r.search("basalt weathering", k=1)[0].paper_id == paper_id(COMPACT[2])

        server.stop()
        with pytest.raises(StoreUnavailableError) as err:
            r.search("basalt weathering", k=1)
        assert server.url in err.value.message and "chroma run" in err.value.hint
        with pytest.raises(StoreUnavailableError):
            ingest(settings)
        env = {"RAG_CHROMA_URL": server.url, "RAG_COLLECTION": "restart"}
        proc = cli("search", "basalt", home=settings.home, env=env)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert server.url in proc.stderr and "hint:" in proc.stderr

        server.start()  # same port, same folder: the data is still there
        assert r.search("basalt weathering", k=1)[0].paper_id == paper_id(COMPACT[2])  # the same Retriever recovers
        s = ingest(settings)
        assert (s.added, s.updated, s.removed, s.unchanged) == (0, 0, 0, 5)
        proc = cli("search", "basalt", "--json", home=settings.home, env=env)
        assert proc.returncode == 0 and json.loads(proc.stdout)[0]["title"] == COMPACT[2]
    finally:
        server.stop()
