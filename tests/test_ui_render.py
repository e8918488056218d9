"""What the page renders (ui/render.py): escaped untrusted text, linked citations, highlighted evidence."""

from __future__ import annotations

from html.parser import HTMLParser

from rag.types import Answer, Citation, Flag, PaperRecord, Source
from ui import render

EVIL = 'Injected <script>alert("x")</script> & <img src=x onerror=alert(1)>.'


def source(n: int, text: str, supporting: list[str], cited: bool = True, **meta) -> Source:
    return Source(n=n, paper_id=f"p{n}", title=f"Paper <{n}>", date=meta.pop("date", None), text=text,
                  metadata=meta, supporting=supporting, cited=cited)


def test_answer_links_citations_and_escapes_text():
    src = source(1, "x", [])
    md = render.answer_markdown(f"Paper <1>: It works [1]. {EVIL} [2]", turn=3, sources=[src])
    assert md.startswith("**Paper &lt;1&gt;**: It works ")
    assert '<a href="#src-3-1" class="cite">[1]</a>' in md and '<a href="#src-3-2" class="cite">[2]</a>' in md
    assert "<script>" not in md and "<img" not in md and "&lt;script&gt;" in md


def test_dated_paragraph_lead_is_bold():
    src = source(2, "x", [], date="2024-06-11")
    md = render.answer_markdown("Paper <2> (2024-06-11): Claim [1].", 0, [src])
    assert md.startswith(r"**Paper &lt;2&gt; \(2024\-06\-11\)**: Claim")


def test_markdown_in_untrusted_text_is_shown_as_text():
    """An abstract (or a model) writing Markdown must not make the chat fetch an image from any host, link
    anywhere, or spoof a citation link; the text itself is kept."""
    text = "See ![pixel](http://127.0.0.2:9/x.png) and [click](javascript:alert(1)) **now** # not a heading [1]."
    md = render.answer_markdown(text, 0, [])
    assert r"\!\[pixel\]\(http://127.0.0.2:9/x.png\)" in md
    assert r"\[click\]\(javascript:alert\(1\)\)" in md and r"\*\*now\*\*" in md and r"\# not" in md
    assert md.endswith('<a href="#src-0-1" class="cite">[1]</a>.')  # only real [n] marks become links
    assert render.markdown_text("a_b <i>") == r"a\_b &lt;i&gt;"


def test_model_lines_stay_lines():
    md = render.answer_markdown("Two papers:\n- A does X [1].\n- B does Y [2].", 0, [])
    assert md.count("<br>") == 2 and r"<br>\- A does X" in md


def test_source_card_highlights_support_and_marks_flags():
    text = f"First sentence is background. {EVIL} The method halves memory use."
    src = source(1, text, ["The method halves memory use.", EVIL], date="2025-01-02", authors=7, upvotes=42,
                 organization="Lab & Co")
    flag = Flag("It triples speed [1].", [1], "unsupported", 0.1)
    html = render.source_card(src, turn=0, flags=[flag])
    assert 'id="src-0-1"' in html and 'class="source cited"' in html
    assert '<mark class="support">The method halves memory use.</mark>' in html
    assert "<script>" not in html and "<img" not in html
    assert '<mark class="support">Injected &lt;script&gt;' in html  # escaped, and still highlighted
    assert "2025-01-02 · 7 authors · Lab &amp; Co · ▲ 42 upvotes" in html
    assert 'data-reason="unsupported"' in html and "Not supported by this abstract" in html
    assert "It triples speed [1]." in html


def test_missing_metadata_says_undated_and_hides_unknown_upvotes():
    stored = {"paper_id": "p1", "title": "T", "date": "", "upvotes": -1, "authors": 0, "organization": ""}
    assert render.meta_line(PaperRecord.from_metadata(stored)) == "undated"
    jun = PaperRecord.from_metadata({**stored, "date_text": "Jun 11", "upvotes": 0})
    assert render.meta_line(jun) == "Jun 11 · ▲ 0 upvotes"


def test_panel_shows_latest_turn_open_and_abstention_nearest():
    a1 = Answer("q1 <b>", "Answer [1].", "extractive", citations=[Citation(1, "p1", "Paper <1>")],
                sources=[source(1, "Text.", ["Text."]), source(2, "Other.", [], cited=False)])
    a2 = Answer("q2", "The corpus does not contain an answer…", "extractive", abstained=True,
                nearest=[Citation(1, "p9", "Near")], sources=[source(1, "Near text.", [], cited=False)],
                papers_searched=615)
    html = render.sources_html([a1, a2])
    assert html.index('data-turn="1"') < html.index('data-turn="0"')  # the latest first
    assert '<details class="turn" data-turn="1" open>' in html and '<details class="turn" data-turn="0">' in html
    assert "No answer in the corpus (615 papers searched)" in html and 'id="src-1-1"' in html
    assert "Q1: q1 &lt;b&gt;" in html and "Also retrieved, not cited" in html
    assert "Sources appear here" in render.sources_html([])


def test_flag_note_counts_what_the_validator_found():
    a = Answer("q", "t", "llm", flags=[Flag("a", [1], "unsupported", 0.1), Flag("b", [], "uncited", 0.0)],
               removed_citations=2)
    note = render.flag_note(a)
    assert "1 sentence not supported" in note and "1 claim without a citation" in note and "2 citation(s)" in note
    assert render.flag_note(Answer("q", "t", "llm")) == ""


def test_paper_html_escapes():
    html = render.paper_html(PaperRecord("p1", "T <i>", date="2024-01-01", abstract=EVIL))
    assert "<h3>T &lt;i&gt;</h3>" in html and "<script>" not in html


def test_compare_card_spans_each_sentence_escaped_and_marks_the_picked_one():
    rec = PaperRecord("p7", "T <b>", date="2024-05-06", upvotes=3)
    sentences = ["We halve memory.", EVIL, "It is 2x faster."]
    html = render.compare_card(7, "Title <7>", rec, sentences, picked=True, marked=1)
    assert html.startswith('<details class="source cited picked" id="cmp-7" open>')
    assert '<span class="num">[7]</span> <span class="title">Title &lt;7&gt;</span>' in html
    assert "2024-05-06 · ▲ 3 upvotes · id p7" in html and "<script>" not in html and "<img" not in html
    assert html.count('<span class="sentence" data-sentence=') == 3
    assert '<span class="sentence" data-sentence="1"><mark class="support">Injected &lt;script&gt;' in html
    assert html.count("<mark") == 1
    plain = render.compare_card(7, "T", rec, sentences)
    assert 'class="source cited" id="cmp-7"' in plain and "<mark" not in plain
    assert "No abstract stored" in render.compare_card(1, "T", rec, [])
    panel = render.compare_panel([plain], pick='7:1"><script>')
    assert panel.startswith('<div class="panel" data-pick="7:1&quot;&gt;&lt;script&gt;">')
    assert "click a cell" in render.compare_panel([])


# --------------------------------------------------------------------------- a user's papers: authors, venue, links

class Tags(HTMLParser):
    """Every start tag of a piece of HTML with its attributes, and its text, as a browser's parser sees them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text += data

    def links(self) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.tags if tag == "a"]


HOSTILE = PaperRecord(
    "p9", 'Great <script>alert("t")</script> Paper', date="2024-05-01", venue="<b>NeurIPS</b>",
    author_names=['Eve <img src=x onerror=alert(1)>', "Bob <script>", "Carol", "Dan"],
    url="javascript:alert(document.cookie)", doi='10.1/x"onmouseover="alert(1)"><script>', arxiv_id="2401.01234",
    abstract="An abstract <iframe src=//evil>.")


def test_authors_first_three_then_et_al_else_a_count():
    names = PaperRecord("p1", "T", author_names=["Ann Lee", "Bo Li", "Cy Wu", "Di Xu"])
    assert render.author_text(names) == "Ann Lee, Bo Li, Cy Wu et al."
    assert render.author_text(PaperRecord("p1", "T", author_names=["Ann Lee", "Bo Li"])) == "Ann Lee, Bo Li"
    assert render.author_text(PaperRecord("p1", "T", authors=7)) == "7 authors"  # a seed paper: only the count
    assert render.author_text(PaperRecord("p1", "T", authors=1)) == "1 author"
    assert render.author_text(PaperRecord("p1", "T")) == ""
    rec = PaperRecord("p1", "T", date="2024-05-01", author_names=["Ann Lee"], venue="ICML", upvotes=2)
    assert render.meta_line(rec) == "2024-05-01 · Ann Lee · ICML · ▲ 2 upvotes"


def test_links_are_http_only_new_tab_and_escaped():
    rec = PaperRecord("p1", "T", url="https://openreview.net/forum?id=a&b=1", arxiv_id="2401.01234", doi="10.1/x")
    links = Tags(render.links_html(rec)).links()
    assert [a["href"] for a in links] == ["https://openreview.net/forum?id=a&b=1", "https://arxiv.org/abs/2401.01234",
                                          "https://doi.org/10.1/x"]
    assert all(a["target"] == "_blank" and a["rel"] == "noopener noreferrer" for a in links)
    assert Tags(render.links_html(rec)).text == "openreview.net · arXiv · DOI"
    for bad in ("javascript:alert(1)", " JavaScript:alert(1)", "java\tscript:alert(1)", "data:text/html,<b>x",
                "//evil.example/x", "vbscript:x", "https://", "http://a b.org"):
        assert render.web_url(bad) is None, bad
        assert render.links_html(PaperRecord("p1", "T", url=bad)) == "", bad
    assert render.links_html(PaperRecord("p1", "T")) == ""  # a seed paper: no links at all


def test_hostile_title_authors_venue_and_urls_render_as_text():
    """A user's file is untrusted: a <script> in a title or author name shows as text, a javascript: URL is not a
    link, and a quote in a DOI cannot leave the href attribute."""
    src = Source(n=1, paper_id="p9", title=HOSTILE.title, date="2024-05-01", text=HOSTILE.abstract,
                 metadata=HOSTILE.to_metadata(20240501), supporting=[], cited=True)
    for html in (render.source_card(src, 0, []), render.paper_html(HOSTILE),
                 render.compare_card(1, HOSTILE.title, HOSTILE, [HOSTILE.abstract])):
        parsed = Tags(html)
        assert {tag for tag, _ in parsed.tags} <= {"details", "summary", "span", "div", "p", "a", "h3"}, parsed.tags
        assert not any(k.startswith("on") for _, attrs in parsed.tags for k in attrs)
        hrefs = [a["href"] for a in parsed.links()]
        assert hrefs == ["https://arxiv.org/abs/2401.01234", 'https://doi.org/10.1/x"onmouseover="alert(1)"><script>']
        assert 'Great <script>alert("t")</script> Paper' in parsed.text  # shown, as text
        assert "Eve <img src=x onerror=alert(1)>, Bob <script>, Carol" in parsed.text and "<b>NeurIPS</b>" in parsed.text
    assert "Dan" in Tags(render.paper_html(HOSTILE)).text  # the paper view names every author
    assert "et al." in Tags(render.source_card(src, 0, [])).text  # a card, the first three
