"""Seed folders and settings for tests and benchmarks: the real seeds, hand-made page dumps, hermetic Settings.

Everything is real: Chroma in a temporary folder (Settings(home=...) / RAG_HOME), the default embedder, the
seed page dumps in seeds/. The small hand-made corpus (COMPACT + SPACED, five papers in two files, one per
page layout) is the one the ingest, server, fault and LLM tests share.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Union

from rag.config import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
EVAL_QUESTIONS = ROOT / "eval" / "paraphrase_queries.jsonl"

COMPACT = ["Quokka Population Dynamics on Rottnest Island", "Zebrafish Fin Regeneration Atlas",
           "Basalt Weathering Rates Under Glacial Cycles"]
SPACED = [
    {"title": "Tidal Energy Harvesting with Flexible Membranes", "authors": 4, "date": "Mar 2, 2024 7"},
    {"title": "Lichen Symbiosis Networks in Alpine Soil", "organization": "Alpine Institute", "date": "Apr 9"},
]
TITLES = COMPACT + [p["title"] for p in SPACED]


def seed_file(prefix: str) -> Path:
    """The one real seed file whose name starts with prefix (e.g. '003')."""
    (path,) = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    return path


def make_settings(home: Path, **overrides: Any) -> Settings:
    """Settings on a given data home (the real seeds unless overridden); ignores any .env file (hermetic)."""
    overrides.setdefault("seeds", SEEDS)
    return Settings(_env_file=None, home=home, **overrides)


def open_store(settings: Settings, create: bool = False) -> Any:
    """The real Chroma-backed store of settings' home (built with settings' params)."""
    from rag.embed.base import get_embedder
    from rag.store.chroma import Store, build_params

    emb = get_embedder(settings)
    return Store.open(settings, build_params(settings, emb.name, emb.dim), create=create)


def abstract_for(topic: str) -> str:
    """A prose abstract (long enough for the parser to see it as one) about topic."""
    return (
        f"We study {topic} and report what we found. "
        "Our method combines careful measurement with a small analytical model of the system under test. "
        "Experiments on three public benchmarks show consistent gains over strong baselines at similar cost. "
        "We release the code and the data to support further work on this problem."
    )


SeedPaper = Union[str, dict]


def write_seed(folder: Path, name: str, papers: Iterable[SeedPaper], *, spaced: bool = False,
               header: bool = True) -> Path:
    """Write one page dump.

    papers: titles, or dicts with title and optional abstract, authors (int), organization, date
    ("Mon D[, YYYY] [upvotes]"). spaced=False is the compact layout (title line, abstract line);
    spaced=True is the layout with blank lines and the '• N authors' / '·' / date block.
    """
    folder.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    if header:
        if spaced:
            lines += ["new", "", "Get trending papers in your email inbox!", "", "Subscribe", "",
                      "byAK and the research community", "", "Mar 13", ""]
        else:
            lines += ["Get trending papers in your email inbox once a day!", "Get trending papers in your email inbox!"]
    for p in papers:
        p = {"title": p} if isinstance(p, str) else p
        abstract = p.get("abstract") or abstract_for(p["title"].lower())
        if not spaced:
            lines += [p["title"], abstract]
            continue
        lines += [p["title"], "", abstract, ""]
        if p.get("authors") is not None:
            lines.append(f"  • {p['authors']} authors")
        elif p.get("organization"):
            lines.append(p["organization"])
        if p.get("date"):
            lines += ["·", p["date"]]
        lines.append("")
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def small_seeds(folder: Path) -> Path:
    """The small hand-made corpus: two page dumps, one per layout, five papers in all."""
    write_seed(folder, "a.txt", COMPACT)
    write_seed(folder, "b.txt", SPACED, spaced=True)
    return folder


# Two papers as a user's JSON Lines export holds them (the app's upload tests, handler and browser)
TARDIGRADE = {
    "title": "Tardigrade Cryptobiosis Survives Simulated Martian Regolith",
    "abstract": "Tardigrades enter cryptobiosis, a reversible ametabolic state, when they dry out. We expose "
                "desiccated tardigrades to simulated Martian regolith, low pressure and ultraviolet light for thirty "
                "days. Ninety percent of the animals revive within an hour of rehydration, and trehalose-free "
                "lineages survive as well as the others. Cryptobiosis, not trehalose, explains tardigrade survival "
                "in Martian regolith.",
    "authors": ["Ada Lovelace", "Grace Hopper", "Katherine Johnson", "Mary Jackson"],
    "date": "2024-05-01", "doi": "10.5555/tardi.2024", "arxiv_id": "2405.01234",
    "url": "https://example.org/papers/tardigrades", "venue": "Journal of Extremophile Biology",
}
HONEYBEE = {
    "title": "Acoustic Monitoring of Honeybee Swarming with Edge Microphones",
    "abstract": "Beekeepers lose colonies when honeybees swarm unnoticed. We place low-power edge microphones inside "
                "forty hives and classify the piping sounds queens make before a swarm. The classifier warns "
                "beekeepers two days before swarming with 94 percent precision, running on a microcontroller.",
    "authors": ["Karl von Frisch", "Thomas Seeley"],
    "date": "2023-08-15", "arxiv_id": "2308.04321",
}
