"""A user's added files (sources): kept under RAG_HOME, read by every later ingest, removed only when asked.

Real Chroma in temporary homes, the default embedder, small hand-made page dumps as the seeds and as the
user's files (the other formats' readers have their own tests: tests/test_readers.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import CorpusError
from rag.ingestion.pipeline import ingest, remove_sources
from rag.ingestion.sources import list_sources
from testing.seeds import COMPACT, SPACED, abstract_for, make_settings, write_seed

MINE = [{"title": "Sourdough Starter Microbiome Succession", "authors": 3, "date": "May 5, 2024 2"},
        {"title": "Glacier Meltwater Routing Beneath Ice Sheets", "date": "Jun 1, 2024"}]


def _titles(settings) -> set[str]:
    from rag.search.retriever import Retriever

    return {p.title for p in Retriever(settings).papers()}


@pytest.fixture
def home(tmp_path: Path):
    """(settings, seeds folder, the user's file outside it): three seed papers, two of the user's."""
    seeds = tmp_path / "seeds"
    write_seed(seeds, "a.txt", COMPACT)
    mine = write_seed(tmp_path / "downloads", "mine.txt", MINE, spaced=True)
    return make_settings(tmp_path / "home", seeds=seeds), seeds, mine


def test_an_added_file_survives_reingest_rebuild_and_the_loss_of_the_original(home):
    settings, _, mine = home
    first = ingest(settings)
    assert (first.papers, first.added) == (3, 3)
    summary = ingest(settings, add=[mine])
    assert (summary.papers, summary.added, summary.removed) == (5, 2, 0)
    assert summary.sources == [{"name": "mine.txt", "origin": str(mine.resolve()), "format": "page dump",
                                "records": 2, "status": "added"}]
    [kept] = list_sources(settings)
    assert (kept.name, kept.records) == ("mine.txt", 2)
    assert (settings.home / "sources" / "files" / "mine.txt").read_bytes() == mine.read_bytes()
    mine.unlink()  # the user's original is gone: the kept copy is what is read
    again = ingest(settings)
    assert (again.papers, again.unchanged, again.removed) == (5, 5, 0)
    rebuilt = ingest(settings, rebuild=True)
    assert (rebuilt.papers, rebuilt.added) == (5, 5)
    assert _titles(settings) == set(COMPACT) | {p["title"] for p in MINE}


def test_the_same_file_again_is_unchanged_and_an_edited_one_updates_its_source(home):
    settings, _, mine = home
    ingest(settings, add=[mine])
    assert ingest(settings, add=[mine]).sources[0]["status"] == "unchanged"
    write_seed(mine.parent, mine.name, [MINE[0], {"title": "Moss Desiccation Tolerance Genes"}], spaced=True)
    summary = ingest(settings, add=[mine])
    assert summary.sources[0]["status"] == "updated" and summary.sources[0]["name"] == "mine.txt"
    assert len(list_sources(settings)) == 1
    # the source is the file now: the paper it no longer holds leaves, the new one comes in
    assert (summary.added, summary.removed) == (1, 1)
    assert "Moss Desiccation Tolerance Genes" in _titles(settings)


def test_another_file_of_the_same_name_is_kept_under_its_own_name(home, tmp_path):
    settings, _, mine = home
    other = write_seed(tmp_path / "elsewhere", "mine.txt", [{"title": "Coral Spawning Synchrony Cues"}])
    ingest(settings, add=[mine])
    summary = ingest(settings, add=[other])
    name = summary.sources[0]["name"]
    assert name.startswith("mine-") and name.endswith(".txt") and name != "mine.txt"
    assert [s.name for s in list_sources(settings)] == ["mine.txt", name]
    assert summary.papers == 6


def test_a_file_with_no_paper_is_not_added_and_changes_nothing(home, tmp_path):
    settings, _, _ = home
    ingest(settings)
    junk = tmp_path / "notes.txt"
    junk.write_text("just a line\nand another one\n")
    with pytest.raises(CorpusError) as e:
        ingest(settings, add=[junk])
    assert "notes.txt" in e.value.message and "nothing was added" in e.value.hint
    assert list_sources(settings) == []
    assert ingest(settings).unchanged == 3


def test_a_readable_file_is_added_beside_an_unreadable_one_which_is_reported(home, tmp_path):
    settings, _, mine = home
    junk = tmp_path / "downloads" / "junk.txt"
    junk.write_text("no papers here\n")
    summary = ingest(settings, add=[mine.parent])  # a folder: every paper file in it
    assert [s["name"] for s in summary.sources] == ["mine.txt"]
    assert any(p.startswith("junk.txt: no paper could be read") and "file not added" in p for p in summary.problems)
    assert summary.papers == 5


def test_removing_a_source_is_explicit_and_drops_only_its_papers(home):
    settings, _, mine = home
    ingest(settings, add=[mine])
    with pytest.raises(CorpusError):
        remove_sources(settings, ["nope.txt"])
    assert len(list_sources(settings)) == 1  # an unknown name removes nothing
    summary = remove_sources(settings, ["mine.txt"])
    assert (summary.papers, summary.removed) == (3, 2)
    assert list_sources(settings) == [] and not (settings.home / "sources" / "files" / "mine.txt").exists()
    assert _titles(settings) == set(COMPACT)


def test_a_seed_file_passed_to_add_is_read_as_a_seed_not_copied(home):
    settings, seeds, _ = home
    summary = ingest(settings, add=[seeds])
    assert summary.papers == 3 and summary.sources == [] and list_sources(settings) == []


def test_a_source_whose_copy_was_deleted_keeps_its_papers_and_says_so(home):
    settings, _, mine = home
    ingest(settings, add=[mine])
    (settings.home / "sources" / "files" / "mine.txt").unlink()
    summary = ingest(settings)
    assert (summary.papers, summary.removed, summary.kept_unreadable) == (3, 0, 2)
    assert any("kept copy of this added source is gone" in p for p in summary.problems)
    assert _titles(settings) == set(COMPACT) | {p["title"] for p in MINE}


def test_a_paper_in_the_seeds_and_in_a_users_file_is_one_paper(home):
    settings, _, mine = home
    write_seed(mine.parent, mine.name, [*MINE, {"title": COMPACT[0].upper(), "abstract": abstract_for("x") * 2}],
               spaced=True)
    summary = ingest(settings, add=[mine])
    assert summary.papers == 5  # the seed paper, in upper case in the user's file, is not a sixth
    from rag.corpus.records import paper_id
    from rag.search.retriever import Retriever

    record = next(p for p in Retriever(settings).papers() if p.paper_id == paper_id(COMPACT[0]))
    assert record.title == COMPACT[0] and sorted(record.files) == ["a.txt", "mine.txt"]


# --------------------------------------------------------------------------- the CLI, as a user and run.sh use it


def test_cli_add_list_survive_embedder_switch_and_remove(cli, home):
    settings, seeds, mine = home
    env = {"RAG_SEEDS": str(seeds)}
    added = cli("ingest", mine, home=settings.home, env=env)
    assert added.returncode == 0, added.stderr
    assert "added: mine.txt (page dump, 2 records)" in added.stdout and "5 papers" in added.stdout
    listed = json.loads(cli("sources", "--json", home=settings.home, env=env).stdout)
    assert [(s["name"], s["format"], s["records"]) for s in listed] == [("mine.txt", "page dump", 2)]
    # an embedder switch: refused, then rebuilt the way scripts/run.sh does it; the user's papers stay
    other = {**env, "RAG_EMBEDDER": "wordllama"}
    assert cli("ingest", home=settings.home, env=other).returncode == 1
    switched = cli("ingest", "--rebuild-if-mismatched", "--json", home=settings.home, env=other)
    assert switched.returncode == 0, switched.stderr
    assert json.loads(switched.stdout)["papers"] == 5
    removed = cli("sources", "remove", "mine.txt", "--json", home=settings.home, env=other)
    assert removed.returncode == 0, removed.stderr
    assert (json.loads(removed.stdout)["papers"], json.loads(removed.stdout)["removed"]) == (3, 2)
    unknown = cli("sources", "remove", "mine.txt", home=settings.home, env=other)
    assert unknown.returncode == 1 and "no added source named 'mine.txt'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


@pytest.mark.parametrize("point", ["sources:copied", "sources:listed"])
def test_an_add_killed_part_way_loses_nothing_and_the_next_run_finishes_it(cli, home, point):
    settings, seeds, mine = home
    env = {"RAG_SEEDS": str(seeds)}
    assert cli("ingest", home=settings.home, env=env).returncode == 0
    killed = cli("ingest", mine, home=settings.home, env={**env, "RAG_TEST_KILL_AT": point})
    assert killed.returncode == -9, killed.stderr
    listed = [s["name"] for s in json.loads(cli("sources", "--json", home=settings.home, env=env).stdout)]
    assert _titles(settings) == set(COMPACT)  # the index is as it was
    if point == "sources:copied":  # the copy is there, the manifest does not name it: not a source yet
        assert listed == [] and (settings.home / "sources" / "files" / "mine.txt").exists()
        rerun = cli("ingest", mine, "--json", home=settings.home, env=env)
    else:  # listed, not yet indexed: a plain ingest finishes the work
        assert listed == ["mine.txt"]
        rerun = cli("ingest", "--json", home=settings.home, env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert (json.loads(rerun.stdout)["papers"], json.loads(rerun.stdout)["added"]) == (5, 2)
    assert [s["name"] for s in json.loads(cli("sources", "--json", home=settings.home, env=env).stdout)] == ["mine.txt"]
    assert _titles(settings) == set(COMPACT) | {p["title"] for p in MINE}
