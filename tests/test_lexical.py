"""The BM25 side index updated in place (rag/store/lexical.py, rag/store/side_index.py): after any sequence of
additions, replacements and removals it scores exactly as a full rebuild of the same chunks, and as bm25s does."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rag.store import lexical, side_index
from rag.store.side_index import SideIndex
from rag.text.terms import bigrams, load_bm25s, tokenize

WORDS = ("mixture experts routing sparse attention cache compression diffusion video tokens layer model "
         "reasoning reward policy retrieval dense graph protein folding speech audio vision language").split()
QUERIES = ["mixture of experts routing", "sparse attention cache", "video diffusion model model",
           "protein folding", "reward policy for reasoning", "unheard-of words only", "speech"]
DIM = 6


def corpus(n: int, seed: int = 0) -> dict[str, tuple[str, dict, np.ndarray]]:
    """n chunks: id -> (text, metadata, vector), texts of 3-40 words drawn with Zipf-like weights."""
    rng = random.Random(seed)
    weights = [1 / (i + 1) for i in range(len(WORDS))]
    out = {}
    for i in range(n):
        text = " ".join(rng.choices(WORDS, weights, k=rng.randint(3, 40)))
        vec = np.array([rng.gauss(0, 1) for _ in range(DIM)], dtype=np.float32)
        out[f"c{i}"] = (text, {"paper_id": f"p{i}", "paper_hash": f"h{i}"}, vec / np.linalg.norm(vec))
    return out


def rebuild(chunks: dict[str, tuple[str, dict, np.ndarray]]) -> SideIndex:
    ids = sorted(chunks)
    return SideIndex.build(ids, [chunks[c][0] for c in ids], [chunks[c][1] for c in ids],
                           np.array([chunks[c][2] for c in ids]).reshape(len(ids), DIM), "full", DIM)


def assert_same(index: SideIndex, full: SideIndex) -> None:
    """Same chunks, same BM25 scores per chunk (1e-9), same idf, same dense statistics."""
    assert sorted(index.ids) == sorted(full.ids)
    order = [index.position[c] for c in full.ids]
    for q in QUERIES:
        tokens = tokenize([q])[0]
        for weight in (0.0, 0.5):
            np.testing.assert_allclose(index.bm25_scores(tokens, weight)[order], full.bm25_scores(tokens, weight),
                                       rtol=0, atol=1e-9, err_msg=q)
        assert index.idf(set(tokens)) == pytest.approx(full.idf(set(tokens)), abs=1e-12)
        assert [index.knows(t) for t in tokens] == [full.knows(t) for t in tokens]
    np.testing.assert_allclose(index.mean, full.mean, atol=1e-9)
    np.testing.assert_allclose(index.cov, full.cov, atol=1e-9)
    # which query terms a chunk holds, read from the postings, is what its text says
    asked = frozenset(tokenize([" ".join(QUERIES)])[0])
    for pos in range(0, len(index.ids), 7):
        assert index.terms_at(pos, asked) == asked & frozenset(tokenize([index.docs[pos]])[0]), pos
    # names are found through each segment's own surface index, deleted chunks left out
    for key in ("mixture", "mixtureexperts", "attentioncache", "protein", "tokenslayer", "unheard"):
        assert index.mentions(key) == full.mentions(key), key
        assert index.mentioned_by(key, 3) == min(len(full.mentions(key)), 4), key  # counted up to a limit


def test_scores_equal_bm25s():
    """The query-time scores are bm25s's (lucene variant, same k1 and b) to float32 precision, words and pairs."""
    chunks = corpus(120)
    full = rebuild(chunks)
    bm25s = load_bm25s()
    words, pairs = bm25s.BM25(k1=1.2, b=0.75), bm25s.BM25(k1=1.2, b=0.75)
    tokens = tokenize(full.docs)
    words.index(tokens, show_progress=False)
    pairs.index([bigrams(t) for t in tokens], show_progress=False)
    for q in QUERIES[:5]:
        qt = tokenize([q])[0]
        known = [t for t in qt if t in words.vocab_dict]
        np.testing.assert_allclose(full.bm25_scores(qt), words.get_scores(known), rtol=1e-5, atol=1e-5)
        qp = [p for p in bigrams(qt) if p in pairs.vocab_dict]
        if qp:
            np.testing.assert_allclose(full.bm25_scores(qt, 1.0) - full.bm25_scores(qt), pairs.get_scores(qp),
                                       rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("max_segments", "segment_chunks"), [(2, 16384), (8, 16384), (3, 16)])
def test_any_sequence_of_updates_scores_as_a_full_rebuild(tmp_path, monkeypatch, max_segments, segment_chunks):
    """Random additions, replacements (same chunk id, new text) and removals, saved and loaded back each time;
    with few allowed segments, or small ones, the merges and rewrites run too."""
    monkeypatch.setattr(side_index, "MAX_SEGMENTS", max_segments)
    monkeypatch.setattr(lexical, "SEGMENT_CHUNKS", segment_chunks)
    merges = []
    monkeypatch.setattr(side_index, "merge", lambda segs, live: merges.append(len(segs)) or lexical.merge(segs, live))
    pool = corpus(400, seed=1)
    rng = random.Random(2)
    live = {c: pool[c] for c in list(pool)[:60]}
    index = rebuild(live)
    index.save(tmp_path)
    for step in range(14):
        update = index.updater()
        gone = rng.sample(sorted(live), rng.randint(0, 12))
        replaced = [c for c in gone[: len(gone) // 2]]
        update.remove(gone, np.array([live[c][2] for c in gone]).reshape(len(gone), DIM))
        for c in gone:
            del live[c]
        new_ids = [c for c in pool if c not in live and c not in gone][: rng.randint(0, 15)] + replaced
        fresh = corpus(len(new_ids), seed=100 + step)  # replaced chunks come back with other texts
        added = {c: fresh[f"c{i}"] for i, c in enumerate(new_ids)}
        ids = list(added)
        update.add(ids, [added[c][0] for c in ids], [added[c][1] for c in ids],
                   np.array([added[c][2] for c in ids]).reshape(len(ids), DIM))
        live.update(added)
        index = update.finish()
        # never more than allowed, unless the segments are big ones (at most ~2 per segment_chunks chunks)
        assert len(index.segments) <= max(max_segments, 2 * len(index.ids) // segment_chunks + 2)
        assert all(len(s) <= 2 * segment_chunks for s in index.segments[1:])
        assert_same(index, rebuild(live))
        index.save(tmp_path)
        loaded = SideIndex.load(tmp_path, index.fingerprint)
        assert loaded is not None and loaded.ids == index.ids
        assert_same(loaded, rebuild(live))
    assert merges if max_segments < 8 else True
    on_disk = {p.name for p in tmp_path.iterdir() if p.name.startswith("seg-")}
    assert on_disk == {s.name for s in index.segments}  # merged-away segments are removed


def test_an_update_writes_only_its_segment(tmp_path):
    """Adding chunks saves one new segment; the segments already on disk are not rewritten."""
    pool = corpus(80)
    base = rebuild({c: pool[c] for c in list(pool)[:70]})
    base.save(tmp_path)
    first = base.segments[0].name
    stamp = (tmp_path / first / "postings.npz").stat().st_mtime_ns
    ids = list(pool)[70:]
    index = base.updater().add(ids, [pool[c][0] for c in ids], [pool[c][1] for c in ids],
                               np.array([pool[c][2] for c in ids])).finish()
    index.save(tmp_path)
    assert [s.name for s in index.segments][0] == first and len(index.segments) == 2
    assert (tmp_path / first / "postings.npz").stat().st_mtime_ns == stamp
    assert sorted(base.ids) == sorted(list(pool)[:70]) and len(index.ids) == 80  # the old index is unchanged (searches use it)


def test_an_added_chunk_must_replace_a_removed_one():
    """Adding a chunk id the index holds without removing it (and so without its old vector) is refused:
    the dense statistics would count it twice."""
    pool = corpus(10)
    base = rebuild(pool)
    with pytest.raises(ValueError):
        base.updater().add(["c1"], ["new text"], [{"paper_id": "p1"}], np.ones((1, DIM))).finish()
    with pytest.raises(ValueError):
        base.updater().remove(["nope"], np.ones((1, DIM)))


def test_names_are_found_in_a_saved_segment_with_or_without_its_surface_files(tmp_path):
    """A saved segment carries where its names occur (read back, not rebuilt); one saved before it did (no
    surface_* files) is indexed from its texts on first use, with the same answers."""
    pool = corpus(50)
    full = rebuild(pool)
    full.save(tmp_path)
    seg = next(p for p in tmp_path.iterdir() if p.name.startswith("seg-"))
    assert (seg / "surface_vocab.json").exists() and (seg / "surface_tokens.npy").exists()
    assert (seg / "name_keys.json").exists()
    loaded = SideIndex.load(tmp_path, full.fingerprint)
    assert loaded.mentions("mixtureexperts") == full.mentions("mixtureexperts") != {}
    for f in [*seg.glob("surface_*"), seg / "name_keys.json"]:
        f.unlink()
    side_index._LOADED.clear()  # read the segment again from disk
    older = SideIndex.load(tmp_path, full.fingerprint)
    assert older.mentions("mixtureexperts") == full.mentions("mixtureexperts")
    assert older.names.keys == loaded.names.keys == full.names.keys
