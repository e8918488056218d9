"""The `rag` CLI as a real subprocess (python -m rag.cli) with RAG_HOME in a temporary folder."""

from __future__ import annotations

import json
import re

import pytest

from testing.seeds import abstract_for, make_settings, open_store, write_seed

REQUIRED_SUMMARY = {"papers", "chunks", "added", "updated", "unchanged", "removed", "skipped"}
REQUIRED_HIT = {"paper_id", "title", "score", "date", "snippet"}

COMPACT = ["Quokka Population Dynamics on Rottnest Island", "Zebrafish Fin Regeneration Atlas",
           "Basalt Weathering Rates Under Glacial Cycles"]
DATED = [
    {"title": "Tidal Energy Harvesting with Flexible Membranes", "authors": 4, "date": "Mar 2, 2023 7"},
    {"title": "Lichen Symbiosis Networks in Alpine Soil", "organization": "Alpine Institute", "date": "Apr 9, 2024"},
    {"title": "Coral Reef Acoustics for Reef Health Monitoring", "authors": 2, "date": "Jan 20 5"},  # -> 2025
]
DATES = {"Tidal Energy Harvesting with Flexible Membranes": "2023-03-02",
         "Lichen Symbiosis Networks in Alpine Soil": "2024-04-09",
         "Coral Reef Acoustics for Reef Health Monitoring": "2025-01-20"}
TITLES = COMPACT + [p["title"] for p in DATED]


def no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


@pytest.fixture(scope="module")
def ingested(cli, tmp_path_factory):
    """A small seed folder (both layouts, one orphan abstract) ingested once through `rag ingest --json`."""
    root = tmp_path_factory.mktemp("cli")
    seeds = root / "seeds"
    write_seed(seeds, "a.txt", COMPACT)
    write_seed(seeds, "b.txt", DATED, spaced=True)
    orphan = write_seed(seeds, "c.txt", [], header=False)
    orphan.write_text(abstract_for("a paper whose title was lost") + "\n")
    home = root / "home"
    proc = cli("ingest", seeds, "--json", home=home)
    return home, seeds, proc


def test_ingest_json(ingested):
    home, _, proc = ingested
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    assert len(proc.stdout.strip().splitlines()) == 1
    summary = json.loads(proc.stdout)
    assert isinstance(summary, dict) and REQUIRED_SUMMARY <= set(summary)
    assert {k: summary[k] for k in REQUIRED_SUMMARY} == {
        "papers": 6, "chunks": 6, "added": 6, "updated": 0, "unchanged": 0, "removed": 0, "skipped": 1}
    assert summary["problems"] == ["c.txt:1: abstract with no title above it; paper skipped"]
    assert (home / "chroma").is_dir()  # everything went under RAG_HOME


def test_reingest_human_output(cli, ingested):
    home, seeds, _ = ingested
    proc = cli("ingest", seeds, home=home)
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    assert re.search(r"6 papers \(6 records read\), 6 chunks: 0 added, 0 updated, 6 unchanged, "
                     r"0 removed, 1 skipped", proc.stdout), proc.stdout
    assert "warning" in proc.stderr and "c.txt:1:" in proc.stderr


def test_search_json(cli, ingested):
    home, _, _ = ingested
    proc = cli("search", "zebrafish fin regeneration", "--json", "-k", "3", home=home)
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    hits = json.loads(proc.stdout)
    assert isinstance(hits, list) and 1 <= len(hits) <= 3
    for h in hits:
        assert REQUIRED_HIT <= set(h)
        assert isinstance(h["score"], float) and isinstance(h["snippet"], str) and h["snippet"]
        assert h["title"] in TITLES
    assert hits[0]["title"] == "Zebrafish Fin Regeneration Atlas"
    assert hits[0]["date"] is None
    assert len({h["paper_id"] for h in hits}) == len(hits)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


def test_search_date_filters(cli, ingested):
    home, _, _ = ingested
    since, until = "2024-01-01", "2024-12-31"
    proc = cli("search", "energy soil reef monitoring", "--json", "--since", since, "--until", until, home=home)
    assert proc.returncode == 0, proc.stderr
    hits = json.loads(proc.stdout)
    expected = {t for t, d in DATES.items() if since <= d <= until}
    assert {h["title"] for h in hits} == expected
    assert all(since <= h["date"] <= until for h in hits)


def test_malformed_date_exits_1(cli, ingested):
    home, _, _ = ingested
    proc = cli("search", "reef", "--since", "2024-02-30", home=home)
    assert proc.returncode == 1
    no_traceback(proc)
    assert "--since" in proc.stderr and "2024-02-30" in proc.stderr and "YYYY-MM-DD" in proc.stderr
    assert proc.stdout == ""


def test_papers_json(cli, ingested):
    home, _, _ = ingested
    proc = cli("papers", "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["title"] for r in rows] == sorted(TITLES, key=str.casefold)
    by = {r["title"]: r for r in rows}
    for title, d in DATES.items():
        assert by[title]["date"] == d
    assert by["Tidal Energy Harvesting with Flexible Membranes"]["upvotes"] == 7
    assert by["Lichen Symbiosis Networks in Alpine Soil"]["upvotes"] is None
    assert by[COMPACT[0]]["date"] is None and by[COMPACT[0]]["files"] == "a.txt"
    assert len({r["paper_id"] for r in rows}) == 6


def test_search_without_index(cli, tmp_path):
    proc = cli("search", "anything", "--json", home=tmp_path / "empty-home")
    assert proc.returncode == 1
    no_traceback(proc)
    assert "rag ingest" in proc.stderr and proc.stderr.startswith("error:")
    assert proc.stdout == ""


def test_ingest_missing_path(cli, tmp_path):
    proc = cli("ingest", "/nonexistent", home=tmp_path / "home")
    assert proc.returncode == 1
    no_traceback(proc)
    assert "not found" in proc.stderr and "/nonexistent" in proc.stderr and "hint:" in proc.stderr


def test_ingest_with_no_paper_exits_1(cli, tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "dump.txt").write_bytes(b"\x00\x00")
    proc = cli("ingest", seeds, home=tmp_path / "home")
    assert proc.returncode == 1
    no_traceback(proc)
    assert "no papers" in proc.stderr and "dump.txt" in proc.stderr


@pytest.mark.parametrize("env, command, says", [
    ({"RAG_TOP_K": "0"}, ["search", "reef"], "RAG_TOP_K"),
    ({"RAG_CHUNK_SIZE": "64", "RAG_CHUNK_OVERLAP": "64"}, ["ingest", "--json"], "chunk_overlap"),
])
def test_invalid_setting_exits_1(cli, tmp_path, env, command, says):
    write_seed(tmp_path / "seeds", "a.txt", COMPACT)
    proc = cli(*command, home=tmp_path / "home", env={**env, "RAG_SEEDS": str(tmp_path / "seeds")})
    assert proc.returncode == 1
    no_traceback(proc)
    assert "invalid setting" in proc.stderr and says in proc.stderr and "hint:" in proc.stderr
    assert not (tmp_path / "home" / "chroma").exists()


def test_search_on_empty_collection(cli, tmp_path):
    home = tmp_path / "home"
    open_store(make_settings(home), create=True)  # the collection ingest creates before writing any chunk
    proc = cli("search", "anything", home=home)
    no_traceback(proc)
    assert proc.returncode == 1 and "rag ingest" in proc.stderr


def test_an_index_of_another_embedder_is_refused_or_rebuilt_on_request(cli, tmp_path):
    """What happens to an index built before the default embedder changed: `rag ingest` refuses it with the
    remedy; `--rebuild-if-mismatched` (scripts/run.sh) says so in one line and rebuilds it."""
    seeds = tmp_path / "seeds"
    write_seed(seeds, "a.txt", COMPACT)
    home = tmp_path / "home"
    old = cli("ingest", seeds, home=home, env={"RAG_EMBEDDER": "wordllama"})
    assert old.returncode == 0, old.stderr
    refused = cli("ingest", seeds, home=home)  # the default embedder now
    assert refused.returncode == 1 and "rag ingest --rebuild" in refused.stderr, refused.stderr
    assert "embedder: index='wordllama" in refused.stderr
    no_traceback(refused)
    rebuilt = cli("ingest", seeds, "--rebuild-if-mismatched", "--json", home=home)
    assert rebuilt.returncode == 0, rebuilt.stderr
    notice = [line for line in rebuilt.stderr.splitlines() if "rebuilding it" in line]
    assert len(notice) == 1 and "embedder: index='wordllama" in notice[0]
    assert json.loads(rebuilt.stdout)["added"] == len(COMPACT)
    again = cli("ingest", seeds, "--rebuild-if-mismatched", "--json", home=home)  # nothing to rebuild now
    assert again.returncode == 0 and "rebuilding" not in again.stderr
    assert json.loads(again.stdout)["unchanged"] == len(COMPACT)
    hits = cli("search", "zebrafish fins", "--json", home=home)
    assert hits.returncode == 0 and json.loads(hits.stdout)[0]["title"] == "Zebrafish Fin Regeneration Atlas"
