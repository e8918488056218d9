"""Answers, sources and papers as the HTML/Markdown the page shows. Pure functions, no Gradio.

Abstracts and answer text are untrusted data (scraped pages, model output): every piece of them is
passed through html.escape before it is put into markup.
"""

from __future__ import annotations

import re
from html import escape
from typing import Iterable
from urllib.parse import urlsplit

from rag import CITE_MARK, Answer, Flag, PaperRecord, Source, authors_text

CITE = CITE_MARK  # the normalised citation [n] (rag/text/cites.py owns the pattern)
# Markdown syntax in untrusted text is shown as text: no image (which the browser would fetch from any host),
# no link, no emphasis, no heading. Backslash escapes of ASCII punctuation are CommonMark.
MARKDOWN_SYNTAX = re.compile(r"[\\`*_\[\]()!#|~{}+\-=]")


def markdown_text(text: str) -> str:
    """Untrusted text (an abstract's sentence, a model's reply, a question) as Markdown that shows it literally."""
    return MARKDOWN_SYNTAX.sub(r"\\\g<0>", escape(text, quote=False))


def _linked(text: str, turn: int) -> str:
    """Escaped text whose [n] marks link to source n of the turn's sources panel."""
    if "\n" in text:  # a model's list or lines: kept as lines (the Markdown that would make a list is escaped)
        return "<br>".join(_linked(line, turn) for line in text.split("\n"))
    parts = CITE.split(text)  # text, number, text, number, ..., text
    return "".join(markdown_text(p) if i % 2 == 0 else f'<a href="#{anchor(turn, int(p))}" class="cite">[{p}]</a>'
                   for i, p in enumerate(parts))


def anchor(turn: int, n: int) -> str:
    """The id of source [n] of the turn-th answer in the sources panel."""
    return f"src-{turn}-{n}"


def answer_markdown(text: str, turn: int, sources: Iterable[Source] = ()) -> str:
    """Answer text for the chat: escaped, paper titles that open a paragraph in bold, [n] linked to its source."""
    # an offline answer opens each paragraph with "Title (date): " or "Title: "
    leads = sorted({f"{s.title} ({s.date})" if s.date else s.title for s in sources}, key=len, reverse=True)
    paragraphs = []
    for para in text.split("\n\n"):
        lead = next((t for t in leads if para.startswith(t + ": ")), None)
        paragraphs.append(f"**{markdown_text(lead)}**{_linked(para[len(lead):], turn)}" if lead else _linked(para, turn))
    return "\n\n".join(paragraphs)


def caveat_lines(answer: Answer) -> str:
    """What the reader must know before the answer (a name no paper mentions or is about, an asked fact the
    abstract does not state), as a quoted line above it, or ''. An abstention says it in its own text."""
    if not answer.caveats or answer.abstained:
        return ""
    return "\n".join(f"> ⚠ {markdown_text(c)}" for c in answer.caveats) + "\n\n"


def flag_note(answer: Answer) -> str:
    """A line under an answer that says how many sentences the validator could not check, or ''."""
    unsupported = sum(f.reason == "unsupported" for f in answer.flags)
    uncited = sum(f.reason == "uncited" for f in answer.flags)
    unstated = sum(f.reason == "fact" for f in answer.flags)
    parts = []
    if unsupported:
        parts.append(f"{unsupported} sentence{'s' * (unsupported > 1)} not supported by the cited abstract")
    if unstated:
        parts.append(f"{unstated} sentence{'s' * (unstated > 1)} with a number or hardware the cited abstract does not state")
    if uncited:
        parts.append(f"{uncited} claim{'s' * (uncited > 1)} without a citation")
    if answer.removed_citations:
        parts.append(f"{answer.removed_citations} citation(s) to missing sources removed")
    return f"\n\n⚠ *Check: {'; '.join(parts)} (marked in the sources panel).*" if parts else ""


SHOWN_AUTHORS = 3  # a card names this many authors, then "et al."
# an http(s) URL without spaces or control characters (the href attribute is escaped as well)
WEB_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f]+", re.IGNORECASE)
LINK_LABELS = {"arxiv": "arXiv", "doi": "DOI"}  # a "url" link is labelled with its host


def author_text(rec: PaperRecord, shown: int = SHOWN_AUTHORS) -> str:
    """'A B, C D, E F et al.' from the author names (the first `shown`), else '7 authors', else ''. Not escaped."""
    return authors_text(rec, shown)


def meta_line(rec: PaperRecord, authors: bool = True) -> str:
    """'2024-06-11 · A B, C D, E F et al. · Venue · Org · ▲ 42 upvotes', from whatever the paper has (escaped);
    authors=False leaves the authors out (shown on a line of their own)."""
    parts: list[object] = [rec.date or rec.date_text or "undated", author_text(rec) if authors else "", rec.venue or "",
                           rec.organization or ""]
    if rec.upvotes is not None:
        parts.append(f"▲ {rec.upvotes} upvotes")
    return " · ".join(escape(str(p)) for p in parts if p != "")


def web_url(url: str | None) -> str | None:
    """The URL when it is a plain http(s) link with a host (javascript:, data:, relative ... are not), else None."""
    url = (url or "").strip()
    if not WEB_URL.fullmatch(url) or not urlsplit(url).hostname:
        return None
    return url


def link_label(kind: str, url: str) -> str:
    """'arXiv', 'DOI', or for a paper's own URL its host ('openreview.net'). Not escaped."""
    host = urlsplit(url).hostname or "link"
    return LINK_LABELS.get(kind) or host.removeprefix("www.")


def links_html(rec: PaperRecord) -> str:
    """The paper's links (its URL, arXiv, DOI) as <a> opening a new tab; only http(s) URLs become links."""
    anchors = []
    for kind, url in rec.links.items():
        safe = web_url(url)
        if safe is None:
            continue
        anchors.append(f'<a class="paper-link" data-kind="{escape(kind)}" href="{escape(safe, quote=True)}" '
                       f'target="_blank" rel="noopener noreferrer">{escape(link_label(kind, safe))}</a>')
    return f'<div class="links">{" · ".join(anchors)}</div>' if anchors else ""


def highlight(text: str, supporting: Iterable[str]) -> str:
    """The abstract, escaped, with the sentences that support the answer in <mark>."""
    out = escape(text)
    for sentence in supporting:
        safe = escape(sentence.strip())
        if safe and safe in out:
            out = out.replace(safe, f'<mark class="support">{safe}</mark>', 1)
    return out


def _flag_html(flag: Flag) -> str:
    if flag.reason == "fact":
        what = f"States {escape(flag.detail)}, which this abstract does not"
    else:
        what = ("Not supported by this abstract" if flag.reason == "unsupported" else "Cites no source") + \
            f" (support {flag.support:.0%})"
    return f'<div class="flag" data-reason="{flag.reason}">⚠ {what}: “{escape(flag.sentence)}”</div>'


def card(card_id: str, cls: str, n: int, title: str, rec: PaperRecord, abstract_html: str, open_: bool = True,
         notes: str = "") -> str:
    """A paper's card, in the chat's sources panel and the Compare tab's: [n], title, date/authors/venue/upvotes,
    its links, notes (the validator's flags), then the abstract (already escaped markup)."""
    return (
        f'<details class="{cls}" id="{card_id}"{" open" if open_ else ""}>'
        f'<summary><span class="num">[{n}]</span> <span class="title">{escape(title)}</span></summary>'
        f'<div class="meta">{meta_line(rec)} · id {escape(rec.paper_id)}</div>'
        f"{links_html(rec)}{notes}"
        f'<p class="abstract">{abstract_html}</p>'
        "</details>"
    )


def source_card(src: Source, turn: int, flags: list[Flag], open_: bool = True) -> str:
    """One paper of an answer: [n], title, date/authors/upvotes, abstract with support highlighted, flags."""
    flagged = "".join(_flag_html(f) for f in flags if src.n in f.citations)
    return card(anchor(turn, src.n), "source cited" if src.cited else "source", src.n, src.title, src.record,
                highlight(src.text, src.supporting), open_, flagged)


def sentence_spans(sentences: list[str], marked: int | None = None) -> str:
    """An abstract as its sentences, each escaped in its own <span data-sentence="i">; sentence `marked` in
    <mark class="support">."""
    spans = []
    for i, s in enumerate(sentences):
        text = f'<mark class="support">{escape(s)}</mark>' if i == marked else escape(s)
        spans.append(f'<span class="sentence" data-sentence="{i}">{text}</span>')
    return " ".join(spans) or '<span class="empty">No abstract stored for this paper.</span>'


def compare_card(n: int, title: str, rec: PaperRecord, sentences: list[str], picked: bool = False,
                 marked: int | None = None) -> str:
    """One paper of the Compare tab's table: its card (id cmp-n) with the whole abstract, sentence by sentence;
    the card of the clicked row is `picked` and its clicked cell's sentence `marked`."""
    return card(f"cmp-{n}", "source cited picked" if picked else "source cited", n, title, rec,
                sentence_spans(sentences, marked))


def compare_panel(cards: list[str], pick: str = "") -> str:
    """The Compare tab's panel beside the table; `pick` (e.g. '2:5', row [2], sentence 5) names the click, so the
    page's script scrolls to and flashes the picked card each time it changes."""
    if not cards:
        return ('<div class="empty">The papers of the table appear here, each with its whole abstract: click a cell '
                "to see its sentence in the abstract.</div>")
    return f'<div class="panel" data-pick="{escape(pick)}">' + "".join(cards) + "</div>"


def turn_panel(answer: Answer, turn: int, latest: bool) -> str:
    """Everything the sources panel shows for one answer."""
    q = escape(answer.question)
    parts = [f'<details class="turn" data-turn="{turn}"{" open" if latest else ""}>'
             f'<summary class="question">Q{turn + 1}: {q}</summary>']
    if answer.abstained:
        parts.append(f'<div class="abstain">No answer in the corpus ({answer.papers_searched} papers searched). '
                     "The nearest papers:</div>")
        parts += [source_card(s, turn, [], open_=False) for s in answer.sources[:len(answer.nearest)]]
    else:
        cited = [s for s in answer.sources if s.cited]
        others = [s for s in answer.sources if not s.cited]
        parts += [source_card(s, turn, answer.flags) for s in cited]
        parts += [_flag_html(f) for f in answer.flags if not f.citations]
        if others:
            parts.append('<div class="others">Also retrieved, not cited:</div>')
            parts += [source_card(s, turn, [], open_=False) for s in others]
    parts.append("</details>")
    return "".join(parts)


def sources_html(answers: list[Answer]) -> str:
    """The sources panel: the latest answer open on top, earlier answers folded below it."""
    if not answers:
        return ('<div class="empty">Sources appear here: for every cited paper its title, date and abstract, '
                "with the sentences that support the answer highlighted.</div>")
    last = len(answers) - 1
    return f'<div class="panel" data-turns="{len(answers)}">' + "".join(
        turn_panel(answers[t], t, t == last) for t in range(last, -1, -1)) + "</div>"


def figures(answer: Answer, first_text_ms: float, total_ms: float) -> str:
    """The per-turn figures: mode/model, retrieval, first text and total (both as the server saw the turn), tokens."""
    mode = f"LLM {answer.model}" if answer.mode == "llm" else "offline (extractive)"
    parts = [mode, f"retrieval {answer.timings_ms.get('retrieve', 0):.0f} ms",
             f"first text {first_text_ms:.0f} ms", f"total {total_ms:.0f} ms"]
    u = answer.usage
    parts.append(f"{u.total_tokens} tokens ({u.counted_by})" if answer.mode == "llm" else "0 tokens")
    parts.append(f"{answer.papers_searched} papers searched")
    return " · ".join(parts)


PAPER_AUTHORS = 30  # the paper view names up to this many authors (a consortium paper lists hundreds)


def paper_html(rec: PaperRecord | None) -> str:
    """One paper opened from the Papers tab: title, its authors (all but a very long list), meta line, links,
    abstract."""
    if rec is None:
        return '<div class="empty">Pick a paper in the table to read its abstract.</div>'
    named = author_text(rec, PAPER_AUTHORS) if rec.author_names else ""
    authors = f'<div class="authors">{escape(named)}</div>' if named else ""
    return (f'<div class="paper"><h3>{escape(rec.title)}</h3>{authors}'
            f'<div class="meta">{meta_line(rec, authors=not named)} · id {escape(rec.paper_id)}</div>'
            f'{links_html(rec)}<p class="abstract">{escape(rec.abstract)}</p></div>')
