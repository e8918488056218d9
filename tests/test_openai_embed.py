"""The OpenAI embedding path, end to end against a local OpenAI-compatible /v1/embeddings server.

No OpenAI endpoint can be reached here, so the server is a small stand-in that implements the real
HTTP interface (the `openai` client talks to it through OPENAI_BASE_URL exactly as to OpenAI) and
returns deterministic hashed bag-of-words vectors.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from testing.seeds import abstract_for, make_settings, write_seed
from rag.corpus.records import paper_id
from rag.embed.base import get_embedder
from rag.errors import ConfigError, IndexMismatchError, RagError
from rag.ingestion.pipeline import ingest
from rag.search.retriever import Retriever

DIM = 64
TOPICS = ["quokka population dynamics", "zebrafish fin regeneration", "basalt weathering rates"]


def hashed_vector(text: str) -> list[float]:
    v = np.zeros(DIM)
    for word in re.findall(r"[a-z]+", text.lower()):
        v[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
    return (v / (np.linalg.norm(v) or 1.0)).tolist()


class EmbeddingServer(BaseHTTPRequestHandler):
    requests: list[dict] = []
    fail = False

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        if type(self).fail:
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "boom", "type": "server_error"}}')
            return
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        out = {
            "object": "list",
            "model": body["model"],
            "data": [{"object": "embedding", "index": i, "embedding": hashed_vector(t)} for i, t in enumerate(texts)],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server(monkeypatch):
    EmbeddingServer.requests, EmbeddingServer.fail = [], False
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), EmbeddingServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{httpd.server_address[1]}/v1")
    yield EmbeddingServer
    httpd.shutdown()
    httpd.server_close()


def test_ingest_and_search_with_openai_embeddings(tmp_path, server):
    seeds = tmp_path / "seeds"
    titles = [f"{t.title()} Study" for t in TOPICS]
    write_seed(seeds, "a.txt", [{"title": t, "abstract": abstract_for(topic)} for t, topic in zip(titles, TOPICS)])
    # its own cache, not the run's shared one (conftest): the requests it counts must all be sent
    settings = make_settings(tmp_path / "home", seeds=seeds, embedder="openai", openai_embed_model="fake-hash-64",
                             embed_cache_dir=None)
    summary = ingest(settings)
    assert summary.added == len(titles)
    # Dimension probed once, then the chunks were sent in one batch, with the key, to the base URL.
    assert [len(r["input"]) if isinstance(r["input"], list) else 1 for r in server.requests] == [1, len(titles)]
    assert all(r["path"] == "/v1/embeddings" and r["auth"] == "Bearer sk-test" for r in server.requests)
    assert all(r["model"] == "fake-hash-64" for r in server.requests)

    r = Retriever(settings)
    assert r.store.params["embedder"] == "openai-fake-hash-64" and r.store.params["dim"] == DIM
    hit = r.search(TOPICS[1], k=3)[0]
    assert hit.paper_id == paper_id(titles[1]) and hit.dense_rank == 1

    # The same home opened with the offline embedder is a mismatch, never mixed vectors.
    with pytest.raises(IndexMismatchError) as err:
        Retriever(make_settings(tmp_path / "home", seeds=seeds))
    assert "embedder" in err.value.message and "--rebuild" in err.value.hint


def test_openai_embedder_needs_a_key(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError) as err:
        get_embedder(make_settings(tmp_path, embedder="openai"))
    assert "OPENAI_API_KEY" in err.value.message and "wordllama" in err.value.hint


def test_server_error_is_a_clear_error(tmp_path, server):
    server.fail = True
    with pytest.raises(RagError) as err:
        get_embedder(make_settings(tmp_path, embedder="openai", openai_embed_model="fake-hash-64"))
    assert "embedding request failed" in err.value.message and "OPENAI_BASE_URL" in err.value.hint
