"""The /ask endpoint's references through gradio_client, against `rag serve` on 127.0.0.1 (offline answers):
the cited papers as "bibtex" and "references_markdown", each source's "author_names" and "links"."""

from __future__ import annotations

import json
import os
import re

import bibtexparser
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

VLLM_Q = "How does vLLM use PagedAttention to reduce KV cache memory waste?"
UNANSWERABLE = "What is the boiling point of olive oil in Antarctica?"
AXOLOTL = {"title": "Axolotl Limb Regeneration Needs Macrophages", "date": "2022-09-14",
           "abstract": "Axolotls regrow whole limbs after amputation. We show that macrophages are required for "
                       "axolotl limb regeneration: depleting them leaves a scar instead of a blastema.",
           "authors": ["María José García", "Wei Zhang"], "doi": "10.1234/axo.2022.7", "arxiv_id": "2209.01234",
           "venue": "Journal of Regeneration", "url": "https://example.org/axolotl"}


def client_of(url: str):
    from gradio_client import Client

    return Client(url, verbose=False)


@pytest.fixture(scope="module")
def client(app_url):
    return client_of(app_url)


def entries(bib: str) -> list:
    library = bibtexparser.parse_string(bib)
    assert not library.failed_blocks
    return library.entries


def test_answer_carries_its_cited_papers_references(client):
    out = client.predict(VLLM_Q, api_name="/ask")
    assert out["done"] and not out["abstained"] and out["citations"]
    numbers = sorted(c["n"] for c in out["citations"])
    by_n = {c["n"]: c for c in out["citations"]}
    # one entry per cited paper, after its number, in number order
    assert [int(n) for n in re.findall(r"^% \[(\d+)\]$", out["bibtex"], re.MULTILINE)] == numbers
    found = entries(out["bibtex"])
    assert [e.fields_dict["title"].value.replace("{", "").replace("}", "") for e in found] == \
        [by_n[n]["title"] for n in numbers]
    assert all(e.key.startswith("anon") and e.entry_type == "misc" for e in found)  # seed papers: no names
    assert [line.split("]")[0] + "]" for line in out["references_markdown"].splitlines()] == [f"[{n}]" for n in numbers]
    assert by_n[numbers[0]]["title"] in out["references_markdown"]
    cited = {c["paper_id"] for c in out["citations"]}
    uncited = [s for s in out["sources"] if s["paper_id"] not in cited]
    assert all(s["title"] not in out["references_markdown"] for s in uncited)
    # each source says who wrote it and where it is; the seeds know neither
    assert all(s["author_names"] == [] and s["links"] == {} for s in out["sources"])
    # the keys clients already read are unchanged
    assert {"answer", "question", "citations", "sources", "abstained", "nearest", "flags", "timings_ms", "usage",
            "mode"} <= set(out)


def test_partial_results_carry_no_references(client):
    job = client.submit(VLLM_Q, api_name="/ask")
    outputs = list(job)
    assert all(set(o) == {"answer", "done"} for o in outputs if not o["done"])
    assert job.result()["bibtex"]


def test_an_abstention_has_no_references(client):
    out = client.predict(UNANSWERABLE, api_name="/ask")
    assert out["abstained"] and out["citations"] == []
    assert out["bibtex"] == "" and out["references_markdown"] == ""


@pytest.fixture(scope="module")
def own_papers_url(start_app, tmp_path_factory):
    """`rag serve` over two page dumps and a JSONL file of one paper with names, DOI and arXiv id."""
    from rag import ingest
    from testing.seeds import COMPACT, make_settings, write_seed

    root = tmp_path_factory.mktemp("refs-app")
    write_seed(root / "seeds", "a.txt", COMPACT)
    mine = root / "mine.jsonl"
    mine.write_text(json.dumps(AXOLOTL) + "\n", encoding="utf-8")
    ingest(make_settings(root / "home", seeds=root / "seeds"), add=[mine])
    server = start_app(root / "home", root / "serve.log", env={"RAG_SEEDS": str(root / "seeds")})
    yield server.ready_url.rstrip("/")
    server.stop()


def test_a_users_paper_comes_with_names_links_and_its_bibtex(own_papers_url):
    out = client_of(own_papers_url).predict("What do axolotls need for limb regeneration?", api_name="/ask")
    assert out["citations"][0]["title"] == AXOLOTL["title"]
    src = next(s for s in out["sources"] if s["title"] == AXOLOTL["title"])
    assert src["author_names"] == AXOLOTL["authors"]
    assert src["links"] == {"url": AXOLOTL["url"], "arxiv": "https://arxiv.org/abs/2209.01234",
                            "doi": "https://doi.org/10.1234/axo.2022.7"}
    entry = entries(out["bibtex"])[0]
    assert entry.key == "garcia2022axolotl" and entry.entry_type == "article"
    assert entry.fields_dict["author"].value == " and ".join(AXOLOTL["authors"])
    assert (entry.fields_dict["doi"].value, entry.fields_dict["eprint"].value) == (AXOLOTL["doi"], AXOLOTL["arxiv_id"])
    assert out["references_markdown"].startswith(
        "[1] María José García, Wei Zhang (2022). *Axolotl Limb Regeneration Needs Macrophages*. "
        "Journal of Regeneration.")
