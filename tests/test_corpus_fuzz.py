"""Parser fuzzing: generated page dumps in both layouts, mutated at the byte level, written to a file, parsed.

A dump is built from generated papers (titles of real-looking words, odd Unicode and random letters; prose
abstracts of 250+ characters) as a list of pieces whose byte offsets are known, so after the mutation the test
knows where every title, abstract and piece of junk is.

Mutations: random binary bytes, NUL runs (also past the first 8 KiB), cp1252 text, UTF-16 chunks, control
characters and ANSI escapes, Unicode separators, over-long lines, whitespace- and zero-width-only lines,
metadata lines with no paper and titles without abstracts, all injected *between* papers; inside papers:
invisible characters at the ends of the title and abstract lines, bidi controls inside them, a byte-order
mark before the title line (concatenated files), separators (form feed, NEL, U+2028 ...) in place of spaces,
stray control bytes in the abstract, abstracts cut short, whole papers saved as cp1252; per file: LF, CRLF,
lone-CR or mixed line endings, a UTF-8 BOM, and the file truncated at a random byte (mid-line, mid-UTF-8).

Definitions the properties use:
- A line is what lies between line breaks; a line break is CRLF, CR or LF (as editors count them).
- A paper is *intact* when the bytes of its title line and of its abstract line are all in the file (the file
  was not cut before their ends) and its only mutations are the harmless ones above: invisible characters at
  the ends, bidi controls, a BOM, separators in place of spaces, stray control bytes, cp1252 encoding. The
  parser's documented normalisation undoes exactly those: it strips whitespace and invisible format characters
  at the ends of a line, removes bidi controls, byte-order marks and control characters, turns the other
  whitespace into spaces, and reads a line that is not UTF-8 as cp1252. So an intact paper must come out with
  the generated title and abstract, character for character.
- A paper is *damaged* when the cut falls inside its title or abstract line, or its abstract was cut short.

Properties:
1. load_corpus never raises.
2. Every intact paper comes out with its title and abstract, sourced at its title line.
3. Every generated title line left in the file is accounted for: a record at that line, or a skipped problem
   at that line (a damaged line may get any problem instead), or the whole file reported unreadable (only
   when no intact paper is in it). Every problem names the file and a line >= 1 of it that is not blank and
   is one of the lines concerned: junk, a title without abstract, a damaged or re-encoded or control-laden
   line. Intact text never gets a problem.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testing.seeds import SEEDS
from rag.corpus.parse import ABSTRACT_MIN_CHARS, CHROME, DATE_RE
from rag.corpus.readers import load_corpus
from rag.corpus.records import normalize_title

FUZZ = dict(database=None, derandomize=True, deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
BREAK = re.compile(rb"\r\n|\r|\n")
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()

WORDS = ("Scaling Laws Sparse Mixture-of-Experts Language Models Diffusion Transformers Agents Reasoning "
         "Retrieval-Augmented Generation Benchmark Vision-Language Alignment Efficient Fine-Tuning LoRA "
         "Quantization 3D Gaussian Splatting Video Robot Policy Learning Reinforcement Human Feedback "
         "Long-Context Attention Tokenizer Multimodal Self-Supervised Graph Neural Networks via with and "
         "of on in for the a: Towards Beyond Revisiting Survey GPT-4 RLHF 4-bit 1.58-bit 100B k-NN "
         "O(n log n) (Extended) [v2] #1 50% $0.01 C++ Q&A <tags> \"quoted\" 'single'").split()
LATIN = ["Café", "naïve", "Gödel", "façade", "Zürich", "résumé", "Müller", "déjà", "über", "Señor", "“quoted”",
         "–", "—", "±2", "20°C", "3µs", "½", "©", "Åsa", "Ærø", "€5", "‘tick’", "…"]  # cp1252, isolated non-ASCII
ODD = ["中文", "日本語の", "한국어", "Ελληνικά", "Русский", "עברית", "العربية", "🚀", "👩\u200d🔬", "e\u0301t\u0301e",
       "ﬁne", "x²", "∑ᵢ", "≤", "Z\u0336a\u0336", "नमस्ते", "می\u200cخواهم", "❤\ufe0f", "𝔉𝔯𝔞𝔨𝔱𝔲𝔯", "Ⅻ", "①"]
INVISIBLE = ["\u200b", "\u200e", "\u200f", "\u2060", "\ufeff", "\u00ad", " ", "\t", "\u00a0", "\u3000", "\u202f"]
BIDI = [chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]]
SEPARATORS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\u2028", "\u2029"]
CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\x1b", "\x7f", "\x1b[31m"]
STARTS = ["We", "Our", "This", "The", "In", "These"]

random_word = st.text(st.characters(categories=("L", "M", "N", "P", "S")), min_size=1, max_size=10)


def words(pool: list[str], odd: bool) -> st.SearchStrategy[str]:
    sources = [st.sampled_from(pool)] + ([st.sampled_from(ODD + LATIN), random_word] if odd else [])
    return st.one_of(*sources)


def is_title(t: str) -> bool:
    """A line the page format reads as a title: short, not chrome, not metadata, with a dedupe key."""
    low = t.casefold()
    return (0 < len(t) <= 160 and t == t.strip() and low not in CHROME and not low.startswith("get trending papers")
            and not DATE_RE.match(t) and not re.match(r"^•\s*\d+\s+authors?$", t) and t != "·"
            and not (t.startswith("Subscribe") and t[9:10].isupper()) and normalize_title(t) != "")


def titles(odd: bool) -> st.SearchStrategy[str]:
    pool = WORDS + (LATIN if not odd else [])
    return st.lists(words(pool, odd), min_size=1, max_size=12).map(" ".join).filter(is_title)


def real_sentences() -> list[str]:
    """Sentences of the real seed abstracts (ASCII ones only), so generated abstracts read like real ones."""
    out = set()
    for path in sorted(SEEDS.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if len(line) >= ABSTRACT_MIN_CHARS:
                out.update(s.strip() + "." for s in line.split(". ") if 20 < len(s) < 300 and s.isascii())
    return sorted(out)


SENTENCES = real_sentences()


def abstracts(odd: bool) -> st.SearchStrategy[str]:
    """Real sentences with one generated sentence of odd words among them."""
    pool = WORDS + (LATIN if not odd else [])
    own = st.tuples(st.sampled_from(STARTS), st.lists(words(pool, odd), min_size=3, max_size=12)).map(
        lambda t: " ".join([t[0], *t[1]]) + ".")
    return st.tuples(st.lists(st.sampled_from(SENTENCES), min_size=2, max_size=8), own, st.integers(0, 8)).map(
        lambda t: " ".join(t[0][: t[2]] + [t[1]] + t[0][t[2]:])).filter(lambda a: len(a) >= ABSTRACT_MIN_CHARS)


def dates() -> st.SearchStrategy[str]:
    return st.builds(lambda m, d, y, v: f"{m} {d}" + (f", {y}" if y else "") + (f" {v}" if v is not None else ""),
                     st.sampled_from(MONTHS), st.integers(1, 28), st.none() | st.integers(2015, 2025),
                     st.none() | st.integers(0, 999))


@dataclass
class Gen:
    """A generated paper and how it is mutated."""

    title: str
    abstract: str
    cp1252: bool = False
    authors: int | None = None
    org: str | None = None
    date: str | None = None
    mutation: str = "none"  # none | edges | bidi | bom | seps | ctrl | cut_abstract
    cut: int = 0  # cut_abstract: characters kept


@st.composite
def gen_papers(draw, n_max: int = 10, cp1252: bool = True) -> tuple[list[Gen], list[str]]:
    """Papers (unique dedupe keys) and titles without abstracts."""
    n = draw(st.integers(1, n_max))
    kinds = draw(st.lists(st.booleans() if cp1252 else st.just(False), min_size=n, max_size=n))  # True: cp1252
    papers: list[Gen] = []
    seen: set[str] = set()
    for cp in kinds:
        title = draw(titles(odd=not cp).filter(lambda t: normalize_title(t) not in seen))
        seen.add(normalize_title(title))
        abstract = draw(abstracts(odd=not cp))
        date = draw(st.none() | dates())
        authors = draw(st.none() | st.integers(1, 60))
        org = draw(st.none() | titles(odd=False).filter(lambda t: len(t) <= 60)) if date and authors is None else None
        mutation = "none" if cp else draw(st.sampled_from(["none", "none", "edges", "bidi", "bom", "seps", "ctrl",
                                                          "cut_abstract"]))
        papers.append(Gen(title, abstract, cp, authors, org, date, mutation, draw(st.integers(1, len(abstract) - 1))))
    orphans = draw(st.lists(titles(odd=True).filter(lambda t: normalize_title(t) not in seen), max_size=3))
    return papers, orphans


def junk() -> st.SearchStrategy[tuple[str, bytes]]:
    """One piece of junk to put between papers: (kind, bytes), possibly several lines."""
    text = st.text(max_size=200)
    return st.one_of(
        st.tuples(st.just("binary"), st.binary(min_size=1, max_size=400)),
        st.tuples(st.just("nul"), st.builds(lambda a, k, b: a.encode() + b"\x00" * k + b.encode(),
                                            text, st.integers(1, 3000), text)),
        st.tuples(st.just("cp1252"), st.text(st.characters(codec="cp1252"), min_size=1).map(
            lambda t: t.encode("cp1252"))),
        st.tuples(st.just("latin1"), st.text(st.characters(codec="latin-1"), min_size=1).map(
            lambda t: t.encode("latin-1"))),
        st.tuples(st.just("utf16"), st.builds(lambda t, enc: t.encode(enc), st.text(min_size=1),
                                              st.sampled_from(["utf-16", "utf-16-le", "utf-16-be"]))),
        st.tuples(st.just("controls"), st.lists(st.sampled_from(CONTROLS) | st.sampled_from(WORDS), min_size=1,
                                                max_size=20).map(lambda w: " ".join(w).encode())),
        st.tuples(st.just("separators"), st.lists(st.sampled_from(SEPARATORS) | st.sampled_from(WORDS), min_size=1,
                                                  max_size=20).map(lambda w: "".join(w).encode())),
        st.tuples(st.just("long"), st.builds(lambda w, k: (w + " ") * k, st.sampled_from(WORDS),
                                             st.integers(2_000, 6_000)).map(str.encode)),
        st.tuples(st.just("blankish"), st.lists(st.sampled_from(INVISIBLE + SEPARATORS[:2]), min_size=1,
                                                max_size=8).map(lambda w: "".join(w).encode())),
        st.tuples(st.just("meta"), st.one_of(st.integers(1, 99).map(lambda n: f"• {n} authors"), st.just("·"),
                                             dates()).map(str.encode)),
        st.tuples(st.just("digits"), st.sampled_from(["• {} authors", "Jun 2 {}", "Jun 2, 2024 {}"]).flatmap(
            lambda f: (st.integers(1, 12) | st.integers(4_000, 6_000)).map(lambda k: f.format("9" * k).encode()))),
        st.tuples(st.just("text"), text.map(str.encode)),
    )


@dataclass
class Piece:
    """A span of the file: its bytes (without the line break after it) and what it is."""

    data: bytes
    kind: str  # header | blank | title | abstract | meta | orphan | junk
    paper: int | None = None
    start: int = 0  # byte offset in the file
    text_start: int = 0  # offset of the visible text (after an invisible prefix)
    end: int = 0
    line: int = 0


@dataclass
class Dump:
    """A built page dump: the bytes, the pieces, and what was generated."""

    data: bytes
    pieces: list[Piece]
    papers: list[Gen]
    cut: int
    breaks: list[int] = field(default_factory=list)


def line_of(breaks: list[int], offset: int) -> int:
    """1-based line number of a byte offset, given the offsets where line breaks end."""
    return bisect.bisect_right(breaks, offset) + 1


def paper_pieces(i: int, p: Gen, spaced: bool, draw) -> list[Piece]:
    """The pieces of one paper, mutated as p.mutation says."""
    title, abstract = p.title, p.abstract
    prefix = suffix = a_suffix = ""
    if p.mutation == "edges":
        prefix, suffix, a_suffix = (draw(st.lists(st.sampled_from(INVISIBLE), min_size=1, max_size=3).map("".join))
                                    for _ in range(3))
    elif p.mutation == "bidi":
        for _ in range(draw(st.integers(1, 4))):
            k = draw(st.integers(0, len(title)))
            title = title[:k] + draw(st.sampled_from(BIDI)) + title[k:]
            k = draw(st.integers(0, len(abstract)))
            abstract = abstract[:k] + draw(st.sampled_from(BIDI)) + abstract[k:]
    elif p.mutation == "bom":
        prefix = "\ufeff"
    elif p.mutation == "seps":
        spaces = [m.start() for m in re.finditer(" ", abstract)]
        for k in draw(st.lists(st.sampled_from(spaces), min_size=1, max_size=5, unique=True)):
            abstract = abstract[:k] + draw(st.sampled_from(SEPARATORS)) + abstract[k + 1:]
    elif p.mutation == "ctrl":
        for _ in range(draw(st.integers(1, 5))):
            k = draw(st.integers(0, len(abstract)))
            abstract = abstract[:k] + draw(st.sampled_from(CONTROLS[:6])) + abstract[k:]
    elif p.mutation == "cut_abstract":
        abstract = abstract[: p.cut]
    enc = "cp1252" if p.cp1252 else "utf-8"
    t = Piece((prefix + title + suffix).encode(enc), "title", i)
    t.text_start = len(prefix.encode(enc))
    out = [t]
    out += [Piece(b"", "blank", i)] if spaced else []
    out.append(Piece((abstract + a_suffix).encode(enc), "abstract", i))
    if spaced:
        out.append(Piece(b"", "blank", i))
        if p.authors is not None:
            out.append(Piece(f"  • {p.authors} authors".encode(), "meta", i))
        elif p.org:
            out.append(Piece(p.org.encode(), "meta", i))
        if p.date:
            out += [Piece("·".encode(), "meta", i), Piece(p.date.encode(), "meta", i)]
        out.append(Piece(b"", "blank", i))
    return out


HEADERS = {
    False: ["Get trending papers in your email inbox once a day!", "Get trending papers in your email inbox!"],
    True: ["new", "", "Get trending papers in your email inbox!", "", "Subscribe", "",
           "byAK and the research community", "", "Mar 13", ""],
}


@st.composite
def dumps(draw, junk_strategy=None, truncate: bool = True, n_max: int = 10, cp1252: bool = True,
          max_junk: int = 8) -> Dump:
    """A page dump with known pieces, mutated and maybe truncated."""
    spaced = draw(st.booleans())
    papers, orphans = draw(gen_papers(n_max, cp1252))
    pieces: list[Piece] = []
    if draw(st.booleans()):
        pieces += [Piece(h.encode(), "header") for h in HEADERS[spaced]]
    gaps: list[list[Piece]] = [[] for _ in range(len(papers) + 1)]
    where = st.integers(0, len(papers))
    for gap, (_, data) in draw(st.lists(st.tuples(where, junk() if junk_strategy is None else junk_strategy),
                                        max_size=max_junk)):
        gaps[gap].append(Piece(data, "junk"))
    for title in orphans:  # last in its gap: followed by the next paper's title or the end of the file
        gaps[draw(st.integers(0, len(papers)))].append(Piece(title.encode(), "orphan"))
    for g in gaps:
        g.sort(key=lambda p: p.kind == "orphan")
    for i, p in enumerate(papers):
        pieces += gaps[i] + paper_pieces(i, p, spaced, draw)
    pieces += gaps[-1]
    if pieces[0].kind == "junk" and pieces[0].data.startswith((b"\xff\xfe", b"\xfe\xff")):
        pieces[0].data = pieces[0].data[2:]  # a file that starts with a UTF-16 byte-order mark is UTF-16 text

    style = draw(st.sampled_from(["lf", "crlf", "cr", "mixed"]))
    endings = {"lf": [b"\n"], "crlf": [b"\r\n"], "cr": [b"\r"], "mixed": [b"\n", b"\r\n", b"\r"]}[style]
    out = bytearray(b"\xef\xbb\xbf" if draw(st.booleans()) else b"")
    for piece in pieces:
        piece.start = len(out)
        piece.text_start += piece.start
        out += piece.data
        piece.end = len(out)
        out += draw(st.sampled_from(endings)) if len(endings) > 1 else endings[0]
    data = bytes(out)
    cut = draw(st.integers(0, len(data))) if truncate and draw(st.booleans()) else len(data)
    data = data[:cut]
    breaks = [m.end() for m in BREAK.finditer(data)]
    for piece in pieces:
        piece.line = line_of(breaks, piece.start)
    return Dump(data, pieces, papers, cut, breaks)


def read_dump(tmp: Path, dump: Dump):
    """Write the dump as one seed file in a fresh folder and parse it."""
    folder = tmp / f"d{len(list(tmp.iterdir()))}"
    folder.mkdir()
    (folder / "page.txt").write_bytes(dump.data)
    return load_corpus([folder])


def check(dump: Dump, corpus) -> None:
    """The three properties on one parsed dump."""
    cut = dump.cut
    file_lines = BREAK.split(dump.data)
    by_source = {int(s.rsplit(":", 1)[1]): p for p in corpus.papers for s in s_list(p)}
    problems_at: dict[int, list] = {}
    for pr in corpus.problems:
        assert pr.file == "page.txt", pr
        problems_at.setdefault(pr.line, []).append(pr)
    whole = [pr for pr in corpus.problems if pr.whole_file]

    titles = {p.paper: p for p in dump.pieces if p.kind == "title"}
    abstracts = {p.paper: p for p in dump.pieces if p.kind == "abstract"}
    intact, allowed = [], set()  # allowed: lines that may carry a problem
    for i, gen in enumerate(dump.papers):
        t, a = titles[i], abstracts[i]
        if gen.cp1252:
            allowed |= {t.line, a.line}
        if gen.mutation == "ctrl":
            allowed.add(a.line)
        if t.text_start >= cut:
            continue  # cut away before the title
        if a.end <= cut and gen.mutation != "cut_abstract":
            intact.append(i)
            continue
        # damaged: a problem is expected at its title line, and what is left of the abstract and the
        # metadata are lines of their own that may be reported
        allowed |= {x.line for x in dump.pieces if x.paper == i}
        if t.end <= cut and a.start >= cut:
            assert t.line in problems_at or whole, f"title with no abstract left, line {t.line}"
    for piece in dump.pieces:
        if piece.kind in ("junk", "orphan") or piece.start < cut < piece.end:
            allowed |= set(range(piece.line, line_of(dump.breaks, max(piece.start, piece.end - 1)) + 1))

    # 2. every intact paper is found, with its text, at its title line
    for i in intact:
        gen, line = dump.papers[i], titles[i].line
        assert line in by_source, f"intact paper lost: {gen.title!r} (line {line}); problems: {corpus.problems}"
        got = by_source[line]
        assert (got.title, got.abstract) == (gen.title, gen.abstract)
    assert not whole or not intact, f"whole file skipped with intact papers: {whole}"

    # 3. accounting for every generated title line left in the file
    for piece in dump.pieces:
        if piece.kind not in ("title", "orphan") or piece.text_start >= cut:
            continue
        line = piece.line
        recorded = line in by_source
        skipped = [pr for pr in problems_at.get(line, []) if pr.skipped]
        gen = dump.papers[piece.paper] if piece.kind == "title" else None
        complete = piece.end <= cut
        if whole:
            assert not corpus.papers
        elif piece.kind == "orphan" and complete:
            assert skipped and not recorded, f"title without abstract at line {line}: {problems_at.get(line)}"
            name = piece.data.decode()
            assert any(repr(name[:60]) in pr.message for pr in skipped), skipped
        elif gen and gen.mutation == "cut_abstract" and abstracts[piece.paper].end <= cut:
            kept = gen.abstract[: gen.cut].strip()
            if recorded:
                assert by_source[line].title == gen.title and by_source[line].abstract == kept
            else:
                assert skipped, f"cut abstract neither kept nor reported at line {line}"
            if len(kept) >= ABSTRACT_MIN_CHARS:
                assert recorded, f"abstract of {len(kept)} chars cut short but still an abstract, line {line}"
            if len(kept) <= 160:
                assert not recorded
        elif not complete or piece.paper not in intact:
            assert recorded or problems_at.get(line), f"damaged title line {line} neither kept nor reported"

    # every problem points at a non-blank line of the file that is one of the lines concerned
    for pr in corpus.problems:
        assert 1 <= pr.line <= len(file_lines), pr
        raw = file_lines[pr.line - 1]
        assert raw.decode("utf-8", "replace").strip(), f"problem on a blank line: {pr}"
        if pr.whole_file:
            damaged = re.search(rb"[\x00-\x08\x0e-\x1b\x7f]", dump.data) or not valid_utf8(dump.data)
            assert damaged, f"whole file skipped but it is clean UTF-8 text: {pr}"
        else:
            assert pr.line in allowed, f"problem on intact text: {pr}; line {raw[:120]!r}"
    # the counts add up: each record is one paper source
    assert sum(len(s_list(p)) for p in corpus.papers) == corpus.records
    assert corpus.skipped == sum(pr.skipped for pr in corpus.problems)


def s_list(paper) -> list[str]:
    return [s for s in paper.sources if s.startswith("page.txt:")]


def valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


# --------------------------------------------------------------------------- properties

@settings(max_examples=120, **FUZZ)
@given(dump=dumps())
def test_mutated_dumps_never_crash_nor_lose_intact_papers(tmp_path_factory, dump):
    """Properties 1-3 on dumps with junk between papers, odd text inside them and a random cut."""
    check(dump, read_dump(tmp_path_factory.mktemp("fuzz", numbered=True), dump))


@settings(max_examples=10, **FUZZ)
@given(dump=dumps(truncate=False, n_max=6), lines=st.lists(st.tuples(st.integers(0, 8), st.sampled_from(
    [b"", b"\x00"]), st.integers(1, 5), st.sampled_from(WORDS)), min_size=1, max_size=2))
def test_nul_filled_and_huge_lines(tmp_path_factory, dump, lines):
    """1-5 MB lines (prose, or NULs) after abstracts or titles without abstracts lose nothing, are never an abstract."""
    data = dump.data
    ends = sorted(p.end for p in dump.pieces if p.kind in ("abstract", "orphan"))
    for gap, fill, mb, word in sorted(lines, key=lambda x: -x[0]):
        unit = fill or (word + " ").encode()
        at = ends[min(gap, len(ends) - 1)]
        data = data[:at] + b"\n" + unit * (mb * 2**20 // len(unit)) + b"\n" + data[at:]
    folder = tmp_path_factory.mktemp("huge", numbered=True)
    (folder / "page.txt").write_bytes(data)
    corpus = load_corpus([folder])
    found = {(p.title, p.abstract) for p in corpus.papers}
    for gen in dump.papers:
        if gen.mutation != "cut_abstract":
            assert (gen.title, gen.abstract) in found, (gen.title, corpus.problems[:5])
    assert all(p.line >= 1 and p.file == "page.txt" for p in corpus.problems)
    assert not any(p.whole_file for p in corpus.problems)
    assert max(len(p.abstract) for p in corpus.papers) < 2**20  # a huge line never becomes an abstract


@settings(max_examples=30, **FUZZ)
@given(dump=dumps(truncate=False, cp1252=False, max_junk=0), enc=st.sampled_from(["utf-16", "utf-8-sig"]))
def test_whole_file_in_utf16_or_with_bom(tmp_path_factory, dump, enc):
    """A dump re-saved as UTF-16 (with its BOM, as Windows editors write it) or UTF-8 with a BOM loses nothing."""
    text = dump.data.decode("utf-8").removeprefix("\ufeff")
    folder = tmp_path_factory.mktemp("enc", numbered=True)
    (folder / "page.txt").write_bytes(text.encode(enc))
    corpus = load_corpus([folder])
    found = {p.title: p.abstract for p in corpus.papers}
    for gen in dump.papers:
        if gen.mutation != "cut_abstract":
            assert found.get(gen.title) == gen.abstract, (gen.title, corpus.problems)
    assert not any(p.whole_file for p in corpus.problems)
    # the only skips are the titles without abstracts and the lines of the papers whose abstract was cut short
    expected = {x.line for x in dump.pieces if x.kind == "orphan" or x.paper is not None and
                dump.papers[x.paper].mutation == "cut_abstract"}
    assert {p.line for p in corpus.problems if p.skipped} <= expected


# --------------------------------------------------------------------------- what the fuzzing found, pinned

def test_huge_digit_runs_in_metadata_do_not_crash(tmp_path):
    """int() of a 5,000-digit author or upvote count raised ValueError (Python's 4,300-digit limit)."""
    abstract = " ".join(SENTENCES[:3])
    nines = "9" * 5000
    lines = ["A Paper", abstract, f"• {nines} authors", "Another Paper", abstract, "·", f"Jun 2 {nines}"]
    (tmp_path / "page.txt").write_text("\n".join(lines) + "\n")
    corpus = load_corpus([tmp_path])
    assert {p.title for p in corpus.papers} == {"A Paper", "Another Paper"}
    assert all(p.authors is None and p.upvotes is None for p in corpus.papers)
    assert {p.line for p in corpus.problems} == {3, 6, 7}  # the odd lines, each reported


def test_a_flood_of_problems_is_listed_up_to_a_cap_and_counted(tmp_path):
    """100,000 junk lines make 1,000 listed problems plus summaries, and the skip count stays exact."""
    (tmp_path / "page.txt").write_bytes(b"Title Without Abstract\n" * 60_000 + "·\n".encode() * 40_000)
    corpus = load_corpus([tmp_path])
    assert len(corpus.problems) == 1_002 and corpus.skipped == 60_000
    skips, notes = corpus.problems[-2:]
    assert (skips.line, skips.count, skips.skipped) == (1_001, 59_000, True)
    assert (notes.line, notes.count, notes.skipped) == (60_001, 40_000, False)
