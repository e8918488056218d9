"""Your own papers in, your references out, in a real browser: Debian's chromium driven by Playwright against
`rag serve` on a copy of the seeds' index (an upload changes the index, so this app is not the shared one).

A .jsonl of two new papers goes in through the Papers tab's file input; the report says what was added; the chat
then answers a question about one of them, citing it with its links; the answer with its references is copied to
the clipboard (or, when the page may not write to it, shown selected to copy by hand) and its BibTeX downloaded.
Everything waits for conditions on the page, never for a time.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from testing.browser import QUESTION, ask
from testing.seeds import HONEYBEE as USER_HONEYBEE
from testing.seeds import ROOT, TARDIGRADE

SHOTS = ROOT / "artifacts" / "screenshots"
VIEWPORT = {"width": 1400, "height": 950}
# a hostile record: markup in the title and an author, a javascript: URL (must show as text, and be no link)
HONEYBEE = {k: v for k, v in USER_HONEYBEE.items() if k != "arxiv_id"} | {
    "title": "Acoustic Monitoring of Honeybee Swarming <img src=x onerror=alert(1)>",
    "authors": ["Karl von Frisch", "<script>alert('x')</script>"], "url": "javascript:alert(document.domain)",
}
TARDIGRADE_Q = "How do tardigrades survive simulated Martian regolith?"
ARXIV = "https://arxiv.org/abs/2405.01234"
LAST_BOT = "#chat [data-testid='bot'] >> nth=-1"


@pytest.fixture(scope="module")
def upload_app(start_app, full_settings, tmp_path_factory) -> str:
    """`rag serve` on its own copy of the shared index of the seeds (no trailing slash)."""
    home = tmp_path_factory.mktemp("upload-app") / "home"
    shutil.copytree(full_settings.home, home)
    server = start_app(home, home.parent / "serve.log", timeout=120)
    return server.ready_url.rstrip("/")


@pytest.fixture
def page(browser, upload_app):
    """A fresh page on the app (allowed to write and read the clipboard); `page.dialogs` lists any alert()."""
    context = browser.new_context(viewport=VIEWPORT, permissions=["clipboard-read", "clipboard-write"])
    pg = context.new_page()
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.goto(upload_app, wait_until="load")
    pg.wait_for_selector(QUESTION, timeout=60_000)
    yield pg
    context.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_upload_jsonl_then_the_chat_cites_the_new_paper_with_its_links_and_references(page, tmp_path):
    page.get_by_role("tab", name="Papers").click()
    page.get_by_text("615 papers indexed").wait_for(timeout=30_000)
    page.locator("#upload-sources").get_by_text("No files added yet").wait_for(timeout=30_000)  # filled on opening

    page.set_input_files("#upload-files input[type=file]", str(write_jsonl(tmp_path / "my-papers.jsonl",
                                                                           [TARDIGRADE, HONEYBEE])))
    page.locator("#upload-report .counts").get_by_text("2 added").wait_for(timeout=120_000)
    report = page.inner_text("#upload-report")
    assert "617 papers indexed" in report and "my-papers.jsonl (jsonl): 2 records, added" in report
    assert "my-papers.jsonl" in page.inner_text("#upload-sources .sources-list")
    page.get_by_text("2 papers of your upload").wait_for(timeout=30_000)
    titles = page.locator('#papers-table [role="gridcell"][data-col="0"]').all_inner_texts()
    assert sorted(t.strip() for t in titles) == sorted([HONEYBEE["title"], TARDIGRADE["title"]])  # shown as text
    row = [t.strip() for t in titles].index(TARDIGRADE["title"])
    link = page.locator(f'#papers-table [role="gridcell"][data-row="{row}"][data-col="4"] a[href="{ARXIV}"]')
    assert link.count() == 1 and link.get_attribute("target") == "_blank"
    assert page.locator('#papers-table a[href^="javascript"]').count() == 0
    assert page.locator("#papers-table script, #papers-table img").count() == 0
    shot(page, "20-upload-report.png")

    page.get_by_role("tab", name="Chat").click()
    ask(page, TARDIGRADE_Q, 0)
    card = page.locator("#sources #src-0-1")
    assert card.locator(".title").inner_text() == TARDIGRADE["title"]
    assert "[1]" in page.locator(LAST_BOT).inner_text()
    cited = card.locator(f'a.paper-link[href="{ARXIV}"]')
    assert cited.count() == 1 and cited.get_attribute("rel") == "noopener noreferrer"
    assert card.locator('a.paper-link[href="https://doi.org/10.5555/tardi.2024"]').count() == 1
    assert "Ada Lovelace, Grace Hopper, Katherine Johnson et al." in card.locator(".meta").inner_text()

    # the answer with its references, copied to the clipboard
    page.wait_for_selector("#copy-refs", state="visible", timeout=30_000)
    page.click("#copy-refs")
    page.wait_for_function("() => document.getElementById('copy-refs').textContent.includes('Copied')",
                           timeout=10_000)
    copied = page.evaluate("() => navigator.clipboard.readText()")
    answer = page.locator(LAST_BOT).inner_text().strip()
    assert copied.startswith(answer.split("[1]")[0].strip()[:40]) and "\n\nReferences:\n[1] " in copied
    assert TARDIGRADE["title"] in copied.split("References:")[1] and ARXIV in copied
    # ... and its BibTeX downloaded
    with page.expect_download(timeout=30_000) as download:
        page.click("#download-bib")
    assert download.value.suggested_filename == "references.bib"
    bib = Path(download.value.path()).read_text(encoding="utf-8")
    assert "2405.01234" in bib and "Lovelace" in bib
    shot(page, "21-answer-with-references.png")
    assert page.dialogs == []  # the hostile record never ran a script


def test_without_clipboard_the_answer_with_references_is_shown_selected(page, tmp_path):
    """When the page may not write to the clipboard, the button opens the text and selects it to copy by hand."""
    page.evaluate("() => { Object.defineProperty(navigator, 'clipboard', {value: {writeText: () => "
                  "Promise.reject(new Error('denied'))}}); }")
    page.locator("#chat button.example").first.click()
    page.wait_for_selector('#sources details.turn[data-turn="0"][open]', timeout=30_000)
    page.wait_for_selector("#copy-refs", state="visible", timeout=30_000)
    assert page.locator("#refs-text textarea").count() == 0 or not page.locator("#refs-text textarea").is_visible()
    page.click("#copy-refs")
    area = page.locator("#refs-text textarea")
    area.wait_for(state="visible", timeout=10_000)
    page.wait_for_function("""() => { const a = document.querySelector('#refs-text textarea');
        return a && document.activeElement === a && a.selectionEnd - a.selectionStart === a.value.length
               && a.value.includes('References:'); }""", timeout=10_000)
    assert "\n\nReferences:\n[1] " in area.input_value()

    page.click("#new")  # a new chat: nothing to copy, the buttons go
    page.wait_for_selector("#copy-refs", state="hidden", timeout=10_000)
