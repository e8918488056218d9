"""Your own papers through the Papers tab's upload handler (ui/upload.py), in-process, on a copy of the real index:
the report, the table, the list of sources, the chat answering from the new papers with their links, the answer's
references (Markdown to copy, BibTeX to download), and files that add nothing.

Outside a request Gradio turns gr.Warning into a Python warning, which is what these tests catch.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from rag import list_sources
from testing.seeds import HONEYBEE, TARDIGRADE, make_settings
from ui.backend import OFFLINE, Backend
from ui.chat import make_chat_turn, make_references
from ui.papers import HEADERS, PapersTab
from ui.upload import UploadPanel

TARDIGRADE_Q = "How do tardigrades survive simulated Martian regolith?"


def write_jsonl(folder: Path, name: str, rows: list[Any]) -> Path:
    """A JSON Lines file: dicts as JSON objects, strings as raw lines (e.g. a broken one)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def cited_titles(backend: Backend) -> set[str]:
    """The titles the chat's answer to the tardigrade question cites, offline."""
    *_, answers = list(make_chat_turn(backend)(TARDIGRADE_Q, [], 5, "", "", OFFLINE))[-1]
    return {c.title for c in answers[-1].citations}


def skipped(output: Any) -> bool:
    """Whether a handler's output leaves its component as it was (gr.skip())."""
    return output == {"__type__": "update"} or type(output).__name__ == "SkipUpdate"


class Recorder:
    """Stands in for gr.Progress: records what the handler reports."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, str | None]] = []

    def __call__(self, progress: Any, desc: str | None = None, **_: Any) -> None:
        self.calls.append((progress, desc))


@pytest.fixture
def backend(full_settings, tmp_path):
    """A Backend on a copy of the shared index of the seeds (an upload changes it), opened as the app opens it."""
    home = tmp_path / "home"
    shutil.copytree(full_settings.home, home)
    backend = Backend(make_settings(home, llm="extractive"))
    assert backend.warm() is None
    return backend


@pytest.fixture
def tab(backend):
    """The upload panel wired to a Papers tab, as the page builds them (without the components)."""
    panel = UploadPanel(backend)
    panel.papers = PapersTab(backend)
    return panel


def test_upload_jsonl_shows_the_summary_table_and_sources_and_the_chat_cites_the_new_paper(tab, backend, tmp_path):
    file = write_jsonl(tmp_path / "mine", "my-papers.jsonl", [TARDIGRADE, HONEYBEE])
    answerer_before = backend.answerer()
    progress = Recorder()
    report, sources, table, count, box = tab.add([str(file)], progress)

    assert "<b>2 added</b> · 0 updated · 0 skipped · 617 papers indexed" in report
    assert "<b>my-papers.jsonl</b> (jsonl): 2 records, added" in report
    done, total = progress.calls[-1][0]
    assert done == total > 0  # the bar was fed by the ingest and ended full
    assert "my-papers.jsonl" in sources and "<td>jsonl</td><td>2</td>" in sources
    assert [s.name for s in list_sources(backend.settings)] == ["my-papers.jsonl"]
    assert box is None  # the file box is emptied for the next upload
    assert count.startswith("2 papers of your upload")
    rows = {r[0]: dict(zip(HEADERS, r)) for r in table}
    assert set(rows) == {TARDIGRADE["title"], HONEYBEE["title"]}
    tardigrade = rows[TARDIGRADE["title"]]
    assert tardigrade["Authors · venue"] == ("Ada Lovelace, Grace Hopper, Katherine Johnson et al. · "
                                             "Journal of Extremophile Biology")
    assert tardigrade["Date"] == "2024-05-01"
    assert 'href="https://arxiv.org/abs/2405.01234"' in tardigrade["Links"]
    assert 'href="https://doi.org/10.5555/tardi.2024"' in tardigrade["Links"]
    assert rows[HONEYBEE["title"]]["Authors · venue"] == "Karl von Frisch, Thomas Seeley"
    assert len(tab.papers.fill_table("")[0]) == 617  # the whole table has them too

    # the next question searches the new papers: the app's index was reopened, not left to notice the change later
    assert backend.answerer() is not answerer_before
    outs = list(make_chat_turn(backend)(TARDIGRADE_Q, [], 5, "", "", OFFLINE))
    *_, panel, _, answers = outs[-1]
    answer = answers[-1]
    assert answer.citations and answer.citations[0].title == TARDIGRADE["title"]
    assert 'href="https://arxiv.org/abs/2405.01234" target="_blank" rel="noopener noreferrer"' in panel
    assert "Ada Lovelace, Grace Hopper, Katherine Johnson et al. · Journal of Extremophile Biology" in panel

    # ... and the answer goes out with its references
    group, text, bib = make_references(backend)(answers)
    assert group["visible"] is True
    assert text.startswith(answer.text) and "References:" in text and TARDIGRADE["title"] in text
    assert "https://arxiv.org/abs/2405.01234" in text
    entries = Path(bib).read_text(encoding="utf-8")
    assert Path(bib).name == "references.bib" and entries.count("@") == len(answer.citations)
    assert "2405.01234" in entries and "Lovelace" in entries


def test_second_file_updates_a_paper_skips_a_bad_record_and_says_why(tab, backend, tmp_path):
    first = {k: v for k, v in TARDIGRADE.items() if k != "venue"}
    tab.add([str(write_jsonl(tmp_path / "a", "first.jsonl", [first]))])
    newer = {**first, "venue": "Astrobiology Letters"}  # the same paper (by its arXiv id), now with a venue
    second = write_jsonl(tmp_path / "b", "second.jsonl", [newer, HONEYBEE, {"title": "No abstract here"}, "{oops"])
    report, sources, table, _, _ = tab.add([str(second)])
    assert "<b>1 added</b> · 1 updated · 2 skipped" in report, report
    assert "Skipped or changed in your files:" in report and report.count("<li>second.jsonl:") >= 2
    assert "second.jsonl:3:" in report and "second.jsonl:4:" in report  # file:line: reason, for each bad record
    assert [s.name for s in list_sources(backend.settings)] == ["first.jsonl", "second.jsonl"]
    assert "first.jsonl" in sources and "second.jsonl" in sources
    venues = {r[0]: r[1] for r in table}
    assert venues[TARDIGRADE["title"]].endswith("Astrobiology Letters")
    # the same file again changes nothing, and says so
    report, *_ = tab.add([str(second)])
    assert "<b>0 added</b> · 0 updated" in report and "already added, with the same content" in report


def test_an_edited_file_uploaded_again_under_its_name_replaces_the_earlier_upload(tab, backend, tmp_path):
    # each upload arrives under a new temporary path: its name, not its path, says which source it replaces
    tab.add([str(write_jsonl(tmp_path / "one", "library.jsonl", [TARDIGRADE, HONEYBEE]))])
    tab.add([str(write_jsonl(tmp_path / "two", "library.jsonl", [TARDIGRADE]))])
    assert [(s.name, s.records, s.origin) for s in list_sources(backend.settings)] == [
        ("library.jsonl", 1, "upload:library.jsonl")]
    titles = {r[0] for r in tab.papers.fill_table("")[0]}
    assert TARDIGRADE["title"] in titles and HONEYBEE["title"] not in titles  # the edit dropped it


def test_removing_an_added_file_from_the_papers_tab_drops_its_papers_and_the_chat_forgets_them(tab, backend,
                                                                                                  tmp_path):
    tab.add([str(write_jsonl(tmp_path / "a", "keep.jsonl", [HONEYBEE]))])
    tab.add([str(write_jsonl(tmp_path / "b", "drop.jsonl", [TARDIGRADE]))])
    assert tab.choices()["choices"] == ["keep.jsonl", "drop.jsonl"]
    assert cited_titles(backend) == {TARDIGRADE["title"]}  # found before
    report, sources, table, count, choices = tab.remove(["drop.jsonl"])
    assert "<b>Removed drop.jsonl</b>: 1 paper left the index" in report and "616 papers indexed" in report
    assert "drop.jsonl" not in sources and "keep.jsonl" in sources
    titles = {r[0] for r in table}
    assert HONEYBEE["title"] in titles and TARDIGRADE["title"] not in titles and count == "616 papers indexed"
    assert choices["choices"] == ["keep.jsonl"] and choices["value"] == []
    assert [s.name for s in list_sources(backend.settings)] == ["keep.jsonl"]
    assert TARDIGRADE["title"] not in cited_titles(backend)  # the next question no longer sees it
    with pytest.warns(UserWarning, match="No added source named"):
        report, *_ = tab.remove(["nope.jsonl"])
    assert "Nothing was removed" in report and [s.name for s in list_sources(backend.settings)] == ["keep.jsonl"]


def test_a_file_without_papers_is_refused_and_the_index_is_unchanged(tab, backend, tmp_path):
    before = [r[-1] for r in tab.papers.fill_table("")[0]]
    junk = write_jsonl(tmp_path / "up", "notes.jsonl", [{"name": "not a paper"}, {"title": "No abstract"}])
    with pytest.warns(UserWarning, match="Nothing could be added from notes.jsonl"):
        report, sources, table, count, _ = tab.add([str(junk)])
    assert report.startswith('<div class="upload-report error"><b>Nothing was added.</b>')
    assert "notes.jsonl" in report and str(tmp_path) not in report  # named as the person named it
    assert "Traceback" not in report and "No files added yet" in sources
    assert skipped(table) and skipped(count)  # the table as it was
    assert list_sources(backend.settings) == []
    assert [r[-1] for r in tab.papers.fill_table("")[0]] == before
    assert not (backend.settings.home / "sources" / "files" / "notes.jsonl").exists()


def test_an_ingest_already_running_is_a_clear_message_and_loses_nothing(tab, backend, tmp_path):
    from rag.ingestion.lock import ingest_lock
    from rag.store.paths import Paths

    file = write_jsonl(tmp_path / "up", "my-papers.jsonl", [TARDIGRADE])
    # the lock held as another process's `rag ingest` holds it
    with ingest_lock(Paths.of(backend.settings), 0), pytest.warns(UserWarning, match="Another ingest"):
        report, *_ = tab.add([str(file)])
    assert "Nothing was added." in report and "upload the file again" in report and "Traceback" not in report
    assert list_sources(backend.settings) == [] and len(tab.papers.fill_table("")[0]) == 615
    report, *_ = tab.add([str(file)])  # once it is done, the same upload goes in
    assert "<b>1 added</b>" in report


def test_page_dump_upload_and_no_references_without_citations(tab, backend, tmp_path, seeds_writer):
    dump = seeds_writer(tmp_path / "up", "dump.txt", ["Quokka Population Dynamics on Rottnest Island"])
    report, *_ = tab.add([str(dump)])
    assert "<b>1 added</b>" in report and "(page dump): 1 record, added" in report
    references = make_references(backend)
    assert references([])[0]["visible"] is False  # no answer yet: no buttons
    turn = make_chat_turn(backend)
    answers = list(turn("What is the boiling point of olive oil in Antarctica?", [], 5, "", "", OFFLINE))[-1][4]
    assert answers[-1].abstained and not answers[-1].citations
    group, text, bib = references(answers)
    assert group["visible"] is False and text == "" and bib is None


def test_bibtex_upload_adds_the_entry_with_an_abstract_and_says_why_the_other_was_skipped(tab, backend, tmp_path):
    bib = tmp_path / "up" / "library.bib"
    bib.parent.mkdir(parents=True)
    bib.write_text("""@article{lovelace2024tardigrade,
  title = {Tardigrade Cryptobiosis Survives Simulated {Martian} Regolith},
  author = {Lovelace, Ada and Hopper, Grace},
  journal = {Journal of Extremophile Biology},
  year = {2024},
  doi = {10.5555/tardi.2024},
  abstract = {%s}
}

@misc{noabstract2020,
  title = {A Paper Without an Abstract},
  author = {Nobody, Ann},
  year = {2020}
}
""" % TARDIGRADE["abstract"], encoding="utf-8")
    report, _, table, _, _ = tab.add([str(bib)])
    assert "<b>1 added</b> · 0 updated · 1 skipped" in report and "<b>library.bib</b> (bibtex): 1 record" in report
    assert "library.bib:" in report and "noabstract2020" in report  # the skipped entry, named by its key
    (row,) = table
    assert row[0] == TARDIGRADE["title"] and row[1] == "Ada Lovelace, Grace Hopper · Journal of Extremophile Biology"
    assert 'href="https://doi.org/10.5555/tardi.2024"' in row[4]
    answer = list(make_chat_turn(backend)(TARDIGRADE_Q, [], 5, "", "", OFFLINE))[-1][4][-1]
    assert answer.citations[0].title == TARDIGRADE["title"]
