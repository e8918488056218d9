"""References out (rag/answer/references.py): citation keys, BibTeX that bibtexparser and a LaTeX reader read back
as written, the numbered Markdown list, and only an answer's cited papers, numbered as it numbers them."""

from __future__ import annotations

import json
import re

import bibtexparser
import pytest
from bibtexparser.middlewares import SeparateCoAuthors
from pylatexenc.latex2text import LatexNodes2Text

from rag import (RagError, answer_with_references, authors_text, bib_key, cited_records, papers_bibtex,
                 papers_markdown, references_bibtex, references_markdown)
from rag.types import Answer, Citation, PaperRecord, Source

LORA = PaperRecord("p1", "LoRA: Low-Rank Adaptation of Large Language Models", date="2021-06-17",
                   author_names=["Edward J. Hu", "Yelong Shen", "Phillip Wallis", "Zeyuan Allen-Zhu"],
                   arxiv_id="2106.09685", url="https://arxiv.org/abs/2106.09685",
                   abstract="We propose Low-Rank Adaptation, or LoRA.")
# every character LaTeX or BibTeX treats specially, accents, a blank line in the abstract
ODD = PaperRecord(
    "p2", "The {BERT} & {GPT} Story: 100% of Müller's $5 #1 snake_case -- ``quoted'' ~ \\ back", date="2019-05-01",
    author_names=["Jürgen Müller", "Smith, John", "Øyvind Ågren", "Research and Development Lab"],
    doi="10.1000/a_b(1)<2>;3", venue="Journal of Things & Stuff", url="https://example.org/x_y%20z?a=1&b=2#frag~",
    abstract="First line with 50% & {braces}.\nSecond line: e-mail a@b.c, costs $3.\n\nNew paragraph -- done.")
SEED = PaperRecord("p3", "Quokka Population Dynamics on Rottnest Island", date="2024-03-02", authors=4,
                   organization="Alpine Institute", abstract="We study quokka population dynamics.")
TEXT_FIELDS = ("title", "abstract")


def parse(bib: str) -> bibtexparser.Library:
    library = bibtexparser.parse_string(bib, append_middleware=[SeparateCoAuthors()])
    assert not library.failed_blocks, [b.error for b in library.failed_blocks]
    return library


def decode(value: str) -> str:
    """What a LaTeX reader makes of a field."""
    return LatexNodes2Text().latex_to_text(value)


# --------------------------------------------------------------------------- keys

def test_key_is_last_name_year_and_first_significant_title_word():
    assert bib_key(LORA) == "hu2021lora"
    assert bib_key(ODD) == "muller2019bert"  # "The" skipped, accents folded
    assert bib_key(PaperRecord("x", "On the Ørsted Effect", date="2020-01-01", author_names=["Ørsted, Hans"])) == \
        "orsted2020orsted"
    assert bib_key(PaperRecord("x", "A Study", date="2020-01-01", author_names=["Martin Luther King Jr."])) == \
        "king2020study"


def test_key_without_names_is_anon_and_without_a_date_has_no_year():
    assert bib_key(SEED) == "anon2024quokka"
    assert bib_key(PaperRecord("x", "Towards the 3D World", author_names=["Ann Lee"])) == "lee3d"
    assert bib_key(PaperRecord("x", "张三的论文", date="2023-02-01", author_names=["张三"])) == "anon2023"


def test_key_is_stable_and_duplicates_get_letters_in_the_order_given():
    assert bib_key(LORA) == bib_key(LORA) == bib_key(LORA, set())
    twin = PaperRecord("p9", "LoRA Revisited", date="2021-01-01", author_names=["Xin Hu"])
    taken: set[str] = set()
    assert [bib_key(r, taken) for r in (LORA, twin, LORA, SEED)] == ["hu2021lora", "hu2021loraa", "hu2021lorab",
                                                                     "anon2024quokka"]
    assert taken == {"hu2021lora", "hu2021loraa", "hu2021lorab", "anon2024quokka"}
    assert [bib_key(r, set()) for r in (twin, LORA)] == ["hu2021lora", "hu2021lora"]  # no export, no suffix


# --------------------------------------------------------------------------- BibTeX

def test_bibtex_round_trip_keeps_every_value():
    records = [LORA, ODD, SEED]
    library = parse(papers_bibtex(records))
    assert [e.key for e in library.entries] == ["hu2021lora", "muller2019bert", "anon2024quokka"]
    for record, entry in zip(records, library.entries):
        fields = entry.fields_dict
        for name in TEXT_FIELDS:
            assert decode(fields[name].value) == getattr(record, name), name
        assert fields["year"].value == record.date[:4]
        if record.author_names:
            assert [decode(a) for a in fields["author"].value] == record.author_names
        else:
            assert "author" not in fields
        for name in ("doi", "url"):  # verbatim fields: exactly as stored
            assert fields[name].value == getattr(record, name) if getattr(record, name) else name not in fields
        assert fields["eprint"].value == record.arxiv_id if record.arxiv_id else "eprint" not in fields
    assert decode(library.entries[1].fields_dict["journal"].value) == "Journal of Things & Stuff"


def test_bibtex_escapes_latex_specials_and_keeps_case_and_balance():
    bib = papers_bibtex([ODD])
    title = parse(bib).entries[0].fields_dict["title"].value
    for raw, escaped in [("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"), ("_", r"\_")]:
        assert escaped in title and raw not in title.replace(escaped, ""), raw
    assert r"\{BERT\}" in title  # literal braces that pair up
    assert "{GPT}" in title.replace(r"\{", "").replace(r"\}", "")  # a word with inner capitals keeps its case
    assert "--" not in title and "``" not in title  # no ligatures (a dash, curly quotes) where the text has none
    assert "Müller" in title  # Unicode stays Unicode
    assert "^" not in papers_bibtex([PaperRecord("x", "x^2")]).split("title")[1].replace(r"\textasciicircum{}", "")


@pytest.mark.parametrize("title", ["Unbalanced } brace", "Open { brace", "}{ both", "a \\ trailing backslash \\"])
def test_bibtex_braces_stay_balanced_whatever_the_title(title):
    bib = papers_bibtex([PaperRecord("x", title, date="2020-01-01")])
    value = bib.split("title = ", 1)[1].split(",\n", 1)[0]
    # BibTeX itself counts every brace, escaped or not: the field must balance on its own
    depth = 0
    for ch in value:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    assert len(parse(bib).entries) == 1


def test_entry_types_and_fields():
    article, arxiv, seed = parse(papers_bibtex([ODD, LORA, SEED])).entries
    assert article.entry_type == "article" and "journal" in article.fields_dict
    assert arxiv.entry_type == "misc" and arxiv.fields_dict["archivePrefix"].value == "arXiv"
    assert arxiv.fields_dict["month"].value == "jun"  # the month macro, unquoted
    assert "month = jun," in papers_bibtex([LORA])
    assert seed.entry_type == "misc" and set(seed.fields_dict) == {"title", "year", "month", "date", "abstract", "note"}
    assert decode(seed.fields_dict["note"].value) == \
        "Hugging Face Daily Papers; 4 authors, names not recorded; Alpine Institute"


def test_seed_papers_without_a_date_or_count_export_validly():
    bare = PaperRecord("p4", "Basalt Weathering Rates Under Glacial Cycles")
    (entry,) = parse(papers_bibtex([bare])).entries
    assert entry.key == "anon" + "basalt" and entry.entry_type == "misc"
    assert set(entry.fields_dict) == {"title", "note"}
    assert entry.fields_dict["note"].value == "Hugging Face Daily Papers"


def test_no_records_no_bibtex():
    assert papers_bibtex([]) == "" and papers_markdown([]) == ""


# --------------------------------------------------------------------------- Markdown and authors

def test_authors_text():
    assert authors_text(LORA) == "Edward J. Hu, Yelong Shen, Phillip Wallis et al."
    assert authors_text(PaperRecord("x", "t", author_names=["Smith, John", "Ann Lee"])) == "John Smith, Ann Lee"
    assert authors_text(SEED) == "4 authors" and authors_text(PaperRecord("x", "t", authors=1)) == "1 author"
    assert authors_text(PaperRecord("x", "t")) == ""


def test_markdown_list_numbers_and_links():
    md = papers_markdown([LORA, ODD, SEED], [2, 5, 7])
    lines = md.splitlines()
    assert [line[:4] for line in lines] == ["[2] ", "[5] ", "[7] "]
    assert lines[0] == ("[2] Edward J. Hu, Yelong Shen, Phillip Wallis et al. (2021). *LoRA: Low-Rank Adaptation of Large Language "
                        "Models*. arXiv:2106.09685. [arxiv.org](https://arxiv.org/abs/2106.09685)")
    assert "John Smith" in lines[1] and "Journal of Things & Stuff." in lines[1]
    assert "[doi:10.1000/a\\_b(1)\\<2\\>;3](https://doi.org/10.1000/a_b%281%29<2>;3)" in lines[1]
    assert lines[2] == ("[7] 4 authors, Alpine Institute (2024). *Quokka Population Dynamics on Rottnest Island*. "
                        "Hugging Face Daily Papers.")
    assert papers_markdown([SEED]).startswith("[1] ")
    star = papers_markdown([PaperRecord("x", "*Bold* [claims]")])
    assert "*\\*Bold\\* \\[claims\\]*" in star and "(n.d.)" in star and star.startswith("[1] Anonymous")


# --------------------------------------------------------------------------- an answer's references

def answer_citing(cited: list[int], truncated: int | None = None) -> Answer:
    """An answer over sources 1-4 (LORA, ODD, SEED, another) whose text cites `cited` in that order."""
    records = [LORA, ODD, SEED, PaperRecord("p5", "Zebrafish Fin Regeneration Atlas", date="2024-01-05")]
    sources = [Source(n, r.paper_id, r.title, r.date, r.abstract or "An abstract.", metadata=r.to_metadata(0),
                      cited=n in cited, truncated=n == truncated) for n, r in enumerate(records, 1)]
    text = " ".join(f"Claim [{n}]." for n in cited)
    citations = [Citation(n, sources[n - 1].paper_id, sources[n - 1].title, sources[n - 1].date) for n in cited]
    return Answer("q", text, "extractive", citations=citations, sources=sources, abstained=not cited)


def test_only_the_cited_papers_numbered_as_the_answer_numbers_them():
    answer = answer_citing([3, 1])  # first use: [3], then [1]
    assert [(n, r.paper_id) for n, r in cited_records(answer)] == [(1, "p1"), (3, "p3")]
    md = references_markdown(answer)
    assert [line[:3] for line in md.splitlines()] == ["[1]", "[3]"] and "LoRA" in md and "Quokka" in md
    assert "Müller" not in md and "Zebrafish" not in md
    bib = references_bibtex(answer)
    assert [e.key for e in parse(bib).entries] == ["hu2021lora", "anon2024quokka"]
    assert re.findall(r"% \[(\d+)\]\n@\w+\{(\w+),", bib) == [("1", "hu2021lora"), ("3", "anon2024quokka")]
    # the records come from the sources' metadata, author names and links included
    record = dict(cited_records(answer))[1]
    assert record.author_names == LORA.author_names and record.links == LORA.links
    assert record.abstract == LORA.abstract


def test_a_cut_abstract_is_left_out_unless_looked_up():
    answer = answer_citing([1], truncated=1)
    (_, record), = cited_records(answer)
    assert record.abstract == ""
    assert "abstract" not in parse(references_bibtex(answer)).entries[0].fields_dict
    whole = PaperRecord(**{**LORA.__dict__, "abstract": "The whole abstract."})
    (_, record), = cited_records(answer, lookup={"p1": whole}.get)
    assert record.abstract == "The whole abstract."


def test_answer_with_references():
    answer = answer_citing([2])
    out = answer_with_references(answer, "bibtex")
    assert out.startswith("Claim [2].\n\nReferences:\n% [2]\n@article{muller2019bert,")
    assert answer_with_references(answer, "markdown") == f"Claim [2].\n\nReferences:\n{references_markdown(answer)}"
    abstained = answer_citing([])
    assert references_bibtex(abstained) == "" and references_markdown(abstained) == ""
    assert answer_with_references(abstained, "bibtex").endswith("\n\nNo references: the answer cites no paper.\n")
    with pytest.raises(RagError, match="unknown reference style 'apa'"):
        answer_with_references(answer, "apa")


# --------------------------------------------------------------------------- `rag ask --cite` on a small corpus

NO_LLM = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
TIDAL_Q = "How can flexible membranes harvest tidal energy?"
AXOLOTL = {"title": "Axolotl Limb Regeneration Needs Macrophages", "date": "2022-09-14",
           "abstract": "Axolotls regrow whole limbs after amputation. We show that macrophages are required for "
                       "axolotl limb regeneration: depleting them leaves a scar instead of a blastema. "
                       "Restoring macrophages restores regeneration in 90% of animals.",
           "authors": ["María José García", "Smith, John", "Wei Zhang", "Ann Lee"], "doi": "10.1234/axo_2022.7",
           "arxiv_id": "2209.01234", "venue": "Journal of Regeneration & Repair", "url": "https://example.org/axolotl"}


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    """Two page dumps: papers with a title, a date, an author count or an organisation, no names."""
    from testing.seeds import COMPACT, SPACED, write_seed

    folder = tmp_path_factory.mktemp("refs-seeds")
    write_seed(folder, "a.txt", COMPACT)
    write_seed(folder, "b.txt", SPACED, spaced=True)
    return folder


def ingested(cli, home, seeds, *files):
    """`rag ingest [FILES]` into home; (home, the environment `rag ask` needs)."""
    env = {**NO_LLM, "RAG_SEEDS": str(seeds)}
    proc = cli("ingest", *files, "--json", home=home, env=env)
    assert proc.returncode == 0, proc.stderr
    return home, env


@pytest.fixture(scope="module")
def small_home(cli, seeds, tmp_path_factory):
    """The page dumps, ingested."""
    return ingested(cli, tmp_path_factory.mktemp("refs") / "home", seeds)


@pytest.fixture(scope="module")
def named_home(cli, seeds, tmp_path_factory):
    """The page dumps and a JSONL file of one paper with names, DOI and arXiv id, ingested."""
    root = tmp_path_factory.mktemp("refs-named")
    mine = root / "mine.jsonl"
    mine.write_text(json.dumps(AXOLOTL) + "\n", encoding="utf-8")
    return ingested(cli, root / "home", seeds, mine)


def ask(cli, ingested_home, *args: str):
    """`rag ask ARGS --offline`, which must succeed."""
    home, env = ingested_home
    proc = cli("ask", *args, "--offline", home=home, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def test_ask_cite_bibtex_prints_the_cited_seed_paper(cli, small_home):
    out = ask(cli, small_home, TIDAL_Q, "--cite", "bibtex").stdout
    answer, _, refs = out.partition("\nReferences:\n")
    assert "[1]" in answer and "\nSources:\n  [1] Tidal Energy Harvesting with Flexible Membranes" in answer
    assert "\n      4 authors\n" in answer  # the page dump gives only the count, and no link
    (entry,) = parse(refs).entries
    assert entry.key == "anon2024tidal" and entry.entry_type == "misc" and "author" not in entry.fields_dict
    assert refs.startswith("% [1]\n@misc{anon2024tidal,")
    assert decode(entry.fields_dict["abstract"].value).startswith("We study tidal energy harvesting")
    assert decode(entry.fields_dict["note"].value) == "Hugging Face Daily Papers; 4 authors, names not recorded"


def test_ask_cite_shows_names_links_and_exports_them(cli, named_home):
    question = "What do axolotls need for limb regeneration?"
    out = ask(cli, named_home, question, "--cite", "bibtex").stdout
    answer, _, refs = out.partition("\nReferences:\n")
    assert f"  [1] {AXOLOTL['title']} (2022-09-14)" in answer
    assert ("      María José García, John Smith, Wei Zhang et al. · https://example.org/axolotl · "
            "https://arxiv.org/abs/2209.01234 · https://doi.org/10.1234/axo_2022.7\n") in answer
    entry = parse(refs).entries[0]
    assert entry.key == "garcia2022axolotl" and entry.entry_type == "article"
    fields = entry.fields_dict
    assert [decode(a) for a in fields["author"].value] == AXOLOTL["authors"]
    assert (fields["doi"].value, fields["eprint"].value, fields["url"].value) == (
        AXOLOTL["doi"], AXOLOTL["arxiv_id"], AXOLOTL["url"])
    assert decode(fields["journal"].value) == AXOLOTL["venue"]
    assert decode(fields["abstract"].value) == AXOLOTL["abstract"]
    md = ask(cli, named_home, question, "--cite", "markdown").stdout.partition("\nReferences:\n")[2]
    assert md.startswith("[1] María José García, John Smith, Wei Zhang et al. (2022). *Axolotl Limb Regeneration Needs "
                         "Macrophages*. Journal of Regeneration & Repair. [example.org](https://example.org/axolotl)")


def test_chat_cite_prints_each_answers_references(cli, named_home):
    home, env = named_home
    question = "What do axolotls need for limb regeneration?"
    proc = cli("chat", "--offline", "--cite", "markdown", home=home, env=env,
               input=f"{question}\nWhat about [1]?\n/quit\n")
    assert proc.returncode == 0, proc.stderr
    refs = [part.split("\n", 1)[0] for part in proc.stdout.split("\nReferences:\n")[1:]]
    assert len(refs) == 2 and all(r.startswith("[1] María José García, John Smith, Wei Zhang et al. (2022).")
                                  for r in refs)  # a line after each of the two answers
    bad = cli("chat", "--cite", "apa", home=home, env=env, input="/quit\n")
    assert bad.returncode == 1 and "unknown --cite style 'apa'" in bad.stderr


def test_ask_cite_json_has_references_and_bibtex(cli, small_home):
    out = json.loads(ask(cli, small_home, TIDAL_Q, "--cite", "markdown", "--json").stdout)
    assert out["references"] == ("[1] 4 authors (2024). *Tidal Energy Harvesting with Flexible Membranes*. "
                                 "Hugging Face Daily Papers.\n")
    assert [e.key for e in parse(out["bibtex"]).entries] == ["anon2024tidal"]
    assert {"answer", "citations", "sources"} <= set(out)
    plain = json.loads(ask(cli, small_home, TIDAL_Q, "--json").stdout)
    assert "references" not in plain and "bibtex" not in plain  # the shape without --cite is unchanged


def test_ask_cite_on_an_abstention_says_there_are_none(cli, small_home):
    proc = ask(cli, small_home, "What is the best banana bread recipe?", "--cite", "bibtex")
    assert "The corpus does not contain an answer" in proc.stdout
    assert "References:" not in proc.stdout and "@misc" not in proc.stdout
    assert proc.stdout.endswith("\nNo references: the answer cites no paper.\n")
    out = json.loads(ask(cli, small_home, "What is the best banana bread recipe?", "--cite", "bibtex", "--json").stdout)
    assert out["abstained"] and out["references"] == "" and out["bibtex"] == ""


def test_ask_cite_unknown_style_is_refused(cli, small_home):
    home, env = small_home
    proc = cli("ask", TIDAL_Q, "--cite", "apa", home=home, env=env)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == "error: unknown --cite style 'apa'\nhint: use --cite bibtex or --cite markdown\n"
