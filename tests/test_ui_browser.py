"""The app in a real browser: Debian's chromium driven by Playwright, against `rag serve` on 127.0.0.1.

scripts/test.sh installs chromium with apt-get when it is missing. Without it these tests FAIL (they
never skip): the browser is the only check that a person actually sees the answer and its evidence.
Screenshots go to artifacts/screenshots/ (git-ignored); the Compare tab's at 1280 px also replaces the one
docs/usage.md shows (docs/img/compare-1280.png) when RAG_UPDATE_DOC_SHOTS=1, so a test run leaves git clean.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import pytest

from testing.seeds import ROOT
from testing.browser import QUESTION, ask
from ui import examples

SHOTS = ROOT / "artifacts" / "screenshots"
DOC_SHOT = ROOT / "docs" / "img" / "compare-1280.png"  # committed: docs/usage.md shows it
VIEWPORT = {"width": 1400, "height": 950}
NARROW = {"width": 1280, "height": 900}  # a laptop

VLLM_TITLE = "Efficient Memory Management for Large Language Model Serving with PagedAttention"
VLLM_Q = "How does vLLM use PagedAttention to reduce KV cache memory waste?"
UNANSWERABLE = "What is the boiling point of olive oil in Antarctica?"
LAST_BOT = "#chat [data-testid='bot'] >> nth=-1"


def open_page(browser: Any, app_url: str, viewport: dict[str, int]) -> Any:
    """A fresh page on the app in a new context; `page.requests_seen` lists every URL the page asked for."""
    pg = browser.new_context(viewport=viewport).new_page()
    pg.requests_seen = []
    pg.on("request", lambda r: pg.requests_seen.append(r.url))
    pg.goto(app_url, wait_until="load")
    pg.wait_for_selector(QUESTION, timeout=60_000)
    return pg


@pytest.fixture
def page(browser, app_url):
    pg = open_page(browser, app_url, VIEWPORT)
    yield pg
    pg.context.close()


@pytest.fixture
def laptop_page(browser, app_url):
    """The same at 1280 px wide."""
    pg = open_page(browser, app_url, NARROW)
    yield pg
    pg.context.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


def save_small_png(png: bytes, path: Path) -> None:
    """A screenshot kept in git: 64 colours (a page of text looks the same, a third of the bytes)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=64).save(path, optimize=True)


def assert_only_local_requests(page: Any, app_url: str) -> None:
    outside = [u for u in page.requests_seen
               if not (u == app_url or u.startswith(app_url + "/") or u.startswith(("data:", "blob:")))]
    assert page.requests_seen and not outside, outside


def cited_ids(page: Any) -> list[str]:
    """The sources panel ids the citation links of the latest answer point at."""
    return [h.lstrip("#") for h in page.locator(LAST_BOT).locator("a.cite").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))")]


def test_chat_answer_citations_and_sources(page, app_url):
    ms = ask(page, VLLM_Q, 0)
    print(f"\ntime to first streamed text in the browser (offline mode, first question): {ms:.0f} ms after Enter")
    answer = page.locator(LAST_BOT).inner_text()
    assert VLLM_TITLE in answer and "[1]" in answer
    ids = cited_ids(page)
    assert ids and set(ids) <= {"src-0-1", "src-0-2", "src-0-3", "src-0-4", "src-0-5"}
    for i in set(ids):  # every citation has its source card in the panel, with highlighted evidence
        card = page.locator(f"#sources #{i}")
        assert card.count() == 1 and "cited" in card.get_attribute("class")
        assert card.locator("mark.support").count() >= 1
    assert page.locator("#sources #src-0-1 .title").inner_text() == VLLM_TITLE
    assert re.search(r"retrieval \d+ ms · first text \d+ ms · total \d+ ms · 0 tokens", page.inner_text("#figures"))
    shot(page, "01-answer.png")

    # one click on a citation opens and highlights its source beside the chat (no new tab)
    target = ids[-1]
    page.locator(LAST_BOT).locator(f'a.cite[href="#{target}"]').first.click()
    card = page.locator(f"#sources #{target}")
    page.wait_for_function(f"() => document.getElementById('{target}').classList.contains('flash')", timeout=5000)
    # the smooth scroll ends with the card at the top of the panel, or as far up as the panel scrolls (the last
    # cards of a short list stay where they are, whole on screen): waited for, not timed (a busy machine is slow)
    at_top = f"""() => {{
      const c = document.getElementById('{target}').getBoundingClientRect();
      const p = document.querySelector('#sources .panel'), r = p.getBoundingClientRect();
      const end = p.scrollTop >= p.scrollHeight - p.clientHeight - 1;
      return (c.top - r.top >= 0 && c.top - r.top < 40) || (end && c.top >= r.top && c.bottom <= r.bottom + 1);
    }}"""
    page.wait_for_function(at_top, timeout=30_000)
    assert card.evaluate("el => el.open") is True
    assert page.evaluate(at_top) is True  # the panel scrolled the card to its top (or as far as it goes)...
    assert page.evaluate("() => window.scrollY") == 0  # ...and the chat stayed where it was
    assert len(page.context.pages) == 1
    shot(page, "02-citation-clicked.png")

    # a follow-up about source [2]: answered from that paper, in a new section of the panel
    second_title = page.locator("#sources #src-0-2 .title").inner_text()
    ask(page, "what about [2]?", 1)
    assert page.locator("#sources #src-1-1 .title").inner_text() == second_title
    assert page.locator('#sources details.turn[data-turn="0"]').evaluate("el => el.open") is False
    assert page.evaluate("() => document.querySelector('#sources .panel').scrollTop") == 0  # the new answer on top
    shot(page, "03-follow-up.png")

    # an unanswerable question: the abstention, and the nearest papers beside it
    ask(page, UNANSWERABLE, 2)
    said = page.locator(LAST_BOT).inner_text()
    assert said.startswith("No paper in the corpus mentions Antarctica.") and "does not contain an answer" in said
    assert page.locator('#sources details.turn[data-turn="2"] .abstain').count() == 1
    assert page.locator('#sources details.turn[data-turn="2"] .source').count() >= 1
    shot(page, "04-abstain.png")

    # an empty question: a message a person understands, and the conversation stays as it was
    bots = page.locator("#chat [data-testid='bot']").count()
    page.fill(QUESTION, "  ")
    page.press(QUESTION, "Enter")
    page.get_by_text("The question is empty").first.wait_for(timeout=10_000)
    assert page.locator("#chat [data-testid='bot']").count() == bots
    page.wait_for_timeout(800)  # the toast's fade-in, for the screenshot
    shot(page, "05-empty-question.png")
    ms = ask(page, VLLM_Q, 3)  # and the app goes on answering
    print(f"time to first streamed text in the browser (offline mode, fourth question): {ms:.0f} ms after Enter")

    # the chat's own trash button starts over: the next answer is the only one, with its sources alone
    page.click("#chat button[aria-label='Clear']")
    page.get_by_text("Sources appear here").wait_for(timeout=10_000)
    ask(page, UNANSWERABLE, 0)
    assert page.locator("#chat [data-testid='bot']").count() == 1
    assert page.locator("#sources details.turn").count() == 1
    assert_only_local_requests(page, app_url)


def test_papers_tab_open_and_ask(page, app_url):
    page.get_by_role("tab", name="Papers").click()
    page.get_by_text("615 papers indexed").wait_for(timeout=20_000)
    page.fill("#paper-query input", "speculative decoding")
    page.press("#paper-query input", "Enter")
    page.get_by_text("best matches for").wait_for(timeout=20_000)
    first_cell = page.locator('#papers-table [role="gridcell"][data-row="0"][data-col="0"]')
    title = first_cell.inner_text().strip()
    assert "speculative" in title.lower()
    first_cell.click()
    page.wait_for_selector("#paper-detail .paper h3", timeout=10_000)
    assert page.inner_text("#paper-detail h3") == title
    assert len(page.inner_text("#paper-detail .abstract")) > 200
    shot(page, "06-paper-open.png")

    page.click("#ask-paper")
    page.wait_for_selector('#sources details.turn[data-turn="0"][open]', timeout=30_000)
    page.wait_for_function("() => !document.querySelector('#chat').innerText.includes('▍')", timeout=30_000)
    assert page.locator("#sources #src-0-1 .title").inner_text() == title
    assert title in page.locator(LAST_BOT).inner_text()
    shot(page, "07-ask-about-paper.png")
    assert_only_local_requests(page, app_url)


def test_api_page_documents_the_endpoints(page, app_url):
    page.get_by_text("Use via API").click()
    page.get_by_text('api_name="/ask"').first.wait_for(timeout=10_000)
    for name in ("/ask", "/search", "/paper"):
        assert page.get_by_text(f'api_name="{name}"').count() >= 1
    assert_only_local_requests(page, app_url)


def test_empty_chat_offers_examples_and_one_click_answers_it(page, app_url):
    offered = page.locator("#chat button.example")
    assert offered.all_inner_texts() == examples.CHAT  # a first-time visitor sees what to ask
    offered.first.click()
    page.wait_for_selector('#sources details.turn[data-turn="0"][open]', timeout=30_000)
    page.wait_for_function("() => !document.querySelector('#chat').innerText.includes('▍')", timeout=30_000)
    assert page.locator("#chat [data-testid='user']").inner_text().strip() == examples.CHAT[0]
    assert cited_ids(page) and page.locator("#sources .source.cited mark.support").count() >= 1
    assert page.locator("#chat button.example").count() == 0  # the examples give way to the conversation
    assert page.input_value(QUESTION) == ""
    assert_only_local_requests(page, app_url)


# the row's Reports cell, its paper's card and the card's highlighted sentence, as seen by the page
def cell(row: int, col: int) -> str:
    return f'#compare-table [role="gridcell"][data-row="{row}"][data-col="{col}"]'


MARK_IN_VIEW = """() => {
  const m = document.querySelector('#compare-sources .source.picked mark.support');
  if (!m) return false;
  const r = m.getBoundingClientRect(), p = document.querySelector('#compare-sources .panel').getBoundingClientRect();
  return r.top >= p.top - 1 && r.bottom <= p.bottom + 1 && r.top >= 0 && r.bottom <= window.innerHeight;
}"""


def test_compare_tab_at_1280_px_table_beside_its_sources(laptop_page, app_url):
    page = laptop_page
    page.get_by_role("tab", name="Compare").click()
    page.click("#compare-example")  # the chat's comparison example, offered here too: it asks it
    page.wait_for_selector(cell(1, 4), timeout=30_000)
    page.wait_for_selector("#compare-sources .panel .source", timeout=30_000)
    assert page.input_value("#compare-question input") == examples.COMPARE

    # readable at 1280 px: nothing wider than the window, the cells wrap inside the table, the panel beside it
    assert page.evaluate("() => document.documentElement.scrollWidth") <= NARROW["width"]
    table = page.locator("#compare-table").bounding_box()
    reports = page.locator(cell(0, 4))
    box = reports.bounding_box()
    assert box["x"] + box["width"] <= table["x"] + table["width"] + 1
    wrap = reports.evaluate("""e => { const s = e.querySelector('span'), st = getComputedStyle(s);
      return [st.whiteSpace, s.getBoundingClientRect().height / parseFloat(st.lineHeight)]; }""")
    assert wrap[0] != "nowrap" and wrap[1] >= 2, wrap  # a long sentence takes several lines, not one clipped one
    panel = page.locator("#compare-sources").bounding_box()
    assert panel["x"] >= table["x"] + table["width"] and panel["width"] >= 300
    assert panel["y"] < table["y"] + table["height"] and table["y"] < panel["y"] + panel["height"]  # side by side
    cards = page.locator("#compare-sources .source")
    titles = page.locator("#compare-table [role='gridcell'][data-col='1']").all_inner_texts()
    assert cards.count() == len(titles) >= 2

    # a click on a Reports cell highlights that sentence in its paper's card, and shows it
    row = next(i for i, t in enumerate(titles) if t.startswith("S-LoRA"))
    said = " ".join(page.locator(cell(row, 4)).inner_text().split())
    page.click(cell(row, 4))
    page.wait_for_selector("#compare-sources .source.picked mark.support", timeout=30_000)
    card = page.locator("#compare-sources .source.picked")
    n = page.locator(cell(row, 0)).inner_text().strip().strip("[]")
    assert card.get_attribute("id") == f"cmp-{n}" and card.locator(".title").inner_text().startswith("S-LoRA")
    marked = " ".join(card.locator("mark.support").inner_text().split())
    assert said[-40:] in marked and "4 times" in marked
    assert page.locator("#compare-sources mark.support").count() == 1
    page.wait_for_function(MARK_IN_VIEW, timeout=30_000)  # the panel scrolled to it (smoothly: waited for)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= NARROW["width"]
    png = page.screenshot()  # the viewport only
    save_small_png(png, SHOTS / DOC_SHOT.name)
    if os.environ.get("RAG_UPDATE_DOC_SHOTS") == "1":
        save_small_png(png, DOC_SHOT)

    # the paper's title picks its card without a sentence; the downloads are still there
    page.click(cell(0, 1))
    page.wait_for_function("() => { const c = document.querySelector('#compare-sources .source.picked');"
                           f" return c && c.id !== 'cmp-{n}'; }}", timeout=30_000)
    assert page.locator("#compare-sources mark.support").count() == 0
    with page.expect_download(timeout=30_000) as download:
        page.click("#compare-csv")
    assert download.value.suggested_filename == "comparison.csv"
    assert_only_local_requests(page, app_url)
