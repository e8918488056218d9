"""Incremental ingest into a real Chroma store on small hand-made seed folders (each test its own home)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rag.corpus.records import paper_id
from rag.errors import CorpusError, IndexMismatchError, IndexMissingError
from rag.ingestion.pipeline import ingest
from rag.store.side_index import SideIndex
from rag.search.retriever import FRESHNESS_SECONDS, Retriever
from rag.store.paths import Paths
from testing.clock import FakeClock
from testing.seeds import COMPACT, TITLES, abstract_for, make_settings, open_store, small_seeds, write_seed


@pytest.fixture
def home(tmp_path):
    """(settings, seeds folder) of a fresh home with the small seeds written but not ingested."""
    seeds = small_seeds(tmp_path / "seeds")
    return make_settings(tmp_path / "home", seeds=seeds), seeds


def store_ids(settings) -> set[str]:
    return set(open_store(settings).collection.get()["ids"])


def assert_in_step(settings) -> Retriever:
    """The BM25 side index a fresh Retriever loads holds exactly the chunks Chroma holds."""
    r = Retriever(settings)
    assert set(r.index.ids) == store_ids(settings)
    assert len(r.index.ids) == len(set(r.index.ids)) == r.store.count()
    return r


def snapshot(settings) -> dict:
    got = open_store(settings).collection.get(include=["documents", "metadatas", "embeddings"])
    return {cid: (doc, meta, [round(float(x), 6) for x in emb])
            for cid, doc, meta, emb in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"])}


def chroma_files(settings) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(Paths.of(settings).chroma_dir)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in Paths.of(settings).chroma_dir.rglob("*") if p.is_file()}


def test_first_ingest_adds_everything(home):
    settings, _ = home
    calls = []
    s = ingest(settings, progress=lambda done, total: calls.append((done, total)))
    assert (s.papers, s.records, s.added, s.updated, s.unchanged, s.removed, s.skipped) == (5, 5, 5, 0, 0, 0, 0)
    assert s.chunks == open_store(settings).count() == 5
    assert calls[0] == (0, 5) and calls[-1] == (5, 5)
    r = assert_in_step(settings)
    assert {m.title for m in r.papers()} == set(TITLES)
    assert {m.paper_id for m in r.papers()} == {paper_id(t) for t in TITLES}
    tidal = next(m for m in r.papers() if m.title.startswith("Tidal"))
    assert (tidal.date, tidal.authors, tidal.upvotes, tidal.files) == ("2024-03-02", 4, 7, ["b.txt"])


def test_reingest_unchanged_writes_nothing(home):
    settings, _ = home
    ingest(settings)
    assert_in_step(settings)
    before, fp = snapshot(settings), open_store(settings).fingerprint()
    chunks_file = SideIndex.manifest_file(Paths.of(settings).side_index_dir)
    mtime = chunks_file.stat().st_mtime_ns
    files = chroma_files(settings)
    calls = []
    s = ingest(settings, progress=lambda done, total: calls.append((done, total)))
    assert (s.added, s.updated, s.removed, s.unchanged, s.papers, s.chunks) == (0, 0, 0, 5, 5, 5)
    assert calls in ([], [(0, 0)])  # nothing embedded
    assert open_store(settings).fingerprint() == fp
    assert snapshot(settings) == before
    assert chunks_file.stat().st_mtime_ns == mtime  # the side index was loaded, not rebuilt
    assert chroma_files(settings) == files  # not one byte written to the Chroma folder
    assert_in_step(settings)


def test_changed_abstract_is_updated_and_searchable(home):
    settings, seeds = home
    ingest(settings)
    fp = open_store(settings).fingerprint()
    new_abstract = abstract_for("zebrafish fin regeneration") + " The xylophonic signalling cascade drives blastema growth."
    write_seed(seeds, "a.txt", [COMPACT[0], {"title": COMPACT[1], "abstract": new_abstract}, COMPACT[2]])
    s = ingest(settings)
    assert (s.added, s.updated, s.unchanged, s.removed) == (0, 1, 4, 0)
    assert open_store(settings).fingerprint() != fp
    r = assert_in_step(settings)
    top = r.search("xylophonic signalling cascade", k=3)[0]
    assert top.paper_id == paper_id(COMPACT[1])
    assert "xylophonic" in top.text
    assert top.bm25_rank == 1
    assert sum("xylophonic" in doc for doc in r.index.docs) == 1  # the old chunk is gone, not duplicated


def test_removed_paper_disappears(home):
    settings, seeds = home
    ingest(settings)
    gone = COMPACT[2]
    write_seed(seeds, "a.txt", COMPACT[:2])
    s = ingest(settings)
    assert (s.added, s.updated, s.unchanged, s.removed, s.papers) == (0, 0, 4, 1, 4)
    r = assert_in_step(settings)
    assert gone not in {m.title for m in r.papers()}
    assert paper_id(gone) not in {h.paper_id for h in r.search(gone, k=10)}
    assert not any(cid.startswith(paper_id(gone) + ":") for cid in store_ids(settings))


def test_unreadable_file_keeps_its_papers(home):
    settings, seeds = home
    ingest(settings)
    fp = open_store(settings).fingerprint()
    (seeds / "b.txt").write_bytes(b"\x00\x01binary garbage\x00")
    s = ingest(settings)
    assert s.kept_unreadable == 2
    assert s.removed == 0 and s.unchanged == 3 and s.papers == 3
    assert any(p.startswith("b.txt:") and "binary" in p for p in s.problems)
    assert open_store(settings).fingerprint() == fp
    r = assert_in_step(settings)
    assert {m.title for m in r.papers()} == set(TITLES)


def test_non_utf8_file_keeps_its_papers(home):
    settings, seeds = home
    ingest(settings)
    fp = open_store(settings).fingerprint()
    (seeds / "b.txt").write_bytes("Caf\u00e9 \u2014 saved as Latin-1\n".encode("cp1252"))
    s = ingest(settings)
    assert any(p.startswith("b.txt:") and "UTF-8" in p for p in s.problems)
    assert (s.kept_unreadable, s.removed, s.unchanged) == (2, 0, 3)
    assert open_store(settings).fingerprint() == fp
    assert {m.title for m in assert_in_step(settings).papers()} == set(TITLES)


def test_moved_paper_is_kept_when_its_new_file_is_unreadable(home):
    settings, seeds = home
    ingest(settings)
    moved = COMPACT[0]
    write_seed(seeds, "a.txt", COMPACT[1:])
    write_seed(seeds, "c.txt", [moved])
    s = ingest(settings)
    # The paper's text is the same but the files it comes from changed: its metadata is rewritten.
    assert (s.unchanged, s.updated, s.removed) == (4, 1, 0)
    moved_id = paper_id(moved)
    assert any(m["files"] == "c.txt" for m in open_store(settings).snapshot()[1] if m["paper_id"] == moved_id)
    (seeds / "c.txt").write_bytes(b"\x00binary\x00")
    s = ingest(settings)
    assert (s.kept_unreadable, s.removed) == (1, 0)
    assert moved in {m.title for m in Retriever(settings).papers()}


def test_chunking_mismatch_needs_rebuild(home):
    settings, _ = home
    ingest(settings)
    other = make_settings(settings.home, seeds=settings.seeds, chunk_size=256)
    with pytest.raises(IndexMismatchError) as err:
        Retriever(other)
    assert "rag ingest --rebuild" in err.value.hint
    assert "chunk_size" in err.value.message and "512" in err.value.message and "256" in err.value.message
    with pytest.raises(IndexMismatchError):
        ingest(other)
    with pytest.raises(IndexMismatchError):
        Retriever(make_settings(settings.home, seeds=settings.seeds, index_titles=False))
    assert_in_step(settings)  # a refused open changed nothing

    s = ingest(other, rebuild=True)
    assert (s.added, s.updated, s.unchanged, s.removed) == (5, 0, 0, 0)
    r = assert_in_step(other)
    assert r.search(TITLES[3], k=1)[0].paper_id == paper_id(TITLES[3])
    with pytest.raises(IndexMismatchError):
        Retriever(settings)  # now the old settings are the mismatched ones


def test_interrupted_ingest_is_repaired(home):
    settings, _ = home
    settings = make_settings(settings.home, seeds=settings.seeds, chunk_size=32, chunk_overlap=4)
    ingest(settings)
    store = open_store(settings)
    ids, fp = set(store.collection.get()["ids"]), store.fingerprint()
    stored = store.papers()
    pid, sp = max(stored.items(), key=lambda kv: kv[1].n_chunks)
    assert sp.n_chunks >= 3 and sp.found == sp.n_chunks
    # as if the run died after writing only the first chunk of this paper
    lost = [f"{pid}:{i}" for i in range(1, sp.n_chunks)]
    store.collection.delete(ids=lost)
    assert store.papers()[pid].found == 1
    s = ingest(settings)
    assert (s.updated, s.added, s.removed, s.unchanged) == (1, 0, 0, 4)
    store = open_store(settings)
    assert set(store.collection.get()["ids"]) == ids
    assert store.fingerprint() == fp
    assert all(p.found == p.n_chunks for p in store.papers().values())
    assert_in_step(settings)


def test_reingest_and_small_updates_never_read_the_whole_collection(home, monkeypatch):
    """Once an ingest has left its marker, the next one takes what is stored from the saved side index, and an
    added, changed or removed paper updates that index with one new segment: no ingest reads every chunk back
    from Chroma, and both retrievers find the change."""
    from rag.store.chroma import Store

    settings, seeds = home
    ingest(settings)

    def full_read(*_args, **_kwargs):
        raise AssertionError("read the whole collection")

    monkeypatch.setattr(Store, "snapshot", full_read)
    monkeypatch.setattr(Store, "pages", full_read)
    assert ingest(settings).unchanged == 5
    write_seed(seeds, "c.txt", [{"title": "Narwhal Tusk Sensing in Arctic Fjords",
                                 "abstract": abstract_for("narwhal tusk sensing")}])
    assert ingest(settings).added == 1
    write_seed(seeds, "a.txt", [{"title": COMPACT[0], "abstract": abstract_for("quokka burrow acoustics")}] + COMPACT[1:])
    s = ingest(settings)
    assert (s.added, s.updated, s.removed, s.unchanged) == (0, 1, 0, 5)
    (seeds / "b.txt").unlink()
    assert ingest(settings).removed == 2
    monkeypatch.undo()
    r = assert_in_step(settings)
    assert r.search("narwhal tusk sensing", k=1)[0].title.startswith("Narwhal")
    assert r.search("quokka burrow acoustics", k=1)[0].paper_id == paper_id(COMPACT[0])
    clean = make_settings(settings.home.parent / "clean", seeds=seeds)
    ingest(clean)
    from testing.recovery import same_searches

    queries = ["narwhal tusk sensing", "quokka burrow acoustics", "zebrafish fin", "basalt weathering"]
    rc = Retriever(clean)
    assert same_searches([[(h.paper_id, h.score) for h in r.search(q, k=4)] for q in queries],
                         [[(h.paper_id, h.score) for h in rc.search(q, k=4)] for q in queries])


def test_update_interrupted_between_overwrite_and_cleanup_is_repaired(home, tmp_path):
    """An update writes the new version over the old chunk ids first and deletes the old version's extra
    chunks last (so a full disk in between loses no paper). Stopped in between, the store holds a paper
    with chunks of two versions: the rerun must see that and leave exactly what a clean ingest leaves."""
    from rag.corpus.readers import load_corpus
    from rag.embed.base import get_embedder
    from rag.ingestion.chunking import chunk_paper, splitter
    from rag.store.chroma import build_params

    settings, seeds = home
    settings = make_settings(settings.home, seeds=seeds, chunk_size=32, chunk_overlap=4)
    long_topic = "tidal membranes " + " ".join(f"wave{i} energy" for i in range(60))
    write_seed(seeds, "a.txt", [{"title": COMPACT[0], "abstract": abstract_for(long_topic)}] + COMPACT[1:])
    ingest(settings)
    old = open_store(settings).papers()[paper_id(COMPACT[0])]
    write_seed(seeds, "a.txt", COMPACT)  # the paper's abstract gets shorter: fewer chunks
    paper = next(p for p in load_corpus([seeds]).papers if p.title == COMPACT[0])
    emb = get_embedder(settings)
    new = chunk_paper(paper, settings, build_params(settings, emb.name, emb.dim), lambda: splitter(settings))
    assert len(new) < old.n_chunks
    store = open_store(settings)
    store.set_marker(None)  # what an ingest does before its first write...
    store.upsert([c.chunk_id for c in new], emb.embed([c.text for c in new]), [c.text for c in new],
                 [c.metadata for c in new])  # ...and the process died here
    assert store.papers()[paper.paper_id].mixed
    s = ingest(settings)
    assert (s.updated, s.added, s.removed) == (1, 0, 0)
    clean = make_settings(tmp_path / "clean", seeds=seeds, chunk_size=32, chunk_overlap=4)
    ingest(clean)
    assert snapshot(settings) == snapshot(clean)
    assert_in_step(settings)


def test_stale_side_index_is_rebuilt(home):
    """A BM25 side index that does not match Chroma is never used: a damaged chunks file is rebuilt on open."""
    settings, _ = home
    ingest(settings)
    SideIndex.manifest_file(Paths.of(settings).side_index_dir).write_text('{"fingerprint": "x", "ids": [], "docs": [], "metas": []}')
    r = assert_in_step(settings)
    assert r.search(TITLES[1], k=1)[0].paper_id == paper_id(TITLES[1])
    SideIndex.manifest_file(Paths.of(settings).side_index_dir).write_text("not json")  # the version the rebuild just saved
    assert_in_step(settings)
    (Paths.of(settings).side_index_dir / "current").write_text("v-missing")
    assert_in_step(settings)


# --------------------------------------------------------------------------- bugs

def test_seeds_with_no_paper_are_refused_on_a_fresh_home(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "only.txt").write_bytes(b"\x00binary\x00")
    settings = make_settings(tmp_path / "home", seeds=seeds)
    with pytest.raises(CorpusError) as err:
        ingest(settings)
    assert "only.txt" in err.value.message and "binary" in err.value.message
    assert "rag ingest" in err.value.hint
    with pytest.raises(IndexMissingError):
        Retriever(settings)


@pytest.mark.parametrize("how", ["unreadable", "emptied"])
def test_seeds_with_no_paper_leave_the_index_unchanged(home, how):
    settings, seeds = home
    ingest(settings)
    fp = open_store(settings).fingerprint()
    if how == "unreadable":
        (seeds / "a.txt").write_bytes(b"\x00")
        (seeds / "b.txt").write_bytes(b"\x00")
    else:
        write_seed(seeds, "a.txt", [])
        write_seed(seeds, "b.txt", [], spaced=True)
    with pytest.raises(CorpusError) as err:
        ingest(settings)
    assert "no papers" in err.value.message and "unchanged" in err.value.hint
    assert open_store(settings).fingerprint() == fp
    assert {m.title for m in assert_in_step(settings).papers()} == set(TITLES)


@pytest.mark.parametrize("size, overlap", [(32, None), (64, 64), (100, 150)])
def test_overlap_not_smaller_than_chunk_size_is_a_config_error(tmp_path, size, overlap):
    extra = {} if overlap is None else {"chunk_overlap": overlap}
    with pytest.raises(ValidationError, match="chunk_overlap"):
        make_settings(tmp_path, chunk_size=size, **extra)
    assert make_settings(tmp_path, chunk_size=size, chunk_overlap=size - 1).chunk_overlap == size - 1


def test_open_retriever_sees_removed_papers_go(home):
    settings, seeds = home
    ingest(settings)
    clock = FakeClock()
    r = Retriever(settings, clock=clock)
    gone = COMPACT[0]
    assert r.search("quokka", k=5)[0].paper_id == paper_id(gone)
    write_seed(seeds, "a.txt", COMPACT[1:])
    assert ingest(settings).removed == 1
    # A long-lived Retriever checks the store's ingest marker at most once per FRESHNESS_SECONDS:
    # until then it answers from the side index it has (which still knows the paper).
    clock.advance(FRESHNESS_SECONDS / 2)
    assert r.search("quokka", k=5)[0].paper_id == paper_id(gone)
    clock.advance(FRESHNESS_SECONDS / 2)
    assert paper_id(gone) not in {h.paper_id for h in r.search("quokka", k=5)}
